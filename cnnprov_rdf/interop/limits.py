"""Limits on an import: size, nesting depth, XML entity declarations and time, checked before and while parsing.

A hostile document (an XML "billion laughs", blank nodes nested thousands deep, a PROV-JSON object nested past
Python's recursion limit, a file of gigabytes) is refused with an `ImportLimitError` that names the limit and
the flag that raises it, before anything reaches the store. The checks read the file through `mmap`, so they
need no copy of it in memory; the scanners skip strings, IRIs and comments, so brackets inside them count not.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImportLimitError

#: Default limits (`cnnprov import --max-bytes/--max-depth/--timeout` change them).
DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_MAX_DEPTH = 64
DEFAULT_TIMEOUT = 3600.0


@dataclass(frozen=True)
class ImportLimits:
    """What an import may take: bytes of input, bracket nesting depth, seconds."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    timeout: float = DEFAULT_TIMEOUT


#: Turtle, TriG and N3: long and short strings, IRIs and comments are skipped; the rest are brackets.
_TURTLE_TOKENS = re.compile(
    rb'"""(?:[^"\\]|\\.|"(?!""))*"""'
    rb"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    rb'|"(?:[^"\\\n\r]|\\.)*"'
    rb"|'(?:[^'\\\n\r]|\\.)*'"
    rb'|<[^<>"{}|^`\\\x00-\x20]*>'
    rb"|#[^\n\r]*"
    rb"|[\[\](){}]",
    re.DOTALL,
)
#: JSON (PROV-JSON, JSON-LD): strings are skipped; the rest are brackets.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset(b"[({")
_CLOSING = frozenset(b"])}")
_SCANNED = {"turtle": _TURTLE_TOKENS, "trig": _TURTLE_TOKENS, "n3": _TURTLE_TOKENS,
            "jsonld": _JSON_TOKENS, "provjson": _JSON_TOKENS}


class Deadline:
    """The time an import may still take; `check()` raises once it is past."""

    def __init__(self, file: str | os.PathLike[str], seconds: float) -> None:
        self.file, self.seconds = file, seconds
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise self.error()

    def error(self) -> ImportLimitError:
        return ImportLimitError(f"{self.file}: the import took longer than its limit of {self.seconds:g} s "
                                f"(raise it with --timeout)")


@contextlib.contextmanager
def deadline(file: str | os.PathLike[str], seconds: float) -> Iterator[Deadline]:
    """A `Deadline`; in the main thread also a timer signal, so a long call into a parser is interrupted too."""
    limit = Deadline(file, seconds)
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield limit
        return

    def expired(_signum: int, _frame: object) -> None:
        raise limit.error()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield limit
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_size(file: str | os.PathLike[str], limits: ImportLimits) -> int:
    """The file's size in bytes; `ImportLimitError` when it is over `max_bytes`."""
    size = Path(file).stat().st_size
    if size > limits.max_bytes:
        raise ImportLimitError(f"{file}: {size} bytes is over the import limit of {limits.max_bytes} bytes "
                               f"(raise it with --max-bytes)")
    return size


@contextlib.contextmanager
def mapped(file: str | os.PathLike[str]) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes, memory-mapped (an empty file gives b"")."""
    with open(file, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            yield view


def check_content(file: str | os.PathLike[str], fmt: str, limits: ImportLimits, clock: Deadline) -> None:
    """Refuse XML entity declarations and nesting deeper than `max_depth` before the document is parsed."""
    with mapped(file) as data:
        if fmt == "rdfxml":
            _check_xml(file, data)
        pattern = _SCANNED.get(fmt)
        if pattern is not None:
            nesting_depth(data, pattern, file, limits.max_depth, clock)


def check_before_sniffing(file: str | os.PathLike[str], limits: ImportLimits, clock: Deadline) -> None:
    """The checks of `check_content` for the family the first byte announces (XML, JSON, text), before the format
    sniffer reads the document: no entity declaration reaches an XML parser, no deep JSON the JSON reader."""
    with mapped(file) as data:
        first = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    check_content(file, {b"<": "rdfxml", b"{": "provjson", b"[": "provjson"}.get(first, "turtle"), limits, clock)


def _check_xml(file: str | os.PathLike[str], data: bytes | mmap.mmap) -> None:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        raise ImportLimitError(f"{file}: RDF/XML must be UTF-8 (UTF-16 is not imported)")
    if data.find(b"<!ENTITY") >= 0:
        raise ImportLimitError(f"{file}: XML entity declarations (<!ENTITY) are refused: they can expand "
                               f"a small file into gigabytes")


def nesting_depth(
    data: bytes | mmap.mmap, pattern: re.Pattern[bytes], file: str | os.PathLike[str], max_depth: int,
    clock: Deadline | None = None,
) -> int:
    """The deepest bracket nesting of `data`; `ImportLimitError` as soon as it passes `max_depth`."""
    depth = deepest = 0
    for count, match in enumerate(pattern.finditer(data)):  # re reads an mmap as well
        token = match.group()
        if len(token) == 1:
            if token[0] in _OPENING:
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if depth > max_depth:
                        line = bytes(data[:match.start()]).count(b"\n") + 1
                        raise ImportLimitError(f"{file}, line {line}: nested deeper than the import limit of "
                                               f"{max_depth} levels (raise it with --max-depth)")
            elif token[0] in _CLOSING:
                depth = max(depth - 1, 0)
        if clock is not None and count & 0xFFFF == 0:
            clock.check()
    return deepest


"""How the CLI prints: result tables (text, CSV, JSON) and progress on a terminal."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Infinity
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def format_rows(columns: Sequence[str], rows: Sequence[dict[str, Any]], fmt: str) -> str:
    """Rows as an aligned text table, CSV, or a JSON list of objects with plain values."""
    if fmt == "json":
        return json.dumps([{c: _json_value(row[c]) for c in columns} for row in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if row[c] is None else row[c] for c in columns] for row in rows])
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    # Numbers right-aligned (so that digits line up), and so is the header of a column of numbers.
    numeric = [[_is_number(row[c]) for c in columns] for row in rows]
    numeric_column = [any(flags[i] for flags in numeric) and all(flags[i] or row[c] is None
                      for flags, row in zip(numeric, rows, strict=True)) for i, c in enumerate(columns)]

    def align(text: str, width: int, right: bool) -> str:
        return text.rjust(width) if right else text.ljust(width)

    lines = ["  ".join(align(c, w, n) for c, w, n in zip(columns, widths, numeric_column, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(align(v, w, n) for v, w, n in zip(r, widths, flags, strict=True)).rstrip()
              for r, flags in zip(cells, numeric, strict=True)]
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def write_rows(columns: Sequence[str], rows: Iterable[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """What `format_rows` prints (and a newline), written row by row for CSV and JSON; a table needs every row
    for its widths, so it is gathered first."""
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row[c] is None else row[c] for c in columns])
        return
    if fmt != "json":
        print(format_rows(columns, list(rows), fmt), file=out)
        return
    opening = "["
    for row in rows:
        item = json.dumps({c: _json_value(row[c]) for c in columns}, indent=2).replace("\n", "\n  ")
        out.write(f"{opening}\n  {item}")
        opening = ","
    out.write("[]\n" if opening == "[" else "\n]\n")


def progress(message: str) -> None:
    """Progress of long operations on a terminal; silent when stderr is not one."""
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def progress_bar(label: str, done: int, total: int) -> None:
    """A one-line progress bar on a terminal; silent when stderr is not one."""
    if not sys.stderr.isatty() or total <= 0:
        return
    filled = round(30 * done / total)
    end = "\n" if done >= total else ""
    print(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}", end=end, file=sys.stderr, flush=True)

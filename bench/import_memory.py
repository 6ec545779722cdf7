"""Peak memory and time of `cnnprov import` on a large valid Turtle file (PROV activities with blank nodes).

    python bench/import_memory.py               # a 200 MB file
    python bench/import_memory.py --mb 20

The file has one activity per line: a type, a `prov:used`, a literal and a blank node with two properties
(6 triples, ~146 bytes). The import runs as its own process (`python -m cnnprov_rdf.cli import`); its peak
resident memory is the child's `ru_maxrss`. Prints one table row: file MB, quads, seconds, peak MB, ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_file(path: Path, megabytes: int) -> int:
    lines = 0
    with path.open("w") as out:
        out.write("@prefix ex: <http://example.org/> .\n@prefix prov: <http://www.w3.org/ns/prov#> .\n")
        while out.tell() < megabytes << 20:
            for _ in range(10_000):
                out.write(f'ex:activity{lines} a prov:Activity ; prov:used ex:entity{lines} ; '
                          f'ex:note "run {lines} of the big import" ; ex:q [ ex:v {lines} ; ex:w "x{lines}" ] .\n')
                lines += 1
    return lines * 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "big.ttl"
        quads = write_file(file, args.mb)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "cnnprov_rdf.cli", "import", str(file), "--store", str(Path(tmp) / "s")],
                       env={**os.environ, "PYTHONPATH": str(REPO)}, check=True, stdout=subprocess.DEVNULL)
        seconds = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size = file.stat().st_size / 1e6
    print("| file MB | quads | seconds | peak RSS MB | peak / file size |")
    print("|---|---|---|---|---|")
    print(f"| {size:.0f} | {quads:,} | {seconds:.0f} | {peak:.0f} | {peak / size:.1f}× |")


if __name__ == "__main__":
    main()

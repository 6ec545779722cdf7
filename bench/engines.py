"""What making the dataset explicit costs: every canned query on the stock Oxigraph server (its default graph is
not the union, so `EndpointSource` sends every named graph as `default-graph-uri` + `named-graph-uri`) beside a
`--union-default-graph` server over the same store, and beside the embedded store. Also the import of foreign
PROV: a PROV-JSON document with qualified relations read, shortcuts derived, written.

    python bench/engines.py                      # 200 runs × 20 epochs, 5 interleaved rounds
    python bench/engines.py --runs 50 --epochs 10 --rounds 3

Each round runs every query once per engine in an interleaved order (embedded, union, stock), so drift hits
all three alike; the table gives the median of the rounds per query and engine, and the stock/union ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import bulk_build as build_store

from cnnprov_rdf.interop.interchange import import_file
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.library import load_queries
from cnnprov_rdf.query.sources import EndpointSource, LocalSource
from cnnprov_rdf.storage.server import start_server


def timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def foreign_document(activities: int) -> dict:
    """A PROV-JSON document of `activities` trainings, each with a qualified usage and generation."""
    doc: dict = {"prefix": {"ex": "http://example.org/bench/"}, "activity": {}, "entity": {}, "used": {},
                 "wasGeneratedBy": {}}
    for i in range(activities):
        doc["activity"][f"ex:run{i}"] = {"prov:startTime": "2024-05-01T10:00:00Z"}
        doc["entity"][f"ex:model{i}"] = {}
        doc["used"][f"_:u{i}"] = {"prov:activity": f"ex:run{i}", "prov:entity": "ex:data",
                                  "prov:time": "2024-05-01T10:00:01Z"}
        doc["wasGeneratedBy"][f"_:g{i}"] = {"prov:entity": f"ex:model{i}", "prov:activity": f"ex:run{i}",
                                            "prov:time": "2024-05-01T11:00:00Z"}
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--activities", type=int, default=2000, help="activities in the foreign PROV-JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        build = build_store(store, args.runs, args.epochs)
        stock, union = start_server(store, union_default_graph=False), start_server(store)
        try:
            engines = {"embedded": LocalSource(store), "union": EndpointSource(union.url, timeout=120),
                       "stock": EndpointSource(stock.url, timeout=120)}
            names = sorted(load_queries())
            samples: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for name in names:
                    for engine, source in engines.items():
                        samples.setdefault((name, engine), []).append(timed(lambda s=source, n=name: run_query(s, n)))
        finally:
            stock.stop()
            union.stop()
        document = Path(tmp) / "foreign.json"
        document.write_text(json.dumps(foreign_document(args.activities)))
        seconds = timed(lambda: import_file(Path(tmp) / "import-store", document))
    print(f"store: {args.runs} runs × {args.epochs} epochs, built in {build['build_seconds']:.1f} s; "
          f"{args.rounds} interleaved rounds, medians in ms")
    print("| query | embedded | union server | stock server (explicit dataset) | stock / union |")
    print("|---|---:|---:|---:|---:|")
    totals = {engine: 0.0 for engine in ("embedded", "union", "stock")}
    for name in names:
        medians = {engine: statistics.median(samples[(name, engine)]) * 1000 for engine in totals}
        for engine in totals:
            totals[engine] += medians[engine]
        print(f"| {name} | {medians['embedded']:.1f} | {medians['union']:.1f} | {medians['stock']:.1f} | "
              f"{medians['stock'] / medians['union']:.2f} |")
    print(f"| **all** | {totals['embedded']:.0f} | {totals['union']:.0f} | {totals['stock']:.0f} | "
          f"{totals['stock'] / totals['union']:.2f} |")
    print(f"\nimport of a PROV-JSON document with {args.activities} activities, {2 * args.activities} qualified "
          f"relations (parse, shortcuts, one transaction): {seconds:.2f} s")


if __name__ == "__main__":
    main()

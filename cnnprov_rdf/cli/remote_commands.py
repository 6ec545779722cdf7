"""`cnnprov serve`, `status` and `flush`: the store as a SPARQL server, and events spooled for an endpoint or a
store (quads the store could not take, e.g. on a full disk)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import EndpointError, StoreError
from ..storage.endpoint import replay_spool, spool_status
from ..storage.server import serve_command
from ..storage.sink import replay_store_spool, store_spools
from ..storage.store import open_for_reading
from .output import format_rows


def cmd_serve(args: argparse.Namespace) -> int:
    open_for_reading(args.store)  # a clear error for a missing store before the server starts
    command = serve_command(args.store, args.bind, args.read_write)
    mode = "read-write" if args.read_write else "read-only"
    print(f"serving {args.store} ({mode}) at http://{args.bind}/ (SPARQL endpoint /query"
          f"{', /update' if args.read_write else ''}); Ctrl-C stops it", file=sys.stderr)
    sys.stderr.flush()
    os.execv(command[0], command)  # the server replaces this process: signals reach it directly
    return 0  # not reached


def cmd_status(args: argparse.Namespace) -> int:
    spools, stores = spool_status(args.spool_dir), store_spools(args.spool_dir)
    if not spools and not stores:
        print("no spooled events: every captured event reached its endpoint or store")
        return 0
    if spools:
        rows = [{"endpoint": url, "spooled_quads": quads, "spool": str(path)} for url, path, quads in spools]
        print(format_rows(["endpoint", "spooled_quads", "spool"], rows, "table"))
    if stores:
        rows = [{"store": str(store), "spooled_quads": quads, "spool": str(path)} for store, path, quads in stores]
        print(format_rows(["store", "spooled_quads", "spool"], rows, "table"))
    print("replay them with `cnnprov flush` once the endpoint answers or the store's disk has room")
    return 0


def _is_store_spool(target: str) -> bool:
    return Path(target).name.startswith("store-")


def cmd_flush(args: argparse.Namespace) -> int:
    if args.spool:
        targets = [args.spool]
    else:
        targets = [str(path) for _, path, _ in spool_status(args.spool_dir)]
        targets += [str(path) for _, path, _ in store_spools(args.spool_dir)]
    failed = 0
    for target in targets:
        try:
            if args.into_store is not None or _is_store_spool(target):
                store, written = replay_store_spool(Path(target), args.into_store)
                print(f"{target}: {written} quads written to {store}")
            else:
                print(f"{target}: {replay_spool(target, url=args.endpoint)} quads sent")
        except (EndpointError, StoreError) as error:
            failed += 1
            print(f"cnnprov: error: {target}: {error}", file=sys.stderr)
    if not targets:
        print("nothing to flush")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], store: argparse.ArgumentParser) -> None:
    """Add `serve`, `status` and `flush`."""
    server = sub.add_parser("serve", parents=[store], help="serve the store with the Oxigraph SPARQL server")
    server.add_argument("--bind", default="127.0.0.1:7878", help="host:port (default: loopback only)")
    server.add_argument("--read-write", action="store_true", help="accept SPARQL updates (default: read-only)")
    server.set_defaults(func=cmd_serve)

    status = sub.add_parser("status", help="events spooled while an endpoint was unreachable or a store failed")
    status.add_argument("--spool-dir", type=Path, help="default: $CNNPROV_SPOOL_DIR or ~/.cache/cnnprov/spool")
    status.set_defaults(func=cmd_status)

    flush = sub.add_parser("flush", help="replay spooled events (e.g. left by a dead training process)")
    flush.add_argument("spool", nargs="?",
                       help="a spool file (an endpoint's or a store's) or endpoint URL (default: every spool)")
    flush.add_argument("--endpoint", help="send to this endpoint instead of the one recorded with the spool")
    flush.add_argument("--spool-dir", type=Path)
    flush.add_argument("--into-store", type=Path, metavar="STORE",
                       help="write the given spool into this store (e.g. a <store>.unwritten.nq of an older version)")
    flush.set_defaults(func=cmd_flush)

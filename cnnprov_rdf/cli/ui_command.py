"""`cnnprov leaderboard` (one row per run, hyperparameters as columns) and `cnnprov ui` (the local web app)."""

from __future__ import annotations

import argparse

from ..errors import ConfigurationError, QueryError
from ..query.leaderboard import DEFAULT_SORT, leaderboard
from ..storage.destination import default_store_path
from .output import format_rows


def _location(args: argparse.Namespace) -> str:
    if args.store is not None and args.endpoint is not None:
        raise ConfigurationError("give --store PATH or --endpoint URL, not both")
    return args.endpoint or str(args.store or default_store_path())


def cmd_leaderboard(args: argparse.Namespace) -> int:
    result = leaderboard(_location(args), sort=args.sort, match=args.match, search=args.search)
    columns = result.columns
    if args.columns:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()]
        unknown = [c for c in columns if c not in result.columns]
        if unknown:
            raise QueryError(f"the leaderboard has no column {unknown[0]!r}; columns: {', '.join(result.columns)}")
    print(format_rows(columns, [{c: row[c] for c in columns} for row in result.rows], args.format))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from ..ui.server import parse_bind, serve  # the web app is only imported when asked for

    host, port = parse_bind(args.bind)
    serve(_location(args), host=host, port=port, endpoint=args.endpoint is not None, open_browser=args.open)
    return 0


def _add_location(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", help="provenance store directory (default: $CNNPROV_STORE or ./provenance)")
    where.add_argument("--endpoint", metavar="URL", help="SPARQL endpoint, e.g. http://127.0.0.1:7878/query")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], store_parent: argparse.ArgumentParser) -> None:
    """Add `leaderboard` and `ui`. (`store_parent` is not used: both also take `--endpoint`, exclusive of it.)"""
    board = sub.add_parser("leaderboard", help="one row per run: status, hyperparameters, final, best and test metrics")
    _add_location(board)
    board.add_argument("--sort", default=DEFAULT_SORT,
                       help="column to sort by (metrics in their better direction; default: newest first)")
    board.add_argument("--search", metavar="SEARCH",
                       help="only the trials of this hyperparameter search (id, unique prefix, name, or latest)")
    board.add_argument("--match", metavar="TEXT",
                       help="only runs whose id, name, status or a hyperparameter value contains this")
    board.add_argument("--columns", metavar="NAME,NAME",
                       help="only these columns, in this order (e.g. name,status,hp.learning_rate,test_accuracy)")
    board.add_argument("--format", choices=["table", "csv", "json"], default="table")
    board.set_defaults(func=cmd_leaderboard)

    ui = sub.add_parser("ui", help="a local, read-only web app: runs, live curves, comparisons and queries")
    _add_location(ui)
    ui.add_argument("--bind", default="127.0.0.1:8765", metavar="HOST:PORT",
                    help="address to listen on (default 127.0.0.1:8765; port 0 picks a free one)")
    ui.add_argument("--open", action="store_true", help="open the app in the default browser")
    ui.set_defaults(func=cmd_ui)

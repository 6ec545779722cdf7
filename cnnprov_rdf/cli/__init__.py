"""The `cnnprov` command line. Each command group registers its own subcommands (`register`); `main` catches
the package's one exception root, so every error a user can cause is one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..capture.environment import package_version
from ..errors import CnnprovError
from . import demo_command, query_commands, remote_commands, store_commands, visual_commands
from .options import runs_parent, store_parent
from .output import format_rows

__all__ = ["build_parser", "format_rows", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnprov", description="CNN training provenance as a PROV-O graph.")
    parser.add_argument("--version", action="version", version=f"cnnprov {package_version()}")
    store, runs = store_parent(), runs_parent()
    sub = parser.add_subparsers(dest="command", required=True)
    demo_command.register(sub, store)
    query_commands.register(sub)
    store_commands.register(sub, store, runs)
    remote_commands.register(sub, store)
    visual_commands.register(sub, store, runs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CnnprovError as error:
        print(f"cnnprov: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `cnnprov query … | head`: the reader left; end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as error:  # an output file that cannot be written, say
        print(f"cnnprov: error: {error}", file=sys.stderr)
        return 2


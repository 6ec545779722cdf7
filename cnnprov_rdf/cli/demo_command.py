"""`cnnprov demo`: train the scaled AlexNet with capture, answer the reference question, export the run."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import CnnprovError
from ..interop.export import export
from ..query.execute import run_query
from ..storage.store import open_for_reading
from .output import format_rows


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ..demo.training import TrainingConfig, train_alexnet  # TensorFlow loads only for the demo

    config = TrainingConfig(epochs=args.epochs, run_name="demo")
    print(f"Training AlexNet for {config.epochs} epochs with capture into {args.store} …", file=sys.stderr)
    outcome = train_alexnet(config, store=args.store)
    if outcome.run_id is None:
        raise CnnprovError("the demo training recorded no run")
    result = run_query(args.store, "epoch-loss-time", run=outcome.run_id)
    print("What were the loss and the elapsed training time of each epoch?")
    print(format_rows(result.columns, result.rows, "table"))
    export(open_for_reading(args.store), "turtle", [outcome.run_id], args.output)
    print(f"Turtle export of run {outcome.run_id}: {args.output}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], store: argparse.ArgumentParser) -> None:
    """Add `demo`."""
    demo = sub.add_parser("demo", parents=[store], help="train the example with capture, query it, export it")
    demo.add_argument("--epochs", type=int, default=3)
    demo.add_argument("-o", "--output", type=Path, default=Path("cnnprov-demo.ttl"))
    demo.set_defaults(func=cmd_demo)

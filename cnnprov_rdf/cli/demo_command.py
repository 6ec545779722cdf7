"""`cnnprov demo`: train the scaled AlexNet with capture, answer the reference question, export the run."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import CnnprovError
from ..interop.export import export
from ..query.execute import run_query
from ..storage.store import open_for_reading
from .output import format_rows


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """TensorFlow's C++ runtime logs (oneDNN, absl's "All log messages before absl::InitializeLog()") straight to
    file descriptor 2, before TF_CPP_MIN_LOG_LEVEL applies: point that descriptor at /dev/null for the training,
    and Python's own stderr (our messages, warnings, tracebacks) at a copy of the real one."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    python_stderr = sys.stderr
    sys.stderr = open(saved, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        sys.stderr.close()
        sys.stderr = python_stderr
        os.close(devnull)
        os.close(saved)


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"Training AlexNet for {args.epochs} epochs with capture into {args.store} …", file=sys.stderr)
    with _native_stderr_silenced():
        from ..demo.training import TrainingConfig, train_alexnet  # TensorFlow loads only for the demo

        logging.getLogger("absl").setLevel(logging.ERROR)
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        config = TrainingConfig(epochs=args.epochs, run_name="demo", verbose=1)  # Keras' progress bar (stdout)
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

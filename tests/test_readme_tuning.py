"""The README's Tuning snippets are the examples, and the examples run (on their own tiny random data)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = ("tune_keras_tuner.py", "tune_optuna.py")


def tuning_blocks() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Tuning", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)]


def test_the_readme_snippets_are_the_examples():
    assert tuning_blocks() == [(REPO / "examples" / name).read_text(encoding="utf-8").strip() for name in EXAMPLES]


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_example_runs_and_records_three_trials(name, tmp_path):
    pytest.importorskip("keras_tuner" if "keras_tuner" in name else "optuna")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, str(REPO / "examples" / name)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("{'trial_id'")]
    assert len(rows) == 3
    from cnnprov_rdf.query.execute import run_query

    trials = run_query(str(tmp_path / "provenance"), "search-trials").rows
    assert len(trials) == 3 and {"filters", "learning_rate"} <= set(trials[0])

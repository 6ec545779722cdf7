"""Pictures drawn from the store: the PROV graph (DOT, SVG, PNG), per-epoch curves, the HTML report."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cnnprov_rdf.visual import build_report, plot_curves, query, render, run_graph_dot
from cnnprov_rdf.visual.graph import STYLE

CHROMIUM = Path("/usr/bin/chromium")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` binary is not installed")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def nodes(dot: str) -> dict[str, str]:
    """Node id → its attribute text, from DOT source."""
    return {m[1]: m[2] for m in re.finditer(r"^\s*(n\d+) \[(.*?)\]$", dot, re.M | re.S)}


def node_with(dot: str, label: str) -> tuple[str, str]:
    found = [(node, attrs) for node, attrs in nodes(dot).items() if re.search(f'label="?{label}', attrs)]
    assert len(found) == 1, (label, found)
    return found[0]


def edge(dot: str, tail: str, head: str, relation: str) -> bool:
    return f"{tail} -> {head} [label={relation}]" in dot


def test_the_graph_query_gives_prov_edges_between_typed_nodes(captured):
    rows = query(captured.store, "run-graph", run=captured.run_id).rows
    assert {r["predicate"] for r in rows} == {"used", "wasGeneratedBy", "wasDerivedFrom", "wasAssociatedWith",
                                             "wasInformedBy", "actedOnBehalfOf"}
    kinds = {r["subject_class"]: r["subject_kind"] for r in rows} | {r["object_class"]: r["object_kind"] for r in rows}
    assert kinds["Training"] == kinds["Adaptation"] == kinds["Testing"] == "Activity"
    assert kinds["EpochResult"] == kinds["ModelFile"] == kinds["Dataset"] == kinds["TrainedModel"] == "Entity"
    assert kinds["User"] == kinds["TrainingSoftware"] == kinds["ComputeDevice"] == "Agent"
    labels = {r["object_label"] for r in rows if r["object_class"] == "HyperparameterSetting"}
    assert "batch_size = 8" in labels and "epochs = 3" in labels


def test_dot_of_the_captured_run_shows_the_prov_flow(captured):
    dot = run_graph_dot(captured.store, captured.run_id)
    entity, activity, agent = ('shape=ellipse', 'fillcolor="#FFFC87"'), ('shape=box', 'fillcolor="#9FB1FC"'), (
        'shape=house', 'fillcolor="#FED37F"')
    assert STYLE["Entity"]["fillcolor"] == "#FFFC87"
    training, attrs = node_with(dot, "Training\ntiny")
    assert all(a in attrs for a in activity)
    adaptation, attrs = node_with(dot, "Adaptation")
    assert all(a in attrs for a in activity) and "after epoch 2" in attrs
    testing, attrs = node_with(dot, "Testing")
    assert all(a in attrs for a in activity)
    epochs, attrs = node_with(dot, "3 epoch results")
    assert all(a in attrs for a in entity)
    model, _ = node_with(dot, "Trained model")
    model_file, attrs = node_with(dot, "Model file\nalexnet.keras")
    dataset, attrs = node_with(dot, "Dataset\nsynthetic-shapes")
    split, _ = node_with(dot, "Data split")
    result, _ = node_with(dot, "Test result")
    hyperparameters, attrs = node_with(dot, "Hyperparameters")
    assert "learning_rate = 0.01" in attrs and all(a in attrs for a in entity)
    user, attrs = node_with(dot, "User")
    assert all(a in attrs for a in agent)
    software, attrs = node_with(dot, "Training software")
    assert all(a in attrs for a in agent)
    device, _ = node_with(dot, "Compute device")
    assert edge(dot, training, dataset, "used") and edge(dot, training, split, "used")
    assert edge(dot, training, hyperparameters, "used")
    assert edge(dot, split, dataset, "wasDerivedFrom")
    assert edge(dot, epochs, training, "wasGeneratedBy") and edge(dot, model, training, "wasGeneratedBy")
    assert edge(dot, model_file, training, "wasGeneratedBy") and edge(dot, result, testing, "wasGeneratedBy")
    assert edge(dot, adaptation, training, "wasInformedBy") and edge(dot, testing, training, "wasInformedBy")
    assert edge(dot, adaptation, epochs, "used") and edge(dot, testing, model, "used")
    for agent_node in (user, software, device):
        assert edge(dot, training, agent_node, "wasAssociatedWith")
    assert edge(dot, software, user, "actedOnBehalfOf")
    assert len(nodes(dot)) == 16

    full = run_graph_dot(captured.store, captured.run_id, all_epochs=True, all_hyperparameters=True)
    assert "epoch results" not in full
    epoch_nodes = [node_with(full, f"Epoch result\nepoch {n}")[0] for n in (1, 2, 3)]
    assert all(edge(full, e, node_with(full, "Training\ntiny")[0], "wasGeneratedBy") for e in epoch_nodes)
    assert len([a for a in nodes(full).values() if "Hyperparameter setting" in a]) >= 10


@needs_dot
def test_graph_renders_as_svg_and_png(captured, tmp_path):
    dot = run_graph_dot(captured.store, captured.run_id)
    assert render(dot, tmp_path / "g.dot").read_text() == dot
    svg = render(dot, tmp_path / "g.svg")
    root = ET.parse(svg).getroot()
    groups = root.findall(".//{http://www.w3.org/2000/svg}g[@class='node']")
    assert len(groups) == len(nodes(dot)) >= 15
    width, height = png_size(render(dot, tmp_path / "g.png"))
    assert width > 200 and height > 200
    with pytest.raises(ValueError, match="cannot render"):
        render(dot, tmp_path / "g.txt")


def test_curves_of_two_grid_runs_with_adaptations(grid, tmp_path):
    runs = [grid.runs["lr0.01-e2"], grid.runs["lr0.005-e2"]]
    figure = plot_curves(grid.store, [r.run_id for r in runs], metric="loss", path=tmp_path / "curves.svg")
    axes = figure.axes[0]
    curves = [line for line in axes.get_lines() if (line.get_gid() or "").startswith("curve-")]
    assert [list(line.get_ydata()) for line in curves] == [r.history["loss"] for r in runs]
    svg = (tmp_path / "curves.svg").read_text()
    for run in runs:
        assert f"{run.name} ({run.run_id[:8]})" in svg
        assert f'id="curve-{run.run_id}"' in svg
        assert f'id="adaptation-{run.run_id}-1"' in svg  # the rate halves after epoch 1
    assert "learning-rate change" in svg
    ET.fromstring(svg)
    plot_curves(grid.store, [r.run_id for r in runs], metric="val_accuracy", path=tmp_path / "curves.png")
    width, height = png_size(tmp_path / "curves.png")
    assert width > 400 and height > 300
    with pytest.raises(ValueError, match="unknown metric"):
        plot_curves(grid.store, metric="speed")


def test_epoch_metrics_query_matches_keras_history(grid):
    run = grid.runs["lr0.01-e2"]
    rows = query(grid.store, "epoch-metrics", run=run.run_id).rows
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [r[key] for r in rows] == run.history[key]
    assert {r["name"] for r in rows} == {"lr0.01-e2"}


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


@needs_dot
def test_report_opens_in_a_browser_with_runs_curves_and_graphs(grid, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium for the browser test")
    done = []
    report = tmp_path / "report.html"
    report.write_text(build_report(grid.store, progress=lambda *a: done.append(a)), encoding="utf-8")
    assert [d[1:] for d in done] == [(i, 6) for i in range(1, 7)]
    text = report.read_text()
    assert not re.search(r"<script|<link|<img|<iframe|src=|url\(['\"]?http|@import", text)  # self-contained

    dumped = _chromium(tmp_path, "--dump-dom", report.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    runs_table = re.search(r'<table id="runs">.*?</table>', dom, re.S)
    assert runs_table and runs_table.group().count("<tr>") == 1 + 6
    sections = re.findall(r'<section class="run" id="run-([0-9a-f-]+)">(.*?)</section>', dom, re.S)
    assert {s[0] for s in sections} == {r.run_id for r in grid.runs.values()}
    for _, body in sections:
        curves = re.search(r'<figure class="curves">(.*?)</figure>', body, re.S)
        assert curves and "<svg" in curves.group(1) and "<path" in curves.group(1)
        graph = re.search(r'<figure class="prov-graph">(.*?)</figure>', body, re.S)
        assert graph and "<svg" in graph.group(1) and graph.group(1).count('class="node"') >= 10
    assert 'id="config-ranking"' in dom and 'id="training-time-by-config"' in dom

    shot = tmp_path / "shot.png"
    taken = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.stat().st_size > 10_000 and png_size(shot) == (1280, 2000)


def test_report_of_chosen_runs_only(captured, grid):
    text = build_report(grid.store, runs=[grid.runs["raises"].run_id])
    assert text.count('<section class="run"') == 1 and 'id="comparison"' not in text
    assert f'id="run-{grid.runs["raises"].run_id}"' in text and "status-failed" in text

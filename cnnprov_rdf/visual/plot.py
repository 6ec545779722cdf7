"""Per-epoch curves of one or several runs on one figure, with learning-rate adaptations marked.

Data come from the `epoch-metrics` and `lr-adaptations` canned queries; drawing uses matplotlib's
non-interactive Agg canvas (no pyplot, no display needed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyoxigraph import Store

from ..errors import RenderError
from ..graph.metrics import EPOCH_FIELDS
from ..graph.metrics import label as metric_label
from ._store import open_store, query

#: The per-epoch columns of `epoch-metrics` that can be plotted.
METRICS = EPOCH_FIELDS


def plot_curves(
    store: Store | str | os.PathLike[str],
    runs: list[str] | None = None,
    metric: str = "loss",
    path: str | os.PathLike[str] | None = None,
    *,
    size: tuple[float, float] = (7.0, 4.2),
) -> Any:
    """A matplotlib Figure with one curve per run (`runs`: run ids, prefixes, `latest`, `previous`; the latest
    run by default) of `metric` over the epochs, and a dashed vertical line at each learning-rate adaptation
    (between the epoch after which the rate changed and the next). Saved as .png/.svg/.pdf when `path` is given.

    SVG output keeps text as `<text>` (the legend labels are searchable) and gives the artists ids:
    `curve-<run id>` and `adaptation-<run id>-<epoch>`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    if metric not in METRICS:
        raise RenderError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    store = open_store(store)
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = [f"C{i}" for i in range(10)]
    adapted = False
    for index, reference in enumerate(runs or ["latest"]):
        rows = query(store, "epoch-metrics", run=reference).rows
        if not rows:
            continue
        run_id, name = rows[0]["run_id"], rows[0]["name"]
        colour = colours[index % len(colours)]
        points = [(row["epoch"], row[metric]) for row in rows if row[metric] is not None]
        label = f"{name} ({run_id[:8]})" if name else run_id[:8]
        if points:
            xs, ys = zip(*points, strict=True)
            (line,) = axes.plot(xs, ys, marker="o", color=colour, label=label)
            line.set_gid(f"curve-{run_id}")
        for adaptation in query(store, "lr-adaptations", run=run_id).rows:
            mark = axes.axvline(adaptation["epoch"] + 0.5, color=colour, linestyle="--", linewidth=1, alpha=0.8)
            mark.set_gid(f"adaptation-{run_id}-{adaptation['epoch']}")
            adapted = True
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric)
    axes.set_title(metric_label(metric))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, alpha=0.3)
    handles, _ = axes.get_legend_handles_labels()
    if adapted:
        handles.append(Line2D([], [], color="grey", linestyle="--", label="learning-rate change"))
    if handles:
        axes.legend(handles=handles, fontsize="small")
    if path is not None:
        save(figure, path)
    return figure


def save(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Save a figure; SVG keeps its text as text."""
    from matplotlib import rc_context

    path = Path(path)
    with rc_context({"svg.fonttype": "none"}):
        figure.savefig(path, dpi=120)
    return path


def figure_svg(figure: Any, salt: str = "") -> str:
    """A figure as SVG text without the XML prolog, to inline in HTML (ids made unique by `salt`)."""
    import io

    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": salt or None}):
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]

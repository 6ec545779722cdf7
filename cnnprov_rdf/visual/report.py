"""One self-contained HTML report of a store: runs, per-run details, curves, PROV graphs and rankings.

Everything comes from canned queries; the graph and the curves are inline SVG, and the page loads nothing
(no network, no external CSS or JavaScript). Stable ids and classes for tools and browser tests:
`table#runs`, `section.run#run-<run id>`, `figure.curves > svg`, `figure.prov-graph > svg`,
`table#config-ranking`, `table#training-time-by-config`.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pyoxigraph import Store

from ..graph.metrics import TRAINING_METRICS
from ..query.runs import select_runs
from ._store import open_store, query
from .graph import dot_to_svg, run_graph_dot
from .plot import figure_svg, plot_curves

#: Called after each run's section is drawn: (run id, runs done, runs in all).
Progress = Callable[[str, int, int], None]

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 2px solid #9FB1FC; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #eef1fe; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: .5em 0 1.5em; } figure svg { max-width: 100%; height: auto; }
figure.curves { display: flex; flex-wrap: wrap; gap: 1em; } figure.curves svg { width: 560px; }
figure.prov-graph { overflow-x: auto; } figure.prov-graph svg { max-width: none; }
.status-finished { color: #1a7f37; } .status-failed { color: #cf222e; } .status-unfinished { color: #9a6700; }
p.empty { color: #777; font-style: italic; }
"""


def _cell(value: Any) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'true' if value else 'false'}</td>"
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(rows: list[dict[str, Any]], columns: Iterable[str], *, id: str = "", cls: str = "",
           link: Callable[[dict[str, Any]], dict[str, str]] | None = None) -> str:
    """An HTML table; `link` may give, per row, HTML to use for some columns instead of the plain value."""
    columns = list(columns)
    if not rows:
        return f'<p class="empty{" " + cls if cls else ""}"{f" id={id!r}" if id else ""}>none</p>'
    attributes = (f' id="{id}"' if id else "") + (f' class="{cls}"' if cls else "")
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = []
    for row in rows:
        special = link(row) if link else {}
        cells = "".join(f"<td>{special[c]}</td>" if c in special else _cell(row[c]) for c in columns)
        body.append(f"<tr>{cells}</tr>")
    return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _unique_ids(svg: str, prefix: str) -> str:
    """Prefix an inline SVG's ids (and its references to them) so that several SVGs can share one page."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)


def _curves(store: Store, run_id: str) -> str:
    parts = []
    for metric in TRAINING_METRICS:
        figure = plot_curves(store, [run_id], metric=metric, size=(6.0, 3.6))
        parts.append(_unique_ids(figure_svg(figure, salt=f"{run_id}-{metric}"), f"c-{run_id[:8]}-{metric}-"))
    return '<figure class="curves">' + "".join(parts) + "</figure>"


def _graph(store: Store, run_id: str) -> str:
    dot = run_graph_dot(store, run_id)
    try:
        svg = _unique_ids(dot_to_svg(dot), f"g-{run_id[:8]}-")
    except Exception as error:  # Graphviz's `dot` missing or failing: show the DOT source instead
        return (f'<figure class="prov-graph"><p class="empty">graph not drawn ({html.escape(str(error))})</p>'
                f"<pre>{html.escape(dot)}</pre></figure>")
    return f'<figure class="prov-graph">{svg}</figure>'


def _run_section(store: Store, run: dict[str, Any]) -> str:
    run_id = run["run_id"]
    title = html.escape(run["name"] or run_id)
    status = html.escape(run["status"])
    parts = [
        f'<section class="run" id="run-{run_id}">',
        f'<h2>{title} <small><code>{run_id}</code></small></h2>',
        f'<p>Status <strong class="status-{status}">{status}</strong>, {run["epochs"]} epoch(s), started '
        f'{html.escape(str(run["started"]))}{", ended " + html.escape(str(run["ended"])) if run["ended"] else ""}.</p>',
        "<h3>Hyperparameters</h3>",
        _table(query(store, "hyperparameters", run=run_id).rows, ("name", "value"), cls="hyperparameters"),
        "<h3>Architecture</h3>",
    ]
    architecture = query(store, "architecture", run=run_id)
    parts.append(_table(architecture.rows, architecture.columns, cls="architecture"))
    parts += ["<h3>Curves</h3>", _curves(store, run_id), "<h3>Learning-rate adaptations</h3>"]
    adaptations = query(store, "lr-adaptations", run=run_id)
    parts.append(_table(adaptations.rows, adaptations.columns, cls="adaptations"))
    parts.append("<h3>Test results</h3>")
    tests = query(store, "test-results", run=run_id)
    parts.append(_table(tests.rows, ("test_loss", "test_accuracy", "test_examples", "tested_at"), cls="test-results"))
    parts += ["<h3>Provenance graph</h3>", _graph(store, run_id), "</section>"]
    return "\n".join(parts)


def build_report(
    store: Store | str | os.PathLike[str],
    runs: list[str] | None = None,
    progress: Progress | None = None,
    *,
    title: str = "CNN training provenance",
) -> str:
    """The HTML text of a report on `runs` (run ids, prefixes, `latest`, `previous`; all runs by default)."""
    store = open_store(store)
    listing = query(store, "runs")
    wanted = None if runs is None else {run.id for run in select_runs(store, runs)}
    selected = [row for row in listing.rows if wanted is None or row["run_id"] in wanted]

    def run_link(row: dict[str, Any]) -> dict[str, str]:
        cells = {"status": f'<span class="status-{html.escape(row["status"])}">{html.escape(row["status"])}</span>'}
        if wanted is None or row["run_id"] in wanted:
            cells["run_id"] = f'<a href="#run-{row["run_id"]}"><code>{html.escape(row["run_id"])}</code></a>'
        return cells

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(listing.rows)} run(s) in the store; {len(selected)} in this report. Generated {generated}.</p>",
        "<h2>Runs</h2>",
        _table(listing.rows, listing.columns, id="runs", link=run_link),
    ]
    if len(selected) > 1:
        ids = [row["run_id"] for row in selected]
        comparison = [
            _unique_ids(figure_svg(plot_curves(store, ids, metric=m, size=(6.0, 3.6)), salt=f"all-{m}"), f"all-{m}-")
            for m in TRAINING_METRICS
        ]
        parts += ["<h2>All runs</h2>", '<figure class="curves" id="comparison">' + "".join(comparison) + "</figure>"]
    ranking = query(store, "config-ranking")
    timing = query(store, "training-time-by-config")
    parts += [
        "<h2>Configurations ranked by test accuracy</h2>",
        _table(ranking.rows, ranking.columns, id="config-ranking"),
        "<h2>Training time by epochs and learning rate</h2>",
        _table(timing.rows, timing.columns, id="training-time-by-config"),
    ]
    for done, row in enumerate(selected, start=1):
        parts.append(_run_section(store, row))
        if progress is not None:
            progress(row["run_id"], done, len(selected))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

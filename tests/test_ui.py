"""`cnnprov ui` in a real headless Chromium (playwright driving /usr/bin/chromium) against a real server process.

The server runs as `python -m cnnprov_rdf.cli ui --bind 127.0.0.1:0` on a copy of the grid fixture's store,
with two hyperparameter searches of two trials each (one search named as an HTML injection attempt) and two runs
added: one whose name is that injection attempt and that has a user hyperparameter, and one still running.
Screenshots go to a temporary directory (and to $CNNPROV_UI_SCREENSHOTS when it is set).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import record_searches

from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.leaderboard import leaderboard
from cnnprov_rdf.ui.server import parse_bind
from cnnprov_rdf.ui.sparql import check, keywords, run_user_query

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
EVIL = "<img src=x onerror=alert(1)>"
TRAINER = Path(__file__).with_name("_train_in_subprocess.py")
REPO = Path(__file__).resolve().parents[1]


def start_server(store: Path, **environment: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           **environment}
    # stderr to a file, not a pipe nobody reads (which could fill up and block the server)
    errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (open as long as the server runs)
    process = subprocess.Popen([sys.executable, "-m", "cnnprov_rdf.cli", "ui", "--store", str(store), "--bind",
                                "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
    line = process.stdout.readline() if process.stdout else ""
    if " at http://" not in line:
        process.kill()
        errors.seek(0)
        raise AssertionError(f"the server did not start: {line!r} {errors.read()}")
    return process, line.split(" at ")[1].split()[0].rstrip("/")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def get(url: str, host: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


#: The fixture's searches: (name, trial run name prefix, the learning rates its trials sample).
SEARCHES = (("first-grid", "first-grid", (0.1, 0.2)), (EVIL, "evil-search", (0.3, 0.4)))


@pytest.fixture(scope="module")
def ui_store(grid, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ui") / "store"
    shutil.copytree(grid.store, path)
    record_searches(path, list(SEARCHES))
    with Tracker(path) as tracker:
        evil = tracker.start_run(name=EVIL, planned_epochs=2)
        evil.log_hyperparameters({"filters": 8, "learning_rate": 0.1})
        for epoch, loss in ((1, 0.9), (2, 0.6)):
            evil.log_epoch(epoch, {"loss": loss, "accuracy": 1 - loss})
        evil.end()
        live = tracker.start_run(name="still-running", planned_epochs=10)
        live.log_epoch(1, {"loss": 1.0, "accuracy": 0.3})
        tracker.flush()
    return path


@pytest.fixture(scope="module")
def server(ui_store) -> Iterator[str]:
    process, url = start_server(ui_store)
    yield url
    stop(process)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("headless UI tests need Chromium at /usr/bin/chromium (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the UI tests need playwright (.[test])")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.errors = errors
    yield page
    context.close()
    assert errors == []


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> list[Path]:
    directories = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get("CNNPROV_UI_SCREENSHOTS"):
        directories.append(Path(os.environ["CNNPROV_UI_SCREENSHOTS"]))
    return directories


def screenshot(page, shots: list[Path], name: str, full_page: bool = False) -> None:
    for directory in shots:
        directory.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(directory / f"{name}.png"), full_page=full_page)


def table_rows(page, selector: str) -> list[dict]:
    """Each row of a table as {column: exact value} from the cells' data-json."""
    return page.eval_on_selector(selector, """table => {
        const columns = [...table.querySelectorAll('thead th')].map(th => th.dataset.col || th.textContent);
        return [...table.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(
            [...tr.querySelectorAll('td')].map((td, i) =>
                [columns[i], td.dataset.json ? JSON.parse(td.dataset.json) : null])));
    }""")


#: Whether the runs page lists exactly these names (joined by "|").
NAMES_ARE = ("names => [...document.querySelectorAll('table#runs tbody td[data-col=name]')]"
             ".map(c => c.textContent).join('|') === names")


def names_shown(page) -> list[str]:
    return page.eval_on_selector_all("table#runs tbody td[data-col=name]", "cells => cells.map(c => c.textContent)")


#: The epochs cell of the run with the given name on the runs page (null while it is not listed).
EPOCHS_OF = """name => {
    const row = [...document.querySelectorAll('table#runs tbody tr')]
        .find(tr => tr.querySelector('td[data-col=name]').textContent === name);
    return row ? JSON.parse(row.querySelector('td[data-col=epochs]').dataset.json) : null;
}"""


def plain(rows: list[dict]) -> list[dict]:
    return json.loads(json.dumps(rows, default=str))


# --- pages in the browser -----------------------------------------------------------------------------


def test_run_table_lists_every_run_with_its_hyperparameters(page, server, ui_store, shots):
    page.goto(server + "/")
    page.wait_for_selector("table#runs tbody tr")
    expected = leaderboard(ui_store)
    assert names_shown(page) == [row["name"] for row in expected.rows]
    headers = page.eval_on_selector_all("table#runs thead th[data-col]", "ths => ths.map(th => th.dataset.col)")
    assert headers == [c for c in expected.columns if c not in ("run_id", "ended")]
    assert {"hp.learning_rate", "hp.epochs", "hp.filters", "test_accuracy"} <= set(headers)
    shown = table_rows(page, "table#runs")
    for row, wanted in zip(shown, expected.rows, strict=True):
        assert {c: row[c] for c in headers} == plain([{c: wanted[c] for c in headers}])[0]
    running = page.eval_on_selector_all("tr.running td[data-col=name]", "cells => cells.map(c => c.textContent)")
    assert running == ["still-running"]
    assert "1 running" in page.text_content("#summary")
    screenshot(page, shots, "ui-runs")


def test_clicking_a_header_sorts_by_that_column(page, server, ui_store):
    page.goto(server + "/")
    page.wait_for_selector("table#runs tbody tr")
    page.click("table#runs th[data-col=test_accuracy]")
    best_first = [row["name"] for row in leaderboard(ui_store, sort="test_accuracy").rows]
    page.wait_for_function("expected => [...document.querySelectorAll('table#runs td[data-col=name]')]"
                           ".map(c => c.textContent).join('|') === expected", arg="|".join(best_first))
    assert page.get_attribute("table#runs th[data-col=test_accuracy]", "class").split() == ["sortable", "test",
                                                                                             "sorted"]
    page.click("table#runs th[data-col=test_accuracy]")  # again: the other way round
    page.wait_for_selector("table#runs th[data-col=test_accuracy].reversed")
    assert names_shown(page) == best_first[::-1]
    page.click("table#runs th[data-col=hp\\.learning_rate]")
    page.wait_for_selector("table#runs th[data-col='hp.learning_rate'].sorted")
    by_rate = [row["name"] for row in leaderboard(ui_store, sort="hp.learning_rate").rows]
    assert names_shown(page) == by_rate


def test_filtering_and_selecting_runs_to_compare(page, server, grid):
    page.goto(server + "/")
    page.wait_for_selector("table#runs tbody tr")
    page.fill("#match", "lr0.005")  # (not "e2": a run id, hexadecimal, may contain it)
    page.wait_for_function("() => document.querySelectorAll('table#runs tbody tr').length === 2")
    assert names_shown(page) == ["lr0.005-e2", "lr0.005-e1"]
    for run_id in (grid.runs["lr0.005-e2"].run_id, grid.runs["lr0.005-e1"].run_id):
        page.check(f"input[data-run='{run_id}']")
    page.click("#compare")
    page.wait_for_url("**/compare?run=*")
    assert page.url.endswith(f"/compare?run={grid.runs['lr0.005-e2'].run_id}&run={grid.runs['lr0.005-e1'].run_id}")


def test_a_run_page_shows_its_curves_details_and_graph(page, server, grid, ui_store, shots):
    run = grid.runs["early-stop"]
    page.goto(f"{server}/run/{run.run_id}")
    page.wait_for_selector("#loss-plot .main-svg")
    page.wait_for_selector("#hyperparameters table")
    loss = page.evaluate("document.getElementById('loss-plot').data.map(t => [t.name, t.x, t.y])")
    assert loss == [["training loss", [1, 2], run.history["loss"]],
                    ["validation loss", [1, 2], run.history["val_loss"]]]
    accuracy = page.evaluate("document.getElementById('accuracy-plot').data.map(t => t.y.length)")
    assert accuracy == [2, 2]
    adaptations = run_query(ui_store, "lr-adaptations", run=run.run_id).rows
    marked = page.evaluate("document.getElementById('lr-plot').data[1].x")
    assert marked == [row["epoch"] for row in adaptations] and marked
    shapes = page.evaluate("document.getElementById('loss-plot').layout.shapes.map(s => s.x0)")
    assert shapes == marked
    assert page.text_content("#title").startswith("early-stop")
    settings = {row["name"]: row["value"] for row in run_query(ui_store, "hyperparameters", run=run.run_id).rows}
    shown = page.eval_on_selector_all("#hyperparameters tr", "trs => trs.map(tr => [tr.cells[0].textContent, "
                                      "JSON.parse(tr.cells[1].dataset.json)])")
    assert dict(shown) == plain([settings])[0]
    assert table_rows(page, "#tests table")[0]["test_accuracy"] == run.test_result["accuracy"]
    assert table_rows(page, "#model-files table")[0]["file_path"] == str(run.model_file)
    assert len(table_rows(page, "#architecture table")) == len(run_query(ui_store, "architecture", run=run.run_id))
    page.wait_for_function("() => { const i = document.querySelector('#graph img'); return i && i.naturalWidth > 0; }")
    page.wait_for_timeout(300)
    screenshot(page, shots, "ui-run", full_page=True)


def test_a_failed_run_page_shows_its_error(page, server, grid):
    page.goto(f"{server}/run/{grid.runs['raises'].run_id[:8]}")
    page.wait_for_selector("#problems .notice.error")
    assert page.text_content("#problems") == "ValueError: NaN batch in epoch 2"


def test_compare_page_overlays_the_chosen_runs(page, server, grid, ui_store, shots):
    chosen = [grid.runs[name] for name in ("lr0.01-e2", "lr0.005-e2", "early-stop")]
    page.goto(server + "/compare?" + "&".join(f"run={run.run_id}" for run in chosen))
    page.wait_for_selector("#curves .main-svg")
    page.wait_for_selector("#hp-plot .main-svg")
    curves = page.evaluate("document.getElementById('curves').data.map(t => [t.name, t.y])")
    assert curves == [[run.name, run.history["val_accuracy"]] for run in chosen]
    page.select_option("#curve-metric", "loss")
    page.wait_for_function("() => document.getElementById('curves').layout.title.text.startsWith('loss')")
    assert page.evaluate("document.getElementById('curves').data.map(t => t.y)") == [r.history["loss"] for r in chosen]
    board = leaderboard(ui_store)
    varying = [c for c in board.columns if c.startswith("hp.")
               and len({json.dumps(r[c]) for r in board.rows if r[c] is not None}) > 1][:8]
    assert "hp.learning_rate" in varying
    panels = page.evaluate("(() => { const gd = document.getElementById('hp-plot'); return gd.data.map(t => "
                           "[gd.layout[t.xaxis.replace('x', 'xaxis')].title.text, t.x.length]); })()")
    assert [title for title, _ in panels[::2]] == [c[3:] for c in varying]
    assert sum(n for _, n in panels) == sum(1 for c in varying for r in board.rows
                                            if r[c] is not None and r["test_accuracy"] is not None)
    highlighted = page.evaluate("document.getElementById('hp-plot').data[1].text")
    assert sorted(highlighted) == sorted(run.name for run in chosen)
    screenshot(page, shots, "ui-compare", full_page=True)


def search_ids(store: Path) -> dict[str, str]:
    """The store's searches: id by name."""
    return {row["name"]: row["search_id"] for row in run_query(store, "searches").rows}


def test_runs_page_lists_the_trials_of_the_search_chosen(page, server, ui_store):
    page.goto(server + "/")
    page.wait_for_selector("#search option[value]:not([value=''])", state="attached")
    options = page.eval_on_selector_all("#search option", "os => os.map(o => [o.value, o.textContent])")
    assert options == [["", "all runs"]] + [
        [row["search_id"], f"{row['name']} (2 trials, {row['search_id'][:8]})"]
        for row in run_query(ui_store, "searches").rows]  # newest first: the injection attempt, as text
    assert [name for _, name in options[1:]] == [f"{EVIL} (2 trials, {search_ids(ui_store)[EVIL][:8]})",
                                                 f"first-grid (2 trials, {search_ids(ui_store)['first-grid'][:8]})"]
    assert page.eval_on_selector_all("img", "imgs => imgs.length") == 0
    total = len(leaderboard(ui_store).rows)
    for name, wanted in ((EVIL, ["evil-search-1", "evil-search-0"]), ("first-grid", ["first-grid-1", "first-grid-0"])):
        page.select_option("#search", search_ids(ui_store)[name])
        page.wait_for_function(NAMES_ARE, arg="|".join(wanted))
        assert names_shown(page) == wanted == [
            row["name"] for row in leaderboard(ui_store, search=search_ids(ui_store)[name]).rows]
        assert page.text_content("#summary") == f"2 of {total} runs · 1 running"
    page.fill("#match", "grid-0")  # the text filter within the search
    page.wait_for_function("() => document.querySelectorAll('table#runs tbody tr').length === 1")
    assert names_shown(page) == ["first-grid-0"]
    page.fill("#match", "")
    page.select_option("#search", "")
    page.wait_for_function("n => document.querySelectorAll('table#runs tbody tr').length === n", arg=total)
    assert names_shown(page) == [row["name"] for row in leaderboard(ui_store).rows]
    page.select_option("#search", search_ids(ui_store)["first-grid"])  # Compare selected keeps the search
    page.wait_for_function("() => document.querySelectorAll('table#runs tbody tr').length === 2")
    first = leaderboard(ui_store, search="first-grid").rows
    page.check(f"input[data-run='{first[0]['run_id']}']")
    page.click("#compare")
    page.wait_for_url("**/compare?run=*")
    assert page.url.endswith(f"/compare?run={first[0]['run_id']}&search={search_ids(ui_store)['first-grid']}")


def test_a_link_to_a_search_the_store_does_not_hold_says_so(page, server):
    page.goto(server + "/?search=no-such-search")
    page.wait_for_selector("#table-card .notice.error")
    assert "no search 'no-such-search'" in page.text_content("#table-card")
    page.wait_for_selector("#search", state="visible")
    assert page.eval_on_selector("#search", "s => [s.value, s.hidden]") == ["no-such-search", False]


#: The hyperparameter plot's points, per trace: [run ids, x values, y values].
HP_POINTS = "document.getElementById('hp-plot').data.map(t => [t.customdata, t.x, t.y])"


def test_compare_page_plots_the_hyperparameters_of_one_search_or_of_all_runs(page, server, ui_store):
    first = leaderboard(ui_store, search="first-grid").rows  # newest first, as the page lists them
    chosen = first[1]["run_id"]
    page.goto(f"{server}/compare?run={chosen}")
    page.wait_for_selector("#hp-plot .main-svg")
    page.select_option("#hp-metric", "final_loss")
    every = leaderboard(ui_store).rows
    page.wait_for_function("() => document.getElementById('hp-plot').layout.title.text.startsWith('final_loss')")
    assert page.text_content("#hp-plot .gtitle") == f"final_loss against each hyperparameter ({len(every)} runs)"
    rates = page.evaluate("(() => { const gd = document.getElementById('hp-plot'); return gd.data.filter(t => "
                          "gd.layout[t.xaxis.replace('x', 'xaxis')].title.text === 'learning_rate')"
                          ".flatMap(t => t.customdata); })()")
    assert sorted(rates) == sorted(r["run_id"] for r in every
                                   if r["hp.learning_rate"] is not None and r["final_loss"] is not None)
    for name, search_id in search_ids(ui_store).items():
        trials = leaderboard(ui_store, search=search_id).rows
        page.select_option("#hp-search", search_id)
        page.wait_for_function("ids => document.getElementById('hp-plot').data.flatMap(t => t.customdata).sort()"
                               ".join() === ids", arg=",".join(sorted(r["run_id"] for r in trials)))
        points = [[r["run_id"], r["hp.learning_rate"], r["final_loss"]] for r in trials]
        # one panel (the one hyperparameter the trials vary), the chosen run highlighted in the second trace
        assert page.evaluate(HP_POINTS) == [
            [[p[i] for p in points if p[0] != chosen] for i in range(3)],
            [[p[i] for p in points if p[0] == chosen] for i in range(3)]]
        assert page.text_content("#hp-plot .gtitle") == f"final_loss against each hyperparameter (2 trials of {name})"
        assert page.text_content("#hp-scope") == f"the trials of the search {name}; the selected ones highlighted"
        assert page.eval_on_selector_all("img", "imgs => imgs.length") == 0
    page.select_option("#hp-search", "")
    page.wait_for_function("n => document.getElementById('hp-plot').layout.title.text.includes(n)",
                           arg=f"({len(every)} runs)")
    page.goto(f"{server}/compare?search={search_ids(ui_store)['first-grid']}")  # the runs page's link
    page.wait_for_selector("#hp-plot .main-svg")
    assert page.eval_on_selector("#hp-search", "s => s.value") == search_ids(ui_store)["first-grid"]
    page.wait_for_function("() => document.getElementById('hp-plot').layout.title.text.includes('2 trials of')")


def test_queries_page_runs_canned_queries_with_parameters(page, server, grid, ui_store, shots):
    page.goto(server + "/queries")
    page.wait_for_selector("#query-list button")
    listed = page.eval_on_selector_all("#query-list button", "bs => bs.map(b => b.dataset.query)")
    assert listed == [q["name"] for q in json.loads(get(server + "/api/queries")[2])["queries"]]
    assert "leaderboard" in listed and "runs" in listed
    page.click("#query-list button[data-query=test-results]")
    page.wait_for_selector("#query-result table")
    assert table_rows(page, "#query-result table") == plain(run_query(ui_store, "test-results").rows)
    run = grid.runs["lr0.01-e2"]
    page.click("#query-list button[data-query=epoch-metrics]")
    page.fill("#param-run", run.run_id)
    page.click("#query-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#query-result tbody tr').length === 2")
    assert table_rows(page, "#query-result table") == plain(run_query(ui_store, "epoch-metrics", run=run.run_id).rows)
    csv = get(server + page.get_attribute("#query-csv", "href"))
    assert csv[0] == 200 and csv[1].startswith("text/csv") and csv[2].splitlines()[0].startswith("epoch,loss")
    page.fill("#param-run", "no-such-run")
    page.click("#query-form button[type=submit]")
    page.wait_for_selector("#query-result .notice.error")
    assert "no run 'no-such-run'" in page.text_content("#query-result")
    screenshot(page, shots, "ui-queries")


def test_queries_page_runs_the_users_own_sparql_and_refuses_updates(page, server, ui_store):
    page.goto(server + "/queries")
    page.click("#sparql-form button[type=submit]")
    page.wait_for_selector("#sparql-result table")
    assert len(table_rows(page, "#sparql-result table")) == len(run_query(ui_store, "runs"))
    page.fill("#sparql", "DELETE WHERE { ?s ?p ?o }")
    page.click("#sparql-form button[type=submit]")
    page.wait_for_selector("#sparql-result .notice.error")
    assert "DELETE is refused" in page.text_content("#sparql-result")


def test_a_name_made_of_html_shows_as_text(page, server):
    page.goto(server + "/?match=onerror")
    page.wait_for_selector("table#runs tbody tr")
    assert names_shown(page) == [EVIL]
    assert page.eval_on_selector_all("table#runs img", "imgs => imgs.length") == 0
    page.click("table#runs td[data-col=name] a")
    page.wait_for_selector("#title .status")
    assert page.text_content("#title").startswith(EVIL)
    assert page.eval_on_selector_all("main img:not(.prov)", "imgs => imgs.length") == 0
    assert page.title() == f"cnnprov · {EVIL}"


def test_a_training_started_after_the_page_opened_appears_and_grows(page, ui_store, tmp_path, shots):
    store = tmp_path / "store"
    shutil.copytree(ui_store, store)
    process, url = start_server(store)
    trainer = None
    try:
        page.goto(url + "/")
        page.wait_for_selector("table#runs tbody tr")
        page.evaluate("window.notReloaded = true")
        trainer = subprocess.Popen([sys.executable, str(TRAINER), str(store), "3", "1.5", "0"], stdout=subprocess.PIPE,
                                   text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        printed: dict[int, float] = {}

        def read() -> None:
            for line in trainer.stdout:
                if line.startswith("EPOCH"):
                    printed[int(line.split()[1])] = time.monotonic()

        threading.Thread(target=read, daemon=True).start()
        seen: dict[int, float] = {}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and 3 not in seen:
            shown = page.evaluate(EPOCHS_OF, "tiny")
            if shown is not None:
                seen.setdefault(shown, time.monotonic())
            page.wait_for_timeout(100)
        assert page.evaluate("window.notReloaded") is True
        assert set(seen) >= {1, 2, 3}, f"epochs seen on the page: {sorted(seen)}"
        lags = {epoch: seen[epoch] - printed[epoch] for epoch in (1, 2) if epoch in printed}
        print(f"seconds from the trainer's epoch end to the page showing it: {lags}")
        assert all(lag < 3.0 for lag in lags.values()), lags  # the page polls every second
        page.wait_for_function("() => [...document.querySelectorAll('table#runs tr')].some(tr => "
                               "tr.querySelector('td[data-col=name]')?.textContent === 'tiny' && "
                               "tr.querySelector('.status.finished'))", timeout=60_000)
        assert trainer.wait(timeout=60) == 0
        screenshot(page, shots, "ui-live")
    finally:
        if trainer is not None and trainer.poll() is None:
            trainer.kill()
        stop(process)


def test_without_graphviz_the_run_page_says_so(page, ui_store, grid):
    process, url = start_server(ui_store, PATH=str(Path(sys.executable).parent))  # no `dot` on this PATH
    try:
        run_id = grid.runs["lr0.01-e1"].run_id
        status, kind, body = get(f"{url}/api/runs/{run_id}/graph.svg")
        assert (status, kind) == (503, "application/json; charset=utf-8")
        assert "Graphviz's `dot` program was not found: install Graphviz" in json.loads(body)["error"]
        page.goto(f"{url}/run/{run_id}")
        page.wait_for_selector("#graph .notice")
        assert "Graphviz's `dot` program was not found: install Graphviz" in page.text_content("#graph")
        page.wait_for_selector("#loss-plot .main-svg")  # the rest of the page is there
    finally:
        stop(process)


# --- the API without a browser ---------------------------------------------------------------------------


def test_api_returns_typed_values_and_refuses_what_it_must(server, ui_store, grid):
    status, kind, body = get(server + "/api/runs?sort=test_accuracy")
    assert status == 200 and kind.startswith("application/json")
    data = json.loads(body)
    assert data["rows"] == plain(leaderboard(ui_store, sort="test_accuracy").rows)
    assert isinstance(data["rows"][0]["epochs"], int) and isinstance(data["rows"][0]["test_accuracy"], float)
    first = search_ids(ui_store)["first-grid"]
    status, _, body = get(f"{server}/api/runs?sort=final_loss&search={first}")
    assert status == 200 and json.loads(body)["rows"] == plain(leaderboard(ui_store, sort="final_loss",
                                                                           search=first).rows)
    assert json.loads(body)["search"] == first and json.loads(body)["total"] == len(leaderboard(ui_store).rows)
    status, _, body = get(f"{server}/api/runs?search={first}&match=grid-1")
    assert [row["name"] for row in json.loads(body)["rows"]] == ["first-grid-1"]
    status, _, body = get(server + "/api/runs?match=lr0.005")
    assert [row["name"] for row in json.loads(body)["rows"]] == ["lr0.005-e2", "lr0.005-e1"]
    status, _, body = get(server + "/api/runs?search=no-such-search")
    assert status == 400 and "no search 'no-such-search'" in json.loads(body)["error"]
    assert get(server + "/api/runs/no-such-run")[0] == 404
    assert get(server + "/api/queries/runz")[0] == 400
    assert get(server + "/api/info", host="attacker.example:80")[0] == 403
    request = urllib.request.Request(server + "/api/runs", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 501
    svg = get(f"{server}/api/runs/{grid.runs['lr0.01-e1'].run_id}/graph.svg")
    assert svg[0] == 200 and svg[1] == "image/svg+xml" and svg[2].startswith("<svg")
    headers = urllib.request.urlopen(server + "/", timeout=10).headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    plotly = get(server + "/static/plotly.min.js")
    assert plotly[0] == 200 and len(plotly[2]) > 1_000_000
    assert get(server + "/static/../data.py")[0] == 404


def test_the_app_reads_a_sparql_endpoint_too(ui_store, tmp_path):
    from cnnprov_rdf.storage.server import start_server as start_oxigraph

    copy = tmp_path / "served"
    shutil.copytree(ui_store, copy)
    oxigraph = start_oxigraph(copy)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "cnnprov_rdf.cli", "ui", "--endpoint", oxigraph.query_endpoint,
                                "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline() if process.stdout else ""
        url = line.split(" at ")[1].split()[0].rstrip("/")
        assert json.loads(get(url + "/api/info")[2]) == {"location": oxigraph.query_endpoint, "kind": "endpoint"}
        runs = json.loads(get(url + "/api/runs?sort=test_accuracy")[2])
        assert runs["rows"] == plain(leaderboard(ui_store, sort="test_accuracy").rows)
        run_id = runs["rows"][0]["run_id"]
        assert json.loads(get(f"{url}/api/runs/{run_id}/epochs")[2])["epochs"]["rows"] == plain(
            run_query(ui_store, "epoch-metrics", run=run_id).rows)
        status, _, body = get(f"{url}/api/runs/{run_id}/graph.svg")
        assert status == 503 and "endpoint" in json.loads(body)["error"]
        query = "SELECT ?n WHERE { ?r <https://w3id.org/cnnprov/ontology#runName> ?n } ORDER BY ?n"
        status, _, body = get(url + "/api/sparql?" + urllib.parse.urlencode({"query": query}))
        names = sorted(row["name"] for row in run_query(ui_store, "runs").rows)
        assert status == 200 and [row["n"] for row in json.loads(body)["rows"]] == names
    finally:
        stop(process)
        oxigraph.stop()


def test_sparql_box_accepts_read_queries_only(server):
    def sparql(text: str) -> tuple[int, dict]:
        status, _, body = get(server + "/api/sparql?" + urllib.parse.urlencode({"query": text}))
        return status, json.loads(body)

    status, answer = sparql("ASK { ?s a <https://w3id.org/cnnprov/ontology#Training> }")
    assert (status, answer["rows"]) == (200, [{"result": True}])
    status, answer = sparql("CONSTRUCT { ?r <urn:x> ?n } WHERE { ?r <https://w3id.org/cnnprov/ontology#runName> ?n }")
    assert status == 200 and answer["columns"] == ["subject", "predicate", "object"] and EVIL in {
        row["object"] for row in answer["rows"]}
    for text, message in [("INSERT DATA { <urn:a> <urn:b> <urn:c> }", "INSERT is refused"),
                          ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", "SERVICE is refused"),
                          ("", "empty"), ("SELEC * WHERE {}", "must be a SELECT")]:
        status, answer = sparql(text)
        assert status == 400 and message in answer["error"], (text, answer)
    status, answer = sparql("SELECT * WHERE { ?s ?p }")
    assert status == 400 and "syntax error" in answer["error"]


def test_a_users_query_is_stopped_after_its_timeout(ui_store):
    endless = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    started = time.monotonic()
    with pytest.raises(ValueError, match="ran longer than 1 s and was stopped"):
        run_user_query(str(ui_store), endless, timeout=1.0)
    assert time.monotonic() - started < 5
    assert run_user_query(str(ui_store), "ASK { ?s ?p ?o }")["rows"] == [{"result": True}]


def test_the_keyword_check_ignores_strings_iris_comments_and_variables():
    assert check('SELECT ?service WHERE { ?s ?p "SERVICE" } # SERVICE') == "SELECT"
    assert check("PREFIX delete: <http://x/insert#> SELECT * WHERE { ?s delete:insert ?o }") == "SELECT"
    assert check("# INSERT\nDESCRIBE <urn:service>") == "DESCRIBE"
    assert keywords("ASK { ?s ?p '''a \"SERVICE\" b''' }") == ["ASK"]
    with pytest.raises(ValueError, match="SERVICE is refused"):
        check("SELECT * { service <urn:x> { ?s ?p ?o } }")


def test_a_read_that_fails_under_a_writer_is_retried_once_on_a_fresh_snapshot(ui_store):
    from cnnprov_rdf.errors import StoreError
    from cnnprov_rdf.ui.data import Data

    data = Data(ui_store)
    calls: list[object] = []

    def flaky(store):
        calls.append(store)
        if len(calls) == 1:
            raise RuntimeError("Corruption: IO error: No such file or directory: 000123.sst")
        return "read"

    assert data.read(flaky) == "read" and len(calls) == 2 and calls[0] is not calls[1]

    def broken(store):
        raise OSError("gone")

    with pytest.raises(StoreError, match="right now: gone"):
        data.read(broken)


def test_bind_addresses():
    assert parse_bind("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_bind(":9000") == ("127.0.0.1", 9000)
    assert parse_bind("[::1]:8000") == ("::1", 8000)
    assert parse_bind("localhost") == ("localhost", 8765)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_bind("a:b:c")

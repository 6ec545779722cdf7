// Runs page: the leaderboard, sortable (click a header), filterable by text and by hyperparameter search, polled
// every second.
"use strict";

const state = { sort: "started", reversed: false, match: "", search: "", selected: new Set(), last: "", total: -1 };
const HIDDEN = new Set(["run_id", "ended"]);

function label(column) {
  return column.startsWith("hp.") ? column.slice(3) : column;
}

function headerCell(column) {
  const classes = ["sortable", column.startsWith("hp.") ? "hp" : "", column.startsWith("test_") ? "test" : "",
                   column === state.sort ? "sorted" : "", column === state.sort && state.reversed ? "reversed" : ""];
  return cnn.el("th", {
    text: label(column), scope: "col", class: classes.filter(Boolean).join(" "), dataset: { col: column },
    title: column.startsWith("hp.") ? `hyperparameter ${label(column)}` : column,
    onclick: () => {
      state.reversed = state.sort === column ? !state.reversed : false;
      state.sort = column;
      refresh(true);
    },
  });
}

function statusCell(row) {
  const text = row.status === "unfinished" ? `running · epoch ${row.epochs}` : row.status;
  return cnn.el("td", { dataset: { col: "status", json: JSON.stringify(row.status) } },
    cnn.el("span", { class: `status ${row.status}`, text }));
}

function rowOf(row, columns) {
  const box = cnn.el("input", { type: "checkbox", "aria-label": `select ${row.name || row.run_id}`,
                                checked: state.selected.has(row.run_id), dataset: { run: row.run_id } });
  box.addEventListener("change", () => {
    if (box.checked) state.selected.add(row.run_id); else state.selected.delete(row.run_id);
    updateCompare();
  });
  const cells = columns.map((column) => {
    if (column === "status") return statusCell(row);
    if (column === "name") {
      const link = cnn.el("a", { href: `/run/${encodeURIComponent(row.run_id)}`, text: row.name || row.run_id.slice(0, 8) });
      return cnn.el("td", { dataset: { col: "name", json: JSON.stringify(row.name) }, title: row.run_id }, link);
    }
    const value = column === "started" ? cnn.shortTime(row[column]) : row[column];
    const cell = cnn.cell(value, false);
    cell.dataset.col = column;
    cell.dataset.json = JSON.stringify(row[column]);
    return cell;
  });
  return cnn.el("tr", { class: row.status === "unfinished" ? "running" : null, dataset: { run: row.run_id } },
    cnn.el("td", {}, box), cells);
}

function render(data) {
  const card = document.getElementById("table-card");
  if (data.notice) { cnn.notice(card, data.notice, "warn"); return; }
  if (!data.total) { cnn.notice(card, "The store holds no run yet; a training that writes it will show up here."); return; }
  const columns = data.columns.filter((c) => !HIDDEN.has(c));
  const rows = state.reversed ? [...data.rows].reverse() : data.rows;
  const table = cnn.el("table", { class: "runs", id: "runs" },
    cnn.el("thead", {}, cnn.el("tr", {}, cnn.el("th", { scope: "col" }), columns.map(headerCell))),
    cnn.el("tbody", {}, rows.map((row) => rowOf(row, columns))));
  card.replaceChildren(table);
  if (!performance.getEntriesByName("runs-rendered").length) performance.mark("runs-rendered");  // bench/ui.py
  const shown = data.rows.length === data.total ? `${data.total} runs` : `${data.rows.length} of ${data.total} runs`;
  document.getElementById("summary").textContent = data.running ? `${shown} · ${data.running} running` : shown;
}

function updateCompare() {
  const button = document.getElementById("compare");
  button.disabled = state.selected.size === 0;
  button.textContent = state.selected.size ? `Compare selected (${state.selected.size})` : "Compare selected";
}

async function refresh(force) {
  const asked = () => String(new URLSearchParams({ sort: state.sort, match: state.match, search: state.search }));
  const query = asked();
  let data;
  try {
    data = await cnn.api(`/api/runs?${query}`);
  } catch (error) {  // a search that is not (or no longer) in the store, say
    cnn.notice(document.getElementById("table-card"), error.message, "error");
    state.last = "";
    state.total = -1;
    await cnn.searches(document.getElementById("search"), state.search);
    throw error;
  }
  if (query !== asked()) return;  // the user changed the search or filter meanwhile: that request draws
  if (data.total !== state.total) {  // new runs: perhaps a new search too (listed after the table is drawn)
    state.total = data.total;
    setTimeout(() => cnn.searches(document.getElementById("search"), state.search), 0);
  }
  const key = JSON.stringify([data, state.reversed]);
  if (!force && key === state.last) return;  // unchanged: keep the DOM (and the focus) as it is
  state.last = key;
  state.sort = data.sort || state.sort;
  render(data);
}

document.addEventListener("DOMContentLoaded", () => {
  const match = document.getElementById("match");
  match.value = cnn.param("match") || "";
  state.match = match.value;
  match.addEventListener("input", () => { state.match = match.value.trim(); refresh(true); });
  const search = document.getElementById("search");
  state.search = cnn.param("search") || "";
  search.addEventListener("change", () => { state.search = search.value; refresh(true); });
  document.getElementById("compare").addEventListener("click", () => {
    const query = new URLSearchParams([...state.selected].map((run) => ["run", run]));
    if (state.search) query.append("search", state.search);
    window.location.href = `/compare?${query}`;
  });
  cnn.every(1000, () => refresh(false));
});

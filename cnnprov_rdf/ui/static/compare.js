// Compare page: the chosen runs' curves overlaid, and the hyperparameters of every run (or of one hyperparameter
// search's trials) against a chosen metric.
"use strict";

const chosen = new URLSearchParams(window.location.search).getAll("run");
const view = { runs: [], board: null, plotted: null, searches: [] };
const MAX_PANELS = 8;

function fillSelect(select, options, selected) {
  select.replaceChildren(...options.map((o) => cnn.el("option", { value: o, text: o, selected: o === selected })));
}

function drawCurves() {
  const metric = document.getElementById("curve-metric").value;
  const traces = view.runs.map((run) => ({
    name: cnn.plotText(run.name || run.run_id.slice(0, 8)), mode: "lines+markers",
    x: run.epochs.rows.map((r) => r.epoch), y: run.epochs.rows.map((r) => r[metric]),
  }));
  cnn.plot(document.getElementById("curves"), traces,
    { title: cnn.TITLE(`${metric} per epoch`),
      xaxis: { title: { text: "epoch" }, dtick: Math.max(...traces.map((t) => t.x.length), 0) <= 12 ? 1 : undefined },
      yaxis: { type: metric === "learning_rate" ? "log" : "linear" } });
}

// One scatter per hyperparameter (x: its value, y: the metric), side by side; plain SVG traces, no WebGL.
function drawHyperparameters() {
  const board = view.plotted;
  const metric = document.getElementById("hp-metric").value;
  // The hyperparameters that vary between runs (all of them if none does), at most MAX_PANELS.
  const all = board.columns.filter((c) => c.startsWith("hp."));
  const varying = all.filter((c) => new Set(board.rows.filter((r) => r[c] !== null).map((r) => JSON.stringify(r[c]))).size > 1);
  const hps = (varying.length ? varying : all).slice(0, MAX_PANELS);
  const holder = document.getElementById("hp-plot");
  if (!hps.length || !board.rows.length) { cnn.notice(holder, "No hyperparameters to plot."); return; }
  const gap = 0.04;
  const width = (1 - gap * (hps.length - 1)) / hps.length;
  const scope = searchName(board.search);
  document.getElementById("hp-scope").textContent = board.search
    ? `the trials of the search ${scope}; the selected ones highlighted` : "every run; the selected ones highlighted";
  const runs = board.search ? `${board.rows.length} trials of ${scope}` : `${board.rows.length} runs`;
  const layout = { title: cnn.TITLE(cnn.plotText(`${metric} against each hyperparameter (${runs})`)),
                   showlegend: false, yaxis: { title: { text: metric } } };
  const traces = [];
  hps.forEach((hp, index) => {
    const axis = index ? String(index + 1) : "";
    layout[`xaxis${axis}`] = { domain: [index * (width + gap), index * (width + gap) + width],
                               title: { text: hp.slice(3) }, anchor: "y", automargin: true };
    for (const picked of [false, true]) {
      const rows = board.rows.filter((r) => chosen.includes(r.run_id) === picked && r[hp] !== null && r[metric] !== null);
      traces.push({ x: rows.map((r) => (typeof r[hp] === "boolean" ? String(r[hp]) : r[hp])), y: rows.map((r) => r[metric]),
                    xaxis: `x${axis}`, yaxis: "y", mode: "markers", type: "scatter",
                    text: rows.map((r) => cnn.plotText(r.name || r.run_id)), customdata: rows.map((r) => r.run_id),
                    hoverinfo: "text+x+y",
                    marker: picked ? { size: 11, color: "#dc2626", line: { width: 1, color: "white" } }
                                   : { size: 7, color: "rgba(37,99,235,0.45)" } });
    }
  });
  cnn.plot(holder, traces, layout);
}

function searchName(id) {
  const found = view.searches.find((s) => s.search_id === id);
  return found ? found.name || id.slice(0, 8) : id;
}

// The runs the hyperparameter plot shows: all of them, or the trials of the search chosen in #hp-search.
async function plotSearch() {
  const search = document.getElementById("hp-search").value;
  view.plotted = search ? await cnn.api(`/api/runs?${new URLSearchParams({ search })}`) : view.board;
  drawHyperparameters();
}

async function load() {
  view.board = await cnn.api("/api/runs");
  view.searches = await cnn.searches(document.getElementById("hp-search"), cnn.param("search") || "");
  const metrics = view.board.columns.filter((c) => /^(final_|best_|test_)/.test(c));
  fillSelect(document.getElementById("hp-metric"), metrics, metrics.includes("test_accuracy") ? "test_accuracy" : metrics[0]);
  const names = chosen.map((id) => (view.board.rows.find((r) => r.run_id === id) || {}).name || id.slice(0, 8));
  document.getElementById("chosen").textContent = chosen.length
    ? `Runs: ${names.join(", ")}` : "No runs chosen: tick runs on the Runs page and press Compare selected.";
  if (chosen.length) view.runs = (await cnn.api(`/api/compare?${new URLSearchParams(chosen.map((r) => ["run", r]))}`)).runs;
  drawCurves();
  await plotSearch();
}

document.addEventListener("DOMContentLoaded", () => {
  fillSelect(document.getElementById("curve-metric"), cnn.METRICS, "val_accuracy");
  document.getElementById("curve-metric").addEventListener("change", drawCurves);
  document.getElementById("hp-metric").addEventListener("change", drawHyperparameters);
  document.getElementById("hp-search").addEventListener("change", () => plotSearch()
    .catch((error) => cnn.notice(document.getElementById("hp-plot"), error.message, "error")));
  load().catch((error) => cnn.notice(document.getElementById("chosen"), error.message, "error"));
});

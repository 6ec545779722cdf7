// Shared helpers of the cnnprov web app. Data is only ever shown through textContent (never innerHTML).
"use strict";

const cnn = {};

// An element with attributes and children (strings become text nodes, so nothing is parsed as HTML).
cnn.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

// GET a JSON API path; a failed request throws an Error with the server's one-line message.
cnn.api = async function (path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    const error = new Error(body.error || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
};

// A value as shown in a table cell: numbers to 6 significant digits, null as empty.
cnn.format = function (value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" && !Number.isInteger(value)) return Number(value.toPrecision(6)).toString();
  return String(value);
};

cnn.shortTime = function (iso) {
  if (!iso) return "";
  return String(iso).replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
};

// A table of {columns, rows}; each cell keeps its exact value as JSON in data-json (and full text in title).
cnn.table = function (columns, rows, attrs, { exact = false } = {}) {
  const head = cnn.el("thead", {}, cnn.el("tr", {}, columns.map((c) => cnn.el("th", { text: c, scope: "col" }))));
  const body = cnn.el("tbody", {}, rows.map((row) => cnn.el("tr", {}, columns.map((c) => cnn.cell(row[c], exact)))));
  return cnn.el("table", attrs || {}, head, body);
};

cnn.cell = function (value, exact) {
  const text = exact ? (value === null || value === undefined ? "" : String(value)) : cnn.format(value);
  const numeric = typeof value === "number";
  return cnn.el("td", { text, title: value === null ? null : String(value), class: numeric ? "num" : null,
                        dataset: { json: JSON.stringify(value === undefined ? null : value) } });
};

cnn.notice = function (container, message, kind) {
  container.replaceChildren(cnn.el("p", { class: `notice ${kind || ""}`, text: message }));
};

cnn.param = function (name) {
  return new URLSearchParams(window.location.search).get(name);
};

// Plotly is served by the app itself; without the plotly package the page says so instead of drawing.
cnn.plot = function (element, traces, layout) {
  if (!window.Plotly) {
    cnn.notice(element, "Charts need the plotly Python package (pip install 'cnnprov-rdf[ui]').", "warn");
    return;
  }
  const base = { margin: { l: 55, r: 15, t: 40, b: 45 },
                 legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom" },
                 font: { family: "system-ui, sans-serif", size: 12 }, paper_bgcolor: "white", plot_bgcolor: "#fafbfc" };
  window.Plotly.react(element, traces, Object.assign(base, layout), { displaylogo: false, responsive: true });
};

// Poll `task` every `ms` milliseconds (never two at once); returns a function that stops it.
cnn.every = function (ms, task) {
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try { await task(); } catch (error) { console.warn(error); }
    if (!stopped) setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; };
};

// Fill a <select> with "all runs" and the store's hyperparameter searches (the canned query `searches`), keeping
// `chosen` (a search id) selected; the select and its label (class search-choice) stay hidden while there is none.
cnn.searches = async function (select, chosen) {
  let rows = [];
  try { rows = (await cnn.api("/api/queries/searches")).rows; } catch (error) { console.warn(error); }
  const options = rows.map((s) => cnn.el("option", {
    value: s.search_id, selected: s.search_id === chosen, title: `${s.tuner} search, started ${cnn.shortTime(s.started)}`,
    text: `${s.name || s.search_id.slice(0, 8)} (${s.trials} trials, ${s.search_id.slice(0, 8)})` }));
  if (chosen && !rows.some((s) => s.search_id === chosen)) {  // a link to a search this store does not hold
    options.push(cnn.el("option", { value: chosen, selected: true, text: `${chosen} (not in this store)` }));
  }
  select.replaceChildren(cnn.el("option", { value: "", text: "all runs" }), ...options);
  select.value = chosen || "";
  for (const node of document.querySelectorAll(".search-choice")) node.hidden = !options.length;
  return rows;
};

// Text for Plotly, which reads a few HTML tags in titles and hover text: markup characters as entities.
cnn.plotText = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

cnn.TITLE = (text) => ({ text, x: 0.01, xanchor: "left", font: { size: 14 } });

cnn.METRICS = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "elapsed_seconds"];

// The header: which store or endpoint the app reads.
document.addEventListener("DOMContentLoaded", () => {
  const here = window.location.pathname.startsWith("/run/") ? "/" : window.location.pathname;
  for (const link of document.querySelectorAll("header nav a")) {
    if (link.getAttribute("href") === here) link.classList.add("active");
  }
  const source = document.querySelector("header .source");
  if (source) cnn.api("/api/info").then((info) => { source.textContent = `${info.kind}: ${info.location}`; })
    .catch(() => {});
});

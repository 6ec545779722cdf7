// Queries page: every canned query with a form for its parameters; a box for the user's own read-only SPARQL.
"use strict";

let current = null;

function queryUrl(name, form, format) {
  const params = new URLSearchParams(new FormData(form));
  for (const [key, value] of [...params]) if (value === "") params.delete(key);
  if (format) params.set("format", format);
  return `/api/queries/${encodeURIComponent(name)}?${params}`;
}

function parameterInput(parameter) {
  const id = `param-${parameter.name}`;
  let input;
  if (parameter.choices) {
    input = cnn.el("select", { id, name: parameter.name },
      parameter.choices.map((c) => cnn.el("option", { value: c, text: c, selected: c === parameter.default })));
  } else {
    input = cnn.el("input", { id, name: parameter.name, type: "text", placeholder: parameter.default || "",
                              required: parameter.required });
  }
  return cnn.el("div", { class: "form-row" }, cnn.el("label", { for: id, text: parameter.name }), input,
    cnn.el("span", { class: "muted", text: `${parameter.type}${parameter.default ? `, default ${parameter.default}` : ""}. ${parameter.description || ""}` }));
}

function showResult(holder, data) {
  if (!data.rows.length) { cnn.notice(holder, "No rows."); return; }
  holder.replaceChildren(cnn.table(data.columns, data.rows, { class: "result" }, { exact: true }));
}

async function runCanned() {
  const form = document.getElementById("query-form");
  const holder = document.getElementById("query-result");
  document.getElementById("query-csv").href = queryUrl(current.name, form, "csv");
  document.getElementById("query-json").href = queryUrl(current.name, form, "download");
  try {
    const data = await cnn.api(queryUrl(current.name, form));
    document.getElementById("query-count").textContent = `${data.rows.length} rows`;
    showResult(holder, data);
  } catch (error) {
    document.getElementById("query-count").textContent = "";
    cnn.notice(holder, error.message, "error");
  }
}

function choose(query, button) {
  current = query;
  for (const other of document.querySelectorAll("#query-list button")) other.classList.remove("active");
  button.classList.add("active");
  document.getElementById("query-card").hidden = false;
  document.getElementById("query-title").textContent = `${query.title} (${query.name})`;
  document.getElementById("query-description").textContent = query.description;
  const form = document.getElementById("query-form");
  form.replaceChildren(...query.parameters.map(parameterInput),
    cnn.el("div", { class: "form-row" }, cnn.el("button", { type: "submit", text: "Run" })));
  runCanned();
}

function sparqlUrl(format) {
  const params = new URLSearchParams({ query: document.getElementById("sparql").value });
  if (format) params.set("format", format);
  return `/api/sparql?${params}`;
}

async function runSparql() {
  const holder = document.getElementById("sparql-result");
  cnn.notice(holder, "Running…");
  try {
    const data = await cnn.api(sparqlUrl());
    showResult(holder, data);
    if (data.truncated) holder.prepend(cnn.el("p", { class: "notice warn", text: "Only the first rows are shown." }));
  } catch (error) {
    cnn.notice(holder, error.message, "error");
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("query-form").addEventListener("submit", (event) => { event.preventDefault(); runCanned(); });
  document.getElementById("sparql-form").addEventListener("submit", (event) => { event.preventDefault(); runSparql(); });
  const textarea = document.getElementById("sparql");
  const links = () => {
    document.getElementById("sparql-csv").href = sparqlUrl("csv");
    document.getElementById("sparql-json").href = sparqlUrl("download");
  };
  textarea.addEventListener("input", links);
  links();
  const { queries } = await cnn.api("/api/queries");
  const list = document.getElementById("query-list");
  list.replaceChildren(...queries.map((query) => {
    const button = cnn.el("button", { type: "button", title: query.description, dataset: { query: query.name } },
      cnn.el("strong", { text: query.name }), cnn.el("br"), cnn.el("span", { class: "muted", text: query.title }));
    button.addEventListener("click", () => choose(query, button));
    return button;
  }));
  const wanted = cnn.param("q");
  const first = queries.find((q) => q.name === wanted);
  if (first) choose(first, list.querySelector(`[data-query="${CSS.escape(first.name)}"]`));
});

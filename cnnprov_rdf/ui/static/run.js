// Run page: live per-epoch curves (learning-rate adaptations marked), details, and the PROV graph.
"use strict";

const runId = decodeURIComponent(window.location.pathname.split("/").pop());
const seen = { epochs: -1, status: null, graph: false };

function column(rows, name) {
  return rows.map((row) => row[name]);
}

// Dotted vertical lines at the epochs where the learning rate was changed.
function adaptationShapes(adaptations) {
  return adaptations.rows.map((row) => ({
    type: "line", xref: "x", yref: "paper", x0: row.epoch, x1: row.epoch, y0: 0, y1: 1,
    line: { color: "#9333ea", width: 1, dash: "dot" },
  }));
}

function drawCurves(data) {
  const rows = data.epochs.rows;
  const epochs = column(rows, "epoch");
  const shapes = adaptationShapes(data.adaptations);
  const axis = { title: { text: "epoch" }, dtick: epochs.length <= 12 ? 1 : undefined };
  const trace = (name, key, dash) => ({ name, x: epochs, y: column(rows, key), mode: "lines+markers",
                                       line: { dash: dash || "solid" } });
  cnn.plot(document.getElementById("loss-plot"),
    [trace("training loss", "loss"), trace("validation loss", "val_loss", "dash")].filter((t) => t.y.some((v) => v !== null)),
    { title: cnn.TITLE("Loss"), xaxis: axis, shapes });
  cnn.plot(document.getElementById("accuracy-plot"),
    [trace("training accuracy", "accuracy"), trace("validation accuracy", "val_accuracy", "dash")].filter((t) => t.y.some((v) => v !== null)),
    { title: cnn.TITLE("Accuracy"), xaxis: axis, shapes });
  const changes = data.adaptations.rows;
  cnn.plot(document.getElementById("lr-plot"), [
    { name: "learning rate", x: epochs, y: column(rows, "learning_rate"), mode: "lines+markers", line: { shape: "hv" } },
    { name: "adaptation", x: column(changes, "epoch"), y: column(changes, "new_rate"), mode: "markers",
      marker: { symbol: "diamond", size: 10, color: "#9333ea" },
      text: changes.map((r) => `${cnn.format(r.old_rate)} → ${cnn.format(r.new_rate)}`), hoverinfo: "x+text" },
  ], { title: cnn.TITLE("Learning rate"), xaxis: axis, yaxis: { type: "log" }, shapes });
}

function keyValues(result) {
  return cnn.el("table", { class: "kv" }, cnn.el("tbody", {}, result.rows.map((row) =>
    cnn.el("tr", {}, cnn.el("td", { text: row.name }), cnn.cell(row.value, true)))));
}

function show(id, result, empty) {
  const node = document.getElementById(id);
  if (!result.rows.length) cnn.notice(node, empty);
  else node.replaceChildren(cnn.table(result.columns, result.rows, {}, { exact: true }));
}

async function details() {
  const data = await cnn.api(`/api/runs/${encodeURIComponent(runId)}`);
  const run = data.run;
  document.title = `cnnprov · ${run.name || run.run_id}`;
  document.getElementById("title").replaceChildren(run.name || run.run_id, " ",
    cnn.el("span", { class: `status ${run.status}`, text: run.status === "unfinished" ? "running" : run.status }));
  document.getElementById("subtitle").textContent =
    `${run.run_id} · started ${cnn.shortTime(run.started)}${run.ended ? ` · ended ${cnn.shortTime(run.ended)}` : ""} · ${run.epochs} epochs`;
  const hp = document.getElementById("hyperparameters");
  if (data.hyperparameters.rows.length) hp.replaceChildren(keyValues(data.hyperparameters));
  else cnn.notice(hp, "No hyperparameters recorded.");
  show("tests", data.tests, "Not tested.");
  show("model-files", data.model_files, "No model file recorded.");
  show("architecture", data.architecture, "No architecture recorded.");
  const problems = document.getElementById("problems");
  problems.replaceChildren(...data.errors.rows.map((row) =>
    cnn.el("p", { class: "notice error", text: `${row.error_type}: ${row.error_message}` })));
  return run;
}

function drawGraph() {
  const holder = document.getElementById("graph");
  const source = `/api/runs/${encodeURIComponent(runId)}/graph.svg?epochs=${seen.epochs}`;
  const image = cnn.el("img", { class: "prov", alt: "PROV graph of the run", src: source });
  image.addEventListener("error", async () => {  // 503 with a JSON note: no Graphviz, or an endpoint
    const note = await fetch(source).then((r) => r.json()).catch(() => ({ error: "the graph could not be drawn" }));
    cnn.notice(holder, note.error || "the graph could not be drawn", "warn");
  });
  holder.replaceChildren(image);
}

async function tick() {
  let data;
  try {
    data = await cnn.api(`/api/runs/${encodeURIComponent(runId)}/epochs`);
  } catch (error) {
    cnn.notice(document.getElementById("problems"), error.message, "error");
    return;
  }
  const count = data.epochs.rows.length;
  if (count !== seen.epochs || data.status !== seen.status) {
    drawCurves(data);
    await details().catch((error) => cnn.notice(document.getElementById("problems"), error.message, "error"));
    seen.epochs = count;
    seen.status = data.status;
    drawGraph();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const stop = cnn.every(1000, async () => {
    await tick();
    if (seen.status && seen.status !== "unfinished") stop();  // an ended run does not change any more
  });
});

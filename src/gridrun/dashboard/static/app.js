// gridrun dashboard: read-only views over the store. Every text reaches the page through
// textContent (never innerHTML), so names, values and log lines always show as text.
"use strict";

const STATES = [
  "queued", "running", "succeeded", "failed", "stopped", "lost", "preempted", "pruned",
];
const MAX_ROWS = 1000;
let plotlyReady = null;

// Plotly.js (4.8 MB) draws only the metric curves, and loads only when curves are asked for:
// the run page (its table and parallel coordinates, parcoords.js) never waits for it.
function loadPlotly() {
  if (!plotlyReady) {
    plotlyReady = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/plotly.min.js";
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error("cannot load /plotly.min.js"));
      document.head.append(script);
    });
  }
  return plotlyReady;
}
let timer = null;
let view = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
    return Number(value.toPrecision(4)).toString();
  }
  return String(value);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return seconds.toFixed(1) + "s";
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function stamp() {
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

function schedule(fn, ms) {
  clearTimeout(timer);
  timer = setTimeout(fn, ms);
}

// ---------------------------------------------------------------- runs list
async function showRuns() {
  view = { kind: "runs" };
  const main = document.getElementById("main");
  const data = await getJSON("/api/runs");
  if (view.kind !== "runs") return;
  const rows = data.runs.map((run) => {
    const counts = STATES.filter((s) => run.counts[s]).map((s) => `${s} ${run.counts[s]}`);
    const best = run.best ? `${run.metric} ${fmt(run.best.value)} (${run.best.experiment})` : "";
    return el("tr", { class: "run-row", "data-name": run.name },
      el("td", {}, el("a", { class: "run-link", href: "#/run/" + encodeURIComponent(run.name), text: run.name })),
      el("td", { class: "state state-" + run.state, text: run.state }),
      el("td", { text: `${run.num_experiments}: ${counts.join(", ")}` }),
      el("td", { text: run.started_at || run.created_at || "" }),
      el("td", { class: "num", text: duration(run.duration_s) }),
      el("td", { text: best }),
    );
  });
  const table = el("table", { id: "runs-table" },
    el("thead", {}, el("tr", {}, ...["run", "state", "experiments", "started", "duration", "best"].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows));
  main.replaceChildren(el("h1", { text: "Runs" }),
    rows.length ? table : el("p", { class: "note", text: "No runs yet: grid run SCRIPT ... starts one." }));
  stamp();
  const running = data.runs.some((r) => r.state === "running");
  schedule(route, running ? 2000 : 5000);
}

// ---------------------------------------------------------------- one run
// The run's experiments come as arrays (`columns` names their fields); each becomes
// { name, state, exit_code, signal, duration_s, params: [...], metrics: [...] }, its params in
// the order of `run.params` and its metrics' last values in the order of `run.metrics`.
function readRows(run) {
  const at = Object.fromEntries(run.columns.map((column, i) => [column, i]));
  run.rows = run.experiments.map((r) => ({
    name: r[at.name], state: r[at.state], exit_code: r[at.exit_code], signal: r[at.signal],
    duration_s: r[at.duration_s], params: r[at.params], metrics: r[at.metrics],
  }));
  run.paramIndex = new Map(run.params.map((p, i) => [p, i]));
  run.metricIndex = new Map(run.metrics.map((m, i) => [m, i]));
}

function cellValue(e, key) {
  if (key === "name") return e.name;
  if (key === "state") return e.state;
  if (key === "duration") return e.duration_s;
  if (key === "exit") return e.exit_code;
  const run = view.run;
  if (key.startsWith("p:")) { const i = run.paramIndex.get(key.slice(2)); return i === undefined ? null : e.params[i]; }
  if (key.startsWith("m:")) { const i = run.metricIndex.get(key.slice(2)); return i === undefined ? null : e.metrics[i]; }
  return null;
}

function modeOf(metric) {
  const options = view.run.options || {};
  return (options.metric === metric && options.mode) || "min";
}

function compare(a, b) {
  const na = a === null || a === undefined || a === "", nb = b === null || b === undefined || b === "";
  if (na || nb) return na && nb ? 0 : na ? 1 : -1;
  const x = Number(a), y = Number(b);
  if (!isNaN(x) && !isNaN(y)) return x - y;
  return String(a).localeCompare(String(b));
}

async function showRun(name) {
  if (!view || view.kind !== "run" || view.name !== name) {
    view = { kind: "run", name, sort: null, desc: false, stateFilter: "", textFilter: "",
             picked: new Set(), metric: null, log: null, brushes: new Map() };
    buildRunPage(name);
  }
  const run = await getJSON("/api/runs/" + encodeURIComponent(name));
  if (view.kind !== "run" || view.name !== name) return;
  readRows(run);
  view.run = run;
  if (!view.metric) view.metric = (run.options && run.options.metric) || run.metrics[0] || null;
  renderRun();
  stamp();
  schedule(route, run.state === "running" ? 1500 : 30000);
}

function buildRunPage(name) {
  const main = document.getElementById("main");
  const stateFilter = el("select", { id: "state-filter", onchange: (e) => { view.stateFilter = e.target.value; renderTable(); } },
    el("option", { value: "", text: "all states" }), ...STATES.map((s) => el("option", { value: s, text: s })));
  const textFilter = el("input", { id: "text-filter", placeholder: "filter: name or value", oninput: (e) => { view.textFilter = e.target.value; renderTable(); } });
  const metricSelect = el("select", { id: "metric-select", onchange: (e) => { view.metric = e.target.value; renderRun(); } });
  const clear = el("button", { id: "pc-clear", type: "button", text: "clear the selection", onclick: () => {
    view.brushes.clear(); renderParcoords(); renderTable(); } });
  main.replaceChildren(
    el("h1", { id: "run-title", text: name }),
    el("div", { class: "meta", id: "run-meta" }),
    el("div", { class: "controls" }, el("span", { text: "state" }), stateFilter, textFilter,
       el("span", { text: "metric" }), metricSelect, el("span", { class: "note", id: "row-count" })),
    el("div", { class: "table-wrap" }, el("table", { id: "experiments-table" }, el("thead"), el("tbody"))),
    el("div", { class: "panels" },
      el("div", { class: "panel" }, el("h2", { text: "params against the metric" }), el("div", { id: "parcoords" }),
        el("div", { class: "pc-legend" }, el("span", { id: "pc-legend" }), clear)),
      el("div", { class: "panel" }, el("h2", { text: "metric over steps (tick experiments to compare)" }), el("div", { id: "curves" }))),
    el("div", { class: "panel" }, el("h2", { id: "log-title", text: "log: click an experiment" }),
      el("div", { class: "note", id: "log-state" }), el("pre", { id: "log" })),
  );
  resized.observe(document.getElementById("parcoords"));
}

function renderRun() {
  const run = view.run;
  const metrics = run.metrics;
  const counts = STATES.filter((s) => run.counts[s]).map((s) => `${s} ${run.counts[s]}`).join(", ");
  document.getElementById("run-meta").textContent =
    `${run.state} · ${run.num_experiments} experiments (${counts}) · strategy ${run.strategy} · seed ${run.seed} · ${duration(run.duration_s)} · ${run.command.join(" ")}`;
  const select = document.getElementById("metric-select");
  const options = metrics.map((m) => el("option", { value: m, text: m }));
  select.replaceChildren(...options);
  if (view.metric) select.value = view.metric;
  // brushes of axes no longer drawn (another metric) select nothing any more
  const axes = new Set([...run.params.map((p) => "p:" + p), "m:" + view.metric]);
  for (const key of [...view.brushes.keys()]) if (!axes.has(key)) view.brushes.delete(key);
  // the plot first: it reads its panel's width, which would make the browser lay out a new
  // table of 1,000 rows then and there, and again once the plot is in
  renderParcoords();
  renderTable();
  renderCurves();
  if (view.log && view.log.state !== "done") followLog();
}

function filtered() {
  const run = view.run;
  const text = view.textFilter.trim().toLowerCase();
  let rows = run.rows.filter((e) => !view.stateFilter || e.state === view.stateFilter);
  if (text) rows = rows.filter((e) => e.name.toLowerCase().includes(text) ||
    e.params.some((v) => v !== null && String(v).toLowerCase().includes(text)));
  // the ranges selected on the parallel coordinates' axes
  for (const [key, brush] of view.brushes) rows = rows.filter((e) => pcInBrush(brush, cellValue(e, key)));
  if (view.sort) {
    rows = rows.slice().sort((a, b) => compare(cellValue(a, view.sort), cellValue(b, view.sort)));
    if (view.desc) rows.reverse();
  }
  return rows;
}

function bestName() {
  const run = view.run;
  const at = run.metricIndex.get(view.metric);
  if (at === undefined) return null;
  const mode = modeOf(view.metric);
  let best = null;
  for (const e of run.rows) {
    const value = e.metrics[at];
    if (e.state !== "succeeded" || value === null) continue;
    if (!best || (mode === "min" ? value < best[1] : value > best[1])) best = [e.name, value];
  }
  return best && best[0];
}

function renderTable() {
  const run = view.run;
  const { params, metrics } = run;
  const keys = [["name", "experiment"], ["state", "state"], ...params.map((p) => ["p:" + p, p]),
    ...metrics.map((m) => ["m:" + m, m]), ["duration", "duration"], ["exit", "exit"]];
  const head = el("tr", {}, el("th", { text: "" }), ...keys.map(([key, label]) => {
    const th = el("th", { "data-key": key, text: label, onclick: () => {
      view.desc = view.sort === key ? !view.desc : false; view.sort = key; renderTable(); } });
    if (view.sort === key) th.className = view.desc ? "sorted-desc" : "sorted-asc";
    return th;
  }));
  const best = bestName();
  const rows = filtered();
  const body = rows.slice(0, MAX_ROWS).map((e) => {
    const pick = el("input", { type: "checkbox", class: "pick", onchange: (ev) => {
      if (ev.target.checked) view.picked.add(e.name); else view.picked.delete(e.name); renderCurves(); } });
    pick.checked = view.picked.has(e.name);
    const cells = keys.map(([key]) => {
      if (key === "name") return el("td", { "data-key": key }, el("a", { class: "exp-link", text: e.name, onclick: () => openLog(e.name) }));
      if (key === "state") return el("td", { "data-key": key, class: "state state-" + e.state, text: e.state });
      if (key === "duration") return el("td", { "data-key": key, class: "num", text: duration(e.duration_s) });
      if (key === "exit") return el("td", { "data-key": key, text: e.signal ? `signal ${e.signal}` : fmt(e.exit_code) });
      const value = cellValue(e, key);
      return el("td", { "data-key": key, class: key.startsWith("m:") ? "num" : "", text: fmt(value) });
    });
    const classes = ["experiment-row"];
    if (e.name === best) classes.push("best");
    if (view.log && view.log.name === e.name) classes.push("selected");
    return el("tr", { class: classes.join(" "), "data-name": e.name }, el("td", {}, pick), ...cells);
  });
  const table = document.getElementById("experiments-table");
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...body);
  const brushed = view.brushes.size ? " (in the ranges selected on the plot)" : "";
  document.getElementById("row-count").textContent = (rows.length > MAX_ROWS
    ? `showing ${MAX_ROWS} of ${rows.length} (filter to narrow)` : `${rows.length} shown`) + brushed;
}

// Parallel coordinates (parcoords.js): one axis per param and one for the metric, a line per
// experiment with a value of the metric, coloured by it, the best in red. Dragging along an
// axis selects a range of it, which filters the table too.
function renderParcoords() {
  const run = view.run;
  const target = document.getElementById("parcoords");
  const legend = document.getElementById("pc-legend");
  document.getElementById("pc-clear").hidden = view.brushes.size === 0;
  const at = run.metricIndex.get(view.metric);
  const rows = at === undefined ? [] : run.rows.filter((e) => e.metrics[at] !== null);
  if (!rows.length || !run.params.length) {
    target.replaceChildren(el("p", { class: "note", text: "no values of the metric yet" }));
    legend.textContent = "";
    for (const key of ["lines", "selected", "best"]) delete target.dataset[key];
    target.parcoords = null;
    pcMarkDrawn(target);
    return;
  }
  const mode = modeOf(view.metric);
  const best = bestName();
  const axes = run.params.map((p, i) => ({ key: "p:" + p, label: p, values: rows.map((e) => e.params[i]) }));
  axes.push({ key: "m:" + view.metric, label: view.metric, values: rows.map((e) => e.metrics[at]) });
  const drawn = drawParcoords(target, {
    axes, names: rows.map((e) => e.name), best: rows.findIndex((e) => e.name === best), mode,
    brushes: view.brushes,
    onBrush: (key, brush) => {
      if (brush) view.brushes.set(key, brush); else view.brushes.delete(key);
      renderParcoords();
      renderTable();
    },
    onPick: (name) => openLog(name),
  });
  const parts = [`${rows.length} experiments, coloured by ${view.metric} (${mode === "min" ? "lower" : "higher"} is better)`];
  if (drawn.selected < rows.length) parts.push(`${drawn.selected} in the selected ranges`);
  parts.push(best ? "the best in red: " + best : "no best yet");
  parts.push("drag along an axis to select a range");
  legend.textContent = parts.join(" · ");
}

// Redraw the parallel coordinates when their panel changes width.
const resized = new ResizeObserver(() => {
  const target = document.getElementById("parcoords");
  if (!target || !view || view.kind !== "run" || !view.run || !target.dataset.width) return;
  if (Math.max(320, Math.floor(target.clientWidth)) !== Number(target.dataset.width)) renderParcoords();
});

async function renderCurves() {
  const target = document.getElementById("curves");
  const names = [...view.picked];
  if (!names.length || !view.metric) {
    const best = view.run && bestName();
    note(target, "tick experiments to see their curves");
    if (best) {
      target.append(" ", el("button", { type: "button", id: "show-best", text: "show the best: " + best,
        onclick: () => { view.picked.add(best); renderTable(); renderCurves(); } }));
    }
    return;
  }
  const url = `/api/runs/${encodeURIComponent(view.name)}/curves?metric=${encodeURIComponent(view.metric)}&experiments=${names.map(encodeURIComponent).join(",")}`;
  const data = await getJSON(url);
  await loadPlotly();
  if (view.kind !== "run") return;
  clearNote(target);
  const traces = Object.entries(data.curves).map(([name, points]) => ({
    type: "scatter", mode: "lines+markers", name,
    x: points.map((p, i) => (p[0] === null ? i : p[0])), y: points.map((p) => p[1]),
  }));
  Plotly.react(target, traces, { margin: { l: 50, r: 20, t: 20, b: 40 }, height: 300,
    xaxis: { title: "step" }, yaxis: { title: view.metric } }, { displaylogo: false, responsive: true });
}

// A plot's place shows either a Plotly plot or a note, never a half-removed plot.
function note(target, text) {
  if (window.Plotly) Plotly.purge(target);
  target.textContent = text;
}

function clearNote(target) {
  if (!target.classList.contains("js-plotly-plot")) target.textContent = "";
}

// ---------------------------------------------------------------- logs
function openLog(name) {
  view.log = { name, offset: -65536, state: "open" };
  document.getElementById("log-title").textContent = "log: " + name;
  document.getElementById("log").textContent = "";
  renderTable();
  followLog();
}

async function followLog() {
  const log = view.log;
  if (!log || log.busy) return;
  log.busy = true;
  try {
    while (view.log === log) {
      const data = await getJSON(`/api/experiments/${encodeURIComponent(log.name)}/log?offset=${log.offset}`);
      if (view.log !== log) return;
      const pre = document.getElementById("log");
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      if (log.offset < 0 && data.start > 0) pre.textContent = `… ${data.start} earlier bytes not shown …\n`;
      if (data.text) pre.append(document.createTextNode(data.text));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
      log.offset = data.offset;
      document.getElementById("log-state").textContent = `${data.state} · ${data.size} bytes`;
      if (data.offset < data.size) continue;  // more to read now
      if (data.state !== "running" && data.state !== "queued") { log.state = "done"; return; }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    log.busy = false;
  }
}

// ---------------------------------------------------------------- routing
function route() {
  const hash = location.hash || "#/";
  const match = hash.match(/^#\/run\/(.+)$/);
  let name = null;
  try { name = match ? decodeURIComponent(match[1]) : null; } catch (error) { name = null; }
  const go = name !== null ? showRun(name) : showRuns();
  go.catch((error) => {
    document.getElementById("main").replaceChildren(el("p", { class: "note", text: String(error) }));
    schedule(route, 5000);
  });
}

window.addEventListener("hashchange", () => { view = null; route(); });
route();

// gridrun dashboard: parallel coordinates, drawn by this file alone (no Plotly, no WebGL).
// The lines go to a 2D canvas (sized by devicePixelRatio, so they stay crisp), the axes, ticks,
// labels and brushes to an SVG above it, every text through textContent. Dragging along an
// axis selects a range of it (a brush); a click on an axis clears its brush. Hovering a line
// names its experiment; clicking it calls back.
"use strict";

const PC_HEIGHT = 300;
const PC_TOP = 34;         // room for the axis titles
const PC_BOTTOM = 16;      // room for the "log" marks
const PC_FONT = "10px system-ui, sans-serif";
const PC_TITLE_FONT = "600 11px system-ui, sans-serif";
const PC_BEST = "#d62728"; // the best experiment's line: no colour of the scale below
const PC_OUT = "#d3d7de";  // lines outside the brushes
const PC_SVG = "http://www.w3.org/2000/svg";
const PC_VIRIDIS = ["#440154", "#482878", "#3e4a89", "#31688e", "#26828e", "#1f9e89",
  "#35b779", "#6ece58", "#b5de2b", "#fde725"];
const PC_BUCKETS = 48;     // colours of the scale: one canvas path each
const PC_NAMED = 10;       // a numeric axis with no more distinct values names each of them
const PC_TICK_GAP = 11;    // pixels at least between two tick labels
let pcDrawCount = 0;
let pcMeasure = null;

function pcColor(t) {  // t in [0, 1] on the viridis scale, as "rgb(...)"
  const x = Math.min(1, Math.max(0, t)) * (PC_VIRIDIS.length - 1);
  const i = Math.min(PC_VIRIDIS.length - 2, Math.floor(x)), f = x - i;
  const a = PC_VIRIDIS[i], b = PC_VIRIDIS[i + 1];
  const mix = (k) => Math.round(parseInt(a.slice(k, k + 2), 16) * (1 - f) + parseInt(b.slice(k, k + 2), 16) * f);
  return `rgb(${mix(1)}, ${mix(3)}, ${mix(5)})`;
}
const PC_COLORS = Array.from({ length: PC_BUCKETS }, (_, i) => pcColor(i / (PC_BUCKETS - 1)));

function pcTextWidth(text, font) {
  if (!pcMeasure) pcMeasure = document.createElement("canvas").getContext("2d");
  pcMeasure.font = font || PC_FONT;
  return pcMeasure.measureText(text).width;
}

// `text` cut with an ellipsis to fit in `width` pixels.
function pcFit(text, width, font) {
  if (pcTextWidth(text, font) <= width) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (pcTextWidth(text.slice(0, mid) + "…", font) <= width) lo = mid; else hi = mid - 1;
  }
  return text.slice(0, lo) + "…";
}

function pcFormat(value) {
  if (value === null || value === undefined) return "(none)";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  return String(Number(value.toPrecision(4)));
}

function pcCategoryKey(value) {
  return value === null || value === undefined ? "\u0000" : String(value);
}

// An axis' scale from its values: numbers (linear, or log when all are positive and span two
// decades or more) or categories (every distinct value, evenly spaced, in order of appearance).
// `t(i)` is where the i-th line crosses it, 0 (bottom) to 1 (top).
function pcScale(values) {
  const n = values.length;
  const nums = new Float64Array(n);
  let numeric = n > 0, lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n && numeric; i++) {
    const v = values[i];
    const x = v === null || v === undefined || v === "" || typeof v === "boolean" ? NaN : Number(v);
    if (!Number.isFinite(x)) numeric = false;
    nums[i] = x;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const ts = new Float64Array(n);
  if (numeric) {
    const log = lo > 0 && hi / lo >= 100;
    const f = log ? Math.log10 : (x) => x;
    const a = f(lo), span = f(hi) - a;
    for (let i = 0; i < n; i++) ts[i] = span > 0 ? (f(nums[i]) - a) / span : 0.5;
    const t = (x) => (span > 0 ? (f(x) - a) / span : 0.5);
    const invert = (u) => (log ? 10 ** (a + u * span) : a + u * span);
    // a few values (a swept list): each named; many: round numbers, and both ends
    const distinct = [...new Set(nums)].sort((x, y) => x - y);
    let values = distinct;
    if (distinct.length > PC_NAMED) {
      values = log ? pcLogTicks(lo, hi) : pcLinearTicks(lo, hi, 5);
      values = [lo, ...values.filter((v) => v > lo && v < hi), hi];
    }
    const ticks = pcThin(values.map((v) => ({ t: t(v), text: pcFormat(v) })));
    return { kind: log ? "log" : "linear", ts, lo, hi, t, invert, ticks };
  }
  const index = new Map();
  const labels = [];
  for (let i = 0; i < n; i++) {
    const key = pcCategoryKey(values[i]);
    if (!index.has(key)) { index.set(key, labels.length); labels.push(pcFormat(values[i])); }
  }
  const count = labels.length;
  const at = (k) => (count === 1 ? 0.5 : k / (count - 1));
  for (let i = 0; i < n; i++) ts[i] = at(index.get(pcCategoryKey(values[i])));
  const room = Math.max(1, Math.floor((PC_HEIGHT - PC_TOP - PC_BOTTOM) / 13));
  const every = Math.ceil(count / room);  // too many to name them all: every so many
  const ticks = [];
  for (let k = 0; k < count; k += every) ticks.push({ t: at(k), text: labels[k] });
  return { kind: "category", ts, index, t: (v) => at(index.get(pcCategoryKey(v))), ticks,
           keys: [...index.keys()], at };
}

// Ticks (in order, bottom up) no closer than PC_TICK_GAP pixels: the first and the last kept.
function pcThin(ticks) {
  const gap = PC_TICK_GAP / (PC_HEIGHT - PC_TOP - PC_BOTTOM);
  if (ticks.length < 3) return ticks.length === 2 && ticks[1].t - ticks[0].t < gap ? [ticks[1]] : ticks;
  const last = ticks[ticks.length - 1];
  const kept = [ticks[0]];
  for (const tick of ticks.slice(1, -1)) {
    if (tick.t - kept[kept.length - 1].t >= gap && last.t - tick.t >= gap) kept.push(tick);
  }
  if (last.t - kept[kept.length - 1].t >= gap) kept.push(last);
  return kept;
}

function pcLinearTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const error = raw / power;
  const step = power * (error >= 7.07 ? 10 : error >= 3.16 ? 5 : error >= 1.41 ? 2 : 1);
  const ticks = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    ticks.push(Number((k * step).toPrecision(12)));
  }
  return ticks;
}

function pcLogTicks(lo, hi) {
  const first = Math.ceil(Math.log10(lo) - 1e-9), last = Math.floor(Math.log10(hi) + 1e-9);
  const every = Math.max(1, Math.ceil((last - first + 1) / 8));
  const ticks = [];
  for (let p = first; p <= last; p += every) ticks.push(Number((10 ** p).toPrecision(12)));
  if (ticks.length < 3) {  // less than two decades named: 2s and 5s too
    for (let p = first - 1; p <= last; p++) {
      for (const m of [2, 5]) {
        const v = Number((m * 10 ** p).toPrecision(12));
        if (v >= lo && v <= hi) ticks.push(v);
      }
    }
    ticks.sort((a, b) => a - b);
  }
  return ticks;
}

// Does `value` lie in `brush` (as pcBrush makes them)?
function pcInBrush(brush, value) {
  if (brush.categories) return brush.categories.includes(pcCategoryKey(value));
  if (value === null || value === undefined || value === "") return false;
  const x = Number(value);
  return x >= brush.lo && x <= brush.hi;
}

// The brush of `scale` between t0 and t1 (0..1): a range of values, or the categories in it.
function pcBrush(scale, t0, t1) {
  const a = Math.max(0, Math.min(t0, t1)), b = Math.min(1, Math.max(t0, t1));
  if (scale.kind === "category") {
    const categories = scale.keys.filter((_, k) => scale.at(k) >= a - 1e-9 && scale.at(k) <= b + 1e-9);
    return { categories };
  }
  const lo = scale.invert(a), hi = scale.invert(b);
  // a hair wider, so that a value drawn on the brush's edge is in it
  const pad = (Math.abs(hi) + Math.abs(lo)) * 1e-9;
  return { lo: lo - pad, hi: hi + pad };
}

// Where `brush` lies on `scale` now, as [t0, t1], or null: the values it holds may have moved
// since it was made (a running sweep's new values widen the axis).
function pcBrushSpan(scale, brush) {
  if (brush.categories) {
    const ts = brush.categories.filter((key) => scale.index.has(key)).map((key) => scale.at(scale.index.get(key)));
    if (!ts.length) return null;
    const pad = 6 / (PC_HEIGHT - PC_TOP - PC_BOTTOM);
    return [Math.max(0, Math.min(...ts) - pad), Math.min(1, Math.max(...ts) + pad)];
  }
  if (scale.kind === "category") return null;
  const at = (v) => {
    const u = scale.t(v);
    return Number.isFinite(u) ? Math.min(1, Math.max(0, u)) : v <= 0 ? 0 : 1;
  };
  return [at(brush.lo), at(brush.hi)];
}

function pcSvg(tag, attrs, text) {
  const node = document.createElementNS(PC_SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Draw into `target`. spec: { axes: [{ key, label, values }] (the last one is the metric,
// which colours the lines), names: [experiment per line], best: line index or -1,
// mode: "min" | "max", brushes: Map(key -> brush), onBrush(key, brush or null),
// onPick(name) }. Sets data-lines, data-selected, data-best, and data-drawn (a counter) once
// the frame holding the drawing has been painted.
function drawParcoords(target, spec) {
  const width = Math.max(320, Math.floor(target.clientWidth || 640));
  const n = spec.names.length;
  const axes = spec.axes.map((axis) => ({ ...axis, scale: pcScale(axis.values) }));
  const A = axes.length, metric = axes[A - 1];
  const brushes = spec.brushes || new Map();

  // where the axes go: room on the left for the first axis' tick labels, on the right for
  // the colour scale and the metric's tick labels (the metric's axis is the colour scale)
  const tickWidth = (axis) => Math.max(0, ...axis.scale.ticks.map((tick) => pcTextWidth(tick.text)));
  const left = Math.min(170, Math.max(28, tickWidth(axes[0]) + 12));
  const right = Math.min(120, Math.max(30, tickWidth(metric) + 24));
  const spacing = A > 1 ? (width - left - right) / (A - 1) : 0;
  const xs = axes.map((_, k) => (A > 1 ? left + k * spacing : width / 2));
  const plotH = PC_HEIGHT - PC_TOP - PC_BOTTOM;
  const yOf = (t) => PC_TOP + (1 - t) * plotH;
  const labelRoom = Math.max(40, spacing ? spacing - 8 : width);

  // each line's place on each axis, and whether it is in every brush
  const ys = new Float32Array(n * A);
  const inside = new Uint8Array(n).fill(1);
  axes.forEach((axis, k) => {
    const ts = axis.scale.ts, brush = brushes.get(axis.key);
    for (let i = 0; i < n; i++) {
      ys[i * A + k] = yOf(ts[i]);
      if (brush && inside[i] && !pcInBrush(brush, axis.values[i])) inside[i] = 0;
    }
  });
  let selected = 0;
  for (let i = 0; i < n; i++) selected += inside[i];

  // the stage: canvas of lines, canvas of the hovered line, SVG of axes, tooltip
  const dpr = window.devicePixelRatio || 1;
  const canvas = (cls) => {
    const c = document.createElement("canvas");
    c.className = cls;
    c.width = Math.round(width * dpr);
    c.height = Math.round(PC_HEIGHT * dpr);
    c.style.width = width + "px";
    c.style.height = PC_HEIGHT + "px";
    return c;
  };
  const lines = canvas("pc-lines"), hover = canvas("pc-hover");
  const svg = pcSvg("svg", { class: "pc-axes", width, height: PC_HEIGHT, viewBox: `0 0 ${width} ${PC_HEIGHT}` });
  const tip = document.createElement("div");
  tip.className = "pc-tip";
  tip.hidden = true;
  const stage = document.createElement("div");
  stage.className = "pc-stage";
  stage.style.height = PC_HEIGHT + "px";
  stage.append(lines, hover, svg, tip);

  // the lines: those outside the brushes in grey, then the others by colour, worst first so
  // that the better ones lie on top, then the best in its own colour
  const ctx = lines.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.lineJoin = "round";
  ctx.lineWidth = n > 200 ? 1 : 1.5;
  const trace = (i) => {
    ctx.moveTo(xs[0], ys[i * A]);
    for (let k = 1; k < A; k++) ctx.lineTo(xs[k], ys[i * A + k]);
  };
  ctx.globalAlpha = n > 3000 ? 0.3 : n > 500 ? 0.45 : 0.85;
  if (selected < n) {
    ctx.beginPath();
    for (let i = 0; i < n; i++) if (!inside[i]) trace(i);
    ctx.strokeStyle = PC_OUT;
    ctx.stroke();
  }
  const buckets = Array.from({ length: PC_BUCKETS }, () => []);
  const colourT = metric.scale.ts;
  for (let i = 0; i < n; i++) {
    if (inside[i] && i !== spec.best) buckets[Math.round(colourT[i] * (PC_BUCKETS - 1))].push(i);
  }
  const order = [...buckets.keys()];
  if (spec.mode !== "max") order.reverse();  // min: the highest values are the worst
  for (const b of order) {
    if (!buckets[b].length) continue;
    ctx.beginPath();
    for (const i of buckets[b]) trace(i);
    ctx.strokeStyle = PC_COLORS[b];
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  const emphasise = (context, i, colour) => {
    context.beginPath();
    context.moveTo(xs[0], ys[i * A]);
    for (let k = 1; k < A; k++) context.lineTo(xs[k], ys[i * A + k]);
    context.lineJoin = "round";
    context.strokeStyle = "#fff";
    context.lineWidth = 5;
    context.stroke();
    context.strokeStyle = colour;
    context.lineWidth = 2.5;
    context.stroke();
    context.fillStyle = colour;
    for (let k = 0; k < A; k++) {
      context.beginPath();
      context.arc(xs[k], ys[i * A + k], 3.5, 0, 2 * Math.PI);
      context.fill();
    }
  };
  if (spec.best >= 0 && inside[spec.best]) emphasise(ctx, spec.best, PC_BEST);

  // the colour scale, as wide as a strip beside the metric's axis and on its scale
  const gradient = pcSvg("linearGradient", { id: "pc-gradient", x1: 0, y1: 1, x2: 0, y2: 0 });
  PC_VIRIDIS.forEach((colour, k) => gradient.append(pcSvg("stop", { offset: k / (PC_VIRIDIS.length - 1), "stop-color": colour })));
  const defs = pcSvg("defs");
  defs.append(gradient);
  svg.append(defs);

  // the axes: line, ticks, tick labels (left of the axis; right of the metric's colour strip),
  // title above (cut to the room between axes, whole in its tooltip), "log" below a log axis
  axes.forEach((axis, k) => {
    const x = xs[k], last = k === A - 1;
    const g = pcSvg("g", { class: "pc-axis" + (last ? " pc-metric" : ""), "data-key": axis.key, "data-scale": axis.scale.kind });
    if (last) g.append(pcSvg("rect", { class: "pc-colorbar", x: x + 3, y: PC_TOP, width: 7, height: plotH, fill: "url(#pc-gradient)" }));
    g.append(pcSvg("line", { class: "pc-domain", x1: x, x2: x, y1: PC_TOP, y2: PC_TOP + plotH }));
    const tickRoom = last ? right - 18 : Math.max(30, (k === 0 ? left - 8 : spacing - 14));
    for (const tick of axis.scale.ticks) {
      const y = yOf(tick.t);
      g.append(pcSvg("line", { class: "pc-tick", x1: last ? x : x - 4, x2: last ? x + 14 : x, y1: y, y2: y }));
      const text = pcSvg("text", { class: "pc-tick-label", x: last ? x + 16 : x - 6, y: y + 3.5,
        "text-anchor": last ? "start" : "end" }, pcFit(tick.text, tickRoom));
      if (text.textContent !== tick.text) text.append(pcSvg("title", {}, tick.text));
      g.append(text);
    }
    const fitted = pcFit(axis.label, labelRoom, PC_TITLE_FONT);
    const half = pcTextWidth(fitted, PC_TITLE_FONT) / 2;
    const title = pcSvg("text", { class: "pc-label", x: Math.min(width - half - 2, Math.max(half + 2, x)),
      y: 14, "text-anchor": "middle" }, fitted);
    g.append(title);
    if (fitted !== axis.label) g.append(pcSvg("title", {}, axis.label));
    if (axis.scale.kind === "log") {
      g.append(pcSvg("text", { class: "pc-scale", x, y: PC_HEIGHT - 3, "text-anchor": "middle" }, "log"));
    }
    const brush = brushes.get(axis.key);
    const rect = pcSvg("rect", { class: "pc-brush", x: x - 7, width: 14, y: 0, height: 0 });
    const showBrush = (t0, t1) => {
      rect.setAttribute("y", yOf(Math.max(t0, t1)));
      rect.setAttribute("height", Math.max(1, Math.abs(t1 - t0) * plotH));
      rect.style.display = "";
    };
    rect.style.display = "none";
    const span = brush && pcBrushSpan(axis.scale, brush);
    if (span) showBrush(span[0], span[1]);
    g.append(rect);
    // the axis' grip: drag to brush, click to clear
    const grip = pcSvg("rect", { class: "pc-grip", x: x - 12, y: PC_TOP - 6, width: 24, height: plotH + 12 });
    const tAt = (event) => 1 - (event.clientY - svg.getBoundingClientRect().top - PC_TOP) / plotH;
    let start = null;
    grip.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      grip.setPointerCapture(event.pointerId);
      start = { t: tAt(event), y: event.clientY };
      hideHover();
    });
    grip.addEventListener("pointermove", (event) => {
      if (!start) return;
      if (Math.abs(event.clientY - start.y) >= 3) showBrush(start.t, Math.min(1, Math.max(0, tAt(event))));
    });
    const end = (event) => {
      if (!start) return;
      const began = start;
      start = null;
      if (Math.abs(event.clientY - began.y) < 3) spec.onBrush(axis.key, null);
      else spec.onBrush(axis.key, pcBrush(axis.scale, began.t, tAt(event)));
    };
    grip.addEventListener("pointerup", end);
    grip.addEventListener("pointercancel", () => { start = null; });
    g.append(grip);
    svg.append(g);
  });

  // hovering: the nearest line within 5 px (of those in the brushes) and its values
  const hctx = hover.getContext("2d");
  hctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  let hovered = -1;
  function hideHover() {
    if (hovered < 0) return;
    hovered = -1;
    hctx.clearRect(0, 0, width, PC_HEIGHT);
    tip.hidden = true;
    svg.classList.remove("pc-pointing");
  }
  function nearest(mx, my) {
    if (A < 2 || mx < xs[0] - 4 || mx > xs[A - 1] + 4) return -1;
    let k = 0;
    while (k < A - 2 && mx > xs[k + 1]) k++;
    const f = Math.min(1, Math.max(0, (mx - xs[k]) / (xs[k + 1] - xs[k])));
    let found = -1, distance = 5;
    for (let i = 0; i < n; i++) {
      if (!inside[i]) continue;
      const y = ys[i * A + k] + (ys[i * A + k + 1] - ys[i * A + k]) * f;
      const d = Math.abs(y - my);
      if (d < distance || (d === distance && i === spec.best)) { distance = d; found = i; }
    }
    return found;
  }
  svg.addEventListener("pointermove", (event) => {
    if (event.target.classList.contains("pc-grip")) { hideHover(); return; }
    const box = svg.getBoundingClientRect();
    const mx = event.clientX - box.left, my = event.clientY - box.top;
    const i = nearest(mx, my);
    if (i < 0) { hideHover(); return; }
    if (i !== hovered) {
      hovered = i;
      hctx.clearRect(0, 0, width, PC_HEIGHT);
      emphasise(hctx, i, "#1d2330");
      const rows = axes.map((axis) => {
        const row = document.createElement("div");
        row.textContent = `${axis.label}: ${pcFormat(axis.values[i])}`;
        return row;
      });
      const name = document.createElement("b");
      name.textContent = spec.names[i] + (i === spec.best ? " (best)" : "");
      tip.replaceChildren(name, ...rows);
      tip.hidden = false;
      tip.dataset.name = spec.names[i];
      svg.classList.add("pc-pointing");
    }
    tip.style.left = Math.min(mx + 14, width - tip.offsetWidth - 4) + "px";
    tip.style.top = Math.max(0, my - tip.offsetHeight - 10) + "px";
  });
  svg.addEventListener("pointerleave", hideHover);
  svg.addEventListener("click", (event) => {
    if (hovered >= 0 && !event.target.classList.contains("pc-grip")) spec.onPick(spec.names[hovered]);
  });

  target.replaceChildren(stage);
  target.dataset.lines = String(n);
  target.dataset.selected = String(selected);
  target.dataset.best = spec.best >= 0 ? spec.names[spec.best] : "";
  target.dataset.width = String(width);
  // what was drawn where (CSS pixels), for the page's tests: axis k of line i is at
  // (xs[k], ys[i * axes + k])
  target.parcoords = { xs, ys, axes: A, names: spec.names, best: spec.best, inside };
  pcMarkDrawn(target);
  return { lines: n, selected };
}

// data-drawn (a counter) once the frame holding what was drawn is on the screen: the next
// animation frame comes before that frame's paint; a task queued from it, after.
function pcMarkDrawn(target) {
  const count = ++pcDrawCount;
  requestAnimationFrame(() => setTimeout(() => { target.dataset.drawn = String(count); }, 0));
}

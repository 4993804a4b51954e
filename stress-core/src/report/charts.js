// Line charts as SVG, drawn in the page from its own data: report.html and sweep.html.
"use strict";
const NS = "http://www.w3.org/2000/svg"; // a name, never fetched
const COLORS = ["#2f6fb0", "#d9822b", "#c0392b", "#1f8a4c", "#8e44ad", "#7f8c8d", "#16a085"];

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function ticks(lo, hi, n) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) out.push(+t.toPrecision(12));
  return out;
}

function fmt(v, unit) {
  if (unit === "us") return v >= 1e6 ? (v / 1e6).toFixed(2) + "s" : v >= 1e3 ? (v / 1e3).toFixed(1) + "ms" : Math.round(v) + "µs";
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(0) + "k";
  return +v.toPrecision(3) + "";
}

// A line chart: series [{name, points: [[x, y]…]}], on a shared x domain.
function chart(container, title, series, opt) {
  const fig = document.createElement("figure");
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  fig.appendChild(cap);
  const W = 560, H = 220, L = 56, R = 10, T = 8, B = 26;
  const svg = el("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": title }, fig);
  const xs = opt.xDomain, all = series.flatMap(s => s.points.map(p => p[1]));
  // A log axis (latencies): one slow op does not flatten every percentile below it to zero.
  const log = !!opt.log && all.some(v => v > 0);
  const lo = log ? Math.pow(10, Math.floor(Math.log10(Math.min(...all.filter(v => v > 0))))) : 0;
  const hi = log ? Math.pow(10, Math.ceil(Math.log10(Math.max(...all) * 1.0001))) : Math.max(1e-9, ...all, 0) * 1.05;
  const yMax = hi, yMin = lo;
  const X = x => L + (x - xs[0]) / Math.max(1e-9, xs[1] - xs[0]) * (W - L - R);
  const Y = log
    ? y => H - B - (Math.log10(Math.max(y, lo)) - Math.log10(lo)) / Math.max(1e-9, Math.log10(hi) - Math.log10(lo)) * (H - T - B)
    : y => H - B - (y - yMin) / (yMax - yMin) * (H - T - B);
  for (const [a, b] of opt.paused || []) el("rect", { x: X(a), y: T, width: Math.max(1, X(b) - X(a)), height: H - T - B, fill: "#f6e3c6" }, svg);
  for (const [a, b] of opt.outages || []) el("rect", { class: "outage", x: X(a), y: T, width: Math.max(1, X(b) - X(a)), height: H - T - B, fill: "#f3cfca", "fill-opacity": 0.7 }, svg);
  for (const s of opt.stages || []) el("line", { x1: X(s), x2: X(s), y1: T, y2: H - B, stroke: "#8a939c", "stroke-dasharray": "4 3" }, svg);
  for (const m of opt.marks || []) {
    el("line", { x1: X(m.x), x2: X(m.x), y1: T, y2: H - B, stroke: m.color, "stroke-width": 2 }, svg);
    el("text", { x: X(m.x) + 3, y: T + 10 + 12 * (m.row || 0), fill: m.color }, svg).textContent = m.label;
  }
  const yTicks = log ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, k) => lo * Math.pow(10, k)) : ticks(yMin, yMax, 4);
  for (const t of yTicks) {
    el("line", { x1: L, x2: W - R, y1: Y(t), y2: Y(t), stroke: "#eceff2" }, svg);
    el("text", { x: L - 4, y: Y(t) + 3, "text-anchor": "end" }, svg).textContent = fmt(t, opt.unit);
  }
  for (const t of opt.xTicks || ticks(xs[0], xs[1], 6)) {
    const anchor = X(t) > W - R - 20 ? "end" : "middle";
    el("text", { x: X(t), y: H - 8, "text-anchor": anchor }, svg).textContent = opt.xLabel ? opt.xLabel(t) : t + "s";
  }
  el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#b5bcc4" }, svg);
  const legend = document.createElement("div");
  legend.className = "legend";
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    if (s.points.length) {
      const d = s.points.map((p, j) => (j ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1)).join("");
      el("path", { d, fill: "none", stroke: c, "stroke-width": 1.6, "vector-effect": "non-scaling-stroke" }, svg);
      if (opt.dots) for (const p of s.points) el("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, fill: c }, svg);
    }
    const sp = document.createElement("span");
    sp.innerHTML = `<i style="background:${c}"></i>`;
    sp.appendChild(document.createTextNode(s.name));
    legend.appendChild(sp);
  });
  fig.appendChild(legend);
  container.appendChild(fig);
}


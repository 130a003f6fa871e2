(function () {
"use strict";
const D = JSON.parse(document.getElementById("map-data").textContent);
const svg = document.getElementById("map");
const tip = document.getElementById("tip");
const NS = svg.namespaceURI;  // taken from the inline <svg>, so the page holds no URL at all
const W = 1200, H = 820, M = {l: 72, r: 250, t: 54, b: 62};
const PW = W - M.l - M.r, PH = H - M.t - M.b;

function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function txt(parent, s, attrs) { const t = el("text", attrs, parent); t.textContent = s; return t; }
const fmt = v => (v >= 0 ? "+" : "\u2212") + Math.abs(v).toFixed(3);

const regionColour = {};
D.regions.forEach(r => { regionColour[r.name] = r.colour; });
const groupStyle = {};
D.groups.forEach((g, i) => { g.index = i; groupStyle[g.name] = g; });

// ---- view: centre (cx, cy) in map units and a scale s in pixels per unit, equal on both axes
const xs = [], ys = [];
D.countries.forEach(c => { xs.push(c.x); ys.push(c.y); });
D.points.forEach(p => { xs.push(p.x); ys.push(p.y); });
D.arrows.forEach(a => { xs.push(a.x0, a.x1); ys.push(a.y0, a.y1); });
const bx0 = Math.min(...xs), bx1 = Math.max(...xs), by0 = Math.min(...ys), by1 = Math.max(...ys);
const pad = 0.06 * Math.max(bx1 - bx0, by1 - by0) + 0.15;
const home = {cx: (bx0 + bx1) / 2, cy: (by0 + by1) / 2,
              s: Math.min(PW / (bx1 - bx0 + 2 * pad), PH / (by1 - by0 + 2 * pad))};
let view = Object.assign({}, home);
const sx = x => M.l + PW / 2 + (x - view.cx) * view.s;
const sy = y => M.t + PH / 2 - (y - view.cy) * view.s;

// ---- static structure
const defs = el("defs", {}, svg);
const clip = el("clipPath", {id: "plot-clip"}, defs);
el("rect", {x: M.l, y: M.t, width: PW, height: PH}, clip);
D.groups.forEach(g => {
  const m = el("marker", {id: "head" + g.index, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6,
                          markerHeight: 6, orient: "auto"}, defs);
  el("path", {d: "M0,0 L10,5 L0,10 z", fill: g.colour}, m);
});
const bg = el("rect", {x: M.l, y: M.t, width: PW, height: PH, fill: "#fff", stroke: "#aaa"}, svg);
const gridG = el("g", {"clip-path": "url(#plot-clip)"}, svg);
const tickG = el("g", {"font-size": 11, fill: "#555"}, svg);
const plot = el("g", {"clip-path": "url(#plot-clip)"}, svg);
const arrowG = el("g", {}, plot), dotG = el("g", {}, plot), ringG = el("g", {}, plot);
const leaderG = el("g", {}, plot), labelG = el("g", {}, plot), pointG = el("g", {}, plot);
txt(svg, D.title, {x: M.l + PW / 2, y: 30, "text-anchor": "middle", "font-size": 20, "font-weight": 600});
txt(svg, D.xlabel, {x: M.l + PW / 2, y: H - 16, "text-anchor": "middle", "font-size": 13});
txt(svg, D.ylabel, {x: 0, y: 0, "text-anchor": "middle", "font-size": 13,
                    transform: "translate(18," + (M.t + PH / 2) + ") rotate(-90)"});

// ---- marker shapes for extra points (unit polygons, scaled to ~9 px)
function star(n, r1, r2) {
  const p = [];
  for (let i = 0; i < 2 * n; i++) {
    const a = Math.PI * i / n - Math.PI / 2, r = i % 2 ? r2 : r1;
    p.push([r * Math.cos(a), r * Math.sin(a)]);
  }
  return p;
}
const SHAPES = {
  star: star(5, 1.25, 0.5), diamond: [[0, -1.1], [0.8, 0], [0, 1.1], [-0.8, 0]],
  plus: [[-0.3, -1], [0.3, -1], [0.3, -0.3], [1, -0.3], [1, 0.3], [0.3, 0.3], [0.3, 1], [-0.3, 1], [-0.3, 0.3],
         [-1, 0.3], [-1, -0.3], [-0.3, -0.3]],
  triangle: [[0, -1.1], [1, 0.8], [-1, 0.8]], tdown: [[0, 1.1], [1, -0.8], [-1, -0.8]],
  square: [[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]], hexagon: star(3, 1, 1)
};
SHAPES.cross = SHAPES.plus.map(([x, y]) => [(x - y) * 0.7071, (x + y) * 0.7071]);
const shapePath = (shape, r) => "M" + SHAPES[shape].map(([x, y]) => (x * r).toFixed(2) + "," + (y * r).toFixed(2))
  .join("L") + "Z";

// ---- tooltip
function showTip(e, lines) {
  tip.textContent = "";
  lines.forEach((s, i) => {
    const d = document.createElement("div");
    d.textContent = s;
    if (i === 0) d.style.fontWeight = "600";
    tip.appendChild(d);
  });
  tip.style.display = "block";
  moveTip(e);
}
function moveTip(e) {
  tip.style.left = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 4) + "px";
  tip.style.top = (e.clientY + 14) + "px";
}
function hideTip() { tip.style.display = "none"; }
function hover(node, lines) {
  node.addEventListener("mouseenter", e => showTip(e, lines));
  node.addEventListener("mousemove", moveTip);
  node.addEventListener("mouseleave", hideTip);
}

// ---- data elements; each item remembers its legend key so a legend click can hide it
const hidden = new Set();
const items = [];   // everything that moves with the view
const labels = [];  // text labels taking part in placement
D.arrows.forEach(a => {
  const g = groupStyle[a.group];
  const line = el("line", {class: "arrow", stroke: g.colour, "stroke-width": 1.6, opacity: 0.5,
                           "marker-end": "url(#head" + g.index + ")"}, arrowG);
  hover(line, [a.group, "from (" + fmt(a.x0) + ", " + fmt(a.y0) + ")", "to (" + fmt(a.x1) + ", " + fmt(a.y1) + ")"]);
  items.push({key: "a:" + a.group, node: line, place: () => {
    line.setAttribute("x1", sx(a.x0)); line.setAttribute("y1", sy(a.y0));
    line.setAttribute("x2", sx(a.x1)); line.setAttribute("y2", sy(a.y1));
  }});
});
// r: half-size of its marker box; optional: a name left to its hover text where it would cover another name
function addLabel(key, x, y, text, size, weight, colour, gap, r, optional) {
  const t = txt(labelG, text, {class: "label", "font-size": size, "font-weight": weight, fill: colour,
                               "dominant-baseline": "central"});
  const leader = el("line", {stroke: "#888", "stroke-width": 0.6}, leaderG);
  labels.push({key, x, y, node: t, leader, gap, r, optional, w: 0, h: size * 1.2});
}
D.countries.forEach(c => {
  const key = "r:" + c.region;
  const dot = el("circle", {class: "dot", r: 4.5, fill: regionColour[c.region], stroke: "#333",
                            "stroke-width": 0.6}, dotG);
  hover(dot, [c.name, c.region, "x (self-expression) " + fmt(c.x), "y (secular-rational) " + fmt(c.y)]);
  items.push({key, node: dot, place: () => { dot.setAttribute("cx", sx(c.x)); dot.setAttribute("cy", sy(c.y)); }});
  if (c.ring) {
    const ring = el("circle", {r: 9, fill: "none", stroke: "#000", "stroke-width": 1.6}, ringG);
    items.push({key, node: ring, place: () => { ring.setAttribute("cx", sx(c.x)); ring.setAttribute("cy", sy(c.y)); }});
  }
  addLabel(key, c.x, c.y, c.name, 10, "normal", "#222", c.ring ? 11 : 5, c.ring ? 10 : 6, !c.ring);
});
D.points.forEach(p => {
  const g = groupStyle[p.group], key = "p:" + p.group;
  const node = el("path", {class: "pt", d: shapePath(g.shape, 9), fill: g.colour, stroke: "#fff",
                           "stroke-width": 1}, pointG);
  hover(node, [p.name, p.group !== p.name ? p.group : "added point", "x " + fmt(p.x), "y " + fmt(p.y)]);
  items.push({key, node, place: () => node.setAttribute("transform", "translate(" + sx(p.x) + "," + sy(p.y) + ")")});
  addLabel(key, p.x, p.y, p.name, 12, "bold", g.colour, 12, 11, !p.lone);  // one of many: its line says which
});
// Measure each label once (font metrics do not change with zoom).
labels.forEach(l => {
  let w = 0;
  try { w = l.node.getComputedTextLength(); } catch (err) { w = 0; }
  l.w = w > 0 ? w : l.node.textContent.length * parseFloat(l.node.getAttribute("font-size")) * 0.56;
});
// Extra-point labels first, then the most crowded countries, as in the static map.
labels.forEach(l => {
  const point = l.key.startsWith("p:");  // the names that must show go first: lone points, ringed countries
  l.crowd = !l.optional ? (point ? 1e9 : 1e8) : point ? 1e7 :
    labels.filter(o => Math.hypot(o.x - l.x, o.y - l.y) < 0.3).length;
});
labels.sort((a, b) => b.crowd - a.crowd);

// ---- greedy label placement: candidate spots around the dot, least overlap wins (second ring gets a leader)
const NEAR = [[1, 0, 0, 0.5], [-1, 0, 1, 0.5], [0.75, -0.75, 0, 1], [0.75, 0.75, 0, 0], [-0.75, -0.75, 1, 1],
              [-0.75, 0.75, 1, 0], [0, -1, 0.5, 1], [0, 1, 0.5, 0]];  // dx, dy (screen, y down), x/y anchor
const CANDS = NEAR.map(c => c.concat([false])).concat(NEAR.map(c => [2.6 * c[0], 2.6 * c[1], c[2], c[3], true]));
function overlap(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}
function placeLabels() {
  // Every marker has exactly one label, so the visible labels' anchors are the marker obstacles.
  const visible = labels.filter(l => !hidden.has(l.key));
  const obstacles = visible.map(l => [sx(l.x) - l.r, sy(l.y) - l.r, sx(l.x) + l.r, sy(l.y) + l.r]);
  const placed = [];
  labels.forEach(l => {
    const off = hidden.has(l.key);
    l.node.style.display = l.leader.style.display = off ? "none" : "";
    if (off) return;
    const px = sx(l.x), py = sy(l.y);
    if (px < M.l - 200 || px > M.l + PW + 200 || py < M.t - 50 || py > M.t + PH + 50) {  // far off screen
      l.node.style.display = l.leader.style.display = "none";
      return;
    }
    let best = null;
    CANDS.forEach((c, rank) => {
      const ax = px + c[0] * l.gap, ay = py + c[1] * l.gap;
      const box = [ax - c[2] * l.w, ay - c[3] * l.h, ax - c[2] * l.w + l.w, ay - c[3] * l.h + l.h];
      const area = l.w * l.h;
      const inside = overlap(box, [M.l, M.t, M.l + PW, M.t + PH]);
      let cost = 4 * (area - inside) + 0.002 * rank * area + (c[4] ? 0.25 * area : 0);
      for (const b of placed) cost += overlap(box, b);
      obstacles.forEach((b, k) => { if (visible[k] !== l) cost += 2.5 * overlap(box, b); });
      if (!best || cost < best.cost) best = {cost, box, far: c[4]};
    });
    if (l.optional && placed.some(b => overlap(best.box, b) > 0)) {  // zooming in gives it room again
      l.node.style.display = l.leader.style.display = "none";
      return;
    }
    placed.push(best.box);
    l.node.setAttribute("x", best.box[0]);
    l.node.setAttribute("y", (best.box[1] + best.box[3]) / 2);
    l.leader.style.display = best.far ? "" : "none";
    if (best.far) {
      const tx = Math.max(best.box[0], Math.min(px, best.box[2])), ty = Math.max(best.box[1], Math.min(py, best.box[3]));
      l.leader.setAttribute("x1", px); l.leader.setAttribute("y1", py);
      l.leader.setAttribute("x2", tx); l.leader.setAttribute("y2", ty);
    }
  });
}

// ---- grid and ticks at "nice" steps for the current view
function niceStep(span, n) {
  const raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}
function drawGrid() {
  gridG.textContent = ""; tickG.textContent = "";
  const x0 = view.cx - PW / 2 / view.s, x1 = view.cx + PW / 2 / view.s;
  const y0 = view.cy - PH / 2 / view.s, y1 = view.cy + PH / 2 / view.s;
  const step = niceStep(Math.max(x1 - x0, y1 - y0), 10);
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  for (let v = Math.ceil(x0 / step) * step; v <= x1; v += step) {
    const X = sx(v), zero = Math.abs(v) < step / 2;
    el("line", {x1: X, x2: X, y1: M.t, y2: M.t + PH, stroke: zero ? "#bbb" : "#e6e6e6", "stroke-width": zero ? 1.2 : 1}, gridG);
    txt(tickG, (zero ? 0 : v).toFixed(digits), {x: X, y: M.t + PH + 16, "text-anchor": "middle"});
  }
  for (let v = Math.ceil(y0 / step) * step; v <= y1; v += step) {
    const Y = sy(v), zero = Math.abs(v) < step / 2;
    el("line", {x1: M.l, x2: M.l + PW, y1: Y, y2: Y, stroke: zero ? "#bbb" : "#e6e6e6", "stroke-width": zero ? 1.2 : 1}, gridG);
    txt(tickG, (zero ? 0 : v).toFixed(digits), {x: M.l - 6, y: Y + 4, "text-anchor": "end"});
  }
}

function redraw() {
  drawGrid();
  items.forEach(it => {
    it.node.style.display = hidden.has(it.key) ? "none" : "";
    it.place();
  });
  placeLabels();
}
let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  window.requestAnimationFrame(() => { pending = false; redraw(); });
}

// ---- legend: click toggles a region / group
const legend = el("g", {"font-size": 13}, svg);
let ly = M.t + 6;
const LX = W - M.r + 22;
function legendItem(key, label, drawSymbol) {
  const g = el("g", {class: "legend-item", transform: "translate(" + LX + "," + ly + ")"}, legend);
  el("rect", {x: -6, y: -10, width: M.r - 24, height: 20, fill: "transparent"}, g);
  drawSymbol(g);
  txt(g, label, {x: 20, y: 4.5});
  el("title", {}, g).textContent = "click to show or hide";
  g.addEventListener("click", () => {
    if (hidden.has(key)) hidden.delete(key); else hidden.add(key);
    g.classList.toggle("off", hidden.has(key));
    schedule();
  });
  ly += 22;
}
txt(legend, "Cultural region (n)", {x: LX - 6, y: ly, "font-weight": 600});
ly += 22;
D.regions.forEach(r => {
  const n = D.countries.filter(c => c.region === r.name).length;
  legendItem("r:" + r.name, r.name + " (" + n + ")", g => el("circle", {cx: 6, cy: 0, r: 6, fill: r.colour, stroke: "#333",
                                                                          "stroke-width": 0.6}, g));
});
if (D.groups.length) {
  ly += 12;
  txt(legend, "Added", {x: LX - 6, y: ly, "font-weight": 600});
  ly += 22;
  D.groups.forEach(gs => {
    if (gs.points) legendItem("p:" + gs.name, gs.name, g => el("path", {d: shapePath(gs.shape, 8), fill: gs.colour,
                                                                         transform: "translate(6,0)"}, g));
    if (gs.arrows) legendItem("a:" + gs.name, gs.points ? gs.name + " (shift)" : gs.name, g =>
      el("line", {x1: -4, y1: 0, x2: 14, y2: 0, stroke: gs.colour, "stroke-width": 2, opacity: 0.7,
                  "marker-end": "url(#head" + gs.index + ")"}, g));
  });
}

// ---- zoom (wheel, around the cursor) and pan (drag)
function svgPoint(e) {
  const r = svg.getBoundingClientRect();
  return [(e.clientX - r.left) * W / r.width, (e.clientY - r.top) * H / r.height];
}
svg.addEventListener("wheel", e => {
  e.preventDefault();
  const [mx, my] = svgPoint(e);
  const wx = view.cx + (mx - M.l - PW / 2) / view.s, wy = view.cy - (my - M.t - PH / 2) / view.s;
  view.s = Math.max(home.s / 4, Math.min(home.s * 40, view.s * Math.exp(-e.deltaY * 0.0015)));
  view.cx = wx - (mx - M.l - PW / 2) / view.s;  // keep the point under the cursor fixed
  view.cy = wy + (my - M.t - PH / 2) / view.s;
  schedule();
}, {passive: false});
let drag = null;
svg.addEventListener("pointerdown", e => {
  if (e.button !== 0 || e.target.closest(".legend-item")) return;
  drag = {p: svgPoint(e), cx: view.cx, cy: view.cy};
  svg.setPointerCapture(e.pointerId);
  svg.classList.add("dragging");
});
svg.addEventListener("pointermove", e => {
  if (!drag) return;
  const [mx, my] = svgPoint(e);
  view.cx = drag.cx - (mx - drag.p[0]) / view.s;
  view.cy = drag.cy + (my - drag.p[1]) / view.s;
  hideTip();
  schedule();
});
function endDrag() { drag = null; svg.classList.remove("dragging"); }
svg.addEventListener("pointerup", endDrag);
svg.addEventListener("pointercancel", endDrag);
svg.addEventListener("dblclick", () => { view = Object.assign({}, home); schedule(); });

redraw();
})();
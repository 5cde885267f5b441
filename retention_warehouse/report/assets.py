"""The report's inline stylesheet and chart script (kept in Python so packaging needs nothing).

The script reads the chart specs from the page's ``report-data`` JSON block and
draws each chart as an SVG inside its figure: line, grouped bars, horizontal
bars, stacked bars, heatmap and a labelled grid of counts. Every drawn data mark
carries the class ``mark`` and a native ``<title>`` tooltip; each SVG gets ``data-marks`` (its
mark count) and the body ``data-charts-rendered`` / ``data-render-errors``, which
the browser test reads from the rendered DOM. No library, no network.
"""

from __future__ import annotations

STYLE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--ink); background: var(--bg); }
header { padding: 24px 32px 8px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: var(--muted); }
.headline { display: flex; flex-wrap: wrap; gap: 12px; padding: 12px 32px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px;
        min-width: 190px; }
.tile .value { font-size: 22px; font-weight: 600; }
.tile .label { color: var(--muted); font-size: 12px; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(640px, 1fr)); gap: 16px;
       padding: 12px 32px 32px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px;
         padding: 14px 16px; }
figure h2 { margin: 0 0 4px; font-size: 16px; }
figure .definition { margin: 0 0 8px; color: var(--muted); font-size: 12.5px; }
figure .source-note { margin: 0 0 8px; padding: 4px 8px; border-left: 3px solid #b45309;
  background: #fffbeb; font-size: 12.5px; }
figcaption { color: var(--muted); font-size: 11.5px; margin-top: 6px; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; font-size: 12px; margin: 2px 0 4px; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px;
                       margin-right: 5px; border-radius: 2px; background: var(--swatch); }
svg.chart { display: block; width: 100%; height: auto; overflow: visible; }
svg.chart text { font-size: 11px; fill: var(--muted); }
svg.chart .grid { stroke: #eef1f4; }
svg.chart .axis { stroke: #8c959f; }
.no-data { color: #d1242f; font-weight: 600; }
noscript p { color: #d1242f; padding: 0 32px; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f6feb", "#d1242f", "#2da44e", "#bf8700", "#8250df", "#0a7f86", "#57606a"];
  var W = 740, H = 300;
  var errors = [];
  window.addEventListener("error", function (event) {
    errors.push(String(event.message));
    document.body.setAttribute("data-render-errors", errors.join(" | "));
  });

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function text(parent, x, y, value, attrs) {
    var node = el("text", Object.assign({x: x, y: y}, attrs || {}), parent);
    node.textContent = value;
    return node;
  }
  function tip(node, value) { el("title", {}, node).textContent = value; }
  function isNum(v) { return v !== null && v !== undefined && isFinite(v); }
  function fmt(v, d) {
    if (!isNum(v)) { return "n/a"; }
    return Number(v).toLocaleString("en-US",
      {minimumFractionDigits: d, maximumFractionDigits: d});
  }
  function period(label) { return /^\d{4}-\d{2}-\d{2}$/.test(label) ? label.slice(0, 7) : label; }
  function ticks(lo, hi, count) {
    var span = hi - lo || 1, raw = span / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; })
      .find(function (s) { return span / s <= count; }) || mag * 10;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) { out.push(v); }
    return out;
  }
  function range(spec, values) {
    var nums = values.filter(isNum), y = spec.y || {};
    var lo = isNum(y.min) ? y.min : Math.min.apply(null, nums.concat([0]));
    var hi = isNum(y.max) ? y.max : Math.max.apply(null, nums);
    if (!isNum(y.min) && lo < 0) { lo = lo * 1.05; }
    if (!isNum(y.max)) { hi = hi + (hi - lo) * 0.05; }
    if (hi <= lo) { hi = lo + 1; }
    return [lo, hi];
  }
  function legend(figure, names) {
    var box = document.createElement("div");
    box.className = "legend";
    names.forEach(function (name, i) {
      var item = document.createElement("span");
      item.style.setProperty("--swatch", COLORS[i % COLORS.length]);
      item.textContent = name;
      box.appendChild(item);
    });
    figure.querySelector(".plot").before(box);
  }
  // Axes, grid and x labels of a chart over categories; returns the scales.
  function frame(svg, spec, lo, hi, margin) {
    var m = margin || {top: 12, right: 12, bottom: 44, left: 58};
    var pw = W - m.left - m.right, ph = H - m.top - m.bottom, n = spec.x.length;
    var band = pw / Math.max(n, 1);
    var sx = function (i) { return m.left + band * (i + 0.5); };
    var sy = function (v) { return m.top + ph - (v - lo) / (hi - lo) * ph; };
    ticks(lo, hi, 5).forEach(function (t) {
      el("line", {x1: m.left, x2: m.left + pw, y1: sy(t), y2: sy(t), "class": "grid"}, svg);
      text(svg, m.left - 6, sy(t) + 4, fmt(t, Math.abs(hi - lo) < 10 ? 1 : 0),
        {"text-anchor": "end"});
    });
    el("line", {x1: m.left, x2: m.left + pw, y1: sy(lo), y2: sy(lo), "class": "axis"}, svg);
    var labels = spec.x.map(period);
    var longest = Math.max.apply(null, labels.map(function (l) { return l.length; }));
    var every = Math.max(1, Math.ceil(n * (longest * 6.6 + 8) / pw));
    labels.forEach(function (label, i) {
      if (i % every === 0) {
        text(svg, sx(i), m.top + ph + 16, label, {"text-anchor": "middle"});
      }
    });
    text(svg, 14, m.top + ph / 2, (spec.y || {}).label || "",
      {transform: "rotate(-90 14 " + (m.top + ph / 2) + ")", "text-anchor": "middle"});
    if (spec.x_label) {
      text(svg, m.left + pw / 2, H - 6, spec.x_label, {"text-anchor": "middle"});
    }
    return {sx: sx, sy: sy, band: band, lo: lo, hi: hi};
  }

  function drawLine(svg, spec, figure) {
    var all = [].concat.apply([], spec.series.map(function (s) { return s.values; }));
    var r = range(spec, all), f = frame(svg, spec, r[0], r[1]), d = (spec.y || {}).decimals;
    spec.series.forEach(function (series, k) {
      var color = COLORS[k % COLORS.length], path = "", pen = "M";
      series.values.forEach(function (v, i) {
        if (!isNum(v)) { pen = "M"; return; }
        path += pen + f.sx(i).toFixed(1) + "," + f.sy(v).toFixed(1) + " ";
        pen = "L";
      });
      el("path", {d: path, fill: "none", stroke: color, "stroke-width": 2}, svg);
      series.values.forEach(function (v, i) {
        if (!isNum(v)) { return; }
        var dot = el("circle", {cx: f.sx(i), cy: f.sy(v), r: 2.6, fill: color, "class": "mark"},
          svg);
        tip(dot, series.name + ", " + period(spec.x[i]) + ": " + fmt(v, d));
      });
    });
    legend(figure, spec.series.map(function (s) { return s.name; }));
  }

  function drawBars(svg, spec, figure) {
    var all = [].concat.apply([], spec.series.map(function (s) { return s.values; }));
    var r = range(spec, all), f = frame(svg, spec, r[0], r[1]), d = (spec.y || {}).decimals;
    var k = spec.series.length, w = f.band * 0.8 / k;
    spec.series.forEach(function (series, j) {
      series.values.forEach(function (v, i) {
        if (!isNum(v)) { return; }
        var x = f.sx(i) - f.band * 0.4 + j * w, top = f.sy(Math.max(v, 0));
        var bar = el("rect", {x: x, y: top, width: Math.max(w - 1, 1),
          height: Math.max(Math.abs(f.sy(v) - f.sy(0)), 0.5),
          fill: COLORS[j % COLORS.length], "class": "mark"}, svg);
        tip(bar, series.name + ", " + period(spec.x[i]) + ": " + fmt(v, d));
      });
    });
    if (k > 1) { legend(figure, spec.series.map(function (s) { return s.name; })); }
  }

  function drawStacked(svg, spec, figure) {
    var f = frame(svg, spec, 0, (spec.y || {}).max || 100), d = (spec.y || {}).decimals;
    spec.x.forEach(function (label, i) {
      var base = 0;
      spec.series.forEach(function (series, j) {
        var v = series.values[i];
        if (!isNum(v) || v <= 0) { return; }
        var bar = el("rect", {x: f.sx(i) - f.band * 0.42, y: f.sy(base + v),
          width: f.band * 0.84, height: f.sy(base) - f.sy(base + v),
          fill: COLORS[j % COLORS.length], "class": "mark"}, svg);
        tip(bar, series.name + ", " + period(label) + ": " + fmt(v, d) + " %");
        base += v;
      });
    });
    legend(figure, spec.series.map(function (s) { return s.name; }));
  }

  function drawHBars(svg, spec) {
    var m = {top: 8, right: 60, bottom: 28, left: 130}, n = spec.x.length;
    var values = spec.series[0].values, d = (spec.y || {}).decimals;
    var hi = Math.max.apply(null, values.filter(isNum).concat([1]));
    var pw = W - m.left - m.right, band = (H - m.top - m.bottom) / Math.max(n, 1);
    ticks(0, hi, 5).forEach(function (t) {
      var x = m.left + t / hi * pw;
      el("line", {x1: x, x2: x, y1: m.top, y2: H - m.bottom, "class": "grid"}, svg);
      text(svg, x, H - m.bottom + 14, fmt(t, 0), {"text-anchor": "middle"});
    });
    text(svg, m.left + pw / 2, H - 4, (spec.y || {}).label || "", {"text-anchor": "middle"});
    spec.x.forEach(function (label, i) {
      var v = values[i], y = m.top + band * i;
      text(svg, m.left - 8, y + band / 2 + 4, label, {"text-anchor": "end"});
      if (!isNum(v)) { return; }
      var bar = el("rect", {x: m.left, y: y + band * 0.15, width: Math.max(v / hi * pw, 0.5),
        height: band * 0.7, fill: label === "no_answer" ? "#8c959f" : COLORS[0],
        "class": "mark"}, svg);
      var count = spec.counts ? " (" + fmt(spec.counts[i], 0) + " customers)" : "";
      tip(bar, label + ": " + fmt(v, d) + " %" + count);
      var inside = v / hi > 0.6, end = m.left + v / hi * pw;
      text(svg, inside ? end - 6 : end + 6, y + band / 2 + 4, fmt(v, d) + " %" + count,
        inside ? {"text-anchor": "end", style: "fill: #fff"} : {});
    });
  }

  function drawHeatmap(svg, spec) {
    var m = {top: 8, right: 12, bottom: 60, left: 70}, rows = spec.rows.length;
    var cell = Math.min(18, (W - m.left - m.right) / Math.max(spec.cols.length, 1));
    var height = m.top + m.bottom + cell * rows;
    svg.setAttribute("viewBox", "0 0 " + W + " " + height);
    var later = [].concat.apply([], spec.values.map(function (row) { return row.slice(1); }));
    var top = Math.max.apply(null, later.filter(isNum).concat([1]));
    var shade = function (v) {
      var t = Math.min(v / top, 1), c = [255 - 224 * t, 255 - 144 * t, 255 - 20 * t];
      return "rgb(" + c.map(Math.round).join(",") + ")";
    };
    spec.rows.forEach(function (row, i) {
      var y = m.top + i * cell;
      if (i % Math.ceil(12 / cell) === 0) {
        text(svg, m.left - 6, y + cell * 0.75, period(row), {"text-anchor": "end"});
      }
      spec.values[i].forEach(function (v, k) {
        if (!isNum(v)) { return; }
        var rect = el("rect", {x: m.left + k * cell, y: y, width: cell - 1, height: cell - 1,
          fill: shade(v), "class": "mark"}, svg);
        tip(rect, "cohort " + period(row) + " (" + spec.row_sizes[i] + " customers), k = " +
          spec.cols[k] + ": " + fmt(v, 1) + " %");
      });
    });
    var base = m.top + rows * cell;
    spec.cols.forEach(function (k, j) {
      if (j % 3 === 0) { text(svg, m.left + j * cell + cell / 2, base + 14, String(k),
        {"text-anchor": "middle"}); }
    });
    text(svg, m.left + spec.cols.length * cell / 2, base + 30, spec.x_label,
      {"text-anchor": "middle"});
    var grad = el("linearGradient", {id: "heat-" + spec.id}, el("defs", {}, svg));
    el("stop", {offset: "0", "stop-color": shade(0)}, grad);
    el("stop", {offset: "1", "stop-color": shade(top)}, grad);
    el("rect", {x: m.left, y: base + 40, width: 160, height: 10, fill: "url(#heat-" + spec.id +
      ")", stroke: "#d1d9e0"}, svg);
    text(svg, m.left + 166, base + 49, "0 % … " + fmt(top, 0) + " % (and above) retained");
  }

  // A labelled grid (rows x cols) of counts, e.g. customers by RFM recency x frequency score.
  function drawGrid(svg, spec) {
    var m = {top: 10, right: 170, bottom: 46, left: 84};
    var rows = spec.rows.length, cols = spec.cols.length;
    var cw = (W - m.left - m.right) / Math.max(cols, 1);
    var ch = (H - m.top - m.bottom) / Math.max(rows, 1);
    var all = [].concat.apply([], spec.values).filter(isNum);
    var top = Math.max.apply(null, all.concat([1]));
    var shade = function (v) {
      var t = Math.min(v / top, 1), c = [255 - 224 * t, 255 - 144 * t, 255 - 20 * t];
      return "rgb(" + c.map(Math.round).join(",") + ")";
    };
    spec.rows.forEach(function (row, i) {
      var y = m.top + i * ch;
      text(svg, m.left - 8, y + ch / 2 + 4, String(row), {"text-anchor": "end"});
      spec.values[i].forEach(function (v, k) {
        if (!isNum(v) || v <= 0) { return; }
        var x = m.left + k * cw;
        var rect = el("rect", {x: x, y: y, width: cw - 2, height: ch - 2, fill: shade(v),
          "class": "mark"}, svg);
        tip(rect, spec.tips[i][k]);
        text(svg, x + cw / 2, y + ch / 2 - 2, fmt(v, 0), {"text-anchor": "middle",
          style: v / top > 0.55 ? "fill: #fff" : "fill: #1f2328"});
        text(svg, x + cw / 2, y + ch / 2 + 12, spec.labels[i][k], {"text-anchor": "middle",
          style: (v / top > 0.55 ? "fill: #fff" : "fill: #59636e") + "; font-size: 9px"});
      });
    });
    spec.cols.forEach(function (col, k) {
      text(svg, m.left + k * cw + cw / 2, m.top + rows * ch + 14, String(col),
        {"text-anchor": "middle"});
    });
    text(svg, m.left + cols * cw / 2, H - 8, spec.x_label, {"text-anchor": "middle"});
    text(svg, 14, m.top + rows * ch / 2, (spec.y || {}).label || "",
      {transform: "rotate(-90 14 " + (m.top + rows * ch / 2) + ")", "text-anchor": "middle"});
    (spec.notes || []).forEach(function (note, i) {
      text(svg, W - m.right + 12, m.top + 14 + i * 15, note, {"text-anchor": "start"});
    });
  }

  var DRAW = {line: drawLine, bars: drawBars, stacked: drawStacked, hbars: drawHBars,
    heatmap: drawHeatmap, grid: drawGrid};

  function render() {
    var data = JSON.parse(document.getElementById("report-data").textContent);
    var drawn = 0;
    data.charts.forEach(function (spec) {
      var figure = document.getElementById("figure-" + spec.id);
      try {
        var svg = el("svg", {id: "chart-" + spec.id, "class": "chart", viewBox: "0 0 " + W +
          " " + H, role: "img", "aria-label": spec.title});
        figure.querySelector(".plot").appendChild(svg);
        DRAW[spec.kind](svg, spec, figure);
        var marks = svg.querySelectorAll(".mark").length;
        svg.setAttribute("data-marks", String(marks));
        if (marks > 0) {
          drawn += 1;
        } else {
          var empty = document.createElement("p");
          empty.className = "no-data";
          empty.textContent = "No data for this chart in the warehouse.";
          figure.querySelector(".plot").appendChild(empty);
        }
      } catch (error) {
        errors.push(spec.id + ": " + error.message);
        document.body.setAttribute("data-render-errors", errors.join(" | "));
      }
    });
    document.body.setAttribute("data-charts-rendered", String(drawn));
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
"""

"""The stylesheet and script inlined into the HTML report.

Why hand-written and inlined: the page must open offline, from a CI artifact
or an e-mail attachment, years later; no CDN, no chart library. The script
draws plain SVG from the JSON embedded in the page and marks the body with
data-rendered="1" when done (the headless-browser test checks for it).
Kept as Python strings so they ship inside the package with no data-file setup.
"""

CSS = r"""
:root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --card:#fff; --accent:#3b63d9; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color:var(--fg); background:var(--bg); }
header { background:#17203a; color:#fff; padding:18px 28px; }
header h1 { margin:0 0 4px; font-size:20px; font-weight:600; }
header .meta { color:#b9c3dc; font-size:13px; }
main { padding:20px 28px 40px; max-width:1280px; margin:0 auto; }
h2 { font-size:16px; margin:28px 0 10px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(170px, 1fr)); gap:12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card .k { color:var(--muted); font-size:12px; }
.card .v { font-size:24px; font-weight:650; margin:2px 0; }
.card .s { color:var(--muted); font-size:12px; }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit, minmax(480px, 1fr)); gap:16px; }
.panel { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; overflow:auto; }
.panel h3 { margin:0 0 8px; font-size:14px; }
.panel .note { color:var(--muted); font-size:12px; margin-top:6px; }
svg.chart { width:100%; height:auto; display:block; }
svg.chart text { font-size:11px; fill:var(--fg); }
svg.chart .axis { stroke:#98a2b3; stroke-width:1; }
svg.chart .grid { stroke:var(--line); stroke-width:1; }
svg.chart .muted { fill:var(--muted); }
table { border-collapse:collapse; width:100%; background:var(--card); }
th, td { padding:5px 8px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { font-weight:600; font-size:12px; color:#344054; background:#f2f4f7; position:sticky; top:0; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
table.sortable th { cursor:pointer; user-select:none; }
table.sortable th.sorted::after { content:" \25BE"; }
table.sortable th.sorted.asc::after { content:" \25B4"; }
.tablewrap { max-height:560px; overflow:auto; border:1px solid var(--line); border-radius:8px; }
input.filter { padding:5px 8px; border:1px solid #d0d5dd; border-radius:6px; margin:0 0 8px; width:260px; }
code, .mono { font-family:ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12px; }
footer { color:var(--muted); font-size:12px; margin-top:30px; }
"""

JS = r"""
(function () {
  "use strict";
  // The SVG namespace, read from an inline <svg> so the page holds no URL at all.
  var NS = document.getElementById("svg-ns").namespaceURI;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var rendered = 0;

  function el(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) { if (attrs.hasOwnProperty(k)) e.setAttribute(k, attrs[k]); }
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function tip(node, text) { el("title", {}, node, text); }
  function fmt(v) {
    if (v === null || v === undefined) return "\u2014";
    if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
    if (Math.abs(v) >= 10) return v.toFixed(1).replace(/\.0$/, "");
    if (Math.abs(v) >= 1) return v.toFixed(2).replace(/0$/, "").replace(/\.0$/, "");
    return Number(v.toPrecision(2)).toString();
  }
  function svg(id, w, h, label) {
    var host = document.getElementById(id + "-host");
    var s = el("svg", {id: id, "class": "chart", viewBox: "0 0 " + w + " " + h, role: "img",
                        "aria-label": label, "data-chart": "1"});
    host.appendChild(s);
    rendered += 1;
    return s;
  }
  function empty(s, w, h, msg) {
    el("text", {x: w / 2, y: h / 2, "text-anchor": "middle", "class": "muted"}, s, msg);
  }

  var STATUS_COLOR = {
    import_failed: "#98a2b3", init_failed: "#98a2b3", inputs_not_found: "#98a2b3", eager_failed: "#7a869a",
    eager_nondeterministic: "#9b7bd4", capture_failed: "#e5484d", compile_failed: "#f08c2e",
    run_failed: "#f0a35e", parity_failed: "#e9c23c", pass: "#2f9e5b",
    timeout: "#8c2f39", crash: "#6e1f28", oom: "#a8424f"
  };

  // Horizontal bars: items = [{label, value, color, title}]
  function hbars(id, items, opts) {
    opts = opts || {};
    var labelW = opts.labelW || 190, textW = opts.textW || 70, w = 620, rowH = 22, top = 8;
    var h = top + Math.max(items.length, 1) * rowH + 24;
    var s = svg(id, w, h, opts.label || id);
    if (!items.length) { empty(s, w, h, "no data"); return s; }
    var max = opts.max || 0;
    items.forEach(function (d) { max = Math.max(max, d.value); });
    var plotW = w - labelW - textW;
    items.forEach(function (d, i) {
      var y = top + i * rowH;
      var g = el("g", {"class": "bar"}, s);
      var lab = d.label.length > 34 ? d.label.slice(0, 33) + "\u2026" : d.label;
      el("text", {x: labelW - 6, y: y + 15, "text-anchor": "end"}, g, lab);
      var bw = max > 0 ? Math.max(d.value > 0 ? 1.5 : 0, plotW * d.value / max) : 0;
      var r = el("rect", {x: labelW, y: y + 3, width: bw, height: rowH - 7, rx: 2, fill: d.color || "#3b63d9"}, g);
      tip(r, d.title || (d.label + ": " + d.value));
      el("text", {x: labelW + bw + 5, y: y + 15, "class": "muted"}, g, d.text || fmt(d.value));
    });
    el("line", {x1: labelW, x2: labelW, y1: top, y2: top + items.length * rowH, "class": "axis"}, s);
    return s;
  }

  // Vertical histogram over log10-spaced edges (hist = {edges, counts, log}).
  function histogram(id, hist, opts) {
    var w = 620, h = 260, L = 48, R = 14, T = 12, B = 40;
    var s = svg(id, w, h, opts.label);
    if (!hist || !hist.counts || !hist.counts.length) { empty(s, w, h, "no data"); return s; }
    var lo = Math.log10(hist.edges[0]), hi = Math.log10(hist.edges[hist.edges.length - 1]);
    var maxC = Math.max.apply(null, hist.counts);
    var pw = w - L - R, ph = h - T - B;
    function X(v) { return L + pw * (Math.log10(v) - lo) / (hi - lo); }
    function Y(c) { return T + ph - (maxC ? ph * c / maxC : 0); }
    for (var t = 0; t <= 4; t++) {
      var c = Math.round(maxC * t / 4), y = Y(c);
      el("line", {x1: L, x2: w - R, y1: y, y2: y, "class": "grid"}, s);
      el("text", {x: L - 6, y: y + 4, "text-anchor": "end", "class": "muted"}, s, c.toLocaleString("en-US"));
    }
    hist.counts.forEach(function (c, i) {
      var x0 = X(hist.edges[i]), x1 = X(hist.edges[i + 1]);
      var r = el("rect", {x: x0 + 0.5, y: Y(c), width: Math.max(0.5, x1 - x0 - 1), height: T + ph - Y(c),
                          fill: opts.color || "#3b63d9"}, s);
      tip(r, fmt(hist.edges[i]) + "\u2013" + fmt(hist.edges[i + 1]) + " " + (opts.unit || "") + ": " + c + " cases");
    });
    // ticks at 1, 2, 5 x powers of ten inside the range
    var ticks = [];
    for (var p = Math.floor(lo) - 1; p <= Math.ceil(hi) + 1; p++) {
      [1, 2, 5].forEach(function (m) {
        var v = m * Math.pow(10, p), lv = Math.log10(v);
        if (lv >= lo - 1e-9 && lv <= hi + 1e-9) ticks.push(v);
      });
    }
    if (ticks.length > 12) ticks = ticks.filter(function (v) { return Math.abs(Math.log10(v) % 1) < 1e-9; });
    ticks.forEach(function (v) {
      var x = X(v);
      el("line", {x1: x, x2: x, y1: T + ph, y2: T + ph + 4, "class": "axis"}, s);
      el("text", {x: x, y: T + ph + 16, "text-anchor": "middle"}, s, fmt(v) + (opts.unit || ""));
    });
    if (opts.mark !== undefined && Math.log10(opts.mark) >= lo && Math.log10(opts.mark) <= hi) {
      var mx = X(opts.mark);
      el("line", {x1: mx, x2: mx, y1: T, y2: T + ph, stroke: "#e5484d", "stroke-dasharray": "4 3"}, s);
      el("text", {x: mx + 4, y: T + 10, fill: "#e5484d"}, s, opts.markLabel || "");
    }
    el("line", {x1: L, x2: w - R, y1: T + ph, y2: T + ph, "class": "axis"}, s);
    el("text", {x: L + pw / 2, y: h - 6, "text-anchor": "middle", "class": "muted"}, s, opts.xlabel || "");
    return s;
  }

  function funnel() {
    var items = data.case_funnel.filter(function (r) { return r.count > 0 || !r.stage; }).map(function (r) {
      var label = r.status + (r.stage ? " @ " + r.stage : "");
      return {label: label, value: r.count, color: STATUS_COLOR[r.status] || "#667085",
              text: r.count.toLocaleString("en-US") + " (" + r.percent.toFixed(1) + "%)",
              title: label + ": " + r.count + " cases, " + r.percent.toFixed(2) + "%"};
    });
    hbars("funnel-chart", items, {label: "case funnel", labelW: 160, textW: 110});
  }

  function rates() {
    var items = data.rates.map(function (r) {
      return {label: r.label, value: r.pct_of_all || 0, color: "#3b63d9",
              text: (r.pct_of_all === null ? "\u2014" : r.pct_of_all.toFixed(1) + "%") + " (" +
                    (r.pct_of_runnable === null ? "\u2014" : r.pct_of_runnable.toFixed(1) + "%") + " of runnable)",
              title: r.label + ": " + r.count + " of " + r.total + " cases (" + r.runnable + " runnable)"};
    });
    hbars("rates-chart", items, {label: "rates", labelW: 200, textW: 150, max: 100});
  }

  function breaks() {
    var items = data.break_reasons.slice(0, 15).map(function (b) {
      return {label: (b.ids.length ? b.ids[0] + " " : "") + b.reason, value: b.cases, color: "#e5484d",
              title: b.reason + "\n(example: " + b.example + ")\n" + b.cases + " cases, " + b.breaks + " breaks"};
    });
    hbars("break-reasons-chart", items, {label: "graph-break reasons", labelW: 260});
    var buckets = data.graph_break_buckets.map(function (b) {
      return {label: b.breaks + " break" + (b.breaks === "1" ? "" : "s"), value: b.count,
              color: b.breaks === "0" ? "#2f9e5b" : "#f08c2e"};
    });
    hbars("breaks-per-module-chart", buckets, {label: "graph breaks per module", labelW: 90});
  }

  // Training and dynamic-shape runs only: their hosts exist only on those pages.
  function checkCharts() {
    if (document.getElementById("checks-chart-host")) {
      hbars("checks-chart", data.checks.map(function (c) {
        return {label: c.check, value: c.pct_of_runnable || 0, color: "#3b63d9",
                text: (c.pct_of_runnable === null ? "\u2014" : c.pct_of_runnable.toFixed(1) + "%") + " of " +
                      c.runnable + " runnable", title: c.run + ": " + c.passed + " pass of " + c.cases};
      }), {label: "pass rate by check", labelW: 120, textW: 170, max: 100});
    }
    if (data.recompiles && document.getElementById("recompiles-chart-host")) {
      hbars("recompiles-chart", data.recompiles.buckets.map(function (b) {
        return {label: b.recompiles + " recompile" + (b.recompiles === "1" ? "" : "s"), value: b.count,
                color: b.recompiles === "0" ? "#2f9e5b" : "#f08c2e"};
      }), {label: "recompiles per case", labelW: 110});
      hbars("recompile-reasons-chart", data.recompiles.reasons.slice(0, 15).map(function (r) {
        return {label: r.reason, value: r.cases, color: "#e5484d",
                title: r.reason + "\n(example: " + r.example + ")\n" + r.cases + " cases, " + r.recompiles + " recompiles"};
      }), {label: "recompile reasons", labelW: 260});
    }
    if (data.export && document.getElementById("export-funnel-chart-host")) {
      hbars("export-funnel-chart", data.checks.filter(function (c) { return c.run === data.run.id; }).map(function (c) {
        return {label: c.check, value: c.pct_of_runnable || 0, color: "#3b63d9",
                text: (c.pct_of_runnable === null ? "\u2014" : c.pct_of_runnable.toFixed(1) + "%") + " of " +
                      c.runnable + " runnable", title: c.passed + " pass of " + c.runnable + " runnable"};
      }), {label: "export doors", labelW: 150, textW: 170, max: 100});
      hbars("export-classes-chart", data.export.classes.nonstrict.map(function (c) {
        return {label: c["class"], value: c.count, color: "#e5484d"};
      }), {label: "failure classes", labelW: 160});
    }
    if (data.training && document.getElementById("backward-graphs-chart-host")) {
      hbars("backward-graphs-chart", data.training.backward_graphs.map(function (g) {
        return {label: g.graphs + " backward graph" + (g.graphs === "1" ? "" : "s"), value: g.count, color: "#3b63d9"};
      }), {label: "backward graphs per case", labelW: 150});
    }
  }

  // Rates over runs (report --history): x = runs in time order, one colour per check,
  // pass % solid, capture % dashed, both over the check's same cases.
  function historyChart() {
    if (!document.getElementById("history-chart-host") || !data.history) return;
    var COLORS = ["#3b63d9", "#e5484d", "#2f9e5b", "#9b7bd4", "#f08c2e"];
    var all = [];
    data.history.forEach(function (h) { h.runs.forEach(function (r) { all.push(r); }); });
    all.sort(function (a, b) { return (a.started_at || "") < (b.started_at || "") ? -1 : (a.started_at || "") > (b.started_at || "") ? 1 : 0; });
    var pos = {};
    all.forEach(function (r, i) { pos[r.check + "\u0000" + r.run] = i; });
    var w = 620, h = 300, L = 44, R = 16, T = 30, B = 70, pw = w - L - R, ph = h - T - B;
    var s = svg("history-chart", w, h, "pass and capture rates over runs");
    function X(i) { return all.length > 1 ? L + pw * i / (all.length - 1) : L + pw / 2; }
    function Y(v) { return T + ph - ph * v / 100; }
    for (var t = 0; t <= 4; t++) {
      var y = Y(25 * t);
      el("line", {x1: L, x2: w - R, y1: y, y2: y, "class": "grid"}, s);
      el("text", {x: L - 6, y: y + 4, "text-anchor": "end", "class": "muted"}, s, (25 * t) + "%");
    }
    all.forEach(function (r, i) {
      var lab = r.run.length > 22 ? r.run.slice(0, 21) + "\u2026" : r.run;
      el("text", {x: X(i), y: T + ph + 14, "text-anchor": "end", transform: "rotate(-25 " + X(i) + " " + (T + ph + 14) + ")",
                  "class": "muted"}, s, lab);
    });
    data.history.forEach(function (hc, k) {
      var color = COLORS[k % COLORS.length];
      [["pass_pct", ""], ["capture_pct", "5 4"]].forEach(function (m) {
        var pts = hc.runs.filter(function (r) { return r[m[0]] !== null; }).map(function (r) {
          return [X(pos[hc.check + "\u0000" + r.run]), Y(r[m[0]]), r];
        });
        if (pts.length > 1) {
          el("polyline", {points: pts.map(function (p) { return p[0] + "," + p[1]; }).join(" "), fill: "none",
                          stroke: color, "stroke-width": 2, "stroke-dasharray": m[1]}, s);
        }
        pts.forEach(function (p) {
          var c = el("circle", {cx: p[0], cy: p[1], r: 3.5, fill: m[1] ? "#fff" : color, stroke: color,
                                "stroke-width": 1.5, "class": "history-point"}, s);
          tip(c, hc.check + " " + p[2].run + ": " + (m[0] === "pass_pct" ? "pass " : "capture ") +
                 p[2][m[0]].toFixed(1) + "% of " + p[2].runnable + " runnable (" + p[2].same_cases + " same cases)");
        });
      });
      el("text", {x: L + 4 + 190 * k, y: 14, fill: color}, s, "\u2014 " + hc.check + " pass   \u2012 \u2012 capture");
    });
    el("line", {x1: L, x2: w - R, y1: T + ph, y2: T + ph, "class": "axis"}, s);
  }

  function projectTable() {
    var cols = data.project_columns, rows = data.projects.slice(), table = document.getElementById("projects");
    var state = {col: "cases", desc: true, q: ""};
    var thead = table.createTHead(), tr = thead.insertRow();
    cols.forEach(function (c) {
      var th = document.createElement("th");
      th.textContent = c.label; th.dataset.col = c.key;
      if (c.key !== "project") th.className = "n";
      th.addEventListener("click", function () {
        if (state.col === c.key) state.desc = !state.desc; else { state.col = c.key; state.desc = c.key !== "project"; }
        draw();
      });
      tr.appendChild(th);
    });
    var tbody = table.createTBody();
    function cell(v, key) {
      if (v === null || v === undefined) return "\u2014";
      if (/_pct$/.test(key)) return v.toFixed(1) + "%";
      if (typeof v === "number") return key === "project" ? String(v) : fmt(v);
      return String(v);
    }
    function draw() {
      var q = state.q.toLowerCase();
      var shown = rows.filter(function (r) { return !q || r.project.toLowerCase().indexOf(q) >= 0; });
      shown.sort(function (a, b) {
        var x = a[state.col], y = b[state.col];
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        var c = x < y ? -1 : x > y ? 1 : 0;
        if (c === 0) return a.project < b.project ? -1 : 1;
        return state.desc ? -c : c;
      });
      var limit = 1000;
      tbody.textContent = "";
      shown.slice(0, limit).forEach(function (r) {
        var row = tbody.insertRow();
        cols.forEach(function (c) {
          var td = row.insertCell();
          td.textContent = cell(r[c.key], c.key);
          if (c.key !== "project") td.className = "n";
        });
      });
      document.getElementById("projects-note").textContent =
        shown.length > limit ? ("showing " + limit + " of " + shown.length + " projects") :
        (shown.length + " project" + (shown.length === 1 ? "" : "s"));
      Array.prototype.forEach.call(thead.rows[0].cells, function (th) {
        th.className = (th.dataset.col !== "project" ? "n " : "") + (th.dataset.col === state.col ? "sorted" + (state.desc ? "" : " asc") : "");
      });
    }
    document.getElementById("projects-filter").addEventListener("input", function (e) { state.q = e.target.value; draw(); });
    draw();
    table.setAttribute("data-rendered", "1");
  }

  funnel();
  rates();
  histogram("compile-hist", data.histograms.compile_s,
            {label: "compile time histogram", unit: "s", xlabel: "backend compile time (s, log scale)", color: "#3b63d9"});
  histogram("speedup-hist", data.histograms.speedup,
            {label: "speedup histogram", unit: "\u00d7", xlabel: "speedup over eager (log scale)", color: "#2f9e5b",
             mark: 1, markLabel: "1\u00d7"});
  breaks();
  checkCharts();
  historyChart();
  projectTable();
  document.body.setAttribute("data-rendered", "1");
  document.body.setAttribute("data-charts", String(rendered));
  console.log("graphcrawl: rendered " + rendered + " charts");
})();
"""

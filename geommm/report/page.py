"""The static parts of the HTML report: stylesheet, page skeleton and the embed script.

Kept apart from the assembly logic so the look can change without touching
how sections are built.
"""

from __future__ import annotations

CSS = """
:root { --ink:#1f2933; --muted:#52606d; --line:#e4e7eb; --accent:#2f6fb3; --bad:#c62828; }
* { box-sizing: border-box; }
body { font-family: Helvetica, Arial, sans-serif; color: var(--ink); margin: 0;
       background: #f7f8fa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 40px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 6px; color: var(--muted); }
p.intro, p.note, .meta { color: var(--muted); font-size: 13px; }
nav.toc { font-size: 13px; margin: 12px 0 8px; }
nav.toc a { color: var(--accent); margin-right: 14px; text-decoration: none; }
dl.header { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; font-size: 14px; }
dl.header dt { font-weight: bold; color: var(--muted); }
dl.header dd { margin: 0; }
code { font-family: Menlo, Consolas, monospace; font-size: 13px; background: #f1f3f5;
       padding: 1px 4px; border-radius: 3px; white-space: pre-wrap; word-break: break-word; }
.banner { border-radius: 6px; padding: 12px 16px; margin: 16px 0; font-size: 14px; }
.banner.bad { background: #fdecea; border: 2px solid var(--bad); color: #7f1d1d; }
.banner.ok { background: #edf7ee; border: 1px solid #2e7d32; color: #1b5e20; }
.banner.note { background: #fff8e1; border: 1px solid #b08900; color: #5d4200; }
.banner ul { margin: 6px 0 0 18px; padding: 0; }
.chart-box { margin: 12px 0 24px; overflow-x: auto; }
.chart { min-height: 40px; }
.chart form.vega-bindings, .chart .vega-bindings { font-size: 13px; margin: 4px 0 8px; }
.error { background: #fdecea; border: 1px solid var(--bad); color: #7f1d1d; border-radius: 6px;
         padding: 10px 14px; margin: 12px 0; font-size: 13px; white-space: pre-wrap; }
.table-wrap { overflow-x: auto; margin: 8px 0 20px; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; font-weight: bold; color: var(--muted); padding: 4px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); }
thead th { border-bottom: 2px solid #cbd2d9; background: #f7f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.txt, th.txt { text-align: left; }
td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 16em; max-width: 34em; }
table.kv th { font-weight: normal; color: var(--muted); }
section.headline { border: 2px solid var(--accent); border-radius: 8px; padding: 10px 18px;
                   margin: 14px 0; background: #f4f8fc; }
section.headline h2 { border: 0; margin: 4px 0 6px; padding: 0; font-size: 19px; }
section.headline ul { margin: 0; padding-left: 18px; font-size: 15px; line-height: 1.45; }
section.headline li { margin: 5px 0; }
section.headline li.bad { color: #7f1d1d; }
section.headline li.good strong { color: #1b5e20; }
footer { margin-top: 48px; font-size: 12px; color: var(--muted); }
"""

#: Renders every ``div.chart`` from the JSON spec named in its data-spec attribute.
EMBED_SCRIPT = """
(function () {
  var options = {renderer: "svg", mode: "vega-lite",
                 actions: {export: true, source: false, compiled: false, editor: false}};
  var charts = document.querySelectorAll("div.chart[data-spec]");
  charts.forEach(function (el) {
    var spec;
    try {
      spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
    } catch (err) { fail(el, err); return; }
    vegaEmbed(el, spec, options).catch(function (err) { fail(el, err); });
  });
  function fail(el, err) {
    el.innerHTML = "";
    var box = document.createElement("div");
    box.className = "error";
    box.textContent = "This chart could not be drawn in the browser: " + err;
    el.appendChild(box);
    el.setAttribute("data-failed", "true");
    console.error(err);
  }
})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="geommm {version}">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p class="meta">Generated {generated} by geommm {version}. This file works offline.</p>
{header}
{toc}
{sections}
<footer>Intervals are posterior highest-density intervals (HDI) unless stated otherwise.
ROI = incremental KPI per unit of spend; marginal ROI = the same for the next small
increase of spend.</footer>
</main>
<script>{bundle}</script>
<script>{embed}</script>
</body>
</html>
"""

"""The report page: static HTML text for every chart, the chart data as JSON, inline assets.

A Content-Security-Policy meta tag forbids every fetch (``default-src 'none'``),
so a chart that needed the network would fail to draw rather than quietly
depend on it; only the inline style and script run.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from retention_warehouse.report.assets import SCRIPT, STYLE
from retention_warehouse.report.data import Report

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:; base-uri 'none'; form-action 'none'")


def _value(tile: dict[str, Any]) -> str:
    """A headline figure, one decimal for rates, thousands separators for counts."""
    value = tile["value"]
    if value is None:
        return "n/a"
    text = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
    return f"{text} {tile['unit']}".strip()


def _figure(chart: dict[str, Any]) -> str:
    """The static part of one chart: heading, definition, plot slot and caption."""
    return (
        f'<figure id="figure-{escape(chart["id"])}" data-chart="{escape(chart["id"])}">'
        f'<h2>{escape(chart["title"])}</h2>'
        f'<p class="definition">{escape(chart["definition"])}</p>'
        + (f'<p class="source-note">{escape(chart["note"])}</p>' if chart.get("note") else "")
        + f'<div class="plot"></div>'
        f'<figcaption>Source: {escape(chart["source"])} · as of {escape(chart["as_of"])}'
        f"</figcaption></figure>"
    )


def render_page(report: Report) -> str:
    """The whole self-contained HTML document."""
    data = json.dumps({"as_of": report.as_of_date, "charts": report.charts},
                      ensure_ascii=False, allow_nan=False).replace("</", "<\\/")
    tiles = "".join(
        f'<div class="tile"><div class="value">{escape(_value(tile))}</div>'
        f'<div class="label">{escape(tile["label"])}</div></div>' for tile in report.headline)
    figures = "\n".join(_figure(chart) for chart in report.charts)
    title = f"Customer retention report — as of {report.as_of_date}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p>Built from the marts of {escape(report.warehouse)} on {escape(report.generated_at)}.
Every figure uses data on or before {escape(report.as_of_date)}; definitions follow the metric
contract (docs/metrics.md). Hover a mark for its value.</p>
</header>
<noscript><p>The charts are drawn by the page's inline script: enable JavaScript to see them.
</p></noscript>
<section class="headline">{tiles}</section>
<main>
{figures}
</main>
<script type="application/json" id="report-data">{data}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""

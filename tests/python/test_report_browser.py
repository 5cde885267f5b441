"""The HTML report opens offline in headless Chromium and draws every KPI chart.

``retention report`` is run on the session warehouse; Debian's ``chromium``
(installed by ``scripts/ensure_system_packages.sh`` in ``make test``) loads the
file with every host unresolvable and dumps the DOM after the inline script
ran. The charts the report must show are listed here, not read from the
report; mark counts are recounted from the marts. A second render with one
chart removed and one emptied proves the check catches a missing chart.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import BuiltWarehouse

RETENTION = Path(sys.executable).with_name("retention")

# Every chart the report must draw (issue 8): id -> what it shows.
EXPECTED_CHARTS = {
    "retention_churn": "retention, strict retention and churn rate over time",
    "active_customers": "active, new and lost customers over time",
    "cohort_heatmap": "cohort retention heatmap",
    "cltv_distribution": "historical CLTV distribution",
    "cltv_by_channel": "CLTV by acquisition channel (segments)",
    "tier_mix": "loyalty tier mix over time",
    "churn_reasons": "churn-reason breakdown",
    "nps_csat": "NPS and CSAT trends",
    "ces": "CES trend",
    "aov": "average order value over time",
    "purchase_frequency": "purchase frequency over time",
    "referral_rate": "referral rate over time",
    # issue 17
    "rfm_grid": "customers by RFM recency x frequency score, with segments",
    "holdout_by_frequency": "holdout check: predicted vs actual purchases by frequency",
    "p_alive_calibration": "holdout check: P(alive) against buying again",
}

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no host resolves
)

# A reference that would make the browser fetch something from the network.
NETWORK_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import)|(?:<link\b)""", re.IGNORECASE)


@dataclass
class RenderedReport:
    """What Chromium made of the report: chart SVGs, their marks, body flags, console."""

    marks: dict[str, int] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    body: dict[str, str] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)

    def missing_charts(self) -> list[str]:
        """Expected charts with no SVG or no data mark in the rendered page."""
        return [chart for chart in EXPECTED_CHARTS if self.marks.get(chart, 0) == 0]


class _DomReader(HTMLParser):
    """Counts ``class="mark"`` elements inside each ``svg#chart-<id>`` and reads figure text."""

    def __init__(self, rendered: RenderedReport) -> None:
        super().__init__()
        self.rendered = rendered
        self.chart: str | None = None
        self.depth = 0
        self.figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "body":
            self.rendered.body = attributes
        if tag == "figure":
            self.figure = attributes.get("data-chart")
            self.rendered.figures[self.figure or ""] = ""
        if tag == "svg" and attributes.get("id", "").startswith("chart-"):
            self.chart = attributes["id"].removeprefix("chart-")
            self.rendered.marks[self.chart] = 0
            self.depth = 0
        elif self.chart is not None:
            self.depth += 1
            if "mark" in attributes.get("class", "").split():
                self.rendered.marks[self.chart] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self.figure = None
        if self.chart is not None:
            if self.depth == 0 and tag == "svg":
                self.chart = None
            else:
                self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.figure and self.chart is None:
            self.rendered.figures[self.figure] += data


def _chromium() -> str:
    """Debian's chromium; a clear failure (never a skip) when it is not installed."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: run `bash scripts/ensure_system_packages.sh` "
                    "(make test does) to install Debian's chromium package")
    return found


def render(html_path: Path, profile_dir: Path) -> RenderedReport:
    """Open ``html_path`` in headless Chromium and read the DOM after the scripts ran."""
    result = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "--dump-dom",
         html_path.resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0 and "<body" in result.stdout, \
        f"chromium failed ({result.returncode}):\n{result.stderr[-3000:]}"
    rendered = RenderedReport(console=[line for line in result.stderr.splitlines()
                                       if ":CONSOLE" in line])
    reader = _DomReader(rendered)
    reader.feed(result.stdout)
    reader.close()
    return rendered


@pytest.fixture(scope="module")
def report_path(warehouse: BuiltWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``retention report`` run on the session warehouse."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = subprocess.run([str(RETENTION), "report", "--db", str(warehouse.db_path),
                             "--out", str(out)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"retention report failed:\n{result.stdout}{result.stderr}"
    assert out.is_file()
    return out


@pytest.fixture(scope="module")
def rendered(report_path: Path, tmp_path_factory: pytest.TempPathFactory) -> RenderedReport:
    """The report as headless Chromium rendered it."""
    return render(report_path, tmp_path_factory.mktemp("chromium_profile"))


def test_every_chart_draws_in_headless_chromium(rendered: RenderedReport) -> None:
    """Each expected chart has its SVG with data marks; the script ran without an error."""
    assert rendered.missing_charts() == [], f"charts not drawn: {rendered.missing_charts()}"
    assert "data-render-errors" not in rendered.body, rendered.body["data-render-errors"]
    assert rendered.body.get("data-charts-rendered") == str(len(EXPECTED_CHARTS))
    assert rendered.console == [], "console messages (errors, refused fetches):\n" + \
        "\n".join(rendered.console)


def test_chart_marks_match_the_marts(rendered: RenderedReport, warehouse: BuiltWarehouse) -> None:
    """Heatmap cells, rate points and tier segments drawn = rows of the marts behind them."""
    [(cohort_cells,)] = warehouse.query(
        "select count(retention_pct) from marts.fct_cohort_retention "
        "where cohort_type = 'acquisition' and acquisition_channel = 'all'")
    [(rate_points,)] = warehouse.query(
        "select count(customer_retention_rate) + count(strict_retention_rate) "
        "+ count(churn_rate) from marts.fct_retention_kpis where segment_type = 'total'")
    [(tier_segments,)] = warehouse.query(
        "select count(*) from (select distinct month_start, tier_name "
        "from marts.fct_customer_tiers)")
    [(channels,)] = warehouse.query(
        "select count(distinct segment_value) from marts.fct_lifetime_value_segments "
        "where segment_type = 'acquisition_channel' and predicted_cltv is not null")
    assert cohort_cells > 0 and rate_points > 0 and tier_segments > 0 and channels > 0
    assert rendered.marks["cohort_heatmap"] == cohort_cells
    assert rendered.marks["retention_churn"] == rate_points
    assert rendered.marks["tier_mix"] == tier_segments
    assert rendered.marks["cltv_by_channel"] == 2 * channels  # historical + predicted bars
    [(rfm_cells,)] = warehouse.query(
        "select count(*) from (select distinct recency_score, frequency_score "
        "from marts.fct_customer_predictions)")
    assert rendered.marks["rfm_grid"] == rfm_cells > 0  # one cell per non-empty score pair


def test_each_chart_states_its_definition_and_as_of_date(
        rendered: RenderedReport, warehouse: BuiltWarehouse) -> None:
    """Every figure carries a definition and the warehouse's as-of date."""
    [(as_of,)] = warehouse.query("select cast(max(as_of_date) as varchar) "
                                 "from marts.dim_customers")
    for chart in EXPECTED_CHARTS:
        text = rendered.figures.get(chart, "")
        assert f"as of {as_of}" in text, f"{chart}: no as-of date in {text[-200:]!r}"
        assert "=" in text or "Share" in text, f"{chart}: no definition in {text[:200]!r}"


def test_report_needs_no_network(report_path: Path) -> None:
    """One file, nothing to fetch: no external src/href/url/@import, and a CSP forbidding it."""
    html = report_path.read_text(encoding="utf-8")
    assert NETWORK_REFERENCE.findall(html) == []
    assert "default-src 'none'" in html


def test_a_missing_or_empty_chart_fails_the_check(report_path: Path, tmp_path: Path) -> None:
    """The browser check notices a chart whose spec is gone or whose data is empty."""
    html = report_path.read_text(encoding="utf-8")
    match = re.search(r'(<script type="application/json" id="report-data">)(.*?)(</script>)',
                      html, re.DOTALL)
    assert match, "the report has no embedded chart data"
    data = json.loads(match.group(2))
    data["charts"] = [chart for chart in data["charts"] if chart["id"] != "tier_mix"]
    for chart in data["charts"]:
        if chart["id"] == "churn_reasons":
            chart["series"][0]["values"] = [None for _ in chart["series"][0]["values"]]
    broken = tmp_path / "broken.html"
    broken.write_text(html[:match.start(2)] + json.dumps(data).replace("</", "<\\/")
                      + html[match.end(2):], encoding="utf-8")
    result = render(broken, tmp_path / "profile")
    assert sorted(result.missing_charts()) == ["churn_reasons", "tier_mix"]


def test_report_without_a_warehouse_fails_with_a_clear_message(tmp_path: Path) -> None:
    """A missing warehouse file: exit code 1 and one line saying what to do, no traceback."""
    result = subprocess.run([str(RETENTION), "report", "--db", str(tmp_path / "none.duckdb"),
                             "--out", str(tmp_path / "r.html")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "retention build" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_exposure_declares_every_mart_the_report_reads(
        rendered: RenderedReport, warehouse: BuiltWarehouse) -> None:
    """The ``retention_report`` exposure depends on each mart named in a chart's source."""
    exposure = warehouse.dbt_manifest["exposures"]["exposure.retention_warehouse.retention_report"]
    declared = {node.rsplit(".", 1)[-1] for node in exposure["depends_on"]["nodes"]}
    read = {name for text in rendered.figures.values()
            for name in re.findall(r"marts\.(\w+)", text)}
    assert read, "no chart names its source mart"
    assert read <= declared, f"marts read but not declared: {sorted(read - declared)}"

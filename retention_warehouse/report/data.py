"""Chart data for the HTML report, read from the marts only (read-only connection).

Each chart is a plain JSON-ready dictionary (``id``, ``kind``, ``title``,
``definition``, ``source`` and the data its kind needs); ``page.py`` embeds them
and the inline script draws them. Definitions quote docs/metrics.md, so a reader
sees on the chart what the number means.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from retention_warehouse.failures import first_line
from retention_warehouse.warehouse_file import WarehouseFileError, open_read_only

Chart = dict[str, Any]

CLTV_BINS = 20
DEFAULT_HOLDOUT_DAYS = 180  # the calibration charts' holdout window (retention predict-check)
CHURN_REASON_MONTHS = 12
TIER_ORDER = ("bronze", "silver", "gold", "vip")


class ReportError(Exception):
    """The warehouse cannot feed the report (missing file, missing mart, no rows)."""


@dataclass
class Report:
    """Everything the page shows: the as-of date, headline figures and the charts."""

    as_of_date: str
    warehouse: str
    generated_at: str
    headline: list[dict[str, Any]] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


def _plain(value: Any) -> Any:
    """A JSON-ready value: Decimal to float, dates to ISO text, NaN to None."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str,
          parameters: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of one query as dictionaries of plain values."""
    cursor = con.execute(sql, parameters or [])
    names = [column[0] for column in cursor.description]
    return [{name: _plain(value) for name, value in zip(names, row, strict=True)}
            for row in cursor.fetchall()]


def _connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or a ReportError saying what to do."""
    if not db_path.is_file():
        raise ReportError(f"no warehouse file at {db_path}: run `retention build` first "
                          "or pass --db PATH")
    try:
        return open_read_only(db_path)
    except WarehouseFileError as error:
        raise ReportError(str(error)) from None


# --- one function per chart (or pair of charts) -------------------------------------------


def _kpi_charts(kpis: list[dict[str, Any]], as_of: str) -> list[Chart]:
    """Line charts over the period KPIs of the whole customer base."""
    periods = [row["period_start"] for row in kpis]
    in_progress = [row["period_start"] for row in kpis if not row["is_complete_period"]]
    note = (f" The period {in_progress[0]} is in progress (to {as_of})." if in_progress else "")

    def line(chart_id: str, title: str, definition: str, series: list[tuple[str, str]],
             y_label: str, decimals: int, y_min: float | None = None,
             y_max: float | None = None) -> Chart:
        return {
            "id": chart_id, "kind": "line", "title": title, "definition": definition + note,
            "source": "marts.fct_retention_kpis (segment_type = 'total')",
            "x": periods,
            "series": [{"name": name, "values": [row[column] for row in kpis]}
                       for name, column in series],
            "y": {"label": y_label, "decimals": decimals, "min": y_min, "max": y_max},
        }

    return [
        line("retention_churn", "Customer retention and churn rate by period",
             "Retention rate = ((E − N) / S) × 100; strict retention = ((S − L) / S) × 100; "
             "churn rate = (L / S) × 100, where S / E = customers active at the period "
             "start / end, N = new, L = lost (active at the start, not at the end). "
             "NULL (a gap) when S = 0.",
             [("Customer retention rate", "customer_retention_rate"),
              ("Strict retention rate", "strict_retention_rate"),
              ("Churn rate", "churn_rate")], "% of S", 1, 0, None),
        line("active_customers", "Active, new and lost customers by period",
             "Active = customers active at the period end (a purchase in the last 180 days, "
             "no closure); new = first purchase in the period; lost = active at the start "
             "and not at the end.",
             [("Active at end (E)", "customers_at_end"), ("New (N)", "new_customers"),
              ("Lost (L)", "lost_customers")], "customers", 0, 0, None),
        line("aov", "Average order value by period",
             "AOV = net revenue / purchases in the period (completed orders with net amount "
             "> 0, refunds deducted), in the reporting currency.",
             [("AOV", "average_order_value")], "net revenue per purchase", 2, 0, None),
        line("purchase_frequency", "Purchase frequency by period",
             "Purchase frequency = purchases / distinct purchasing customers in the period.",
             [("Purchase frequency", "purchase_frequency")], "purchases per buyer", 2, 0, None),
        line("referral_rate", "Referral rate by period",
             "Referral rate = new customers acquired through a referral / new customers × 100. "
             "NULL (a gap) when there is no new customer.",
             [("Referral rate", "referral_rate")], "% of new customers", 1, 0, None),
        line("nps_csat", "NPS and CSAT by period",
             "NPS = % promoters (9–10) − % detractors (0–6) of the period's NPS responses "
             "(−100..100); CSAT = % of CSAT responses (1–5) scoring 4 or 5. Gaps: no response.",
             [("NPS", "nps"), ("CSAT %", "csat")], "score", 1, None, 100),
        line("ces", "Customer effort score by period",
             "CES = mean of the period's CES responses (1–7, 7 = easiest). Gaps: no response.",
             [("CES", "ces")], "mean score (1–7)", 2, 1, 7),
    ]


def _cohort_heatmap(cohorts: list[dict[str, Any]]) -> Chart:
    """Classic retention by acquisition cohort (rows) and period number k (columns)."""
    cohort_starts = sorted({row["cohort_period_start"] for row in cohorts})
    max_k = max((row["period_number"] for row in cohorts), default=-1)
    index = {start: position for position, start in enumerate(cohort_starts)}
    values: list[list[float | None]] = [[None] * (max_k + 1) for _ in cohort_starts]
    sizes = [0] * len(cohort_starts)
    for row in cohorts:
        values[index[row["cohort_period_start"]]][row["period_number"]] = row["retention_pct"]
        sizes[index[row["cohort_period_start"]]] = row["cohort_size"]
    return {
        "id": "cohort_heatmap", "kind": "heatmap",
        "title": "Cohort retention (acquisition cohorts)",
        "definition": "retention_pct(k) = cohort customers with ≥ 1 purchase in period "
                      "cohort + k / cohort size × 100; k = 0 is 100 % by definition. Periods "
                      "after the as-of date are blank, never zero.",
        "source": "marts.fct_cohort_retention (cohort_type = 'acquisition', all channels)",
        "rows": cohort_starts, "row_sizes": sizes,
        "cols": list(range(max_k + 1)), "values": values,
        "y": {"label": "acquisition cohort", "decimals": 0},
        "x_label": "periods since acquisition (k)",
    }


def _cltv_histogram(values: list[float]) -> Chart:
    """Distribution of historical CLTV per customer (known CAC only)."""
    ordered = sorted(values)
    low = math.floor(ordered[0]) if ordered else 0.0
    high = ordered[int(0.99 * (len(ordered) - 1))] if ordered else 1.0
    width = max((high - low) / CLTV_BINS, 1.0)
    counts = [0] * CLTV_BINS
    for value in ordered:
        counts[min(int((value - low) // width), CLTV_BINS - 1)] += 1
    labels = [f"{low + position * width:,.0f}" for position in range(CLTV_BINS)]
    labels[-1] = f"≥ {low + (CLTV_BINS - 1) * width:,.0f}"
    return {
        "id": "cltv_distribution", "kind": "bars",
        "title": "Historical CLTV per customer: distribution",
        "definition": "Historical CLTV = the customer's net revenue − CAC of their acquisition "
                      "channel and month. Customers with an unknown CAC (organic, no spend "
                      f"loaded) are left out: {len(ordered):,} customers shown; the last bin "
                      "holds the top 1 %.",
        "source": "marts.fct_customer_lifetime_value",
        "x": labels, "series": [{"name": "Customers", "values": counts}],
        "y": {"label": "customers", "decimals": 0, "min": 0},
        "x_label": "historical CLTV (bin lower bound, reporting currency)",
    }


def _cltv_by_channel(segments: list[dict[str, Any]]) -> Chart:
    """Mean historical and predicted CLTV per acquisition channel."""
    return {
        "id": "cltv_by_channel", "kind": "bars",
        "title": "CLTV by acquisition channel",
        "definition": "Mean historical CLTV (net revenue − CAC) of the channel's customers with "
                      "a known CAC, and predicted CLTV = AOV × purchases per customer per year × "
                      "expected lifespan (1 / annual churn rate) − CAC. Missing bar: CAC "
                      "unknown (e.g. organic).",
        "source": "marts.fct_customer_lifetime_value, marts.fct_lifetime_value_segments",
        "x": [row["channel"] for row in segments],
        "series": [
            {"name": "Mean historical CLTV", "values": [row["historical"] for row in segments]},
            {"name": "Predicted CLTV", "values": [row["predicted"] for row in segments]},
        ],
        "y": {"label": "reporting currency", "decimals": 0, "min": 0},
        "x_label": "acquisition channel",
    }


def _tier_mix(tiers: list[dict[str, Any]]) -> Chart:
    """Share of customers per loyalty tier at each month end."""
    months = sorted({row["month_start"] for row in tiers})
    names = sorted({row["tier_name"] for row in tiers},
                   key=lambda name: (TIER_ORDER.index(name) if name in TIER_ORDER else 99, name))
    totals: dict[str, int] = {}
    counts: dict[tuple[str, str], int] = {}
    for row in tiers:
        totals[row["month_start"]] = totals.get(row["month_start"], 0) + row["customers"]
        counts[(row["month_start"], row["tier_name"])] = row["customers"]
    return {
        "id": "tier_mix", "kind": "stacked",
        "title": "Loyalty tier mix by month",
        "definition": "Share of acquired customers in each tier at the month end; the tier is "
                      "set by trailing-12-month net spend against the loyalty_tiers thresholds "
                      "(lower bound inclusive).",
        "source": "marts.fct_customer_tiers",
        "x": months,
        "series": [{"name": name, "values": [
            round(100.0 * counts.get((month, name), 0) / totals[month], 3) for month in months]}
            for name in names],
        "y": {"label": "% of customers", "decimals": 1, "min": 0, "max": 100},
    }


def _churn_reasons(reasons: list[dict[str, Any]], first_period: str) -> Chart:
    """Share of churned customers per exit-survey reason over the last twelve periods."""
    return {
        "id": "churn_reasons", "kind": "hbars",
        "title": f"Churn reasons, periods from {first_period}",
        "definition": "Share of churned (lost) customers per exit-survey reason category: "
                      "customers in the category / churned customers × 100, over the last "
                      f"{CHURN_REASON_MONTHS} periods. no_answer = churned customers who gave "
                      "no exit-survey answer.",
        "source": "marts.fct_churn_reasons",
        "x": [row["reason_category"] for row in reasons],
        "series": [{"name": "% of churned", "values": [row["share"] for row in reasons]}],
        "counts": [row["customers"] for row in reasons],
        "y": {"label": "% of churned customers", "decimals": 1, "min": 0},
    }


# --- queries --------------------------------------------------------------------------------

KPI_SQL = """
select period_start, is_complete_period, customer_retention_rate, strict_retention_rate,
    churn_rate, customers_at_end, new_customers, lost_customers, average_order_value,
    purchase_frequency, referral_rate, nps, csat, ces
from marts.fct_retention_kpis
where segment_type = 'total'
order by period_start
"""

COHORT_SQL = """
select cohort_period_start, period_number, cohort_size, retention_pct
from marts.fct_cohort_retention
where cohort_type = 'acquisition' and acquisition_channel = 'all'
"""

CLTV_SQL = """
select historical_cltv from marts.fct_customer_lifetime_value
where historical_cltv is not null
"""

CHANNEL_SQL = """
with historical as (
    select acquisition_channel as channel, avg(historical_cltv) as historical
    from marts.fct_customer_lifetime_value
    group by acquisition_channel
),
predicted as (
    select segment_value as channel, predicted_cltv as predicted
    from marts.fct_lifetime_value_segments
    where segment_type = 'acquisition_channel'
)
select historical.channel, historical.historical, predicted.predicted
from historical left join predicted on historical.channel = predicted.channel
order by historical.channel
"""

TIER_SQL = """
select month_start, tier_name, count(*) as customers
from marts.fct_customer_tiers
group by month_start, tier_name
"""

REASON_SQL = """
with recent as (
    select * from marts.fct_churn_reasons
    where period_start > cast(? as date) - interval {months} month
),
churned as (
    select sum(churned_customers) as churned
    from (select distinct period_start, churned_customers from recent)
)
select recent.reason_category, sum(recent.customers_in_category) as customers,
    100.0 * sum(recent.customers_in_category) / nullif(any_value(churned.churned), 0) as share
from recent cross join churned
group by recent.reason_category
order by share desc, recent.reason_category
"""


SOURCES_SQL = """
select source_table, effect_when_absent
from marts.dim_data_sources
where not is_landed
"""

# Which chart needs which optional raw table: without it the chart says why it is empty.
CHART_SOURCES: dict[str, tuple[str, ...]] = {
    "nps_csat": ("survey_responses",),
    "ces": ("survey_responses",),
    "churn_reasons": ("survey_responses",),
    "cltv_distribution": ("marketing_spend",),
    "cltv_by_channel": ("marketing_spend",),
}


def _source_notes(absent: dict[str, str]) -> dict[str, str]:
    """chart id -> the reason its metric is NULL (a raw table that was not landed)."""
    notes = {}
    for chart_id, tables in CHART_SOURCES.items():
        reasons = [f"No {table} files were landed: {absent[table]}."
                   for table in tables if table in absent]
        if reasons:
            notes[chart_id] = " ".join(reasons)
    return notes


def _headline(kpis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Figures of the last complete period, shown above the charts."""
    complete = [row for row in kpis if row["is_complete_period"]] or kpis
    last = complete[-1]
    return [
        {"label": f"Retention rate, {last['period_start']}",
         "value": last["customer_retention_rate"], "unit": "%"},
        {"label": f"Churn rate, {last['period_start']}", "value": last["churn_rate"],
         "unit": "%"},
        {"label": f"Active customers, end of {last['period_start']}",
         "value": last["customers_at_end"], "unit": ""},
        {"label": f"NPS, {last['period_start']}", "value": last["nps"], "unit": ""},
    ]


def load_report(db_path: Path, holdout_days: int = DEFAULT_HOLDOUT_DAYS) -> Report:
    """Query the marts of the warehouse at ``db_path`` for every chart of the report."""
    from retention_warehouse.report.predictions import calibration_charts, rfm_grid, run_holdout

    con = _connect(db_path)
    try:
        [(as_of,)] = con.execute("select max(as_of_date) from marts.dim_customers").fetchall()
        kpis = _rows(con, KPI_SQL)
        if as_of is None or not kpis:
            raise ReportError(f"the marts in {db_path} are empty: build the warehouse first")
        as_of_text = _plain(as_of)
        reason_start = _plain(con.execute(
            f"select min(period_start) from marts.fct_churn_reasons "
            f"where period_start > cast(? as date) - interval {CHURN_REASON_MONTHS} month",
            [as_of_text]).fetchone()[0])
        notes = _source_notes({row["source_table"]: row["effect_when_absent"]
                               for row in _rows(con, SOURCES_SQL)})
        charts = [
            *_kpi_charts(kpis, as_of_text),
            _cohort_heatmap(_rows(con, COHORT_SQL)),
            _cltv_histogram([row["historical_cltv"] for row in _rows(con, CLTV_SQL)]),
            _cltv_by_channel(_rows(con, CHANNEL_SQL)),
            _tier_mix(_rows(con, TIER_SQL)),
            _churn_reasons(_rows(con, REASON_SQL.format(months=CHURN_REASON_MONTHS),
                                 [as_of_text]), reason_start),
            rfm_grid(con),
            *calibration_charts(run_holdout(con, as_of_text, holdout_days), holdout_days),
        ]
    except duckdb.CatalogException as error:
        raise ReportError(f"{db_path} lacks a mart the report reads "
                          f"({first_line(str(error))}); "
                          "run `retention build` first") from error
    finally:
        con.close()
    order = ("retention_churn", "active_customers", "cohort_heatmap", "cltv_distribution",
             "cltv_by_channel", "rfm_grid", "holdout_by_frequency", "p_alive_calibration",
             "tier_mix", "churn_reasons", "nps_csat", "ces", "aov", "purchase_frequency",
             "referral_rate")
    charts.sort(key=lambda chart: order.index(chart["id"]))
    for chart in charts:
        chart["as_of"] = as_of_text
        if chart["id"] in notes:
            chart["note"] = notes[chart["id"]]
    return Report(as_of_date=as_of_text, warehouse=db_path.name,
                  generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                  headline=_headline(kpis), charts=charts)


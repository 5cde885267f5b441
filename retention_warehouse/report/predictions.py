"""The report's forward-looking charts: the RFM grid and the holdout calibration charts.

The RFM grid reads ``marts.fct_customer_predictions``. The calibration charts run
the holdout check (retention_warehouse.predict.holdout) on the purchases in
``marts.fct_orders``: fit on the history up to as-of minus the holdout days,
predict the days after, compare with what customers did.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from retention_warehouse.predict.check import CLOSED_SQL, PURCHASES_SQL
from retention_warehouse.predict.holdout import HoldoutResult, holdout_check
from retention_warehouse.predict.mle import FitError

Chart = dict[str, Any]
SCORES = (1, 2, 3, 4, 5)

RFM_SQL = """
select recency_score, frequency_score, rfm_segment, count(*) as customers
from marts.fct_customer_predictions
group by recency_score, frequency_score, rfm_segment
"""


def rfm_grid(con: duckdb.DuckDBPyConnection) -> Chart:
    """Customers by recency score (rows, 5 at the top) and frequency score (columns)."""
    cells = con.execute(RFM_SQL).fetchall()
    counts = {(r, f): 0 for r in SCORES for f in SCORES}
    segments: dict[tuple[int, int], dict[str, int]] = {key: {} for key in counts}
    for recency, frequency, segment, customers in cells:
        counts[(recency, frequency)] += customers
        segments[(recency, frequency)][segment] = customers
    rows = list(reversed(SCORES))

    def main_segment(key: tuple[int, int]) -> str:
        found = segments[key]
        return max(found, key=lambda name: (found[name], name)) if found else ""

    def tip(key: tuple[int, int]) -> str:
        parts = ", ".join(f"{name} {n:,}" for name, n in sorted(segments[key].items(),
                                                                  key=lambda kv: -kv[1]))
        return f"recency {key[0]}, frequency {key[1]}: {counts[key]:,} customers ({parts})"

    total = sum(counts.values())
    return {
        "id": "rfm_grid", "kind": "grid",
        "title": "Customers by RFM recency and frequency score",
        "definition": "Scores 1-5 = 1 + floor(5 × share of customers strictly worse): recency by "
                      "days since the last purchase, frequency by repeat purchase days (ties "
                      "share a score, so a column can be empty). Each cell shows its customers "
                      "and its largest RFM segment (seed rfm_segments; the monetary score splits "
                      f"cant_lose from at_risk). {total:,} customers.",
        "source": "marts.fct_customer_predictions",
        "rows": rows, "cols": list(SCORES),
        "values": [[counts[(r, f)] for f in SCORES] for r in rows],
        "labels": [[main_segment((r, f)) for f in SCORES] for r in rows],
        "tips": [[tip((r, f)) for f in SCORES] for r in rows],
        "y": {"label": "recency score (5 = most recent)", "decimals": 0},
        "x_label": "frequency score (5 = most repeat purchases)",
        "notes": ["cell: customers", "and largest segment"],
    }


def run_holdout(con: duckdb.DuckDBPyConnection, as_of: str, holdout_days: int
                ) -> HoldoutResult | str:
    """The holdout check on the warehouse's purchases, or why it could not run."""
    purchases = con.execute(PURCHASES_SQL).df()
    closed = con.execute(CLOSED_SQL).df().set_index("customer")["closed_date"]
    try:
        return holdout_check(purchases, pd.Timestamp(as_of), holdout_days, closed=closed)
    except FitError as error:
        return str(error)


def calibration_charts(result: HoldoutResult | str, holdout_days: int) -> list[Chart]:
    """Predicted vs actual purchases by frequency bucket, and P(alive) vs buying again."""
    if isinstance(result, str):
        buckets = pd.DataFrame(columns=["bucket", "predicted_per_customer",
                                        "actual_per_customer"])
        alive = pd.DataFrame(columns=["bin", "mean_p_alive", "model_p_buy", "bought_again"])
        note, cutoff = f" The check could not run: {result}.", "the cut-off"
    else:
        buckets, alive = result.by_frequency, result.by_alive
        cutoff = f"{result.cutoff:%Y-%m-%d}"
        note = (f" Fitted on {len(result.customers):,} customers up to {cutoff}: "
                f"{result.predicted_total:,.0f} purchase days predicted, "
                f"{result.actual_total:,} actual (ratio "
                f"{result.predicted_total / max(result.actual_total, 1):.2f}).")
    return [
        {
            "id": "holdout_by_frequency", "kind": "bars",
            "title": f"Holdout check: predicted vs actual purchases, last {holdout_days} days",
            "definition": "BG/NBD fitted on the purchases up to the cut-off = as-of − "
                          f"{holdout_days} days. Predicted = a customer's expected purchase days "
                          "in the window after the cut-off (conditional expectation); actual = "
                          "the purchase days they had; both averaged by repeat purchase days "
                          "before the cut-off." + note,
            "source": "marts.fct_orders, marts.dim_customers (retention predict-check)",
            "x": list(buckets["bucket"]),
            "series": [
                {"name": "Predicted per customer",
                 "values": [float(v) for v in buckets["predicted_per_customer"]]},
                {"name": "Actual per customer",
                 "values": [float(v) for v in buckets["actual_per_customer"]]},
            ],
            "y": {"label": "purchase days in the window", "decimals": 2, "min": 0},
            "x_label": f"repeat purchase days before {cutoff}",
        },
        {
            "id": "p_alive_calibration", "kind": "line",
            "title": "P(alive) at the cut-off against buying again",
            "definition": "Customers grouped by their BG/NBD P(alive) at the cut-off: the share "
                          "who bought again in the window, against mean P(alive) and the "
                          "model's P(buy) = P(alive) × P(a purchase in the window | alive), "
                          "which is what the share should match (P(alive) is its upper bound)."
                          + note,
            "source": "marts.fct_orders, marts.dim_customers (retention predict-check)",
            "x": list(alive["bin"]),
            "series": [
                {"name": "Bought again (actual share)",
                 "values": [float(v) for v in alive["bought_again"]]},
                {"name": "P(buy) in the window (model)",
                 "values": [float(v) for v in alive["model_p_buy"]]},
                {"name": "Mean P(alive)", "values": [float(v) for v in alive["mean_p_alive"]]},
            ],
            "y": {"label": "probability / share", "decimals": 2, "min": 0, "max": 1},
            "x_label": "P(alive) at the cut-off",
        },
    ]

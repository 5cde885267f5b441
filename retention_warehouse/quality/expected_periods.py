"""Expected customer states and period KPIs (docs/metrics.md "Period KPIs").

For each period P = (s, e]: S = active at s, E = active at e, N = acquired in
P, R = acquired by s, not active at s, active at e, L = active at s and not at
e; the rates follow the formulas of docs/metrics.md, written again here in pandas.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from retention_warehouse.quality.calendar import month_number, periods
from retention_warehouse.quality.expected_customers import CustomerBase

SEGMENT_TYPES = ("total", "region", "acquisition_channel", "tier")


def pct(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator x 100, NULL (NaN) when the denominator is 0."""
    numerator = numerator.astype("float64")
    denominator = denominator.astype("float64")
    return (100.0 * numerator / denominator).where(denominator > 0)


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, NULL (NaN) when the denominator is 0."""
    return pct(numerator, denominator) / 100.0


class States:
    """Customer states at any date, from purchase dates and closures alone."""

    def __init__(self, base: CustomerBase) -> None:
        self.base = base
        self.customers = base.customers
        self.purchases = base.purchases[["customer_id", "order_date"]].sort_values("order_date")
        self.acquired = self.customers["first_purchase_date"]
        self.closed = self.customers["closed_date"]
        self.last_at = lru_cache(maxsize=None)(self._last_at)
        self.active_at = lru_cache(maxsize=None)(self._active_at)

    def _last_at(self, date: pd.Timestamp) -> pd.Series:
        """Each customer's last purchase date on or before ``date`` (NaT if none)."""
        upto = self.purchases[self.purchases["order_date"] <= date]
        return upto.groupby("customer_id")["order_date"].max().reindex(self.customers.index)

    def _active_at(self, date: pd.Timestamp) -> pd.Series:
        """Active at ``date``: acquired, bought within the window, not closed."""
        window_start = date - pd.Timedelta(days=self.base.params.churn_inactivity_days)
        last = self.last_at(date)
        not_closed = ~(self.closed <= date)
        return (self.acquired <= date) & (last >= window_start) & not_closed


def tier_at_month(tiers: pd.DataFrame) -> dict[int, pd.Series]:
    """Tier name per customer id, for each month number."""
    return {
        month: rows.set_index("customer_id")["tier_name"]
        for month, rows in tiers.groupby("month")
    }


def customer_period_flags(states: States, period: pd.Series,
                          tiers_by_month: dict[int, pd.Series]) -> pd.DataFrame:
    """One row per customer: the state flags of one period and its segment values."""
    start, end = period["start_boundary"], period["effective_end"]
    customers = states.customers
    active_start, active_end = states.active_at(start), states.active_at(end)
    acquired = states.acquired
    days_since_last = (end - states.last_at(end)).dt.days
    end_month = int(month_number(pd.Series([end])).iloc[0])
    flags = pd.DataFrame({
        "is_active_at_start": active_start,
        "is_active_at_end": active_end,
        # Acquired in P and not closed by e (docs/metric_decisions.md).
        "is_new": (acquired > start) & (acquired <= end) & ~(states.closed <= end),
        "is_reactivated": (acquired <= start) & ~active_start & active_end,
        "is_lost": active_start & ~active_end,
        "is_at_risk_at_end": active_end & (days_since_last > states.base.params.at_risk_days),
        "total": "all",
        "region": customers["region"],
        "acquisition_channel": customers["acquisition_channel"],
        "tier": tiers_by_month.get(end_month, pd.Series(dtype=object)).reindex(customers.index),
    }, index=customers.index)
    flags["is_referred_new"] = flags["is_new"] & (customers["acquisition_channel"] == "referral")
    return flags


def period_purchases(base: CustomerBase, period: pd.Series) -> pd.DataFrame:
    """Purchases of one period, one row per purchase with the interval to the previous one."""
    purchases = base.purchases
    in_period = purchases[(purchases["order_date"] > period["start_boundary"])
                          & (purchases["order_date"] <= period["effective_end"])]
    return pd.DataFrame({
        "customer_id": in_period["customer_id"],
        "net_revenue": in_period["net_revenue"].map(float),
        "interval_days": (in_period["order_date"] - in_period["previous_purchase_date"]).dt.days,
    })


def period_responses(base: CustomerBase, responses: pd.DataFrame,
                     period: pd.Series) -> pd.DataFrame:
    """Responses of customers (acquired on or before the response date) dated in the period."""
    responses = responses[~responses["is_test_account"]]
    responses = responses[(responses["response_date"] > period["start_boundary"])
                          & (responses["response_date"] <= period["effective_end"])]
    acquired = responses["customer_id"].map(base.customers["first_purchase_date"])
    return survey_flags(responses[acquired <= responses["response_date"]])


def segment_kpis(flags: pd.DataFrame, purchases: pd.DataFrame, responses: pd.DataFrame,
                 segment_type: str) -> pd.DataFrame:
    """The KPI counts of every period for every value of one segment type.

    All three frames are long (one row per period x customer / purchase /
    response) and carry the period start and the segment values.
    """
    keys = ["period_start", segment_type]
    counts = flags.groupby(keys).agg(
        customers_at_start=("is_active_at_start", "sum"),
        customers_at_end=("is_active_at_end", "sum"),
        new_customers=("is_new", "sum"),
        reactivated_customers=("is_reactivated", "sum"),
        lost_customers=("is_lost", "sum"),
        at_risk_customers_at_end=("is_at_risk_at_end", "sum"),
        referred_new_customers=("is_referred_new", "sum"),
    )
    bought = purchases.groupby(keys).agg(
        purchases=("customer_id", "size"),
        purchasing_customers=("customer_id", "nunique"),
        net_revenue=("net_revenue", "sum"),
        repeat_purchase_interval_days=("interval_days", "mean"),
    )
    surveys = responses.groupby(keys).agg(
        nps_responses=("is_nps", "sum"),
        nps_promoters=("is_promoter", "sum"),
        nps_detractors=("is_detractor", "sum"),
        csat_responses=("is_csat", "sum"),
        csat_satisfied=("is_satisfied", "sum"),
        ces_responses=("is_ces", "sum"),
        ces=("ces_score", "mean"),
    )
    frame = counts.join(bought, how="outer").join(surveys, how="outer").reset_index()
    frame = frame.rename(columns={segment_type: "segment_value"})
    return frame.assign(segment_type=segment_type)


def survey_flags(responses: pd.DataFrame) -> pd.DataFrame:
    """Per response: which survey, promoter / detractor / satisfied, and the CES score."""
    survey, score = responses["survey_type"], responses["score"].astype("float64")
    return pd.DataFrame({
        "customer_id": responses["customer_id"],
        "is_nps": survey == "nps",
        "is_promoter": (survey == "nps") & (score >= 9),
        "is_detractor": (survey == "nps") & (score <= 6),
        "is_csat": survey == "csat",
        "is_satisfied": (survey == "csat") & (score >= 4),
        "is_ces": survey == "ces",
        "ces_score": score.where(survey == "ces"),
    }, index=responses.index)


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add every rate of docs/metrics.md from the counts."""
    count_columns = [
        "customers_at_start", "customers_at_end", "new_customers", "reactivated_customers",
        "lost_customers", "at_risk_customers_at_end", "referred_new_customers", "purchases",
        "purchasing_customers", "nps_responses", "nps_promoters", "nps_detractors",
        "csat_responses", "csat_satisfied", "ces_responses",
    ]
    frame[count_columns] = frame[count_columns].fillna(0).astype("int64")
    frame["net_revenue"] = frame["net_revenue"].fillna(0.0)
    start, end = frame["customers_at_start"], frame["customers_at_end"]
    frame["customer_retention_rate"] = pct(end - frame["new_customers"], start)
    frame["churn_rate"] = pct(frame["lost_customers"], start)
    frame["strict_retention_rate"] = pct(start - frame["lost_customers"], start)
    frame["average_order_value"] = ratio(frame["net_revenue"], frame["purchases"])
    frame["purchase_frequency"] = ratio(frame["purchases"], frame["purchasing_customers"])
    frame["referral_rate"] = pct(frame["referred_new_customers"], frame["new_customers"])
    frame["nps"] = pct(frame["nps_promoters"] - frame["nps_detractors"], frame["nps_responses"])
    frame["csat"] = pct(frame["csat_satisfied"], frame["csat_responses"])
    return frame


def expected_kpis(base: CustomerBase, states: States, tiers: pd.DataFrame,
                  responses: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Period KPIs per segment, and the per-customer flags of every period (long)."""
    tiers_by_month = tier_at_month(tiers)
    calendar = periods(base.customers["first_purchase_date"].min(), base.params)
    flags, bought, answered = [], [], []
    for _, period in calendar.iterrows():
        period_flags = customer_period_flags(states, period, tiers_by_month)
        segments = period_flags[list(SEGMENT_TYPES)]
        flags.append(period_flags.assign(period_start=period["period_start"]))
        for rows, target in ((period_purchases(base, period), bought),
                             (period_responses(base, responses, period), answered)):
            rows = rows.join(segments, on="customer_id")
            target.append(rows.assign(period_start=period["period_start"]))
    long_flags = pd.concat(flags).rename_axis("customer_id").reset_index()
    long_bought, long_answered = pd.concat(bought), pd.concat(answered)
    frame = pd.concat(
        [segment_kpis(long_flags, long_bought, long_answered, segment_type)
         for segment_type in SEGMENT_TYPES],
        ignore_index=True,
    )
    frame = frame.merge(calendar.drop(columns=["period", "start_boundary"]), on="period_start")
    return with_rates(frame), long_flags

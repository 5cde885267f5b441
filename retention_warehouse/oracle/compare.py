"""Compare an oracle frame with a mart, cell by cell, and say which columns are compared.

Rows are matched on the mart's key; counts must be equal, money within half a cent
(a mart that keeps an unrounded average passes, a sum off by a cent fails), rates
within 1e-9 relative, labels, dates and booleans equal as text. Used by the tests,
the mutation check and (through its Great Expectations suites) the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

# Which mart columns are compared, and how; every other mart column is in NOT_COMPARED.
COMPARE_SPECS: dict[str, dict[str, Sequence[str]]] = {
    "dim_customers": {
        "keys": ["customer_key"],
        "money_cols": ["net_revenue", "trailing_12m_net_revenue"],
        "rate_cols": ["p_alive"],
        "count_cols": ["orders", "days_since_last_purchase"],
        "exact_cols": [
            "country_code", "region", "acquisition_channel", "is_referred", "signup_date",
            "signup_cohort", "is_lead", "acquisition_date", "acquisition_cohort",
            "first_purchase_date", "last_purchase_date", "lifecycle_segment", "current_tier",
            "current_tier_since", "current_status", "closed_date", "as_of_date", "rfm_segment",
        ],
    },
    "fct_customer_predictions": {
        "keys": ["customer_key"],
        "money_cols": [],
        "rate_cols": ["monetary_value", "p_alive", "expected_average_order_value"],
        "count_cols": ["frequency", "recency_days", "age_days", "days_since_last_purchase",
                       "recency_score", "frequency_score", "monetary_score"],
        "exact_cols": ["as_of_date", "first_purchase_date", "last_purchase_date", "is_closed",
                       "rfm_segment"],
    },
    "fct_orders": {
        "keys": ["order_id"],
        "money_cols": ["sale_amount", "refunded_amount", "net_amount", "gross_revenue",
                       "net_revenue"],
        "rate_cols": ["fx_rate_to_reporting"],
        "count_cols": ["refunds", "purchase_sequence_number", "days_since_previous_purchase"],
        "exact_cols": [
            "customer_key", "ordered_at", "order_date", "order_period_start", "order_status",
            "is_cancelled", "currency_code", "is_purchase", "is_new_customer_purchase",
            "is_repeat_purchase", "previous_purchase_date",
        ],
    },
    "fct_retention_kpis": {
        "keys": ["period_start", "segment_type", "segment_value"],
        "money_cols": ["net_revenue", "average_order_value"],
        "rate_cols": [
            "customer_retention_rate", "strict_retention_rate", "churn_rate",
            "purchase_frequency", "repeat_purchase_interval_days", "referral_rate", "nps",
            "csat", "ces", "nps_response_rate", "csat_response_rate", "ces_response_rate",
            "exit_response_rate",
        ],
        "count_cols": [
            "customers_at_start", "customers_at_end", "new_customers", "reactivated_customers",
            "lost_customers", "at_risk_customers_at_end", "purchases", "purchasing_customers",
            "referred_new_customers", "nps_responses", "nps_promoters", "nps_detractors",
            "csat_responses", "csat_satisfied", "ces_responses", "nps_invitations",
            "nps_invitations_answered", "csat_invitations", "csat_invitations_answered",
            "ces_invitations", "ces_invitations_answered", "exit_invitations",
            "exit_invitations_answered", "signups", "leads_at_end",
        ],
        "exact_cols": ["period_end", "effective_end", "is_complete_period"],
    },
    "fct_cohort_retention": {
        "keys": ["cohort_type", "cohort_period_start", "acquisition_channel", "period_number"],
        "money_cols": ["net_revenue"],
        "rate_cols": ["retention_pct", "unbounded_retention_pct", "revenue_retention_pct"],
        "count_cols": ["cohort_size", "active_customers", "unbounded_retained_customers"],
        "exact_cols": ["period_start", "is_complete_period"],
    },
    "fct_customer_lifetime_value": {
        "keys": ["customer_key"],
        "money_cols": ["net_revenue", "average_order_value", "cac", "historical_cltv"],
        "rate_cols": ["purchases_per_year"],
        "count_cols": ["orders", "lifespan_days", "tenure_days"],
        "exact_cols": ["acquisition_channel", "region", "country_code", "acquisition_date",
                       "acquisition_cohort", "first_purchase_date", "last_purchase_date"],
    },
    "fct_lifetime_value_segments": {
        "keys": ["segment_type", "segment_value"],
        "money_cols": ["net_revenue", "average_order_value", "average_cac", "predicted_cltv"],
        "rate_cols": [
            "purchase_frequency_per_year", "annual_churn_rate", "expected_lifespan_years",
            "top_10pct_revenue_share", "top_20pct_revenue_share",
        ],
        "count_cols": ["customers", "purchases"],
        "exact_cols": [],
    },
    "fct_customer_tiers": {
        "keys": ["customer_key", "month_start"],
        "money_cols": ["net_revenue_in_month", "trailing_12m_net_revenue", "spend_to_next_tier"],
        "rate_cols": [],
        "count_cols": ["purchases_in_month", "tier_rank"],
        "exact_cols": ["month_end", "effective_end", "is_complete_month", "tier_name",
                       "previous_tier_name", "tier_change"],
    },
    "fct_churn_reasons": {
        "keys": ["period_start", "reason_category"],
        "money_cols": [],
        "rate_cols": ["share_of_churned_pct"],
        "count_cols": ["churned_customers", "customers_in_category"],
        "exact_cols": ["period_end", "is_complete_period"],
    },
    "fct_survey_responses": {
        "keys": ["response_id"],
        "money_cols": [],
        "rate_cols": [],
        "count_cols": ["score", "ces_score"],
        "exact_cols": [
            "invitation_id", "customer_key", "survey_type", "response_date",
            "response_period_start", "is_from_customer", "is_promoter", "is_passive",
            "is_detractor", "is_satisfied",
        ],
    },
    "fct_customer_periods": {
        "keys": ["customer_key", "period_start"],
        "money_cols": [],
        "rate_cols": [],
        "count_cols": ["days_since_last_purchase_at_end"],
        "exact_cols": [
            "period_end", "effective_end", "is_complete_period", "region",
            "acquisition_channel", "tier_at_end", "customer_state", "is_referred",
            "acquisition_date", "is_active_at_start", "is_active_at_end", "is_new",
            "is_reactivated", "is_lost", "is_at_risk_at_end", "is_referred_new",
        ],
    },
}

FIT_ONLY = ("a model estimate integrated over the fit (expected purchases / revenue over a "
            "horizon): checked against the lifetimes package in tests/python/test_predictions.py "
            "and test_value_models.py; P(alive) and the expected order value, the per-customer "
            "formulas, are compared")

# The mart columns the oracle does not recompute, and why. A test (test_oracle_selfcheck)
# proves every mart column is either compared above or listed here.
NOT_COMPARED: dict[str, dict[str, str]] = {
    "dim_customers": {
        "preferred_language": "a CRM attribute passed through unchanged, not a metric",
        "has_marketing_consent": "a CRM attribute passed through unchanged, not a metric",
        "is_erased": "erasure is proven by tests/python/test_erasure.py and the singular test "
                     "erased_people_keep_no_personal_data",
        "predicted_clv_12m": FIT_ONLY,
    },
    "fct_customer_predictions": {
        "expected_purchases_90d": FIT_ONLY,
        "expected_purchases_365d": FIT_ONLY,
        "expected_revenue_12m": FIT_ONLY,
        "predicted_clv_12m": FIT_ONLY,
        "time_unit": "the fit's time unit (a run parameter of the fit, from "
                     "fct_customer_value_model), not a metric",
    },
    "fct_customer_value_model": {
        column: "the fitted parameters themselves (a run parameter the oracle takes as "
                "input): validated by tests/python/test_value_models.py against the published "
                "CDNOW results and the lifetimes package; the checkpoint checks their range"
        for column in ("parameter_key", "model_name", "parameter_name", "parameter_value",
                       "standard_error", "log_likelihood", "is_converged", "iterations",
                       "gradient_norm", "customers_fitted", "time_unit", "days_per_unit",
                       "as_of_date", "fit_note")
    },
    "fct_orders": {
        "sales_channel": "a ledger attribute passed through unchanged, not a metric",
        "store_id": "a ledger attribute passed through unchanged, not a metric",
        "items_count": "a ledger attribute passed through unchanged, not a metric",
    },
    "fct_retention_kpis": {"kpi_id": "a surrogate key (hash of the row key): unique + not null"},
    "fct_cohort_retention": {
        "cohort_period_id": "a surrogate key (hash of the row key): unique + not null"},
    "fct_customer_lifetime_value": {},
    "fct_lifetime_value_segments": {
        "segment_id": "a surrogate key (hash of the row key): unique + not null"},
    "fct_customer_tiers": {
        "customer_month_key": "a surrogate key (hash of the row key): unique + not null"},
    "fct_churn_reasons": {
        "churn_reason_id": "a surrogate key (hash of the row key): unique + not null"},
    "fct_customer_periods": {
        "customer_period_key": "a surrogate key (hash of the row key): unique + not null"},
}


def compared_columns(table: str) -> list[str]:
    """Every column of a mart the oracle compares (keys included); none for a mart only
    listed in NOT_COMPARED (fct_customer_value_model, the fitted parameters)."""
    spec = COMPARE_SPECS.get(table)
    if spec is None:
        return []
    return [column for group in ("keys", "money_cols", "rate_cols", "count_cols", "exact_cols")
            for column in spec[group]]


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple, set, dict)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def canonical_text(value: Any) -> str | None:
    """Canonical text of a key or exact value (dates as ISO dates, 2.0 as 2, timestamps in
    UTC without an offset)."""
    if _is_null(value):
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        if ts == ts.normalize():
            return ts.date().isoformat()
        return ts.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if hasattr(value, "item"):
        value = value.item()
    return Decimal(str(value))


def _cell_diff(kind: str, exp: Any, act: Any, rel_tol: float) -> str | None:
    """A description of the difference of two cells, or None when they agree."""
    exp_null, act_null = _is_null(exp), _is_null(act)
    if exp_null or act_null:
        if exp_null and act_null:
            return None
        shown = ["NULL" if null else repr(v) for v, null in ((exp, exp_null), (act, act_null))]
        return f"expected {shown[0]}, got {shown[1]}"
    try:
        if kind == "money":
            if abs(_to_decimal(exp) - _to_decimal(act)) > Decimal("0.005"):
                return f"expected {exp}, got {act}"
            return None
        if kind == "rate":
            if not math.isclose(float(exp), float(act), rel_tol=rel_tol, abs_tol=1e-9):
                return f"expected {float(exp)!r}, got {float(act)!r}"
            return None
        if kind == "count":
            a, b = _to_decimal(exp), _to_decimal(act)
            if a != b or a != a.to_integral_value():
                return f"expected {exp}, got {act}"
            return None
    except (InvalidOperation, TypeError, ValueError):
        return f"expected {exp!r}, got uncomparable {act!r}"
    if canonical_text(exp) != canonical_text(act):
        return f"expected {canonical_text(exp)!r}, got {canonical_text(act)!r}"
    return None


def compare_frames(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    keys: Sequence[str],
    money_cols: Sequence[str] = (),
    rate_cols: Sequence[str] = (),
    count_cols: Sequence[str] = (),
    exact_cols: Sequence[str] = (),
    max_diffs: int = 20,
    rel_tol: float = 1e-9,
) -> list[str]:
    """Human-readable differences between an expected (oracle) and an actual frame.

    Rows are matched on ``keys`` (dates, timestamps and numbers normalised to text).
    ``money_cols`` agree when within half a cent (exact sums that differ by a cent
    fail; a mart that keeps an unrounded average passes); ``rate_cols`` with
    ``rel_tol`` relative (and 1e-9 absolute) tolerance; ``count_cols`` exactly;
    ``exact_cols`` (text, dates, booleans) as normalised text. NULL matches only
    NULL/NaN. Missing columns, duplicate keys and rows missing on either side are
    reported. At most ``max_diffs`` lines plus a summary line are returned.
    """
    diffs: list[str] = []
    kinds = (
        [(c, "money") for c in money_cols]
        + [(c, "rate") for c in rate_cols]
        + [(c, "count") for c in count_cols]
        + [(c, "exact") for c in exact_cols]
    )
    for side, frame in (("expected", expected), ("actual", actual)):
        for column in [*keys, *(c for c, _ in kinds)]:
            if column not in frame.columns:
                diffs.append(f"{side} frame has no column {column!r}")
    if diffs:
        return diffs

    def index(frame: pd.DataFrame, side: str) -> dict[tuple[str | None, ...], dict[str, Any]]:
        result: dict[tuple[str | None, ...], dict[str, Any]] = {}
        for record in frame.to_dict("records"):
            key = tuple(canonical_text(record[k]) for k in keys)
            if key in result:
                diffs.append(f"{side}: duplicate key {dict(zip(keys, key, strict=True))}")
            result[key] = record
        return result

    exp_rows = index(expected, "expected")
    act_rows = index(actual, "actual")
    for key in sorted(set(exp_rows) - set(act_rows), key=str):
        diffs.append(f"missing in actual: {dict(zip(keys, key, strict=True))}")
    for key in sorted(set(act_rows) - set(exp_rows), key=str):
        diffs.append(f"unexpected in actual: {dict(zip(keys, key, strict=True))}")
    for key in sorted(set(exp_rows) & set(act_rows), key=str):
        for column, kind in kinds:
            problem = _cell_diff(kind, exp_rows[key][column], act_rows[key][column], rel_tol)
            if problem:
                diffs.append(f"{dict(zip(keys, key, strict=True))} {column}: {problem}")
    if len(diffs) > max_diffs:
        return [*diffs[:max_diffs], f"... and {len(diffs) - max_diffs} more differences"]
    return diffs

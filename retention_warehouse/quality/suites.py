"""The expectation suites: what each validated frame must satisfy.

Two kinds of suite:

* ``<mart>__vs_expected``: the mart joined with the oracle's values, recomputed
  from the raw files (compare.py). Every row must be present on both sides, labels
  and counts equal, money within half a cent, rates within 1e-9 relative error.
* ``<mart>__structure``: the mart alone: keys unique and not null, allowed
  values, ranges (percentages 0..100, NPS -100..100, CES 1..7), column-pair
  relations, and a row count equal to the independently expected count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import great_expectations.expectations as gxe
import pandas as pd

from retention_warehouse.oracle import COMPARE_SPECS
from retention_warehouse.oracle.inputs import SURVEY_TYPES
from retention_warehouse.quality.compare import PRESENCE, ROW_KEY, Comparison

COMPARISONS = tuple(Comparison.of(mart) for mart in COMPARE_SPECS)


@dataclass
class SuiteSpec:
    """One frame to validate, its row key and its expectations."""

    name: str
    frame: pd.DataFrame
    key: str
    expectations: list = field(default_factory=list)


def comparison_suite(spec: Comparison, frame: pd.DataFrame,
                     expect_rows: bool = True) -> SuiteSpec:
    """Expectations on a comparison frame: rows on both sides, values equal.

    ``expect_rows``: the oracle expects rows (False when its raw source holds none, as the
    survey responses of a retailer without surveys: then an empty mart is right).
    """
    expectations = [
        gxe.ExpectColumnValuesToBeInSet(
            column=PRESENCE, value_set=["both"],
            meta={"check": "every mart row has an expected row and vice versa"}),
        gxe.ExpectTableRowCountToBeBetween(min_value=1 if expect_rows else 0,
                                           meta={"check": "not empty"}),
    ]
    for column in spec.exact:
        expectations.append(gxe.ExpectColumnPairValuesToBeEqual(
            column_A=column, column_B=f"{column}__expected",
            meta={"check": f"{column} equals the oracle's value (from the raw files)"}))
    for column, tolerance in spec.tolerances().items():
        expectations.append(gxe.ExpectColumnValuesToBeBetween(
            column=f"{column}__error", min_value=0, max_value=tolerance,
            meta={"check": f"{column} matches the oracle's value "
                           f"(error <= {tolerance:g})"}))
    return SuiteSpec(name=spec.name, frame=frame, key=ROW_KEY, expectations=expectations)


def _unique_key(column: str) -> list:
    return [gxe.ExpectColumnValuesToBeUnique(column=column),
            gxe.ExpectColumnValuesToNotBeNull(column=column)]


def _pct(*columns: str) -> list:
    return [gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=100)
            for column in columns]


def _at_least(minimum: float, *columns: str) -> list:
    return [gxe.ExpectColumnValuesToBeBetween(column=column, min_value=minimum)
            for column in columns]


def _not_below(larger: str, smaller: str) -> gxe.Expectation:
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=larger, column_B=smaller, or_equal=True, ignore_row_if="either_value_is_missing")


def _row_count(expected: pd.DataFrame) -> gxe.Expectation:
    return gxe.ExpectTableRowCountToEqual(
        value=len(expected), meta={"check": "row count equals the independently expected count"})


def structure_expectations(expected: dict[str, pd.DataFrame], tier_names: list[str],
                           reason_categories: list[str],
                           rfm_segments: list[str]) -> dict[str, tuple[str, list]]:
    """Per mart: its key column and its structural expectations."""
    statuses = ["active", "at_risk", "churned", "new", "reactivated", "closed", "lead"]
    counts_kpis = ["customers_at_start", "customers_at_end", "new_customers",
                   "reactivated_customers", "lost_customers", "purchases"]
    return {
        "dim_customers": ("customer_key", [
            *_unique_key("customer_key"), _row_count(expected["dim_customers"]),
            gxe.ExpectColumnValuesToBeInSet(column="lifecycle_segment",
                                            value_set=["one_time", "repeat", "vip", "lead"]),
            gxe.ExpectColumnValuesToBeInSet(column="current_status", value_set=statuses),
            gxe.ExpectColumnValuesToBeInSet(column="current_tier", value_set=tier_names),
            gxe.ExpectColumnValuesToBeInSet(column="rfm_segment", value_set=rfm_segments),
            gxe.ExpectColumnValuesToBeBetween(column="p_alive", min_value=0, max_value=1),
            *_at_least(0, "predicted_clv_12m"),
            _not_below("last_purchase_date", "first_purchase_date"),
            *_at_least(0, "orders", "days_since_last_purchase", "net_revenue"),
        ]),
        "fct_orders": ("order_id", [
            *_unique_key("order_id"), _row_count(expected["fct_orders"]),
            gxe.ExpectColumnValuesToNotBeNull(column="customer_key"),
            _not_below("sale_amount", "net_amount"),
            _not_below("gross_revenue", "net_revenue"),
            *_at_least(0, "net_amount", "net_revenue"),
            *_at_least(1, "purchase_sequence_number"),
        ]),
        "fct_retention_kpis": ("kpi_id", [
            *_unique_key("kpi_id"),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["period_start", "segment_type", "segment_value"]),
            gxe.ExpectColumnValuesToBeInSet(column="segment_type", value_set=[
                "total", "region", "acquisition_channel", "tier"]),
            *_pct("strict_retention_rate", "churn_rate", "referral_rate", "csat",
                  "nps_response_rate", "csat_response_rate", "ces_response_rate",
                  "exit_response_rate"),
            *_at_least(0, "customer_retention_rate", *counts_kpis),
            gxe.ExpectColumnValuesToBeBetween(column="nps", min_value=-100, max_value=100),
            gxe.ExpectColumnValuesToBeBetween(column="ces", min_value=1, max_value=7),
            _not_below("customers_at_start", "lost_customers"),
            _not_below("customers_at_end", "at_risk_customers_at_end"),
            _not_below("purchases", "purchasing_customers"),
        ]),
        "fct_cohort_retention": ("cohort_period_id", [
            *_unique_key("cohort_period_id"), _row_count(expected["fct_cohort_retention"]),
            gxe.ExpectColumnValuesToBeInSet(
                column="cohort_type", value_set=["acquisition", "signup", "acquisition_channel"]),
            *_pct("retention_pct", "unbounded_retention_pct"),
            *_at_least(0, "period_number", "revenue_retention_pct"),
            _not_below("cohort_size", "unbounded_retained_customers"),
            _not_below("unbounded_retained_customers", "active_customers"),
        ]),
        "fct_churn_reasons": ("churn_reason_id", [
            *_unique_key("churn_reason_id"), _row_count(expected["fct_churn_reasons"]),
            gxe.ExpectColumnValuesToBeInSet(column="reason_category",
                                            value_set=reason_categories),
            *_pct("share_of_churned_pct"),
            _not_below("churned_customers", "customers_in_category"),
        ]),
        "fct_customer_lifetime_value": ("customer_key", [
            *_unique_key("customer_key"), _row_count(expected["fct_customer_lifetime_value"]),
            *_at_least(1, "orders", "lifespan_days"),
            *_at_least(0, "cac"),
            _not_below("last_purchase_date", "first_purchase_date"),
            _not_below("tenure_days", "lifespan_days"),
        ]),
        "fct_customer_tiers": ("customer_month_key", [
            *_unique_key("customer_month_key"), _row_count(expected["fct_customer_tiers"]),
            gxe.ExpectColumnValuesToBeInSet(column="tier_name", value_set=tier_names),
            gxe.ExpectColumnValuesToBeInSet(
                column="tier_change", value_set=["new", "upgrade", "downgrade", "same"]),
            *_at_least(0, "trailing_12m_net_revenue"),
            gxe.ExpectColumnValuesToBeBetween(column="spend_to_next_tier", min_value=0,
                                              strict_min=True),
        ]),
        "fct_survey_responses": ("response_id", [
            *_unique_key("response_id"), _row_count(expected["fct_survey_responses"]),
            *_unique_key("invitation_id"),
            gxe.ExpectColumnValuesToBeInSet(column="survey_type",
                                            value_set=list(SURVEY_TYPES)),
            gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=10),
            gxe.ExpectColumnValuesToBeBetween(column="ces_score", min_value=1, max_value=7),
        ]),
        "fct_customer_periods": ("customer_period_key", [
            *_unique_key("customer_period_key"), _row_count(expected["fct_customer_periods"]),
            gxe.ExpectColumnValuesToBeInSet(column="customer_state", value_set=[
                "new", "active", "at_risk", "churned", "reactivated", "closed"]),
            gxe.ExpectColumnValuesToBeInSet(column="tier_at_end", value_set=tier_names),
            *_at_least(0, "days_since_last_purchase_at_end"),
        ]),
        "fct_customer_predictions": ("customer_key", [
            *_unique_key("customer_key"), _row_count(expected["fct_customer_predictions"]),
            gxe.ExpectColumnValuesToBeBetween(column="p_alive", min_value=0, max_value=1),
            *_at_least(0, "expected_purchases_90d", "expected_average_order_value",
                       "predicted_clv_12m"),
            _not_below("expected_purchases_365d", "expected_purchases_90d"),
            _not_below("expected_revenue_12m", "predicted_clv_12m"),
            *[gxe.ExpectColumnValuesToBeInSet(column=f"{name}_score", value_set=[1, 2, 3, 4, 5])
              for name in ("recency", "frequency", "monetary")],
            gxe.ExpectColumnValuesToBeInSet(column="rfm_segment", value_set=rfm_segments),
            *[gxe.ExpectColumnValuesToNotBeNull(column=column) for column in (
                "p_alive", "expected_purchases_365d", "predicted_clv_12m", "rfm_segment")],
        ]),
        "fct_customer_value_model": ("parameter_key", [
            *_unique_key("parameter_key"),
            gxe.ExpectColumnValuesToBeInSet(column="parameter_key", value_set=[
                "bg_nbd.r", "bg_nbd.alpha", "bg_nbd.a", "bg_nbd.b", "bg_nbd.mean_p",
                "gamma_gamma.p", "gamma_gamma.q", "gamma_gamma.v"]),
            gxe.ExpectTableRowCountToEqual(value=8),
            gxe.ExpectColumnValuesToBeInSet(column="is_converged", value_set=[True]),
            gxe.ExpectColumnValuesToBeBetween(column="parameter_value", min_value=0,
                                              strict_min=True),
        ]),
        "fct_lifetime_value_segments": ("segment_id", [
            *_unique_key("segment_id"), _row_count(expected["fct_lifetime_value_segments"]),
            gxe.ExpectColumnValuesToBeInSet(
                column="segment_type",
                value_set=["acquisition_cohort", "acquisition_channel", "region", "total"]),
            *_pct("top_10pct_revenue_share", "top_20pct_revenue_share", "annual_churn_rate"),
            _not_below("top_20pct_revenue_share", "top_10pct_revenue_share"),
        ]),
    }

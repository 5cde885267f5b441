"""compute_oracle: every mart recomputed from the raw files, the seeds and the vars."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from retention_warehouse.oracle.churn import compute_churn_reasons
from retention_warehouse.oracle.cohorts import compute_cohort_retention
from retention_warehouse.oracle.core import compute_customers, compute_orders
from retention_warehouse.oracle.inputs import Landing
from retention_warehouse.oracle.kpis import compute_retention_kpis
from retention_warehouse.oracle.predictions import compute_customer_predictions
from retention_warehouse.oracle.semantic import compute_customer_periods
from retention_warehouse.oracle.states import Model, Params, build_model
from retention_warehouse.oracle.surveys import compute_survey_responses
from retention_warehouse.oracle.tiers import compute_customer_tiers, compute_tiers
from retention_warehouse.oracle.value import (
    compute_customer_lifetime_value,
    compute_lifetime_value_segments,
)
from retention_warehouse.pii import keyed_hash


def compute_marts(model: Model,
                  value_model: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The marts of a built model, keyed by mart name.

    ``value_model`` is the fitted parameters (fct_customer_value_model), a run parameter:
    with it, P(alive) and the expected order value are recomputed from each customer's
    history; without it they are None (no fit, as on PostgreSQL).
    """
    at_risk_days = model.params.at_risk_days
    tiers = compute_tiers(model)
    predictions = compute_customer_predictions(model, value_model)
    by_id = predictions.set_index("customer_id")
    customers = compute_customers(model, tiers, at_risk_days)
    customers = customers.assign(  # NULL for a lead (no purchase history)
        rfm_segment=[by_id["rfm_segment"].get(cid) for cid in customers["customer_id"]],
        p_alive=[by_id["p_alive"].get(cid) for cid in customers["customer_id"]],
    )
    return {
        "dim_customers": customers,
        "fct_customer_predictions": predictions,
        "fct_orders": compute_orders(model),
        "fct_retention_kpis": compute_retention_kpis(model, tiers, at_risk_days),
        "fct_cohort_retention": compute_cohort_retention(model),
        "fct_customer_lifetime_value": compute_customer_lifetime_value(model),
        "fct_lifetime_value_segments": compute_lifetime_value_segments(model),
        "fct_customer_tiers": compute_customer_tiers(tiers),
        "fct_churn_reasons": compute_churn_reasons(model),
        "fct_survey_responses": compute_survey_responses(model),
        "fct_customer_periods": compute_customer_periods(model, tiers, at_risk_days),
    }


def add_customer_keys(frames: dict[str, pd.DataFrame], hash_key: str) -> dict[str, pd.DataFrame]:
    """Every frame with a customer_id gets the mart's customer_key (HMAC-SHA256, hex)."""
    result = {}
    for name, frame in frames.items():
        if "customer_id" in frame.columns:
            frame = frame.assign(customer_key=[keyed_hash(cid, hash_key)
                                               for cid in frame["customer_id"]])
        result[name] = frame
    return result


def compute_oracle(
    raw_dir: Path,
    seeds_dir: Path,
    as_of: date | None = None,
    churn_inactivity_days: int = 180,
    at_risk_days: int = 90,
    landing: Landing | None = None,
    grain_months: int = 1,
    hash_key: str | None = None,
    value_model: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Recompute the marts from the raw files and seeds (and the fitted value-model
    parameters when given, see :func:`compute_marts`).

    Returns a dict keyed by mart name. Customers are identified by their surviving CRM
    ``customer_id``; with ``hash_key`` every frame that has one also gets the mart's
    ``customer_key`` (HMAC-SHA256 of the id, retention_warehouse.pii).
    """
    params = Params(as_of=as_of, churn_inactivity_days=churn_inactivity_days,
                    at_risk_days=at_risk_days, grain_months=grain_months)
    params.check()
    frames = compute_marts(build_model(Path(raw_dir), Path(seeds_dir), params, landing),
                           value_model)
    return frames if hash_key is None else add_customer_keys(frames, hash_key)

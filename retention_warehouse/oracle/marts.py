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
from retention_warehouse.oracle.semantic import compute_customer_periods
from retention_warehouse.oracle.states import Model, Params, build_model
from retention_warehouse.oracle.tiers import compute_customer_tiers, compute_tiers
from retention_warehouse.oracle.value import (
    compute_customer_lifetime_value,
    compute_lifetime_value_segments,
)
from retention_warehouse.pii import keyed_hash


def compute_marts(model: Model) -> dict[str, pd.DataFrame]:
    """The nine marts of a built model, keyed by mart name."""
    at_risk_days = model.params.at_risk_days
    tiers = compute_tiers(model)
    return {
        "dim_customers": compute_customers(model, tiers, at_risk_days),
        "fct_orders": compute_orders(model),
        "fct_retention_kpis": compute_retention_kpis(model, tiers, at_risk_days),
        "fct_cohort_retention": compute_cohort_retention(model),
        "fct_customer_lifetime_value": compute_customer_lifetime_value(model),
        "fct_lifetime_value_segments": compute_lifetime_value_segments(model),
        "fct_customer_tiers": compute_customer_tiers(tiers),
        "fct_churn_reasons": compute_churn_reasons(model),
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
) -> dict[str, pd.DataFrame]:
    """Recompute the nine marts from the raw files and seeds.

    Returns a dict keyed by mart name. Customers are identified by their surviving CRM
    ``customer_id``; with ``hash_key`` every frame that has one also gets the mart's
    ``customer_key`` (HMAC-SHA256 of the id, retention_warehouse.pii).
    """
    params = Params(as_of=as_of, churn_inactivity_days=churn_inactivity_days,
                    at_risk_days=at_risk_days, grain_months=grain_months)
    params.check()
    frames = compute_marts(build_model(Path(raw_dir), Path(seeds_dir), params, landing))
    return frames if hash_key is None else add_customer_keys(frames, hash_key)

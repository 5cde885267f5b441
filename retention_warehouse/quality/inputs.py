"""Read what the checkpoint needs from the DuckDB warehouse, opened read-only.

Two kinds of frames come out: the *inputs* the expected values are computed
from (staging models and reference seeds, i.e. cleaned raw data before any
metric logic) and the *marts* under test. The marts are never used to compute
an expected value; the only value read from them is the as-of date, a run
parameter (``var as_of_date``), which is itself checked against the data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from retention_warehouse.pii import HASH_KEY_VARIABLE, keyed_hash, sample_hash_key
from retention_warehouse.settings import PROJECT_DIR
from retention_warehouse.warehouse_file import WarehouseFileError, open_read_only

GRAIN_MONTHS = {"month": 1, "quarter": 3, "year": 12}

MART_TABLES = (
    "dim_customers",
    "fct_orders",
    "fct_retention_kpis",
    "fct_cohort_retention",
    "fct_churn_reasons",
    "fct_customer_lifetime_value",
    "fct_customer_tiers",
    "fct_lifetime_value_segments",
)

STAGING_QUERIES = {
    "customers": "select * from staging.stg_crm__customers",
    "events": "select * from staging.stg_crm__account_events",
    "orders": "select * from staging.stg_transactions__orders",
    "refunds": "select * from staging.stg_transactions__refunds",
    "invitations": "select * from staging.stg_surveys__invitations",
    "responses": "select * from staging.stg_surveys__responses",
    "spend": "select * from staging.stg_marketing__spend",
    "regions": "select * from reference.country_regions",
    "tiers": "select * from reference.loyalty_tiers order by tier_rank",
}

# Money columns kept exact (as Decimal) for the expected-value arithmetic.
DECIMAL_COLUMNS = {
    "orders": ("sale_amount", "fx_rate_to_reporting"),
    "refunds": ("refund_amount",),
    "spend": ("spend_amount_reporting",),
    "tiers": ("min_trailing_12m_spend",),
}


class WarehouseUnreadableError(RuntimeError):
    """The warehouse file is missing, or lacks a model the checkpoint reads."""


@dataclass(frozen=True)
class Params:
    """The run parameters the metrics depend on (dbt vars and the as-of date)."""

    as_of: pd.Timestamp
    churn_inactivity_days: int
    at_risk_days: int
    grain_months: int
    hash_key: str  # the key customer_key is an HMAC with (retention_warehouse.pii)


@dataclass
class WarehouseFrames:
    """Everything read from the warehouse: staging inputs, marts, parameters."""

    inputs: dict[str, pd.DataFrame]
    marts: dict[str, pd.DataFrame]
    params: Params


def dbt_vars(project_dir: Path = PROJECT_DIR) -> dict:
    """The ``vars`` block of dbt_project.yml (the defaults the build used)."""
    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text())
    return config.get("vars", {})


def to_decimal(value: object) -> Decimal | None:
    """A DECIMAL value read as a float back to its exact decimal (None for NULL)."""
    if value is None or pd.isna(value):
        return None
    return Decimal(repr(float(value)))


def _read(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    try:
        return con.execute(sql).df()
    except duckdb.CatalogException as error:
        raise WarehouseUnreadableError(
            f"{error}. Build the warehouse first (`retention build`)."
        ) from None
    except duckdb.BinderException as error:
        raise WarehouseUnreadableError(
            f"{error}. The staging models are views that name the database after the file "
            "they were built in: a copied warehouse file must keep its original file name."
        ) from None


def read_warehouse(warehouse_path: Path) -> WarehouseFrames:
    """Open the warehouse read-only and read the inputs, the marts and the parameters."""
    if not warehouse_path.exists():
        raise WarehouseUnreadableError(
            f"The warehouse file {warehouse_path} does not exist. "
            "Build it first (`retention build`) or point --db / RETENTION_DB at it."
        )
    try:
        connection = open_read_only(warehouse_path)
    except WarehouseFileError as error:
        raise WarehouseUnreadableError(str(error)) from None
    with connection as con:
        inputs = {name: _read(con, sql) for name, sql in STAGING_QUERIES.items()}
        marts = {name: _read(con, f"select * from marts.{name}") for name in MART_TABLES}
        resolved = _read(con, "select as_of_date from intermediate.int_as_of_dates_resolved")
    for name, columns in DECIMAL_COLUMNS.items():
        for column in columns:
            inputs[name][column] = inputs[name][column].map(to_decimal).astype(object)
    return WarehouseFrames(inputs=inputs, marts=marts, params=read_params(inputs, marts, resolved))


def find_hash_key(inputs: dict[str, pd.DataFrame], marts: dict[str, pd.DataFrame]) -> str:
    """The key customer_key was made with: RETENTION_HASH_KEY or, failing that, the sample key.

    A run parameter like the as-of date, checked against the data: the key is the one under
    which some CRM id hashes to a customer_key of dim_customers (every other key is then
    checked row by row by the comparisons). An empty dim_customers (nothing loaded) has no
    key to check against: the first candidate is used, and the comparisons report the rest.
    """
    candidates = [key for key in (os.environ.get(HASH_KEY_VARIABLE), sample_hash_key()) if key]
    ids = inputs["customers"]["customer_id"].astype(str).head(50)
    keys = set(marts["dim_customers"]["customer_key"])
    if not keys:
        return candidates[0]
    for key in candidates:
        if any(keyed_hash(customer_id, key) in keys for customer_id in ids):
            return key
    tried = (f"the key in {HASH_KEY_VARIABLE} or the sample key"
             if os.environ.get(HASH_KEY_VARIABLE)
             else f"the sample key ({HASH_KEY_VARIABLE} is not set)")
    raise WarehouseUnreadableError(
        f"customer_key in this warehouse was not made with {tried}: set {HASH_KEY_VARIABLE} "
        "to the key the warehouse was built with.")


def read_params(inputs: dict[str, pd.DataFrame], marts: dict[str, pd.DataFrame],
                resolved: pd.DataFrame | None = None) -> Params:
    """The as-of date (from the marts: a parameter, not a metric) and the dbt vars.

    An empty dim_customers (nothing loaded) falls back to the resolved as-of date, so the
    checkpoint can still report what failed.
    """
    variables = dbt_vars()
    as_of_values = marts["dim_customers"]["as_of_date"].dropna().unique()
    if len(as_of_values) == 0 and resolved is not None:
        as_of_values = resolved["as_of_date"].dropna().unique()
    if len(as_of_values) > 1:
        raise WarehouseUnreadableError(
            f"dim_customers holds {len(as_of_values)} as-of dates; expected exactly one."
        )
    grain = str(variables.get("retention_grain", "month"))
    hash_key = find_hash_key(inputs, marts)
    return Params(
        as_of=pd.Timestamp(as_of_values[0]).normalize() if len(as_of_values) else pd.NaT,
        churn_inactivity_days=int(variables.get("churn_inactivity_days", 180)),
        at_risk_days=int(variables.get("at_risk_days", 90)),
        grain_months=GRAIN_MONTHS[grain],
        hash_key=hash_key,
    )

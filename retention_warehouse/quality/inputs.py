"""Read what the checkpoint needs from the DuckDB warehouse (opened read-only) and the vars.

Two things come out of the warehouse: the *marts* under test, and the *landing record*
(``raw._landed_files``: which batch file landed when, in which order), a run
parameter written before any model runs. The expected values are computed by the
independent oracle (``retention_warehouse.oracle``) from the raw files that record
names, the seeds and the dbt vars; no mart, staging or intermediate model feeds them,
except one more run parameter: the fitted value-model parameters
(``marts.fct_customer_value_model``, validated by tests/python/test_value_models.py),
from which the oracle recomputes P(alive) and the expected order value of each customer.

The as-of date is derived, never read from a mart (docs/metric_decisions.md): the
``as_of_date`` the build was given (``retention build --as-of-date``, ``retention
quality --as-of-date``), else the ``as_of_date`` var of dbt_project.yml, else the
latest UTC date of any clean transaction in the raw files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from retention_warehouse.oracle import Landing, Params, landing_from_record
from retention_warehouse.oracle.calendar import GRAIN_MONTHS
from retention_warehouse.pii import HASH_KEY_VARIABLE, keyed_hash, sample_hash_key
from retention_warehouse.settings import PROJECT_DIR
from retention_warehouse.warehouse_file import WarehouseFileError, open_read_only

DEFAULT_CURRENCY_VARIABLE = "RETENTION_DEFAULT_CURRENCY"

MART_TABLES = (
    "dim_customers",
    "fct_orders",
    "fct_retention_kpis",
    "fct_cohort_retention",
    "fct_churn_reasons",
    "fct_survey_responses",
    "fct_customer_lifetime_value",
    "fct_customer_tiers",
    "fct_lifetime_value_segments",
    "fct_customer_periods",
    "fct_customer_predictions",
    "fct_customer_value_model",
)
# Not built when the value models are off (var value_models / RETENTION_VALUE_MODELS): then
# they are not read, and dim_customers' p_alive is expected NULL.
PREDICTION_MARTS = ("fct_customer_predictions", "fct_customer_value_model")
VALUE_MODELS_VARIABLE = "RETENTION_VALUE_MODELS"


class WarehouseUnreadableError(RuntimeError):
    """The warehouse file is missing, or lacks a table the checkpoint reads."""


@dataclass
class WarehouseFrames:
    """Everything read from the warehouse: the marts and the landing record."""

    marts: dict[str, pd.DataFrame]
    raw_dir: Path | None  # the raw folder the build read (from the landing record)
    landing: Landing


def dbt_vars(project_dir: Path = PROJECT_DIR) -> dict:
    """The ``vars`` block of dbt_project.yml (the defaults the build used)."""
    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text())
    return config.get("vars", {})


def _read(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    try:
        return con.execute(sql).df()
    except duckdb.CatalogException as error:
        raise WarehouseUnreadableError(
            f"{error}. Build the warehouse first (`retention build`)."
        ) from None


def read_warehouse(warehouse_path: Path) -> WarehouseFrames:
    """Open the warehouse read-only and read the marts and the landing record."""
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
        off = os.environ.get(VALUE_MODELS_VARIABLE, "on") == "off"
        marts = {name: _read(con, f"select * from marts.{name}") for name in MART_TABLES
                 if not (off and name in PREDICTION_MARTS)}
        record = _read(con, "select * from raw._landed_files")
    currency = os.environ.get(DEFAULT_CURRENCY_VARIABLE) or None
    raw_dir, landing = landing_from_record(record.to_dict("records"), currency)
    return WarehouseFrames(marts=marts, raw_dir=raw_dir, landing=landing)


def read_params(as_of_date: str | date | None = None) -> Params:
    """The run parameters from the dbt vars; ``as_of_date`` overrides the var."""
    variables = dbt_vars()
    pinned = as_of_date or str(variables.get("as_of_date") or "") or None
    grain = str(variables.get("retention_grain", "month"))
    if grain not in GRAIN_MONTHS:
        raise WarehouseUnreadableError(f"var retention_grain must be month, quarter or year, "
                                       f"got {grain!r}")
    return Params(
        as_of=date.fromisoformat(str(pinned)) if pinned else None,
        churn_inactivity_days=int(variables.get("churn_inactivity_days", 180)),
        at_risk_days=int(variables.get("at_risk_days", 90)),
        grain_months=GRAIN_MONTHS[grain],
    )


def find_hash_key(customer_ids: list[str], marts: dict[str, pd.DataFrame]) -> str:
    """The key customer_key was made with: RETENTION_HASH_KEY or, failing that, the sample key.

    A run parameter like the as-of date, checked against the data: the key is the one under
    which some of the oracle's customer ids hash to a customer_key of dim_customers (every
    other key is then checked row by row by the comparisons). An empty dim_customers
    (nothing loaded) has no key to check against: the first candidate is used, and the
    comparisons report the rest.
    """
    candidates = [key for key in (os.environ.get(HASH_KEY_VARIABLE), sample_hash_key()) if key]
    keys = set(marts["dim_customers"]["customer_key"])
    if not keys:
        return candidates[0]
    for key in candidates:
        if any(keyed_hash(customer_id, key) in keys for customer_id in customer_ids[:50]):
            return key
    tried = (f"the key in {HASH_KEY_VARIABLE} or the sample key"
             if os.environ.get(HASH_KEY_VARIABLE)
             else f"the sample key ({HASH_KEY_VARIABLE} is not set)")
    raise WarehouseUnreadableError(
        f"customer_key in this warehouse was not made with {tried}: set {HASH_KEY_VARIABLE} "
        "to the key the warehouse was built with.")

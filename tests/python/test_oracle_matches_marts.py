"""The dbt marts agree cell by cell with the independent Python oracle.

``retention_warehouse.oracle`` recomputes the marts from the raw files and seeds alone, following
``docs/metrics.md`` and ``docs/metric_decisions.md`` (no SQL from the
project). Two comparisons:

* the session warehouse (sample, default vars: as-of = last loaded date);
* a second warehouse built from a different generator seed with every metric var
  pinned (an as-of date in the middle of a month, so refunds, surveys and orders
  after it must be ignored and the last period is in progress, and non-default
  churn / at-risk windows), so the vars are proven to reach the SQL.

Counts must be equal, money within half a cent, rates within 1e-9 relative.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from conftest import PROJECT_DIR, BuiltWarehouse, make_warehouse

from retention_warehouse.oracle import (
    COMPARE_SPECS,
    NOT_COMPARED,
    compare_frames,
    compared_columns,
    compute_oracle,
)
from retention_warehouse.pii import resolve_hash_key

SEEDS_DIR = PROJECT_DIR / "seeds"

PINNED_AS_OF = date(2024, 9, 17)
PINNED_CHURN_DAYS = 120
PINNED_AT_RISK_DAYS = 60
PINNED_CUSTOMERS = 1200
PINNED_SEED = 7


def mart_differences(warehouse: BuiltWarehouse, expected: dict[str, pd.DataFrame],
                     table: str) -> list[str]:
    """Differences between one oracle frame and the same dbt mart."""
    with warehouse.connect() as con:
        actual = con.execute(f"select * from marts.{table}").df()
    return compare_frames(expected[table], actual, **COMPARE_SPECS[table])


def fitted_parameters(warehouse: BuiltWarehouse) -> pd.DataFrame:
    """The build's fitted value-model parameters: a run parameter of the oracle (the fits are
    validated by test_value_models.py and test_predictions.py)."""
    with warehouse.connect() as con:
        return con.execute("select * from marts.fct_customer_value_model").df()


@pytest.fixture(scope="module")
def oracle_default(warehouse: BuiltWarehouse) -> dict[str, pd.DataFrame]:
    """The oracle on the session sample with the default vars."""
    return compute_oracle(warehouse.raw_dir, SEEDS_DIR,
                          hash_key=resolve_hash_key(warehouse.raw_dir),
                          value_model=fitted_parameters(warehouse))


@pytest.fixture(scope="module")
def pinned_warehouse(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """A second warehouse (other seed) built with every metric var pinned."""
    built = make_warehouse(tmp_path_factory.mktemp("pinned_warehouse"),
                           customers=PINNED_CUSTOMERS, seed=PINNED_SEED, build=False)
    dbt_vars = json.dumps({"as_of_date": PINNED_AS_OF.isoformat(),
                           "churn_inactivity_days": PINNED_CHURN_DAYS,
                           "at_risk_days": PINNED_AT_RISK_DAYS})
    # Only what the marts need: seeds and models (the data tests run in the session build).
    built.dbt("build", "--resource-type", "seed", "--resource-type", "model",
              "--vars", dbt_vars, check=True)
    return built


@pytest.fixture(scope="module")
def oracle_pinned(pinned_warehouse: BuiltWarehouse) -> dict[str, pd.DataFrame]:
    """The oracle on the second sample with the same pinned vars."""
    return compute_oracle(pinned_warehouse.raw_dir, SEEDS_DIR, as_of=PINNED_AS_OF,
                          churn_inactivity_days=PINNED_CHURN_DAYS,
                          at_risk_days=PINNED_AT_RISK_DAYS,
                          hash_key=resolve_hash_key(pinned_warehouse.raw_dir),
                          value_model=fitted_parameters(pinned_warehouse))


@pytest.mark.parametrize("table", sorted(COMPARE_SPECS))
def test_mart_matches_oracle(warehouse: BuiltWarehouse,
                             oracle_default: dict[str, pd.DataFrame], table: str) -> None:
    """Every row and every compared cell of the mart equals the oracle's."""
    assert len(oracle_default[table]) > 0, f"the oracle computed no {table} rows"
    diffs = mart_differences(warehouse, oracle_default, table)
    assert not diffs, f"marts.{table} differs from the oracle:\n" + "\n".join(diffs)


@pytest.mark.parametrize("table", sorted(COMPARE_SPECS))
def test_mart_matches_oracle_with_pinned_vars(pinned_warehouse: BuiltWarehouse,
                                              oracle_pinned: dict[str, pd.DataFrame],
                                              table: str) -> None:
    """Same comparison with as_of_date, churn_inactivity_days and at_risk_days pinned."""
    assert len(oracle_pinned[table]) > 0, f"the oracle computed no {table} rows"
    diffs = mart_differences(pinned_warehouse, oracle_pinned, table)
    assert not diffs, f"marts.{table} (pinned vars) differs from the oracle:\n" + "\n".join(
        diffs)


def test_pinned_as_of_cuts_the_data(pinned_warehouse: BuiltWarehouse,
                                    oracle_pinned: dict[str, pd.DataFrame]) -> None:
    """The pinned run really is cut at the as-of date (the last period is in progress)."""
    kpis = oracle_pinned["fct_retention_kpis"]
    last = kpis.loc[kpis["period_start"] == kpis["period_start"].max()].iloc[0]
    assert last["effective_end"] == PINNED_AS_OF and last["is_complete_period"] is False
    assert last["period_end"] == date(2024, 9, 30)
    loaded = pinned_warehouse.query(
        "select max(order_date) from intermediate.int_orders_accepted")[0][0]
    assert loaded > PINNED_AS_OF, "the raw sample must hold data after the pinned as-of date"


def test_comparison_catches_a_changed_cell(warehouse: BuiltWarehouse,
                                           oracle_default: dict[str, pd.DataFrame]) -> None:
    """A one-count change in the oracle side is reported against the real mart."""
    tampered = dict(oracle_default)
    kpis = oracle_default["fct_retention_kpis"].copy()
    kpis.loc[kpis.index[-1], "lost_customers"] += 1
    tampered["fct_retention_kpis"] = kpis
    diffs = mart_differences(warehouse, tampered, "fct_retention_kpis")
    assert len(diffs) == 1 and "lost_customers" in diffs[0]


def uncovered_columns(warehouse: BuiltWarehouse) -> dict[str, set[str]]:
    """Per mart: the columns neither compared with the oracle nor listed as left out."""
    result = {}
    with warehouse.connect() as con:
        for table in {*COMPARE_SPECS, *NOT_COMPARED}:
            columns = {name for (name, *_) in con.execute(f"describe marts.{table}").fetchall()}
            result[table] = (columns - set(compared_columns(table))
                             - set(NOT_COMPARED.get(table, {})))
    return result


def test_every_mart_column_is_compared_or_listed(warehouse: BuiltWarehouse) -> None:
    """The oracle compares every column of every mart (dim_customers, fct_orders and the
    semantic layer's fct_customer_periods included) except the ones listed, with a reason,
    in oracle.compare.NOT_COMPARED."""
    with warehouse.connect() as con:
        marts = {name for (name,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts'").fetchall()}
    # dim_data_sources describes the landing, metricflow_time_spine is a calendar; the
    # fitted parameters (fct_customer_value_model) are only listed, every column with why.
    assert marts - {"dim_data_sources", "metricflow_time_spine"} == {
        *COMPARE_SPECS, *NOT_COMPARED}, "every metric mart has an oracle comparison"
    uncovered = {table: cols for table, cols in uncovered_columns(warehouse).items() if cols}
    assert not uncovered, f"mart columns the oracle neither compares nor lists: {uncovered}"
    listed = {table: set(cols) - set(compared_columns(table)) for table, cols in
              NOT_COMPARED.items()}
    assert all(reason for cols in NOT_COMPARED.values() for reason in cols.values())
    assert all(listed[table] == set(NOT_COMPARED[table]) for table in listed), (
        "a column is both compared and listed as left out")

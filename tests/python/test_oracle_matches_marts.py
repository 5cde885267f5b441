"""The dbt marts agree cell by cell with the independent Python oracle.

``oracle.py`` recomputes the marts from the raw files and seeds alone, following
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

import hashlib
import hmac
import json
from datetime import date

import pandas as pd
import pytest
from conftest import PROJECT_DIR, BuiltWarehouse, make_warehouse
from oracle import COMPARE_SPECS, compare_frames, compute_oracle

from retention_warehouse.pii import resolve_hash_key

SEEDS_DIR = PROJECT_DIR / "seeds"

PINNED_AS_OF = date(2024, 9, 17)
PINNED_CHURN_DAYS = 120
PINNED_AT_RISK_DAYS = 60
PINNED_CUSTOMERS = 1200
PINNED_SEED = 7


def customer_key(customer_id: str, key: str) -> str:
    """The mart's customer_key: HMAC-SHA256 (hex, RFC 2104 via Python's hmac module) of the
    surviving CRM customer_id, keyed with the build's RETENTION_HASH_KEY."""
    return hmac.new(key.encode("utf-8"), customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


def mart_differences(warehouse: BuiltWarehouse, expected: dict[str, pd.DataFrame],
                     table: str) -> list[str]:
    """Differences between one oracle frame and the same dbt mart."""
    spec = dict(COMPARE_SPECS[table])
    frame = expected[table]
    if "customer_id" in spec["keys"]:
        # Marts expose a hash, never the CRM id: hash the oracle's ids the same way.
        key = resolve_hash_key(warehouse.raw_dir)
        frame = frame.assign(customer_key=[customer_key(c, key) for c in frame["customer_id"]])
        spec["keys"] = ["customer_key" if k == "customer_id" else k for k in spec["keys"]]
    with warehouse.connect() as con:
        actual = con.execute(f"select * from marts.{table}").df()
    return compare_frames(frame, actual, **spec)


@pytest.fixture(scope="module")
def oracle_default(warehouse: BuiltWarehouse) -> dict[str, pd.DataFrame]:
    """The oracle on the session sample with the default vars."""
    return compute_oracle(warehouse.raw_dir, SEEDS_DIR)


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
                          at_risk_days=PINNED_AT_RISK_DAYS)


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
    assert last["period_end"] == PINNED_AS_OF and last["is_complete_period"] is False
    loaded = pinned_warehouse.query(
        "select max(order_date) from staging.stg_transactions__orders")[0][0]
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

"""The refresh's own freshness verdicts are dbt's: same statuses as ``dbt source freshness``.

``retention refresh`` judges source freshness from the build's manifest without a
second dbt invocation (``retention_warehouse/freshness.py``). On the session
warehouse, for an as-of date at the data's last day (fresh), three days later
(warn for the ledger: warn_after is 2 days) and half a year later (error), the
statuses must equal what ``dbt source freshness --vars '{as_of_date: ...}'``
reports for every source.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import BuiltWarehouse

from retention_warehouse.freshness import judge, pinned_clock, source_freshness


def dbt_statuses(warehouse: BuiltWarehouse, as_of: str, folder: Path) -> dict[str, str]:
    """``dbt source freshness`` with the as-of var, in its own target folder."""
    output = folder / "sources.json"
    warehouse.dbt("source", "freshness", "--vars", json.dumps({"as_of_date": as_of}),
                  "--output", str(output),
                  env={"DBT_TARGET_PATH": str(folder / "target")})
    results = json.loads(output.read_text())["results"]
    return {r["unique_id"].removeprefix("source.retention_warehouse."): r["status"]
            for r in results}


def test_statuses_equal_dbt_source_freshness(warehouse: BuiltWarehouse,
                                             tmp_path: Path) -> None:
    [(last,)] = warehouse.query("select max(order_date) from intermediate.int_orders_accepted")
    # The build's manifest, before any --vars run could re-render it.
    manifest = warehouse.build_manifest_path
    seen = set()
    for days in (0, 3, 180):
        as_of = (last + timedelta(days=days)).isoformat()
        expected = dbt_statuses(warehouse, as_of, tmp_path / f"dbt-{days}")
        assert len(expected) == 6, expected
        assert source_freshness(warehouse.db_path, manifest, as_of) == expected, as_of
        seen.add(expected["transactions.transactions"])
    assert seen == {"pass", "warn", "error"}


def test_judge_applies_warn_and_error_after() -> None:
    criteria = {"warn_after": {"count": 2, "period": "day"},
                "error_after": {"count": 7, "period": "day"}}
    day = 86_400
    assert judge(2 * day, criteria) == "pass"
    assert judge(2 * day + 1, criteria) == "warn"
    assert judge(7 * day + 1, criteria) == "error"
    assert judge(10**9, {"warn_after": {"count": 1, "period": "hour"}}) == "warn"
    assert judge(10**9, {}) == "pass"


def test_pinned_clock_keeps_the_time_of_day() -> None:
    now = datetime(2026, 12, 1, 6, 15)
    assert pinned_clock("2025-12-20", now) == datetime(2025, 12, 20, 6, 15)
    assert pinned_clock(None, now) == now
    with pytest.raises(ValueError):
        pinned_clock("20-12-2025", now)

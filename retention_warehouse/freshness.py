"""Source freshness of a built warehouse, judged by dbt's own criteria, without a dbt command.

``retention refresh`` runs one dbt invocation (``dbt build``) and pins the as-of
date through the environment so that dbt's partial parsing survives from one
day to the next (see ``macros/as_of_date_setting.sql``). ``dbt source freshness``
would be a second invocation and needs the as-of date as a ``--vars`` value,
which makes dbt re-parse the whole project. So the refresh evaluates freshness
itself, after the build, from what the build's manifest says:

* each source's ``loaded_at_field`` (rendered by dbt; without the var it is the
  plain load date) and ``freshness`` criteria (``warn_after``, ``error_after``,
  ``filter``) as written in the sources' YAML;
* ``max(loaded_at_field)`` over the source relation (the raw views the build's
  on-run-start hook created in the warehouse file);
* the age is measured from the pinned clock: the as-of date at the current time
  of day, which is what ``dbt source freshness --vars '{as_of_date: ...}'``
  measures (it shifts every loaded date by today - as-of). Unpinned, the clock
  is now.

A status is ``pass``, ``warn``, ``error`` (older than ``error_after``) or
``runtime error`` (the query failed), keyed ``<source>.<table>`` as dbt names them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

PERIOD_SECONDS = {"minute": 60, "hour": 3_600, "day": 86_400}


def _limit_seconds(rule: dict | None) -> float | None:
    """Seconds of a ``{count, period}`` freshness rule (None when not set)."""
    if not rule or rule.get("count") is None or rule.get("period") is None:
        return None
    return float(rule["count"]) * PERIOD_SECONDS[rule["period"]]


def judge(age_seconds: float, criteria: dict) -> str:
    """``pass`` / ``warn`` / ``error`` for a data age under dbt's freshness criteria."""
    error_after = _limit_seconds(criteria.get("error_after"))
    warn_after = _limit_seconds(criteria.get("warn_after"))
    if error_after is not None and age_seconds > error_after:
        return "error"
    if warn_after is not None and age_seconds > warn_after:
        return "warn"
    return "pass"


def pinned_clock(as_of_date: str | None, now: datetime | None = None) -> datetime:
    """The moment ages are measured from: the as-of date at the current time of day."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    if not as_of_date:
        return now
    return datetime.combine(date.fromisoformat(as_of_date), now.time())


def source_freshness(warehouse: Path, manifest_path: Path, as_of_date: str | None,
                     now: datetime | None = None) -> dict[str, str]:
    """Each source table's freshness status in a built warehouse (read-only)."""
    manifest = json.loads(manifest_path.read_text())
    clock = pinned_clock(as_of_date, now)
    statuses: dict[str, str] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for source in manifest["sources"].values():
            criteria = source.get("freshness") or {}
            if not source.get("loaded_at_field") or not (
                    criteria.get("warn_after") or criteria.get("error_after")):
                continue
            name = f"{source['source_name']}.{source['name']}"
            where = f" where {criteria['filter']}" if criteria.get("filter") else ""
            try:
                loaded = con.execute(f"select max({source['loaded_at_field']}) from "
                                     f"{source['relation_name']}{where}").fetchone()[0]
            except duckdb.Error:
                statuses[name] = "runtime error"
                continue
            if loaded is None:
                statuses[name] = "error"
                continue
            if isinstance(loaded, date) and not isinstance(loaded, datetime):
                loaded = datetime.combine(loaded, datetime.min.time())
            age = (clock - loaded.replace(tzinfo=None)) / timedelta(seconds=1)
            statuses[name] = judge(age, criteria)
    return statuses

"""The independent oracle: every mart recomputed in plain Python from the raw files.

One recomputation serves every check that needs expected values:

* the tests (``tests/python/test_oracle_matches_marts.py``, the hostile-input and
  PostgreSQL tests) compare it with the marts cell by cell (``compare_frames``);
* the Great Expectations checkpoint (``retention quality``) turns the same comparison
  into expectations (``retention_warehouse.quality``): GE checks structure, ranges and
  the comparison result, the numbers come from here;
* the mutation check (``scripts/mutation_check.py``) uses it to kill mutations no dbt
  test catches.

Design:

* **Raw files in, marts out.** ``inputs`` reads the batch files and seeds, ``staging``
  restates the landing contract and the staging rules, ``states`` builds purchases and
  customers, and ``kpis``, ``cohorts``, ``churn``, ``tiers``, ``value``, ``core``,
  ``semantic`` and ``predictions`` compute the ten marts. Every metric formula and
  threshold is in ``rates`` (once); the two value-model formulas in ``predictions``.
* **Independent of the SQL.** Nothing here reads a dbt model: the rules come from
  docs/metrics.md, docs/metric_decisions.md and docs/raw_data_contract.md. The only
  things taken from a build are its run parameters: the dbt vars, and, when the
  checkpoint runs, the landing record (``raw._landed_files``: which batch file
  landed when, written before any model runs) and the fitted value-model parameters
  (``marts.fct_customer_value_model``, validated by tests/python/test_value_models.py),
  from which ``predictions`` recomputes each customer's P(alive) and expected order
  value (without them both are None, as on PostgreSQL). The as-of date is derived, never read
  from a mart: the ``as_of_date`` var when pinned, else the latest UTC date of any
  clean transaction (``states.default_as_of``).
* **Exact arithmetic.** Money is :class:`decimal.Decimal`, rounded half away from
  zero; rates are ``float``; NULL is ``None``.
* **Every mart column** is compared (``compare.COMPARE_SPECS``) or listed with the
  reason it is not (``compare.NOT_COMPARED``): surrogate keys, pass-through
  attributes, the value models' horizon estimates and the fitted parameters.

Usage::

    from retention_warehouse.oracle import COMPARE_SPECS, compare_frames, compute_oracle

    fitted = con.sql("select * from marts.fct_customer_value_model").df()
    expected = compute_oracle(raw_dir, seeds_dir, hash_key=key, value_model=fitted)
    for table, spec in COMPARE_SPECS.items():
        actual = con.sql(f"select * from marts.{table}").df()
        assert not compare_frames(expected[table], actual, **spec)
"""

from __future__ import annotations

from retention_warehouse.oracle.compare import (
    COMPARE_SPECS,
    NOT_COMPARED,
    compare_frames,
    compared_columns,
)
from retention_warehouse.oracle.inputs import (
    RAW_COLUMNS,
    Landing,
    Seeds,
    landing_from_record,
    load_seeds,
    read_raw_rows,
)
from retention_warehouse.oracle.marts import add_customer_keys, compute_marts, compute_oracle
from retention_warehouse.oracle.parsing import parse_timestamp_utc
from retention_warehouse.oracle.states import Model, Params, build_model

__all__ = [
    "COMPARE_SPECS",
    "NOT_COMPARED",
    "RAW_COLUMNS",
    "Landing",
    "Model",
    "Params",
    "Seeds",
    "add_customer_keys",
    "build_model",
    "compare_frames",
    "compared_columns",
    "compute_marts",
    "compute_oracle",
    "landing_from_record",
    "load_seeds",
    "parse_timestamp_utc",
    "read_raw_rows",
]

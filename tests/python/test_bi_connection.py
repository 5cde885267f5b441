"""A SQLAlchemy client (duckdb-engine, as Superset uses it) lists and reads the marts read-only.

The connection URL is the one docs/connecting_bi_tools.md gives; the test
proves it lists every public mart, reads rows equal to a direct DuckDB read,
refuses writes, and does not stop another read-only reader.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import BuiltWarehouse

# Every model with access: public in the marts schema (see each folder's YAML).
PUBLIC_MARTS = {"dim_customers", "fct_orders", "fct_retention_kpis", "fct_cohort_retention",
                "fct_churn_reasons", "fct_survey_responses", "fct_customer_lifetime_value",
                "fct_lifetime_value_segments", "fct_customer_tiers", "fct_customer_periods",
                "fct_customer_predictions", "fct_customer_value_model"}


def _engine(warehouse: BuiltWarehouse) -> sa.Engine:
    """The documented read-only URL: duckdb:///<absolute path>?access_mode=read_only."""
    return sa.create_engine(f"duckdb:///{warehouse.db_path}?access_mode=read_only")


def test_sqlalchemy_lists_the_marts_and_reads_them(warehouse: BuiltWarehouse) -> None:
    """Reflection lists every public mart (a table, or a view over an incremental model);
    a query returns the mart's rows."""
    engine = _engine(warehouse)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            tables = set(inspector.get_table_names(schema="marts")) | set(
                inspector.get_view_names(schema="marts"))
            assert tables >= PUBLIC_MARTS, f"missing marts: {sorted(PUBLIC_MARTS - tables)}"
            columns = {column["name"] for column in
                       sa.inspect(connection).get_columns("fct_retention_kpis", schema="marts")}
            assert {"period_start", "segment_type", "customer_retention_rate"} <= columns
            rows = connection.execute(sa.text(
                "select count(*), sum(customers_at_end) from marts.fct_retention_kpis "
                "where segment_type = 'total'")).one()
    finally:
        engine.dispose()
    direct = warehouse.query("select count(*), sum(customers_at_end) "
                             "from marts.fct_retention_kpis where segment_type = 'total'")
    assert rows[0] > 0 and tuple(rows) == direct[0]


def test_sqlalchemy_connection_is_read_only(warehouse: BuiltWarehouse) -> None:
    """Writes fail on the documented URL, so a BI tool can never block or damage a refresh."""
    engine = _engine(warehouse)
    try:
        with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="read-only"):
            connection.execute(sa.text("create table marts.bi_scratch as select 1 as x"))
    finally:
        engine.dispose()
    [(left,)] = warehouse.query("select count(*) from information_schema.tables "
                                "where table_name = 'bi_scratch'")
    assert left == 0

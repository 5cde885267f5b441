"""The session warehouse builds and its marts hold rows (the fixture the suite stands on)."""

from __future__ import annotations

MARTS = ("dim_customers", "fct_orders", "fct_retention_kpis", "fct_cohort_retention",
         "fct_churn_reasons", "fct_customer_lifetime_value", "fct_lifetime_value_segments",
         "fct_customer_tiers")


def test_every_mart_is_built_and_not_empty(warehouse) -> None:
    """dbt build succeeded (the fixture fails otherwise) and every mart has rows."""
    for mart in MARTS:
        [(rows,)] = warehouse.query(f"select count(*) from marts.{mart}")
        assert rows > 0, f"marts.{mart} is empty"


def test_sample_customers_all_reach_dim_customers(warehouse) -> None:
    """Each CRM person is one customer: test accounts out, re-registrations merged."""
    generated = warehouse.generator_manifest
    expected = (generated["customers"] - generated["defects"]["test_account"])
    [(customers,)] = warehouse.query("select count(*) from marts.dim_customers")
    assert customers == expected

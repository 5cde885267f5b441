"""Self-checks of the independent oracle on tiny hand-made raw folders.

Every expected number below is computed by hand from the fixture (the arithmetic is
spelled out in the comments), so these tests fail if the oracle drifts from the metric
contract (``docs/metrics.md``) or the decision log (``docs/metric_decisions.md``).
"""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retention_warehouse.oracle import (
    RAW_COLUMNS,
    Landing,
    Params,
    Seeds,
    build_model,
    compare_frames,
    compute_oracle,
    parse_timestamp_utc,
)

# --------------------------------------------------------------------------------------
# Fixture helpers
# --------------------------------------------------------------------------------------

FX_START = date(2023, 12, 1)
FX_END = date(2025, 12, 31)


def write_seeds(
    folder: Path, eur_rate: Any = Decimal("0.500000"), usd_rate: Any = Decimal("1.000000")
) -> Path:
    """Write the four seeds; ``eur_rate`` may be a callable date -> usd_per_unit."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "fx_rates.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rate_date", "currency_code", "usd_per_unit"])
        day = FX_START
        while day <= FX_END:
            usd = usd_rate(day) if callable(usd_rate) else usd_rate
            eur = eur_rate(day) if callable(eur_rate) else eur_rate
            writer.writerow([day.isoformat(), "USD", usd])
            writer.writerow([day.isoformat(), "EUR", eur])
            day += timedelta(days=1)
    (folder / "loyalty_tiers.csv").write_text(
        "tier_name,tier_rank,min_trailing_12m_spend\n"
        "bronze,1,0.00\nsilver,2,250.00\ngold,3,1000.00\nvip,4,3000.00\n"
    )
    (folder / "exit_reasons.csv").write_text(
        "reason_code,reason_category,reason_description\n"
        "too_expensive,price,x\nfound_cheaper,price,x\npoor_quality,product,x\n"
        "switched_supplier,better_supplier,x\nrude_staff,service_attitude,x\n"
        "no_reason,no_reason,x\nother,other,x\n"
    )
    (folder / "country_regions.csv").write_text(
        "country_code,country_name,region,local_currency_code\n"
        "US,United States,north_america,USD\nDE,Germany,western_europe,EUR\n"
    )
    # RFM segment rules: rule_order, segment, min/max recency, frequency, monetary score.
    (folder / "rfm_segments.csv").write_text(
        "rule_order,segment_name,min_recency_score,max_recency_score,min_frequency_score,"
        "max_frequency_score,min_monetary_score,max_monetary_score,description\n"
        "1,champions,4,5,4,5,1,5,x\n2,cant_lose,1,2,4,5,4,5,x\n3,at_risk,1,2,3,5,1,5,x\n"
        "4,loyal,3,5,3,5,1,5,x\n5,new,4,5,1,1,1,5,x\n6,potential_loyalist,3,5,1,2,1,5,x\n"
        "7,lost,1,1,1,2,1,5,x\n8,hibernating,2,2,1,2,1,5,x\n"
    )
    return folder


def write_raw(folder: Path, tables: dict[str, list[dict[str, str]]]) -> Path:
    """Write one batch CSV per raw table (missing columns blank, missing tables empty)."""
    for table, columns in RAW_COLUMNS.items():
        (folder / table).mkdir(parents=True, exist_ok=True)
        with (folder / table / "batch_001.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns))
            writer.writeheader()
            for row in tables.get(table, []):
                writer.writerow({c: row.get(c, "") for c in columns})
    return folder


def person(
    cid: str,
    email: str | None = None,
    signup: str = "2023-12-01T00:00:00+00:00",
    channel: str = "organic",
    country: str = "US",
    test: str = "false",
) -> dict[str, str]:
    """A CRM row."""
    return {
        "customer_id": cid,
        "email": email if email is not None else f"{cid.lower()}@shop.test",
        "first_name": "A",
        "last_name": "B",
        "country_code": country,
        "signup_at": signup,
        "acquisition_channel": channel,
        "marketing_consent": "true",
        "is_test_account": test,
        "updated_at": signup,
    }


_counter = iter(range(1, 10**6))


def sale(
    cid: str, on: str, amount: str, order: str | None = None, currency: str = "USD",
    status: str = "completed", tid: str | None = None,
) -> dict[str, str]:
    """A sale row; ``on`` is a date (noon UTC) or a full timestamp."""
    n = next(_counter)
    return {
        "transaction_id": tid or f"T{n:010d}",
        "order_id": order or f"O{n:010d}",
        "customer_id": cid,
        "transaction_type": "sale",
        "transaction_at": on if "T" in on or "/" in on else f"{on}T12:00:00+00:00",
        "amount": amount,
        "currency_code": currency,
        "status": status,
        "sales_channel": "web",
        "items_count": "1",
    }


def refund(cid: str, on: str, amount: str, order: str, currency: str = "USD") -> dict[str, str]:
    """A refund row of ``order``."""
    row = sale(cid, on, amount, order=order, currency=currency)
    row["transaction_type"] = "refund"
    return row


def invitation(iid: str, cid: str, stype: str, on: str) -> dict[str, str]:
    """A survey invitation sent at noon UTC on ``on``."""
    return {"invitation_id": iid, "customer_id": cid, "survey_type": stype,
            "sent_at": f"{on}T12:00:00+00:00"}


def response(
    rid: str, iid: str, on: str, score: str = "", reason: str = ""
) -> dict[str, str]:
    """A survey response at 18:00 UTC on ``on``."""
    return {"response_id": rid, "invitation_id": iid, "score": score,
            "exit_reason_code": reason, "responded_at": f"{on}T18:00:00+00:00"}


@pytest.fixture
def seeds_dir(tmp_path: Path) -> Path:
    """Seeds with USD = 1 and EUR = 0.5 USD every day."""
    return write_seeds(tmp_path / "seeds")


def run(
    tmp_path: Path, seeds_dir: Path, tables: dict[str, list[dict[str, str]]], **kwargs: Any
) -> dict[str, pd.DataFrame]:
    """Write the raw folder and run the oracle."""
    return compute_oracle(write_raw(tmp_path / "raw", tables), seeds_dir, **kwargs)


def row_of(frame: pd.DataFrame, **match: Any) -> dict[str, Any]:
    """The single row of ``frame`` matching every column=value."""
    mask = pd.Series(True, index=frame.index)
    for column, value in match.items():
        mask &= frame[column] == value
    hits = frame[mask]
    assert len(hits) == 1, f"{len(hits)} rows match {match}"
    return hits.iloc[0].to_dict()


# --------------------------------------------------------------------------------------
# Staging rules
# --------------------------------------------------------------------------------------


def test_timestamp_formats() -> None:
    """The accepted forms convert to UTC; anything else is unparseable."""
    assert parse_timestamp_utc("2024-03-05T14:22:10+01:00") == datetime(
        2024, 3, 5, 13, 22, 10, tzinfo=UTC
    )
    # 23:30 at -02:00 is 01:30 UTC the next day
    assert parse_timestamp_utc("15/01/2024 23:30:00 -0200") == datetime(
        2024, 1, 16, 1, 30, tzinfo=UTC
    )
    assert parse_timestamp_utc("2024-03-05T14:22:10") == datetime(
        2024, 3, 5, 14, 22, 10, tzinfo=UTC
    )
    # Z with milliseconds (Stripe), a space before the offset, no seconds, a date alone
    assert parse_timestamp_utc("2025-06-15T10:00:00.123Z") == datetime(
        2025, 6, 15, 10, 0, 0, 123000, tzinfo=UTC)
    assert parse_timestamp_utc("2025-06-15 10:00:00 +02:00") == datetime(
        2025, 6, 15, 8, tzinfo=UTC)
    assert parse_timestamp_utc("2025-06-15T23:30+0530") == datetime(2025, 6, 15, 18, tzinfo=UTC)
    assert parse_timestamp_utc("2024-03-05") == datetime(2024, 3, 5, tzinfo=UTC)
    for bad in ("2024-02-30T00:00:00+00:00", "yesterday", "", "05/03/2024",
                "2025-06-15T24:00:00Z", "2025-06-15T10:00:00+2", "06/15/2025 10:00 AM"):
        assert parse_timestamp_utc(bad) is None, bad


def test_fx_rate_rounds_to_8_decimals_half_up() -> None:
    """rate = round8(usd_per_unit(c) / usd_per_unit(reporting)), carried at most 4 days."""
    d = date(2024, 1, 1)
    seeds = Seeds(
        usd_per_unit={("USD", d): Decimal("3"), ("EUR", d): Decimal("2"),
                      ("GBP", d): Decimal("0.000000125")},
        currencies=frozenset({"USD", "EUR", "GBP"}),
        tiers=(), reason_category={}, reason_categories=(), region_of_country={},
    )
    # USD is the unit of usd_per_unit (1 by definition; a USD row is not read)
    assert seeds.fx_rate("EUR", d) == Decimal("2.00000000")
    assert seeds.fx_rate("GBP", d) == Decimal("0.00000013")  # 0.000000125 → 0.00000013
    assert seeds.fx_rate("USD", d) == Decimal("1")  # the reporting currency: exactly 1
    # carried forward at most 4 days: 2024-01-05 still, 2024-01-06 not
    assert seeds.fx_rate("EUR", date(2024, 1, 5)) == Decimal("2.00000000")
    assert seeds.fx_rate("EUR", date(2024, 1, 6)) is None
    # a rate that needs the reporting currency's (a GBP report) rounds half up
    gbp = replace(seeds, usd_per_unit={**seeds.usd_per_unit, ("GBP", d): Decimal("3")})
    assert gbp.usd_rate("EUR", d) / gbp.usd_rate("GBP", d) == Decimal(2) / Decimal(3)


def test_duplicates_tests_and_unknown_customers(tmp_path: Path, seeds_dir: Path) -> None:
    """Duplicate persons merge into the earliest signup; test and unknown ids vanish."""
    crm = [
        person("C00000001", "a@shop.test", signup="2023-12-05T00:00:00+00:00"),
        # same person (trim + lower-case), earlier signup → survivor C00000002
        person("C00000002", "  A@Shop.Test ", signup="2023-12-01T00:00:00+00:00"),
        person("C00000003", test="TRUE"),
        person("C00000004", "z@example.com"),
        person("C00000005", signup="not a date"),
    ]
    crm.append(dict(crm[0]))  # exact duplicate row collapses
    tx = [
        sale("C00000001", "2024-01-10", "10.00"),
        sale("C00000002", "15/01/2024 23:30:00 -0200", "20.00"),  # UTC 2024-01-16
        sale("C00000003", "2024-01-20", "100.00"),
        sale("C00000004", "2024-01-20", "100.00"),
        sale("C00000005", "2024-01-20", "100.00"),
        sale("C99999999", "2024-01-20", "100.00"),
        sale("C00000001", "2024-01-21", "-5.00"),
        sale("C00000001", "2024-01-21", "0.00"),
        sale("C00000001", "2024-01-21", "12,50"),
        sale("C00000001", "2024-01-21", "5.00", currency="JPY"),
        sale("C00000001", "2024-01-21", "5.00", status="shipped"),
        sale("C00000001", "2024-01-21 10:00 AM", "5.00"),
    ]
    out = run(tmp_path, seeds_dir, {"crm_customers": crm, "transactions": tx})
    cltv = out["fct_customer_lifetime_value"]
    assert list(cltv["customer_id"]) == ["C00000002"]
    only = cltv.iloc[0]
    assert only["orders"] == 2
    assert only["net_revenue"] == Decimal("30.00")
    assert only["acquisition_date"] == date(2024, 1, 10)
    assert only["last_purchase_date"] == date(2024, 1, 16)
    # as-of = latest clean transaction date = 2024-01-16 (the rejected rows are later)
    assert only["tenure_days"] == 7


def test_refund_rules_and_as_of(tmp_path: Path, seeds_dir: Path) -> None:
    """Full refund → no purchase; over-refund rejected; second sale rejected; as-of."""
    c = "C00000001"
    tx = [
        sale(c, "2024-01-05", "100.00", order="O1"),
        refund(c, "2024-01-20", "100.00", order="O1"),  # net 0 → not a purchase
        sale(c, "2024-02-10", "50.00", order="O2"),
        refund(c, "2024-02-15", "20.00", order="O2"),  # net 30
        sale(c, "2024-03-01", "40.00", order="O3"),
        refund(c, "2024-03-02", "30.00", order="O3"),
        refund(c, "2024-03-03", "20.00", order="O3"),  # 30 + 20 > 40 → rejected; net 10
        sale(c, "2024-03-05", "25.00", order="O4", status="cancelled"),
        refund(c, "2024-03-06", "5.00", order="O4"),  # refund of a cancelled order
        sale(c, "2024-03-10", "60.00", order="O5"),
        sale(c, "2024-03-11", "70.00", order="O5"),  # second sale of O5 → rejected
        refund(c, "2024-03-12", "5.00", order="O9"),  # unknown order
        refund(c, "2024-03-12", "5.00", order="O5", currency="EUR"),  # other currency
    ]
    tables = {"crm_customers": [person(c)], "transactions": tx}
    out = run(tmp_path, seeds_dir, tables)
    cust = out["fct_customer_lifetime_value"].iloc[0]
    # default as-of = 2024-03-10 (every later row is rejected)
    assert cust["orders"] == 3  # O2, O3, O5
    assert cust["net_revenue"] == Decimal("100.00")  # 30 + 10 + 60
    assert cust["acquisition_date"] == date(2024, 2, 10)  # O1 is not a purchase
    assert cust["lifespan_days"] == 30  # 2024-02-10 .. 2024-03-10 inclusive (leap year)
    assert cust["tenure_days"] == 30
    assert cust["purchases_per_year"] == pytest.approx(3 * 365.25 / 30, rel=1e-12)
    assert cust["average_order_value"] == Decimal("100.00") / 3
    kpi = out["fct_retention_kpis"]
    jan = kpi[kpi["period_start"] == date(2024, 1, 1)]
    # customer states start at the first purchase (February); January only has the
    # funnel rows of the person who signed up in December 2023 (a lead at 2024-01-31)
    assert set(jan["segment_type"]) == {"total", "region", "acquisition_channel"}
    assert set(jan["customers_at_end"]) == {0} and set(jan["leads_at_end"]) == {1}
    feb = row_of(kpi, period_start=date(2024, 2, 1), segment_type="total")
    assert feb["purchases"] == 1
    assert feb["net_revenue"] == Decimal("30.00")

    # as-of before the O2 refund: the refund is not applied yet
    early = compute_oracle(tmp_path / "raw", seeds_dir, as_of=date(2024, 2, 12))
    assert early["fct_customer_lifetime_value"].iloc[0]["net_revenue"] == Decimal("50.00")


def test_fx_amount_rounding_half_away_from_zero(tmp_path: Path, seeds_dir: Path) -> None:
    """22.09 EUR × 0.5 = 11.045 → 11.05 (banker's rounding would give 11.04)."""
    c = "C00000001"
    tx = [
        sale(c, "2024-01-05", "22.09", currency="EUR", order="O1"),
        sale(c, "2024-01-06", "30.00", currency="EUR", order="O2"),
        refund(c, "2024-01-07", "10.01", currency="EUR", order="O2"),  # net 19.99 → 9.995 → 10.00
    ]
    out = run(tmp_path, seeds_dir, {"crm_customers": [person(c)], "transactions": tx})
    tiers = out["fct_customer_tiers"]
    assert tiers.iloc[0]["net_revenue_in_month"] == Decimal("21.05")


# --------------------------------------------------------------------------------------
# States and KPIs
# --------------------------------------------------------------------------------------


def test_churn_boundary_at_180_days(tmp_path: Path, seeds_dir: Path) -> None:
    """Last purchase 2024-01-02: active on 2024-06-30 (day 180), churned on 2024-07-01."""
    c = "C00000001"
    tables = {"crm_customers": [person(c)], "transactions": [sale(c, "2024-01-02", "10.00")]}
    raw = write_raw(tmp_path / "raw", tables)
    model = build_model(raw, seeds_dir, Params(as_of=date(2024, 8, 31)))
    cust = model.customers[c]
    assert cust.is_active(date(2024, 6, 30), 180)
    assert not cust.is_active(date(2024, 7, 1), 180)
    assert not cust.is_active(date(2024, 1, 1), 180)  # not acquired yet

    kpi = compute_oracle(raw, seeds_dir, as_of=date(2024, 8, 31))["fct_retention_kpis"]
    june = row_of(kpi, period_start=date(2024, 6, 1), segment_type="total")
    assert (june["customers_at_start"], june["customers_at_end"], june["lost_customers"]) == (
        1, 1, 0,
    )
    # at risk at 2024-06-30: 180 days since the last purchase > 90
    assert june["at_risk_customers_at_end"] == 1
    july = row_of(kpi, period_start=date(2024, 7, 1), segment_type="total")
    assert (july["customers_at_start"], july["customers_at_end"], july["lost_customers"]) == (
        1, 0, 1,
    )
    assert july["churn_rate"] == 100.0
    assert july["strict_retention_rate"] == 0.0
    assert july["customer_retention_rate"] == 0.0
    aug = row_of(kpi, period_start=date(2024, 8, 1), segment_type="total")
    assert aug["customers_at_start"] == 0
    assert aug["churn_rate"] is None and aug["customer_retention_rate"] is None
    assert aug["strict_retention_rate"] is None
    assert bool(aug["is_complete_period"]) is True  # as-of is the last day of August
    # with a 181-day window the customer is still active on 2024-07-01
    longer = compute_oracle(raw, seeds_dir, as_of=date(2024, 8, 31), churn_inactivity_days=181)
    july181 = row_of(longer["fct_retention_kpis"], period_start=date(2024, 7, 1),
                     segment_type="total")
    assert july181["lost_customers"] == 1  # lost at 2024-07-31 instead, still within July
    # at_risk_days is a strict bound: 180 days since the last purchase is not > 180
    lenient = compute_oracle(raw, seeds_dir, as_of=date(2024, 8, 31), at_risk_days=180)
    june180 = row_of(lenient["fct_retention_kpis"], period_start=date(2024, 6, 1),
                     segment_type="total")
    assert june180["at_risk_customers_at_end"] == 0


def test_new_referral_reactivation_and_identities(tmp_path: Path, seeds_dir: Path) -> None:
    """S = 0 gives NULL rates; referral rate; reactivation; E = S − L + N + R."""
    crm = [
        person("C00000001", channel="organic"),
        person("C00000002", channel="referral"),
        person("C00000003", channel="referral", country="DE"),
    ]
    tx = [
        sale("C00000001", "2024-01-02", "10.00"),
        sale("C00000002", "2024-01-15", "20.00"),
        sale("C00000003", "2024-01-31", "30.00"),
        sale("C00000002", "2024-07-20", "40.00"),  # keeps C2 active through August
        sale("C00000001", "2024-08-15", "50.00"),  # C1 churned 2024-07-01 → reactivated
    ]
    out = run(tmp_path, seeds_dir, {"crm_customers": crm, "transactions": tx},
              as_of=date(2024, 8, 20))
    kpi = out["fct_retention_kpis"]
    jan = row_of(kpi, period_start=date(2024, 1, 1), segment_type="total")
    assert jan["new_customers"] == 3 and jan["customers_at_start"] == 0
    assert jan["customer_retention_rate"] is None and jan["churn_rate"] is None
    assert jan["referred_new_customers"] == 2
    assert jan["referral_rate"] == pytest.approx(200 / 3, rel=1e-12)
    feb = row_of(kpi, period_start=date(2024, 2, 1), segment_type="total")
    assert feb["referral_rate"] is None  # N = 0
    assert feb["customer_retention_rate"] == 100.0
    assert feb["purchases"] == 0 and feb["average_order_value"] is None
    aug = row_of(kpi, period_start=date(2024, 8, 1), segment_type="total")
    # at 2024-07-31: C1 churned (last 01-02), C2 active (07-20), C3 churned (01-31 + 182)
    assert (aug["customers_at_start"], aug["customers_at_end"]) == (1, 2)
    assert (aug["new_customers"], aug["reactivated_customers"], aug["lost_customers"]) == (0, 1, 0)
    assert aug["customer_retention_rate"] == 200.0
    assert aug["strict_retention_rate"] == 100.0
    assert not bool(aug["is_complete_period"])
    for _, r in kpi.iterrows():
        assert r["customers_at_end"] == (
            r["customers_at_start"] - r["lost_customers"] + r["new_customers"]
            + r["reactivated_customers"]
        )
    # segments: region of C3 (DE) and the July repeat-purchase interval of C2
    de = row_of(kpi, period_start=date(2024, 1, 1), segment_type="region",
                segment_value="western_europe")
    assert de["new_customers"] == 1 and de["net_revenue"] == Decimal("30.00")
    july = row_of(kpi, period_start=date(2024, 7, 1), segment_type="total")
    assert july["repeat_purchase_interval_days"] == (date(2024, 7, 20) - date(2024, 1, 15)).days
    ref = row_of(kpi, period_start=date(2024, 1, 1), segment_type="acquisition_channel",
                 segment_value="referral")
    assert ref["referral_rate"] == 100.0


def test_survey_kpis(tmp_path: Path, seeds_dir: Path) -> None:
    """NPS all promoters = 100; CSAT share of 4-5; CES mean; response rates; leads ignored."""
    c, lead = "C00000001", "C00000002"
    inv = [
        invitation("I1", c, "nps", "2024-02-01"),
        invitation("I2", c, "nps", "2024-02-03"),
        invitation("I3", c, "nps", "2024-02-05"),  # unanswered
        invitation("I4", c, "csat", "2024-02-06"),
        invitation("I5", c, "csat", "2024-02-07"),
        invitation("I8", c, "csat", "2024-02-10"),  # its answer (6) is out of range
        invitation("I6", c, "ces", "2024-02-08"),
        invitation("I7", c, "ces", "2024-02-09"),
        invitation("I9", lead, "nps", "2024-02-01"),  # a lead: not a customer
        invitation("I10", c, "nps", "2024-03-01"),
        invitation("I11", c, "nps", "2024-03-01"),
        invitation("I12", c, "nps", "2024-03-01"),
        invitation("I13", c, "nps", "2024-03-01"),
        invitation("I14", c, "bogus", "2024-03-01"),
    ]
    resp = [
        response("R1", "I1", "2024-02-02", "9"),
        response("R0", "I1", "2024-02-20", "0"),  # second answer to I1 → ignored
        response("R2", "I2", "2024-02-04", "10"),
        response("R4", "I4", "2024-02-06", "5"),
        response("R5", "I5", "2024-02-07", "3"),
        response("R8", "I8", "2024-02-10", "6"),
        response("R6", "I6", "2024-02-08", "6"),
        response("R7", "I7", "2024-02-09", "3"),
        response("R9", "I9", "2024-02-02", "0"),
        response("R10", "I10", "2024-03-02", "0"),
        response("R11", "I11", "2024-03-02", "6"),
        response("R12", "I12", "2024-03-02", "7"),
        response("R13", "I13", "2024-03-02", "9.5"),  # non-integer → rejected
        response("R14", "I14", "2024-03-02", "9"),
    ]
    tables = {
        "crm_customers": [person(c), person(lead)],
        "transactions": [sale(c, "2024-01-05", "10.00")],
        "survey_invitations": inv,
        "survey_responses": resp,
    }
    kpi = run(tmp_path, seeds_dir, tables, as_of=date(2024, 3, 31))["fct_retention_kpis"]
    feb = row_of(kpi, period_start=date(2024, 2, 1), segment_type="total")
    assert feb["nps_responses"] == 2 and feb["nps"] == 100.0
    assert feb["nps_invitations"] == 3
    assert feb["nps_response_rate"] == pytest.approx(200 / 3, rel=1e-12)
    assert feb["csat_responses"] == 2 and feb["csat"] == 50.0
    assert feb["csat_invitations"] == 3
    assert feb["csat_response_rate"] == pytest.approx(200 / 3, rel=1e-12)
    assert feb["ces_responses"] == 2 and feb["ces"] == 4.5
    assert feb["ces_response_rate"] == 100.0
    assert feb["exit_invitations"] == 0 and feb["exit_response_rate"] is None
    mar = row_of(kpi, period_start=date(2024, 3, 1), segment_type="total")
    # scores 0, 6, 7: promoters 0, detractors 2 → −66.67
    assert mar["nps_responses"] == 3
    assert mar["nps"] == pytest.approx(-200 / 3, rel=1e-12)
    assert mar["nps_invitations"] == 4 and mar["nps_response_rate"] == 75.0
    assert mar["csat"] is None
    jan = row_of(kpi, period_start=date(2024, 1, 1), segment_type="total")
    assert jan["nps_responses"] == 0 and jan["nps"] is None


# --------------------------------------------------------------------------------------
# Tiers, cohorts, lifetime value, churn reasons
# --------------------------------------------------------------------------------------


def test_tier_boundary_and_changes(tmp_path: Path, seeds_dir: Path) -> None:
    """Exactly 250.00 trailing spend is silver; the window drops January after 12 months."""
    c = "C00000001"
    tx = [sale(c, "2024-01-15", "100.00"), sale(c, "2024-02-15", "150.00")]
    out = run(tmp_path, seeds_dir, {"crm_customers": [person(c)], "transactions": tx},
              as_of=date(2025, 1, 31))
    tiers = out["fct_customer_tiers"]
    assert len(tiers) == 13  # 2024-01 .. 2025-01
    jan = row_of(tiers, month_start=date(2024, 1, 1))
    assert (jan["tier_name"], jan["tier_change"], jan["previous_tier_name"]) == (
        "bronze", "new", None,
    )
    assert jan["spend_to_next_tier"] == Decimal("150.00")
    feb = row_of(tiers, month_start=date(2024, 2, 1))
    assert feb["trailing_12m_net_revenue"] == Decimal("250.00")
    assert (feb["tier_name"], feb["tier_change"], feb["previous_tier_name"]) == (
        "silver", "upgrade", "bronze",
    )
    assert feb["spend_to_next_tier"] == Decimal("750.00")
    dec = row_of(tiers, month_start=date(2024, 12, 1))
    assert (dec["tier_name"], dec["tier_change"]) == ("silver", "same")
    assert dec["net_revenue_in_month"] == Decimal("0")
    jan25 = row_of(tiers, month_start=date(2025, 1, 1))
    assert jan25["trailing_12m_net_revenue"] == Decimal("150.00")
    assert (jan25["tier_name"], jan25["tier_change"]) == ("bronze", "downgrade")
    kpi = out["fct_retention_kpis"]
    assert row_of(kpi, period_start=date(2024, 2, 1), segment_type="tier")[
        "segment_value"] == "silver"


def test_cohort_retention(tmp_path: Path, seeds_dir: Path) -> None:
    """Classic, unbounded and revenue retention of one acquisition cohort."""
    crm = [
        person("C00000001", signup="2023-12-20T00:00:00+00:00", channel="email"),
        person("C00000002", signup="2024-01-03T00:00:00+00:00", channel="organic"),
    ]
    tx = [
        sale("C00000001", "2024-01-10", "60.00"),
        sale("C00000002", "2024-01-11", "40.00"),
        sale("C00000001", "2024-03-05", "25.00"),
    ]
    out = run(tmp_path, seeds_dir, {"crm_customers": crm, "transactions": tx},
              as_of=date(2024, 3, 31))
    coh = out["fct_cohort_retention"]
    acq = coh[coh["cohort_type"] == "acquisition"].set_index("period_number")
    assert list(acq.index) == [0, 1, 2]
    assert list(acq["cohort_size"]) == [2, 2, 2]
    assert list(acq["active_customers"]) == [2, 0, 1]
    assert list(acq["retention_pct"]) == [100.0, 0.0, 50.0]
    assert list(acq["unbounded_retained_customers"]) == [2, 1, 1]
    assert list(acq["net_revenue"]) == [Decimal("100.00"), Decimal("0"), Decimal("25.00")]
    assert list(acq["revenue_retention_pct"]) == [100.0, 0.0, 25.0]
    # signup cohorts: C1 signed up in December 2023 (k = 0 has no purchase), C2 in January
    dec = coh[(coh["cohort_type"] == "signup")
              & (coh["cohort_period_start"] == date(2023, 12, 1))].set_index("period_number")
    assert list(dec.index) == [0, 1, 2, 3]
    assert list(dec["active_customers"]) == [0, 1, 0, 1]
    assert dec.loc[0, "revenue_retention_pct"] is None
    ch = coh[coh["cohort_type"] == "acquisition_channel"]
    assert set(ch["acquisition_channel"]) == {"email", "organic"}
    assert set(coh.loc[coh["cohort_type"] != "acquisition_channel", "acquisition_channel"]) == {
        "all"
    }


def test_lifetime_value_segments_and_cac(tmp_path: Path) -> None:
    """Annual churn over the last 12 complete months, predicted CLTV, CAC, Pareto shares."""
    # EUR: 0.5 on 1-14 February 2024, 0.6 afterwards in February →
    # mean = (14 × 0.5 + 15 × 0.6) / 29 = 16/29 = 0.551724137… → 0.55172414
    seeds_dir = write_seeds(
        tmp_path / "seeds",
        eur_rate=lambda d: "0.500000" if d < date(2024, 2, 15) else "0.600000",
    )
    crm = [person(f"C0000000{i}", channel="paid_search") for i in range(1, 5)]
    crm.append(person("C00000005", channel="organic"))
    crm.append(person("C00000006", channel="organic"))
    tx = [
        sale("C00000001", "2024-02-10", "100.00"),
        sale("C00000002", "2024-02-10", "100.00"),
        sale("C00000002", "2025-01-10", "300.00"),
        sale("C00000003", "2024-02-10", "100.00"),
        sale("C00000003", "2024-12-01", "100.00"),
        sale("C00000004", "2024-02-10", "100.00"),
        sale("C00000005", "2025-03-01", "10.00"),
        sale("C00000006", "2024-03-10", "90.00"),  # acquired after the window start
    ]
    spend = [
        {"spend_month": "2024-02-01", "country_code": "DE", "acquisition_channel": "paid_search",
         "currency_code": "EUR", "spend_amount": "100.00"},  # 55.172414 → 55.17
        {"spend_month": "2024-02-01", "country_code": "US", "acquisition_channel": "paid_search",
         "currency_code": "USD", "spend_amount": "144.83"},
    ]
    out = run(tmp_path, seeds_dir,
              {"crm_customers": crm, "transactions": tx, "marketing_spend": spend},
              as_of=date(2025, 3, 15))
    cltv = out["fct_customer_lifetime_value"].set_index("customer_id")
    # CAC = (55.17 + 144.83) / 4 = 50.00
    assert cltv.loc["C00000001", "cac"] == Decimal("50")
    assert cltv.loc["C00000002", "historical_cltv"] == Decimal("350")
    assert cltv.loc["C00000005", "cac"] is None
    assert cltv.loc["C00000005", "historical_cltv"] is None

    seg = out["fct_lifetime_value_segments"]
    paid = row_of(seg, segment_type="acquisition_channel", segment_value="paid_search")
    # window (2024-02-29, 2025-02-28]: all four active at the start; C1 and C4 lost
    assert paid["annual_churn_rate"] == 50.0
    assert paid["expected_lifespan_years"] == 2.0
    assert paid["customers"] == 4 and paid["purchases"] == 6
    assert paid["net_revenue"] == Decimal("800.00")
    # tenure 2024-02-10 .. 2025-03-15 = 400 days each → 6 × 365.25 / 1600
    assert paid["purchase_frequency_per_year"] == pytest.approx(6 * 365.25 / 1600, rel=1e-12)
    assert paid["average_cac"] == Decimal("50")
    # (800/6) × (6 × 365.25 / 1600) × 2 − 50 = 365.25 − 50
    assert paid["predicted_cltv"] == pytest.approx(Decimal("315.25"), abs=Decimal("1e-20"))
    # ranking: C2 400, C3 200, C1 100, C4 100 → top ⌈0.4⌉ = ⌈0.8⌉ = 1 customer
    assert paid["top_10pct_revenue_share"] == 50.0
    assert paid["top_20pct_revenue_share"] == 50.0
    organic = row_of(seg, segment_type="acquisition_channel", segment_value="organic")
    assert organic["annual_churn_rate"] is None  # nobody active at 2024-02-29 (C6: March)
    assert organic["average_cac"] is None and organic["predicted_cltv"] is None
    total = row_of(seg, segment_type="total", segment_value="all")
    assert total["customers"] == 6
    assert total["net_revenue"] == Decimal("900.00")
    # top ⌈0.6⌉ = 1 → 400/900; top ⌈1.2⌉ = 2 → (400 + 200)/900
    assert total["top_10pct_revenue_share"] == pytest.approx(40000 / 900, rel=1e-12)
    assert total["top_20pct_revenue_share"] == pytest.approx(60000 / 900, rel=1e-12)
    # C1..C4 active at 2024-02-29; C1, C4 lost by 2025-02-28 (C6 is not in the start set)
    assert total["annual_churn_rate"] == 50.0
    assert set(seg.loc[seg["segment_type"] == "acquisition_cohort", "segment_value"]) == {
        "2024-02-01", "2024-03-01", "2025-03-01",
    }


def test_churn_reasons(tmp_path: Path, seeds_dir: Path) -> None:
    """Latest exit answer on/after the last purchase; no answer / blank reason → no_answer."""
    crm = [person(f"C0000000{i}") for i in range(1, 5)]
    tx = [sale(f"C0000000{i}", "2024-01-02", "10.00") for i in range(1, 4)]
    tx.append(sale("C00000004", "2024-06-15", "10.00"))  # still active in July
    inv = [
        invitation("I1", "C00000001", "exit", "2024-01-01"),
        invitation("I2", "C00000001", "exit", "2024-03-01"),
        invitation("I3", "C00000003", "exit", "2024-03-01"),
        invitation("I4", "C00000001", "exit", "2024-04-01"),
        invitation("I5", "C00000002", "exit", "2023-12-30"),
    ]
    resp = [
        response("R1", "I1", "2024-01-01", reason="rude_staff"),  # before the last purchase
        response("R2", "I2", "2024-03-01", reason="poor_quality"),
        response("R4", "I4", "2024-04-01", reason="too_expensive"),  # the latest → price
        response("R3", "I3", "2024-03-01", reason=""),  # gives no reason
        response("R5", "I5", "2024-01-01", reason="rude_staff"),  # only before the purchase
    ]
    tables = {"crm_customers": crm, "transactions": tx, "survey_invitations": inv,
              "survey_responses": resp}
    out = run(tmp_path, seeds_dir, tables, as_of=date(2024, 7, 31))
    reasons = out["fct_churn_reasons"]
    july = reasons[reasons["period_start"] == date(2024, 7, 1)].set_index("reason_category")
    assert list(july.index) == [
        "price", "product", "better_supplier", "service_attitude", "no_reason", "other",
        "no_answer",
    ]
    assert set(july["churned_customers"]) == {3}
    assert july.loc["price", "customers_in_category"] == 1
    assert july.loc["no_answer", "customers_in_category"] == 2
    assert july.loc["product", "customers_in_category"] == 0
    assert july.loc["no_answer", "share_of_churned_pct"] == pytest.approx(200 / 3, rel=1e-12)
    assert july["customers_in_category"].sum() == 3
    june = reasons[reasons["period_start"] == date(2024, 6, 1)]
    assert set(june["churned_customers"]) == {0}
    assert june["share_of_churned_pct"].isna().all()


def test_funnel_signups_and_leads(tmp_path: Path, seeds_dir: Path) -> None:
    """Leads are counted in the funnel columns only, from the month of the first signup."""
    crm = [
        person("C00000001", signup="2023-12-05T00:00:00+00:00", country="DE"),  # lead
        person("C00000002", signup="2023-12-20T00:00:00+00:00"),  # buys in January
        person("C00000003", signup="2024-01-10T00:00:00+00:00"),  # buys in January
        person("C00000004", signup="2024-04-01T00:00:00+00:00"),  # after the as-of date
    ]
    tx = [sale("C00000002", "2024-01-15", "10.00"), sale("C00000003", "2024-01-12", "10.00")]
    kpi = run(tmp_path, seeds_dir, {"crm_customers": crm, "transactions": tx},
              as_of=date(2024, 1, 31))["fct_retention_kpis"]
    # December: two signups, both still leads at 2023-12-31; no customer yet
    dec = row_of(kpi, period_start=date(2023, 12, 1), segment_type="total")
    assert (dec["signups"], dec["leads_at_end"], dec["customers_at_end"]) == (2, 2, 0)
    assert dec["customer_retention_rate"] is None
    dec_de = row_of(kpi, period_start=date(2023, 12, 1), segment_type="region",
                    segment_value="western_europe")
    assert (dec_de["signups"], dec_de["leads_at_end"]) == (1, 1)
    # January: one signup; C1 is the only lead left; C4 signed up after the as-of date
    jan = row_of(kpi, period_start=date(2024, 1, 1), segment_type="total")
    assert (jan["signups"], jan["leads_at_end"], jan["new_customers"]) == (1, 1, 2)
    tier = row_of(kpi, period_start=date(2024, 1, 1), segment_type="tier")
    assert tier["signups"] is None and tier["leads_at_end"] is None
    # total, two regions, one channel; no tier segment without customers
    assert len(kpi[kpi["period_start"] == date(2023, 12, 1)]) == 4


def test_closure_ends_activity(tmp_path: Path, seeds_dir: Path) -> None:
    """A closure makes the customer inactive from its date on, even with recent purchases."""
    c = "C00000001"
    tables = {
        "crm_customers": [person(c)],
        "transactions": [sale(c, "2024-01-10", "10.00"), sale(c, "2024-02-10", "10.00")],
        "crm_account_events": [{"event_id": "E00000001", "customer_id": c,
                                "event_type": "closure", "event_at": "2024-02-20 10:00 UTC"},
                               {"event_id": "E00000002", "customer_id": c,
                                "event_type": "closure", "event_at": "2024-03-05T10:00:00"}],
    }
    kpi = run(tmp_path, seeds_dir, tables, as_of=date(2024, 3, 31))["fct_retention_kpis"]
    feb = row_of(kpi, period_start=date(2024, 2, 1), segment_type="total")
    # "2024-02-20 10:00 UTC" is no accepted form: that event is rejected
    assert (feb["customers_at_start"], feb["customers_at_end"]) == (1, 1)
    mar = row_of(kpi, period_start=date(2024, 3, 1), segment_type="total")
    assert (mar["customers_at_start"], mar["customers_at_end"], mar["lost_customers"]) == (
        1, 0, 1,
    )


# --------------------------------------------------------------------------------------
# compare_frames
# --------------------------------------------------------------------------------------


def test_compare_frames_reports_and_tolerates() -> None:
    """Type variations compare equal; a cent, a rate, a NULL and a missing row are reported."""
    expected = pd.DataFrame(
        {
            "period_start": [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)],
            "revenue": [Decimal("10.00"), Decimal("20.00"), Decimal("1") / 3],
            "rate": [50.0, None, 1 / 3],
            "n": [1, 2, 3],
            "name": ["a", None, "c"],
        }
    )
    actual = pd.DataFrame(
        {
            "period_start": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
            "revenue": [10.0, 20.0, 0.33],
            "rate": [50.0 * (1 + 1e-12), float("nan"), 0.3333333333333333],
            "n": [1.0, 2.0, 3.0],
            "name": ["a", None, "c"],
        }
    )
    spec = {"keys": ["period_start"], "money_cols": ["revenue"], "rate_cols": ["rate"],
            "count_cols": ["n"], "exact_cols": ["name"]}
    assert compare_frames(expected, actual, **spec) == []

    broken = actual.copy()
    broken.loc[0, "revenue"] = 10.01
    broken.loc[1, "rate"] = 0.0
    broken.loc[2, "n"] = 4
    broken = pd.concat([broken, pd.DataFrame({"period_start": [pd.Timestamp("2024-04-01")],
                                              "revenue": [1.0], "rate": [1.0], "n": [1],
                                              "name": ["d"]})], ignore_index=True)
    diffs = compare_frames(expected, broken.drop(index=0), **spec)
    text = "\n".join(diffs)
    assert "missing in actual: {'period_start': '2024-01-01'}" in text
    assert "unexpected in actual: {'period_start': '2024-04-01'}" in text
    assert "rate: expected NULL, got 0.0" in text
    assert "n: expected 3, got 4" in text.replace("4.0", "4")
    diffs = compare_frames(expected, broken, **spec)
    assert any("revenue: expected 10.00, got 10.01" in d for d in diffs)
    assert compare_frames(expected, actual.drop(columns=["rate"]), **spec) == [
        "actual frame has no column 'rate'"
    ]


def test_customer_histories_rfm_scores_and_segments(tmp_path: Path, seeds_dir: Path) -> None:
    """Purchase days, x / t_x / T, monetary value, RFM scores and segments by hand.

    As of 2024-06-30 (USD, so net revenue = amount). A: 01-10 $10, 03-10 $20, 06-20 $40 and a
    cancelled 06-25 order: x = 2, t_x = 162 (01-10 to 06-20 in a leap year), T = 172, 10 days
    since, monetary (20 + 40) / 2 = 30. B: two orders on 02-01 = one purchase day: x = 0,
    T = 150, no monetary. C: 05-01, 06-01 ($15 each): x = 1, t_x = 31, T = 60, monetary 15.
    D: 06-29 only, closed on 06-30. E: 01-05 $30, 01-06 $90: x = 1, t_x = 1, T = 177, 176 days,
    monetary 90. With n = 5 a score is 1 + (customers strictly worse): recency E 1, B 2,
    C 3, A 4, D 5; frequency B = D = 1, C = E = 3, A 5; monetary B = D = 1, C 3, A 4, E 5.
    Segments: A (4, 5, 4) champions, B (2, 1, 1) hibernating, C (3, 3, 3) loyal, D (5, 1, 1)
    new, E (1, 3, 5) at_risk (cant_lose needs frequency 4-5).
    """
    crm = [person(cid) for cid in "ABCDE"]
    tx = [sale("A", "2024-01-10", "10.00"), sale("A", "2024-03-10", "20.00"),
          sale("A", "2024-06-20", "40.00"), sale("A", "2024-06-25", "99.00", status="cancelled"),
          sale("B", "2024-02-01", "50.00"), sale("B", "2024-02-01T18:00:00+00:00", "25.00"),
          sale("C", "2024-05-01", "15.00"), sale("C", "2024-06-01", "15.00"),
          sale("D", "2024-06-29", "100.00"),
          sale("E", "2024-01-05", "30.00"), sale("E", "2024-01-06", "90.00")]
    events = [{"event_id": "EV1", "customer_id": "D", "event_type": "closure",
               "event_at": "2024-06-30T09:00:00+00:00"}]
    out = run(tmp_path, seeds_dir, {"crm_customers": crm, "transactions": tx,
                                    "crm_account_events": events}, as_of=date(2024, 6, 30))
    frame = out["fct_customer_predictions"].set_index("customer_id")
    expected = {
        "A": (2, 162, 172, 10, 30.0, False, 4, 5, 4, "champions"),
        "B": (0, 0, 150, 150, None, False, 2, 1, 1, "hibernating"),
        "C": (1, 31, 60, 29, 15.0, False, 3, 3, 3, "loyal"),
        "D": (0, 0, 1, 1, None, True, 5, 1, 1, "new"),
        "E": (1, 1, 177, 176, 90.0, False, 1, 3, 5, "at_risk"),
    }
    columns = ["frequency", "recency_days", "age_days", "days_since_last_purchase",
               "monetary_value", "is_closed", "recency_score", "frequency_score",
               "monetary_score", "rfm_segment"]
    assert sorted(frame.index) == sorted(expected)
    for cid, values in expected.items():
        assert tuple(frame.loc[cid, columns]) == values, cid


# --------------------------------------------------------------------------------------
# Landing rules (issues 14 and 19): hand-worked expectations
# --------------------------------------------------------------------------------------


def write_table(folder: Path, table: str, name: str, rows: list[dict[str, str]],
                columns: list[str] | None = None) -> Path:
    """One batch file of one table with only the given columns (a minimal export)."""
    columns = columns or list(RAW_COLUMNS[table])
    path = folder / table / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def test_without_crm_customers_come_from_the_ledger(tmp_path: Path, seeds_dir: Path) -> None:
    """No crm_customers folder: one customer per id with a sale, signup at the first sale;
    region and channel unknown; a minimal export (no type, status, ids) takes defaults."""
    minimal = ["order_id", "customer_id", "transaction_at", "amount", "currency_code"]
    write_table(tmp_path / "raw", "transactions", "orders.csv", [
        {"order_id": "1", "customer_id": "42", "transaction_at": "2024-01-05", "amount": "10.00",
         "currency_code": "USD"},
        {"order_id": "2", "customer_id": "42", "transaction_at": "2024-02-05", "amount": "5.50",
         "currency_code": "usd"},
        {"order_id": "3", "customer_id": "7", "transaction_at": "2024-02-10", "amount": "1.00",
         "currency_code": "USD"},
    ], minimal)
    out = compute_oracle(tmp_path / "raw", seeds_dir)
    cltv = out["fct_customer_lifetime_value"].set_index("customer_id")
    assert cltv.loc["42", "orders"] == 2 and cltv.loc["42", "net_revenue"] == Decimal("15.50")
    kpis = out["fct_retention_kpis"]
    feb = kpis[kpis["period_start"] == date(2024, 2, 1)]
    assert set(zip(feb["segment_type"], feb["segment_value"], strict=True)) >= {
        ("region", "unknown"), ("acquisition_channel", "unknown")}
    jan = row_of(kpis, period_start=date(2024, 1, 1), segment_type="total")
    assert (jan["signups"], jan["new_customers"]) == (1, 1)  # 42 signed up on 2024-01-05


def test_resent_ids_follow_landing_order_not_file_names(tmp_path: Path, seeds_dir: Path) -> None:
    """T1 re-sent with 12.00 in a later landing wins over 10.00; the names sort the other
    way for T2 (22.00 in the file landed later wins again)."""
    raw = tmp_path / "raw"
    write_raw(raw, {"crm_customers": [person("C1")]})
    first = write_table(raw, "transactions", "part-00001.csv", [
        sale("C1", "2024-01-10", "10.00", order="O1", tid="T1")])
    second = write_table(raw, "transactions", "zz.csv", [
        sale("C1", "2024-01-11", "20.00", order="O2", tid="T2")])
    later_a = write_table(raw, "transactions", "2026-01-02-correction.csv", [
        sale("C1", "2024-01-10", "12.00", order="O1", tid="T1")])
    later_b = write_table(raw, "transactions", "aa.csv", [
        sale("C1", "2024-01-11", "22.00", order="O2", tid="T2")])
    base = [str(raw / t / "batch_001.csv") for t in RAW_COLUMNS]
    landing = Landing(order=[*base, str(first), str(second), str(later_a), str(later_b)])
    cltv = compute_oracle(raw, seeds_dir, landing=landing)["fct_customer_lifetime_value"]
    assert cltv.iloc[0]["net_revenue"] == Decimal("34.00")  # 12.00 + 22.00
    reverse = Landing(order=[*base, str(later_a), str(later_b), str(first), str(second)])
    cltv = compute_oracle(raw, seeds_dir, landing=reverse)["fct_customer_lifetime_value"]
    assert cltv.iloc[0]["net_revenue"] == Decimal("30.00")  # 10.00 + 20.00


def test_future_dated_rows_never_move_the_as_of_date(tmp_path: Path, seeds_dir: Path) -> None:
    """A sale dated after the day its file landed is dropped: the as-of date stays."""
    tables = {"crm_customers": [person("C1")],
              "transactions": [sale("C1", "2024-01-10", "10.00"),
                               sale("C1", "2025-06-01", "99.00")]}
    raw = write_raw(tmp_path / "raw", tables)
    out = compute_oracle(raw, seeds_dir, landing=Landing(landed_on=date(2024, 1, 31)))
    cltv = out["fct_customer_lifetime_value"].iloc[0]
    assert cltv["net_revenue"] == Decimal("10.00") and cltv["tenure_days"] == 1


def test_value_grammars(tmp_path: Path, seeds_dir: Path) -> None:
    """Money is never rounded (12.505, 1e3 and 1_000 are rejected), integers only for
    scores (8.6 rejected), booleans beyond true/false ('1' is a test account, 'maybe' is
    rejected), e-mails matched after NFC (NFD spelling = one person), malformed lines
    skipped, the reporting currency needs no rate (USD on 2021-01-05, before the seed)."""
    raw = tmp_path / "raw"
    crm = [person("C1", "jos\u00e9@shop.test", signup="2023-12-01T00:00:00Z"),
           person("C2", "  JOSE\u0301@SHOP.TEST", signup="2023-12-02T00:00:00Z"),
           person("C3", test="1"), person("C4", test="maybe")]
    tx = [sale("C2", "2024-01-10", "10.00"), sale("C1", "2024-01-11", "12.505"),
          sale("C1", "2024-01-11", "1e3"), sale("C1", "2024-01-11", "1_000"),
          sale("C3", "2024-01-11", "50.00"), sale("C4", "2024-01-11", "50.00"),
          sale("C1", "2021-01-05", "7.00")]
    write_raw(raw, {"crm_customers": crm, "transactions": tx,
                    "survey_invitations": [invitation("I1", "C1", "nps", "2024-01-10"),
                                           invitation("I2", "C1", "nps", "2024-01-10")],
                    "survey_responses": [response("R1", "I1", "2024-01-10", score="8.6"),
                                         response("R2", "I2", "2024-01-10", score="9")]})
    with (raw / "transactions" / "batch_001.csv").open("a") as handle:
        handle.write("T1,O1,C1,sale\nTotal rows: 7\n")  # two malformed lines
    landing = Landing()
    out = compute_oracle(raw, seeds_dir, landing=landing)
    assert landing.malformed == {"transactions": 2}
    cltv = out["fct_customer_lifetime_value"]
    assert list(cltv["customer_id"]) == ["C1"]
    assert cltv.iloc[0]["orders"] == 2 and cltv.iloc[0]["net_revenue"] == Decimal("17.00")
    kpi = row_of(out["fct_retention_kpis"], period_start=date(2024, 1, 1), segment_type="total")
    assert kpi["nps_responses"] == 1 and kpi["nps"] == pytest.approx(100.0)


def test_quarter_grain_periods_and_cohorts(tmp_path: Path, seeds_dir: Path) -> None:
    """retention_grain quarter: purchases on 2024-01-10 and 2024-05-05, as-of 2024-06-30.
    Q1 (s = 2023-12-31, e = 2024-03-31): N = 1, E = 1. Q2 (s = 2024-03-31, last purchase 81
    days before, e = 2024-06-30): S = 1, E = 1, L = 0, one purchase. The acquisition cohort
    2024-01-01 is active in k = 0 and k = 1 (a purchase in each quarter)."""
    c = "C00000001"
    tables = {"crm_customers": [person(c)], "transactions": [
        sale(c, "2024-01-10", "10.00", order="O1"), sale(c, "2024-05-05", "20.00", order="O2")]}
    raw = write_raw(tmp_path / "raw", tables)
    out = compute_oracle(raw, seeds_dir, as_of=date(2024, 6, 30), grain_months=3)
    kpis = out["fct_retention_kpis"]
    q1 = row_of(kpis, period_start=date(2024, 1, 1), segment_type="total")
    q2 = row_of(kpis, period_start=date(2024, 4, 1), segment_type="total")
    assert (q1["period_end"], q1["new_customers"], q1["customers_at_end"]) == (
        date(2024, 3, 31), 1, 1)
    assert (q2["period_end"], q2["customers_at_start"], q2["customers_at_end"],
            q2["lost_customers"], q2["purchases"]) == (date(2024, 6, 30), 1, 1, 0, 1)
    # the periods start at the signup (2023-12-01, in Q4 2023: funnel columns only)
    assert list(kpis["period_start"].unique()) == [
        date(2023, 10, 1), date(2024, 1, 1), date(2024, 4, 1)]
    cohort = out["fct_cohort_retention"]
    acquisition = cohort[cohort["cohort_type"] == "acquisition"]
    assert list(acquisition["period_number"]) == [0, 1]
    assert list(acquisition["active_customers"]) == [1, 1]
    assert list(acquisition["period_start"]) == [date(2024, 1, 1), date(2024, 4, 1)]

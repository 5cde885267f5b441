"""The peer: the headline outputs computed in pandas, the way an analyst would in a notebook.

From the same raw files (and the FX seed) it computes, following
``docs/metrics.md`` in spirit but with none of the warehouse's
quarantine bookkeeping:

* monthly KPIs: purchasing, new, active-at-month-end (180-day rule) and
  churned customers, purchases, net revenue, AOV, customer retention rate;
* the cohort triangle: acquisition month x months since, active customers,
  retention %, net revenue;
* per-customer CLTV parts: orders, net revenue, first/last purchase, lifespan,
  AOV, CAC of the acquisition channel and month, historical CLTV.

Its settings are the project's: ``churn_inactivity_days`` and ``reporting_currency``
come from the dbt vars (dbt_project.yml), and the retention-rate formula is the
oracle's (``retention_warehouse.oracle.rates``), so the peer differs from the
warehouse in its data handling only.

CSV is read with ``pandas.read_csv``; Parquet through DuckDB into a dataframe
(no pyarrow in the lock). Run as ``python -m retention_warehouse.bench.peer RAW
FORMAT --out JSON``: it writes its timings and output sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from retention_warehouse.oracle.rates import customer_retention_rate
from retention_warehouse.quality.inputs import dbt_vars
from retention_warehouse.settings import PROJECT_DIR

FX_SEED = PROJECT_DIR / "seeds" / "fx_rates.csv"


def churn_days() -> int:
    """var churn_inactivity_days of dbt_project.yml."""
    return int(dbt_vars()["churn_inactivity_days"])


def reporting_currency() -> str:
    """var reporting_currency of dbt_project.yml (the seed gives US dollars per unit)."""
    currency = str(dbt_vars()["reporting_currency"])
    if currency != "USD":
        raise ValueError(f"the peer converts with fx_rates (US dollars per unit): "
                         f"reporting_currency {currency!r} is not supported")
    return currency


def read_table(raw_dir: Path, fmt: str, table: str, columns: list[str]) -> pd.DataFrame:
    """Every batch file of one raw table, as text columns."""
    files = sorted((raw_dir / table).glob(f"*.{fmt}"))
    if fmt == "parquet":
        with duckdb.connect() as con:
            paths = [str(path) for path in files]
            return con.execute(f"select {', '.join(columns)} from read_parquet(?)",
                               [paths]).df()
    return pd.concat([pd.read_csv(path, dtype=str, usecols=columns, keep_default_na=False,
                                  na_values=[""]) for path in files], ignore_index=True)


def parse_utc(values: pd.Series) -> pd.Series:
    """ISO 8601 timestamps (offset or none = UTC), then the DD/MM/YYYY HH:MM:SS +HHMM form."""
    parsed = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    second = parsed.isna() & values.notna()
    parsed[second] = pd.to_datetime(values[second], format="%d/%m/%Y %H:%M:%S %z", utc=True,
                                    errors="coerce")
    return parsed


def clean_orders(raw_dir: Path, fmt: str) -> pd.DataFrame:
    """One row per completed order with a positive net amount in USD."""
    tx = read_table(raw_dir, fmt, "transactions", [
        "transaction_id", "order_id", "customer_id", "transaction_type", "transaction_at",
        "amount", "currency_code", "status"]).drop_duplicates()
    tx["at"] = parse_utc(tx["transaction_at"])
    tx["amount"] = pd.to_numeric(tx["amount"], errors="coerce")
    tx = tx.dropna(subset=["at", "amount", "customer_id", "order_id"])
    tx = tx[tx["amount"] >= 0]
    # The seed holds one rate per currency and day: convert at the transaction's day.
    fx = pd.read_csv(FX_SEED, parse_dates=["rate_date"])
    tx["date"] = tx["at"].dt.tz_localize(None).dt.normalize()
    tx["month"] = tx["date"].dt.to_period("M")
    tx = tx.merge(fx.rename(columns={"rate_date": "date"}), on=["date", "currency_code"],
                  how="inner")
    tx["usd"] = tx["amount"] * tx["usd_per_unit"]
    sales = tx[(tx["transaction_type"] == "sale") & (tx["status"] != "cancelled")]
    sales = sales.sort_values("at").drop_duplicates("order_id")
    refunds = tx[tx["transaction_type"] == "refund"].groupby("order_id")["usd"].sum()
    orders = sales[["order_id", "customer_id", "date", "month", "usd"]].copy()
    orders["net_usd"] = orders["usd"] - orders["order_id"].map(refunds).fillna(0.0)
    orders = orders[orders["net_usd"] > 0]
    crm = read_table(raw_dir, fmt, "crm_customers", ["customer_id", "is_test_account"])
    real = crm.loc[crm["is_test_account"] != "true", "customer_id"].unique()
    return orders[orders["customer_id"].isin(real)].reset_index(drop=True)


def monthly_kpis(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per month: purchasing, new, active-at-end and churned customers, revenue."""
    first = orders.groupby("customer_id")["month"].min().rename("cohort")
    months = pd.period_range(orders["month"].min(), orders["month"].max(), freq="M")
    month_ends = months.to_timestamp(how="end").normalize()
    # A purchase on day d keeps the customer active at every month end in [d, d + 180 days].
    days = orders[["customer_id", "date"]].drop_duplicates()
    end_index = np.searchsorted(month_ends.values, days["date"].values)
    last_index = np.searchsorted(month_ends.values,
                                 (days["date"] + pd.Timedelta(days=churn_days())).values,
                                 side="right")
    spans = last_index - end_index
    covered = pd.DataFrame({
        "customer_id": np.repeat(days["customer_id"].values, spans),
        "end_index": np.repeat(end_index, spans) + np.concatenate(
            [np.arange(n) for n in spans]) if len(spans) else np.array([], dtype=int),
    }).drop_duplicates()
    active_end = covered.groupby("end_index")["customer_id"].nunique()
    active_end = active_end.reindex(range(len(months)), fill_value=0).values
    by_month = orders.groupby("month").agg(purchases=("order_id", "size"),
                                           purchasing_customers=("customer_id", "nunique"),
                                           net_revenue_usd=("net_usd", "sum"))
    new = first.value_counts().rename("new_customers")
    kpis = by_month.join(new).reindex(months).fillna(0)
    kpis["active_at_end"] = active_end
    kpis["acquired_to_date"] = kpis["new_customers"].cumsum()
    kpis["churned_at_end"] = kpis["acquired_to_date"] - kpis["active_at_end"]
    kpis["aov_usd"] = kpis["net_revenue_usd"] / kpis["purchases"].replace(0, np.nan)
    start_active = kpis["active_at_end"].shift(1).fillna(0).astype(int)
    kpis["customer_retention_rate"] = [
        customer_retention_rate(int(start), int(end), int(new))
        for start, end, new in zip(start_active, kpis["active_at_end"], kpis["new_customers"],
                                   strict=True)]
    return kpis


def cohort_triangle(orders: pd.DataFrame) -> pd.DataFrame:
    """Acquisition month x months since: active customers, retention %, net revenue."""
    first = orders.groupby("customer_id")["month"].min().rename("cohort")
    frame = orders.join(first, on="customer_id")
    frame["k"] = (frame["month"] - frame["cohort"]).apply(lambda offset: offset.n)
    triangle = frame.groupby(["cohort", "k"]).agg(active_customers=("customer_id", "nunique"),
                                                  net_revenue_usd=("net_usd", "sum"))
    size = first.value_counts().rename("cohort_size")
    triangle = triangle.join(size, on="cohort")
    triangle["retention_pct"] = triangle["active_customers"] / triangle["cohort_size"] * 100
    return triangle


def customer_lifetime(orders: pd.DataFrame, raw_dir: Path, fmt: str) -> pd.DataFrame:
    """One row per customer: orders, net revenue, lifespan, AOV, CAC and historical CLTV."""
    life = orders.groupby("customer_id").agg(orders=("order_id", "size"),
                                             net_revenue_usd=("net_usd", "sum"),
                                             first_purchase=("date", "min"),
                                             last_purchase=("date", "max"),
                                             cohort=("month", "min"))
    life["lifespan_days"] = (life["last_purchase"] - life["first_purchase"]).dt.days + 1
    life["aov_usd"] = life["net_revenue_usd"] / life["orders"]
    crm = read_table(raw_dir, fmt, "crm_customers",
                     ["customer_id", "acquisition_channel", "is_test_account"]).drop_duplicates(
        "customer_id")
    crm = crm[crm["is_test_account"] != "true"].set_index("customer_id")
    life = life.join(crm["acquisition_channel"], how="inner")
    spend = read_table(raw_dir, fmt, "marketing_spend",
                       ["spend_month", "acquisition_channel", "currency_code", "spend_amount"])
    spend["date"] = pd.to_datetime(spend["spend_month"], errors="coerce")
    spend["month"] = spend["date"].dt.to_period("M")
    fx = pd.read_csv(FX_SEED, parse_dates=["rate_date"])
    spend = spend.merge(fx.rename(columns={"rate_date": "date"}), on=["date", "currency_code"],
                        how="inner")
    spend["usd"] = pd.to_numeric(spend["spend_amount"], errors="coerce") * spend["usd_per_unit"]
    spend = spend.groupby(["month", "acquisition_channel"])["usd"].sum()
    acquired = life.groupby(["cohort", "acquisition_channel"]).size()
    acquired.index = acquired.index.set_names(["month", "acquisition_channel"])
    cac = (spend / acquired).rename("cac_usd")
    life = life.join(cac, on=["cohort", "acquisition_channel"])
    life["historical_cltv_usd"] = life["net_revenue_usd"] - life["cac_usd"]
    return life


def run_peer(raw_dir: Path, fmt: str) -> dict:
    """Compute the three outputs and return their timings and sizes."""
    started = time.perf_counter()
    reporting_currency()
    orders = clean_orders(raw_dir, fmt)
    read_seconds = time.perf_counter() - started
    kpis = monthly_kpis(orders)
    triangle = cohort_triangle(orders)
    life = customer_lifetime(orders, raw_dir, fmt)
    return {"seconds": time.perf_counter() - started, "read_clean_seconds": read_seconds,
            "orders": len(orders), "kpi_months": len(kpis), "cohort_cells": len(triangle),
            "customers": len(life),
            "net_revenue_usd": round(float(orders["net_usd"].sum()), 2)}


def main(argv: list[str] | None = None) -> int:
    """Command line of the peer subprocess."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("fmt", choices=("csv", "parquet"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.write_text(json.dumps(run_peer(args.raw_dir, args.fmt), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

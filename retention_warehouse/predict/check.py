"""``retention predict-check``: how well the value models predict purchases they did not see.

Reads the purchases from the warehouse's marts (read-only: ``fct_orders``, the
as-of date and closures from ``dim_customers``), or from a CSV order log
(``--orders``), fits BG/NBD and Gamma-Gamma on the history up to
``as-of - --holdout-days`` and prints predicted against actual purchase days in
the days after, by frequency bucket and in total, and P(alive) against buying
again (retention_warehouse.predict.holdout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pandas as pd

from retention_warehouse.failures import first_line
from retention_warehouse.predict.holdout import HoldoutResult, holdout_check, render_text
from retention_warehouse.predict.mle import FitError
from retention_warehouse.predict.value_model import DAYS_PER_UNIT
from retention_warehouse.settings import load_settings
from retention_warehouse.warehouse_file import WarehouseFileError, open_read_only

DEFAULT_HOLDOUT_DAYS = 180

PURCHASES_SQL = """
select customer_key as customer, order_date as date, cast(net_revenue as double) as value
from marts.fct_orders
where is_purchase
"""
CLOSED_SQL = """
select customer_key as customer, closed_date
from marts.dim_customers
where closed_date is not null
"""


class CheckError(RuntimeError):
    """The check cannot run (no warehouse, unreadable order log)."""


def warehouse_purchases(db_path: Path) -> tuple[pd.DataFrame, pd.Timestamp, pd.Series]:
    """(purchases, as-of date, closure date by customer) from the marts, read-only."""
    if not db_path.is_file():
        raise CheckError(f"no warehouse file at {db_path}: run `retention build` first or "
                         "pass --db PATH")
    try:
        connection = open_read_only(db_path)
    except WarehouseFileError as error:
        raise CheckError(str(error)) from None
    try:
        with connection as con:
            purchases = con.execute(PURCHASES_SQL).df()
            [(as_of,)] = con.execute("select max(as_of_date) from marts.dim_customers").fetchall()
            closed = con.execute(CLOSED_SQL).df().set_index("customer")["closed_date"]
    except duckdb.Error as error:
        raise CheckError(f"cannot read the marts of {db_path} ({first_line(str(error))}); run "
                         "`retention build` first") from None
    if as_of is None:
        raise CheckError(f"the marts in {db_path} are empty: build the warehouse first")
    return purchases, pd.Timestamp(as_of), closed


def csv_purchases(path: Path, as_of: str | None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """(purchases, as-of date) from a CSV with columns customer_id, order_date, net_revenue."""
    try:
        frame = pd.read_csv(path, dtype={"customer_id": str})
    except (OSError, ValueError) as error:
        raise CheckError(f"cannot read --orders {path}: {error}") from None
    missing = {"customer_id", "order_date", "net_revenue"} - set(frame.columns)
    if missing:
        raise CheckError(f"--orders {path} lacks column(s) {', '.join(sorted(missing))}; it "
                         "needs customer_id, order_date, net_revenue (one row per purchase)")
    frame = frame.rename(columns={"customer_id": "customer", "order_date": "date",
                                  "net_revenue": "value"})
    frame["date"] = pd.to_datetime(frame["date"], errors="coerce")
    if frame["date"].isna().any():
        raise CheckError(f"--orders {path}: {int(frame['date'].isna().sum())} order_date "
                         "value(s) are not dates")
    return frame, pd.Timestamp(as_of) if as_of else frame["date"].max()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``retention predict-check``."""
    parser.add_argument("--holdout-days", type=int, default=DEFAULT_HOLDOUT_DAYS,
                        help=f"days held out at the end (default {DEFAULT_HOLDOUT_DAYS})")
    parser.add_argument("--db", type=Path, default=None,
                        help="warehouse DuckDB file (default: RETENTION_DB or warehouse.duckdb)")
    parser.add_argument("--orders", type=Path, default=None,
                        help="check on a CSV order log instead (customer_id, order_date, "
                             "net_revenue; one row per purchase)")
    parser.add_argument("--as-of", default=None,
                        help="with --orders: the last day of the log (default: its last date)")
    parser.add_argument("--time-unit", choices=sorted(DAYS_PER_UNIT), default="week",
                        help="time unit of the fit (default week; predictions do not depend "
                             "on it)")


def run_check(args: argparse.Namespace) -> HoldoutResult:
    """Read the purchases the options point at and run the holdout check."""
    closed = None
    if args.orders:
        purchases, as_of = csv_purchases(args.orders, args.as_of)
    else:
        purchases, as_of, closed = warehouse_purchases(
            Path(args.db or load_settings().warehouse_path))
    return holdout_check(purchases, as_of, args.holdout_days, time_unit=args.time_unit,
                         closed=closed)


def run(args: argparse.Namespace) -> int:
    """Print the holdout tables; exit code 1 with one line when the check cannot run."""
    try:
        result = run_check(args)
    except (CheckError, FitError) as error:
        print(f"retention predict-check: {error}", file=sys.stderr)
        return 1
    print(render_text(result))
    return 0

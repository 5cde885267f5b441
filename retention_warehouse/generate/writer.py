"""Render a chunk's coded rows as contract text and write them with DuckDB.

DuckDB formats ids, timestamps and amounts in bulk and writes CSV or Parquet
in one ``COPY``; every output column is text, in the order of
``retention_warehouse.contract``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from retention_warehouse.contract import RAW_TABLES_BY_NAME
from retention_warehouse.generate import chunk as c
from retention_warehouse.generate.fx import CURRENCIES
from retention_warehouse.generate.simulate import (
    CHANNELS,
    COMMENTS,
    COUNTRIES,
    COUNTRY_LANGUAGE,
    COUNTRY_PHONE,
    DOMAINS,
    EVENT_TYPES,
    EXIT_REASONS,
    FIRST_NAMES,
    LAST_NAMES,
    SURVEY_TYPES,
)


def _list(values: tuple[str, ...] | list[str]) -> str:
    """A SQL list literal of strings (indexed 1-based in DuckDB)."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: tuple[str, ...] | list[str], code: str) -> str:
    """The text of a 0-based code column."""
    return f"({_list(values)})[{code} + 1]"


def _id(prefix: str, digits: int, column: str) -> str:
    return f"'{prefix}' || lpad(cast({column} as varchar), {digits}, '0')"


def _offset_text(separator: str) -> str:
    sign = "case when offset_min < 0 then '-' else '+' end"
    hours = "lpad(cast(abs(offset_min) // 60 as varchar), 2, '0')"
    minutes = "lpad(cast(abs(offset_min) % 60 as varchar), 2, '0')"
    return f"{sign} || {hours} || '{separator}' || {minutes}"


def timestamp_sql(at: str, rendering: str = str(c.TS_ISO)) -> str:
    """Text of epoch seconds ``at`` in local time with offset, or a variant."""
    local = f'make_timestamp(("{at}" + offset_min * 60) * 1000000)'
    utc = f'make_timestamp("{at}" * 1000000)'
    return f"""case {rendering}
        when {c.TS_ISO} then strftime({local}, '%Y-%m-%dT%H:%M:%S') || {_offset_text(':')}
        when {c.TS_DAY_FIRST} then strftime({local}, '%d/%m/%Y %H:%M:%S ') || {_offset_text('')}
        when {c.TS_NO_OFFSET} then strftime({utc}, '%Y-%m-%dT%H:%M:%S')
        when {c.TS_UNPARSEABLE} then strftime({local}, '%m/%d/%Y %I:%M %p')
    end"""


def _money(cents: str) -> str:
    return f"cast(cast({cents} as decimal(18, 0)) / 100 as varchar)"


def _bool(column: str) -> str:
    return f"case when {column} then 'true' else 'false' end"


CRM_CUSTOMERS_SQL = f"""
select
    {_id('C', 8, 'number')} as customer_id,
    case when email_variant = 1 then '  ' || upper(email) || ' ' else email end as email,
    case when has_phone then '+' || {_pick(COUNTRY_PHONE, 'country')}
        || cast(phone_digits as varchar) end as phone,
    {_pick(FIRST_NAMES, 'first_name')} as first_name,
    {_pick(LAST_NAMES, 'last_name')} as last_name,
    case when has_birth_date then strftime(make_date(1970, 1, 1) + cast(birth_day as integer),
        '%Y-%m-%d') end as birth_date,
    {_pick(COUNTRIES, 'country')} as country_code,
    case when has_language then {_pick(COUNTRY_LANGUAGE, 'country')} end as preferred_language,
    {timestamp_sql('signup')} as signup_at,
    {_pick(CHANNELS, 'channel')} as acquisition_channel,
    case when referrer > 0 then {_id('C', 8, 'referrer')} end as referred_by_customer_id,
    {_bool('consent')} as marketing_consent,
    {_bool('is_test')} as is_test_account,
    {timestamp_sql('updated')} as updated_at
from (
    select *,
        lower(replace({_pick(FIRST_NAMES, 'first_name')} || '.'
            || {_pick(LAST_NAMES, 'last_name')}, ' ', '')) || '.'
            || cast(email_number as varchar) || '@'
            || case when is_test then 'example.com' else {_pick(DOMAINS, 'domain')} end
            as email
    from rows
)
"""

TRANSACTION_RENDERING = f"""case defect
    when {c.T_SECOND_FORMAT} then {c.TS_DAY_FIRST}
    when {c.T_NO_OFFSET} then {c.TS_NO_OFFSET}
    when {c.T_UNPARSEABLE} then {c.TS_UNPARSEABLE}
    else {c.TS_ISO} end"""

TRANSACTIONS_SQL = f"""
select
    {_id('T', 10, 'transaction_no')} as transaction_id,
    {_id('O', 10, 'order_no')} as order_id,
    case when blank != 1 then {_id('C', 8, 'customer_no')} end as customer_id,
    {_pick(['sale', 'refund'], 'type')} as transaction_type,
    case when blank != 4 then {timestamp_sql('at', TRANSACTION_RENDERING)} end
        as transaction_at,
    case when blank != 2 then {_money('cents')} end as amount,
    case when blank != 3 then {_pick([*CURRENCIES, 'ZZZ'], 'currency')} end as currency_code,
    {_pick(['completed', 'cancelled'], 'status')} as status,
    {_pick(['web', 'app', 'store'], 'sales_channel')} as sales_channel,
    case when store >= 0 then {_id('S', 3, 'store')} end as store_id,
    cast(items as varchar) as items_count
from rows
"""

EVENTS_SQL = f"""
select
    {_id('E', 8, 'event_no')} as event_id,
    {_id('C', 8, 'customer_no')} as customer_id,
    {_pick(EVENT_TYPES, 'event')} as event_type,
    {timestamp_sql('at')} as event_at
from rows
"""

INVITATIONS_SQL = f"""
select
    {_id('I', 9, 'invitation_no')} as invitation_id,
    {_id('C', 8, 'customer_no')} as customer_id,
    case when blank != 1 then {_pick(SURVEY_TYPES, 'survey')} end as survey_type,
    case when blank != 2 then {timestamp_sql('at')} end as sent_at
from rows
"""

RESPONSES_SQL = f"""
select
    {_id('R', 9, 'response_no')} as response_id,
    {_id('I', 9, 'invitation_no')} as invitation_id,
    case when score > -99 then cast(score as varchar) end as score,
    case when comment >= 0 then {_pick(COMMENTS, 'comment')} end as comment,
    case when reason >= 0 then {_pick(EXIT_REASONS, 'reason')} end as exit_reason_code,
    {timestamp_sql('at')} as responded_at
from rows
"""

SPEND_SQL = f"""
select
    strftime(make_date(year, month, 1), '%Y-%m-%d') as spend_month,
    {_pick(COUNTRIES, 'country')} as country_code,
    {_pick(CHANNELS, 'channel')} as acquisition_channel,
    {_pick(CURRENCIES, 'currency')} as currency_code,
    {_money('cents')} as spend_amount
from rows
"""

TABLE_SQL: dict[str, tuple[str, str | tuple[str, ...]]] = {
    # table: (select rendering the rows, epoch-seconds column(s) that date a row's landing).
    # A CRM export sends a customer when they sign up and again when their record changes:
    # a landing window holding neither time has no row of theirs, so no order of a
    # customer arrives before the customer does.
    "crm_customers": (CRM_CUSTOMERS_SQL, ("signup", "updated")),
    "crm_account_events": (EVENTS_SQL, "at"),
    "transactions": (TRANSACTIONS_SQL, "at"),
    "survey_invitations": (INVITATIONS_SQL, "at"),
    "survey_responses": (RESPONSES_SQL, "at"),
    "marketing_spend": (SPEND_SQL, "landed"),
}


class TableWriter:
    """Writes coded frames as raw files, one file per table per chunk."""

    def __init__(self, out_dir: Path, fmt: str, since: int | None, through: int | None,
                 prefix: str = "part") -> None:
        self.out_dir = out_dir
        self.fmt = fmt
        self.since = since
        self.through = through
        self.prefix = prefix
        self.con = duckdb.connect()
        self.con.execute("set threads = 2; set preserve_insertion_order = true")
        self.rows: dict[str, int] = dict.fromkeys(TABLE_SQL, 0)

    def write(self, table: str, frame: pd.DataFrame, part: int) -> None:
        """Render ``frame`` (codes) as ``<out>/<table>/<prefix>-<part>.<fmt>``."""
        sql, landed = TABLE_SQL[table]
        rows = frame
        if self.since is not None or self.through is not None:
            # A row lands in every window holding one of its landing times (a CRM row
            # when the customer signs up and again, unchanged, when it was last updated).
            lands = np.zeros(len(rows), dtype=bool)
            for column in (landed,) if isinstance(landed, str) else landed:
                times = rows[column].to_numpy()
                inside = np.ones(len(rows), dtype=bool)
                if self.since is not None:
                    inside &= times >= self.since
                if self.through is not None:
                    inside &= times < self.through
                lands |= inside
            rows = rows[lands]
        folder = self.out_dir / table
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.prefix}-{part:05d}.{self.fmt}"
        self.con.register("rows", rows)
        query = f"select * from ({sql})"
        columns = [d[0] for d in self.con.execute(f"{query} limit 0").description]
        if columns != RAW_TABLES_BY_NAME[table].column_names:
            raise RuntimeError(f"{table}: generated columns {columns} differ from the contract")
        options = "format csv, header true" if self.fmt == "csv" else "format parquet"
        self.con.execute(f"copy ({query}) to '{path}' ({options})")
        self.con.unregister("rows")
        self.rows[table] += len(rows)

    def close(self) -> None:
        """Release the DuckDB connection."""
        self.con.close()

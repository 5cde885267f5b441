"""Period arithmetic for the expected values: months, grains, period boundaries."""

from __future__ import annotations

import pandas as pd

from retention_warehouse.quality.inputs import Params


def month_number(dates: pd.Series) -> pd.Series:
    """Months since year 0 of each date (so consecutive months differ by 1)."""
    dates = pd.to_datetime(dates)
    return dates.dt.year * 12 + dates.dt.month - 1


def month_start_of(number: int) -> pd.Timestamp:
    """The first day of the month with this month number."""
    return pd.Timestamp(year=number // 12, month=number % 12 + 1, day=1)


def period_number(dates: pd.Series, params: Params) -> pd.Series:
    """The period (var retention_grain) each date falls in, as an integer."""
    return month_number(dates) // params.grain_months


def period_start_of(number: int, params: Params) -> pd.Timestamp:
    """The first day of a period number."""
    return month_start_of(number * params.grain_months)


def periods(first_date: pd.Timestamp, params: Params) -> pd.DataFrame:
    """Every period from the one holding ``first_date`` to the one holding the as-of date.

    Period P = (s, e]: s = the day before it starts, e = its last day or the
    as-of date for the period in progress.
    """
    first = int(period_number(pd.Series([first_date]), params).iloc[0])
    last = int(period_number(pd.Series([params.as_of]), params).iloc[0])
    rows = []
    for number in range(first, last + 1):
        start = period_start_of(number, params)
        end = period_start_of(number + 1, params) - pd.Timedelta(days=1)
        rows.append({
            "period": number,
            "period_start": start,
            "period_end": end,
            "start_boundary": start - pd.Timedelta(days=1),
            "effective_end": min(end, params.as_of),
            "is_complete_period": end <= params.as_of,
        })
    return pd.DataFrame(rows)

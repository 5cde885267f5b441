"""Months and reporting periods (var ``retention_grain``: month, quarter or year).

A period is numbered ``month_index // grain_months``. Period P = (s, e]: s = the day
before it starts, e = its last day or the as-of date for the period in progress
(docs/metric_decisions.md, "Periods").
"""

from __future__ import annotations

from datetime import date, timedelta

GRAIN_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def month_index(d: date) -> int:
    """Months since year 0 (a monotone integer per calendar month)."""
    return d.year * 12 + d.month - 1


def month_start(index: int) -> date:
    """First day of the month with the given :func:`month_index`."""
    return date(index // 12, index % 12 + 1, 1)


def month_end(index: int) -> date:
    """Last day of the month with the given :func:`month_index`."""
    return month_start(index + 1) - timedelta(days=1)


def period_index(d: date, grain_months: int) -> int:
    """The number of the period holding ``d``."""
    return month_index(d) // grain_months


def period_start(period: int, grain_months: int) -> date:
    """First day of a period."""
    return month_start(period * grain_months)


def period_end(period: int, grain_months: int) -> date:
    """Last day of a period (whether or not the as-of date has reached it)."""
    return month_end(period * grain_months + grain_months - 1)


def period_bounds(period: int, as_of: date, grain_months: int) -> tuple[date, date, bool]:
    """(s, e, is_complete) of a period: s excluded, e included, e capped at the as-of date."""
    s = period_start(period, grain_months) - timedelta(days=1)
    end = period_end(period, grain_months)
    return s, min(end, as_of), end <= as_of


def last_complete_period(as_of: date, grain_months: int) -> int:
    """The number of the last period that ends on or before the as-of date."""
    current = period_index(as_of, grain_months)
    return current if period_end(current, grain_months) <= as_of else current - 1

"""One mart on two engines, cell for cell: the comparison the PostgreSQL and Spark tests share.

``mart_differences(columns_duck, rows_duck, columns_other, rows_other, engine)`` lists every
difference between DuckDB's version of a mart and another engine's, in words: the columns,
the row count, then each cell. Rows are matched after sorting both sides the same way; text,
counts, dates and decimals must be equal exactly, doubles within 1e-9 (engines sum doubles in
different orders). Timestamps are compared without their time-zone marker (every timestamp of
the project is UTC; drivers disagree on whether they say so).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

RATE_TOLERANCE = 1e-9


def sort_key(row: tuple) -> tuple:
    """Order rows the same way on both engines (doubles rounded, NULLs first)."""
    key = []
    for value in row:
        if isinstance(value, float):
            value = "nan" if math.isnan(value) else f"{value:.6g}"
        elif isinstance(value, Decimal):
            value = f"{value.normalize():f}"
        key.append((value is not None, str(value) if value is not None else ""))
    return tuple(key)


def value_difference(duck: Any, other: Any) -> str | None:
    """Why two cells differ, or None: doubles within 1e-9, everything else exactly."""
    if duck is None or other is None:
        return None if duck is None and other is None else f"{duck!r} != {other!r}"
    if isinstance(duck, float) or isinstance(other, float):
        if math.isclose(float(duck), float(other), rel_tol=RATE_TOLERANCE,
                        abs_tol=RATE_TOLERANCE):
            return None
        return f"{duck!r} != {other!r}"
    if isinstance(duck, Decimal) or isinstance(other, Decimal):
        # Money: equal to the cent and beyond (the engines round the same way).
        return None if Decimal(str(duck)) == Decimal(str(other)) else f"{duck} != {other}"
    if isinstance(duck, datetime) and isinstance(other, datetime):
        return None if duck.replace(tzinfo=None) == other.replace(tzinfo=None) else (
            f"{duck} != {other}")
    if type(duck) is date or type(other) is date:
        return None if duck == other else f"{duck} != {other}"
    return None if duck == other else f"{duck!r} != {other!r}"


def mart_differences(columns_duck: list[str], rows_duck: list[tuple],
                     columns_other: list[str], rows_other: list[tuple],
                     engine: str = "PostgreSQL", limit: int = 10) -> list[str]:
    """Human-readable differences between the same mart on DuckDB and on ``engine``."""
    if [c.lower() for c in columns_duck] != [c.lower() for c in columns_other]:
        return [f"columns differ: DuckDB {columns_duck}, {engine} {columns_other}"]
    if len(rows_duck) != len(rows_other):
        return [f"row counts differ: DuckDB {len(rows_duck)}, {engine} {len(rows_other)}"]
    diffs: list[str] = []
    for duck_row, other_row in zip(sorted(rows_duck, key=sort_key),
                                   sorted(rows_other, key=sort_key), strict=True):
        for column, duck, other in zip(columns_duck, duck_row, other_row, strict=True):
            problem = value_difference(duck, other)
            if problem:
                diffs.append(f"{column}: {problem} (DuckDB row {duck_row[:4]}...)")
    return diffs[:limit] + ([f"... {len(diffs) - limit} more"] if len(diffs) > limit else [])

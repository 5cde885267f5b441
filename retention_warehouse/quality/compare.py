"""Join each mart with its independently computed expected values, column by column.

A comparison frame has one row per key present in the mart or the expected
values (``row_presence`` says which), the mart's value under the column's own
name, the expected value as ``<column>__expected`` and, for numbers, the error
as ``<column>__error``. The expectations (suites.py) are written on these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ROW_KEY = "row_key"
PRESENCE = "row_presence"
MONEY_TOLERANCE = 1e-6  # cents must match exactly
CENT_ROUNDED_TOLERANCE = 0.005 + 1e-9  # a value the mart stores rounded to cents
RATE_TOLERANCE = 1e-9  # relative error of rates, ratios and means


@dataclass(frozen=True)
class Comparison:
    """Which columns of a mart are compared with expected values, and how."""

    mart: str
    keys: tuple[str, ...]
    exact: tuple[str, ...] = ()  # counts, dates, labels: must be equal
    money: tuple[str, ...] = ()  # decimal money: equal to the cent
    cent_rounded: tuple[str, ...] = ()  # stored rounded to cents: within half a cent
    rates: tuple[str, ...] = ()  # doubles: relative error <= 1e-9
    expected_rows_optional_when_zero: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """The name of the comparison frame (and of its expectation suite)."""
        return f"{self.mart}__vs_expected"

    def tolerances(self) -> dict[str, float]:
        """Error tolerance of every numeric column compared with a tolerance."""
        return {
            **{column: MONEY_TOLERANCE for column in self.money},
            **{column: CENT_ROUNDED_TOLERANCE for column in self.cent_rounded},
            **{column: RATE_TOLERANCE for column in self.rates},
        }


def _key_text(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    parts = [frame[key].map(lambda value: value.strftime("%Y-%m-%d")
                            if isinstance(value, pd.Timestamp) else str(value)) for key in keys]
    text = parts[0]
    for part in parts[1:]:
        text = text + "|" + part
    return text


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.map(lambda value: np.nan if value is None else float(value)),
                         errors="coerce").astype("float64")


def error_column(actual: pd.Series, expected: pd.Series, relative: bool) -> pd.Series:
    """|actual - expected| (relative to max(1, |expected|)); 0 when both NULL, inf when one is."""
    actual, expected = _numeric(actual), _numeric(expected)
    error = (actual - expected).abs()
    if relative:
        error = error / np.maximum(1.0, expected.abs())
    error[actual.isna() & expected.isna()] = 0.0
    error[actual.isna() ^ expected.isna()] = np.inf
    return error


def _normalise_dates(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[us]")
    return frame


def compare(spec: Comparison, mart: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """The comparison frame of one mart (see the module docstring)."""
    numeric = tuple(spec.tolerances())
    columns = [*spec.exact, *numeric]
    left = _normalise_dates(mart[[*spec.keys, *columns]])
    right = _normalise_dates(expected[[*spec.keys, *columns]])
    joined = left.merge(right, on=list(spec.keys), how="outer", suffixes=("", "__expected"),
                        indicator=PRESENCE)
    joined[PRESENCE] = joined[PRESENCE].map(
        {"both": "both", "left_only": "mart_only", "right_only": "expected_only"}
    ).astype(object)
    if spec.expected_rows_optional_when_zero:
        optional = joined[PRESENCE].eq("expected_only")
        for column in spec.expected_rows_optional_when_zero:
            optional &= joined[f"{column}__expected"].fillna(0).eq(0)
        joined = joined[~optional]
    joined.insert(0, ROW_KEY, _key_text(joined, spec.keys))
    for column in numeric:
        relative = column in spec.rates
        joined[f"{column}__error"] = error_column(joined[column], joined[f"{column}__expected"],
                                                  relative)
    return joined.reset_index(drop=True)

"""Join each mart with the oracle's expected values, column by column.

The columns and their kinds are the oracle's (``retention_warehouse.oracle.compare``:
``COMPARE_SPECS``), so the checkpoint and the tests compare the same cells with the
same tolerances. A comparison frame has one row per key present in the mart or the
expected values (``row_presence`` says which), the mart's value under the column's own
name, the expected value as ``<column>__expected`` and, for numbers, the error as
``<column>__error``. Keys, labels, dates, booleans and counts are compared as their
canonical text (``2024-01-31``, ``true``, ``3``). The expectations (suites.py) are
written on these frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retention_warehouse.oracle import COMPARE_SPECS
from retention_warehouse.oracle.compare import canonical_text

ROW_KEY = "row_key"
PRESENCE = "row_presence"
MONEY_TOLERANCE = 0.005 + 1e-9  # within half a cent, as oracle.compare_frames
RATE_TOLERANCE = 1e-9  # relative error of rates, ratios and means


@dataclass(frozen=True)
class Comparison:
    """Which columns of a mart are compared with expected values, and how."""

    mart: str
    keys: tuple[str, ...]
    exact: tuple[str, ...] = ()  # counts, dates, labels, booleans: equal as canonical text
    money: tuple[str, ...] = ()  # decimal money: within half a cent
    rates: tuple[str, ...] = ()  # doubles: relative error <= 1e-9

    @classmethod
    def of(cls, mart: str) -> Comparison:
        """The comparison of a mart, from the oracle's spec."""
        spec = COMPARE_SPECS[mart]
        return cls(mart=mart, keys=tuple(spec["keys"]),
                   exact=(*spec["count_cols"], *spec["exact_cols"]),
                   money=tuple(spec["money_cols"]), rates=tuple(spec["rate_cols"]))

    @property
    def name(self) -> str:
        """The name of the comparison frame (and of its expectation suite)."""
        return f"{self.mart}__vs_expected"

    def tolerances(self) -> dict[str, float]:
        """Error tolerance of every numeric column compared with a tolerance."""
        return {**{column: MONEY_TOLERANCE for column in self.money},
                **{column: RATE_TOLERANCE for column in self.rates}}


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


def _as_text(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        frame[column] = frame[column].map(canonical_text).astype(object)
    return frame


def compare(spec: Comparison, mart: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """The comparison frame of one mart (see the module docstring)."""
    numeric = tuple(spec.tolerances())
    columns = [*spec.exact, *numeric]
    text = (*spec.keys, *spec.exact)
    left = _as_text(mart[[*spec.keys, *columns]], text)
    right = _as_text(expected[[*spec.keys, *columns]], text)
    joined = left.merge(right, on=list(spec.keys), how="outer", suffixes=("", "__expected"),
                        indicator=PRESENCE)
    joined[PRESENCE] = joined[PRESENCE].map(
        {"both": "both", "left_only": "mart_only", "right_only": "expected_only"}
    ).astype(object)
    joined.insert(0, ROW_KEY, joined[list(spec.keys)].astype(str).agg("|".join, axis=1)
                  if len(joined) else pd.Series(dtype=object))
    for column in numeric:
        joined[f"{column}__error"] = error_column(joined[column], joined[f"{column}__expected"],
                                                  column in spec.rates)
    return joined.reset_index(drop=True)

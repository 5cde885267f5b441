"""Daily FX rates: the ``fx_rates`` seed and the rates the generator converts with.

The rates are a deterministic random walk (its own fixed seed, independent of
``--seed``) so the committed seed file and every generated data set agree.
Swiss francs are quoted only from 2024-01-01 (the Swiss store opened then):
a CHF amount dated earlier has no rate, which is one of the injected defects.

The walk starts at ``FX_ANCHOR`` (2022-12-01, the base rates) and runs forward
to ``FX_END``; a second walk with its own seed runs backward from the anchor to
``FX_START`` (2019-12-01) so that histories of up to six years before 2026
(``retention generate --start 2020-01-01``, ``retention bench --years 6``) have a
rate every day. The backward part never changes a rate on or after the anchor.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np

FX_START = date(2019, 12, 1)
FX_ANCHOR = date(2022, 12, 1)
FX_END = date(2026, 12, 31)
FX_SEED = 20221201
FX_BACKWARD_SEED = 20221130
CHF_FIRST_RATE = date(2024, 1, 1)

# US dollars per one unit of each currency at FX_ANCHOR.
BASE_RATES: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.26,
    "SEK": 0.095,
    "PLN": 0.25,
    "CAD": 0.74,
    "AUD": 0.66,
    "CHF": 1.12,
}
CURRENCIES: tuple[str, ...] = tuple(BASE_RATES)
DAILY_VOLATILITY = 0.004


def fx_days() -> list[date]:
    """Every calendar day the seed covers."""
    return [FX_START + timedelta(days=i) for i in range((FX_END - FX_START).days + 1)]


def fx_table() -> dict[str, np.ndarray]:
    """US dollars per unit, one array per currency indexed by day since FX_START.

    Days without a quote (CHF before 2024) hold NaN.
    """
    forward_rng = np.random.default_rng(FX_SEED)
    backward_rng = np.random.default_rng(FX_BACKWARD_SEED)
    n_forward = (FX_END - FX_ANCHOR).days + 1
    n_backward = (FX_ANCHOR - FX_START).days
    table: dict[str, np.ndarray] = {}
    for currency, base in BASE_RATES.items():
        if currency == "USD":
            rates = np.ones(n_backward + n_forward)
        else:
            steps = forward_rng.normal(0.0, DAILY_VOLATILITY, n_forward)
            steps[0] = 0.0
            forward = np.round(base * np.exp(np.cumsum(steps)), 6)
            # Day anchor - k is the anchor's rate walked k steps back.
            back_steps = backward_rng.normal(0.0, DAILY_VOLATILITY, n_backward)
            backward = np.round(base * np.exp(np.cumsum(back_steps)), 6)[::-1]
            rates = np.concatenate([backward, forward])
        if currency == "CHF":
            rates[: (CHF_FIRST_RATE - FX_START).days] = np.nan
        table[currency] = rates
    return table


def write_fx_seed(path: Path) -> int:
    """Write the ``fx_rates`` seed (rate_date, currency_code, usd_per_unit); return rows."""
    table = fx_table()
    rows = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["rate_date", "currency_code", "usd_per_unit"])
        for offset, day in enumerate(fx_days()):
            for currency in CURRENCIES:
                rate = table[currency][offset]
                if np.isnan(rate):
                    continue
                writer.writerow([day.isoformat(), currency, f"{rate:.6f}"])
                rows += 1
    return rows

"""The raw-data generator: realistic, messy, deterministic, and able to scale.

``generate(out_dir, customers=..., seed=...)`` writes one folder per raw table
(``<out>/<table>/part-NNNNN.csv`` or ``.parquet``, columns as in
``retention_warehouse.contract``) and ``<out>/_manifest.json`` with the row and
byte counts and how many defects of each kind were injected
(``retention_warehouse.generate.defects``). Customers are simulated in chunks,
so memory stays flat from a thousand customers to a million.

``since``/``through`` keep only rows that landed in that window (by the UTC
time of each row's own timestamp): a daily export is one call per day with its
own ``prefix``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from retention_warehouse.contract import RAW_FORMATS
from retention_warehouse.generate.chunk import build_chunk
from retention_warehouse.generate.defects import DEFECTS
from retention_warehouse.generate.fx import CURRENCIES
from retention_warehouse.generate.simulate import (
    CHANNEL_CAC_USD,
    CURRENCY_OF_COUNTRY,
    DAY,
    FxRates,
    Period,
    epoch,
)
from retention_warehouse.generate.writer import TableWriter

GENERATOR_VERSION = 1
DEFAULT_START = date(2023, 1, 1)
DEFAULT_END = date(2025, 12, 31)
CHUNK_CUSTOMERS = 25_000
MAX_CUSTOMERS = 2_000_000


def spend_frame(period: Period, signups: np.ndarray, fx: FxRates, seed: int) -> pd.DataFrame:
    """Marketing spend per month, country and paid channel, in local currency.

    ``signups`` counts new customers per (month, country, channel); spend is
    that volume times the channel's acquisition cost, with noise.
    """
    rng = np.random.default_rng([seed, 999_999])
    month, country, channel = np.nonzero(signups)
    paid = CHANNEL_CAC_USD[channel] > 0
    month, country, channel = month[paid], country[paid], channel[paid]
    usd = signups[month, country, channel] * CHANNEL_CAC_USD[channel] * rng.lognormal(
        0.0, 0.15, len(month))
    currency = CURRENCY_OF_COUNTRY[country]
    starts = period.months[month]
    rate = np.array([fx.monthly_mean(int(cur), int(period.months[m]), int(period.months[m + 1]))
                     for cur, m in zip(currency, month, strict=True)])
    months = starts.astype("datetime64[s]").astype("datetime64[M]")
    return pd.DataFrame({
        "year": months.astype("datetime64[Y]").astype(int) + 1970,
        "month": months.astype(int) % 12 + 1,
        "country": country,
        "channel": channel,
        "currency": currency,
        "cents": np.maximum(np.round(usd / rate * 100), 0).astype(np.int64),
        "landed": starts,
    })


def _progress(total: int, enabled: bool):  # noqa: ANN202 - tqdm or a no-op
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="customers", unit_scale=True, desc="generating")


def generate(
    out_dir: Path | str,
    customers: int = 2_000,
    seed: int = 42,
    fmt: str = "csv",
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    since: date | None = None,
    through: date | None = None,
    prefix: str = "part",
    progress: bool = False,
) -> dict:
    """Generate raw landing files into ``out_dir``; return (and write) the manifest.

    ``through`` is exclusive. Existing files of the same ``prefix`` are replaced.
    """
    if fmt not in RAW_FORMATS:
        raise ValueError(f"format must be one of {RAW_FORMATS}, not {fmt!r}")
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 1 and {MAX_CUSTOMERS:,}")
    if end <= start:
        raise ValueError("end must be after start")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"*/{prefix}-*.*"):
        old.unlink()
    started = time.monotonic()
    period = Period.between(start, end)
    fx = FxRates()
    writer = TableWriter(out, fmt, epoch(since) if since else None,
                         epoch(through) if through else None, prefix)
    defects: Counter = Counter()
    signups = np.zeros((len(period.months) - 1, 12, 7), np.int64)
    bar = _progress(customers, progress)
    for part, first in enumerate(range(1, customers + 1, CHUNK_CUSTOMERS)):
        numbers = np.arange(first, min(first + CHUNK_CUSTOMERS, customers + 1), dtype=np.int64)
        built = build_chunk(period, fx, seed, part, numbers, customers)
        for table, frame in built.tables.items():
            writer.write(table, frame, part)
        defects.update(built.defects)
        np.add.at(signups, (built.signups["month"], built.signups["country"],
                            built.signups["channel"]), 1)
        if bar is not None:
            bar.update(len(numbers))
    if bar is not None:
        bar.close()
    writer.write("marketing_spend", spend_frame(period, signups, fx, seed), 0)
    writer.close()
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "customers": customers,
        "format": fmt,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "since": since.isoformat() if since else None,
        "through": through.isoformat() if through else None,
        "currencies": list(CURRENCIES),
        "rows": writer.rows,
        "bytes": {table: sum(p.stat().st_size for p in (out / table).glob(f"{prefix}-*.*"))
                  for table in writer.rows},
        "defects": {defect.kind: int(defects[defect.kind]) for defect in DEFECTS},
        "defect_rates": {defect.kind: defect.rate for defect in DEFECTS},
        "seconds": round(time.monotonic() - started, 1),
    }
    # Defect counts describe the whole simulation; with a landing window they are
    # not per file, so the manifest says so rather than mislead.
    if since or through:
        manifest["defects_note"] = "counts cover the full period, not only this window"
    (out / "_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


__all__ = ["generate", "DEFAULT_START", "DEFAULT_END", "DAY"]

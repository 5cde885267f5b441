"""Benchmark data: generated once per (size, seed, format) and reused while its manifest matches.

Each size (and history length) gets two folders under
``<out-dir>/data/<format>-<customers>-seed<seed>[-<years>y]/``:

* ``base/`` — every raw row that landed before the last day of the simulated
  period (what the full build reads);
* ``day/`` — the rows that landed on that last day (and after), the batch a
  one-day refresh lands on top of ``base``.

Together they are exactly what one ``generate`` call writes for the whole
period. The history starts on 1 January ``years`` years before the last day's
year ends (3 years: 2023-01-01, the generator's default; 6 years: 2020-01-01), so
a 6-year case has the same customers spread over twice the calendar. A folder is
regenerated only when its ``_manifest.json`` is missing or was written for
another size, seed, format, history, window or generator version.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from retention_warehouse.contract import RAW_TABLES
from retention_warehouse.generate import DEFAULT_END, DEFAULT_START, GENERATOR_VERSION, generate

LAST_DAY: date = DEFAULT_END
DEFAULT_YEARS = 3
MAX_YEARS = 6  # the fx_rates seed starts on 2019-12-01


def history_start(years: int) -> date:
    """The first day of a history of ``years`` calendar years ending on LAST_DAY."""
    if not 1 <= years <= MAX_YEARS:
        raise ValueError(f"years must be between 1 and {MAX_YEARS}, not {years}")
    return date(LAST_DAY.year - years + 1, 1, 1)


@dataclass(frozen=True)
class BatchData:
    """One generated folder and what it cost to make."""

    path: Path
    manifest: dict
    generated_seconds: float | None  # None when reused from the cache

    @property
    def rows(self) -> int:
        """Raw rows over all tables."""
        return int(sum(self.manifest["rows"].values()))

    @property
    def bytes(self) -> int:
        """Raw bytes over all tables."""
        return int(sum(self.manifest["bytes"].values()))

    def files(self) -> list[Path]:
        """Every raw batch file in the folder."""
        fmt = self.manifest["format"]
        return sorted(path for table in RAW_TABLES
                      for path in (self.path / table.name).glob(f"*.{fmt}"))


@dataclass(frozen=True)
class SizeData:
    """The benchmark data of one size: the full-build batch and the one-day batch."""

    customers: int
    fmt: str
    base: BatchData
    day: BatchData
    years: int = DEFAULT_YEARS


def _matches(manifest: dict, customers: int, seed: int, fmt: str,
             since: date | None, through: date | None, start: date) -> bool:
    expected = {
        "generator_version": GENERATOR_VERSION,
        "customers": customers,
        "seed": seed,
        "format": fmt,
        "start": start.isoformat(),
        "since": since.isoformat() if since else None,
        "through": through.isoformat() if through else None,
    }
    return all(manifest.get(key) == value for key, value in expected.items())


def cached_generate(folder: Path, customers: int, seed: int, fmt: str,
                    since: date | None = None, through: date | None = None,
                    start: date = DEFAULT_START) -> BatchData:
    """Generate into ``folder`` unless its manifest already matches; time the generation."""
    manifest_path = folder / "_manifest.json"
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            manifest = {}
        if _matches(manifest, customers, seed, fmt, since, through, start):
            return BatchData(folder, manifest, None)
    started = time.perf_counter()
    manifest = generate(folder, customers=customers, seed=seed, fmt=fmt, start=start,
                        since=since, through=through)
    return BatchData(folder, manifest, time.perf_counter() - started)


def size_data(out_dir: Path, customers: int, seed: int, fmt: str,
              years: int = DEFAULT_YEARS) -> SizeData:
    """The (possibly cached) base and one-day batches of one size and history length."""
    start = history_start(years)
    suffix = "" if years == DEFAULT_YEARS else f"-{years}y"
    root = out_dir / "data" / f"{fmt}-{customers}-seed{seed}{suffix}"
    base = cached_generate(root / "base", customers, seed, fmt, through=LAST_DAY, start=start)
    day = cached_generate(root / "day", customers, seed, fmt, since=LAST_DAY, start=start)
    return SizeData(customers=customers, fmt=fmt, base=base, day=day, years=years)


def link_batch(batch: BatchData, raw_dir: Path, prefix: str) -> None:
    """Expose a batch's files in ``raw_dir/<table>/`` as symlinks named ``<prefix>-<file>``."""
    for path in batch.files():
        table_dir = raw_dir / path.parent.name
        table_dir.mkdir(parents=True, exist_ok=True)
        link = table_dir / f"{prefix}-{path.name}"
        if not link.exists():
            link.symlink_to(path.resolve())


def unlink_batch(batch: BatchData, raw_dir: Path, prefix: str) -> None:
    """Remove the symlinks ``link_batch`` made for a batch."""
    for path in batch.files():
        (raw_dir / path.parent.name / f"{prefix}-{path.name}").unlink(missing_ok=True)


def day_after(day: date) -> date:
    """The next calendar day."""
    return day + timedelta(days=1)

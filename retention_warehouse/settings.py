"""Where things are: the project folder, the warehouse file, the raw landing folder.

Every setting comes from an environment variable with a default that needs no
editing, so ``make build`` works on a fresh clone and a user points the
warehouse at their own export by setting ``RETENTION_RAW_DIR``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SAMPLE_RAW_DIR = PROJECT_DIR / "data" / "sample"
SAMPLE_CUSTOMERS = 2_000
SAMPLE_SEED = 42
# DuckDB's memory_limit when RETENTION_DUCKDB_MEMORY_LIMIT is not set: the default in
# profiles.yml (a test keeps the two equal). It keeps a 1M-customer build's whole process
# tree under 6 GiB (DuckDB spills the rest to disk); docs/benchmarks.md has the peak and
# the spill cost against 8GB.
DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one run."""

    project_dir: Path
    warehouse_path: Path
    raw_dir: Path
    raw_format: str
    dbt_threads: int

    @property
    def uses_sample(self) -> bool:
        """True when the raw folder is the bundled sample (which we may generate)."""
        return self.raw_dir.resolve() == SAMPLE_RAW_DIR.resolve()


def detect_raw_format(raw_dir: Path) -> str:
    """``parquet`` when the landing folder holds only Parquet batch files, else ``csv``.

    The readers detect each file's format from its name; this is the format generated
    data is written in (``retention refresh --land-generated``, the benchmark).
    """
    names = [p.name.lower() for p in raw_dir.glob("*/*")] if raw_dir.is_dir() else []
    if names and all(name.endswith(".parquet") for name in names if not name.startswith(".")):
        return "parquet"
    return "csv"


def quality_results_dir(warehouse_path: Path) -> Path:
    """Where ``retention quality`` writes its results: ``<warehouse>.quality/`` beside it,
    so two warehouses never overwrite each other's results."""
    return Path(f"{warehouse_path}.quality")


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or the mapping given)."""
    env = os.environ if environ is None else environ
    warehouse = Path(env.get("RETENTION_DB", str(PROJECT_DIR / "warehouse.duckdb")))
    if not warehouse.is_absolute():
        warehouse = PROJECT_DIR / warehouse
    raw_dir = Path(env.get("RETENTION_RAW_DIR", str(SAMPLE_RAW_DIR)))
    if not raw_dir.is_absolute():
        raw_dir = PROJECT_DIR / raw_dir
    raw_format = env.get("RETENTION_RAW_FORMAT") or detect_raw_format(raw_dir)
    return Settings(
        project_dir=PROJECT_DIR,
        warehouse_path=warehouse,
        raw_dir=raw_dir,
        raw_format=raw_format,
        dbt_threads=int(env.get("DBT_THREADS", "2")),
    )


def dbt_environment(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a dbt subprocess runs with: paths resolved, telemetry off."""
    env = dict(os.environ)
    env.update(
        {
            "DBT_PROFILES_DIR": str(settings.project_dir),
            "DBT_PROJECT_DIR": str(settings.project_dir),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "false",
            "RETENTION_DB": str(settings.warehouse_path),
            "RETENTION_RAW_DIR": str(settings.raw_dir),
            "RETENTION_RAW_FORMAT": settings.raw_format,
            "DBT_THREADS": str(settings.dbt_threads),
        }
    )
    if extra:
        env.update(extra)
    return env

"""The dbt side of the benchmark: a private workspace per size and the timed dbt commands.

Every size and setting gets its own folder (raw symlinks, DuckDB file, dbt
target and log folders), so a benchmark never touches the developer's
``warehouse.duckdb`` or ``target/`` and can run beside a build.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from retention_warehouse.bench.dataset import SizeData, link_batch, unlink_batch
from retention_warehouse.bench.process import Measured, measure
from retention_warehouse.dbt_runner import dbt_executable
from retention_warehouse.pii import HASH_KEY_VARIABLE, sample_hash_key
from retention_warehouse.settings import PROJECT_DIR, Settings, dbt_environment

# A selector no node matches: `dbt build` then does its fixed work (parse,
# connect, hooks) and builds zero models.
NOTHING_SELECTOR = "tag:__bench_selects_nothing__"


class BenchStepError(RuntimeError):
    """A dbt command of the benchmark failed; the message ends with its output."""


@dataclass(frozen=True)
class EngineSettings:
    """The settings that matter for speed, passed to dbt through the environment."""

    duckdb_threads: int = 2
    memory_limit: str = "8GB"
    dbt_threads: int = 2

    @property
    def label(self) -> str:
        """A short name for folder names and tables."""
        return f"t{self.duckdb_threads}-m{self.memory_limit}"


@dataclass
class Workspace:
    """One size's private folder: raw symlinks, warehouse, dbt target and logs."""

    root: Path
    data: SizeData
    engine: EngineSettings

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def db_path(self) -> Path:
        return self.root / "bench.duckdb"

    @property
    def target_dir(self) -> Path:
        return self.root / "target"

    @property
    def settings(self) -> Settings:
        return Settings(project_dir=PROJECT_DIR, warehouse_path=self.db_path,
                        raw_dir=self.raw_dir, raw_format=self.data.fmt,
                        dbt_threads=self.engine.dbt_threads)

    @property
    def env(self) -> dict[str, str]:
        return dbt_environment(self.settings, {
            "DBT_TARGET": "dev",
            "DBT_TARGET_PATH": str(self.target_dir),
            "DBT_LOG_PATH": str(self.root / "logs"),
            "RETENTION_DUCKDB_THREADS": str(self.engine.duckdb_threads),
            "RETENTION_DUCKDB_MEMORY_LIMIT": self.engine.memory_limit,
            # The raw folder holds symlinks to data the bench generated itself (no generator
            # manifest of its own): hash with the caller's key or the public sample key.
            HASH_KEY_VARIABLE: os.environ.get(HASH_KEY_VARIABLE) or sample_hash_key(),
        })

    def prepare(self) -> None:
        """A fresh folder whose raw landing holds the base batch (as symlinks)."""
        if self.root.exists():
            shutil.rmtree(self.root)
        self.raw_dir.mkdir(parents=True)
        link_batch(self.data.base, self.raw_dir, "base")

    def dbt(self, name: str, *args: str, allow_failures: bool = False) -> Measured:
        """Run ``dbt <args>`` measured; raise ``BenchStepError`` when it fails.

        With ``allow_failures`` a run that finished but had failing nodes (dbt's
        exit status 1 with a fresh ``run_results.json``) still counts: its time
        is real, and the failures are reported beside it.
        """
        results_path = self.target_dir / "run_results.json"
        results_path.unlink(missing_ok=True)
        result = measure([dbt_executable(), *args], self.root / "output" / f"{name}.log",
                         cwd=PROJECT_DIR, env=self.env)
        finished = result.returncode == 1 and results_path.exists()
        if not result.ok and not (allow_failures and finished):
            raise BenchStepError(
                f"`dbt {' '.join(args)}` failed in {self.root} (exit {result.returncode}); "
                f"full output in {result.log_path}:\n{result.log_tail()}")
        return result

    def drop_warehouse(self) -> None:
        """Delete the DuckDB file (and its WAL) so the next build starts from nothing."""
        for suffix in ("", ".wal", ".tmp"):
            path = Path(f"{self.db_path}{suffix}")
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def full_build(self, run: int) -> Measured:
        """``dbt build`` into a fresh DuckDB file."""
        self.drop_warehouse()
        return self.dbt(f"build-{run}", "build", allow_failures=True)

    def parse(self, run: int) -> Measured:
        """``dbt parse`` from scratch (no partial-parse cache): dbt's fixed start-up cost."""
        return self.dbt(f"parse-{run}", "parse", "--no-partial-parse")

    def empty_build(self, run: int) -> Measured:
        """``dbt build`` selecting no node: start-up, connection and hooks, zero models."""
        return self.dbt(f"empty-build-{run}", "build", "--select", NOTHING_SELECTOR)

    def incremental(self, run: int, built_copy: Path) -> Measured:
        """Land the one-day batch on a copy of the full build and run ``dbt build`` again."""
        self.drop_warehouse()
        shutil.copyfile(built_copy, self.db_path)
        link_batch(self.data.day, self.raw_dir, "day")
        try:
            return self.dbt(f"incremental-{run}", "build", allow_failures=True)
        finally:
            unlink_batch(self.data.day, self.raw_dir, "day")

    def run_results(self) -> dict:
        """dbt's ``run_results.json`` of the last command."""
        return json.loads((self.target_dir / "run_results.json").read_text())

    def manifest(self) -> dict:
        """dbt's ``manifest.json`` of the last command."""
        return json.loads((self.target_dir / "manifest.json").read_text())


def slowest_nodes(run_results: dict, count: int = 5) -> list[dict]:
    """The ``count`` slowest executed nodes of a run: unique id, type, seconds, status."""
    rows = [
        {"node": result["unique_id"].split(".", 2)[-1],
         "type": result["unique_id"].split(".", 1)[0],
         "seconds": round(float(result.get("execution_time") or 0.0), 3),
         "status": result.get("status")}
        for result in run_results.get("results", [])
    ]
    return sorted(rows, key=lambda row: row["seconds"], reverse=True)[:count]


FAILED_STATUSES = ("error", "fail", "runtime error")


def failed_nodes(run_results: dict) -> list[str]:
    """Names of the nodes that errored or failed in a run."""
    names = []
    for result in run_results.get("results", []):
        if result.get("status") in FAILED_STATUSES:
            parts = result["unique_id"].split(".")
            # Generic tests end in a hash (test.<project>.<name>.<hash>): drop it.
            names.append(parts[2] if parts[0] == "test" and len(parts) > 3 else parts[-1])
    return names


def node_statuses(run_results: dict) -> dict[str, int]:
    """How many nodes ended in each status (success, pass, error, ...)."""
    counts: dict[str, int] = {}
    for result in run_results.get("results", []):
        counts[result.get("status", "?")] = counts.get(result.get("status", "?"), 0) + 1
    return counts

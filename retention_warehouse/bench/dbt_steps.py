"""The dbt side of the benchmark: a private workspace per size and the timed dbt commands.

Every size and setting gets its own folder (raw symlinks, DuckDB file, dbt
target and log folders), so a benchmark never touches the developer's
``warehouse.duckdb`` or ``target/`` and can run beside a build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from retention_warehouse.bench.dataset import LAST_DAY, SizeData, link_batch, unlink_batch
from retention_warehouse.bench.process import Measured, measure
from retention_warehouse.dbt_runner import dbt_executable
from retention_warehouse.pii import HASH_KEY_VARIABLE, sample_hash_key
from retention_warehouse.refresh import (
    as_of_env,
    dbt_paths,
    staging_dir,
    state_path,
)
from retention_warehouse.settings import (
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    PROJECT_DIR,
    Settings,
    dbt_environment,
)

# A selector no node matches: `dbt build` then does its fixed work (parse,
# connect, hooks) and builds zero models.
NOTHING_SELECTOR = "tag:__bench_selects_nothing__"


class BenchStepError(RuntimeError):
    """A dbt command of the benchmark failed; the message ends with its output."""


@dataclass(frozen=True)
class EngineSettings:
    """The settings that matter for speed, passed to dbt through the environment."""

    duckdb_threads: int = 2
    memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
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

    # --- the real refresh path --------------------------------------------------------------

    @property
    def published(self) -> Path:
        """The warehouse the refresh measurements publish (its own folder)."""
        return self.root / "refresh" / "wh.duckdb"

    def _refresh_files(self) -> list[Path]:
        """What a refresh keeps beside the published file between runs."""
        published = self.published
        return [published, state_path(published),
                Path(dbt_paths(published)["DBT_TARGET_PATH"]).parent]

    def refresh_env(self) -> dict[str, str]:
        """The environment of ``retention refresh`` on this workspace."""
        env = {key: value for key, value in self.env.items()
               if key not in ("DBT_TARGET_PATH", "DBT_LOG_PATH")}
        env["RETENTION_DB"] = str(self.published)
        return env

    def refresh_command(self, through: str) -> list[str]:
        """``retention refresh --through <day>`` (files already dropped; no quality step)."""
        return [sys.executable, "-m", "retention_warehouse.cli", "refresh", "--through",
                through, "--skip-quality"]

    def prepare_refresh(self) -> None:
        """Publish the base batch with a first (full) refresh and keep it as the baseline.

        Every measured refresh starts from a copy of this baseline: the published
        warehouse, the refresh state and dbt's partial-parse cache, as they are
        the morning a daily refresh runs.
        """
        folder = self.published.parent
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        result = measure(self.refresh_command(LAST_DAY.isoformat()),
                         self.root / "output" / "refresh-baseline.log", cwd=PROJECT_DIR,
                         env=self.refresh_env())
        if not result.ok or not self.published.exists():
            raise BenchStepError(f"the first (full) refresh failed (exit {result.returncode}); "
                                 f"output in {result.log_path}:\n{result.log_tail()}")
        baseline = self.root / "refresh-baseline"
        shutil.rmtree(baseline, ignore_errors=True)
        baseline.mkdir()
        for path in self._refresh_files():
            if path.is_dir():
                shutil.copytree(path, baseline / path.name)
            else:
                shutil.copyfile(path, baseline / path.name)

    def _restore_refresh_baseline(self) -> None:
        baseline = self.root / "refresh-baseline"
        for path in self._refresh_files():
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                shutil.copytree(baseline / path.name, path)
            else:
                shutil.copyfile(baseline / path.name, path)

    def refresh(self, run: int) -> tuple[Measured, dict[str, float]]:
        """The next day's files landed, then ``retention refresh`` measured end to end.

        Land (the day's files appear in the raw folder), copy to staging, one
        ``dbt build`` (the daily selection), freshness, atomic publish. Returns the
        measurement and the refresh's own step timings. A refresh that is not
        incremental is an error: it would not measure the daily path.
        """
        self._restore_refresh_baseline()
        link_batch(self.data.day, self.raw_dir, "day")
        try:
            result = measure(self.refresh_command((LAST_DAY + timedelta(days=1)).isoformat()),
                             self.root / "output" / f"refresh-{run}.log", cwd=PROJECT_DIR,
                             env=self.refresh_env())
        finally:
            unlink_batch(self.data.day, self.raw_dir, "day")
        text = result.log_path.read_text(errors="replace")
        if not result.ok or "refresh: incremental build" not in text:
            raise BenchStepError(f"the one-day refresh failed or was not incremental (exit "
                                 f"{result.returncode}); output in {result.log_path}:\n"
                                 f"{result.log_tail()}")
        return result, refresh_step_seconds(text)

    def refresh_fixed_cost(self, run: int) -> Measured:
        """What dbt costs a daily refresh before any model runs.

        ``dbt build`` selecting no node, in the refresh's dbt folder (the
        partial-parse cache the last refresh left) with the refresh's database path
        and the next as-of and landing dates, exactly as the next morning's refresh starts:
        start-up and partial parse, nothing built.
        """
        paths = dbt_paths(self.published)
        as_of = (LAST_DAY + timedelta(days=run)).isoformat()
        through = (LAST_DAY + timedelta(days=run + 1)).isoformat()
        # The staged file's path, as in the refresh: dbt's partial parse is keyed on the
        # profile, the database path included.
        staged = staging_dir(self.published) / self.published.name
        env = {**self.env, **paths, **as_of_env(as_of, through), "RETENTION_DB": str(staged)}
        results_path = Path(paths["DBT_TARGET_PATH"]) / "run_results.json"
        results_path.unlink(missing_ok=True)
        try:
            result = measure([dbt_executable(), "build", "--select", NOTHING_SELECTOR],
                             self.root / "output" / f"refresh-fixed-{run}.log",
                             cwd=PROJECT_DIR, env=env)
        finally:
            shutil.rmtree(staging_dir(self.published), ignore_errors=True)
        if not result.ok:
            raise BenchStepError(f"the empty daily dbt build failed (exit {result.returncode}); "
                                 f"output in {result.log_path}:\n{result.log_tail()}")
        return result

    def refresh_run_results(self) -> dict:
        """dbt's ``run_results.json`` of the last measured refresh (kept in the output
        folder as ``refresh-run_results.json``)."""
        target = Path(dbt_paths(self.published)["DBT_TARGET_PATH"])
        kept = self.root / "output" / "refresh-run_results.json"
        shutil.copyfile(target / "run_results.json", kept)
        return json.loads(kept.read_text())

    def run_results(self) -> dict:
        """dbt's ``run_results.json`` of the last command."""
        return json.loads((self.target_dir / "run_results.json").read_text())

    def manifest(self) -> dict:
        """dbt's ``manifest.json`` of the last command."""
        return json.loads((self.target_dir / "manifest.json").read_text())


REFRESH_TIMINGS = re.compile(r"refresh: published .*\((?P<mode>\w+); (?P<timings>[^)]*)\)")


def refresh_step_seconds(output: str) -> dict[str, float]:
    """The step timings ``retention refresh`` prints on success (land, dbt_build, ...)."""
    match = REFRESH_TIMINGS.search(output)
    if not match:
        return {}
    steps = {}
    for part in match.group("timings").split(", "):
        name, _, seconds = part.rpartition(" ")[0].partition(" ")
        steps[name] = float(seconds)
    return steps


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

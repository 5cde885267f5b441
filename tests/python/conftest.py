"""Shared fixtures: one warehouse built on the bundled sample for the whole session.

The session fixture ``warehouse`` generates the sample (2,000 customers, seed
42) into a temporary folder (once per run, shared by the xdist workers, each
working on its own copy) and runs the real ``dbt build`` on it into a
temporary DuckDB file, with its own dbt target and log folders, so the suite
never touches a developer's ``warehouse.duckdb`` and can run beside a build.

A skipped test is not a passed one: the session fails if any test skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from filelock import FileLock

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # postgres_server.py and other helpers

from retention_warehouse.dbt_runner import dbt_executable  # noqa: E402
from retention_warehouse.generate import generate  # noqa: E402
from retention_warehouse.settings import (  # noqa: E402
    SAMPLE_CUSTOMERS,
    SAMPLE_SEED,
    Settings,
    dbt_environment,
)


@dataclass
class BuiltWarehouse:
    """A warehouse built by ``dbt build`` for tests: where it is and how to reach it."""

    root: Path
    db_path: Path
    raw_dir: Path
    target_dir: Path
    settings: Settings
    env: dict[str, str]
    generator_manifest: dict = field(default_factory=dict)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the built warehouse."""
        return duckdb.connect(str(self.db_path), read_only=True)

    def query(self, sql: str) -> list[tuple]:
        """Rows of one query against the warehouse."""
        with self.connect() as con:
            return con.execute(sql).fetchall()

    def dbt(self, *args: str, env: dict[str, str] | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run dbt against this warehouse (same target, logs and raw folder)."""
        result = subprocess.run(
            [dbt_executable(), *args], cwd=PROJECT_DIR, env={**self.env, **(env or {})},
            capture_output=True, text=True, check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}{result.stderr}")
        return result

    @property
    def build_manifest_path(self) -> Path:
        """A copy of ``manifest.json`` as the build left it, before any later dbt run."""
        return self.root / "build_manifest.json"

    @property
    def build_run_results(self) -> dict:
        """dbt's ``run_results.json`` of the build (a copy, as the build left it)."""
        return json.loads((self.root / "build_run_results.json").read_text())

    @property
    def dbt_manifest(self) -> dict:
        """dbt's ``manifest.json`` of the build."""
        return json.loads((self.target_dir / "manifest.json").read_text())


def make_warehouse(root: Path, customers: int = SAMPLE_CUSTOMERS, seed: int = SAMPLE_SEED,
                   fmt: str = "csv", build: bool = True,
                   generate_raw: bool = True) -> BuiltWarehouse:
    """Generate raw data into ``root/raw`` and (optionally) ``dbt build`` it into ``root``.

    ``generate_raw=False``: the raw files are already there (a copy); read their manifest.
    """
    raw_dir = root / "raw"
    if generate_raw:
        manifest = generate(raw_dir, customers=customers, seed=seed, fmt=fmt)
    else:
        manifest = json.loads((raw_dir / "_manifest.json").read_text())
        assert (manifest["customers"], manifest["seed"]) == (customers, seed), manifest
    settings = Settings(project_dir=PROJECT_DIR, warehouse_path=root / "warehouse.duckdb",
                        raw_dir=raw_dir, raw_format=fmt, dbt_threads=2)
    target_dir = root / "target"
    env = dbt_environment(settings, {
        "DBT_TARGET_PATH": str(target_dir),
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_TARGET": "dev",
    })
    built = BuiltWarehouse(root=root, db_path=settings.warehouse_path, raw_dir=raw_dir,
                           target_dir=target_dir, settings=settings, env=env,
                           generator_manifest=manifest)
    if build:
        built.dbt("build", check=True)
        # The build's own manifest: later dbt runs with --vars re-render target/manifest.json,
        # and which tests ran before depends on the order (pytest-xdist).
        shutil.copyfile(target_dir / "manifest.json", root / "build_manifest.json")
        # ... and its run results (every node of the build, unit tests included).
        shutil.copyfile(target_dir / "run_results.json", root / "build_run_results.json")
    return built


def copy_warehouse(source: Path, root: Path, customers: int = SAMPLE_CUSTOMERS,
                   seed: int = SAMPLE_SEED, fmt: str = "csv") -> BuiltWarehouse:
    """A copy of a warehouse ``make_warehouse`` built in ``source`` (raw files, DuckDB file,
    target/ and logs/), described as if built in ``root``. The raw views in the copied file
    still read ``source``'s raw files (the same bytes); any dbt run on the copy re-creates
    them on ``root``'s."""
    shutil.copytree(source, root, dirs_exist_ok=True)
    return make_warehouse(root, customers=customers, seed=seed, fmt=fmt, build=False,
                          generate_raw=False)


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> BuiltWarehouse:
    """The sample warehouse, built once per session by a real ``dbt build``.

    Under pytest-xdist the first worker to need it builds it in the run's shared temporary
    folder (under a file lock) and every worker takes its own copy, so the build runs once
    per run, not once per worker.
    """
    root = tmp_path_factory.mktemp("warehouse")
    if worker_id == "master":
        return make_warehouse(root)
    shared = tmp_path_factory.getbasetemp().parent / "shared-warehouse"
    with FileLock(str(shared) + ".lock"):
        if not (shared / "build_manifest.json").exists():
            if shared.exists():
                shutil.rmtree(shared)  # a build another worker started and failed
            make_warehouse(shared)
    return copy_warehouse(shared, root)


@pytest.fixture()
def con(warehouse: BuiltWarehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the session warehouse."""
    connection = warehouse.connect()
    yield connection
    connection.close()


# --- a skipped test fails the run --------------------------------------------------------

_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every skipped test."""
    if report.skipped:
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Turn a green run with skips into a failure: a skipped test is not a passed one."""
    if _SKIPPED and exitstatus == pytest.ExitCode.OK:
        print(f"\n{len(_SKIPPED)} test(s) skipped; a skipped test is not a passed one:",
              *_SKIPPED, sep="\n  ", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

"""Run dbt as a subprocess, with the project's environment and clear errors.

A subprocess (not dbt's in-process runner) keeps each invocation isolated, lets
the benchmark measure the whole process tree, and lets a refresh be killed
cleanly.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb

from retention_warehouse.settings import Settings, dbt_environment


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB warehouse file open for writing."""


def dbt_executable() -> str:
    """The dbt entry point installed beside this Python interpreter."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def ensure_writable(warehouse: Path) -> None:
    """Fail with a clear message when another process holds the warehouse file.

    DuckDB allows one writer process per file; a BI tool or notebook holding a
    read-write connection blocks every build.
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        duckdb.connect(str(warehouse)).close()
    except duckdb.IOException as error:
        message = str(error)
        if "lock" not in message.lower():
            raise
        holder = re.search(r"PID (\d+)", message)
        who = f" (process {holder.group(1)})" if holder else ""
        raise WarehouseLockedError(
            f"The warehouse file {warehouse} is locked by another process{who}. "
            "Close the program holding it (a BI tool, notebook or another dbt run), "
            "or open readers with read_only=True, or set RETENTION_DB to another file."
        ) from None


def run_dbt(
    settings: Settings,
    args: list[str],
    extra_env: dict[str, str] | None = None,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt <args>`` in the project folder and return the completed process."""
    command = [dbt_executable(), *args]
    return subprocess.run(
        command,
        cwd=settings.project_dir,
        env=dbt_environment(settings, extra_env),
        text=True,
        capture_output=capture,
        check=False,
    )

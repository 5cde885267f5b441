"""Bad input stops the build with one clear message, not a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from retention_warehouse.dbt_runner import WarehouseLockedError, ensure_writable

PROJECT_DIR = Path(__file__).resolve().parents[2]
RETENTION = PROJECT_DIR / ".venv" / "bin" / "retention"


def run_build(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``retention build`` with extra environment variables."""
    return subprocess.run([str(RETENTION), "build", "--skip-quality"], cwd=PROJECT_DIR,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          check=False, timeout=600)


def test_missing_raw_folder_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-export"
    result = run_build({"RETENTION_RAW_DIR": str(missing),
                        "RETENTION_DB": str(tmp_path / "w.duckdb")})
    assert result.returncode == 2
    assert f"RETENTION_RAW_DIR={missing} does not exist" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_raw_folder_without_the_required_table_names_it(tmp_path: Path) -> None:
    """Only transactions is required: a folder with a CRM export and no ledger stops."""
    raw = tmp_path / "raw"
    (raw / "crm_customers").mkdir(parents=True)
    (raw / "crm_customers" / "people.csv").write_text("customer_id,signup_at\nC1,2024-01-01\n")
    result = run_build({"RETENTION_RAW_DIR": str(raw), "RETENTION_DB": str(tmp_path / "w.duckdb")})
    assert result.returncode == 2
    assert "required raw table 'transactions'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_locked_warehouse_says_so_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"con = duckdb.connect({str(path)!r})\nprint('ready', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseLockedError, match="locked by another process") as error:
            ensure_writable(path)
        assert "read_only=True" in str(error.value) and "RETENTION_DB" in str(error.value)
    finally:
        holder.kill()
        holder.wait()
    ensure_writable(path)  # free again once the holder is gone

"""Run dbt as a subprocess, with the project's environment and clear errors.

A subprocess (not dbt's in-process runner) keeps each invocation isolated, lets
the benchmark measure the whole process tree, and lets a refresh be killed
cleanly: the dbt child runs in its own process group, the kernel kills it when
the Python process that started it dies (Linux ``prctl(PR_SET_PDEATHSIG)``,
even after ``kill -9``), and every way out of :func:`run_dbt` (return,
exception, Ctrl-C) kills whatever is left of its group. A killed refresh
therefore never leaves dbt writing into a staging copy.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb

from retention_warehouse.failures import describe_duckdb_open_error, is_lock_error
from retention_warehouse.settings import Settings, dbt_environment
from retention_warehouse.warehouse_file import STORAGE_CONFIG

PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

LineHook = Callable[[str, subprocess.Popen], None]


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB warehouse file open for writing."""


class WarehouseUnusableError(RuntimeError):
    """The warehouse file cannot be opened for writing (stale log, read-only, permissions)."""


def dbt_executable() -> str:
    """The dbt entry point installed beside this Python interpreter."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def ensure_writable(warehouse: Path) -> None:
    """Fail with a clear message when the warehouse file cannot be opened for writing.

    DuckDB allows one writer process per file; a BI tool or notebook holding a
    read-write connection blocks every build. A stale write-ahead log, a
    read-only folder or missing permissions are reported the same way: one line.
    """
    try:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        duckdb.connect(str(warehouse), config=STORAGE_CONFIG).close()
    except duckdb.Error as error:
        message = str(error)
        if not is_lock_error(error):
            raise WarehouseUnusableError(
                describe_duckdb_open_error(error, warehouse, "opening the warehouse for writing",
                                           remedy="build")
            ) from None
        holder = re.search(r"PID (\d+)", message)
        who = f" (process {holder.group(1)})" if holder else ""
        raise WarehouseLockedError(
            f"The warehouse file {warehouse} is locked by another process{who}. "
            "Close the program holding it (a BI tool, notebook or another dbt run), "
            "or open readers with read_only=True, or set RETENTION_DB to another file."
        ) from None


def _die_with_parent(parent: int) -> Callable[[], None]:
    """``preexec_fn`` of the dbt child: SIGKILL it when ``parent`` (this thread) dies."""
    def preexec() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL every process left in the child's process group, then reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_dbt(
    settings: Settings,
    args: list[str],
    extra_env: dict[str, str] | None = None,
    capture: bool = False,
    on_line: LineHook | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt <args>`` in the project folder and return the completed process.

    dbt's output (stdout and stderr, merged) is printed as it comes unless
    ``capture``; either way it is returned in ``stdout`` so a failure can be
    explained. ``on_line(line, process)`` sees every output line.

    The child dies with the *thread* that started it (PR_SET_PDEATHSIG): call
    this from a thread that outlives the run (it blocks until dbt ends anyway).
    """
    command = [dbt_executable(), *args]
    process = subprocess.Popen(
        command,
        cwd=settings.project_dir,
        env=dbt_environment(settings, extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        process_group=0,
        preexec_fn=_die_with_parent(os.getpid()),
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if not capture:
                sys.stdout.write(line)
                sys.stdout.flush()
            if on_line is not None:
                on_line(line, process)
        returncode = process.wait()
    finally:
        kill_group(process)
    return subprocess.CompletedProcess(command, returncode, "".join(lines), "")

"""The DuckDB warehouse file on disk: open it, copy it, checkpoint it, swap it safely.

DuckDB keeps committed changes that are not yet checkpointed in a write-ahead
log beside the file (``<file>.wal``) and replays it on the next open. A log
that does not belong to the file (left by a crashed writer after the file was
replaced) makes every open fail; :func:`inspect` tells such a *stale* log from
a live one, and the refresh's publish step removes it. Every function here
raises :class:`WarehouseFileError` with one line saying what to do, never a
DuckDB stack trace.
"""

from __future__ import annotations

import os
import re
import shutil
from enum import Enum
from pathlib import Path

import duckdb

from retention_warehouse import faults
from retention_warehouse.failures import (
    describe_duckdb_open_error,
    describe_os_error,
    first_line,
    is_lock_error,
    is_stale_wal_error,
)

COPY_CHUNK = 1 << 20
# How every warehouse file is created (profiles.yml says the same in config_options).
# From storage version 1.4 on, DuckDB stamps the write-ahead log with the file's identity
# and checkpoint count, so a log left beside another version of the file is refused
# ("Failure while replaying WAL") instead of being replayed into the wrong data.
STORAGE_CONFIG = {"storage_compatibility_version": "v1.4.0"}
WAL_STAMPED_FROM = (1, 4)


class WarehouseFileError(RuntimeError):
    """The warehouse file cannot be used as asked; the message says why and what to do."""


class WarehouseHeldError(WarehouseFileError):
    """Another process holds the file open for writing."""


class FileState(Enum):
    """What :func:`inspect` found."""

    ABSENT = "absent"
    CLEAN = "clean"  # opens, no write-ahead log
    LIVE_WAL = "live_wal"  # opens, with a log that replays (committed, not checkpointed)
    STALE_WAL = "stale_wal"  # the log beside it cannot be replayed onto it


def wal_of(path: Path) -> Path:
    """The write-ahead log DuckDB keeps beside ``path``."""
    return path.with_name(path.name + ".wal")


def held_message(path: Path, error: BaseException) -> str:
    """The message for a file another process holds for writing."""
    return (f"The warehouse {path} is held by a writing process ({first_line(str(error))}). "
            "BI tools must connect with read_only=True; stop the writer and retry.")


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or :class:`WarehouseFileError` with one clear line."""
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        if is_lock_error(error):
            raise WarehouseHeldError(held_message(path, error)) from None
        raise WarehouseFileError(describe_duckdb_open_error(error, path, "opening it")) from None


def inspect(path: Path) -> FileState:
    """Whether ``path`` exists, opens, and what its write-ahead log is."""
    if not path.exists():
        return FileState.ABSENT
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as error:
        if is_lock_error(error):
            raise WarehouseHeldError(held_message(path, error)) from None
        if is_stale_wal_error(error):
            return FileState.STALE_WAL
        raise WarehouseFileError(describe_duckdb_open_error(error, path, "opening it")) from None
    return FileState.LIVE_WAL if wal_of(path).exists() else FileState.CLEAN


def stamps_its_wal(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the connected file's storage version stamps write-ahead logs (>= 1.4)."""
    row = con.execute("select tags['storage_version'] from duckdb_databases() "
                      "where database_name = current_database()").fetchone()
    match = re.match(r"v(\d+)\.(\d+)", str(row[0] if row else ""))
    return bool(match) and (int(match.group(1)), int(match.group(2))) >= WAL_STAMPED_FROM


def verify_read_only(path: Path) -> None:
    """Open ``path`` read-only and read its catalog; raise when it does not work."""
    with open_read_only(path) as con:
        tables = con.execute("select count(*) from duckdb_tables()").fetchone()[0]
    if not tables:
        raise WarehouseFileError(f"{path} opens but holds no table.")


def copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``; on any failure remove the partial copy and re-raise."""
    limit = faults.enospc_after_bytes()
    try:
        if limit is None:
            shutil.copyfile(source, target)
        else:
            _copy_failing_after(source, target, limit)
    except OSError as error:
        target.unlink(missing_ok=True)
        if error.filename is None:  # sendfile does not say which file: the copy
            raise OSError(error.errno, error.strerror, str(target)) from None
        raise
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _copy_failing_after(source: Path, target: Path, limit: int) -> None:
    written = 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(COPY_CHUNK):
            if written + len(chunk) > limit:
                writer.write(chunk[: max(limit - written, 0)])
                raise faults.disk_full(target)
            writer.write(chunk)
            written += len(chunk)


def fsync_path(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk, so a rename survives a power cut."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    handle = os.open(path, flags)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def checkpoint(path: Path) -> None:
    """Write everything of ``path``'s write-ahead log into the file and drop the log."""
    try:
        with duckdb.connect(str(path)) as con:
            faults.reach("checkpoint")
            con.execute("checkpoint")
    except duckdb.Error as error:
        raise WarehouseFileError(
            describe_duckdb_open_error(error, path, "checkpointing the staged warehouse")
        ) from None
    if wal_of(path).exists():
        raise WarehouseFileError(f"{path} still has a write-ahead log after its checkpoint.")


def remove_wal(path: Path) -> bool:
    """Remove the write-ahead log beside ``path``; True when there was one."""
    wal = wal_of(path)
    try:
        wal.unlink()
    except FileNotFoundError:
        return False
    except OSError as error:
        raise WarehouseFileError(
            describe_os_error(error, f"removing the stale write-ahead log {wal}")) from None
    return True

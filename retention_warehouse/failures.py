"""One clear line for each way the machine can fail us: disk full, read-only, no permission.

``retention build`` and ``retention refresh`` turn an ``OSError``, a DuckDB error
or the output of a failed dbt run into one sentence that says what happened,
to which file, and what to do, instead of a stack trace. The wording of each
case is listed in docs/refresh.md ("What you see when something goes wrong").
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

# DuckDB / dbt output fragments -> the errno they stand for.
_OUTPUT_ERRNOS = (
    ("No space left on device", errno.ENOSPC),
    ("Read-only file system", errno.EROFS),
    ("Permission denied", errno.EACCES),
)
_STALE_WAL = "Failure while replaying WAL"
# A log of an older checkpoint of the same file (e.g. left beside it when the file was
# replaced by a newer copy of itself): DuckDB refuses it with this message instead.
_OLD_WAL = "WAL checkpoint iteration does not match the database file"
_NOT_UTF8 = "This file is not utf-8 encoded"


def _where(path: object) -> str:
    return f" ({path})" if path else ""


def describe_errno(code: int | None, path: object, doing: str, detail: str = "") -> str:
    """The sentence for one failed file operation (``doing``: what we were doing)."""
    if code == errno.ENOSPC:
        return (f"no space left on the device{_where(path)} while {doing}. Free some space "
                "(or point RETENTION_DB at a bigger disk) and run it again.")
    if code == errno.EROFS:
        return (f"{path or 'the folder'} is on a read-only file system, so {doing} is "
                "impossible. Mount it writable or point RETENTION_DB at a writable folder.")
    if code in (errno.EACCES, errno.EPERM):
        return (f"permission denied{_where(path)} while {doing}. Give this user read and write "
                "access to it (or point RETENTION_DB / RETENTION_RAW_DIR elsewhere).")
    if code == errno.ENOENT:
        return f"{path or 'a file'} does not exist (while {doing})."
    reason = detail or (errno.errorcode.get(code, "unknown error") if code else "unknown error")
    return f"{doing} failed{_where(path)}: {reason}."


def describe_os_error(error: OSError, doing: str) -> str:
    """One line for an OSError raised by our own file handling."""
    return describe_errno(error.errno, error.filename, doing, error.strerror or str(error))


def first_line(text: str) -> str:
    """The first non-empty line of an error message (DuckDB appends stack traces)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), text.strip())


def describe_dbt_failure(output: str, warehouse: Path, doing: str) -> str | None:
    """One line for a dbt run that failed because of the machine, or None.

    Returns None when the output shows no such cause (a failed data test, a SQL
    error): then dbt's own messages above say what went wrong.
    """
    if _STALE_WAL in output or _OLD_WAL in output:
        return stale_wal_message(warehouse, remedy="build")
    landing = re.search(r"Raw landing problem: (.+)$", output, flags=re.MULTILINE)
    if landing:  # the on-run-start hook's own one-line message (macros/check_raw_landing.sql)
        return landing.group(1).strip()
    if _NOT_UTF8 in output:
        file_match = re.search(r"^\s*file = (.+)$", output, flags=re.MULTILINE)
        line_match = re.search(r"CSV Error on Line: (\d+)", output)
        where = file_match.group(1).strip() if file_match else "a raw file"
        line = f", line {line_match.group(1)}" if line_match else ""
        return (f"{where}{line} is not UTF-8 text. Re-export it as UTF-8 (the raw data "
                "contract's encoding) and run it again.")
    for fragment, code in _OUTPUT_ERRNOS:
        if fragment in output:
            path = re.search(r'"(/[^"]+)": ' + re.escape(fragment), output)
            return describe_errno(code, path.group(1) if path else warehouse, doing)
    return None


def is_input_failure(output: str) -> bool:
    """Whether a failed dbt run stopped on the raw files (exit code 2, like the pre-flight).

    The on-run-start landing hook's own message and DuckDB's not-UTF-8 error both
    mean the input must be fixed; anything else is a build failure (exit code 1).
    """
    return "Raw landing problem: " in output or _NOT_UTF8 in output


def stale_wal_message(warehouse: Path, remedy: str = "refresh") -> str:
    """What a stale write-ahead log is and what to do about it.

    ``remedy``: ``refresh`` for readers (a refresh removes the log when it
    publishes), ``build`` for ``retention build`` (which writes in place).
    """
    wal = warehouse.with_name(warehouse.name + ".wal")
    fix = ("run `retention refresh` (it removes the stale log when it publishes) or "
           if remedy == "refresh" else "")
    return (f"{warehouse} cannot be opened: its write-ahead log {wal} does not belong to it "
            "(left by a writer that crashed, or the file was replaced while the log stayed) "
            f"and DuckDB cannot replay it. If no program is writing to the warehouse, {fix}"
            f"move the log away (`mv {wal} {wal}.stale`) and run it again.")


def is_stale_wal_error(error: BaseException) -> bool:
    """True for DuckDB's failure to replay a write-ahead log that is not the file's."""
    return _STALE_WAL in str(error) or _OLD_WAL in str(error)


def is_lock_error(error: BaseException) -> bool:
    """True when another process holds the DuckDB file (DuckDB: one writer per file)."""
    message = str(error).lower()
    return "lock" in message and ("conflicting" in message or "could not set" in message)


def describe_duckdb_open_error(error: BaseException, warehouse: Path, doing: str,
                               remedy: str = "refresh") -> str:
    """One line for a DuckDB file that would not open (not a lock: callers handle that)."""
    if is_stale_wal_error(error):
        return stale_wal_message(warehouse, remedy)
    message = str(error)
    for fragment, code in _OUTPUT_ERRNOS:
        if fragment in message:
            return describe_errno(code, warehouse, doing)
    return f"{warehouse} cannot be opened ({first_line(message)})."

"""Test-only fault injection: stop a refresh at a named step, or fill the disk at a byte.

Nothing here does anything unless one of two environment variables is set; the
fault-injection suite (tests/python/test_faults.py) sets them, nobody else should.

``RETENTION_FAULT_POINT=<step>``
    When the refresh reaches ``<step>`` it writes one line to stderr,
    ``retention-fault-point <step> pid=<pid>`` (plus ``child=<pid>`` for the
    dbt step), and stops itself with SIGSTOP. The test reads that line and
    kills the process (``kill -9``) exactly there; no sleeping, no race. The
    steps, in the order a refresh reaches them:

    * ``dbt_build`` - ``dbt build`` runs in the staging copy and has finished
      its first node (so it is writing the copy);
    * ``checkpoint`` - publishing: the staged file is open for writing, its
      write-ahead log not yet checkpointed;
    * ``before_swap`` - checkpointed, verified, the published file's stale
      write-ahead log removed, ``os.replace`` not yet called;
    * ``after_swap`` - ``os.replace`` done, the result not yet verified, the
      staging folder and refresh state not yet cleaned up or written.

``RETENTION_FAULT_ENOSPC_AFTER_BYTES=<n>``
    Copying the published warehouse into the staging folder raises
    ``OSError(ENOSPC)`` after ``n`` bytes, as a full disk would. For machines
    where the suite cannot mount a small tmpfs to fill for real.
"""

from __future__ import annotations

import errno
import os
import signal
import sys

FAULT_POINT_VARIABLE = "RETENTION_FAULT_POINT"
ENOSPC_VARIABLE = "RETENTION_FAULT_ENOSPC_AFTER_BYTES"
POINTS = ("dbt_build", "checkpoint", "before_swap", "after_swap")
MARKER = "retention-fault-point"


def check_configuration() -> None:
    """Refuse an unknown fault point name (a typo would make a test wait forever)."""
    point = os.environ.get(FAULT_POINT_VARIABLE)
    if point and point not in POINTS:
        raise ValueError(f"{FAULT_POINT_VARIABLE}={point!r} is not one of {', '.join(POINTS)}")


def is_armed(point: str) -> bool:
    """True when the environment asks to stop at ``point``."""
    return os.environ.get(FAULT_POINT_VARIABLE) == point


def reach(point: str, **details: int) -> None:
    """Stop here (SIGSTOP) after announcing it, if the environment asks for ``point``."""
    if not is_armed(point):
        return
    extra = "".join(f" {name}={value}" for name, value in details.items())
    print(f"{MARKER} {point} pid={os.getpid()}{extra}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)


def enospc_after_bytes() -> int | None:
    """The byte after which a copy pretends the disk is full (None: never)."""
    value = os.environ.get(ENOSPC_VARIABLE)
    return int(value) if value else None


def disk_full(path: object) -> OSError:
    """The error a full disk raises."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

"""Run one command and measure it: wall time and peak resident memory of its whole process tree.

Memory is sampled from ``/proc`` (the sum of ``VmRSS`` over the child and all
its descendants) every few milliseconds, and cross-checked with the kernel's
own high-water mark of the child (``ru_maxrss`` from ``wait4``); the larger of
the two is reported. dbt runs DuckDB in its own process, so the tree is
usually one process, but a tree sum also covers helpers that fork.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Measured:
    """What one measured command cost."""

    seconds: float
    peak_rss_bytes: int
    returncode: int
    log_path: Path
    cpu_seconds: float = 0.0  # user + system time of the tree (robust to a busy machine)

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.returncode == 0

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the command's output, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _children_by_parent() -> dict[int, list[int]]:
    """Every process's children, read from ``/proc/<pid>/stat``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces; the parent pid follows the closing ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants now, in bytes."""
    children = _children_by_parent()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_bytes(pid)
        stack.extend(children.get(pid, []))
    return total


class _PeakSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self.stop.wait(SAMPLE_SECONDS)


def measure(command: list[str], log_path: Path, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` (output to ``log_path``) and return its wall time and peak tree RSS."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, text=True)
        sampler = _PeakSampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    peak = max(sampler.peak, int(usage.ru_maxrss) * 1024)
    return Measured(seconds=seconds, peak_rss_bytes=peak, returncode=process.returncode,
                    log_path=log_path, cpu_seconds=usage.ru_utime + usage.ru_stime)

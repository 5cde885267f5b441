"""``retention bench``: generate (or reuse) data per size, measure every case, print and report.

Example: ``retention bench --sizes 10k,100k --report docs/benchmarks.md``.
Settings that matter for speed are options: ``--formats`` (Parquet or CSV raw
files), ``--years`` (history length: the same customers over 3 or 6 years),
``--duckdb-threads`` and ``--memory-limits`` (DuckDB's own settings, passed to
the dbt profile through RETENTION_DUCKDB_THREADS and
RETENTION_DUCKDB_MEMORY_LIMIT); each takes a comma list and every combination
is measured, side by side.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from retention_warehouse.bench.dataset import DEFAULT_YEARS, MAX_YEARS, size_data
from retention_warehouse.bench.dbt_steps import BenchStepError, EngineSettings
from retention_warehouse.bench.render import terminal_report, write_report
from retention_warehouse.bench.suite import STEPS, run_case
from retention_warehouse.settings import DEFAULT_DUCKDB_MEMORY_LIMIT

DEFAULT_OUT_DIR = Path(tempfile.gettempdir()) / "retention-bench"
MAX_CUSTOMERS = 2_000_000


def parse_size(text: str) -> int:
    """``10k`` / ``1m`` / ``250000`` -> customers."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    try:
        value = int(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a size: {text!r} (use e.g. 10k, 100000, 1m)") from None
    if not 1 <= value <= MAX_CUSTOMERS:
        raise argparse.ArgumentTypeError(f"size {value:,} is outside 1..{MAX_CUSTOMERS:,}")
    return value


def _list(convert):  # noqa: ANN001, ANN202 - argparse type factory
    def parse(text: str) -> list:
        return [convert(item) for item in text.split(",") if item.strip()]
    return parse


def _years(text: str) -> int:
    try:
        years = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of years: {text!r}") from None
    if not 1 <= years <= MAX_YEARS:
        raise argparse.ArgumentTypeError(f"years must be 1..{MAX_YEARS} (the FX seed starts "
                                         f"in December 2019), not {years}")
    return years


def _format(text: str) -> str:
    if text.strip() not in ("csv", "parquet"):
        raise argparse.ArgumentTypeError(f"format must be csv or parquet, not {text!r}")
    return text.strip()


def _steps(text: str) -> set[str]:
    unknown = {item for item in text.split(",") if item} - set(STEPS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown step(s) {sorted(unknown)}; choose from {STEPS}")
    return {item for item in text.split(",") if item}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``retention bench``."""
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--sizes", type=_list(parse_size), default=[10_000],
                        help="customers per size, comma separated (10k,100k,1m); default 10k")
    parser.add_argument("--formats", "--format", type=_list(_format), default=["parquet"],
                        dest="formats", help="raw file format(s): parquet, csv or csv,parquet")
    parser.add_argument("--years", type=_list(_years), default=[DEFAULT_YEARS],
                        help=f"years of history ending 2025-12-31, e.g. 3,6 (default "
                             f"{DEFAULT_YEARS}): the same customers over a longer calendar")
    parser.add_argument("--duckdb-threads", type=_list(int), default=[2],
                        help="DuckDB threads setting(s), e.g. 1,2 (default 2)")
    parser.add_argument("--memory-limits", type=_list(str), default=[DEFAULT_DUCKDB_MEMORY_LIMIT],
                        help="DuckDB memory_limit setting(s), e.g. 2GB,8GB (default "
                             f"{DEFAULT_DUCKDB_MEMORY_LIMIT}, the profile's)")
    parser.add_argument("--dbt-threads", type=int, default=2, help="dbt threads (default 2)")
    parser.add_argument("--runs", type=int, default=3,
                        help="repetitions per measurement; the median is reported (default 3)")
    parser.add_argument("--skip", type=_steps, default=set(),
                        help=f"steps to leave out, comma separated: {','.join(STEPS)}")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                        help=f"data, warehouses and logs (default {DEFAULT_OUT_DIR})")
    parser.add_argument("--report", type=Path,
                        help="Markdown report to write (results merge into <report>.json "
                             "and a plot <report>_time_vs_size.svg), e.g. docs/benchmarks.md")
    parser.add_argument("--json", type=Path, help="also write this run's figures alone as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def machine() -> dict:
    """Cores, memory, CPU and the versions that matter."""
    memory_kib = 0
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    versions = {name: metadata.version(name) for name in
                ("dbt-core", "dbt-duckdb", "duckdb", "pandas")}
    return {"cores": os.cpu_count(), "memory_gib": round(memory_kib / 1024**2, 1), "cpu": cpu,
            "python": platform.python_version(),
            **versions}


def run(args: argparse.Namespace) -> int:
    """Entry point of ``retention bench``."""
    def say(message: str) -> None:
        if not args.quiet:
            print(f"{datetime.now():%H:%M:%S} {message}", flush=True)

    if args.runs < 1:
        print("error: --runs must be at least 1", file=sys.stderr)
        return 2
    command = "retention bench " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["bench"]
                                              else sys.argv[1:])
    host = machine()
    cases: list[dict] = []
    try:
        for fmt, years, customers in itertools.product(args.formats, args.years, args.sizes):
            say(f"data: {customers:,} customers, {years} years, {fmt} "
                f"(cached in {args.out_dir}/data)")
            data = size_data(args.out_dir, customers, args.seed, fmt, years)
            history = "" if years == DEFAULT_YEARS else f"-{years}y"
            for threads, memory_limit in itertools.product(args.duckdb_threads,
                                                           args.memory_limits):
                engine = EngineSettings(duckdb_threads=threads, memory_limit=memory_limit,
                                        dbt_threads=args.dbt_threads)
                root = args.out_dir / "runs" / f"{fmt}-{customers}{history}-{engine.label}"
                load = os.getloadavg()
                started = time.time()
                case = run_case(root, data, engine, args.runs, args.skip, say)
                case |= {"machine": host, "command": command,
                         "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                         "load_average": " ".join(f"{x:.1f}" for x in load),
                         "case_seconds": round(time.time() - started, 1)}
                cases.append(case)
    except BenchStepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print()
    print(terminal_report(cases))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cases": cases}, indent=2) + "\n")
        print(f"\nfigures written to {args.json}")
    if args.report:
        write_report(args.report, cases)
        print(f"report written to {args.report} (all cases: {args.report.with_suffix('.json')})")
    return 0

"""`retention refresh`: land new raw files and refresh the warehouse, write-audit-publish.

One refresh:

1. takes the refresh lock (a second refresh of the same warehouse stops with a
   clear message instead of waiting or corrupting anything);
2. optionally lands the next daily slices of generated data into
   ``RETENTION_RAW_DIR`` (``--land-generated``); otherwise it uses whatever files
   were dropped there;
3. **write**: copies the published warehouse into a private staging folder and
   runs one incremental ``dbt build`` (models, snapshot, the daily data tests)
   there, with the as-of date pinned to the last day landed through the
   environment (``RETENTION_AS_OF_DATE``), so dbt's partial parsing holds from
   one day to the next; source freshness is then judged on the staged file by
   dbt's own criteria (``retention_warehouse.freshness``);
4. **audit**: the dbt tests of that build and the quality checkpoint must pass;
5. **publish**: the staging file replaces the published one with one atomic
   rename (``os.replace``). A BI tool holding a read-only connection keeps
   reading the previous version until it reconnects and never sees a
   half-built or failed refresh; a refresh that fails at any step leaves the
   published file untouched and says why.

The staging copy keeps the warehouse's file name (in a hidden sibling folder):
dbt-duckdb names the catalog after the file, and views refer to it.

A full rebuild is chosen by itself when there is nothing published yet, when
the models, macros, seeds or dbt_project.yml changed since the last refresh, or
when a raw transactions file the warehouse read has disappeared;
``--full-refresh`` forces one. A full rebuild runs every test (unit tests and
seeds' tests included); a daily incremental build runs the YAML selector
``daily_refresh`` (selectors.yml): it leaves out what cannot have changed (seeds,
unit tests, views) and the mart views whose checks run on the refreshed rows of
the models under them (docs/refresh.md).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from retention_warehouse.dbt_runner import run_dbt
from retention_warehouse.freshness import source_freshness
from retention_warehouse.settings import Settings, load_settings

LANDING_STATE = "_landing.json"
# What the incremental models (the staging ledger, the customer x period and
# customer x month models, orders) and everything upstream of them are made of: a
# change there needs a full rebuild, since rows kept from earlier runs were made by
# the old code.
FINGERPRINT_PATHS = ("models", "macros", "seeds", "dbt_project.yml")
# What a daily incremental build builds and tests: the YAML selector daily_refresh
# (selectors.yml; docs/refresh.md says why it is enough).
DAILY_SELECTOR = "daily_refresh"
AS_OF_ENV = "RETENTION_AS_OF_DATE"


class RefreshError(RuntimeError):
    """A refresh step failed; the published warehouse was not changed."""


class RefreshLockedError(RefreshError):
    """Another refresh holds the warehouse."""


@dataclass(frozen=True)
class RefreshOptions:
    """What one refresh does."""

    through: date | None = None
    land_customers: int | None = None
    land_seed: int = 42
    full_refresh: bool = False
    quality: bool = True
    require_fresh: bool = False


@dataclass
class RefreshResult:
    """What a refresh did, for the caller and the scheduler."""

    published: Path
    mode: str
    as_of_date: str | None
    landed: list[str] = field(default_factory=list)
    freshness: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


# --- paths ---------------------------------------------------------------------------------

def staging_dir(published: Path) -> Path:
    """The private folder a refresh builds in (same filesystem, so the rename is atomic)."""
    return published.parent / f".{published.stem}.refresh"


def lock_path(published: Path) -> Path:
    """The lock file that serialises refreshes of one warehouse."""
    return published.parent / f".{published.stem}.refresh.lock"


def state_path(published: Path) -> Path:
    """Where the last successful refresh is recorded (project fingerprint, as-of date)."""
    return published.parent / f".{published.stem}.refresh.json"


@contextmanager
def refresh_lock(published: Path) -> Iterator[None]:
    """Hold the refresh lock, or fail at once naming the process that holds it.

    ``flock`` is released by the kernel when the holder dies, so a killed refresh
    never leaves a stale lock behind.
    """
    path = lock_path(published)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise RefreshLockedError(
            f"Another refresh of {published} is running (process {holder}); "
            "wait for it to finish. Nothing was changed."
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


# --- landing -------------------------------------------------------------------------------

def land_generated(raw_dir: Path, through: date, customers: int, seed: int,
                   fmt: str = "csv") -> list[str]:
    """Land generated raw data up to ``through`` (exclusive): one file set per day.

    The first call lands everything before ``through`` as ``landed-initial``; later
    calls land each missing day as ``landed-YYYY-MM-DD``. ``_landing.json`` records
    how far the folder was landed, so landing the same day twice adds nothing.
    """
    from retention_warehouse.generate import generate

    state_file = raw_dir / LANDING_STATE
    state = json.loads(state_file.read_text()) if state_file.exists() else None
    if state and (state["customers"], state["seed"]) != (customers, seed):
        raise RefreshError(
            f"{raw_dir} was landed with {state['customers']} customers and seed {state['seed']},"
            f" not {customers} and {seed}; use the same generator settings or a new folder."
        )
    landed: list[str] = []
    if state is None:
        generate(raw_dir, customers=customers, seed=seed, fmt=fmt, through=through,
                 prefix="landed-initial")
        landed.append("landed-initial")
    else:
        day = date.fromisoformat(state["landed_through"])
        while day < through:
            prefix = f"landed-{day.isoformat()}"
            generate(raw_dir, customers=customers, seed=seed, fmt=fmt, since=day,
                     through=day + timedelta(days=1), prefix=prefix)
            landed.append(prefix)
            day += timedelta(days=1)
        through = max(through, date.fromisoformat(state["landed_through"]))
    state_file.write_text(json.dumps(
        {"customers": customers, "seed": seed, "format": fmt,
         "landed_through": through.isoformat()}, indent=2) + "\n")
    return landed


# --- deciding full or incremental ----------------------------------------------------------

def project_fingerprint(project_dir: Path) -> str:
    """A hash of what the incremental model is built from (staging models, macros, seeds)."""
    digest = hashlib.sha256()
    for name in FINGERPRINT_PATHS:
        root = project_dir / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if path.exists():
                digest.update(str(path.relative_to(project_dir)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def vanished_raw_files(warehouse: Path, raw_dir: Path) -> list[str]:
    """Raw transaction files the warehouse read that are no longer in the landing folder."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        try:
            rows = con.execute(
                "select distinct source_file from staging.base_transactions__transactions"
            ).fetchall()
        except duckdb.CatalogException:
            return []
    present = {str(p) for p in (raw_dir / "transactions").glob("*")}
    return sorted(name for (name,) in rows if name not in present)


def choose_mode(settings: Settings, staged: Path, options: RefreshOptions,
                fingerprint: str) -> tuple[str, str]:
    """``("full" | "incremental", why)`` for this refresh."""
    if options.full_refresh:
        return "full", "--full-refresh was given"
    if not settings.warehouse_path.exists():
        return "full", "nothing is published yet"
    state_file = state_path(settings.warehouse_path)
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if state.get("fingerprint") != fingerprint:
        return "full", "the dbt project changed since the last refresh (or none was recorded)"
    vanished = vanished_raw_files(staged, settings.raw_dir)
    if vanished:
        return "full", f"{len(vanished)} raw file(s) read before are gone, e.g. {vanished[0]}"
    return "incremental", "only new and recent raw rows are processed"


# --- write, audit, publish -----------------------------------------------------------------

def ensure_published_readable(published: Path) -> None:
    """Fail clearly when a writer (a build, a notebook) holds the published file."""
    if not published.exists():
        return
    try:
        duckdb.connect(str(published), read_only=True).close()
    except duckdb.IOException as error:
        raise RefreshError(
            f"The published warehouse {published} is held by a writing process ({error}). "
            "BI tools must connect with read_only=True; stop the writer and retry."
        ) from None


def prepare_staging(published: Path) -> Path:
    """A fresh staging folder holding a copy of the published warehouse (if any)."""
    folder = staging_dir(published)
    shutil.rmtree(folder, ignore_errors=True)  # leftovers of an interrupted refresh
    folder.mkdir(parents=True)
    staged = folder / published.name
    if published.exists():
        shutil.copyfile(published, staged)
        wal = published.with_name(published.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, staged.with_name(staged.name + ".wal"))
    return staged


def dbt_paths(published: Path) -> dict[str, str]:
    """dbt's target and log folders for refreshes of this warehouse (unless set already).

    They stay beside the warehouse, never in the shared project ``target/``, and
    survive between refreshes so dbt's partial parsing keeps working.
    """
    folder = published.parent / f".{published.stem}.refresh-dbt"
    return {
        "DBT_TARGET_PATH": os.environ.get("DBT_TARGET_PATH", str(folder / "target")),
        "DBT_LOG_PATH": os.environ.get("DBT_LOG_PATH", str(folder / "logs")),
    }


def dbt_vars(as_of_date: str | None) -> list[str]:
    """The ``--vars`` argument pinning the as-of date (nothing when unpinned)."""
    return ["--vars", json.dumps({"as_of_date": as_of_date})] if as_of_date else []


def as_of_env(as_of_date: str | None) -> dict[str, str]:
    """The environment pinning the as-of date for dbt (read by macro as_of_date_setting).

    An environment variable, not ``--vars``: dbt re-parses the whole project when
    its command-line vars change, but only the files that read an environment
    variable when that changes, so a daily refresh keeps its partial parse.
    """
    return {AS_OF_ENV: as_of_date or ""}


def check_freshness(staged_settings: Settings, as_of_date: str | None, target_dir: Path,
                    env: dict[str, str]) -> dict[str, str]:
    """Run ``dbt source freshness``; return each source's status (pass, warn, error)."""
    output = target_dir / "sources.json"
    result = run_dbt(staged_settings, ["source", "freshness", "--output", str(output),
                                       *dbt_vars(as_of_date)], extra_env=env, capture=True)
    if not output.exists():
        raise RefreshError("dbt source freshness did not run:\n" + result.stdout[-3000:])
    statuses = {}
    for entry in json.loads(output.read_text()).get("results", []):
        statuses[entry["unique_id"].removeprefix("source.retention_warehouse.")] = entry["status"]
    return statuses


def audit_quality(staged: Path, project_dir: Path) -> None:
    """The Great Expectations checkpoint on the staged warehouse; raise when it fails."""
    from retention_warehouse.quality import run_checkpoint

    report = run_checkpoint(staged, project_dir / "quality_results")
    print(report.summary_text())
    if not report.success:
        raise RefreshError("the data-quality checkpoint failed on the refreshed warehouse")


def publish(staged: Path, published: Path) -> None:
    """Checkpoint the staged file and atomically swap it in for the published one."""
    with duckdb.connect(str(staged)) as con:
        con.execute("checkpoint")
    if staged.with_name(staged.name + ".wal").exists():
        raise RefreshError(f"{staged} still has a write-ahead log after its checkpoint")
    os.replace(staged, published)
    shutil.rmtree(staging_dir(published), ignore_errors=True)


@dataclass
class StagedWarehouse:
    """A private copy of the published warehouse that a refresh writes to."""

    settings: Settings
    published: Path
    mode: str
    why: str
    env: dict[str, str]


@contextmanager
def staged_warehouse(settings: Settings, full_refresh: bool = False) -> Iterator[StagedWarehouse]:
    """Write and audit inside the ``with`` block; publish atomically when it ends cleanly.

    Any exception in the block leaves the published warehouse untouched (the
    staging copy stays for inspection and is discarded by the next refresh).
    The caller holds :func:`refresh_lock`.
    """
    published = settings.warehouse_path
    ensure_published_readable(published)
    staged = prepare_staging(published)
    staged_settings = Settings(
        project_dir=settings.project_dir, warehouse_path=staged, raw_dir=settings.raw_dir,
        raw_format=settings.raw_format, dbt_threads=settings.dbt_threads)
    fingerprint = project_fingerprint(settings.project_dir)
    options = RefreshOptions(full_refresh=full_refresh)
    mode, why = choose_mode(settings, staged, options, fingerprint)
    yield StagedWarehouse(staged_settings, published, mode, why, dbt_paths(published))
    publish(staged, published)
    state_path(published).write_text(json.dumps(
        {"fingerprint": fingerprint, "mode": mode,
         "refreshed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n")


def build_args(mode: str, daily_selection: bool = True) -> list[str]:
    """``dbt build`` arguments for a full or incremental refresh (the as-of date is
    pinned by :func:`as_of_env`); an incremental one builds ``DAILY_SELECTOR``."""
    if mode == "full":
        return ["build", "--full-refresh"]
    return ["build", *(["--selector", DAILY_SELECTOR] if daily_selection else [])]


def refresh(settings: Settings, options: RefreshOptions) -> RefreshResult:
    """Run one write-audit-publish refresh; raise :class:`RefreshError` on any failure."""
    published = settings.warehouse_path
    as_of = (options.through - timedelta(days=1)).isoformat() if options.through else None
    result = RefreshResult(published=published, mode="", as_of_date=as_of)
    started = time.monotonic()
    with refresh_lock(published):
        if options.land_customers:
            if options.through is None:
                raise RefreshError("--land-generated needs --through")
            result.landed = land_generated(settings.raw_dir, options.through,
                                           options.land_customers, options.land_seed,
                                           settings.raw_format)
        if not any(settings.raw_dir.glob("transactions/*")):
            raise RefreshError(f"No raw transaction files in {settings.raw_dir}/transactions.")
        result.seconds["land"] = time.monotonic() - started

        with staged_warehouse(settings, options.full_refresh) as staged:
            result.mode = staged.mode
            print(f"refresh: {staged.mode} build ({staged.why}); "
                  f"as-of date {as_of or 'last loaded'}")
            step = time.monotonic()
            env = {**staged.env, **as_of_env(as_of)}
            build = run_dbt(staged.settings, build_args(staged.mode), extra_env=env)
            result.seconds["dbt_build"] = time.monotonic() - step
            if build.returncode != 0:
                raise RefreshError("dbt build failed on the staged copy (see the messages above)")

            step = time.monotonic()
            result.freshness = source_freshness(
                staged.settings.warehouse_path, Path(env["DBT_TARGET_PATH"]) / "manifest.json",
                as_of)
            stale = {k: v for k, v in result.freshness.items() if v != "pass"}
            for source, status in sorted(stale.items()):
                print(f"refresh: source freshness {status}: {source}")
            if options.require_fresh and {"error", "runtime error"} & set(stale.values()):
                raise RefreshError("a source is stale beyond its error_after (--require-fresh)")
            result.seconds["freshness"] = time.monotonic() - step
            if options.quality:
                step = time.monotonic()
                audit_quality(staged.settings.warehouse_path, settings.project_dir)
                result.seconds["quality"] = time.monotonic() - step
        result.seconds["total"] = time.monotonic() - started
        return result


# --- command line --------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``retention refresh``."""
    parser.add_argument("--through", type=date.fromisoformat, metavar="DATE",
                        help="data is complete before this day (exclusive); the as-of date "
                             "becomes the day before")
    parser.add_argument("--land-generated", type=int, metavar="CUSTOMERS", dest="land_customers",
                        help="first land generated daily slices up to --through "
                             "(same generator settings every day)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed for --land-generated")
    parser.add_argument("--full-refresh", action="store_true",
                        help="rebuild the incremental models from all raw files")
    parser.add_argument("--skip-quality", action="store_true",
                        help="do not run the Great Expectations checkpoint")
    parser.add_argument("--require-fresh", action="store_true",
                        help="fail when a source is stale beyond its error_after")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``retention refresh``."""
    options = RefreshOptions(
        through=args.through, land_customers=args.land_customers, land_seed=args.seed,
        full_refresh=args.full_refresh, quality=not args.skip_quality,
        require_fresh=args.require_fresh)
    settings = load_settings()
    try:
        result = refresh(settings, options)
    except RefreshError as error:
        print(f"error: refresh failed: {error}\n"
              f"The published warehouse {settings.warehouse_path} was not changed.",
              file=sys.stderr)
        return 3 if isinstance(error, RefreshLockedError) else 1
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    print(f"refresh: published {result.published} ({result.mode}; {timings})")
    return 0

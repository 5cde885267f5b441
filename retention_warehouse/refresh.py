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
5. **publish**: the staged file is checkpointed (its write-ahead log written
   into it), verified to open read-only and flushed to disk; any write-ahead
   log beside the published file is removed (its committed changes were copied
   into the staging copy; a stale one belongs to no file); then the staging
   file replaces the published one with one atomic rename (``os.replace``) and
   the result is verified to open read-only before the refresh says
   ``published``. A BI tool holding a read-only connection keeps reading the
   previous version until it reconnects and never sees a half-built or failed
   refresh; a refresh that fails at any step, or is killed at any point (even
   with ``kill -9``: the dbt child dies with it), leaves the published file
   either untouched or fully replaced, removes its partial staging copy and
   says why in one line.

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
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from retention_warehouse import faults
from retention_warehouse.build import run_preflight
from retention_warehouse.dbt_runner import run_dbt
from retention_warehouse.failures import (
    describe_dbt_failure,
    describe_os_error,
    is_input_failure,
)
from retention_warehouse.freshness import source_freshness
from retention_warehouse.landing import RawLandingError, landing_cache_dir
from retention_warehouse.pii import HashKeyError, resolve_hash_key
from retention_warehouse.settings import Settings, load_settings, quality_results_dir
from retention_warehouse.warehouse_file import (
    FileState,
    WarehouseFileError,
    checkpoint,
    copy_file,
    fsync_path,
    inspect,
    open_read_only,
    remove_wal,
    stamps_its_wal,
    verify_read_only,
    wal_of,
)

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
LANDING_ENV = "RETENTION_LANDING_DATE"


# A dbt output line saying a seed or model was written (the dbt_build fault point waits for
# one, so dbt is known to be writing the staged copy when the refresh is killed).
DBT_NODE_DONE = re.compile(r"\bOK (created|loaded) ")


class RefreshError(RuntimeError):
    """A refresh step failed; unless ``published_changed``, the published file is untouched."""

    def __init__(self, message: str, published_changed: bool = False) -> None:
        super().__init__(message)
        self.published_changed = published_changed


class RefreshLockedError(RefreshError):
    """Another refresh holds the warehouse."""


class RefreshInputError(RefreshError):
    """What the refresh reads is unusable: raw files, the hash key, the published file."""


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
    except OSError as error:  # a read-only or forbidden folder: name the folder
        raise OSError(error.errno, error.strerror, str(path.parent)) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise RefreshLockedError(
            f"Another refresh (or build) of {published} is running (process {holder}); "
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


def write_json_atomically(path: Path, value: dict) -> None:
    """Write a small JSON file so that a crash leaves the old or the new one, never half."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(temporary, path)


def read_json(path: Path) -> dict:
    """A small JSON file's content; {} when absent or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --- landing -------------------------------------------------------------------------------

def generate_batch(raw_dir: Path, prefix: str, **options: object) -> None:
    """Generate one landed batch; on any failure remove its partial files and re-raise."""
    from retention_warehouse.generate import generate

    try:
        generate(raw_dir, prefix=prefix, **options)
    except BaseException:
        for partial in raw_dir.glob(f"*/{prefix}-*"):
            partial.unlink(missing_ok=True)
        raise


def land_generated(raw_dir: Path, through: date, customers: int, seed: int,
                   fmt: str = "csv") -> list[str]:
    """Land generated raw data up to ``through`` (exclusive): one file set per day.

    The first call lands everything before ``through`` as ``landed-initial``; later
    calls land each missing day as ``landed-YYYY-MM-DD``. ``_landing.json`` records
    how far the folder was landed, so landing the same day twice adds nothing.
    """
    state_file = raw_dir / LANDING_STATE
    state = read_json(state_file) or None
    if state and (state["customers"], state["seed"]) != (customers, seed):
        raise RefreshError(
            f"{raw_dir} was landed with {state['customers']} customers and seed {state['seed']},"
            f" not {customers} and {seed}; use the same generator settings or a new folder."
        )
    landed: list[str] = []
    if state is None:
        generate_batch(raw_dir, "landed-initial", customers=customers, seed=seed, fmt=fmt,
                       through=through)
        landed.append("landed-initial")
    else:
        day = date.fromisoformat(state["landed_through"])
        while day < through:
            prefix = f"landed-{day.isoformat()}"
            generate_batch(raw_dir, prefix, customers=customers, seed=seed, fmt=fmt, since=day,
                           through=day + timedelta(days=1))
            landed.append(prefix)
            day += timedelta(days=1)
        through = max(through, date.fromisoformat(state["landed_through"]))
    write_json_atomically(state_file, {"customers": customers, "seed": seed, "format": fmt,
                                       "landed_through": through.isoformat()})
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
                "select distinct source_file from intermediate.int_transactions_linked"
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
    state = read_json(state_path(settings.warehouse_path))
    if state.get("fingerprint") != fingerprint:
        return "full", "the dbt project changed since the last refresh (or none was recorded)"
    vanished = vanished_raw_files(staged, settings.raw_dir)
    if vanished:
        return "full", f"{len(vanished)} raw file(s) read before are gone, e.g. {vanished[0]}"
    return "incremental", "only new and recent raw rows are processed"


# --- write, audit, publish -----------------------------------------------------------------

def inspect_published(published: Path) -> FileState:
    """What the published file is; RefreshError when a writer holds it or it will not open."""
    try:
        state = inspect(published)
    except WarehouseFileError as error:
        raise RefreshInputError(str(error)) from None
    if state is FileState.STALE_WAL:
        print(f"refresh: {wal_of(published)} is a stale write-ahead log (it does not belong to "
              f"{published.name} and cannot be replayed); the refresh builds from the file "
              "without it and removes it when it publishes.")
    return state


def hold_published(published: Path, state: FileState) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection kept open until the swap, so no writer can open the
    published file (and start a new write-ahead log) while the refresh runs."""
    if state not in (FileState.CLEAN, FileState.LIVE_WAL):
        return None
    try:
        guard = open_read_only(published)
    except WarehouseFileError as error:
        raise RefreshInputError(str(error)) from None
    if not stamps_its_wal(guard):
        print(f"refresh: note: {published.name} was created in DuckDB's pre-1.4 storage format, "
              "which cannot tell a stale write-ahead log from a live one; build into a new "
              "file once (a fresh RETENTION_DB) to get that check.")
    return guard


def prepare_staging(published: Path, state: FileState) -> Path:
    """A fresh staging folder holding a copy of the published warehouse (if any).

    A live write-ahead log (committed changes of a writer that stopped before
    its checkpoint) is copied with the file; a stale one is left out.
    """
    folder = staging_dir(published)
    shutil.rmtree(folder, ignore_errors=True)  # leftovers of an interrupted refresh
    folder.mkdir(parents=True)
    staged = folder / published.name
    if state is not FileState.ABSENT:
        copy_file(published, staged)
    if state is FileState.LIVE_WAL:
        copy_file(wal_of(published), wal_of(staged))
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
        # The landing pre-flight's UTF-8 copies live beside the published file.
        "RETENTION_LANDING_DIR": str(landing_cache_dir(published)),
    }


def dbt_vars(as_of_date: str | None, landing_date: str | None = None) -> list[str]:
    """The ``--vars`` argument pinning the as-of date and the landing day (when known).

    ``landing_date`` is the refresh's --through date: files this refresh lands are
    recorded as landed that day, so a row dated after it is future_dated.
    """
    values = {"as_of_date": as_of_date, "landing_date": landing_date}
    values = {key: value for key, value in values.items() if value}
    return ["--vars", json.dumps(values)] if values else []


def as_of_env(as_of_date: str | None, landing_date: str | None = None) -> dict[str, str]:
    """The environment pinning the as-of date (read by macro as_of_date_setting) and
    the landing day (read by the landing hook, macro land_raw_files) for dbt.

    Environment variables, not ``--vars``: dbt re-parses the whole project when
    its command-line vars change, while these are read only when dbt executes, so
    a daily refresh keeps its partial parse. ``landing_date`` is the refresh's
    --through date: files this refresh lands are recorded as landed that day, so a
    row dated after it is future_dated. The vars of the same names still win.
    """
    return {AS_OF_ENV: as_of_date or "", LANDING_ENV: landing_date or ""}


def check_freshness(staged_settings: Settings, as_of_date: str | None, target_dir: Path,
                    env: dict[str, str], landing_date: str | None = None) -> dict[str, str]:
    """Run ``dbt source freshness``; return each source's status (pass, warn, error)."""
    output = target_dir / "sources.json"
    result = run_dbt(staged_settings, ["source", "freshness", "--output", str(output),
                                       *dbt_vars(as_of_date, landing_date)],
                     extra_env=env, capture=True)
    if not output.exists():
        cause = describe_dbt_failure(result.stdout, staged_settings.warehouse_path,
                                     "dbt read the raw files")
        if cause:
            raise RefreshError(f"dbt source freshness failed: {cause}")
        raise RefreshError("dbt source freshness did not run:\n" + result.stdout[-3000:])
    statuses = {}
    for entry in json.loads(output.read_text()).get("results", []):
        statuses[entry["unique_id"].removeprefix("source.retention_warehouse.")] = entry["status"]
    return statuses


def audit_quality(staged: Path, results_dir: Path, as_of_date: str | None = None) -> None:
    """The Great Expectations checkpoint on the staged warehouse; raise when it fails.

    ``as_of_date`` is the date the refresh pinned (None: derived from the raw files).
    Results go beside the published warehouse (``<published>.quality/``).
    """
    from retention_warehouse.quality import run_checkpoint

    report = run_checkpoint(staged, results_dir, as_of_date)
    print(report.summary_text())
    if not report.success:
        raise RefreshError("the data-quality checkpoint failed on the refreshed warehouse")


def publish(staged: Path, published: Path, guard: duckdb.DuckDBPyConnection | None) -> None:
    """Checkpoint and verify the staged file, then atomically swap it in and verify again.

    The published file's own write-ahead log goes before the swap: a stale one
    belongs to no file, a live one was copied into the staging copy. Killed at
    any point, the published file is the old one or the new one and both open.
    """
    try:
        checkpoint(staged)
        verify_read_only(staged)
        fsync_path(staged)
        if remove_wal(published):
            print(f"refresh: removed the write-ahead log beside {published.name}")
    except WarehouseFileError as error:
        raise RefreshError(str(error)) from None
    faults.reach("before_swap")
    os.replace(staged, published)
    if guard is not None:
        guard.close()  # it held the replaced file; nothing else in this process does
    try:
        fsync_path(published.parent)
        faults.reach("after_swap")
        if wal_of(published).exists():
            raise WarehouseFileError(f"a write-ahead log appeared beside {published} during "
                                     "the swap; some program wrote to it")
        verify_read_only(published)
    except (WarehouseFileError, OSError) as error:
        raise RefreshError(f"the refreshed warehouse was swapped in but does not open "
                           f"read-only: {error}. Run `retention build` to rebuild it.",
                           published_changed=True) from None
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

    Any exception in the block (or while publishing) leaves the published
    warehouse untouched and removes the staging copy, so a full disk is freed
    again. The caller holds :func:`refresh_lock`.
    """
    published = settings.warehouse_path
    state = inspect_published(published)
    guard = hold_published(published, state)
    try:
        staged = prepare_staging(published, state)
        staged_settings = Settings(
            project_dir=settings.project_dir, warehouse_path=staged, raw_dir=settings.raw_dir,
            raw_format=settings.raw_format, dbt_threads=settings.dbt_threads)
        fingerprint = project_fingerprint(settings.project_dir)
        options = RefreshOptions(full_refresh=full_refresh)
        mode, why = choose_mode(settings, staged, options, fingerprint)
        yield StagedWarehouse(staged_settings, published, mode, why, dbt_paths(published))
        publish(staged, published, guard)
        guard = None
    except BaseException as error:
        if not getattr(error, "published_changed", False):
            shutil.rmtree(staging_dir(published), ignore_errors=True)
        raise
    finally:
        if guard is not None:
            guard.close()
    try:
        write_json_atomically(state_path(published), {
            "fingerprint": fingerprint, "mode": mode,
            "refreshed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    except OSError as error:  # published already: the next refresh may rebuild in full
        print(f"refresh: warning: {describe_os_error(error, 'recording the refresh state')}")


def build_args(mode: str, daily_selection: bool = True) -> list[str]:
    """``dbt build`` arguments for a full or incremental refresh (the as-of date is
    pinned by :func:`as_of_env`); an incremental one builds ``DAILY_SELECTOR``."""
    if mode == "full":
        return ["build", "--full-refresh"]
    return ["build", *(["--selector", DAILY_SELECTOR] if daily_selection else [])]


def dbt_build_fault_hook() -> Callable[[str, subprocess.Popen], None]:
    """``run_dbt`` line hook: reach fault point ``dbt_build`` once dbt has finished a node."""
    reached = False

    def hook(line: str, process: subprocess.Popen) -> None:
        nonlocal reached
        if not reached and faults.is_armed("dbt_build") and DBT_NODE_DONE.search(line):
            reached = True
            faults.reach("dbt_build", child=process.pid)
    return hook


def check_inputs(settings: Settings) -> None:
    """The pre-flight ``retention build`` runs too (raw folder, headers), and the hash key."""
    if not any(settings.raw_dir.glob("transactions/*")):
        raise RefreshInputError(f"No raw transaction files in {settings.raw_dir}/transactions.")
    try:
        run_preflight(settings)
        resolve_hash_key(settings.raw_dir)
    except (RawLandingError, HashKeyError) as error:
        raise RefreshInputError(str(error)) from None


def refresh(settings: Settings, options: RefreshOptions) -> RefreshResult:
    """Run one write-audit-publish refresh; raise :class:`RefreshError` on any failure."""
    faults.check_configuration()
    published = settings.warehouse_path
    as_of = (options.through - timedelta(days=1)).isoformat() if options.through else None
    landed_on = options.through.isoformat() if options.through else None
    result = RefreshResult(published=published, mode="", as_of_date=as_of)
    started = time.monotonic()
    with refresh_lock(published):
        if options.land_customers:
            if options.through is None:
                raise RefreshError("--land-generated needs --through")
            result.landed = land_generated(settings.raw_dir, options.through,
                                           options.land_customers, options.land_seed,
                                           settings.raw_format)
        check_inputs(settings)
        result.seconds["land"] = time.monotonic() - started

        with staged_warehouse(settings, options.full_refresh) as staged:
            result.mode = staged.mode
            print(f"refresh: {staged.mode} build ({staged.why}); "
                  f"as-of date {as_of or 'last loaded'}")
            step = time.monotonic()
            env = {**staged.env, **as_of_env(as_of, landed_on)}
            build = run_dbt(staged.settings, build_args(staged.mode), extra_env=env,
                            on_line=dbt_build_fault_hook())
            result.seconds["dbt_build"] = time.monotonic() - step
            if build.returncode != 0:
                cause = describe_dbt_failure(build.stdout, staged.settings.warehouse_path,
                                             "dbt wrote the staged copy")
                failure = RefreshInputError if is_input_failure(build.stdout) else RefreshError
                raise failure(f"dbt build failed on the staged copy: {cause}" if cause else
                              "dbt build failed on the staged copy (see the messages above)")

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
                audit_quality(staged.settings.warehouse_path, quality_results_dir(published),
                              as_of)
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


def exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM handler: leave through the normal cleanup paths (exit code 143)."""
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``retention refresh``."""
    options = RefreshOptions(
        through=args.through, land_customers=args.land_customers, land_seed=args.seed,
        full_refresh=args.full_refresh, quality=not args.skip_quality,
        require_fresh=args.require_fresh)
    settings = load_settings()
    signal.signal(signal.SIGTERM, exit_on_sigterm)  # clean up (dbt group, staging) on TERM
    unchanged = f"The published warehouse {settings.warehouse_path} was not changed."
    try:
        result = refresh(settings, options)
    except RefreshError as error:
        trailer = ("The published warehouse was replaced." if error.published_changed
                   else unchanged)
        print(f"error: refresh failed: {error}\n{trailer}", file=sys.stderr)
        if isinstance(error, RefreshLockedError):
            return 3
        return 2 if isinstance(error, RefreshInputError) else 1
    except OSError as error:
        print(f"error: refresh failed: {describe_os_error(error, 'refreshing the warehouse')}\n"
              f"{unchanged}", file=sys.stderr)
        return 2
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    print(f"refresh: published {result.published} ({result.mode}; {timings})")
    return 0

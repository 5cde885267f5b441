"""Fault injection: `kill -9` at every step of a refresh, a stale WAL, a full disk, read-only.

One history is played once per module on 200 generated customers:

1. a baseline refresh (through DAY0) publishes a full build;
2. a refresh through DAY1 is stopped at a named step (``RETENTION_FAULT_POINT``,
   retention_warehouse/faults.py: the refresh announces the step on stderr and
   stops itself) and killed there with SIGKILL: first during ``dbt build``, then -
   each run starting from what the previous kill left behind - during the
   checkpoint, just before the swap and just after it. After every kill the
   published file is checked: the old one (byte for byte) before the swap, the
   new one after it, and it opens read-only either way; the dbt child of the
   first kill must have died with its parent;
3. a stale write-ahead log (written by a crashed writer on the old file) is put
   beside the published file: ``retention quality``, ``report`` and ``build`` say
   what to do in one line; the next refresh removes it and publishes;
4. a clean ``retention build`` of the same raw folder into a new file.

The warehouse left by the after-swap kill (a run that started after the
before-swap kill) and the one published by the final refresh must both equal
the clean build, every mart row and the incremental ledger.

Then, on copies of the baseline: a full disk (a small tmpfs mounted in a private
user+mount namespace, ``unshare -rm``; and the ENOSPC write wrapper for machines
without it), a read-only folder, a raw file the user may not read, a raw file
that is not UTF-8: each gives one clear line and a non-zero exit, leaves no
partial copy and changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_DIR

from retention_warehouse.faults import ENOSPC_VARIABLE, FAULT_POINT_VARIABLE, MARKER, POINTS
from retention_warehouse.refresh import land_generated, staging_dir

CUSTOMERS = 200
SEED = 42
DAY0 = date(2025, 12, 20)
DAY1 = DAY0 + timedelta(days=1)
RETENTION = [sys.executable, "-m", "retention_warehouse.cli"]


def sha256(path: Path) -> str:
    """Hash of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


# One dbt thread and one DuckDB thread on 200 customers (parallelism only costs CPU on the
# suite's two cores), and no debug lines in dbt.log (nothing here reads it; dbt's output is
# kept). The same for every run, so dbt's partial parsing holds from one run to the next.
TINY_DATA = {"DBT_THREADS": "1", "RETENTION_DUCKDB_THREADS": "1", "DBT_LOG_LEVEL_FILE": "info"}


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without dbt paths or fault switches, plus ``values``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_TARGET", "RETENTION_DB",
                        FAULT_POINT_VARIABLE, ENOSPC_VARIABLE)}
    env.update({"RETENTION_RAW_FORMAT": "csv", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                **TINY_DATA, **values})
    return env


def refresh_command(through: date, land: bool = True) -> list[str]:
    """`retention refresh` through a day (landing generated days first when ``land``)."""
    landing = ["--land-generated", str(CUSTOMERS), "--seed", str(SEED)] if land else []
    return [*RETENTION, "refresh", "--through", through.isoformat(), *landing, "--skip-quality"]


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command in the project folder to completion."""
    return subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
                          check=False)


def opens_read_only(db: Path) -> str:
    """'' when the file opens read-only and its marts answer, else the error."""
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            con.execute("select count(*) from marts.fct_orders").fetchone()
    except duckdb.Error as error:
        return str(error).splitlines()[0]
    return ""


def as_of_date(db: Path) -> str:
    """The as-of date the warehouse was built for."""
    with duckdb.connect(str(db), read_only=True) as con:
        return str(con.execute(
            "select as_of_date from intermediate.int_as_of_dates_resolved").fetchone()[0])


# When files arrived, not what they hold: the clean `retention build` lands every file on its
# own run day, the refreshes on their --through days (docs/refresh.md).
LANDING_TIME_COLUMNS = {"marts.dim_data_sources": "last_landed_on"}


def differences(left: Path, right: Path) -> dict[str, tuple[int, int]]:
    """Per mart table and the ledger: (rows only in left, rows only in right), if any."""
    found = {}
    with duckdb.connect(str(left), read_only=True) as con:
        con.execute(f"attach '{right}' as other (read_only)")
        tables = [f"marts.{name}" for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = 'other' "
            "and schema_name = 'marts'").fetchall()]
        assert len(tables) >= 8, tables
        for table in [*tables, "intermediate.int_transactions_linked"]:
            left_out = LANDING_TIME_COLUMNS.get(table)
            cols = f"* exclude ({left_out})" if left_out else "*"
            one = con.execute(f"select count(*) from (select {cols} from {table} except all "
                              f"select {cols} from other.{table})").fetchone()[0]
            two = con.execute(f"select count(*) from (select {cols} from other.{table} "
                              f"except all select {cols} from {table})").fetchone()[0]
            if one or two:
                found[table] = (one, two)
    return found


def one_clear_line(run: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The error line of a failed command: non-zero exit, no traceback, every fragment in it."""
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


# --- killing a refresh at a named step --------------------------------------------------------

@dataclass
class Kill:
    """What one killed refresh left behind."""

    point: str
    marker: dict[str, int]
    child_alive_when_killed: bool | None = None
    child_died: bool | None = None
    published_hash: str = ""
    published_opens: str = "not checked"
    published_as_of: str = ""
    wal_beside_published: bool = False
    returncode: int | None = None
    staging_left: bool = False


def wait_until_dead(pid: int, timeout: float = 10) -> bool:
    """Block until process ``pid`` has exited (a pidfd becomes readable), or time out.

    The kernel kills a child with PR_SET_PDEATHSIG at once; without it an orphaned dbt was
    seen still running 15 s later (and would go on for its whole build), hence 10 s.
    """
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([handle], [], [], timeout)
        return bool(readable)
    finally:
        os.close(handle)


def kill_at(root: Path, point: str, env: dict[str, str],
            how: signal.Signals = signal.SIGKILL) -> Kill:
    """Start a refresh through DAY1, wait for it to stop at ``point``, kill it there.

    ``how``: SIGKILL (nothing runs after it), or SIGTERM followed by SIGCONT (the refresh
    leaves through its cleanup paths; ``returncode`` is then its exit code).
    """
    log = (root / f"killed-at-{point}-{how.name}.log").open("w")
    process = subprocess.Popen(refresh_command(DAY1), cwd=PROJECT_DIR,
                               env={**env, FAULT_POINT_VARIABLE: point},
                               stdout=log, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # blocks until the refresh announces the point (or ends)
        seen.append(line)
        if line.startswith(f"{MARKER} {point} "):
            break
    else:
        process.wait()
        pytest.fail(f"the refresh never reached {point} (exit {process.returncode}):\n"
                    + "".join(seen)[-3000:])
    marker = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
    assert marker["pid"] == process.pid
    kill = Kill(point=point, marker=marker)
    if "child" in marker:
        kill.child_alive_when_killed = Path(f"/proc/{marker['child']}").exists()
    os.kill(process.pid, how)
    if how != signal.SIGKILL:
        os.kill(process.pid, signal.SIGCONT)
    kill.returncode = process.wait()
    log.close()
    if "child" in marker:
        kill.child_died = wait_until_dead(marker["child"])
    return kill


def make_stale_wal(old_db: Path, wal: Path, scratch: Path) -> None:
    """A write-ahead log a crashed writer left on ``old_db``, moved to ``wal``."""
    scratch.mkdir(parents=True)
    crashed = scratch / old_db.name
    shutil.copyfile(old_db, crashed)
    writer = ("import duckdb, os, sys\n"
              "con = duckdb.connect(sys.argv[1])\n"
              "con.execute('pragma disable_checkpoint_on_shutdown')\n"
              "con.execute(\"set checkpoint_threshold = '10GB'\")\n"
              "con.execute('create table main.written_by_a_crashed_writer as select 42 as x')\n"
              "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", writer, str(crashed)], check=True)
    shutil.move(crashed.with_name(crashed.name + ".wal"), wal)


@dataclass
class History:
    """What the played fault history produced."""

    root: Path
    raw_dir: Path
    published: Path
    baseline: Path
    clean: Path
    env: dict[str, str]
    runs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    kills: dict[str, Kill] = field(default_factory=dict)
    baseline_hash: str = ""
    after_swap_copy: Path | None = None
    stale_wal_refused: str = ""
    terminated: Kill | None = None


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Play the history of the module docstring."""
    root = tmp_path_factory.mktemp("faults")
    published = root / "wh.duckdb"
    env = clean_env(RETENTION_DB=str(published), RETENTION_RAW_DIR=str(root / "raw"))
    h = History(root=root, raw_dir=root / "raw", published=published,
                baseline=root / "baseline" / "wh.duckdb", clean=root / "clean" / "wh.duckdb",
                env=env)

    # 1. baseline
    h.runs["baseline"] = run(refresh_command(DAY0), env)
    h.baseline.parent.mkdir()
    shutil.copyfile(published, h.baseline)
    h.baseline_hash = sha256(published)

    # 2. SIGTERM during dbt (a clean exit), then kill -9 at every step, each run starting from
    # what the previous one left
    h.terminated = kill_at(root, "dbt_build", env, how=signal.SIGTERM)
    h.terminated.published_hash = sha256(published)
    h.terminated.staging_left = staging_dir(published).exists()
    for point in POINTS:
        kill = kill_at(root, point, env)
        kill.published_hash = sha256(published)
        kill.published_opens = opens_read_only(published)
        kill.published_as_of = as_of_date(published) if not kill.published_opens else ""
        kill.wal_beside_published = published.with_name(published.name + ".wal").exists()
        h.kills[point] = kill
    h.after_swap_copy = root / "after-swap" / "wh.duckdb"
    h.after_swap_copy.parent.mkdir()
    shutil.copyfile(published, h.after_swap_copy)

    # 3. a stale write-ahead log: readers and builds refuse, the refresh repairs
    wal = published.with_name(published.name + ".wal")
    make_stale_wal(h.baseline, wal, root / "crashed-writer")
    h.stale_wal_refused = opens_read_only(published)
    h.runs["quality"] = run([*RETENTION, "quality", "--db", str(published),
                             "--results", str(root / "quality")], env)
    h.runs["report"] = run([*RETENTION, "report", "--db", str(published),
                            "--out", str(root / "report.html")], env)
    dbt_paths = {"DBT_TARGET_PATH": str(root / "target"), "DBT_LOG_PATH": str(root / "logs")}
    h.runs["build_on_stale_wal"] = run([*RETENTION, "build", "--skip-quality"],
                                       {**env, **dbt_paths})
    h.runs["final"] = run(refresh_command(DAY1), env)

    # 4. a clean build of the same raw folder
    h.runs["clean"] = run([*RETENTION, "build", "--skip-quality", "--as-of-date", str(DAY0)],
                          {**env, **dbt_paths, "RETENTION_DB": str(h.clean)})
    return h


def assert_ok(result: subprocess.CompletedProcess[str], what: str) -> None:
    """Fail with the command's output when it did not succeed."""
    assert result.returncode == 0, f"{what}:\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}"


def storage_version(db: Path) -> str:
    """DuckDB's storage-format tag of a file."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select tags['storage_version'] from duckdb_databases() "
                           "where database_name = current_database()").fetchone()[0]


def test_the_baseline_and_the_clean_build_ran(history: History) -> None:
    assert_ok(history.runs["baseline"], "baseline refresh")
    assert_ok(history.runs["clean"], "clean build")
    assert as_of_date(history.clean) == str(DAY0)
    # the format in which DuckDB stamps its write-ahead log (profiles.yml, ensure_writable)
    assert storage_version(history.baseline) == storage_version(history.clean) == "v1.4.0+"


def test_kill_during_dbt_build_kills_dbt_and_changes_nothing(history: History) -> None:
    kill = history.kills["dbt_build"]
    assert kill.child_alive_when_killed, "dbt was not running when the refresh was killed"
    assert kill.child_died, "the dbt child survived its parent's kill -9"
    assert kill.published_hash == history.baseline_hash
    assert kill.published_opens == ""


def test_sigterm_during_dbt_build_exits_cleanly(history: History) -> None:
    """SIGTERM: the refresh kills dbt's process group, removes the staging copy, exits 143."""
    term = history.terminated
    assert term is not None and term.child_alive_when_killed
    assert term.returncode == 128 + signal.SIGTERM
    assert term.child_died
    assert not term.staging_left
    assert term.published_hash == history.baseline_hash


@pytest.mark.parametrize("point", ["checkpoint", "before_swap"])
def test_kill_before_the_swap_leaves_the_old_file_that_opens(history: History,
                                                              point: str) -> None:
    """Each of these runs started from the leftovers of the previous kill and got further."""
    kill = history.kills[point]
    assert kill.published_hash == history.baseline_hash
    assert kill.published_opens == ""
    assert kill.published_as_of == str(DAY0 - timedelta(days=1))
    assert not kill.wal_beside_published


def test_kill_after_the_swap_leaves_the_new_file_equal_to_a_clean_build(
        history: History) -> None:
    kill = history.kills["after_swap"]
    assert kill.published_hash != history.baseline_hash
    assert kill.published_opens == ""
    assert kill.published_as_of == str(DAY0)
    assert not kill.wal_beside_published
    assert_ok(history.runs["clean"], "clean build")
    assert differences(history.after_swap_copy, history.clean) == {}


def test_a_stale_wal_is_explained_by_quality_report_and_build(history: History) -> None:
    assert ("Failure while replaying WAL" in history.stale_wal_refused
            or "WAL checkpoint iteration does not match" in history.stale_wal_refused), (
        "the planted log should really be stale")
    wal = f"{history.published}.wal"
    quality = history.runs["quality"]
    assert quality.returncode == 2 and "Traceback" not in quality.stdout + quality.stderr
    assert "does not belong to it" in quality.stdout and f"mv {wal}" in quality.stdout
    report = history.runs["report"]
    assert report.returncode == 1 and "Traceback" not in report.stdout + report.stderr
    assert "does not belong to it" in report.stderr and "retention refresh" in report.stderr
    one_clear_line(history.runs["build_on_stale_wal"], "does not belong to it", f"mv {wal}")


def test_the_refresh_after_everything_removes_the_stale_wal_and_equals_a_clean_build(
        history: History) -> None:
    final = history.runs["final"]
    assert_ok(final, "final refresh")
    assert "is a stale write-ahead log" in final.stdout
    assert "removed the write-ahead log beside wh.duckdb" in final.stdout
    assert "incremental build" in final.stdout
    assert not Path(f"{history.published}.wal").exists()
    assert not staging_dir(history.published).exists()
    assert opens_read_only(history.published) == ""
    assert differences(history.published, history.clean) == {}


# --- the machine failing: full disk, read-only folder, permissions, encoding ------------------

def user_namespaces_work(probe: Path) -> bool:
    """True when this user may mount a tmpfs in a private user+mount namespace."""
    probe.mkdir(exist_ok=True)
    result = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                             f"mount -t tmpfs -o size=1m tmpfs {probe}"],
                            capture_output=True, check=False)
    return result.returncode == 0


def in_namespace(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a private user+mount namespace (mounts vanish with it)."""
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                          cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False)


def shell(command: list[str]) -> str:
    """A command line for ``sh -c``."""
    return " ".join(f"'{part}'" for part in command)


@dataclass
class Sandbox:
    """A copy of the baseline published warehouse in its own folder, with dbt paths aside."""

    folder: Path
    published: Path
    env: dict[str, str]


def sandbox(history: History, tmp_path: Path, copy: bool = True) -> Sandbox:
    """A folder holding a copy of the baseline, and the environment pointing at it."""
    folder = tmp_path / "warehouse"
    folder.mkdir()
    published = folder / "wh.duckdb"
    if copy:
        shutil.copyfile(history.baseline, published)
    env = clean_env(RETENTION_DB=str(published), RETENTION_RAW_DIR=str(history.raw_dir),
                    DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs"))
    return Sandbox(folder, published, env)


def parse_report(output: str) -> dict[str, str]:
    """``key=value`` lines the namespace scripts print."""
    return dict(re.findall(r"^(\w+)=(.*)$", output, flags=re.MULTILINE))


def test_disk_full_while_copying_gives_one_line_and_frees_the_disk(history: History,
                                                                    tmp_path: Path) -> None:
    """A tmpfs that holds the published file but not a second copy of it."""
    assert user_namespaces_work(tmp_path / "probe"), (
        "this test needs `unshare -rm` (unprivileged user namespaces) to mount a small tmpfs; "
        "test_disk_full_via_the_write_wrapper covers machines without it")
    box = sandbox(history, tmp_path, copy=False)
    size_kb = history.baseline.stat().st_size // 1024 * 3 // 2
    script = f"""
        mount -t tmpfs -o size={size_kb}k tmpfs {box.folder} || exit 99
        cp {history.baseline} {box.published}
        echo used_before=$(du -sk {box.folder} | cut -f1)
        echo hash_before=$(sha256sum {box.published} | cut -d' ' -f1)
        {shell(refresh_command(DAY1, land=False))} >{tmp_path}/out 2>{tmp_path}/err
        echo rc=$?
        echo used_after=$(du -sk {box.folder} | cut -f1)
        echo hash_after=$(sha256sum {box.published} | cut -d' ' -f1)
        echo staging_left=$(ls -A {staging_dir(box.published)} 2>/dev/null | wc -l)
    """
    result = in_namespace(script, box.env)
    facts = parse_report(result.stdout)
    assert "rc" in facts, result.stdout + result.stderr
    refresh = subprocess.CompletedProcess([], int(facts["rc"]), (tmp_path / "out").read_text(),
                                          (tmp_path / "err").read_text())
    one_clear_line(refresh, "no space left on the device", "Free some space")
    assert refresh.returncode == 2
    assert "was not changed" in refresh.stderr
    assert facts["hash_after"] == facts["hash_before"] == history.baseline_hash
    assert facts["staging_left"] == "0"
    assert int(facts["used_after"]) <= int(facts["used_before"]) + 8  # the lock file, no copy


def test_disk_full_via_the_write_wrapper(history: History, tmp_path: Path) -> None:
    """The ENOSPC wrapper (RETENTION_FAULT_ENOSPC_AFTER_BYTES), for machines without tmpfs."""
    box = sandbox(history, tmp_path)
    result = run(refresh_command(DAY1, land=False), {**box.env, ENOSPC_VARIABLE: "3000000"})
    one_clear_line(result, "no space left on the device", str(staging_dir(box.published)))
    assert result.returncode == 2
    assert sha256(box.published) == history.baseline_hash
    assert not staging_dir(box.published).exists()


def test_disk_full_during_a_build_gives_one_line(history: History, tmp_path: Path) -> None:
    """`retention build` into a 3 MB tmpfs: DuckDB runs out of space while dbt writes."""
    assert user_namespaces_work(tmp_path / "probe"), "this test needs `unshare -rm` (tmpfs)"
    box = sandbox(history, tmp_path, copy=False)
    script = f"""
        mount -t tmpfs -o size=3m tmpfs {box.folder} || exit 99
        {shell([*RETENTION, "build", "--skip-quality"])} >{tmp_path}/out 2>{tmp_path}/err
        echo rc=$?
    """
    facts = parse_report(in_namespace(script, box.env).stdout)
    build = subprocess.CompletedProcess([], int(facts["rc"]), (tmp_path / "out").read_text(),
                                        (tmp_path / "err").read_text())
    one_clear_line(build, "dbt build failed: no space left on the device", "Free some space")


def read_only_folder_script(folder: Path, commands: list[list[str]], out: Path) -> str:
    """Remount ``folder`` read-only (bind mount) and run each command, noting exit codes."""
    lines = [f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} || exit 99"]
    for number, command in enumerate(commands):
        lines.append(f"{shell(command)} >{out}-{number}.out 2>{out}-{number}.err")
        lines.append(f"echo rc{number}=$?")
    return "\n".join(lines)


def test_a_read_only_warehouse_folder_gives_one_line_in_refresh_and_build(
        history: History, tmp_path: Path) -> None:
    box = sandbox(history, tmp_path)
    commands = [refresh_command(DAY1, land=False), [*RETENTION, "build", "--skip-quality"]]
    out = tmp_path / "run"
    if user_namespaces_work(tmp_path / "probe"):
        facts = parse_report(in_namespace(read_only_folder_script(box.folder, commands, out),
                                          box.env).stdout)
        codes = [int(facts[f"rc{n}"]) for n in range(len(commands))]
        results = [subprocess.CompletedProcess([], code, Path(f"{out}-{n}.out").read_text(),
                                                Path(f"{out}-{n}.err").read_text())
                   for n, code in enumerate(codes)]
    else:  # without namespaces: a folder without write permission (never effective for root)
        assert os.geteuid() != 0, "needs `unshare -rm` or a non-root user"
        box.folder.chmod(0o555)
        try:
            results = [run(command, box.env) for command in commands]
        finally:
            box.folder.chmod(0o755)
    refresh, build = results
    fragment = "read-only file system" if "read-only" in refresh.stderr else "permission denied"
    one_clear_line(refresh, fragment, str(box.folder))
    assert "was not changed" in refresh.stderr
    one_clear_line(build, fragment, str(box.folder))
    assert sha256(box.published) == history.baseline_hash


def as_another_user(command: list[str]) -> list[str]:
    """Run as 'nobody' when we are root (root reads every file whatever its mode)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]


@pytest.fixture()
def open_folder() -> Iterator[Path]:
    """A folder every user can reach and write (pytest's own temp folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix="retention-permissions-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_unreadable_raw_file_gives_one_line_in_refresh_and_build(
        history: History, open_folder: Path) -> None:
    raw = open_folder / "raw"
    shutil.copytree(history.raw_dir, raw)
    secret = raw / "survey_responses" / "locked-00000.csv"
    shutil.copyfile(next((raw / "survey_responses").glob("landed-initial-*.csv")), secret)
    secret.chmod(0o000)
    box = sandbox(history, open_folder, copy=False)
    for folder in (box.folder, open_folder / "target", open_folder / "logs"):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o777)
    env = {**box.env, "RETENTION_RAW_DIR": str(raw), "HOME": str(open_folder)}
    refresh = run(as_another_user(refresh_command(DAY1, land=False)), env)
    build = run(as_another_user([*RETENTION, "build", "--skip-quality"]), env)
    one_clear_line(refresh, "permission denied", str(secret))
    one_clear_line(build, "permission denied", str(secret))
    assert refresh.returncode == build.returncode == 2
    assert not box.published.exists()


def test_a_raw_file_that_is_not_utf8_gives_one_line_in_refresh_and_build(
        history: History, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(history.raw_dir, raw)
    latin1 = raw / "crm_customers" / "latin1-00000.csv"
    header = next((raw / "crm_customers").glob("landed-initial-*.csv")).read_text()
    latin1.write_bytes(header.splitlines()[0].encode() + b"\nC99999999,jos\xe9@example.org,,"
                       b"Jos\xe9,M\xfcller,,DE,de,2024-01-01T00:00:00+00:00,organic,,false,"
                       b"false,2024-01-01T00:00:00+00:00\n")
    box = sandbox(history, tmp_path)
    env = {**box.env, "RETENTION_RAW_DIR": str(raw)}
    refresh = run(refresh_command(DAY1, land=False), env)
    build = run([*RETENTION, "build", "--skip-quality"], env)
    one_clear_line(refresh, f"{latin1}, line 2", "not valid utf-8 text")
    one_clear_line(build, f"{latin1}, line 2", "not valid utf-8 text")
    assert refresh.returncode == build.returncode == 2
    assert sha256(box.published) == history.baseline_hash


@pytest.mark.parametrize("content", [b"", b"transaction_id;order_id;customer_id\nT1;O1;C1\n"],
                         ids=["zero-byte", "semicolons"])
def test_refresh_runs_the_build_pre_flight(history: History, tmp_path: Path,
                                           content: bytes) -> None:
    """A file `retention build` refuses is refused by `retention refresh` with the same line."""
    raw = tmp_path / "raw"
    shutil.copytree(history.raw_dir, raw)
    (raw / "transactions" / "odd-00000.csv").write_bytes(content)
    box = sandbox(history, tmp_path)
    env = {**box.env, "RETENTION_RAW_DIR": str(raw)}
    refresh = run(refresh_command(DAY1, land=False), env)
    build = run([*RETENTION, "build", "--skip-quality"], env)
    refused = one_clear_line(build, "odd-00000.csv")
    assert one_clear_line(refresh) == refused.replace("error: ", "error: refresh failed: ", 1)
    assert refresh.returncode == build.returncode == 2
    assert sha256(box.published) == history.baseline_hash


def test_a_bad_byte_deep_in_a_file_is_named_from_duckdbs_error(tmp_path: Path) -> None:
    """Past the pre-flight's first block, DuckDB's CSV reader finds it; the line names it."""
    from retention_warehouse.failures import describe_dbt_failure

    bad = tmp_path / "big.csv"
    bad.write_bytes(b"a,b\n" + b"1,2\n" * 5000 + b"3,\xff\n")
    with pytest.raises(duckdb.Error) as error:
        duckdb.sql(f"select * from read_csv('{bad}', header = true, all_varchar = true)").fetchall()
    line = describe_dbt_failure(f"Runtime Error\n  {error.value}\n", tmp_path / "wh.duckdb",
                                "dbt wrote the warehouse")
    assert line is not None and line.startswith(f"{bad}, line ")
    assert "is not UTF-8 text" in line


def test_landing_cleans_up_a_half_generated_day(tmp_path: Path) -> None:
    """Landing a generated day that fails midway (here: a table folder turned into a file)
    removes the files it had written for that day."""
    raw = tmp_path / "raw"
    land_generated(raw, DAY0, CUSTOMERS, SEED)
    blocker = raw / "survey_responses"
    shutil.rmtree(blocker)
    blocker.write_text("a file where the generator needs a folder")
    before = sorted(p.relative_to(raw) for p in raw.rglob("*.csv"))
    with pytest.raises(OSError):
        land_generated(raw, DAY1, CUSTOMERS, SEED)
    after = sorted(p.relative_to(raw) for p in raw.rglob("*.csv"))
    assert after == before

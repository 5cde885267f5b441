"""Every command README.md shows runs, as a new user would type it.

The commands of every ``sh`` block (``readme_commands.py`` reads them) run one
after another in one shell session inside a throwaway clone of the project:
exported variables and the working folder carry over from command to command,
``warehouse.duckdb``, ``target/``, ``data/`` and report files land in the
clone, and the user's own files are checked to be untouched at the end. The
clone's raw folder is a copy of the session warehouse's sample (the same 2,000
customers ``make build`` would generate), so ``make build`` builds it without
generating it again.

A command under or behind ``# not run by the README test: <reason>`` is listed
with its reason instead of run. A new command in the README is therefore run,
or marked with a reason: it is never silently left out. A block without a tag
or an inline ``.venv/bin/...`` command outside a block fails the test.

What some commands print is checked too: the quick start's query prints a
readable table of the last 12 months (every column shown, values equal to the
mart), and ``mf query`` lists its months in time order.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import BuiltWarehouse
from readme_commands import (
    PROJECT_DIR,
    README,
    ReadmeCommand,
    ReadmeError,
    ShellSession,
    clean_environment,
    clone_project,
    readme_commands,
)

README_TEXT = README.read_text(encoding="utf-8")
try:
    COMMANDS = readme_commands(README_TEXT)
    README_PROBLEM = ""
except ReadmeError as error:
    COMMANDS, README_PROBLEM = [], str(error)
RUN = [command for command in COMMANDS if command.not_run is None]
NOT_RUN = [command for command in COMMANDS if command.not_run is not None]
RESULTS: dict[int, subprocess.CompletedProcess[str]] = {}  # README line -> what it gave

# dbt exits 0 when a selection matches nothing: a misspelt README selector must still fail.
DID_NOTHING = ("does not match any enabled nodes", "Nothing to do. Try checking")
# The user's files a README command could write by mistake (all git-ignored).
USER_OUTPUTS = ("warehouse.duckdb", "warehouse.duckdb.wal", "warehouse.duckdb.quality",
                "warehouse.duckdb.landing", "target", "logs", "data", "quality_results",
                "report.html", ".dagster_home")


def check_command(session: ShellSession, command: ReadmeCommand,
                  timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    """Run one README command; fail with the command and its output when it fails or when
    dbt says it selected nothing."""
    result = session.run(command.code, timeout=timeout)
    output = result.stdout + result.stderr
    did_nothing = [message for message in DID_NOTHING if message in output]
    if result.returncode != 0 or did_nothing:
        why = (f"exit code {result.returncode}" if result.returncode != 0
               else f"exit code 0 but dbt said {did_nothing[0]!r}")
        pytest.fail(
            f"README line {command.line} ({command.section}) failed ({why}):\n"
            f"$ {command.text}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-4000:]}",
            pytrace=False)
    return result


def _fingerprint(paths: list[Path]) -> dict[str, tuple[int, int]]:
    """(mtime, size) of every file under the given paths."""
    found: dict[str, tuple[int, int]] = {}
    for path in paths:
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for file in files:
            if file.is_file():
                stat = file.stat()
                found[str(file)] = (stat.st_mtime_ns, stat.st_size)
    return found


def _venv_is_current() -> bool:
    """The Makefile's venv stamp exists: ``make build`` will not reinstall packages."""
    checksum = subprocess.run("cat requirements.lock pyproject.toml | cksum", shell=True,
                              cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    return (PROJECT_DIR / ".venv" / f".installed-{checksum.stdout.split()[0]}").exists()


@pytest.fixture(scope="module")
def user_files() -> dict[str, tuple[int, int]]:
    """The user's outputs before any README command ran."""
    return _fingerprint([PROJECT_DIR / name for name in USER_OUTPUTS])


@pytest.fixture(scope="module")
def shell(warehouse: BuiltWarehouse, user_files: dict[str, tuple[int, int]],
          tmp_path_factory: pytest.TempPathFactory) -> ShellSession:
    """One terminal in a fresh clone whose sample is the session warehouse's raw data."""
    if not _venv_is_current():
        pytest.fail("the venv is older than requirements.lock: run `make venv` first "
                    "(`make build` would reinstall packages under the running tests)")
    clone = clone_project(tmp_path_factory.mktemp("readme") / "clone")
    shutil.copytree(warehouse.raw_dir, clone / "data" / "sample")
    return ShellSession(clone, clean_environment(clone))


def test_readme_blocks_are_tagged_and_hold_commands() -> None:
    """Every block is tagged, every marker covers a command, and there are commands to run."""
    assert README_PROBLEM == ""
    assert len(RUN) >= 10, [command.label for command in COMMANDS]
    assert any(command.code == "make build" for command in RUN)


def test_inline_commands_are_in_shell_blocks() -> None:
    """A ``.venv/bin/...`` or ``make`` command in running text is one a block shows too."""
    prose = re.sub(r"^```.*?^```", "", README_TEXT, flags=re.MULTILINE | re.DOTALL)
    inline = re.findall(r"`((?:\.venv/bin/|make )[^`]*)`", prose)
    shown = {" ".join(command.code.split()) for command in COMMANDS}
    missing = [text for text in inline if " ".join(text.split()) not in shown]
    assert missing == [], f"put these in a sh block (then they are run or marked): {missing}"


@pytest.mark.parametrize("command", RUN, ids=[command.label for command in RUN])
def test_readme_command(shell: ShellSession, command: ReadmeCommand) -> None:
    """The command exits 0 in the clone, after every README command above it."""
    RESULTS[command.line] = check_command(shell, command)


def test_commands_the_readme_test_does_not_run_say_why() -> None:
    """Each command left out has a reason; a test file it names exists. Listed with -s/-rA."""
    print("\nREADME commands not run by the README test:")
    for command in NOT_RUN:
        print(f"  {command.label}\n      why: {command.not_run}")
        assert len(command.not_run.split()) >= 3, f"{command.label}: give a reason"
        for named in re.findall(r"\b(test_\w+\.py)", command.not_run):
            assert (PROJECT_DIR / "tests" / "python" / named).is_file(), \
                f"{command.label}: tests/python/{named} does not exist"
    assert len(NOT_RUN) < len(RUN)


def _table(output: str) -> tuple[list[str], list[list[str]], str]:
    """Header, rows and footer of a DuckDB box table as ``.show()`` prints it."""
    lines = [line for line in output.splitlines() if line.startswith("│")]
    cells = [[cell.strip() for cell in line.strip("│").split("│")] for line in lines]
    footer = output.strip().splitlines()[-1]
    return cells[0], cells[2:], footer


def _command(section: str, needle: str) -> ReadmeCommand:
    """The README command of one section that contains ``needle``."""
    found = [c for c in RUN if c.section == section and needle in c.code]
    assert len(found) == 1, f"{section}: no single command with {needle!r}"
    return found[0]


def test_quick_start_query_prints_the_last_12_months(shell: ShellSession) -> None:
    """All columns shown, 12 months in time order ending at the as-of month, mart values."""
    command = _command("Quick start", "fct_retention_kpis")
    output = check_command(shell, command).stdout  # the warehouse as the commands left it
    header, rows, footer = _table(output)
    assert "…" not in output and "shown" not in footer, f"columns left out:\n{output}"
    assert max(len(line) for line in output.splitlines()) <= 120, output
    assert {"month", "at_start", "lost", "at_end", "retention_pct"} <= set(header), header

    with duckdb.connect(str(shell.clone / "warehouse.duckdb"), read_only=True) as con:
        [(as_of,)] = con.execute(
            "select as_of_date from intermediate.int_as_of_dates_resolved").fetchall()
        mart = {str(month): (end, lost) for month, end, lost in con.execute(
            "select period_start, customers_at_end, lost_customers "
            "from marts.fct_retention_kpis where segment_type = 'total'").fetchall()}
    months = []
    year, month = as_of.year, as_of.month
    for _ in range(12):
        months.insert(0, date(year, month, 1).isoformat())
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    column = {name: index for index, name in enumerate(header)}
    assert [row[column["month"]] for row in rows] == months, output
    for row in rows:
        end, lost = mart[row[column["month"]]]
        assert (int(row[column["at_end"]]), int(row[column["lost"]])) == (end, lost), row


def test_mf_query_lists_the_months_in_time_order(shell: ShellSession) -> None:
    """The README's ``mf query`` answers with one row per month, oldest first, no gaps."""
    command = _command("For BI tools", "mf query")
    result = RESULTS.get(command.line) or check_command(shell, command)
    months = [date.fromisoformat(day) for day in re.findall(
        r"^\s*(\d{4}-\d{2}-\d{2})", result.stdout, flags=re.MULTILINE)]
    assert len(months) > 12, result.stdout[-3000:]
    expected, year, month = [], months[0].year, months[0].month
    while len(expected) < len(months):
        expected.append(date(year, month, 1))
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    assert months == expected, f"months out of order or missing: {months}"


def test_readme_commands_leave_the_users_files_alone(
        shell: ShellSession, user_files: dict[str, tuple[int, int]]) -> None:
    """Nothing the commands wrote landed in the user's warehouse, target, data or results."""
    assert RESULTS, "no README command ran"
    assert (shell.clone / "warehouse.duckdb").is_file()
    after = _fingerprint([PROJECT_DIR / name for name in USER_OUTPUTS])
    changed = sorted(path for path in set(user_files) | set(after)
                     if user_files.get(path) != after.get(path))
    assert changed == []


# --- the test itself can fail ------------------------------------------------------------

def test_an_untagged_block_or_a_marker_over_nothing_is_refused() -> None:
    """Commands cannot hide in an untagged block; a marker must cover a command."""
    with pytest.raises(ReadmeError, match="without a tag"):
        readme_commands("## A\n\n```\nmake build\n```\n")
    with pytest.raises(ReadmeError, match="above no command"):
        readme_commands("```sh\n# not run by the README test: a reason here\n\nmake x\n```\n")
    with pytest.raises(ReadmeError, match="never ends"):
        readme_commands("```sh\necho 'open\n```\n")
    parsed = readme_commands(
        "## S\n```sh\n# not run by the README test: needs a server\nmake a\nmake b\n\n"
        "make c   # not run by the README test: a cron line\nmake d \\\n  --x\n"
        "python -c \"\nprint('#not a comment')\n\"\n```\n")
    assert [(c.code, c.not_run) for c in parsed] == [
        ("make a", "needs a server"), ("make b", "needs a server"), ("make c", "a cron line"),
        ("make d \\\n  --x", None), ("python -c \"\nprint('#not a comment')\n\"", None)]


def test_a_failing_command_fails_with_the_command_and_its_output(tmp_path: Path) -> None:
    """A broken command fails the test, naming the line and showing what it printed; so
    does one after which dbt says its selection matched nothing."""
    session = ShellSession(tmp_path, {**os.environ})
    first, broken = readme_commands(
        "## Broken\n```sh\nexport GREETING=hello && cd /\n"
        "echo \"$GREETING from $PWD\"; ls /no/such/folder\n```\n")
    check_command(session, first)
    with pytest.raises(pytest.fail.Exception) as failure:
        check_command(session, broken)
    message = str(failure.value)
    assert "README line 4 (Broken)" in message and "ls /no/such/folder" in message
    assert "hello from /" in message and "No such file or directory" in message
    [selects_nothing] = readme_commands(
        "```sh\necho \"The selection criterion 'x' does not match any enabled nodes\"\n```\n")
    with pytest.raises(pytest.fail.Exception, match="exit code 0 but dbt said"):
        check_command(session, selects_nothing)

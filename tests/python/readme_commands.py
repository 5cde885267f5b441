"""The README's shell commands, and a throwaway clone of the project to run them in.

``readme_commands(text)`` reads every fenced block of README.md. Blocks tagged
``sh``, ``bash`` or ``shell`` hold commands; every other block must carry a tag
of its own (``text`` for diagrams and output), so a command cannot hide in an
untagged block. A command is one line, or several joined by a trailing
backslash or an open quote. A command is *not run* by the README test when it
sits under a comment line starting with ``# not run by the README test: <reason>``
(the comment covers the commands after it up to the next blank line) or
carries that comment at its end; every other command is run.

``clone_project(dest)`` makes a folder that looks like a fresh clone: one
symlink per project entry (``.venv`` included, ``.git`` and every git-ignored
build output left out), so ``warehouse.duckdb``, ``target/``, ``data/`` and
``.dagster_home`` of a command land in the clone, never in the user's files.

``ShellSession`` runs commands one after another the way a user types them into
one terminal: the exported variables and the working folder a command leaves
behind are those the next command starts with.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
README = PROJECT_DIR / "README.md"
SHELL_TAGS = ("sh", "bash", "shell")
NOT_RUN = re.compile(r"not run by the README test:\s*(?P<reason>\S.*?)\s*$", re.IGNORECASE)
# Variables a command must not inherit from the test run (make test exports the real
# project's paths); the session sets the ones it needs to the clone's.
INHERITED_PREFIXES = ("DBT_", "RETENTION_", "DAGSTER_", "MF_")


class ReadmeError(ValueError):
    """The README's blocks cannot be read as commands (an untagged block, a dangling marker)."""


@dataclass(frozen=True)
class ReadmeCommand:
    """One command of a README shell block."""

    line: int  # README line the command starts on
    section: str  # the ``##`` heading above it
    text: str  # as written, comment included
    code: str  # what the shell runs: the text without its trailing comment
    not_run: str | None = None  # why the README test does not run it

    @property
    def label(self) -> str:
        """A short name for test ids and messages."""
        first = " ".join(self.code.split())
        return f"L{self.line}: {first[:70]}{'...' if len(first) > 70 else ''}"


def _scan(text: str) -> tuple[bool, str, str]:
    """Read ``text`` as the shell would: (quotes still open, code, trailing comment)."""
    quote: str | None = None
    code: list[str] = []
    comment = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote is None and char == "#" and (index == 0 or text[index - 1].isspace()):
            end = text.find("\n", index)
            end = len(text) if end == -1 else end
            comment = text[index + 1:end].strip()
            index = end
            continue
        if char == "\\" and quote != "'" and index + 1 < len(text):
            code.append(text[index:index + 2])
            index += 2
            continue
        if char in "'\"" and quote in (None, char):
            quote = None if quote == char else char
        code.append(char)
        index += 1
    return quote is not None, "".join(code).rstrip(), comment


@dataclass
class _Block:
    line: int
    tag: str
    section: str
    lines: list[str] = field(default_factory=list)


def _blocks(text: str) -> list[_Block]:
    """Every fenced block of a Markdown text."""
    blocks: list[_Block] = []
    section = "(top)"
    current: _Block | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if current is None:
            if line.startswith("## "):
                section = line[3:].strip()
            elif line.lstrip().startswith("```"):
                current = _Block(number, line.strip().strip("`").strip(), section)
        elif line.lstrip().startswith("```"):
            blocks.append(current)
            current = None
        else:
            current.lines.append(line)
    if current is not None:
        raise ReadmeError(f"README line {current.line}: the block is never closed")
    return blocks


def readme_commands(text: str) -> list[ReadmeCommand]:
    """The commands of every shell block, in README order; raises ``ReadmeError``."""
    commands: list[ReadmeCommand] = []
    for block in _blocks(text):
        if not block.tag:
            raise ReadmeError(
                f"README line {block.line} ({block.section}): a block without a tag. Tag it "
                f"{'/'.join(SHELL_TAGS)} (commands, run by the README test) or text.")
        if block.tag not in SHELL_TAGS:
            continue
        pending: list[str] = []
        start = 0
        marker: tuple[str, int] | None = None  # (reason, line) of the comment in force
        covered = False  # the marker in force has covered a command
        for offset, line in enumerate(block.lines):
            number = block.line + 1 + offset
            if not pending:
                stripped = line.strip()
                if not stripped or (stripped.startswith("#") and NOT_RUN.search(stripped)):
                    if marker and not covered:
                        raise ReadmeError(f"README line {marker[1]}: a '# not run by the "
                                          "README test' comment above no command")
                    found = NOT_RUN.search(stripped) if stripped else None
                    marker = (found.group("reason"), number) if found else None
                    covered = False
                    continue
                if stripped.startswith("#"):
                    continue
                start = number
            pending.append(line)
            joined = "\n".join(pending)
            still_open, code, comment = _scan(joined)
            if still_open or code.endswith("\\"):
                continue
            trailing = NOT_RUN.search(comment)
            reason = trailing.group("reason") if trailing else (marker[0] if marker else None)
            commands.append(ReadmeCommand(line=start, section=block.section,
                                          text=joined.strip(), code=code.strip(),
                                          not_run=reason))
            covered = True
            pending = []
        if pending:
            raise ReadmeError(f"README line {start}: the command never ends (open quote or "
                              "trailing backslash)")
        if marker and not covered:
            raise ReadmeError(f"README line {marker[1]}: a '# not run by the README test' "
                              "comment above no command")
    return commands


# --- a throwaway clone --------------------------------------------------------------------

def clone_project(dest: Path) -> Path:
    """Link every project entry into ``dest`` except ``.git`` and git-ignored outputs."""
    dest.mkdir(parents=True, exist_ok=True)
    names = sorted(entry.name for entry in PROJECT_DIR.iterdir() if entry.name != ".git")
    ignored = subprocess.run(["git", "check-ignore", *names], cwd=PROJECT_DIR,
                             capture_output=True, text=True, check=False).stdout.split()
    for name in names:
        if name in ignored and name != ".venv":
            continue
        (dest / name).symlink_to(PROJECT_DIR / name)
    return dest


def clean_environment(clone: Path) -> dict[str, str]:
    """The environment of a new terminal in ``clone``: no project paths from the test run,
    the warehouse, raw folder, dbt target and logs inside the clone, telemetry off."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(INHERITED_PREFIXES) and key not in ("PWD", "OLDPWD")}
    env.update({
        "RETENTION_DB": str(clone / "warehouse.duckdb"),
        "RETENTION_RAW_DIR": str(clone / "data" / "sample"),
        "DBT_TARGET_PATH": str(clone / "target"),
        "DBT_LOG_PATH": str(clone / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PWD": str(clone),
    })
    return env


class ShellSession:
    """One terminal in a clone: each command starts where the previous one left off."""

    def __init__(self, clone: Path, env: dict[str, str]) -> None:
        self.clone = clone
        self.env = dict(env)
        self.cwd = clone
        self._state = clone.parent / f".{clone.name}.shell-state"
        self._cwd_file = clone.parent / f".{clone.name}.shell-cwd"

    def run(self, command: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        """Run one command in bash; keep the variables it exported and the folder it is in."""
        script = (f"{command}\n__readme_rc=$?\nenv -0 > {shlex.quote(str(self._state))}\n"
                  f"pwd > {shlex.quote(str(self._cwd_file))}\nexit $__readme_rc\n")
        process = subprocess.Popen(["bash", "-c", script], cwd=self.cwd, env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process_group(process)
            stdout, stderr = process.communicate()
            stderr += f"\n(stopped after {timeout:.0f} s)"
            return subprocess.CompletedProcess(command, -9, stdout, stderr)
        if self._state.exists():
            pairs = self._state.read_text().split("\0")
            self.env = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
            self._state.unlink()
        if self._cwd_file.exists():
            self.cwd = Path(self._cwd_file.read_text().strip())
            self._cwd_file.unlink()
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def start(self, command: str, log: Path) -> subprocess.Popen[bytes]:
        """Start a long-running command (a server) in its own process group."""
        handle = log.open("wb")
        try:
            return subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.cwd,
                                    env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            handle.close()


def stop_process_group(process: subprocess.Popen, grace: float = 30) -> None:
    """Stop a process started with ``start_new_session`` and everything in its group.

    SIGTERM to the leader first (``dagster dev`` then shuts its webserver, daemon and
    code server down), SIGKILL to the whole group after ``grace`` seconds or when
    anything of the group is still alive.
    """
    group = process.pid  # the leader of a new session: its pid is the group id
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    if group_members(group):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30  # a killed process takes a moment to disappear
    while group_members(group) and time.monotonic() < deadline:
        time.sleep(0.2)


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from ``/proc``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(stat.parent.name))
    return members

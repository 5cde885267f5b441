"""A throwaway PostgreSQL server for tests: started in a temporary folder, always removed.

Usage::

    from postgres_server import postgres_server

    with postgres_server() as pg:      # pg: dict(host, port, user, password, dbname)
        ...                            # e.g. RETENTION_PG_PORT=str(pg["port"]) dbt build

What it does: ``initdb`` into a new temporary folder (trust authentication, superuser
``postgres``, UTF8, locale C), picks a free TCP port, ``pg_ctl start`` with
``-p PORT -k <socket dir> -c listen_addresses=127.0.0.1`` (nothing listens beyond
localhost), creates the database, yields the connection parameters, and in ``finally``
stops the server (``pg_ctl stop -m immediate``, then a kill of the postmaster if that
failed) and deletes the folder, whatever happened inside the ``with`` block.

initdb and postgres refuse to run as root: when the tests run as root, the server runs as
the ``postgres`` OS user (created by the Debian package) through ``runuser``, and the
temporary folder is handed to that user.

The binaries are looked up in ``RETENTION_PG_BIN`` (if set), then
``/usr/lib/postgresql/<15..>/bin``, then ``PATH``; ``scripts/ensure_system_packages.sh``
installs them. Run this file directly to keep a server up for manual work
(``python tests/python/postgres_server.py``, Ctrl-C to stop and delete it).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SERVER_USER = "postgres"
SUPERUSER = "postgres"
DEFAULT_DBNAME = "retention"


def find_pg_bin() -> Path | None:
    """The folder holding initdb/pg_ctl/postgres, or None when PostgreSQL is not installed."""
    candidates: list[Path] = []
    if os.environ.get("RETENTION_PG_BIN"):
        candidates.append(Path(os.environ["RETENTION_PG_BIN"]))
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name), reverse=True
        )
        candidates.extend(p / "bin" for p in versions)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    """Prefix a command so it runs as the server's OS user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_USER, "--", *command]
    return command


def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    result = subprocess.run(
        _as_server_user(command), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def _stop(pg_bin: Path, data_dir: Path) -> None:
    """Stop the server; if pg_ctl cannot, kill the postmaster named in postmaster.pid."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    with contextlib.suppress(Exception):
        subprocess.run(
            _as_server_user([str(pg_bin / "pg_ctl"), "-D", str(data_dir), "-m", "immediate",
                             "-w", "-t", "20", "stop"]),
            capture_output=True, timeout=30, check=False,
        )
    if pid_file.exists():
        with contextlib.suppress(Exception):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)


@contextlib.contextmanager
def postgres_server(dbname: str = DEFAULT_DBNAME) -> Iterator[dict]:
    """Start a throwaway server with database `dbname`; yield its connection parameters."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found (looked in RETENTION_PG_BIN, "
            "/usr/lib/postgresql/*/bin and PATH); run `bash scripts/ensure_system_packages.sh`."
        )
    base = Path(tempfile.mkdtemp(prefix="retention-pg-"))
    data_dir = base / "data"
    socket_dir = base / "socket"
    started = False
    try:
        socket_dir.mkdir()
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            for path in (base, socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        os.chmod(base, 0o700)
        _run([str(pg_bin / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, "--auth=trust",
              "-E", "UTF8", "--locale=C", "--no-sync"], timeout=120)
        last_error: Exception | None = None
        for _attempt in range(5):  # a port picked free can be taken before the server binds it
            port = free_port()
            options = (
                f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
            )
            try:
                started = True
                _run([str(pg_bin / "pg_ctl"), "-D", str(data_dir), "-o", options,
                      "-l", str(base / "server.log"), "-w", "-t", "30", "start"], timeout=60)
                break
            except RuntimeError as error:
                last_error = error
                _stop(pg_bin, data_dir)
                started = False
        if not started:
            log = base / "server.log"
            raise RuntimeError(
                f"PostgreSQL did not start: {last_error}\n"
                + (log.read_text() if log.exists() else "")
            )
        createdb = pg_bin / "createdb"
        _run([str(createdb), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, dbname])
        yield {
            "host": "127.0.0.1",
            "port": port,
            "user": SUPERUSER,
            "password": "",
            "dbname": dbname,
            "pg_bin": str(pg_bin),
            "data_dir": str(data_dir),
        }
    finally:
        if started:
            _stop(pg_bin, data_dir)
        shutil.rmtree(base, ignore_errors=True)


def dbt_env(pg: dict) -> dict[str, str]:
    """The environment variables profiles.yml's `postgres` target reads, for server `pg`."""
    return {
        "DBT_TARGET": "postgres",
        "RETENTION_PG_HOST": pg["host"],
        "RETENTION_PG_PORT": str(pg["port"]),
        "RETENTION_PG_USER": pg["user"],
        "RETENTION_PG_PASSWORD": pg["password"],
        "RETENTION_PG_DATABASE": pg["dbname"],
    }


if __name__ == "__main__":
    with postgres_server() as server:
        print(" ".join(f"{k}={v}" for k, v in dbt_env(server).items()), flush=True)
        print("PostgreSQL is up; Ctrl-C (or SIGTERM) stops it and deletes its folder.", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)

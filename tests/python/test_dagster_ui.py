"""The Dagster UI starts from the README's command and shows the models, checks and schedule.

The README's scheduling block runs as a user would type it, in a throwaway
clone of the project (``readme_commands.py``): its ``DAGSTER_HOME`` is the
clone's ``.dagster_home``, its warehouse the clone's (never built here:
listing the asset graph needs only dbt's manifest, which the definitions parse
into the clone's ``target/``). ``dagster dev`` then starts with the README's
arguments plus ``--host 127.0.0.1 --port <a free port>`` in its own process
group, and is stopped by that group's id when the module ends, whatever
happened.

The webserver's GraphQL endpoint must list every dbt model, seed and snapshot
as an asset, every dbt data test that belongs to one node as an asset check,
a freshness check on every raw source, and the daily schedule; the expected
lists come from the session warehouse's own dbt manifest (``dbt build``), not
from Dagster. Debian's headless Chromium then opens the UI: the asset graph
page draws every dbt model, an asset's checks tab names its checks and the
automation page shows the schedule. A second start with ``dagster_webserver``
made unimportable proves the start-up check fails with Dagster's own message.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BuiltWarehouse
from readme_commands import (
    README,
    ReadmeCommand,
    ShellSession,
    clean_environment,
    clone_project,
    group_members,
    readme_commands,
    stop_process_group,
)
from websockets.sync.client import connect

SECTION = "Daily refreshes and scheduling"
START_TIMEOUT = 300  # seconds; parsing the dbt project and loading the definitions
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # only the local webserver
    "--window-size=1600,6000",
)
ASSETS_QUERY = """{ assetNodes { assetKey { path } opName
  assetChecksOrError { ... on AssetChecks { checks { name } } } } }"""
SCHEDULES_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { ... on RepositoryLocation { repositories { name
    schedules { name cronSchedule executionTimezone pipelineName } } }
  ... on PythonError { message } } } } } }"""
INSTANCE_QUERY = "{ instance { info } }"


@dataclass
class DagsterUI:
    """A running ``dagster dev``: where it answers, its process and log."""

    url: str
    process: subprocess.Popen
    log: Path
    home: Path

    def graphql(self, query: str) -> dict:
        """One GraphQL query; its ``data`` (fails on GraphQL errors)."""
        request = urllib.request.Request(
            f"{self.url}/graphql", data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.load(response)
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scheduling_commands() -> tuple[list[ReadmeCommand], ReadmeCommand]:
    """The README's scheduling block: the set-up commands and the ``dagster dev`` command."""
    block = [c for c in readme_commands(README.read_text()) if c.section == SECTION]
    start = [c for c in block if "dagster dev" in c.code]
    assert len(start) == 1, f"no single `dagster dev` command in the README's {SECTION!r}"
    setup = [c for c in block if c.line < start[0].line and c.not_run is None]
    return setup, start[0]


def start_ui(root: Path, env_overrides: dict[str, str] | None = None) -> DagsterUI:
    """Run the README's set-up commands in a new clone and start its ``dagster dev``.

    Returns once the webserver answers; on a failed start the process group is
    stopped and the test fails with the command's output.
    """
    clone = clone_project(root / "clone")
    session = ShellSession(clone, {**clean_environment(clone), **(env_overrides or {})})
    setup, start = _scheduling_commands()
    for command in setup:
        result = session.run(command.code, timeout=60)
        assert result.returncode == 0, f"$ {command.text}\n{result.stdout}{result.stderr}"
    port = _free_port()
    log = root / "dagster_dev.log"
    process = session.start(f"{start.code} --host 127.0.0.1 --port {port}", log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop_process_group(process)
            assert group_members(process.pid) == [], "dagster processes left running"
            pytest.fail(f"`{start.code}` exited with {process.returncode} before serving:\n"
                        f"{log.read_text(errors='replace')[-4000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                if response.status == 200:
                    return DagsterUI(url=url, process=process, log=log,
                                     home=Path(session.env["DAGSTER_HOME"]))
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    stop_process_group(process)
    pytest.fail(f"`{start.code}` did not answer on {url} within {START_TIMEOUT} s:\n"
                f"{log.read_text(errors='replace')[-4000:]}", pytrace=False)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    """``dagster dev`` from the README in a temporary clone; always stopped by its group."""
    started = start_ui(tmp_path_factory.mktemp("dagster_ui"))
    try:
        yield started
    finally:
        stop_process_group(started.process)
        assert group_members(started.process.pid) == [], "dagster processes left running"


@pytest.fixture(scope="module")
def expected(warehouse: BuiltWarehouse) -> dict[str, set]:
    """What the asset graph must hold, read from dbt's own manifest of the session build."""
    manifest = warehouse.dbt_manifest
    ours = {uid: node for uid, node in manifest["nodes"].items()
            if node["package_name"] == "retention_warehouse"}
    assets = {uid: node["name"] for uid, node in ours.items()
              if node["resource_type"] in ("model", "seed", "snapshot")}
    checks = set()
    for node in ours.values():
        if node["resource_type"] != "test":
            continue
        upstream = set(node["depends_on"]["nodes"])
        attached = next(iter(upstream)) if len(upstream) == 1 else node.get("attached_node")
        if attached in assets:
            checks.add((assets[attached], node["name"]))
    sources = {f"{source['source_name']}/{source['name']}"
               for source in manifest["sources"].values()}
    # The raw exports dbt checks freshness of: every table of a source with a freshness rule
    # (not the landing record the hook writes, nor the optional FX reference).
    fresh = {source["source_name"] for source in manifest["sources"].values()
             if any((source.get("freshness") or {}).get(rule, {}).get("count")
                    for rule in ("warn_after", "error_after"))}
    freshness = {name for name in sources if name.split("/")[0] in fresh}
    models = {node["name"] for node in ours.values() if node["resource_type"] == "model"}
    return {"assets": set(assets.values()), "checks": checks, "sources": sources,
            "freshness": freshness, "models": models}


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: run `bash scripts/ensure_system_packages.sh` "
                    "(make test does) to install Debian's chromium package")
    return found


class Chromium:
    """Headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True)
        self.process = subprocess.Popen(
            [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._stack = contextlib.ExitStack()
        self._id = 0
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 120
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                pytest.fail("headless chromium did not open its DevTools port")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as answer:
            page = next(t for t in json.load(answer) if t["type"] == "page")
        self.socket = self._stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30))

    def call(self, method: str, **params: object) -> dict:
        """One DevTools command; its result (events in between are ignored)."""
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=120))
            if message.get("id") == self._id:
                assert "error" not in message, message["error"]
                return message["result"]

    def text_when(self, url: str, wanted: list[str], timeout: float = 180) -> str:
        """Open ``url`` and wait until the page's text holds every ``wanted`` string (or the
        timeout passed); the page's text then."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            result = self.call("Runtime.evaluate", returnByValue=True,
                               expression="document.body ? document.body.textContent : ''")
            text = result["result"].get("value") or ""
            if all(item in text for item in wanted):
                break
            time.sleep(1)
        return text

    def close(self) -> None:
        """Close the connection and stop the browser's process group."""
        self._stack.close()
        stop_process_group(self.process, grace=10)


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Chromium]:
    """A headless Chromium, stopped after the test."""
    chromium = Chromium(tmp_path / "chromium-profile")
    try:
        yield chromium
    finally:
        chromium.close()


def test_readme_start_uses_a_temporary_dagster_home(ui: DagsterUI,
                                                    tmp_path_factory: pytest.TempPathFactory
                                                    ) -> None:
    """The instance lives in the clone's ``.dagster_home``, with telemetry off as the README
    sets it."""
    assert ui.home.name == ".dagster_home" and ui.home.parent.name == "clone"
    assert str(tmp_path_factory.getbasetemp()) in str(ui.home)
    info = ui.graphql(INSTANCE_QUERY)["instance"]["info"]
    assert str(ui.home) in info
    assert "telemetry" in (ui.home / "dagster.yaml").read_text()
    assert "we collect usage statistics" not in ui.log.read_text(errors="replace")


def test_graphql_lists_every_dbt_asset_check_and_source(ui: DagsterUI,
                                                        expected: dict[str, set]) -> None:
    """Assets = dbt models, seeds, snapshots + sources; checks = dbt tests + freshness of
    the raw export sources."""
    nodes = ui.graphql(ASSETS_QUERY)["assetNodes"]
    dbt_assets = {n["assetKey"]["path"][-1] for n in nodes
                  if n["opName"] == "retention_dbt_assets"}
    others = {"/".join(n["assetKey"]["path"]) for n in nodes
              if n["opName"] != "retention_dbt_assets"}
    assert dbt_assets == expected["assets"]
    assert others == expected["sources"]
    checks = {(n["assetKey"]["path"][-1], check["name"]) for n in nodes
              for check in n["assetChecksOrError"].get("checks", [])}
    dbt_checks = {check for check in checks if check[1] != "source_freshness"}
    assert dbt_checks == expected["checks"] and len(dbt_checks) > 100
    freshness = {"/".join(n["assetKey"]["path"]) for n in nodes
                 if {"name": "source_freshness"} in n["assetChecksOrError"].get("checks", [])}
    assert freshness == expected["freshness"] and len(freshness) >= 5


def test_graphql_lists_the_daily_schedule(ui: DagsterUI) -> None:
    """One code location, loaded without error, with the 06:00 UTC daily refresh schedule."""
    [entry] = ui.graphql(SCHEDULES_QUERY)["workspaceOrError"]["locationEntries"]
    location = entry["locationOrLoadError"]
    assert "message" not in location, location.get("message")
    schedules = [s for repo in location["repositories"] for s in repo["schedules"]]
    assert schedules == [{"name": "daily_refresh_schedule", "cronSchedule": "0 6 * * *",
                          "executionTimezone": "UTC", "pipelineName": "daily_refresh"}]


def test_chromium_shows_the_models_checks_and_schedule(
        ui: DagsterUI, expected: dict[str, set], browser: Chromium) -> None:
    """The asset graph draws every dbt model; a mart's checks tab and the schedule page
    name what they should."""
    models = sorted(expected["models"])
    graph = browser.text_when(f"{ui.url}/asset-groups/default", models)
    missing = [model for model in models if model not in graph]
    assert missing == [], f"models not drawn in the asset graph: {missing}"

    checks = sorted(name for asset, name in expected["checks"] if asset == "fct_orders")
    assert checks, "fct_orders has no dbt test"
    tab = browser.text_when(f"{ui.url}/assets/marts/fct_orders?view=checks", checks)
    assert [name for name in checks if name not in tab] == []

    automation = browser.text_when(f"{ui.url}/automation", ["daily_refresh_schedule"])
    assert "daily_refresh_schedule" in automation


def test_without_the_webserver_the_readme_start_fails_with_dagsters_message(
        tmp_path: Path) -> None:
    """``dagster_webserver`` unimportable (a broken environment): the start fails with
    Dagster's message and leaves no process behind."""
    broken = tmp_path / "broken" / "dagster_webserver"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        "raise ImportError('dagster-webserver removed for this test')\n")
    with pytest.raises(pytest.fail.Exception) as failure:
        start_ui(tmp_path, {"PYTHONPATH": str(broken.parent)})
    message = str(failure.value)
    assert "exited with" in message and "before serving" in message, message
    assert "dagster-webserver Python package must be installed" in message, message

"""``retention bench`` runs end to end at 2k customers and its figures are present and consistent.

A smoke run (one repetition, no timing asserts): the figures it prints and
writes are checked against what they describe — the generator's manifest and
the raw files themselves, dbt's own run results and manifest, the warehouse
file on disk. The cheaper parts (size parsing, the data cache, the process-tree
memory sampler) are tested directly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from retention_warehouse.bench.command import parse_size
from retention_warehouse.bench.dataset import cached_generate, history_start, size_data
from retention_warehouse.bench.dbt_steps import refresh_step_seconds
from retention_warehouse.bench.process import measure
from retention_warehouse.bench.render import (
    history_ratio,
    projection,
    projection_section,
    target_rows,
)
from retention_warehouse.settings import DEFAULT_DUCKDB_MEMORY_LIMIT

PROJECT_DIR = Path(__file__).resolve().parents[2]
SIZE = 2_000  # a smoke run: every figure is checked for consistency, not speed
LABEL = "2k"  # how the CLI takes it and the tables print it


@dataclass
class BenchRun:
    """One ``retention bench`` run: where it wrote, what it printed, its figures."""

    out_dir: Path
    stdout: str
    case: dict
    report: Path

    @property
    def workspace(self) -> Path:
        return self.out_dir / "runs" / f"parquet-{SIZE}-t2-m{DEFAULT_DUCKDB_MEMORY_LIMIT}"

    @property
    def base_dir(self) -> Path:
        return self.out_dir / "data" / f"parquet-{SIZE}-seed42" / "base"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> BenchRun:
    """Run the real command once for the module."""
    root = tmp_path_factory.mktemp("bench")
    figures, report = root / "figures.json", root / "report" / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, "-m", "retention_warehouse.cli", "bench", "--sizes", LABEL,
         "--runs", "1", "--out-dir", str(root / "out"), "--json", str(figures),
         "--report", str(report)],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    if result.returncode != 0:
        pytest.fail(f"retention bench failed ({result.returncode}):\n"
                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    cases = json.loads(figures.read_text())["cases"]
    assert len(cases) == 1, cases
    return BenchRun(out_dir=root / "out", stdout=result.stdout, case=cases[0], report=report)


def test_prints_every_table_with_the_size(bench: BenchRun) -> None:
    for title in ("Data and full build", "Side by side (medians)", "One-day refresh",
                  "Slowest models"):
        assert title in bench.stdout
    table_lines = [line for line in bench.stdout.splitlines() if line.strip().startswith(LABEL)]
    # one row in each table, two in the slowest-models table (full build, refresh)
    assert len(table_lines) == 5, bench.stdout


def test_raw_rows_and_bytes_are_the_generators_and_the_files(bench: BenchRun) -> None:
    manifest = json.loads((bench.base_dir / "_manifest.json").read_text())
    data = bench.case["data"]
    assert manifest["customers"] == SIZE
    assert data["rows_by_table"] == manifest["rows"]
    assert data["rows"] == sum(manifest["rows"].values())
    assert data["bytes"] == sum(manifest["bytes"].values())
    on_disk = sum(path.stat().st_size for path in bench.base_dir.glob("*/*.parquet"))
    assert data["bytes"] == on_disk
    with duckdb.connect() as con:
        counted = con.execute("select count(*) from read_parquet(?)",
                              [str(bench.base_dir / "transactions" / "*.parquet")]).fetchone()[0]
    assert data["transactions"] == counted > 0


def test_the_build_succeeded(bench: BenchRun) -> None:
    build = bench.case["build"]
    results = json.loads((bench.workspace / "kept" / "manifest.json").read_text())
    models = [uid for uid, node in results["nodes"].items() if node["resource_type"] == "model"]
    assert build["node_statuses"].get("success", 0) >= len(models) > 0
    assert build["failed_nodes"] == [], f"dbt build had failing nodes: {build['failed_nodes']}"
    assert "all passed" in bench.stdout


def test_model_timings_are_dbts_slowest_models(bench: BenchRun) -> None:
    build = bench.case["build"]
    manifest = json.loads((bench.workspace / "kept" / "manifest.json").read_text())
    model_names = {node["name"] for node in manifest["nodes"].values()
                   if node["resource_type"] == "model"}
    slowest = build["slowest_models"]
    assert len(slowest) == 5
    assert {row["model"] for row in slowest} <= model_names
    seconds = [row["median_seconds"] for row in slowest]
    assert seconds == sorted(seconds, reverse=True)
    assert build["seconds_by_node_type"]["model"] >= sum(seconds) - 0.01
    for row in slowest:
        assert row["model"] in bench.stdout


def test_time_memory_and_size_figures_are_consistent(bench: BenchRun) -> None:
    case = bench.case
    build = case["build"]
    assert build["runs"] == 1 and len(build["seconds"]) == 1
    # The process wall time contains dbt's own elapsed time.
    assert build["median_seconds"] >= build["dbt_elapsed_seconds"] > 0
    assert 50 * 2**20 < build["peak_rss_bytes"] < 64 * 2**30
    assert build["warehouse_bytes"] == (bench.workspace / "kept" / "bench.duckdb").stat().st_size
    for step in ("parse", "empty_build", "refresh", "refresh_fixed", "floor_a", "floor_b",
                 "peer"):
        assert case[step]["median_seconds"] > 0, step
        assert case[step]["peak_rss_bytes"] > 0, step
    ratios = case["ratios"]
    assert ratios["build_over_floor_a"] == pytest.approx(
        build["median_seconds"] / case["floor_a"]["median_seconds"], rel=0.01)
    assert ratios["fixed_overhead_seconds"] == pytest.approx(
        case["parse"]["median_seconds"] + case["empty_build"]["median_seconds"], abs=0.01)


def test_refresh_is_the_real_daily_path(bench: BenchRun) -> None:
    """The refresh figure is `retention refresh` on the next day's files: it published an
    incremental build with the daily selection (no unit tests, no seeds), and its own
    step timings add up inside its wall time."""
    refresh = bench.case["refresh"]
    log = (bench.workspace / "output" / "refresh-1.log").read_text()
    assert "refresh: incremental build" in log and "refresh: published" in log
    steps = refresh["step_seconds"]
    assert 0 < steps["dbt_build"] <= steps["total"] <= refresh["median_seconds"]
    run_results = json.loads((bench.workspace / "output" / "refresh-run_results.json")
                             .read_text())
    kinds = {result["unique_id"].split(".", 1)[0] for result in run_results["results"]}
    assert "model" in kinds and "test" in kinds and not kinds & {"unit_test", "seed"}, kinds
    assert refresh["failed_nodes"] == []
    assert sum(refresh["node_statuses"].values()) < sum(
        bench.case["build"]["node_statuses"].values())
    assert bench.case["ratios"]["refresh_over_build"] == pytest.approx(
        refresh["median_seconds"] / bench.case["build"]["median_seconds"], rel=0.01)
    fixed_log = (bench.workspace / "output" / "refresh-fixed-1.log").read_text()
    assert "Nothing to do" in fixed_log or "does not match any enabled nodes" in fixed_log
    # a new as-of date costs no re-parse (the refresh pins it at run time only)
    assert "Unable to do partial parsing" not in fixed_log, fixed_log
    assert 0 < bench.case["refresh_fixed"]["median_seconds"] < refresh["median_seconds"]


def test_refresh_timings_are_read_from_the_refresh_output() -> None:
    line = ("refresh: published /x/wh.duckdb (incremental; land 0.1 s, dbt_build 12.5 s, "
            "freshness 0.4 s, total 14.0 s)")
    assert refresh_step_seconds("noise\n" + line + "\n") == {
        "land": 0.1, "dbt_build": 12.5, "freshness": 0.4, "total": 14.0}
    assert refresh_step_seconds("refresh failed") == {}


def test_six_years_are_the_same_customers_over_a_longer_calendar(tmp_path: Path) -> None:
    assert history_start(3).isoformat() == "2023-01-01"
    assert history_start(6).isoformat() == "2020-01-01"
    with pytest.raises(ValueError, match="years"):
        history_start(7)
    three = size_data(tmp_path, 300, 1, "parquet", 3)
    six = size_data(tmp_path, 300, 1, "parquet", 6)
    assert six.base.path != three.base.path and six.years == 6
    assert six.base.manifest["start"] == "2020-01-01" == str(six.base.manifest["start"])
    with duckdb.connect() as con:
        first = {data.years: con.execute(
            "select min(left(transaction_at, 4)) from read_parquet(?) "
            "where transaction_at like '20__-%'",
            [str(data.base.path / "transactions" / "*.parquet")]).fetchone()[0]
            for data in (three, six)}
    assert first == {3: "2023", 6: "2020"}


def test_history_ratio_pairs_a_case_with_its_three_year_twin() -> None:
    def case(years: int, seconds: float, memory: str = "16GB") -> dict:
        return {"customers": 1_000_000, "format": "parquet", "duckdb_threads": 2,
                "memory_limit": memory, "dbt_threads": 2, "years": years,
                "build": {"median_seconds": seconds}}
    default = DEFAULT_DUCKDB_MEMORY_LIMIT
    # The 16GB pair comes first, so picking the first case would pick it.
    cases = [case(3, 90.0), case(6, 200.0), case(3, 100.0, default), case(6, 140.0, default)]
    assert history_ratio(cases[3], cases) == 1.4
    assert history_ratio(cases[1], cases) == pytest.approx(2.22)
    assert history_ratio(cases[2], cases) is None
    assert history_ratio(case(6, 1.0, "2GB"), cases) is None  # no 3-year twin
    rows = {row[0]: row for row in target_rows(cases)[1]}
    history = rows["1M: 6-year history build ≤ 1.5 × the 3-year build"]
    assert history[2] == "met"  # the default-settings pair (1.4), not the 16GB one (2.22)


def test_projection_follows_the_measured_growth_exponents() -> None:
    """Figures made to grow as customers**1.2 and years**0.5 project exactly so."""
    def case(customers: int, years: int) -> dict:
        seconds = 100.0 * (customers / 100_000) ** 1.2 * (years / 3) ** 0.5
        return {"customers": customers, "format": "parquet", "duckdb_threads": 2,
                "memory_limit": DEFAULT_DUCKDB_MEMORY_LIMIT, "dbt_threads": 2, "years": years,
                "build": {"median_seconds": seconds, "median_cpu_seconds": 2 * seconds}}
    cases = [case(10_000, 3), case(100_000, 3), case(1_000_000, 3), case(1_000_000, 6)]
    projected = projection(cases)
    assert projected is not None and projected["large"]["customers"] == 1_000_000
    assert projected["small"]["customers"] == 100_000
    assert projected["years_exponent"] == pytest.approx(0.5, abs=0.01)  # ratio rounded to 2
    build = next(row for row in projected["rows"] if row["figure"] == "full build s")
    at_1m = 100.0 * 10 ** 1.2
    assert build["exponent"] == pytest.approx(1.2)
    assert build["at_size"] == pytest.approx(at_1m * 10 ** 1.2)
    assert build["at_size_and_years"] == pytest.approx(at_1m * 10 ** 1.2 * (10 / 3) ** 0.5,
                                                       rel=0.01)
    cpu_10m_10y = 2 * at_1m * 10 ** 1.2 * (10 / 3) ** 0.5
    cores = re.search(r"\*\*([\d,]+) cores\*\*", projection_section(cases))
    assert cores and int(cores[1].replace(",", "")) == pytest.approx(cpu_10m_10y / 120, rel=0.01)
    # Without a 6-year twin there is no 10-year column; with one size, no projection.
    assert projection(cases[:3])["rows"][0]["at_size_and_years"] is None
    assert projection(cases[2:3]) is None
    assert "Needs two sizes" in projection_section(cases[2:3])


def test_bench_default_memory_limit_is_the_profiles() -> None:
    profiles = (PROJECT_DIR / "profiles.yml").read_text()
    assert (f"env_var('RETENTION_DUCKDB_MEMORY_LIMIT', '{DEFAULT_DUCKDB_MEMORY_LIMIT}')"
            in profiles)


def test_floors_and_peer_did_the_work(bench: BenchRun) -> None:
    case = bench.case
    with duckdb.connect() as con:
        customers = con.execute(
            # One group per customer id, the missing id (a raw defect) included.
            "select count(*) from (select distinct customer_id from read_parquet(?))",
            [str(bench.base_dir / "transactions" / "*.parquet")]).fetchone()[0]
    assert case["floor_a"]["customers"] == customers
    manifest = json.loads((bench.workspace / "kept" / "manifest.json").read_text())
    built = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"
             and node["config"]["materialized"] in ("table", "view", "incremental")]
    python = [node for node in built if node["language"] == "python"]  # kept, no SQL to time
    assert len(python) == 2
    assert case["floor_b"]["models"] == len(built) - len(python)
    assert case["floor_b"]["python_models"] == len(python)
    assert case["peer"]["orders"] > 0 and case["peer"]["kpi_months"] >= 30
    assert case["data"]["day_rows"] > 0


def test_report_holds_the_case(bench: BenchRun) -> None:
    text = bench.report.read_text()
    assert "<!-- bench:results:begin -->" in text and "<!-- bench:results:end -->" in text
    assert f"| {LABEL} |" in text
    stored = json.loads(bench.report.with_suffix(".json").read_text())["cases"]
    assert [case["customers"] for case in stored] == [SIZE]
    assert bench.report.with_name("benchmarks_time_vs_size.svg").read_text().startswith("<svg")


def test_report_keeps_hand_written_text_around_the_markers(bench: BenchRun,
                                                           tmp_path: Path) -> None:
    from retention_warehouse.bench.render import write_report

    report = tmp_path / "benchmarks.md"
    report.write_text("# Notes\nkept above\n<!-- bench:results:begin -->\nold\n"
                      "<!-- bench:results:end -->\nkept below\n")
    write_report(report, [bench.case])
    text = report.read_text()
    assert text.startswith("# Notes\nkept above\n") and text.endswith("kept below\n")
    assert "\nold\n" not in text and f"| {LABEL} |" in text


def test_sizes_parse_with_suffixes() -> None:
    assert [parse_size(text) for text in ("10k", "100K", "1m", "2500")] == [
        10_000, 100_000, 1_000_000, 2_500]
    for bad in ("ten", "0", "3m"):
        with pytest.raises(Exception, match="size"):
            parse_size(bad)


def test_generated_data_is_reused_only_when_the_manifest_matches(tmp_path: Path) -> None:
    first = cached_generate(tmp_path / "d", customers=300, seed=1, fmt="parquet")
    again = cached_generate(tmp_path / "d", customers=300, seed=1, fmt="parquet")
    other_seed = cached_generate(tmp_path / "d", customers=300, seed=2, fmt="parquet")
    assert first.generated_seconds is not None
    assert again.generated_seconds is None and again.manifest == first.manifest
    assert other_seed.generated_seconds is not None and other_seed.manifest["seed"] == 2


def test_peak_memory_covers_the_whole_process_tree(tmp_path: Path) -> None:
    # A parent that starts a child holding ~300 MB: the child's memory must count.
    child = "b = bytearray(300 * 2**20); import time; time.sleep(1.5)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    measured = measure([sys.executable, "-c", parent], tmp_path / "log.txt")
    assert measured.ok
    assert measured.peak_rss_bytes > 300 * 2**20
    assert measured.seconds >= 1.5

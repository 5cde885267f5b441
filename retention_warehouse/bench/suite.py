"""One benchmark case (a size with its settings): every measurement, repeated, medians kept.

The order matters and is fixed: parse, full builds (the last one's warehouse
and manifest are kept), empty builds, the two floors, the one-day refresh (the
real ``retention refresh`` on the next day's files, from a published copy of the
base batch) and dbt's fixed cost in it, then the pandas peer.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from retention_warehouse.bench.dataset import SizeData
from retention_warehouse.bench.dbt_steps import (
    BenchStepError,
    EngineSettings,
    Workspace,
    failed_nodes,
    node_statuses,
)
from retention_warehouse.bench.process import Measured, measure

# floor_b alone can be left out: at 1M it costs as much as the builds it explains.
STEPS = ("overhead", "floors", "floor_b", "refresh", "peer")
TOP_MODELS = 5


def summarise(runs: list[Measured]) -> dict:
    """Median wall time, CPU time and peak memory of repeated runs, plus every run's time."""
    return {
        "runs": len(runs),
        "seconds": [round(run.seconds, 3) for run in runs],
        "median_seconds": round(statistics.median(run.seconds for run in runs), 3),
        "median_cpu_seconds": round(statistics.median(run.cpu_seconds for run in runs), 3),
        "peak_rss_bytes": max(run.peak_rss_bytes for run in runs),
    }


def per_model_medians(all_results: list[dict]) -> tuple[list[dict], dict[str, float]]:
    """The slowest models by median execution time, and the median seconds per node type."""
    per_node: dict[str, list[float]] = {}
    by_type: list[dict[str, float]] = []
    for results in all_results:
        totals: dict[str, float] = {}
        for result in results["results"]:
            uid, seconds = result["unique_id"], float(result.get("execution_time") or 0.0)
            per_node.setdefault(uid, []).append(seconds)
            kind = uid.split(".", 1)[0]
            totals[kind] = totals.get(kind, 0.0) + seconds
        by_type.append(totals)
    models = sorted(((statistics.median(times), uid) for uid, times in per_node.items()
                     if uid.startswith("model.")), reverse=True)[:TOP_MODELS]
    kinds = {kind for totals in by_type for kind in totals}
    return ([{"model": uid.split(".", 2)[-1], "median_seconds": round(seconds, 3)}
             for seconds, uid in models],
            {kind: round(statistics.median(t.get(kind, 0.0) for t in by_type), 3)
             for kind in sorted(kinds)})


def _python_step(workspace: Workspace, name: str, args: list[str]) -> tuple[Measured, dict]:
    out = workspace.root / "output" / f"{name}.json"
    result = measure([sys.executable, *args, "--out", str(out)],
                     workspace.root / "output" / f"{name}.log")
    if not result.ok:
        raise BenchStepError(f"{name} failed (exit {result.returncode}); output in "
                             f"{result.log_path}:\n{result.log_tail()}")
    return result, json.loads(out.read_text())


def _repeat(runs: int, step: Callable[[int], Measured]) -> list[Measured]:
    return [step(run) for run in range(1, runs + 1)]


def run_case(root: Path, data: SizeData, engine: EngineSettings, runs: int,
             skip: set[str], say: Callable[[str], None]) -> dict:
    """Measure one size with one set of settings; return the case's figures."""
    workspace = Workspace(root=root, data=data, engine=engine)
    workspace.prepare()
    case: dict = {
        "customers": data.customers, "format": data.fmt, "years": data.years,
        "duckdb_threads": engine.duckdb_threads, "memory_limit": engine.memory_limit,
        "dbt_threads": engine.dbt_threads,
        "data": {
            "generated_seconds": data.base.generated_seconds,
            "rows": data.base.rows, "bytes": data.base.bytes,
            "rows_by_table": data.base.manifest["rows"],
            "transactions": data.base.manifest["rows"]["transactions"],
            "day_rows": data.day.rows,
            "day_generated_seconds": data.day.generated_seconds,
        },
    }
    label = f"{data.customers:,} customers, {data.years}y, {data.fmt}, {engine.label}"
    if "overhead" not in skip:
        say(f"[{label}] dbt parse x{runs}")
        case["parse"] = summarise(_repeat(runs, workspace.parse))
    say(f"[{label}] full dbt build x{runs}")
    builds: list[Measured] = []
    results: list[dict] = []
    for run in range(1, runs + 1):
        builds.append(workspace.full_build(run))
        results.append(workspace.run_results())
        if failed_nodes(results[-1]):
            say(f"[{label}] warning: the build finished with failing nodes: "
                f"{', '.join(failed_nodes(results[-1]))} (timed anyway; see {root}/output)")
    kept_db = root / "kept" / workspace.db_path.name
    kept_manifest = root / "kept" / "manifest.json"
    kept_db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(workspace.db_path, kept_db)
    shutil.copyfile(workspace.target_dir / "manifest.json", kept_manifest)
    slowest, by_type = per_model_medians(results)
    case["build"] = summarise(builds) | {
        "warehouse_bytes": kept_db.stat().st_size,
        "node_statuses": node_statuses(results[-1]),
        "failed_nodes": failed_nodes(results[-1]),
        "slowest_models": slowest,
        "seconds_by_node_type": by_type,
        "dbt_elapsed_seconds": round(statistics.median(r["elapsed_time"] for r in results), 3),
    }
    if "overhead" not in skip:
        say(f"[{label}] empty dbt build x{runs}")
        case["empty_build"] = summarise(_repeat(runs, workspace.empty_build))
    engine_args = ["--threads", str(engine.duckdb_threads), "--memory-limit", engine.memory_limit]
    if "floors" not in skip:
        say(f"[{label}] floor (a) x{runs}")
        floor_a = [_python_step(workspace, f"floor-a-{run}", [
            "-m", "retention_warehouse.bench.floors", "a", "--raw-dir", str(workspace.raw_dir),
            "--format", data.fmt, "--db", str(root / "floor_a" / "floor_a.duckdb"),
            *engine_args]) for run in range(1, runs + 1)]
        case["floor_a"] = _floor_summary(floor_a)
        shutil.rmtree(root / "floor_a", ignore_errors=True)
    if "floors" not in skip and "floor_b" not in skip:
        say(f"[{label}] floor (b) x{runs}")
        floor_b = [_python_step(workspace, f"floor-b-{run}", [
            "-m", "retention_warehouse.bench.floors", "b", "--db", str(kept_db),
            "--manifest", str(kept_manifest), "--work-dir", str(root / "floor_b"),
            *engine_args]) for run in range(1, runs + 1)]
        case["floor_b"] = _floor_summary(floor_b)
    if "refresh" not in skip:
        say(f"[{label}] first refresh (publishes the base batch), then the one-day "
            f"refresh x{runs}")
        workspace.prepare_refresh()
        refreshes = [workspace.refresh(run) for run in range(1, runs + 1)]
        results = workspace.refresh_run_results()
        steps = {name: round(statistics.median(r[1].get(name, 0.0) for r in refreshes), 3)
                 for name in refreshes[-1][1]}
        slowest, by_type = per_model_medians([results])
        case["refresh"] = summarise([r[0] for r in refreshes]) | {
            "step_seconds": steps,
            "node_statuses": node_statuses(results),
            "failed_nodes": failed_nodes(results),
            "slowest_models": slowest,
            "seconds_by_node_type": by_type,
        }
        say(f"[{label}] dbt's fixed cost in a refresh x{runs}")
        case["refresh_fixed"] = summarise(_repeat(runs, workspace.refresh_fixed_cost))
    if "peer" not in skip:
        say(f"[{label}] pandas peer x{runs}")
        peer = [_python_step(workspace, f"peer-{run}", [
            "-m", "retention_warehouse.bench.peer", str(workspace.raw_dir), data.fmt])
            for run in range(1, runs + 1)]
        case["peer"] = _floor_summary(peer)
    case["ratios"] = ratios(case)
    workspace.drop_warehouse()
    return case


def _floor_summary(runs: list[tuple[Measured, dict]]) -> dict:
    """Floors and the peer time themselves (no interpreter start-up); keep both figures."""
    measured = [run for run, _ in runs]
    inner = [figures for _, figures in runs]
    summary = summarise(measured)
    summary["process_median_seconds"] = summary.pop("median_seconds")
    summary["median_seconds"] = round(statistics.median(f["seconds"] for f in inner), 3)
    for key, value in inner[-1].items():
        if key != "seconds":
            summary[key] = round(statistics.median(f[key] for f in inner), 3) \
                if key.endswith("seconds") else value
    return summary


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def ratios(case: dict) -> dict:
    """The ratios the targets are stated in."""
    build = case["build"]["median_seconds"]
    floor_b = case.get("floor_b", {})
    peer = case.get("peer", {})
    return {
        "build_over_floor_a": _ratio(build, case.get("floor_a", {}).get("median_seconds")),
        "build_over_floor_b": _ratio(build, floor_b.get("median_seconds")),
        "build_over_floor_b_with_tests": _ratio(
            build, (floor_b.get("median_seconds") or 0) + (floor_b.get("test_seconds") or 0)),
        "refresh_over_build": _ratio(case.get("refresh", {}).get("median_seconds"), build),
        "build_over_pandas": _ratio(build, peer.get("median_seconds")),
        "build_memory_over_pandas": _ratio(case["build"]["peak_rss_bytes"],
                                           peer.get("peak_rss_bytes")),
        "fixed_overhead_seconds": round(case["parse"]["median_seconds"]
                                        + case["empty_build"]["median_seconds"], 3)
        if "parse" in case and "empty_build" in case else None,
    }

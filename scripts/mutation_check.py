"""Mutation check: does the test suite catch wrong metric formulas?

Each mutation is a deliberate, realistic mistake in one model or macro (churn window
off by one, refunds ignored, strict retention used as retention, tier lower bound
exclusive, ...). For each one the script

1. copies the project (models, macros, seeds, config; never the real files) into a
   temporary folder and applies the mutation there;
2. starts from a copy of a warehouse built from the unmutated project and rebuilds the
   mutated model and everything downstream of it (``dbt run``);
3. runs the checks: the dbt unit tests and the dbt data tests of those models
   (``dbt test``, told apart in run_results.json), and the independent Python oracle
   (``retention_warehouse.oracle``, the one the tests and the checkpoint use) compared
   with every mart;
4. reports which checks failed (= killed the mutation).

The unmutated baseline must pass every check first, otherwise a "kill" means nothing.

Usage::

    .venv/bin/python scripts/mutation_check.py [--customers 2000] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from retention_warehouse.oracle import COMPARE_SPECS, compare_frames, compute_oracle  # noqa: E402
from retention_warehouse.pii import resolve_hash_key  # noqa: E402

# What a mutated copy of the project needs (no venv, git, targets or data).
PROJECT_ITEMS = ("dbt_project.yml", "profiles.yml", "packages.yml", "models", "macros",
                 "seeds", "snapshots", "tests", "analyses")


@dataclass(frozen=True)
class Mutation:
    """One deliberate mistake: replace ``old`` by ``new`` (every occurrence) in ``path``."""

    name: str
    description: str
    path: str
    old: str
    new: str
    select: str | None  # dbt selector of what to rebuild; None = everything


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "churn_window_off_by_one",
        "active needs a purchase within churn_inactivity_days - 1 days (window one day short)",
        "models/intermediate/customers/int_customers_periods_stated.sql",
        "-var('churn_inactivity_days')", "-var('churn_inactivity_days') + 1",
        "int_customers_periods_stated+",
    ),
    Mutation(
        "refunds_ignored",
        "an order's net amount ignores its refunds",
        "models/intermediate/orders/int_orders_netted.sql",
        "orders_in_scope.sale_amount\n            - coalesce(refunds_by_order.refunded_amount, 0)",
        "orders_in_scope.sale_amount\n            - 0",
        "int_orders_netted+",
    ),
    Mutation(
        "strict_retention_as_retention",
        "customer retention rate computed as (S - L) / S instead of (E - N) / S",
        "models/marts/retention/fct_retention_kpis.sql",
        "safe_pct('customers_at_end - new_customers', 'customers_at_start')",
        "safe_pct('customers_at_start - lost_customers', 'customers_at_start')",
        "fct_retention_kpis+",
    ),
    Mutation(
        "tier_bound_exclusive",
        "tier lower bound exclusive (spend must exceed the threshold)",
        "models/intermediate/customers/int_customers_months_tiered.sql",
        "trailing_spend.trailing_12m_net_revenue >= tier_bands.lower_bound",
        "trailing_spend.trailing_12m_net_revenue > tier_bands.lower_bound",
        "int_customers_months_tiered+",
    ),
    Mutation(
        "zero_denominator_gives_zero",
        "every rate is 0 instead of NULL when its denominator is 0 (S = 0)",
        "macros/ratios.sql",
        "            / {{ denominator }}\n    end",
        "            / {{ denominator }}\n        else 0\n    end",
        None,
    ),
    Mutation(
        "nps_passives_as_promoters",
        "NPS promoters are 8-10 instead of 9-10",
        "models/marts/retention/fct_survey_responses.sql",
        "survey_type = 'nps' and is_positive as is_promoter",
        "survey_type = 'nps' and (is_positive or score = 8) as is_promoter",
        "fct_survey_responses+",
    ),
    Mutation(
        "fx_not_applied",
        "net revenue booked in the order currency (no FX conversion)",
        "models/intermediate/orders/int_orders_netted.sql",
        "round(net_amount * fx_rate_to_reporting, 2)",
        "round(net_amount, 2)",
        "int_orders_netted+",
    ),
    Mutation(
        "unknown_cac_as_zero",
        "historical CLTV treats an unknown CAC as 0",
        "models/marts/value/fct_customer_lifetime_value.sql",
        "cast(net_revenue - cac as decimal(18, 2))",
        "cast(net_revenue - coalesce(cac, 0) as decimal(18, 2))",
        "fct_customer_lifetime_value+",
    ),
    Mutation(
        "unbounded_retention_cumulated_forwards",
        "unbounded retention counts last purchases up to k instead of from k on",
        "models/marts/retention/fct_cohort_retention.sql",
        "order by grid.period_start desc",
        "order by grid.period_start asc",
        "fct_cohort_retention+",
    ),
    Mutation(
        "rfm_ties_split",
        "RFM frequency scores by row position: tied customers get different scores",
        "models/intermediate/customers/int_customers_rfm_scored.sql",
        "rank() over (order by frequency asc) as frequency_rank",
        "row_number() over (order by frequency asc, customer_id) as frequency_rank",
        "int_customers_rfm_scored+",
    ),
    Mutation(
        "same_day_purchases_counted_apart",
        "every purchase is a transaction (two orders on one day count twice)",
        "models/intermediate/customers/int_customers_rfm_scored.sql",
        "    group by customer_id, order_date\n",
        "    group by customer_id, order_date, order_id\n",
        "int_customers_rfm_scored+",
    ),
    Mutation(
        "monetary_includes_first_purchase",
        "monetary value counts the first purchase day's revenue too",
        "models/intermediate/customers/int_customers_rfm_scored.sql",
        "case when day_number > 1 then day_net_revenue else 0 end",
        "day_net_revenue",
        "int_customers_rfm_scored+",
    ),
    Mutation(
        "day_first_timestamps_dropped",
        "the DD/MM/YYYY timestamp format is no longer parsed",
        "macros/parse_timestamp_utc.sql",
        "else cast(try_strptime({{ expression }}, '%d/%m/%Y %H:%M:%S %z') as timestamp)",
        "else cast(null as timestamp)",
        None,
    ),
    Mutation(
        "tier_since_acquisition",
        "current_tier_since is the acquisition month, not the month the current tier began "
        "(no dbt test covers it: only the oracle comparison of dim_customers can catch it)",
        "models/marts/core/dim_customers.sql",
        "where tier_change != 'same'",
        "where tier_change = 'new'",
        "dim_customers+",
    ),
)


@dataclass
class Outcome:
    """What the checks said about one mutation."""

    mutation: str
    unit_tests: list[str] = field(default_factory=list)
    data_tests: list[str] = field(default_factory=list)
    oracle: list[str] = field(default_factory=list)
    build_failed: bool = False
    error: str | None = None
    seconds: float = 0.0

    @property
    def killed_by(self) -> list[str]:
        """Names of the checks that failed."""
        checks = []
        if self.build_failed:
            checks.append("dbt run (a model no longer builds)")
        if self.unit_tests:
            checks.append(f"dbt unit tests ({len(self.unit_tests)})")
        if self.data_tests:
            checks.append(f"dbt data tests ({len(self.data_tests)})")
        if self.oracle:
            checks.append(f"oracle ({len(self.oracle)} marts)")
        return checks

    @property
    def killed(self) -> bool:
        """At least one check failed."""
        return bool(self.killed_by)


class MutationError(RuntimeError):
    """A mutation could not be applied or the mutated project did not build."""


def copy_project(destination: Path) -> Path:
    """A copy of the dbt project (sources only) in ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for item in PROJECT_ITEMS:
        source = PROJECT_DIR / item
        if source.is_dir():
            shutil.copytree(source, destination / item,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, destination / item)
    return destination


def copy_database(source: Path, destination: Path) -> None:
    """Copy a DuckDB file (and its write-ahead log, if one was left) for a private run."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copy2(wal, destination.with_name(destination.name + ".wal"))


def apply_mutation(project: Path, mutation: Mutation) -> None:
    """Apply the mutation to the copy; fail clearly when the code it targets has changed."""
    path = project / mutation.path
    text = path.read_text()
    if mutation.old not in text:
        raise MutationError(f"{mutation.name}: the text to mutate is no longer in "
                            f"{mutation.path} (update the mutation): {mutation.old!r}")
    path.write_text(text.replace(mutation.old, mutation.new))


def dbt_env(project: Path, db_path: Path, raw_dir: Path, work: Path) -> dict[str, str]:
    """Environment of a dbt run on a copy: its own project, database, target and logs."""
    env = dict(os.environ)
    env.update({
        "DBT_PROJECT_DIR": str(project),
        "DBT_PROFILES_DIR": str(project),
        "DBT_TARGET": "dev",
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "RETENTION_DB": str(db_path),
        "RETENTION_RAW_DIR": str(raw_dir),
        "DBT_THREADS": "2",
    })
    env.pop("RETENTION_RAW_FORMAT", None)
    return env


def run_dbt(args: Sequence[str], project: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run dbt in the copy; (return code, stdout tail)."""
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run([str(dbt) if dbt.exists() else "dbt", *args], cwd=project, env=env,
                            capture_output=True, text=True, check=False)
    return result.returncode, (result.stdout + result.stderr)[-4000:]


def node_results(target_dir: Path) -> list[dict]:
    """The node results of the last dbt invocation in ``target_dir`` (none if it crashed)."""
    path = target_dir / "run_results.json"
    return json.loads(path.read_text())["results"] if path.exists() else []


def failed_tests(results: list[dict]) -> tuple[list[str], list[str]]:
    """(failed unit tests, failed data tests) of one ``dbt test`` invocation."""
    bad = [r["unique_id"] for r in results if r["status"] in ("fail", "error")]
    return ([u for u in bad if u.startswith("unit_test.")],
            [u for u in bad if u.startswith("test.")])


def expected_marts(raw_dir: Path, db_path: Path) -> dict:
    """The oracle's marts of a raw folder (default vars, customer keys included), with the
    unmutated build's fitted value-model parameters (a run parameter: a mutation that
    changes the histories then shows in P(alive) and the expected order value too)."""
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        fitted = con.execute("select * from marts.fct_customer_value_model").df()
    return compute_oracle(raw_dir, PROJECT_DIR / "seeds", hash_key=resolve_hash_key(raw_dir),
                          value_model=fitted)


def oracle_differences(db_path: Path, expected: dict) -> list[str]:
    """Names of the marts that differ from the oracle."""
    import duckdb

    differing = []
    with duckdb.connect(str(db_path), read_only=True) as con:
        for table, spec in COMPARE_SPECS.items():
            try:
                actual = con.execute(f"select * from marts.{table}").df()
            except duckdb.Error as error:  # the mart did not build
                differing.append(f"{table} ({error.__class__.__name__})")
                continue
            if compare_frames(expected[table], actual, **spec, max_diffs=1):
                differing.append(table)
    return differing


def run_checks(project: Path, db_path: Path, raw_dir: Path, work: Path, select: str | None,
               expected: dict | None) -> Outcome:
    """Rebuild ``select`` in ``db_path`` and run unit tests, data tests and the oracle."""
    outcome = Outcome(mutation="")
    env = dbt_env(project, db_path, raw_dir, work)
    selection = ["--select", select] if select else []
    target = work / "target"
    (target / "run_results.json").unlink(missing_ok=True)
    code, log = run_dbt(["run", "--full-refresh", *selection], project, env)
    if code != 0:
        if not any(r["status"] == "error" for r in node_results(target)):
            # Not a model that fails: the project did not parse or dbt did not start.
            raise MutationError(f"dbt run did not get to the models:\n{log}")
        # A model that no longer builds is caught by the build itself.
        outcome.build_failed = True
        outcome.error = "dbt run failed: " + log[-600:]
    (target / "run_results.json").unlink(missing_ok=True)
    code, log = run_dbt(["test", *selection], project, env)
    outcome.unit_tests, outcome.data_tests = failed_tests(node_results(target))
    if code != 0 and not (outcome.unit_tests or outcome.data_tests):
        raise MutationError(f"dbt test failed without a failing test:\n{log}")
    if expected is not None:
        outcome.oracle = oracle_differences(db_path, expected)
    return outcome


def build_baseline(root: Path, customers: int, seed: int) -> tuple[Path, Path, dict]:
    """Generate raw data, build the unmutated copy, and compute the oracle."""
    from retention_warehouse.generate import generate

    raw_dir = root / "raw"
    generate(raw_dir, customers=customers, seed=seed, fmt="csv")
    project = copy_project(root / "baseline_project")
    # DuckDB names the catalog after the file, and views refer to it: every copy of the
    # database keeps the name warehouse.duckdb.
    db_path = root / "baseline" / "warehouse.duckdb"
    env = dbt_env(project, db_path, raw_dir, root / "baseline")
    code, log = run_dbt(["build", "--exclude", "resource_type:saved_query"], project, env)
    if code != 0:
        raise MutationError(f"the unmutated project does not build green:\n{log}")
    expected = expected_marts(raw_dir, db_path)
    differing = oracle_differences(db_path, expected)
    if differing:
        raise MutationError(f"the unmutated marts already differ from the oracle: {differing}")
    return raw_dir, db_path, expected


def check_mutation(mutation: Mutation, root: Path, raw_dir: Path, baseline_db: Path,
                   expected: dict | None) -> Outcome:
    """Apply one mutation to a fresh copy and run the checks against it."""
    started = time.monotonic()
    work = root / mutation.name
    project = copy_project(work / "project")
    apply_mutation(project, mutation)
    db_path = work / "warehouse.duckdb"
    copy_database(baseline_db, db_path)
    outcome = run_checks(project, db_path, raw_dir, work, mutation.select, expected)
    outcome.mutation = mutation.name
    outcome.seconds = time.monotonic() - started
    return outcome


def format_table(outcomes: Sequence[Outcome]) -> str:
    """A Markdown table: mutation, killed by, seconds; then the kill rate."""
    by_name = {m.name: m for m in MUTATIONS}
    lines = ["| mutation | what is wrong | killed by | s |", "|---|---|---|---|"]
    for o in outcomes:
        verdict = ", ".join(o.killed_by) if o.killed else "**SURVIVED**"
        if o.error and not o.killed:
            verdict += f" (error: {o.error[:80]})"
        lines.append(f"| `{o.mutation}` | {by_name[o.mutation].description} | {verdict} | "
                     f"{o.seconds:.0f} |")
    killed = sum(o.killed for o in outcomes)
    lines.append("")
    lines.append(f"Kill rate: {killed}/{len(outcomes)} = "
                 f"{100 * killed / max(len(outcomes), 1):.0f} %")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every (or the selected) mutation; exit 1 when one survives."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", nargs="*", choices=[m.name for m in MUTATIONS],
                        help="run only these mutations")
    parser.add_argument("--details", action="store_true",
                        help="list the failing tests and marts of each mutation")
    args = parser.parse_args(argv)
    mutations = [m for m in MUTATIONS if not args.only or m.name in args.only]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation_check_") as tmp:
        root = Path(tmp)
        try:
            raw_dir, baseline_db, expected = build_baseline(root, args.customers, args.seed)
        except MutationError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"baseline green (unit tests, data tests, oracle) in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        outcomes = []
        for mutation in mutations:
            try:
                outcome = check_mutation(mutation, root, raw_dir, baseline_db, expected)
            except MutationError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            outcomes.append(outcome)
            print(f"  {mutation.name}: {', '.join(outcome.killed_by) or 'SURVIVED'} "
                  f"({outcome.seconds:.0f} s)", flush=True)
            if args.details:
                for item in [*outcome.unit_tests, *outcome.data_tests, *outcome.oracle]:
                    print(f"      {item}")
                if outcome.error:
                    print(f"      {outcome.error}")
    print()
    print(format_table(outcomes))
    print(f"\n{args.customers} customers, seed {args.seed}; total "
          f"{time.monotonic() - started:.0f} s")
    return 0 if all(o.killed for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())

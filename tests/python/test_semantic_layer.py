"""The MetricFlow semantic layer answers, and its answers equal the marts' rows.

``mf`` reads ``target/semantic_manifest.json`` under the dbt project root (it
ignores ``DBT_TARGET_PATH``), so each test runs it in a throwaway project
folder holding a link to ``dbt_project.yml`` and a ``target`` link to the
session warehouse's dbt target; the profile (``RETENTION_DB``) points it at the
session warehouse file. Expected values are the mart rows dbt built
(``fct_retention_kpis``, ``fct_customer_lifetime_value``), never MetricFlow's
own output: the semantic layer must give the same numbers a BI tool reads from
the marts, including when a metric is sliced by region or tier.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, BuiltWarehouse

MF = Path(sys.executable).with_name("mf")

# fct_retention_kpis columns answered by the MetricFlow metric of the same name
KPI_COLUMNS = ("customers_at_start", "customers_at_end", "new_customers", "reactivated_customers",
               "lost_customers", "at_risk_customers_at_end", "customer_retention_rate",
               "strict_retention_rate", "churn_rate", "referral_rate", "purchases",
               "net_revenue", "average_order_value", "purchase_frequency")
KPI_METRICS = {column: column for column in KPI_COLUMNS}
SURVEY_METRICS = {"nps": "nps", "csat": "csat", "ces": "ces"}
CUSTOMER_PERIOD_COLUMNS = ("customers_at_start", "customers_at_end", "new_customers",
                           "lost_customers", "customer_retention_rate", "churn_rate",
                           "strict_retention_rate", "referral_rate")
PURCHASE_COLUMNS = ("net_revenue", "average_order_value", "purchase_frequency")


@dataclass
class MetricFlow:
    """Runs the ``mf`` command line against the session warehouse."""

    project_dir: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """One ``mf`` command; fails the test with its output when it fails."""
        result = subprocess.run([str(MF), *args], cwd=self.project_dir, env=self.env,
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"mf {' '.join(args)} failed:\n{result.stdout[-4000:]}{result.stderr}")
        return result

    def query(self, *args: str) -> list[dict[str, str]]:
        """Rows of ``mf query`` (written as CSV) as dictionaries of strings."""
        out = self.project_dir / "query.csv"
        out.unlink(missing_ok=True)
        self.run("query", "--quiet", *args, "--csv", str(out))
        with out.open(newline="") as handle:
            return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def metricflow(warehouse: BuiltWarehouse, tmp_path_factory: pytest.TempPathFactory) -> MetricFlow:
    """``mf`` pointed at the session warehouse and its semantic manifest."""
    assert (warehouse.target_dir / "semantic_manifest.json").is_file(), \
        "dbt build wrote no semantic_manifest.json"
    project = tmp_path_factory.mktemp("metricflow_project")
    (project / "dbt_project.yml").symlink_to(PROJECT_DIR / "dbt_project.yml")
    (project / "target").symlink_to(warehouse.target_dir, target_is_directory=True)
    env = {**warehouse.env, "DBT_PROJECT_DIR": str(project),
           "DBT_LOG_PATH": str(project / "logs")}
    return MetricFlow(project_dir=project, env=env)


def _number(value: object) -> float | None:
    """A mart value or an ``mf`` CSV cell as a float (None for NULL / empty)."""
    if value is None or value == "":
        return None
    return float(value)  # type: ignore[arg-type]


def _assert_same(label: str, mart_value: object, mf_value: str) -> None:
    """Equal up to float rounding, NULL only where the mart is NULL."""
    expected, actual = _number(mart_value), _number(mf_value)
    if expected is None or actual is None:
        assert expected is None and actual is None, f"{label}: mart {expected}, mf {actual}"
        return
    assert math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-6), \
        f"{label}: mart {expected}, mf {actual}"


def _mart_kpis(warehouse: BuiltWarehouse, segment_type: str,
               columns: list[str]) -> dict[tuple[str, str], dict[str, object]]:
    """fct_retention_kpis rows of one segment type keyed by (period_start, segment_value)."""
    rows = warehouse.query(
        f"select cast(period_start as varchar), segment_value, {', '.join(columns)} "
        f"from marts.fct_retention_kpis where segment_type = '{segment_type}'")
    return {(row[0], row[1]): dict(zip(columns, row[2:], strict=True)) for row in rows}


def _compare(mart: dict[tuple[str, str], dict[str, object]],
             answer: dict[tuple[str, str], dict[str, str]], metric_of: dict[str, str]) -> None:
    """Every mart row has an ``mf`` row with the same values, and nothing more."""
    assert mart, "the mart has no rows to compare"
    assert sorted(answer) == sorted(mart), "mf and the mart disagree on the rows"
    for key, row in mart.items():
        for column, metric in metric_of.items():
            _assert_same(f"{key} {metric}", row[column], answer[key][metric])


def misnamed_simple_metrics(semantic_manifest: dict) -> list[str]:
    """Simple metrics not named like the measure they sum. The measures are named like the
    mart columns holding the same number (customers_at_end, at_risk_customers_at_end,
    expected_revenue_12m, ...), so a BI user finds one name for one number."""
    return sorted(f"{metric['name']} (measure {metric['type_params']['measure']['name']})"
                  for metric in semantic_manifest["metrics"] if metric["type"] == "simple"
                  and metric["type_params"]["measure"]["name"] != metric["name"])


def test_metrics_are_named_like_their_measure_and_mart_column(
        warehouse: BuiltWarehouse) -> None:
    """Every simple metric has its measure's name, and each KPI column of fct_retention_kpis
    is answered by the metric of the same name (compared by value in the tests below)."""
    manifest = json.loads((warehouse.target_dir / "semantic_manifest.json").read_text())
    assert misnamed_simple_metrics(manifest) == []
    metrics = {metric["name"] for metric in manifest["metrics"]}
    columns = {row[0] for row in warehouse.query("describe marts.fct_retention_kpis")}
    assert set(KPI_COLUMNS) | set(SURVEY_METRICS) <= metrics & columns
    # The check can fail: E named active_customers (the cohort mart's column for another
    # number) is reported.
    renamed = copy.deepcopy(manifest)
    for metric in renamed["metrics"]:
        if metric["name"] == "customers_at_end":
            metric["name"] = "active_customers"
    assert misnamed_simple_metrics(renamed) == ["active_customers (measure customers_at_end)"]


def test_metricflow_configs_validate_against_the_warehouse(metricflow: MetricFlow) -> None:
    """``mf validate-configs`` passes, data-warehouse checks included (every metric queried)."""
    result = metricflow.run("validate-configs")
    output = result.stdout + result.stderr
    assert "Successfully validated metrics against data warehouse" in output, output[-3000:]
    assert "ERRORS: 0" in output and "ERROR:" not in output, output[-3000:]


def test_monthly_kpis_match_fct_retention_kpis(metricflow: MetricFlow,
                                               warehouse: BuiltWarehouse) -> None:
    """Retention, churn, counts, revenue, AOV, frequency, referral, NPS/CSAT/CES by month."""
    metric_of = {**KPI_METRICS, **SURVEY_METRICS}
    rows = metricflow.query("--metrics", ",".join(metric_of.values()),
                            "--group-by", "metric_time__month")
    answer = {(row["metric_time__month"][:10], "all"): row for row in rows}
    _compare(_mart_kpis(warehouse, "total", list(metric_of)), answer, metric_of)


@pytest.mark.parametrize(("segment_type", "dimension", "columns"), [
    ("region", "customer__region", CUSTOMER_PERIOD_COLUMNS + PURCHASE_COLUMNS),
    # The period's tier belongs to the customer-period, which orders cannot reach: purchase
    # metrics by tier are read from fct_retention_kpis (documented in the semantic model).
    ("tier", "customer_period__tier_at_end", CUSTOMER_PERIOD_COLUMNS),
])
def test_sliced_kpis_are_ratios_of_the_slice(metricflow: MetricFlow, warehouse: BuiltWarehouse,
                                             segment_type: str, dimension: str,
                                             columns: tuple[str, ...]) -> None:
    """Sliced by region or tier, each rate equals the mart's segment row (ratio of sums)."""
    metric_of = {column: KPI_METRICS[column] for column in columns}
    rows = metricflow.query("--metrics", ",".join(metric_of.values()),
                            "--group-by", f"metric_time__month,{dimension}")
    answer = {(row["metric_time__month"][:10], row[dimension]): row for row in rows}
    _compare(_mart_kpis(warehouse, segment_type, list(metric_of)), answer, metric_of)


def test_historical_cltv_by_channel_matches_customer_lifetime_value(
        metricflow: MetricFlow, warehouse: BuiltWarehouse) -> None:
    """Mean historical CLTV per acquisition channel equals the mart's per-customer values."""
    rows = metricflow.query("--metrics", "historical_cltv,customers_with_known_cac",
                            "--group-by", "customer__acquisition_channel")
    answer = {row["customer__acquisition_channel"]: row for row in rows}
    mart = warehouse.query(
        "select acquisition_channel, avg(historical_cltv), count(historical_cltv) "
        "from marts.fct_customer_lifetime_value group by acquisition_channel")
    assert mart and sorted(answer) == sorted(channel for channel, _, _ in mart)
    assert any(known for _, _, known in mart), "no customer has a known CAC"
    for channel, mean_cltv, known in mart:
        _assert_same(f"{channel} historical_cltv", mean_cltv, answer[channel]["historical_cltv"])
        _assert_same(f"{channel} customers_with_known_cac", known,
                     answer[channel]["customers_with_known_cac"])


def test_saved_query_monthly_retention_matches_the_mart(metricflow: MetricFlow,
                                                        warehouse: BuiltWarehouse) -> None:
    """The dashboard's saved query answers with the mart's monthly rates."""
    rows = metricflow.query("--saved-query", "monthly_retention")
    answer = {(row["metric_time__month"][:10], "all"): row for row in rows}
    metric_of = {column: KPI_METRICS[column] for column in (
        "customer_retention_rate", "strict_retention_rate", "churn_rate", "customers_at_start",
        "customers_at_end", "new_customers", "reactivated_customers", "lost_customers")}
    _compare(_mart_kpis(warehouse, "total", list(metric_of)), answer, metric_of)


def test_expected_revenue_12m_matches_the_predictions_mart(
        metricflow: MetricFlow, warehouse: BuiltWarehouse) -> None:
    """Expected revenue, CLV and alive customers by region equal sums of the mart's rows."""
    metrics = ("expected_revenue_12m", "predicted_clv_12m", "expected_alive_customers")
    rows = metricflow.query("--metrics", ",".join(metrics), "--group-by", "customer__region")
    answer = {row["customer__region"]: row for row in rows}
    mart = warehouse.query(
        "select customers.region, sum(predictions.expected_revenue_12m), "
        "sum(predictions.predicted_clv_12m), sum(predictions.p_alive) "
        "from marts.fct_customer_predictions as predictions "
        "inner join marts.dim_customers as customers "
        "on predictions.customer_key = customers.customer_key group by customers.region")
    assert mart and sorted(answer) == sorted(region for region, *_ in mart)
    for region, *values in mart:
        for metric, value in zip(metrics, values, strict=True):
            _assert_same(f"{region} {metric}", value, answer[region][metric])
    [(total,)] = warehouse.query("select sum(expected_revenue_12m) "
                                 "from marts.fct_customer_predictions")
    [row] = metricflow.query("--metrics", "expected_revenue_12m")
    _assert_same("total expected_revenue_12m", total, row["expected_revenue_12m"])

"""The project's own rules, read from dbt's manifest and the built warehouse.

Every model and column documented, marts contracted with a primary-key test,
naming conventions, only base models reading sources, `make lint` clean (sqlfluff
with the dbt templater, ruff), analyses compile and run, CI runs the
README's test command.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = PROJECT_DIR / ".venv" / "bin"


def project_models(manifest: dict) -> list[dict]:
    """This project's model nodes (not packages')."""
    return [n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["package_name"] == "retention_warehouse"]


def generic_tests_of(manifest: dict, node_id: str) -> list[dict]:
    """Generic data tests attached to a model."""
    return [n for n in manifest["nodes"].values()
            if n["resource_type"] == "test" and node_id in n["depends_on"]["nodes"]
            and n.get("test_metadata")]


def test_every_model_and_every_built_column_is_documented(warehouse) -> None:
    manifest = warehouse.dbt_manifest
    problems = []
    with warehouse.connect() as con:
        built = con.execute("select table_schema, table_name, column_name "
                            "from information_schema.columns").fetchall()
    columns_of: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in built:
        columns_of.setdefault((schema, table), []).append(column)
    for node in project_models(manifest):
        if not node["description"].strip():
            problems.append(f"{node['name']}: no description")
        documented = {name.lower(): c for name, c in node["columns"].items()}
        for column in columns_of.get((node["schema"], node["alias"]), []):
            entry = documented.get(column.lower())
            if entry is None or not entry["description"].strip():
                problems.append(f"{node['name']}.{column}: not documented")
        for name in documented:
            if name not in {c.lower() for c in columns_of.get((node["schema"], node["alias"]), [])}:
                problems.append(f"{node['name']}.{name}: documented but not built")
    assert problems == []


def test_every_mart_is_public_contracted_and_has_a_primary_key_test(warehouse) -> None:
    manifest = warehouse.dbt_manifest
    marts = [n for n in project_models(manifest) if n["fqn"][1] == "marts"]
    assert len(marts) >= 8
    for node in marts:
        assert node["contract"]["enforced"], f"{node['name']}: contract not enforced"
        assert node["access"] == "public", node["name"]
        assert all(c.get("data_type") for c in node["columns"].values()), node["name"]
        tests = generic_tests_of(manifest, node["unique_id"])
        unique = {t["test_metadata"]["kwargs"].get("column_name") for t in tests
                  if t["test_metadata"]["name"] == "unique"}
        not_null = {t["test_metadata"]["kwargs"].get("column_name") for t in tests
                    if t["test_metadata"]["name"] == "not_null"}
        assert unique & not_null, f"{node['name']}: no unique + not_null primary key test"
    for node in project_models(manifest):
        if node["fqn"][1] == "intermediate":
            assert node["access"] == "protected", node["name"]


def test_model_names_follow_the_style_guide(warehouse) -> None:
    patterns = {
        "staging": r"^(stg|base)_[a-z]+__[a-z_]+$",
        "intermediate": r"^int_[a-z_]+$",
        "marts": r"^(dim|fct)_[a-z_]+$",
    }
    for node in project_models(warehouse.dbt_manifest):
        layer = node["fqn"][1]
        if layer in patterns:
            assert re.match(patterns[layer], node["name"]), node["name"]


def test_only_base_models_read_sources(warehouse) -> None:
    for node in project_models(warehouse.dbt_manifest):
        if node["sources"]:
            assert node["name"].startswith("base_"), f"{node['name']} calls source()"


def test_make_lint_passes(warehouse) -> None:
    """`make lint`, as the README shows it: sqlfluff (dbt templater) on every SQL folder and
    ruff on the Python (the README test leaves this command to this test)."""
    result = subprocess.run(["make", "--no-print-directory", "lint"], cwd=PROJECT_DIR,
                            env=warehouse.env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


@pytest.mark.parametrize("analysis", ["at_risk_outreach_list", "churn_breakdown"])
def test_analyses_compile_and_answer(warehouse, analysis: str) -> None:
    warehouse.dbt("compile", "--select", analysis, check=True)
    compiled = next((warehouse.target_dir / "compiled").rglob(f"analyses/{analysis}.sql"))
    with warehouse.connect() as con:
        rows = con.execute(compiled.read_text()).fetchall()
        if analysis == "at_risk_outreach_list":
            [(at_risk,)] = con.execute("select count(*) from marts.dim_customers "
                                       "where current_status = 'at_risk'").fetchall()
            assert len(rows) == at_risk > 0
        else:
            assert {row[1] for row in rows} >= {"region", "acquisition_channel", "exit_reason"}


def test_ci_runs_the_readme_test_command() -> None:
    from readme_commands import README, readme_commands

    quick_start = [command.code for command in readme_commands(README.read_text())
                   if command.section == "Quick start" and command.code.startswith("make")]
    assert quick_start == ["make build", "make test"]
    ci = (PROJECT_DIR / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))
            ] == ["make test"]


def test_no_tracked_file_points_outside_the_project() -> None:
    """Users who clone the project have only the project: the contract is docs/metrics.md."""
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_DIR, capture_output=True,
                             text=True, check=True).stdout.split()
    outside = "shared"  # the team folder beside the project, never shipped with it
    pattern = re.compile(rf"\.\./{outside}|/work/{outside}|{outside}/(METRICS|STYLE|TOOLCHAIN)\.md")
    allowed_prefixes = (".ci/",)
    offenders = []
    for name in tracked:
        path = PROJECT_DIR / name
        if name.startswith(allowed_prefixes) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1)
                      if pattern.search(line)]
    assert offenders == []
    assert (PROJECT_DIR / "docs" / "metrics.md").is_file()

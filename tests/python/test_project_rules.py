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
    """`make lint`, as the README shows it: sqlfluff (dbt templater) on every SQL folder,
    ruff on the Python and scripts/yaml_style.py on the YAML (the README test leaves this
    command to this test)."""
    result = subprocess.run(["make", "--no-print-directory", "lint"], cwd=PROJECT_DIR,
                            env=warehouse.env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


# One break of each rule scripts/yaml_style.py checks (line numbers in the comments).
BROKEN_YAML = (
    "version: 2\n"
    "models:\n"
    "- name: fct_orders\n"  # 3: list item not indented under models:
    '  description: "A description in a quoted string\n'  # 4: quoted over two lines
    '    running over two lines."\n'
    "  config: &id001 {materialized: table}\n"  # 6: an anchor
    "  columns:\n"
    "  - name: order_key\n"  # 8: list item not indented under columns:
    "    description: " + " ".join(["word"] * 30) + "\n"  # 9: 166 characters
    "    config: *id001 "  # 10: an alias, trailing whitespace, no final newline
)


def test_yaml_style_check_passes_on_the_project_and_fails_on_broken_yaml(
        tmp_path: Path) -> None:
    """scripts/yaml_style.py check (the YAML part of `make lint`): the project's YAML is
    clean, and a file breaking each rule is reported, rule by rule, with exit code 1."""
    script = [str(VENV_BIN / "python"), str(PROJECT_DIR / "scripts" / "yaml_style.py"), "check"]
    clean = subprocess.run(script, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    assert (clean.returncode, clean.stdout) == (0, ""), clean.stdout[-5000:] + clean.stderr
    broken = tmp_path / "_broken__models.yml"
    broken.write_text(BROKEN_YAML, encoding="utf-8")
    failed = subprocess.run([*script, str(broken)], capture_output=True, text=True, check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    reported = {tuple(line.split(":", 2)[1:]) for line in failed.stdout.splitlines()}
    assert reported == {
        ("3", " list item not indented under its key"),
        ("4", " multi-line quoted description: use 'description: >'"),
        ("6", " anchor or alias: write the block out"),
        ("8", " list item not indented under its key"),
        ("9", " line is 166 characters (at most 100)"),
        ("10", " anchor or alias: write the block out"),
        ("10", " trailing whitespace"),
        ("10", " the file does not end with a newline"),
    }


def test_is_a_percentage_fails_on_a_rate_outside_0_to_100(warehouse, tmp_path: Path) -> None:
    """The generic test is_a_percentage (macros/tests/is_a_percentage.sql), on a copy of the
    built warehouse with four churn rates set to 100.5, -0.1, NULL and 100: it fails with the
    two out of range, NULL and the bound 100 allowed (the build ran it green on the real
    numbers)."""
    import shutil

    import duckdb

    copy = tmp_path / warehouse.db_path.name
    shutil.copy2(warehouse.db_path, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("""
            update marts.fct_retention_kpis set churn_rate = case rn
                when 1 then 100.5 when 2 then -0.1 when 3 then null else 100 end
            from (select period_start as p, segment_type as t, segment_value as v,
                         row_number() over (order by period_start, segment_type,
                                            segment_value) as rn
                  from marts.fct_retention_kpis) as picked
            where picked.rn <= 4 and period_start = picked.p and segment_type = picked.t
                and segment_value = picked.v
        """)
        outside = con.execute("select count(*) from marts.fct_retention_kpis"
                              " where churn_rate < 0 or churn_rate > 100").fetchone()[0]
    assert outside == 2
    result = warehouse.dbt("test", "--select", "is_a_percentage_fct_retention_kpis_churn_rate",
                           env={"RETENTION_DB": str(copy),
                                "DBT_TARGET_PATH": str(tmp_path / "target"),
                                "DBT_LOG_PATH": str(tmp_path / "logs")})
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Got 2 results, configured to fail if != 0" in result.stdout, result.stdout[-3000:]


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
            # Ranked by value at risk = predicted CLV x (1 - P(alive)), recomputed here;
            # ties (P(alive) = 1 without a repeat purchase: no value at risk) by revenue.
            expected = con.execute(
                "select customer_key from marts.dim_customers where current_status = 'at_risk' "
                "order by predicted_clv_12m * (1 - p_alive) desc, trailing_12m_net_revenue desc, "
                "net_revenue desc, customer_key").fetchall()
            assert [row[0] for row in rows] == [key for (key,) in expected]
            assert rows[0][-2] == max(row[-2] for row in rows) > 0  # value_at_risk_12m
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


MACRO_DEFINITION = re.compile(r"\{%-?\s*(macro|test)\s+(\w+)\s*\(")


def macro_signatures(folder: Path) -> dict[str, tuple[str, list[str]]]:
    """Every macro defined under ``folder``: name -> (file, argument names in order).

    A generic test ``{% test name(...) %}`` is the macro ``test_name``, as dbt names it.
    """
    found: dict[str, tuple[str, list[str]]] = {}
    for path in sorted(folder.rglob("*.sql")):
        text = path.read_text(encoding="utf-8")
        for match in MACRO_DEFINITION.finditer(text):
            kind, name = match.groups()
            depth, position, argument, arguments, quote = 1, match.end(), "", [], ""
            while depth:  # the signature up to its closing parenthesis, split at top-level commas
                char = text[position]
                position += 1
                if quote:
                    quote = "" if char == quote else quote
                elif char in "'\"":
                    quote = char
                elif char in "([{":
                    depth += 1
                elif char in ")]}":
                    depth -= 1
                if depth == 1 and char == "," and not quote:
                    arguments.append(argument)
                    argument = ""
                elif depth:
                    argument += char
            arguments.append(argument)
            names = [a.split("=", 1)[0].strip() for a in arguments if a.strip()]
            full_name = f"test_{name}" if kind == "test" else name
            assert full_name not in found, f"{full_name} is defined twice"
            found[full_name] = (str(path.relative_to(folder.parent)), names)
    return found


def macro_documentation_problems(macro_dir: Path, yaml_path: Path) -> list[str]:
    """What ``_macros.yml`` lacks: macros without an entry, entries without a macro, and
    entries without a description or whose arguments are not the macro's (each with a type
    and a description)."""
    import yaml

    defined = macro_signatures(macro_dir)
    entries = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))["macros"]
    documented = {entry["name"]: entry for entry in entries}
    problems = [f"{name} ({defined[name][0]}): no entry in {yaml_path.name}"
                for name in defined if name not in documented]
    problems += [f"{name}: documented in {yaml_path.name} but defined nowhere under macros/"
                 for name in documented if name not in defined]
    if len(documented) != len(entries):
        problems.append(f"{yaml_path.name}: a macro has two entries")
    for name, entry in documented.items():
        if name not in defined:
            continue
        if not str(entry.get("description") or "").strip():
            problems.append(f"{name}: no description")
        arguments = entry.get("arguments") or []
        if [a.get("name") for a in arguments] != defined[name][1]:
            problems.append(f"{name}: arguments {[a.get('name') for a in arguments]} "
                            f"!= the signature's {defined[name][1]}")
        problems += [f"{name}.{a.get('name')}: no type or no description" for a in arguments
                     if not a.get("type") or not str(a.get("description") or "").strip()]
    return problems


def test_every_macro_is_documented_in_macros_yml(tmp_path: Path) -> None:
    macro_dir = PROJECT_DIR / "macros"
    yaml_path = macro_dir / "_macros.yml"
    assert macro_documentation_problems(macro_dir, yaml_path) == []
    # The parser found every definition (counted here without parsing signatures).
    opened = sum(len(re.findall(r"\{%-?\s*(?:macro|test)\s", path.read_text(encoding="utf-8")))
                 for path in macro_dir.rglob("*.sql"))
    assert len(macro_signatures(macro_dir)) == opened > 80
    # The check can fail: a macro without an entry, an entry for a macro that is gone, and a
    # changed signature are each reported.
    broken = tmp_path / "macros"
    broken.mkdir()
    (broken / "cast_or_null.sql").write_text(
        "{% macro cast_or_null(expression, data_type, strict=['a', 'b']) %}{% endmacro %}\n"
        "{% test brand_new(model, column_name) %}{% endtest %}\n", encoding="utf-8")
    problems = macro_documentation_problems(broken, yaml_path)
    assert "test_brand_new (macros/cast_or_null.sql): no entry in _macros.yml" in problems
    assert "segment_rows: documented in _macros.yml but defined nowhere under macros/" in problems
    assert ("cast_or_null: arguments ['expression', 'data_type'] != the signature's "
            "['expression', 'data_type', 'strict']") in problems


SEGMENT_VARS = {"period_segments": "fct_retention_kpis",
                "value_segments": "fct_lifetime_value_segments"}


LANDING_READERS = {"land_raw_files": Path("check_raw_landing.sql"),
                   "spark_land_raw_files": Path("adapters/spark/landing.sql")}


def macro_body(text: str, name: str) -> str:
    """Macro ``name`` of a macro file, from its ``{% macro`` to its ``endmacro`` ("" if none)."""
    found = re.search(r"\{%-?\s*macro\s+" + name + r"\s*\(", text)
    return text[found.start():text.index("endmacro", found.start())] if found else ""


def landing_guard_problems(macro_dir: Path) -> list[str]:
    """Landing readers (DuckDB, Spark) that word a guard or a landing log line themselves
    instead of calling the shared macros of check_raw_landing.sql."""
    problems = []
    for name, path in LANDING_READERS.items():
        body = macro_body((macro_dir / path).read_text(encoding="utf-8"), name)
        problems += [f"{name} ({path}): {words!r}" for words in
                     ("raise_compiler_error", "Raw landing problem", '"landing: ')
                     if words in body]
    shared = macro_body((macro_dir / "check_raw_landing.sql").read_text(encoding="utf-8"),
                        "raise_raw_landing_problem")
    if '"Raw landing problem: " ~ message' not in shared:
        problems.append("raise_raw_landing_problem: not the one-line landing message")
    return problems


def test_landing_guards_are_worded_once_for_duckdb_and_spark(tmp_path: Path) -> None:
    """The DuckDB and Spark landing stop with the same one-line messages: every guard and
    log line is a shared macro of check_raw_landing.sql (raise_raw_landing_problem,
    raw_batch_file_kind, check_raw_headers, raise_raw_encoding_problem, ...) that both
    readers call; neither words one itself."""
    import shutil

    assert landing_guard_problems(PROJECT_DIR / "macros") == []
    # The check can fail: the Spark reader wording the missing-transactions guard itself.
    broken = tmp_path / "macros"
    shutil.copytree(PROJECT_DIR / "macros", broken)
    spark = broken / LANDING_READERS["spark_land_raw_files"]
    call = "{%- do check_raw_table_has_files(node, files, raw_dir) -%}"
    assert call in spark.read_text(encoding="utf-8")
    spark.write_text(spark.read_text(encoding="utf-8").replace(
        call, '{{ exceptions.raise_compiler_error("Raw landing problem: no files") }}'),
        encoding="utf-8")
    assert landing_guard_problems(broken) == [
        "spark_land_raw_files (adapters/spark/landing.sql): 'raise_compiler_error'",
        "spark_land_raw_files (adapters/spark/landing.sql): 'Raw landing problem'"]


def readme_section(readme: str, title: str) -> str:
    """The text of one ``## title`` section of the README."""
    assert f"\n## {title}\n" in readme, f"README has no section '## {title}'"
    return readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def extending_problems(readme: str, project_dir: Path) -> list[str]:
    """Where README "Extending" no longer matches the project: paths that do not exist, and
    segment lists that are not the vars the segment macro and the marts read."""
    import yaml

    section = readme_section(readme, "Extending")
    problems = [f"Extending: {kind} in the section" for kind, pattern in
                [("an sh block", r"```"), ("a line over 100 characters", r"(?m)^.{101,}$")]
                if re.search(pattern, section)]
    for token in sorted(set(re.findall(r"`([^`\s]+)`", section))):
        if "/" not in token and not re.search(r"\.(ya?ml|sql|md|py|in|csv)$", token):
            continue  # a name (a var, a macro, a column), not a path
        pattern = re.sub(r"<[^>]+>", "*", token)
        found = list(project_dir.glob(pattern)) if "/" in pattern else list(
            project_dir.rglob(pattern))
        if not found:
            problems.append(f"Extending names {token}, which does not exist")
    project_vars = yaml.safe_load((project_dir / "dbt_project.yml").read_text())["vars"]
    macro = (project_dir / "macros" / "segment_rows.sql").read_text()
    for name, mart in SEGMENT_VARS.items():
        if f"`{name}`" not in section:
            problems.append(f"Extending does not point at var {name}")
        if not isinstance(project_vars.get(name), dict) or not project_vars[name]:
            problems.append(f"dbt_project.yml has no segment list {name}")
        mart_sql = next(project_dir.glob(f"models/marts/*/{mart}.sql")).read_text()
        calls = re.findall(r"segment_rows\(([^)]*\))?", mart_sql)
        reads = [call for call in calls if f"var('{name}')" in call or (
            name == "period_segments" and "var(" not in call)]
        if not calls or len(reads) != len(calls):
            problems.append(f"{mart}: does not expand every segment from var {name}")
    if "var('period_segments') if dimensions is none" not in macro:
        problems.append("segment_rows: the default list is not var period_segments")
    for path in sorted(project_dir.glob("models/**/*.sql")):
        text = path.read_text()
        if re.search(r"grouping sets|'[a-z_]+' as segment_type", text):
            problems.append(f"{path.relative_to(project_dir)}: segments written by hand")
    return problems


def test_readme_extending_section_matches_the_project(warehouse, tmp_path: Path) -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    assert extending_problems(readme, PROJECT_DIR) == []
    headings = re.findall(r"(?m)^## (.+)$", readme)
    reference = [h for h in ("Settings", "Everyday commands") if h in headings]
    assert reference and all(headings.index("Extending") < headings.index(h) for h in reference)
    # The segments the built marts report by are the lists the section points at.
    import shutil

    import yaml

    project_vars = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    for name, mart in SEGMENT_VARS.items():
        built = {row[0] for row in warehouse.query(
            f"select distinct segment_type from marts.{mart}")}
        assert built == {"total", *project_vars["vars"][name]}, mart
    # The check can fail: a renamed file, a lost pointer and a hand-written segment are caught.
    stale = (readme.replace("`macros/segment_rows.sql`", "`macros/segments.sql`")
             .replace("`value_segments`", "`ltv_segments`"))
    copy = tmp_path / "project"
    for name in ("dbt_project.yml", "macros", "models", "docs", "retention_warehouse", "tests",
                 "profiles.yml", "requirements.in"):
        source = PROJECT_DIR / name
        target = copy / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    hand_written = copy / "models" / "marts" / "value" / "fct_lifetime_value_segments.sql"
    hand_written.write_text(hand_written.read_text() + "\n-- select 'total' as segment_type\n")
    problems = extending_problems(stale, copy)
    assert "Extending names macros/segments.sql, which does not exist" in problems
    assert "Extending does not point at var value_segments" in problems
    assert ("models/marts/value/fct_lifetime_value_segments.sql: segments written by hand"
            in problems)

"""Run the Great Expectations checkpoint on the warehouse (read-only).

The expected values come from the independent oracle (``retention_warehouse.oracle``),
run on the raw files named by the build's landing record; Great Expectations checks
structure, ranges and the comparison result.

Great Expectations' SQL datasource fails on DuckDB (see TOOLCHAIN.md), so the
marts and comparison frames are read with DuckDB ``read_only=True`` into pandas
and validated through an ephemeral context's pandas datasource
(``add_dataframe_asset``, batch parameter ``dataframe``): one validation
definition and one checkpoint per frame, all reported together.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path

import pandas as pd

from retention_warehouse.oracle import add_customer_keys, build_model, compute_marts
from retention_warehouse.oracle.inputs import NO_ANSWER
from retention_warehouse.oracle.states import Model
from retention_warehouse.quality.compare import compare
from retention_warehouse.quality.inputs import (
    WarehouseFrames,
    WarehouseUnreadableError,
    find_hash_key,
    read_params,
    read_warehouse,
)
from retention_warehouse.quality.report import QualityReport, outcome_from_result
from retention_warehouse.quality.suites import (
    COMPARISONS,
    SuiteSpec,
    comparison_suite,
    structure_expectations,
)
from retention_warehouse.settings import PROJECT_DIR

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


# Marts that are empty by right when their source table was not landed at all (a retailer
# without surveys): mart -> raw table. Every other mart must hold rows.
MARTS_OF_OPTIONAL_SOURCES = {"fct_survey_responses": "survey_responses"}


def marts_of_sources_not_landed(frames: WarehouseFrames) -> set[str]:
    """The marts of MARTS_OF_OPTIONAL_SOURCES whose raw table has no batch file."""
    if frames.raw_dir is None:
        return set()
    return {mart for mart, table in MARTS_OF_OPTIONAL_SOURCES.items()
            if not frames.landing.files(frames.raw_dir, table)}


def marts_not_empty_suite(marts: dict[str, pd.DataFrame],
                          may_be_empty: set[str] | frozenset[str] = frozenset()) -> SuiteSpec:
    """Every mart has rows: an empty warehouse fails here, by name, instead of passing.

    ``may_be_empty``: marts whose source was not landed, left out of the check.
    """
    import great_expectations.expectations as gxe

    counted = {name: frame for name, frame in marts.items() if name not in may_be_empty}
    frame = pd.DataFrame({"mart": list(counted),
                          "rows": [len(frame) for frame in counted.values()]})
    return SuiteSpec(name="marts_not_empty", frame=frame, key="mart", expectations=[
        gxe.ExpectColumnValuesToBeBetween(
            column="rows", min_value=1,
            meta={"check": "every mart holds rows (an empty mart means nothing was loaded)"}),
    ])


def expected_values_failed_suite(error: Exception) -> SuiteSpec:
    """One failing expectation saying the expected values could not be computed, and why."""
    import great_expectations.expectations as gxe

    frame = pd.DataFrame({"step": ["expected_values"],
                          "outcome": [f"not computed: {type(error).__name__}: {error}"]})
    return SuiteSpec(name="expected_values", frame=frame, key="step", expectations=[
        gxe.ExpectColumnValuesToBeInSet(
            column="outcome", value_set=["computed"],
            meta={"check": "the oracle can recompute the marts from the raw files the "
                           "landing record names (it cannot when none are recorded)"}),
    ])


def oracle_model(frames: WarehouseFrames, as_of_date: str | None,
                 raw_dir: Path | None) -> Model:
    """The oracle's model of the raw files the build read, with the build's parameters."""
    folder = raw_dir or frames.raw_dir
    if folder is None:
        raise WarehouseUnreadableError("the landing record (raw._landed_files) names no raw "
                                       "file: there is nothing to recompute the marts from")
    params = read_params(as_of_date)
    params.check()
    return build_model(folder, PROJECT_DIR / "seeds", params, frames.landing)


def build_suites(warehouse_path: Path, as_of_date: str | None = None,
                 raw_dir: Path | None = None) -> list[SuiteSpec]:
    """Read the warehouse, recompute the marts with the oracle, assemble every frame.

    An empty or partial warehouse never crashes the checkpoint: the ``marts_not_empty``
    suite fails by mart, and when the expected values cannot be computed at all the
    ``expected_values`` suite fails with the reason.
    """
    frames = read_warehouse(warehouse_path)
    not_empty = marts_not_empty_suite(frames.marts, marts_of_sources_not_landed(frames))
    try:
        model = oracle_model(frames, as_of_date, raw_dir)
        expected = compute_marts(model, frames.marts.get("fct_customer_value_model"))
        key = find_hash_key(list(expected["dim_customers"]["customer_id"]), frames.marts)
        expected = add_customer_keys(expected, key)
    except Exception as error:  # noqa: BLE001 - reported as a failed expectation, never a crash
        return [not_empty, expected_values_failed_suite(error)]
    suites = [comparison_suite(spec, compare(spec, frames.marts[spec.mart],
                                             expected[spec.mart]),
                               expect_rows=len(expected[spec.mart]) > 0)
              for spec in COMPARISONS if spec.mart in frames.marts]
    tier_names = [name for name, _, _ in model.seeds.tiers]
    categories = [*model.seeds.reason_categories, NO_ANSWER]
    rfm_segments = [segment for _, segment, *_ in model.seeds.rfm_rules]
    structure = structure_expectations(expected, tier_names, categories, rfm_segments)
    for mart, (key_column, expectations) in structure.items():
        if mart not in frames.marts:  # a prediction mart with the value models off
            continue
        suites.append(SuiteSpec(name=f"{mart}__structure", frame=frames.marts[mart],
                                key=key_column, expectations=expectations))
    suites.append(run_parameters_suite(model))
    return [not_empty, *suites]


def run_parameters_suite(model: Model) -> SuiteSpec:
    """The derived as-of date is not after the last clean transaction date in the raw files."""
    import great_expectations.expectations as gxe

    frame = pd.DataFrame({"run": ["build"], "as_of_date": [pd.Timestamp(model.as_of)],
                          "last_loaded_date": [pd.Timestamp(model.last_transaction_date)]})
    return SuiteSpec(name="run_parameters", frame=frame, key="run", expectations=[
        gxe.ExpectColumnValuesToNotBeNull(column="as_of_date"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="last_loaded_date", column_B="as_of_date", or_equal=True,
            meta={"check": "the as-of date is not after the last loaded transaction date"}),
    ])


def _quiet_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate(suites: list[SuiteSpec]) -> tuple[bool, list, list[dict]]:
    """Run one GE checkpoint per frame; return success, outcomes and the JSON results."""
    import great_expectations as gx

    context = _quiet_context()
    source = context.data_sources.add_pandas("retention_warehouse")
    outcomes, documents, success = [], [], True
    for spec in suites:
        batch = source.add_dataframe_asset(spec.name).add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(gx.ExpectationSuite(name=spec.name))
        for expectation in spec.expectations:
            suite.add_expectation(expectation)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=spec.name, data=batch, suite=suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"retention_quality__{spec.name}", validation_definitions=[definition],
            result_format={"result_format": "SUMMARY", "unexpected_index_column_names": [spec.key]},
        ))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = checkpoint.run(batch_parameters={"dataframe": spec.frame})
        success &= bool(result.success)
        for validation in result.run_results.values():
            document = validation.to_json_dict()
            documents.append(document)
            outcomes += [outcome_from_result(spec.name, item, spec.key, spec.frame)
                         for item in document.get("results", [])]
    return success, outcomes, documents


def run_checkpoint(warehouse_path: Path, results_dir: Path, as_of_date: str | None = None,
                   raw_dir: Path | None = None) -> QualityReport:
    """Validate the marts of the warehouse file; write results into ``results_dir``.

    ``as_of_date``: the as-of date the build was pinned to (None: the dbt var, else the
    last clean transaction date); ``raw_dir``: the raw folder (None: the one the landing
    record names).
    """
    started = time.monotonic()
    try:
        suites = build_suites(Path(warehouse_path), as_of_date, raw_dir)
    except WarehouseUnreadableError as error:
        return QualityReport(success=False, error=str(error))
    success, outcomes, documents = validate(suites)
    report = QualityReport(success=success, outcomes=outcomes,
                           elapsed_seconds=time.monotonic() - started)
    report.write(Path(results_dir), documents)
    return report

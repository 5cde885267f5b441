"""The checkpoint's outcome: one line per failed expectation, files written to disk."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

VALIDATION_FILE = "ge_validation_results.json"
SUMMARY_FILE = "summary.txt"
MAX_EXAMPLES = 3
ERROR_SUFFIX = "__error"


@dataclass
class ExpectationOutcome:
    """The result of one expectation on one validated frame."""

    suite: str
    expectation_type: str
    target: str  # the column(s) it is about
    success: bool
    unexpected_count: int | None
    element_count: int | None
    examples: list[str]
    check: str

    def line(self) -> str:
        """One readable line for the summary."""
        status = "PASS" if self.success else "FAIL"
        text = f"{status}  {self.suite}: {self.expectation_type}({self.target})"
        if not self.success:
            if self.unexpected_count is not None:
                text += f": {self.unexpected_count} of {self.element_count} rows"
            if self.examples:
                text += f", e.g. {'; '.join(self.examples)}"
        if self.check:
            text += f"  [{self.check}]"
        return text


@dataclass
class QualityReport:
    """What ``run_checkpoint`` returns: success, every outcome, where the files are."""

    success: bool
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    results_dir: Path | None = None
    elapsed_seconds: float = 0.0
    error: str | None = None

    @property
    def failures(self) -> list[ExpectationOutcome]:
        """The expectations that failed."""
        return [outcome for outcome in self.outcomes if not outcome.success]

    def summary_text(self) -> str:
        """A short human summary: verdict, counts, every failure, where the details are."""
        if self.error:
            return f"Data-quality checkpoint: ERROR: {self.error}"
        suites = sorted({outcome.suite for outcome in self.outcomes})
        verdict = "PASSED" if self.success else "FAILED"
        passed = len(self.outcomes) - len(self.failures)
        lines = [
            f"Data-quality checkpoint (Great Expectations): {verdict}: {passed} of "
            f"{len(self.outcomes)} expectations passed on {len(suites)} suites "
            f"in {self.elapsed_seconds:.1f} s.",
        ]
        lines += [f"  {outcome.line()}" for outcome in self.failures]
        if self.results_dir is not None:
            lines.append(f"  Details: {self.results_dir / SUMMARY_FILE} and "
                         f"{self.results_dir / VALIDATION_FILE}")
        return "\n".join(lines)

    def full_text(self) -> str:
        """The summary followed by every expectation, passed or failed."""
        body = [outcome.line() for outcome in self.outcomes]
        return self.summary_text() + "\n\nAll expectations:\n" + "\n".join(body) + "\n"

    def write(self, results_dir: Path, validation_results: list[dict]) -> None:
        """Write the GE validation results (JSON) and the readable summary."""
        results_dir.mkdir(parents=True, exist_ok=True)
        self.results_dir = results_dir
        (results_dir / VALIDATION_FILE).write_text(
            json.dumps(validation_results, indent=1, default=str))
        (results_dir / SUMMARY_FILE).write_text(self.full_text())


def _describe_row(frame: pd.DataFrame | None, key: str, row: dict, column: str) -> str:
    """``key (column=mart value, column__expected=value)`` for an ``__error`` column."""
    base = column.removesuffix(ERROR_SUFFIX)
    if frame is not None and column.endswith(ERROR_SUFFIX) and f"{base}__expected" in frame:
        match = frame[frame[key] == row[key]]
        if len(match):
            actual, expected = match.iloc[0][base], match.iloc[0][f"{base}__expected"]
            return f"{row[key]} ({base}={actual}, {base}__expected={expected})"
    values = ", ".join(f"{name}={value}" for name, value in row.items() if name != key)
    return f"{row[key]} ({values})"


def outcome_from_result(suite: str, result: dict, key: str,
                        frame: pd.DataFrame | None = None) -> ExpectationOutcome:
    """An outcome from one GE ExpectationValidationResult (as a JSON dict)."""
    config = result.get("expectation_config", {})
    kwargs = config.get("kwargs", {})
    target = kwargs.get("column") or ", ".join(
        str(kwargs[name]) for name in ("column_A", "column_B", "column_list") if name in kwargs
    )
    details = result.get("result", {}) or {}
    examples = []
    for row in (details.get("partial_unexpected_index_list") or [])[:MAX_EXAMPLES]:
        if isinstance(row, dict) and key in row:
            examples.append(_describe_row(frame, key, row, target))
    if not examples and details.get("observed_value") is not None:
        examples.append(f"observed {details['observed_value']}")
    return ExpectationOutcome(
        suite=suite,
        expectation_type=config.get("type", "?"),
        target=target,
        success=bool(result.get("success")),
        unexpected_count=details.get("unexpected_count"),
        element_count=details.get("element_count"),
        examples=examples,
        check=(config.get("meta") or {}).get("check", ""),
    )

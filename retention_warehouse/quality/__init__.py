"""`retention quality`: the Great Expectations checkpoint on the marts.

The checkpoint proves the marts follow docs/metrics.md: the independent oracle
(``retention_warehouse.oracle``) recomputes every mart from the raw files the build
read, and Great Expectations checks the comparison result, keys, allowed values,
ranges, column-pair relations and row counts. See docs/data_quality.md.
"""

from __future__ import annotations

from pathlib import Path

from retention_warehouse.quality.command import add_arguments, run
from retention_warehouse.quality.report import QualityReport


def run_checkpoint(warehouse_path: Path, results_dir: Path, as_of_date: str | None = None,
                   raw_dir: Path | None = None) -> QualityReport:
    """Run the checkpoint on a warehouse file (read-only); see checkpoint.run_checkpoint."""
    from retention_warehouse.quality.checkpoint import run_checkpoint as run_it

    return run_it(warehouse_path, results_dir, as_of_date, raw_dir)


__all__ = ["QualityReport", "add_arguments", "run", "run_checkpoint"]

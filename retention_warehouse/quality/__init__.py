"""`retention quality`: the Great Expectations checkpoint on the marts.

The checkpoint proves the marts follow docs/metrics.md: it recomputes the
metrics in pandas from the staging models (cleaned raw data, before any metric
logic) and compares them with the marts, and checks keys, allowed values,
ranges, column-pair relations and row counts. See docs/data_quality.md.
"""

from __future__ import annotations

from retention_warehouse.quality.command import add_arguments, run
from retention_warehouse.quality.report import QualityReport


def run_checkpoint(warehouse_path, results_dir) -> QualityReport:  # noqa: ANN001
    """Run the checkpoint on a warehouse file (read-only); see checkpoint.run_checkpoint."""
    from retention_warehouse.quality.checkpoint import run_checkpoint as run_it

    return run_it(warehouse_path, results_dir)


__all__ = ["QualityReport", "add_arguments", "run", "run_checkpoint"]

"""The ``retention quality`` subcommand: run the checkpoint, print the summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retention_warehouse.settings import load_settings, quality_results_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``retention quality``."""
    settings = load_settings()
    parser.add_argument("--db", type=Path, default=settings.warehouse_path,
                        help="DuckDB warehouse file, opened read-only "
                             f"(default {settings.warehouse_path})")
    parser.add_argument("--results", type=Path, default=None,
                        help="folder for the validation results and the summary "
                             "(default <db>.quality/ beside the warehouse file)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``retention quality``: 0 when every expectation passed."""
    from retention_warehouse.quality import run_checkpoint

    results = args.results or quality_results_dir(args.db)
    report = run_checkpoint(args.db, results)
    print(report.summary_text())
    if report.error:
        return 2
    if not report.success:
        print("error: the data-quality checkpoint failed.", file=sys.stderr)
        return 1
    return 0

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
    parser.add_argument("--as-of-date", default=None,
                        help="the as-of date the warehouse was built with, when it was pinned "
                             "(default: the as_of_date var, else the last clean transaction "
                             "date in the raw files)")
    parser.add_argument("--raw", type=Path, default=None,
                        help="the raw folder the warehouse was built from (default: the one "
                             "its landing record names)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``retention quality``: 0 when every expectation passed."""
    from retention_warehouse.quality import run_checkpoint

    results = args.results or quality_results_dir(args.db)
    report = run_checkpoint(args.db, results, getattr(args, "as_of_date", None),
                            getattr(args, "raw", None))
    print(report.summary_text())
    if report.error:
        return 2
    if not report.success:
        print("error: the data-quality checkpoint failed.", file=sys.stderr)
        return 1
    return 0

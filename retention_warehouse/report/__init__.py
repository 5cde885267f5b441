"""``retention report``: one self-contained HTML file with every KPI chart.

The report reads the marts only (read-only, so it can run beside a BI tool),
embeds the chart data as JSON and draws the charts as inline SVG with a small
inline script: no CDN, no web font, nothing fetched, so the file opens offline
and can be mailed as an attachment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retention_warehouse.report.data import (
    DEFAULT_HOLDOUT_DAYS,
    Report,
    ReportError,
    load_report,
)
from retention_warehouse.report.page import render_page
from retention_warehouse.settings import PROJECT_DIR, load_settings

DEFAULT_OUT = PROJECT_DIR / "report.html"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``retention report``."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"HTML file to write (default: {DEFAULT_OUT.name} in the repo root)")
    parser.add_argument("--db", type=Path, default=None,
                        help="warehouse DuckDB file to read (default: RETENTION_DB or "
                             "warehouse.duckdb in the repo root)")
    parser.add_argument("--holdout-days", type=int, default=DEFAULT_HOLDOUT_DAYS,
                        help="holdout window of the calibration charts "
                             f"(default {DEFAULT_HOLDOUT_DAYS}; see retention predict-check)")


def write_report(db_path: Path, out: Path, holdout_days: int = DEFAULT_HOLDOUT_DAYS) -> Report:
    """Read the marts of ``db_path`` and write the report to ``out``."""
    report = load_report(db_path, holdout_days)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_page(report), encoding="utf-8")
    return report


def run(args: argparse.Namespace) -> int:
    """Write the report; a clear message (exit code 1) when the warehouse is not usable."""
    db_path = args.db or load_settings().warehouse_path
    try:
        report = write_report(Path(db_path), Path(args.out), args.holdout_days)
    except ReportError as error:
        print(f"retention report: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {args.out}: {len(report.charts)} charts, as of {report.as_of_date}, "
          f"from {db_path}")
    return 0

"""``retention import <format> FILE --out DIR``: a landing folder from an export people have.

Formats: ``generic`` (any ``customer, date, amount`` orders log, with a column
mapping), ``shopify`` (the Shopify orders export), ``stripe`` (the Stripe payments
export). Each format is one module with ``add_arguments(parser)`` and
``run_import(args, path, out_dir) -> (report, ledger rows, customer rows)``; the
shared reading, writing and reporting code is in ``common``. The mappings, column by
column, are in docs/importing.md.

The command writes ``DIR/transactions/<format>-<name>.csv`` (and
``DIR/crm_customers/`` when the export carries customer data), prints rows in, rows
out per table and rows skipped by reason, and exits 2 with one line when the export
cannot be imported as asked.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from retention_warehouse.importers.common import (
    DEFAULT_MAX_ERROR_SHARE,
    ImportFailure,
    ImportReport,
    write_landing,
)

FORMATS: dict[str, tuple[str, str]] = {
    "generic": ("retention_warehouse.importers.generic",
                "any orders log: customer, date, amount columns (a column mapping)"),
    "shopify": ("retention_warehouse.importers.shopify", "a Shopify orders export (CSV)"),
    "stripe": ("retention_warehouse.importers.stripe", "a Stripe payments export (CSV)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``retention import <format> FILE --out DIR [format options]``."""
    formats = parser.add_subparsers(dest="format", metavar="format", required=True)
    for name, (module_name, help_text) in FORMATS.items():
        sub = formats.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("file", type=Path, metavar="FILE", help="the export (.csv, .txt, .gz)")
        sub.add_argument("--out", type=Path, required=True, metavar="DIR",
                         help="landing folder to write (RETENTION_RAW_DIR of the build)")
        sub.add_argument("--max-error-share", type=float, default=DEFAULT_MAX_ERROR_SHARE,
                         help="refuse the import when more rows than this share cannot be "
                         "mapped (default 0.05, as the warehouse's quarantine guard)")
        importlib.import_module(module_name).add_arguments(sub)


def import_export(args: argparse.Namespace) -> ImportReport:
    """Run one import end to end; raise ImportFailure with one clear line."""
    path: Path = args.file
    if not path.is_file():
        raise ImportFailure(f"{path}: no such file.")
    if args.out.exists() and not args.out.is_dir():
        raise ImportFailure(f"--out {args.out}: exists and is not a folder.")
    module = importlib.import_module(FORMATS[args.format][0])
    report, ledger, customers = module.run_import(args, path, args.out)
    return write_landing(args.out, report, ledger, customers, args.max_error_share)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``retention import``."""
    try:
        report = import_export(args)
    except ImportFailure as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: writing {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(report.summary())
    print(f"Build it: RETENTION_RAW_DIR={args.out} RETENTION_HASH_KEY=<your secret> "
          ".venv/bin/retention build")
    return 0

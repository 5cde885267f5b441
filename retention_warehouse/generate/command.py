"""``retention generate``: write raw landing files (and, on request, the FX seed)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from retention_warehouse.generate import DEFAULT_END, DEFAULT_START, generate
from retention_warehouse.generate.fx import write_fx_seed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``retention generate``."""
    parser.add_argument("--customers", type=int, default=2_000, help="customers (1k to 1M)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", dest="fmt")
    parser.add_argument("--out", type=Path, required=False, help="output folder")
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END)
    parser.add_argument("--since", type=date.fromisoformat,
                        help="keep only rows landed on or after this day")
    parser.add_argument("--through", type=date.fromisoformat,
                        help="keep only rows landed before this day (exclusive)")
    parser.add_argument("--prefix", default="part", help="file name prefix (one per batch)")
    parser.add_argument("--fx-seed", type=Path, metavar="CSV",
                        help="also (or only, without --out) write the fx_rates seed here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``retention generate``."""
    if args.fx_seed:
        rows = write_fx_seed(args.fx_seed)
        print(f"wrote {rows:,} FX rates to {args.fx_seed}")
    if args.out is None:
        if not args.fx_seed:
            print("error: give --out (and/or --fx-seed)")
            return 2
        return 0
    try:
        manifest = generate(args.out, customers=args.customers, seed=args.seed, fmt=args.fmt,
                            start=args.start, end=args.end, since=args.since,
                            through=args.through, prefix=args.prefix, progress=not args.quiet)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    total_rows = sum(manifest["rows"].values())
    total_bytes = sum(manifest["bytes"].values())
    print(f"wrote {total_rows:,} rows ({total_bytes / 1e6:.1f} MB) for {args.customers:,} "
          f"customers to {args.out} in {manifest['seconds']} s")
    for table, rows in manifest["rows"].items():
        print(f"  {table:<20} {rows:>12,} rows {manifest['bytes'][table] / 1e6:>9.1f} MB")
    return 0

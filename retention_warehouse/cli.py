"""The ``retention`` command line: one subcommand per job.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only wires them together and imports a module
when its subcommand is used (dbt, Great Expectations and Dagster are slow to
import).
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "build": ("retention_warehouse.build", "build the warehouse (dbt build + quality checkpoint)"),
    "generate": ("retention_warehouse.generate.command", "generate raw data (CSV or Parquet)"),
    "quality": ("retention_warehouse.quality", "run the Great Expectations checkpoint"),
    "refresh": ("retention_warehouse.refresh", "land new data and refresh incrementally"),
    "bench": ("retention_warehouse.bench", "benchmark build time and memory by size"),
    "report": ("retention_warehouse.report", "write the self-contained HTML report"),
    "import": ("retention_warehouse.importers",
               "write a landing folder from a generic, Shopify or Stripe orders export"),
    "predict-check": ("retention_warehouse.predict.check",
                      "holdout check of the value models: predicted vs actual purchases"),
}


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, object | None]:
    """The top-level parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(prog="retention", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="command")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    module = None
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the chosen subcommand."""
    argv = sys.argv[1:] if argv is None else argv
    parser, module = build_parser(argv)
    args = parser.parse_args(argv)
    if module is None:
        parser.print_help()
        return 2
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

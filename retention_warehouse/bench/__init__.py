"""``retention bench``: how fast and how big the build is, and how it scales, measured side by side.

Modules: ``dataset`` (cached generated data per size), ``process`` (wall time
and peak memory of a process tree), ``dbt_steps`` (the timed dbt commands in a
private workspace), ``floors`` (the one-query and no-dbt floors), ``peer``
(the pandas notebook equivalent), ``suite`` (one case, repeated, medians),
``render`` (tables, Markdown, JSON, SVG plot) and ``command`` (the CLI).
"""

from retention_warehouse.bench.command import add_arguments, run

__all__ = ["add_arguments", "run"]

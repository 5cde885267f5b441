"""Retention warehouse: the Python side of a dbt + DuckDB retention project.

The SQL lives in the dbt project beside this package (models/, seeds/, macros/);
this package holds what is not SQL: the raw-data generator, the Great
Expectations checkpoint, the refresh job, the benchmark, the report and the
``retention`` command line.
"""

__version__ = "0.1.0"

"""The raw landing pre-flight: what is in ``RETENTION_RAW_DIR``, and is it readable?

``retention build``, ``retention refresh`` and the PostgreSQL loader call
:func:`preflight` before dbt runs. It reads only folder listings and the first line
of each file (never the rows), so it costs milliseconds at any data size, and it
stops with one line naming the file when:

* the folder is missing or unreadable, or the required ``transactions`` table has
  no batch file;
* a table folder holds a file that is not a batch file (``*.csv``, ``*.csv.gz``,
  ``*.parquet`` in any letter case; hidden files such as ``.DS_Store`` are skipped),
  or a sub-folder;
* a file is empty (0 bytes: not even a header), its header cannot be decoded in the
  table's encoding, names a column twice, or lacks a required column
  (``retention_warehouse.contract``).

It also converts Windows-1252 / Latin-1 tables (``RETENTION_RAW_ENCODING``) to UTF-8
copies beside the warehouse (``<warehouse>.landing/``), because DuckDB reads no
Windows-1252; a byte that is not Windows-1252 stops the build naming file and line.

The rows themselves are read by DuckDB in the dbt on-run-start hook
(``macros/check_raw_landing.sql``), which repeats the file checks (so a plain
``dbt build`` is as safe), records every batch file in ``raw._landed_files`` (the
landing record: when each file first landed, in which order) and sets aside rows
with the wrong number of fields in ``raw._malformed_rows``.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from retention_warehouse.contract import ENCODINGS, FILE_KINDS, RAW_TABLES, RawTable

ENCODING_VARIABLE = "RETENTION_RAW_ENCODING"
DEFAULT_ENCODING = "utf-8"
TRANSCODED_ENCODING = "windows-1252"


class RawLandingError(RuntimeError):
    """The raw landing folder or one of its files cannot be used (one clear line)."""


@dataclass(frozen=True)
class BatchFile:
    """One batch file of a raw table."""

    table: str
    path: Path
    kind: str  # csv, csv_gzip or parquet
    encoding: str
    size: int
    modified_epoch: int  # whole seconds, as DuckDB's read_blob reports last_modified

    @property
    def is_csv(self) -> bool:
        """CSV (plain or gzip-compressed)."""
        return self.kind != "parquet"


@dataclass
class LandingPlan:
    """What the landing folder holds: batch files per table and what is off without the rest."""

    raw_dir: Path
    files: dict[str, list[BatchFile]] = field(default_factory=dict)
    headers: dict[Path, list[str]] = field(default_factory=dict)
    ignored_folders: list[str] = field(default_factory=list)

    def absent_tables(self) -> list[RawTable]:
        """Optional tables without any batch file."""
        return [table for table in RAW_TABLES if not self.files.get(table.name)]

    def notes(self) -> list[str]:
        """One line per feature that is off, and per folder that is not a table."""
        lines = [f"landing: no {table.name} files: {table.when_absent}."
                 for table in self.absent_tables()]
        lines += [f"landing: folder {name}/ is not a table of the contract and is ignored."
                  for name in self.ignored_folders]
        return lines


LANDING_DIR_VARIABLE = "RETENTION_LANDING_DIR"


def landing_cache_dir(warehouse_path: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Files the pre-flight prepares for one warehouse (UTF-8 copies).

    ``<warehouse>.landing/`` beside the warehouse file, where the hook of a dbt run against
    that file looks; RETENTION_LANDING_DIR overrides it for both (``retention refresh``
    points its staged runs at the published warehouse's folder).
    """
    env = os.environ if environ is None else environ
    return Path(env.get(LANDING_DIR_VARIABLE) or f"{warehouse_path}.landing")


def transcoded_path(cache_dir: Path, batch: BatchFile) -> Path:
    """Where the UTF-8 copy of a Windows-1252 file goes (the hook derives the same name)."""
    return (cache_dir / "transcoded" / batch.table
            / f"{batch.size}-{batch.modified_epoch}-{batch.path.name}.csv")


def table_encodings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The encoding of each table from RETENTION_RAW_ENCODING.

    The setting is one encoding for every table (``windows-1252``), a default followed
    by per-table overrides (``utf-8,crm_customers=windows-1252``), or overrides alone.
    """
    env = os.environ if environ is None else environ
    setting = env.get(ENCODING_VARIABLE, "").strip()
    default = DEFAULT_ENCODING
    overrides: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in setting.split(","))):
        table, _, name = part.rpartition("=")
        encoding = ENCODINGS.get(name.strip().lower())
        if encoding is None:
            raise RawLandingError(
                f"{ENCODING_VARIABLE}: unknown encoding '{name.strip()}' (use utf-8, utf-16, "
                "windows-1252 or latin-1; see docs/raw_data_contract.md).")
        if not table:
            default = encoding
        elif table.strip() not in {t.name for t in RAW_TABLES}:
            raise RawLandingError(f"{ENCODING_VARIABLE}: '{table.strip()}' is not a raw table.")
        else:
            overrides[table.strip()] = encoding
    return {t.name: overrides.get(t.name, default) for t in RAW_TABLES}


def file_kind(name: str) -> str | None:
    """``csv``, ``csv_gzip`` or ``parquet`` from a file name in any letter case; else None."""
    lowered = name.lower()
    for ending, kind in FILE_KINDS.items():
        if lowered.endswith(ending) and len(lowered) > len(ending):
            return kind
    return None


def check_raw_dir(raw_dir: Path) -> None:
    """Fail with one clear message when the raw landing folder cannot be read."""
    if not raw_dir.exists():
        raise RawLandingError(
            f"RETENTION_RAW_DIR={raw_dir} does not exist. Point it at a folder of raw "
            "files (see docs/raw_data_contract.md) or unset it to use the bundled sample.")
    if not raw_dir.is_dir():
        raise RawLandingError(f"RETENTION_RAW_DIR={raw_dir} is not a folder.")
    try:
        next(raw_dir.iterdir(), None)
    except PermissionError:
        raise RawLandingError(f"RETENTION_RAW_DIR={raw_dir} is not readable.") from None


def discover(raw_dir: Path, encodings: Mapping[str, str] | None = None) -> LandingPlan:
    """Every batch file per table; raise on a file that is not one."""
    encodings = table_encodings() if encodings is None else encodings
    plan = LandingPlan(raw_dir=raw_dir)
    tables = {table.name for table in RAW_TABLES}
    for folder in sorted(p for p in raw_dir.iterdir() if p.is_dir()):
        if folder.name.startswith((".", "_")):
            continue
        if folder.name not in tables:
            plan.ignored_folders.append(folder.name)
            continue
        batches: list[BatchFile] = []
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue  # .DS_Store, editor swap files: never data
            if path.is_dir():
                raise RawLandingError(
                    f"{path}: a folder inside the table folder {folder.name}/; batch files "
                    "must lie directly in it (see docs/raw_data_contract.md).")
            kind = file_kind(path.name)
            if kind is None:
                raise RawLandingError(
                    f"{path}: not a batch file; a table folder holds only *.csv, *.csv.gz "
                    "or *.parquet files (any letter case). Move it out or rename it.")
            stat = path.stat()
            if stat.st_size == 0:
                raise RawLandingError(
                    f"{path}: the file is empty (0 bytes); a batch file needs at least a "
                    "header row (a header-only file is a valid empty batch).")
            encoding = "parquet" if kind == "parquet" else encodings[folder.name]
            batches.append(BatchFile(folder.name, path, kind, encoding, stat.st_size,
                                     int(stat.st_mtime)))
        plan.files[folder.name] = batches
    return plan


def _text_stream(batch: BatchFile) -> io.TextIOBase:
    """The file opened as text in its encoding (gzip decompressed), errors raised."""
    encoding = {"utf-8": "utf-8-sig", "utf-16": "utf-16",
                TRANSCODED_ENCODING: "cp1252"}[batch.encoding]
    if batch.kind == "csv_gzip":
        return gzip.open(batch.path, "rt", encoding=encoding, newline="")
    return batch.path.open(encoding=encoding, newline="")


def read_header(batch: BatchFile) -> list[str]:
    """The column names of one batch file as written, in file order."""
    if batch.kind == "parquet":
        import duckdb

        try:
            with duckdb.connect() as con:
                return [row[0] for row in con.execute(
                    "select name from parquet_schema(?) where num_children is null "
                    "and name != 'schema'", [str(batch.path)]).fetchall()]
        except duckdb.Error as error:
            raise RawLandingError(f"{batch.path}: not a readable Parquet file ({error}).") from None
    try:
        if batch.encoding == "utf-16":
            with _text_stream(batch) as handle:
                line = handle.readline()
        else:  # decode the first line only: a bad byte further down is the hook's to report
            opener = gzip.open if batch.kind == "csv_gzip" else open
            with opener(batch.path, "rb") as raw:
                first = raw.readline()
            codec = "utf-8-sig" if batch.encoding == "utf-8" else "cp1252"
            line = first.decode(codec)
    except UnicodeDecodeError:
        raise RawLandingError(
            f"{batch.path}, line 1: the header is not valid {batch.encoding}; set "
            f"{ENCODING_VARIABLE} (see docs/raw_data_contract.md).") from None
    except PermissionError:
        raise RawLandingError(
            f"permission denied ({batch.path}): the landing cannot read it. Give this user "
            "read access to the raw files and run it again.") from None
    except (OSError, EOFError) as error:
        raise RawLandingError(f"{batch.path}: cannot read the header ({error}).") from None
    return next(csv.reader([line]), [])


def check_header(batch: BatchFile, header: list[str], table: RawTable,
                 default_currency: bool) -> None:
    """Fail naming the file when its header repeats a column or lacks a required one."""
    names = [name.strip().lower() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1 and name})
    if repeated:
        raise RawLandingError(
            f"{batch.path}: the header names column '{repeated[0]}' twice; "
            "every column may appear once.")
    required = [column.name for column in table.columns if column.required
                and not (column.required_unless_var and default_currency)]
    missing = [name for name in required if name not in names]
    if missing:
        shown = ", ".join(header) or "nothing"
        raise RawLandingError(
            f"{batch.path}: missing required column '{missing[0]}' (its header has: {shown}). "
            f"Every {table.name} file needs: {', '.join(required)}; the other columns are "
            "optional. See docs/raw_data_contract.md.")


def transcode(batch: BatchFile, target: Path) -> None:
    """Write a UTF-8 copy of a Windows-1252 CSV file; raise naming file and line on a bad byte."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    decoder = codecs.getincrementaldecoder("cp1252")()
    opener = gzip.open if batch.kind == "csv_gzip" else open
    line = 1
    with opener(batch.path, "rb") as source, partial.open("w", encoding="utf-8",
                                                          newline="") as out:
        while chunk := source.read(1 << 20):
            try:
                out.write(decoder.decode(chunk))
            except UnicodeDecodeError as error:
                line += chunk[:error.start].count(b"\n")
                partial.unlink(missing_ok=True)
                raise RawLandingError(
                    f"{batch.path}, line {line}: byte 0x{chunk[error.start]:02x} is not valid "
                    f"{batch.encoding}; check {ENCODING_VARIABLE} (see "
                    "docs/raw_data_contract.md).") from None
            line += chunk.count(b"\n")
    os.replace(partial, target)


def preflight(raw_dir: Path, warehouse_path: Path, default_currency: bool = False,
              environ: Mapping[str, str] | None = None) -> LandingPlan:
    """Check the landing folder and prepare it for the hook; raise RawLandingError."""
    check_raw_dir(raw_dir)
    plan = discover(raw_dir, table_encodings(environ))
    if not plan.files.get("transactions"):
        raise RawLandingError(
            f"No batch files for the required raw table 'transactions' in "
            f"{raw_dir / 'transactions'} (*.csv, *.csv.gz or *.parquet). "
            "See docs/raw_data_contract.md.")
    cache = landing_cache_dir(warehouse_path, environ)
    for table in RAW_TABLES:
        for batch in plan.files.get(table.name, []):
            header = read_header(batch)
            check_header(batch, header, table, default_currency)
            plan.headers[batch.path] = header
            if batch.encoding == TRANSCODED_ENCODING:
                transcode(batch, transcoded_path(cache, batch))
    return plan

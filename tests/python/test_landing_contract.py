"""The landing contract is one list, and the landing pre-flight says what is wrong in one line.

Required-ness (issue 19.1) is stated in four places that must agree: the contract module
(``retention_warehouse/contract.py``), the contract document (its "required" column), the
dbt sources' column meta, and the check staging really runs (``missing_required_field``,
read from the compiled SQL of every base model, i.e. what the warehouse executed). The
pre-flight tests build tiny folders by hand and need no dbt.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, BuiltWarehouse

from retention_warehouse.contract import ENCODINGS, RAW_TABLES, RAW_TABLES_BY_NAME
from retention_warehouse.landing import (
    RawLandingError,
    discover,
    landing_cache_dir,
    preflight,
    table_encodings,
    transcoded_path,
)

BASE_MODELS = {
    "crm_customers": "crm/base_crm__customers.sql",
    "crm_account_events": "crm/base_crm__account_events.sql",
    "transactions": "transactions/base_transactions__transactions.sql",
    "survey_invitations": "surveys/base_surveys__invitations.sql",
    "survey_responses": "surveys/base_surveys__responses.sql",
    "marketing_spend": "marketing/base_marketing__spend.sql",
    "fx_rates": "reference/base_fx__rates.sql",
}


def contract_required() -> dict[str, set[str]]:
    """Required columns per table, from contract.py (optional-when-var columns included)."""
    return {t.name: {c.name for c in t.columns if c.required} for t in RAW_TABLES}


def documented_required() -> dict[str, set[str]]:
    """Required columns per table, from the 'required' column of docs/raw_data_contract.md."""
    text = (PROJECT_DIR / "docs" / "raw_data_contract.md").read_text()
    result = {}
    for table in RAW_TABLES:
        body = re.split(r"\n##+ ", text.split(f"### `{table.name}`", 1)[1], maxsplit=1)[0]
        rows = [line for line in body.splitlines() if line.startswith("|")]
        header = [cell.strip() for cell in rows[0].strip("|").split("|")]
        at = header.index("required")
        cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in rows[2:]]
        result[table.name] = {row[0].strip("`") for row in cells if row[at].startswith("yes")}
    return result


def compiled_required(target_dir: Path) -> dict[str, set[str]]:
    """The columns staging's missing_required_field check tests, per table (compiled SQL)."""
    result = {}
    compiled = target_dir / "compiled" / "retention_warehouse" / "models" / "staging"
    for table, path in BASE_MODELS.items():
        sql = (compiled / path).read_text()
        block = re.search(rf"-- required columns of {table}\n(.*?)\n\s*\)", sql, flags=re.S)
        assert block, f"{path}: no required-columns check for {table}"
        result[table] = set(re.findall(r"nullif\(trim\((?:\w+\.)?(\w+)\), ''\) is null",
                                       block.group(1)))
    return result


def test_required_columns_are_one_list(warehouse: BuiltWarehouse) -> None:
    """contract.py = the contract document = the sources' meta = what staging checks."""
    expected = contract_required()
    assert expected["transactions"] == {"order_id", "customer_id", "transaction_at", "amount",
                                        "currency_code"}
    assert [t.name for t in RAW_TABLES if t.required] == ["transactions"]
    assert documented_required() == expected
    meta = {}
    for source in warehouse.dbt_manifest["sources"].values():
        if source["source_name"] != "landing":
            meta[source["name"]] = {name for name, column in source["columns"].items()
                                    if (column.get("meta") or {}).get("required")}
    assert meta == expected
    assert compiled_required(warehouse.target_dir) == expected


def test_the_required_list_check_sees_a_difference(warehouse: BuiltWarehouse) -> None:
    """The comparison above fails when one place drops a column (it can fail)."""
    broken = contract_required()
    broken["transactions"].discard("amount")
    assert compiled_required(warehouse.target_dir) != broken


def macro_raw_columns(macro_text: str) -> dict[str, list[str]]:
    """The column list of each raw table in macros/get_raw_columns.sql."""
    block = macro_text.split("{%- set columns = {", 1)[1].split("} -%}", 1)[0]
    return {table: re.findall(r"'(\w+)'", columns)
            for table, columns in re.findall(r"'(\w+)': \[([^\]]*)\]", block)}


def test_raw_column_lists_are_the_contract() -> None:
    """The base models' column lists (get_raw_columns) = contract.py, table by table, in order."""
    macro = (PROJECT_DIR / "macros" / "get_raw_columns.sql").read_text()
    expected = {table.name: table.column_names for table in RAW_TABLES}
    assert macro_raw_columns(macro) == expected
    # It can fail: a column dropped from one list is seen.
    broken = macro.replace("'store_id', ", "", 1)
    assert macro_raw_columns(broken) != expected


def test_optional_tables_say_what_is_off_in_one_place(warehouse: BuiltWarehouse) -> None:
    """Each optional table's 'when absent' line is the same in contract.py and the sources."""
    for source in warehouse.dbt_manifest["sources"].values():
        if source["source_name"] == "landing":
            continue
        table = RAW_TABLES_BY_NAME[source["name"]]
        assert source["meta"].get("when_absent", "") == table.when_absent, table.name
        assert bool(source["meta"]["required_table"]) == table.required, table.name


def test_hook_knows_the_same_encodings_as_the_contract() -> None:
    """The hook's encoding names (macros/check_raw_landing.sql) = contract.ENCODINGS."""
    macro = (PROJECT_DIR / "macros" / "check_raw_landing.sql").read_text()
    block = macro.split("{%- set aliases = {", 1)[1].split("} -%}", 1)[0]
    aliases = dict(re.findall(r"'([\w-]+)': '([\w-]+)'", block))
    assert aliases == ENCODINGS


# --- the pre-flight (no dbt) ---------------------------------------------------------------

MINIMAL = "order_id,customer_id,transaction_at,amount,currency_code\nO1,C1,2025-01-02,10.00,USD\n"


def landing_folder(root: Path, files: dict[str, str | bytes]) -> Path:
    """A raw folder with the given files (path inside the folder -> content)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def test_preflight_accepts_real_file_names_and_skips_hidden_files(tmp_path: Path) -> None:
    raw = landing_folder(tmp_path / "raw", {
        "transactions/EXPORT.CSV": MINIMAL,
        "transactions/orders-2025.Csv.Gz": gzip.compress(MINIMAL.encode()),
        "transactions/.DS_Store": b"\x00\x01",
        "crm_customers/people.csv": "\ufeffcustomer_id,signup_at\n",  # BOM, header only
        "notes/readme.txt": "not a table",
    })
    plan = preflight(raw, tmp_path / "w.duckdb")
    assert [f.kind for f in plan.files["transactions"]] == ["csv", "csv_gzip"]
    assert plan.headers[raw / "crm_customers" / "people.csv"] == ["customer_id", "signup_at"]
    assert plan.ignored_folders == ["notes"]
    notes = plan.notes()
    assert any(note.startswith("landing: no marketing_spend files: CAC and everything derived")
               for note in notes)
    assert "landing: folder notes/ is not a table of the contract and is ignored." in notes


@pytest.mark.parametrize(("files", "message"), [
    ({"transactions/orders.xlsx": "x"},
     r"transactions/orders\.xlsx: not a batch file; a table folder holds only \*\.csv"),
    ({"transactions/2025/part.csv": MINIMAL},
     r"transactions/2025: a folder inside the table folder transactions/"),
    ({"transactions/empty.csv": ""}, r"transactions/empty\.csv: the file is empty \(0 bytes\)"),
    ({"transactions/semicolons.csv": "order_id;customer_id;transaction_at;amount\n"},
     r"semicolons\.csv: missing required column 'order_id' \(its header has: "
     r"order_id;customer_id;transaction_at;amount\)"),
    ({"transactions/twice.csv":
      "order_id,customer_id,transaction_at,amount,Amount,currency_code\n"},
     r"twice\.csv: the header names column 'amount' twice"),
    ({"transactions/latin.csv": "order_id,customer_id,transaction_at,amount,currency_code,n\xe9\n"
      .encode("latin-1")}, r"latin\.csv, line 1: the header is not valid utf-8"),
    ({"crm_customers/people.csv": "customer_id,signup_at\n"},
     r"No batch files for the required raw table 'transactions'"),
])
def test_preflight_stops_with_one_line_naming_the_file(tmp_path: Path, files: dict,
                                                       message: str) -> None:
    raw = landing_folder(tmp_path / "raw", files)
    with pytest.raises(RawLandingError, match=message) as error:
        preflight(raw, tmp_path / "w.duckdb")
    assert "\n" not in str(error.value)


def test_default_currency_makes_currency_optional(tmp_path: Path) -> None:
    raw = landing_folder(tmp_path / "raw", {
        "transactions/t.csv":
        "order_id,customer_id,transaction_at,amount\nO1,C1,1997-01-01,9.99\n"})
    with pytest.raises(RawLandingError, match="missing required column 'currency_code'"):
        preflight(raw, tmp_path / "w.duckdb")
    preflight(raw, tmp_path / "w.duckdb", default_currency=True)


def test_windows_1252_export_is_converted_to_utf8_beside_the_warehouse(tmp_path: Path) -> None:
    """€ (0x80) and ’ (0x92) are Windows-1252, not Latin-1: they must come out right."""
    people = "customer_id,signup_at,first_name\nC1,2024-01-01,Zo\u00eb \u2019\u20ac\n"
    raw = landing_folder(tmp_path / "raw", {
        "transactions/t.csv": MINIMAL,
        "crm_customers/people.csv": people.encode("cp1252"),
    })
    environ = {"RETENTION_RAW_ENCODING": "utf-8,crm_customers=windows-1252"}
    plan = preflight(raw, tmp_path / "w.duckdb", environ=environ)
    batch = plan.files["crm_customers"][0]
    copy = transcoded_path(landing_cache_dir(tmp_path / "w.duckdb", environ), batch)
    assert copy.read_text(encoding="utf-8") == people
    assert copy.parent == tmp_path / "w.duckdb.landing" / "transcoded" / "crm_customers"


def test_a_byte_that_is_not_windows_1252_names_file_and_line(tmp_path: Path) -> None:
    raw = landing_folder(tmp_path / "raw", {
        "transactions/t.csv": MINIMAL,
        # 0x81 is undefined in Windows-1252
        "crm_customers/people.csv": b"customer_id,signup_at\nC1,2024-01-01\nC2,2024-01-0\x81\n",
    })
    environ = {"RETENTION_RAW_ENCODING": "latin-1"}
    with pytest.raises(RawLandingError, match=r"people\.csv, line 3: byte 0x81 is not valid "
                                              r"windows-1252"):
        preflight(raw, tmp_path / "w.duckdb", environ=environ)
    assert not list((tmp_path / "w.duckdb.landing").rglob("*.csv")), "no partial copy is left"


def test_encoding_setting_is_checked() -> None:
    assert table_encodings({"RETENTION_RAW_ENCODING": "CP1252"})["transactions"] == "windows-1252"
    assert table_encodings({})["crm_customers"] == "utf-8"
    with pytest.raises(RawLandingError, match="unknown encoding 'ebcdic'"):
        table_encodings({"RETENTION_RAW_ENCODING": "ebcdic"})
    with pytest.raises(RawLandingError, match="'orders' is not a raw table"):
        table_encodings({"RETENTION_RAW_ENCODING": "orders=utf-16"})


def test_discover_reads_no_rows(tmp_path: Path) -> None:
    """Discovery lists files and sizes only: a file of garbage after its header is not read."""
    raw = landing_folder(tmp_path / "raw", {"transactions/t.csv": MINIMAL + "\x00" * 1000})
    plan = discover(raw, table_encodings({}))
    assert plan.files["transactions"][0].size == len(MINIMAL) + 1000

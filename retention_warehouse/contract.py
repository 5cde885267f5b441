"""The raw landing contract: every raw table, its columns, and what they mean.

This module is the single machine-readable statement of what lands in
``RETENTION_RAW_DIR``. The generator writes these columns, the dbt sources
declare them (with the same ``required`` flag in their ``meta``, which staging's
``missing_required_field`` check is generated from), ``docs/raw_data_contract.md``
documents them, and tests check all of them against this list.

Layout of a raw folder: one sub-folder per table, holding one or more batch
files (``<table>/<batch>.csv``, ``.csv.gz`` or ``.parquet``, any letter case).
Only ``transactions`` is required; every other table is optional and the
warehouse says which features are off without it (``RawTable.when_absent``).
Every value is read as text (CSV and Parquet alike): typing and validation are
staging's job, so a malformed value never stops a load.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One raw column: name, logical type, meaning, allowed values, required-ness, default."""

    name: str
    type: str
    description: str
    allowed: str = ""
    required: bool = False
    pii: bool = False
    default: str = ""  # what staging uses when the column is absent or blank
    required_unless_var: str = ""  # a dbt var that, when set, makes the column optional


@dataclass(frozen=True)
class RawTable:
    """One raw table (a folder of batch files) and its columns."""

    name: str
    description: str
    key: str
    columns: tuple[Column, ...] = field(default_factory=tuple)
    required: bool = False
    when_absent: str = ""  # what the warehouse does without this table (one line)

    @property
    def column_names(self) -> list[str]:
        """Column names in file order."""
        return [column.name for column in self.columns]

    @property
    def required_columns(self) -> list[str]:
        """Columns every file and every row must have (blank = missing_required_field)."""
        return [column.name for column in self.columns if column.required]


TIMESTAMP = "timestamp text"
TIMESTAMP_NOTE = (
    "ISO 8601 (2024-03-05T14:22:10+01:00, 2024-03-05T13:22:10.123Z, 2024-03-05 14:22, "
    "2024-03-05; no offset = UTC) or DD/MM/YYYY HH:MM:SS +HHMM"
)
BOOLEAN_NOTE = "true/false, 1/0, yes/no, t/f, y/n in any case"
CHANNELS = "any text, e.g. paid_search, social, email, organic, referral, partner, store"

CRM_CUSTOMERS = RawTable(
    name="crm_customers",
    description="One row per CRM person as exported by the CRM (a person may "
    "appear twice under two ids: the CRM does not deduplicate).",
    key="customer_id",
    when_absent="customers are derived from transactions: one per customer_id, signup = "
    "first order, region and acquisition channel unknown",
    columns=(
        Column("customer_id", "text", "CRM person id", "any text, not blank", required=True),
        Column("email", "text", "E-mail address as typed (people are matched by it)",
               "any text", pii=True, default="no e-mail: the person is matched by id only"),
        Column("phone", "text", "Phone number", "any text", pii=True, default="none"),
        Column("first_name", "text", "Given name", "any text", pii=True, default="none"),
        Column("last_name", "text", "Family name", "any text", pii=True, default="none"),
        Column("birth_date", "date text", "Date of birth, YYYY-MM-DD", "a date", pii=True,
               default="none"),
        Column("country_code", "text", "Country of residence",
               "ISO 3166-1 alpha-2; region from seed country_regions", default="region unknown"),
        Column("preferred_language", "text", "Preferred language", "ISO 639-1 code",
               default="none"),
        Column("signup_at", TIMESTAMP, "When the person created the account", TIMESTAMP_NOTE,
               required=True),
        Column("acquisition_channel", "text", "Channel that brought the person", CHANNELS,
               default="unknown"),
        Column("referred_by_customer_id", "text",
               "Referring person's customer_id when channel = referral",
               "a customer_id or blank", default="none"),
        Column("marketing_consent", "boolean text", "Opted in to marketing", BOOLEAN_NOTE,
               default="false"),
        Column("is_test_account", "boolean text",
               "Internal test account (an @example.com e-mail also marks one)", BOOLEAN_NOTE,
               default="false"),
        Column("updated_at", TIMESTAMP, "Last change of the CRM record", TIMESTAMP_NOTE,
               default="unknown: of two rows of one id, the latest landed wins"),
    ),
)

CRM_ACCOUNT_EVENTS = RawTable(
    name="crm_account_events",
    description="Account status changes: closures and erasure (GDPR) requests.",
    key="event_id",
    when_absent="no account is closed or erased",
    columns=(
        Column("event_id", "text", "Event id", "any text, not blank", required=True),
        Column("customer_id", "text", "Person the event is about", "a customer_id",
               required=True),
        Column("event_type", "text", "What happened", "closure, erasure_request",
               required=True),
        Column("event_at", TIMESTAMP, "When it happened", TIMESTAMP_NOTE, required=True),
    ),
)

TRANSACTIONS = RawTable(
    name="transactions",
    description="Order-system ledger: one row per sale (one per order) and one "
    "per refund; a refund carries the order_id of the order it refunds.",
    key="transaction_id",
    required=True,
    columns=(
        Column("transaction_id", "text", "Ledger row id", "any text",
               default="derived: <order_id>#sale for a sale, "
               "<order_id>#refund#<transaction_at> for a refund"),
        Column("order_id", "text", "Order id (for a refund: the refunded order)",
               "any text, not blank", required=True),
        Column("customer_id", "text", "Buyer", "a customer_id", required=True),
        Column("transaction_type", "text", "Sale or refund", "sale, refund", default="sale"),
        Column("transaction_at", TIMESTAMP, "When it was booked", TIMESTAMP_NOTE,
               required=True),
        Column("amount", "decimal text",
               "Amount in the transaction currency, positive, at most the currency's "
               "minor-unit decimals", "digits, optional sign and decimal point", required=True),
        Column("currency_code", "text", "ISO 4217 currency of amount",
               "the reporting currency, or one with FX rates", required=True,
               default="var default_currency_code", required_unless_var="default_currency_code"),
        Column("status", "text", "Order status", "completed, cancelled (or canceled)",
               default="completed"),
        Column("sales_channel", "text", "Where it was sold", "any text, e.g. web, app, store",
               default="unknown"),
        Column("store_id", "text", "Store when sales_channel = store", "any text",
               default="none"),
        Column("items_count", "integer text", "Items sold or returned", "digits",
               default="unknown"),
    ),
)

SURVEY_INVITATIONS = RawTable(
    name="survey_invitations",
    description="Survey invitations sent to customers.",
    key="invitation_id",
    when_absent="survey response rates are NULL (no invitations)",
    columns=(
        Column("invitation_id", "text", "Invitation id", "any text, not blank", required=True),
        Column("customer_id", "text", "Invited person", "a customer_id", required=True),
        Column("survey_type", "text", "Survey kind", "nps, csat, ces, exit", required=True),
        Column("sent_at", TIMESTAMP, "When it was sent", TIMESTAMP_NOTE, required=True),
    ),
)

SURVEY_RESPONSES = RawTable(
    name="survey_responses",
    description="Answers to survey invitations (at most one per invitation).",
    key="response_id",
    when_absent="NPS, CSAT, CES and churn reasons are not computed (NULL, no_answer)",
    columns=(
        Column("response_id", "text", "Response id", "any text, not blank", required=True),
        Column("invitation_id", "text", "Invitation answered", "an invitation_id",
               required=True),
        Column("score", "integer text",
               "Score: nps 0-10, csat 1-5, ces 1-7; blank for exit surveys",
               "an integer in the survey type's range", default="none (exit surveys)"),
        Column("comment", "text", "Free-text comment", "any text", pii=True, default="none"),
        Column("exit_reason_code", "text",
               "Exit survey reason (exit surveys only; blank = no answer)",
               "a reason_code in seed exit_reasons or blank", default="no answer"),
        Column("responded_at", TIMESTAMP, "When it was answered", TIMESTAMP_NOTE,
               required=True),
    ),
)

MARKETING_SPEND = RawTable(
    name="marketing_spend",
    description="Acquisition marketing spend per channel per month per country, "
    "in local currency (the referral channel's spend is referral rewards paid).",
    key="spend_month, country_code, acquisition_channel",
    when_absent="CAC and everything derived from it (historical and predicted CLTV) are NULL",
    columns=(
        Column("spend_month", "date text", "First day of the month, YYYY-MM-01",
               "a month start", required=True),
        Column("country_code", "text", "Country the spend targeted", "any text",
               default="none"),
        Column("acquisition_channel", "text", "Channel", CHANNELS, required=True),
        Column("currency_code", "text", "Currency of spend_amount",
               "the reporting currency, or one with FX rates", required=True),
        Column("spend_amount", "decimal text",
               "Spend, at most the currency's minor-unit decimals", ">= 0", required=True),
    ),
)

FX_RATES = RawTable(
    name="fx_rates",
    description="Daily FX rates you supply: US dollars per unit of a currency. They extend "
    "and override the bundled seed fx_rates (same columns).",
    key="rate_date, currency_code",
    when_absent="only the bundled seed fx_rates is used (amounts in the reporting currency "
    "need no rate)",
    columns=(
        Column("rate_date", "date text", "Date the rate was published, YYYY-MM-DD", "a date",
               required=True),
        Column("currency_code", "text", "ISO 4217 currency", "three letters", required=True),
        Column("usd_per_unit", "decimal text", "US dollars for one unit of the currency",
               "> 0", required=True),
    ),
)

RAW_TABLES: tuple[RawTable, ...] = (
    CRM_CUSTOMERS,
    CRM_ACCOUNT_EVENTS,
    TRANSACTIONS,
    SURVEY_INVITATIONS,
    SURVEY_RESPONSES,
    MARKETING_SPEND,
    FX_RATES,
)

RAW_TABLES_BY_NAME: dict[str, RawTable] = {table.name: table for table in RAW_TABLES}

# The tables the generator writes (every contract table except the optional fx_rates).
GENERATED_TABLES: tuple[RawTable, ...] = tuple(t for t in RAW_TABLES if t is not FX_RATES)

RAW_FORMATS = ("csv", "parquet")

# Batch file kinds by name ending (compared in lower case): what the readers accept.
FILE_KINDS: dict[str, str] = {".csv.gz": "csv_gzip", ".csv": "csv", ".parquet": "parquet"}

# Encodings a CSV table may be declared in (RETENTION_RAW_ENCODING). UTF-8 (with or without
# byte-order mark) is the default; UTF-16 is read by DuckDB itself; Windows-1252 (which
# includes every printable Latin-1 character, so latin-1 is an alias) is converted to UTF-8
# by the landing pre-flight first, because DuckDB reads no Windows-1252.
ENCODINGS: dict[str, str] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-16": "utf-16",
    "utf16": "utf-16",
    "windows-1252": "windows-1252",
    "cp1252": "windows-1252",
    "latin-1": "windows-1252",
    "latin1": "windows-1252",
    "iso-8859-1": "windows-1252",
}

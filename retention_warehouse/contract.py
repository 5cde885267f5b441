"""The raw landing contract: every raw file, its columns, and what they mean.

This module is the single machine-readable statement of what lands in
``RETENTION_RAW_DIR``. The generator writes exactly these columns, the dbt
sources declare them, ``docs/raw_data_contract.md`` documents them, and tests
check all three against this list.

Layout of a raw folder: one sub-folder per table, holding one or more batch
files of the same format (``<table>/<batch>.csv`` or ``<table>/<batch>.parquet``).
Every value is text (CSV and Parquet alike): typing and validation are staging's
job, so a malformed value never stops a load.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One raw column: its name, logical type, meaning, allowed values and PII flag."""

    name: str
    type: str
    description: str
    allowed: str = ""
    required: bool = True
    pii: bool = False


@dataclass(frozen=True)
class RawTable:
    """One raw table (a folder of batch files) and its columns."""

    name: str
    description: str
    key: str
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        """Column names in file order."""
        return [column.name for column in self.columns]


TIMESTAMP = "timestamp text"
TIMESTAMP_NOTE = (
    "ISO 8601 with UTC offset, e.g. 2024-03-05T14:22:10+01:00; "
    "a second format DD/MM/YYYY HH:MM:SS +HHMM and values without offset "
    "(read as UTC) also occur"
)
CHANNELS = "paid_search, social, email, organic, referral, partner, store"

CRM_CUSTOMERS = RawTable(
    name="crm_customers",
    description="One row per CRM person as exported by the CRM (a person may "
    "appear twice under two ids: the CRM does not deduplicate).",
    key="customer_id",
    columns=(
        Column("customer_id", "text", "CRM person id", "C followed by 8 digits"),
        Column("email", "text", "E-mail address as typed", "any text", pii=True),
        Column("phone", "text", "Phone number, E.164", "+ and digits",
               required=False, pii=True),
        Column("first_name", "text", "Given name", "any text", pii=True),
        Column("last_name", "text", "Family name", "any text", pii=True),
        Column("birth_date", "date text", "Date of birth, YYYY-MM-DD",
               "a date", required=False, pii=True),
        Column("country_code", "text", "Country of residence",
               "ISO 3166-1 alpha-2 in seed country_regions"),
        Column("preferred_language", "text", "Preferred language",
               "ISO 639-1 code", required=False),
        Column("signup_at", TIMESTAMP, "When the person created the account",
               TIMESTAMP_NOTE),
        Column("acquisition_channel", "text", "Channel that brought the person",
               CHANNELS),
        Column("referred_by_customer_id", "text",
               "Referring person's customer_id when channel = referral",
               "a customer_id or blank", required=False),
        Column("marketing_consent", "boolean text", "Opted in to marketing",
               "true, false"),
        Column("is_test_account", "boolean text",
               "Internal test account (these also use @example.com)",
               "true, false"),
        Column("updated_at", TIMESTAMP, "Last change of the CRM record",
               TIMESTAMP_NOTE),
    ),
)

CRM_ACCOUNT_EVENTS = RawTable(
    name="crm_account_events",
    description="Account status changes: closures and erasure (GDPR) requests.",
    key="event_id",
    columns=(
        Column("event_id", "text", "Event id", "E followed by 8 digits"),
        Column("customer_id", "text", "Person the event is about", "a customer_id"),
        Column("event_type", "text", "What happened", "closure, erasure_request"),
        Column("event_at", TIMESTAMP, "When it happened", TIMESTAMP_NOTE),
    ),
)

TRANSACTIONS = RawTable(
    name="transactions",
    description="Order-system ledger: one row per sale (one per order) and one "
    "per refund; a refund carries the order_id of the order it refunds.",
    key="transaction_id",
    columns=(
        Column("transaction_id", "text", "Ledger row id", "T followed by 10 digits"),
        Column("order_id", "text", "Order id (for a refund: the refunded order)",
               "O followed by 10 digits"),
        Column("customer_id", "text", "Buyer", "a customer_id"),
        Column("transaction_type", "text", "Sale or refund", "sale, refund"),
        Column("transaction_at", TIMESTAMP, "When it was booked", TIMESTAMP_NOTE),
        Column("amount", "decimal text",
               "Amount in the transaction currency, positive, 2 decimals",
               "> 0"),
        Column("currency_code", "text", "ISO 4217 currency of amount",
               "a currency in seed fx_rates"),
        Column("status", "text", "Order status", "completed, cancelled"),
        Column("sales_channel", "text", "Where it was sold", "web, app, store"),
        Column("store_id", "text", "Store when sales_channel = store",
               "S followed by 3 digits or blank", required=False),
        Column("items_count", "integer text", "Items sold or returned", ">= 1"),
    ),
)

SURVEY_INVITATIONS = RawTable(
    name="survey_invitations",
    description="Survey invitations sent to customers.",
    key="invitation_id",
    columns=(
        Column("invitation_id", "text", "Invitation id", "I followed by 9 digits"),
        Column("customer_id", "text", "Invited person", "a customer_id"),
        Column("survey_type", "text", "Survey kind", "nps, csat, ces, exit"),
        Column("sent_at", TIMESTAMP, "When it was sent", TIMESTAMP_NOTE),
    ),
)

SURVEY_RESPONSES = RawTable(
    name="survey_responses",
    description="Answers to survey invitations (at most one per invitation).",
    key="response_id",
    columns=(
        Column("response_id", "text", "Response id", "R followed by 9 digits"),
        Column("invitation_id", "text", "Invitation answered", "an invitation_id"),
        Column("score", "integer text",
               "Score: nps 0-10, csat 1-5, ces 1-7; blank for exit surveys",
               "see survey_type", required=False),
        Column("comment", "text", "Free-text comment", "any text",
               required=False, pii=True),
        Column("exit_reason_code", "text",
               "Exit survey reason (exit surveys only; blank = no answer)",
               "a reason_code in seed exit_reasons or blank", required=False),
        Column("responded_at", TIMESTAMP, "When it was answered", TIMESTAMP_NOTE),
    ),
)

MARKETING_SPEND = RawTable(
    name="marketing_spend",
    description="Acquisition marketing spend per channel per month per country, "
    "in local currency (the referral channel's spend is referral rewards paid).",
    key="spend_month, country_code, acquisition_channel",
    columns=(
        Column("spend_month", "date text", "First day of the month, YYYY-MM-01",
               "a month start"),
        Column("country_code", "text", "Country the spend targeted",
               "ISO 3166-1 alpha-2 in seed country_regions"),
        Column("acquisition_channel", "text", "Channel", CHANNELS),
        Column("currency_code", "text", "Currency of spend_amount",
               "a currency in seed fx_rates"),
        Column("spend_amount", "decimal text", "Spend, 2 decimals", ">= 0"),
    ),
)

RAW_TABLES: tuple[RawTable, ...] = (
    CRM_CUSTOMERS,
    CRM_ACCOUNT_EVENTS,
    TRANSACTIONS,
    SURVEY_INVITATIONS,
    SURVEY_RESPONSES,
    MARKETING_SPEND,
)

RAW_TABLES_BY_NAME: dict[str, RawTable] = {table.name: table for table in RAW_TABLES}

RAW_FORMATS = ("csv", "parquet")

"""How the oracle reads one raw value: timestamps, money, booleans, dates, e-mails.

The grammar is docs/raw_data_contract.md and docs/metric_decisions.md ("Raw values"),
written again in Python (regular expressions), never taken from the SQL macros.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
RATE_QUANTUM = Decimal("0.00000001")

def round_money(value: Decimal) -> Decimal:
    """Round to cents, half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_rate(value: Decimal) -> Decimal:
    """Round an FX rate to 8 decimals, half away from zero."""
    return value.quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)




# seconds and fraction) with an offset (+HH:MM, +HHMM, +HH or Z, optionally after a
# space) or without one (UTC); a date alone (midnight UTC); DD/MM/YYYY HH:MM:SS +HHMM.
_TS_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,9}))?)?"
    r"(?: ?(Z|z|([+-])(0\d|1[0-4])(?::?([0-5]\d))?))?$"
)
_TS_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TS_DMY_OFFSET = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{1,2}):(\d{1,2}) ([+-])(\d{2}):?(\d{2})$"
)
_MONEY = re.compile(r"^[+-]?\d{1,16}(\.\d{1,2})?$")
INTEGER_PATTERN = re.compile(r"^[+-]?\d{1,9}$")
COUNT_PATTERN = re.compile(r"^\+?\d{1,9}$")
RATE_PATTERN = re.compile(r"^\+?\d{1,8}(\.\d{1,10})?$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
_TRUE = ("true", "1", "yes", "t", "y")
_FALSE = ("false", "0", "no", "f", "n")


def parse_timestamp_utc(text: str | None) -> datetime | None:
    """Parse a raw timestamp into an aware UTC datetime; None when it is not one.

    Fractions beyond microseconds are cut; an impossible calendar date is None.
    """
    if text is None:
        return None
    value = text.strip()
    try:
        if m := _TS_ISO.match(value):
            y, mo, d, h, mi, s, frac, zone, sign, oh, om = m.groups()
            micros = int((frac or "0")[:6].ljust(6, "0"))
            offset = timedelta(0)
            if zone and zone not in ("Z", "z"):
                offset = timedelta(hours=int(oh), minutes=int(om or 0))
                if sign == "-":
                    offset = -offset
            local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), micros,
                             tzinfo=timezone(offset))
            return local.astimezone(UTC)
        if m := _TS_DATE.match(value):
            return datetime(*map(int, m.groups()), tzinfo=UTC)
        if m := _TS_DMY_OFFSET.match(value):
            d, mo, y, h, mi, s, sign, oh, om = m.groups()
            if int(h) > 23 or int(mi) > 59 or int(s) > 59:
                return None
            offset = timedelta(hours=int(oh), minutes=int(om))
            if sign == "-":
                offset = -offset
            local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s),
                             tzinfo=timezone(offset))
            return local.astimezone(UTC)
        return None
    except ValueError:
        return None


def parse_money(text: str, max_decimals: int = 2) -> Decimal | None:
    """Optional sign, digits, at most ``max_decimals`` decimals (never rounded); else None."""
    value = text.strip()
    if not _MONEY.match(value) or len(value.partition(".")[2]) > max_decimals:
        return None
    return Decimal(value)


def parse_boolean(text: str) -> bool | None:
    """true/1/yes/t/y and false/0/no/f/n in any case; None for anything else."""
    value = text.strip().lower()
    return True if value in _TRUE else False if value in _FALSE else None


def parse_iso_date(text: str) -> date | None:
    """A YYYY-MM-DD date (None when not one, or impossible)."""
    m = _TS_DATE.match(text.strip())
    try:
        return date(*map(int, m.groups())) if m else None
    except ValueError:
        return None


def normalize_email(text: str) -> str | None:
    """NFC, trimmed, lower-cased; None when blank (plus-tags and dots are kept)."""
    value = unicodedata.normalize("NFC", text).strip().lower()
    return value or None


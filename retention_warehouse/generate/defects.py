"""The defects injected into the raw data, their documented rates, and how they are drawn.

Each defect kind has one rate and one base (the rows it is drawn from). A row
carries at most one defect, and a defect that makes staging reject a row is
only put where the rejection cannot cascade (a sale that was never refunded,
an invitation nobody answered), so every kind is counted exactly and tests can
match the manifest against what staging sets aside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Defect:
    """One kind of defect: the raw table it lands in, its rate and base."""

    kind: str
    table: str
    rate: float
    base: str
    staging_reason: str
    description: str


DEFECTS: tuple[Defect, ...] = (
    Defect("exact_duplicate_crm_customers", "crm_customers", 0.005, "customers",
           "exact_duplicate", "the same CRM row exported twice"),
    Defect("duplicate_person", "crm_customers", 0.005, "customers", "duplicate",
           "a person registered again under a new id with a re-cased, padded e-mail"),
    Defect("test_account", "crm_customers", 0.003, "customers", "(excluded: is_test_account)",
           "an internal test account (flagged, e-mail at example.com)"),
    Defect("exact_duplicate_transactions", "transactions", 0.004, "transactions",
           "exact_duplicate", "the same ledger row exported twice"),
    Defect("second_date_format", "transactions", 0.01, "transactions",
           "(accepted: transaction_at_format = day_first)",
           "timestamp as DD/MM/YYYY HH:MM:SS +HHMM"),
    Defect("missing_offset", "transactions", 0.01, "transactions",
           "(accepted: transaction_at_format = iso_no_offset)",
           "timestamp without UTC offset (the value is UTC)"),
    Defect("unparseable_date", "transactions", 0.002, "transactions", "unparseable_date",
           "timestamp as MM/DD/YYYY HH:MM AM (no format the contract allows)"),
    Defect("missing_required_field_transactions", "transactions", 0.002, "transactions",
           "missing_required_field", "customer_id, amount, currency_code or transaction_at blank"),
    Defect("negative_amount", "transactions", 0.002, "sales", "negative_amount",
           "a sale with a negative amount"),
    Defect("unknown_currency", "transactions", 0.001, "sales", "unknown_currency",
           "currency code ZZZ (not in seed fx_rates)"),
    Defect("missing_fx_rate", "transactions", 0.003, "sales before 2024-01-01",
           "missing_fx_rate", "a CHF sale dated before CHF is quoted (2024-01-01)"),
    Defect("refund_exceeds_order", "transactions", 0.03, "refunds", "refund_exceeds_order",
           "a refund larger than the order it refunds"),
    Defect("unknown_customer", "transactions", 0.002, "sales", "unknown_customer",
           "an extra sale by a customer_id the CRM does not know"),
    Defect("unknown_order", "transactions", 0.005, "refunds", "unknown_order",
           "an extra refund of an order_id the ledger does not have"),
    Defect("missing_required_field_survey_invitations", "survey_invitations", 0.003,
           "unanswered invitations", "missing_required_field", "survey_type or sent_at blank"),
    Defect("exact_duplicate_survey_responses", "survey_responses", 0.005, "responses",
           "exact_duplicate", "the same response exported twice"),
    Defect("score_out_of_range", "survey_responses", 0.005, "nps, csat and ces responses",
           "score_out_of_range", "nps 11, csat 6, ces 8"),
    Defect("unknown_invitation", "survey_responses", 0.003, "responses", "unknown_invitation",
           "an extra response to an invitation_id that was never sent"),
)

DEFECTS_BY_KIND: dict[str, Defect] = {defect.kind: defect for defect in DEFECTS}


def rate(kind: str) -> float:
    """The documented rate of a defect kind."""
    return DEFECTS_BY_KIND[kind].rate


def assign(rng: np.random.Generator, kind_codes: np.ndarray, eligible: np.ndarray,
           kind: str, code: int) -> np.ndarray:
    """Give defect ``code`` to eligible, still-clean rows at the kind's rate; return the mask."""
    chosen = eligible & (kind_codes == 0) & (rng.random(len(kind_codes)) < rate(kind))
    kind_codes[chosen] = code
    return chosen


def duplicate_rows(rng: np.random.Generator, clean: np.ndarray, kind: str) -> np.ndarray:
    """How many times each row is written: 2 for a drawn exact duplicate, else 1."""
    return 1 + (clean & (rng.random(len(clean)) < rate(kind))).astype(np.int64)

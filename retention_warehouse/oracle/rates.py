"""Every rate and threshold of docs/metrics.md, written once (scalars; NULL is None).

The oracle's marts, the benchmark peer and the docs use these; the SQL has its own
(macros/ratios.sql and the marts), and the comparison proves the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

NPS_PROMOTER_MIN = 9  # an NPS score of 9 or 10 is a promoter
NPS_DETRACTOR_MAX = 6  # 0 to 6 is a detractor (7 and 8 are passives)
CSAT_SATISFIED_MIN = 4  # a CSAT score of 4 or 5 is satisfied

Number = int | Decimal


def pct(numerator: Number, denominator: Number) -> float | None:
    """numerator / denominator x 100; NULL when the denominator is 0."""
    if not denominator:
        return None
    return float(Decimal(numerator) * 100 / Decimal(denominator))


def ratio(numerator: Number, denominator: Number) -> float | None:
    """numerator / denominator; NULL when the denominator is 0."""
    if not denominator:
        return None
    return float(Decimal(numerator) / Decimal(denominator))


def customer_retention_rate(at_start: int, at_end: int, new: int) -> float | None:
    """(E - N) / S x 100: the customers at the end who were not acquired in the period."""
    return pct(at_end - new, at_start)


def strict_retention_rate(at_start: int, lost: int) -> float | None:
    """(S - L) / S x 100: the customers active at the start still active at the end."""
    return pct(at_start - lost, at_start)


def churn_rate(at_start: int, lost: int) -> float | None:
    """L / S x 100."""
    return pct(lost, at_start)


def is_promoter(score: int) -> bool:
    """An NPS promoter (9-10)."""
    return score >= NPS_PROMOTER_MIN


def is_detractor(score: int) -> bool:
    """An NPS detractor (0-6)."""
    return score <= NPS_DETRACTOR_MAX


def is_satisfied(score: int) -> bool:
    """A satisfied CSAT answer (4-5)."""
    return score >= CSAT_SATISFIED_MIN


def nps(scores: Iterable[int]) -> float | None:
    """% promoters - % detractors of the NPS scores; NULL without any."""
    values = list(scores)
    promoters = sum(1 for score in values if is_promoter(score))
    detractors = sum(1 for score in values if is_detractor(score))
    return pct(promoters - detractors, len(values))

"""fct_survey_responses: one row per clean survey response of a real person.

Every clean response (test accounts excluded) dated on or before the as-of date, with
the flags the survey KPIs count (docs/metrics.md, "Period KPIs"): an NPS promoter
(9-10), passive (7-8) or detractor (0-6), a satisfied CSAT answer (4-5), the score of a
CES answer; and whether the person was a customer on the response date (acquired on or
before it), the only responses the KPIs count.
"""

from __future__ import annotations

import pandas as pd

from retention_warehouse.oracle.calendar import period_index, period_start
from retention_warehouse.oracle.rates import is_detractor, is_promoter, is_satisfied
from retention_warehouse.oracle.states import Model

SURVEY_RESPONSE_COLUMNS = [
    "response_id", "invitation_id", "customer_id", "survey_type", "response_date",
    "response_period_start", "score", "is_from_customer", "is_promoter", "is_passive",
    "is_detractor", "is_satisfied", "ces_score",
]


def compute_survey_responses(model: Model) -> pd.DataFrame:
    """fct_survey_responses: one row per response in the model (clean, dated <= as-of)."""
    rows = []
    for r in model.responses:
        inv = r.invitation
        on = r.responded_at.date()
        cust = model.customers.get(inv.customer_id)
        nps = inv.survey_type == "nps" and r.score is not None
        promoter = nps and is_promoter(r.score)
        detractor = nps and is_detractor(r.score)
        rows.append({
            "response_id": r.response_id,
            "invitation_id": inv.invitation_id,
            "customer_id": inv.customer_id,
            "survey_type": inv.survey_type,
            "response_date": on,
            "response_period_start": period_start(period_index(on, model.grain), model.grain),
            "score": r.score,
            "is_from_customer": cust is not None and cust.acquisition_date <= on,
            "is_promoter": promoter,
            "is_passive": nps and not promoter and not detractor,
            "is_detractor": detractor,
            "is_satisfied": (inv.survey_type == "csat" and r.score is not None
                             and is_satisfied(r.score)),
            "ces_score": r.score if inv.survey_type == "ces" else None,
        })
    frame = pd.DataFrame(rows, columns=SURVEY_RESPONSE_COLUMNS, dtype=object)
    return frame.sort_values("response_id").reset_index(drop=True)

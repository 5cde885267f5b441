"""The holdout check: fit on the history up to a cut-off, predict the days after, compare.

``holdout_check(purchases, as_of, holdout_days)`` fits BG/NBD and Gamma-Gamma on
the purchases dated on or before ``cutoff = as_of - holdout_days`` (customers
acquired by then), predicts each customer's purchase days in (cutoff, as_of], and
compares with what they did:

* by frequency bucket (repeat purchase days before the cut-off): customers,
  predicted and actual purchase days, in total and per customer;
* by P(alive) at the cut-off (deciles of the probability): mean P(alive), the
  model's probability of at least one purchase in the window, and the share who
  actually bought again.

A closed account (closure or erasure on or before the cut-off) is predicted to buy
nothing, as in the warehouse. Purchases are those of the warehouse at its as-of
date: an order refunded in full after the cut-off is not in the calibration
history (its refund was not known at the cut-off; docs/predictions.md says how
little this matters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retention_warehouse.predict import bgnbd
from retention_warehouse.predict.histories import repeat_purchase_days, summarise
from retention_warehouse.predict.mle import FitError
from retention_warehouse.predict.value_model import ValueModel, days_per_unit, fit_value_model

FREQUENCY_BUCKETS = ((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 9),
                     (10, 19), (20, None))
ALIVE_BINS = 10


@dataclass
class HoldoutResult:
    """Predicted vs actual purchase days in the holdout window."""

    as_of: pd.Timestamp
    cutoff: pd.Timestamp
    holdout_days: int
    model: ValueModel
    customers: pd.DataFrame  # one row per calibration customer
    by_frequency: pd.DataFrame
    by_alive: pd.DataFrame

    @property
    def predicted_total(self) -> float:
        """Predicted purchase days of all calibration customers in the window."""
        return float(self.customers["predicted"].sum())

    @property
    def actual_total(self) -> int:
        """Actual purchase days of the calibration customers in the window."""
        return int(self.customers["actual"].sum())

    @property
    def mean_absolute_error(self) -> float:
        """Mean over customers of |predicted - actual| purchase days."""
        return float((self.customers["predicted"] - self.customers["actual"]).abs().mean())


def _bucket_label(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def _by_frequency(customers: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for low, high in FREQUENCY_BUCKETS:
        upper = np.inf if high is None else high
        members = customers[(customers["frequency"] >= low) & (customers["frequency"] <= upper)]
        if members.empty:
            continue
        rows.append({"bucket": _bucket_label(low, high), "customers": len(members),
                     "predicted": float(members["predicted"].sum()),
                     "actual": int(members["actual"].sum())})
    frame = pd.DataFrame(rows)
    frame["predicted_per_customer"] = frame["predicted"] / frame["customers"]
    frame["actual_per_customer"] = frame["actual"] / frame["customers"]
    return frame


def _by_alive(customers: pd.DataFrame) -> pd.DataFrame:
    edges = np.linspace(0.0, 1.0, ALIVE_BINS + 1)
    index = np.clip(np.searchsorted(edges, customers["p_alive"], side="right") - 1, 0,
                    ALIVE_BINS - 1)
    rows = []
    for position in range(ALIVE_BINS):
        members = customers[index == position]
        if members.empty:
            continue
        rows.append({"bin": f"{edges[position]:.1f}-{edges[position + 1]:.1f}",
                     "customers": len(members),
                     "mean_p_alive": float(members["p_alive"].mean()),
                     "model_p_buy": float(members["p_buy"].mean()),
                     "bought_again": float((members["actual"] > 0).mean())})
    return pd.DataFrame(rows)


def holdout_check(purchases: pd.DataFrame, as_of: pd.Timestamp, holdout_days: int,
                  time_unit: str = "week", closed: pd.Series | None = None,
                  customer: str = "customer", date: str = "date",
                  value: str = "value") -> HoldoutResult:
    """Fit up to ``as_of - holdout_days``, predict the window, compare (module docstring).

    ``purchases`` has one row per purchase (customer, date, value). ``closed`` maps
    a customer to the date their account was closed (optional).
    """
    if holdout_days < 1:
        raise FitError(f"--holdout-days must be at least 1, got {holdout_days}")
    as_of = pd.Timestamp(as_of).normalize()
    cutoff = as_of - pd.Timedelta(days=holdout_days)
    dates = pd.to_datetime(purchases[date])
    if purchases.empty or dates.min() > cutoff:
        first = "none" if purchases.empty else f"{dates.min():%Y-%m-%d}"
        raise FitError(f"no purchase on or before the cut-off {cutoff:%Y-%m-%d} "
                       f"(as-of {as_of:%Y-%m-%d} - {holdout_days} days; first purchase "
                       f"{first}): choose fewer holdout days")
    histories = summarise(purchases, cutoff, customer=customer, date=date, value=value)
    model = fit_value_model(histories, time_unit)
    unit = days_per_unit(time_unit)
    x = histories["frequency"].to_numpy(float)
    t_x = histories["recency_days"].to_numpy(float) / unit
    T = histories["age_days"].to_numpy(float) / unit
    params = model.bgnbd.params
    is_closed = np.zeros(len(histories), dtype=bool)
    if closed is not None:
        closed_on = pd.to_datetime(closed.reindex(histories.index))
        is_closed = (closed_on <= cutoff).fillna(False).to_numpy(dtype=bool)
    window = holdout_days / unit
    customers = pd.DataFrame({
        "frequency": histories["frequency"],
        "p_alive": np.where(is_closed, 0.0, bgnbd.probability_alive(params, x, t_x, T)),
        "p_buy": np.where(is_closed, 0.0,
                          bgnbd.probability_purchase_in(params, window, x, t_x, T)),
        "predicted": np.where(is_closed, 0.0, bgnbd.conditional_expected_purchases(
            params, window, x, t_x, T)),
        "is_closed": is_closed,
    }, index=histories.index)
    actual = repeat_purchase_days(purchases, cutoff, as_of, customer=customer, date=date)
    customers["actual"] = actual.reindex(customers.index).fillna(0).astype("int64")
    return HoldoutResult(as_of=as_of, cutoff=cutoff, holdout_days=holdout_days, model=model,
                         customers=customers, by_frequency=_by_frequency(customers),
                         by_alive=_by_alive(customers))


def render_text(result: HoldoutResult) -> str:
    """The terminal tables of ``retention predict-check``."""
    bg = result.model.bgnbd.params
    unit = result.model.time_unit
    customers = result.customers
    lines = [
        f"Holdout check: fitted on purchases up to {result.cutoff:%Y-%m-%d} "
        f"(as-of {result.as_of:%Y-%m-%d} minus {result.holdout_days} days), "
        f"predicting the {result.holdout_days} days after.",
        f"BG/NBD ({unit}s): r = {bg['r']:.4g}, alpha = {bg['alpha']:.4g}, a = {bg['a']:.4g}, "
        f"b = {bg['b']:.4g}; {len(customers):,} customers, "
        f"{int((customers['frequency'] > 0).sum()):,} with a repeat purchase, "
        f"{int(customers['is_closed'].sum()):,} closed.",
        "",
        "Purchase days in the holdout window, by repeat purchase days before the cut-off",
        f"{'repeat days':>11} {'customers':>10} {'predicted':>11} {'actual':>8} "
        f"{'pred/cust':>10} {'act/cust':>9}",
    ]
    for row in result.by_frequency.itertuples():
        lines.append(f"{row.bucket:>11} {row.customers:>10,} {row.predicted:>11,.1f} "
                     f"{row.actual:>8,} {row.predicted_per_customer:>10.3f} "
                     f"{row.actual_per_customer:>9.3f}")
    total = len(customers)
    lines += [
        f"{'total':>11} {total:>10,} {result.predicted_total:>11,.1f} {result.actual_total:>8,} "
        f"{result.predicted_total / total:>10.3f} {result.actual_total / total:>9.3f}",
        f"Predicted / actual = {result.predicted_total / max(result.actual_total, 1):.3f}; "
        f"mean absolute error per customer = {result.mean_absolute_error:.3f} purchase days.",
        "",
        "P(alive) at the cut-off against buying again in the window",
        f"{'P(alive)':>9} {'customers':>10} {'mean P(alive)':>14} {'P(buy) model':>13} "
        f"{'bought again':>13}",
    ]
    for row in result.by_alive.itertuples():
        lines.append(f"{row.bin:>9} {row.customers:>10,} {row.mean_p_alive:>14.3f} "
                     f"{row.model_p_buy:>13.3f} {row.bought_again:>13.3f}")
    bought = float((customers["actual"] > 0).mean())
    lines.append(f"{'all':>9} {total:>10,} {customers['p_alive'].mean():>14.3f} "
                 f"{customers['p_buy'].mean():>13.3f} {bought:>13.3f}")
    lines.append("P(buy) model = P(alive) x P(a purchase in the window | alive): what "
                 "'bought again' should match; P(alive) alone is an upper bound.")
    return "\n".join(lines)

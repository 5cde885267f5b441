"""The Gamma-Gamma model of monetary value (Fader & Hardie 2013; Fader, Hardie & Lee 2005).

Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013 note), first in
Fader, Hardie & Lee, "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", Journal of Marketing Research 42(4), 2005. A customer's transaction
values are Gamma(p, nu) around their mean p / nu; nu ~ Gamma(q, gamma) across
customers. Only the ``x`` repeat transactions and their mean value ``m_x`` are
used (customers with x > 0).

* the density of a customer's observed mean value m_x given x (the note's
  f(z-bar | p, q, gamma; x), section 3):
  f(m_x | p, q, gamma, x) = Gamma(p x + q) / (Gamma(p x) Gamma(q))
      * gamma^q * m_x^(p x - 1) * x^(p x) / (gamma + m_x x)^(p x + q)
* the expected mean transaction value given the history (the note's
  E(M | p, q, gamma, z-bar, x)), a weighted mean of the population mean and the
  customer's own mean:
  E[M | m_x, x] = (q - 1) / (p x + q - 1) * p gamma / (q - 1)
      + p x / (p x + q - 1) * m_x = p (gamma + x m_x) / (p x + q - 1)
  (with x = 0 it is the population mean p gamma / (q - 1), which needs q > 1).

The parameter ``gamma`` is called ``v`` in the columns, as in most software.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from retention_warehouse.predict.mle import FitError, FitResult, Limit, maximise

NAMES = ("p", "q", "v")
# q and v growing together: nu ~ Gamma(q, v) collapses onto q / v, every customer has the
# same mean spend; the expected value stays finite (p v / (q - 1) -> p / (q / v)).
SPEND_LIMIT = Limit(direction=(0.0, 2 ** -0.5, 2 ** -0.5), indices=(1, 2), threshold=1e3,
                    description="homogeneous spend: the likelihood rises as q and v grow "
                                "together (every customer has the same mean spend); q and v "
                                "are where the search stopped, their ratio holds")


def log_likelihood_terms(params: np.ndarray, x: np.ndarray, m: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log f(m_x | p, q, v, x) and its gradient with respect to log(p, q, v).

    The plain per-customer form; the fit uses :class:`Likelihood`, the same sum
    computed faster (a test proves they agree).
    """
    p, q, v = params
    px = p * x
    log_vxm = np.log(v + x * m)
    ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
          + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * log_vxm)
    d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_vxm)
    d_q = digamma(px + q) - digamma(q) + np.log(v) - log_vxm
    d_v = q / v - (px + q) / (v + x * m)
    return ll, np.vstack([d_p * p, d_q * q, d_v * v])


class Likelihood:
    """The mean log-likelihood over repeat buyers and its gradient, for the optimiser.

    Terms in x alone are summed once per distinct x; sums of log m_x are
    constants; only log(v + x m_x) is computed per customer.
    """

    def __init__(self, x: np.ndarray, m: np.ndarray) -> None:
        self.customers = float(len(x))
        self.x, self.xm = x, x * m
        self.unique_x, index = np.unique(x, return_inverse=True)
        self.weight_x = np.bincount(index, minlength=len(self.unique_x)).astype(float)
        self.x_log = float(np.einsum("i,i->", x, np.log(m) + np.log(x)))  # sum x (log m + log x)
        self.log_m = float(np.log(m).sum())

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean log f, its gradient with respect to theta = log(p, q, v))."""
        p, q, v = np.exp(theta)
        n, ux, wx = self.customers, self.unique_x, self.weight_x
        log_vxm = np.log(v + self.xm)
        pux = p * ux
        x_log_vxm = np.einsum("i,i->", self.x, log_vxm)  # no BLAS threads (see bgnbd)
        sum_log_vxm = log_vxm.sum()
        ll = (wx @ (gammaln(pux + q) - gammaln(pux)) + n * (q * np.log(v) - gammaln(q))
              + p * self.x_log - self.log_m - p * x_log_vxm - q * sum_log_vxm)
        d_p = (wx * ux) @ (digamma(pux + q) - digamma(pux)) + self.x_log - x_log_vxm
        d_q = wx @ digamma(pux + q) - n * digamma(q) + n * np.log(v) - sum_log_vxm
        d_v = n * q / v - np.einsum("i,i->", p * self.x + q, 1.0 / (v + self.xm))
        gradient = np.array([d_p * p, d_q * q, d_v * v]) / n
        return float(ll / n), gradient


def fit(x: np.ndarray, m: np.ndarray) -> FitResult:
    """Maximum likelihood estimates of (p, q, v) from the customers with x > 0.

    ``x`` is the number of repeat transactions, ``m`` their mean value; rows with
    x = 0 are ignored. Raises :class:`FitError` when the fit fails, or when the
    estimate has q <= 1 (the population mean spend would be infinite).
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    keep = x > 0
    x, m = x[keep], m[keep]
    if len(x) == 0:
        raise FitError("Gamma-Gamma fit: no customer has a repeat purchase")
    if np.any(~np.isfinite(m)) or np.any(m <= 0):
        raise FitError("Gamma-Gamma fit: every repeat buyer needs a mean repeat value > 0")
    # Start at p = 1, q = 2 and the v that makes the population mean p v / (q - 1)
    # equal to the mean observed value (v scales with the currency, p and q do not).
    start = np.log(np.array([1.0, 2.0, float(m.mean())]))
    result = maximise("Gamma-Gamma", NAMES, Likelihood(x, m), start, len(x), len(x),
                      limit=SPEND_LIMIT)
    if result.params["q"] <= 1.0:
        raise FitError(f"Gamma-Gamma fit gives q = {result.params['q']:.3g} <= 1: the "
                       "population mean spend is infinite, so no expected value can be given")
    return result


def expected_average_value(params: dict[str, float], x: np.ndarray, m: np.ndarray
                           ) -> np.ndarray:
    """E[M | m_x, x] = p (v + x m_x) / (p x + q - 1); the population mean p v / (q - 1) at x = 0."""
    p, q, v = (params[name] for name in NAMES)
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.nan_to_num(np.asarray(m, dtype=float)), 0.0)
    return p * (v + x * m) / (p * x + q - 1.0)

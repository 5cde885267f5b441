"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

"Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD Model",
Marketing Science 24(2), 275-284. While alive, a customer buys at Poisson rate
lambda ~ Gamma(r, alpha); after each purchase they drop out with probability
p ~ Beta(a, b). A customer's history is summarised by ``x`` (repeat purchases),
``t_x`` (time of the last purchase since the first) and ``T`` (time since the
first purchase), all in one time unit; alpha is in that unit, r, a and b have none.

Equation numbers are the paper's:

* (6)  the likelihood of one customer, L = A1 * A2 * (A3 + delta(x > 0) * A4);
* (7)  E[X(t)], expected purchases of a new customer in (0, t];
* (10) E[Y(t) | x, t_x, T], expected purchases in (T, T + t] given the history;
* P(alive at T | x, t_x, T), the reciprocal of the denominator of (10) (derived in
  Fader, Hardie & Lee, "Computing P(alive) Using the BG/NBD Model", 2008 note):
  1 / (1 + delta(x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)).

The Gaussian hypergeometric function 2F1 in (7) and (10) is evaluated after
Euler's transformation 2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z),
which keeps it well conditioned for customers with many purchases.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from retention_warehouse.predict.mle import FitError, FitResult, maximise

NAMES = ("r", "alpha", "a", "b")


def log_likelihood_terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log L of equation (6) and its gradient with respect to log(r, alpha, a, b).

    log L = log A1 + log A2 - (r + x) log(alpha + T) + delta * log(1 + A4 / A3), with
    log(A4 / A3) = D = log a - log(b + x - 1) + (r + x) (log(alpha + T) - log(alpha + t_x)).
    The gradient uses d log(1 + e^D) / dD = expit(D) (the probability of being dead
    given the history). This is the plain per-customer form; the fit uses
    :class:`Likelihood`, the same sum computed faster (a test proves they agree).
    """
    r, alpha, a, b = params
    repeat = x > 0
    log_alpha_T = np.log(alpha + T)
    log_alpha_tx = np.log(alpha + t_x)
    log_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    log_a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    b_x = np.where(repeat, b + x - 1, 1.0)  # only used where x > 0
    d = np.where(repeat, np.log(a) - np.log(b_x) + (r + x) * (log_alpha_T - log_alpha_tx),
                 -np.inf)
    ll = log_a1 + log_a2 - (r + x) * log_alpha_T + np.where(repeat, np.logaddexp(0.0, d), 0.0)
    dead = np.where(repeat, expit(d), 0.0)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - log_alpha_T \
        + dead * (log_alpha_T - log_alpha_tx)
    d_alpha = r / alpha - (r + x) / (alpha + T) \
        + dead * (r + x) * (1.0 / (alpha + T) - 1.0 / (alpha + t_x))
    d_a = digamma(a + b) - digamma(a + b + x) + dead / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - dead / b_x
    gradient = np.vstack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return ll, gradient


class Likelihood:
    """The mean of equation (6) over customers, and its gradient, for the optimiser.

    Every term that depends on x alone, or on T alone, is summed once per
    distinct value with the customers' counts as weights; only log(1 + A4 / A3)
    is computed per customer, and only for those with x > 0. At a million
    customers that is a few vector operations per evaluation.
    """

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
        self.customers = float(len(x))
        self.unique_x, x_index = np.unique(x, return_inverse=True)
        self.weight_x = np.bincount(x_index, minlength=len(self.unique_x)).astype(float)
        self.unique_T, T_index = np.unique(T, return_inverse=True)
        self.weight_T = np.bincount(T_index, minlength=len(self.unique_T)).astype(float)
        self.x_weight_T = np.bincount(T_index, weights=x, minlength=len(self.unique_T))
        repeat = x > 0
        self.repeat_x = x[repeat]
        self.repeat_T_index = T_index[repeat]
        self.unique_tx, self.repeat_tx_index = np.unique(t_x[repeat], return_inverse=True)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean log L, its gradient with respect to theta = log(r, alpha, a, b))."""
        r, alpha, a, b = np.exp(theta)
        n, ux, wx = self.customers, self.unique_x, self.weight_x
        log_alpha_T = np.log(alpha + self.unique_T)
        stock_T = r * self.weight_T + self.x_weight_T  # sum of (r + x) per distinct T
        ll = (wx @ (gammaln(r + ux) + gammaln(b + ux) - gammaln(a + b + ux))
              + n * (-gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b))
              - stock_T @ log_alpha_T)
        d_r = wx @ digamma(r + ux) + n * (-digamma(r) + np.log(alpha)) \
            - self.weight_T @ log_alpha_T
        d_alpha = n * r / alpha - stock_T @ (1.0 / (alpha + self.unique_T))
        d_a = n * digamma(a + b) - wx @ digamma(a + b + ux)
        d_b = n * (digamma(a + b) - digamma(b)) + wx @ (digamma(b + ux) - digamma(a + b + ux))
        if len(self.repeat_x):
            x = self.repeat_x
            at_T = log_alpha_T[self.repeat_T_index]
            log_alpha_tx = np.log(alpha + self.unique_tx)
            gap = at_T - log_alpha_tx[self.repeat_tx_index]
            b_x = b + x - 1.0
            d = np.log(a) - np.log(b_x) + (r + x) * gap
            alive = expit(-d)
            # log(1 + e^D) = -log(expit(-D)); D itself where expit(-D) underflows.
            with np.errstate(divide="ignore"):
                ll += np.where(alive > 0, -np.log(alive), d).sum()
            dead = 1.0 - alive
            inverse_T = (1.0 / (alpha + self.unique_T))[self.repeat_T_index]
            inverse_tx = (1.0 / (alpha + self.unique_tx))[self.repeat_tx_index]
            # einsum: dot products without BLAS threads (much slower on a busy machine).
            d_r += np.einsum("i,i->", dead, gap)
            d_alpha += np.einsum("i,i,i->", dead, r + x, inverse_T - inverse_tx)
            d_a += dead.sum() / a
            d_b -= np.einsum("i,i->", dead, 1.0 / b_x)
        gradient = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b]) / n
        return float(ll / n), gradient


def fit(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> FitResult:
    """Maximum likelihood estimates of (r, alpha, a, b) from equation (6).

    The search starts at r = a = b = 1 and alpha = the mean T, so that it runs
    the same way whatever the time unit (alpha scales with the unit, the rest do
    not). Raises :class:`FitError` when the data cannot be fitted.
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    customers = len(x)
    if customers == 0:
        raise FitError("BG/NBD fit: there are no customers to fit")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T) or np.any((x == 0) & (t_x != 0)):
        raise FitError("BG/NBD fit: histories must have x >= 0 and 0 <= t_x <= T "
                       "(t_x = 0 when x = 0)")
    mean_T = float(T.mean()) if T.mean() > 0 else 1.0
    start = np.log(np.array([1.0, mean_T, 1.0, 1.0]))
    return maximise("BG/NBD", NAMES, Likelihood(x, t_x, T), start, customers, customers)


def _euler_term(a_: np.ndarray | float, b_: np.ndarray | float, c: np.ndarray | float,
                z: np.ndarray | float) -> np.ndarray:
    """(1 - z)^a_ * 2F1(a_, b_; c; z), computed as (1 - z)^(c - b_) 2F1(c - a_, c - b_; c; z)."""
    return np.power(1.0 - z, c - b_) * hyp2f1(c - a_, c - b_, c, z)


def expected_purchases_new(params: dict[str, float], t: np.ndarray | float) -> np.ndarray:
    """Equation (7): E[X(t)] = (a + b - 1) / (a - 1) * [1 - (alpha / (alpha + t))^r
    2F1(r, b; a + b - 1; t / (alpha + t))]."""
    r, alpha, a, b = (params[name] for name in NAMES)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1.0) / (a - 1.0) * (1.0 - _euler_term(r, b, a + b - 1.0, z))


def probability_alive(params: dict[str, float], x: np.ndarray, t_x: np.ndarray,
                      T: np.ndarray) -> np.ndarray:
    """P(alive at T | x, t_x, T) = 1 / (1 + delta(x > 0) a / (b + x - 1)
    ((alpha + T) / (alpha + t_x))^(r + x)), computed on the log scale."""
    r, alpha, a, b = (params[name] for name in NAMES)
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    repeat = x > 0
    b_x = np.where(repeat, b + x - 1.0, 1.0)
    d = np.log(a) - np.log(b_x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, expit(-d), 1.0)


def conditional_expected_purchases(params: dict[str, float], t: np.ndarray | float,
                                   x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                                   ) -> np.ndarray:
    """Equation (10): expected purchases in (T, T + t] of a customer with history (x, t_x, T).

    E[Y(t) | x, t_x, T] = (a + b + x - 1) / (a - 1)
        * [1 - ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; a + b + x - 1; z)]
        * P(alive at T),  with z = t / (alpha + T + t)
    (the denominator of (10) is 1 / P(alive at T)).
    """
    r, alpha, a, b = (params[name] for name in NAMES)
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + T + t)
    bracket = 1.0 - _euler_term(r + x, b + x, a + b + x - 1.0, z)
    return (a + b + x - 1.0) / (a - 1.0) * bracket * probability_alive(params, x, t_x, T)


def probability_purchase_in(params: dict[str, float], t: np.ndarray | float, x: np.ndarray,
                            t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(at least one purchase in (T, T + t] | x, t_x, T).

    A BG/NBD customer drops out only right after a purchase, so one alive at T
    buys in (T, T + t] unless the wait to the next purchase exceeds t, with
    probability exp(-lambda t); given the history and alive, lambda ~ Gamma(r + x,
    alpha + T) (the paper's posterior), so E[exp(-lambda t)] =
    ((alpha + T) / (alpha + T + t))^(r + x). Hence
    P = P(alive at T) * (1 - ((alpha + T) / (alpha + T + t))^(r + x)).
    For x = 0, T = 0 this is 1 - P(X(t) = 0) of the paper's equation (8).
    """
    r, alpha = params["r"], params["alpha"]
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    t = np.asarray(t, dtype=float)
    none = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    return probability_alive(params, x, t_x, T) * (1.0 - none)


def check_prediction_params(params: dict[str, float]) -> None:
    """Fail clearly when a fitted BG/NBD cannot predict (a = 1 makes (7) and (10) 0/0)."""
    if abs(params["a"] - 1.0) < 1e-9:
        raise FitError("BG/NBD: a = 1 exactly; equations (7) and (10) are undefined")

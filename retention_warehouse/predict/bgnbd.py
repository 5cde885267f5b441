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

**Homogeneous drop-out.** When every customer drops out with about the same
probability, the likelihood keeps rising as a and b grow together (the Beta
distribution of p collapses onto its mean a / (a + b)) and has its supremum at
a = b = infinity: the BG/NBD with one drop-out probability p for everyone, the
limit of the same equations:

* L = Gamma(r + x) alpha^r / Gamma(r) * [(1 - p)^x (alpha + T)^-(r + x)
      + delta(x > 0) p (1 - p)^(x - 1) (alpha + t_x)^-(r + x)]   (A2 -> (1 - p)^x,
  a / (b + x - 1) -> p / (1 - p));
* P(alive) = 1 / (1 + delta(x > 0) p / (1 - p) ((alpha + T) / (alpha + t_x))^(r + x));
* E[Y(t) | x, t_x, T] = P(alive) (1 - ((alpha + T) / (alpha + T + p t))^(r + x)) / p
  (given alive and lambda, a geometric number of purchases follows at rate lambda
  until drop-out: expected (1 - exp(-lambda p t)) / p, with lambda ~ Gamma(r + x,
  alpha + T));
* E[X(t)] = (1 - (alpha / (alpha + p t))^r) / p.

:func:`fit` detects the ridge (a and b a thousand times their start, the
likelihood flat only along log a + log b) and then fits (r, alpha, p) directly;
the result has a = b = inf and ``mean_p`` = p. ``mean_p`` = a / (a + b), the mean
drop-out probability, is reported for every fit.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from retention_warehouse.predict.mle import FitError, FitResult, Limit, maximise

NAMES = ("r", "alpha", "a", "b")
REPORTED = (*NAMES, "mean_p")  # mean_p = a / (a + b), derived
# a and b growing together: the Beta distribution of p collapses onto a / (a + b).
DROPOUT_LIMIT = Limit(direction=(0.0, 0.0, 2 ** -0.5, 2 ** -0.5), indices=(2, 3),
                      threshold=1e3,
                      description="homogeneous drop-out: the likelihood rises as a and b grow "
                                  "together, so every customer has one drop-out probability p "
                                  "(a = b = infinity, p = mean_p)")


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


class HomogeneousLikelihood:
    """The mean limit likelihood with one drop-out probability p (module docstring), and
    its gradient with respect to theta = (log r, log alpha, logit p)."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
        self.general = Likelihood(x, t_x, T)
        self.total_x = float(x.sum())

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean log L, gradient)."""
        g = self.general
        r, alpha = np.exp(theta[:2])
        p = float(expit(theta[2]))
        n, ux, wx = g.customers, g.unique_x, g.weight_x
        log_alpha_T = np.log(alpha + g.unique_T)
        stock_T = r * g.weight_T + g.x_weight_T
        ll = (wx @ gammaln(r + ux) + n * (-gammaln(r) + r * np.log(alpha))
              + self.total_x * np.log1p(-p) - stock_T @ log_alpha_T)
        d_r = wx @ digamma(r + ux) + n * (-digamma(r) + np.log(alpha)) \
            - g.weight_T @ log_alpha_T
        d_alpha = n * r / alpha - stock_T @ (1.0 / (alpha + g.unique_T))
        d_logit = -self.total_x * p
        if len(g.repeat_x):
            x = g.repeat_x
            gap = log_alpha_T[g.repeat_T_index] - np.log(alpha + g.unique_tx)[g.repeat_tx_index]
            d = np.log(p) - np.log1p(-p) + (r + x) * gap
            alive = expit(-d)
            with np.errstate(divide="ignore"):
                ll += np.where(alive > 0, -np.log(alive), d).sum()
            dead = 1.0 - alive
            inverse_T = (1.0 / (alpha + g.unique_T))[g.repeat_T_index]
            inverse_tx = (1.0 / (alpha + g.unique_tx))[g.repeat_tx_index]
            d_r += np.einsum("i,i->", dead, gap)
            d_alpha += np.einsum("i,i,i->", dead, r + x, inverse_T - inverse_tx)
            d_logit += dead.sum()  # d D / d logit p = 1
        gradient = np.array([d_r * r, d_alpha * alpha, d_logit]) / n
        return float(ll / n), gradient


def homogeneous_log_likelihood_terms(r: float, alpha: float, p: float, x: np.ndarray,
                                     t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer log L of the homogeneous limit, written out plainly (for tests)."""
    first = (1 - p) ** x * (alpha + T) ** -(r + x)
    second = np.where(x > 0, p * (1 - p) ** np.maximum(x - 1, 0) * (alpha + t_x) ** -(r + x), 0)
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha) + np.log(first + second)


def fit(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> FitResult:
    """Maximum likelihood estimates of (r, alpha, a, b) from equation (6), and mean_p.

    The search starts at r = a = b = 1 and alpha = the mean T, so that it runs
    the same way whatever the time unit (alpha scales with the unit, the rest do
    not). When the likelihood rises along the drop-out limit (module docstring),
    the limit model is fitted and returned with a = b = inf. Raises
    :class:`FitError` when the data cannot be fitted.
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
    general = maximise("BG/NBD", NAMES, Likelihood(x, t_x, T), start, customers, customers,
                       limit=DROPOUT_LIMIT)
    if general.at_limit:
        return _fit_homogeneous(x, t_x, T, general)
    r, alpha, a, b = general.values
    mean_p = a / (a + b)
    # delta method: d mean_p / d(log a, log b) = mean_p (1 - mean_p) (1, -1)
    covariance = np.asarray(general.covariance)
    gradient = np.array([0.0, 0.0, 1.0, -1.0]) * mean_p * (1 - mean_p)
    mean_p_error = float(np.sqrt(max(gradient @ covariance @ gradient, 0.0)))
    return FitResult(model=general.model, names=REPORTED, values=(*general.values, mean_p),
                     log_likelihood=general.log_likelihood, customers=customers,
                     iterations=general.iterations, gradient_norm=general.gradient_norm,
                     converged=True, standard_errors=(*general.standard_errors, mean_p_error),
                     covariance=general.covariance)


def _fit_homogeneous(x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                     general: FitResult) -> FitResult:
    """Fit the limit model (r, alpha, p), starting where the general fit stopped."""
    r, alpha, a, b = general.values
    p = a / (a + b)
    start = np.array([np.log(r), np.log(alpha), np.log(p) - np.log1p(-p)])
    limit = maximise("BG/NBD (homogeneous drop-out)", ("r", "alpha", "mean_p"),
                     HomogeneousLikelihood(x, t_x, T), start, len(x), len(x),
                     transforms=("log", "log", "logit"))
    if limit.log_likelihood < general.log_likelihood - 1e-6 * abs(general.log_likelihood):
        raise FitError("BG/NBD fit did not converge: the likelihood rose along the "
                       "homogeneous drop-out limit, but the limit model fits worse")
    r, alpha, p = limit.values
    error_r, error_alpha, error_p = limit.standard_errors
    return FitResult(model=general.model, names=REPORTED,
                     values=(r, alpha, np.inf, np.inf, p), log_likelihood=limit.log_likelihood,
                     customers=len(x), iterations=general.iterations + limit.iterations,
                     gradient_norm=limit.gradient_norm, converged=True,
                     standard_errors=(error_r, error_alpha, np.nan, np.nan, error_p),
                     covariance=limit.covariance, at_limit=True, note=DROPOUT_LIMIT.description)


def _homogeneous(params: dict[str, float]) -> bool:
    """True for the homogeneous drop-out limit (a = b = inf)."""
    return not np.isfinite(params["a"])


def _euler_term(a_: np.ndarray | float, b_: np.ndarray | float, c: np.ndarray | float,
                z: np.ndarray | float) -> np.ndarray:
    """(1 - z)^a_ * 2F1(a_, b_; c; z), computed as (1 - z)^(c - b_) 2F1(c - a_, c - b_; c; z)."""
    return np.power(1.0 - z, c - b_) * hyp2f1(c - a_, c - b_, c, z)


def expected_purchases_new(params: dict[str, float], t: np.ndarray | float) -> np.ndarray:
    """Equation (7): E[X(t)] = (a + b - 1) / (a - 1) * [1 - (alpha / (alpha + t))^r
    2F1(r, b; a + b - 1; t / (alpha + t))]."""
    r, alpha, a, b = (params[name] for name in NAMES)
    t = np.asarray(t, dtype=float)
    if _homogeneous(params):
        p = params["mean_p"]
        return (1.0 - (alpha / (alpha + p * t)) ** r) / p
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
    if _homogeneous(params):  # a / (b + x - 1) -> p / (1 - p)
        log_odds = np.log(params["mean_p"]) - np.log1p(-params["mean_p"])
    else:
        log_odds = np.log(a) - np.log(np.where(repeat, b + x - 1.0, 1.0))
    d = log_odds + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
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
    if _homogeneous(params):
        p = params["mean_p"]
        bracket = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + p * t)))
        return bracket / p * probability_alive(params, x, t_x, T)
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
    if np.isfinite(params["a"]) and abs(params["a"] - 1.0) < 1e-9:
        raise FitError("BG/NBD: a = 1 exactly; equations (7) and (10) are undefined")

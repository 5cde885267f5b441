"""The value models reproduce the published CDNOW results, and their pieces are right.

Published numbers (not outputs of this code):

* BG/NBD on the CDNOW sample, 2,357 customers, 39-week calibration, weeks (Fader, Hardie &
  Lee 2005, "Counting Your Customers the Easy Way", Marketing Science 24(2), table / text):
  r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, log-likelihood -9582.4; for a customer
  with x = 2, t_x = 30.43, T = 38.86 the expected purchases in the next 39 weeks are 1.226.
* Gamma-Gamma on the 946 customers of that sample with a repeat purchase (Fader & Hardie
  2013, "The Gamma-Gamma Model of Monetary Value"): p = 6.25, q = 3.74, gamma (v) = 15.44.

The CDNOW order log ships in the ``lifetimes`` wheel (a test-only dependency); the
summary (x, t_x, T, mean repeat value) is computed here by
``retention_warehouse.predict.histories`` and checked against the summary file that
ships with it. ``lifetimes`` itself is also used as an independent implementation of
the formulas (evaluated at the same parameters).
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retention_warehouse.predict import bgnbd, gamma_gamma
from retention_warehouse.predict.histories import summarise
from retention_warehouse.predict.mle import FitError
from retention_warehouse.predict.value_model import fit_value_model, predict_customers

CALIBRATION_END = pd.Timestamp("1997-09-30")  # 39 weeks after the cohort's first day
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LOG_LIKELIHOOD = -9582.4
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


def lifetimes_datasets() -> Path:
    """The folder of CDNOW files inside the installed lifetimes wheel (not imported)."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec and spec.submodule_search_locations, "lifetimes (test-only) is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


def cdnow_transactions() -> pd.DataFrame:
    """CDNOW_sample.txt: one row per order (customer, date, CDs, dollar value)."""
    frame = pd.read_csv(lifetimes_datasets() / "CDNOW_sample.txt", sep=r"\s+", header=None,
                        names=["master_id", "customer", "date", "cds", "value"],
                        dtype={"date": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """Our own 39-week calibration summary of the CDNOW sample, in weeks."""
    histories = summarise(cdnow_transactions(), CALIBRATION_END)
    return histories.assign(x=histories["frequency"].astype(float),
                            t_x=histories["recency_days"] / 7, T=histories["age_days"] / 7)


@pytest.fixture(scope="module")
def cdnow_fit(cdnow: pd.DataFrame):  # noqa: ANN201 - FitResult
    """BG/NBD fitted on the CDNOW calibration summary."""
    return bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"])


def test_cdnow_summary_matches_the_published_summary(cdnow: pd.DataFrame) -> None:
    """x, t_x, T (weeks, 2 decimals) and the mean repeat value equal the file the paper's
    data comes with, for all 2,357 customers (same-day orders count as one transaction)."""
    published = pd.read_csv(lifetimes_datasets()
                            / "cdnow_customers_summary_with_transactions.csv").set_index("ID")
    assert len(cdnow) == len(published) == 2357
    joined = cdnow.join(published.add_suffix("_published"))
    assert (joined["frequency"] == joined["x_published"]).all()
    assert np.allclose(joined["t_x"], joined["t_x_published"], atol=0.005 + 1e-9)
    assert np.allclose(joined["T"], joined["T_published"], atol=0.005 + 1e-9)
    assert np.allclose(joined["monetary_value"].fillna(0), joined["zbar_published"],
                       atol=0.005 + 1e-9)
    assert int((cdnow["frequency"] > 0).sum()) == 946


def test_bgnbd_reproduces_the_published_cdnow_estimates(cdnow_fit) -> None:  # noqa: ANN001
    """r, alpha, a, b within 1 % of the paper, and its log-likelihood."""
    for name, published in PUBLISHED_BGNBD.items():
        assert math.isclose(cdnow_fit.params[name], published, rel_tol=0.01), \
            (name, cdnow_fit.params[name], published)
    assert abs(cdnow_fit.log_likelihood - PUBLISHED_LOG_LIKELIHOOD) < 0.05
    assert cdnow_fit.converged and cdnow_fit.customers == 2357


def test_conditional_expectation_reproduces_the_published_1_226(cdnow_fit) -> None:  # noqa: ANN001
    """x = 2, t_x = 30.43, T = 38.86: 1.226 expected purchases in the next 39 weeks."""
    value = float(bgnbd.conditional_expected_purchases(cdnow_fit.params, 39, 2, 30.43, 38.86))
    assert round(value, 3) == 1.226, value


def test_gamma_gamma_reproduces_the_published_cdnow_estimates(cdnow: pd.DataFrame) -> None:
    """p, q, v on the 946 repeat buyers within 1 % of the note's 6.25, 3.74, 15.44."""
    fit = gamma_gamma.fit(cdnow["x"], cdnow["monetary_value"])
    assert fit.customers == 946
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert math.isclose(fit.params[name], published, rel_tol=0.01), \
            (name, fit.params[name], published)


def _lifetimes_fitters():  # noqa: ANN202
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes imports pkg_resources
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    return BetaGeoFitter, GammaGammaFitter


def test_formulas_agree_with_lifetimes_at_the_same_parameters(cdnow: pd.DataFrame,
                                                              cdnow_fit) -> None:  # noqa: ANN001
    """P(alive), E[X(t)], the conditional expectation (eq. 10) and the Gamma-Gamma expected
    value equal an independent implementation (lifetimes) for every CDNOW customer."""
    beta_geo, gamma_gamma_fitter = _lifetimes_fitters()
    reference = beta_geo()
    reference.params_ = pd.Series(cdnow_fit.params)
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    assert np.allclose(bgnbd.probability_alive(cdnow_fit.params, x, t_x, T),
                       reference.conditional_probability_alive(x, t_x, T),
                       rtol=1e-10, atol=1e-12)
    for weeks in (1, 13, 39, 52):
        ours = bgnbd.conditional_expected_purchases(cdnow_fit.params, weeks, x, t_x, T)
        theirs = reference.conditional_expected_number_of_purchases_up_to_time(
            weeks, x, t_x, T)
        assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-12), weeks
        assert math.isclose(float(bgnbd.expected_purchases_new(cdnow_fit.params, weeks)),
                            float(reference.expected_number_of_purchases_up_to_time(weeks)),
                            rel_tol=1e-9)
    spend = gamma_gamma.fit(x, cdnow["monetary_value"])
    money = gamma_gamma_fitter()
    money.params_ = pd.Series(spend.params)
    repeat = x > 0
    assert np.allclose(
        gamma_gamma.expected_average_value(spend.params, x[repeat],
                                           cdnow["monetary_value"][repeat]),
        money.conditional_expected_average_profit(x[repeat], cdnow["monetary_value"][repeat]),
        rtol=1e-12)


def test_fits_agree_with_lifetimes_fits(cdnow: pd.DataFrame, cdnow_fit) -> None:  # noqa: ANN001
    """lifetimes' own maximum likelihood (another optimiser) finds the same estimates."""
    beta_geo, gamma_gamma_fitter = _lifetimes_fitters()
    reference = beta_geo().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    for name in bgnbd.NAMES:
        assert math.isclose(cdnow_fit.params[name], reference.params_[name], rel_tol=1e-4)
    repeat = cdnow["x"] > 0
    money = gamma_gamma_fitter().fit(cdnow["x"][repeat], cdnow["monetary_value"][repeat])
    spend = gamma_gamma.fit(cdnow["x"], cdnow["monetary_value"])
    for name in gamma_gamma.NAMES:
        assert math.isclose(spend.params[name], money.params_[name], rel_tol=1e-4)


def _numeric_gradient(function, theta: np.ndarray, step: float = 1e-6) -> np.ndarray:  # noqa: ANN001
    return np.array([(function(theta + step * e) - function(theta - step * e)) / (2 * step)
                     for e in np.eye(len(theta))])


def test_fast_likelihoods_equal_the_per_customer_formulas(cdnow: pd.DataFrame) -> None:
    """The optimiser's grouped sums equal the plain per-customer log-likelihood, and its
    analytic gradient equals a finite-difference gradient, at parameters away from the
    optimum."""
    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("x", "t_x", "T"))
    fast = bgnbd.Likelihood(x, t_x, T)
    for theta in (np.log([0.3, 5.0, 0.9, 2.0]), np.log([1.7, 0.4, 3.0, 0.6])):
        plain, plain_gradient = bgnbd.log_likelihood_terms(np.exp(theta), x, t_x, T)
        value, gradient = fast(theta)
        assert math.isclose(value, plain.mean(), rel_tol=1e-12)
        assert np.allclose(gradient, plain_gradient.mean(axis=1), rtol=1e-9, atol=1e-12)
        numeric = _numeric_gradient(
            lambda t: bgnbd.log_likelihood_terms(np.exp(t), x, t_x, T)[0].mean(), theta)
        assert np.allclose(gradient, numeric, rtol=1e-5, atol=1e-8)
    repeat = x > 0
    m = cdnow["monetary_value"].to_numpy(float)[repeat]
    fast_spend = gamma_gamma.Likelihood(x[repeat], m)
    for theta in (np.log([5.0, 3.0, 12.0]), np.log([0.8, 1.5, 40.0])):
        plain, plain_gradient = gamma_gamma.log_likelihood_terms(np.exp(theta), x[repeat], m)
        value, gradient = fast_spend(theta)
        assert math.isclose(value, plain.mean(), rel_tol=1e-12)
        assert np.allclose(gradient, plain_gradient.mean(axis=1), rtol=1e-9, atol=1e-12)
        numeric = _numeric_gradient(
            lambda t: gamma_gamma.log_likelihood_terms(np.exp(t), x[repeat], m)[0].mean(), theta)
        assert np.allclose(gradient, numeric, rtol=1e-5, atol=1e-8)


def test_the_time_unit_does_not_change_the_predictions(cdnow: pd.DataFrame) -> None:
    """Fitted in days, weeks or months: alpha scales with the unit, r, a, b, the
    log-likelihood up to the constant sum(x) log(unit) and every prediction do not."""
    histories = cdnow[["frequency", "recency_days", "age_days", "monetary_value"]]
    fits = {unit: fit_value_model(histories, unit) for unit in ("day", "week", "month")}
    days = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
    week = fits["week"].bgnbd.params
    predictions = {}
    for unit, fitted in fits.items():
        params = fitted.bgnbd.params
        # alpha is a time: in days it is alpha (per unit) x days per unit, whatever the unit.
        assert math.isclose(params["alpha"] * days[unit], week["alpha"] * 7, rel_tol=1e-6)
        for name in ("r", "a", "b"):
            assert math.isclose(params[name], week[name], rel_tol=1e-6), (unit, name)
        # Times c = 7 / days-per-unit times longer: log L drops by sum(x) log c.
        shift = histories["frequency"].sum() * math.log(7 / days[unit])
        assert math.isclose(fitted.bgnbd.log_likelihood + shift,
                            fits["week"].bgnbd.log_likelihood, rel_tol=1e-9)
        predictions[unit] = predict_customers(histories, params, fitted.gamma_gamma.params,
                                              unit, 0.01)
    for unit in ("day", "month"):
        assert np.allclose(predictions[unit].to_numpy(), predictions["week"].to_numpy(),
                           rtol=1e-6, atol=1e-9), unit
    # The horizon really is converted: 90 days is 90/7 weeks, not 90 weeks.
    weeks_90 = bgnbd.conditional_expected_purchases(week, 90 / 7, cdnow["x"], cdnow["t_x"],
                                                    cdnow["T"])
    assert np.allclose(predictions["week"]["expected_purchases_90d"], weeks_90)


def test_clv_is_the_discounted_sum_of_monthly_revenue(cdnow: pd.DataFrame,
                                                      cdnow_fit) -> None:  # noqa: ANN001
    """predicted_clv_12m = sum over k = 1..12 of (E[Y(k m)] - E[Y((k - 1) m)]) x E[M] /
    1.01^k with m = 365/12 days, recomputed here term by term for a few customers."""
    histories = cdnow[["frequency", "recency_days", "age_days", "monetary_value"]]
    spend = gamma_gamma.fit(cdnow["x"], cdnow["monetary_value"])
    result = predict_customers(histories, cdnow_fit.params, spend.params, "week", 0.01)
    for customer in cdnow.index[:25]:
        row = cdnow.loc[customer]
        value = spend.params["p"] * (spend.params["v"] + row["x"] * (
            row["monetary_value"] if row["x"] > 0 else 0.0)) / (
            spend.params["p"] * row["x"] + spend.params["q"] - 1)
        cumulative = [float(bgnbd.conditional_expected_purchases(
            cdnow_fit.params, k * 365 / 12 / 7, row["x"], row["t_x"], row["T"]))
            for k in range(13)]
        clv = sum((cumulative[k] - cumulative[k - 1]) * value / 1.01 ** k for k in range(1, 13))
        assert math.isclose(result.loc[customer, "predicted_clv_12m"], clv, rel_tol=1e-9)
        assert math.isclose(result.loc[customer, "expected_revenue_12m"],
                            cumulative[12] * value, rel_tol=1e-9)
    assert (result["predicted_clv_12m"] < result["expected_revenue_12m"]).all()


def test_closed_accounts_predict_nothing(cdnow: pd.DataFrame, cdnow_fit) -> None:  # noqa: ANN001
    """A closed account: P(alive), purchases, revenue and CLV 0; others untouched."""
    histories = cdnow[["frequency", "recency_days", "age_days", "monetary_value"]].head(6)
    spend = gamma_gamma.fit(cdnow["x"], cdnow["monetary_value"])
    closed = np.array([True, False, True, False, False, False])
    open_ = predict_customers(histories, cdnow_fit.params, spend.params, "week", 0.01)
    result = predict_customers(histories, cdnow_fit.params, spend.params, "week", 0.01,
                               is_closed=closed)
    for column in ("p_alive", "expected_purchases_90d", "expected_purchases_365d",
                   "expected_revenue_12m", "predicted_clv_12m"):
        assert (result.loc[closed, column] == 0).all()
        assert (result.loc[~closed, column] == open_.loc[~closed, column]).all()
        assert (open_.loc[closed, column] > 0).all()


@pytest.mark.parametrize(("x", "t_x", "T", "reason"), [
    ([0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [3.0, 5.0, 8.0, 1.0, 2.0], "cannot identify"),
    ([0, 0, 0], [0, 0, 0], [0.0, 0.0, 0.0], "cannot identify"),
    ([], [], [], "no customers"),
    ([1, 2], [3.0, 9.0], [2.0, 10.0], "0 <= t_x <= T"),
])
def test_bgnbd_fit_that_cannot_converge_raises_a_clear_error(x: list, t_x: list, T: list,
                                                             reason: str) -> None:
    """Nobody bought twice (the likelihood is flat in a and b, and r runs to 0), no data,
    or impossible histories: FitError with one line saying why, never parameters."""
    with pytest.raises(FitError, match=reason):
        bgnbd.fit(np.array(x, float), np.array(t_x, float), np.array(T, float))


def test_gamma_gamma_fit_that_cannot_converge_raises_a_clear_error() -> None:
    """No repeat buyer, or too few to pin the three parameters down."""
    with pytest.raises(FitError, match="no customer has a repeat purchase"):
        gamma_gamma.fit(np.zeros(4), np.full(4, np.nan))
    with pytest.raises(FitError, match="did not converge"):
        gamma_gamma.fit(np.array([1.0, 1.0]), np.array([10.0, 12.0]))


def test_mean_p_is_reported_with_its_standard_error(cdnow_fit) -> None:  # noqa: ANN001
    """mean_p = a / (a + b), the mean drop-out probability, with a delta-method error."""
    params = cdnow_fit.params
    assert math.isclose(params["mean_p"], params["a"] / (params["a"] + params["b"]),
                        rel_tol=1e-12)
    errors = dict(zip(cdnow_fit.names, cdnow_fit.standard_errors, strict=True))
    assert 0 < errors["mean_p"] < params["mean_p"] and not cdnow_fit.at_limit


def simulate_homogeneous(customers: int, r: float, alpha: float, p: float,
                         seed: int = 3) -> pd.DataFrame:
    """BG/NBD histories (days) where every customer has the same drop-out probability p."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, customers) / 7  # purchases per day
    age = rng.integers(30, 1000, customers).astype(float)
    x = np.zeros(customers, dtype=int)
    last = np.zeros(customers)
    clock = np.zeros(customers)
    alive = np.ones(customers, dtype=bool)
    while alive.any():
        clock = clock + rng.exponential(1 / np.maximum(rate, 1e-12))
        bought = alive & (clock <= age)
        x += bought
        last = np.where(bought, clock, last)
        alive = bought & (rng.random(customers) > p)
    recency = np.floor(last)
    x = np.where(recency == 0, 0, x)
    return pd.DataFrame({"frequency": x, "recency_days": recency.astype(int),
                         "age_days": age.astype(int),
                         "monetary_value": np.where(x > 0, rng.gamma(6, 8, customers), np.nan)})


def test_homogeneous_dropout_fits_the_limit_model() -> None:
    """Data where everybody drops out with p = 0.05: the likelihood rises as a and b grow
    together, so the fit is the limit model (a = b = inf) and recovers p, r and alpha."""
    histories = simulate_homogeneous(20_000, r=1.5, alpha=6.0, p=0.05)
    fitted = fit_value_model(histories, "week").bgnbd
    assert fitted.at_limit and fitted.note and "homogeneous drop-out" in fitted.note
    params = fitted.params
    assert math.isinf(params["a"]) and math.isinf(params["b"])
    assert math.isclose(params["mean_p"], 0.05, rel_tol=0.15)
    assert math.isclose(params["r"], 1.5, rel_tol=0.15)
    assert math.isclose(params["alpha"], 6.0, rel_tol=0.2)
    errors = dict(zip(fitted.names, fitted.standard_errors, strict=True))
    assert math.isnan(errors["a"]) and math.isnan(errors["b"]) and errors["mean_p"] > 0
    predictions = predict_customers(histories, params,
                                    fit_value_model(histories).gamma_gamma.params, "week", 0.01)
    assert np.isfinite(predictions.to_numpy()).all()


def test_limit_likelihood_and_predictions_are_the_limits_of_the_paper() -> None:
    """With a = k p, b = k (1 - p) and k = 1e8, equation (6) and P(alive) equal the
    homogeneous formulas; the grouped limit likelihood equals its plain form and its
    gradient a finite difference; E[Y(t)] of the limit equals the posterior integral
    P(alive) * integral of (1 - exp(-lambda p t)) / p over lambda ~ Gamma(r + x, alpha + T)."""
    from scipy.integrate import quad
    from scipy.stats import gamma as gamma_distribution

    r, alpha, p = 1.3, 4.0, 0.07
    x = np.array([0.0, 1.0, 3.0, 8.0, 20.0])
    t_x = np.array([0.0, 2.0, 10.0, 30.0, 40.0])
    T = np.array([5.0, 12.0, 40.0, 45.0, 52.0])
    k = 1e8
    general, _ = bgnbd.log_likelihood_terms(np.array([r, alpha, k * p, k * (1 - p)]), x, t_x, T)
    limit = bgnbd.homogeneous_log_likelihood_terms(r, alpha, p, x, t_x, T)
    assert np.allclose(general, limit, rtol=1e-6)
    fast = bgnbd.HomogeneousLikelihood(x, t_x, T)
    theta = np.array([np.log(r), np.log(alpha), np.log(p / (1 - p))])
    value, gradient = fast(theta)
    assert math.isclose(value, limit.mean(), rel_tol=1e-12)

    def mean_limit(t: np.ndarray) -> float:
        return bgnbd.homogeneous_log_likelihood_terms(
            np.exp(t[0]), np.exp(t[1]), 1 / (1 + np.exp(-t[2])), x, t_x, T).mean()

    assert np.allclose(gradient, _numeric_gradient(mean_limit, theta), rtol=1e-5, atol=1e-8)
    at_limit = {"r": r, "alpha": alpha, "a": np.inf, "b": np.inf, "mean_p": p}
    finite = {"r": r, "alpha": alpha, "a": k * p, "b": k * (1 - p), "mean_p": p}
    alive = bgnbd.probability_alive(at_limit, x, t_x, T)
    assert np.allclose(alive, bgnbd.probability_alive(finite, x, t_x, T), rtol=1e-6)
    expected = bgnbd.conditional_expected_purchases(at_limit, 26.0, x, t_x, T)
    def integrand(lam: float, posterior) -> float:  # noqa: ANN001 - a frozen distribution
        return (1 - np.exp(-lam * p * 26.0)) / p * posterior.pdf(lam)

    for i in range(len(x)):
        posterior = gamma_distribution(r + x[i], scale=1 / (alpha + T[i]))
        integral, _ = quad(integrand, 0, np.inf, args=(posterior,))
        assert math.isclose(expected[i], alive[i] * integral, rel_tol=1e-7), i

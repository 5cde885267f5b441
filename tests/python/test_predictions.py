"""The warehouse's predictions: right inputs, right formulas, right wiring, clear failures.

How the predictions themselves are validated (docs/predictions.md):

* the formulas reproduce the published CDNOW results (test_value_models.py);
* here, on the session warehouse, the inputs (frequency, recency, T, monetary value)
  come from the independent oracle (retention_warehouse.oracle, from the raw files), and an
  independent implementation (the ``lifetimes`` package, test-only) evaluated on those inputs at the
  parameters the build fitted must give every customer's P(alive), expected purchases
  and expected order value; lifetimes' own fit must find the same parameters; CLV is
  recomputed term by term;
* the time-unit var and a fit that cannot converge are run through dbt itself, on a
  copy of the session warehouse;
* ``retention predict-check``'s actual side is recounted in SQL, its predicted side
  recomputed with lifetimes on calibration histories computed in SQL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import shutil
import subprocess
import sys
import warnings
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_DIR, BuiltWarehouse

from retention_warehouse.oracle import Params, build_model
from retention_warehouse.oracle.predictions import compute_histories
from retention_warehouse.pii import resolve_hash_key

RETENTION = Path(sys.executable).with_name("retention")
PREDICTION_MODELS = ("int_value_models_fitted", "int_value_models_checked",
                     "int_customers_predicted", "fct_customer_predictions",
                     "fct_customer_value_model")


def customer_key(customer_id: str, key: str) -> str:
    """The marts' key: HMAC-SHA256 (hex) of the customer id, keyed with the build's key."""
    return hmac.new(key.encode("utf-8"), customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


def lifetimes_fitters():  # noqa: ANN201
    """lifetimes' BetaGeoFitter and GammaGammaFitter (test-only dependency)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes imports pkg_resources
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    return BetaGeoFitter, GammaGammaFitter


@pytest.fixture(scope="module")
def histories(warehouse: BuiltWarehouse) -> pd.DataFrame:
    """The oracle's customer histories (from the raw files), in weeks, by customer_key."""
    model = build_model(warehouse.raw_dir, PROJECT_DIR / "seeds", Params())
    frame = compute_histories(model)
    key = resolve_hash_key(warehouse.raw_dir)
    frame.index = [customer_key(c, key) for c in frame["customer_id"]]
    return frame.assign(x=frame["frequency"].astype(float),
                        t_x=frame["recency_days"].astype(float) / 7,
                        T=frame["age_days"].astype(float) / 7,
                        m=frame["monetary_value"].astype(float))


@pytest.fixture(scope="module")
def mart(warehouse: BuiltWarehouse) -> pd.DataFrame:
    """marts.fct_customer_predictions by customer_key."""
    with warehouse.connect() as con:
        return con.execute("select * from marts.fct_customer_predictions").df().set_index(
            "customer_key")


@pytest.fixture(scope="module")
def fitted(warehouse: BuiltWarehouse) -> dict[str, float]:
    """The parameters the build fitted (marts.fct_customer_value_model), weeks."""
    rows = warehouse.query("select parameter_key, parameter_value, time_unit, is_converged "
                           "from marts.fct_customer_value_model")
    assert {unit for _, _, unit, _ in rows} == {"week"} and all(ok for *_, ok in rows)
    return {key: value for key, value, _, _ in rows}


def bg_params(fitted: dict[str, float]) -> pd.Series:
    return pd.Series({name: fitted[f"bg_nbd.{name}"] for name in ("r", "alpha", "a", "b")})


def gg_params(fitted: dict[str, float]) -> pd.Series:
    return pd.Series({name: fitted[f"gamma_gamma.{name}"] for name in ("p", "q", "v")})


def test_fitted_parameters_match_an_independent_fit(warehouse: BuiltWarehouse,
                                                    histories: pd.DataFrame,
                                                    fitted: dict[str, float]) -> None:
    """lifetimes' maximum likelihood (Nelder-Mead) on the oracle's histories finds the
    build's parameters, on every customer (BG/NBD) and every repeat buyer (Gamma-Gamma)."""
    beta_geo, gamma_gamma = lifetimes_fitters()
    reference = beta_geo().fit(histories["x"], histories["t_x"], histories["T"])
    for name, value in bg_params(fitted).items():
        assert math.isclose(value, reference.params_[name], rel_tol=1e-3), name
    repeat = histories["x"] > 0
    money = gamma_gamma().fit(histories["x"][repeat], histories["m"][repeat])
    for name, value in gg_params(fitted).items():
        assert math.isclose(value, money.params_[name], rel_tol=1e-3), name
    customers = dict(warehouse.query("select distinct model_name, customers_fitted "
                                     "from marts.fct_customer_value_model"))
    assert customers == {"bg_nbd": len(histories), "gamma_gamma": int(repeat.sum())}


def test_every_prediction_matches_an_independent_implementation(
        histories: pd.DataFrame, mart: pd.DataFrame, fitted: dict[str, float]) -> None:
    """Per customer: P(alive), expected purchases in 90 / 365 days (90/7 and 365/7 weeks)
    and expected order value equal lifetimes' formulas on the oracle's histories at the
    build's parameters; closed accounts are 0."""
    beta_geo, gamma_gamma = lifetimes_fitters()
    assert sorted(mart.index) == sorted(histories.index)
    data = histories.loc[mart.index]
    model = beta_geo()
    model.params_ = bg_params(fitted)
    closed = data["is_closed"].astype(bool).to_numpy()
    assert closed.any() and (mart["is_closed"].to_numpy() == closed).all()
    expected = {
        "p_alive": model.conditional_probability_alive(data["x"], data["t_x"], data["T"]),
        "expected_purchases_90d": model.conditional_expected_number_of_purchases_up_to_time(
            90 / 7, data["x"], data["t_x"], data["T"]),
        "expected_purchases_365d": model.conditional_expected_number_of_purchases_up_to_time(
            365 / 7, data["x"], data["t_x"], data["T"]),
    }
    for column, values in expected.items():
        values = np.where(closed, 0.0, np.asarray(values, dtype=float))
        assert np.allclose(mart[column].to_numpy(), values, rtol=1e-8, atol=1e-12), column
    money = gamma_gamma()
    money.params_ = gg_params(fitted)
    repeat = data["x"].to_numpy() > 0
    params = gg_params(fitted)
    population_mean = params["p"] * params["v"] / (params["q"] - 1)
    aov = np.where(repeat, np.asarray(money.conditional_expected_average_profit(
        data["x"].where(repeat, 1), data["m"].where(repeat, 1.0)), dtype=float),
        population_mean)
    assert np.allclose(mart["expected_average_order_value"].to_numpy(), aov, rtol=1e-10)
    assert np.allclose(mart["expected_revenue_12m"],
                       mart["expected_purchases_365d"] * mart["expected_average_order_value"],
                       rtol=1e-12)


def test_predicted_clv_is_recomputed_month_by_month(
        histories: pd.DataFrame, mart: pd.DataFrame, fitted: dict[str, float]) -> None:
    """predicted_clv_12m = sum_k (E[Y(k m)] - E[Y((k - 1) m)]) x E[M] / 1.01^k, m = 365/12
    days (var clv_monthly_discount_rate = 0.01), with lifetimes' E[Y(t)]."""
    beta_geo, _ = lifetimes_fitters()
    model = beta_geo()
    model.params_ = bg_params(fitted)
    data = histories.loc[mart.index]
    cumulative = [np.zeros(len(data))] + [
        np.asarray(model.conditional_expected_number_of_purchases_up_to_time(
            k * 365 / 12 / 7, data["x"], data["t_x"], data["T"]), dtype=float)
        for k in range(1, 13)]
    discounted = sum((cumulative[k] - cumulative[k - 1]) / 1.01 ** k for k in range(1, 13))
    clv = np.where(data["is_closed"].astype(bool), 0.0,
                   discounted * mart["expected_average_order_value"].to_numpy())
    assert np.allclose(mart["predicted_clv_12m"].to_numpy(), clv, rtol=1e-8, atol=1e-9)


def test_dim_customers_carries_the_predictions(warehouse: BuiltWarehouse) -> None:
    """dim_customers' rfm_segment, p_alive and predicted_clv_12m are the predictions mart's
    for every customer, and NULL for leads."""
    [(customers, same, leads_with_values)] = warehouse.query(
        "select count(*) filter (where not d.is_lead), "
        "count(*) filter (where not d.is_lead and d.rfm_segment = p.rfm_segment "
        "and d.p_alive = p.p_alive and d.predicted_clv_12m = p.predicted_clv_12m), "
        "count(*) filter (where d.is_lead and (d.rfm_segment is not null "
        "or d.p_alive is not null or d.predicted_clv_12m is not null)) "
        "from marts.dim_customers as d left join marts.fct_customer_predictions as p "
        "on d.customer_key = p.customer_key")
    assert customers > 0 and same == customers and leads_with_values == 0


def test_python_histories_equal_the_sql_model(warehouse: BuiltWarehouse,
                                              mart: pd.DataFrame) -> None:
    """The holdout check's Python summary (histories.summarise) of marts.fct_orders at the
    as-of date equals the SQL histories of the build, for every customer."""
    from retention_warehouse.predict.histories import summarise

    with warehouse.connect() as con:
        purchases = con.execute("select customer_key as customer, order_date as date, "
                                "net_revenue as value from marts.fct_orders "
                                "where is_purchase").df()
    as_of = mart["as_of_date"].iloc[0]
    python = summarise(purchases, pd.Timestamp(as_of)).loc[mart.index]
    for column in ("frequency", "recency_days", "age_days", "days_since_last_purchase"):
        assert (python[column].to_numpy() == mart[column].to_numpy()).all(), column
    assert np.allclose(python["monetary_value"].fillna(-1), mart["monetary_value"].fillna(-1),
                       rtol=1e-12)


def _warehouse_copy(warehouse: BuiltWarehouse, root: Path) -> dict[str, str]:
    """A copy of the session warehouse and the dbt environment pointing at it."""
    root.mkdir(parents=True, exist_ok=True)
    copy = root / "warehouse.duckdb"
    shutil.copyfile(warehouse.db_path, copy)
    return {"RETENTION_DB": str(copy), "DBT_TARGET_PATH": str(root / "target"),
            "DBT_LOG_PATH": str(root / "logs")}


def test_changing_the_time_unit_does_not_change_the_predictions(
        warehouse: BuiltWarehouse, mart: pd.DataFrame, fitted: dict[str, float],
        tmp_path: Path) -> None:
    """dbt run of the value models with clv_time_unit = day on a copy: alpha is 7 times the
    weekly alpha, r, a, b and every prediction are unchanged."""
    env = _warehouse_copy(warehouse, tmp_path)
    result = warehouse.dbt("run", "--select", *PREDICTION_MODELS,
                           "--vars", json.dumps({"clv_time_unit": "day"}), env=env)
    assert result.returncode == 0, result.stdout[-4000:]
    import duckdb

    with duckdb.connect(env["RETENTION_DB"], read_only=True) as con:
        daily = dict(con.execute("select parameter_key, parameter_value "
                                 "from marts.fct_customer_value_model").fetchall())
        units = con.execute("select distinct time_unit from marts.fct_customer_predictions"
                            ).fetchall()
        other = con.execute("select * from marts.fct_customer_predictions").df().set_index(
            "customer_key").loc[mart.index]
    assert units == [("day",)]
    assert math.isclose(daily["bg_nbd.alpha"], 7 * fitted["bg_nbd.alpha"], rel_tol=1e-6)
    for name in ("r", "a", "b", "p", "q", "v"):
        key = f"bg_nbd.{name}" if name in "rab" else f"gamma_gamma.{name}"
        assert math.isclose(daily[key], fitted[key], rel_tol=1e-6), key
    for column in ("p_alive", "expected_purchases_90d", "expected_purchases_365d",
                   "expected_average_order_value", "predicted_clv_12m"):
        assert np.allclose(other[column], mart[column], rtol=1e-6, atol=1e-9), column


def test_a_fit_that_cannot_converge_fails_the_build_with_one_clear_line(
        warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """As of the day before anybody's second purchase day nobody has bought twice: BG/NBD
    cannot be identified, int_value_models_checked stops the build with the reason, no
    Python traceback, and nothing downstream is built."""
    [(first_repeat,)] = warehouse.query(
        "select min(order_date) from (select customer_key, order_date, row_number() over "
        "(partition by customer_key order by order_date) as day_number from (select distinct "
        "customer_key, order_date from marts.fct_orders where is_purchase)) "
        "where day_number = 2")
    as_of = first_repeat - timedelta(days=1)
    env = _warehouse_copy(warehouse, tmp_path)
    result = warehouse.dbt("run", "--select", "+fct_customer_predictions",
                           "--vars", json.dumps({"as_of_date": as_of.isoformat()}), env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Failure in model int_value_models_checked" in output, output[-3000:]
    assert (f"Value models not fitted at as-of date {as_of}: BG/NBD fit on" in output
            and "did not converge" in output and "cannot identify the model" in output
            and "0 with a repeat purchase" in output), output[-3000:]
    assert "Traceback" not in output
    run_results = json.loads((tmp_path / "target" / "run_results.json").read_text())
    status = {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in run_results["results"]}
    assert status["int_value_models_fitted"] == "success"
    assert status["int_value_models_checked"] == "error"
    assert status["int_customers_predicted"] == "skipped"
    assert status["fct_customer_predictions"] == "skipped"


def _sql_calibration(warehouse: BuiltWarehouse, cutoff: date) -> pd.DataFrame:
    """Calibration histories at ``cutoff`` and holdout purchase days, in SQL (not histories.py)."""
    with warehouse.connect() as con:
        return con.execute("""
            with days as (
                select distinct customer_key, order_date from marts.fct_orders where is_purchase
            ),
            before as (
                select customer_key, count(*) - 1 as x,
                    date_diff('day', min(order_date), max(order_date)) as t_x,
                    date_diff('day', min(order_date), cast(? as date)) as age
                from days where order_date <= cast(? as date) group by customer_key
            ),
            after as (
                select customer_key, count(*) as actual from days
                where order_date > cast(? as date) group by customer_key
            ),
            closed as (
                select customer_key from marts.dim_customers
                where closed_date <= cast(? as date)
            )
            select before.*, coalesce(after.actual, 0) as actual,
                before.customer_key in (select customer_key from closed) as is_closed
            from before left join after using (customer_key)
            order by before.customer_key
        """, [cutoff, cutoff, cutoff, cutoff]).df()


def test_predict_check_on_the_warehouse(warehouse: BuiltWarehouse) -> None:
    """`retention predict-check --holdout-days 120`: the customers and actual purchase days
    it reports equal a SQL recount; the predicted total equals lifetimes' conditional
    expectation on calibration histories computed in SQL, at the parameters fitted to those
    histories (the fit itself is checked against lifetimes' on the whole history above;
    lifetimes' own optimiser is not used here because it can stop with a precision-loss
    error on these histories)."""
    result = subprocess.run([str(RETENTION), "predict-check", "--db", str(warehouse.db_path),
                             "--holdout-days", "120"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    [(as_of,)] = warehouse.query("select max(as_of_date) from marts.dim_customers")
    cutoff = as_of - timedelta(days=120)
    calibration = _sql_calibration(warehouse, cutoff)
    total_line = next(line for line in result.stdout.splitlines()
                      if line.strip().startswith("total"))
    _, customers, predicted, actual, *_ = total_line.split()
    assert int(customers.replace(",", "")) == len(calibration)
    assert int(actual.replace(",", "")) == int(calibration["actual"].sum())
    beta_geo, _ = lifetimes_fitters()
    from retention_warehouse.predict import bgnbd

    x, t_x, T = calibration["x"], calibration["t_x"] / 7, calibration["age"] / 7
    model = beta_geo()
    model.params_ = pd.Series(bgnbd.fit(x, t_x, T).params)[["r", "alpha", "a", "b"]]
    expected = np.where(calibration["is_closed"], 0.0,
                        model.conditional_expected_number_of_purchases_up_to_time(
                            120 / 7, x, t_x, T))
    assert math.isclose(float(predicted.replace(",", "")), float(expected.sum()), rel_tol=1e-4)
    assert f"fitted on purchases up to {cutoff}" in result.stdout
    assert "P(alive) at the cut-off against buying again" in result.stdout


@pytest.mark.parametrize(("arguments", "message"), [
    (["--holdout-days", "100000"], "no purchase on or before the cut-off"),
    (["--holdout-days", "0"], "--holdout-days must be at least 1"),
])
def test_predict_check_explains_what_cannot_run(warehouse: BuiltWarehouse,
                                                arguments: list[str], message: str) -> None:
    """A window longer than the history, or no window: exit 1 and one line, no traceback."""
    result = subprocess.run([str(RETENTION), "predict-check", "--db", str(warehouse.db_path),
                             *arguments], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_predict_check_without_a_warehouse(tmp_path: Path) -> None:
    """No warehouse file: exit 1 with what to do."""
    result = subprocess.run([str(RETENTION), "predict-check", "--db",
                             str(tmp_path / "none.duckdb")], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 1 and "retention build" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("variables", "message"), [
    ({"clv_time_unit": "fortnight"}, "var clv_time_unit must be day, week or month, got "
                                     "'fortnight'"),
    ({"clv_monthly_discount_rate": -0.1}, "var clv_monthly_discount_rate must be a number "
                                          "from 0 up to (not including) 1"),
])
def test_bad_prediction_vars_stop_the_run_with_one_line(warehouse: BuiltWarehouse,
                                                        tmp_path: Path, variables: dict,
                                                        message: str) -> None:
    """An unknown time unit or an impossible discount rate stops dbt at the start."""
    env = _warehouse_copy(warehouse, tmp_path)
    result = warehouse.dbt("run", "--select", "int_as_of_dates_resolved",
                           "--vars", json.dumps(variables), env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and message in output, output[-2000:]
    assert "Traceback" not in output


class _Relation:
    """What dbt.ref returns in a dbt-duckdb Python model: something with .df()."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def df(self) -> pd.DataFrame:  # noqa: D102 - dbt-duckdb's name
        return self.frame


class _Dbt:
    """The parts of the ``dbt`` object int_value_models_fitted uses."""

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = frames
        self.config = self  # dbt.config(...) and dbt.config.meta_get(...)

    def __call__(self, **_: object) -> None:
        return None

    def meta_get(self, name: str) -> str:
        assert name == "clv_time_unit"
        return "week"

    def ref(self, name: str) -> _Relation:
        return _Relation(self.frames[name])


def _fitted_model():  # noqa: ANN202 - the model function
    """models/intermediate/predictions/int_value_models_fitted.py, loaded as dbt would."""
    import importlib.util

    path = PROJECT_DIR / "models" / "intermediate" / "predictions" / "int_value_models_fitted.py"
    spec = importlib.util.spec_from_file_location("int_value_models_fitted", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model


HISTORY_COLUMNS = ["customer_id", "frequency", "recency_days", "age_days", "monetary_value"]


OFF = (" See docs/predictions.md; to build without the value models, set "
       "RETENTION_VALUE_MODELS=off (var value_models).")


@pytest.mark.parametrize(("as_of", "message"), [
    (None, "Value models not fitted: there is no as-of date (no clean transaction was "
           "landed)." + OFF),
    (date(2024, 1, 31), "Value models not fitted at as-of date 2024-01-31: there is no "
                        "customer with a purchase on or before the as-of date." + OFF),
])
def test_an_empty_warehouse_gives_failed_rows_with_the_reason(as_of: date | None,
                                                              message: str) -> None:
    """Nothing landed (no as-of date) or nobody bought by the as-of date: the Python model
    writes no estimate, is_converged false and the reason on every row (which
    int_value_models_checked turns into the build's one failing line), never an exception."""
    frames = {"int_as_of_dates_resolved": pd.DataFrame({"as_of_date": [as_of]}),
              "int_customers_rfm_scored": pd.DataFrame(columns=HISTORY_COLUMNS)}
    rows = _fitted_model()(_Dbt(frames), None)
    assert len(rows) == 8  # r, alpha, a, b, mean_p; p, q, v
    assert not rows["is_converged"].any() and rows["parameter_value"].isna().all()
    assert set(rows["fit_message"]) == {message}
    assert (rows["customers_fitted"] == 0).all()


@pytest.mark.parametrize("command", ["predict-check", "report"])
def test_commands_on_a_partial_warehouse_say_so_in_one_line(tmp_path: Path,
                                                            command: str) -> None:
    """A warehouse file without the marts (a build that stopped early): exit 1, one line
    naming the missing table, no traceback, no DuckDB caret lines."""
    import duckdb

    db = tmp_path / "partial.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts; create table marts.dim_data_sources (x int)")
    extra = ["--out", str(tmp_path / "r.html")] if command == "report" else []
    result = subprocess.run([str(RETENTION), command, "--db", str(db), *extra],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0] and "retention build" in lines[0], (
        result.stderr)
    assert "Traceback" not in result.stderr

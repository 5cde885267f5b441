"""Maximum likelihood with ``scipy.optimize`` and an honest convergence check.

The models' parameters are fitted on unbounded transforms, ``theta``: log for a
positive parameter, logit for a probability; L-BFGS-B with an analytic gradient.
A fit counts as converged only when the log-likelihood and every parameter are
finite, the largest gradient component is small, no parameter sits on its search
bound (a parameter running to a bound means the data cannot identify the model,
e.g. nobody ever bought twice), and the log-likelihood curves down in every
direction (its Hessian, from finite differences of the analytic gradient, is
negative definite; a flat direction also means the data cannot identify the
model). Anything else raises :class:`FitError` with a one-line reason.

One exception is declared by the model, not guessed: a :class:`Limit`, a direction
in which the log-likelihood climbs towards a finite supremum at infinity (for
BG/NBD, a and b growing together: the Beta distribution of the drop-out
probability collapses to one value). A fit that has run far along it is returned
with ``at_limit`` set; the model then fits its limiting form.

The same Hessian gives the standard errors: the inverse observed information, by
the delta method from theta to the parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

# Search box for each theta around the starting point: e^±18 is a factor of 6.6e7.
LOG_SPAN = 18.0
# Stop on the gradient of the mean log-likelihood only; ftol is set so small that it
# never stops the search first (ftol is relative to the value, which depends on the
# time unit; the gradient does not).
GRADIENT_TOLERANCE = 1e-9
CONVERGED_GRADIENT = 1e-5
MAX_ITERATIONS = 2_000
HESSIAN_STEP = 1e-5  # in theta
FLAT_CURVATURE = -1e-8  # the mean log-likelihood's Hessian must have eigenvalues below this

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


class FitError(RuntimeError):
    """A model could not be fitted (no convergence, or data that cannot identify it)."""


@dataclass(frozen=True)
class Limit:
    """A direction in theta along which the likelihood may rise to a finite supremum."""

    direction: tuple[float, ...]  # unit vector in theta
    indices: tuple[int, ...]  # the parameters that run to infinity along it
    threshold: float  # "far along it": each has grown this many times its start
    description: str


@dataclass(frozen=True)
class FitResult:
    """The maximum likelihood estimate of one model."""

    model: str
    names: tuple[str, ...]
    values: tuple[float, ...]
    log_likelihood: float  # total over the fitted customers
    customers: int
    iterations: int
    gradient_norm: float  # max |d mean LL / d theta| at the optimum
    converged: bool
    standard_errors: tuple[float, ...] = ()
    covariance: tuple[tuple[float, ...], ...] = ()  # of theta, total log-likelihood
    at_limit: bool = False
    note: str | None = None

    @property
    def params(self) -> dict[str, float]:
        """Parameter name -> fitted value."""
        return dict(zip(self.names, self.values, strict=True))


def to_values(theta: np.ndarray, transforms: tuple[str, ...]) -> np.ndarray:
    """Parameters from theta: exp for "log", expit for "logit"."""
    return np.array([np.exp(t) if kind == "log" else expit(t)
                     for t, kind in zip(theta, transforms, strict=True)])


def value_derivatives(values: np.ndarray, transforms: tuple[str, ...]) -> np.ndarray:
    """d parameter / d theta at the estimate (for the delta method)."""
    return np.array([v if kind == "log" else v * (1.0 - v)
                     for v, kind in zip(values, transforms, strict=True)])


def maximise(model: str, names: tuple[str, ...], objective: Objective, start: np.ndarray,
             customers: int, scale: float, transforms: tuple[str, ...] | None = None,
             limit: Limit | None = None) -> FitResult:
    """Maximise a log-likelihood given as ``objective(theta) -> (mean LL, gradient)``.

    ``start`` is the starting theta; ``scale`` is the number of customers the mean
    is over (to report the total log-likelihood); ``transforms`` says per
    parameter how theta maps to it ("log", the default, or "logit").
    """
    transforms = transforms or ("log",) * len(names)

    def negative(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = objective(theta)
        if not np.isfinite(value):
            return 1e300, np.zeros_like(theta)
        return -value, -gradient

    bounds = [(float(s) - LOG_SPAN, float(s) + LOG_SPAN) for s in start]
    result = minimize(negative, start, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": MAX_ITERATIONS, "gtol": GRADIENT_TOLERANCE,
                               "ftol": 1e-15, "maxcor": 20})
    theta = np.asarray(result.x, dtype=float)
    value, gradient = objective(theta)
    values = to_values(theta, transforms)
    gradient_norm = float(np.max(np.abs(gradient))) if gradient.size else 0.0
    at_limit = limit is not None and all(
        theta[i] - start[i] >= np.log(limit.threshold) for i in limit.indices)
    running = set(limit.indices) if at_limit else set()
    on_bound = [name for i, (name, t, (low, high)) in enumerate(zip(names, theta, bounds,
                                                                    strict=True))
                if (t <= low + 1e-6 or t >= high - 1e-6) and i not in running]
    problems = []
    if on_bound:
        shown = ", ".join(f"{n} = {v:.3g}" for n, v in zip(names, values, strict=True))
        problems.append(f"{', '.join(on_bound)} ran to the edge of the search range ({shown}): "
                        "the data cannot identify the model")
    if not (np.isfinite(value) and np.all(np.isfinite(values))):
        problems.append("the log-likelihood is not finite at the optimum")
    if gradient_norm > CONVERGED_GRADIENT:
        problems.append(f"the gradient is still {gradient_norm:.2g} after {result.nit} "
                        f"iterations ({result.message})")
    if not problems:
        hessian = _hessian(objective, theta)
        # At a declared limit only the directions across it must curve down.
        basis = (_complement(np.asarray(limit.direction, dtype=float)) if at_limit
                 else np.eye(len(theta)))
        curvature = np.linalg.eigvalsh(basis.T @ hessian @ basis)
        if not np.all(np.isfinite(curvature)) or curvature.max() >= FLAT_CURVATURE:
            problems.append("the log-likelihood is flat in some direction at the optimum: "
                            "the data cannot identify the model")
    if problems:
        raise FitError(f"{model} fit on {customers:,} customers did not converge: "
                       + "; ".join(problems))
    # Observed information of the total log-likelihood: -scale * Hessian of the mean,
    # restricted to the directions across a limit when the fit ran along one.
    covariance = basis @ np.linalg.inv(-scale * (basis.T @ hessian @ basis)) @ basis.T
    errors = value_derivatives(values, transforms) * np.sqrt(
        np.clip(np.diag(covariance), 0.0, None))
    errors[list(running)] = np.nan
    return FitResult(model=model, names=names, values=tuple(float(v) for v in values),
                     log_likelihood=float(value * scale), customers=customers,
                     iterations=int(result.nit), gradient_norm=gradient_norm, converged=True,
                     standard_errors=tuple(float(e) for e in errors),
                     covariance=tuple(tuple(float(c) for c in row) for row in covariance),
                     at_limit=at_limit, note=limit.description if at_limit else None)


def _complement(direction: np.ndarray) -> np.ndarray:
    """An orthonormal basis (columns) of the directions orthogonal to ``direction``."""
    unit = direction / np.linalg.norm(direction)
    q, _ = np.linalg.qr(np.column_stack([unit, np.eye(len(unit))]))
    return q[:, 1:len(unit)]


def _hessian(objective: Objective, theta: np.ndarray) -> np.ndarray:
    """Hessian of the mean log-likelihood in theta: central differences of the analytic
    gradient, symmetrised."""
    size = len(theta)
    hessian = np.empty((size, size))
    for j in range(size):
        step = np.zeros(size)
        step[j] = HESSIAN_STEP
        hessian[:, j] = (objective(theta + step)[1] - objective(theta - step)[1]) / (
            2 * HESSIAN_STEP)
    return (hessian + hessian.T) / 2

"""Buy-till-you-die value models inside the warehouse: BG/NBD and Gamma-Gamma.

* ``bgnbd``: BG/NBD (Fader, Hardie & Lee 2005): likelihood, fit, P(alive), expected
  purchases (the paper's equations 6, 7 and 10).
* ``gamma_gamma``: Gamma-Gamma spend model (Fader & Hardie 2013): likelihood, fit,
  expected order value.
* ``mle``: maximum likelihood with scipy (L-BFGS-B, analytic gradients) and the
  convergence check.
* ``histories``: frequency / recency / age / monetary value from purchase rows.
* ``value_model``: fit both and predict per customer (what the dbt Python models call).
* ``holdout`` and ``check``: the holdout check behind ``retention predict-check``.

docs/predictions.md explains the models, the decisions and how they are validated.
"""

"""Which linear-regression closed forms apply to a run, as :class:`Prediction` rows.

OLS only (ridge has no finite-sample closed form here: theory/regression.md#ridge). Replace
(or Fresh with no fresh sample ever drawn): R1 test error and Euclidean drift, R2 variance of
the test error, R3 training residual. Accumulate: R4. Fresh(alpha > 0): no exact row
(theory/regression.md#r5).
"""

from __future__ import annotations

import numpy as np

from ..prediction import Prediction, add_prediction, default_generations
from ..theory import regression as th

DOC = "theory/regression.md"
OVERRIDES = {"dof_offset", "num_samples", "noise_std", "generations"}


def regression_predictions(family, config, overrides: dict) -> list[Prediction]:
    unknown = set(overrides) - OVERRIDES
    if unknown:
        raise ValueError(f"unknown theory overrides {sorted(unknown)}; allowed: "
                         f"{sorted(OVERRIDES)}")
    if family.estimator != "ols":
        return []
    T = config.num_generations
    n = np.broadcast_to(
        np.asarray(overrides.get("num_samples", config.num_samples), dtype=np.float64), (T,)
    ).copy()
    offset = float(overrides.get("dof_offset", 1.0))
    s2 = float(overrides.get("noise_std", family.noise_std)) ** 2
    d = family.dim
    gens = [g for g in overrides.get("generations", default_generations(T)) if 1 <= g <= T]
    inv_t = np.asarray(config.source.inv_chol_t, dtype=np.float64)
    trace_inv_cov = float(np.sum(inv_t * inv_t))  # tr Sigma^{-1} = ||L^{-T}||_F^2
    policy = config.policy
    kind = policy.name
    if kind == "fresh" and np.all(np.rint(float(policy.alpha) * n) == 0):
        kind = "replace"
    rows: list[Prediction] = []

    def add(obs, t, k, value, label, formula, **kw):
        add_prediction(rows, DOC, obs, t, k, value, label, formula, **kw)

    if kind == "replace":
        if np.any(n - d - offset <= 0):
            return rows
        for t in gens:
            add("test_error", t, "mean", th.expected_test_error(t, n, d, s2, offset),
                "E[test error]", "R1")
            add("weight_drift2", t, "mean",
                th.expected_weight_drift2(t, n, d, s2, trace_inv_cov, offset),
                "E[||w - w*||^2]", "R1")
            if np.all(n[:t] > d + 3) and offset == 1.0:
                add("test_error", t, "variance", th.variance_of_test_error(t, n, d, s2),
                    "Var[test error]", "R2")
            add("train_residual", t, "mean", th.expected_train_residual(n[t - 1], d, s2),
                "E[RSS/n]", "R3")
            add("train_residual", t, "variance", th.variance_of_train_residual(n[t - 1], d, s2),
                "Var[RSS/n]", "R3")
    elif kind == "accumulate":
        if n[0] - d - 1 <= 0:
            return rows
        for t in gens:
            add("test_error", t, "mean", th.expected_test_error_accumulate(t, n, d, s2),
                "E[test error]", "R4")
            add("weight_drift2", t, "mean",
                th.expected_weight_drift2_accumulate(t, n, d, s2, trace_inv_cov),
                "E[||w - w*||^2]", "R4")
    return rows

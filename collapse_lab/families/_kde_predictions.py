"""Which KDE closed forms apply to a run, as :class:`Prediction` rows.

Every row is exact (theory/kde.md): E[variance] and E[mean_drift2] for Replace, Fresh(alpha)
and Accumulate (while the pooled points fit the ring buffer), fixed bandwidth or a rule.
"""

from __future__ import annotations

import numpy as np

from ..prediction import Prediction, add_prediction, default_generations
from ..theory import kde as th

DOC = "theory/kde.md"
OVERRIDES = {"bandwidth", "bandwidth_scale", "num_samples", "generations"}
# A mean of the (trace of the) variance is only tested while sum_s 2 / n_s, the Gaussian value
# of Var[log s^2_t], is at most this (heavy right tails otherwise; catalogue note T1).
MAX_LOG_VARIANCE = 1.0


# Policies whose generation 1 is fit on n_0 source draws (model 0 is the source), so the replace
# rows hold at t = 1 only; later generations have no KDE rows.
FIRST_STEP_ONLY = {"window", "refresh", "mix", "fixed_real"}


def kde_predictions(family, config, overrides: dict) -> list[Prediction]:
    unknown = set(overrides) - OVERRIDES
    if unknown:
        raise ValueError(f"unknown theory overrides {sorted(unknown)}; allowed: "
                         f"{sorted(OVERRIDES)}")
    T = config.num_generations
    n = np.broadcast_to(
        np.asarray(overrides.get("num_samples", config.num_samples), dtype=np.float64), (T,)
    ).copy()
    d = family.dim
    chol = np.asarray(config.source.source_chol, dtype=np.float64)
    sigma2_0 = float(np.sum(chol * chol))
    policy = config.policy
    gens = [g for g in overrides.get("generations", default_generations(T)) if 1 <= g <= T]
    if policy.name in FIRST_STEP_ONLY:
        gens = [g for g in gens if g == 1]  # generation 1 draws from the source (model 0)
    elif policy.name not in ("replace", "accumulate", "fresh"):
        return []
    fresh = np.rint(float(getattr(policy, "alpha", 0.0)) * n) if policy.name == "fresh" else None
    accumulate = bool(policy.accumulate)
    if "bandwidth" in overrides:
        kw = {"bandwidth": float(overrides["bandwidth"])}
    elif family.rule_constant is None:
        kw = {"bandwidth": float(family.bandwidth)}
    else:
        scale = float(overrides.get("bandwidth_scale", family.bandwidth_scale))
        kw = {"constant": family.rule_constant / family.bandwidth_scale * scale}
    if accumulate:
        cap = family.accumulate_capacity
        gens = [g for g in gens if np.sum(n[:g]) <= cap]  # exact while nothing is overwritten
    log_var = np.cumsum(2.0 / n)
    ts = np.asarray(gens, dtype=np.int64)
    rows: list[Prediction] = []
    if not gens:
        return rows
    ev = th.expected_variance(ts, n, d, sigma2_0, fresh=fresh, accumulate=accumulate, **kw)
    ed = th.expected_mean_drift2(ts, n, d, sigma2_0, fresh=fresh, accumulate=accumulate, **kw)
    label_h = "fixed h" if "bandwidth" in kw else "rule"
    for t, v, dd in zip(gens, ev, ed):
        if accumulate or log_var[t - 1] <= MAX_LOG_VARIANCE + 1e-9:
            add_prediction(rows, DOC, "variance", t, "mean", v, f"E[var] ({label_h})",
                           "K1" if "bandwidth" in kw else "K2")
            add_prediction(rows, DOC, "mean_drift2", t, "mean", dd, "E[drift^2]", "K5")
    return rows

"""Which Gaussian-mixture closed forms apply to a run, as :class:`Prediction` rows.

Replace policy (or Fresh with no fresh sample ever drawn) only. Oracle assignments: every row is
exact (theory/mixture.md). EM: the same rows tagged approximate, with the relative tolerances
below, measured for well-separated components (theory/mixture.md#em).
"""

from __future__ import annotations

import numpy as np

from ..prediction import Prediction, add_prediction, default_generations
from ..theory import mixture as th

DOC = "theory/mixture.md"
# A mean of a (trace of) variance is only tested where, among chains where it is positive, its
# relative variance is at most e - 1 (the value of a log-normal with Var[log] = 1; catalogue T1).
MAX_RELATIVE_VARIANCE = float(np.e - 1)
# EM on components >= 8 sigma apart: relative tolerance per quantity, about twice the largest
# error measured (theory/mixture.md#em; tests/statistical/test_mixture_theory.py).
EM_REL_TOL = {
    "weight_mean": 0.02,
    "weight_variance": 0.05,
    "heterozygosity": 0.02,
    "num_alive": 0.02,
    "loss": 0.05,
    "one_left": 0.05,
    "variance": 0.05,
    "sigma": 0.03,
    "log_det": 0.02,
}
# EM floors the covariance of a component fit on <= d points, where the oracle law has a
# singular one: the log-det rows are used for EM only where that has probability below this.
EM_MAX_DEGENERATE = 1e-4
OVERRIDES = {"num_samples", "estimator", "generations", "weights", "rule_of_thumb"}


def _source_traces(config) -> np.ndarray:
    shape = np.asarray(config.source.shape, dtype=np.float64)
    log_scale = np.asarray(config.source.log_scale, dtype=np.float64)
    return np.exp(2 * log_scale) * np.sum(shape * shape, axis=(-2, -1))


def _source_log_dets(config) -> np.ndarray:
    shape = np.asarray(config.source.shape, dtype=np.float64)  # lower triangular
    log_scale = np.asarray(config.source.log_scale, dtype=np.float64)
    d = shape.shape[-1]
    diag = np.abs(np.diagonal(shape, axis1=-2, axis2=-1))
    return 2 * d * log_scale + 2 * np.sum(np.log(diag), axis=-1)


def _light(m1, m2, p_pos) -> np.ndarray:
    """Where the mean of sigma^2 (or sigma) 1{alive} is testable by a z across chains.

    ``m1``, ``m2``: first and second moments of the value; ``p_pos``: probability that it is
    positive. The criterion is the relative variance among chains where the value is positive
    (the mass at 0 does not hurt the central limit theorem; heavy right tails do): see
    MAX_RELATIVE_VARIANCE.
    """
    m1, m2, p_pos = (np.asarray(v, dtype=np.float64) for v in (m1, m2, p_pos))
    ok = (m1 > 0) & (p_pos > 0)
    rel = np.where(ok, p_pos * m2 / np.where(ok, m1, 1.0) ** 2 - 1, np.inf)
    return ok & (rel <= MAX_RELATIVE_VARIANCE)


def mixture_predictions(family, config, overrides: dict) -> list[Prediction]:
    unknown = set(overrides) - OVERRIDES
    if unknown:
        raise ValueError(f"unknown theory overrides {sorted(unknown)}; allowed {sorted(OVERRIDES)}")
    policy = config.policy
    T = config.num_generations
    n_sched = np.broadcast_to(
        np.asarray(overrides.get("num_samples", config.num_samples), dtype=np.float64), (T,)
    ).copy()
    kind = policy.name
    if kind == "fresh" and np.all(np.rint(float(policy.alpha) * config.num_samples) == 0):
        kind = "replace"  # no fresh sample is ever drawn
    if kind != "replace":
        return []
    n = np.rint(n_sched).astype(np.int64)
    est = overrides.get("estimator", family.estimator)
    weights = np.asarray(
        overrides.get("weights", np.asarray(config.source.weights, dtype=np.float64)),
        dtype=np.float64,
    )
    weights = weights / weights.sum()
    rule = bool(overrides.get("rule_of_thumb", False))
    tr0 = _source_traces(config)
    log_det0 = _source_log_dets(config)
    d = family.dim
    gens = [g for g in overrides.get("generations", default_generations(T)) if 1 <= g <= T]
    exact = bool(family.oracle_assignments)
    num_chains = config.num_chains
    k_total = family.num_components
    rows: list[Prediction] = []

    def add(obs, t, kind, value, label, formula, tol_key, **kw):
        add_prediction(rows, DOC, obs, t, kind, value, label, formula, exact=exact,
                       rel_tol=0.0 if exact else EM_REL_TOL[tol_key], **kw)

    def testable(p):
        return min(p, 1 - p) * num_chains >= 1

    if not gens:
        return rows
    ts = np.asarray(gens, dtype=np.int64)
    # Every theory curve is computed once over all generations (one count-chain recursion).
    het = th.expected_heterozygosity(ts, n, weights)
    num_alive = th.expected_num_alive(ts, n, weights)
    one_left = th.probability_one_left(ts, n, weights) if k_total >= 2 else None
    per_k = {}
    for k in range(k_total):
        w = float(weights[k])
        if w <= 0:
            continue
        c = {
            "var_w": th.variance_of_weight(ts, n, w),
            "lost": th.loss_probability(ts, n, w),
            "nondeg": th.nondegenerate_probability(ts, n, w, d),
            "logdet": th.expected_alive_log_det(ts, n, w, d, est, log_det0[k]),
            "var": th.expected_alive_variance(ts, n, w, est, tr0[k]),
            "var2": th.expected_alive_variance_squared(ts, n, w, est, tr0[k]),
            "pos": th.nondegenerate_probability(ts, n, w, 1),
        }
        c["light_var"] = _light(c["var"], c["var2"], c["pos"])
        if d == 1:
            c["sd"] = th.expected_alive_sigma(ts, n, w, est, tr0[k])
            c["light_sd"] = _light(c["sd"], c["var"], c["pos"])
        if rule:
            ok_var = np.array([np.all(n[:t] * w > 1) for t in ts])
            ok_det = np.array([np.all(n[:t] * w > d) for t in ts])
            if ok_var.any():
                t_ok = ts[ok_var]
                c["rt_var"] = dict(zip(t_ok, np.atleast_1d(
                    th.rule_of_thumb_variance(t_ok, n, w, est, tr0[k]))))
                if d == 1:
                    c["rt_sd"] = dict(zip(t_ok, np.atleast_1d(
                        th.rule_of_thumb_sigma(t_ok, n, w, est, tr0[k]))))
            if ok_det.any():
                t_ok = ts[ok_det]
                c["rt_logdet"] = dict(zip(t_ok, np.atleast_1d(
                    th.rule_of_thumb_log_det(t_ok, n, w, d, est, log_det0[k]))))
        per_k[k] = c

    for i, t in enumerate(ts):
        add("heterozygosity", t, "mean", het[i], "E[1 - sum w^2]", "M2", "heterozygosity")
        # Only where losses are frequent enough to be seen (otherwise every chain has all K
        # components and the across-chain standard error is 0).
        spread = sum(c["lost"][i] * (1 - c["lost"][i]) for c in per_k.values())
        if spread * num_chains >= 1:
            add("num_alive", t, "mean", num_alive[i], "E[# alive]", "M3", "num_alive")
        if one_left is not None and testable(one_left[i]):
            add("num_alive", t, "probability", one_left[i], "P(one left)", "M3", "one_left",
                threshold=1.5)
        for k, c in per_k.items():
            w = float(weights[k])
            add("weights", t, "mean", w, f"E[w_{k}]", "M2", "weight_mean", index=(k,))
            if w < 1:
                add("weights", t, "variance", c["var_w"][i], f"Var[w_{k}]", "M2",
                    "weight_variance", index=(k,))
            p_lost = c["lost"][i]
            if testable(p_lost):
                add("alive", t, "probability", p_lost, f"P(comp {k} lost)", "M3", "loss",
                    threshold=0.5, index=(k,))
            if exact or (1 - p_lost) - c["nondeg"][i] <= EM_MAX_DEGENERATE:
                if "rt_logdet" in c and t in c["rt_logdet"]:
                    add("alive_log_det", t, "mean", c["rt_logdet"][t],
                        f"E[logdet_{k} 1(A)] (n w rule)", "RT", "log_det", index=(k,))
                else:
                    add("alive_log_det", t, "mean", c["logdet"][i], f"E[logdet_{k} 1(A)]",
                        "M6", "log_det", index=(k,))
            if c["light_var"][i]:
                if "rt_var" in c and t in c["rt_var"]:
                    add("alive_variance", t, "mean", c["rt_var"][t],
                        f"E[var_{k} 1(alive)] (n w rule)", "RT", "variance", index=(k,))
                else:
                    add("alive_variance", t, "mean", c["var"][i], f"E[var_{k} 1(alive)]",
                        "M4", "variance", index=(k,))
            if d == 1 and c["light_sd"][i]:
                if "rt_sd" in c and t in c["rt_sd"]:
                    add("alive_variance", t, "mean", c["rt_sd"][t],
                        f"E[sd_{k} 1(alive)] (n w rule)", "RT", "sigma", index=(k,),
                        transform="sqrt")
                else:
                    add("alive_variance", t, "mean", c["sd"][i], f"E[sd_{k} 1(alive)]", "M5",
                        "sigma", index=(k,), transform="sqrt")
    return rows

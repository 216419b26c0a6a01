"""Which Gaussian closed forms apply to a run, as :class:`Prediction` rows."""

from __future__ import annotations

import numpy as np

from ..prediction import Prediction, add_prediction, default_generations
from ..theory import gaussian as th

# A mean of exp(Y) is only tested where Var[Y] <= this (log-normal-like tails; catalogue T1).
MAX_LOG_VARIANCE = 1.0
# The iterated band-verifier map (approximate beyond t = 1) is checked at t = 2 only, within
# this relative tolerance (measured error there: about -7 %, growing later; theory/gaussian.md#p8).
BAND_REL_TOL = 0.10
PROBABILITY_EPS = (0.5, 0.1)
DOC = "theory/gaussian.md"


def _source_moments(config):
    chol = np.asarray(config.source.frame_chol, dtype=np.float64)
    cov = chol @ chol.T
    return float(np.trace(cov)), float(2 * np.sum(np.log(np.diag(chol))))


def gaussian_predictions(family, config, overrides: dict) -> list[Prediction]:
    unknown = set(overrides) - {
        "estimator", "num_samples", "temperature", "alpha", "generations", "policy"}
    if unknown:
        raise ValueError(f"unknown theory overrides {sorted(unknown)}")
    est = overrides.get("estimator", family.estimator)
    lam = float(overrides.get("temperature", family.temperature))
    T = config.num_generations
    n_sched = overrides.get("num_samples", config.num_samples)
    n = np.broadcast_to(np.asarray(n_sched, dtype=np.float64), (T,)).copy()
    gens = [g for g in overrides.get("generations", default_generations(T)) if 1 <= g <= T]
    sigma2_0, log_det_0 = _source_moments(config)
    d = family.dim
    policy = overrides.get("policy", config.policy)
    rows: list[Prediction] = []

    def add(obs, t, kind, value, label, formula, **kw):
        add_prediction(rows, DOC, obs, t, kind, value, label, formula, **kw)

    kind = policy.name
    alpha = float(overrides.get("alpha", getattr(policy, "alpha", 0.0)))
    if kind == "fresh" and np.all(np.rint(alpha * n) == 0):
        kind = "replace"  # no fresh sample is ever drawn: the replace laws hold exactly

    if kind == "replace":
        growing = lam * (n.min() - 1) / (n.min() - (1 if est == "unbiased" else 0)) >= 1
        for t in gens:
            vlog = th.variance_of_log_variance(t, n)
            light = vlog <= MAX_LOG_VARIANCE
            if d == 1:
                add("log_variance", t, "mean",
                    th.expected_log_variance(t, n, est, sigma2_0, lam), "E[log var]", "G4")
                add("log_variance", t, "variance", vlog, "Var[log var]", "G5")
                if light:
                    add("variance", t, "mean",
                        th.expected_variance(t, n, est, sigma2_0, lam), "E[var]", "G1")
                if vlog / 4 <= MAX_LOG_VARIANCE:
                    add("variance", t, "mean", th.expected_sigma(t, n, est, sigma2_0, lam),
                        "E[sigma]", "G3", transform="sqrt")
                # On the log scale: the variance itself may underflow, its logarithm cannot.
                for eps in PROBABILITY_EPS:
                    p = th.variance_probability_below(eps, t, n, est, lam)
                    if min(p, 1 - p) * config.num_chains >= 1:
                        add("log_variance", t, "probability", p, f"P(var < {eps:g} var0)", "G6",
                            threshold=float(np.log(eps * sigma2_0)))
                median_log = th.log_variance_quantile(0.5, t, n, est, lam) + np.log(sigma2_0)
                add("log_variance", t, "quantile", median_log, "median log var", "G6", level=0.5)
                if light or not growing:
                    add("mean_drift2", t, "mean",
                        th.expected_mean_drift2(t, n, est, sigma2_0, lam), "E[drift^2]", "G7")
                    add("w2_squared", t, "mean",
                        th.expected_w2_squared(t, n, est, sigma2_0, lam), "E[W2^2]", "G9")
            else:
                if light:
                    add("variance", t, "mean",
                        th.expected_variance(t, n, est, sigma2_0, lam), "E[tr cov]", "M1")
                add("log_det", t, "mean",
                    th.expected_log_det(t, n, d, est, log_det_0, lam), "E[log det]", "M2")
                add("log_det", t, "variance", th.variance_of_log_det(t, n, d),
                    "Var[log det]", "M3")
                if light or not growing:
                    add("mean_drift2", t, "mean",
                        th.expected_mean_drift2(t, n, est, sigma2_0, lam), "E[drift^2]", "M5")
    elif kind == "accumulate":
        for t in gens:
            add("variance", t, "mean",
                th.expected_variance_accumulate(t, n, est, sigma2_0, lam), "E[var]", "X7")
            add("mean_drift2", t, "mean",
                th.expected_mean_drift2_accumulate(t, n, est, sigma2_0, lam), "E[drift^2]", "X7")
    elif kind == "fresh":
        for t in gens:
            add("variance", t, "mean",
                th.expected_variance_fresh(t, n, alpha, est, sigma2_0, lam), "E[var]", "X6")
            add("mean_drift2", t, "mean",
                th.expected_mean_drift2_fresh(t, n, alpha, est, sigma2_0, lam), "E[drift^2]", "X6")
    else:
        mu0 = float(np.asarray(config.source.frame_mean, dtype=np.float64)[0])
        rows.extend(_policy_predictions(policy, n, gens, est, sigma2_0, lam, d, add, mu0))
    return rows


def _policy_predictions(policy, n, gens, est, sigma2_0, lam, d, add, mu0=0.0) -> list:
    """Rows of the issue-13 policies (theory/gaussian.md#p1 - #p5, #p8 - #p10)."""
    kind = policy.name
    if kind == "refresh":
        _, fresh = policy.split(n.astype(np.int64))
        for t in gens:
            add("variance", t, "mean", th.expected_variance_split(t, n, fresh, est, sigma2_0, lam),
                "E[var]", "P1")
            add("mean_drift2", t, "mean",
                th.expected_mean_drift2_split(t, n, fresh, est, sigma2_0, lam), "E[drift^2]", "P1")
            if d == 1 and lam == 1.0 and policy.fraction == 1.0:
                # a full refresh restarts the chain: the replace law at the age since it
                start = ((t - 1) // policy.every) * policy.every
                age, ns = t - start, n[start:t]
                add("log_variance", t, "mean",
                    th.expected_log_variance(age, ns, est, sigma2_0), "E[log var]", "P1")
                add("log_variance", t, "variance", th.variance_of_log_variance(age, ns),
                    "Var[log var]", "P1")
    elif kind == "mix":
        for t in gens:
            add("variance", t, "mean",
                th.expected_variance_mix(t, n, policy.alpha, est, sigma2_0, lam), "E[var]", "P2")
            add("mean_drift2", t, "mean",
                th.expected_mean_drift2_mix(t, n, policy.alpha, est, sigma2_0, lam),
                "E[drift^2]", "P2")
    elif kind == "accumulate_subsample":
        for t in gens:
            add("variance", t, "mean",
                th.expected_variance_subsample(t, n, policy.size or None, est, sigma2_0, lam),
                "E[var]", "P3")
            add("mean_drift2", t, "mean",
                th.expected_mean_drift2_subsample(t, n, policy.size or None, est, sigma2_0, lam),
                "E[drift^2]", "P3")
    elif kind == "verified_band" and d == 1:
        c = policy.c
        for t in gens:
            # exact at t = 1 (one step from the source); the iterated map (approximate) at t = 2
            exact = t == 1
            if t > 2:
                continue
            kw = {} if exact else {"exact": False, "rel_tol": BAND_REL_TOL}
            add("variance", t, "mean",
                th.expected_variance_verified_band(t, n, c, est, sigma2_0, lam), "E[var]", "P8",
                **kw)
            if exact:
                add("mean_drift2", t, "mean",
                    th.expected_mean_drift2_verified_band(t, n, c, est, sigma2_0, lam),
                    "E[drift^2]", "P8")
    elif kind == "verified_smooth" and d == 1:
        # one step from the source (exact): the kept law is N(0, v') in source units
        c = policy.c
        v_kept = 1.0 / (1.0 / lam + 1.0 / c**2)
        _, var1, drift1 = th.verified_smooth_step(0.0, 1.0, n[0], c, est, lam)
        add("variance", 1, "mean", sigma2_0 * var1, "E[var]", "P9")
        add("mean_drift2", 1, "mean", sigma2_0 * drift1, "E[drift^2]", "P9")
        add("log_variance", 1, "mean", th.expected_log_variance(1, n, est, sigma2_0 * v_kept),
            "E[log var]", "P9")
        add("log_variance", 1, "variance", th.variance_of_log_variance(1, n), "Var[log var]",
            "P9")
        # E[1/var_t] (exact linear recursion) where its z-test is trustworthy: n_min - 1 > 8
        # (finite fourth moment of 1/chi2) and Var[log var_t] <= MAX_LOG_VARIANCE (bounded by
        # the replace value G5: the verifier's log-precision map is a contraction)
        if n.min() > 9:
            for t in range(1, n.size + 1):
                if th.variance_of_log_variance(t, n) > MAX_LOG_VARIANCE:
                    break
                add("log_variance", t, "mean",
                    th.expected_precision_verified_smooth(t, n, c, est, sigma2_0, lam),
                    "E[1/var]", "P9", transform="exp_neg")
    elif kind == "curated_linear" and d == 1:
        k, sign = policy.k, policy.sign
        e_k, v_k, _ = th.max_normal_moments(k)
        add("mean", 1, "mean", mu0 + sign * np.sqrt(lam * sigma2_0) * e_k, "E[mean]", "P10")
        add("mean_drift2", 1, "mean", lam * sigma2_0 * (e_k**2 + v_k / n[0]), "E[drift^2]",
            "P10")
        # E[var_t] exact for every t; tested while log(E[var^2]/E[var]^2) <= MAX_LOG_VARIANCE
        for t in range(1, n.size + 1):
            if th.log_relative_variance_curated_linear(t, n, k) > MAX_LOG_VARIANCE:
                break
            add("variance", t, "mean",
                th.expected_variance_curated_linear(t, n, k, est, sigma2_0, lam), "E[var]", "P10")
    elif kind == "fixed_real":
        for t in gens:
            add("variance", t, "mean",
                th.expected_variance_fixed_real(t, n, policy.alpha, est, sigma2_0, lam),
                "E[var]", "P5")
            add("mean_drift2", t, "mean",
                th.expected_mean_drift2_fixed_real(t, n, policy.alpha, est, sigma2_0, lam),
                "E[drift^2]", "P5")
    elif kind == "window":
        for t in gens:
            add("variance", t, "mean",
                th.expected_variance_window(t, n, policy.w, est, sigma2_0, lam), "E[var]", "P4")
            add("mean_drift2", t, "mean",
                th.expected_mean_drift2_window(t, n, policy.w, est, sigma2_0, lam),
                "E[drift^2]", "P4")
    return []

"""Which Wright-Fisher closed forms apply to a categorical run, as :class:`Prediction` rows.

Applicability (theory/wright_fisher.md#applicability):

* every configuration: exact one-generation rows (t = 1) with the biased, smoothed first step
  (fresh real data is drawn without the bias);
* replace, no smoothing, no bias (or top-k alone, which is idempotent: Wright-Fisher on the
  renormalised top-k from generation 1): W1, W2, W3, W5 (loss, survivors, lost mass, fixed),
  fixation times (W7/W8 exact beside the Kimura-Ohta / Littler diffusion values), and the
  Miller-Madow entropy / KL approximations where every category is common;
* replace with smoothing (no bias): exact moment recursions;
* accumulate (no smoothing, no bias): X5; fresh data (no smoothing, no bias): X1;
* other biases beyond t = 1: the deterministic maps of catalogue section 7 as approximate rows
  where the sample is large (n >= 10^4).
"""

from __future__ import annotations

import math

import numpy as np

from ..prediction import Prediction, default_generations
from ..sampling import SamplingBias
from ..theory import wright_fisher as wf

DOC = "theory/wright_fisher.md"
LOST = 1e-20  # a tracked probability below this is exactly 0 (present ones are >= 1e-7)
MAX_ROWS_CHAIN_N = wf.MAX_CHAIN_SIZE
DETERMINISTIC_MIN_N = 10_000
DETERMINISTIC_MAX_T = 20
DETERMINISTIC_REL_TOL = 0.05
MIN_EVENTS = 100  # support / lost-mass rows need this many expected losses over all chains
MEAN_KURTOSIS_FACTOR = 10  # mean rows need C >= 10 x kurtosis
VARIANCE_KURTOSIS_FACTOR = 100  # variance rows need C >= 100 x kurtosis
DIFFUSION_MIN_N = 10  # Kimura-Ohta / Littler bands, measured against the exact chain


def tail_masks(weights, cuts, index) -> np.ndarray:
    """``[2, K]`` NumPy masks of the tail sets defined by ``_tail_cuts`` in :mod:`collapse_lab.families.categorical`."""
    w = np.asarray(weights)
    i = np.arange(w.size)
    return np.stack(
        [
            (w > 0) & ((w < c) | ((w == c) & (i >= b)))
            for c, b in zip(np.asarray(cuts), np.asarray(index))
        ]
    )


def diffusion_rel_tol(n: int) -> float:
    """Band of the diffusion fixation time: it runs up to 13 % high at n = 10, 10 % at n = 20,
    6 % at n = 50 (K <= 4, p >= 0.05; theory/wright_fisher.md#w8)."""
    return 0.15 if n < 20 else (0.12 if n < 50 else 0.07)


ENTROPY_REL_TOL = 0.01
KL_REL_TOL = 0.05
OVERRIDES = {"num_samples", "alpha", "smoothing", "bias", "generations", "probs", "policy"}
# Policies whose generation-1 training set is the split's (synthetic + fresh) draws of n_0 points.
FIRST_STEP_SPLIT = {"replace", "accumulate", "fresh", "refresh", "window", "fixed_real",
                    "verified", "curated"}


def _bias_dict(bias: SamplingBias) -> dict:
    out = {"temperature": bias.temperature}
    for name in ("top_k", "top_p", "min_p", "epsilon"):
        if getattr(bias, name) is not None:
            out[name] = getattr(bias, name)
    return out


def _top_k_only(bias: SamplingBias) -> bool:
    return (
        bias.temperature == 1.0
        and bias.top_k is not None
        and (bias.top_p is None or bias.top_p >= 1.0)
        and bias.min_p is None
        and bias.epsilon is None
    )


def categorical_predictions(family, config, overrides: dict) -> list[Prediction]:
    unknown = set(overrides) - OVERRIDES
    if unknown:
        raise ValueError(f"unknown theory overrides {sorted(unknown)}; allowed {sorted(OVERRIDES)}")
    source = config.source
    true_p0 = family.source_probs(source)
    p0 = np.asarray(overrides.get("probs", true_p0), dtype=np.float64)
    if p0.shape != true_p0.shape:
        raise ValueError(f"override probs must have shape {true_p0.shape}")
    smoothing = float(overrides.get("smoothing", family.smoothing))
    bias = overrides.get("bias", family.bias)
    if not isinstance(bias, SamplingBias):
        raise ValueError(f"override bias must be a SamplingBias, got {bias!r}")
    T = config.num_generations
    C = config.num_chains
    policy = overrides.get("policy", config.policy)
    n_sched = overrides.get("num_samples", config.num_samples)
    n = np.broadcast_to(np.asarray(n_sched, dtype=np.float64), (T,)).copy()
    if "policy" in overrides:
        fresh = np.asarray(policy.split(n.astype(np.int64))[1], dtype=np.float64)
    elif "num_samples" in overrides or "alpha" in overrides:
        alpha = float(overrides.get("alpha", getattr(policy, "alpha", 0.0)))
        fresh = np.rint(alpha * n) if policy.name == "fresh" else np.zeros(T)
    else:
        fresh = np.asarray(config.fresh_samples[:T], dtype=np.float64)
    synthetic = n - fresh
    gens = [g for g in overrides.get("generations", default_generations(T)) if 1 <= g <= T]
    tracked = np.asarray(source.tracked)
    tails = tail_masks(source.weights, source.tail_cut, source.tail_index)
    k = p0.size
    rows: list[Prediction] = []

    def add(obs, t, kind, value, label, formula, exact=True, **kw):
        value = float(value)
        if not math.isfinite(value):
            return
        rows.append(
            Prediction(
                observable=obs,
                generation=int(t),
                kind=kind,
                predicted=value,
                label=label,
                formula=formula,
                reference=f"{DOC}#{formula.lower().split('/')[0]}",
                exact=exact,
                **kw,
            )
        )

    def testable(prob):
        return min(prob, 1 - prob) * C >= 1

    def num_chains_ok(kurt, factor):
        return np.isfinite(kurt) and C >= factor * kurt

    # Heavy tails: a rare category is 0 in most chains, and a z across chains is only trusted
    # when the chain count is large against the kurtosis (exact, from the replace chain's
    # moments of the same first-step law; theory/wright_fisher.md#moments). A merged set of
    # categories is itself a Wright-Fisher category (lumpability), so the tail masses obey the
    # one-category laws with their total probability.
    lump_names = [("tracked_probs", f"p_{cat}", (j,)) for j, cat in enumerate(tracked)] + [
        ("tail_mass_1pct", "tail_mass_1pct", None),
        ("tail_mass_10pct", "tail_mass_10pct", None),
    ]

    def lump(vec):
        return np.concatenate([vec[tracked], [vec[tails[0]].sum(), vec[tails[1]].sum()]])

    q_lumps = None  # set below, once the first-step law q is known
    kurtosis = {}

    all_fixed = set()  # generations at which every chain has fixed (H = 0, support 1 in all)

    def moment_rows(t, means, variances, formula_mean, formula_var, heterozygosity, formula_h):
        """Rows for E[H], E and Var of the tracked categories and the tail masses (lumped)."""
        if t not in all_fixed:
            add("heterozygosity", t, "mean", heterozygosity, "E[heterozygosity]", formula_h)
        if t not in kurtosis:
            kurtosis[t] = np.atleast_1d(wf.kurtosis_of_probability(t, n, q_lumps))
        kurt = kurtosis[t]
        for j, (obs, label, idx) in enumerate(lump_names):
            degenerate = not np.isfinite(kurt[j])  # the lump is 0 or 1 for sure
            if degenerate or num_chains_ok(kurt[j], MEAN_KURTOSIS_FACTOR):
                add(obs, t, "mean", means[j], f"E[{label}]", formula_mean, index=idx)
            v = variances[j]
            if np.isfinite(v) and v > 0 and num_chains_ok(kurt[j], VARIANCE_KURTOSIS_FACTOR):
                add(obs, t, "variance", v, f"Var[{label}]", formula_var, index=idx)

    def loss_rows(t, loss, tail_loss, formula, fixed_prob):
        """E[support], E[lost mass], P(tracked / tail mass = 0) and P(fixed) rows."""
        # A mean across chains of a count of rare events needs many events: skip the rows when
        # fewer than MIN_EVENTS losses (or survivals) are expected over all chains.
        if C * np.sum(np.minimum(loss, 1 - loss)[p0 > 0]) >= MIN_EVENTS:
            if t not in all_fixed:
                add("support_size", t, "mean", np.sum(1 - loss), "E[support size]", formula)
            add("lost_mass", t, "mean", np.sum(p0 * loss), "E[lost mass]", formula)
        for j, cat in enumerate(tracked):
            if testable(loss[cat]):
                add(
                    "tracked_probs",
                    t,
                    "probability",
                    loss[cat],
                    f"P(p_{cat} = 0)",
                    formula,
                    threshold=LOST,
                    index=(j,),
                )
        for name, prob in zip(("tail_mass_1pct", "tail_mass_10pct"), tail_loss):
            if testable(prob):
                add(name, t, "probability", prob, f"P({name} = 0)", formula, threshold=LOST)
        if testable(fixed_prob):
            add("fixed", t, "probability", 1 - fixed_prob, "P(not fixed)", formula, threshold=0.5)

    policy_kind = policy.name
    if policy_kind in ("fresh", "refresh") and np.all(fresh == 0):
        policy_kind = "replace"  # no fresh sample is ever drawn: the replace laws hold exactly
    elif policy_kind == "refresh":
        policy_kind = "fresh"  # a per-generation split: the X1 recursion takes the schedule
    # Generation 1 under the other policies: Mix draws from a pi + (1 - a) b(pi) (= the replace
    # law without bias); a subsample of m tokens of a multinomial sample is Multinomial(m).
    first_step = policy_kind in FIRST_STEP_SPLIT or (
        policy_kind == "mix" and bias.is_identity) or (
        policy_kind == "accumulate_subsample" and policy.size in (0, int(n[0])))

    # ---------------------------------------------------------------- one generation (t = 1)
    q = wf.bias_map(p0, **_bias_dict(bias)) if not bias.is_identity else p0
    verify = None
    if policy_kind == "verified":
        # kept tokens are i.i.d. from the reweighted law (theory/wright_fisher.md#p6)
        verify = np.asarray(policy.accept, dtype=np.float64)
        q = wf.verified_map(q, verify)
        if np.all((verify == 0) | (verify == 1)):
            policy_kind = "replace"  # an exact 0/1 verifier is idempotent: Wright-Fisher on q
    elif policy_kind == "curated":
        q = wf.best_of_k_map(q, policy.reward, policy.k)  # theory/wright_fisher.md#p7
    q_lumps = lump(q)
    n0 = n[0]
    if 1 in gens and first_step:
        # Generation 1: a_0 draws from q = b(p0) (synthetic) and b_0 from p0 (fresh, unbiased).
        a0, b0 = synthetic[0], fresh[0]
        denom = n0 + k * smoothing
        p_lumps = lump(p0)
        pseudo = np.concatenate([np.ones(len(tracked)), [tails[0].sum(), tails[1].sum()]])
        mean_counts = a0 * q + b0 * p0
        var_counts = a0 * q * (1 - q) + b0 * p0 * (1 - p0)
        h1 = 1 - np.sum(((mean_counts + smoothing) / denom) ** 2 + var_counts / denom**2)
        moment_rows(
            1,
            (a0 * q_lumps + b0 * p_lumps + pseudo * smoothing) / denom,
            (a0 * q_lumps * (1 - q_lumps) + b0 * p_lumps * (1 - p_lumps)) / denom**2,
            "W1",
            "W3",
            h1,
            "W2",
        )
        if smoothing == 0:
            loss_rows(
                1,
                (1 - q) ** a0 * (1 - p0) ** b0,
                (1 - q_lumps[-2:]) ** a0 * (1 - p_lumps[-2:]) ** b0,
                "W6",
                float(np.sum(q**a0 * p0**b0)),
            )

    later = [t for t in gens if t >= 2]
    simple = smoothing == 0 and (bias.is_identity or _top_k_only(bias))
    # ---------------------------------------------------------------- replace: Wright-Fisher
    if policy_kind == "replace" and simple:
        f = np.atleast_1d(wf.heterozygosity_factor(later, n)) if later else []
        chain_ok = np.max(n) <= MAX_ROWS_CHAIN_N
        if later and chain_ok:
            loss = wf.loss_probability(later, n, q)
            tail_loss = wf.loss_probability(later, n, q_lumps[-2:])
            fixp = wf.fixation_probability_by(later, n, q)
        else:
            loss = None
        h0 = 1 - np.sum(q * q)
        for row, t in enumerate(later):
            if loss is not None and C * (1 - fixp[row].sum()) < 1e-3:
                all_fixed.add(t)
            moment_rows(
                t, q_lumps, q_lumps * (1 - q_lumps) * (1 - f[row]), "W1", "W3", h0 * f[row], "W2"
            )
            if loss is not None:
                loss_rows(t, loss[row], tail_loss[row], "W5", float(fixp[row].sum()))
        if bias.is_identity:
            _entropy_rows(add, later + ([1] if 1 in gens else []), n, q, C)
            _fixation_time_rows(add, config, n, q, T)
    elif policy_kind == "replace" and smoothing > 0 and bias.is_identity and later:
        mean, var = wf.smoothed_moments(later, n, q, smoothing)
        for row, t in enumerate(later):
            h = 1 - np.sum(mean[row] ** 2 + var[row])
            lumped_var = np.concatenate([var[row][tracked], [np.nan, np.nan]])
            moment_rows(t, lump(mean[row]), lumped_var, "Smoothing", "Smoothing", h, "Smoothing")
    # ---------------------------------------------------------------- accumulate: X5
    elif policy_kind == "accumulate" and smoothing == 0 and bias.is_identity and later:
        factor = np.atleast_1d(wf.accumulate_factor(later, n))
        h0 = 1 - np.sum(q * q)
        loss = wf.accumulate_loss_probability(q, n0)
        for row, t in enumerate(later):
            moment_rows(
                t,
                q_lumps,
                q_lumps * (1 - q_lumps) * (1 - factor[row]),
                "W1",
                "X5",
                h0 * factor[row],
                "X5",
            )
            loss_rows(t, loss, (1 - q_lumps[-2:]) ** n0, "X5", float(np.sum(q**n0)))
    # ---------------------------------------------------------------- fresh data: X1
    elif policy_kind == "fresh" and smoothing == 0 and bias.is_identity and later:
        r = np.atleast_1d(wf.fresh_variance_ratio(later, synthetic, fresh))
        h0 = 1 - np.sum(q * q)
        for row, t in enumerate(later):
            moment_rows(
                t, q_lumps, q_lumps * (1 - q_lumps) * r[row], "W1", "X1", h0 * (1 - r[row]), "X1"
            )
    # ---------------------------------------------------------------- issue-13 policies
    elif policy_kind in SECOND_MOMENTS and smoothing == 0 and bias.is_identity and later:
        formula, second = SECOND_MOMENTS[policy_kind](policy, n)
        s_lumps = np.atleast_2d(second(later, q_lumps))
        s_all = np.atleast_2d(second(later, q))
        for row, t in enumerate(later):
            moment_rows(t, q_lumps, s_lumps[row] - q_lumps**2, "W1", formula,
                        1 - s_all[row].sum(), formula)
    # ------------------------------------------- two categories under selection: exact chain
    if (
        k == 2
        and policy.name in ("verified", "curated")
        and policy_kind != "replace"
        and bias.is_identity
        and smoothing == 0
        and np.all(fresh == 0)
        and np.all(n == n0)
        and n0 <= MAX_ROWS_CHAIN_N
        and gens
    ):
        _two_type_rows(add, policy, gens, int(n0), p0, tracked, C, 1 in gens and first_step)
    # ---------------------------------------------------------------- other biases: maps
    if (
        verify is not None
        and policy_kind == "verified"
        and bias.is_identity
        and smoothing == 0
        and np.min(n) >= DETERMINISTIC_MIN_N
    ):
        for t in [t for t in later if t <= DETERMINISTIC_MAX_T]:
            path = wf.verified_map(p0, verify, t)
            add("heterozygosity", t, "mean", 1 - np.sum(path**2),
                "heterozygosity (deterministic map)", "P6", exact=False,
                rel_tol=DETERMINISTIC_REL_TOL)
    if (
        policy_kind == "curated"
        and bias.is_identity
        and smoothing == 0
        and np.min(n) >= DETERMINISTIC_MIN_N
    ):
        for t in [t for t in later if t <= DETERMINISTIC_MAX_T]:
            path = wf.best_of_k_map(p0, policy.reward, policy.k, t)
            add("heterozygosity", t, "mean", 1 - np.sum(path**2),
                "heterozygosity (deterministic map)", "P7", exact=False,
                rel_tol=DETERMINISTIC_REL_TOL)
    if (
        not bias.is_identity
        and not _top_k_only(bias)
        and policy_kind == "replace"
        and smoothing == 0
        and np.min(n) >= DETERMINISTIC_MIN_N
    ):
        steps = [t for t in later if t <= DETERMINISTIC_MAX_T]
        if steps:
            path = wf.iterate_bias(p0, max(steps), **_bias_dict(bias))
            for t in steps:
                # generation t is fit on draws from b(p_{t-1}): its mean is near b^t(p0)
                add(
                    "max_prob",
                    t,
                    "mean",
                    path[t].max(),
                    "max prob (deterministic map)",
                    "Maps",
                    exact=False,
                    rel_tol=DETERMINISTIC_REL_TOL,
                )
                add(
                    "heterozygosity",
                    t,
                    "mean",
                    1 - np.sum(path[t] ** 2),
                    "heterozygosity (deterministic map)",
                    "Maps",
                    exact=False,
                    rel_tol=DETERMINISTIC_REL_TOL,
                )
    return rows


def _mix_second(policy, n):
    def second(t, p):
        r = np.atleast_1d(wf.mixture_variance_ratio(t, n, policy.alpha))
        return p * p + r[:, None] * (p * (1 - p))

    return "X2", second


SECOND_MOMENTS = {
    "accumulate_subsample": lambda pol, n: (
        "P3", lambda t, p: wf.subsample_second_moment(t, n, p, pol.size or None)),
    "window": lambda pol, n: ("P4", lambda t, p: wf.window_second_moment(t, n, p, pol.w)),
    "fixed_real": lambda pol, n: (
        "P5", lambda t, p: wf.fixed_real_second_moment(
            t, n, p, pol.real_count(n.astype(np.int64)))),
    "mix": _mix_second,
}


def _two_type_rows(add, policy, gens, n, p0, tracked, num_chains, first_done):
    """Rows of the exact two-category selection chain (theory/wright_fisher.md#f1).

    Means and variances of both tracked probabilities and the mean heterozygosity at every
    checked generation >= 2 (generation 1 has its W1-W3 rows already when ``first_done``), and
    the verifier's majority row P(p_correct < 1/2) at every checked generation, where the
    "correct" category is the one the verifier keeps more often (the reward prefers).
    """
    if policy.name == "verified":
        keep = np.asarray(policy.accept, dtype=np.float64)
        law = wf.verified_two_type_law(gens, n, p0[0], keep[0], keep[1])
        favoured = None if keep[0] == keep[1] else int(np.argmax(keep))
    else:
        law = wf.curated_two_type_law(gens, n, p0[0], policy.reward, policy.k)
        r = np.asarray(policy.reward)
        favoured = None if r[0] == r[1] or policy.k == 1 else int(np.argmax(r))
    law = np.atleast_2d(law)
    x = np.arange(n + 1) / n  # category 0's probability
    for row, t in enumerate(gens):
        w = law[row]
        m1 = float(w @ x)
        central = x - m1
        var = float(w @ central**2)
        m4 = float(w @ central**4)
        if t >= 2 or not first_done:
            for j, cat in enumerate(tracked):
                # p_1 = 1 - p_0: the same variance and kurtosis
                mean = m1 if cat == 0 else 1.0 - m1
                kurt = m4 / var**2 if var > 0 else np.inf
                if var == 0 or num_chains >= MEAN_KURTOSIS_FACTOR * kurt:
                    add("tracked_probs", t, "mean", mean, f"E[p_{cat}]", "F1", index=(j,))
                if var > 0 and num_chains >= VARIANCE_KURTOSIS_FACTOR * kurt:
                    add("tracked_probs", t, "variance", var, f"Var[p_{cat}]", "F1", index=(j,))
            h = 2 * x * (1 - x)
            h_mean = float(w @ h)
            h_var = float(w @ (h - h_mean) ** 2)
            h_kurt = float(w @ (h - h_mean) ** 4) / h_var**2 if h_var > 0 else np.inf
            if h_var == 0 or num_chains >= MEAN_KURTOSIS_FACTOR * h_kurt:
                add("heterozygosity", t, "mean", h_mean, "E[heterozygosity]", "F1")
        if favoured is not None and favoured in list(tracked):
            counts = np.arange(n + 1)
            correct = counts if favoured == 0 else n - counts
            prob = float(w[correct < n / 2].sum())
            if min(prob, 1 - prob) * num_chains >= 1:
                add("tracked_probs", t, "probability", prob,
                    f"P(p_{favoured} < 1/2) (majority wrong)", "F1", threshold=0.5,
                    index=(list(tracked).index(favoured),))


def _entropy_rows(add, gens, n, q, num_chains):
    """Miller-Madow approximations (W10) where every category of the support is common."""
    support = q[q > 0]
    n_min = float(np.min(n))
    if support.size < 2 or n_min * support.min() < 20:
        return
    for t in sorted(set(gens)):
        if t > n_min / 20:
            continue
        add(
            "entropy",
            t,
            "mean",
            wf.expected_entropy_approx(t, n, q),
            "E[entropy] (Miller-Madow)",
            "W10",
            exact=False,
            rel_tol=ENTROPY_REL_TOL,
        )
        add(
            "kl_to_source",
            t,
            "mean",
            wf.expected_kl_approx(t, n, q),
            "E[KL(p_t||p_0)] (Miller-Madow)",
            "W10",
            exact=False,
            rel_tol=KL_REL_TOL,
        )


def _fixation_time_rows(add, config, n, q, T):
    """Mean fixation time (exact, W7/W8) and its diffusion value, when every chain has fixed."""
    if np.any(n != n[0]) or n[0] > wf.MAX_CHAIN_SIZE:
        return
    n0 = int(n[0])
    support = q[q > 0]
    if support.size < 2:
        return
    unfixed = 1.0 - float(wf.probability_fixed(T, n0, q))
    if unfixed * config.num_chains > 1e-6:
        return  # some chain may still be unfixed at T: the mean of fixation_generation is biased
    try:
        exact = wf.mean_fixation_time(q, n0)
    except ValueError:
        exact = None
    if exact is not None:
        add("fixation_generation", T, "mean", exact, "E[fixation generation]", "W8")
    if n0 >= DIFFUSION_MIN_N:
        # The diffusion time starts at the source; the chain's first step is one generation.
        add(
            "fixation_generation",
            T,
            "mean",
            wf.littler_time(q, n0),
            "E[fixation generation] (Littler / Kimura-Ohta diffusion)",
            "W7a",
            exact=False,
            rel_tol=diffusion_rel_tol(n0),
        )

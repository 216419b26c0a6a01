"""Which n-gram closed forms apply to a run, as :class:`Prediction` rows.

* ``mode="fixed_counts"``, no smoothing, unbiased sampling: every row is an exact Wright-Fisher
  chain; exact rows for the source-weighted heterozygosity, lost mass, support, and the mean,
  variance and absence probability of the tracked transitions (replace, fresh and accumulate);
  for AccumulateSubsample the heterozygosity and the tracked transitions' mean and variance
  (theory/ngram.md#p3); for Window, Refresh, Mix and FixedReal the replace rows at generation 1
  only (model 0 is the source), and no rows after it.
* ``mode="corpus"``, no smoothing, ``unseen="keep"``, unbiased sampling, replace policy, constant
  corpus size: the approximate heterozygosity decay (a tolerance band, theory/ngram.md#corpus).
"""

from __future__ import annotations

import numpy as np

from ..prediction import Prediction, add_prediction, default_generations
from ..theory import ngram as th
from ..theory import wright_fisher as wf

DOC = "theory/ngram.md"
OVERRIDES = {"num_samples", "generations", "alpha", "context_weights", "corpus_method", "policy"}
# Approximate corpus rows are emitted where t / min_a(N pi_a) <= this (over contexts carrying
# 99.9 % of the stationary mass); see theory/ngram.md#corpus for the measured error.
CORPUS_MAX_LOAD = 0.4
CORPUS_REL_TOL = 0.02


def _add(rows, obs, t, kind, value, label, formula, **kw):
    add_prediction(rows, DOC, obs, t, kind, value, label, formula, **kw)


def ngram_predictions(family, config, overrides: dict) -> list[Prediction]:
    unknown = set(overrides) - OVERRIDES
    if unknown:
        raise ValueError(f"unknown theory overrides {sorted(unknown)}")
    if not family.bias.is_identity or family.smoothing != 0.0:
        return []  # no closed form with sampling bias or smoothing
    T = config.num_generations
    n = np.broadcast_to(
        np.asarray(overrides.get("num_samples", config.num_samples), dtype=np.float64), (T,)
    ).copy()
    gens = [g for g in overrides.get("generations", default_generations(T)) if 1 <= g <= T]
    info = config.source.info
    pi = info.context_law
    p0 = info.transitions
    policy = overrides.get("policy", config.policy)
    kind = policy.name
    if family.mode == "fixed_counts":
        weights = np.asarray(overrides.get("context_weights", family.weights_array()))
        alpha = overrides.get("alpha", getattr(policy, "alpha", None))
        syn = None
        if kind == "fresh":
            fresh = np.rint(float(alpha) * n)
            syn = n - fresh
        if kind in ("replace", "accumulate", "fresh"):
            return _fixed_rows(family, config, n, syn, kind == "accumulate", gens, weights, pi,
                               p0, info)
        if kind == "accumulate_subsample" and np.unique(n).size == 1:
            return _subsample_rows(config, n, policy.size, gens, weights, pi, p0, info)
        if kind in FIRST_STEP_REPLACE and 1 in gens:
            # generation 1 draws every point from the source (model 0): the replace law
            return _fixed_rows(family, config, n, None, False, [1], weights, pi, p0, info)
        return []
    if kind != "replace" or family.unseen != "keep" or np.unique(n).size != 1:
        return []
    return _corpus_rows(family, n[0], gens, pi, p0, overrides.get("corpus_method", "iid"))


# Policies whose generation 1 is fit on n_0 draws from the source law (model 0 is the source),
# so that the replace rows hold exactly at t = 1 (their later generations have no n-gram rows).
FIRST_STEP_REPLACE = {"window", "refresh", "mix", "fixed_real"}


def _subsample_rows(config, n, size, gens, weights, pi, p0, info):
    """AccumulateSubsample in fixed-counts mode: every context row is its own pooled
    Wright-Fisher chain with n_a = w_a n draws per generation and m_a = w_a m subsampled
    (theory/ngram.md#p3, the categorical P3 recursion per row). Exact."""
    rows: list[Prediction] = []
    t = np.asarray(gens)
    if t.size == 0:
        return rows
    n0 = float(n[0])
    m = float(size) if size else n0
    second = [np.atleast_2d(wf.subsample_second_moment(t, n0 * w, p0[a], size=m * w))
              for a, w in enumerate(np.asarray(weights, dtype=np.float64))]
    het = sum(pi[a] * (1.0 - second[a].sum(axis=1)) for a in range(len(second)))
    width = p0.shape[1]
    for i, g in enumerate(gens):
        _add(rows, "heterozygosity", g, "mean", het[i], "E[sum pi_a H_a]", "P3")
    for j, flat in enumerate(info.tracked_index):
        ctx, col = divmod(int(flat), width)
        p = float(p0[ctx, col])
        for i, g in enumerate(gens):
            _add(rows, "tracked_probs", g, "mean", p, f"E[P_t(a,b)] #{j}", "W1", index=(j,))
            _add(rows, "tracked_probs", g, "variance", second[ctx][i, col] - p * p,
                 f"Var[P_t(a,b)] #{j}", "P3", index=(j,))
    return rows


def _fixed_rows(family, config, n, syn, accumulate, gens, weights, pi, p0, info):
    rows: list[Prediction] = []
    t = np.asarray(gens)
    if t.size == 0:
        return rows
    kw = dict(weights=weights, n_synthetic=syn, accumulate=accumulate)
    het = th.expected_weighted_heterozygosity(t, n, pi, p0, **kw)
    lost = th.expected_lost_mass(t, n, pi, p0, **kw)
    support = th.expected_support(t, n, p0, **kw)
    for i, g in enumerate(gens):
        _add(rows, "heterozygosity", g, "mean", het[i], "E[sum pi_a H_a]", "W2")
        _add(rows, "lost_mass", g, "mean", lost[i], "E[lost mass]", "W5")
        _add(rows, "support", g, "mean", support[i], "E[support]", "W5")
    width = p0.shape[1]
    total = float(np.sum(n))
    for j, flat in enumerate(info.tracked_index):
        ctx, col = divmod(int(flat), width)
        p = float(p0[ctx, col])
        w = int(weights[ctx])
        n_row = n * w
        syn_row = None if syn is None else syn * w
        if accumulate:
            var = th.variance_of_transition_probability(t, n_row, p, accumulate=True)
            gone = th.transition_loss_probability_accumulate(t, n_row, p)[:, 0]
        else:
            var = th.variance_of_transition_probability(t, n_row, p, syn_row)
            gone = th.transition_loss_probability(t, n_row, p, syn_row)[:, 0]
        threshold = 0.5 / (w * total)
        for i, g in enumerate(gens):
            _add(rows, "tracked_probs", g, "mean", p, f"E[P_t(a,b)] #{j}", "W1", index=(j,))
            _add(rows, "tracked_probs", g, "variance", var[i], f"Var[P_t(a,b)] #{j}", "W3",
                 index=(j,))
            if min(gone[i], 1 - gone[i]) * config.num_chains >= 1:
                _add(rows, "tracked_probs", g, "probability", gone[i], f"P(P_t(a,b)=0) #{j}",
                     "W5", index=(j,), threshold=threshold)
    return rows


def _corpus_rows(family, num_sequences, gens, pi, p0, method):
    rows: list[Prediction] = []
    num_ngrams = num_sequences * (family.seq_len - family.order)
    # contexts carrying 99.9 % of the stationary mass decide the regime
    order_idx = np.argsort(-pi)
    keep = order_idx[: int(np.searchsorted(np.cumsum(pi[order_idx]), 0.999)) + 1]
    min_load = num_ngrams * pi[keep].min()
    values = th.expected_weighted_heterozygosity_corpus(np.asarray(gens), num_ngrams, pi, p0,
                                                        method=method)
    for i, g in enumerate(gens):
        if g / min_load <= CORPUS_MAX_LOAD:
            _add(rows, "heterozygosity", g, "mean", values[i], "E[sum pi_a H_a] (corpus)",
                 "C1", exact=False, rel_tol=CORPUS_REL_TOL)
    return rows

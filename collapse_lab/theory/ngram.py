r"""Closed forms for n-gram (Markov) language-model chains (float64 NumPy/SciPy only).

Setting: a source Markov chain of order k over a vocabulary of V tokens has transition rows
$P_0(a, \cdot)$, one per context $a$ (a tuple of k tokens, flattened to an index in
$[0, V^k)$). Generation t+1 refits every row by counts on data drawn from generation t.

* **Fixed context counts** (theory/ngram.md#design): context $a$ receives its own fixed number
  $n_{a,s}$ of next-token draws at generation s (``n_synthetic`` of them from the current row, the
  rest fresh from the source row). Each row is then an exact (haploid) Wright-Fisher chain
  (catalogue section 4) and every formula below tagged *exact* holds for every finite n.
* **Generated corpus** (theory/ngram.md#corpus): the data are sequences produced by running the
  current chain, so the context counts are random and drift with the model. Only approximations
  are known (catalogue section 5); they are tagged *approximate* with their measured error.

Per-row notation: $p = P_0(a, b)$, $H_{a,0} = 1 - \sum_b P_0(a,b)^2$ (heterozygosity, one minus
the collision probability), and the *variance ratio*

$$r_{a,t} = \mathrm{Var}[P_t(a,b)] / (p(1-p)),$$

which does not depend on $b$. Everything per row follows from $r$:
$E[P_t(a,b)] = p$, $\mathrm{Var}[P_t(a,b)] = p(1-p) r_{a,t}$, $E[H_{a,t}] = H_{a,0}(1-r_{a,t})$.

``n`` arguments are an int (the same size every generation) or a schedule ``[n_0, n_1, ...]``
(``n_s`` draws fit generation s+1); ``t`` is an int or an array of generations.

References:
    theory/wright_fisher.md and theory/ngram.md; Seddik et al. (2024),
    arXiv 2404.05090 (collision-probability recursion); Suresh, Thangaraj & Khandavally (2024),
    arXiv 2412.17646 (bigram experiments); Alemohammad et al. (2024), arXiv 2307.01850 (fresh
    data loop); Gerstgrasser et al. (2024), arXiv 2404.01413 (accumulate); Wright (1931) and
    Fisher (1930) for the Wright-Fisher chain.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._common import as_generations, generation, schedule, shape_out

__all__ = [
    "stationary_context_law",
    "row_heterozygosity",
    "variance_ratio",
    "variance_ratio_accumulate",
    "expected_row_heterozygosity",
    "variance_of_transition_probability",
    "count_distribution",
    "transition_loss_probability",
    "transition_loss_probability_accumulate",
    "expected_weighted_heterozygosity",
    "expected_lost_mass",
    "expected_support",
    "corpus_context_factor",
    "expected_weighted_heterozygosity_corpus",
]


# ------------------------------------------------------------------------------ the source
def stationary_context_law(transitions, vocab_size: int, order: int, tol: float = 1e-13,
                           max_iter: int = 100_000) -> np.ndarray:
    r"""Stationary law $\pi$ of the context chain of an order-k source (theory/ngram.md#stationary).

    The context chain moves from $(a_1, \dots, a_k)$ to $(a_2, \dots, a_k, b)$ with probability
    $P(a, b)$. $\pi$ is the limit of the *lazy* chain $(I + T)/2$ started from the uniform law over
    contexts: it has the same stationary laws as $T$, is aperiodic, and for a chain with a single
    closed class (unichain) the limit is the unique stationary law. Float64 power iteration until
    the L1 change is below ``tol``.

    Args:
        transitions: ``[V**k, V]`` nonnegative rows summing to 1 (context index
            $a_1 V^{k-1} + \dots + a_k$).
        vocab_size: V.
        order: k >= 1.

    Returns:
        ``[V**k]`` float64 probabilities.

    Raises:
        ValueError: if the iteration does not converge within ``max_iter`` steps.
    """
    p = np.asarray(transitions, dtype=np.float64)
    num_contexts = vocab_size**order
    if p.shape != (num_contexts, vocab_size):
        raise ValueError(
            f"transitions must have shape ({num_contexts}, {vocab_size}), got {p.shape}"
        )
    pi = np.full(num_contexts, 1.0 / num_contexts)
    suffixes = num_contexts // vocab_size
    for _ in range(max_iter):
        # mass arriving at context (suffix, b) = sum over the dropped oldest token.
        flow = (pi[:, None] * p).reshape(vocab_size, suffixes, vocab_size).sum(axis=0).ravel()
        new = 0.5 * pi + 0.5 * flow
        new /= new.sum()
        if np.abs(new - pi).sum() < tol:
            return new
        pi = new
    raise ValueError(
        f"stationary law of the source did not converge in {max_iter} lazy power iterations"
    )


def row_heterozygosity(transitions) -> np.ndarray:
    r"""$H_a = 1 - \sum_b P(a,b)^2$ for every row (theory/ngram.md#heterozygosity)."""
    p = np.asarray(transitions, dtype=np.float64)
    return 1.0 - np.sum(p * p, axis=-1)


# ------------------------------------------------------------------ fixed context counts: r_t
def _schedules(t, n, n_synthetic):
    ts, scalar = as_generations(t)
    t_max = int(ts.max()) if ts.size else 0
    ns = schedule(n, t_max)
    syn = ns.copy() if n_synthetic is None else schedule(n_synthetic, t_max)
    if np.any(ns < 1):
        raise ValueError(f"n must be >= 1, got {n!r}")
    if np.any(syn < 0) or np.any(syn > ns) or np.any(syn != np.round(syn)):
        raise ValueError(f"n_synthetic must be integers in [0, n], got {n_synthetic!r}")
    return ts, scalar, ns, syn


def variance_ratio(t, n, n_synthetic=None):
    r"""$r_t$ for fixed context counts, replace or fresh-data policy (exact; theory/ngram.md#r).

    Each generation draws $n_s$ next tokens per context, $m_s$ (``n_synthetic``) of them from the
    current row and $n_s - m_s$ fresh from the source row:

    $$r_{s+1} = \frac{1}{n_s} + r_s\,\frac{m_s(m_s-1)}{n_s^2}, \qquad r_0 = 0.$$

    Replace ($m = n$): $r_t = 1 - \prod_{s<t}(1 - 1/n_s)$ (catalogue W2/W3); fresh fraction
    $\alpha$ with $m = (1-\alpha) n$: catalogue X1. Exact for every finite n.
    """
    ts, scalar, ns, syn = _schedules(t, n, n_synthetic)
    r = np.zeros(ns.size + 1)
    for s in range(ns.size):
        r[s + 1] = 1.0 / ns[s] + r[s] * syn[s] * (syn[s] - 1) / ns[s] ** 2
    return shape_out(r[ts], scalar)


def variance_ratio_accumulate(t, n):
    r"""$r_t$ for fixed context counts under the accumulate policy (exact; theory/ngram.md#r-acc).

    Batch s has $m_s$ draws per context from model s; model t is fit on all $N_t = \sum_{s<t} m_s$
    pooled draws:

    $$r_{s+1} = r_s\Big(1 - \frac{m_s}{N_{s+1}^2}\Big) + \frac{m_s}{N_{s+1}^2}, \qquad r_0 = 0,$$

    so for constant m, $1 - r_t = \prod_{k=1}^{t}(1 - 1/(m k^2))$ (catalogue X5).
    """
    ts, scalar, ns, _ = _schedules(t, n, None)
    r = np.zeros(ns.size + 1)
    total = 0.0
    for s in range(ns.size):
        total += ns[s]
        w = ns[s] / total**2
        r[s + 1] = r[s] * (1 - w) + w
    return shape_out(r[ts], scalar)


def _ratio(t, n, n_synthetic, accumulate):
    if accumulate:
        if n_synthetic is not None:
            raise ValueError("the accumulate policy draws no fresh data: leave n_synthetic None")
        return variance_ratio_accumulate(t, n)
    return variance_ratio(t, n, n_synthetic)


def expected_row_heterozygosity(t, n, h0, n_synthetic=None, accumulate=False):
    r"""$E[H_{a,t}] = H_{a,0}(1 - r_{a,t})$ (exact; theory/ngram.md#w2).

    Replace: $H_{a,0}(1-1/n_a)^t$ (catalogue W2 per row, section 5).
    """
    r = np.asarray(_ratio(t, n, n_synthetic, accumulate))
    return h0 * (1.0 - r)


def variance_of_transition_probability(t, n, p0, n_synthetic=None, accumulate=False):
    r"""$\mathrm{Var}[P_t(a,b)] = p(1-p)\,r_{a,t}$ (exact; catalogue W3, theory/ngram.md#w3)."""
    r = np.asarray(_ratio(t, n, n_synthetic, accumulate))
    return p0 * (1.0 - p0) * r


# ------------------------------------------------------------ fixed context counts: losses
def _binom_matrix(trials: int, probs: np.ndarray) -> np.ndarray:
    """``[len(probs), trials + 1]`` binomial pmf rows."""
    k = np.arange(trials + 1)
    return stats.binom.pmf(k[None, :], trials, probs[:, None])


def count_distribution(t: int, n, p0, n_synthetic=None) -> np.ndarray:
    r"""Exact law of the count $C_t$ of one transition among the draws that fit generation t
    (fixed context counts, replace or fresh data; theory/ngram.md#w5).

    $C_1 \sim \mathrm{Bin}(n_0, p)$ (model 0 is the source) and
    $C_{s+1} = \mathrm{Bin}(m_s, C_s/n_{s-1}) + \mathrm{Bin}(n_s - m_s, p)$ (synthetic plus fresh
    draws), propagated with binomial transition matrices and a convolution.

    Args:
        t: a single generation >= 1.
        n: draws per context (int or schedule).
        p0: source probabilities ``[M]``.
        n_synthetic: synthetic draws per context (default: all of ``n``).

    Returns:
        ``[M, n_{t-1} + 1]`` float64 probabilities of $C_t = 0, 1, \dots$; $P_t = C_t/n_{t-1}$.
    """
    t = generation(t)
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}")
    return _propagate(t, n, p0, n_synthetic, record_zero=False)[0]


def _propagate(t_max, n, p0, n_synthetic, record_zero):
    _, _, ns, syn = _schedules(t_max, n, n_synthetic)
    p = np.atleast_1d(np.asarray(p0, dtype=np.float64))
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError("p0 must lie in [0, 1]")
    zero = [(p == 0).astype(np.float64)]  # P(C_s = 0), s = 0..t_max (s = 0: the source)
    dist = None
    for s in range(t_max):
        n_s, m_s = int(ns[s]), int(syn[s])
        if s == 0:
            dist = _binom_matrix(n_s, p)  # model 0 is the source itself
        else:
            prev = int(ns[s - 1])
            synth = dist @ _binom_matrix(m_s, np.arange(prev + 1) / prev)  # [M, m_s + 1]
            fresh = _binom_matrix(n_s - m_s, p)  # [M, n_s - m_s + 1]
            dist = np.zeros((p.size, n_s + 1))
            for j in range(n_s - m_s + 1):
                dist[:, j : j + m_s + 1] += synth * fresh[:, j : j + 1]
        if record_zero:
            zero.append(dist[:, 0].copy())
    return dist, np.stack(zero)


def transition_loss_probability(t, n, p0, n_synthetic=None):
    r"""$P(P_t(a,b) = 0)$: the transition is absent from generation t (exact; catalogue W5,
    theory/ngram.md#w5).

    $P(C_t = 0)$ from the exact count chain of :func:`count_distribution`. Replace ($m = n$): 0 is
    absorbing and this is P(lost by t).

    Args:
        t: generation(s) >= 0.
        n: draws per context (int or schedule).
        p0: source probabilities ``[M]`` (one per transition).
        n_synthetic: synthetic draws per context (default: all of ``n``).

    Returns:
        ``[len(t), M]`` (or ``[M]`` for a scalar t) float64 probabilities.
    """
    ts, scalar, _, _ = _schedules(t, n, n_synthetic)
    p = np.atleast_1d(np.asarray(p0, dtype=np.float64))
    if ts.size == 0:
        return np.zeros((0, p.size))
    _, zero = _propagate(int(ts.max()), n, p, n_synthetic, record_zero=True)
    out = zero[ts]
    return out[0] if scalar else out


def transition_loss_probability_accumulate(t, n, p0):
    r"""$P(P_t(a,b) = 0)$ under accumulate: $(1-p)^{n_0}$ for $t \ge 1$ (exact;
    theory/ngram.md#w5-acc).

    The pooled count never decreases, and a token with pooled count 0 has model probability 0, so
    it is absent at t >= 1 exactly when the first batch missed it.
    """
    ts, scalar, ns, _ = _schedules(t, n, None)
    p = np.atleast_1d(np.asarray(p0, dtype=np.float64))
    first = (1.0 - p) ** (ns[0] if ns.size else 1.0)
    out = np.where(ts[:, None] >= 1, first[None, :], (p == 0)[None, :].astype(np.float64))
    return out[0] if scalar else out


# --------------------------------------------------------------- source-weighted aggregates
def _row_groups(weights):
    """Rows grouped by their integer draw weight: {weight: row indices}."""
    w = np.asarray(weights, dtype=np.int64)
    return {int(v): np.flatnonzero(w == v) for v in np.unique(w)}


def _scaled(n, weight, t_max):
    if n is None:
        return None
    return schedule(n, t_max) * weight


def expected_weighted_heterozygosity(t, n, context_law, transitions, weights=None,
                                     n_synthetic=None, accumulate=False):
    r"""$E[\sum_a \pi_a H_{a,t}] = \sum_a \pi_a H_{a,0}(1 - r_{a,t})$ (exact; theory/ngram.md#w2).

    Context a draws $w_a n_s$ tokens at generation s (``weights`` $w_a$, default 1), of which
    $w_a m_s$ are synthetic.
    """
    ts, scalar = as_generations(t)
    t_max = int(ts.max()) if ts.size else 0
    pi = np.asarray(context_law, dtype=np.float64)
    h0 = row_heterozygosity(transitions)
    w = np.ones(pi.size, np.int64) if weights is None else np.asarray(weights)
    total = np.zeros(ts.size)
    for wv, rows in _row_groups(w).items():
        r = np.atleast_1d(_ratio(ts, _scaled(n, wv, t_max), _scaled(n_synthetic, wv, t_max),
                                 accumulate))
        total += np.sum(pi[rows] * h0[rows]) * (1.0 - r)
    return shape_out(total, scalar)


def _loss_by_row(ts, n, transitions, weights, n_synthetic, accumulate, t_max):
    """Per transition (a, b) with P_0 > 0: rows, probabilities, and P(absent at t) ``[T, M]``."""
    p = np.asarray(transitions, dtype=np.float64)
    w = np.ones(p.shape[0], np.int64) if weights is None else np.asarray(weights)
    rows_all, cols_all, loss_all = [], [], []
    for wv, rows in _row_groups(w).items():
        sub = p[rows]
        r_idx, c_idx = np.nonzero(sub > 0)
        probs = sub[r_idx, c_idx]
        if accumulate:
            loss = transition_loss_probability_accumulate(ts, _scaled(n, wv, t_max), probs)
        else:
            loss = transition_loss_probability(ts, _scaled(n, wv, t_max), probs,
                                               _scaled(n_synthetic, wv, t_max))
        rows_all.append(rows[r_idx])
        cols_all.append(c_idx)
        loss_all.append(np.atleast_2d(loss))
    return np.concatenate(rows_all), np.concatenate(cols_all), np.concatenate(loss_all, axis=1)


def expected_lost_mass(t, n, context_law, transitions, weights=None, n_synthetic=None,
                       accumulate=False):
    r"""$E[\sum_a \pi_a \sum_b P_0(a,b)\,1\{P_t(a,b)=0\}]$ (exact; catalogue W5 per row,
    theory/ngram.md#lost-mass)."""
    ts, scalar = as_generations(t)
    t_max = int(ts.max()) if ts.size else 0
    p = np.asarray(transitions, dtype=np.float64)
    pi = np.asarray(context_law, dtype=np.float64)
    rows, cols, loss = _loss_by_row(ts, n, p, weights, n_synthetic, accumulate, t_max)
    mass = pi[rows] * p[rows, cols]
    return shape_out(loss @ mass, scalar)


def expected_support(t, n, transitions, weights=None, n_synthetic=None, accumulate=False):
    r"""$E[\#\{(a,b): P_t(a,b) > 0\}] = \sum_{(a,b): P_0 > 0} (1 - P(\text{absent at } t))$
    (exact; catalogue W5, theory/ngram.md#support)."""
    ts, scalar = as_generations(t)
    t_max = int(ts.max()) if ts.size else 0
    _, _, loss = _loss_by_row(ts, n, transitions, weights, n_synthetic, accumulate, t_max)
    return shape_out(np.sum(1.0 - loss, axis=1), scalar)


# ----------------------------------------------------------------------- generated corpus
def corpus_context_factor(num_ngrams, context_law, method="iid"):
    r"""Per-generation heterozygosity factor $g_a$ of each context in a generated corpus
    (approximate; catalogue section 5, theory/ngram.md#corpus).

    ``method="naive"``: $g_a = 1 - 1/(N\pi_a)$, clipped at 0 (the catalogue's approximation: the
    context count is replaced by its mean $N\pi_a$).
    ``method="iid"``: $g_a = 1 - E[1/n_a;\ n_a \ge 1]$ with $n_a \sim \mathrm{Bin}(N, \pi_a)$: exact
    if contexts were drawn i.i.d. from $\pi$ and an unseen context kept its row; it accounts for
    rare contexts ($N\pi_a \lesssim 1$), where the naive factor is meaningless.

    Both ignore the Markov dependence of the corpus and the drift of the context frequencies
    themselves (rare contexts get rarer), hence approximate.
    """
    pi = np.asarray(context_law, dtype=np.float64)
    num = float(num_ngrams)
    if num < 1:
        raise ValueError(f"num_ngrams must be >= 1, got {num_ngrams!r}")
    if method == "naive":
        return np.clip(1.0 - 1.0 / np.maximum(num * pi, 1e-300), 0.0, 1.0)
    if method != "iid":
        raise ValueError(f"method must be 'iid' or 'naive', got {method!r}")
    out = np.empty(pi.size)
    n_int = int(round(num))
    for i, q in enumerate(pi):
        if q <= 0:
            out[i] = 1.0
            continue
        mean, sd = n_int * q, np.sqrt(n_int * q * (1 - q))
        lo = max(1, int(mean - 12 * sd - 5))
        hi = min(n_int, int(mean + 12 * sd + 5))
        k = np.arange(lo, hi + 1)
        out[i] = 1.0 - np.sum(stats.binom.pmf(k, n_int, q) / k)
    return out


def expected_weighted_heterozygosity_corpus(t, num_ngrams, context_law, transitions,
                                            method="iid"):
    r"""$E[\sum_a \pi_a H_{a,t}] \approx \sum_a \pi_a H_{a,0}\,g_a^t$ for a generated corpus of
    ``num_ngrams`` n-grams per generation (replace policy, unseen contexts keep their row;
    approximate, theory/ngram.md#corpus). ``num_ngrams`` is a constant N.
    """
    ts, scalar = as_generations(t)
    pi = np.asarray(context_law, dtype=np.float64)
    h0 = row_heterozygosity(transitions)
    g = corpus_context_factor(num_ngrams, pi, method)
    vals = np.array([np.sum(pi * h0 * g**tt) for tt in ts])
    return shape_out(vals, scalar)

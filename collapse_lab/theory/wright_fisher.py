r"""Closed forms for categorical (unigram) resampling = haploid Wright-Fisher (float64 only).

Setting: generation t is a probability vector $p_t$ over K categories; generation t+1 is fit by
counts on $n_t$ draws: $p_{t+1} = N/n_t$, $N \sim \mathrm{Multinomial}(n_t, p_t)$ (catalogue
section 4; population genetics: $n$ gene copies, categories = alleles). One category's count
$N_t = n_{t-1} p_t$ is then a Markov chain, $N_{t+1} \sim \mathrm{Bin}(n_t, N_t / n_{t-1})$,
$N_1 \sim \mathrm{Bin}(n_0, p_0)$: every "exact" statement below is about that chain or the
full multinomial chain, valid for every finite n. ``n`` accepts an int (fixed size) or a
schedule $[n_0, n_1, \dots]$; ``t`` an int or an array of generations; ``p0`` a probability
vector (or, for per-category functions, any array of probabilities).

Also here: smoothing (exact moment recursions), real-data mixing (catalogue section 8: X1-X5),
one-generation missing mass (W6), absorption times (W7, W8) with their diffusion
approximations, and the deterministic sampling-bias maps (catalogue section 7).

References:
    Ewens, W. J. (2004). Mathematical Population Genetics I, 2nd ed., Springer, ch. 1-3
    (Wright-Fisher model, heterozygosity, absorption, fundamental matrix);
    Kimura, M. and Ohta, T. (1969). The average number of generations until fixation of a
    mutant gene in a finite population. Genetics 61, 763-771;
    Littler, R. A. (1975). Loss of variability at one locus in a finite population.
    Mathematical Biosciences 25, 151-163;
    Good, I. J. (1953). The population frequencies of species and the estimation of population
    parameters. Biometrika 40, 237-264;
    Seddik et al. (2024), arXiv 2404.05090; Suresh, Thangaraj & Khandavally (2024),
    arXiv 2412.17646; Alemohammad et al. (2024), ICLR, arXiv 2307.01850; Gerstgrasser et al.
    (2024), arXiv 2404.01413; Holtzman et al. (2020), ICLR (top-p); Dohmatob et al. (2024),
    ICML, arXiv 2402.07043 (tail cutting).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from scipy import special, stats

from ._common import as_generations, cumulative, generation, schedule, shape_out

__all__ = [
    "expected_probability",
    "heterozygosity_factor",
    "expected_heterozygosity",
    "variance_of_probability",
    "fixation_probability",
    "raw_moments",
    "kurtosis_of_probability",
    "binomial_transition_matrix",
    "loss_probability",
    "fixation_probability_by",
    "expected_survivors",
    "expected_lost_mass",
    "probability_fixed",
    "expected_unseen",
    "expected_missing_mass",
    "expected_good_turing",
    "expected_distinct",
    "absorption_times",
    "mean_fixation_time",
    "kimura_ohta_times",
    "littler_time",
    "feller_survival",
    "expected_entropy_approx",
    "expected_kl_approx",
    "smoothed_moments",
    "expected_heterozygosity_smoothed",
    "fresh_variance_ratio",
    "mixture_variance_ratio",
    "fixed_real_variance_ratio",
    "stationary_fresh_ratio",
    "stationary_mixture_ratio",
    "stationary_fixed_real_ratio",
    "migration_variance_approx",
    "accumulate_factor",
    "accumulate_limit",
    "accumulate_loss_probability",
    "temperature_map",
    "top_k_map",
    "top_p_map",
    "min_p_map",
    "truncation_map",
    "bias_map",
    "iterate_bias",
    "top_p_support_sequence",
    "top_k_lost_mass",
    "tale_of_tails_error",
    "verification_threshold",
    "two_type_selection_law",
    "verified_two_type_law",
    "curated_two_type_law",
    "majority_wrong_probability",
    "MAX_CHAIN_SIZE",
]

MAX_CHAIN_SIZE = 4000  # largest n of the dense (n+1) x (n+1) count-chain transition matrix
MAX_COMPOSITION_STATES = 4000  # largest state space of the exact K-type composition chain


# ------------------------------------------------------------------------------------ helpers
def _probs(p0, name="p0", vector=False) -> np.ndarray:
    p = np.asarray(p0, dtype=np.float64)
    if vector and p.ndim != 1:
        raise ValueError(f"{name} must be a 1-D probability vector, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"{name} must hold probabilities in [0, 1], got {p0!r}")
    if vector and abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name} must sum to 1, got {p.sum()!r}")
    return p


def _sizes(t, n):
    ts, scalar = as_generations(t)
    ns = schedule(n, int(ts.max()) if ts.size else 0)
    if np.any(ns < 1) or np.any(ns != np.round(ns)):
        raise ValueError(f"n must hold integers >= 1, got {n!r}")
    return ts, scalar, ns


def _stack(values, scalar):
    out = np.asarray(values, dtype=np.float64)
    return out[0] if scalar else out


# ------------------------------------------------------------------------------------ W1-W4
def expected_probability(t, p0):
    r"""$E[p_{i,t}] = p_{i,0}$: every $p_{i,t}$ is a martingale (catalogue W1; exact).

    Holds for replace, accumulate and fresh-data policies without bias or smoothing.
    Returns ``p0`` broadcast to ``[len(t), ...]`` (or ``p0`` for scalar t).
    See theory/wright_fisher.md#w1.
    """
    ts, scalar = as_generations(t)
    p = _probs(p0)
    return p.copy() if scalar else np.broadcast_to(p, (ts.size,) + p.shape).copy()


def heterozygosity_factor(t, n):
    r"""$F_t = \prod_{s<t} (1 - 1/n_s)$, the decay factor of heterozygosity (W2; exact)."""
    ts, scalar, ns = _sizes(t, n)
    return shape_out(np.exp(cumulative(np.log1p(-1.0 / ns), ts)), scalar)


def expected_heterozygosity(t, n, p0):
    r"""$E[H_t] = H_0 \prod_{s<t}(1 - 1/n_s)$ with $H = 1 - \sum_i p_i^2$ (W2; exact).

    Replace policy, no bias or smoothing. Seddik et al. (2024) state the same recursion for
    the collision probability. See theory/wright_fisher.md#w2.
    """
    p = _probs(p0, vector=True)
    return (1.0 - np.sum(p * p)) * heterozygosity_factor(t, n)


def variance_of_probability(t, n, p0):
    r"""$\mathrm{Var}[p_{i,t}] = p_{i,0}(1-p_{i,0})(1 - \prod_{s<t}(1-1/n_s))$ (W3; exact).

    Elementwise over ``p0``; shape ``[len(t), *p0.shape]`` (or ``p0.shape`` for scalar t).
    See theory/wright_fisher.md#w3.
    """
    p = _probs(p0)
    f = np.atleast_1d(heterozygosity_factor(t, n))
    out = p * (1 - p) * (1 - f.reshape((-1,) + (1,) * p.ndim))
    return out[0] if np.ndim(t) == 0 else out


def fixation_probability(p0):
    r"""$P(\text{category } i \text{ eventually holds all mass}) = p_{i,0}$ (W4; exact).

    Optional stopping of the bounded martingale $p_{i,t}$, absorbed in {0, 1}.
    See theory/wright_fisher.md#w4.
    """
    return _probs(p0).copy()


def _moment_matrix(n: int, order: int) -> np.ndarray:
    """E[(N/n)^k | p] = sum_j S(k, j) n^(j) n^-k p^j as a matrix over k, j = 1..order."""
    stirling2 = np.zeros((order + 1, order + 1))
    stirling2[0, 0] = 1.0
    for kk in range(1, order + 1):
        for j in range(1, kk + 1):
            stirling2[kk, j] = j * stirling2[kk - 1, j] + stirling2[kk - 1, j - 1]
    falling = np.array([math.prod(n - i for i in range(j)) for j in range(order + 1)], float)
    matrix = np.zeros((order, order))
    for kk in range(1, order + 1):
        for j in range(1, kk + 1):
            matrix[kk - 1, j - 1] = stirling2[kk, j] * falling[j] / float(n) ** kk
    return matrix


def raw_moments(t, n, p0, order: int = 4):
    r"""$E[p_{i,t}^k]$, k = 1..order, of one category (replace policy; exact).

    Given $p_t$, $N \sim \mathrm{Bin}(n_t, p_t)$ has factorial moments $n^{\underline j} p_t^j$,
    so $E[(N/n)^k \mid p_t] = \sum_j S(k,j)\, n^{\underline j} n^{-k} p_t^j$ (S: Stirling numbers
    of the second kind) and the moment vector evolves by a triangular matrix. Used for the
    kurtosis that decides when a variance is testable (theory/wright_fisher.md#moments).

    Returns:
        ``[len(t), *p0.shape, order]`` (or without the first axis for scalar t).
    """
    ts, scalar, ns = _sizes(t, n)
    p = _probs(p0)
    mom = np.stack([p**k for k in range(1, order + 1)], axis=-1)
    out = [mom]
    for s in range(int(ts.max()) if ts.size else 0):
        mom = mom @ _moment_matrix(int(ns[s]), order).T
        out.append(mom)
    out = np.asarray(out)[ts]
    return out[0] if scalar else out


def kurtosis_of_probability(t, n, p0):
    r"""$E[(p_{i,t}-p_{i,0})^4]/\mathrm{Var}[p_{i,t}]^2$ from :func:`raw_moments` (exact; NaN
    where the variance is 0)."""
    m = raw_moments(t, n, p0, 4)
    p = _probs(p0)
    m2, m3, m4 = (m[..., i] for i in range(1, 4))
    var = m2 - p * p
    central4 = m4 - 4 * p * m3 + 6 * p * p * m2 - 3 * p**4
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, central4 / np.where(var > 0, var, 1.0) ** 2, np.nan)


# ------------------------------------------------------------------------------------ W5
@functools.lru_cache(maxsize=16)
def _transition(n_from: int, n_to: int) -> np.ndarray:
    j = np.arange(n_from + 1)[:, None] / n_from
    k = np.arange(n_to + 1)[None, :]
    matrix = stats.binom.pmf(k, n_to, j)
    matrix.setflags(write=False)
    return matrix


def binomial_transition_matrix(n_from: int, n_to: int | None = None) -> np.ndarray:
    r"""$P_{jk} = \mathrm{Bin}(k;\, n_{to},\, j / n_{from})$, the one-category count chain (W5).

    Cached (read-only); ``n_to`` defaults to ``n_from``. Limited to ``MAX_CHAIN_SIZE``.
    """
    n_to = n_from if n_to is None else n_to
    for name, v in (("n_from", n_from), ("n_to", n_to)):
        if int(v) != v or v < 1 or v > MAX_CHAIN_SIZE:
            raise ValueError(f"{name} must be an integer in [1, {MAX_CHAIN_SIZE}], got {v!r}")
    return _transition(int(n_from), int(n_to))


@functools.lru_cache(maxsize=4)
def _first_step_pmf(n0: int, probs: bytes) -> np.ndarray:
    """``Bin(j; n0, p_i)`` for j = 0..n0, per category (float64 ``probs`` as bytes, the cache
    key): loss and fixation rows of the same source share it (8 MB at K = n0 = 1,000)."""
    p = np.frombuffer(probs, dtype=np.float64)
    out = stats.binom.pmf(np.arange(n0 + 1)[None, :], n0, p[:, None])
    out.setflags(write=False)
    return out


def _terminal_probabilities(t, n, p0, terminal):
    """P(N_t = 0) (terminal="zero") or P(N_t = n_{t-1}) ("full") per category, exact.

    Backward recursion: with $u_T = e_{terminal}$ and $u_s = P_s u_{s+1}$ (vectors over the
    count at generation s), $P(\\text{terminal at } T) = \\sum_j \\mathrm{Bin}(j; n_0, p_0)
    u_1(j)$. For a fixed n the vectors $u$ depend only on the number of steps left, so all
    generations share one sweep of matrix-vector products.
    """
    ts, scalar, ns = _sizes(t, n)
    p = _probs(p0)
    flat = p.ravel()
    if ts.size == 0:
        return np.zeros((0,) + p.shape)
    t_max = int(ts.max())
    if t_max >= 1 and np.max(ns[:t_max]) > MAX_CHAIN_SIZE:
        raise ValueError(
            f"the exact count chain needs n <= {MAX_CHAIN_SIZE} (dense transition matrix), "
            f"got max n = {int(np.max(ns[:t_max]))}"
        )
    out = np.empty((ts.size, flat.size))
    first = {}

    def first_step(n0):
        if n0 not in first:
            first[n0] = _first_step_pmf(n0, flat.tobytes())
        return first[n0]

    def end_vector(size):
        e = np.zeros(size + 1)
        e[0 if terminal == "zero" else size] = 1.0
        return e

    fixed_n = t_max >= 1 and np.all(ns[:t_max] == ns[0])
    if fixed_n:
        n0 = int(ns[0])
        matrix = _transition(n0, n0)
        u = end_vector(n0)  # steps left = 0 (generation T itself)
        vectors = [u]
        for _ in range(t_max - 1):
            u = matrix @ u
            vectors.append(u)
        pmf = first_step(n0)
        for row, tt in enumerate(ts):
            if tt == 0:
                out[row] = (flat == 0) if terminal == "zero" else (flat == 1)
            else:
                out[row] = pmf @ vectors[tt - 1]
    else:
        for row, tt in enumerate(ts):
            if tt == 0:
                out[row] = (flat == 0) if terminal == "zero" else (flat == 1)
                continue
            u = end_vector(int(ns[tt - 1]))
            for s in range(tt - 1, 0, -1):  # u over N_s, s = tt-1 .. 1
                u = _transition(int(ns[s - 1]), int(ns[s])) @ u
            out[row] = first_step(int(ns[0])) @ u
    out = np.clip(out, 0.0, 1.0).reshape((ts.size,) + p.shape)
    return out[0] if scalar else out


def loss_probability(t, n, p0):
    r"""$P(p_{i,t} = 0)$ for a category starting at probability $p_{i,0}$ (W5; exact).

    From the binomial count chain: $P(N_t = 0) = (e_{N_1\text{-law}} P^{t-1})_0$; computed by
    a backward sweep of matrix-vector products with the cached $(n+1)\times(n+1)$ matrix
    (about 0.1 s for n = 1000, t = 200). Elementwise over ``p0``. Once lost, a category never
    returns (replace policy, no smoothing, no fresh data). See theory/wright_fisher.md#w5.
    """
    return _terminal_probabilities(t, n, p0, "zero")


def fixation_probability_by(t, n, p0):
    r"""$P(p_{i,t} = 1)$: category i holds all the mass at generation t (W5 chain; exact)."""
    return _terminal_probabilities(t, n, p0, "full")


def expected_survivors(t, n, p0):
    r"""$E[\#\{i: p_{i,t} > 0\}] = \sum_i (1 - P_i(\text{lost by } t))$ (W5; exact)."""
    p = _probs(p0, vector=True)
    return np.sum(1.0 - loss_probability(t, n, p), axis=-1)


def expected_lost_mass(t, n, p0):
    r"""$E[\sum_i p_{i,0} 1\{p_{i,t} = 0\}] = \sum_i p_{i,0} P_i(\text{lost by } t)$ (W5; exact)."""
    p = _probs(p0, vector=True)
    return loss_probability(t, n, p) @ p


def probability_fixed(t, n, p0):
    r"""$P(\text{one category holds all mass at } t) = \sum_i P(p_{i,t} = 1)$ (W5; exact).

    The events are disjoint, so the probabilities add. Equals E of the ``fixed`` observable.
    """
    p = _probs(p0, vector=True)
    return np.sum(fixation_probability_by(t, n, p), axis=-1)


# ------------------------------------------------------------------------------------ W6
def _one_generation(p, n):
    p = _probs(p, name="p")
    if int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return p, int(n)


def expected_unseen(p, n):
    r"""$E[\#\text{unseen}] = \sum_i (1-p_i)^n$ after one draw of n (W6; exact)."""
    p, n = _one_generation(p, n)
    return float(np.sum((1 - p) ** n))


def expected_missing_mass(p, n):
    r"""$E[\text{missing mass}] = \sum_i p_i (1-p_i)^n$ (W6; exact) = E[lost mass at t = 1]."""
    p, n = _one_generation(p, n)
    return float(np.sum(p * (1 - p) ** n))


def expected_good_turing(p, n):
    r"""$E[N_1/n] = \sum_i p_i(1-p_i)^{n-1}$, the Good-Turing estimate (W6; exact).

    Its bias as an estimate of the missing mass is $\sum_i p_i^2 (1-p_i)^{n-1} \ge 0$.
    """
    p, n = _one_generation(p, n)
    return float(np.sum(p * (1 - p) ** (n - 1)))


def expected_distinct(p, n):
    r"""$E[\#\text{distinct}] = \sum_i (1 - (1-p_i)^n)$ (W6; exact) = E[support at t = 1]."""
    p, n = _one_generation(p, n)
    return float(np.sum(1 - (1 - p) ** n))


# ------------------------------------------------------------------------------------ W7, W8
def absorption_times(n: int):
    r"""Mean absorption times of the two-type count chain from every count j = 0..n (W7; exact).

    Fundamental matrix $M = (I - Q)^{-1}$ of the transient states 1..n-1:
    $\bar T(j) = (M\mathbf 1)_j$; conditional on fixation (h(j) = j/n, Doob h-transform)
    $T_{fix}(j) = (M h)_j / h(j)$; conditional on loss (h = 1 - j/n) likewise.

    Returns:
        ``(mean, given_fixation, given_loss)``, arrays of length n + 1 (0 at absorbing states;
        NaN where the conditioning event is impossible).
    """
    matrix = binomial_transition_matrix(n)
    q = matrix[1:n, 1:n]
    fundamental = np.linalg.inv(np.eye(n - 1) - q)
    j = np.arange(1, n) / n
    mean = np.zeros(n + 1)
    fix = np.full(n + 1, np.nan)
    loss = np.full(n + 1, np.nan)
    mean[1:n] = fundamental.sum(axis=1)
    fix[1:n] = fundamental @ j / j
    loss[1:n] = fundamental @ (1 - j) / (1 - j)
    fix[n] = 0.0
    loss[0] = 0.0
    return mean, fix, loss


def _compositions(total, parts):
    for cut in itertools.combinations(range(total + parts - 1), parts - 1):
        bounds = (-1,) + cut + (total + parts - 1,)
        yield tuple(bounds[i + 1] - bounds[i] - 1 for i in range(parts))


def mean_fixation_time(p0, n: int, max_states: int = MAX_COMPOSITION_STATES) -> float:
    r"""E[first generation with a single category left], starting from the source $p_0$ (W7, W8).

    Exact: generation 1 is $\mathrm{Multinomial}(n, p_0)$; afterwards the composition chain of
    the $K'$ categories in the source's support is absorbed when one part equals n;
    $E[T] = 1 + \sum_c P(N_1 = c)\,\bar T(c)$ with $\bar T = (I-Q)^{-1}\mathbf 1$. Two types use
    the count chain. Fixed n, replace policy. The state space has $\binom{n+K'-1}{K'-1}$ states
    (at most ``max_states``). See theory/wright_fisher.md#w8.
    """
    p = _probs(p0, vector=True)
    p = p[p > 0]
    k = p.size
    if int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    n = int(n)
    if k <= 1:
        return 0.0
    if k == 2:
        mean, _, _ = absorption_times(n)
        first = stats.binom.pmf(np.arange(n + 1), n, p[0])
        return float(1.0 + first @ mean)
    size = math.comb(n + k - 1, k - 1)
    if size > max_states:
        raise ValueError(
            f"the composition chain has {size} states (> max_states={max_states}); use "
            "littler_time for the diffusion approximation"
        )
    states = np.array(list(_compositions(n, k)), dtype=np.float64)
    transient = np.sum(states > 0, axis=1) >= 2
    log_coef = special.gammaln(n + 1) - special.gammaln(states + 1).sum(axis=1)

    def multinomial_pmf(probs_rows):
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = np.where(
                probs_rows > 0, np.log(np.where(probs_rows > 0, probs_rows, 1)), -np.inf
            )
            terms = np.where(states[None, :, :] > 0, states[None, :, :] * logp[:, None, :], 0.0)
        return np.exp(log_coef[None, :] + terms.sum(axis=2))

    trans_states = states[transient]
    q = multinomial_pmf(trans_states / n)[:, transient]
    tau = np.linalg.solve(np.eye(q.shape[0]) - q, np.ones(q.shape[0]))
    first = multinomial_pmf(p[None, :])[0, transient]
    return float(1.0 + first @ tau)


def kimura_ohta_times(p, n):
    r"""Diffusion (Kimura-Ohta 1969, haploid scaling 2n) mean absorption times of two types.

    $\bar T(p) = -2n[p\ln p + (1-p)\ln(1-p)]$,
    $T_{fix} = -2n(1-p)\ln(1-p)/p$, $T_{loss} = -2np\ln p/(1-p)$.
    **Approximate**: 2-8 % too large at n = 50, 1.5-6 % at n = 100 (catalogue W7a); the exact
    values come from :func:`absorption_times`. See theory/wright_fisher.md#w7a.

    Returns:
        ``(mean, given_fixation, given_loss)``.
    """
    p = _probs(p, name="p")
    with np.errstate(divide="ignore", invalid="ignore"):
        xlogx = special.xlogy(p, p)
        ylogy = special.xlogy(1 - p, 1 - p)
        mean = -2 * n * (xlogx + ylogy)
        fix = -2 * n * ylogy / p
        loss = -2 * n * xlogx / (1 - p)
    return mean, fix, loss


def littler_time(p0, n):
    r"""Littler (1975) diffusion time until one category is left: $-2n\sum_i(1-p_i)\ln(1-p_i)$.

    **Approximate** (catalogue W8: +3.8 % at K = 3, n = 30); exact value:
    :func:`mean_fixation_time`. For K = 2 it equals Kimura-Ohta's $\bar T$.
    """
    p = _probs(p0, vector=True)
    return float(-2 * n * np.sum(special.xlogy(1 - p, 1 - p)))


def feller_survival(count, t):
    r"""$P(\text{a category with initial count } j \text{ survives } t \text{ generations})
    \approx 1 - e^{-2j/t}$ (Feller branching limit, $1 \ll t \ll n$; W9).

    **Approximate**: E[#surviving] 1.2 % off at t = 100, 10 % at t = 10, 33 % at t = 1.
    """
    t = np.asarray(t, dtype=np.float64)
    if np.any(t <= 0):
        raise ValueError(f"t must be > 0, got {t!r}")
    return 1 - np.exp(-2 * np.asarray(count, dtype=np.float64) / t)


# ------------------------------------------------------------------------------------ W10
def expected_entropy_approx(t, n, p0):
    r"""$E[H(p_t)] \approx H(p_0) - (K-1) f_t / 2$, $f_t = 1 - \prod_{s<t}(1-1/n_s)$ (W10).

    **Approximate** (Miller-Madow; all $n p_i \gg 1$, no losses): < 0.3 % at t <= 10,
    K = 10, n = 1000. K counts the source's support.
    """
    p = _probs(p0, vector=True)
    k = np.sum(p > 0)
    h0 = -np.sum(special.xlogy(p, p))
    return h0 - (k - 1) * (1 - heterozygosity_factor(t, n)) / 2


def expected_kl_approx(t, n, p0):
    r"""$E[\mathrm{KL}(p_t \| p_0)] \approx (K-1) f_t / 2$ (W10; **approximate**, 1.4 % at t = 50,
    K = 10, n = 1000)."""
    p = _probs(p0, vector=True)
    k = np.sum(p > 0)
    return (k - 1) * (1 - heterozygosity_factor(t, n)) / 2


# ------------------------------------------------------------------------------------ smoothing
def smoothed_moments(t, n, p0, smoothing):
    r"""Exact $E[p_{i,t}]$ and $\mathrm{Var}[p_{i,t}]$ with additive smoothing s (replace policy).

    $p_{t+1} = (N + s)/(n_t + Ks)$, $N \sim \mathrm{Multinomial}(n_t, p_t)$, so with
    $m_t = E p_{i,t}$, $V_t = \mathrm{Var}\,p_{i,t}$:
    $m_{t+1} = (n_t m_t + s)/(n_t + Ks)$,
    $V_{t+1} = [n_t(m_t(1-m_t) - V_t) + n_t^2 V_t]/(n_t + Ks)^2$ (law of total variance; exact).
    See theory/wright_fisher.md#smoothing.

    Returns:
        ``(mean, variance)`` shaped ``[len(t), K]`` (or ``[K]`` for scalar t).
    """
    ts, scalar, ns = _sizes(t, n)
    p = _probs(p0, vector=True)
    s = float(smoothing)
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"smoothing must be finite and >= 0, got {smoothing!r}")
    k = p.size
    m, v = p.copy(), np.zeros_like(p)
    means, variances = [m.copy()], [v.copy()]
    for step in range(int(ts.max()) if ts.size else 0):
        nn = ns[step]
        denom = nn + k * s
        m, v = (nn * m + s) / denom, (nn * (m * (1 - m) - v) + nn * nn * v) / denom**2
        means.append(m.copy())
        variances.append(v.copy())
    means, variances = np.asarray(means)[ts], np.asarray(variances)[ts]
    return (means[0], variances[0]) if scalar else (means, variances)


def expected_heterozygosity_smoothed(t, n, p0, smoothing):
    r"""$E[H_t] = 1 - \sum_i (m_{i,t}^2 + V_{i,t})$ with :func:`smoothed_moments` (exact)."""
    m, v = smoothed_moments(t, n, p0, smoothing)
    return 1.0 - np.sum(m * m + v, axis=-1)


# ------------------------------------------------------------------------------------ mixing
def fresh_variance_ratio(t, n_synthetic, n_fresh):
    r"""$r_t = \mathrm{Var}[p_{i,t}]/(\pi_i(1-\pi_i))$ with a fixed split per generation (X1).

    Generation t+1 is fit on $a_t = $ ``n_synthetic[t]`` draws from $p_t$ plus $b_t = $
    ``n_fresh[t]`` from the source ($n_t = a_t + b_t$):
    $r_{t+1} = 1/n_t + r_t\,(a_t^2 - a_t)/n_t^2$, $r_0 = 0$; for $a = (1-\alpha)n$ this is
    $r_t[(1-\alpha)^2 - (1-\alpha)/n] + 1/n$. Then $E[H_t] = H_0(1 - r_t)$ and $E p_t = \pi$.
    **Exact.** ``n_synthetic`` / ``n_fresh``: ints or schedules. See theory/wright_fisher.md#x1.
    """
    ts, scalar = as_generations(t)
    t_max = int(ts.max()) if ts.size else 0
    a = schedule(n_synthetic, t_max)
    b = schedule(n_fresh, t_max)
    total = a + b
    if np.any(total < 1) or np.any(a < 0) or np.any(b < 0):
        raise ValueError("n_synthetic and n_fresh must be >= 0 with a positive total")
    r = [0.0]
    for s in range(t_max):
        r.append(1.0 / total[s] + r[-1] * (a[s] * a[s] - a[s]) / total[s] ** 2)
    return shape_out(np.asarray(r)[ts], scalar)


def _alpha(alpha):
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    return float(alpha)


def mixture_variance_ratio(t, n, alpha):
    r"""Mixture sampling, n draws from $\alpha\pi + (1-\alpha)p_t$ (X2; exact):
    $r_{t+1} = (1-\alpha)^2(1-1/n)\,r_t + 1/n$."""
    ts, scalar, ns = _sizes(t, n)
    a = _alpha(alpha)
    r = [0.0]
    for s in range(int(ts.max()) if ts.size else 0):
        r.append((1 - a) ** 2 * (1 - 1 / ns[s]) * r[-1] + 1 / ns[s])
    return shape_out(np.asarray(r)[ts], scalar)


def fixed_real_variance_ratio(t, n, alpha):
    r"""Fixed real set of $\alpha n$ points reused every generation, model 0 = their MLE (X3):
    $r_{t+1} = r_t[(1-\alpha)^2 - (1-\alpha)/n] + (1-\alpha)/n$, spread around the real set's
    own frequency (exact)."""
    ts, scalar, ns = _sizes(t, n)
    a = _alpha(alpha)
    r = [0.0]
    for s in range(int(ts.max()) if ts.size else 0):
        r.append(r[-1] * ((1 - a) ** 2 - (1 - a) / ns[s]) + (1 - a) / ns[s])
    return shape_out(np.asarray(r)[ts], scalar)


def stationary_fresh_ratio(n, alpha):
    r"""$r^* = 1/(n(1-(1-\alpha)^2) + 1 - \alpha)$ (X1; exact stationary value)."""
    a = _alpha(alpha)
    return 1.0 / (n * (1 - (1 - a) ** 2) + 1 - a)


def stationary_mixture_ratio(n, alpha):
    r"""$r^* = 1/(n - (1-\alpha)^2(n-1))$ (X2; exact)."""
    a = _alpha(alpha)
    return 1.0 / (n - (1 - a) ** 2 * (n - 1))


def stationary_fixed_real_ratio(n, alpha):
    r"""$r^* = (1-\alpha)/(n(1-(1-\alpha)^2) + 1 - \alpha)$ (X3; exact)."""
    a = _alpha(alpha)
    return (1 - a) / (n * (1 - (1 - a) ** 2) + 1 - a)


def migration_variance_approx(n, alpha, pi):
    r"""Stationary Beta law of WF with migration $m = \alpha$: Var = $\pi(1-\pi)/(2n\alpha + 1)$
    (X4; **approximate**: 2.5 % off at alpha = 0.05, n = 100; 34 % at alpha = 0.5)."""
    a = _alpha(alpha)
    pi = _probs(pi, name="pi")
    return pi * (1 - pi) / (2 * n * a + 1)


def accumulate_factor(t, n):
    r"""$F_t = E[p_t(1-p_t)]/(\pi(1-\pi)) = \prod_{s<t}(1 - n_s/N_{s+1}^2)$, $N_{s+1} =
    \sum_{r \le s} n_r$ (X5; exact).

    Accumulate policy: generation t is fit on all $N_t$ points drawn so far. Fixed n:
    $\prod_{k=1}^t (1 - 1/(nk^2))$. $E[H_t] = H_0 F_t$, $\mathrm{Var}\,p_{i,t} =
    \pi_i(1-\pi_i)(1 - F_t)$. See theory/wright_fisher.md#x5.
    """
    ts, scalar, ns = _sizes(t, n)
    pooled = np.cumsum(ns)
    return shape_out(np.exp(cumulative(np.log1p(-ns / pooled**2), ts)), scalar)


def accumulate_limit(n):
    r"""$\lim_{t\to\infty}$ of :func:`accumulate_factor` at fixed n: $\sin(\pi/\sqrt n)/(\pi/\sqrt n)$."""
    x = np.pi / np.sqrt(float(n))
    return float(np.sin(x) / x)


def accumulate_loss_probability(p0, n0):
    r"""Accumulate policy: a category is lost for good iff the first batch missed it:
    $P(p_{i,t} = 0) = (1-p_{i,0})^{n_0}$ for every t >= 1 (exact)."""
    p = _probs(p0)
    return (1 - p) ** int(n0)


# ------------------------------------------------------------------------------------ maps
def _normalise(w):
    total = w.sum(axis=-1, keepdims=True)
    return w / total


def _logits(p):
    with np.errstate(divide="ignore"):
        return np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), -np.inf)


def _softmax(logits):
    top = np.max(logits, axis=-1, keepdims=True)
    e = np.where(np.isfinite(logits), np.exp(logits - top), 0.0)
    return _normalise(e)


def _rank(p):
    """Ranks by decreasing probability, ties by lower index first (as collapse_lab.sampling)."""
    order = np.lexsort((np.arange(p.size), -p))
    ranks = np.empty(p.size, dtype=np.int64)
    ranks[order] = np.arange(p.size)
    return order, ranks


def temperature_map(p, tau, t=1):
    r"""$p \mapsto p^{1/\tau}/\sum p^{1/\tau}$ applied t times: $p_t \propto p_0^{\tau^{-t}}$
    (catalogue section 7; exact in the infinite-sample limit). Zipf(a) stays Zipf($a\tau^{-t}$)."""
    p = _probs(p, name="p", vector=True)
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")
    return _softmax(_logits(p) * float(tau) ** (-generation(t)))


def top_k_map(p, k):
    r"""Keep the k most probable categories (ties: lower index first) and renormalise.

    Idempotent; lost mass after one step $\sum_{i>k} p_{(i)}$ (catalogue section 7; exact)."""
    p = _probs(p, name="p", vector=True)
    if int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    _, ranks = _rank(p)
    return _normalise(np.where(ranks < k, p, 0.0))


def top_p_map(p, top_p):
    r"""Nucleus: keep a category when the mass ranked strictly before it is below ``top_p``."""
    p = _probs(p, name="p", vector=True)
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must lie in (0, 1], got {top_p!r}")
    if top_p >= 1:
        return p.copy()
    order, ranks = _rank(p)
    before = np.concatenate([[0.0], np.cumsum(p[order])[:-1]])
    keep_sorted = before < top_p
    keep_sorted[0] = True
    return _normalise(np.where(keep_sorted[ranks], p, 0.0))


def min_p_map(p, p_min):
    r"""Keep categories with probability at least ``p_min`` times the largest."""
    p = _probs(p, name="p", vector=True)
    if not 0 < p_min <= 1:
        raise ValueError(f"p_min must lie in (0, 1], got {p_min!r}")
    return _normalise(np.where(p >= p.max() * p_min, p, 0.0))


def truncation_map(p, epsilon):
    r"""Epsilon sampling: drop categories below ``epsilon`` (the most probable one is kept)."""
    p = _probs(p, name="p", vector=True)
    if not 0 < epsilon < 1:
        raise ValueError(f"epsilon must lie in (0, 1), got {epsilon!r}")
    return _normalise(np.where((p >= epsilon) | (p >= p.max()), p, 0.0))


def bias_map(p, temperature=1.0, top_k=None, top_p=None, min_p=None, epsilon=None):
    """One application of the sampling-bias maps in collapse_lab's order (temperature, top-k,
    top-p, min-p, epsilon), on a probability vector; exact (deterministic)."""
    q = _probs(p, name="p", vector=True)
    if temperature != 1.0:
        q = temperature_map(q, temperature, 1)
    if top_k is not None:
        q = top_k_map(q, top_k)
    if top_p is not None:
        q = top_p_map(q, top_p)
    if min_p is not None:
        q = min_p_map(q, min_p)
    if epsilon is not None:
        q = truncation_map(q, epsilon)
    return q


def iterate_bias(p, t, **bias):
    r"""The deterministic iterates $p, b(p), b(b(p)), \dots$ up to t (``[t+1, K]``): the
    infinite-sample limit of a biased chain (catalogue section 7). With finite n the
    Wright-Fisher noise of section 4 is added on top (no closed form)."""
    out = [_probs(p, name="p", vector=True)]
    for _ in range(generation(t)):
        out.append(bias_map(out[-1], **bias))
    return np.asarray(out)


def top_p_support_sequence(p, top_p, t_max):
    r"""Support sizes $k_t$ of iterated top-p: $k_{t+1} = \min\{k : C(k)/C(k_t) \ge p\}$ with C the
    cumulative sorted mass of $p_0$ (catalogue section 7; exact). Zipf(1), K = 1000, p = 0.9:
    473, 241, 132, 77, 47, 30, 20, 14, 10, 8, 6, 5, 4, 4, ..."""
    seq = iterate_bias(p, t_max, top_p=top_p)
    return np.sum(seq > 0, axis=1)


def top_k_lost_mass(p, k):
    r"""$\sum_{i>k} p_{(i)}$: mass removed by one top-k step (exact)."""
    p = _probs(p, name="p", vector=True)
    if int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return float(np.sum(np.where(_rank(p)[1] < int(k), 0.0, p)))


def tale_of_tails_error(p, num_samples, k=None):
    r"""Tale of Tails (Dohmatob et al. 2024) memorisation error $E_T = \sum_i p_i(1-q_i)^T$:
    the probability that a test token was never seen among T training draws from q, with
    $q = p$ or, with ``k``, the renormalised top-k of p (plateau $\sum_{i>k} p_i$; exact)."""
    p = _probs(p, name="p", vector=True)
    q = p if k is None else top_k_map(p, k)
    return float(np.sum(p * (1 - q) ** int(num_samples)))


# ------------------------------------------------------------------------ policies (issue 13)
# Second moments E[p_{i,t}^2] of the model under the issue-13 policies. Every recursion is affine
# in (mean, second moments), so applying it to a vector of (lumped) source probabilities gives
# each entry's E[p^2]; summing over all categories gives E[sum_i p_i^2] = 1 - E[H_t]. The mean is
# a martingale in every case: E[p_{i,t}] = pi_i. No sampling bias, no smoothing.
def subsample_second_moment(t, n, p0, size=None):
    r"""$E[p_{i,t}^2]$ under AccumulateSubsample (theory/wright_fisher.md#p3): the pool keeps every
    batch (counts $C$, total $N$), generation t+1 is fit on ``size`` = m tokens (default $n_t$)
    drawn without replacement from the pool (multivariate hypergeometric). With $S$ the pool's
    $E[Q_i^2]$ ($Q = C/N$) and $s$ the model's $E[p_i^2]$:
    $S' = [N^2 S + 2nN S + n\pi_i + n(n-1)s]/N'^2$ (the cross term $E[Q_i p_i] = S$ because the
    subsample is unbiased for the pool), $s' = S' + \frac{N'-m}{m(N'-1)}(\pi_i - S')$. **Exact.**
    """
    ts, scalar, ns = _sizes(t, n)
    p = np.atleast_1d(_probs(p0))
    t_max = int(ts.max()) if ts.size else 0
    out = [p * p]
    big_s = np.zeros_like(p)
    s = p * p
    pool = 0.0
    for k in range(t_max):
        nk = float(ns[k])
        m = nk if size is None else float(size)
        new = pool + nk
        big_s = (pool**2 * big_s + 2 * nk * pool * big_s + nk * p + nk * (nk - 1) * s) / new**2
        s = big_s + ((new - m) / (m * (new - 1)) if new > 1 else 0.0) * (p - big_s)
        out.append(s)
        pool = new
    return _rows(out, ts, scalar)


def window_second_moment(t, n, p0, w):
    r"""$E[p_{i,t}^2]$ under Window(w) (theory/wright_fisher.md#p4): generation t+1 is fit on the
    batches drawn from generations $t-w+1..t$. With $G_{sr} = E[b_{s,i} b_{r,i}]$ for batch
    frequencies $b$: $G_{ss} = s_s + (\pi_i - s_s)/n_s$, $G_{sr} = \sum_{q\in W(s-1)} n_q G_{qr}/N$
    ($s > r$), $s_{t+1} = \sum_{q,q'} n_q n_{q'} G_{qq'}/N^2$. **Exact**; Window(1) = Replace."""
    ts, scalar, ns = _sizes(t, n)
    p = np.atleast_1d(_probs(p0))
    w = int(w)
    t_max = int(ts.max()) if ts.size else 0
    s = [p * p]
    g = {}

    def gg(a, b):
        return g[(a, b)] if a >= b else g[(b, a)]

    for k in range(t_max):
        prev = range(max(0, k - w), k)
        for r in range(max(0, k - w + 1), k):
            g[(k, r)] = sum(ns[q] * gg(q, r) for q in prev) / sum(ns[q] for q in prev)
        g[(k, k)] = s[k] + (p - s[k]) / ns[k]
        window = range(max(0, k - w + 1), k + 1)
        total = sum(float(ns[q]) for q in window)
        s.append(sum(ns[a] * ns[b] * gg(a, b) for a in window for b in window) / total**2)
    return _rows(s, ts, scalar)


def fixed_real_second_moment(t, n, p0, n_real):
    r"""$E[p_{i,t}^2]$ under FixedReal (theory/wright_fisher.md#p5): a real set of $r$ tokens
    (frequencies $\rho \sim \mathrm{Mult}(r, \pi)/r$, drawn once at generation 1) joins
    $a_t = n_t - r$ model draws in every training set; model 0 is the source itself (unlike X3,
    which starts from the real set's MLE). $E\rho_i^2 = \pi_i^2 + \pi_i(1-\pi_i)/r$,
    $s_{t+1} = [r^2E\rho^2 + 2ra\,c_t + a^2(s_t + (\pi_i - s_t)/a)]/n^2$,
    $c_{t+1} = E[\rho_i p_{i,t+1}] = (rE\rho^2 + a c_t)/n$, $s_0 = c_0 = \pi_i^2$. **Exact.**"""
    ts, scalar, ns = _sizes(t, n)
    p = np.atleast_1d(_probs(p0))
    r = float(n_real)
    t_max = int(ts.max()) if ts.size else 0
    rho2 = p * p + (p - p * p) / r if r > 0 else p * p
    s, c = p * p, p * p
    out = [s]
    for k in range(t_max):
        nk = float(ns[k])
        a = nk - r
        syn2 = s + (p - s) / a if a > 0 else s
        s, c = (r * r * rho2 + 2 * r * a * c + a * a * syn2) / nk**2, (r * rho2 + a * c) / nk
        out.append(s)
    return _rows(out, ts, scalar)


def verified_map(p, accept, t=1):
    r"""The verifier's reweighting $p \mapsto a \odot p / (a \cdot p)$ applied t times:
    $p_t \propto a^t p$ (theory/wright_fisher.md#p6). One step is the **exact** law of the kept
    tokens' frequencies' mean ($E p_1 = a\odot p_0/(a\cdot p_0)$); iterated, it is the
    deterministic (large-n) path, **approximate**."""
    p = np.atleast_1d(_probs(p))
    a = np.asarray(accept, dtype=np.float64)
    if a.shape != p.shape or np.any(a < 0) or np.any(a > 1):
        raise ValueError(f"accept must hold {p.size} probabilities in [0, 1]")
    w = p * a ** int(t)
    total = w.sum()
    if total <= 0:
        raise ValueError("the verifier rejects every category of the support")
    return w / total


def best_of_k_map(p, reward, k, t=1):
    r"""Best-of-k curation map applied t times (theory/wright_fisher.md#p7):
    $c_i(p) = \frac{p_i}{p_{G(i)}}\big(F_\le(r_i)^k - F_<(r_i)^k\big)$, $F_\le(r) =
    \sum_{r_j \le r} p_j$, ties uniform. One step is the **exact** law of a kept token;
    iterated it is the deterministic (large-n) path, **approximate**. It concentrates on the
    reward's maximisers (Ferbach et al. 2024): the mass off them, $\varepsilon$, maps to
    exactly $\varepsilon^k$ per step of the map."""
    q = np.atleast_1d(_probs(p)).astype(np.float64)
    r = np.asarray(reward, dtype=np.float64)
    if r.shape != q.shape or not np.all(np.isfinite(r)):
        raise ValueError(f"reward must hold {q.size} finite numbers")
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    le_mask = (r[None, :] <= r[:, None]).astype(np.float64)
    lt_mask = (r[None, :] < r[:, None]).astype(np.float64)
    for _ in range(int(t)):
        le, lt = le_mask @ q, lt_mask @ q
        group = le - lt
        q = np.where(group > 0, q / np.where(group > 0, group, 1.0) * (le**k - lt**k), 0.0)
        q = q / q.sum()
    return q


def _rows(values, ts, scalar):
    out = np.stack(values)[ts]
    return out[0] if scalar else out



# ------------------------------------------------------------------ F1: two types, selection
def verification_threshold(keep_correct, keep_wrong) -> float:
    r"""The one-shot verification threshold $p^* = 1/(1 + \psi/\phi)$ (theory/wright_fisher.md#f1).

    With $\phi$ = P(verifier keeps a correct answer) and $\psi$ = P(it keeps a wrong one), a
    generator that answers wrongly with probability $p$ yields kept data whose wrong share is
    $p\psi / (p\psi + (1-p)\phi)$: below one half iff $p < p^*$. Training on infinitely many
    kept answers therefore recovers the correct (majority) answer iff $p < p^*$, the sharp
    transition that Feng et al. (2024) call the verifier's breakdown point. In
    ``Verified.noisy(correct, phi, psi)``'s terms (false accept, false reject) this is
    ``verification_threshold(1 - psi, phi)``. **Exact** (a statement about the kept law).
    """
    kc, kw = float(keep_correct), float(keep_wrong)
    for name, v in (("keep_correct", kc), ("keep_wrong", kw)):
        if not math.isfinite(v) or not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {v!r}")
    if kc + kw <= 0:
        raise ValueError("keep_correct and keep_wrong cannot both be 0")
    return kc / (kc + kw)


def two_type_selection_law(t, n: int, p0: float, select) -> np.ndarray:
    r"""Exact law of a two-category chain with selection: ``[len(t), n + 1]`` probabilities of
    the count $N_t$ of category 0 (theory/wright_fisher.md#f1).

    Generation t+1 is fit on n tokens drawn i.i.d. from $g(p_t)$, $p_t = N_t/n$, where
    ``select`` is the one-step map $g: [0, 1] \to [0, 1]$ of category 0's kept share
    (vectorised over an array of p). So $N_{t+1} \sim \mathrm{Bin}(n, g(N_t/n))$: a Markov chain
    on $\{0..n\}$, propagated exactly with its $(n+1)^2$ transition matrix ($n \le$
    ``MAX_CHAIN_SIZE``). $N_1 \sim \mathrm{Bin}(n, g(p_0))$. **Exact** for every t and n.
    """
    ts, scalar = as_generations(t)
    if int(n) != n or n < 1 or n > MAX_CHAIN_SIZE:
        raise ValueError(f"n must be an integer in [1, {MAX_CHAIN_SIZE}], got {n!r}")
    n = int(n)
    p0 = float(p0)
    if not 0.0 <= p0 <= 1.0:
        raise ValueError(f"p0 must be a probability in [0, 1], got {p0!r}")
    matrix = None  # built only when a generation after the first is asked for
    q0 = float(np.clip(np.asarray(select(np.asarray([p0])), dtype=np.float64)[0], 0.0, 1.0))
    out, current, step = [], stats.binom.pmf(np.arange(n + 1), n, q0), 1
    for target in sorted(set(int(v) for v in ts)):
        if target == 0:
            raise ValueError("t must be >= 1 (generation 0 is the source)")
        while step < target:
            if matrix is None:
                g = np.clip(np.asarray(select(np.arange(n + 1) / n), dtype=np.float64), 0.0, 1.0)
                matrix = stats.binom.pmf(np.arange(n + 1)[None, :], n, g[:, None])
            current = current @ matrix
            step += 1
        out.append((target, current.copy()))
    table = dict(out)
    res = np.stack([table[int(v)] for v in ts])
    return res[0] if scalar else res


def _two_type_verifier(keep0, keep1):
    for name, v in (("keep0", keep0), ("keep1", keep1)):
        if not math.isfinite(float(v)) or not 0.0 <= float(v) <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {v!r}")
    if float(keep0) + float(keep1) <= 0:
        raise ValueError("the verifier must keep at least one category")

    def g(p):
        w0, w1 = keep0 * p, keep1 * (1.0 - p)
        total = w0 + w1
        return np.where(total > 0, w0 / np.where(total > 0, total, 1.0), p)

    return g


def verified_two_type_law(t, n: int, p0: float, keep0: float, keep1: float) -> np.ndarray:
    r"""``two_type_selection_law`` for ``Verified(accept=(keep0, keep1))``: category 0's kept
    share is $g(p) = a_0 p / (a_0 p + a_1 (1 - p))$. **Exact**."""
    return two_type_selection_law(t, n, p0, _two_type_verifier(float(keep0), float(keep1)))


def curated_two_type_law(t, n: int, p0: float, reward, k: int) -> np.ndarray:
    r"""``two_type_selection_law`` for ``Curated(reward, k)`` on two categories: with
    $r_0 > r_1$ the best of k draws is category 0 unless all k are category 1,
    $g(p) = 1 - (1 - p)^k$ (and $g(p) = p^k$ if $r_0 < r_1$; $g(p) = p$ on a tie). **Exact**."""
    r = np.asarray(reward, dtype=np.float64)
    if r.shape != (2,) or not np.all(np.isfinite(r)):
        raise ValueError(f"reward must hold 2 finite numbers, got {reward!r}")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    k = int(k)
    if r[0] > r[1]:
        return two_type_selection_law(t, n, p0, lambda p: 1.0 - (1.0 - p) ** k)
    if r[0] < r[1]:
        return two_type_selection_law(t, n, p0, lambda p: p**k)
    return two_type_selection_law(t, n, p0, lambda p: p)


def majority_wrong_probability(t, n: int, p_wrong: float, keep_correct: float,
                               keep_wrong: float):
    r"""P(the correct answer holds less than half of generation t's model), exact
    (theory/wright_fisher.md#f1): two categories (correct, wrong), source error rate
    ``p_wrong``, a verifier keeping correct answers with probability ``keep_correct`` and wrong
    ones with ``keep_wrong``, n kept tokens per generation (``Verified``, replace). At t = 1
    this is $P(\mathrm{Bin}(n, q) < n/2)$ with $q = (1-p)\phi/((1-p)\phi + p\psi)$: it tends to
    0 for $p < p^*$ and to 1 for $p > p^*$ as n grows (:func:`verification_threshold`)."""
    law = np.atleast_2d(verified_two_type_law(t, n, 1.0 - float(p_wrong), keep_correct,
                                              keep_wrong))
    counts = np.arange(int(n) + 1)
    out = law[:, counts < int(n) / 2].sum(axis=1)
    return out[0] if np.ndim(t) == 0 else out

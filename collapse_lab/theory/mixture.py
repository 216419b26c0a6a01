r"""Closed forms for Gaussian-mixture resampling chains (float64 NumPy/SciPy; no simulator imports).

Setting (theory/mixture.md#setting): generation t is a mixture $\sum_k w_{k,t} N(\mu_{k,t},
\Sigma_{k,t})$. Generation t+1 is fit on $n_t$ samples of generation t, each component on the
samples it generated (*oracle assignments*, or EM on components so far apart that EM recovers the
labels): $w_{k,t+1} = N_{k,t}/n_t$ and $(\mu_{k,t+1}, \Sigma_{k,t+1})$ are the Gaussian fit
(sum of squares divided by $N - c$; c = 0 MLE, c = 1 unbiased) on the $N_{k,t}$ points of
component k. Then exactly

* the counts form a Wright-Fisher chain: $N_{k,0} \sim \mathrm{Bin}(n_0, w_{k,0})$,
  $N_{k,s} \mid N_{k,s-1} \sim \mathrm{Bin}(n_s, N_{k,s-1}/n_{s-1})$ (theory/mixture.md#m1);
* given the counts, each component is a Gaussian chain with sample sizes $N_{k,s}$, and the
  variance factors are independent of the count chain (theory/mixture.md#m4).

Every "E over the counts" below is computed exactly by a forward recursion over the
$(n+1)$-state count chain (theory/mixture.md#dp). Generation-t quantities depend on
$N_{k,0..t-1}$; ``n`` is an int (fixed size) or a schedule ``[n_0, n_1, ...]``; ``t`` is an int
or an array of generations.

References:
    Shumailov et al. (2024), Nature 631:755, "AI models collapse when trained on recursively
    generated data" (Gaussian-mixture experiment); Ewens (2004), Mathematical Population Genetics
    I, ch. 3 (Wright-Fisher model: martingale, heterozygosity decay, absorption).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import special, stats

from ._common import as_generations, estimator_offset, generation, schedule, shape_out

__all__ = [
    "count_transition",
    "count_distribution",
    "expected_weight",
    "variance_of_weight",
    "expected_heterozygosity",
    "loss_probability",
    "fixation_probability_by",
    "expected_num_alive",
    "probability_one_left",
    "expected_alive_variance",
    "nondegenerate_probability",
    "expected_alive_log_det",
    "expected_alive_variance_squared",
    "expected_alive_sigma",
    "rule_of_thumb_variance",
    "rule_of_thumb_sigma",
    "rule_of_thumb_log_det",
]


# ------------------------------------------------------------------------------- validation
def _check_weight(w):
    w = float(w)
    if not np.isfinite(w) or not 0.0 <= w <= 1.0:
        raise ValueError(f"w must lie in [0, 1], got {w!r}")
    return w


def _check_weights(weights):
    arr = np.asarray(weights, dtype=np.float64).ravel()
    if arr.size < 1 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"weights must be finite and >= 0, got {weights!r}")
    if abs(arr.sum() - 1.0) > 1e-9:
        raise ValueError(f"weights must sum to 1, got sum {arr.sum()!r}")
    return arr


def _check_dim(dim):
    if isinstance(dim, bool) or int(dim) != dim or dim < 1:
        raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
    return int(dim)


def _sizes(t, n):
    ts, scalar = as_generations(t)
    t_max = int(ts.max()) if ts.size else 0
    ns = schedule(n, t_max)
    if np.any(ns < 1) or np.any(ns != np.round(ns)):
        raise ValueError(f"n must be integers >= 1, got {n!r}")
    return ts, scalar, ns.astype(np.int64)


# --------------------------------------------------------------------------- the count chain
@functools.lru_cache(maxsize=32)
def _transition(n_from: int, n_to: int) -> np.ndarray:
    j = np.arange(n_from + 1, dtype=np.float64)[:, None]
    m = np.arange(n_to + 1, dtype=np.float64)[None, :]
    mat = stats.binom.pmf(m, n_to, j / n_from)
    mat.setflags(write=False)
    return mat


def count_transition(n_from: int, n_to: int) -> np.ndarray:
    r"""$P[j, m] = \binom{n_{to}}{m}(j/n_{from})^m(1-j/n_{from})^{n_{to}-m}$: one Wright-Fisher
    step from $j$ of $n_{from}$ points to $m$ of $n_{to}$ (theory/mixture.md#m1, exact)."""
    n_from, n_to = int(n_from), int(n_to)
    if n_from < 1 or n_to < 1:
        raise ValueError(f"n_from and n_to must be >= 1, got {n_from}, {n_to}")
    return np.array(_transition(n_from, n_to))


def _forward(ts, ns, w, factor=None):
    r"""For each t in ``ts`` (t >= 1), the vector $a_{t-1}$ with
    $a_{t-1}[j] = E[\prod_{s<t} f(N_s)\,1\{N_{t-1}=j\}]$ (f = 1 when ``factor`` is None).

    Recursion (theory/mixture.md#dp): $a_0 = \mathrm{pmf}(\mathrm{Bin}(n_0, w)) \circ f$,
    $a_s = (a_{s-1} P_s) \circ f$ with $P_s$ the step from $n_{s-1}$ to $n_s$ points.
    """
    out = {}
    if not ts.size or ts.max() < 1:
        return out
    t_max = int(ts.max())
    wanted = set(int(v) for v in ts)
    v = stats.binom.pmf(np.arange(ns[0] + 1), ns[0], w)
    for s in range(t_max):
        if s > 0:
            v = v @ _transition(int(ns[s - 1]), int(ns[s]))
        if factor is not None:
            v = v * factor(np.arange(ns[s] + 1, dtype=np.float64))
        if s + 1 in wanted:
            out[s + 1] = v.copy()
    return out


def count_distribution(t, n, w) -> np.ndarray:
    r"""Law of the count $N_{k,t-1}$ behind generation t's weight $w_{k,t} = N_{k,t-1}/n_{t-1}$,
    as a pmf over $0..n_{t-1}$ (exact; theory/mixture.md#m1). ``t`` is a single generation >= 1."""
    t = generation(t)
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}")
    ts, _, ns = _sizes(t, n)
    return _forward(ts, ns, _check_weight(w))[t]


def _indexed(ts, values_at_t, at_zero, scalar):
    out = np.array([at_zero if t == 0 else values_at_t[int(t)] for t in ts], dtype=np.float64)
    return shape_out(out, scalar)


# ---------------------------------------------------------------------------- weights (M1-M3)
def expected_weight(t, w):
    r"""$E[w_{k,t}] = w_{k,0}$: the weights are a martingale (theory/mixture.md#m2, exact).

    Replace policy, oracle assignments, any sample-size schedule.
    """
    ts, scalar = as_generations(t)
    return shape_out(np.full(ts.shape, _check_weight(w)), scalar)


def _heterozygosity_factor(ts, ns):
    log_keep = np.concatenate([[0.0], np.cumsum(np.log1p(-1.0 / ns))])
    return np.exp(log_keep[ts])


def variance_of_weight(t, n, w):
    r"""$\mathrm{Var}[w_{k,t}] = w(1-w)\,(1 - \prod_{s<t}(1 - 1/n_s))$
    (theory/mixture.md#m2, exact; catalogue W3).

    Follows from $E[w_{t+1}(1-w_{t+1}) \mid w_t] = w_t(1-w_t)(1-1/n_t)$.
    """
    w = _check_weight(w)
    ts, scalar, ns = _sizes(t, n)
    return shape_out(w * (1 - w) * (1 - _heterozygosity_factor(ts, ns)), scalar)


def expected_heterozygosity(t, n, weights):
    r"""$E[1 - \sum_k w_{k,t}^2] = (1 - \sum_k w_{k,0}^2)\prod_{s<t}(1 - 1/n_s)$
    (theory/mixture.md#m2, exact; catalogue W2).
    """
    arr = _check_weights(weights)
    ts, scalar, ns = _sizes(t, n)
    return shape_out((1 - np.sum(arr**2)) * _heterozygosity_factor(ts, ns), scalar)


def loss_probability(t, n, w):
    r"""$P(\text{component lost by } t) = P(N_{k,t-1} = 0)$, zero being absorbing
    (theory/mixture.md#m3, exact; catalogue W5). At t = 0 it is $1\{w = 0\}$."""
    w = _check_weight(w)
    ts, scalar, ns = _sizes(t, n)
    dist = _forward(ts, ns, w)
    return _indexed(ts, {t: v[0] for t, v in dist.items()}, float(w == 0), scalar)


def fixation_probability_by(t, n, w):
    r"""$P(\text{component k holds all the mass at } t) = P(N_{k,t-1} = n_{t-1})$
    (theory/mixture.md#m3, exact). Tends to $w_{k,0}$ as $t \to \infty$ (catalogue W4)."""
    w = _check_weight(w)
    ts, scalar, ns = _sizes(t, n)
    dist = _forward(ts, ns, w)
    return _indexed(ts, {t: v[-1] for t, v in dist.items()}, float(w == 1), scalar)


def expected_num_alive(t, n, weights):
    r"""$E[\#\text{live components at } t] = \sum_k (1 - P_k(\text{lost by } t))$
    (theory/mixture.md#m3, exact)."""
    arr = _check_weights(weights)
    total = sum(1 - np.asarray(loss_probability(t, n, w)) for w in arr)
    return float(total) if np.ndim(t) == 0 else np.asarray(total, dtype=np.float64)


def probability_one_left(t, n, weights):
    r"""$P(\text{exactly one live component at } t) = \sum_k P(N_{k,t-1} = n_{t-1})$
    (the events are disjoint; theory/mixture.md#m3, exact)."""
    arr = _check_weights(weights)
    total = sum(np.asarray(fixation_probability_by(t, n, w)) for w in arr)
    return float(total) if np.ndim(t) == 0 else np.asarray(total, dtype=np.float64)


# ------------------------------------------------------------------- per-component variance (M4)
def _variance_factor(c):
    def g(counts):
        ok = counts >= 2
        return np.where(ok, (counts - 1) / np.where(ok, counts - c, 1.0), 0.0)

    return g


def _variance_square_factor(c):
    def g2(counts):
        ok = counts >= 2
        safe = np.where(ok, counts - c, 1.0)
        return np.where(ok, (counts - 1) * (counts + 1) / safe**2, 0.0)

    return g2


def _sigma_factor(c):
    def h(counts):
        ok = counts >= 2
        safe = np.where(ok, counts, 2.0)
        log_h = (
            0.5 * np.log(2.0)
            + special.gammaln(safe / 2)
            - special.gammaln((safe - 1) / 2)
            - 0.5 * np.log(safe - c)
        )
        return np.where(ok, np.exp(log_h), 0.0)

    return h


def _alive_moment(t, n, w, estimator, scale, factor_maker):
    w = _check_weight(w)
    c = estimator_offset(estimator)
    ts, scalar, ns = _sizes(t, n)
    dist = _forward(ts, ns, w, factor_maker(c))
    return _indexed(
        ts, {t: scale * v.sum() for t, v in dist.items()}, scale * float(w > 0), scalar
    )


def expected_alive_variance(t, n, w, estimator="mle", sigma2_0=1.0):
    r"""$E[\sigma^2_{k,t}\,1\{\text{alive}\}] = \sigma^2_{k,0}\,E[\prod_{s<t} g(N_{k,s})]$,
    $g(N) = (N-1)/(N-c)$ for $N \ge 2$, $g(0) = g(1) = 0$ (theory/mixture.md#m4, exact).

    In d dimensions it is the expected trace of $\Sigma_{k,t}$ times the indicator, with
    ``sigma2_0`` $= \mathrm{tr}\,\Sigma_{k,0}$. A component fit on one point is a point mass
    (variance 0); a component with no point is dead. Catalogue section 3 (checked there for
    n = 50, w = 0.2, t = 1..40).
    """
    return _alive_moment(t, n, w, estimator, float(sigma2_0), _variance_factor)


def nondegenerate_probability(t, n, w, dim=1):
    r"""$P(N_{k,s} > d \text{ for every } s < t)$: component k is alive at t and every fit had
    more than d points, so its covariance is positive definite (d = 1: a positive variance;
    theory/mixture.md#m6, exact)."""
    w = _check_weight(w)
    dim = _check_dim(dim)
    ts, scalar, ns = _sizes(t, n)
    dist = _forward(ts, ns, w, lambda counts: (counts > dim).astype(np.float64))
    return _indexed(ts, {t: v.sum() for t, v in dist.items()}, float(w > 0), scalar)


def expected_alive_log_det(t, n, w, dim=1, estimator="mle", log_det_0=0.0):
    r"""$E[\log\det\Sigma_{k,t}\;1\{A_t\}]$ with $A_t = \{N_{k,s} > d\ \forall s<t\}$ (alive with a
    positive-definite covariance): $\log\det\Sigma_{k,0}\,P(A_t) + E[\sum_{s<t} m(N_{k,s})\,1\{A_t\}]$,
    $m(N) = \sum_{i=1}^d [\psi((N-i)/2) + \log 2] - d\log(N-c)$ (theory/mixture.md#m6, exact).

    Computed by a two-vector forward recursion (mass and accumulated drift on $A$). In 1-D it is
    $E[\log\sigma^2_{k,t} 1\{A_t\}]$. Light-tailed (a sum of log-chi-square terms), so testable at
    every generation, unlike $E[\sigma^2]$ (catalogue T1). Divide by
    :func:`nondegenerate_probability` for the mean on $A_t$.
    """
    w = _check_weight(w)
    dim = _check_dim(dim)
    c = estimator_offset(estimator)
    ts, scalar, ns = _sizes(t, n)
    values = {}
    if ts.size and ts.max() >= 1:
        wanted = set(int(v) for v in ts)

        def drift(counts):
            ok = counts > dim
            safe = np.where(ok, counts, dim + 1.0)
            i = np.arange(1, dim + 1, dtype=np.float64)[:, None]
            m = np.sum(special.digamma((safe[None] - i) / 2) + np.log(2.0), axis=0)
            return np.where(ok, m - dim * np.log(safe - c), 0.0)

        mass = stats.binom.pmf(np.arange(ns[0] + 1), ns[0], w)
        acc = np.zeros_like(mass)
        for s in range(int(ts.max())):
            if s > 0:
                step = _transition(int(ns[s - 1]), int(ns[s]))
                mass, acc = mass @ step, acc @ step
            counts = np.arange(ns[s] + 1, dtype=np.float64)
            keep = (counts > dim).astype(np.float64)
            acc = (acc + mass * drift(counts)) * keep
            mass = mass * keep
            if s + 1 in wanted:
                values[s + 1] = float(log_det_0) * mass.sum() + acc.sum()
    return _indexed(ts, values, float(log_det_0) * float(w > 0), scalar)


def expected_alive_variance_squared(t, n, w, estimator="mle", sigma2_0=1.0):
    r"""$E[\sigma^4_{k,t}\,1\{\text{alive}\}] = \sigma^4_{k,0}\,E[\prod_{s<t} g_2(N_{k,s})]$,
    $g_2(N) = (N-1)(N+1)/(N-c)^2$ (theory/mixture.md#m4, exact in 1-D).

    In d dimensions (with ``sigma2_0`` $= \mathrm{tr}\,\Sigma_{k,0}$) it is an *upper bound* on
    $E[(\mathrm{tr}\,\Sigma_{k,t})^2 1\{\text{alive}\}]$, because
    $E[(\mathrm{tr}\,A W)^2] = (N-1)^2(\mathrm{tr}A)^2 + 2(N-1)\mathrm{tr}(A^2)$ for
    $W \sim \mathrm{Wishart}(N-1, I)$ and $\mathrm{tr}(A^2) \le (\mathrm{tr} A)^2$.
    Used to decide where a mean of $\sigma^2$ is testable by simulation (catalogue T1).
    """
    return _alive_moment(t, n, w, estimator, float(sigma2_0) ** 2, _variance_square_factor)


def expected_alive_sigma(t, n, w, estimator="mle", sigma2_0=1.0):
    r"""$E[\sigma_{k,t}\,1\{\text{alive}\}] = \sigma_{k,0}\,E[\prod_{s<t} h(N_{k,s})]$,
    $h(N) = \sqrt{2/(N-c)}\,\Gamma(N/2)/\Gamma((N-1)/2)$ for $N \ge 2$, 0 otherwise
    (theory/mixture.md#m5, exact; 1-D only).
    """
    return _alive_moment(t, n, w, estimator, float(np.sqrt(sigma2_0)), _sigma_factor)


# ------------------------------------------------------------------- the rule of thumb (approx)
def _rule_of_thumb_sizes(t, n, w, estimator):
    """(generations, scalar flag, expected component sizes m_s = n_s w, estimator offset)."""
    w = _check_weight(w)
    c = estimator_offset(estimator)
    ts, scalar, ns = _sizes(t, n)
    m = ns * w
    if np.any(m <= max(c, 1)):
        raise ValueError(f"rule of thumb needs n * w > 1, got n * w = {m.min()!r}")
    return ts, scalar, m, c


def rule_of_thumb_variance(t, n, w, estimator="mle", sigma2_0=1.0):
    r"""APPROXIMATE: $E[\sigma^2_{k,t}] \approx \sigma^2_{k,0}\prod_{s<t}(n_s w - 1)/(n_s w - c)$,
    i.e. component k treated as a single Gaussian fit on $n w_k$ points
    (theory/mixture.md#rt).

    It ignores $E[1/N] > 1/E[N]$, weight drift and component loss. Catalogue section 3 measured
    15-25 % error at t = 5-10 for $n w_k = 10$ and 130 % at t = 40; it is the negative control
    of the exact law :func:`expected_alive_variance`. Requires $n_s w > 1$.
    """
    ts, scalar, m, c = _rule_of_thumb_sizes(t, n, w, estimator)
    log_step = np.log(m - 1) - np.log(m - c)
    csum = np.concatenate([[0.0], np.cumsum(log_step)])
    return shape_out(float(sigma2_0) * np.exp(csum[ts]), scalar)


def rule_of_thumb_sigma(t, n, w, estimator="mle", sigma2_0=1.0):
    r"""APPROXIMATE: $E[\sigma_{k,t}] \approx \sigma_{k,0}\prod_{s<t}\sqrt{2/(m_s-c)}\,
    \Gamma(m_s/2)/\Gamma((m_s-1)/2)$ with $m_s = n_s w$ (the Gaussian law at sample size
    $n w_k$; theory/mixture.md#rt)."""
    ts, scalar, m, c = _rule_of_thumb_sizes(t, n, w, estimator)
    log_step = (
        0.5 * np.log(2.0) + special.gammaln(m / 2) - special.gammaln((m - 1) / 2)
        - 0.5 * np.log(m - c)
    )
    csum = np.concatenate([[0.0], np.cumsum(log_step)])
    return shape_out(float(np.sqrt(sigma2_0)) * np.exp(csum[ts]), scalar)


def rule_of_thumb_log_det(t, n, w, dim=1, estimator="mle", log_det_0=0.0):
    r"""APPROXIMATE: $E[\log\det\Sigma_{k,t}] \approx \log\det\Sigma_{k,0} + \sum_{s<t} m(n_s w)$
    with $m$ of :func:`expected_alive_log_det` at the non-integer size $n_s w$ (the Gaussian M2
    law at sample size $n w_k$; theory/mixture.md#rt). Requires $n_s w > d$."""
    w = _check_weight(w)
    dim = _check_dim(dim)
    c = estimator_offset(estimator)
    ts, scalar, ns = _sizes(t, n)
    m = ns * w
    if np.any(m <= dim):
        raise ValueError(f"rule of thumb needs n * w > dim, got n * w = {m.min()!r}")
    i = np.arange(1, dim + 1, dtype=np.float64)[:, None]
    step = np.sum(special.digamma((m[None] - i) / 2) + np.log(2.0), axis=0) - dim * np.log(m - c)
    csum = np.concatenate([[0.0], np.cumsum(step)])
    return shape_out(float(log_det_0) + csum[ts], scalar)

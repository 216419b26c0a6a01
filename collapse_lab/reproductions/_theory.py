"""Closed forms used only by the reproductions (float64 NumPy/SciPy; no simulator import).

Derivations: theory/reproductions.md.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..theory import wright_fisher as wf


def mean_total_collapse_time(p0, n: int) -> float:
    r"""E[first generation with one category left] for K categories, any source (exact).

    Total collapse happens when some category holds all n draws; these events are disjoint, so
    $P(T > t) = 1 - \sum_i P(N_{i,t} = n)$, and since category i fixes with probability $p_i$
    (martingale), $P(T > t) = \sum_i P(\text{i fixes}, \tau_i > t)$ with $\tau_i$ the absorption
    time of category i's own two-type count chain $N_{i,t+1} \sim \mathrm{Bin}(n, N_{i,t}/n)$.
    Summing over t:

    $E[T] = \sum_i E[\tau_i 1\{\text{i fixes}\}] = 1 + \sum_i \sum_y
    \mathrm{Bin}(y; n, p_i)\, w(y)$, $\quad w = (I - Q)^{-1} h$, $h(y) = y/n$,

    Q the transient block (counts 1..n-1) of the binomial transition matrix. This replaces the
    $\binom{n+K-1}{K-1}$-state composition chain by one (n-1)-state linear solve, so it is
    exact for any K (K = 10 uniform: n up to a few thousand here). Fixed n, replace policy,
    MLE (counts) refit. See theory/reproductions.md#total-collapse.
    """
    p = np.asarray(p0, dtype=np.float64).ravel()
    if p.size < 1 or np.any(p < 0) or not np.isclose(p.sum(), 1.0, atol=1e-9):
        raise ValueError("p0 must be a probability vector")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    n = int(n)
    p = p[p > 0]
    if p.size <= 1:
        return 0.0
    if n == 1:
        return 1.0
    matrix = wf.binomial_transition_matrix(n)
    q = matrix[1:n, 1:n]
    h = np.arange(1, n) / n
    w = np.linalg.solve(np.eye(n - 1) - q, h)
    first = stats.binom.pmf(np.arange(1, n)[None, :], n, p[:, None])  # [K', n-1]
    return float(1.0 + np.sum(first @ w))


def shumailov_variance_of_x(j, m, sigma2=1.0) -> np.ndarray:
    r"""Var(X_j) of a draw from generation j of a 1-D Gaussian chain refit with the unbiased
    variance on M samples: $\sigma^2(1 + j/M)$ (exact; E[sigma_j^2] = sigma^2 is a martingale and
    Var(mu_j) = sum_{i<j} E[sigma_i^2]/M). Shumailov et al. (2024), Supplementary Information."""
    j = np.asarray(j, dtype=np.float64)
    return sigma2 * (1.0 + j / m)


def suresh_gaussian_bound(k, n, eps, sigma0=1.0) -> np.ndarray:
    r"""Suresh et al. (2024) Gaussian bound as stated in the issue:
    $P(\sigma_k^2 > \varepsilon) \le (\sigma_0/\varepsilon)\,e^{-k/(4n-1)}$ (a bound, not a law)."""
    return (sigma0 / eps) * np.exp(-np.asarray(k, dtype=np.float64) / (4 * n - 1))


def suresh_survival_bound(k, n, p0) -> np.ndarray:
    r"""Suresh et al. (2024) survival lower bound $P(p_k \ne 0) \ge 1 - e^{-n p_0 / k}$
    (their $g_k$ taken as $1/k$: the time to forget a word grows linearly with its count)."""
    return 1.0 - np.exp(-n * p0 / np.asarray(k, dtype=np.float64))

r"""Closed forms for self-consuming kernel density estimation (float64 NumPy; no simulator imports).

Setting (theory/kde.md#setting): generation 0 is a Gaussian source $N(\mu_0, \Sigma_0)$. Generation
t >= 1 is a Gaussian-kernel KDE: its points are the training set it was fit on, with kernel
covariance $H_t$; a draw picks a point uniformly and adds $N(0, H_t)$. The bandwidth is fixed
($H_t = h^2 I$) or a rule recomputed from each generation's own points,
$H_t = f_m^2\,\hat S^{\mathrm{unb}}_t$ with $f_m = c\,m^{-1/(d+4)}$ (m points; Scott: c = 1,
Silverman: $c = ((d+2)/4)^{-1/(d+4)}$, 1.0592 in 1-D) and $\hat S^{\mathrm{unb}}$ the sample
covariance with divisor m - 1 (as ``scipy.stats.gaussian_kde``).

Observables: $s^2_t = \mathrm{tr}\,S_t$, the trace of the MLE (divisor m) covariance of the
points ($\mathrm{tr}\,\Sigma_0$ at t = 0), and $D_t = \lVert m_t - \mu_0\rVert^2$ with $m_t$ the
points' mean. Their expectations follow a linear recursion that is exact for every policy here
(theory/kde.md#k1 .. #k4): Replace, Fresh(alpha) and Accumulate (exact while the pool fits its
capacity), with any sample-size schedule.

References:
    Kazdan, Schaeffer et al. (2024), "Collapse or Thrive? Perils and Promises of Synthetic Data
    in a Self-Generating World", arXiv 2410.16713 (KDE chains); Silverman (1986), "Density
    Estimation for Statistics and Data Analysis", eq. (3.31); Scott (1992), "Multivariate
    Density Estimation".
"""

from __future__ import annotations

import numpy as np

from ._common import as_generations, schedule, shape_out

__all__ = [
    "rule_constant",
    "rule_factor2",
    "expected_variance",
    "expected_mean_drift2",
    "rule_growth_factor",
    "rule_growth_factor_mle",
    "critical_rule_constant",
    "stationary_variance_fixed",
]

RULES = ("silverman", "scott")


def rule_constant(rule: str, d: int = 1) -> float:
    r"""c in $f_m = c\,m^{-1/(d+4)}$: Scott 1; Silverman $((d+2)/4)^{-1/(d+4)}$."""
    if rule == "scott":
        return 1.0
    if rule == "silverman":
        return ((d + 2) / 4.0) ** (-1.0 / (d + 4))
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def rule_factor2(m, d: int, constant: float) -> np.ndarray:
    r"""$f_m^2 = c^2 m^{-2/(d+4)}$."""
    return constant**2 * np.asarray(m, dtype=np.float64) ** (-2.0 / (d + 4))


def _moments(t, n, d, sigma2_0, bandwidth=None, constant=None, fresh=None, accumulate=False):
    """E[s^2_t], E[D_t] for t in ``t`` (theory/kde.md#k1-#k4)."""
    ts, scalar = as_generations(t)
    tmax = int(ts.max()) if ts.size else 0
    ns = schedule(n, tmax)
    nr = np.zeros(tmax) if fresh is None else schedule(fresh, tmax)
    if np.any(ns < 2):
        raise ValueError(f"n must be >= 2, got {n!r}")
    if np.any((nr < 0) | (nr > ns)):
        raise ValueError("fresh counts must lie in [0, n]")
    if accumulate and np.any(nr > 0):
        raise ValueError("accumulate with fresh data is not covered")
    if (bandwidth is None) == (constant is None):
        raise ValueError("give exactly one of bandwidth (fixed h) and constant (a rule)")
    if bandwidth is not None and not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth!r}")
    if not sigma2_0 > 0:
        raise ValueError(f"sigma2_0 must be > 0, got {sigma2_0!r}")
    s = np.zeros(tmax + 1)
    dd = np.zeros(tmax + 1)
    s[0] = sigma2_0
    h_trace = 0.0  # the source has no kernel
    pooled = 0.0
    for k in range(tmax):
        v = s[k] + h_trace  # model variance (trace)
        n_all, n_real = ns[k], nr[k]
        n_syn = n_all - n_real
        if accumulate:
            new_pool = pooled + n_all
            batch_s = (1 - 1 / n_all) * v
            s[k + 1] = (pooled * s[k] + n_all * batch_s + pooled / new_pool * v) / new_pool
            dd[k + 1] = dd[k] + (n_all / new_pool) ** 2 * v / n_all
            pooled = m = new_pool
        else:
            spread = n_syn * v + n_real * sigma2_0
            s[k + 1] = n_syn * n_real / n_all**2 * dd[k] + (1 - 1 / n_all) * spread / n_all
            dd[k + 1] = (n_syn / n_all) ** 2 * dd[k] + spread / n_all**2
            m = n_all
        if bandwidth is not None:
            h_trace = d * bandwidth**2
        else:
            h_trace = float(rule_factor2(m, d, constant)) * m / (m - 1) * s[k + 1]
    return shape_out(s[ts], scalar), shape_out(dd[ts], scalar)


def expected_variance(t, n, d: int, sigma2_0: float, bandwidth=None, constant=None,
                      fresh=None, accumulate=False):
    r"""$E[s^2_t]$ (trace of the points' MLE covariance). Exact.

    Replace, fixed h: $E s^2_{t+1} = (1 - 1/n_t)(E s^2_t + d h^2)$ (theory/kde.md#k1);
    rule: $E s^2_{t+1} = (1 - 1/n_t)(1 + f^2 m/(m-1)) E s^2_t$ with m the previous fit's point
    count (theory/kde.md#k2); ``fresh`` (real counts per generation) couples in
    $E D_t$ (theory/kde.md#k3); ``accumulate`` pools every batch (theory/kde.md#k4).

    Args:
        t: generation(s).
        n: training-set size per generation (int or schedule), real points included.
        d: dimension.
        sigma2_0: $\mathrm{tr}\,\Sigma_0$.
        bandwidth: fixed h (kernel $h^2 I$), or None for a rule.
        constant: the rule's c (e.g. ``rule_constant("silverman", d)`` times a scale).
        fresh: real (source) points per generation (int or schedule), Fresh(alpha).
        accumulate: pool every batch (Accumulate).
    """
    return _moments(t, n, d, sigma2_0, bandwidth, constant, fresh, accumulate)[0]


def expected_mean_drift2(t, n, d: int, sigma2_0: float, bandwidth=None, constant=None,
                         fresh=None, accumulate=False):
    r"""$E\lVert m_t - \mu_0\rVert^2$. Exact. Replace: $E D_{t+1} = E D_t +
    (E s^2_t + \mathrm{tr} H_t)/n_t$ (theory/kde.md#k5); arguments as
    :func:`expected_variance`."""
    return _moments(t, n, d, sigma2_0, bandwidth, constant, fresh, accumulate)[1]


def rule_growth_factor(n, d: int, constant: float) -> float:
    r"""Per-generation factor of $E s^2_t$ under a rule with the divisor-(n-1) covariance
    (Replace, fixed n, t >= 1): $(1 - 1/n)(1 + f_n^2 n/(n-1)) = 1 - 1/n + f_n^2$.
    Exact (theory/kde.md#k2)."""
    return 1.0 - 1.0 / n + float(rule_factor2(n, d, constant))


def rule_growth_factor_mle(n, d: int, constant: float) -> float:
    r"""The same factor when the rule uses the MLE (divisor n) standard deviation:
    $(1 - 1/n)(1 + f_n^2)$ (the form quoted in issue 14; exact for that rule)."""
    return (1.0 - 1.0 / n) * (1.0 + float(rule_factor2(n, d, constant)))


def critical_rule_constant(n, d: int = 1) -> float:
    r"""Phase boundary: $E s^2_t$ shrinks iff $c < c^* = n^{-(d+2)/(2(d+4))}$ (divisor n - 1;
    $n^{-3/10}$ in 1-D), grows iff $c > c^*$ (theory/kde.md#k2). Exact."""
    return float(n) ** (-(d + 2) / (2.0 * (d + 4)))


def stationary_variance_fixed(n, d: int, bandwidth: float) -> float:
    r"""Fixed h, Replace: $E s^2_t \to (n - 1)\,d\,h^2$ geometrically with rate $1 - 1/n$.
    Exact limit (theory/kde.md#k1)."""
    return (float(n) - 1.0) * d * bandwidth**2

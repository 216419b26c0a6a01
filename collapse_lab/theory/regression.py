r"""Closed forms for self-consuming linear regression (float64 NumPy; no simulator imports).

Setting (theory/regression.md#setting): generation t is a weight vector $w_t$ ($w_0 = w^*$).
Generation t+1 is fit by ordinary least squares on $n_t$ fresh Gaussian inputs
$x \sim N(0, \Sigma)$ labelled by the current model, $y = x^\top w_t + \varepsilon$,
$\varepsilon \sim N(0, \sigma^2)$. In the whitened frame $u_t = \Sigma^{1/2}(w_t - w^*)$ the
test error (excess risk) is $\lVert u_t\rVert^2$ and one Replace step is, exactly,

$$u_{t+1} = u_t + W^{-1} Z^\top \varepsilon, \qquad W = Z^\top Z \sim \mathrm{Wishart}_d(n_t, I),$$

with $W$ and $\varepsilon$ independent of $u_t$. ``n`` accepts an int or a schedule
``[n_0, n_1, ...]``; ``t`` an int or an array of generations. ``noise_var`` is $\sigma^2$.

References:
    Dohmatob, Feng & Kempe (2024), "Model Collapse Demystified: The Case of Regression",
    NeurIPS, arXiv 2402.07712; Gerstgrasser et al. (2024), "Is Model Collapse Inevitable?
    Breaking the Curse of Recursion by Accumulating Real and Synthetic Data", arXiv 2404.01413.
"""

from __future__ import annotations

import numpy as np

from ._common import as_generations, cumulative, schedule, shape_out

__all__ = [
    "inverse_wishart_trace_moments",
    "expected_test_error",
    "variance_of_test_error",
    "expected_weight_drift2",
    "expected_train_residual",
    "variance_of_train_residual",
    "expected_test_error_accumulate",
    "expected_weight_drift2_accumulate",
    "accumulate_fixed_design_bound",
    "expected_test_error_fresh_approx",
]


def _check_dim(d):
    if isinstance(d, bool) or int(d) != d or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    return int(d)


def _check_noise(noise_var):
    if not np.isfinite(noise_var) or noise_var < 0:
        raise ValueError(f"noise_var must be finite and >= 0, got {noise_var!r}")
    return float(noise_var)


def _steps(t, n, d, dof_offset=1.0, need=1.0):
    ts, scalar = as_generations(t)
    ns = schedule(n, int(ts.max()) if ts.size else 0)
    if np.any(ns - d - dof_offset < need):
        raise ValueError(
            f"n must satisfy n - d - {dof_offset:g} >= {need:g} (d = {d}), got {n!r}"
        )
    return ts, scalar, ns


def inverse_wishart_trace_moments(n, d: int) -> tuple[float, float, float]:
    r"""$(E\,\mathrm{tr}W^{-1},\ E(\mathrm{tr}W^{-1})^2,\ E\,\mathrm{tr}W^{-2})$ for
    $W \sim \mathrm{Wishart}_d(n, I)$.

    With $m = n - d - 1$: $E\,\mathrm{tr}W^{-1} = d/m$ ($m > 0$), and, from the covariances of
    the inverse Wishart ($m > 2$), $\mathrm{Cov}(V_{ij}, V_{kl}) = [2\delta_{ij}\delta_{kl} +
    m(\delta_{ik}\delta_{jl} + \delta_{il}\delta_{jk})] / ((m+1)m^2(m-2))$. Exact.
    theory/regression.md#r0.
    """
    d = _check_dim(d)
    m = float(n) - d - 1
    if m <= 2:
        raise ValueError(f"n must be > d + 3 for second moments, got n={n!r}, d={d}")
    den = (m + 1) * m * m * (m - 2)
    mean_tr = d / m
    e_tr2 = (2 * d * d + 2 * m * d) / den + mean_tr**2
    e_tr_sq = (2 * d + m * d + m * d * d) / den + d / m**2
    return mean_tr, e_tr2, e_tr_sq


def expected_test_error(t, n, d: int, noise_var: float, dof_offset: float = 1.0):
    r"""$E\lVert w_t - w^*\rVert_\Sigma^2 = \sigma^2 d \sum_{s<t} 1/(n_s - d - 1)$ (Replace, OLS).

    Exact for $n_s \ge d + 2$ (inverse-Wishart mean), any $\Sigma$; linear growth in t for a
    fixed n. ``dof_offset`` replaces the 1 in $n - d - 1$ (a deliberately wrong value gives a
    negative control). theory/regression.md#r1. Dohmatob, Feng & Kempe (2024), Thm. (finite-n
    form); Gerstgrasser et al. (2024).
    """
    d = _check_dim(d)
    s2 = _check_noise(noise_var)
    ts, scalar, ns = _steps(t, n, d, dof_offset, need=1e-12)
    return shape_out(cumulative(s2 * d / (ns - d - dof_offset), ts), scalar)


def variance_of_test_error(t, n, d: int, noise_var: float):
    r"""$\mathrm{Var}\lVert w_t - w^*\rVert_\Sigma^2$ (Replace, OLS), exact for $n_s > d + 3$.

    With $a_t$, $q_t$ the first two moments of the test error $e_t$ and $m = n_t - d - 1$:
    $a_{t+1} = a_t + \sigma^2 d/m$,
    $q_{t+1} = q_t + 2a_t\sigma^2(d+2)/m + \sigma^4[E(\mathrm{tr}W^{-1})^2 +
    2E\,\mathrm{tr}W^{-2}]$. theory/regression.md#r2.
    """
    d = _check_dim(d)
    s2 = _check_noise(noise_var)
    ts, scalar, ns = _steps(t, n, d, 1.0, need=2.0 + 1e-12)
    tmax = int(ts.max()) if ts.size else 0
    a = np.zeros(tmax + 1)
    q = np.zeros(tmax + 1)
    for s in range(tmax):
        mean_tr, e_tr2, e_tr_sq = inverse_wishart_trace_moments(ns[s], d)
        m = ns[s] - d - 1
        a[s + 1] = a[s] + s2 * mean_tr
        q[s + 1] = q[s] + 2 * a[s] * s2 * (d + 2) / m + s2 * s2 * (e_tr2 + 2 * e_tr_sq)
    return shape_out((q - a * a)[ts], scalar)


def expected_weight_drift2(t, n, d: int, noise_var: float, trace_inv_cov: float,
                           dof_offset: float = 1.0):
    r"""$E\lVert w_t - w^*\rVert^2 = \sigma^2\,\mathrm{tr}(\Sigma^{-1}) \sum_{s<t}
    1/(n_s - d - 1)$ (Replace, OLS; Euclidean norm). Exact. theory/regression.md#r1."""
    d = _check_dim(d)
    s2 = _check_noise(noise_var)
    ts, scalar, ns = _steps(t, n, d, dof_offset, need=1e-12)
    return shape_out(cumulative(s2 * trace_inv_cov / (ns - d - dof_offset), ts), scalar)


def expected_train_residual(n, d: int, noise_var: float) -> float:
    r"""$E[\mathrm{RSS}/n] = \sigma^2 (n - d)/n$ for an OLS fit on n points of one model
    (Replace): $\mathrm{RSS} \sim \sigma^2\chi^2_{n-d}$. Exact. theory/regression.md#r3."""
    d = _check_dim(d)
    return _check_noise(noise_var) * (float(n) - d) / float(n)


def variance_of_train_residual(n, d: int, noise_var: float) -> float:
    r"""$\mathrm{Var}[\mathrm{RSS}/n] = 2\sigma^4 (n - d)/n^2$ (Replace, OLS). Exact.
    theory/regression.md#r3."""
    d = _check_dim(d)
    s2 = _check_noise(noise_var)
    return 2 * s2 * s2 * (float(n) - d) / float(n) ** 2


def _accumulate_steps(t, n, d):
    ts, scalar = as_generations(t)
    ns = schedule(n, int(ts.max()) if ts.size else 0)
    pooled = np.cumsum(ns)  # N_s: pool size after the batch drawn from generation s
    if ns.size and pooled[0] - d - 1 <= 0:
        raise ValueError(f"the first batch needs n_0 >= d + 2 (d = {d}), got {n!r}")
    return ts, scalar, ns, pooled


def expected_test_error_accumulate(t, n, d: int, noise_var: float):
    r"""$E\lVert w_t - w^*\rVert_\Sigma^2 = \sigma^2 d \sum_{s=1}^{t}
    \frac{n_{s-1}}{N_s}\,\frac{1}{N_s - d - 1}$ with $N_s = n_0 + \dots + n_{s-1}$
    (Accumulate, OLS on the pooled data, a fresh Gaussian design every generation).

    Exact (theory/regression.md#r4): $u_s = u_{s-1} + A_s^{-1} Z_s^\top\varepsilon_s$ with $A_s$
    the pooled design, and $E\,\mathrm{tr}(A_s^{-1} W_s A_s^{-1}) = (n_{s-1}/N_s)\,
    E\,\mathrm{tr}A_s^{-1}$ by exchangeability of the pooled rows. For a fixed n this is
    $\sigma^2 d\sum_s 1/(s(sn - d - 1))$: bounded in t, below Gerstgrasser et al.'s
    fixed-design value $\sigma^2 d/(n-d-1)\sum_s 1/s^2 \le (\pi^2/6)\,\sigma^2 d/(n-d-1)$.
    """
    d = _check_dim(d)
    s2 = _check_noise(noise_var)
    ts, scalar, ns, pooled = _accumulate_steps(t, n, d)
    return shape_out(cumulative(s2 * d * ns / pooled / (pooled - d - 1), ts), scalar)


def expected_weight_drift2_accumulate(t, n, d: int, noise_var: float, trace_inv_cov: float):
    r"""$E\lVert w_t - w^*\rVert^2$ under Accumulate: :func:`expected_test_error_accumulate`
    with $d$ replaced by $\mathrm{tr}\,\Sigma^{-1}$. Exact. theory/regression.md#r4."""
    d = _check_dim(d)
    s2 = _check_noise(noise_var)
    ts, scalar, ns, pooled = _accumulate_steps(t, n, d)
    return shape_out(cumulative(s2 * trace_inv_cov * ns / pooled / (pooled - d - 1), ts), scalar)


def accumulate_fixed_design_bound(t, n, d: int, noise_var: float):
    r"""Gerstgrasser et al. (2024): with one design matrix reused by every generation,
    $E\lVert w_t - w^*\rVert_\Sigma^2 = \sigma^2 d/(n - d - 1)\sum_{s=1}^t 1/s^2$, at most
    $(\pi^2/6)\,\sigma^2 d/(n - d - 1)$. Exact for that design; an upper bound for the fresh
    design simulated here (theory/regression.md#r4). Fixed n only."""
    d = _check_dim(d)
    s2 = _check_noise(noise_var)
    ts, scalar = as_generations(t)
    n = float(n)
    if n - d - 1 <= 0:
        raise ValueError(f"n must be >= d + 2, got {n!r}")
    k = np.arange(1, int(ts.max()) + 1 if ts.size else 1, dtype=np.float64)
    return shape_out(cumulative(s2 * d / (n - d - 1) / k**2, ts), scalar)


def expected_test_error_fresh_approx(t, n, alpha: float, d: int, noise_var: float):
    r"""Fresh(alpha), OLS: $e_{t+1} \approx (1-\alpha)^2 e_t + \sigma^2 d/(n - d - 1)$.

    Approximate (theory/regression.md#r5): it replaces $E[W_s A^{-2} W_s]$ (synthetic design
    $W_s$ within the pooled design A) by $(1-\alpha)^2 I$, exact only as $n \to \infty$; the
    $(1-\alpha)^2$ term undercounts, so the value is low by a relative error of order $d/n$.
    Stationary value $\sigma^2 d/((n-d-1)(1-(1-\alpha)^2))$. Fixed n only.
    """
    d = _check_dim(d)
    s2 = _check_noise(noise_var)
    ts, scalar = as_generations(t)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    rho = (1.0 - alpha) ** 2
    step = s2 * d / (float(n) - d - 1)
    out = np.zeros(int(ts.max()) + 1 if ts.size else 1)
    for s in range(1, out.size):
        out[s] = rho * out[s - 1] + step
    return shape_out(out[ts], scalar)

r"""Closed forms for Gaussian resampling chains (float64 NumPy/SciPy; no simulator imports).

Setting: generation t is a Gaussian $N(\mu_t, \sigma^2_t)$ (or $N(\mu_t, \Sigma_t)$ in d dimensions);
generation t+1 is fit on $n_t$ samples. Variances divide the sum of squares by $n - c$
(``estimator="mle"``: c = 0; ``"unbiased"``: c = 1). A sampling temperature $\lambda$ draws the
samples from $N(\mu_t, \lambda \sigma^2_t)$. Then, exactly (theory/gaussian.md#representation),

$$\sigma^2_{t+1} = \lambda\,\sigma^2_t\,\chi^2_{n_t-1}/(n_t-c), \qquad
  \mu_{t+1} = \mu_t + \sqrt{\lambda}\,\sigma_t Z_t/\sqrt{n_t},$$

with all factors independent. ``n`` arguments accept an int (fixed size) or a schedule
``[n_0, n_1, ...]``; ``t`` accepts an int or an array of generations.

References:
    Shumailov et al. (2024), Nature 631:755, "AI models collapse when trained on recursively
    generated data"; Suresh, Thangaraj & Khandavally (2024), arXiv 2412.17646; Alemohammad et al.
    (2024), ICLR, arXiv 2307.01850; Gerstgrasser et al. (2024), arXiv 2404.01413.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, optimize, special

from ._common import as_generations, cumulative, estimator_offset, generation, schedule, shape_out

__all__ = [
    "expected_variance",
    "expected_variance_fixed_real",
    "expected_mean_drift2_fixed_real",
    "variance_of_variance",
    "expected_sigma",
    "expected_log_variance",
    "variance_of_log_variance",
    "log_variance_cdf",
    "variance_probability_below",
    "log_variance_quantile",
    "variance_quantile",
    "median_variance",
    "expected_mean_drift2",
    "expected_w2_squared",
    "expected_log_det",
    "variance_of_log_det",
    "expected_variance_accumulate",
    "expected_mean_drift2_accumulate",
    "expected_variance_fresh",
    "expected_mean_drift2_fresh",
    "stationary_fresh",
    "truncated_normal_moments",
    "verified_band_step",
    "expected_variance_verified_band",
    "expected_mean_drift2_verified_band",
    "verified_smooth_step",
    "expected_precision_verified_smooth",
    "second_moment_precision_verified_smooth",
    "max_normal_moments",
    "curated_linear_step",
    "expected_variance_curated_linear",
    "log_relative_variance_curated_linear",
]


def _check_positive(name, value):
    if not np.all(np.isfinite(value)) or np.any(np.asarray(value) <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")


def _steps(t, n, estimator, temperature):
    ts, scalar = as_generations(t)
    ns = schedule(n, int(ts.max()) if ts.size else 0)
    if np.any(ns < 2):
        raise ValueError(f"n must be >= 2, got {n!r}")
    _check_positive("temperature", temperature)
    return ts, scalar, ns, estimator_offset(estimator)


def expected_variance(t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\sigma^2_t] = \sigma^2_0 \prod_{s<t} \lambda (n_s-1)/(n_s-c)$ (theory/gaussian.md G1, M1, G12).

    Replace policy. Exact for every finite n. In d dimensions it is the expected trace of
    $\Sigma_t$ when ``sigma2_0`` is $\mathrm{tr}\,\Sigma_0$. Unbiased, $\lambda=1$: a martingale.
    See theory/gaussian.md#g1.
    """
    ts, scalar, ns, c = _steps(t, n, estimator, temperature)
    step = np.log(temperature) + np.log(ns - 1) - np.log(ns - c)
    return shape_out(sigma2_0 * np.exp(cumulative(step, ts)), scalar)


def variance_of_variance(t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$\mathrm{Var}[\sigma^2_t] = E[\sigma^4_t] - E[\sigma^2_t]^2$ with
    $E[\sigma^4_t] = \sigma^4_0 \prod_s \lambda^2 (n_s-1)(n_s+1)/(n_s-c)^2$ (theory/gaussian.md G2, exact).

    Exact but not testable by simulation at large t/n (heavy tails; theory/gaussian.md#g2).
    """
    ts, scalar, ns, c = _steps(t, n, estimator, temperature)
    step4 = 2 * np.log(temperature) + np.log(ns - 1) + np.log(ns + 1) - 2 * np.log(ns - c)
    m4 = sigma2_0**2 * np.exp(cumulative(step4, ts))
    m2 = np.asarray(expected_variance(ts, n, estimator, sigma2_0, temperature))
    return shape_out(m4 - m2**2, scalar)


def expected_sigma(t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\sigma_t] = \sigma_0 \prod_{s<t} \sqrt{2\lambda}\,\Gamma(n_s/2)/
    (\Gamma((n_s-1)/2)\sqrt{n_s-c})$ (theory/gaussian.md G3, exact; 1-D).

    For large n about $\sigma_0 e^{-3t/(4n)}$ (MLE). See theory/gaussian.md#g3.
    """
    ts, scalar, ns, c = _steps(t, n, estimator, temperature)
    step = (
        0.5 * np.log(2 * temperature)
        + special.gammaln(ns / 2)
        - special.gammaln((ns - 1) / 2)
        - 0.5 * np.log(ns - c)
    )
    return shape_out(np.sqrt(sigma2_0) * np.exp(cumulative(step, ts)), scalar)


def _log_step_mean(ns, c, temperature):
    return special.digamma((ns - 1) / 2) + np.log(2.0) - np.log(ns - c) + np.log(temperature)


def expected_log_variance(t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\log\sigma^2_t] = \log\sigma^2_0 + \sum_{s<t}[\psi((n_s-1)/2) + \log 2 - \log(n_s-c)
    + \log\lambda]$ (theory/gaussian.md G4, G12; exact).

    The per-generation drift is about $-2/n$ (MLE) or $-1/n$ (unbiased).
    See theory/gaussian.md#g4.
    """
    ts, scalar, ns, c = _steps(t, n, estimator, temperature)
    return shape_out(np.log(sigma2_0) + cumulative(_log_step_mean(ns, c, temperature), ts), scalar)


def variance_of_log_variance(t, n):
    r"""$\mathrm{Var}[\log\sigma^2_t] = \sum_{s<t}\psi'((n_s-1)/2) \approx 2t/(n-1)$
    (theory/gaussian.md G5, exact; independent of the estimator and temperature).

    See theory/gaussian.md#g5.
    """
    ts, scalar, ns, _ = _steps(t, n, "mle", 1.0)
    return shape_out(cumulative(special.polygamma(1, (ns - 1) / 2), ts), scalar)


# ---------------------------------------------------------------------------------- G6: the law
def _cf_terms(t, n):
    """Distinct sample sizes up to generation t and their multiplicities."""
    ns = schedule(n, t)
    values, counts = np.unique(ns, return_counts=True)
    return values, counts.astype(np.float64)


def _log_cf(u, values, counts, c, temperature):
    """log of the characteristic function of $L_t = \\log(\\sigma^2_t/\\sigma^2_0)$ at real u."""
    u = np.asarray(u, dtype=np.float64)[:, None]
    k = (values - 1)[None, :] / 2
    shift = np.log(2.0) - np.log(values - c) + np.log(temperature)
    terms = 1j * u * shift[None, :] + special.loggamma(k + 1j * u) - special.gammaln(k)
    return terms @ counts


def log_variance_cdf(x, t, n, estimator="mle", temperature=1.0):
    r"""$P(\log(\sigma^2_t/\sigma^2_0) \le x)$, exact law of the sum of independent log-chi-square
    terms (theory/gaussian.md G6).

    Computed by Gil-Pelaez inversion of the exact characteristic function
    $\varphi(u) = \prod_s e^{iu(\log 2 - \log(n_s - c) + \log\lambda)}\,
    \Gamma((n_s-1)/2 + iu)/\Gamma((n_s-1)/2)$ with a midpoint rule whose step and range are
    chosen so that the aliasing and truncation errors are below about 1e-12
    (theory/gaussian.md#g6). ``t`` must be a single generation here.
    """
    t = generation(t)
    if t < 0:
        raise ValueError(f"t must be >= 0, got {t}")
    c = estimator_offset(estimator)
    _check_positive("temperature", temperature)
    xs = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if t == 0:
        out = (xs >= 0).astype(np.float64)
        return float(out[0]) if np.ndim(x) == 0 else out
    values, counts = _cf_terms(t, n)
    if np.any(values < 2):
        raise ValueError(f"n must be >= 2, got {n!r}")
    k = (values - 1) / 2
    mean = float(counts @ (special.digamma(k) + np.log(2.0) - np.log(values - c)))
    mean += t * np.log(temperature)
    var = float(counts @ special.polygamma(1, k))
    sd = np.sqrt(var)
    # The left tail of log chi^2_k decays like exp(k y / 2): leave room for it.
    reach = np.max(np.abs(xs - mean)) + 14 * sd + 80.0 / (2 * k.min()) / max(1.0, np.sqrt(t))
    period = 2 * reach
    h = 2 * np.pi / period
    # Extend u until |phi(u)| is negligible.
    u_max = 1.0
    while True:
        if np.real(_log_cf(np.array([u_max]), values, counts, c, temperature))[0] < -40:
            break
        u_max *= 1.5
    num = int(np.ceil(u_max / h)) + 1
    u = (np.arange(num) + 0.5) * h
    phi = np.exp(_log_cf(u, values, counts, c, temperature))
    integrand = np.imag(np.exp(-1j * np.outer(xs, u)) * phi[None, :]) / u[None, :]
    cdf = 0.5 - integrand.sum(axis=1) * h / np.pi
    cdf = np.clip(cdf, 0.0, 1.0)
    return float(cdf[0]) if np.ndim(x) == 0 else cdf


def variance_probability_below(eps, t, n, estimator="mle", temperature=1.0):
    r"""$P(\sigma^2_t < \varepsilon\,\sigma^2_0)$, exact (theory/gaussian.md G6).

    At t = 1 it equals $F_{\chi^2_{n-1}}(\varepsilon (n-c)/\lambda)$. See theory/gaussian.md#g6.
    """
    _check_positive("eps", eps)
    return log_variance_cdf(np.log(eps), t, n, estimator, temperature)


def log_variance_quantile(q, t, n, estimator="mle", temperature=1.0):
    r"""The q-quantile of $\log(\sigma^2_t/\sigma^2_0)$ (exact law, theory/gaussian.md G6).

    Root finding on :func:`log_variance_cdf`; finite even where $\sigma^2_t$ itself underflows.
    """
    if not 0 < q < 1:
        raise ValueError(f"q must lie in (0, 1), got {q!r}")
    t = generation(t)
    if t == 0:
        return 0.0
    mean = float(expected_log_variance(t, n, estimator, 1.0, temperature))
    sd = float(np.sqrt(variance_of_log_variance(t, n)))
    lo, hi = mean - 30 * sd - 30, mean + 30 * sd + 5
    return float(
        optimize.brentq(
            lambda y: log_variance_cdf(y, t, n, estimator, temperature) - q, lo, hi, xtol=1e-12
        )
    )


def variance_quantile(q, t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""The q-quantile of $\sigma^2_t$ (exact law, theory/gaussian.md G6): $\sigma^2_0 e^{x_q}$."""
    return float(sigma2_0 * np.exp(log_variance_quantile(q, t, n, estimator, temperature)))


def median_variance(t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""Median of $\sigma^2_t$ (exact, theory/gaussian.md G6). Unbiased, n=10, t=50: 0.00328 $\sigma^2_0$."""
    return variance_quantile(0.5, t, n, estimator, sigma2_0, temperature)


# ------------------------------------------------------------------------- mean drift and W2
def expected_mean_drift2(t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\lVert\mu_t-\mu_0\rVert^2] = \sum_{s<t}\lambda E[\sigma^2_s]/n_s$ (theory/gaussian.md G7, M5; exact).

    MLE: $\sigma^2_0(1-(1-1/n)^t)$, bounded; unbiased: $\sigma^2_0 t/n$. In d dimensions use
    ``sigma2_0`` = $\mathrm{tr}\,\Sigma_0$. See theory/gaussian.md#g7.
    """
    ts, scalar, ns, _ = _steps(t, n, estimator, temperature)
    s = np.asarray(expected_variance(np.arange(ns.size), n, estimator, sigma2_0, temperature))
    return shape_out(cumulative(temperature * s / ns, ts), scalar)


def expected_w2_squared(t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[W_2^2(N(\mu_t,\sigma^2_t), N(\mu_0,\sigma^2_0))] = E(\mu_t-\mu_0)^2 + E\sigma^2_t
    - 2\sigma_0 E\sigma_t + \sigma^2_0$ (theory/gaussian.md G9; exact, 1-D).

    Unbiased: grows linearly; MLE: tends to $2\sigma^2_0$. See theory/gaussian.md#g9.
    """
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    d = np.asarray(expected_mean_drift2(ts, n, estimator, sigma2_0, temperature))
    v = np.asarray(expected_variance(ts, n, estimator, sigma2_0, temperature))
    s = np.asarray(expected_sigma(ts, n, estimator, sigma2_0, temperature))
    return shape_out(d + v - 2 * np.sqrt(sigma2_0) * s + sigma2_0, scalar)


# ----------------------------------------------------------------------------- d dimensions
def expected_log_det(t, n, dim, estimator="mle", log_det_0=0.0, temperature=1.0):
    r"""$E[\log\det\Sigma_t] = \log\det\Sigma_0 + \sum_{s<t}[\sum_{i=1}^d(\psi((n_s-i)/2) + \log 2)
    - d\log(n_s-c) + d\log\lambda]$ (theory/gaussian.md M2, Bartlett decomposition; exact, n > d).

    See theory/gaussian.md#m2.
    """
    ts, scalar, ns, c = _steps(t, n, estimator, temperature)
    if np.any(ns <= dim):
        raise ValueError(f"n must exceed dim={dim}, got {n!r}")
    i = np.arange(1, dim + 1)[None, :]
    step = (special.digamma((ns[:, None] - i) / 2) + np.log(2.0)).sum(axis=1)
    step = step - dim * np.log(ns - c) + dim * np.log(temperature)
    return shape_out(log_det_0 + cumulative(step, ts), scalar)


def variance_of_log_det(t, n, dim):
    r"""$\mathrm{Var}[\log\det\Sigma_t] = \sum_{s<t}\sum_{i=1}^d \psi'((n_s-i)/2)$ (theory/gaussian.md M3, exact)."""
    ts, scalar, ns, _ = _steps(t, n, "mle", 1.0)
    if np.any(ns <= dim):
        raise ValueError(f"n must exceed dim={dim}, got {n!r}")
    i = np.arange(1, dim + 1)[None, :]
    step = special.polygamma(1, (ns[:, None] - i) / 2).sum(axis=1)
    return shape_out(cumulative(step, ts), scalar)


# --------------------------------------------------------------------------------- accumulate
def _accumulate(t_max, n, estimator, sigma2_0, temperature):
    """Exact linear recursion for (E sigma^2_t, E (mu_t - mu_0)^2) under Accumulate."""
    c = estimator_offset(estimator)
    ns = schedule(n, t_max)
    s = np.empty(t_max + 1)
    d = np.empty(t_max + 1)
    s[0], d[0] = sigma2_0, 0.0
    pool = 0.0
    for k in range(t_max):
        m = ns[k]
        new = pool + m
        if pool == 0:
            s[k + 1] = temperature * s[k] * (m - 1) / (m - c)
        else:
            s[k + 1] = s[k] * ((pool - c) + temperature * ((m - 1) + pool / new)) / (new - c)
        d[k + 1] = d[k] + m * temperature * s[k] / new**2
        pool = new
    return s, d


def expected_variance_accumulate(t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\sigma^2_t]$ when generation t is fit on all batches drawn so far (theory/gaussian.md X7, exact).

    With pool size $N$ before and batch size $m$ after it:
    $E\sigma'^2 = E\sigma^2\,[(N-c) + \lambda(m-1+N/(N+m))]/(N+m-c)$; fixed n, MLE:
    $\sigma^2_0\prod_{k=1}^t(1-1/(nk^2)) \to \sigma^2_0\,\mathrm{sinc}$-limit
    $\sin(\pi/\sqrt n)/(\pi/\sqrt n)$. See theory/gaussian.md#x7.
    """
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    s, _ = _accumulate(int(ts.max()), n, estimator, sigma2_0, temperature)
    return shape_out(s[ts], scalar)


def expected_mean_drift2_accumulate(t, n, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E(\mu_t-\mu_0)^2 = \sum_{k<t} \lambda n_k E\sigma^2_k/N_{k+1}^2$ under Accumulate
    (theory/gaussian.md X7, exact; fixed n: $\le \sigma^2_0\pi^2/(6n)$)."""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    _, d = _accumulate(int(ts.max()), n, estimator, sigma2_0, temperature)
    return shape_out(d[ts], scalar)


# -------------------------------------------------------------------------------- fresh alpha
def _fresh(t_max, n, alpha, estimator, sigma2_0, temperature):
    """Exact linear recursion (theory/gaussian.md X6) with n_r = round(alpha n) fresh source samples."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    c = estimator_offset(estimator)
    ns = schedule(n, t_max)
    s = np.empty(t_max + 1)
    d = np.empty(t_max + 1)
    s[0], d[0] = sigma2_0, 0.0
    for k in range(t_max):
        nk = ns[k]
        nr = float(np.rint(alpha * nk))
        nsyn = nk - nr
        group = nr * sigma2_0 + nsyn * temperature * s[k]
        s[k + 1] = ((1 - 1 / nk) * group + (nr * nsyn / nk) * d[k]) / (nk - c)
        d[k + 1] = (nsyn / nk) ** 2 * d[k] + group / nk**2
    return s, d


def expected_variance_fresh(t, n, alpha, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\sigma^2_t]$ with $n_r=\mathrm{round}(\alpha n)$ fresh and $n-n_r$ synthetic samples
    per generation (theory/gaussian.md X6; exact linear recursion):

    $s_{t+1} = [(1-1/n)(n_r\sigma^2_0 + n_s\lambda s_t) + (n_r n_s/n) D_t]/(n-c)$,
    $D_{t+1} = (n_s/n)^2 D_t + (n_r\sigma^2_0 + n_s\lambda s_t)/n^2$. See theory/gaussian.md#x6.
    """
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    s, _ = _fresh(int(ts.max()), n, alpha, estimator, sigma2_0, temperature)
    return shape_out(s[ts], scalar)


def expected_mean_drift2_fresh(t, n, alpha, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$D_t = E(\mu_t-\mu_0)^2$ under fresh fraction alpha (theory/gaussian.md X6, exact recursion)."""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    _, d = _fresh(int(ts.max()), n, alpha, estimator, sigma2_0, temperature)
    return shape_out(d[ts], scalar)


def stationary_fresh(n, alpha, estimator="mle", sigma2_0=1.0):
    r"""Stationary $(E\sigma^2_\infty, E(\mu_\infty-\mu_0)^2)$ under a fixed fresh split (X6).

    MLE: $D^* = \sigma^2_0 r^*$, $s^* = \sigma^2_0(1-r^*)$ with $r^* = 1/(n(1-(1-a)^2)+1-a)$,
    $a = n_r/n$. Unbiased: $D^* = \sigma^2_0/(n[1-(1-a)^2 n/(n-1)])$,
    $s^* = \sigma^2_0 + (1-a) n D^*/(n-1)$. Exact; requires $n_r \ge 1$.
    """
    c = estimator_offset(estimator)
    a = float(np.rint(alpha * n)) / n
    if a <= 0:
        raise ValueError("stationary values need at least one fresh sample per generation")
    if c == 0:
        r = 1.0 / (n * (1 - (1 - a) ** 2) + 1 - a)
        return sigma2_0 * (1 - r), sigma2_0 * r
    d = sigma2_0 / (n * (1 - (1 - a) ** 2 * n / (n - 1)))
    return sigma2_0 + (1 - a) * n * d / (n - 1), d


# ------------------------------------------------------------------------ policies (issue 13)
def _split_step(s, d, n, e_fresh, e_syn, e_cross, e_syn2, c, sigma2_0, temperature):
    """One step of the X6 recursion averaged over a random split (E n_r, E n_s, E n_r n_s,
    E n_s^2 given; the split is independent of the past). Linear in (s, d)."""
    group = e_fresh * sigma2_0 + e_syn * temperature * s
    s_next = ((1 - 1 / n) * group + (e_cross / n) * d) / (n - c)
    d_next = (e_syn2 / n**2) * d + group / n**2
    return s_next, d_next


def _split_path(t_max, n, n_fresh, estimator, sigma2_0, temperature, mix_alpha=None):
    c = estimator_offset(estimator)
    ns = schedule(n, t_max)
    fr = schedule(n_fresh, t_max) if mix_alpha is None else None
    s = np.empty(t_max + 1)
    d = np.empty(t_max + 1)
    s[0], d[0] = sigma2_0, 0.0
    for k in range(t_max):
        nk = ns[k]
        if mix_alpha is None:
            nr = float(fr[k])
            moments = (nr, nk - nr, nr * (nk - nr), (nk - nr) ** 2)
        else:
            a = float(mix_alpha)
            moments = (nk * a, nk * (1 - a), nk * (nk - 1) * a * (1 - a),
                       nk * a * (1 - a) + (nk * (1 - a)) ** 2)
        s[k + 1], d[k + 1] = _split_step(s[k], d[k], nk, *moments, c, sigma2_0, temperature)
    return s, d


def expected_variance_split(t, n, n_fresh, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\sigma^2_t]$ (trace if d > 1) with a per-generation fresh count ``n_fresh[k]`` (a
    schedule; X6 with $n_r$ varying). Refresh(every=k) is the schedule $n_r = n$ at generations
    1, 1 + k, ... and 0 between (theory/gaussian.md#p1). **Exact.**"""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    s, _ = _split_path(int(ts.max()), n, n_fresh, estimator, sigma2_0, temperature)
    return shape_out(s[ts], scalar)


def expected_mean_drift2_split(t, n, n_fresh, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E\lVert\mu_t-\mu_0\rVert^2$ with a per-generation fresh count (see
    :func:`expected_variance_split`; theory/gaussian.md#p1). **Exact.**"""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    _, d = _split_path(int(ts.max()), n, n_fresh, estimator, sigma2_0, temperature)
    return shape_out(d[ts], scalar)


def _fixed_real_path(t_max, n, alpha, estimator, sigma2_0, temperature):
    """Exact linear recursion for FixedReal (theory/gaussian.md#p5).

    State: v = E[sigma_t^2] (trace if d > 1) and g = E||mu_t - rbar||^2, rbar the real set's mean.
    Returns E[sigma_t^2] and E||mu_t - mu_0||^2 for t = 0..t_max."""
    c = estimator_offset(estimator)
    ns = schedule(n, t_max)
    m = float(np.rint(float(alpha) * ns[0])) if t_max else 0.0
    lam = float(temperature)
    v = np.empty(t_max + 1)
    drift = np.empty(t_max + 1)
    v[0], drift[0] = sigma2_0, 0.0
    g = sigma2_0 / m if m > 0 else 0.0  # E||mu_0 - rbar||^2 (model 0 is the source)
    real_scatter = (m - 1.0) * sigma2_0 if m > 0 else 0.0  # E[R], R the real set's scatter
    shrink = 1.0
    for k in range(t_max):
        nk = float(ns[k])
        syn = nk - m
        if m == 0:
            # no real set: the replace step (E||mu - mu_0||^2 grows by lam v / n)
            v[k + 1] = lam * v[k] * (nk - 1.0) / (nk - c)
            drift[k + 1] = drift[k] + lam * v[k] / nk
            continue
        v[k + 1] = (real_scatter + lam * v[k] * (syn - 1.0 + m / nk) + m * syn / nk * g) / (nk - c)
        g = (syn / nk) ** 2 * g + syn / nk**2 * lam * v[k]
        shrink *= syn / nk
        drift[k + 1] = g + sigma2_0 / m - 2.0 * shrink * sigma2_0 / m
    return v, drift


def expected_variance_fixed_real(t, n, alpha, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\sigma^2_t]$ (trace if d > 1) under ``FixedReal(alpha)``: one real set of
    $m = \mathrm{round}(\alpha n_0)$ source points, drawn once and reused with $n_t - m$ model
    draws every generation (theory/gaussian.md#p5). With $v_t = E\sigma^2_t$ and
    $g_t = E\lVert\mu_t - \bar r\rVert^2$ ($\bar r$ the real set's mean, $s_t = n_t - m$):
    $v_{t+1} = [(m-1)\sigma_0^2 + \lambda v_t (s_t - 1 + m/n_t) + (m s_t/n_t) g_t]/(n_t - c)$,
    $g_{t+1} = (s_t/n_t)^2 g_t + s_t\lambda v_t/n_t^2$, $g_0 = \sigma_0^2/m$. **Exact.**"""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    _check_fraction_arg("alpha", alpha)
    v, _ = _fixed_real_path(int(ts.max()), n, alpha, estimator, sigma2_0, temperature)
    return shape_out(v[ts], scalar)


def expected_mean_drift2_fixed_real(t, n, alpha, estimator="mle", sigma2_0=1.0,
                                    temperature=1.0):
    r"""$E\lVert\mu_t-\mu_0\rVert^2$ under ``FixedReal(alpha)``:
    $g_t + \sigma_0^2/m - 2\prod_{k<t}(s_k/n_k)\,\sigma_0^2/m$ (the real mean's own error, and
    its correlation with the model's pull towards it; theory/gaussian.md#p5). **Exact.**"""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    _check_fraction_arg("alpha", alpha)
    _, drift = _fixed_real_path(int(ts.max()), n, alpha, estimator, sigma2_0, temperature)
    return shape_out(drift[ts], scalar)


def _check_fraction_arg(name, value):
    a = float(value)
    if not np.isfinite(a) or not 0.0 <= a <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


def expected_variance_mix(t, n, alpha, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\sigma^2_t]$ when each of the n points is a source draw with probability alpha
    (per-sample Bernoulli mixture, X2): the X6 step averaged over $n_r \sim
    \mathrm{Binomial}(n, \alpha)$, using $E n_r n_s = n(n-1)\alpha(1-\alpha)$ and
    $E n_s^2 = n\alpha(1-\alpha) + n^2(1-\alpha)^2$ (theory/gaussian.md#p2). **Exact.**"""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    s, _ = _split_path(int(ts.max()), n, None, estimator, sigma2_0, temperature, alpha)
    return shape_out(s[ts], scalar)


def expected_mean_drift2_mix(t, n, alpha, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E\lVert\mu_t-\mu_0\rVert^2$ under the Bernoulli(alpha) mixture (X2;
    theory/gaussian.md#p2). **Exact.**"""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    _, d = _split_path(int(ts.max()), n, None, estimator, sigma2_0, temperature, alpha)
    return shape_out(d[ts], scalar)


def _subsample_path(t_max, n, size, estimator, sigma2_0, temperature):
    """Exact linear recursion for AccumulateSubsample (theory/gaussian.md#p3).

    State before step k: pool of N points with E[M2] = M, E[pool mean^2] = Q; model with
    E[sigma^2] = v, E[mu^2] = D (source frame, mu_0 = 0)."""
    c = estimator_offset(estimator)
    ns = schedule(n, t_max)
    lam = temperature
    s = np.empty(t_max + 1)
    d = np.empty(t_max + 1)
    s[0], d[0] = sigma2_0, 0.0
    pool, big_m, q = 0.0, 0.0, 0.0
    for k in range(t_max):
        nk = float(ns[k])
        m = float(nk if size is None else size)
        v, dd = s[k], d[k]
        new = pool + nk
        if pool == 0:
            big_m_new = (nk - 1) * lam * v
            q_new = dd + lam * v / nk
        else:
            # E(mu_t - pool mean)^2 for a subsample mean drawn without replacement from the pool
            gap = (pool - m) / (m * pool * (pool - 1)) * big_m
            big_m_new = big_m + (nk - 1) * lam * v + (pool * nk / new) * (gap + lam * v / nk)
            # E[mu_t * pool mean] = E[pool mean^2] (the subsample mean is unbiased for it)
            q_new = (pool**2 * q + 2 * pool * nk * q + nk**2 * (dd + lam * v / nk)) / new**2
        s[k + 1] = (m - 1) / (m - c) * big_m_new / (new - 1)
        d[k + 1] = q_new + (new - m) / (m * new * (new - 1)) * big_m_new
        pool, big_m, q = new, big_m_new, q_new
    return s, d


def expected_variance_subsample(t, n, size=None, estimator="mle", sigma2_0=1.0,
                                temperature=1.0):
    r"""$E[\sigma^2_t]$ (trace if d > 1) under AccumulateSubsample: every batch joins the pool,
    generation t+1 is fit on ``size`` points (default $n_t$) drawn without replacement from the
    pool of $N'$ points. With the pool's scatter $M$ and the finite-population identities
    $E[s^2_{m-1}] = M/(N'-1)$, $\mathrm{Var}(\bar x_m) = (N'-m)M/(mN'(N'-1))$:
    $E\sigma^2_{t+1} = \frac{m-1}{m-c}\frac{E M'}{N'-1}$,
    $EM' = EM + (n-1)\lambda v_t + \frac{Nn}{N'}[\frac{N-m}{mN(N-1)}EM + \lambda v_t/n]$.
    **Exact** linear recursion (theory/gaussian.md#p3). Reference: Schaeffer, Kazdan, Koyejo et
    al. (2025), arXiv 2410.16713 (simulated the same policy)."""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    s, _ = _subsample_path(int(ts.max()), n, size, estimator, sigma2_0, temperature)
    return shape_out(s[ts], scalar)


def expected_mean_drift2_subsample(t, n, size=None, estimator="mle", sigma2_0=1.0,
                                   temperature=1.0):
    r"""$E\lVert\mu_t-\mu_0\rVert^2$ under AccumulateSubsample (theory/gaussian.md#p3). Exact."""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    _, d = _subsample_path(int(ts.max()), n, size, estimator, sigma2_0, temperature)
    return shape_out(d[ts], scalar)


def _window_path(t_max, n, w, estimator, sigma2_0, temperature):
    """Exact recursion for Window(w) (theory/gaussian.md#p4): batch-mean cross moments
    G[s, r] = E[xbar_s xbar_r] for |s - r| < w, model moments v_s = E sigma^2_s, D_s = E mu_s^2."""
    c = estimator_offset(estimator)
    ns = schedule(n, t_max).astype(np.float64)
    lam = temperature
    s = np.empty(t_max + 1)
    d = np.empty(t_max + 1)
    s[0], d[0] = sigma2_0, 0.0
    g = {}

    def gg(a, b):
        return g[(a, b)] if a >= b else g[(b, a)]

    for k in range(t_max):
        # batch k is drawn from model k, which was fit on batches prev = max(0, k-w) .. k-1
        prev = range(max(0, k - w), k)
        for r in range(max(0, k - w + 1), k):
            g[(k, r)] = sum(ns[q] * gg(q, r) for q in prev) / sum(ns[q] for q in prev)
        g[(k, k)] = d[k] + lam * s[k] / ns[k]
        window = range(max(0, k - w + 1), k + 1)
        total = sum(ns[q] for q in window)
        mu2 = sum(ns[a] * ns[b] * gg(a, b) for a in window for b in window) / total**2
        scatter = sum((ns[q] - 1) * lam * s[q] + ns[q] * g[(q, q)] for q in window)
        s[k + 1] = (scatter - total * mu2) / (total - c)
        d[k + 1] = mu2
    return s, d


def expected_variance_window(t, n, w, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[\sigma^2_t]$ (trace if d > 1) under Window(w): generation t+1 is fit on the batches
    drawn from generations $t-w+1..t$. Pool scatter = within-batch scatter + between-batch
    scatter; with $G_{sr} = E[\bar x_s \bar x_r]$ (source frame) the recursion is linear:
    $G_{ss} = D_s + \lambda v_s/n_s$, $G_{sr} = \sum_{q \in W(s-1)} n_q G_{qr}/N$ for $s > r$,
    $D_{t+1} = \sum_{q,q'} n_q n_{q'} G_{qq'}/N^2$,
    $v_{t+1} = [\sum_q ((n_q-1)\lambda v_q + n_q G_{qq}) - N D_{t+1}]/(N-c)$.
    **Exact** (theory/gaussian.md#p4). Window(1) is Replace."""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    s, _ = _window_path(int(ts.max()), n, int(w), estimator, sigma2_0, temperature)
    return shape_out(s[ts], scalar)


def expected_mean_drift2_window(t, n, w, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E\lVert\mu_t-\mu_0\rVert^2$ under Window(w) (theory/gaussian.md#p4). **Exact.**"""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    _, d = _window_path(int(ts.max()), n, int(w), estimator, sigma2_0, temperature)
    return shape_out(d[ts], scalar)


def truncated_normal_moments(mean, sd, lower, upper):
    r"""Mean and variance of $N(m, s^2)$ truncated to $[l, u]$ (exact): with
    $\alpha = (l-m)/s$, $\beta = (u-m)/s$, $Z = \Phi(\beta)-\Phi(\alpha)$,
    mean $m + s(\varphi(\alpha)-\varphi(\beta))/Z$ and variance
    $s^2[1 + (\alpha\varphi(\alpha)-\beta\varphi(\beta))/Z - ((\varphi(\alpha)-\varphi(\beta))/Z)^2]$
    (Johnson, Kotz & Balakrishnan 1994, section 10.1). See theory/gaussian.md#p8."""
    m, s = float(mean), float(sd)
    lo, hi = float(lower), float(upper)
    if not (np.isfinite(m) and np.isfinite(s) and s > 0):
        raise ValueError(f"mean must be finite and sd finite and > 0, got {mean!r}, {sd!r}")
    if not lo < hi:
        raise ValueError(f"lower must be < upper, got {lower!r}, {upper!r}")
    a, b = (lo - m) / s, (hi - m) / s
    if a > 0:  # mirror into the lower tail, where Phi keeps relative accuracy
        tm, tv = truncated_normal_moments(-m, s, -hi, -lo)
        return -tm, tv
    z = special.ndtr(b) - special.ndtr(a)
    if not z > 0:
        raise ValueError(f"the band [{lower}, {upper}] has no mass under N({mean}, {sd}^2)")
    pa = np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi) if np.isfinite(a) else 0.0
    pb = np.exp(-0.5 * b * b) / np.sqrt(2 * np.pi) if np.isfinite(b) else 0.0
    ra = a * pa if np.isfinite(a) else 0.0
    rb = b * pb if np.isfinite(b) else 0.0
    shift = (pa - pb) / z
    return m + s * shift, s * s * (1 + (ra - rb) / z - shift * shift)


def verified_band_step(mean, variance, n, c, estimator="mle", temperature=1.0):
    r"""One exact step of the band verifier (``VerifiedBand(c)``), source-standardised units.

    Given model t with mean ``mean`` (in source sd from $\mu_0$) and variance ``variance`` (in
    $\sigma_0^2$), generation t+1 is fit on n i.i.d. draws of $N(\text{mean},
    \lambda\,\text{variance})$ truncated to $[-c, c]$, with truncated mean $\tau_1$ and
    variance $\tau_2$. Returns $(E\mu_{t+1}, E\sigma^2_{t+1}, E\mu_{t+1}^2) =
    (\tau_1, \tfrac{n-1}{n-c_e}\tau_2, \tau_1^2 + \tau_2/n)$ ($c_e$ = 0 MLE, 1 unbiased).
    See theory/gaussian.md#p8.
    """
    off = estimator_offset(estimator)
    _check_positive("temperature", temperature)
    _check_positive("c", c)
    if not n >= 2:
        raise ValueError(f"n must be >= 2, got {n!r}")
    tm, tv = truncated_normal_moments(mean, np.sqrt(temperature * variance), -c, c)
    return tm, (n - 1) / (n - off) * tv, tm * tm + tv / n


def _verified_band_path(t_max, n, c, estimator, sigma2_0, temperature):
    ns = schedule(n, t_max)
    s = np.empty(t_max + 1)
    d = np.empty(t_max + 1)
    s[0], d[0] = sigma2_0, 0.0
    m, v = 0.0, 1.0
    for k in range(t_max):
        m, v, d2 = verified_band_step(m, v, ns[k], c, estimator, temperature)
        s[k + 1], d[k + 1] = sigma2_0 * v, sigma2_0 * d2
    return s, d


def expected_variance_verified_band(t, n, c, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E\sigma^2_t$ under ``VerifiedBand(c)`` from the source $N(\mu_0, \sigma_0^2)$:
    :func:`verified_band_step` iterated on the expected parameters. **Exact for t <= 1**,
    approximate beyond (the map is nonlinear; error measured in theory/gaussian.md#p8)."""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    s, _ = _verified_band_path(int(ts.max()), n, c, estimator, sigma2_0, temperature)
    return shape_out(s[ts], scalar)


def expected_mean_drift2_verified_band(t, n, c, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E(\mu_t-\mu_0)^2$ under ``VerifiedBand(c)`` (same map as
    :func:`expected_variance_verified_band`; **exact for t <= 1**, approximate beyond: the
    iteration carries the mean's expectation, not its spread)."""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    _, d = _verified_band_path(int(ts.max()), n, c, estimator, sigma2_0, temperature)
    return shape_out(d[ts], scalar)


# ------------------------------------------------------------------------ P9: smooth verifier
def _check_c(c):
    if isinstance(c, bool) or not np.isscalar(c) or not np.isfinite(c) or not c > 0:
        raise ValueError(f"c must be a finite number > 0, got {c!r}")
    return float(c)


def verified_smooth_step(mean, variance, n, c, estimator="mle", temperature=1.0):
    r"""One exact step of the smooth verifier (``VerifiedSmooth(c)``), source-standardised units.

    A point x is kept with probability $a(x) = e^{-x^2/(2c^2)}$; the model samples
    $N(m, v)$, $v = \lambda\,\text{variance}$, so the kept law is $N(m', v')$ with
    $1/v' = 1/v + 1/c^2$, $m' = v' m / v$ (a product of Gaussians; exact). Returns
    $(E\mu_{t+1}, E\sigma^2_{t+1}, E\mu_{t+1}^2) = (m', \tfrac{n-1}{n-c_e} v', m'^2 + v'/n)$.
    See theory/gaussian.md#p9.
    """
    off = estimator_offset(estimator)
    _check_positive("temperature", temperature)
    c = _check_c(c)
    _check_positive("variance", variance)
    if not n >= 2:
        raise ValueError(f"n must be >= 2, got {n!r}")
    v = temperature * variance
    v_kept = 1.0 / (1.0 / v + 1.0 / c**2)
    m_kept = v_kept * mean / v
    return m_kept, (n - 1) / (n - off) * v_kept, m_kept * m_kept + v_kept / n


def _precision_path(t_max, n, c, estimator, temperature):
    """(E P_t, E P_t^2) for t = 0..t_max in source units (P_0 = 1); inf where not finite."""
    ns = schedule(n, t_max)
    off = estimator_offset(estimator)
    b = 1.0 / c**2
    p1 = np.empty(t_max + 1)
    p2 = np.empty(t_max + 1)
    p1[0] = p2[0] = 1.0
    for s in range(t_max):
        k = ns[s] - 1  # chi-square degrees of freedom
        # E[1/chi2_k] = 1/(k-2), E[1/chi2_k^2] = 1/((k-2)(k-4)) (finite for k > 2, k > 4)
        f1 = (ns[s] - off) / (k - 2) if k > 2 else np.inf
        f2 = (ns[s] - off) ** 2 / ((k - 2) * (k - 4)) if k > 4 else np.inf
        p1[s + 1] = f1 * (p1[s] / temperature + b)
        p2[s + 1] = f2 * (p2[s] / temperature**2 + 2 * b * p1[s] / temperature + b * b)
    return p1, p2


def expected_precision_verified_smooth(t, n, c, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E[1/\sigma^2_t]$ under ``VerifiedSmooth(c)`` (exact for every t; infinite once some
    $n_s \le 3$).

    With $P_t = \sigma_0^2/\sigma^2_t$: $\sigma^2_{t+1} = v'\chi^2_{n-1}/(n-c_e)$ with
    $1/v' = P_t/\lambda + 1/c^2$, so $E[P_{t+1}\mid\mathcal F_t] = \frac{n-c_e}{n-3}
    (P_t/\lambda + 1/c^2)$: linear, iterated exactly from $P_0 = 1$. See theory/gaussian.md#p9.
    """
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    c = _check_c(c)
    p1, _ = _precision_path(int(ts.max()), n, c, estimator, temperature)
    return shape_out(p1[ts] / sigma2_0, scalar)


def second_moment_precision_verified_smooth(t, n, c, estimator="mle", sigma2_0=1.0,
                                            temperature=1.0):
    r"""$E[1/\sigma^4_t]$ under ``VerifiedSmooth(c)`` (exact; infinite once some $n_s \le 5$):
    $E[P_{t+1}^2\mid\mathcal F_t] = \frac{(n-c_e)^2}{(n-3)(n-5)}(P_t/\lambda + 1/c^2)^2$,
    linear in $(E P_t^2, E P_t)$. See theory/gaussian.md#p9."""
    ts, scalar, _, _ = _steps(t, n, estimator, temperature)
    c = _check_c(c)
    _, p2 = _precision_path(int(ts.max()), n, c, estimator, temperature)
    return shape_out(p2[ts] / sigma2_0**2, scalar)


# ---------------------------------------------------------------------- P10: best-of-k curation
def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def max_normal_moments(k):
    r"""Mean $e_k$, variance $v_k$ and excess kurtosis $\kappa_k$ of $M = \max$ of k i.i.d.
    $N(0, 1)$, by float64 quadrature of the density $k\varphi(x)\Phi(x)^{k-1}$ (exact up to
    quadrature error, below 1e-10). $e_1 = 0$, $v_1 = 1$; $e_2 = 1/\sqrt\pi$,
    $v_2 = 1 - 1/\pi$. See theory/gaussian.md#p10."""
    k = _check_k(k)

    def log_density(x):
        return np.log(k) - 0.5 * x * x - 0.5 * np.log(2 * np.pi) + (k - 1) * special.log_ndtr(x)

    def moment(f):
        return integrate.quad(lambda x: f(x) * np.exp(log_density(x)), -np.inf, np.inf,
                              epsabs=1e-13, epsrel=1e-12, limit=200)[0]

    e = moment(lambda x: x)
    v = moment(lambda x: (x - e) ** 2)
    m4 = moment(lambda x: (x - e) ** 4)
    return e, v, m4 / v**2 - 3.0


def curated_linear_step(n, k, sign=1, estimator="mle", temperature=1.0):
    r"""One step of ``CuratedLinear(k, sign)`` from a model $N(\mu, \sigma^2)$: each kept point
    is $\mu + \text{sign}\sqrt\lambda\,\sigma M$ with $M$ the maximum of k standard normals.
    Returns the exact factors $(E[\mu_{t+1} - \mu_t]/\sigma_t,\ E[\sigma^2_{t+1}]/\sigma^2_t)
    = (\text{sign}\sqrt\lambda\,e_k,\ \lambda\tfrac{n-1}{n-c_e}v_k)$ (the sample scatter of
    n i.i.d. maxima has mean $(n-1)v_k$). See theory/gaussian.md#p10."""
    off = estimator_offset(estimator)
    _check_positive("temperature", temperature)
    if sign not in (1, -1) or isinstance(sign, bool):
        raise ValueError(f"sign must be +1 or -1, got {sign!r}")
    if not n >= 2:
        raise ValueError(f"n must be >= 2, got {n!r}")
    e, v, _ = max_normal_moments(k)
    return sign * np.sqrt(temperature) * e, temperature * (n - 1) / (n - off) * v


def expected_variance_curated_linear(t, n, k, estimator="mle", sigma2_0=1.0, temperature=1.0):
    r"""$E\sigma^2_t = \sigma_0^2\prod_{s<t}\lambda\frac{n_s-1}{n_s-c_e}v_k$ under
    ``CuratedLinear(k)`` (exact for every t: the per-generation factor
    $\lambda\,\mathrm{SS}(M_1..M_n)/(n-c_e)$ is i.i.d. and independent of $\sigma_t$).
    See theory/gaussian.md#p10."""
    ts, scalar, ns, off = _steps(t, n, estimator, temperature)
    _, v, _ = max_normal_moments(k)
    step = np.log(temperature * (ns - 1) / (ns - off) * v)
    return shape_out(sigma2_0 * np.exp(cumulative(step, ts)), scalar)


def log_relative_variance_curated_linear(t, n, k):
    r"""$\log(E[\sigma^4_t]/E[\sigma^2_t]^2) = \sum_{s<t}\log(1 + 2/(n_s-1) + \kappa_k/n_s)$
    under ``CuratedLinear(k)`` (exact; $\kappa_k$ the excess kurtosis of the maximum; the relative
    variance of a sample variance is $2/(n-1) + \kappa/n$). For a log-normal this is
    $\mathrm{Var}[\log\sigma^2_t]$: the heavy-tail guard of the E[var] rows.
    See theory/gaussian.md#p10."""
    ts, scalar, ns, _ = _steps(t, n, "mle", 1.0)
    _, _, kappa = max_normal_moments(k)
    return shape_out(cumulative(np.log1p(2 / (ns - 1) + kappa / ns), ts), scalar)

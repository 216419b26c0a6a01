"""Self-tests of collapse_lab.theory.gaussian: identities, limits, and a NumPy Monte Carlo.

The Monte Carlo here never touches the JAX simulator. Stochastic assertions use z-scores across
independent replicates with |z| < 4.5 (two-sided false-failure rate 7e-6 per assertion, about
1e-4 for the file).
"""

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

from collapse_lab.theory import gaussian as th

THEORY_DIR = Path(__file__).resolve().parents[1] / "collapse_lab" / "theory"
ALLOWED = {"numpy", "scipy", "math", "functools", "itertools", "typing", "__future__",
           "dataclasses", "warnings", "collections"}


def test_theory_imports_nothing_from_the_simulator():
    """Every theory module imports only NumPy/SciPy/stdlib and other theory modules."""
    files = sorted(THEORY_DIR.glob("*.py"))
    assert files
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in ALLOWED, (path.name, alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    assert node.module.split(".")[0] in ALLOWED, (path.name, node.module)
                else:
                    assert node.level == 1, (path.name, node.module)  # within theory/


@pytest.mark.parametrize("est", ["mle", "unbiased"])
def test_generation_zero_identities(est):
    assert th.expected_variance(0, 10, est, 2.5) == 2.5
    assert th.expected_log_variance(0, 10, est, 2.5) == pytest.approx(np.log(2.5))
    assert th.variance_of_log_variance(0, 10) == 0
    assert th.expected_mean_drift2(0, 10, est) == 0
    assert th.expected_w2_squared(0, 10, est) == pytest.approx(0)
    assert th.expected_sigma(0, 10, est, 4.0) == pytest.approx(2.0)
    assert th.expected_variance_accumulate(0, 10, est, 3.0) == 3.0
    assert th.expected_variance_fresh(0, 10, 0.3, est, 3.0) == 3.0


@pytest.mark.parametrize("n", [2, 3, 10, 57])
@pytest.mark.parametrize("est,c", [("mle", 0), ("unbiased", 1)])
def test_one_generation_laws(n, est, c):
    # sigma^2_1 = chi^2_{n-1} / (n - c)
    for eps in (0.1, 0.5, 1.3):
        assert th.variance_probability_below(eps, 1, n, est) == pytest.approx(
            stats.chi2.cdf(eps * (n - c), n - 1), abs=1e-9)
    mean_log = special.digamma((n - 1) / 2) + np.log(2) - np.log(n - c)
    assert th.expected_log_variance(1, n, est) == pytest.approx(mean_log)
    assert th.expected_variance(1, n, est) == pytest.approx((n - 1) / (n - c))
    med = stats.chi2.median(n - 1) / (n - c)
    assert th.median_variance(1, n, est) == pytest.approx(med, rel=1e-8)


def test_closed_forms_fixed_n():
    n, t = 10, np.arange(0, 60)
    np.testing.assert_allclose(th.expected_variance(t, n, "mle"), (1 - 1 / n) ** t)
    np.testing.assert_allclose(th.expected_variance(t, n, "unbiased"), 1.0)
    np.testing.assert_allclose(th.expected_mean_drift2(t, n, "mle"), 1 - (1 - 1 / n) ** t)
    np.testing.assert_allclose(th.expected_mean_drift2(t, n, "unbiased"), t / n)
    # G12: temperature multiplies E[sigma^2] by lambda^t and shifts E[log] by t log lambda
    np.testing.assert_allclose(th.expected_variance(t, n, "mle", 1.0, 0.7),
                               (0.7 * (1 - 1 / n)) ** t)
    np.testing.assert_allclose(th.expected_log_variance(t, n, "mle", 1.0, 0.7),
                               th.expected_log_variance(t, n, "mle") + t * np.log(0.7))
    # catalogue note: unbiased n=10 t=50 median = 0.00328 sigma_0^2
    assert th.median_variance(50, 10, "unbiased") == pytest.approx(0.00328, rel=2e-3)


def test_schedule_equals_product_of_steps():
    sched = [5, 8, 13, 21]
    v = th.expected_variance(4, sched, "mle")
    assert v == pytest.approx(np.prod([(m - 1) / m for m in sched]))
    lv = th.expected_log_variance(4, sched, "unbiased")
    want = sum(special.digamma((m - 1) / 2) + np.log(2) - np.log(m - 1) for m in sched)
    assert lv == pytest.approx(want)
    with pytest.raises(ValueError, match="n"):
        th.expected_variance(5, sched)


def test_accumulate_limits():
    # MLE: prod_{k=1}^T (1 - 1/(n k^2)) -> sin(pi/sqrt n)/(pi/sqrt n)  (catalogue X7)
    n = 10
    T = 4000
    v = th.expected_variance_accumulate(T, n, "mle")
    x = np.pi / np.sqrt(n)
    assert v == pytest.approx(np.sin(x) / x, rel=1e-3)
    assert v == pytest.approx(0.84344, abs=2e-4)
    assert th.expected_variance_accumulate(T, n, "unbiased") == pytest.approx(0.93514, abs=2e-4)
    prod = np.prod([1 - 1 / (n * k * k) for k in range(1, 11)])
    assert th.expected_variance_accumulate(10, n, "mle") == pytest.approx(prod)
    assert th.expected_mean_drift2_accumulate(T, n, "mle") <= np.pi**2 / (6 * n)


@pytest.mark.parametrize("est", ["mle", "unbiased"])
def test_fresh_stationary_and_alpha_zero(est):
    n, alpha = 20, 0.1
    s_inf = th.expected_variance_fresh(400, n, alpha, est)
    d_inf = th.expected_mean_drift2_fresh(400, n, alpha, est)
    s_star, d_star = th.stationary_fresh(n, alpha, est)
    assert s_inf == pytest.approx(s_star, rel=1e-9)
    assert d_inf == pytest.approx(d_star, rel=1e-9)
    if est == "unbiased":
        assert s_star == pytest.approx(1.3214, abs=1e-4)
    t = np.arange(30)
    np.testing.assert_allclose(th.expected_variance_fresh(t, n, 0.0, est),
                               th.expected_variance(t, n, est))
    np.testing.assert_allclose(th.expected_mean_drift2_fresh(t, n, 0.0, est),
                               th.expected_mean_drift2(t, n, est))


def test_log_det_reduces_to_1d():
    t = np.arange(20)
    np.testing.assert_allclose(th.expected_log_det(t, 7, 1, "mle"),
                               th.expected_log_variance(t, 7, "mle"))
    np.testing.assert_allclose(th.variance_of_log_det(t, 7, 1), th.variance_of_log_variance(t, 7))


def test_numpy_monte_carlo_agrees():
    """Independent NumPy simulation of the literal chain (float64), 40k chains."""
    rng = np.random.default_rng(123)
    C, n, T, dim = 40_000, 6, 8, 1
    mu = np.zeros(C)
    var = np.ones(C)
    for _ in range(T):
        x = rng.normal(mu[:, None], np.sqrt(var)[:, None], size=(C, n))
        mu = x.mean(axis=1)
        var = ((x - mu[:, None]) ** 2).sum(axis=1) / (n - 1)
    del dim
    lv = np.log(var)
    z = (lv.mean() - th.expected_log_variance(T, n, "unbiased")) / (lv.std() / np.sqrt(C))
    assert abs(z) < 4.5
    for eps in (0.1, 0.5):
        p = th.variance_probability_below(eps, T, n, "unbiased")
        z = (np.mean(var < eps) - p) / np.sqrt(p * (1 - p) / C)
        assert abs(z) < 4.5
    d = mu**2
    z = (d.mean() - th.expected_mean_drift2(T, n, "unbiased")) / (d.std() / np.sqrt(C))
    assert abs(z) < 4.5


def test_clt_approximation_near_centre():
    """Exact law vs its normal approximation (catalogue G6a): close at the centre for large t."""
    t, n = 200, 20
    m = th.expected_log_variance(t, n, "mle")
    s = np.sqrt(th.variance_of_log_variance(t, n))
    assert th.log_variance_cdf(m, t, n, "mle") == pytest.approx(0.5, abs=0.01)
    assert th.log_variance_cdf(m + s, t, n, "mle") == pytest.approx(stats.norm.cdf(1), abs=0.01)


def test_bad_inputs():
    with pytest.raises(ValueError, match="estimator"):
        th.expected_variance(3, 10, "biased")
    with pytest.raises(ValueError, match="n must be"):
        th.expected_variance(3, 1)
    with pytest.raises(ValueError, match="alpha"):
        th.expected_variance_fresh(3, 10, 1.5)
    with pytest.raises(ValueError, match="t must"):
        th.expected_variance(-1, 10)


# ------------------------------------------------------------------ properties (hypothesis)
# Deterministic identities and orderings of the closed forms, over random (n, t, alpha,
# estimator); derandomised by the "ci" profile in conftest.py. No stochastic assertion here.
ESTIMATORS = st.sampled_from(["mle", "unbiased"])


@given(n=st.integers(3, 200), t=st.integers(1, 60), est=ESTIMATORS, alpha=st.floats(0.0, 1.0))
def test_fresh_recursion_matches_its_closed_forms(n, t, est, alpha):
    """X6: alpha with no fresh sample is Replace (G1, G7); alpha = 1 refits the source every
    generation: E sigma^2_t = sigma_0^2 (n-1)/(n-c), D_t = sigma_0^2 / n for t >= 1."""
    c = 0 if est == "mle" else 1
    s = th.expected_variance_fresh(t, n, alpha, est, 2.0)
    d = th.expected_mean_drift2_fresh(t, n, alpha, est, 2.0)
    if np.rint(alpha * n) == 0:
        assert s == pytest.approx(th.expected_variance(t, n, est, 2.0), rel=1e-10)
        assert d == pytest.approx(th.expected_mean_drift2(t, n, est, 2.0), rel=1e-10)
    assert th.expected_variance_fresh(t, n, 1.0, est, 2.0) == pytest.approx(
        2.0 * (n - 1) / (n - c), rel=1e-12
    )
    assert th.expected_mean_drift2_fresh(t, n, 1.0, est, 2.0) == pytest.approx(2.0 / n, rel=1e-12)


@given(n=st.integers(2, 200), t=st.integers(0, 80))
def test_accumulate_recursion_matches_the_mle_product(n, t):
    """X7, MLE: E sigma^2_t = sigma_0^2 prod_{k=1}^t (1 - 1/(n k^2)) (fixed n)."""
    product = np.prod([1 - 1 / (n * k * k) for k in range(1, t + 1)])
    assert th.expected_variance_accumulate(t, n, "mle", 1.5) == pytest.approx(
        1.5 * product, rel=1e-10
    )


@given(n=st.integers(3, 100), alpha=st.floats(0.02, 1.0), est=ESTIMATORS)
def test_stationary_fresh_is_the_fixed_point_of_the_recursion(n, alpha, est):
    """The stationary pair (s*, D*) is mapped to itself by one step of the X6 recursion (written
    out here from theory/gaussian.md#x6), and the recursion converges to it."""
    nr = float(np.rint(alpha * n))
    if nr == 0:
        return  # no stationary regime without fresh data (covered by the Replace identities)
    c = 0 if est == "mle" else 1
    s_star, d_star = th.stationary_fresh(n, alpha, est, 1.0)
    ns = n - nr
    group = nr + ns * s_star
    s_next = ((1 - 1 / n) * group + (nr * ns / n) * d_star) / (n - c)
    d_next = (ns / n) ** 2 * d_star + group / n**2
    assert s_next == pytest.approx(s_star, rel=1e-10)
    assert d_next == pytest.approx(d_star, rel=1e-10)
    t_far = 4000
    assert th.expected_variance_fresh(t_far, n, alpha, est) == pytest.approx(s_star, rel=1e-6)


@given(n=st.integers(3, 100), t=st.integers(1, 50), est=ESTIMATORS)
def test_monotone_in_t_and_n(n, t, est):
    """More generations: lower E log sigma^2, larger Var log sigma^2, more mass below eps; more
    samples: the reverse. MLE E sigma^2 falls with t and rises with n."""
    lv = th.expected_log_variance
    assert lv(t + 1, n, est) < lv(t, n, est)
    assert lv(t, n + 1, est) > lv(t, n, est)
    assert th.variance_of_log_variance(t + 1, n) > th.variance_of_log_variance(t, n)
    assert th.variance_of_log_variance(t, n + 1) < th.variance_of_log_variance(t, n)
    assert th.variance_probability_below(0.5, t + 1, n, est) >= th.variance_probability_below(
        0.5, t, n, est
    ) - 1e-12
    if est == "mle":
        assert th.expected_variance(t + 1, n, "mle") < th.expected_variance(t, n, "mle")
        assert th.expected_variance(t, n + 1, "mle") > th.expected_variance(t, n, "mle")


@given(n=st.integers(8, 60), t=st.integers(0, 30), dim=st.integers(2, 6), est=ESTIMATORS)
def test_log_det_is_additive_over_dimensions(n, t, dim, est):
    """Bartlett: log det of a Wishart fit is a sum of independent log chi-squares with n - i
    degrees of freedom, i = 1..d. So d -> d + 1 adds one 1-D log-variance term with n1 = n - d
    points (mean and variance), shifted by t log(n1 / (n - c)) for the common divisor n - c."""
    c = 0 if est == "mle" else 1
    step_mean = th.expected_log_det(t, n, dim + 1, est) - th.expected_log_det(t, n, dim, est)
    n1 = n - dim  # a 1-D MLE fit on n1 points has log step psi((n1-1)/2) + log 2 - log n1
    want = th.expected_log_variance(t, n1, "mle") + t * np.log(n1 / (n - c))
    assert step_mean == pytest.approx(want, abs=1e-9)
    step_var = th.variance_of_log_det(t, n, dim + 1) - th.variance_of_log_det(t, n, dim)
    assert step_var == pytest.approx(th.variance_of_log_variance(t, n1), abs=1e-9)


@given(t=st.integers(1, 40), est=ESTIMATORS, sigma2_0=st.floats(0.1, 10.0))
def test_large_n_limit_is_the_source(t, est, sigma2_0):
    """n -> infinity: no drift, no collapse. At n = 10^6 every moment is within O(t/n) of its
    generation-0 value. (At n ~ 10^9 the W2 formula's cancellation of E sigma against sigma_0
    loses ~1e-6 absolute to log-gamma rounding, so the limit is taken at 10^6.)"""
    n = 10**6
    bound = 2 * t * sigma2_0 / n
    assert abs(th.expected_variance(t, n, est, sigma2_0) - sigma2_0) <= bound
    assert abs(th.expected_log_variance(t, n, est, sigma2_0) - np.log(sigma2_0)) <= 3 * t / n
    assert 0 <= th.expected_mean_drift2(t, n, est, sigma2_0) <= bound
    assert -1e-9 <= th.expected_w2_squared(t, n, est, sigma2_0) <= bound
    assert abs(th.expected_variance_fresh(t, n, 0.3, est, sigma2_0) - sigma2_0) <= bound


# ------------------------------------------------------ independent NumPy Monte Carlo checks
def test_numpy_monte_carlo_mle_moments_and_w2():
    """The MLE formulas (G1, G3, G4, G5, G6, G7, G9) against a literal NumPy chain (float64,
    40,000 independent chains, n = 6, 8 generations; no JAX). z across chains, |z| < 4.5 on 8
    statistics: false-failure rate below 6e-5."""
    rng = np.random.default_rng(321)
    chains, n, T = 40_000, 6, 8
    mu = np.zeros(chains)
    var = np.ones(chains)
    for _ in range(T):
        x = rng.normal(mu[:, None], np.sqrt(var)[:, None], size=(chains, n))
        mu = x.mean(axis=1)
        var = ((x - mu[:, None]) ** 2).mean(axis=1)  # MLE
    lv = np.log(var)
    w2 = mu**2 + (np.sqrt(var) - 1.0) ** 2  # W2^2 between 1-D Gaussians
    checks = [
        (var, th.expected_variance(T, n, "mle")),
        (np.sqrt(var), th.expected_sigma(T, n, "mle")),
        (lv, th.expected_log_variance(T, n, "mle")),
        ((lv - lv.mean()) ** 2 * chains / (chains - 1), th.variance_of_log_variance(T, n)),
        (var < 0.1, th.variance_probability_below(0.1, T, n, "mle")),
        (var < 0.5, th.variance_probability_below(0.5, T, n, "mle")),
        (mu**2, th.expected_mean_drift2(T, n, "mle")),
        (w2, th.expected_w2_squared(T, n, "mle")),
    ]
    for i, (sample, predicted) in enumerate(checks):
        sample = np.asarray(sample, dtype=np.float64)
        z = (sample.mean() - predicted) / (sample.std(ddof=1) / np.sqrt(chains))
        assert abs(z) < 4.5, (i, predicted, sample.mean(), z)


@pytest.mark.parametrize("est", ["mle", "unbiased"])
def test_numpy_monte_carlo_multivariate_log_det(est):
    """M2/M3: E and Var of log det Sigma_t for a literal 3-D NumPy chain (20,000 chains, n = 8,
    5 generations, a correlated source). |z| < 4.5 on 2 statistics per estimator: false-failure
    rate below 3e-5 for the test."""
    rng = np.random.default_rng(99 if est == "mle" else 100)
    chains, n, T, d = 20_000, 8, 5, 3
    c = 0 if est == "mle" else 1
    cov0 = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    mean = np.zeros((chains, d))
    chol = np.broadcast_to(np.linalg.cholesky(cov0), (chains, d, d))
    for _ in range(T):
        x = mean[:, None, :] + np.einsum("cij,cnj->cni", chol, rng.standard_normal((chains, n, d)))
        mean = x.mean(axis=1)
        dev = x - mean[:, None, :]
        cov = np.einsum("cni,cnj->cij", dev, dev) / (n - c)
        chol = np.linalg.cholesky(cov)
    logdet = np.linalg.slogdet(cov)[1]
    log_det_0 = np.linalg.slogdet(cov0)[1]
    predicted_mean = th.expected_log_det(T, n, d, est, log_det_0)
    z = (logdet.mean() - predicted_mean) / (logdet.std(ddof=1) / np.sqrt(chains))
    assert abs(z) < 4.5, (logdet.mean(), predicted_mean, z)
    sq = (logdet - logdet.mean()) ** 2
    z = (sq.mean() - th.variance_of_log_det(T, n, d)) / (sq.std(ddof=1) / np.sqrt(chains))
    assert abs(z) < 4.5, (sq.mean(), th.variance_of_log_det(T, n, d), z)


@pytest.mark.parametrize("est,c", [("mle", 0), ("unbiased", 1)])
def test_fixed_real_recursion_against_numpy_monte_carlo(est, c):
    """P5: a NumPy simulation of FixedReal (a real set of 3 points drawn once, 7 tempered model
    draws per generation, 40,000 chains) against the exact recursions at t = 1, 3, 6; |z| < 4.5
    per assertion (see the module docstring). The negative control (alpha = 0.4: 4 real points)
    is rejected at generation 6 for the variance."""
    rng = np.random.default_rng(7)
    chains, n, alpha, lam, mu0, var0 = 40_000, 10, 0.3, 0.8, 1.0, 2.0
    m = 3
    real = rng.normal(mu0, np.sqrt(var0), (chains, m))
    mu, var = np.full(chains, mu0), np.full(chains, var0)
    for t in range(1, 7):
        y = rng.normal(mu[:, None], np.sqrt(lam * var)[:, None], (chains, n - m))
        pooled = np.concatenate([real, y], axis=1)
        mu = pooled.mean(axis=1)
        var = ((pooled - mu[:, None]) ** 2).sum(axis=1) / (n - c)
        if t in (1, 3, 6):
            for sample, theory in (
                (var, th.expected_variance_fixed_real(t, n, alpha, est, var0, lam)),
                ((mu - mu0) ** 2, th.expected_mean_drift2_fixed_real(t, n, alpha, est, var0, lam)),
            ):
                z = (sample.mean() - theory) / (sample.std() / np.sqrt(chains))
                assert abs(z) < 4.5, (t, z)
    wrong = th.expected_variance_fixed_real(6, n, 0.4, est, var0, lam)
    assert abs(var.mean() - wrong) / (var.std() / np.sqrt(chains)) > 4.5
    # alpha = 0 is replace, exactly
    np.testing.assert_allclose(th.expected_variance_fixed_real([1, 5], n, 0.0, est, var0, lam),
                               th.expected_variance([1, 5], n, est, var0, lam), rtol=1e-12)

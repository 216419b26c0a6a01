"""Self-tests of collapse_lab.theory.gaussian: identities, limits, and a NumPy Monte Carlo.

The Monte Carlo here never touches the JAX simulator. Stochastic assertions use z-scores across
independent replicates with |z| < 4.5 (two-sided false-failure rate 7e-6 per assertion, about
1e-4 for the file).
"""

import ast
from pathlib import Path

import numpy as np
import pytest
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

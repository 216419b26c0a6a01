"""LinearRegression family: validation, fits, pooling, exact path = sample path in law.

Stochastic assertions: one two-sample KS test at false-failure rate 1e-4 (fixed seeds).
"""

import re
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import collapse_lab as cl

ROOT = Path(__file__).resolve().parent.parent
COV = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.2], [0.0, 0.2, 0.5]])


@pytest.fixture(scope="module")
def fam():
    return cl.LinearRegression(3, 0.5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dim": 0}, "dim"),
        ({"dim": 2.5}, "dim"),
        ({"noise_std": 0.0}, "noise_std"),
        ({"noise_std": float("nan")}, "noise_std"),
        ({"ridge": -1.0}, "ridge"),
        ({"ridge": 0.1}, "ridge"),  # ridge > 0 with estimator="ols"
        ({"estimator": "ridge"}, "ridge"),  # estimator="ridge" with ridge = 0
        ({"estimator": "lasso"}, "estimator"),
    ],
)
def test_bad_family_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cl.LinearRegression(**{"dim": 3, **kwargs})


@pytest.mark.parametrize(
    "weights,cov,match",
    [
        ([1.0, np.nan, 0.0], None, "weights"),
        ([1.0, 2.0], None, "weights"),
        ([1.0, 2.0, 3.0], -1.0, "input_cov"),
        ([1.0, 2.0, 3.0], np.diag([1.0, -1.0, 1.0]), "positive definite"),
        ([1.0, 2.0, 3.0], np.array([[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]]), "symmetric"),
        ([1.0, 2.0, 3.0], np.eye(2), "input_cov"),
    ],
)
def test_bad_source(fam, weights, cov, match):
    with pytest.raises(ValueError, match=match):
        fam.source(weights, cov)


def test_ols_needs_d_plus_2_samples(fam):
    with pytest.raises(ValueError, match="num_samples"):
        cl.run_chains(jax.random.key(0), fam, fam.source(1.0), num_chains=2, num_generations=2,
                      num_samples=4)
    ridge = cl.LinearRegression(3, 0.5, ridge=0.1, estimator="ridge")
    ridge.validate_num_samples(np.asarray([1, 2]))  # ridge fits any n >= 1


def _fit_numpy(x, y, ridge=0.0):
    n, d = x.shape
    return np.linalg.solve(x.T @ x + n * ridge * np.eye(d), x.T @ y)


@pytest.mark.parametrize("ridge", [0.0, 0.3])
def test_estimate_is_least_squares_and_merge_pools(ridge):
    fam = (cl.LinearRegression(3, 0.5) if ridge == 0
           else cl.LinearRegression(3, 0.5, ridge=ridge, estimator="ridge"))
    src = fam.source([1.0, -0.5, 0.2], COV)
    ka, kb = jax.random.key(1), jax.random.key(2)
    xa, ya = fam.sample(ka, src, 9)
    xb, yb = fam.sample(kb, src, 7)
    draw = eqx.filter_jit(fam.sample_stats)
    pooled = fam.merge(draw(ka, src, 9), draw(kb, src, 7))
    fit = eqx.filter_jit(fam.estimate)(None, pooled, src)
    x = np.concatenate([np.asarray(xa), np.asarray(xb)]).astype(np.float64)
    y = np.concatenate([np.asarray(ya), np.asarray(yb)]).astype(np.float64)
    w = _fit_numpy(x, y, ridge)
    np.testing.assert_allclose(np.asarray(fam.absolute_weights(fit)), w, rtol=2e-4, atol=2e-5)
    rss = np.sum((y - x @ w) ** 2) / len(y)
    np.testing.assert_allclose(float(fit.residual), rss, rtol=2e-3, atol=1e-5)
    # empty_stats is the identity of merge
    same = fam.merge(pooled, fam.empty_stats(src))
    for a, b in zip(jax.tree_util.tree_leaves(same), jax.tree_util.tree_leaves(pooled)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_masked_sample_stats_count_only_the_first_n(fam):
    src = fam.source(1.0)
    full = fam.sample_stats(jax.random.key(3), src, 12)
    masked = fam.sample_stats(jax.random.key(3), src, 12, jnp.asarray(8))
    x, y = fam.sample(jax.random.key(3), src, 12)
    z = np.asarray(x)[:8]  # identity input covariance: whitened = absolute
    np.testing.assert_allclose(np.asarray(masked.xtx), z.T @ z, rtol=1e-5, atol=1e-5)
    assert float(masked.count) == 8 and float(full.count) == 12


def test_exact_and_sample_paths_agree_in_law():
    """Two-sample KS on independent chains at t = 3 (false failure 1e-4 per statistic, 2
    statistics: 2e-4)."""
    fam = cl.LinearRegression(3, 0.5)
    src = fam.source([1.0, -0.5, 0.2], COV)
    kw = dict(num_chains=3000, num_generations=3, num_samples=7)
    a = cl.run_chains(jax.random.key(10), fam, src, method="sample", **kw)
    b = cl.run_chains(jax.random.key(11), fam, src, method="exact", **kw)
    for obs in ("test_error", "train_residual"):
        p = stats.ks_2samp(a.observables[obs][:, 3], b.observables[obs][:, 3]).pvalue
        assert p > 1e-4, (obs, p)


def test_readme_regression_example_runs():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"### Linear regression.*?```python\n(.*?)```", text, re.S).group(1)
    exec(compile("import jax\nimport collapse_lab as cl\n" + block, "README.md", "exec"), {})

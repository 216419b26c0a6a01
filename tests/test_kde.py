"""KDE family: validation, bandwidth rules against scipy, the ring buffer, the sampling law.

Stochastic assertions: one KS test against the exact mixture CDF at false-failure rate 1e-4.
"""

import re
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest
from scipy import stats

import collapse_lab as cl

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"bandwidth": -1.0}, "bandwidth"),
        ({"bandwidth": float("nan")}, "bandwidth"),
        ({"bandwidth": "median"}, "bandwidth"),
        ({"bandwidth": 0.5, "bandwidth_scale": 2.0}, "bandwidth_scale"),
        ({"bandwidth_scale": 0.0}, "bandwidth_scale"),
        ({"dim": 0}, "dim"),
        ({"kernel": "epanechnikov"}, "kernel"),
        ({"max_points": 1}, "max_points"),
        ({"accumulate_capacity": 0}, "accumulate_capacity"),
    ],
)
def test_bad_family_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cl.KDE(**kwargs)


def test_bad_source_and_sizes():
    fam = cl.KDE(0.5, max_points=20)
    with pytest.raises(ValueError, match="cov"):
        fam.source(0.0, -1.0)
    with pytest.raises(ValueError, match="mean"):
        fam.source(np.nan, 1.0)
    with pytest.raises(ValueError, match="positive definite"):
        cl.KDE(0.5, dim=2).source(0.0, np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="num_samples"):
        cl.run_chains(jax.random.key(0), fam, fam.source(), num_chains=2, num_generations=2,
                      num_samples=21)
    with pytest.raises(ValueError, match="accumulate_capacity"):
        cl.run_chains(jax.random.key(0), fam, fam.source(), policy=cl.Accumulate(),
                      num_chains=2, num_generations=2, num_samples=10)
    with pytest.raises(ValueError, match="source"):
        cl.run_chains(jax.random.key(0), cl.KDE(0.5, max_points=30), fam.source(),
                      num_chains=2, num_generations=2, num_samples=10)


@pytest.mark.parametrize("rule,dim", [("silverman", 1), ("scott", 1), ("silverman", 2),
                                      ("scott", 3)])
def test_rule_matches_scipy_gaussian_kde(rule, dim):
    fam = cl.KDE(rule, dim=dim, max_points=40)
    src = fam.source(np.arange(dim, dtype=float), 2.0)
    key = jax.random.key(4)
    x = np.asarray(fam.sample(key, src, 40), dtype=np.float64)
    fit = eqx.filter_jit(lambda k, p: fam.estimate(None, fam.sample_stats(k, p, 40), p))(key, src)
    ref = stats.gaussian_kde(x.T, bw_method=rule)
    kcov = np.asarray(fit.kernel, np.float64) @ np.asarray(fit.kernel, np.float64).T
    np.testing.assert_allclose(kcov, np.atleast_2d(ref.covariance), rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(fit.center), x.mean(0), rtol=1e-5, atol=1e-5)


def test_kde_samples_follow_the_mixture_law():
    """One-sample KS of 4,000 draws from a fitted 1-D KDE against its exact CDF (1e-4)."""
    fam = cl.KDE(0.4, max_points=30)
    src = fam.source(1.0, 2.0)
    fit = eqx.filter_jit(lambda k, p: fam.estimate(None, fam.sample_stats(k, p, 30), p))(
        jax.random.key(1), src)
    pts = np.asarray(fit.center) + np.asarray(fit.offsets)[:, 0]
    draws = np.asarray(fam.sample(jax.random.key(2), fit, 4000))[:, 0]
    cdf = lambda v: stats.norm.cdf((np.asarray(v)[:, None] - pts[None, :]) / 0.4).mean(1)  # noqa: E731
    assert stats.kstest(draws, cdf).pvalue > 1e-4


def test_ring_buffer_accumulates_then_slides():
    fam = cl.KDE(0.5, max_points=10, accumulate_capacity=30)
    src = fam.source()
    r = cl.run_chains(jax.random.key(0), fam, src, policy=cl.Accumulate(), num_chains=2,
                      num_generations=5, num_samples=10)
    assert r.final_params.offsets.shape == (2, 30, 1)
    np.testing.assert_array_equal(np.asarray(r.final_pool.cursor), 50)
    np.testing.assert_array_equal(np.asarray(r.final_params.count), 30.0)
    # the predictions stop where the pool starts overwriting (3 x 10 = capacity)
    table = cl.check(r)
    assert set(table["generation"]) <= {1, 2, 3} and len(table) > 0
    # generation 0 is the N(0, 1) source itself: no kernel, Gaussian tails
    obs = {k: v[:, 0] for k, v in r.observables.items()}
    np.testing.assert_allclose(obs["variance"], 1.0)
    np.testing.assert_allclose(obs["bandwidth"], 0.0)
    np.testing.assert_allclose(obs["tail_mass_3sigma"], 2 * stats.norm.sf(3), rtol=1e-5)
    np.testing.assert_allclose(r.observables["bandwidth"][:, 1:], 0.5, rtol=1e-6)


def test_readme_kde_example_runs():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"### Kernel density estimation.*?```python\n(.*?)```", text, re.S).group(1)
    exec(compile("import jax\nimport collapse_lab as cl\n" + block, "README.md", "exec"), {})


def test_kde_policies_window_fixed_real_refused_and_others_checked_at_generation_one():
    """Window / FixedReal need fixed-shape statistics (KDE's merge concatenates point sets):
    a clear ValueError before tracing, not a pytree error. Mix and Refresh runs get the replace
    rows at generation 1 only (fit on source draws); before, every generation's replace rows
    were applied and correct chains failed them. check() at 1e-3 (false-failure rate 1e-3)."""
    fam = cl.KDE("silverman", dim=1)
    src = fam.source(0.0, 1.0)
    for policy in (cl.Window(3), cl.FixedReal(0.3)):
        with pytest.raises(ValueError, match="fixed-shape"):
            cl.run_chains(jax.random.key(0), fam, src, policy=policy, num_chains=4,
                          num_generations=3, num_samples=10)
    res = cl.run_chains(jax.random.key(1), fam, src, policy=cl.Mix(0.2), num_chains=2000,
                        num_generations=8, num_samples=10)
    table = cl.check(res, 1e-3)
    assert len(table) > 0 and set(table["generation"]) == {1}
    assert table["pass"].all(), cl.format_table(table)

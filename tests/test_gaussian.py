"""Deterministic behaviour of the Gaussian family and the runner: contract, validation, invariance."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import collapse_lab as cl
from collapse_lab import chain
from collapse_lab._random import normals, uniforms

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fam():
    return cl.Gaussian(dim=1, estimator="mle")


@pytest.fixture(scope="module")
def fam3():
    return cl.Gaussian(dim=3, estimator="unbiased")


def _src3(fam3):
    a = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    return fam3.source([1.0, -2.0, 0.5], a)


# ------------------------------------------------------------------------------------ contract
@pytest.mark.parametrize("method", ["sample", "exact"])
@pytest.mark.parametrize("dim", [1, 3])
def test_shapes_dtypes_finite(method, dim, fam, fam3):
    f = fam if dim == 1 else fam3
    src = f.source() if dim == 1 else _src3(fam3)
    r = cl.run_chains(jax.random.key(1), f, src, num_chains=16, num_generations=7,
                      num_samples=12, method=method)
    expected = {"mean", "variance", "log_variance", "mean_drift2", "w2_squared",
                "tail_mass_3sigma", "tail_mass_5sigma"} | ({"log_det"} if dim > 1 else set())
    assert set(r.observables) == expected
    for name, arr in r.observables.items():
        want = (16, 8) + ((dim,) if name == "mean" and dim > 1 else ())
        assert arr.shape == want, name
        assert arr.dtype == np.float32
        assert np.all(np.isfinite(arr)), name
    # generation 0 is the source itself
    assert np.allclose(r.observables["mean_drift2"][:, 0], 0)
    assert np.allclose(r.observables["w2_squared"][:, 0], 0, atol=1e-5)
    assert r.config.num_samples.tolist() == [12] * 7


def test_source_observables(fam3):
    src = _src3(fam3)
    obs = fam3.observe(src, src)
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    assert np.isclose(obs["variance"], np.trace(cov), rtol=1e-5)
    assert np.isclose(obs["log_det"], np.log(np.linalg.det(cov)), rtol=1e-4)
    mean, c = fam3.absolute(src)
    assert np.allclose(c, cov, atol=1e-5)
    assert np.allclose(mean, [1.0, -2.0, 0.5])


@pytest.mark.parametrize("method", ["sample_stats", "exact_stats"])
def test_jit_equals_nojit_and_same_key(method, fam3):
    src = _src3(fam3)
    key = jax.random.key(3)
    fn = getattr(fam3, method)
    args = (key, src, 20) if method == "exact_stats" else (key, src, 20, None)
    eager = fn(*args)
    jitted = jax.jit(fn, static_argnums=(2,) if method == "sample_stats" else ())(*args)
    again = fn(*args)
    for a, b, c in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted),
                       jax.tree_util.tree_leaves(again)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
        np.testing.assert_array_equal(a, c)


def test_merge_matches_direct_statistics(fam3):
    """Pooled statistics equal those of the concatenated data (Chan update on the log scale)."""
    src = _src3(fam3)
    x = np.asarray(fam3.sample(jax.random.key(0), src, 40), dtype=np.float64)
    ka, kb = jax.random.split(jax.random.key(9))
    sa = fam3.sample_stats(ka, src, 15)
    sb = fam3.sample_stats(kb, src, 25)
    merged = fam3.merge(fam3.merge(fam3.empty_stats(src), sa), sb)
    assert float(merged.count) == 40
    # reconstruct absolute mean / scatter and compare with an independent re-statement
    f = np.asarray(merged.shape, dtype=np.float64)
    assert np.allclose(f, np.tril(f))
    cov_m2 = np.exp(2 * float(merged.log_scale)) * f @ f.T
    ya = _draws(fam3, ka, src, 15)
    yb = _draws(fam3, kb, src, 25)
    y = np.concatenate([ya, yb])
    np.testing.assert_allclose(merged.mean, y.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cov_m2, (y - y.mean(0)).T @ (y - y.mean(0)), rtol=1e-3, atol=1e-4)
    del x


def _draws(fam, key, params, n):
    """The same draws sample_stats makes, in the source's standardised frame."""
    z = np.asarray(normals(uniforms(key, n, (fam.dim,), jnp.float32)), dtype=np.float64)
    k = np.asarray(params.shape, dtype=np.float64)
    return np.asarray(params.mean) + np.exp(float(params.log_scale)) * z @ k.T


def test_chain_invariance_batch_and_chunks(fam):
    """Chain i is bit-identical among 8 or 1024 chains and with the generations chunked."""
    src = fam.source(2.0, 3.0)
    kw = dict(num_generations=30, num_samples=10, method="sample")
    small = cl.run_chains(jax.random.key(7), fam, src, num_chains=8, **kw)
    big = cl.run_chains(jax.random.key(7), fam, src, num_chains=1024, **kw)
    chunked = cl.run_chains(jax.random.key(7), fam, src, num_chains=8, chunk_size=10, **kw)
    for name in small.observables:
        np.testing.assert_array_equal(small.observables[name], big.observables[name][:8])
        np.testing.assert_array_equal(small.observables[name], chunked.observables[name])


def test_exact_invariance_and_accumulate_chunks(fam3):
    src = _src3(fam3)
    kw = dict(num_generations=12, num_samples=9, method="exact", policy=cl.Accumulate())
    a = cl.run_chains(jax.random.key(2), fam3, src, num_chains=4, **kw)
    b = cl.run_chains(jax.random.key(2), fam3, src, num_chains=200, chunk_size=6, **kw)
    for name in a.observables:
        np.testing.assert_array_equal(a.observables[name], b.observables[name][:4])


def test_compiles_once_per_shape(fam):
    src = fam.source()
    before = chain.TRACE_COUNTS.get("gaussian", 0)
    for n in (5, 50, 500):  # exact path: n is data, not shape
        cl.run_chains(jax.random.key(n), fam, src, num_chains=32, num_generations=9,
                      num_samples=n, method="exact", policy=cl.Fresh(0.3))
    assert chain.TRACE_COUNTS["gaussian"] - before == 1


def test_schedule_sample_path(fam):
    sched = [2, 5, 40, 3, 17, 8]
    r = cl.run_chains(jax.random.key(0), fam, fam.source(), num_chains=5, num_generations=6,
                      num_samples=sched, method="sample")
    assert r.config.num_samples.tolist() == sched
    r2 = cl.run_chains(jax.random.key(0), fam, fam.source(), num_chains=5, num_generations=6,
                       num_samples=lambda t: sched[t], method="sample")
    np.testing.assert_array_equal(r.observables["log_variance"], r2.observables["log_variance"])
    assert np.all(np.isfinite(r.observables["log_variance"]))


def test_fresh_alpha_one_stays_at_source_law(fam):
    """alpha = 1 never uses the model: every generation is a fit on n fresh source draws."""
    r = cl.run_chains(jax.random.key(0), fam, fam.source(), num_chains=2000, num_generations=5,
                      num_samples=10, method="exact", policy=cl.Fresh(1.0))
    m = r.observables["log_variance"][:, 1:].mean(axis=0)
    assert np.all(np.abs(m - m[0]) < 0.1)


# ---------------------------------------------------------------------------------- validation
BAD = [
    (dict(num_samples=1), "num_samples"),
    (dict(num_samples=[10, 1, 10]), "num_samples"),
    (dict(num_samples=2.5), "num_samples"),
    (dict(num_chains=0), "num_chains"),
    (dict(num_generations=0), "num_generations"),
    (dict(method="magic"), "method"),
    (dict(policy="replace"), "policy"),
]


@pytest.mark.parametrize("bad,name", BAD)
def test_bad_run_arguments(bad, name, fam):
    kw = dict(num_chains=4, num_generations=3, num_samples=10, method="sample",
              policy=cl.Replace())
    kw.update(bad)
    before = dict(chain.TRACE_COUNTS)
    with pytest.raises(ValueError, match=name):
        cl.run_chains(jax.random.key(0), fam, fam.source(), **kw)
    assert chain.TRACE_COUNTS == before  # raised before any tracing


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: cl.Gaussian(estimator="biased"), "estimator"),
        (lambda: cl.Gaussian(dim=0), "dim"),
        (lambda: cl.Gaussian(temperature=0.0), "temperature"),
        (lambda: cl.Gaussian().source(0.0, -1.0), "cov"),
        (lambda: cl.Gaussian().source(0.0, float("nan")), "cov"),
        (lambda: cl.Gaussian().source(float("nan"), 1.0), "mean"),
        (lambda: cl.Gaussian(dim=2).source([0, 0], [[1, 2], [2, 1]]), "positive definite"),
        (lambda: cl.Gaussian(dim=2).source([0, 0, 0], np.eye(2)), "mean"),
        (lambda: cl.Fresh(1.5), "alpha"),
        (lambda: cl.Fresh(-0.1), "alpha"),
    ],
)
def test_bad_family_arguments(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_dim_requires_n_above_dim(fam3):
    with pytest.raises(ValueError, match="num_samples"):
        cl.run_chains(jax.random.key(0), fam3, _src3(fam3), num_chains=2, num_generations=2,
                      num_samples=3)


def test_untyped_key_rejected(fam):
    with pytest.raises(ValueError, match="key"):
        cl.run_chains(jax.random.PRNGKey(0), fam, fam.source(), num_chains=2, num_generations=2,
                      num_samples=5)


# --------------------------------------------------------------------------------- README
def test_readme_api_example_runs():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Python API\s+```python\n(.*?)```", text, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})


# ------------------------------------------- observable formulas against independent NumPy
def _fitted_models(family, source, seed):
    """Models a few small-n generations away from the source (varied drift and spread)."""
    # the shapes of test_shapes_dtypes_finite: the compiled kernel is shared
    r = cl.run_chains(jax.random.key(seed), family, source, num_chains=16, num_generations=7,
                      num_samples=12, method="exact")
    mean, cov = family.absolute(r.final_params)
    m0, c0 = family.absolute(source)
    obs = {k: np.asarray(v[:, -1], dtype=np.float64) for k, v in r.observables.items()}
    return (np.asarray(mean, np.float64), np.asarray(cov, np.float64),
            np.asarray(m0, np.float64), np.asarray(c0, np.float64), obs)


@pytest.mark.parametrize("dim", [1, 3])
def test_w2_squared_and_tail_mass_against_numpy(dim, fam, fam3):
    """``w2_squared`` against the closed form with scipy.linalg.sqrtm (and, in 1-D, a Monte
    Carlo of the quantile coupling); ``tail_mass_{3,5}sigma`` against a NumPy Monte Carlo of
    the model's marginal mass beyond the source's k sigma. Monte Carlo: 200,000 draws per model,
    |z| < 4.5 on at most 12 statistics (false-failure rate below 1e-4); the closed forms are
    compared at float32 accuracy."""
    from scipy import linalg

    f = fam if dim == 1 else fam3
    src = f.source(0.5, 2.0) if dim == 1 else _src3(fam3)
    mean, cov, m0, c0, obs = _fitted_models(f, src, seed=31 + dim)
    rng = np.random.default_rng(dim)
    draws = 200_000
    root0 = linalg.sqrtm(c0).real
    for i in range(4):
        cross = linalg.sqrtm(root0 @ cov[i] @ root0).real
        w2 = np.sum((mean[i] - m0) ** 2) + np.trace(cov[i] + c0 - 2 * cross)
        np.testing.assert_allclose(obs["w2_squared"][i], w2, rtol=2e-3, atol=1e-5 * np.trace(c0))
        if dim == 1:  # W2^2 = E[(F^-1(U) - G^-1(U))^2], U uniform (optimal 1-D coupling)
            z = rng.standard_normal(draws)
            gap = (mean[i, 0] - m0[0] + (np.sqrt(cov[i, 0, 0]) - np.sqrt(c0[0, 0])) * z) ** 2
            score = (gap.mean() - obs["w2_squared"][i]) / (gap.std(ddof=1) / np.sqrt(draws))
            assert abs(score) < 4.5, (i, gap.mean(), obs["w2_squared"][i])
        x = mean[i] + rng.standard_normal((draws, dim)) @ np.linalg.cholesky(cov[i]).T
        sd0 = np.sqrt(np.diag(c0))
        for k in (3, 5):
            beyond = (np.abs(x - m0) > k * sd0).mean(axis=1)  # average over coordinates
            predicted = obs[f"tail_mass_{k}sigma"][i]
            se = max(beyond.std(ddof=1), 1.0 / draws) / np.sqrt(draws)
            assert abs(beyond.mean() - predicted) < 4.5 * se + 1e-6, (i, k, beyond.mean(), predicted)

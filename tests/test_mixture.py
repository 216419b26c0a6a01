"""Gaussian-mixture family and its theory: validation, NaN-safety, statistics, theory identities.

Stochastic tests here use fixed keys and statistics with a known null law across independent
draws; each states its false-failure rate. Kernels are shared through module-scoped fixtures
(every distinct shape compiles once).
"""

from __future__ import annotations

import ast
import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import collapse_lab as cl
from collapse_lab import chain
from collapse_lab.families import mixture as mx
from collapse_lab.families.mixture import GaussianMixture
from collapse_lab.theory import gaussian as thg
from collapse_lab.theory import mixture as th

W3 = (0.6, 0.3, 0.1)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"num_components": 0}, "num_components"),
        ({"num_components": 2.0}, "num_components"),
        ({"num_components": True}, "num_components"),
        ({"dim": 0}, "dim"),
        ({"covariance": "spherical"}, "covariance"),
        ({"num_em_steps": 0}, "num_em_steps"),
        ({"estimator": "map"}, "estimator"),
        ({"estimator": "unbiased"}, "oracle_assignments"),
        ({"oracle_assignments": 1}, "oracle_assignments"),
        ({"reinit": True, "oracle_assignments": True}, "reinit"),
        ({"min_count": -1.0}, "min_count"),
        ({"covariance_floor": 0.0}, "covariance_floor"),
        ({"num_heldout": -1}, "num_heldout"),
    ],
)
def test_constructor_rejects_bad_hyperparameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        GaussianMixture(**kwargs)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"weights": [0.5, 0.4, 0.2]}, "sum to 1"),
        ({"weights": [0.5, 0.6, -0.1]}, "weights"),
        ({"weights": [0.5, 0.5]}, "weights"),
        ({"weights": [np.nan, 0.5, 0.5]}, "weights"),
        ({"means": np.zeros((3, 2))}, "means"),
        ({"means": np.zeros((2, 1))}, "means"),
        ({"covariances": np.ones((3, 2, 2))}, "covariances"),
        ({"covariances": [1.0, -1.0, 1.0]}, "positive definite"),
        ({"covariances": np.full(3, np.inf)}, "finite"),
    ],
)
def test_source_rejects_bad_input(kwargs, word):
    fam = GaussianMixture(3, 1)
    with pytest.raises(ValueError, match=word):
        fam.source(**kwargs)


def test_source_diag_family_rejects_full_covariance():
    fam = GaussianMixture(2, 2, covariance="diag")
    cov = np.array([[[1.0, 0.5], [0.5, 1.0]], [[1.0, 0.0], [0.0, 2.0]]])
    with pytest.raises(ValueError, match="diagonal"):
        fam.source(covariances=cov)


def test_run_rejects_bad_configurations_before_tracing():
    fam = GaussianMixture(3, 1)
    src = fam.source(W3)
    before = chain.TRACE_COUNTS.get("gaussian_mixture", 0)
    key = jax.random.key(0)
    common = dict(num_chains=4, num_generations=2)
    with pytest.raises(ValueError, match="Accumulate"):
        cl.run_chains(key, fam, src, policy=cl.Accumulate(), num_samples=10, **common)
    with pytest.raises(ValueError, match="exact"):
        cl.run_chains(key, fam, src, num_samples=10, method="exact", **common)
    with pytest.raises(ValueError, match="num_samples"):
        cl.run_chains(key, fam, src, num_samples=0, **common)
    other = GaussianMixture(3, 2)
    with pytest.raises(ValueError, match="dim"):
        cl.run_chains(key, other, src, num_samples=10, **common)
    with pytest.raises(ValueError, match="source"):
        cl.run_chains(key, fam, cl.Gaussian().source(), num_samples=10, **common)
    assert chain.TRACE_COUNTS.get("gaussian_mixture", 0) == before


# ------------------------------------------------------------------------------ source / observe
def test_observables_at_the_source():
    fam = GaussianMixture(3, 1)
    src = fam.source(W3, [-10.0, 0.0, 10.0], [1.0, 4.0, 0.25])
    obs = jax.jit(fam.observe)(src, src)
    np.testing.assert_allclose(obs["weights"], W3, rtol=1e-6)
    np.testing.assert_allclose(obs["alive_variance"], [1.0, 4.0, 0.25], rtol=1e-5)
    np.testing.assert_allclose(obs["log_det"], np.log([1.0, 4.0, 0.25]), atol=1e-5)
    assert float(obs["num_alive"]) == 3
    np.testing.assert_allclose(obs["heterozygosity"], 1 - np.sum(np.square(W3)), rtol=1e-6)
    assert abs(float(obs["w2_matched"])) < 1e-5 and abs(float(obs["mmd_squared"])) < 1e-5
    np.testing.assert_allclose(obs["tail_mass_3sigma"], 2 * stats.norm.sf(3), rtol=1e-4)
    # the separated mixture's negative entropy, up to the held-out set's Monte Carlo error
    entropy = np.sum(np.multiply(W3, 0.5 * np.log(2 * np.pi * np.e * np.array([1, 4, 0.25]))))
    entropy -= np.sum(np.multiply(W3, np.log(W3)))
    assert abs(float(obs["source_loglik"]) + entropy) < 0.15


def test_diag_and_full_sources_agree_on_a_diagonal_covariance():
    cov = np.array([[1.0, 3.0], [2.0, 0.5]])
    a = GaussianMixture(2, 2, covariance="full").source(covariances=cov)
    b = GaussianMixture(2, 2, covariance="diag").source(covariances=cov)
    np.testing.assert_allclose(mx._covariances(a), mx._covariances(b), rtol=1e-6)
    np.testing.assert_allclose(np.diagonal(mx._covariances(a), axis1=1, axis2=2), cov, rtol=1e-6)


# ------------------------------------------------------------------------------ statistics
def test_merge_of_two_batches_equals_statistics_of_the_union():
    fam = GaussianMixture(2, 2, oracle_assignments=True)
    src = fam.source([0.7, 0.3], np.array([[0.0, 0.0], [5.0, 5.0]]),
                     np.array([[[1.0, 0.3], [0.3, 0.5]], [[2.0, 0.0], [0.0, 1.0]]]))

    @jax.jit
    def both(key):
        whole = fam.sample_stats(key, src, 64, 64)
        # the same 64 draws, split into the first 40 and the last 24 by masks
        labels, z = fam._labels_and_normals(key, src, 64)

        def part(mask):
            onehot = (labels[:, None] == jnp.arange(2)).astype(z.dtype) * mask[:, None]
            count = onehot.sum(0)
            zbar = onehot.T @ z / jnp.maximum(count, 1.0)[:, None]
            dev = z[:, None, :] - zbar[None]
            scatter = jnp.einsum("bk,bki,bkj->kij", onehot, dev, dev)
            return fam._stats_from_z(src, count, zbar, mx._cholesky(scatter, mx._psd_tol(scatter)))

        first = (jnp.arange(64) < 40).astype(z.dtype)
        merged = fam.merge(part(first), part(1 - first))
        return whole, fam.merge(fam.empty_stats(src), merged)

    whole, merged = both(jax.random.key(3))
    for field in ("count", "mean", "log_scale", "factor"):
        np.testing.assert_allclose(getattr(merged, field), getattr(whole, field), atol=2e-5)


def test_em_on_separated_data_matches_the_oracle_fit():
    """Well-separated data: warm-started and re-initialised EM recover the oracle MLE; EM on
    data where components got no point kills them without NaN (warm start: weight exactly 0,
    parameters kept; re-initialised diagonal EM: finite, positive definite).
    """
    k, d, n = 3, 2, 300
    fams = {
        "warm": GaussianMixture(k, d, num_em_steps=5, covariance_floor=1e-9),
        "reinit": GaussianMixture(k, d, num_em_steps=10, reinit=True, covariance_floor=1e-9),
        "diag-reinit": GaussianMixture(k, d, covariance="diag", num_em_steps=5, reinit=True),
    }
    oracle = GaussianMixture(k, d, oracle_assignments=True)
    means = np.array([[-30.0, 0.0], [0.0, 0.0], [30.0, 10.0]])
    src = fams["warm"].source(W3, means, np.array([[[1.0, 0.4], [0.4, 2.0]]] * 3))
    starved = fams["warm"].source([0.9999, 0.0001, 0.0], means, np.array([[1.0, 2.0]] * 3))

    @jax.jit
    def fits(key):
        data = fams["warm"].sample_stats(key, src, n)
        out = {name: fams[name].estimate(None, data, src) for name in ("warm", "reinit")}
        out["oracle"] = oracle.estimate(None, oracle.sample_stats(key, src, n), src)
        lonely = fams["warm"].sample_stats(key, starved, 8)  # all 8 points from component 0
        out["starved"] = fams["warm"].estimate(None, lonely, starved)
        out["starved-reinit"] = fams["diag-reinit"].estimate(None, lonely, starved)
        return out

    out = fits(jax.random.key(1))
    ref = out["oracle"]
    for name in ("warm", "reinit"):
        np.testing.assert_allclose(out[name].weights, ref.weights, atol=1e-5)
        np.testing.assert_allclose(out[name].means, ref.means, atol=1e-3)
        np.testing.assert_allclose(mx._covariances(out[name]), mx._covariances(ref),
                                   rtol=1e-3, atol=1e-5)
    for name in ("starved", "starved-reinit"):
        fit = out[name]
        for leaf in jax.tree_util.tree_leaves(fit):
            assert np.all(np.isfinite(np.asarray(leaf, dtype=np.float64))), name
        cov = np.asarray(mx._covariances(fit), dtype=np.float64)
        assert np.all(np.linalg.eigvalsh(cov) > 0), name
        assert abs(float(fit.weights.sum()) - 1) < 1e-5
    # warm start: the starved components die (weight exactly 0) and keep their parameters
    fit = out["starved"]
    assert list(np.asarray(fit.alive)) == [True, False, False]
    assert np.all(np.asarray(fit.weights)[1:] == 0)
    np.testing.assert_allclose(fit.means[1:], starved.means[1:])
    np.testing.assert_allclose(fit.log_scale[1:], starved.log_scale[1:])


# ------------------------------------------------------------------------------ theory
def test_theory_imports_nothing_from_the_simulator():
    tree = ast.parse(inspect.getsource(th))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    assert names <= {"__future__", "functools", "numpy", "scipy", "._common"}, names


def test_theory_generation_zero_identities():
    assert th.loss_probability(0, 50, 0.3) == 0.0
    assert th.expected_alive_variance(0, 50, 0.3, "mle", 2.5) == 2.5
    assert th.expected_alive_sigma(0, 50, 0.3, "mle", 4.0) == 2.0
    assert th.variance_of_weight(0, 50, 0.3) == 0.0
    assert th.expected_num_alive(0, 50, W3) == 3.0
    assert th.probability_one_left(0, 50, W3) == 0.0


def test_one_component_reduces_to_the_gaussian_chain():
    """w = 1: N = n always, so the DP equals the Gaussian closed forms G1, G3 and the rule."""
    t = np.arange(0, 40)
    for est in ("mle", "unbiased"):
        np.testing.assert_allclose(th.expected_alive_variance(t, 20, 1.0, est, 3.0),
                                   thg.expected_variance(t, 20, est, 3.0), rtol=1e-12)
        np.testing.assert_allclose(th.expected_alive_sigma(t, 20, 1.0, est, 3.0),
                                   thg.expected_sigma(t, 20, est, 3.0), rtol=1e-12)
        np.testing.assert_allclose(th.rule_of_thumb_variance(t, 20, 1.0, est, 3.0),
                                   thg.expected_variance(t, 20, est, 3.0), rtol=1e-12)
        np.testing.assert_allclose(th.expected_alive_log_det(t, 20, 1.0, 1, est, 0.7),
                                   thg.expected_log_variance(t, 20, est, np.exp(0.7)), rtol=1e-12)
        for d in (2, 3):
            np.testing.assert_allclose(th.expected_alive_log_det(t, 20, 1.0, d, est, 0.7),
                                       thg.expected_log_det(t, 20, d, est, 0.7), rtol=1e-12)
            np.testing.assert_allclose(th.rule_of_thumb_log_det(t, 20, 1.0, d, est, 0.7),
                                       thg.expected_log_det(t, 20, d, est, 0.7), rtol=1e-12)


def _count_law_by_matrix_power(t, n, w):
    """Law of N_{t-1} from a dense Wright-Fisher transition matrix (scipy binomial pmfs and a
    matrix power): a derivation independent of the theory module's forward recursion."""
    j = np.arange(n + 1)
    transition = stats.binom.pmf(j[None, :], n, j[:, None] / n)
    return stats.binom.pmf(j, n, w) @ np.linalg.matrix_power(transition, t - 1)


@given(n=st.integers(2, 60), w=st.floats(0.01, 0.99), t=st.integers(1, 25))
def test_count_chain_is_a_martingale_with_the_wright_fisher_variance(n, w, t):
    pmf = th.count_distribution(t, n, w)
    j = np.arange(n + 1) / n
    assert abs(pmf.sum() - 1) < 1e-10
    assert abs(pmf @ j - w) < 1e-10
    assert abs(pmf @ (j - w) ** 2 - th.variance_of_weight(t, n, w)) < 1e-10
    # loss and fixation against an independent derivation (not the module's own recursion)
    law = _count_law_by_matrix_power(t, n, w)
    np.testing.assert_allclose(pmf, law, atol=1e-12)
    assert abs(th.loss_probability(t, n, w) - law[0]) < 1e-12
    assert abs(th.fixation_probability_by(t, n, w) - law[-1]) < 1e-12


def test_schedules_and_long_run_limits():
    # a schedule of constant sizes equals the fixed size
    np.testing.assert_allclose(th.expected_alive_variance([3, 7], [30] * 7, 0.2),
                               th.expected_alive_variance([3, 7], 30, 0.2), rtol=1e-12)
    # fixation probability tends to the initial weight, loss to 1 - w (two types)
    assert abs(th.fixation_probability_by(3000, 10, 0.3) - 0.3) < 1e-9
    assert abs(th.loss_probability(3000, 10, 0.3) - 0.7) < 1e-9
    # the rule of thumb is too optimistic for a small component: it ignores E[1/N] > 1/E[N]
    # (catalogue section 3)
    exact = th.expected_alive_variance(10, 50, 0.2)
    rule = th.rule_of_thumb_variance(10, 50, 0.2)
    assert 0.1 < (rule - exact) / exact < 0.5
    with pytest.raises(ValueError, match="n \\* w"):
        th.rule_of_thumb_variance(5, 10, 0.05)
    with pytest.raises(ValueError, match="sum to 1"):
        th.expected_num_alive(3, 10, [0.5, 0.4])


def test_theory_matches_a_numpy_monte_carlo():
    """Independent NumPy simulation of counts and MLE variances (no JAX), 200,000 chains.

    z-tests at |z| < 4.5 on 5 quantities: false-failure rate below 4e-5.
    """
    rng = np.random.default_rng(123)
    chains, n, w, t_max = 200_000, 40, 0.25, 6
    counts = rng.binomial(n, w, chains)
    var = np.where(counts >= 2, rng.chisquare(np.maximum(counts - 1, 1)) / np.maximum(counts, 1),
                   0.0)
    for _ in range(1, t_max):
        counts = rng.binomial(n, counts / n)
        step = rng.chisquare(np.maximum(counts - 1, 1)) / np.maximum(counts, 1)
        var = var * np.where(counts >= 2, step, 0.0)
    checks = [
        (var, th.expected_alive_variance(t_max, n, w)),
        (np.sqrt(var), th.expected_alive_sigma(t_max, n, w)),
        (counts == 0, th.loss_probability(t_max, n, w)),
        (var > 0, th.nondegenerate_probability(t_max, n, w)),
        (np.log(np.where(var > 0, var, 1.0)), th.expected_alive_log_det(t_max, n, w)),
    ]
    for sample, predicted in checks:
        z = (sample.mean() - predicted) / (sample.std(ddof=1) / np.sqrt(chains))
        assert abs(z) < 4.5, (predicted, sample.mean(), z)


def test_em_accumulate_subsample_pools_points_in_a_static_buffer():
    """EM mixtures pool every generation's points (a static buffer) under AccumulateSubsample;
    generation 1 subsamples all n points of the first batch, so its fit is Replace's up to the
    order EM sums them in; chunked runs are bit-identical; the oracle design refuses."""
    from family_examples import gaussian_mixture_em, gaussian_mixture_oracle

    fam, src, n = gaussian_mixture_em()
    run = functools.partial(cl.run_chains, jax.random.key(0), fam, src, num_chains=8,
                            num_generations=4, num_samples=n)
    sub = run(policy=cl.AccumulateSubsample())
    rep = run(policy=cl.Replace())
    np.testing.assert_allclose(np.asarray(sub.observables["means"])[:, 1],
                               np.asarray(rep.observables["means"])[:, 1], rtol=1e-4,
                               atol=1e-6)
    chunked = run(policy=cl.AccumulateSubsample(), chunk_size=2)
    for k in sub.observables:
        np.testing.assert_array_equal(sub.observables[k], chunked.observables[k])
    ofam, osrc, on = gaussian_mixture_oracle()
    with pytest.raises(ValueError, match="AccumulateSubsample"):
        cl.run_chains(jax.random.key(0), ofam, osrc, policy=cl.AccumulateSubsample(),
                      num_chains=2, num_generations=2, num_samples=on)

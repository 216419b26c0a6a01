"""On-device reduction: exact moment merges, agreement with full runs, check() on reduced runs.

Stochastic assertions: check() at family-wise false-alarm 1e-4 (its own Bonferroni), so this file
fails spuriously with probability below 1e-4.
"""

import jax
import numpy as np
import pytest
from _controls import assert_rejects

import collapse_lab as cl
from collapse_lab.reduce import Moments


def _moments(x):
    m = x.mean(axis=0)
    d = x - m
    return Moments(np.array([x.shape[0]] * 1, float).repeat(1), m[None],
                   (d**2).sum(0)[None], (d**3).sum(0)[None], (d**4).sum(0)[None])


def test_pairwise_moment_merge_is_exact():
    rng = np.random.default_rng(0)
    a = rng.gamma(2.0, size=(300,)) + 5
    b = rng.gamma(0.5, size=(1700,)) - 3
    merged = _moments(a[:, None]).merge(_moments(b[:, None]))
    want = _moments(np.concatenate([a, b])[:, None])
    for f in ("count", "mean", "m2", "m3", "m4"):
        np.testing.assert_allclose(getattr(merged, f), getattr(want, f), rtol=1e-10)


@pytest.fixture(scope="module")
def pair():
    fam = cl.Gaussian(dim=1, estimator="mle")
    kw = dict(num_chains=300, num_generations=12, num_samples=10, method="exact")
    full = cl.run_chains(jax.random.key(4), fam, fam.source(), **kw)
    red = cl.run_reduced(jax.random.key(4), fam, fam.source(), chain_batch=320, **kw)
    return full, red


def test_reduced_equals_full_run_summaries(pair):
    full, red = pair
    for name, arr in full.observables.items():
        m = red.moments[name]
        assert m.count.tolist() == [300.0] * 13
        np.testing.assert_allclose(m.mean, arr.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(m.variance(), arr.var(axis=0, ddof=1), rtol=1e-4, atol=1e-7)
    # histograms count every chain once per generation
    for edges, counts in red.histograms.values():
        assert counts.shape == (13, edges.size + 1)
        assert np.all(counts.sum(axis=1) == 300)
    # threshold counts equal direct counts on the full run
    for (name, t, cut), k in red.threshold_counts.items():
        assert k == int(np.sum(full.observables[name][:, t] < cut))


def test_no_chain_by_generation_arrays(pair):
    _, red = pair
    for m in red.moments.values():
        assert m.mean.shape[0] == 13 and m.mean.ndim == 1


def test_check_on_reduced_result_and_negative_control():
    fam = cl.Gaussian(dim=1, estimator="mle")
    # same batch shape and generations as the fixture: the compiled kernel is reused
    red = cl.run_reduced(jax.random.key(9), fam, fam.source(), num_chains=20_000,
                         num_generations=12, num_samples=10, method="exact", chain_batch=320)
    table = cl.check(red, false_alarm=1e-4)
    assert len(table) >= 20 and table.attrs["passed"], table[~table["pass"]]
    assert set(table["formula"]) >= {"G1", "G4", "G5", "G6", "G7", "G9"}
    wrong = cl.check(red, false_alarm=1e-4, overrides={"estimator": "unbiased"})
    assert_rejects(wrong, rows={"formula": "G4"})

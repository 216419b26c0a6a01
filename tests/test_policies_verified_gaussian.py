"""VerifiedBand (Gaussian band verifier): truncated draws, theory P8, negative control.

Every check() table below passes at family-wise false-alarm rate 1e-3 (Bonferroni over its rows;
seeds fixed). The P8 rows at generation 1 are exact (one step of the truncated-normal map from
the source); the t = 2 row is approximate (tolerance band, theory/gaussian.md#p8). The negative
control checks the same chains against the band c * 1.1 and requires an exact P8 row to fail,
after asserting the table is non-empty and the rows are present (tests/_controls.py).

Default tier: 4,000 chains x 5 generations (one compile, shared by the module). Acceptance size
(20,000 chains, both methods) in the slow tier.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from _controls import assert_rejects
from scipy import stats

import collapse_lab as cl
from collapse_lab.theory import gaussian as th

FALSE_ALARM = 1e-3
N = 10
C = 1.5


@functools.cache
def _run(chains, generations, method="exact"):
    fam = cl.Gaussian(1, "mle")
    return cl.run_chains(
        jax.random.key(1313),
        fam,
        fam.source(1.0, 2.0),
        policy=cl.VerifiedBand(C),
        num_chains=chains,
        num_generations=generations,
        num_samples=N,
        method=method,
    )


def _check(result):
    table = cl.check(result, FALSE_ALARM)
    exact = table[table["exact"]]
    assert {("variance", 1), ("mean_drift2", 1)} <= set(
        zip(exact["observable"], exact["generation"])
    ), cl.format_table(table)
    assert exact["pass"].all(), cl.format_table(table)
    assert table["pass"].all(), cl.format_table(table)  # the approximate t = 2 row too
    assert_rejects(
        cl.check(result, FALSE_ALARM, overrides={"policy": cl.VerifiedBand(C * 1.1)}),
        rows={"formula": "P8", "exact": True},
    )


def test_verified_band_theory():
    _check(_run(4000, 5))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["exact", "sample"])
def test_verified_band_theory_acceptance(method):
    _check(_run(20_000, 5, method))


def test_kept_points_are_the_truncated_model():
    """Generation-1 fits of n = 10 points: every kept point lies in the band, so each model's
    mean does; and the standardised generation-1 mean has the truncated law's first moment
    (covered by P8). Here: KS of the fitted means against a 200,000-draw NumPy simulation of the
    same procedure (two-sample KS, false-failure rate 1e-3)."""
    result = _run(4000, 5)
    mean = np.asarray(result.observables["mean"])
    sd0 = np.sqrt(2.0)
    assert np.all(np.abs(mean[:, 1:] - 1.0) <= C * sd0 * (1 + 1e-5))
    rng = np.random.default_rng(7)
    a, b = stats.norm.cdf(-C), stats.norm.cdf(C)
    z = stats.norm.ppf(a + rng.random((200_000, N)) * (b - a))
    sim = 1.0 + sd0 * z.mean(axis=1)
    assert stats.ks_2samp(mean[:, 1], sim).pvalue > 1e-3


def test_theory_matches_scipy_truncnorm():
    for m, s, lo, hi in [
        (0.0, 1.0, -1.5, 1.5),
        (0.3, 0.5, -1.0, 2.0),
        (4.0, 1.0, -1.0, 1.0),
        (-4.0, 0.7, -1.0, 1.0),
    ]:
        ref = stats.truncnorm((lo - m) / s, (hi - m) / s, loc=m, scale=s)
        tm, tv = th.truncated_normal_moments(m, s, lo, hi)
        np.testing.assert_allclose([tm, tv], [ref.mean(), ref.var()], rtol=1e-9, atol=1e-12)
    # a wide band is no filter: the replace law
    np.testing.assert_allclose(
        th.expected_variance_verified_band([1, 2, 3], N, 50.0, sigma2_0=2.0),
        th.expected_variance([1, 2, 3], N, sigma2_0=2.0),
        rtol=1e-12,
    )


def test_bad_input():
    for bad in (0, -1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(ValueError, match="c must"):
            cl.VerifiedBand(bad)
    fam = cl.Gaussian(2)
    with pytest.raises(ValueError, match="dim 1"):
        cl.run_chains(
            jax.random.key(0),
            fam,
            fam.source([0.0, 0.0], np.eye(2)),
            policy=cl.VerifiedBand(1.0),
            num_chains=2,
            num_generations=2,
            num_samples=5,
        )
    cat = cl.Categorical(3)
    with pytest.raises(ValueError, match="VerifiedBand"):
        cl.run_chains(
            jax.random.key(0),
            cat,
            cat.source([0.2, 0.3, 0.5]),
            policy=cl.VerifiedBand(1.0),
            num_chains=2,
            num_generations=2,
            num_samples=5,
        )
    with pytest.raises(ValueError, match="c must"):
        th.verified_band_step(0.0, 1.0, 10, 0.0)

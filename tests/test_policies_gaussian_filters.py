"""VerifiedSmooth (smooth Gaussian verifier) and CuratedLinear (best-of-k by a linear reward).

Theory (theory/gaussian.md#p9, #p10) against independent NumPy Monte Carlo simulations of the
literal procedures (rejection sampling; k candidates and a max), then the simulator's
behaviour and its plumbing (registry, reduced runner, experiment files with resume, save/load,
``collapse-lab list``). The calibrated check() tables with their negative controls are in
tests/statistical/test_policies_theory.py (GAUSSIAN_CASES).

Each z-test below is two-sided at |z| < 4 across independent simulated chains (false-failure
rate 6e-5 per test under a normal law; the heavy-tailed precision statistics were checked for
calibration over 1,000 replicate ensembles, theory/gaussian.md#p9); KS tests at p > 1e-3.
Seeds are fixed.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from scipy import stats

import collapse_lab as cl
from collapse_lab import chain
from collapse_lab.theory import gaussian as th

N = 10


def _z(x, predicted):
    x = np.asarray(x, np.float64)
    return (x.mean() - predicted) / (x.std(ddof=1) / np.sqrt(x.size))


# ----------------------------------------------------------------------------- theory vs NumPy
def test_max_normal_moments_closed_forms_and_monte_carlo():
    e1, v1, k1 = th.max_normal_moments(1)
    np.testing.assert_allclose([e1, v1, k1], [0.0, 1.0, 0.0], atol=1e-10)
    e2, v2, _ = th.max_normal_moments(2)
    np.testing.assert_allclose([e2, v2], [1 / np.sqrt(np.pi), 1 - 1 / np.pi], rtol=1e-10)
    m = np.random.default_rng(11).standard_normal((400_000, 3)).max(axis=1)
    e3, v3, _ = th.max_normal_moments(3)
    assert abs(_z(m, e3)) < 4
    assert abs(_z((m - e3) ** 2, v3)) < 4
    # k = 1 is the replace law
    np.testing.assert_allclose(th.expected_variance_curated_linear([1, 3, 7], N, 1),
                               th.expected_variance([1, 3, 7], N), rtol=1e-10)


def _numpy_smooth_chain(rng, chains, generations, n, c, lam, est_offset):
    """Literal VerifiedSmooth chains (source N(0, 1)): propose from N(mu, lam sigma^2), keep with
    probability exp(-x^2 / (2 c^2)), fit on the first n kept points."""
    mu, var = np.zeros(chains), np.ones(chains)
    out = []
    for _ in range(generations):
        prop = mu[:, None] + np.sqrt(lam * var)[:, None] * rng.standard_normal((chains, 6 * n))
        keep = rng.random(prop.shape) < np.exp(-prop**2 / (2 * c * c))
        order = np.argsort(~keep, axis=1, kind="stable")[:, :n]
        assert keep.sum(axis=1).min() >= n  # enough proposals were drawn
        x = np.take_along_axis(prop, order, axis=1)
        mu = x.mean(axis=1)
        var = ((x - mu[:, None]) ** 2).sum(axis=1) / (n - est_offset)
        out.append((mu, var))
    return out


@pytest.mark.parametrize("est, lam", [("mle", 1.0), ("unbiased", 1.3)])
def test_verified_smooth_theory_matches_literal_rejection_sampling(est, lam):
    c, chains = 1.2, 40_000
    path = _numpy_smooth_chain(np.random.default_rng(5), chains, 3, N, c, lam,
                               0 if est == "mle" else 1)
    m1, var1, d1 = th.verified_smooth_step(0.0, 1.0, N, c, est, lam)
    mu, var = path[0]
    assert abs(_z(mu, m1)) < 4 and abs(_z(var, var1)) < 4 and abs(_z(mu**2, d1)) < 4
    # the kept law is exactly Gaussian: the generation-1 means are N(0, v'/n)
    v_kept = 1 / (1 / lam + 1 / c**2)
    assert stats.kstest(mu, stats.norm(0, np.sqrt(v_kept / N)).cdf).pvalue > 1e-3
    for t, (_, var) in enumerate(path, start=1):
        pred = th.expected_precision_verified_smooth(t, N, c, est, 1.0, lam)
        assert abs(_z(1 / var, pred)) < 4, t
    pred2 = th.second_moment_precision_verified_smooth(1, N, c, est, 1.0, lam)
    assert abs(_z(1 / path[0][1] ** 2, pred2)) < 4
    # a kernel this wide is no filter: the replace law, E[1/var_t] = ((n - c_e)/(n - 3)/lam)^t
    off = 0 if est == "mle" else 1
    np.testing.assert_allclose(
        th.expected_precision_verified_smooth([1, 2, 3], N, 1e9, est, 2.0, lam),
        ((N - off) / (N - 3) / lam) ** np.array([1, 2, 3]) / 2.0, rtol=1e-9)


def test_curated_linear_theory_matches_literal_best_of_k():
    k, lam, chains, sigma2_0, mu0 = 3, 1.2, 100_000, 2.0, 1.0
    rng = np.random.default_rng(6)
    mu, var = np.full(chains, mu0), np.full(chains, sigma2_0)
    for t in range(1, 4):
        cand = mu[:, None, None] + np.sqrt(lam * var)[:, None, None] * rng.standard_normal(
            (chains, N, k))
        x = cand.max(axis=2)
        if t == 1:
            pred_mean = mu0 + np.sqrt(lam * sigma2_0) * th.max_normal_moments(k)[0]
            assert abs(_z(x.mean(axis=1), pred_mean)) < 4
        mu = x.mean(axis=1)
        var = ((x - mu[:, None]) ** 2).mean(axis=1)
        pred = th.expected_variance_curated_linear(t, N, k, "mle", sigma2_0, lam)
        assert abs(_z(var, pred)) < 4, t
    # the exact relative variance of var_3 (the heavy-tail guard's quantity), within 3 %
    rel = np.mean(var**2) / np.mean(var) ** 2
    np.testing.assert_allclose(np.log(rel), th.log_relative_variance_curated_linear(3, N, k),
                               rtol=0.05)


# ----------------------------------------------------------------------------- the simulator
@functools.cache
def _run(policy, method="exact", chains=400, generations=5, seed=1318, mean=1.0):
    fam = cl.Gaussian(1, "mle")
    return cl.run_chains(jax.random.key(seed), fam, fam.source(mean, 2.0), policy=policy,
                         num_chains=chains, num_generations=generations, num_samples=N,
                         method=method)


@pytest.mark.slow
def test_verified_smooth_sample_method_passes_check_and_rejects_wrong_c():
    """The literal-draw path (method="sample"; the exact path is in GAUSSIAN_CASES): check() at
    family-wise false alarm 1e-3; the negative control (c x 1.1) must reject a P9 row."""
    from _controls import assert_rejects

    res = _run(cl.VerifiedSmooth(1.0), "sample", chains=4000, generations=20)
    table = cl.check(res, 1e-3)
    assert (table["formula"] == "P9").sum() >= 5 and table["pass"].all(), cl.format_table(table)
    assert_rejects(cl.check(res, 1e-3, overrides={"policy": cl.VerifiedSmooth(1.1)}),
                   rows={"formula": "P9", "exact": True})


def test_curated_linear_sign_mirrors():
    up = _run(cl.CuratedLinear(2), chains=4, mean=0.0)
    down = _run(cl.CuratedLinear(2, -1), chains=4, mean=0.0)
    # sign = -1 keeps the minima: the same draws mirrored about the source mean (mean 0)
    np.testing.assert_array_equal(down.observables["variance"], up.observables["variance"])
    np.testing.assert_array_equal(down.observables["mean"], -up.observables["mean"])
    assert np.all(np.diff(up.observables["mean"].mean(axis=0)) > 0)  # towards the reward


@pytest.mark.slow
def test_curated_linear_methods_agree():
    up = _run(cl.CuratedLinear(2), mean=0.0)
    sample = _run(cl.CuratedLinear(2), "sample", mean=0.0)
    for name in up.observables:  # both methods draw the same n maxima (masked or not: rounding)
        np.testing.assert_allclose(up.observables[name], sample.observables[name], rtol=1e-4,
                                   atol=1e-5)


def test_verified_smooth_at_temperature_applies_it_once():
    """At temperature lam the kept law is N(mu0, sigma0^2 v'), 1/v' = 1/lam + 1/c^2: KS test of
    the generation-1 means against N(mu0, sigma0^2 v'/n) (p > 1e-3); the same test rejects the
    temperature left out (v' = 1/(1 + 1/c^2)) and applied twice (lam v')."""
    fam = cl.Gaussian(1, "mle", temperature=2.0)
    res = cl.run_chains(jax.random.key(3), fam, fam.source(1.0, 2.0),
                        policy=cl.VerifiedSmooth(1.0), num_chains=4000, num_generations=1,
                        num_samples=N, method="exact")
    mean1 = np.asarray(res.observables["mean"][:, 1], np.float64)
    for v_kept, ok in ((1 / (1 / 2.0 + 1), True), (1 / (1 + 1), False), (2 / (1 / 2 + 1), False)):
        p = stats.kstest(mean1, stats.norm(1.0, np.sqrt(2.0 * v_kept / N)).cdf).pvalue
        assert (p > 1e-3) == ok, (v_kept, p)


# ----------------------------------------------------------------------------- plumbing
POLICIES = [cl.VerifiedSmooth(2.0), cl.CuratedLinear(2, -1)]


def test_registry_describe_and_list(capsys):
    from collapse_lab.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for policy in POLICIES:
        desc = dict(policy.describe())
        assert cl.make_policy(desc.pop("policy"), **desc) == policy
        assert cl.POLICIES[policy.name] is type(policy)
        assert f"  {policy.name}(" in out


# Default tier: one policy each through the reduced runner and through chunked resume (the other
# in the slow tier); the experiment-file test runs both in chunks, saves, loads and resumes.
@pytest.mark.parametrize(
    "policy", [POLICIES[1], pytest.param(POLICIES[0], marks=pytest.mark.slow)], ids=repr)
def test_reduced_runner(policy):
    whole = _run(policy, chains=4, mean=0.0)  # the sign test's run (one compile for both)
    fam, src = whole.config.family, whole.config.source
    red = cl.run_reduced(jax.random.key(1318), fam, src, policy=policy, num_chains=4,
                         num_generations=5, num_samples=N, method="exact", chain_batch=64,
                         pilot_chains=4)
    np.testing.assert_allclose(red.moments["variance"].mean,
                               whole.observables["variance"].mean(axis=0), rtol=1e-5)


@pytest.mark.parametrize(
    "policy", [POLICIES[0], pytest.param(POLICIES[1], marks=pytest.mark.slow)], ids=repr)
def test_chunked_run_and_resume_are_bit_identical(policy):
    fam = cl.Gaussian(1, "mle")
    whole = cl.run_chains(jax.random.key(1318), fam, fam.source(1.0, 2.0), policy=policy,
                          num_chains=4, num_generations=4, num_samples=N, method="exact",
                          chunk_size=2)
    part = chain.continue_run(chain.start_run(whole.config), until=2)
    done = chain.continue_run(part)
    for name in whole.observables:
        np.testing.assert_array_equal(done.observables[name], whole.observables[name])


@pytest.mark.parametrize("policy", POLICIES, ids=repr)
def test_experiment_file_runs_saves_and_resumes(policy, tmp_path):
    args = [f"{k} = {v}" for k, v in policy.describe().items() if k != "policy"]
    toml = "\n".join(
        ['name = "filters"', "seed = 4", "num_chains = 6", "num_generations = 4",
         "num_samples = 10", 'method = "exact"', "chunk_size = 2", "[family]",
         'name = "gaussian"', "[source]", "mean = 1.0", "cov = 2.0", "[policy]",
         f'name = "{policy.name}"', *args])
    path = tmp_path / "exp.toml"
    path.write_text(toml)
    result = cl.run_experiment(path, tmp_path / "run", figures=False, progress=False)
    assert result.config.policy == policy
    back = cl.load(tmp_path / "run")
    assert back.config.policy == policy
    np.testing.assert_array_equal(back.observables["variance"], result.observables["variance"])
    again = cl.resume(tmp_path / "run", figures=False, progress=False)  # complete: a no-op
    np.testing.assert_array_equal(again.observables["variance"], result.observables["variance"])

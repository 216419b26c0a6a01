"""Regression theory against an independent NumPy Monte Carlo, and the simulator against it.

False-failure rates (under a correct implementation), fixed seeds:
* NumPy Monte Carlo: z-tests across independent chains, each at two-sided 1e-5 (|z| > 4.42);
  9 of them: < 1e-4;
* ``check()`` tables at family-wise 1e-4 each (Bonferroni over their rows): 2 default + 2 slow;
so the file fails spuriously with probability below about 5e-4. Every check has a negative
control (T - d for T - d - 1, or the fixed-design accumulate formula) asserted only where the
predicted shift is at least 8 standard errors (failing to reject with probability < 1e-6; the
simulator's at t = 10 with 10,000 chains: 10 standard errors).
"""

import jax
import numpy as np
import pytest
from scipy import stats

import collapse_lab as cl
from collapse_lab.theory import regression as th

Z_CUT = float(stats.norm.isf(1e-5 / 2))
FALSE_ALARM = 1e-4


def _z(x, predicted):
    return (x.mean() - predicted) / (x.std(ddof=1) / np.sqrt(x.size))


def _numpy_chains(d, n, gens, chains, policy, alpha=0.0, noise=1.0, seed=0):
    """Plain NumPy chains in the whitened frame (w* = 0): test errors [chains, gens + 1]."""
    rng = np.random.default_rng(seed)
    w = np.zeros((chains, d))
    a = np.zeros((chains, d, d))
    b = np.zeros((chains, d))
    out = np.zeros((chains, gens + 1))
    n_real = int(round(alpha * n))
    for t in range(gens):
        x = rng.standard_normal((chains, n, d))
        labels = np.einsum("cnd,cd->cn", x, w)
        labels[:, n - n_real:] = 0.0  # fresh real data: labelled by w* = 0
        y = labels + noise * rng.standard_normal((chains, n))
        xtx = np.einsum("cni,cnj->cij", x, x)
        xty = np.einsum("cni,cn->ci", x, y)
        if policy == "accumulate":
            a, b = a + xtx, b + xty
        else:
            a, b = xtx, xty
        w = np.linalg.solve(a, b[..., None])[..., 0]
        out[:, t + 1] = np.sum(w * w, axis=1)
    return out


@pytest.fixture(scope="module")
def numpy_replace():
    return _numpy_chains(3, 10, 5, 40_000, "replace", seed=1)


def test_replace_mean_and_variance_against_numpy(numpy_replace):
    e = numpy_replace[:, 5]
    assert abs(_z(e, th.expected_test_error(5, 10, 3, 1.0))) < Z_CUT
    v = th.variance_of_test_error(5, 10, 3, 1.0)
    se = np.sqrt((np.mean((e - e.mean()) ** 4) - e.var(ddof=1) ** 2) / e.size)
    assert abs((e.var(ddof=1) - v) / se) < Z_CUT
    # negative control: T - d instead of T - d - 1 (predicted shift >= 8 se)
    wrong = th.expected_test_error(5, 10, 3, 1.0, dof_offset=0.0)
    assert abs(_z(e, wrong)) > 8


def test_accumulate_exact_and_fixed_design_rejected():
    e = _numpy_chains(3, 10, 5, 40_000, "accumulate", seed=2)[:, 5]
    assert abs(_z(e, th.expected_test_error_accumulate(5, 10, 3, 1.0))) < Z_CUT
    # negative control: Gerstgrasser et al.'s fixed-design value (an upper bound here)
    assert _z(e, th.accumulate_fixed_design_bound(5, 10, 3, 1.0)) < -8


def test_schedule_replace_and_accumulate():
    sched = [8, 12, 20]
    rng_seed = 3
    e = _numpy_chains(3, 8, 1, 40_000, "replace", seed=rng_seed)[:, 1]
    assert abs(_z(e, th.expected_test_error(1, sched, 3, 1.0))) < Z_CUT
    # accumulate with a schedule: simulate directly
    rng = np.random.default_rng(4)
    c, d = 40_000, 3
    a = np.zeros((c, d, d))
    b = np.zeros((c, d))
    w = np.zeros((c, d))
    for n in sched:
        x = rng.standard_normal((c, n, d))
        y = np.einsum("cnd,cd->cn", x, w) + rng.standard_normal((c, n))
        a += np.einsum("cni,cnj->cij", x, x)
        b += np.einsum("cni,cn->ci", x, y)
        w = np.linalg.solve(a, b[..., None])[..., 0]
    e = np.sum(w * w, axis=1)
    assert abs(_z(e, th.expected_test_error_accumulate(3, sched, 3, 1.0))) < Z_CUT


def test_fresh_approximation_error_is_as_documented():
    """theory/regression.md#r5: the (1 - alpha)^2 recursion is low by a few percent here."""
    e = _numpy_chains(3, 20, 10, 40_000, "fresh", alpha=0.5, seed=5)[:, 10]
    approx = th.expected_test_error_fresh_approx(10, 20, 0.5, 3, 1.0)
    rel = (e.mean() - approx) / approx
    se = e.std(ddof=1) / np.sqrt(e.size) / approx
    assert 0 < rel < 0.15 + Z_CUT * se, rel


def test_theory_identities():
    assert th.expected_test_error(0, 20, 5, 1.0) == 0.0
    np.testing.assert_allclose(th.expected_test_error(50, 20, 5, 1.0), 50 * 5 / 14)
    # accumulate is bounded and below the fixed-design bound
    big = th.expected_test_error_accumulate(10_000, 20, 5, 1.0)
    assert big < th.accumulate_fixed_design_bound(10_000, 20, 5, 1.0) < np.pi**2 / 6 * 5 / 14
    with pytest.raises(ValueError, match="n"):
        th.expected_test_error(1, 6, 5, 1.0)


# ---------------------------------------------------------------------------- the simulator
@pytest.fixture(scope="module")
def family():
    fam = cl.LinearRegression(5, 1.0)
    return fam, fam.source([1.0, -1.0, 0.5, 0.0, 2.0])


def _assert_negative_control(result):
    wrong = cl.check(result, false_alarm=FALSE_ALARM, overrides={"dof_offset": 0.0})
    assert len(wrong) > 0
    target = wrong[(wrong["observable"] == "test_error") & (wrong["generation"] == 10)
                   & (wrong["quantity"] == "E[test error]")]
    assert len(target) == 1
    assert not target["pass"].all() and not wrong.attrs["passed"]


@pytest.mark.parametrize("policy", ["replace", "accumulate"])
def test_simulator_exact_path_passes_and_rejects_wrong_dof(family, policy):
    fam, src = family
    pol = cl.Replace() if policy == "replace" else cl.Accumulate()
    r = cl.run_chains(jax.random.key(21), fam, src, policy=pol, num_chains=10_000,
                      num_generations=10, num_samples=20, method="exact")
    table = cl.check(r, false_alarm=FALSE_ALARM)
    assert len(table) > 0 and table.attrs["passed"], table[~table["pass"]]
    if policy == "accumulate":  # O(1) memory: the pool is one set of statistics per chain
        assert r.final_pool.xtx.shape == (10_000, 5, 5)
        np.testing.assert_array_equal(np.asarray(r.final_pool.count), 200.0)
    assert set(table["formula"]) == ({"R1", "R2", "R3"} if policy == "replace" else {"R4"})
    if policy == "replace":
        _assert_negative_control(r)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["exact", "sample"])
def test_acceptance_d5_t20_20000_chains_50_generations(family, method):
    """Issue 14 acceptance: d = 5, T = 20, noise 1, 20,000 chains, 50 generations."""
    fam, src = family
    r = cl.run_chains(jax.random.key(31 if method == "exact" else 32), fam, src,
                      num_chains=20_000, num_generations=50, num_samples=20, method=method)
    table = cl.check(r, false_alarm=FALSE_ALARM)
    assert len(table) >= 30 and table.attrs["passed"], table[~table["pass"]]
    _assert_negative_control(r)

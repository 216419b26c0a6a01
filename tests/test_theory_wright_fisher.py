"""Self-tests of collapse_lab.theory.wright_fisher: identities, limits, known values, and small
NumPy Monte Carlo simulations that do not touch the JAX code.

Monte Carlo tests use fixed seeds, independent replicates, and state their false-failure rate.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from collapse_lab.theory import wright_fisher as wf

ROOT = Path(__file__).resolve().parents[1]


def zipf(a, k):
    w = np.arange(1, k + 1, dtype=float) ** -a
    return w / w.sum()


def wf_simulation(p0, n, t_max, chains, seed):
    """NumPy Wright-Fisher chains: p[t, chain, category] for t = 0..t_max."""
    rng = np.random.default_rng(seed)
    p = np.broadcast_to(p0, (chains, p0.size)).copy()
    out = [p.copy()]
    for _ in range(t_max):
        p = rng.multinomial(n, p) / n
        out.append(p.copy())
    return np.asarray(out)


def z_mean(x, predicted):
    x = np.asarray(x, dtype=float)
    return (x.mean() - predicted) / (x.std(ddof=1) / np.sqrt(x.size))


# ------------------------------------------------------------------------------- structure
def test_theory_imports_nothing_from_the_simulator():
    tree = ast.parse((ROOT / "collapse_lab/theory/wright_fisher.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
            if node.level == 1:
                assert node.module in ("_common",), node.module
                continue
        else:
            continue
        for name in names:
            assert not name.startswith(("jax", "collapse_lab", "equinox")), name


def test_generation_zero_identities():
    p = zipf(1.1, 50)
    assert wf.heterozygosity_factor(0, 10) == 1.0
    np.testing.assert_allclose(wf.expected_heterozygosity(0, 10, p), 1 - np.sum(p**2))
    np.testing.assert_array_equal(wf.variance_of_probability(0, 10, p), 0)
    np.testing.assert_array_equal(
        wf.loss_probability(0, 10, np.r_[p[:-1], 0.0]), np.r_[np.zeros(49), 1]
    )
    assert wf.accumulate_factor(0, 10) == 1.0 and wf.fresh_variance_ratio(0, 8, 2) == 0.0
    mean, var = wf.smoothed_moments(0, 10, p, 0.5)
    np.testing.assert_allclose(mean, p)


def test_schedule_equals_fixed_size():
    p = zipf(1.1, 30)
    t = [1, 3, 7]
    np.testing.assert_allclose(wf.loss_probability(t, [25] * 7, p), wf.loss_probability(t, 25, p))
    np.testing.assert_allclose(
        wf.heterozygosity_factor(t, [25] * 7), wf.heterozygosity_factor(t, 25)
    )
    np.testing.assert_allclose(wf.accumulate_factor(t, [25] * 7), wf.accumulate_factor(t, 25))


def test_one_generation_formulas_are_w5_at_t1():
    p = zipf(1.1, 400)
    np.testing.assert_allclose(wf.expected_survivors(1, 300, p), wf.expected_distinct(p, 300))
    np.testing.assert_allclose(wf.expected_lost_mass(1, 300, p), wf.expected_missing_mass(p, 300))
    assert wf.expected_good_turing(p, 300) >= wf.expected_missing_mass(p, 300)


def test_bad_arguments():
    with pytest.raises(ValueError, match="p0"):
        wf.loss_probability(3, 10, [0.5, 1.5])
    with pytest.raises(ValueError, match="n"):
        wf.loss_probability(3, 0, [0.5])
    with pytest.raises(ValueError, match="n <= "):
        wf.loss_probability(3, wf.MAX_CHAIN_SIZE + 1, [0.5])
    with pytest.raises(ValueError, match="t must"):
        wf.heterozygosity_factor(-1, 10)
    with pytest.raises(ValueError, match="alpha"):
        wf.mixture_variance_ratio(3, 10, 1.5)
    with pytest.raises(ValueError, match="tau"):
        wf.temperature_map(zipf(1, 5), 0.0)
    with pytest.raises(ValueError, match="max_states"):
        wf.mean_fixation_time(np.full(6, 1 / 6), 40)


# ------------------------------------------------------------------------------- Monte Carlo
@pytest.fixture(scope="module")
def simulated():
    p0 = zipf(1.1, 30)
    return p0, wf_simulation(p0, 30, 20, 20_000, seed=1)


def test_w1_w2_w3_against_numpy(simulated):
    """E[p], E[H], Var[p] at t = 1, 5, 20 across 20,000 NumPy chains (z; false-failure 1e-3
    with Bonferroni over 3 x (1 + 2 + 2) statistics at |z| < 3.9)."""
    p0, sim = simulated
    for t in (1, 5, 20):
        h = 1 - np.sum(sim[t] ** 2, axis=1)
        assert abs(z_mean(h, wf.expected_heterozygosity(t, 30, p0))) < 3.9
        for i in (0, 4):
            x = sim[t][:, i]
            assert abs(z_mean(x, p0[i])) < 3.9
            var = x.var(ddof=1)
            se = np.sqrt((np.mean((x - x.mean()) ** 4) - var**2) / x.size)
            assert abs(var - wf.variance_of_probability(t, 30, p0[i])) / se < 3.9


def test_w5_losses_against_numpy(simulated):
    """Per-category P(lost by t) (exact binomial tests), E[survivors], E[lost mass], P(fixed)
    at t = 2, 10, 20 (false-failure 1e-3, Bonferroni over all tests)."""
    p0, sim = simulated
    checks = 3 * (30 + 2)
    alpha = 1e-3 / checks
    for t in (2, 10, 20):
        loss = wf.loss_probability(t, 30, p0)
        lost = sim[t] == 0
        for i in range(30):
            if 0 < loss[i] < 1:
                assert stats.binomtest(int(lost[:, i].sum()), lost.shape[0], loss[i]).pvalue > alpha
        z_alpha = stats.norm.isf(alpha / 2)
        assert abs(z_mean((~lost).sum(axis=1), wf.expected_survivors(t, 30, p0))) < z_alpha
        assert abs(z_mean(lost @ p0, wf.expected_lost_mass(t, 30, p0))) < z_alpha
    fixed = np.mean(np.max(sim[20], axis=1) == 1)
    assert abs(fixed - wf.probability_fixed(20, 30, p0)) < 0.01


def test_absorption_times_against_numpy():
    """Two types from count 6 of n = 20: E[T], E[T | fixation] across 40,000 NumPy chains
    (z; false-failure 1e-3). Kimura-Ohta is 2-15 % above the exact value."""
    rng = np.random.default_rng(2)
    n, j = 20, 6
    counts = np.full(40_000, j)
    time = np.zeros(counts.size)
    alive = np.ones(counts.size, bool)
    t = 0
    while alive.any():
        t += 1
        counts[alive] = rng.binomial(n, counts[alive] / n)
        done = alive & ((counts == 0) | (counts == n))
        time[done] = t
        alive &= ~done
    mean, given_fix, given_loss = wf.absorption_times(n)
    assert abs(z_mean(time, mean[j])) < 3.3
    fixed = counts == n
    assert abs(z_mean(time[fixed], given_fix[j])) < 3.3
    assert abs(z_mean(time[~fixed], given_loss[j])) < 3.3
    ko = wf.kimura_ohta_times(j / n, n)
    assert 1.0 < ko[0] / mean[j] < 1.15


def test_catalogue_values():
    """Known values from the catalogue (deterministic)."""
    m, _, _ = wf.absorption_times(50)
    assert abs(m[10] - 48.46) < 0.01  # W7: n = 50, p = 0.2
    assert abs(wf.kimura_ohta_times(0.2, 50)[0] - 50.04) < 0.01  # W7a
    assert abs(wf.mean_fixation_time(np.array([0.5, 0.3, 0.2]), 30) - 44.79) < 0.01  # W8
    assert abs(wf.littler_time(np.array([0.5, 0.3, 0.2]), 30) / 44.79 - 1.038) < 0.001
    z1 = zipf(1.0, 1000)
    assert abs(wf.top_k_lost_mass(z1, 10) - 0.6087) < 1e-4
    assert abs(wf.top_k_lost_mass(z1, 100) - 0.3070) < 1e-4
    seq = wf.top_p_support_sequence(z1, 0.9, 14)
    np.testing.assert_array_equal(seq[1:14], [473, 241, 132, 77, 47, 30, 20, 14, 10, 8, 6, 5, 4])
    assert seq[14] == 4
    assert abs(wf.accumulate_factor(5000, 10) - 0.84344) < 2e-4
    assert abs(wf.accumulate_limit(10) - 0.84344) < 1e-5


def test_diffusion_band_used_by_check():
    """The diffusion fixation time is 0-15 % above the exact one for n >= 10 (the check's band)."""
    for n in (10, 20, 50):
        for p in ([0.5, 0.3, 0.2], [0.3, 0.7], [0.05, 0.95], [0.1, 0.1, 0.8], [0.25] * 4):
            p = np.asarray(p)
            if len(p) == 4 and n > 20:
                continue  # composition chain too large for a quick test
            exact = wf.mean_fixation_time(p, n)
            ratio = wf.littler_time(p, n) / exact - 1
            band = 0.15 if n < 20 else (0.12 if n < 50 else 0.07)
            assert 0 <= ratio < band, (n, p, ratio)


def test_mean_fixation_time_against_numpy():
    """K = 3, n = 10 from the source (0.5, 0.3, 0.2): 40,000 NumPy chains (z; 1e-3)."""
    p0 = np.array([0.5, 0.3, 0.2])
    rng = np.random.default_rng(3)
    p = np.broadcast_to(p0, (40_000, 3)).copy()
    time = np.zeros(p.shape[0])
    alive = np.ones(p.shape[0], bool)
    t = 0
    while alive.any():
        t += 1
        p[alive] = rng.multinomial(10, p[alive]) / 10
        done = alive & (p.max(axis=1) == 1)
        time[done] = t
        alive &= ~done
    assert abs(z_mean(time, wf.mean_fixation_time(p0, 10))) < 3.3


def _binomial_chain(rng, pi, n, chains, t_max, kind, alpha):
    """One category's frequency under the mixing schemes of catalogue section 8."""
    p = np.full(chains, pi)
    real = rng.binomial(int(round(alpha * n)), pi, chains) / max(int(round(alpha * n)), 1)
    pooled, total = np.zeros(chains), 0
    if kind == "fixed_real":
        p = real.copy()  # model 0 is the MLE on the real set (catalogue X3)
    out = [p.copy()]
    for _ in range(t_max):
        if kind == "fresh":
            a = n - int(round(alpha * n))
            p = (rng.binomial(a, p) + rng.binomial(n - a, pi, chains)) / n
        elif kind == "mixture":
            p = rng.binomial(n, alpha * pi + (1 - alpha) * p) / n
        elif kind == "fixed_real":
            a = n - int(round(alpha * n))
            p = (rng.binomial(a, p) + real * (n - a)) / n
        else:  # accumulate
            pooled = pooled + rng.binomial(n, p)
            total += n
            p = pooled / total
        out.append(p.copy())
    return np.asarray(out), real


@pytest.mark.parametrize("kind", ["fresh", "mixture", "fixed_real", "accumulate"])
def test_mixing_recursions_against_numpy(kind):
    """X1, X2, X3, X5: Var[p_t] / (pi (1 - pi)) at t = 1, 3, 10 over 100,000 NumPy chains
    (fourth-moment z; false-failure 1e-3 per scheme, Bonferroni over 3 generations)."""
    rng = np.random.default_rng(4)
    n, alpha, pi = 20, 0.25, 0.3
    sim, real = _binomial_chain(rng, pi, n, 100_000, 10, kind, alpha)
    for t in (1, 3, 10):
        if kind == "fresh":
            predicted = pi * (1 - pi) * wf.fresh_variance_ratio(t, 15, 5)
            x = sim[t]
        elif kind == "mixture":
            predicted = pi * (1 - pi) * wf.mixture_variance_ratio(t, n, alpha)
            x = sim[t]
        elif kind == "fixed_real":
            # spread around the real set's own frequency, conditional on it: average over sets
            x = sim[t] - real
            predicted = np.mean(real * (1 - real)) * wf.fixed_real_variance_ratio(t, n, alpha)
            var = np.mean(x**2)
            se = np.sqrt((np.mean(x**4) - var**2) / x.size)
            assert abs(var - predicted) / se < 3.4, (kind, t)
            continue
        else:
            predicted = pi * (1 - pi) * (1 - wf.accumulate_factor(t, n))
            x = sim[t]
        var = x.var(ddof=1)
        se = np.sqrt((np.mean((x - x.mean()) ** 4) - var**2) / x.size)
        assert abs(var - predicted) / se < 3.4, (kind, t)


def test_stationary_values_are_fixed_points():
    for n, a in [(20, 0.1), (100, 0.5), (7, 0.9)]:
        r = wf.stationary_fresh_ratio(n, a)
        assert abs(r * ((1 - a) ** 2 - (1 - a) / n) + 1 / n - r) < 1e-14
        r = wf.stationary_mixture_ratio(n, a)
        assert abs((1 - a) ** 2 * (1 - 1 / n) * r + 1 / n - r) < 1e-14
        r = wf.stationary_fixed_real_ratio(n, a)
        assert abs(r * ((1 - a) ** 2 - (1 - a) / n) + (1 - a) / n - r) < 1e-14
    np.testing.assert_allclose(
        wf.fresh_variance_ratio(400, 15, 5), wf.stationary_fresh_ratio(20, 0.25)
    )


def test_smoothing_and_moments_against_numpy():
    """Smoothed E and Var (exact recursions) and the raw-moment kurtosis against 100,000 NumPy
    chains of one category (z; false-failure 1e-3, Bonferroni over 4 statistics)."""
    rng = np.random.default_rng(5)
    p0 = zipf(1.1, 10)
    n, s, t_max = 15, 0.5, 6
    p = np.broadcast_to(p0, (100_000, 10)).copy()
    for _ in range(t_max):
        p = (rng.multinomial(n, p) + s) / (n + 10 * s)
    mean, var = wf.smoothed_moments(t_max, n, p0, s)
    x = p[:, 3]
    assert abs(z_mean(x, mean[3])) < 3.5
    v = x.var(ddof=1)
    assert abs(v - var[3]) / np.sqrt((np.mean((x - x.mean()) ** 4) - v**2) / x.size) < 3.5
    h = 1 - np.sum(p**2, axis=1)
    assert abs(z_mean(h, wf.expected_heterozygosity_smoothed(t_max, n, p0, s))) < 3.5
    m = wf.raw_moments(1, 12, np.array([0.3]), 4)[0]
    k = np.arange(13)
    pmf = stats.binom.pmf(k, 12, 0.3)
    np.testing.assert_allclose(m, [np.sum(pmf * (k / 12) ** j) for j in range(1, 5)], rtol=1e-12)


# ------------------------------------------------------------------------------- hypothesis
@given(
    vocab_size=st.integers(2, 60),
    n=st.integers(1, 80),
    t=st.integers(0, 30),
    exponent=st.floats(0.0, 2.5),
)
def test_chain_laws_are_consistent(vocab_size, n, t, exponent):
    """Deterministic consistency over random (K, n, t, exponent): probabilities in [0, 1],
    losses monotone in t, survivors <= K, E[H] = 1 - sum of second raw moments."""
    p = zipf(exponent, vocab_size)
    loss = wf.loss_probability([t, t + 1], n, p)
    assert np.all((loss >= 0) & (loss <= 1))
    assert np.all(loss[1] >= loss[0] - 1e-12)
    assert wf.expected_survivors(t, n, p) <= vocab_size + 1e-9
    m = wf.raw_moments(t, n, p, 2)
    np.testing.assert_allclose(1 - m[:, 1].sum(), wf.expected_heterozygosity(t, n, p), atol=1e-10)
    np.testing.assert_allclose(m[:, 0], p, atol=1e-12)


@given(
    vocab_size=st.integers(2, 200),
    exponent=st.floats(0.0, 2.5),
    temperature=st.floats(0.3, 3.0),
    k=st.integers(1, 250),
    top_p=st.floats(0.01, 1.0),
    alpha=st.floats(0.0, 1.0),
)
def test_maps_properties(vocab_size, exponent, temperature, k, top_p, alpha):
    """Bias maps return probability vectors; temperature composes as tau^t and is inverted by
    1/tau; top-k keeps min(k, support) categories and is idempotent; top-p keeps the shortest
    prefix reaching p; the fresh-data ratio lies in [0, 1]."""
    p = zipf(exponent, vocab_size)
    for q in (wf.temperature_map(p, temperature), wf.top_k_map(p, k), wf.top_p_map(p, top_p)):
        assert abs(q.sum() - 1) < 1e-9 and np.all(q >= 0)
    np.testing.assert_allclose(
        wf.temperature_map(wf.temperature_map(p, temperature), 1 / temperature),
        p,
        rtol=1e-8,
        atol=1e-300,
    )
    np.testing.assert_allclose(
        wf.temperature_map(p, temperature, 2),
        wf.temperature_map(wf.temperature_map(p, temperature), temperature),
        rtol=1e-8,
        atol=1e-300,
    )
    top = wf.top_k_map(p, k)
    assert np.sum(top > 0) == min(k, vocab_size)
    np.testing.assert_allclose(wf.top_k_map(top, k), top)
    kept = wf.top_p_map(p, top_p) > 0
    order = np.lexsort((np.arange(vocab_size), -p))
    m = int(kept.sum())
    assert kept[order[:m]].all()
    assert p[order[: m - 1]].sum() < top_p + 1e-12
    r = wf.fresh_variance_ratio(5, 20 - round(alpha * 20), round(alpha * 20))
    assert 0 <= r <= 1

"""The one-shot verification threshold (Feng et al. 2024) and the exact two-category selection
chain (theory/wright_fisher.md#f1), simulation against theory with negative controls.

A verifier keeps a correct answer with probability phi_keep = 1 - psi (false reject psi) and a
wrong one with probability psi_keep = phi (false accept phi). Kept data is majority-correct iff
the generator's error rate p is below p* = 1/(1 + psi_keep/phi_keep): the transition that Feng
et al. call the verifier's breakdown point. Two categories (0 = correct, 1 = wrong), n = 101 kept
tokens per generation, 4,000 chains, 10 generations, exact method.

False-failure rates: each check() table passes at family-wise false-alarm 1e-3 (three tables),
and the two threshold tests are one-sided binomial tests at 1e-4 each: about 3.2e-3 in all.
The negative controls target shifts of many standard errors (see tests/conftest.py).
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from _controls import assert_rejects
from scipy import stats

import collapse_lab as cl
from collapse_lab.theory import wright_fisher as wf

FALSE_ALARM = 1e-3
N = 101
CHAINS = 4000
GENERATIONS = 10
PHI, PSI = 0.3, 0.1  # Verified.noisy's false accept and false reject
P_STAR = wf.verification_threshold(1 - PSI, PHI)  # 0.75


def test_threshold_value_and_convention():
    assert P_STAR == pytest.approx(0.75)
    # the p* = 1 / (1 + psi/phi) with phi, psi the keep rates of correct / wrong answers
    assert P_STAR == pytest.approx(1 / (1 + PHI / (1 - PSI)))
    with pytest.raises(ValueError, match="keep_correct"):
        wf.verification_threshold(1.5, 0.2)
    with pytest.raises(ValueError, match="both"):
        wf.verification_threshold(0.0, 0.0)


def test_majority_probability_is_a_sharp_transition_at_p_star():
    """P(majority wrong after one verified generation) -> 1{p > p*} as n grows (exact)."""
    below, above = P_STAR - 0.03, P_STAR + 0.03
    for n in (11, 101, 1001, 3001):
        lo = wf.majority_wrong_probability(1, n, below, 1 - PSI, PHI)
        hi = wf.majority_wrong_probability(1, n, above, 1 - PSI, PHI)
        assert lo < 0.5 < hi
    assert wf.majority_wrong_probability(1, 3001, below, 1 - PSI, PHI) < 1e-3
    assert wf.majority_wrong_probability(1, 3001, above, 1 - PSI, PHI) > 1 - 1e-3
    # t = 1 is one binomial: P(Bin(n, q) < n/2) with q the kept share of correct answers
    q = (0.3 * (1 - PSI)) / (0.3 * (1 - PSI) + 0.7 * PHI)
    expected = stats.binom.cdf((N - 1) // 2, N, q)
    assert wf.majority_wrong_probability(1, N, 0.7, 1 - PSI, PHI) == pytest.approx(expected)


def test_two_type_law_matches_the_verified_map_mean():
    """E[p_1] = g(p_0) exactly at t = 1 (the P6 one-step law) and the laws are distributions."""
    law = wf.verified_two_type_law([1, 2, 5], N, 0.3, 0.9, 0.3)
    assert law.shape == (3, N + 1)
    np.testing.assert_allclose(law.sum(axis=1), 1.0, rtol=1e-12)
    x = np.arange(N + 1) / N
    g = wf.verified_map(np.array([0.3, 0.7]), np.array([0.9, 0.3]))[0]
    assert law[0] @ x == pytest.approx(g, rel=1e-12)
    # a tie (equal acceptance) is neutral Wright-Fisher: the mean stays at p0
    neutral = wf.verified_two_type_law(5, N, 0.3, 0.5, 0.5)
    assert neutral @ x == pytest.approx(0.3, rel=1e-12)


@functools.cache
def _run(policy, p_wrong):
    fam = cl.Categorical(2)
    return cl.run_chains(
        jax.random.key(1313),
        fam,
        fam.source(np.array([1 - p_wrong, p_wrong])),
        policy=policy,
        num_chains=CHAINS,
        num_generations=GENERATIONS,
        num_samples=N,
        method="exact",
    )


VERIFIED = cl.Verified.noisy(np.array([True, False]), PHI, PSI)


@pytest.mark.parametrize("p_wrong", [0.70, 0.80])
def test_verified_two_categories_exact_rows_and_threshold(p_wrong):
    result = _run(VERIFIED, p_wrong)
    table = cl.check(result, FALSE_ALARM)
    exact = table[table["exact"]]
    f1 = exact[exact["formula"] == "F1"]
    assert len(f1) >= 5 and f1["quantity"].str.contains("majority").any(), cl.format_table(table)
    assert exact["pass"].all(), cl.format_table(table)
    # Which side of p* = 0.75: the fraction of chains whose generation-1 model is majority-wrong
    # is below one half at p = 0.70 and above it at p = 0.80 (one-sided binomial, 1e-4). A
    # swapped convention (p* = 0.25) would put both on the majority-wrong side.
    p1 = np.asarray(result.observables["tracked_probs"])[:, 1, 0]  # generation 1, category 0
    wrong = int(np.sum(p1 < 0.5))
    side = "less" if p_wrong < P_STAR else "greater"
    assert stats.binomtest(wrong, CHAINS, 0.5, alternative=side).pvalue < 1e-4
    # negative control: the verifier's false-accept rate off by 10 % is rejected
    wrong_policy = cl.Verified.noisy(np.array([True, False]), PHI * 1.1, PSI)
    assert_rejects(
        cl.check(result, FALSE_ALARM, overrides={"policy": wrong_policy}),
        rows={"formula": {"F1"}, "exact": True},
    )


def test_curated_two_categories_exact_rows():
    policy = cl.Curated((1.0, 0.0), 2)
    result = _run(policy, 0.9)
    table = cl.check(result, FALSE_ALARM)
    exact = table[table["exact"]]
    assert (exact["formula"] == "F1").sum() >= 5, cl.format_table(table)
    assert exact["pass"].all(), cl.format_table(table)
    assert_rejects(
        cl.check(result, FALSE_ALARM, overrides={"policy": cl.Curated((1.0, 0.0), 3)}),
        rows={"formula": {"F1"}, "exact": True},
    )

"""Calibrated simulation-vs-theory tests of the categorical (Wright-Fisher) family.

Every test runs independent chains with a fixed key and calls ``check()`` (z across chains,
fourth-moment z for variances, exact binomial tests for probabilities; Bonferroni inside a
table). False-failure rate of each positive check: its ``false_alarm`` argument (1e-3 unless
stated). Each has a negative control on the same chains: a deliberately wrong theory input
(``overrides=...``) that must make at least one of the targeted rows fail, asserted through
``tests/_controls.assert_rejects`` (non-empty table, targeted rows present, then rejection).
Shapes are few (vocab 20 or 200) and the exact path (cost independent of n) is used for sweeps.
"""

from __future__ import annotations

import jax
import pytest
from _controls import assert_rejects
from hypothesis import given, settings
from hypothesis import strategies as st

import collapse_lab as cl
from collapse_lab.sampling import SamplingBias

VOCAB = 20
CHAINS = 2000
GENERATIONS = 20  # vocab 20, 2,000 chains, 20 generations: kernels shared with test_categorical


def run(family, probs, *, n, generations, policy=None, chains=CHAINS, seed=0, method="exact"):
    return cl.run_chains(
        jax.random.key(seed),
        family,
        family.source(probs),
        policy=policy,
        num_chains=chains,
        num_generations=generations,
        num_samples=n,
        method=method,
    )


def assert_all_pass(table, formulas=()):
    assert len(table) > 0
    failed = table[~table["pass"]]
    assert failed.empty, cl.format_table(failed)
    for formula in formulas:
        assert formula in set(table["formula"]), f"no {formula} row"


@pytest.fixture(scope="module")
def zipf_run():
    """Zipf(1.1) over 200 categories, n = 200, 2,000 chains, 30 generations (exact path)."""
    return run(cl.Categorical(200), cl.zipf(1.1, 200), n=200, generations=30)


def test_replace_exact_rows(zipf_run):
    """W1, W2, W3, W5, W6 rows (survivors, lost mass, heterozygosity, variances, losses) pass.

    False-failure rate 1e-3. Negative control: n = 150 in the theory is rejected.
    """
    table = cl.check(zipf_run)
    assert_all_pass(table, formulas=("W1", "W2", "W3", "W5", "W6"))
    for obs in ("support_size", "lost_mass", "heterozygosity"):
        assert (table["observable"] == obs).sum() >= 5
    assert (table["statistic"] == "z (variance)").sum() >= 20
    assert_rejects(cl.check(zipf_run, overrides={"num_samples": 150}), rows={"formula": "W2"})


def test_n_plus_one_is_rejected_at_small_n():
    """At n = 10 the per-generation factor (1 - 1/n) = 0.9 against 1 - 1/(n+1) = 0.909 is far
    outside the noise of 2,000 chains: the true n passes (1e-3), n + 1 is rejected. (At
    n = 1,000 the same change is below the Monte-Carlo error of 10,000 chains; see
    theory/wright_fisher.md#detectability.)"""
    result = run(cl.Categorical(VOCAB), cl.zipf(1.1, VOCAB), n=10, generations=GENERATIONS, seed=10)
    assert_all_pass(cl.check(result), formulas=("W2", "W3", "W5"))
    assert_rejects(cl.check(result, overrides={"num_samples": 11}), rows={"formula": "W2"})


def test_sample_path_replace_rows():
    """The literal sample path passes the same rows (vocab 20, n = 50, 2,000 chains).

    False-failure rate 1e-3. Negative control: n = 30 is rejected.
    """
    result = run(
        cl.Categorical(VOCAB),
        cl.zipf(1.1, VOCAB),
        n=50,
        generations=GENERATIONS,
        method="sample",
        seed=1,
    )
    assert_all_pass(cl.check(result), formulas=("W2", "W3", "W5"))
    assert_rejects(cl.check(result, overrides={"num_samples": 30}), rows={"formula": "W3"})


def test_accumulate_rows():
    """X5 (moments, permanent losses after the first batch) pass; n = 30 is rejected.

    False-failure rate 1e-3.
    """
    result = run(
        cl.Categorical(VOCAB),
        cl.zipf(1.1, VOCAB),
        n=40,
        generations=GENERATIONS,
        policy=cl.Accumulate(),
        seed=2,
    )
    assert_all_pass(cl.check(result), formulas=("X5", "W6"))
    assert_rejects(cl.check(result, overrides={"num_samples": 30}), rows={"formula": "X5"})


def test_fresh_rows():
    """X1 with a quarter of fresh real data passes; ignoring the fresh data is rejected.

    False-failure rate 1e-3.
    """
    result = run(
        cl.Categorical(VOCAB),
        cl.zipf(1.1, VOCAB),
        n=40,
        generations=GENERATIONS,
        policy=cl.Fresh(0.25),
        seed=3,
    )
    assert_all_pass(cl.check(result), formulas=("X1",))
    # alpha = 0 turns the X1 rows into the Replace rows (W*): those must reject the chains
    wrong = cl.check(result, overrides={"alpha": 0.0})
    assert_rejects(wrong, rows={"formula": ["W2", "W3"]})


def test_smoothing_rows():
    """Exact smoothing recursions pass; the unsmoothed theory is rejected (1e-3)."""
    result = run(
        cl.Categorical(VOCAB, smoothing=0.5),
        cl.zipf(1.1, VOCAB),
        n=40,
        generations=GENERATIONS,
        seed=4,
    )
    assert_all_pass(cl.check(result), formulas=("Smoothing",))
    assert_rejects(cl.check(result, overrides={"smoothing": 0.0}), rows={"exact": True})


def test_top_k_rows_every_generation():
    """Top-k alone: Wright-Fisher from the renormalised top-k at every generation (1e-3);
    the unbiased theory is rejected."""
    fam = cl.Categorical(VOCAB, bias=SamplingBias(top_k=5))
    result = run(fam, cl.zipf(1.1, VOCAB), n=40, generations=GENERATIONS, seed=5)
    table = cl.check(result)
    assert_all_pass(table, formulas=("W5",))
    assert table["generation"].max() == GENERATIONS
    assert_rejects(cl.check(result, overrides={"bias": SamplingBias()}), rows={"exact": True})


def test_temperature_first_generation_rows_and_fresh_real_data():
    """Temperature 0.7 with fresh real data: the exact generation-1 mixture rows pass (1e-3);
    theory that applies the bias to the fresh draws too, or ignores it, is rejected."""
    fam = cl.Categorical(VOCAB, bias=SamplingBias(temperature=0.7))
    result = run(fam, cl.zipf(1.1, VOCAB), n=40, generations=2, policy=cl.Fresh(0.5), seed=6)
    table = cl.check(result)
    assert_all_pass(table)
    assert set(table["generation"]) == {1}
    assert_rejects(cl.check(result, overrides={"bias": SamplingBias()}), rows={"generation": 1})
    assert_rejects(cl.check(result, overrides={"alpha": 0.0}), rows={"generation": 1})


def test_deterministic_map_rows_at_large_n():
    """Temperature 0.9 at n = 20,000: the approximate deterministic-map rows (5 % band) pass;
    a wrong temperature (0.8) falls outside the band. False-failure rate 1e-3."""
    fam = cl.Categorical(VOCAB, bias=SamplingBias(temperature=0.9))
    result = run(fam, cl.zipf(1.1, VOCAB), n=20_000, generations=GENERATIONS, seed=7)
    table = cl.check(result)
    assert_all_pass(table, formulas=("Maps",))
    wrong = cl.check(result, overrides={"bias": SamplingBias(temperature=0.8)})
    assert_rejects(wrong, rows={"formula": "Maps"})


def test_fixation_time_exact_and_diffusion():
    """Three types, n = 12, until every chain has fixed (sample path): the exact
    composition-chain mean fixation time passes (1e-3) and the Littler diffusion value is within
    its 12 % band; n = 14 in the theory is rejected."""
    result = run(cl.Categorical(3), [0.5, 0.3, 0.2], n=12, generations=400, seed=8, method="sample")
    table = cl.check(result, overrides={"generations": [1, 5, 400]})
    assert_all_pass(table, formulas=("W8", "W7a"))
    wrong = cl.check(result, overrides={"num_samples": 14, "generations": [400]})
    assert_rejects(wrong, rows={"generation": 400, "exact": True})


@settings(max_examples=8)
@given(
    n=st.integers(10, 400),
    alpha=st.sampled_from([0.0, 0.1, 0.3, 0.6]),
    exponent_index=st.integers(0, 2),
    t=st.integers(1, 20),
)
def test_hypothesis_sweep_exact_path(n, alpha, exponent_index, t):
    """Exact rows pass for random (n, alpha, source exponent, generation) on the exact path.

    One kernel per policy kind (n and the fresh share are data, the source only changes
    arrays). False-failure rate: 1e-4 per example (about 1e-3 over the sweep).
    """
    exponent = (0.5, 1.1, 2.0)[exponent_index]
    policy = cl.Replace() if alpha == 0 else cl.Fresh(alpha)
    result = run(
        cl.Categorical(VOCAB),
        cl.zipf(exponent, VOCAB),
        n=n,
        generations=GENERATIONS,
        policy=policy,
        seed=n,
    )
    table = cl.check(result, false_alarm=1e-4, overrides={"generations": sorted({1, t})})
    assert_all_pass(table)
    # negative control on the same chains: half the sample size at the last generation moves
    # E[heterozygosity_20] by at least ~20 standard errors over the whole sweep range
    wrong = cl.check(
        result, false_alarm=1e-4, overrides={"generations": [GENERATIONS], "num_samples": n // 2}
    )
    assert_rejects(wrong, rows={"observable": "heterozygosity"})


@pytest.mark.slow
def test_acceptance_size_run():
    """Acceptance size (slow tier): Zipf(1.1), vocab 1,000, n = 1,000, 10,000 chains,
    200 generations (sample path, about 4-8 minutes here). Every exact row passes (family-wise
    false-failure rate 1e-3); the theory with n changed by 5 % is rejected by the survivors,
    lost-mass and heterozygosity rows. n + 1 is not detectable at this size (relative effect
    about t/n^2; theory/wright_fisher.md#detectability), so it is not asserted."""
    fam = cl.Categorical(1000)
    result = run(
        fam, cl.zipf(1.1, 1000), n=1000, generations=200, chains=10_000, method="sample", seed=0
    )
    table = cl.check(result)
    assert_all_pass(table, formulas=("W2", "W3", "W5", "W6"))
    for wrong in (950, 1050):
        bad = cl.check(result, overrides={"num_samples": wrong})
        failed = set(bad[~bad["pass"]]["observable"])
        assert {"support_size", "lost_mass", "heterozygosity"} <= failed, (wrong, failed)

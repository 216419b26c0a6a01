"""Calibrated simulation-vs-theory tests for the n-gram family, each with a negative control.

False-failure rates (under a correct implementation), all across INDEPENDENT chains:
* every ``check()`` call runs at the family-wise rate ``FALSE_ALARM`` = 1e-4 (Bonferroni over its
  rows); there are 5 such calls that must pass -> 5e-4;
* the two-sample KS test (sample path vs exact multinomial path): 1e-4;
* the NumPy Monte Carlo checks of the recursions: |z| < 5 on 6 statistics -> 6 * 5.7e-7;
so the file fails spuriously with probability below about 7e-4. The corpus rows are approximate
(tolerance bands, theory/ngram.md#corpus) and can only fail if the measured error regime is wrong.
Seeds are fixed, so runs are reproducible. Negative controls assert, through
``tests/_controls.assert_rejects`` (non-empty table, targeted rows present, then rejection), that
a deliberately wrong formula (n + 1 draws, the wrong fresh fraction, half the corpus) is rejected
by the same statistics on the same chains, the exact path included; the predicted shifts are at
least 8 standard errors.
The hypothesis tests are deterministic identities between two independent derivations.
"""

import jax
import numpy as np
import pytest
from _controls import assert_rejects
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import collapse_lab as cl
from collapse_lab.theory import ngram as th

FALSE_ALARM = 1e-4
V = 8
N_DRAWS = 10


@pytest.fixture(scope="module")
def transitions():
    return cl.random_markov_source(jax.random.key(42), V, 1, support_size=4)


@pytest.fixture(scope="module")
def fixed(transitions):
    fam = cl.NGram(V, 1, mode="fixed_counts", context_weights=[1, 2, 1, 1, 2, 1, 1, 1])
    return fam, fam.source(jax.random.key(1), transitions, heldout_sequences=10,
                           heldout_seq_len=100)


@pytest.fixture(scope="module")
def replace_run(fixed):
    fam, src = fixed
    return cl.run_chains(jax.random.key(11), fam, src, num_chains=3000, num_generations=30,
                         num_samples=N_DRAWS)


def _formulas(table, passed):
    return set(table.loc[table["pass"] == passed, "formula"])


def test_fixed_counts_replace_exact_rows(replace_run):
    table = cl.check(replace_run, false_alarm=FALSE_ALARM)
    assert len(table) >= 40 and table["exact"].all()
    assert table.attrs["passed"], table[~table["pass"]]
    assert _formulas(table, True) == {"W1", "W2", "W3", "W5"}
    # negative control: n + 1 draws per context where n belongs
    wrong = cl.check(replace_run, false_alarm=FALSE_ALARM, overrides={"num_samples": N_DRAWS + 1})
    assert_rejects(wrong, rows={"formula": ["W2", "W3", "W5"]}, each=True)
    # negative control: every context weight 1 (ignores the doubled rows)
    flat = cl.check(replace_run, false_alarm=FALSE_ALARM, overrides={"context_weights": [1] * V})
    assert_rejects(flat, rows={"exact": True})


@pytest.mark.skipif(not cl.NGram(2, 1, mode="fixed_counts").has_exact,
                    reason="collapse_lab._multinomial not available")
def test_exact_path_matches_theory_and_sample_path(fixed, replace_run):
    fam, src = fixed
    exact = cl.run_chains(jax.random.key(12), fam, src, num_chains=3000, num_generations=30,
                          num_samples=N_DRAWS, method="exact")
    table = cl.check(exact, false_alarm=FALSE_ALARM, overrides={"generations": [1, 5, 30]})
    assert table.attrs["passed"], table[~table["pass"]]
    # negative control on the exact path's chains: n + 1 draws per context
    wrong = cl.check(
        exact, false_alarm=FALSE_ALARM,
        overrides={"generations": [1, 5, 30], "num_samples": N_DRAWS + 1},
    )
    assert_rejects(wrong, rows={"formula": ["W2", "W3", "W5"]})
    # sample path and exact path: same law of the final heterozygosity (two-sample KS)
    a = replace_run.observables["heterozygosity"][:, -1]
    b = exact.observables["heterozygosity"][:, -1]
    assert stats.ks_2samp(a, b).pvalue > FALSE_ALARM


def test_fixed_counts_fresh_and_accumulate(fixed):
    fam, src = fixed
    fresh = cl.run_chains(jax.random.key(13), fam, src, policy=cl.Fresh(0.3), num_chains=1500,
                          num_generations=20, num_samples=N_DRAWS)
    table = cl.check(fresh, false_alarm=FALSE_ALARM)
    assert table.attrs["passed"], table[~table["pass"]]
    wrong = cl.check(fresh, false_alarm=FALSE_ALARM, overrides={"alpha": 0.0})
    assert_rejects(wrong, rows={"exact": True})
    acc = cl.run_chains(jax.random.key(14), fam, src, policy=cl.Accumulate(), num_chains=1500,
                        num_generations=20, num_samples=N_DRAWS)
    table = cl.check(acc, false_alarm=FALSE_ALARM)
    assert table.attrs["passed"], table[~table["pass"]]
    wrong = cl.check(acc, false_alarm=FALSE_ALARM, overrides={"num_samples": N_DRAWS - 3})
    assert_rejects(wrong, rows={"exact": True})
    # deterministic: every model is a count fit on w_a * N draws (rows on a 1/(w_a N) grid),
    # and no run ever leaves the source support
    weights = np.asarray(fam.weights_array())[:, None]
    for run, total in ((fresh, N_DRAWS), (acc, 20 * N_DRAWS)):
        probs = np.asarray(run.final_params.probs)
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)
        grid = probs * weights * total
        np.testing.assert_allclose(grid, np.round(grid), atol=2e-3)
        assert np.all(run.observables["support"] <= int((src.info.transitions > 0).sum()))


def test_corpus_mode_approximate_rows():
    """Generated corpora: the approximate heterozygosity rows hold within their band."""
    p = cl.random_markov_source(jax.random.key(5), 6, 1, support_size=3)
    fam = cl.NGram(6, 1, mode="corpus", seq_len=50)
    src = fam.source(jax.random.key(6), p, heldout_sequences=10, heldout_seq_len=100)
    run = cl.run_chains(jax.random.key(15), fam, src, num_chains=500, num_generations=15,
                        num_samples=10)
    table = cl.check(run, false_alarm=FALSE_ALARM)
    assert len(table) >= 4 and not table["exact"].any()
    assert table.attrs["passed"], table[~table["pass"]]
    # negative control: half the corpus size in the formula
    wrong = cl.check(run, false_alarm=FALSE_ALARM, overrides={"num_samples": 5})
    assert_rejects(wrong, rows={"exact": False})


# ------------------------------------------------------------------ theory self-consistency
@given(
    n=st.integers(2, 30),
    fresh=st.integers(0, 5),
    p=st.floats(0.01, 0.99),
    t=st.integers(1, 12),
)
def test_count_chain_moments_match_variance_ratio(n, fresh, p, t):
    """Two derivations agree: the propagated count law has mean p and variance p(1-p) r_t."""
    fresh = min(fresh, n)
    dist = th.count_distribution(t, n, [p], n - fresh)[0]
    values = np.arange(n + 1) / n
    mean = dist @ values
    var = dist @ values**2 - mean**2
    np.testing.assert_allclose(dist.sum(), 1.0, atol=1e-12)
    np.testing.assert_allclose(mean, p, atol=1e-10)
    np.testing.assert_allclose(var, p * (1 - p) * th.variance_ratio(t, n, n - fresh),
                               rtol=1e-8, atol=1e-13)


@given(n=st.integers(1, 40), t=st.integers(0, 30))
def test_replace_and_accumulate_closed_forms(n, t):
    np.testing.assert_allclose(th.variance_ratio(t, n), 1 - (1 - 1 / n) ** t, atol=1e-12)
    product = np.prod([1 - 1 / (n * k * k) for k in range(1, t + 1)])
    np.testing.assert_allclose(th.variance_ratio_accumulate(t, n), 1 - product, atol=1e-12)


def test_t_zero_identities(transitions):
    pi = th.stationary_context_law(transitions, V, 1)
    h0 = pi @ th.row_heterozygosity(transitions)
    assert th.expected_weighted_heterozygosity(0, 7, pi, transitions) == pytest.approx(h0)
    assert th.expected_lost_mass(0, 7, pi, transitions) == 0.0
    assert th.expected_support(0, 7, transitions) == (transitions > 0).sum()
    # n -> infinity: no drift
    assert th.expected_weighted_heterozygosity(5, 10**9, pi, transitions) == pytest.approx(h0)


def test_recursions_against_numpy_monte_carlo():
    """Fresh-data and accumulate recursions vs a NumPy simulation of one transition (200k reps).

    Each statistic is compared by |z| < 5 (false failure 5.7e-7 each).
    """
    rng = np.random.default_rng(2024)
    reps, p, n, m, t_max = 200_000, 0.15, 12, 9, 6
    prob = np.full(reps, p)
    for s in range(t_max):
        x = rng.binomial(n if s == 0 else m, prob) + (0 if s == 0 else rng.binomial(n - m, p, reps))
        prob = x / n
    gone = np.mean(prob == 0)
    expect = th.transition_loss_probability(t_max, n, p, m)[0]
    assert abs(gone - expect) / np.sqrt(expect * (1 - expect) / reps) < 5
    r = th.variance_ratio(t_max, n, m)
    dev = (prob - p) ** 2 / (p * (1 - p))
    assert abs(dev.mean() - r) / (dev.std() / np.sqrt(reps)) < 5
    # accumulate
    pooled = np.zeros(reps)
    for s in range(t_max):
        pooled = pooled + rng.binomial(n, np.full(reps, p) if s == 0 else pooled / (s * n))
    prob = pooled / (t_max * n)
    dev = (prob - p) ** 2 / (p * (1 - p))
    r = th.variance_ratio_accumulate(t_max, n)
    assert abs(dev.mean() - r) / (dev.std() / np.sqrt(reps)) < 5
    gone = np.mean(prob == 0)
    expect = th.transition_loss_probability_accumulate(t_max, n, p)[0]
    assert abs(gone - expect) / np.sqrt(expect * (1 - expect) / reps) < 5
    # a schedule of sizes (replace)
    sizes = [5, 9, 3, 7]
    prob = np.full(reps, p)
    for size in sizes:
        prob = rng.binomial(size, prob) / size
    dev = (prob - p) ** 2 / (p * (1 - p))
    r = th.variance_ratio(4, sizes)
    assert abs(dev.mean() - r) / (dev.std() / np.sqrt(reps)) < 5
    gone = np.mean(prob == 0)
    expect = th.transition_loss_probability(4, sizes, p)[0]
    assert abs(gone - expect) / np.sqrt(expect * (1 - expect) / reps) < 5


def test_corpus_factor_limits():
    pi = np.array([0.5, 0.3, 0.2])
    iid = th.corpus_context_factor(10**6, pi, "iid")
    naive = th.corpus_context_factor(10**6, pi, "naive")
    np.testing.assert_allclose(iid, naive, rtol=1e-5)
    # a context that is almost never seen keeps its row: factor close to 1
    assert th.corpus_context_factor(10, np.array([1e-6]), "iid")[0] > 0.9999
    with pytest.raises(ValueError, match="method"):
        th.corpus_context_factor(10, pi, "poisson")


def test_theory_module_imports_no_simulator():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(th))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 1 or not (node.module or "").startswith("collapse_lab"), node.module
            assert (node.module or "") in ("_common", "__future__", "scipy", "numpy"), node.module
        elif isinstance(node, ast.Import):
            assert all(a.name in ("numpy",) for a in node.names)

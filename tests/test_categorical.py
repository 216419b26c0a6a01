"""Categorical family: validation, observables, contract (jit, keys, chain invariance), paths.

Deterministic tests unless a docstring states a false-failure rate. Kernels are shared through
module-scoped fixtures: one vocabulary size (K = 20, every probability tracked) and few chain
counts, so each kernel compiles once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import collapse_lab as cl
from collapse_lab import chain
from collapse_lab.families.categorical import MAX_TRIALS, SOURCE_SCALE, tail_masks
from collapse_lab.sampling import SamplingBias

VOCAB = 20
N = 50
GENERATIONS = 20  # vocab 20, 2,000 chains, 20 generations: kernels shared with the
# statistical tests (tests/statistical/test_wright_fisher.py)


@pytest.fixture(scope="module")
def family():
    return cl.Categorical(VOCAB)


@pytest.fixture(scope="module")
def source(family):
    return family.source(cl.zipf(1.1, VOCAB))


# ------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"vocab_size": 1}, "vocab_size"),
        ({"vocab_size": 2.5}, "vocab_size"),
        ({"vocab_size": True}, "vocab_size"),
        ({"vocab_size": 10, "smoothing": -0.1}, "smoothing"),
        ({"vocab_size": 10, "smoothing": float("nan")}, "smoothing"),
        ({"vocab_size": 10, "bias": "top_k=3"}, "bias"),
    ],
)
def test_family_arguments_rejected(kwargs, word):
    with pytest.raises(ValueError, match=word):
        cl.Categorical(**kwargs)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"min_p": 0.0}, "min_p"),
    ],
)
def test_bias_arguments_rejected(kwargs, word):
    with pytest.raises(ValueError, match=word):
        SamplingBias(**kwargs)


@pytest.mark.parametrize(
    "probs, word",
    [
        (np.full(VOCAB, 1.0 / VOCAB) * np.r_[-1.0, np.ones(VOCAB - 1)], "non-negative"),
        (np.full(VOCAB, 1.0 / VOCAB) * 1.01, "sum to 1"),
        (np.r_[np.nan, np.full(VOCAB - 1, 1.0 / (VOCAB - 1))], "finite"),
        (np.full(VOCAB - 1, 1.0 / (VOCAB - 1)), "shape"),
        ("zipf", "probs"),
    ],
)
def test_source_rejected_before_tracing(family, probs, word):
    before = dict(chain.TRACE_COUNTS)
    with pytest.raises(ValueError, match=word):
        family.source(probs)
    assert chain.TRACE_COUNTS == before


def test_run_arguments_rejected_before_tracing(family, source):
    before = dict(chain.TRACE_COUNTS)
    for n, word in [(0, "num_samples"), (MAX_TRIALS + 1, "num_samples")]:
        with pytest.raises(ValueError, match=word):
            cl.run_chains(
                jax.random.key(0), family, source, num_chains=2, num_generations=2, num_samples=n
            )
    with pytest.raises(ValueError, match="source"):
        cl.run_chains(
            jax.random.key(0),
            family,
            cl.Categorical(30).source(cl.zipf(1.0, 30)),
            num_chains=2,
            num_generations=2,
            num_samples=5,
        )
    assert chain.TRACE_COUNTS == before


@pytest.mark.parametrize(
    "args, word",
    [((-0.5, 10), "exponent"), ((1.0, 1), "vocab_size"), ((float("inf"), 10), "exponent")],
)
def test_zipf_rejected(args, word):
    with pytest.raises(ValueError, match=word):
        cl.zipf(*args)


def test_zipf_shapes():
    p = cl.zipf(1.1, 1000)
    assert p.shape == (1000,) and abs(p.sum() - 1) < 1e-12
    np.testing.assert_allclose(p[0] / p[9], 10**1.1)
    q = cl.zipf_mandelbrot(1.0, 2.7, 50)
    np.testing.assert_allclose(q[0] / q[1], (2 + 2.7) / (1 + 2.7))
    np.testing.assert_allclose(cl.zipf(0.0, 8), np.full(8, 1 / 8))


# ------------------------------------------------------------------------------- observables
def test_source_observables(family, source):
    p0 = cl.zipf(1.1, VOCAB)
    obs = jax.jit(family.observe)(source, source)
    np.testing.assert_allclose(family.source_probs(source), p0, atol=2.0**-30)
    np.testing.assert_allclose(obs["entropy"], -np.sum(p0 * np.log(p0)), rtol=1e-5)
    assert int(obs["support_size"]) == VOCAB
    assert float(obs["lost_mass"]) == 0.0
    np.testing.assert_allclose(obs["heterozygosity"], 1 - np.sum(p0**2), rtol=1e-6)
    assert abs(float(obs["kl_to_source"])) < 1e-6
    np.testing.assert_allclose(obs["max_prob"], p0[0], rtol=1e-6)
    np.testing.assert_allclose(obs["tail_mass_1pct"], p0[-1], rtol=1e-5)  # ceil(0.2) = 1
    np.testing.assert_allclose(obs["tail_mass_10pct"], p0[-2:].sum(), rtol=1e-5)
    assert float(obs["fixed"]) == 0.0 and int(obs["fixation_generation"]) == -1
    np.testing.assert_allclose(obs["tracked_probs"], p0, rtol=1e-5)
    np.testing.assert_array_equal(family.tracked_categories(source), np.arange(VOCAB))


def test_tail_sets_and_tracking_for_large_vocab():
    fam = cl.Categorical(1000)
    src = fam.source(cl.zipf(1.1, 1000))
    masks = tail_masks(src.weights, src.tail_cut, src.tail_index)
    np.testing.assert_array_equal(np.flatnonzero(masks[0]), np.arange(990, 1000))
    np.testing.assert_array_equal(np.flatnonzero(masks[1]), np.arange(900, 1000))
    tracked = fam.tracked_categories(src)
    assert tracked.size == 16 and tracked[0] == 0 and tracked[-1] == 999
    # ties (uniform source): the rarest are the highest indices
    uni = fam.source(np.full(1000, 1e-3))
    np.testing.assert_array_equal(
        np.flatnonzero(tail_masks(uni.weights, uni.tail_cut, uni.tail_index)[0]),
        np.arange(990, 1000),
    )


def test_observables_of_a_fitted_model(family, source):
    counts = jnp.zeros(VOCAB, jnp.int32).at[jnp.asarray([0, 0, 0, 3])].add(1)
    estimate = jax.jit(lambda stats, params: family.estimate(None, stats, params))
    observe = jax.jit(family.observe)
    model = estimate(cl.families.CategoricalStats(counts=counts), source)
    obs = observe(model, source)
    p0 = family.source_probs(source)
    p = np.zeros(VOCAB)
    p[0], p[3] = 0.75, 0.25
    np.testing.assert_allclose(
        obs["entropy"], -(0.75 * np.log(0.75) + 0.25 * np.log(0.25)), rtol=1e-6
    )
    assert int(obs["support_size"]) == 2
    np.testing.assert_allclose(obs["lost_mass"], 1 - p0[0] - p0[3], rtol=1e-6)
    np.testing.assert_allclose(
        obs["kl_to_source"], np.sum(p[[0, 3]] * np.log(p[[0, 3]] / p0[[0, 3]])), rtol=1e-5
    )
    assert int(model.generation) == 1 and int(obs["fixation_generation"]) == -1
    one = estimate(cl.families.CategoricalStats(counts=counts.at[3].set(0)), model)
    obs1 = observe(one, source)
    assert float(obs1["fixed"]) == 1.0 and int(obs1["fixation_generation"]) == 2
    again = estimate(cl.families.CategoricalStats(counts=counts), one)
    assert int(observe(again, source)["fixation_generation"]) == 2  # first time kept


def test_pool_overflow_is_flagged(family, source):
    big = jnp.full(VOCAB, 2**27, jnp.int32)  # total 20 * 2^27 > 2^31
    model = family.estimate(None, cl.families.CategoricalStats(counts=big), source)
    assert int(model.total) == -1
    assert np.all(np.isnan(np.asarray(family.probs(model))))


def test_smoothing_applies_to_fitted_models_only():
    fam = cl.Categorical(4, smoothing=0.5)
    src = fam.source([0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(fam.probs(src), [0.5, 0.5, 0, 0])
    model = fam.estimate(None, cl.families.CategoricalStats(counts=jnp.asarray([3, 1, 0, 0])), src)
    np.testing.assert_allclose(fam.probs(model), np.array([3.5, 1.5, 0.5, 0.5]) / 6, rtol=1e-6)


# ------------------------------------------------------------------------------- contract
KEYS = {"sample": 5, "exact": 6}  # different keys: the two paths' chains are independent


@pytest.fixture(scope="module")
def runs(family, source):
    """Both methods at 8 and 2,000 chains (one kernel per method and chain count)."""
    out = {}
    for method in ("sample", "exact"):
        for chains in (8, 2000):
            out[method, chains] = cl.run_chains(
                jax.random.key(KEYS[method]),
                family,
                source,
                num_chains=chains,
                num_generations=GENERATIONS,
                num_samples=N,
                method=method,
            )
    return out


EXPECTED = {
    "entropy",
    "support_size",
    "lost_mass",
    "heterozygosity",
    "kl_to_source",
    "tail_mass_1pct",
    "tail_mass_10pct",
    "max_prob",
    "fixed",
    "fixation_generation",
    "tracked_probs",
}


@pytest.mark.parametrize("method", ["sample", "exact"])
def test_shapes_dtypes_and_invariants(runs, method):
    r = runs[method, 2000]
    assert set(r.observables) == EXPECTED
    for name, arr in r.observables.items():
        want = (2000, GENERATIONS + 1) + ((VOCAB,) if name == "tracked_probs" else ())
        assert arr.shape == want, name
    assert r.observables["support_size"].dtype == np.int32
    assert r.observables["fixation_generation"].dtype == np.int32
    assert r.observables["entropy"].dtype == np.float32
    probs = r.observables["tracked_probs"]
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)
    scaled = probs[:, 1:] * N
    np.testing.assert_allclose(scaled, np.rint(scaled), atol=1e-3)  # counts / n
    np.testing.assert_array_equal((probs > 0).sum(-1), r.observables["support_size"])
    assert np.all(np.diff(r.observables["support_size"], axis=1) <= 0)  # losses are final


@pytest.mark.parametrize("method", ["sample", "exact"])
def test_chain_invariance_8_vs_2000(runs, method):
    small, big = runs[method, 8], runs[method, 2000]
    for name in EXPECTED:
        np.testing.assert_array_equal(small.observables[name], big.observables[name][:8], name)


@pytest.mark.parametrize("method", ["sample", "exact"])
def test_same_key_same_result(family, source, runs, method):
    again = cl.run_chains(
        jax.random.key(KEYS[method]),
        family,
        source,
        num_chains=8,
        num_generations=GENERATIONS,
        num_samples=N,
        method=method,
    )
    for name in EXPECTED:
        np.testing.assert_array_equal(again.observables[name], runs[method, 8].observables[name])
    assert not np.array_equal(
        runs[method, 8].observables["tracked_probs"][1],
        runs[method, 8].observables["tracked_probs"][0],
    )


def test_jit_equals_nojit(family, source):
    key = jax.random.key(3)
    eager_s = family.sample_stats(key, source, N)
    jit_s = jax.jit(family.sample_stats, static_argnums=(2,))(key, source, N)
    np.testing.assert_array_equal(eager_s.counts, jit_s.counts)
    eager_e = family.exact_stats(key, source, N)
    jit_e = jax.jit(family.exact_stats)(key, source, N)
    np.testing.assert_array_equal(eager_e.counts, jit_e.counts)
    assert int(eager_s.counts.sum()) == N and int(eager_e.counts.sum()) == N
    tokens = family.sample(key, source, N)
    np.testing.assert_array_equal(jnp.bincount(tokens, length=VOCAB), eager_s.counts)


def test_masked_sample_counts_only_the_first_n(family, source):
    stats_ = jax.jit(family.sample_stats, static_argnums=(2,))(jax.random.key(1), source, 64, 17)
    assert int(stats_.counts.sum()) == 17


# ------------------------------------------------------------------------------- the two paths
@pytest.fixture(scope="module")
def path_pair(runs):
    """2,000 chains of each method (independent keys)."""
    return runs["sample", 2000], runs["exact", 2000]


def test_exact_and_sample_paths_agree_in_distribution(path_pair):
    """Chi-square homogeneity of the count of each of 6 categories (ranks 1, 2, 3, 5, 10, 20)
    between the two paths at generations 1 and 6, across 2,000 independent chains each.

    False-failure rate: 1e-3 (Bonferroni over 12 tests).
    """
    a, b = path_pair
    for t in (1, 6):
        for cat in (0, 1, 2, 4, 9, 19):
            ca = np.rint(a.observables["tracked_probs"][:, t, cat] * N).astype(int)
            cb = np.rint(b.observables["tracked_probs"][:, t, cat] * N).astype(int)
            values = np.union1d(ca, cb)
            table = np.array([[np.sum(ca == v) for v in values], [np.sum(cb == v) for v in values]])
            # merge sparse cells so that every expected count is at least 5
            merged, acc = [], np.zeros(2)
            for col in table.T:
                acc = acc + col
                if acc.sum() >= 10:
                    merged.append(acc)
                    acc = np.zeros(2)
            if merged:
                merged[-1] = merged[-1] + acc
            merged = np.array(merged).T
            if merged.shape[1] < 2:
                continue
            p = stats.chi2_contingency(merged, correction=False).pvalue
            assert p > 1e-3 / 12, (t, cat, p)


def test_exact_and_sample_paths_agree_on_aggregates(path_pair):
    """Two-sample z of E[support size] and E[heterozygosity] at generation 6 (false-failure
    rate 1e-3: Bonferroni over 2 rows at |z| < 3.3)."""
    a, b = path_pair
    for name in ("support_size", "heterozygosity"):
        x = a.observables[name][:, 6].astype(float)
        y = b.observables[name][:, 6].astype(float)
        z = (x.mean() - y.mean()) / np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
        assert abs(z) < 3.3, (name, z)


# ------------------------------------------------------------------------------- bias, smoothing
def test_biased_sampling_distribution_matches_map():
    """The family's sampling distribution is the theory module's bias map (deterministic)."""
    from collapse_lab.theory import wright_fisher as wf

    p0 = cl.zipf(1.2, VOCAB)
    for bias in (
        SamplingBias(temperature=0.7),
        SamplingBias(top_k=4),
        SamplingBias(top_p=0.6),
        SamplingBias(temperature=1.3, top_p=0.9, min_p=0.05),
    ):
        fam = cl.Categorical(VOCAB, bias=bias)
        src = fam.source(p0)
        q = np.asarray(jax.jit(fam.sampling_probs)(src), dtype=np.float64)
        expected = wf.bias_map(fam.source_probs(src), **{k: v for k, v in bias.describe().items()})
        np.testing.assert_allclose(q, expected, atol=2e-6)


def test_top_k_sampling_keeps_k_categories():
    fam = cl.Categorical(VOCAB, bias=SamplingBias(top_k=3))
    model = fam.source(cl.zipf(1.0, VOCAB))

    @jax.jit
    def step(key, params):
        return fam.estimate(None, fam.sample_stats(key, params, 200), params)

    for t in range(3):
        model = step(jax.random.key(t), model)
        assert int(jnp.sum(model.weights > 0)) <= 3
        assert int(model.weights[3:].sum()) == 0


def test_source_quantisation_is_fine():
    fam = cl.Categorical(3)
    src = fam.source([1e-12, 0.5 - 1e-12, 0.5])
    w = np.asarray(src.weights)
    assert w[0] == 1 and int(src.total) == w.sum() and abs(w.sum() - SOURCE_SCALE) <= 2


def test_subsample_from_pool_is_multivariate_hypergeometric():
    """AccumulateSubsample's draw from pooled counts (sum-tree descent) against the exact
    multivariate hypergeometric law: chi-square over all 11 outcomes of 4 draws from (5, 3, 2),
    20,000 draws, false-failure rate 1e-4. Negative control: the same draws reject the
    with-replacement (multinomial) law. Masked draws (num_samples < max_samples) and a vocabulary
    that is not a power of two keep the counts' sum and the pool's bounds."""
    import itertools

    from scipy import special

    from collapse_lab.families.categorical import CategoricalStats

    fam = cl.Categorical(3)
    pool = jnp.array([5, 3, 2], jnp.int32)
    m = 4
    draw = jax.jit(jax.vmap(lambda k: fam.subsample_stats(
        k, CategoricalStats(counts=pool), m, 6).counts))
    out = np.asarray(draw(jax.random.split(jax.random.key(7), 20_000)))
    assert np.all(out.sum(axis=1) == m) and np.all(out <= np.asarray(pool))
    states = [s for s in itertools.product(range(6), range(4), range(3)) if sum(s) == m]
    observed = np.array([np.sum(np.all(out == np.array(s), axis=1)) for s in states])
    hyper = np.array([special.comb(5, a) * special.comb(3, b) * special.comb(2, c)
                      for a, b, c in states]) / special.comb(10, m)
    multi = np.array([stats.multinomial.pmf(s, m, [0.5, 0.3, 0.2]) for s in states])
    assert stats.chisquare(observed, hyper * out.shape[0]).pvalue > 1e-4
    assert stats.chisquare(observed, multi / multi.sum() * out.shape[0]).pvalue < 1e-4

    big = cl.Categorical(100)
    counts = jnp.asarray(np.random.default_rng(0).integers(0, 4, 100), jnp.int32)
    sub = np.asarray(jax.vmap(lambda k: big.subsample_stats(
        k, CategoricalStats(counts=counts), 30, 40).counts)(jax.random.split(jax.random.key(8), 64)))
    assert np.all(sub.sum(axis=1) == 30) and np.all(sub <= np.asarray(counts))


# ------------------------------------------------------------------------------- kernels
def test_prefix_sums_tree_sums_equal_their_references():
    """The matmul running sum equals jnp.cumsum (any length, totals below 2^24), and the
    unpadded neighbour tree equals the tree over the zero-padded power of two (bit for bit)."""
    from collapse_lab._multinomial import running_sum
    from collapse_lab.families.categorical import _tree_sum, _tree_sums

    rng = np.random.default_rng(3)
    for size in (1, 5, 32, 33, 1000, 4099):
        x = rng.integers(0, 4096, size).astype(np.int32)
        np.testing.assert_array_equal(np.asarray(running_sum(jnp.asarray(x))), np.cumsum(x))
    big = np.full(4096, 4095, np.int32)  # total just below 2^24
    np.testing.assert_array_equal(np.asarray(running_sum(jnp.asarray(big))), np.cumsum(big))

    def padded_tree(v):
        width = 1 << max(0, (v.shape[-1] - 1).bit_length())
        v = np.concatenate([v, np.zeros(v.shape[:-1] + (width - v.shape[-1],), v.dtype)], -1)
        while v.shape[-1] > 1:
            v = v[..., 0::2] + v[..., 1::2]
        return v[..., 0]

    for size in (1, 2, 3, 7, 1000, 1025):
        rows = rng.random((3, size)).astype(np.float32)
        want = padded_tree(rows)
        np.testing.assert_array_equal(np.asarray(_tree_sum(jnp.asarray(rows))), want)
        np.testing.assert_array_equal(
            np.asarray(_tree_sums([jnp.asarray(r) for r in rows])), want)

"""Deterministic tests of the n-gram family: validation, layouts, sampling, fitting, observables.

The few statistical assertions here (marked) use independent chains and state their
false-failure rate; calibrated theory tests live in tests/statistical/test_ngram_theory.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import collapse_lab as cl
from collapse_lab import chain as chain_module
from collapse_lab.families.ngram import NGramParams, NGramStats, validate_transitions
from collapse_lab.sampling import SamplingBias
from collapse_lab.theory import ngram as th

V = 6


@pytest.fixture(scope="module")
def transitions():
    return cl.random_markov_source(jax.random.key(0), V, 1, support_size=3)


@pytest.fixture(scope="module")
def corpus_family():
    return cl.NGram(V, 1, mode="corpus", seq_len=20)


@pytest.fixture(scope="module")
def corpus_source(corpus_family, transitions):
    return corpus_family.source(jax.random.key(1), transitions, heldout_sequences=20,
                                heldout_seq_len=50)


@pytest.fixture(scope="module")
def fixed_family():
    return cl.NGram(V, 1, mode="fixed_counts")


@pytest.fixture(scope="module")
def fixed_source(fixed_family, transitions):
    return fixed_family.source(jax.random.key(1), transitions, heldout_sequences=20,
                               heldout_seq_len=50)


def _run(fam, src, **kw):
    args = dict(num_chains=4, num_generations=3, num_samples=5)
    args.update(kw)
    return cl.run_chains(jax.random.key(7), fam, src, **args)


# ----------------------------------------------------------------------------- sources
def test_random_markov_source_rows(transitions):
    p = transitions
    assert p.shape == (V, V)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert np.all((p > 0).sum(axis=1) == 3)
    # backbone: context a may always emit a + 1 mod V
    assert np.all(p[np.arange(V), (np.arange(V) + 1) % V] > 0)
    # Zipf-shaped: the sorted nonzero entries of every row are the same Zipf(1.1) weights
    w = np.arange(1, 4) ** -1.1
    w /= w.sum()
    np.testing.assert_allclose(np.sort(p, axis=1)[:, ::-1][:, :3], np.tile(w, (V, 1)))
    again = cl.random_markov_source(jax.random.key(0), V, 1, support_size=3)
    np.testing.assert_array_equal(p, again)
    other = cl.random_markov_source(jax.random.key(1), V, 1, support_size=3)
    assert not np.array_equal(p, other)


def test_stationary_law_matches_eigenvector(transitions):
    pi = th.stationary_context_law(transitions, V, 1)
    w, vecs = np.linalg.eig(transitions.T)
    ref = np.real(vecs[:, np.argmin(np.abs(w - 1))])
    ref /= ref.sum()
    np.testing.assert_allclose(pi, ref, atol=1e-10)


def test_stationary_law_order_two():
    p = cl.random_markov_source(jax.random.key(3), 4, 2, support_size=2)
    pi = th.stationary_context_law(p, 4, 2)
    flow = (pi[:, None] * p).reshape(4, 4, 4).sum(axis=0).ravel()
    np.testing.assert_allclose(flow, pi, atol=1e-11)


def test_source_layout_and_constants(corpus_source, transitions):
    info = corpus_source.info
    assert info.sparse and info.width == 3
    np.testing.assert_allclose(info.dense_transitions(), transitions)
    assert corpus_source.probs.shape == (V, 3)
    assert info.heldout_total == 20 * 49
    # every held-out n-gram lies on the source support
    assert np.all(info.transitions.reshape(-1)[info.heldout_index] > 0)
    assert hash(info) == hash(corpus_source.info) and info == info


def test_dense_layout_when_smoothing(transitions):
    fam = cl.NGram(V, 1, 0.5, mode="corpus", seq_len=20)
    src = fam.source(jax.random.key(1), transitions, heldout_sequences=20, heldout_seq_len=50)
    assert not src.info.sparse and src.probs.shape == (V, V)


def test_layouts_give_identical_source_observables(transitions):
    sparse = cl.NGram(V, 1, mode="corpus", seq_len=20)
    dense = cl.NGram(V, 1, mode="corpus", seq_len=20, layout="dense")
    a = sparse.source(jax.random.key(1), transitions, heldout_sequences=20, heldout_seq_len=50)
    b = dense.source(jax.random.key(1), transitions, heldout_sequences=20, heldout_seq_len=50)
    oa, ob = jax.jit(sparse.observe)(a, a), jax.jit(dense.observe)(b, b)
    for name in ("entropy_rate", "kl_rate", "kl_rate_eval", "support", "lost_mass",
                 "heterozygosity", "heldout_cross_entropy", "heldout_unseen_fraction"):
        np.testing.assert_allclose(np.asarray(oa[name]), np.asarray(ob[name]), rtol=1e-5,
                                   err_msg=name)


# ----------------------------------------------------------------------------- validation
def test_bad_transitions_raise_before_tracing(corpus_family, transitions):
    before = dict(chain_module.TRACE_COUNTS)
    key = jax.random.key(0)
    bad_sum = transitions.copy()
    bad_sum[2] *= 1.01
    with pytest.raises(ValueError, match="sum to 1"):
        corpus_family.source(key, bad_sum)
    negative = transitions.copy()
    negative[0, 0], negative[0, 1] = -0.1, negative[0, 1] + 0.1
    with pytest.raises(ValueError, match="nonnegative"):
        corpus_family.source(key, negative)
    nan = transitions.copy()
    nan[1, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        corpus_family.source(key, nan)
    with pytest.raises(ValueError, match="vocab_size=6"):  # vocabulary mismatch
        corpus_family.source(key, np.full((7, 7), 1 / 7))
    with pytest.raises(ValueError, match="order=1"):  # a trigram tensor for a bigram family
        corpus_family.source(key, np.full((V, V, V), 1 / V))
    with pytest.raises(ValueError, match="key"):
        corpus_family.source(0, transitions)
    with pytest.raises(ValueError, match="heldout_seq_len"):
        corpus_family.source(key, transitions, heldout_seq_len=1)
    assert chain_module.TRACE_COUNTS == before


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(vocab_size=6, order=0, seq_len=5), "order"),
        (dict(vocab_size=6, order=-1, seq_len=5), "order"),
        (dict(vocab_size=1, order=1, seq_len=5), "vocab_size"),
        (dict(vocab_size=6, order=2, seq_len=2), "seq_len"),
        (dict(vocab_size=6, order=1, seq_len=1), "seq_len"),
        (dict(vocab_size=6, order=1), "seq_len"),
        (dict(vocab_size=6, order=1, seq_len=5, smoothing=-1.0), "smoothing"),
        (dict(vocab_size=6, order=1, seq_len=5, mode="tokens"), "mode"),
        (dict(vocab_size=6, order=1, seq_len=5, unseen="drop"), "unseen"),
        (dict(vocab_size=6, order=1, seq_len=5, eval_smoothing=1.0), "eval_smoothing"),
        (dict(vocab_size=6, order=1, seq_len=5, bias="top_k"), "bias"),
        (dict(vocab_size=6, order=1, seq_len=5, layout="sparse"), "layout"),
        (dict(vocab_size=6, order=1, seq_len=5, stationary_iterations=-1),
         "stationary_iterations"),
        (dict(vocab_size=6, order=1, mode="fixed_counts", context_weights=[1, 2]),
         "context_weights"),
        (dict(vocab_size=6, order=1, mode="fixed_counts", context_weights=[1, 1, 1, 1, 1, 0]),
         "context_weights"),
        (dict(vocab_size=6, order=1, mode="fixed_counts", seq_len=5), "seq_len"),
        (dict(vocab_size=2000, order=2, seq_len=5), "vocab_size"),
    ],
)
def test_bad_family_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        cl.NGram(**kwargs)


def test_bad_run_arguments(corpus_family, corpus_source, transitions):
    before = dict(chain_module.TRACE_COUNTS)
    with pytest.raises(ValueError, match="num_samples"):
        _run(corpus_family, corpus_source, num_samples=0)
    with pytest.raises(ValueError, match="source"):
        _run(corpus_family, transitions)  # a raw array is not a source
    smoothed = cl.NGram(V, 1, 0.1, mode="corpus", seq_len=20)
    with pytest.raises(ValueError, match="layout"):
        _run(smoothed, corpus_source)  # sparse source for a family that needs the dense layout
    other = cl.NGram(7, 1, mode="corpus", seq_len=20)
    with pytest.raises(ValueError, match="vocab_size"):
        _run(other, corpus_source)
    with pytest.raises(ValueError, match="exact"):
        _run(corpus_family, corpus_source, method="exact")
    assert chain_module.TRACE_COUNTS == before


def test_validate_transitions_accepts_tensor_shape():
    p = np.full((3, 3, 3), 1 / 3)
    out = validate_transitions(p, 3, 2)
    assert out.shape == (9, 3)


# ----------------------------------------------------------------------------- sampling
def _count(tokens, order, vocab):
    counts = np.zeros((vocab**order, vocab), np.int64)
    for seq in np.asarray(tokens):
        for i in range(order, len(seq)):
            ctx = 0
            for tok in seq[i - order:i]:
                ctx = ctx * vocab + int(tok)
            counts[ctx, seq[i]] += 1
    return counts


def _dense_counts(stats, info):
    counts = np.asarray(stats.counts)
    if not info.sparse:
        return counts
    out = np.zeros((counts.shape[0], info.vocab_size), np.int64)
    rows, cols = np.nonzero(info.support >= 0)
    out[rows, info.support[rows, cols]] = counts[rows, cols]
    return out


def test_corpus_sample_matches_sample_stats(corpus_family, corpus_source):
    key = jax.random.key(5)
    tokens = corpus_family.sample(key, corpus_source, 7)
    assert tokens.shape == (7, 20)
    stats = corpus_family.sample_stats(key, corpus_source, 7)
    np.testing.assert_array_equal(_dense_counts(stats, corpus_source.info),
                                  _count(tokens, 1, V))
    assert int(stats.counts.sum()) == 7 * 19
    # only source transitions are ever generated
    assert np.all(_count(tokens, 1, V)[corpus_source.info.dense_transitions() == 0] == 0)
    masked = corpus_family.sample_stats(key, corpus_source, 7, jnp.asarray(3))
    np.testing.assert_array_equal(_dense_counts(masked, corpus_source.info),
                                  _count(tokens[:3], 1, V))


def test_order_two_corpus_counts():
    p = cl.random_markov_source(jax.random.key(3), 4, 2, support_size=2)
    fam = cl.NGram(4, 2, 0.5, mode="corpus", seq_len=12, unseen="backoff")
    src = fam.source(jax.random.key(4), p, heldout_sequences=5, heldout_seq_len=20)
    key = jax.random.key(6)
    tokens = fam.sample(key, src, 5)
    stats = fam.sample_stats(key, src, 5)
    np.testing.assert_array_equal(np.asarray(stats.counts), _count(tokens, 2, 4))
    assert np.all(_count(tokens, 2, 4)[p == 0] == 0)


def test_fixed_counts_sample_matches_sample_stats(transitions):
    weights = [1, 2, 1, 3, 1, 1]
    fam = cl.NGram(V, 1, mode="fixed_counts", context_weights=weights)
    src = fam.source(jax.random.key(1), transitions, heldout_sequences=5, heldout_seq_len=20)
    key = jax.random.key(8)
    tokens = np.asarray(fam.sample(key, src, 4))
    assert tokens.shape == (V, 12)
    stats = fam.sample_stats(key, src, 4)
    dense = _dense_counts(stats, src.info)
    np.testing.assert_array_equal(dense.sum(axis=1), 4 * np.asarray(weights))
    for a in range(V):
        drawn = tokens[a][tokens[a] >= 0]
        np.testing.assert_array_equal(np.bincount(drawn, minlength=V), dense[a])
    assert np.all(dense[transitions == 0] == 0)


def test_zero_probability_columns_never_drawn():
    """Rows with zeros in every position (first, middle, last) under float32 CDFs."""
    p = np.array([[0.0, 0.5, 0.0, 0.5], [0.25, 0.0, 0.75, 0.0], [0.0, 0.0, 0.0, 1.0],
                  [1.0, 0.0, 0.0, 0.0]])
    fam = cl.NGram(4, 1, mode="fixed_counts", layout="dense")
    src = fam.source(jax.random.key(0), p, heldout_sequences=2, heldout_seq_len=10)
    stats = fam.sample_stats(jax.random.key(1), src, 20_000)
    counts = np.asarray(stats.counts)
    assert np.all(counts[p == 0] == 0)
    np.testing.assert_array_equal(counts.sum(axis=1), 20_000)


def test_top_k_one_bias_is_greedy(transitions):
    fam = cl.NGram(V, 1, mode="fixed_counts", bias=SamplingBias(top_k=1))
    src = fam.source(jax.random.key(1), transitions, heldout_sequences=5, heldout_seq_len=20)
    stats = fam.sample_stats(jax.random.key(2), src, 9)
    dense = _dense_counts(stats, src.info)
    np.testing.assert_array_equal(dense.argmax(axis=1), transitions.argmax(axis=1))
    np.testing.assert_array_equal(dense.max(axis=1), 9)


# ----------------------------------------------------------------------------- fitting
def _stats(counts):
    return NGramStats(counts=jnp.asarray(counts, jnp.int32))


@pytest.mark.parametrize("unseen", ["keep", "uniform", "backoff"])
def test_unseen_rules(unseen, transitions):
    fam = cl.NGram(3, 1, 0.0, mode="corpus", seq_len=5, unseen=unseen, layout="dense")
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.0, 0.0, 1.0]])
    src = fam.source(jax.random.key(0), p, heldout_sequences=2, heldout_seq_len=10)
    counts = np.array([[1, 3, 0], [0, 0, 0], [0, 2, 2]])
    new = np.asarray(fam.estimate(None, _stats(counts), src).probs)
    np.testing.assert_allclose(new[0], [0.25, 0.75, 0.0])
    np.testing.assert_allclose(new[2], [0.0, 0.5, 0.5])
    expected_unseen = {"keep": p[1], "uniform": np.full(3, 1 / 3), "backoff": [1 / 8, 5 / 8, 2 / 8]}
    np.testing.assert_allclose(new[1], expected_unseen[unseen], rtol=1e-6)


def test_backoff_order_two_prefers_longest_suffix():
    fam = cl.NGram(2, 2, 0.0, mode="corpus", seq_len=5, unseen="backoff")
    p = np.full((4, 2), 0.5)
    src = fam.source(jax.random.key(0), p, heldout_sequences=2, heldout_seq_len=10)
    # contexts (0,0)=0, (0,1)=1, (1,0)=2, (1,1)=3; only (0,1) and (0,0) seen
    counts = np.array([[3, 1], [1, 1], [0, 0], [0, 0]])
    new = np.asarray(fam.estimate(None, _stats(counts), src).probs)
    np.testing.assert_allclose(new[2], [0.75, 0.25])  # suffix (0) seen in context (0,0)
    np.testing.assert_allclose(new[3], [0.5, 0.5])  # suffix (1) seen in context (0,1)


def test_smoothing_formula(transitions):
    fam = cl.NGram(3, 1, 0.5, mode="corpus", seq_len=5)
    p = np.full((3, 3), 1 / 3)
    src = fam.source(jax.random.key(0), p, heldout_sequences=2, heldout_seq_len=10)
    counts = np.array([[4, 0, 0], [1, 1, 0], [0, 0, 0]])
    new = np.asarray(fam.estimate(None, _stats(counts), src).probs)
    np.testing.assert_allclose(new[0], np.array([4.5, 0.5, 0.5]) / 5.5, rtol=1e-6)
    np.testing.assert_allclose(new[1], np.array([1.5, 1.5, 0.5]) / 3.5, rtol=1e-6)
    np.testing.assert_allclose(new[2], p[2], rtol=1e-6)  # unseen: keep (= previous row)


# ----------------------------------------------------------------------------- observables
def test_observables_by_hand():
    fam = cl.NGram(3, 1, mode="corpus", seq_len=5, layout="dense", eval_smoothing=0.1)
    p0 = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.0, 0.4, 0.6]])
    src = fam.source(jax.random.key(0), p0, heldout_sequences=4, heldout_seq_len=30)
    p = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])
    model = NGramParams(probs=jnp.asarray(p, jnp.float32), corpus_distinct=jnp.asarray(5.0),
                        info=src.info)
    obs = {k: np.asarray(v, np.float64) for k, v in fam.observe(model, src).items()}
    pi = src.info.context_law
    ent = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=1)
    np.testing.assert_allclose(obs["entropy_rate"], pi @ ent, rtol=1e-5)
    assert obs["kl_rate"] == np.inf
    pe = 0.9 * p + 0.1 / 3
    kl = np.sum(np.where(p0 > 0, p0 * np.log(np.where(p0 > 0, p0, 1) / pe), 0), axis=1)
    np.testing.assert_allclose(obs["kl_rate_eval"], pi @ kl, rtol=1e-5)
    assert obs["support"] == 6
    np.testing.assert_allclose(obs["lost_mass"], pi[0] * 0.5, rtol=1e-5)
    np.testing.assert_allclose(obs["heterozygosity"], pi @ (1 - np.sum(p * p, axis=1)), rtol=1e-5)
    idx, cnt = src.info.heldout_index, src.info.heldout_count
    ce = -np.sum(cnt * np.log(pe.reshape(-1)[idx])) / cnt.sum()
    np.testing.assert_allclose(obs["heldout_cross_entropy"], ce, rtol=1e-5)
    np.testing.assert_allclose(obs["heldout_perplexity"], np.exp(ce), rtol=1e-5)
    unseen = np.sum(cnt[p.reshape(-1)[idx] == 0]) / cnt.sum()
    np.testing.assert_allclose(obs["heldout_unseen_fraction"], unseen, rtol=1e-6)
    assert obs["corpus_distinct"] == 5.0


def test_source_observables(corpus_family, corpus_source, transitions):
    obs = corpus_family.observe(corpus_source, corpus_source)
    pi = corpus_source.info.context_law
    ent = -np.sum(np.where(transitions > 0, transitions * np.log(np.where(transitions > 0,
                                                                          transitions, 1)), 0), 1)
    np.testing.assert_allclose(float(obs["entropy_rate"]), pi @ ent, rtol=1e-5)
    assert float(obs["kl_rate"]) == 0.0 and float(obs["lost_mass"]) == 0.0
    assert int(obs["support"]) == int((transitions > 0).sum())
    assert float(obs["heldout_unseen_fraction"]) == 0.0
    assert float(obs["corpus_distinct"]) == int((transitions > 0).sum())


def test_model_entropy_rate_of_source(transitions):
    fam = cl.NGram(V, 1, mode="corpus", seq_len=20, stationary_iterations=200)
    src = fam.source(jax.random.key(1), transitions, heldout_sequences=5, heldout_seq_len=20)
    obs = fam.observe(src, src)
    np.testing.assert_allclose(float(obs["model_entropy_rate"]), float(obs["entropy_rate"]),
                               rtol=1e-5)


# ----------------------------------------------------------------------------- running
def test_run_shapes_and_invariance(corpus_family, corpus_source):
    r = _run(corpus_family, corpus_source)
    assert r.observables["heterozygosity"].shape == (4, 4)
    assert r.observables["tracked_probs"].shape == (4, 4, 4)
    for name, arr in r.observables.items():
        if name != "kl_rate":
            assert np.all(np.isfinite(arr)), name
    again = _run(corpus_family, corpus_source)  # same key, same result (cached kernel)
    for name in r.observables:
        np.testing.assert_array_equal(r.observables[name], again.observables[name])


def test_compiles_once(corpus_family, corpus_source):
    _run(corpus_family, corpus_source)
    before = chain_module.TRACE_COUNTS.get("ngram", 0)
    _run(corpus_family, corpus_source)
    assert chain_module.TRACE_COUNTS.get("ngram", 0) == before


def test_smoothed_dense_run_keeps_full_support(transitions):
    fam = cl.NGram(V, 1, 0.1, mode="corpus", seq_len=20, unseen="uniform")
    src = fam.source(jax.random.key(1), transitions, heldout_sequences=5, heldout_seq_len=20)
    r = _run(fam, src)
    assert np.all(r.observables["support"][:, 1:] == V * V)
    assert np.all(np.isfinite(r.observables["kl_rate"]))


def test_describe_is_plain_data_and_rebuilds():
    import json

    fam = cl.NGram(V, 1, 0.5, mode="fixed_counts", context_weights=[1, 2, 1, 1, 1, 3],
                   bias=SamplingBias(temperature=0.8, top_k=3), unseen="backoff")
    desc = json.loads(json.dumps(fam.describe()))
    assert desc.pop("family") == "ngram"
    assert cl.NGram(**desc) == fam
    assert fam.without_bias().bias.is_identity and fam.without_bias().smoothing == 0.5

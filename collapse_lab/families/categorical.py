r"""Categorical (unigram) family: refit token frequencies on n draws = haploid Wright-Fisher.

Generation t+1 is fit by counts on $n_t$ tokens drawn from generation t:
$p_{t+1} = (N + s)/(n_t + Ks)$ with $N \sim \mathrm{Multinomial}(n_t, b(p_t))$, $s$ the additive
smoothing pseudo-count (``smoothing``, applied to fitted models only) and $b$ the sampling bias
(:class:`~collapse_lab.sampling.SamplingBias`: temperature, top-k, top-p, min-p, truncation).
Without smoothing and bias this is the neutral Wright-Fisher model (catalogue section 4): rare
categories are lost and never come back. Theory: :mod:`collapse_lab.theory.wright_fisher`.

Representation (the scan carry): integer ``weights`` (the fitted counts; for the source, its
probabilities quantised to $2^{-30}$) and their ``total``. Keeping counts as integers makes both
paths exact:

* ``method="sample"`` draws the n tokens literally and counts them: without a bias a token is
  ``searchsorted(cumsum(weights), j)`` with ``j`` uniform on ``0 .. total - 1``
  (:func:`collapse_lab._random.indices`, 64 random bits per token) -- an exact integer inverse
  CDF (a float CDF would misplace the mass of categories below its resolution); smoothed models draw from the
  mixture (empirical counts, uniform) exactly; a biased model uses a float inverse CDF of
  $b(p_t)$ (float resolution, about $10^{-7}$ absolute).
* ``method="exact"`` draws the count vector directly from its multinomial law with the exact
  tree sampler of :mod:`collapse_lab._multinomial`: O(K) per generation, independent of n.

The source's constants (tracked categories, integer cuts of the tail sets) are small arrays of the
parameters, and the source probabilities come from the ``source`` argument of ``observe``, so one
compiled kernel serves every source of the same vocabulary size.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._multinomial import (
    MAX_TRIALS,
    draw_without_replacement,
    multinomial,
    running_sum,
)
from .._random import _materialize, indices, split
from .._validate import at_most
from ..family import AbstractFamily, key_first
from ..sampling import NEG_INF, SamplingBias
from ._categorical_predictions import categorical_predictions
from ._categorical_predictions import tail_masks as tail_masks  # re-exported (public name)

SOURCE_SCALE = 2**30  # the source's probabilities are carried as integer weights / 2^30
SUM_TOLERANCE = 1e-6
ALL_TRACKED_MAX = 64  # vocabularies up to this size record every probability
NUM_TRACKED = 16  # otherwise this many categories at log-spaced source ranks
TAIL_FRACTIONS = (0.01, 0.10)
MAX_POOL = 2**31 - 1  # int32 counts: the accumulated pool must stay below this


def _float_dtype():
    return jnp.result_type(float)


def _tree_sum(x):
    """Sum over the last axis by a fixed pairwise tree (bit-identical for any chain batch).

    Like :func:`collapse_lab._batch_invariant.dsum`, but adding neighbours (``x[2i] + x[2i+1]``):
    one add per level, which keeps compile time small for vocabularies of 10^5 (several sums
    are stacked into one call). A level of odd length carries its last element up unchanged,
    which is the tree over the input zero-padded to a power of two without the padding: a
    padded input made XLA's CPU fusion evaluate the producers of ``x`` (logs of every
    probability, in ``observe``) in a non-vectorised concatenate loop, 6x slower at K = 1,000.
    """
    while x.shape[-1] > 1:
        x = _tree_level(x)
    return x[..., 0]


def _tree_level(x):
    """One level of :func:`_tree_sum`: neighbours added, an odd last element carried."""
    size = x.shape[-1]
    half = size // 2
    head = x[..., 0 : 2 * half : 2] + x[..., 1 : 2 * half : 2]
    if size % 2:
        head = jnp.concatenate([head, x[..., 2 * half :]], axis=-1)
    return head


def _tree_sums(rows):
    """``[_tree_sum(r) for r in rows]``: one tree per row, so that a row nobody reads is never
    computed (with ``observables=[...]`` the entropy and KL logs of ``observe`` are dropped;
    the rows were once stacked into one tree, which kept every row alive). Each row's first
    level is the fusion its producer (a log per category) is evaluated in, vectorised."""
    return [_tree_sum(r) for r in rows]


EXACT_FLOAT_SUM = 2**24  # integers below this add exactly in float32, in any order


def _count_parents(weights, total, j, ones):
    """Counts of ``searchsorted(cumsum(weights), j, side="right")`` weighted by ``ones``.

    A fitted model's total is its sample size, at most the buffer size B: then a histogram of
    the parent indices ``j`` over ``0 .. B - 1`` (one scatter), its running sum, and two
    gathers at the category boundaries count every category without locating a single token
    (the binary search over the categories cost ~4x more here). Both running sums stay below
    2^24 on this path and use :func:`running_sum`. Models with a larger total (the source,
    quantised to 2^30) take the token-by-token search, with an exact integer ``cumsum``, inside
    a ``while_loop`` that runs only when some chain in the batch needs it (zero iterations
    otherwise, also under ``vmap``). Identical counts either way: integer arithmetic throughout.
    """
    k = weights.shape[-1]
    size = j.shape[-1]
    needed = total > size
    if size >= EXACT_FLOAT_SUM:
        cum = jnp.cumsum(weights)  # int32: exact
        below = jnp.cumsum(jnp.zeros((size,), jnp.int32).at[j].add(ones, mode="drop"))
    else:
        # Where ``needed``, these weights' sums may be inexact: their counts are discarded.
        cum = running_sum(jnp.where(needed, 0, weights))
        below = running_sum(jnp.zeros((size,), jnp.int32).at[j].add(ones, mode="drop"))
    below = jnp.concatenate([jnp.zeros((1,), jnp.int32), below])  # #{j < x}
    upper = below[jnp.clip(cum, 0, size)]
    counts = upper - jnp.concatenate([jnp.zeros((1,), jnp.int32), upper[:-1]])

    def search(state):
        # ``step`` (always 0 here) makes the search depend on the loop state: XLA would
        # otherwise hoist the loop-invariant search out of the loop and run it every time.
        step, _ = state
        cum_exact = jnp.cumsum(weights + step)  # int32: exact
        tokens = jnp.searchsorted(cum_exact, j + step, side="right")
        return step + 1, jnp.zeros((k,), jnp.int32).at[tokens].add(ones)

    return jax.lax.while_loop(lambda s: needed & (s[0] == 0), search, (jnp.int32(0), counts))[1]


def _is_int(x):
    return not isinstance(x, bool) and isinstance(x, (int, np.integer))


def _is_number(x):
    return not isinstance(x, bool) and isinstance(x, (int, float, np.integer, np.floating))


# ----------------------------------------------------------------------------- sources
def _check_vocab(vocab_size):
    if not _is_int(vocab_size) or vocab_size < 2:
        raise ValueError(f"vocab_size must be an integer >= 2, got {vocab_size!r}")
    return int(vocab_size)


def zipf_mandelbrot(exponent: float, shift: float, vocab_size: int) -> np.ndarray:
    r"""Zipf-Mandelbrot probabilities $p_i \propto (i + q)^{-a}$, $i = 1..K$ (float64).

    Args:
        exponent: $a \ge 0$ (0 gives the uniform distribution).
        shift: $q > -1$ (0 gives Zipf's law).
        vocab_size: $K \ge 2$.

    Raises:
        ValueError: naming the argument when it is out of range.
    """
    vocab_size = _check_vocab(vocab_size)
    if not _is_number(exponent) or not math.isfinite(float(exponent)) or float(exponent) < 0:
        raise ValueError(f"exponent must be finite and >= 0, got {exponent!r}")
    if not _is_number(shift) or not math.isfinite(float(shift)) or float(shift) <= -1:
        raise ValueError(f"shift must be finite and > -1, got {shift!r}")
    ranks = np.arange(1, vocab_size + 1, dtype=np.float64) + float(shift)
    logw = -float(exponent) * np.log(ranks)
    w = np.exp(logw - logw.max())
    return w / w.sum()


def zipf(exponent: float, vocab_size: int) -> np.ndarray:
    r"""Zipf probabilities $p_i \propto i^{-a}$, $i = 1..K$ (float64, normalised)."""
    return zipf_mandelbrot(exponent, 0.0, vocab_size)


def _rank_order(probs):
    """Categories by decreasing probability, ties by increasing index."""
    return np.lexsort((np.arange(probs.size), -probs))


def _tracked_categories(probs):
    k = probs.size
    if k <= ALL_TRACKED_MAX:
        return np.arange(k)
    order = _rank_order(probs)
    support = max(int(np.sum(probs > 0)), 1)
    ranks = list(dict.fromkeys(np.rint(np.geomspace(1, support, NUM_TRACKED)).astype(int) - 1))
    for r in np.linspace(0, k - 1, 4 * NUM_TRACKED).astype(int):
        if len(ranks) >= NUM_TRACKED:
            break
        if r not in ranks:
            ranks.append(int(r))
    return np.sort(order[np.asarray(ranks[:NUM_TRACKED])])


def _tail_cuts(weights):
    """Integer cuts of the source's rarest 1% / 10% of its support (S categories).

    The tail is the ceil(f * S) least probable categories of the support, ties broken towards
    the higher index: category i is in it iff ``0 < w_i < cut`` or ``w_i == cut and i >= index``.
    Returns ``(cut[2], index[2])`` (exact integer comparisons, identical in NumPy and JAX).
    """
    order = _rank_order(weights.astype(np.float64))
    support = order[: int(np.sum(weights > 0))]
    cuts, index = [], []
    for frac in TAIL_FRACTIONS:
        m = max(1, math.ceil(frac * support.size - 1e-9))
        boundary = support[support.size - m]
        cuts.append(int(weights[boundary]))
        index.append(int(boundary))
    return np.asarray(cuts, np.int64), np.asarray(index, np.int64)


# ----------------------------------------------------------------------------- pytrees
class CategoricalParams(eqx.Module):
    """A categorical model (the scan carry).

    Attributes:
        weights: ``[K]`` int32 counts of the data the model was fit on (source: quantised
            probabilities, total about $2^{30}$).
        total: int32 sum of ``weights`` (-1 flags an accumulated pool beyond int32).
        generation: int32 generation t of the model.
        fixation_generation: int32 first generation whose model had a single category, or -1.
        tracked: ``[M]`` int32 categories recorded as ``tracked_probs`` (constant: all if
            K <= 64, else 16 at log-spaced ranks of the source probability).
        tail_cut, tail_index: ``[2]`` int32 integer definition of the source's rarest 1% / 10%
            of its support (constant; see :func:`tail_masks`).
    """

    weights: jax.Array
    total: jax.Array
    generation: jax.Array
    fixation_generation: jax.Array
    tracked: jax.Array
    tail_cut: jax.Array
    tail_index: jax.Array


class CategoricalStats(eqx.Module):
    """Statistics of a data set of tokens: the count of every category (int32)."""

    counts: jax.Array


# ----------------------------------------------------------------------------- the family
class Categorical(AbstractFamily):
    """Categorical (unigram) model family: haploid Wright-Fisher resampling.

    Args:
        vocab_size: number of categories K >= 2.
        smoothing: additive pseudo-count s >= 0 of a fit: $p = (N + s)/(n + Ks)$.
        bias: sampling bias applied to the model's probabilities before every synthetic draw
            (the source's at generation 0 included); fresh real data (``Fresh`` policy) is drawn
            without it. Default unbiased.

    Raises:
        ValueError: naming the argument, before any tracing.
    """

    vocab_size: int = eqx.field(static=True)
    smoothing: float = eqx.field(static=True)
    bias: SamplingBias = eqx.field(static=True)

    def __init__(self, vocab_size: int, smoothing: float = 0.0, bias: SamplingBias | None = None):
        self.vocab_size = _check_vocab(vocab_size)
        s = smoothing
        if not _is_number(s) or not math.isfinite(float(s)) or float(s) < 0:
            raise ValueError(f"smoothing must be a finite number >= 0, got {s!r}")
        self.smoothing = float(s)
        bias = SamplingBias() if bias is None else bias
        if not isinstance(bias, SamplingBias):
            raise ValueError(f"bias must be a collapse_lab.sampling.SamplingBias, got {bias!r}")
        at_most("top_k", bias.top_k, self.vocab_size, "vocab_size")
        self.bias = bias

    @property
    def name(self) -> str:
        return "categorical"

    def without_bias(self) -> Categorical:
        """This family without sampling bias: fresh real data is drawn through it."""
        if self.bias.is_identity:
            return self
        return Categorical(self.vocab_size, self.smoothing, SamplingBias())

    @property
    def num_tracked(self) -> int:
        """Length of the ``tracked_probs`` observable."""
        return self.vocab_size if self.vocab_size <= ALL_TRACKED_MAX else NUM_TRACKED

    def describe(self) -> dict:
        return {
            "family": self.name,
            "vocab_size": self.vocab_size,
            "smoothing": self.smoothing,
            "bias": self.bias.describe(),
        }

    # ------------------------------------------------------------------------------ source
    @key_first
    def source(self, probs) -> CategoricalParams:
        """Generation-0 parameters from source probabilities ``probs[K]``.

        Raises:
            ValueError: naming ``probs`` if its shape is not ``(vocab_size,)``, it has NaN or
                infinite or negative entries, or it does not sum to 1 within 1e-6.
        """
        k = self.vocab_size
        try:
            p = np.asarray(probs, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"probs must be an array of {k} probabilities, got {probs!r}"
            ) from None
        if p.shape != (k,):
            raise ValueError(f"probs must have shape ({k},) for vocab_size={k}, got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise ValueError("probs must be finite (no NaN or inf)")
        if np.any(p < 0):
            raise ValueError(f"probs must be non-negative, got min {p.min():g}")
        total = p.sum()
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise ValueError(f"probs must sum to 1 within {SUM_TOLERANCE:g}, got {total!r}")
        w = np.rint(p / total * SOURCE_SCALE).astype(np.int64)
        w = np.where(p > 0, np.maximum(w, 1), 0)
        cuts, index = _tail_cuts(w)
        fixed = int(np.sum(w > 0) == 1)
        return CategoricalParams(
            weights=jnp.asarray(w, jnp.int32),
            total=jnp.asarray(int(w.sum()), jnp.int32),
            generation=jnp.asarray(0, jnp.int32),
            fixation_generation=jnp.asarray(0 if fixed else -1, jnp.int32),
            tracked=jnp.asarray(_tracked_categories(w / w.sum()), jnp.int32),
            tail_cut=jnp.asarray(cuts, jnp.int32),
            tail_index=jnp.asarray(index, jnp.int32),
        )

    def source_args(self, source: CategoricalParams) -> dict:
        return {"probs": self.source_probs(source).tolist()}

    def source_probs(self, source: CategoricalParams) -> np.ndarray:
        """The source probabilities the simulator uses (float64; within 2^-31 of the given)."""
        w = np.asarray(source.weights, dtype=np.float64)
        return w / w.sum()

    def check_source(self, source) -> CategoricalParams:
        if not isinstance(source, CategoricalParams):
            raise ValueError(f"source must come from Categorical.source(probs), got {source!r}")
        if source.weights.shape != (self.vocab_size,):
            raise ValueError(
                f"source has {source.weights.shape[-1]} categories, family has {self.vocab_size}"
            )
        return source

    def validate_num_samples(self, num_samples) -> None:
        n = np.asarray(num_samples)
        if np.any(n < 1):
            raise ValueError(f"num_samples must be >= 1, got min {int(n.min())}")
        if np.any(n > MAX_TRIALS):
            raise ValueError(f"num_samples must be <= {MAX_TRIALS}, got max {int(n.max())}")

    # ------------------------------------------------------------------------------ models
    def probs(self, params: CategoricalParams) -> jax.Array:
        """Model probabilities $p_t$ (smoothing applies to fitted models, generation >= 1)."""
        dt = _float_dtype()
        w = params.weights.astype(dt)
        total = params.total.astype(dt)
        if self.smoothing > 0:
            s = jnp.where(params.generation > 0, jnp.asarray(self.smoothing, dt), 0.0)
            w = w + s
            total = total + self.vocab_size * s
        return jnp.where(params.total > 0, w / jnp.where(total > 0, total, 1.0), jnp.nan)

    def sampling_probs(self, params: CategoricalParams) -> jax.Array:
        """The distribution tokens are drawn from: $b(p_t)$ (normalised; deterministic sums)."""
        p = self.probs(params)
        if self.bias.is_identity:
            return p
        logits = jnp.where(p > 0, jnp.log(jnp.where(p > 0, p, 1.0)), NEG_INF)
        logits = self.bias(logits)
        e = jnp.exp(logits - jnp.max(logits))
        return e / _tree_sum(e)

    # ------------------------------------------------------------------------------ sampling
    def sample(self, key, params: CategoricalParams, num_samples: int) -> jax.Array:
        """``num_samples`` tokens (int32 category indices) drawn from the model."""
        return self._tokens(key, params, int(num_samples))

    def _tokens(self, key, params, buffer_size):
        k = self.vocab_size
        if not self.bias.is_identity:
            q = self.sampling_probs(params)
            cdf = jax.lax.associative_scan(jnp.add, q)  # fixed order: batch-invariant
            u = jax.random.uniform(key, (buffer_size,), q.dtype) * cdf[-1]
            tokens = jnp.searchsorted(cdf, u, side="right")
            last = k - 1 - jnp.argmax((q > 0)[::-1])  # u may round up to the total
            return jnp.minimum(tokens, last).astype(jnp.int32)
        key_index, key_mix, key_uniform = split(key, 3)
        cum = jnp.cumsum(params.weights)  # int32: exact
        total = jnp.maximum(params.total, 1)
        j = indices(key_index, buffer_size, total)
        tokens = jnp.searchsorted(cum, j, side="right").astype(jnp.int32)
        if self.smoothing > 0:
            dt = _float_dtype()
            s_total = jnp.where(params.generation > 0, k * self.smoothing, 0.0).astype(dt)
            uniform_share = s_total / (params.total.astype(dt) + s_total)
            mix = jax.random.uniform(key_mix, (buffer_size,), dt) < uniform_share
            flat = jax.random.randint(key_uniform, (buffer_size,), 0, k, dtype=jnp.int32)
            tokens = jnp.where(mix, flat, tokens)
        return tokens

    def sample_stats(self, key, params, buffer_size, num_samples=None) -> CategoricalStats:
        buffer_size = int(buffer_size)
        if num_samples is None:
            ones = jnp.ones((buffer_size,), jnp.int32)
        else:
            ones = (jnp.arange(buffer_size) < num_samples).astype(jnp.int32)
        k = self.vocab_size
        if not self.bias.is_identity:
            tokens = self._tokens(key, params, buffer_size)
            return CategoricalStats(counts=jnp.zeros((k,), jnp.int32).at[tokens].add(ones))
        # The same draws as _tokens, counted without locating every token (see _count_parents).
        key_index, key_mix, key_uniform = split(key, 3)
        total = jnp.maximum(params.total, 1)
        j = indices(key_index, buffer_size, total)
        # Stored once: fused into the scatter, the generator ran serially inside it (3x slower).
        j = _materialize(j)
        counts = jnp.zeros((k,), jnp.int32)
        if self.smoothing > 0:
            dt = _float_dtype()
            s_total = jnp.where(params.generation > 0, k * self.smoothing, 0.0).astype(dt)
            uniform_share = s_total / (params.total.astype(dt) + s_total)
            mix = jax.random.uniform(key_mix, (buffer_size,), dt) < uniform_share
            flat = jax.random.randint(key_uniform, (buffer_size,), 0, k, dtype=jnp.int32)
            counts = counts.at[flat].add(jnp.where(mix, ones, 0))
            ones = jnp.where(mix, 0, ones)
        return CategoricalStats(counts=counts + _count_parents(params.weights, total, j, ones))

    def exact_stats(self, key, params, num_samples) -> CategoricalStats:
        if self.bias.is_identity:
            dt = _float_dtype()
            w = params.weights.astype(dt)
            if self.smoothing > 0:
                w = w + jnp.where(params.generation > 0, self.smoothing, 0.0).astype(dt)
        else:
            w = self.sampling_probs(params)
        return CategoricalStats(counts=multinomial(key, num_samples, w))

    # ------------------------------------------------------------------------------ subsampling
    has_subsample = True

    def subsample_stats(self, key, stats, num_samples, max_samples) -> CategoricalStats:
        """Counts of ``num_samples`` tokens drawn without replacement from the pooled counts
        (multivariate hypergeometric; :func:`collapse_lab._multinomial.draw_without_replacement`,
        a sum-tree descent per token): exact, O(K + max_samples log K) work."""
        return CategoricalStats(counts=draw_without_replacement(key, stats.counts, num_samples,
                                                               max_samples))

    # ------------------------------------------------------------------------------ verification
    def reweighted_stats(self, key, params, reweight, buffer_size, num_samples, exact):
        r"""Counts of ``num_samples`` tokens drawn i.i.d. from ``reweight(b(p))`` (unnormalised
        weights; a traceable function of the model's sampling probabilities). Filters between
        sampling and fitting use it: a verifier keeping category i with probability $a_i$, with
        proposals drawn until n are kept, keeps i.i.d. tokens from $a \odot p$; best-of-k
        curation keeps i.i.d. tokens from the best-of-k law. Float inverse CDF on the sample
        path, the exact multinomial on the exact path.
        """
        q = reweight(self.sampling_probs(params))
        if exact:
            return CategoricalStats(counts=multinomial(key, num_samples, q))
        cdf = jax.lax.associative_scan(jnp.add, q)
        u = jax.random.uniform(key, (buffer_size,), q.dtype) * cdf[-1]
        last = self.vocab_size - 1 - jnp.argmax((q > 0)[::-1])
        tokens = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), last)
        ones = (jnp.arange(buffer_size) < num_samples).astype(jnp.int32)
        return CategoricalStats(counts=jnp.zeros((self.vocab_size,), jnp.int32).at[tokens].add(ones))

    # ------------------------------------------------------------------------------ pooling
    def empty_stats(self, params) -> CategoricalStats:
        return CategoricalStats(counts=jnp.zeros((self.vocab_size,), jnp.int32))

    def merge(self, a: CategoricalStats, b: CategoricalStats) -> CategoricalStats:
        return CategoricalStats(counts=a.counts + b.counts)

    def estimate(self, key, stats: CategoricalStats, params: CategoricalParams):
        del key  # closed-form fit: the counts themselves
        counts = stats.counts
        total_float = _tree_sum(counts.astype(jnp.float32))
        overflow = (total_float >= MAX_POOL) | jnp.any(counts < 0)
        total = jnp.where(overflow, -1, jnp.sum(counts))
        generation = params.generation + 1
        fixed = (self.smoothing == 0) & (jnp.sum(counts > 0) == 1)
        fixation = jnp.where(
            (params.fixation_generation < 0) & fixed, generation, params.fixation_generation
        )
        return CategoricalParams(
            weights=counts,
            total=total.astype(jnp.int32),
            generation=generation,
            fixation_generation=fixation.astype(jnp.int32),
            tracked=params.tracked,
            tail_cut=params.tail_cut,
            tail_index=params.tail_index,
        )

    # ------------------------------------------------------------------------------ observing
    def observe(self, params: CategoricalParams, source: CategoricalParams) -> dict:
        """Observables of one model against the source (scalars and ``tracked_probs[M]``).

        ``entropy`` (nats), ``support_size`` (categories with positive probability),
        ``lost_mass`` (source probability of the categories now at zero), ``heterozygosity``
        ($1-\\sum p_i^2$), ``kl_to_source`` ($\\mathrm{KL}(p_t \\| p_0)$, infinite if the model
        puts mass where the source has none), ``tail_mass_1pct`` / ``tail_mass_10pct`` (model
        mass on the source's rarest 1% / 10% of its support), ``max_prob``, ``fixed`` (1.0 when a
        single category holds all mass), ``fixation_generation`` (first generation that was
        fixed, -1 if none) and ``tracked_probs`` (``family.tracked_categories(source)``).
        """
        dt = _float_dtype()
        p = self.probs(params)
        w0 = source.weights
        p0 = w0.astype(dt) / source.total.astype(dt)
        positive = p > 0
        safe = jnp.where(positive, p, 1.0)
        log_ratio = jnp.where(w0 > 0, jnp.log(safe) - jnp.log(jnp.where(w0 > 0, p0, 1.0)), jnp.inf)
        idx = jnp.arange(self.vocab_size)
        tails = [
            (w0 > 0)
            & (
                (w0 < source.tail_cut[j])
                | ((w0 == source.tail_cut[j]) & (idx >= source.tail_index[j]))
            )
            for j in range(len(TAIL_FRACTIONS))
        ]
        support = jnp.sum(positive.astype(jnp.int32))
        sums = _tree_sums(
            [
                jnp.where(positive, p * jnp.log(safe), 0.0),
                jnp.where(positive, 0.0, p0),
                p * p,
                jnp.where(positive, p * log_ratio, 0.0),
                jnp.where(tails[0], p, 0.0),
                jnp.where(tails[1], p, 0.0),
            ]
        )
        return {
            "entropy": -sums[0],
            "support_size": support,
            "lost_mass": sums[1],
            "heterozygosity": 1.0 - sums[2],
            "kl_to_source": sums[3],
            "tail_mass_1pct": sums[4],
            "tail_mass_10pct": sums[5],
            "max_prob": jnp.max(p),
            "fixed": (support == 1).astype(dt),
            "fixation_generation": params.fixation_generation,
            "tracked_probs": p[source.tracked],
        }

    def tracked_categories(self, source: CategoricalParams) -> np.ndarray:
        """Category indices of the ``tracked_probs`` observable (in its order)."""
        return np.asarray(source.tracked).copy()

    # ------------------------------------------------------------------------------ theory
    def predictions(self, config, overrides: dict | None = None) -> list:
        return categorical_predictions(self, config, overrides or {})

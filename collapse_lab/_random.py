"""Fast exact samplers that JAX lacks or implements slowly on CPU.

``jax.random.gamma`` runs at a few 10^6 draws/s on this CPU; the exact paths need one gamma per
chain and generation, so a Marsaglia-Tsang sampler written with plain ``jax.numpy`` (5-10x faster)
is used instead. It returns the *logarithm* of the draw so that very small shapes (chi-square with
one degree of freedom) never underflow to ``log 0``.

The uniforms (and through them every normal and gamma here, and the binomials of
:mod:`collapse_lab._multinomial`) come from Threefry-2x32 written out as straight-line ``uint32``
arithmetic (:func:`_threefry2x32`, keyed by :func:`_key_words`): this module is the one home of
those primitives.

References:
    Marsaglia, G. and Tsang, W. W. (2000). A simple method for generating gamma variables.
    ACM Transactions on Mathematical Software 26(3), 363-372.
    Salmon, J. K., Moraes, M. A., Dror, R. O. and Shaw, D. E. (2011). Parallel random numbers:
    as easy as 1, 2, 3. SC'11 (Threefry).
"""

from __future__ import annotations

import math
import weakref

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

NUM_CANDIDATES = 4  # Marsaglia-Tsang accepts >= 95%: all 4 rejected with prob < 1e-5
_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_PARITY = 0x1BD11BDA


# ------------------------------------------------------------------------------ Threefry bits
# Shared with collapse_lab._multinomial (which imports them from here).
def _rotl(x, r):
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds (Salmon et al. 2011), elementwise on ``uint32`` arrays."""
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(_PARITY))
    x0 = x0 + ks[0]
    x1 = x1 + ks[1]
    for r in range(20):
        x0 = x0 + x1
        x1 = _rotl(x1, _ROTATIONS[r % 8]) ^ x0
        if r % 4 == 3:
            s = (r + 1) // 4
            x0 = x0 + ks[s % 3]
            x1 = x1 + ks[(s + 1) % 3] + np.uint32(s)
    return x0, x1


# The words of keys built by fold_in: id(key) -> (weak reference to the key, k0, k1). A key
# is its words stacked ([..., 2]); reading them back slices that stack, and XLA kept the stack
# and the slices as ~7 small kernels per generation of the exact Gaussian step (13 % of it).
# Handing fold_in's own words to the next fold_in or _key_words skips them (same values). An
# entry lives as long as its key (the weak reference's callback removes it), and a hit needs
# the very same key object, so a reused id never matches.
_FOLDED: dict = {}


def _materialize(*xs, axis=0):
    """``xs`` unchanged, each computed once and stored (one array, or a tuple for several).

    XLA's CPU fusion duplicates chains of cheap elementwise ops (a Threefry block, a CDF chain)
    into every consumer, and gives every output of a computation its own fused loop. A
    reduction is never duplicated, so summing each array with zeros along a new axis of size 2
    (at ``axis``; -1: a new minor axis) makes XLA store it; several arrays go through one
    variadic reduction, a single loop with several outputs, so that the two words of a Threefry
    block come from one evaluation of its 20 rounds (about 2.4x faster under ``vmap`` at 10^5
    blocks than a loop per word). Adds of zero: the same values. Optimization barriers do not
    help here: the CPU pipeline removes them before fusion.
    """
    axis = axis % (jnp.ndim(xs[0]) + 1)
    out = lax.reduce(tuple(jnp.stack([x, jnp.zeros_like(x)], axis) for x in xs),
                     tuple(np.zeros((), jnp.asarray(x).dtype) for x in xs),
                     lambda a, b: tuple(u + v for u, v in zip(a, b)), (axis,))
    return out if len(xs) > 1 else out[0]


def _remember_words(key, k0, k1):
    ident = id(key)
    try:
        ref = weakref.ref(key, lambda _, ident=ident: _FOLDED.pop(ident, None))
    except TypeError:
        return
    _FOLDED[ident] = (ref, k0, k1)


def _known_words(key):
    hit = _FOLDED.get(id(key))
    if hit is not None and hit[0]() is key:
        return hit[1], hit[2]
    return None


def _key_words(key):
    """Two ``uint32`` words identifying ``key`` (typed key of any implementation, or raw)."""
    known = _known_words(key)
    if known is not None:
        return known
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        data = jax.random.key_data(key)
    else:
        data = key
    data = data.astype(jnp.uint32)
    words = data.shape[-1]
    k0, k1 = data[..., 0], data[..., 1]
    for j in range(2, words - 1, 2):  # longer keys (philox, rbg): mix the extra words in
        k0, k1 = _threefry2x32(k0, k1, data[..., j], data[..., j + 1])
    if words % 2 == 1 and words > 2:
        k0, k1 = _threefry2x32(k0, k1, data[..., words - 1], jnp.uint32(words))
    return k0, k1




def _mt_log_candidates(x, u, d, c):
    """Marsaglia-Tsang on candidate pairs (x normal, u uniform): (accepted, log draw)."""
    v = 1.0 + c * x
    v_pos = v > 0
    v = jnp.where(v_pos, v, 1.0)
    log_v3 = 3.0 * jnp.log(v)
    v3 = v * v * v
    accept = v_pos & (jnp.log(u) < 0.5 * x * x + d - d * v3 + d * log_v3)
    return accept, jnp.log(d) + log_v3


def uniforms(key, num, shape=(), dtype=jnp.float32):
    """``num`` uniforms strictly inside (0, 1) per element of ``shape``: ``u[num, *shape]``.

    Threefry-2x32 (20 rounds, the generator of ``jax.random``) written out as straight-line
    ``uint32`` arithmetic, keyed by the key's words and counted by element: under ``vmap`` over
    chains with a handful of draws per chain this runs about 5x faster than
    ``jax.random.uniform`` (measured: 10 draws per chain, 10,000 chains), which made the exact
    paths PRNG-bound. Values are ``(b + 1/2) 2^-p`` for ``p``-bit integers ``b`` (``p`` = 23 in
    float32, 52 in float64), so every value is exact, never 0 or 1, and ``2u - 1`` is exact
    too (see :func:`normals`). Elementwise, so results do not depend on batching.
    """
    shape = (num,) + tuple(shape)
    total = math.prod(shape)
    k0, k1 = _key_words(key)
    wide = jnp.finfo(dtype).bits > 32
    blocks = total if wide else (total + 1) // 2
    counter = jnp.arange(blocks, dtype=jnp.uint32)
    y0, y1 = _threefry2x32(k0, k1, counter, jnp.zeros_like(counter))
    if wide:
        top = (y0 >> 6).astype(dtype)  # 26 bits
        bottom = (y1 >> 6).astype(dtype)  # 26 bits
        value = (top * 2.0**26 + bottom + 0.5) * 2.0**-52
    else:
        bits = jnp.concatenate([y0, y1])[:total] >> 9
        value = (bits.astype(dtype) + 0.5) * 2.0**-23
    return value.reshape(shape)


def stored(anchor, fn, *args):
    """``fn(*args)``, with each output computed once and stored as a plain array.

    XLA's CPU backend fuses cheap-looking producers into their consumers: a Threefry block that
    feeds several consumers is evaluated once in each (the exact Gaussian draw evaluated its 3
    blocks 12 times), and one that feeds a ``stack`` runs as scalar code, once per word.
    The outputs of a conditional are materialised, so ``fn`` runs inside ``lax.cond`` on a
    predicate XLA cannot decide and that is always true (``anchor | 1 != 0``).

    ``anchor``: any traced integer or float scalar *not* batched over chains (the generation
    index, a sample size); its value never matters. ``None`` (or a constant) just calls ``fn``.
    A batched anchor still gives the right values (``vmap`` turns the conditional into a select).
    """
    if anchor is None or not isinstance(anchor, jax.core.Tracer):
        return fn(*args)
    a = jnp.asarray(anchor)
    if not jnp.issubdtype(a.dtype, jnp.integer):
        a = lax.bitcast_convert_type(a.astype(jnp.float32), jnp.uint32)
    always = (a.astype(jnp.uint32) | np.uint32(1)) != 0
    out_shapes = jax.eval_shape(fn, *args)
    never = lambda *_: jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), out_shapes)  # noqa: E731
    return lax.cond(always, fn, never, *args)


def fold_in(key, data, anchor=None):
    """``jax.random.fold_in(key, data)``, bit for bit, for typed threefry keys.

    ``fold_in`` is one Threefry-2x32 block on the count words ``(0, data)``; computed as
    straight-line ``uint32`` arithmetic it costs a fraction of the ``jax.random`` call under
    ``vmap`` over chains (the runner folds in twice per chain and generation). Other key
    implementations go through ``jax.random.fold_in``.

    ``anchor`` (optional, see :func:`stored`; the runner passes the generation index): the two
    words are computed by a vectorised block and stored before the ``stack`` that builds the
    key, instead of the scalar code XLA emits for a block fused into a ``stack`` (same bits);
    both come from one evaluation of the block (:func:`_materialize`).
    """
    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or str(
            jax.random.key_impl(key)) != "threefry2x32":
        return jax.random.fold_in(key, data)
    known = _known_words(key)
    if known is None:
        words = jax.random.key_data(key)
        known = words[..., 0], words[..., 1]
    w0, w1 = known
    data = jnp.asarray(data).astype(jnp.uint32)
    data = jnp.broadcast_to(data, jnp.broadcast_shapes(w0.shape, data.shape))
    y0, y1 = stored(anchor, lambda w0, w1, d: _materialize(*_threefry2x32(
        w0, w1, jnp.zeros_like(d), d), axis=-1), w0, w1, data)
    out = jax.random.wrap_key_data(jnp.stack([y0, y1], axis=-1), impl="threefry2x32")
    _remember_words(out, y0, y1)
    return out


def _is_threefry(key) -> bool:
    return jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and str(
        jax.random.key_impl(key)) == "threefry2x32" and jax.config.jax_threefry_partitionable


def split_words(key, num):
    """The words ``(k0[num], k1[num])`` of ``jax.random.split(key, num)`` for threefry keys
    (partitionable mode: child ``i`` is the block of counter ``(0, i)``)."""
    words = jax.random.key_data(key)
    i = jnp.arange(num, dtype=jnp.uint32)
    return _threefry2x32(words[..., 0, None], words[..., 1, None], jnp.zeros_like(i), i)


def split(key, num: int):
    """``jax.random.split(key, num)``, bit for bit, as straight-line arithmetic for threefry keys."""
    if not _is_threefry(key):
        return jax.random.split(key, num)
    k0, k1 = split_words(key, num)
    return jax.random.wrap_key_data(jnp.stack([k0, k1], axis=-1), impl="threefry2x32")


def _mul_wide(a, b):
    """``a * b`` for ``uint32`` arrays as 64 bits ``(high, low)``, from 16-bit halves (vectorises;
    XLA has no ``uint64`` without x64)."""
    mask = np.uint32(0xFFFF)
    a0, a1 = a & mask, a >> np.uint32(16)
    b0, b1 = b & mask, b >> np.uint32(16)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> np.uint32(16)) + (p01 & mask) + (p10 & mask)
    low = (mid << np.uint32(16)) | (p00 & mask)
    high = p11 + (p01 >> np.uint32(16)) + (p10 >> np.uint32(16)) + (mid >> np.uint32(16))
    return high, low


def indices(key, size: int, span):
    """``size`` integers uniform on ``0 .. span - 1`` (``span`` a traced int32 >= 1).

    ``floor(U span)`` with ``U = (h 2^32 + l) / 2^64`` from two Threefry words per value: the
    probabilities differ from ``1/span`` by less than ``span / 2^64`` (as for
    ``jax.random.randint``, which also draws 64 bits per value), and the whole computation is
    multiplications and shifts. ``jax.random.randint`` reduces by three integer remainders,
    which x86 cannot vectorise: with them the fused generator ran 10x slower under ``vmap``.
    Element ``i`` uses counter ``i``: results do not depend on batching.
    """
    k0, k1 = _key_words(key)
    span = jnp.maximum(jnp.asarray(span, jnp.int32), 1).astype(jnp.uint32)
    i = jnp.arange(size, dtype=jnp.uint32)
    upper, lower = _threefry2x32(k0, k1, jnp.zeros_like(i), i)
    upper_high, upper_low = _mul_wide(upper, span)
    lower_high, _ = _mul_wide(lower, span)
    carry = (upper_low + lower_high < upper_low).astype(jnp.uint32)
    return (upper_high + carry).astype(jnp.int32)


def normals(u):
    r"""Standard normals from :func:`uniforms`: $\sqrt2\,\mathrm{erf}^{-1}(2u - 1)$ (exact
    inversion; ``2u - 1`` is exact for those uniforms). About 3x cheaper than ``ndtri`` here."""
    return math.sqrt(2.0) * lax.erf_inv(2.0 * u - 1.0)


def gamma_uniforms_needed() -> int:
    """How many uniforms :func:`log_gamma_from_uniforms` consumes per draw."""
    return 2 * NUM_CANDIDATES + 1


def log_gamma_from_uniforms(u, key_fallback, shape_param):
    """``log G``, ``G ~ Gamma(shape_param, 1)``, from pre-drawn uniforms ``u[2K + 1, ...]``.

    Exact rejection sampling (Marsaglia-Tsang): the K = ``NUM_CANDIDATES`` candidate normals are
    ``normals(u[:K])`` with acceptance uniforms ``u[K:2K]``; the first accepted candidate is kept,
    and a loop redraws (from ``fold_in(key_fallback, i)``, derived only inside the loop so that
    the common case pays nothing for it) only in the rare case that all were rejected.
    Shapes below one use the boost ``G(a) = G(a + 1) U^{1/a}`` with ``U = u[2K]``, on the log
    scale so that tiny draws never underflow.
    """
    dtype = u.dtype
    a = jnp.asarray(shape_param).astype(dtype)
    small = a < 1
    a_eff = jnp.where(small, a + 1, a)
    d = a_eff - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    k = NUM_CANDIDATES
    accept, logx = _mt_log_candidates(normals(u[:k]), u[k : 2 * k], d, c)
    first = jnp.argmax(accept, axis=0)
    done = jnp.any(accept, axis=0)
    logx = jnp.take_along_axis(logx, first[None], axis=0)[0]

    def cond(state):
        _, done, _ = state
        return ~jnp.all(done)

    def body(state):
        i, done, logx = state
        ui = uniforms(jax.random.fold_in(key_fallback, i), 2, a.shape, dtype)
        acc, lx = _mt_log_candidates(normals(ui[0]), ui[1], d, c)
        logx = jnp.where(~done & acc, lx, logx)
        return i + 1, done | acc, logx

    _, _, logx = lax.while_loop(cond, body, (jnp.asarray(0, jnp.uint32), done, logx))
    return jnp.where(small, logx + jnp.log(u[2 * k]) / a, logx)


def _uniform_words(k0, k1, num, dtype):
    """``num`` uniforms from :func:`uniforms`' counters, as separate arrays of the key's shape.

    The same values as ``uniforms(key, num)`` in float64 (one block per value); in float32
    value ``j`` is word ``j % 2`` of block ``j // 2`` (two values per block, a different
    order from :func:`uniforms`). Returning one array per value, never stacked, keeps every
    value a plain elementwise array under ``vmap`` over chains (a ``[chains, num]`` stack has
    a minor dimension of a few elements, which does not vectorise).
    """
    wide = jnp.finfo(dtype).bits > 32
    out = []
    for b in range(num if wide else (num + 1) // 2):
        c = jnp.full(jnp.shape(k0), b, jnp.uint32)
        y0, y1 = _materialize(*_threefry2x32(k0, k1, c, jnp.zeros_like(c)), axis=-1)
        if wide:
            top = (y0 >> 6).astype(dtype)
            bottom = (y1 >> 6).astype(dtype)
            out.append((top * 2.0**26 + bottom + 0.5) * 2.0**-52)
        else:
            out += [((y >> 9).astype(dtype) + 0.5) * 2.0**-23 for y in (y0, y1)]
    return out[:num]


FAST_CANDIDATES = 2  # candidates drawn up front by normal_and_log_chisquare


def normal_and_log_chisquare(key, df, dtype, candidates: int = FAST_CANDIDATES, anchor=None):
    """One standard normal ``z`` and ``log X``, ``X ~ chi-square(df)`` (``df > 0``), exactly.

    The draw of one exact Gaussian generation (mean and scatter of n normals: ``z``, and
    ``chi-square(n - 1)``), written for ``vmap`` over chains with a few draws per chain: all
    uniforms come from straight Threefry blocks of the key kept as separate per-chain arrays
    (:func:`_uniform_words`), ``candidates`` Marsaglia-Tsang proposals are made up front (the
    first accepted is kept) and a loop redraws, from keys derived only inside it, for the rare
    chain whose proposals were all rejected. Per-proposal rejection is below 5% for shapes >= 1
    and 0.06% at shape 49.5 (n = 100). Shapes below one (df < 2) use the boost
    ``G(a) = G(a + 1) U^{1/a}``. Elementwise: results do not depend on batching.
    ``anchor`` (optional): the uniforms and normals are computed once and stored
    (:func:`stored`); the same uniforms, and normals equal up to
    the last float32 bit (the erf-inverse rounds differently in its own fusion).
    """
    k0, k1 = _key_words(key)

    def draw(k0, k1):
        u = _uniform_words(k0, k1, 2 + 2 * candidates, dtype)
        return [normals(v) if i % 2 == 0 else v for i, v in enumerate(u)]

    u = stored(anchor, draw, k0, k1)
    z = u[0]
    a = (jnp.asarray(df).astype(dtype)) / 2
    small = a < 1
    a_eff = jnp.where(small, a + 1, a)
    d = a_eff - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    accept, logx = _mt_log_candidates(u[2 * candidates], u[2 * candidates + 1], d, c)
    for i in reversed(range(candidates - 1)):
        acc, lx = _mt_log_candidates(u[2 + 2 * i], u[3 + 2 * i], d, c)
        logx = jnp.where(acc, lx, logx)
        accept = accept | acc

    def cond(state):
        _, done, _ = state
        return ~jnp.all(done)

    def body(state):
        i, done, logx = state
        # Keys of counter (2^32 - 1, i): disjoint from the blocks above (counters (j, 0)).
        f0, f1 = _threefry2x32(k0, k1, jnp.full_like(k0, 0xFFFFFFFF), jnp.full_like(k0, i))
        ui = _uniform_words(f0, f1, 2, dtype)
        acc, lx = _mt_log_candidates(normals(ui[0]), ui[1], d, c)
        logx = jnp.where(~done & acc, lx, logx)
        return i + 1, done | acc, logx

    _, _, logx = lax.while_loop(cond, body, (jnp.asarray(0, jnp.uint32), accept, logx))
    logx = jnp.where(small, logx + jnp.log(u[1]) / a, logx)
    return z, jnp.log(jnp.asarray(2.0, dtype)) + logx


def log_gamma_sample(key, shape_param, dtype=None):
    """Draw ``log G`` with ``G ~ Gamma(shape_param, 1)`` (exact), elementwise over ``shape_param``."""
    a = jnp.asarray(shape_param)
    if dtype is None:
        dtype = a.dtype if jnp.issubdtype(a.dtype, jnp.floating) else jnp.result_type(float)
    key_u, key_fallback = jax.random.split(key)
    u = uniforms(key_u, gamma_uniforms_needed(), a.shape, dtype)
    return log_gamma_from_uniforms(u, key_fallback, a)


def log_chisquare_sample(key, df, dtype=None):
    """Draw ``log X`` with ``X ~ chi-square(df)`` (exact), elementwise over ``df``."""
    df = jnp.asarray(df)
    if dtype is None:
        dtype = df.dtype if jnp.issubdtype(df.dtype, jnp.floating) else jnp.result_type(float)
    return jnp.log(jnp.asarray(2.0, dtype)) + log_gamma_sample(key, df.astype(dtype) / 2, dtype)

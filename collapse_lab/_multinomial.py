r"""Exact binomial and multinomial samplers that are ``jit`` / ``vmap`` friendly.

``jax.random.multinomial`` is a sequential scan over the categories that returns float counts,
and ``jax.random.binomial`` runs at about 1e6 draws/s on this CPU and compiles in about a second
per call site (measured with jax 0.10.2; DESIGN.md section 8). The categorical family needs one
multinomial draw of up to $10^7$ trials over up to ~$10^5$ categories per chain and
generation, so this module provides:

* :func:`binomial` -- exact $\mathrm{Bin}(n, p)$ draws, elementwise. It samples the smaller
  side ($q = \min(p, 1-p)$, computed from the two weights without cancellation) and uses

  - **inversion** when $nq < 10$: the CDF is built by the pmf recursion
    $f(k) = f(k-1)\,\frac{n-k+1}{k}\,\frac{q}{1-q}$ over 32 unrolled terms (one fused
    elementwise kernel, one uniform per draw); the rare draws beyond 32 (probability below
    $10^{-8}$ at $nq < 10$) continue with a plain sequential search;
  - **BTRS** (Hormann 1993, transformed rejection with squeeze) when $nq \ge 10$: about 1.15
    proposals per draw. The acceptance test needs $\log f(k)/f(m)$ ($m$ the mode); it is
    computed in a cancellation-free form (differences of log-factorials through ``log1p`` of
    small ratios, first-order terms cancelled analytically, a Stirling remainder table), so it
    stays accurate in float32 for $n$ up to ``MAX_TRIALS``.

* :func:`multinomial` -- exact $\mathrm{Multinomial}(n, \mathrm{probs})$ counts (``int32``) by
  conditional binomials down a binary tree over the categories: the count of a node is split
  between its two children by a binomial draw with success probability (left mass) / (node
  mass). The tree's nodes are processed in heap order in ~30 + log2 K chunks by one
  ``lax.scan``; the cost does not depend on $n$ and the compile time does not depend on $K$.
  Under ``vmap`` (over chains) each step's binomials are computed as one flat problem over all
  chains (a ``custom_vmap`` rule): when most nodes hold no trials (extinct categories, the
  usual state after a few Wright-Fisher generations) only the live ones are gathered and
  computed, and the few rejected BTRS proposals are finished in one compacted loop rather
  than in per-chain loops that wait for the slowest chain.

Random numbers: each threefry call site of ``jax.random`` costs about half a second of XLA
compile time on this CPU, and the samplers need fresh uniforms inside loops. They therefore
draw their uniforms from the same counter-based generator written out as straight-line
``uint32`` arithmetic (Threefry-2x32, 20 rounds; identical output to
``jax.extend.random.threefry_2x32``, which a test checks), keyed by the words of the typed key
and counted by (node or element index, iteration). Results are deterministic functions of the
key, independent of batching.

References:
    Hormann, W. (1993). The generation of binomial random variates. Journal of Statistical
    Computation and Simulation 46, 101-110 (algorithm BTRS).
    Devroye, L. (1986). Non-Uniform Random Variate Generation, Springer, ch. X (inversion,
    conditional-binomial multinomial generation).
    Salmon, J. K., Moraes, M. A., Dror, R. O. and Shaw, D. E. (2011). Parallel random numbers:
    as easy as 1, 2, 3. SC'11 (Threefry).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._random import _key_words, _materialize, _threefry2x32

__all__ = ["binomial", "multinomial", "MAX_TRIALS"]

MAX_TRIALS = 10**7  # n + 2 and every count stay exact in float32 (below 2**24)
INVERSION_LIMIT = 10.0  # nq below this: inversion; at or above: BTRS (Hormann's range)
INVERSION_STEPS = 32  # unrolled CDF terms; P(X >= 32 | nq < 10) < 1e-8
SMALL_COMPACTION = 4  # fallback slots up to which open lanes are found by min-reductions
PROPOSALS = 2  # BTRS proposals in straight-line code before the compacted fallback loop
FALLBACK_ROUNDS = 3  # proposals (or tail-search terms) per open element and loop iteration
FALLBACK_SHARE = 8  # the loop serves up to len/FALLBACK_SHARE open elements per iteration
WIDE_SHARE = 32  # flattened (vmapped) loop: about len/WIDE_SHARE slots (a multiple of 32) ...
WIDE_ROUNDS = 5  # ... and this many proposals per open element and iteration
CHUNK_LOG2 = 5  # tree steps split at least 2^CHUNK_LOG2 nodes (where the tree allows)
LIVE_MIN = 2048  # longer arrays: only elements with n > 0 and q > 0 are computed ...
LIVE_SHARE = 16  # ... in blocks of about len/LIVE_SHARE slots ...
LIVE_DENSE = 8  # ... when at most this many blocks are live; otherwise all are computed

# Stirling remainder s(x) = lgamma(x) - [(x - 1/2) log x - x + log(2 pi)/2] at x = 1..9.
_STIRLING_TABLE = tuple(
    math.lgamma(x) - ((x - 0.5) * math.log(x) - x + 0.5 * math.log(2 * math.pi))
    for x in range(1, 10)
)
# ------------------------------------------------------------------------------ random bits
def _uniform_pair(k0, k1, counter, iteration, dtype):
    """Two independent uniforms in [0, 1), each of ``counter``'s shape, from stream position
    (counter, iteration): the two output words of one Threefry block (float32: 24 bits each),
    or of two blocks (float64: 53 bits each; the second block has the top bit of the
    iteration set).

    They are returned as expressions, not stored: a consumer fusion that uses both evaluates
    the 20 rounds once per element, and a consumer that needs only one keeps XLA from
    computing the other.
    """
    it = jnp.broadcast_to(iteration, counter.shape)
    if jnp.finfo(dtype).bits > 32:
        hi = _threefry2x32(k0, k1, counter, it)
        lo = _threefry2x32(k0, k1, counter, it | np.uint32(2**31))
        return tuple(
            ((hi[j] >> 5).astype(dtype) * 2.0**26 + (lo[j] >> 6).astype(dtype)) * 2.0**-53
            for j in (0, 1)
        )
    y0, y1 = _threefry2x32(k0, k1, counter, it)
    return tuple((y >> 8).astype(dtype) * 2.0**-24 for y in (y0, y1))


# ------------------------------------------------------------------------------ binomial
def _float_dtype(*arrays):
    for a in arrays:
        dt = jnp.asarray(a).dtype
        if jnp.issubdtype(dt, jnp.floating):
            return dt
    return jnp.result_type(float)


def _stirling_remainder(x):
    """$s(x) = \\log\\Gamma(x) - [(x-\\tfrac12)\\log x - x + \\tfrac12\\log 2\\pi]$, x integer >= 1.

    Table for x < 10 as a chain of selects (a gather is several times slower on CPU).
    """
    small = jnp.zeros_like(x)
    for i, value in enumerate(_STIRLING_TABLE):
        small = jnp.where(x == i + 1, value, small)
    big_x = jnp.maximum(x, 10.0)
    r = 1.0 / (big_x * big_x)
    series = (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r / 1680))) / big_x
    return jnp.where(x < 10, small, series)


def _log1p_minus_x(x):
    """$\\log(1+x) - x$ with full relative accuracy near 0 (x > -1)."""
    near = jnp.abs(x) < 0.25
    xs = jnp.where(near, x, 0.0)
    u = xs / (2.0 + xs)
    u2 = u * u
    tail = u2 * (1 / 5 + u2 * (1 / 7 + u2 * (1 / 9 + u2 * (1 / 11 + u2 * (1 / 13 + u2 / 15)))))
    series = -xs * xs / (2.0 + xs) + 2.0 * u * u2 * (1 / 3 + tail)
    return jnp.where(near, series, jnp.log1p(x) - x)


def _exact_product_minus(x, q, a):
    """$xq - a$ without the rounding of $xq$ (x integer-valued < 2^24, float32).

    $(n+2)q$ is about $10^6$ where the mode term needs it to $10^{-7}$ absolute; both factors
    are split into 12-bit halves (Dekker) whose four products are exact in float32.
    """
    if jnp.finfo(q.dtype).bits > 32:
        return x * q - a
    q_hi = lax.bitcast_convert_type(
        lax.bitcast_convert_type(q, jnp.uint32) & np.uint32(0xFFFFF000), q.dtype
    )
    q_lo = q - q_hi
    x_hi = jnp.floor(x * (1.0 / 4096.0)) * 4096.0
    x_lo = x - x_hi
    return (((x_hi * q_hi - a) + x_hi * q_lo) + x_lo * q_hi) + x_lo * q_lo


def _log_pmf_ratio(n, m, k, q):
    r"""$\log[f(k)/f(m)]$ for $f$ the $\mathrm{Bin}(n, q)$ pmf (float arrays, integer valued).

    With $d = k - m$, $A = m + 1$, $B = n - m + 1$, $g(x) = \log(1+x) - x$ and the Stirling
    remainder $s$:

    $$\log\frac{f(k)}{f(m)} = d\log\frac{Bq}{A(1-q)} - \frac{d\,[d(n+2) + m - n/2]}{AB}
      - (k+\tfrac12)\,g(d/A) - (n-k+\tfrac12)\,g(-d/B) + s(A) + s(B) - s(k+1) - s(n-k+1).$$

    Every term is of the size of the result (no cancellation of $\log n!$-sized numbers).
    """
    d = k - m
    a = m + 1.0
    b = n - m + 1.0
    y = _exact_product_minus(n + 2.0, q, a) / (a * (1.0 - q))
    linear = d * (d * (n + 2.0) + m - 0.5 * n) / (a * b)
    out = d * jnp.log1p(y) - linear
    out = out - (k + 0.5) * _log1p_minus_x(d / a) - (n - k + 0.5) * _log1p_minus_x(-d / b)
    return out + (
        _stirling_remainder(a)
        + _stirling_remainder(b)
        - _stirling_remainder(k + 1.0)
        - _stirling_remainder(n - k + 1.0)
    )


def _inversion_count(u, n, q):
    """#{k < 32 : F(k) <= u} for the Bin(n, q) CDF F (one fused chain with a single output)."""
    ratio = q / (1.0 - q)
    pmf = jnp.exp(n * jnp.log1p(-q))
    cdf = pmf
    below = (cdf <= u).astype(jnp.int32)
    for k in range(1, INVERSION_STEPS):
        pmf = pmf * (jnp.maximum(n - (k - 1), 0.0) / k) * ratio
        cdf = cdf + pmf
        below = below + (cdf <= u).astype(jnp.int32)
    return below


def _btrs_proposal(k0, k1, counter, i, n, q, use_inv):
    """One BTRS proposal (Hormann 1993) from stream position ``i``: ``(accepted, value)``.

    Inversion lanes get harmless set-up values (their result is not used).
    """
    dt = q.dtype
    q_b = jnp.where(use_inv, 0.25, q)
    n_b = jnp.where(use_inv, 100.0, n)
    spq = jnp.sqrt(n_b * q_b * (1.0 - q_b))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * q_b
    c = n_b * q_b + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    m = jnp.floor((n_b + 1.0) * q_b)
    u, v = _uniform_pair(k0, k1, counter, i, dt)
    u = u - 0.5
    us = 0.5 - jnp.abs(u)
    safe_us = jnp.where(us > 0, us, 1.0)
    k_b = jnp.floor((2.0 * a / safe_us + b) * u + c)
    valid = (us > 0) & (k_b >= 0) & (k_b <= n_b)
    k_b = jnp.where(valid, k_b, m)
    fast = valid & (us >= 0.07) & (v <= v_r)
    log_v = jnp.log(v * alpha / (a / (safe_us * safe_us) + b))
    return fast | (valid & (log_v <= _log_pmf_ratio(n_b, m, k_b, q_b))), k_b


def _binomial_small(k0, k1, counter, n, q):
    """Bin(n, q) for q in [0, 1/2]; ``counter`` (uint32) names each element's random stream.

    Inversion elements (nq < 10) use the first uniform of stream position 0 and 32 unrolled
    CDF terms. BTRS elements (nq >= 10) make ``PROPOSALS`` proposals from stream positions
    1 .. PROPOSALS in straight-line code and keep the first accepted one. Every lane carries
    one state, its draw once decided and -1 while open, so the straight-line part is a single
    fused elementwise kernel with one output.

    The rest -- BTRS elements whose proposals were all rejected (about 2% with two proposals)
    and the rare inversion elements beyond 32 terms (probability < 1e-8) -- finish in a
    ``while_loop`` that works on a few compacted slots rather than on every element: each
    iteration gathers up to ``len/FALLBACK_SHARE`` open elements (``len/WIDE_SHARE`` when the
    array is long), makes ``FALLBACK_ROUNDS`` (``WIDE_ROUNDS``) more BTRS proposals for each
    (stream positions PROPOSALS + 1, PROPOSALS + 2, ... counted per element) or advances its
    plain sequential CDF search by as many terms, and scatters the results back. An element's value depends only on its own stream, never on which slot or
    iteration served it, so results do not depend on batching, and neither ``PROPOSALS`` nor
    the loop's parameters change any draw.
    """
    shape = jnp.broadcast_shapes(q.shape, n.shape, counter.shape, k0.shape, k1.shape)
    rows = (math.prod(shape[:-1]), shape[-1]) if shape else (1, 1)
    # [rows, last axis]: the minor axis stays the minor axis (XLA's CPU loops vectorise along it;
    # a fused reshape that changes it runs scalar code).
    flat = lambda v: jnp.broadcast_to(v, shape).reshape(rows)  # noqa: E731
    return _binomial_flat(*(flat(v) for v in (n, q, counter, k0, k1))).reshape(shape)


def _decide(n, q, counter, k0, k1):
    """Bin(n, q) for every element of the (same-shaped) arguments: the straight-line part,
    then the compacted fallback loop for the elements it left open."""
    dt = q.dtype
    use_inv = n * q < INVERSION_LIMIT
    trivial = (q <= 0) | (n <= 0)
    q_inv = jnp.where(use_inv & ~trivial, q, 0.0)
    x_inv = _inversion_count(_uniform_pair(k0, k1, counter, np.uint32(0), dt)[0], n, q_inv)
    state = jnp.where(use_inv & (x_inv < INVERSION_STEPS), x_inv.astype(dt), -1.0)
    for i in range(1, PROPOSALS + 1):
        ok, k_b = _btrs_proposal(k0, k1, counter, np.uint32(i), n, q, use_inv)
        state = jnp.where((state < 0) & ~use_inv & ok, k_b, state)
    # Stored once (the straight-line part is one fused loop); the summed axis next to the minor
    # one, as under ``vmap`` (a major summed axis made the loop 2x slower).
    state = _materialize(jnp.where(trivial, 0.0, state), axis=max(state.ndim - 1, 0))
    flat = (v.reshape(-1) for v in (state, n, q, q_inv, use_inv, counter, k0, k1))
    x = _finish_loop(*flat).reshape(state.shape)
    return jnp.where(trivial, 0.0, jnp.minimum(x, n))


def _binomial_flat_impl(n, q, counter, k0, k1):
    """Bin(n, q) elementwise over [rows, columns] arrays, computed only where n > 0 and q > 0.

    Long arrays (every chain's lanes of a tree step, flattened by the ``vmap`` rule below) are
    compacted first: the live elements' indices are listed in order (a running count and a
    scatter), and a ``while_loop`` decides them in blocks of a fixed number of slots (about
    len/LIVE_SHARE, a multiple of 32) until the list is exhausted. After a few Wright-Fisher
    generations most categories are extinct and most tree nodes hold zero trials, so this skips
    most of the work; an element's value is the same whichever slot computes it.
    """
    size = n.size
    args = (n, q, counter, k0, k1)
    if size <= LIVE_MIN:
        return _decide(*args)
    live = ((q > 0) & (n > 0)).reshape(-1)
    slots = -(-size // (LIVE_SHARE * 32)) * 32
    listed = -(-size // slots) * slots

    def compacted():
        pos = running_sum(live) - 1
        order = jnp.full((listed,), size, jnp.int32).at[jnp.where(live, pos, listed)].set(
            jnp.arange(size, dtype=jnp.int32), mode="drop")
        # One gather of 5 words per slot instead of five gathers (XLA's CPU gather is a scalar
        # loop whose cost is per index).
        words = jnp.stack([lax.bitcast_convert_type(n, jnp.uint32),
                           lax.bitcast_convert_type(q, jnp.uint32), counter, k0, k1], axis=-1)
        words = words.reshape(size, 5)

        def body(carry):
            start, x = carry
            sel = lax.dynamic_slice_in_dim(order, start, slots)
            w = words[jnp.minimum(sel, size - 1)]  # an empty slot computes lane size - 1 ...
            xs = _decide(lax.bitcast_convert_type(w[:, 0], n.dtype),
                         lax.bitcast_convert_type(w[:, 1], q.dtype), w[:, 2], w[:, 3], w[:, 4])
            return start + slots, x.at[sel].set(xs, mode="drop")  # ... and writes none

        init = (jnp.asarray(0, jnp.int32), jnp.zeros((size,), q.dtype))
        return lax.while_loop(lambda c: c[0] < count, body, init)[1].reshape(n.shape)

    count = jnp.sum(live.astype(jnp.int32))
    # Mostly live: computing every element is cheaper than compacting.
    return lax.cond(count > LIVE_DENSE * slots, lambda: _decide(*args), compacted)


_binomial_flat = jax.custom_batching.custom_vmap(_binomial_flat_impl)


@_binomial_flat.def_vmap
def _binomial_flat_batched(axis_size, in_batched, *args):
    """Under ``vmap`` (over chains): one computation over every chain's elements flattened
    together, rather than per-chain loops batched until the slowest chain is done."""
    args = [a if b else jnp.broadcast_to(a, (axis_size,) + a.shape)
            for a, b in zip(args, in_batched)]
    shape = args[0].shape
    rows = (math.prod(shape[:-1]), shape[-1])  # chains x rows, the minor axis unchanged
    return _binomial_flat(*(a.reshape(rows) for a in args)).reshape(shape), True


def _serve(rounds, ns, qs, qis, invs, cs, k0s, k1s, steps, xs, ks, pmfs, cdfs):
    """``rounds`` more BTRS proposals (the next stream positions) or terms of the sequential
    tail search for the served elements; returns their new loop state."""
    dt = qs.dtype
    u = _uniform_pair(k0s, k1s, cs, np.uint32(0), dt)[0]
    start = jnp.exp(ns * jnp.log1p(-qis))  # f(0): the tail search restarts at k = 0
    pmfs = jnp.where(ks == 0, start, pmfs)
    cdfs = jnp.where(ks == 0, start, cdfs)

    def one_round(_, carry):  # a fori_loop: one compiled copy of the proposal, not ``rounds``
        # A float CDF may stop a hair short of 1, so the search also stops at n, or once the
        # pmf has underflowed past the mean. An element decided in an earlier round keeps its
        # value (its advanced counters are never read again).
        steps, xs, ks, pmfs, cdfs = carry
        ok, k_b = _btrs_proposal(k0s, k1s, cs, steps, ns, qs, invs)
        k_next = ks + 1.0
        pmfs = pmfs * (jnp.maximum(ns - ks, 0.0) / k_next) * (qis / (1.0 - qis))
        cdfs = cdfs + pmfs
        t_ok = (cdfs > u) | (k_next >= ns) | ((pmfs == 0) & (k_next > ns * qis))
        decided = (xs < 0) & jnp.where(invs, t_ok, ok)
        xs = jnp.where(decided, jnp.where(invs, k_next, k_b), xs)
        return steps + np.uint32(1), xs, k_next, pmfs, cdfs

    return lax.fori_loop(0, rounds, one_round, (steps, xs, ks, pmfs, cdfs))


def running_sum(x):
    """Inclusive running sum of a non-negative ``int32`` vector (any bool is counted as 0/1).

    XLA's CPU ``cumsum`` is a ``reduce_window`` (~3 ns per element under ``vmap``); here blocks
    of 32 are summed by a triangular float32 matmul, the block totals in groups of 32 by a second
    one, and only the group totals (len/1024 values) by ``cumsum`` in int32. The matmuls' partial
    sums stay below 2^24 as long as every group of 1024 elements sums below 2^24, so float32
    holds them exactly whatever the summation order and the result equals ``jnp.cumsum(x)``.
    ``HIGHEST`` precision keeps accelerators from rounding the operands to TF32/bf16.
    """
    size = x.shape[-1]
    groups = -(-size // 1024)
    xf = jnp.pad(x.astype(jnp.float32), (0, groups * 1024 - size)).reshape(groups * 32, 32)
    tri = jnp.triu(jnp.ones((32, 32), jnp.float32))
    mm = lambda a: jnp.matmul(a, tri, precision=lax.Precision.HIGHEST)  # noqa: E731
    inner = mm(xf)  # running sums within each block of 32
    block = inner[:, -1].reshape(groups, 32)
    totals = mm(block)  # running block totals within each group of 1024
    group = totals[:, -1].astype(jnp.int32)
    before = (totals - block).astype(jnp.int32) + (jnp.cumsum(group) - group)[:, None]
    return (inner.astype(jnp.int32) + before.reshape(-1, 1)).reshape(-1)[:size]


def _finish_loop(state, n, q, q_inv, use_inv, counter, k0, k1):
    """Decide the open (-1) elements of ``state`` (all arguments [size]); see ``_binomial_small``.

    Each ``while_loop`` iteration serves a fixed number of slots: the first open elements.
    Short arrays (one tree chunk of one chain, unbatched) find them by min-reductions and serve
    ``FALLBACK_ROUNDS`` proposals each; long ones (every chain's elements, flattened by the
    ``vmap`` rule of ``_binomial_flat``) by a running count and serve ``WIDE_ROUNDS``, with a slot
    count that is a multiple of the SIMD width so every slot is computed by the same (vector)
    code.
    """
    size = state.shape[0]
    dt = q.dtype
    lane = jnp.arange(size, dtype=jnp.int32)
    wide = size > SMALL_COMPACTION * FALLBACK_SHARE
    if wide:
        slots = -(-size // (WIDE_SHARE * 32)) * 32
        rounds = WIDE_ROUNDS
    else:
        slots = max(1, -(-size // FALLBACK_SHARE))
        rounds = FALLBACK_ROUNDS
    fixed = (n, q, q_inv, use_inv, counter, k0, k1)

    def body(carry):
        open_ = carry[1] < 0
        if wide:  # the first ``slots`` open elements, by a running count
            pos = running_sum(open_) - 1
            sel = jnp.full((slots,), size, jnp.int32).at[jnp.where(open_, pos, slots)].set(
                lane, mode="drop")
        else:
            # Each slot's lane is the smallest open lane above the previous slot's, one
            # min-reduction each.
            found, last = [], jnp.asarray(-1, jnp.int32)
            for _ in range(slots):
                last = jnp.min(jnp.where(open_ & (lane > last), lane, size))
                found.append(last)
            sel = jnp.stack(found)
        idx = jnp.minimum(sel, size - 1)  # an empty slot (sel = size) reads lane size - 1 ...
        out = _serve(rounds, *(v[idx] for v in fixed + carry))
        return tuple(v.at[sel].set(w, mode="drop") for v, w in zip(carry, out))  # ... writes none

    zeros = jnp.zeros((size,), dt)
    init = (jnp.full((size,), PROPOSALS + 1, jnp.uint32), state, zeros, zeros, zeros)
    return lax.while_loop(lambda c: jnp.any(c[1] < 0), body, init)[1]


def _binomial_split(k0, k1, counter, n, w_left, w_right):
    """Left count of ``n`` trials split with probability ``w_left / (w_left + w_right)``.

    Weights are non-negative and need not be normalised; the smaller side is sampled so that
    its probability is computed without cancellation.
    """
    total = w_left + w_right
    flip = w_left > w_right
    small = jnp.where(flip, w_right, w_left)
    ok = (total > 0) & (n > 0)
    q = jnp.where(ok, small / jnp.where(ok, total, 1.0), 0.0)
    q = jnp.clip(q, 0.0, 0.5)
    x = _binomial_small(k0, k1, counter, n.astype(q.dtype), q).astype(jnp.int32)
    return jnp.where(flip, n - x, x)


def binomial(key, n, p):
    r"""Exact $\mathrm{Bin}(n, p)$ draws (``int32``), elementwise over broadcast ``n`` and ``p``.

    Args:
        key: a typed PRNG key (``jax.random.key``).
        n: number of trials, integer array (may be traced), ``0 <= n <= MAX_TRIALS`` (10^7).
        p: success probability in ``[0, 1]`` (float array).

    Returns:
        ``int32`` array of the broadcast shape of ``n`` and ``p``.
    """
    dt = _float_dtype(p)
    p = jnp.asarray(p, dt)
    n = jnp.asarray(n)
    shape = jnp.broadcast_shapes(n.shape, p.shape)
    n = jnp.broadcast_to(n, shape).astype(jnp.int32)
    p = jnp.broadcast_to(p, shape)
    k0, k1 = _key_words(key)
    counter = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
    return _binomial_split(k0, k1, counter, n, p, 1.0 - p)


# ------------------------------------------------------------------------------ multinomial
def _chunk_width(depth: int) -> int:
    """Nodes split per step: small trees one level per step, large ones in ~30 chunks."""
    return 2 ** max(0, min(depth - 1, max(CHUNK_LOG2, depth - 5)))


def _schedule(depth: int) -> tuple[np.ndarray, int]:
    """Heap offsets of the node chunks processed in turn, and the chunk width.

    Nodes are numbered in heap order (root 0, children of i at 2i+1 and 2i+2; the leaves of a
    depth-d tree are 2^d - 1 .. 2^(d+1) - 2). The first steps take one level each (a chunk
    starting at the level's first node; it also covers deeper nodes whose counts are still
    zero, which only writes zeros that later steps overwrite). Once a level is wider than a
    chunk, consecutive chunks of ``width`` nodes are independent of each other's results
    because every parent lies in an earlier chunk.
    """
    width = _chunk_width(depth)
    top_levels = int(math.log2(width)) + 1
    starts = [2**level - 1 for level in range(min(top_levels, depth))]
    a = 2**top_levels - 1
    internal_end = 2**depth - 1  # internal nodes are 0 .. 2^depth - 2
    while a < internal_end:
        starts.append(a)
        a += width
    return np.asarray(starts, dtype=np.int32), width


def multinomial(key, n, probs):
    r"""Exact $\mathrm{Multinomial}(n, \mathrm{probs})$ counts by conditional binomials on a tree.

    The categories are the leaves of a complete binary tree (padded to a power of two with zero
    weights); the root holds ``n`` and each node's count is split between its children by an
    exact binomial draw with probability (left subtree mass) / (node mass). By the chain rule of
    the multinomial law this is exactly $\mathrm{Multinomial}(n, \mathrm{probs}/\sum
    \mathrm{probs})$. Depth ``ceil(log2 K)``; the nodes are processed in heap order in chunks by
    one ``lax.scan`` over about ``30 + log2 K`` steps (compile time independent of ``K``); the
    work is about ``1.3 K`` binomial draws, independent of ``n``.

    Args:
        key: a typed PRNG key (``jax.random.key``).
        n: number of trials, an integer (may be traced) broadcastable to ``probs.shape[:-1]``,
            ``0 <= n <= MAX_TRIALS`` (10^7).
        probs: non-negative category weights ``[..., K]`` (normalised internally: only ratios
            matter); at least one positive weight per row where ``n > 0``.

    Returns:
        ``int32`` counts ``[..., K]`` summing to ``n`` along the last axis.
    """
    probs = jnp.asarray(probs)
    if not jnp.issubdtype(probs.dtype, jnp.floating):
        probs = probs.astype(jnp.result_type(float))
    if probs.ndim < 1:
        raise ValueError(f"probs must have a category axis, got shape {probs.shape}")
    num_categories = probs.shape[-1]
    batch = probs.shape[:-1]
    n = jnp.broadcast_to(jnp.asarray(n), batch).astype(jnp.int32)
    if num_categories == 1:
        return n[..., None]
    k0, k1 = _key_words(key)
    if batch:  # one stream per batch row
        rows = jnp.arange(math.prod(batch), dtype=jnp.uint32).reshape(batch)
        k0, k1 = _threefry2x32(k0, k1, rows, jnp.full(batch, 0xFFFFFFFF, jnp.uint32))
        k0, k1 = k0[..., None], k1[..., None]
    depth = max(1, math.ceil(math.log2(num_categories)))
    num_leaves = 2**depth
    weights = jnp.maximum(probs, 0.0)
    if num_leaves > num_categories:
        pad = [(0, 0)] * len(batch) + [(0, num_leaves - num_categories)]
        weights = jnp.pad(weights, pad)
    # Subtree masses of every node in heap order: levels 0 (root) .. depth (leaves).
    # Each parent is its two children added (strided slices: a ``reshape(..., 2).sum(-1)``
    # gives the same bits but ran as a slow reduction, ~4 ms of a ~40 ms Wright-Fisher
    # generation at 1,000 chains x K = 1,000).
    levels = [weights]
    for _ in range(depth):
        levels.append(levels[-1][..., 0::2] + levels[-1][..., 1::2])
    mass = jnp.concatenate(levels[::-1], axis=-1)
    starts, width = _schedule(depth)
    size = 2 * (int(starts[-1]) + width) + 1  # room for the children of the last chunk
    mass = jnp.pad(mass, [(0, 0)] * len(batch) + [(0, size - mass.shape[-1])])
    counts = jnp.zeros(batch + (size,), jnp.int32).at[..., 0].set(n)
    axis = len(batch)
    lanes = jnp.arange(width, dtype=jnp.uint32)

    def step(counts, start):
        node = lax.dynamic_slice_in_dim(counts, start, width, axis)
        child_mass = lax.dynamic_slice_in_dim(mass, 2 * start + 1, 2 * width, axis)
        counter = jnp.broadcast_to(start.astype(jnp.uint32) + lanes, node.shape)
        left = _binomial_split(k0, k1, counter, node, child_mass[..., 0::2], child_mass[..., 1::2])
        children = jnp.stack([left, node - left], axis=-1).reshape(batch + (2 * width,))
        return lax.dynamic_update_slice_in_dim(counts, children, 2 * start + 1, axis), None

    counts, _ = lax.scan(step, counts, jnp.asarray(starts))
    return lax.slice_in_dim(counts, num_leaves - 1, num_leaves - 1 + num_categories, axis=axis)


def draw_without_replacement(key, counts, num, max_num: int):
    """Counts of ``num`` (traced, <= ``max_num``, static) items drawn without replacement from a
    pool holding ``counts[i]`` items of category i: a multivariate hypergeometric draw, exact.

    The counts sit at the leaves of a binary sum tree (padded to a power of two). Draw i takes
    the j-th remaining item, j uniform on [0, remaining) (one ``randint`` call for all draws),
    found by descending the tree (log K comparisons), and removes it from every node on its path:
    O(K + max_num log K) work, with no O(K) running sum per draw.
    """
    k = counts.shape[-1]
    depth = max(1, (k - 1).bit_length())
    leaves = jnp.zeros((2**depth,), jnp.int32).at[:k].set(counts.astype(jnp.int32))
    levels = [leaves]  # levels[d] has 2^d nodes; levels[depth] are the leaves
    for _ in range(depth):
        levels.insert(0, levels[0][0::2] + levels[0][1::2])
    m = int(max_num)
    remaining = levels[0][0] - jnp.arange(m, dtype=jnp.int32)
    picks = jax.random.randint(key, (m,), 0, jnp.maximum(remaining, 1), dtype=jnp.int32)

    def body(i, carry):
        levels, out = carry
        j = picks[i]
        node = jnp.zeros((), jnp.int32)
        for d in range(1, depth + 1):
            left = levels[d][2 * node]
            right = j >= left
            j = jnp.where(right, j - left, j)
            node = 2 * node + right.astype(jnp.int32)
        take = (i < num).astype(jnp.int32)
        levels = [lv.at[node >> (depth - d)].add(-take) for d, lv in enumerate(levels)]
        return levels, out.at[node].add(take)

    _, out = lax.fori_loop(0, m, body, (levels, jnp.zeros((2**depth,), jnp.int32)))
    return out[:k]

"""The runner: one ``jit`` of a ``vmap`` over chains of a ``lax.scan`` over generations.

Keys: chain i uses ``fold_in(key, i)``; the step that creates generation t uses
``fold_in(chain_key, t)``, split into purpose-named subkeys. A chain's trajectory therefore never
depends on how many chains run beside it, on how the generations are chunked, or on the device
layout.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._hosts import gather_global, put_global
from ._random import fold_in
from .family import AbstractFamily
from .policies import KEY_FIT, Draws, default_policy, resolve_num_samples, validate_policy

METHODS = ("sample", "exact")


@dataclasses.dataclass
class RunConfig:
    """Everything that determines a run (plain data except the family module and source)."""

    family: AbstractFamily
    source: Any
    policy: Any
    method: str
    num_chains: int
    num_generations: int
    num_samples: np.ndarray  # n_t for t = 0..T-1 (size of the set that fits generation t+1)
    key_data: np.ndarray
    key_impl: str
    observables: tuple[str, ...] | None = None  # recorded observables (None: all)

    def key(self):
        """The root key of the run (rebuilt from its data)."""
        return jax.random.wrap_key_data(jnp.asarray(self.key_data), impl=self.key_impl)

    @property
    def synthetic_samples(self) -> np.ndarray:
        return self.policy.split(self.num_samples)[0]

    @property
    def fresh_samples(self) -> np.ndarray:
        return self.policy.split(self.num_samples)[1]

    def describe(self) -> dict:
        return {
            **self.family.describe(),
            **self.policy.describe(),
            "method": self.method,
            "num_chains": self.num_chains,
            "num_generations": self.num_generations,
            "num_samples": [int(v) for v in self.num_samples],
            "key_data": [int(v) for v in np.ravel(self.key_data)],
            "key_impl": self.key_impl,
        }


@dataclasses.dataclass
class RunResult:
    """Observables shaped ``[num_chains, num_generations + 1, ...]`` (generation 0 = source).

    The runner stores them generation-major (that is how the loop writes them, and how
    ``check()`` reads them: one generation across chains), so these arrays are usually not
    C-contiguous; ``np.ascontiguousarray`` gives a chain-major copy where one is needed.

    ``final_params`` / ``final_pool`` hold the last carry (batched over chains) so that a run can
    be continued; ``generations_done`` counts completed generations.
    """

    observables: dict[str, np.ndarray]
    config: RunConfig
    final_params: Any = None
    final_pool: Any = None
    generations_done: int = 0
    timings: dict = dataclasses.field(default_factory=dict)

    def summary(self, quantiles=(0.05, 0.25, 0.5, 0.75, 0.95)):
        """Tidy per-generation table: across-chain mean, standard error and quantiles."""
        import pandas as pd

        rows = []
        for name, arr in self.observables.items():
            if arr.ndim != 2:
                continue
            c = arr.shape[0]
            mean = arr.mean(axis=0)
            se = arr.std(axis=0, ddof=1) / np.sqrt(c) if c > 1 else np.full_like(mean, np.nan)
            qs = np.quantile(arr, quantiles, axis=0)
            for t in range(arr.shape[1]):
                row = {"observable": name, "generation": t, "mean": mean[t], "std_error": se[t]}
                for q, v in zip(quantiles, qs[:, t]):
                    row[f"q{q:g}"] = v
                rows.append(row)
        return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------- validation
def _check_int(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
    return int(value)


def _key_info(key):
    if not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise ValueError(
            "key must be a typed PRNG key from jax.random.key(seed), "
            f"got {type(key).__name__} {getattr(key, 'dtype', '')}"
        )
    if key.shape != ():
        raise ValueError(f"key must be a single key (shape ()), got shape {key.shape}")
    return np.asarray(jax.random.key_data(key)), str(jax.random.key_impl(key))


def _physical_memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def kept_observables_bytes(config: RunConfig) -> int:
    """Bytes of the ``[chain, generation, ...]`` observables a kept run returns.

    num_chains x (num_generations + 1) x (sum of the per-chain observable sizes x itemsize);
    shapes come from ``jax.eval_shape`` of ``family.observe`` (nothing is compiled or run).
    """
    shapes = jax.eval_shape(config.family.observe, config.source, config.source)
    per_chain = sum(
        int(np.prod(leaf.shape)) * np.dtype(leaf.dtype).itemsize
        for leaf in jax.tree_util.tree_leaves(shapes)
    )
    return int(config.num_chains) * (int(config.num_generations) + 1) * per_chain


def check_memory(config: RunConfig, limit_bytes: int | None = None) -> int:
    """Refuse, before anything runs, a kept run whose observables cannot fit in memory.

    ``limit_bytes`` defaults to the machine's physical memory. Returns the estimate.
    """
    need = kept_observables_bytes(config)
    limit = _physical_memory_bytes() if limit_bytes is None else int(limit_bytes)
    if limit is not None and need > limit:
        gib = 2.0**30
        raise ValueError(
            f"num_chains={config.num_chains} x (num_generations={config.num_generations} + 1) "
            f"of kept observables need about {need / gib:.3g} GiB, more than this machine's "
            f"{limit / gib:.3g} GiB of memory. Use collapse_lab.run_reduced (across-chain "
            "summaries on the device, memory independent of num_chains), record fewer "
            "observables, or run in chunks that are written to disk as they finish "
            "(collapse-lab run / run_experiment); or lower num_chains or num_generations"
        )
    return need


def _resolve_observables(observables, config: RunConfig):
    """``None`` for "all", else the sorted named observables plus those check() needs."""
    if isinstance(observables, str) and observables == "all":
        return None
    names = sorted(jax.eval_shape(config.family.observe, config.source, config.source))
    if isinstance(observables, str) or not all(isinstance(o, str) for o in observables):
        raise ValueError(f'observables must be "all" or a list of names, got {observables!r}')
    unknown = sorted(set(observables) - set(names))
    if unknown:
        raise ValueError(f"observables: unknown names {unknown}; the family records {names}")
    return tuple(sorted(set(observables) | checked_observables(config)))


def _theory_fingerprint(config: RunConfig):
    """What a family's predictions may depend on (not the key or the recorded observables), as
    a hashable value; None when the family or policy cannot be hashed."""
    leaves = jax.tree_util.tree_leaves(config.source)
    source = tuple((np.asarray(x).dtype.str, np.shape(x), np.asarray(x).tobytes()) for x in leaves)
    fingerprint = (config.family, config.policy, config.method, config.num_chains,
                   config.num_generations, np.asarray(config.num_samples).tobytes(), source)
    try:
        hash(fingerprint)
    except TypeError:
        return None
    return fingerprint


_CHECKED_OBSERVABLES: dict = {}


def checked_observables(config: RunConfig) -> frozenset[str]:
    """The observables ``check()`` tests for ``config`` (the names of its predictions).

    Computing the predictions evaluates the closed forms (quantiles by root finding: tens of
    milliseconds), so the names are remembered per fingerprint of what the predictions depend
    on; a run restricted to a few observables then pays that once, not on every call."""
    fingerprint = _theory_fingerprint(config)
    names = _CHECKED_OBSERVABLES.get(fingerprint) if fingerprint is not None else None
    if names is None:
        names = frozenset(p.observable for p in config.family.predictions(config))
        if fingerprint is not None:
            if len(_CHECKED_OBSERVABLES) >= 64:
                _CHECKED_OBSERVABLES.pop(next(iter(_CHECKED_OBSERVABLES)))
            _CHECKED_OBSERVABLES[fingerprint] = names
    return names


def make_config(
    key, family, source, *, policy, num_chains, num_generations, num_samples, method,
    observables="all",
) -> RunConfig:
    """Validate every argument in plain Python (before any tracing) and build the config."""
    key_data, key_impl = _key_info(key)
    if not isinstance(family, AbstractFamily):
        raise ValueError(f"family must be a collapse_lab family, got {family!r}")
    validate_policy(policy)
    family.validate_policy(policy)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    num_chains = _check_int("num_chains", num_chains, 1)
    num_generations = _check_int("num_generations", num_generations, 1)
    ns = resolve_num_samples(num_samples, num_generations)
    family.validate_num_samples(ns)
    policy.validate(family, method, ns)
    if method == "exact" and not family.has_exact:
        raise ValueError(f"method='exact' is not available for the {family.name} family")
    params0 = family.check_source(source)
    config = RunConfig(
        family=family,
        source=params0,
        policy=policy,
        method=method,
        num_chains=num_chains,
        num_generations=num_generations,
        num_samples=ns,
        key_data=key_data,
        key_impl=key_impl,
    )
    config.observables = _resolve_observables(observables, config)
    return config


def _select(obs: dict, names) -> dict:
    """The recorded observables (XLA drops the computation of the others)."""
    return obs if names is None else {k: v for k, v in obs.items() if k in names}


# ----------------------------------------------------------------------------------- the kernel
@dataclasses.dataclass(frozen=True)
class _Plan:
    """Static (shape-deciding) choices of a kernel. ``policy`` is ``policy.kernel_policy()``: the
    runner calls its ``update`` and never looks inside it."""

    method: str
    policy: Any
    syn_buffer: int  # 0: no synthetic draw
    fresh_buffer: int  # 0: no fresh draw
    syn_masked: bool
    fresh_masked: bool
    max_samples: int = 0  # max n_t, for policies that declare needs_max_samples (else 0)
    observables: tuple[str, ...] | None = None


def _plan(config: RunConfig) -> _Plan:
    policy = config.policy
    syn, fresh, masked = policy.buffer_sizes(config.synthetic_samples, config.fresh_samples)
    max_samples = int(config.num_samples.max()) if policy.needs_max_samples else 0
    if config.method == "exact":
        # Sample sizes are data on the exact path: only their presence shapes the kernel.
        return _Plan(
            method="exact",
            policy=policy.kernel_policy(),
            syn_buffer=int(syn.max() > 0),
            fresh_buffer=int(fresh.max() > 0),
            syn_masked=False,
            fresh_masked=False,
            max_samples=max_samples,
            observables=config.observables,
        )
    return _Plan(
        method=config.method,
        policy=policy.kernel_policy(),
        syn_buffer=int(syn.max()),
        fresh_buffer=int(fresh.max()),
        syn_masked=bool(masked or syn.min() != syn.max()),
        fresh_masked=bool(masked or fresh.min() != fresh.max()),
        max_samples=max_samples,
        observables=config.observables,
    )


def make_step(family: AbstractFamily, plan: _Plan, source):
    """The one-chain generation step ``(carry, (t, n_syn, n_fresh)) -> (carry, observables)``.

    The policy (``plan.policy``) forms the training set from the generation's draws and its pool
    (:class:`collapse_lab.policies.Draws`); the runner only refits and observes."""
    real_family = family.without_bias()
    policy = plan.policy

    def step(chain_key, carry, inputs):
        params, pool = carry
        t, n_syn, n_fresh = inputs
        # fold_in (bit-identical to jax.random.fold_in, cheaper under vmap; _random.fold_in).
        # Purpose keys (0 synthetic, 1 fresh, 2 fit, >= 3 the policy's) are folded in lazily:
        # keys a kernel never uses are dead code and cost nothing.
        key = fold_in(chain_key, t, anchor=t)
        draws = Draws(family, real_family, plan, source, key, t, n_syn, n_fresh)
        stats, pool = policy.update(draws, params, pool)
        params = family.estimate(fold_in(key, KEY_FIT, anchor=t), stats, params)
        return (params, pool), _select(family.observe(params, source), plan.observables)

    return step


TRACE_COUNTS: dict[str, int] = {}  # kernel traces per family name (tests count compiles)


def opaque_scan(f, init, xs, length):
    """``lax.scan(f, init, xs)`` whose trip count XLA cannot see: ``length`` is a traced scalar
    equal to the leading size of ``xs``.

    XLA inlines a loop whose trip count it knows to be 1 (and simplifies indexing into size-1
    axes), which changes fusion and so the rounding of transcendental functions: a run in chunks
    of one generation (or one chain group) would differ in the last bit from the same run in
    larger chunks. With an opaque trip count and spare output slots (at least one, rounded up to
    a multiple of 8 so that no buffer axis has size 1 or a short SIMD remainder) the loop body
    is compiled the same way whatever the chunk length.
    """
    tree_map = jax.tree_util.tree_map
    size = jax.tree_util.tree_leaves(xs)[0].shape[0]
    first = tree_map(lambda x: x[0], xs)
    y_shapes = jax.eval_shape(lambda c, x: f(c, x)[1], init, first)
    slots = -(-(size + 1) // 8) * 8  # spare slots; a multiple of 8 (see the docstring)
    xs = tree_map(lambda x: jnp.concatenate([x, jnp.repeat(x[:1], slots - size, axis=0)]), xs)
    buffers = tree_map(lambda s: jnp.zeros((slots,) + s.shape, s.dtype), y_shapes)

    def body(i, state):
        carry, buffers = state
        carry, y = f(carry, tree_map(lambda x: jax.lax.dynamic_index_in_dim(x, i, 0, False), xs))
        buffers = tree_map(lambda b, v: jax.lax.dynamic_update_index_in_dim(b, v, i, 0),
                           buffers, y)
        return carry, buffers

    carry, buffers = jax.lax.fori_loop(0, length, body, (init, buffers))
    return carry, tree_map(lambda b: b[:size], buffers)


def map_in_groups(fn, group: int, num_groups):
    """``vmap(fn)`` over a leading chain axis, evaluated ``group`` chains at a time.

    The chain axis ``[C]`` is viewed as ``[C / group, group]``: a loop over groups of a ``vmap``
    inside the group. Every matmul then has the same batch size (``group``) whatever the number of
    chains, so a chain's bits do not depend on it (XLA's CPU matmuls and reductions round
    differently at different batch sizes). ``num_groups`` is traced (see :func:`opaque_scan`).
    Used for families that declare ``chain_align``; on several devices each device runs this
    one-device program on its block of chains (see ``run_generations``).
    """
    inner = jax.vmap(fn)
    tree_map = jax.tree_util.tree_map

    def grouped(*args):
        c = jax.tree_util.tree_leaves(args)[0].shape[0]
        args = tree_map(lambda x: x.reshape((c // group, group) + x.shape[1:]), args)
        _, out = opaque_scan(lambda carry, a: (carry, inner(*a)), (), args, num_groups)
        return tree_map(lambda b: b.reshape((c,) + b.shape[2:]), out)

    return grouped


@functools.lru_cache(maxsize=64)
def _kernel(family: AbstractFamily, plan: _Plan):
    """Compiled ``[chains] x [generations]`` kernel; cached per (family, plan).

    Steps with ``valid`` false are padding steps that leave the carry unchanged (see
    :func:`run_generations`). Every chunk length runs this same program: a variant without the
    select for longer chunks rounded some observables differently (fusion changes FMAs).

    Returns ``((params, pool), observables)`` with the observables *generation-major*,
    ``[generations, chains, ...]``: that is how the loop writes them, so XLA need not transpose
    them (a copy that cost ~10 % of the exact Gaussian step); the host views them chain-major.
    """
    group = getattr(family, "chain_align", None)

    def run(chain_keys, params, pool, source, ts, n_syn, n_fresh, valid, num_groups):
        TRACE_COUNTS[family.name] = TRACE_COUNTS.get(family.name, 0) + 1
        step = make_step(family, plan, source)

        def one_chain(chain_key, params, pool):
            def body(carry, inputs):
                *inputs, ok = inputs
                new, obs = step(chain_key, carry, tuple(inputs))
                # (Leaves the step passes through untouched need no select; selecting them
                # cost ~10 % of the Gaussian kernel's time.)
                keep = lambda a, b: b if a is b else jnp.where(ok, a, b)  # noqa: E731
                return jax.tree_util.tree_map(keep, new, carry), obs

            # lax.scan, not opaque_scan: XLA's known trip count makes it markedly faster.
            return jax.lax.scan(body, (params, pool), (ts, n_syn, n_fresh, valid))

        if group is None:
            carry, obs = jax.vmap(one_chain)(chain_keys, params, pool)
        else:
            carry, obs = map_in_groups(one_chain, group, num_groups)(chain_keys, params, pool)
        return carry, jax.tree_util.tree_map(lambda x: jnp.moveaxis(x, 0, 1), obs)

    return jax.jit(run)


def chain_keys(key, start: int, stop: int):
    """Keys of chains ``start..stop-1``: ``fold_in(key, i)``."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(start, stop, dtype=jnp.uint32))


def _broadcast(tree, num_chains):
    return jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (num_chains,) + x.shape), tree)


def initial_pool(config: RunConfig):
    """One chain's pool at generation 0 (the policy's ``init``)."""
    return config.policy.init(config.family, config.source, config)


def initial_carry(config: RunConfig):
    params0, pool0 = config.source, initial_pool(config)
    return _broadcast(params0, config.num_chains), _broadcast(pool0, config.num_chains)


def chain_sharding(num_devices: int | None = None):
    """A 1-D mesh over the local (or, after ``jax.distributed.initialize()``, global) devices
    with the chain axis split across them; None on a single device."""
    devices = jax.devices()
    if num_devices is not None:
        devices = devices[:num_devices]
    if len(devices) < 2:
        return None
    mesh = jax.sharding.Mesh(np.asarray(devices), ("chains",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("chains"))


def _pad_chains(tree, total):
    """Pad the leading (chain) axis to ``total`` by repeating chain 0 (results are discarded)."""

    def pad(x):
        extra = total - x.shape[0]
        if extra == 0:
            return x
        return jnp.concatenate([x, jnp.broadcast_to(x[:1], (extra,) + x.shape[1:])], axis=0)

    return jax.tree_util.tree_map(pad, tree)


def _per_device(kernel, sharding, chain_args, shared_args):
    """Run ``kernel`` once per device on that device's block of chains (asynchronously, so the
    devices work at the same time) and assemble chain-sharded global arrays."""
    devices = list(sharding.mesh.devices.flat)
    total = jax.tree_util.tree_leaves(chain_args)[0].shape[0]
    block = total // len(devices)
    outs = []
    for d, device in enumerate(devices):
        lo, hi = d * block, (d + 1) * block
        local = jax.tree_util.tree_map(lambda x, lo=lo, hi=hi: x[lo:hi], chain_args)
        local = jax.device_put(local, device)
        outs.append(kernel(*local, *jax.device_put(shared_args, device)))

    def assemble(axis, *parts):
        # The chain axis: 0 for the carry, 1 for the generation-major observables.
        shape = parts[0].shape[:axis] + (total,) + parts[0].shape[axis + 1:]
        spec = jax.sharding.PartitionSpec(*([None] * axis + ["chains"]))
        where = jax.sharding.NamedSharding(sharding.mesh, spec)
        return jax.make_array_from_single_device_arrays(shape, where, list(parts))

    carries, observables = zip(*outs)
    return (jax.tree_util.tree_map(functools.partial(assemble, 0), *carries),
            jax.tree_util.tree_map(functools.partial(assemble, 1), *observables))


def run_generations(config: RunConfig, params, pool, start: int, stop: int):
    """Advance every chain from generation ``start`` to ``stop`` (one jitted call).

    With several devices the chain axis is split across them (``NamedSharding`` over a 1-D
    mesh). Chains are padded to a multiple of ``CHAIN_ALIGN`` per device (extra chains are
    valid chains with higher indices, computed and dropped).
    Every chain computes exactly the same operations whatever the layout, so results are
    bit-identical to a one-device run. Families that declare ``chain_align`` (the transformer)
    run in fixed groups of that many chains (:func:`map_in_groups`) and, on several devices, as
    the one-device program per device (local devices only).

    Returns ``(params, pool, observables)``: the carry as arrays, the observables as NumPy
    arrays shaped ``[C, stop - start, ...]`` (views of the kernel's generation-major output, so
    the chain axis is not the contiguous one).
    """
    plan = _plan(config)
    # A chunk of one generation runs as two steps, the second a padding step that leaves the
    # carry unchanged and whose observables are dropped: XLA inlines a loop of trip count 1,
    # which changes fusion and the last bit of some results (lengths >= 2 all agree).
    steps = max(stop - start, 2)
    idx = np.minimum(np.arange(start, start + steps), stop - 1)
    ts = jnp.asarray(idx + 1, jnp.uint32)
    syn = jnp.asarray(np.asarray(config.synthetic_samples)[idx], jnp.int32)
    fresh = jnp.asarray(np.asarray(config.fresh_samples)[idx], jnp.int32)
    valid = jnp.asarray(np.arange(start, start + steps) < stop)
    c = config.num_chains
    sharding = chain_sharding()
    ndev = 1 if sharding is None else sharding.mesh.size
    kernel = _kernel(config.family, plan)
    align = getattr(config.family, "chain_align", None)
    total = padded_chain_count(c, ndev, align or CHAIN_ALIGN)
    keys = chain_keys(config.key(), 0, total)
    args = _pad_chains((keys, params, pool), total)
    num_groups = jnp.asarray(total // (ndev * (align or 1)), jnp.int32)  # traced: opaque_scan
    if sharding is not None and align is not None and sharding.is_fully_addressable:
        # Families with matmuls (chain_align): the one-device program on each device's block of
        # chains. A partitioned (GSPMD or shard_map) program rounded some outputs differently.
        # (Across hosts the partitioned program is used: identical trajectories up to rounding.)
        (params, pool), obs = _per_device(kernel, sharding, args,
                                          (config.source, ts, syn, fresh, valid, num_groups))
    else:
        if sharding is not None:
            args = put_global(args, sharding)
        (params, pool), obs = kernel(*args, config.source, ts, syn, fresh, valid, num_groups)
        (params, pool), obs = gather_global(((params, pool), obs))  # several hosts: to each
    # Generation-major to chain-major, padding dropped: NumPy views, no copies.
    obs = jax.tree_util.tree_map(lambda x: np.moveaxis(np.asarray(x), 0, 1)[:c, : stop - start],
                                 obs)
    if total == c:
        return params, pool, obs
    drop = lambda tree: jax.tree_util.tree_map(lambda x: x[:c], tree)  # noqa: E731
    return drop(params), drop(pool), obs


# XLA's CPU code runs the bulk of an elementwise loop in SIMD registers and the remainder in
# scalar code, and the two may round transcendental functions differently. Padding the chain
# axis to a multiple of this many chains per device keeps every chain on the vector path, so a
# chain's bits do not depend on how many chains run beside it.
CHAIN_ALIGN = 64


def padded_chain_count(num_chains: int, num_devices: int = 1, align: int = CHAIN_ALIGN) -> int:
    # A family may set a class attribute ``chain_align`` (e.g. the transformer, whose chains are
    # too costly to pad to 64 and whose per-chain arrays are already SIMD-width multiples).
    unit = align * num_devices
    return -(-num_chains // unit) * unit


@functools.lru_cache(maxsize=64)
def _observe_jit(family: AbstractFamily):
    return jax.jit(family.observe)


def observe_source(config: RunConfig) -> dict[str, np.ndarray]:
    obs = _select(_observe_jit(config.family)(config.source, config.source), config.observables)
    shape = (config.num_chains, 1)
    return {k: np.broadcast_to(np.asarray(v), shape + np.shape(v)) for k, v in obs.items()}


def run_chains(
    key,
    family: AbstractFamily,
    source,
    *,
    policy=None,
    num_chains: int,
    num_generations: int,
    num_samples,
    method: str = "sample",
    chunk_size: int | None = None,
    observables="all",
) -> RunResult:
    """Run ``num_chains`` independent fit -> sample -> refit chains for ``num_generations``.

    Args:
        key: a typed key (``jax.random.key(seed)``); chain i uses ``fold_in(key, i)``.
        family: a model family, e.g. ``Gaussian(dim=1, estimator="mle")``.
        source: generation-0 parameters from ``family.source(...)``.
        policy: a data policy from :mod:`collapse_lab.policies` (default ``Replace()``), e.g.
            ``Accumulate()``, ``Fresh(alpha)``, ``AccumulateSubsample()``, ``Window(w)``.
        num_chains: number of independent chains (>= 1).
        num_generations: number of refits T (>= 1); observables have T + 1 generations.
        num_samples: training-set size n: an int, a callable ``t -> n_t`` or a sequence of n_t.
        method: ``"sample"`` (draw the samples and refit) or ``"exact"`` (draw the refit
            statistics from their exact law, O(1) in n).
        chunk_size: run the generations in jitted chunks of this many (bit-identical result).
        observables: ``"all"`` (default) or a list of observable names: only these and the
            ones ``check()`` needs are computed and recorded (the others cost nothing).

    Returns:
        A :class:`RunResult` whose observables are NumPy arrays ``[num_chains, T + 1, ...]``.
    """
    policy = default_policy() if policy is None else policy
    config = make_config(
        key,
        family,
        source,
        policy=policy,
        num_chains=num_chains,
        num_generations=num_generations,
        num_samples=num_samples,
        method=method,
        observables=observables,
    )
    if chunk_size is not None:
        chunk_size = _check_int("chunk_size", chunk_size, 1)
    check_memory(config)
    return continue_run(start_run(config), chunk_size=chunk_size)


def start_run(config: RunConfig) -> RunResult:
    """A result holding only generation 0 (the source), ready for :func:`continue_run`."""
    params, pool = initial_carry(config)
    return RunResult(
        observables=observe_source(config),
        config=config,
        final_params=params,
        final_pool=pool,
        generations_done=0,
    )


def continue_run(result: RunResult, *, chunk_size=None, until=None, callback=None) -> RunResult:
    """Advance ``result`` chunk by chunk up to generation ``until`` (default: all).

    ``callback(stop, params, pool, observables_chunk)`` runs after every chunk with NumPy
    observables of generations ``stop - len(chunk) + 1 .. stop``: progress bars and checkpoints
    live there. Chunking never changes a bit of the result.
    """
    config = result.config
    until = config.num_generations if until is None else until
    chunk = chunk_size or config.num_generations
    params, pool = result.final_params, result.final_pool
    pieces = {k: [v] for k, v in result.observables.items()}
    timings = dict(result.timings)
    start = result.generations_done
    while start < until:
        stop = min(start + chunk, until)
        t0 = time.perf_counter()
        params, pool, obs = run_generations(config, params, pool, start, stop)
        timings["run_s"] = timings.get("run_s", 0.0) + time.perf_counter() - t0
        for k, v in obs.items():
            pieces[k].append(v)
        start = stop
        if callback is not None:
            callback(stop, params, pool, obs)
    return RunResult(
        observables={k: np.concatenate(v, axis=1) for k, v in pieces.items()},
        config=config,
        final_params=params,
        final_pool=pool,
        generations_done=start,
        timings=timings,
    )


# ------------------------------------------------------------------------ public init / step
# A blackjax-style pair for code that builds its own loop over generations (collapse_lab.reduce
# reduces across chains inside the scan): thin, stable wrappers over the runner's internals.
def init(config: RunConfig):
    """One chain's generation-0 carry ``(params, pool)``: the source and the policy's pool."""
    return config.source, initial_pool(config)


def plan(config: RunConfig) -> _Plan:
    """The static (shape-deciding) choices of ``config``'s kernel (hashable: a cache key)."""
    return _plan(config)


def step(family: AbstractFamily, kernel_plan: _Plan, source):
    """The one-chain generation step of :func:`make_step`:
    ``step(chain_key, (params, pool), (t, n_synthetic, n_fresh)) -> ((params, pool), observables)``.
    """
    return make_step(family, kernel_plan, source)


def observe_jit(family: AbstractFamily):
    """``jax.jit(family.observe)``, compiled once per family."""
    return _observe_jit(family)

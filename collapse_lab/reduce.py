"""On-device reduction across chains: huge ensembles in O(generations x observables) memory.

``run_reduced`` never materialises ``[chain, generation]`` arrays. Chains run in fixed-size
batches (chain i still uses ``fold_in(key, i)``, so every chain's trajectory is the one
``run_chains`` would give); inside each batch a ``lax.scan`` over generations steps all chains
(``vmap``) and reduces their observables across chains on the device:

* count, mean and the central sums $M_2, M_3, M_4$ per generation (merged across batches in
  float64 with the pairwise update of Pebay, 2008, which is numerically stable);
* counts of chains below every threshold that the family's predictions need (probability and
  quantile rows of :func:`collapse_lab.check`), so ``check()`` works on reduced results;
* fixed-bin histograms (bin edges from a small pilot run of the same configuration, or given).

The chain axis of a batch is sharded across devices like ``run_chains``. The reduced numbers do
not depend on the batch size except through float rounding of the across-chain sums.

References:
    Pebay, P. (2008). Formulas for robust, one-pass parallel computation of covariances and
    arbitrary-order statistical moments. Sandia Report SAND2008-6212.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import lax

from ._hosts import gather_global, put_global
from ._validate import positive_int
from .chain import (
    RunConfig,
    chain_keys,
    chain_sharding,
    init,
    make_config,
    observe_jit,
    padded_chain_count,
    plan,
    run_chains,
    step,
)
from .policies import Replace

NUM_BINS = 64
DEFAULT_CHAIN_BATCH = 65_536
MOMENT_FIELDS = ("count", "mean", "m2", "m3", "m4")


@dataclasses.dataclass
class Moments:
    """Across-chain count, mean and central sums M2..M4 of one observable, per generation."""

    count: np.ndarray  # [T+1]
    mean: np.ndarray  # [T+1, ...]
    m2: np.ndarray
    m3: np.ndarray
    m4: np.ndarray

    def merge(self, other: Moments) -> Moments:
        """Pairwise combination (Pebay 2008, eqs. 2.1-2.3 style updates) in float64."""
        na, nb = self.count, other.count
        n = na + nb
        shape = (-1,) + (1,) * (self.mean.ndim - 1)
        na_, nb_, n_ = (v.reshape(shape) for v in (na, nb, np.maximum(n, 1)))
        d = other.mean - self.mean
        mean = self.mean + d * nb_ / n_
        m2 = self.m2 + other.m2 + d**2 * na_ * nb_ / n_
        m3 = (
            self.m3 + other.m3
            + d**3 * na_ * nb_ * (na_ - nb_) / n_**2
            + 3 * d * (na_ * other.m2 - nb_ * self.m2) / n_
        )
        m4 = (
            self.m4 + other.m4
            + d**4 * na_ * nb_ * (na_**2 - na_ * nb_ + nb_**2) / n_**3
            + 6 * d**2 * (na_**2 * other.m2 + nb_**2 * self.m2) / n_**2
            + 4 * d * (na_ * other.m3 - nb_ * self.m3) / n_
        )
        return Moments(n, mean, m2, m3, m4)

    def variance(self) -> np.ndarray:
        """Across-chain sample variance (ddof = 1)."""
        shape = (-1,) + (1,) * (self.mean.ndim - 1)
        return self.m2 / np.maximum(self.count - 1, 1).reshape(shape)


@dataclasses.dataclass
class ReducedResult:
    """Result of :func:`run_reduced`: per-generation across-chain summaries only."""

    config: RunConfig
    moments: dict[str, Moments]
    threshold_counts: dict[tuple[str, int, float], int]
    histograms: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (edges [B+1], counts [T+1, B+2])
    timings: dict = dataclasses.field(default_factory=dict)
    chain_batch: int | None = None  # chains per compiled batch (padded to the device count)
    reduced = True

    @property
    def generations_done(self) -> int:
        """Every generation (a reduced result is only made whole)."""
        return int(self.config.num_generations)

    def summary(self):
        """Tidy per-generation table (mean, standard error) like ``RunResult.summary``."""
        rows = []
        for name, m in self.moments.items():
            if m.mean.ndim != 1:
                continue
            se = np.sqrt(m.variance() / np.maximum(m.count, 1))
            for t in range(m.mean.shape[0]):
                rows.append({"observable": name, "generation": t, "mean": m.mean[t],
                             "std_error": se[t], "count": int(m.count[t])})
        return pd.DataFrame(rows)


def _thresholds(config: RunConfig, names) -> dict[str, np.ndarray]:
    """Per-observable table [T+1, J] of cuts needed by probability / quantile predictions."""
    per: dict[str, dict[int, list[float]]] = {}
    for p in config.family.predictions(config, None):
        if p.kind not in ("probability", "quantile") or p.index is not None:
            continue
        if p.transform is not None:
            continue
        cut = p.threshold if p.kind == "probability" else p.predicted
        per.setdefault(p.observable, {}).setdefault(p.generation, []).append(float(cut))
    out = {}
    for name in names:
        rows = per.get(name, {})
        width = max((len(v) for v in rows.values()), default=0)
        if width == 0:
            continue
        table = np.full((config.num_generations + 1, width), np.nan)
        for t, cuts in rows.items():
            table[t, : len(cuts)] = cuts
        out[name] = table
    return out


def _pilot_edges(config: RunConfig, num_bins: int, pilot_chains: int) -> dict[str, np.ndarray]:
    """Histogram edges per scalar observable from a small run of the same configuration."""
    pilot = run_chains(
        config.key(), config.family, config.source, policy=config.policy,
        num_chains=pilot_chains, num_generations=config.num_generations,
        num_samples=config.num_samples, method=config.method,
    )
    edges = {}
    for name, arr in pilot.observables.items():
        if arr.ndim != 2:
            continue
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            continue
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.25 * (hi - lo) if hi > lo else max(abs(lo), 1.0) * 0.5
        edges[name] = np.linspace(lo - pad, hi + pad, num_bins + 1)
    return edges


@functools.lru_cache(maxsize=32)
def _reduced_kernel(family, kernel_plan, spec):
    """``spec``: tuple of (name, has_thresholds, has_histogram) for the scalar observables."""
    spec_map = {name: (thr, hist) for name, thr, hist in spec}

    def run(keys, mask, params, pool, source, ts, n_syn, n_fresh, thresholds, edges):
        vstep = jax.vmap(step(family, kernel_plan, source), in_axes=(0, 0, None))
        weight = mask.astype(source_dtype(source))

        def body(carry, inputs):
            t, ns, nf, thr_t = inputs
            carry, obs = vstep(keys, carry, (t, ns, nf))
            out = {}
            count = jnp.sum(weight)
            for name, x in obs.items():
                w = weight.reshape((-1,) + (1,) * (x.ndim - 1))
                mean = jnp.sum(w * x, axis=0) / count
                dev = (x - mean) * w
                dev2 = dev * dev
                out[name] = {
                    "count": count,
                    "mean": mean,
                    "m2": jnp.sum(dev2, axis=0),
                    "m3": jnp.sum(dev2 * dev, axis=0),
                    "m4": jnp.sum(dev2 * dev2, axis=0),
                }
                has_thr, has_hist = spec_map.get(name, (False, False))
                if has_thr:
                    below = x[:, None] < thr_t[name][None, :]
                    out[name]["below"] = jnp.sum(below * mask[:, None], axis=0, dtype=jnp.int32)
                if has_hist:
                    idx = jnp.searchsorted(edges[name], x, side="right")
                    out[name]["hist"] = jax.ops.segment_sum(
                        mask.astype(jnp.int32), idx, num_segments=edges[name].shape[0] + 1
                    )
            return carry, out

        _, red = lax.scan(body, (params, pool), (ts, n_syn, n_fresh, thresholds))
        return red

    return jax.jit(run)


def source_dtype(source):
    leaves = [x for x in jax.tree_util.tree_leaves(source) if jnp.issubdtype(x.dtype, jnp.floating)]
    return leaves[0].dtype if leaves else jnp.float32


def run_reduced(
    key,
    family,
    source,
    *,
    policy=None,
    num_chains: int,
    num_generations: int,
    num_samples,
    method: str = "exact",
    chain_batch: int = DEFAULT_CHAIN_BATCH,
    num_bins: int = NUM_BINS,
    histogram_edges: dict | None = None,
    pilot_chains: int = 128,
    progress=None,
) -> ReducedResult:
    """Run ``num_chains`` chains keeping only across-chain summaries per generation.

    Arguments are those of :func:`collapse_lab.run_chains`, plus ``chain_batch`` (chains per
    compiled batch; memory is O(chain_batch) for the carry), ``num_bins`` / ``histogram_edges``
    (histograms; edges default to the range of a ``pilot_chains`` run, widened by 25 %) and
    ``progress`` (a callable ``(chains_done, num_chains)``).
    """
    policy = Replace() if policy is None else policy
    config = make_config(key, family, source, policy=policy, num_chains=num_chains,
                         num_generations=num_generations, num_samples=num_samples, method=method)
    return run_reduced_config(
        config, chain_batch=chain_batch, num_bins=num_bins, histogram_edges=histogram_edges,
        pilot_chains=pilot_chains, progress=progress,
    )


def run_reduced_config(
    config: RunConfig,
    *,
    chain_batch: int = DEFAULT_CHAIN_BATCH,
    num_bins: int = NUM_BINS,
    histogram_edges: dict | None = None,
    pilot_chains: int = 128,
    progress=None,
    state: dict | None = None,
    on_batch=None,
) -> ReducedResult:
    """:func:`run_reduced` for a built :class:`~collapse_lab.chain.RunConfig`, resumable.

    After every finished chain batch, ``on_batch(state)`` receives the accumulated summaries as
    a flat dict of NumPy arrays (what :func:`collapse_lab.io` checkpoints); passing such a
    ``state`` back continues after its last batch. Batches are merged in the same order either
    way, so a resumed run's summaries are bit-identical to an uninterrupted one's.
    """
    chain_batch = positive_int("chain_batch", chain_batch)
    num_chains = config.num_chains
    t0 = time.perf_counter()
    obs0 = observe_jit(config.family)(config.source, config.source)
    names = list(obs0)
    scalar = [n for n in names if jnp.ndim(obs0[n]) == 0]
    thresholds = _thresholds(config, scalar)
    sharding = chain_sharding()
    ndev = 1 if sharding is None else sharding.mesh.size
    batch = padded_chain_count(min(chain_batch, num_chains), ndev)
    if state is not None:
        if int(state["batch"]) != batch or int(state["num_chains"]) != num_chains:
            raise ValueError(
                f"chain_batch: the saved summaries were made with batches of "
                f"{int(state['batch'])} chains (of {int(state['num_chains'])}), this run uses "
                f"{batch} (of {num_chains}); resume on the same number of devices"
            )
        edges = {k[6:]: v for k, v in state.items() if k.startswith("edges/")}
    elif histogram_edges is not None:
        edges = histogram_edges
    else:
        edges = _pilot_edges(config, num_bins, pilot_chains)
    edges = {k: np.asarray(v, dtype=np.float64) for k, v in edges.items() if k in scalar}
    spec = tuple((n, n in thresholds, n in edges) for n in scalar)

    kernel = _reduced_kernel(config.family, plan(config), spec)
    T = config.num_generations
    ts = jnp.arange(1, T + 1, dtype=jnp.uint32)
    syn = jnp.asarray(config.synthetic_samples, jnp.int32)
    fresh = jnp.asarray(config.fresh_samples, jnp.int32)
    dt = source_dtype(config.source)
    thr_dev = {k: jnp.asarray(v[1:], dt) for k, v in thresholds.items()}
    edge_dev = {k: jnp.asarray(v, dt) for k, v in edges.items()}
    params0, pool0 = init(config)

    total_moments: dict[str, Moments] = {}
    below_total = {k: np.zeros((T, v.shape[1]), np.int64) for k, v in thresholds.items()}
    hist_total = {k: np.zeros((T, v.size + 1), np.int64) for k, v in edges.items()}
    first = 0
    if state is not None:
        first = int(state["done"])
        for name in names:
            if f"mom/{name}/count" in state:
                total_moments[name] = Moments(
                    *(np.array(state[f"mom/{name}/{f}"]) for f in MOMENT_FIELDS))
        for k in below_total:
            below_total[k] = np.array(state[f"below/{k}"], np.int64)
        for k in hist_total:
            hist_total[k] = np.array(state[f"hist/{k}"], np.int64)
    for start in range(first, num_chains, batch):
        stop = min(start + batch, num_chains)
        keys = chain_keys(config.key(), start, start + batch)
        mask = jnp.arange(batch) < (stop - start)
        bcast = lambda tree: jax.tree_util.tree_map(  # noqa: E731
            lambda x: jnp.broadcast_to(x, (batch,) + x.shape), tree)
        args = (keys, mask, bcast(params0), bcast(pool0))
        if sharding is not None:
            args = put_global(args, sharding)
        red = gather_global(kernel(*args, config.source, ts, syn, fresh, thr_dev, edge_dev))
        red = jax.tree_util.tree_map(lambda x: np.asarray(x, dtype=np.float64)
                                     if np.issubdtype(np.asarray(x).dtype, np.floating)
                                     else np.asarray(x), red)
        for name in names:
            r = red[name]
            m = Moments(r["count"], r["mean"], r["m2"], r["m3"], r["m4"])
            total_moments[name] = m if name not in total_moments else total_moments[name].merge(m)
            if "below" in r:
                below_total[name] += r["below"].astype(np.int64)
            if "hist" in r:
                hist_total[name] += r["hist"].astype(np.int64)
        if on_batch is not None:
            snap = {"done": np.asarray(stop), "batch": np.asarray(batch),
                    "num_chains": np.asarray(num_chains)}
            snap.update({f"edges/{k}": v for k, v in edges.items()})
            for name, m in total_moments.items():
                snap.update({f"mom/{name}/{f}": np.asarray(getattr(m, f))
                             for f in MOMENT_FIELDS})
            snap.update({f"below/{k}": v for k, v in below_total.items()})
            snap.update({f"hist/{k}": v for k, v in hist_total.items()})
            on_batch(snap)
        if progress is not None:
            progress(stop, num_chains)

    # generation 0: every chain is at the source
    moments = {}
    for name in names:
        v0 = np.asarray(obs0[name], dtype=np.float64)
        m = total_moments[name]
        zero = np.zeros_like(v0)[None]
        moments[name] = Moments(
            np.concatenate([[float(num_chains)], m.count]),
            np.concatenate([v0[None], m.mean]),
            np.concatenate([zero, m.m2]),
            np.concatenate([zero, m.m3]),
            np.concatenate([zero, m.m4]),
        )
    counts = {}
    for name, table in thresholds.items():
        v0 = float(obs0[name])
        for t in range(T + 1):
            for j, cut in enumerate(table[t]):
                if np.isnan(cut):
                    continue
                c = (num_chains if v0 < cut else 0) if t == 0 else int(below_total[name][t - 1, j])
                counts[(name, t, float(cut))] = c
    hists = {}
    for name, e in edges.items():
        first_row = np.zeros((1, e.size + 1), np.int64)
        first_row[0, np.searchsorted(e, float(obs0[name]), side="right")] = num_chains
        hists[name] = (e, np.concatenate([first_row, hist_total[name]]))
    return ReducedResult(config=config, moments=moments, threshold_counts=counts,
                         histograms=hists, timings={"run_s": time.perf_counter() - t0},
                         chain_batch=batch)

"""EM throughput of the Gaussian-mixture family: today's kernel against the previous one.

Setting of ``benchmarks/throughput.py``: K = 3 components in 1-D (weights 0.5, 0.3, 0.2, means
-4, 0, 4, variances 1, 0.5, 2), 10 warm-started EM steps per generation, n = 1,000 samples, the
default observables. One generation (sample -> EM fit -> observe) is timed under ``jit(vmap)`` over
the chains for

* ``previous``: the kernel as it was before issue 16 (frozen below): labels by
  ``jax.random.categorical`` (K Gumbel draws per point), per-point parameters by a gather, and
  the EM step with ``[B, K]`` responsibilities through a log-sum-exp and a second ``exp``, a
  two-pass M-step and reductions over the points by ``dsum`` on the leading axis; the EM start
  and the final factorisation are the current family's (unchanged since);
* ``current``: ``GaussianMixture`` as it is (labels by inversion of one uniform, EM sums block
  by block on a [K, b] layout);

interleaved in the same process (``--reps`` rounds, each timing both), so the ratio is measured
under the same machine load. It also times each stage (sampling, the 10-step fit, observing) and
the full ``run_chains`` rate, and checks that both kernels fit the same parameters to float32
rounding on the same data (the same EM iteration; only summation orders differ). The two
samplers draw different labels (same law), so the generations are compared on time only.

Usage: ``python benchmarks/mixture_throughput.py [--chains 1000] [--reps 5]
[--out benchmarks/results/mixture_throughput.json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import collapse_lab as cl
from collapse_lab._batch_invariant import dsum
from collapse_lab.families import mixture as mx


# ------------------------------------------------------------------- the previous kernel
def previous_labels_and_normals(fam, key, params, num):
    key_label, key_z = jax.random.split(key)
    w = params.weights
    logits = jnp.where(w > 0, jnp.log(jnp.where(w > 0, w, 1.0)), -jnp.inf)
    labels = jax.random.categorical(key_label, logits, shape=(num,))
    z = jax.random.normal(key_z, (num, fam.dim), w.dtype)
    return labels, z


def previous_em_step(fam, points, mask, state, floor):
    weights, alive, means, cov = state
    d, k = fam.dim, fam.num_components
    eye = jnp.eye(d, dtype=points.dtype)
    chol = mx._cholesky(cov)
    chol_diag = jnp.diagonal(chol, axis1=-2, axis2=-1)
    bad = jnp.any(chol_diag <= 0, axis=-1)
    chol = jnp.where(bad[:, None, None], jnp.sqrt(floor) * eye, chol)
    diff = points[:, None, :] - means[None]
    y = mx._solve_lower(chol[None], diff)
    log_det = 2 * dsum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    logpdf = -0.5 * (dsum(y * y, axis=-1) + log_det[None] + d * jnp.log(2 * jnp.pi))
    log_w = jnp.log(jnp.where(alive, weights, 1.0))
    joint = jnp.where(alive[None], log_w[None] + logpdf, -jnp.inf)
    lse = mx._logsumexp(joint, axis=-1)
    ok = jnp.isfinite(lse) & (mask > 0)
    resp = jnp.where(ok[:, None], jnp.exp(joint - jnp.where(ok, lse, 0.0)[:, None]), 0.0)
    resp = resp * mask[:, None]
    soft = dsum(resp, axis=0)
    survive = alive & (soft >= fam.min_count)
    survive = survive | (jnp.arange(k) == jnp.argmax(jnp.where(alive, soft, -1.0)))
    safe = jnp.where(soft > 0, soft, 1.0)
    new_means = dsum(resp[:, :, None] * points[:, None, :], axis=0) / safe[:, None]
    dev = (points[:, None, :] - new_means[None]) * jnp.sqrt(resp)[:, :, None]
    scatter = dsum(dev[..., :, None] * dev[..., None, :], axis=0) / safe[:, None, None]
    relative = fam.covariance_floor * mx._trace(scatter) / d
    new_cov = scatter + (relative + floor)[:, None, None] * eye
    new_w = jnp.where(survive, soft, 0.0)
    new_w = new_w / jnp.maximum(dsum(new_w), jnp.finfo(new_w.dtype).tiny)
    means = jnp.where(survive[:, None], new_means, means)
    cov = jnp.where(survive[:, None, None], new_cov, cov)
    return new_w, survive, means, cov


def previous_points(params, labels, z):
    scale = jnp.exp(params.log_scale)[labels][:, None]
    return params.means[labels] + scale * mx._mv(params.shape[labels], z)


def previous_sample(fam, key, params, n):
    labels, z = previous_labels_and_normals(fam, key, params, n)
    return mx.MixtureSampleBuffer(points=previous_points(params, labels, z),
                                  mask=jnp.ones(n, z.dtype))


def previous_fit(fam, stats, params):
    """The previous EM loop; init and the final factorisation are the current family's."""
    points, mask = stats.points, stats.mask
    state = fam._em_init(points, mask, params)

    def body(carry, _):
        return previous_em_step(fam, points, mask, carry, params.floor), None

    state, _ = jax.lax.scan(body, state, None, length=fam.num_em_steps)
    return _params_from_state(fam, state, params)


def _params_from_state(fam, state, params):
    weights, alive, means, cov = state
    chol = mx._cholesky(cov)
    fro2 = dsum(dsum(chol * chol, axis=-1), axis=-1)
    ok = fro2 > 0
    safe = jnp.where(ok, fro2, 1.0)
    log_scale = jnp.where(ok, 0.5 * jnp.log(safe / fam.dim), params.log_scale)
    shape = jnp.where(ok[:, None, None], chol * jnp.sqrt(fam.dim / safe)[:, None, None],
                      params.shape)
    log_scale = jnp.where(alive, log_scale, params.log_scale)
    shape = jnp.where(alive[:, None, None], shape, params.shape)
    return mx.MixtureParams(weights=jnp.where(alive, weights, 0.0), alive=alive, means=means,
                            log_scale=log_scale, shape=shape, floor=params.floor)


# ------------------------------------------------------------------------------ timing
def timed(fn, *args, reps, clock=time.perf_counter):
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(reps):
        t0 = clock()
        jax.block_until_ready(fn(*args))
        best = min(best, clock() - t0)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--em-steps", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process CPU clock instead of the wall clock (robust "
                        "on a loaded machine when run single-threaded: XLA_FLAGS="
                        "'--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1')")
    parser.add_argument("--out", default="benchmarks/results/mixture_throughput.json")
    args = parser.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter

    fam = cl.GaussianMixture(3, 1, num_em_steps=args.em_steps)
    src = fam.source([0.5, 0.3, 0.2], [-4.0, 0.0, 4.0], [1.0, 0.5, 2.0])
    n, C = args.samples, args.chains
    keys = jax.random.split(jax.random.key(0), C)

    gen = {
        "previous": jax.jit(jax.vmap(lambda k: fam.observe(
            previous_fit(fam, previous_sample(fam, k, src, n), src), src))),
        "current": jax.jit(jax.vmap(lambda k: fam.observe(
            fam.estimate(None, fam.sample_stats(k, src, n), src), src))),
    }
    sample = {
        "previous": jax.jit(jax.vmap(lambda k: previous_sample(fam, k, src, n))),
        "current": jax.jit(jax.vmap(lambda k: fam.sample_stats(k, src, n))),
    }
    fit = {
        "previous": jax.jit(jax.vmap(lambda s: previous_fit(fam, s, src))),
        "current": jax.jit(jax.vmap(lambda s: fam.estimate(None, s, src))),
    }
    observe = jax.jit(jax.vmap(lambda p: fam.observe(p, src)))
    data = sample["current"](keys)

    # Same data, both fits: they agree to float32 rounding (the same EM iteration).
    fits = {name: fit[name](data) for name in fit}
    agree = {f: float(np.max(np.abs(np.asarray(getattr(fits["current"], f))
                                    - np.asarray(getattr(fits["previous"], f)))))
             for f in ("weights", "means", "log_scale")}

    rounds = []
    for _ in range(args.reps):
        row = {}
        for name in ("previous", "current"):
            row[f"generation_{name}_s"] = timed(gen[name], keys, reps=1, clock=clock)
            row[f"sample_{name}_s"] = timed(sample[name], keys, reps=1, clock=clock)
            row[f"fit_{name}_s"] = timed(fit[name], data, reps=1, clock=clock)
        row["ratio_generation"] = row["generation_previous_s"] / row["generation_current_s"]
        row["ratio_fit"] = row["fit_previous_s"] / row["fit_current_s"]
        row["ratio_sample"] = row["sample_previous_s"] / row["sample_current_s"]
        rounds.append(row)
    observe_s = timed(observe, fits["current"], reps=args.reps, clock=clock)

    best = {key: min(r[key] for r in rounds) for key in rounds[0] if key.endswith("_s")}
    result = {
        "setting": {"K": 3, "d": 1, "n": n, "chains": C, "em_steps": args.em_steps,
                    "num_heldout": fam.num_heldout,
                    "clock": "process CPU" if args.cpu_time else "wall"},
        "machine": {"platform": platform.platform(), "jax": jax.__version__,
                    "devices": [str(d) for d in jax.devices()]},
        "max_abs_difference_previous_vs_current_fit": agree,
        "rounds": rounds,
        "best_s": best,
        "observe_current_s": observe_s,
        "chain_generations_per_s": {
            name: C / best[f"generation_{name}_s"] for name in ("previous", "current")},
        "median_ratio": {key: statistics.median(r[key] for r in rounds)
                         for key in ("ratio_generation", "ratio_fit", "ratio_sample")},
    }
    gens = 10
    t0 = time.perf_counter()  # the same shapes as the timed call, so that it compiles nothing
    cl.run_chains(jax.random.key(1), fam, src, num_chains=C, num_generations=gens, num_samples=n)
    compile_and_run = time.perf_counter() - t0
    run_s = float("inf")  # best of 3 calls (the first after compiling is often slower)
    for rep in range(3):
        t0 = time.perf_counter()
        cl.run_chains(jax.random.key(2 + rep), fam, src, num_chains=C, num_generations=gens,
                      num_samples=n)
        run_s = min(run_s, time.perf_counter() - t0)
    result["run_chains"] = {"generations": gens, "seconds": run_s,
                            "chain_generations_per_s": C * gens / run_s,
                            "first_call_s": compile_and_run}

    print(f"mixture EM, K=3, d=1, n={n}, {C} chains, {args.em_steps} EM steps "
          f"({'CPU' if args.cpu_time else 'wall'} clock, best of {args.reps} interleaved rounds; "
          "shared CPU, so noisy)")
    print(f"{'stage':12s} {'previous ms':>12s} {'current ms':>11s} {'median ratio':>13s}")
    for stage in ("generation", "sample", "fit"):
        print(f"{stage:12s} {1e3 * best[f'{stage}_previous_s']:12.1f} "
              f"{1e3 * best[f'{stage}_current_s']:11.1f} "
              f"{result['median_ratio'][f'ratio_{stage}']:13.2f}")
    print(f"observe (current): {1e3 * observe_s:.1f} ms")
    rate = result["chain_generations_per_s"]
    print(f"chain-generations/s: previous {rate['previous']:.3g}, current {rate['current']:.3g}; "
          f"run_chains {result['run_chains']['chain_generations_per_s']:.3g}")
    print(f"max |current - previous| on the same data: {agree}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

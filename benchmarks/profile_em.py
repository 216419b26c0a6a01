"""Stage timings of one mixture-EM generation, previous (frozen, pre-issue-16) against current.

K = 3, d = 1, n = 1,000 (the setting of ``mixture_throughput.py``), ``jit(vmap)`` over the chains,
process CPU time, best of ``--reps`` interleaved rounds. Run single-threaded for stable numbers:
``XLA_FLAGS='--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'
python benchmarks/profile_em.py``. Results are discussed in benchmarks/results/profile_em.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import collapse_lab as cl
from collapse_lab.families import mixture as mx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mixture_throughput as frozen  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    fam = cl.GaussianMixture(3, 1)
    src = fam.source([0.5, 0.3, 0.2], [-4.0, 0.0, 4.0], [1.0, 0.5, 2.0])
    n, C = 1000, args.chains
    keys = jax.random.split(jax.random.key(0), C)
    data = jax.jit(jax.vmap(lambda k: fam.sample_stats(k, src, n)))(keys)
    labels, z = jax.jit(jax.vmap(lambda k: fam._labels_and_normals(k, src, n)))(keys)
    state = jax.jit(jax.vmap(lambda s: fam._em_init(s.points, s.mask, src)))(data)
    blocks = jax.jit(jax.vmap(mx._em_blocks))(data.points, data.mask)
    fits = jax.jit(jax.vmap(lambda s: fam.estimate(None, s, src)))(data)

    def red(tree):  # a scalar per chain, so that no stage is timed on writing a big output
        return sum(jnp.sum(jnp.asarray(x, jnp.float32)) for x in jax.tree_util.tree_leaves(tree))

    stages = {
        "labels + normals": (
            lambda k: red(frozen.previous_labels_and_normals(fam, k, src, n)),
            lambda k: red(fam._labels_and_normals(k, src, n)), keys),
        "points from labels": (
            lambda lz: red(frozen.previous_points(src, *lz)),
            lambda lz: red(fam._points(src, *lz)), (labels, z)),
        "sample (all)": (
            lambda k: red(frozen.previous_sample(fam, k, src, n)),
            lambda k: red(fam.sample_stats(k, src, n)), keys),
        "one EM step": (
            lambda s: red(frozen.previous_em_step(fam, s[0].points, s[0].mask, s[1], src.floor)),
            lambda s: red(fam._em_step(s[2][0], s[2][1], s[1], src.floor)),
            (data, state, blocks)),
        "fit (init + 10 steps + factor)": (
            lambda s: red(frozen.previous_fit(fam, s, src)),
            lambda s: red(fam.estimate(None, s, src)), data),
        "observe": (lambda p: red(fam.observe(p, src)),) * 2 + (fits,),
        "generation": (
            lambda k: red(fam.observe(frozen.previous_fit(
                fam, frozen.previous_sample(fam, k, src, n), src), src)),
            lambda k: red(fam.observe(fam.estimate(None, fam.sample_stats(k, src, n), src),
                                      src)), keys),
    }
    compiled = {name: (jax.jit(jax.vmap(p)), jax.jit(jax.vmap(c)), x)
                for name, (p, c, x) in stages.items()}
    best = {name: [float("inf"), float("inf")] for name in stages}
    for f_prev, f_cur, x in compiled.values():
        jax.block_until_ready((f_prev(x), f_cur(x)))
    for _ in range(args.reps):
        for name, (f_prev, f_cur, x) in compiled.items():
            for i, f in enumerate((f_prev, f_cur)):
                t0 = time.process_time()
                jax.block_until_ready(f(x))
                best[name][i] = min(best[name][i], time.process_time() - t0)
    per = 1e9 / (C * n * 3)
    print(f"K=3, d=1, n={n}, {C} chains; process CPU ms, best of {args.reps} (ns per "
          "point-component in brackets)")
    print(f"{'stage':32s} {'previous':>16s} {'current':>16s} {'ratio':>6s}")
    for name, (p, c) in best.items():
        print(f"{name:32s} {1e3 * p:8.1f} [{p * per:5.2f}] {1e3 * c:8.1f} [{c * per:5.2f}] "
              f"{p / c:6.2f}")


if __name__ == "__main__":
    main()

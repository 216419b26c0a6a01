"""Throughput of the categorical family: both JAX paths against NumPy baselines, same run.

For vocabularies of 100 and 10,000 categories and n = 100 .. 1,000,000 tokens per generation,
one generation of every chain is: draw the training counts, refit, record the observables.

* ``jax sample``: the family's literal path (n tokens drawn and counted) under ``run_chains``;
* ``jax exact``: the multinomial count vector drawn directly (conditional binomials on a tree);
* ``numpy vectorised``: ``Generator.multinomial(n, p[chains, K])`` and the refit, in one call;
* ``python loop``: a per-chain Python loop of ``Generator.multinomial`` like the papers' scripts.

Reported: category-generations/s (chains x K per second), tokens/s, the ratio of each JAX path
to the vectorised NumPy baseline, the exact path's cost per generation from n = 1,000 to
n = 1,000,000 (it must change by less than 2x), and the compile time at K = 100,000. Timings
exclude compilation (each JAX kernel runs once to compile, then is timed). Results: JSON and a
printed table. Numbers depend on the machine and its load; ratios are measured in one run.

Usage::

    python benchmarks/categorical_throughput.py [--chains 256] [--generations 4] [--quick]
        [--out benchmarks/results/categorical_throughput.json]
"""

from __future__ import annotations

import time

import _common  # benchmarks/_common.py (this folder is on sys.path)
import jax
import numpy as np

import collapse_lab as cl
from collapse_lab import _multinomial, chain


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


MAX_TOKENS = 20_000_000  # the literal path draws chains x n tokens per generation: cap it


def jax_path(method, vocab, n, chains, generations, repeats, seed=0):
    family = cl.Categorical(vocab)
    source = family.source(cl.zipf(1.1, vocab))

    def go():
        result = cl.run_chains(
            jax.random.key(seed),
            family,
            source,
            num_chains=chains,
            num_generations=generations,
            num_samples=n,
            method=method,
        )
        jax.block_until_ready(result.final_params.weights)

    start = time.perf_counter()
    go()
    first = time.perf_counter() - start
    elapsed = best_of(go, repeats)
    return elapsed / generations, max(first - elapsed, 0.0)


def numpy_vectorised(vocab, n, chains, generations, repeats, seed=0):
    rng = np.random.default_rng(seed)
    p0 = cl.zipf(1.1, vocab)

    def go():
        p = np.broadcast_to(p0, (chains, vocab))
        for _ in range(generations):
            p = rng.multinomial(n, p) / n

    return best_of(go, repeats) / generations


def python_loop(vocab, n, chains, generations, repeats, seed=0):
    rng = np.random.default_rng(seed)
    p0 = cl.zipf(1.1, vocab)

    def go():
        for _ in range(chains):
            p = p0
            for _ in range(generations):
                p = rng.multinomial(n, p) / n

    return best_of(go, repeats) / generations


def exact_scaling(vocab, chains, repeats=4):
    """Cost per generation of the exact path at n = 1e6 over n = 1e3, timed alternately (so
    that a change of machine load affects both sizes alike); the minimum of each is used."""
    family = cl.Categorical(vocab)
    source = family.source(cl.zipf(1.1, vocab))

    def go(n):
        r = cl.run_chains(
            jax.random.key(n),
            family,
            source,
            num_chains=chains,
            num_generations=2,
            num_samples=n,
            method="exact",
        )
        jax.block_until_ready(r.final_params.weights)

    for n in (1000, 1_000_000):
        go(n)  # compile (one kernel: n is data on the exact path)
    times = {1000: [], 1_000_000: []}
    for _ in range(repeats):
        for n in times:
            start = time.perf_counter()
            go(n)
            times[n].append(time.perf_counter() - start)
    return min(times[1_000_000]) / min(times[1000])


def compile_time(vocab, chains=64):
    """XLA compile time of the exact-path generation kernel (the runner's jitted
    chains x generations function) and of the multinomial alone, at this vocabulary size."""
    family = cl.Categorical(vocab)
    source = family.source(cl.zipf(1.1, vocab))
    config = chain.make_config(
        jax.random.key(0),
        family,
        source,
        policy=cl.Replace(),
        num_chains=chains,
        num_generations=2,
        num_samples=1000,
        method="exact",
    )
    kernel = chain._kernel(family, chain._plan(config))
    params, pool = chain.initial_carry(config)
    keys = chain.chain_keys(config.key(), 0, chains)
    steps = jax.numpy.arange(1, 3, dtype=jax.numpy.uint32)
    sizes = jax.numpy.asarray([1000, 1000], jax.numpy.int32)
    start = time.perf_counter()
    lowered = kernel.lower(keys, params, pool, source, steps, sizes, sizes * 0,
                           jax.numpy.asarray(1, jax.numpy.int32),
                           jax.numpy.asarray(2, jax.numpy.int32))
    lower_s = time.perf_counter() - start
    start = time.perf_counter()
    lowered.compile()
    kernel_s = time.perf_counter() - start
    probs = jax.numpy.asarray(cl.zipf(1.1, vocab), jax.numpy.float32)
    lowered = jax.jit(lambda k: _multinomial.multinomial(k, 1000, probs)).lower(jax.random.key(0))
    start = time.perf_counter()
    lowered.compile()
    alone = time.perf_counter() - start
    return {
        "kernel_trace_s": lower_s,
        "kernel_compile_s": kernel_s,
        "multinomial_compile_s": alone,
    }


def main(argv=None):
    parser = _common.parser(__doc__, "benchmarks/results/categorical_throughput.json")
    parser.add_argument("--chains", type=int, default=256)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer sizes (smoke test)")
    args = parser.parse_args(argv)
    vocabs = (100, 10_000)
    sizes = (100, 1000, 1_000_000) if args.quick else (100, 1000, 10_000, 100_000, 1_000_000)
    c, g, r = args.chains, args.generations, args.repeats
    rows = []
    for vocab in vocabs:
        for n in sizes:
            row = {"vocab_size": vocab, "num_samples": n, "chains": c}
            # The literal path runs fewer chains when chains x n is large; its time is scaled
            # to c chains (chains are independent, so the cost is linear in their number).
            c_sample = max(1, min(c, MAX_TOKENS // n))
            row["jax_sample_chains_run"] = c_sample
            for name, chains_run in (("jax_sample", c_sample), ("jax_exact", c)):
                per_gen, compile_s = jax_path(name[4:], vocab, n, chains_run, g, r)
                row[f"{name}_s_per_generation"] = per_gen * c / chains_run
                row[f"{name}_compile_s"] = compile_s
            row["numpy_vectorised_s_per_generation"] = numpy_vectorised(vocab, n, c, g, r)
            loop_chains = max(1, c // 4)
            row["python_loop_s_per_generation"] = python_loop(vocab, n, loop_chains, g, 1) * (
                c / loop_chains
            )
            for key in ("jax_sample", "jax_exact", "numpy_vectorised", "python_loop"):
                seconds = row[f"{key}_s_per_generation"]
                row[f"{key}_category_generations_per_s"] = c * vocab / seconds
                row[f"{key}_tokens_per_s"] = c * n / seconds
            base = row["numpy_vectorised_s_per_generation"]
            row["jax_sample_speedup_vs_numpy"] = base / row["jax_sample_s_per_generation"]
            row["jax_exact_speedup_vs_numpy"] = base / row["jax_exact_s_per_generation"]
            row["jax_exact_speedup_vs_python_loop"] = (
                row["python_loop_s_per_generation"] / row["jax_exact_s_per_generation"]
            )
            rows.append(row)
            print(
                f"K={vocab:>6} n={n:>8}: sample {row['jax_sample_s_per_generation'] * 1e3:9.2f} ms"
                f"  exact {row['jax_exact_s_per_generation'] * 1e3:9.2f} ms"
                f"  numpy {base * 1e3:9.2f} ms"
                f"  loop {row['python_loop_s_per_generation'] * 1e3:9.2f} ms  (per generation,"
                f" {c} chains)",
                flush=True,
            )
    scaling = {str(vocab): exact_scaling(vocab, c) for vocab in vocabs}
    compile_100k = compile_time(100_000)
    report = {
        "machine": _common.provenance(),
        "settings": vars(args),
        "rows": rows,
        "exact_cost_ratio_n1e6_over_n1e3": scaling,
        "compile_at_vocab_100000": compile_100k,
    }
    print()
    header = (
        f"{'K':>6} {'n':>8} | {'cat-gen/s sample':>16} {'exact':>10} {'numpy':>10} "
        f"{'loop':>10} | {'sample/np':>9} {'exact/np':>9} {'exact/loop':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['vocab_size']:>6} {row['num_samples']:>8} | "
            f"{row['jax_sample_category_generations_per_s']:16.3g} "
            f"{row['jax_exact_category_generations_per_s']:10.3g} "
            f"{row['numpy_vectorised_category_generations_per_s']:10.3g} "
            f"{row['python_loop_category_generations_per_s']:10.3g} | "
            f"{row['jax_sample_speedup_vs_numpy']:9.2f} {row['jax_exact_speedup_vs_numpy']:9.2f} "
            f"{row['jax_exact_speedup_vs_python_loop']:10.2f}"
        )
    for vocab, ratio in scaling.items():
        verdict = "OK" if ratio < 2 else "NOT < 2x"
        print(f"exact path, K={vocab}: cost per generation n=1e6 / n=1e3 = {ratio:.2f} ({verdict})")
    c100k = compile_100k["kernel_compile_s"]
    verdict = "OK" if c100k < 10 else "NOT < 10 s"
    print(
        f"compile at K=100,000: exact-path generation kernel {c100k:.2f} s ({verdict}; tracing "
        f"{compile_100k['kernel_trace_s']:.2f} s), multinomial alone "
        f"{compile_100k['multinomial_compile_s']:.2f} s"
    )
    _common.write_json(args.out, report)
    return report


if __name__ == "__main__":
    main()

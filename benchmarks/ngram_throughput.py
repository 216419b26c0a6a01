"""n-gram chain throughput: collapse_lab vs NumPy and a Python loop, plus the issue-5 acceptance runs.

Measured in the same run on the same machine:

* ``corpus``: the generated-corpus mode at scale -- a vocab-1,000 bigram source with sparse
  Zipf rows (``random_markov_source``, 32 entries per row), 1,000 chains, 100,000-token corpora
  (100 sequences of 1,000 tokens) per generation, KL-rate and held-out-perplexity trajectories.
  The chains run in batches (``--batch`` chains per jitted call; chain i still uses
  ``fold_in(key, i)``, so the result does not depend on the batch size -- checked on a few chains)
  to bound memory. Reported: wall time including compilation, tokens/s.
* ``numpy_vectorised``: the same corpus generation and refit in NumPy (every chain's sequences
  advanced together, inverse-CDF sampling on the support-restricted rows, ``bincount``
  counting), on fewer chains; tokens/s.
* ``python_loop``: one token at a time as in simple papers' scripts (NumPy ``searchsorted`` per
  token), on a short corpus; tokens/s.
* ``fixed_counts`` (with ``--acceptance``): the exactly solvable design, bigram, vocab 50,
  10,000 chains, 100 generations, 20 draws per context: ``check()`` must pass every exact row
  and reject the formula with n + 1 draws.

Usage: ``python benchmarks/ngram_throughput.py [--quick] [--acceptance] [--out results.json]``.
Prints a table and writes JSON with provenance.
"""

from __future__ import annotations

import os
import time

import _common  # benchmarks/_common.py (this folder is on sys.path)
import jax
import jax.numpy as jnp
import numpy as np

import collapse_lab as cl
from collapse_lab import chain as chain_module


# ------------------------------------------------------------------------------ helpers
def run_in_chain_batches(key, family, source, *, num_chains, batch, num_generations,
                         num_samples, policy=None):
    """``run_chains`` over chains ``0..num_chains-1`` in batches of ``batch`` (same keys).

    Uses the runner's kernel directly with chain keys ``fold_in(key, i)`` for the batch's i, so
    the observables equal those of one ``run_chains`` call with all chains.
    """
    policy = cl.Replace() if policy is None else policy
    config = chain_module.make_config(
        key, family, source, policy=policy, num_chains=batch, num_generations=num_generations,
        num_samples=num_samples, method="sample")
    plan = chain_module._plan(config)
    kernel = chain_module._kernel(family, plan)
    ts = jnp.arange(1, num_generations + 1, dtype=jnp.uint32)
    syn = jnp.asarray(config.synthetic_samples, jnp.int32)
    fresh = jnp.asarray(config.fresh_samples, jnp.int32)
    source_obs = chain_module.observe_source(config)
    pieces = []
    for start in range(0, num_chains, batch):
        stop = min(start + batch, num_chains)
        keys = chain_module.chain_keys(config.key(), start, start + batch)
        params, pool = chain_module.initial_carry(config)
        _, obs = kernel(keys, params, pool, config.source, ts, syn, fresh,
                        jnp.asarray(1, jnp.int32), jnp.asarray(num_generations, jnp.int32))
        # (the kernel's observables are generation-major: [generations, chains, ...])
        pieces.append({k: np.moveaxis(np.asarray(v), 0, 1)[: stop - start] for k, v in obs.items()})
    out = {}
    for k, v0 in source_obs.items():
        first = np.broadcast_to(v0[:1], (num_chains, 1) + v0.shape[2:])
        out[k] = np.concatenate([first, np.concatenate([p[k] for p in pieces])], axis=1)
    return out


def corpus_benchmark(key, vocab, chains, generations, sequences, seq_len, batch):
    transitions = cl.random_markov_source(jax.random.fold_in(key, 1), vocab, 1, support_size=32)
    family = cl.NGram(vocab, 1, mode="corpus", seq_len=seq_len)
    t0 = time.perf_counter()
    source = family.source(jax.random.fold_in(key, 2), transitions)
    source_s = time.perf_counter() - t0
    # batching does not change a bit: 3 chains in a batch of 64 == one call with 3 chains (the
    # runner pads chains to multiples of 64 so every chain stays on XLA's vector code path)
    small = dict(num_generations=1, num_samples=2)
    a = run_in_chain_batches(key, family, source, num_chains=3, batch=64, **small)
    b = cl.run_chains(key, family, source, num_chains=3, **small).observables
    batch_invariant = all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    t0, cpu0 = time.perf_counter(), time.process_time()
    obs = run_in_chain_batches(key, family, source, num_chains=chains, batch=batch,
                               num_generations=generations, num_samples=sequences)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    tokens = chains * generations * sequences * seq_len
    traj = {
        name: {"mean": obs[name].mean(axis=0).tolist(),
               "std_error": (obs[name].std(axis=0, ddof=1) / np.sqrt(chains)).tolist()}
        for name in ("kl_rate_eval", "heldout_perplexity", "heldout_unseen_fraction",
                     "lost_mass", "heterozygosity", "entropy_rate", "corpus_distinct")
    }
    return {
        "vocab_size": vocab, "chains": chains, "generations": generations,
        "tokens_per_corpus": sequences * seq_len, "batch": batch, "source_s": source_s,
        "wall_s_including_compile": wall, "cpu_s": cpu, "tokens_per_s": tokens / wall,
        "load_average_after": list(os.getloadavg()),
        "batch_invariant": batch_invariant, "trajectories": traj,
        "kl_rate_inf_fraction_final": float(np.mean(np.isinf(obs["kl_rate"][:, -1]))),
    }


def numpy_corpus(vocab, chains, generations, sequences, seq_len, seed=0):
    """NumPy implementation of the same chains (support-restricted rows, float64)."""
    rng = np.random.default_rng(seed)
    p = cl.random_markov_source(jax.random.key(1), vocab, 1, support_size=32)
    width = 32
    support = np.argsort(p <= 0, axis=1, kind="stable")[:, :width]
    probs = np.take_along_axis(p, support, axis=1)
    pi = cl.theory.ngram.stationary_context_law(p, vocab, 1)
    models = np.broadcast_to(probs, (chains,) + probs.shape).copy()
    lanes = chains * sequences
    chain_of_lane = np.repeat(np.arange(chains), sequences)
    t0 = time.perf_counter()
    for _ in range(generations):
        cdf = np.cumsum(models, axis=2)
        cdf /= cdf[:, :, -1:]
        ctx = np.searchsorted(np.cumsum(pi), rng.random(lanes) * pi.sum(), side="right")
        ctx = np.minimum(ctx, vocab - 1)
        counts = np.zeros(chains * vocab * width, np.int64)
        for _ in range(seq_len - 1):
            rows = cdf[chain_of_lane, ctx]  # [lanes, width]
            col = (rows <= rng.random(lanes)[:, None]).sum(axis=1)
            flat = (chain_of_lane * vocab + ctx) * width + col
            counts += np.bincount(flat, minlength=counts.size)
            ctx = support[ctx, col]
        c = counts.reshape(chains, vocab, width).astype(np.float64)
        tot = c.sum(axis=2, keepdims=True)
        models = np.where(tot > 0, c / np.where(tot > 0, tot, 1), models)
    dt = time.perf_counter() - t0
    return {"chains": chains, "generations": generations, "seconds": dt,
            "tokens_per_s": chains * generations * sequences * seq_len / dt}


def python_loop(vocab, tokens, seed=0):
    rng = np.random.default_rng(seed)
    p = cl.random_markov_source(jax.random.key(1), vocab, 1, support_size=32)
    cdf = np.cumsum(p, axis=1)
    t0 = time.perf_counter()
    ctx = 0
    counts = {}
    for _ in range(tokens):
        tok = int(np.searchsorted(cdf[ctx], rng.random() * cdf[ctx, -1], side="right"))
        counts[(ctx, tok)] = counts.get((ctx, tok), 0) + 1
        ctx = tok
    dt = time.perf_counter() - t0
    return {"tokens": tokens, "seconds": dt, "tokens_per_s": tokens / dt}


def fixed_counts_acceptance(key, chains, generations, draws):
    transitions = cl.random_markov_source(jax.random.fold_in(key, 3), 50, 1, support_size=10)
    family = cl.NGram(50, 1, mode="fixed_counts")
    source = family.source(jax.random.fold_in(key, 4), transitions)
    t0 = time.perf_counter()
    result = cl.run_chains(jax.random.fold_in(key, 5), family, source, num_chains=chains,
                           num_generations=generations, num_samples=draws)
    wall = time.perf_counter() - t0
    table = cl.check(result, false_alarm=1e-3)
    wrong = cl.check(result, false_alarm=1e-3, overrides={"num_samples": draws + 1})
    print(cl.format_table(table, title=f"fixed counts: bigram, vocab 50, {chains} chains, "
                                       f"{generations} generations, {draws} draws per context"))
    failed = wrong.loc[~wrong["pass"]]
    print(f"negative control (n + 1 = {draws + 1}): {len(failed)} of {len(wrong)} rows fail; "
          f"formulas failing: {sorted(set(failed['formula']))}")
    return {
        "chains": chains, "generations": generations, "draws_per_context": draws,
        "wall_s_including_compile": wall, "rows": len(table),
        "exact_rows": int(table["exact"].sum()), "all_pass": bool(table.attrs["passed"]),
        "max_abs_z": float(np.abs(table["z"]).max()),
        "negative_control_rows_failing": int(len(failed)),
        "negative_control_passed": bool(wrong.attrs["passed"]),
    }


def main(argv=None):
    ap = _common.parser(__doc__, "benchmarks/results/ngram_throughput.json")
    ap.add_argument("--vocab", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=1000)
    ap.add_argument("--generations", type=int, default=5)
    ap.add_argument("--sequences", type=int, default=100)
    ap.add_argument("--seq-len", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--impl", default="threefry2x32", help="JAX PRNG implementation")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    ap.add_argument("--acceptance", action="store_true",
                    help="also run the fixed-counts acceptance check (10,000 chains)")
    args = ap.parse_args(argv)
    if args.quick:
        args.chains, args.generations, args.batch = 128, 2, 64
    key = jax.random.key(0, impl=args.impl)
    res = {"config": vars(args)}
    res["corpus"] = corpus_benchmark(key, args.vocab, args.chains, args.generations,
                                     args.sequences, args.seq_len, args.batch)
    np_chains = max(args.chains // 50, 2)
    res["numpy_vectorised"] = numpy_corpus(args.vocab, np_chains, 1, args.sequences,
                                           args.seq_len)
    res["python_loop"] = python_loop(args.vocab, 20_000)
    c = res["corpus"]
    res["ratios"] = {
        "collapse_lab_vs_numpy_tokens_per_s":
            c["tokens_per_s"] / res["numpy_vectorised"]["tokens_per_s"],
        "collapse_lab_vs_python_loop_tokens_per_s":
            c["tokens_per_s"] / res["python_loop"]["tokens_per_s"],
    }
    if args.acceptance:
        res["fixed_counts"] = fixed_counts_acceptance(key, 10_000, 100, 20)
    res["provenance"] = _common.provenance()

    print(f"\nn-gram corpus mode: vocab {args.vocab} bigram, {c['chains']} chains x "
          f"{c['generations']} generations, {c['tokens_per_corpus']} tokens per corpus, "
          f"PRNG {args.impl}")
    print(f"  wall time including compile: {c['wall_s_including_compile']:.1f} s, process CPU "
          f"time {c['cpu_s']:.1f} s, load average {c['load_average_after'][0]:.1f} on "
          f"{os.cpu_count()} cores (batches of {c['batch']} chains; batch-invariant: "
          f"{c['batch_invariant']})")
    print(f"{'path':36s} {'tokens/s':>12s}")
    for name, r in [("collapse_lab (corpus mode)", c),
                    (f"numpy vectorised ({np_chains} chains)", res["numpy_vectorised"]),
                    ("python loop (one token at a time)", res["python_loop"])]:
        print(f"{name:36s} {r['tokens_per_s']:12.3g}")
    for k, v in res["ratios"].items():
        print(f"  {k:44s} {v:8.3g}")
    print("trajectories (mean over chains; generation 0 = source):")
    for name in ("kl_rate_eval", "heldout_perplexity", "heldout_unseen_fraction", "lost_mass"):
        vals = " ".join(f"{v:.4g}" for v in c["trajectories"][name]["mean"])
        print(f"  {name:24s} {vals}")
    if args.acceptance:
        f = res["fixed_counts"]
        print(f"fixed counts: {f['rows']} rows ({f['exact_rows']} exact) all pass: {f['all_pass']}"
              f" (max |z| {f['max_abs_z']:.2f}); n+1 control rejected: "
              f"{not f['negative_control_passed']} ({f['negative_control_rows_failing']} rows); "
              f"run {f['wall_s_including_compile']:.1f} s")
    _common.write_json(args.out, res)
    return res


if __name__ == "__main__":
    main()

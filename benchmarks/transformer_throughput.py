"""Transformer chains: training and sampling tokens/s, vmapped chains against a per-chain loop.

The model of ``benchmarks/transformer_vs_ngram.py`` (vocab 32, 32-token sequences, 2 layers,
d_model 64, 4 heads, adam, minibatches of 32 sequences). Two ways to train and sample C chains:

* ``vmapped``: the family's own kernels under ``jit(vmap)`` over the chains (what
  ``run_chains`` runs): ``Transformer.estimate`` (a ``lax.scan`` of optimiser steps) and the
  cached autoregressive sampler, all chains in one call;
* ``loop``: what a user would write with equinox + optax: one model per chain, an
  ``eqx.filter_jit`` train step called from a Python loop over steps and chains (minibatches
  drawn with NumPy), and a jitted per-chain sampling call (the same key/value-cached decoder, so
  the comparison is about batching, not about the sampler).

Both are timed after a warm-up call (compilation excluded) in the same process, interleaved, so
the ratio is measured under the same machine load. Reported per chain: training tokens/s
(tokens of the minibatches, ``steps x batch x (seq_len - 1)``) and sampled tokens/s.

Usage: ``python benchmarks/transformer_throughput.py [--chains 4] [--steps 40] [--reps 3]
[--out benchmarks/results/transformer_throughput.json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import collapse_lab as cl


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--sequences", type=int, default=625, help="sampled sequences per chain")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/transformer_throughput.json")
    args = ap.parse_args()

    vocab, seq_len, batch, C = 32, 32, 32, args.chains
    transitions = cl.random_markov_source(jax.random.key(0), vocab, 1, support_size=8)
    ngram = cl.NGram(vocab, 1, mode="corpus", seq_len=seq_len)
    ngram_source = ngram.source(jax.random.key(1), transitions)
    fam = cl.Transformer(vocab, seq_len, d_model=64, num_layers=2, num_heads=4,
                         num_train_steps=args.steps, batch_size=batch, learning_rate=5e-3)
    src = fam.source(jax.random.key(2), ngram_source, heldout_sequences=32)
    corpus = fam.sample_stats(jax.random.key(3), src, args.sequences)  # one training corpus
    keys = jax.random.split(jax.random.key(4), C)

    # ---------------------------------------------------------------- vmapped (the family)
    train_vmapped = jax.jit(jax.vmap(lambda k: fam.estimate(k, corpus, src)))
    trained = train_vmapped(keys)
    sample_vmapped = jax.jit(jax.vmap(lambda k, p: fam._generate(k, p, args.sequences)))

    # ----------------------------------------------------- loop (a user's equinox + optax)
    optimizer = optax.adam(5e-3)
    tokens_np = np.asarray(corpus.tokens)

    def loss_fn(model, tokens):
        logits = jax.vmap(model)(tokens[:, :-1])
        logp = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1))

    @eqx.filter_jit
    def train_step(model, opt_state, tokens):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, tokens)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    def train_loop():
        rng = np.random.default_rng(0)
        models = []
        for c in range(C):
            model = fam._build(jax.random.fold_in(jax.random.key(5), c))
            opt_state = optimizer.init(eqx.filter(model, eqx.is_array))
            for _ in range(args.steps):
                rows = rng.integers(0, tokens_np.shape[0], batch)
                model, opt_state, loss = train_step(model, opt_state, tokens_np[rows])
            models.append(model)
        jax.block_until_ready(loss)
        return models

    one_chain = jax.tree_util.tree_map(lambda x: x[0], trained)
    sample_one = jax.jit(lambda k, p: fam._generate(k, p, args.sequences))

    def sample_loop():
        out = [sample_one(keys[c], one_chain) for c in range(C)]
        return jax.block_until_ready(out)

    def timed(fn):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        return time.perf_counter() - t0

    # warm-up (compiles)
    timed(lambda: train_vmapped(keys))
    timed(lambda: sample_vmapped(keys, trained))
    timed(train_loop)
    timed(sample_loop)
    rounds = []
    for _ in range(args.reps):
        rounds.append({
            "train_vmapped_s": timed(lambda: train_vmapped(keys)),
            "train_loop_s": timed(train_loop),
            "sample_vmapped_s": timed(lambda: sample_vmapped(keys, trained)),
            "sample_loop_s": timed(sample_loop),
        })
    best = {k: min(r[k] for r in rounds) for k in rounds[0]}
    train_tokens = C * args.steps * batch * (seq_len - 1)
    sample_tokens = C * args.sequences * (seq_len - 1)
    per_chain = {
        "train_tokens_per_s_per_chain": {
            m: train_tokens / best[f"train_{m}_s"] / C for m in ("vmapped", "loop")},
        "sample_tokens_per_s_per_chain": {
            m: sample_tokens / best[f"sample_{m}_s"] / C for m in ("vmapped", "loop")},
    }
    ratios = {
        "train_vmapped_over_loop": [r["train_loop_s"] / r["train_vmapped_s"] for r in rounds],
        "sample_vmapped_over_loop": [r["sample_loop_s"] / r["sample_vmapped_s"] for r in rounds],
    }
    result = {
        "setting": {"vocab": vocab, "seq_len": seq_len, "d_model": 64, "num_layers": 2,
                    "num_heads": 4, "batch_size": batch, "chains": C, "steps": args.steps,
                    "sampled_sequences": args.sequences},
        "machine": {"platform": platform.platform(), "jax": jax.__version__},
        "rounds": rounds, "best_s": best, **per_chain, "ratios": ratios,
    }
    print(f"transformer chains: {C} chains, {args.steps} steps of {batch} x {seq_len - 1} tokens, "
          f"{args.sequences} sampled sequences per chain (best of {args.reps}; shared CPU)")
    for what in ("train", "sample"):
        tps = per_chain[f"{what}_tokens_per_s_per_chain"]
        r = ratios[f"{what}_vmapped_over_loop"]
        print(f"{what:7s} tokens/s per chain: vmapped {tps['vmapped']:.3g}, loop {tps['loop']:.3g}; "
              f"vmapped/loop per round: " + ", ".join(f"{x:.2f}" for x in r))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Generation-1 fit of the tiny GPT of ``transformer_vs_ngram.py``: how far is underfitting?

Generation 1 of a chain is a model trained on 20,000 tokens (625 sequences of 32) drawn from the
known vocab-32 bigram source, so its KL rate to the source measures the fit alone, before any
collapse. This script trains ``--chains`` independent generation-1 models (the family's own
``sample_stats`` -> ``estimate`` -> ``observe`` under ``jit(vmap)``) for one training recipe
and prints the KL rate (mean +- standard error across chains) and the final training loss. The
n-gram MLE reaches 0.0067 on the same corpus size (benchmarks/results/transformer_vs_ngram.md).

Recipes (``--recipe``):

* ``constant``: adam at a constant 5e-3, 160 steps (the benchmark's default);
* ``cosine``: the same 160 steps, learning rate warmed up over 8 steps to 5e-3 then cosine-decayed
  to 5e-5 (``optax.warmup_cosine_decay_schedule``), passed as ``optimizer=``;
* ``cosine400``: the cosine recipe over 400 steps;
* ``small``: the cosine recipe, 160 steps, d_model 32, one layer, two heads;
* ``cosine100``: the cosine recipe over 100 steps;
* ``cosine_wd``: the cosine recipe, 160 steps, adamw with weight decay 0.1.

Usage: ``python benchmarks/transformer_fit_study.py --recipe cosine [--chains 4]``; appends one
JSON line to ``benchmarks/results/transformer_fit_study.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import numpy as np
import optax

import collapse_lab as cl

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def cosine(steps, peak=5e-3):
    warm = max(1, steps // 20)
    return optax.adam(optax.warmup_cosine_decay_schedule(0.0, peak, warm, steps,
                                                         end_value=peak * 0.01))


RECIPES = {
    "constant": dict(steps=160, optimizer="adam"),
    "cosine": dict(steps=160, optimizer=cosine(160)),
    "cosine400": dict(steps=400, optimizer=cosine(400)),
    "small": dict(steps=160, optimizer=cosine(160), d_model=32, num_layers=1, num_heads=2),
    "cosine100": dict(steps=100, optimizer=cosine(100)),
    "cosine_wd": dict(steps=160, optimizer=optax.adamw(optax.warmup_cosine_decay_schedule(
        0.0, 5e-3, 8, 160, end_value=5e-5), weight_decay=0.1)),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="cosine")
    ap.add_argument("--chains", type=int, default=4)
    args = ap.parse_args()
    recipe = dict(RECIPES[args.recipe])
    vocab, seq_len = 32, 32
    transitions = cl.random_markov_source(jax.random.key(0), vocab, 1, support_size=8)
    ngram_source = cl.NGram(vocab, 1, mode="corpus", seq_len=seq_len).source(
        jax.random.key(1), transitions)
    fam = cl.Transformer(vocab, seq_len, d_model=recipe.get("d_model", 64),
                         num_layers=recipe.get("num_layers", 2),
                         num_heads=recipe.get("num_heads", 4), num_train_steps=recipe["steps"],
                         batch_size=32, optimizer=recipe["optimizer"], learning_rate=5e-3)
    src = fam.source(jax.random.key(2), ngram_source, heldout_sequences=256)

    def generation_one(key):
        key_sample, key_fit = jax.random.split(key)
        params = fam.estimate(key_fit, fam.sample_stats(key_sample, src, 625), src)
        obs = fam.observe(params, src)
        return obs["kl_rate"], obs["train_loss"], obs["heldout_cross_entropy"]

    t0 = time.perf_counter()
    kl, train, ce = (np.asarray(x) for x in jax.jit(jax.vmap(generation_one))(
        jax.random.split(jax.random.key(10), args.chains)))
    row = {"recipe": args.recipe, "steps": recipe["steps"], "chains": args.chains,
           "kl_rate_g1_mean": float(kl.mean()),
           "kl_rate_g1_se": float(kl.std(ddof=1) / np.sqrt(args.chains)),
           "train_loss": float(train.mean()), "heldout_cross_entropy": float(ce.mean()),
           "wall_s_with_compile": time.perf_counter() - t0}
    print(json.dumps(row), flush=True)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "transformer_fit_study.jsonl"), "a") as fh:
        fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

"""Tiny-GPT chains beside n-gram chains on the same known bigram source (issue 7 acceptance).

Setup (defaults = the acceptance size): a vocab-32 bigram source with sparse Zipf rows
(``random_markov_source``, 8 tokens per row); every generation is trained on 20,000 tokens
(625 sequences of 32 tokens); sampling is unbiased unless ``--temperature`` is given.

* transformer: 2 layers, d_model 64, 4 heads, adam, ``--steps`` minibatch steps of 32 sequences
  per generation, retrained from scratch; 4 chains x 10 generations under ``Replace`` and under
  ``Fresh(0.5)`` (two runs, each timed including compilation).
* n-gram: ``NGram(32, 1, mode="corpus", seq_len=32)`` at the same corpus size and sampling bias,
  64 chains under the same two policies, with the approximate second-order KL curve
  (theory/transformer.md#ngram-kl) built from ``collapse_lab.theory.ngram.variance_ratio``.

Acceptance: each transformer run completes in under 10 minutes, and at the last generation the
KL rate under Replace exceeds that under Fresh(0.5) by more than 3 standard errors across chains
(z of the difference of two independent chain means).

Writes ``benchmarks/results/transformer_vs_ngram.{json,md,png}``.
Usage: ``python benchmarks/transformer_vs_ngram.py [--steps 160] [--chains 4] [--generations 10]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import _common  # benchmarks/_common.py (this folder is on sys.path)
import jax
import numpy as np

import collapse_lab as cl
from collapse_lab.theory import ngram as ngram_theory

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def ngram_kl_theory(t, num_ngrams, context_law, transitions, alpha=0.0):
    r"""Approximate $E[\mathrm{KL\ rate}]$ of the n-gram chain (theory/transformer.md#ngram-kl).

    Second order in $P_t - P_0$: $E[\mathrm{KL}(P_0(a,\cdot)\|P_t(a,\cdot))] \approx
    \frac{s_a-1}{2} r_{a,t}$ with $s_a$ the row's support size and $r_{a,t}$ the fixed-count
    variance ratio at $n_a = \mathrm{round}(N\pi_a)$ draws per context (fresh fraction alpha).
    Ignores the randomness of the context counts and lost transitions (then KL is infinite).
    """
    pi = np.asarray(context_law)
    support = (np.asarray(transitions) > 0).sum(axis=1)
    out = np.zeros(len(t))
    for a, q in enumerate(pi):
        n = max(1, int(round(num_ngrams * q)))
        syn = n - int(round(alpha * n))
        r = ngram_theory.variance_ratio(np.asarray(t), n, syn)
        out += q * (support[a] - 1) / 2 * r
    return out


def summarise(obs, name):
    x = obs[name]
    c = x.shape[0]
    return x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(c)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=160)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--generations", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=20_000)
    ap.add_argument("--seq-len", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=5e-3)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--ngram-chains", type=int, default=64)
    ap.add_argument("--tag", default="transformer_vs_ngram")
    args = ap.parse_args()

    vocab, seq_len = 32, args.seq_len
    num_sequences = args.tokens // seq_len
    bias = cl.SamplingBias(temperature=args.temperature)
    transitions = cl.random_markov_source(jax.random.key(0), vocab, 1, support_size=8)
    ngram = cl.NGram(vocab, 1, mode="corpus", seq_len=seq_len, bias=bias)
    ngram_source = ngram.source(jax.random.key(1), transitions)
    family = cl.Transformer(vocab, seq_len, d_model=64, num_layers=2, num_heads=4,
                            num_train_steps=args.steps, batch_size=32,
                            learning_rate=args.learning_rate, bias=bias)
    source = family.source(jax.random.key(2), ngram_source, heldout_sequences=256)
    info = source.info
    policies = {"replace": cl.Replace(), "fresh0.5": cl.Fresh(0.5)}
    T = args.generations
    gens = np.arange(T + 1)

    out = {"config": {**family.describe(), "num_sequences": num_sequences,
                      "tokens_per_generation": num_sequences * seq_len, "num_chains": args.chains,
                      "num_generations": T, "ngram_chains": args.ngram_chains},
           "source": {"entropy_rate": info.entropy_rate,
                      "heldout_cross_entropy": info.heldout_cross_entropy,
                      "unigram_cross_entropy": info.unigram_cross_entropy},
           "machine": _common.provenance(),
           "transformer": {}, "ngram": {}}
    tf_obs, ng_obs = {}, {}
    for name, policy in policies.items():
        t0 = time.perf_counter()
        res = cl.run_chains(jax.random.key(10), family, source, policy=policy,
                            num_chains=args.chains, num_generations=T,
                            num_samples=num_sequences)
        wall = time.perf_counter() - t0
        tf_obs[name] = res.observables
        mean, se = summarise(res.observables, "kl_rate")
        out["transformer"][name] = {
            "wall_s": wall,
            "kl_rate_mean": mean.tolist(), "kl_rate_se": se.tolist(),
            **{k: res.observables[k].mean(axis=0).tolist()
               for k in ("heldout_cross_entropy", "corpus_entropy", "corpus_distinct",
                         "corpus_lost_mass", "train_loss")},
        }
        print(f"transformer {name}: {wall:.1f} s; KL rate by generation "
              + " ".join(f"{m:.3f}" for m in mean), flush=True)
        t0 = time.perf_counter()
        nres = cl.run_chains(jax.random.key(20), ngram, ngram_source, policy=policy,
                             num_chains=args.ngram_chains, num_generations=T,
                             num_samples=num_sequences)
        ng_obs[name] = nres.observables
        mean_n, se_n = summarise(nres.observables, "kl_rate_eval")
        alpha = getattr(policy, "alpha", 0.0)
        theory = ngram_kl_theory(gens, num_sequences * (seq_len - 1), ngram_source.info.context_law,
                                 transitions, alpha)
        finite = np.isfinite(nres.observables["kl_rate"])
        out["ngram"][name] = {
            "wall_s": time.perf_counter() - t0,
            "kl_rate_eval_mean": mean_n.tolist(), "kl_rate_eval_se": se_n.tolist(),
            "fraction_chains_finite_kl": finite.mean(axis=0).tolist(),
            "kl_theory_second_order": theory.tolist(),
        }

    a, b = out["transformer"]["replace"], out["transformer"]["fresh0.5"]
    diff = a["kl_rate_mean"][-1] - b["kl_rate_mean"][-1]
    se = float(np.hypot(a["kl_rate_se"][-1], b["kl_rate_se"][-1]))
    z = diff / se
    out["acceptance"] = {
        "replace_wall_s": a["wall_s"], "fresh_wall_s": b["wall_s"],
        "under_10_minutes_each": bool(max(a["wall_s"], b["wall_s"]) < 600),
        "kl_difference_last_generation": diff, "std_error": se, "z": z,
        "replace_exceeds_fresh_by_3_se": bool(z > 3),
    }

    _common.write_json(os.path.join(RESULTS, f"{args.tag}.json"), out, indent=1)
    lines = [f"| model | policy | wall s | KL rate g1 | KL rate g{T} (mean +- se) | "
             f"held-out CE g{T} |", "|---|---|---|---|---|---|"]
    for name in policies:
        r = out["transformer"][name]
        lines.append(f"| transformer | {name} | {r['wall_s']:.0f} | {r['kl_rate_mean'][1]:.4f} | "
                     f"{r['kl_rate_mean'][-1]:.4f} +- {r['kl_rate_se'][-1]:.4f} | "
                     f"{r['heldout_cross_entropy'][-1]:.4f} |")
        r = out["ngram"][name]
        ce = ng_obs[name]["heldout_cross_entropy"].mean(axis=0)
        lines.append(f"| n-gram (eval eps 1e-3) | {name} | {r['wall_s']:.0f} | "
                     f"{r['kl_rate_eval_mean'][1]:.4f} | {r['kl_rate_eval_mean'][-1]:.4f} +- "
                     f"{r['kl_rate_eval_se'][-1]:.4f} | {ce[-1]:.4f} |")
    lines.append("")
    lines.append(f"Source: entropy rate {info.entropy_rate:.4f} nats, held-out CE "
                 f"{info.heldout_cross_entropy:.4f}, unigram CE {info.unigram_cross_entropy:.4f}. "
                 f"Replace - Fresh(0.5) KL at generation {T}: {diff:.4f} (se {se:.4f}, z = {z:.1f}).")
    table = "\n".join(lines)
    with open(os.path.join(RESULTS, f"{args.tag}.md"), "w") as fh:
        fh.write(table + "\n")
    print(table)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = {"replace": "C3", "fresh0.5": "C0"}
    for name in policies:
        for ax, obs, key, label in ((axes[0], tf_obs[name], "kl_rate", "transformer"),
                                    (axes[1], ng_obs[name], "kl_rate_eval", "n-gram")):
            mean, se = summarise(obs, key)
            ax.errorbar(gens, mean, yerr=se, color=colors[name], marker="o", ms=3, capsize=2,
                        label=f"{label}, {name}")
        axes[1].plot(gens, out["ngram"][name]["kl_theory_second_order"], color=colors[name],
                     ls="--", label=f"theory (2nd order), {name}")
    axes[0].set_title(f"tiny GPT, {args.chains} chains")
    axes[1].set_title(f"n-gram counts, {args.ngram_chains} chains (eval eps 1e-3)")
    for ax in axes:
        ax.set_xlabel("generation")
        ax.set_ylabel("KL rate to source (nats/token)")
        ax.legend(fontsize=7)
    fig.suptitle(f"vocab-32 bigram source, {num_sequences * seq_len} tokens per generation")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, f"{args.tag}.png"), dpi=120)
    print(json.dumps(out["acceptance"], indent=1))


if __name__ == "__main__":
    main()

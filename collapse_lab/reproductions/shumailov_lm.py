"""Shumailov et al. (2024), Nature: the language-model finding, in miniature.

The paper fine-tunes OPT-125m on wikitext2 for nine generations: perplexity on the real test set
rises under full replacement, and keeping 10 % of the original data limits the rise
(qualitative claim; no OPT weights here). Lab: tiny transformers (equinox GPT) trained from
scratch on text of a known bigram source (so the truth is exact), a fixed held-out source
corpus for perplexity, Replace vs Fresh(0.1) (10 % fresh real sequences per generation).
Few chains: the verdicts are one-sided t-tests across chains (rise under Replace; Replace above
Fresh(0.1) at the last generation), not theory checks -- the n-gram theory does not cover
transformer training (theory/transformer.md).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

import collapse_lab as cl

from . import _runs
from ._core import PaperResult, Published, Row, mean_se

NAME = "shumailov_lm"
TITLE = "Shumailov et al. 2024 (Nature): LM perplexity, in miniature (tiny transformers)"
PAPER = "Shumailov 2024 LM"
VOCAB, SEQ, CHAINS = 16, 16, 4
ALPHA = 0.1


def placeholder_rows():
    return [Row(PAPER, "tiny transformer, replace", "held-out perplexity rise",
                Published(None, "claim: perplexity rises", "claim"))]


def run(ctx) -> PaperResult:
    import jax

    T = ctx.lm_generations if not ctx.tiny else 2
    p = cl.random_markov_source(jax.random.key(ctx.seed + 11), VOCAB, 1, support_size=6)
    src_ng = cl.NGram(VOCAB, 1, mode="corpus", seq_len=SEQ).source(jax.random.key(12), p)
    fam = cl.Transformer(VOCAB, SEQ, d_model=32, num_layers=1, num_heads=2,
                         num_train_steps=60 if not ctx.tiny else 5, batch_size=32,
                         learning_rate=5e-3)
    src = fam.source(jax.random.key(13), src_ng)
    ppl = {}
    for i, (name, pol) in enumerate((("replace", cl.Replace()), ("fresh", cl.Fresh(ALPHA)))):
        res = cl.run_chains(_runs.key(ctx, 800 + i), fam, src, policy=pol, num_chains=CHAINS,
                            num_generations=T, num_samples=200)
        ppl[name] = _runs.np64(res.observables["heldout_perplexity"])
    rows = []
    rise = ppl["replace"][:, T] - ppl["replace"][:, 1]
    m, se = mean_se(rise)
    tstat = m / se if se > 0 else np.inf
    pval = float(stats.t.sf(tstat, CHAINS - 1))
    rows.append(Row(PAPER, f"tiny transformer, replace, gen 1 -> {T}",
                    "held-out perplexity rise", Published(None, "claim: perplexity rises",
                                                          "claim"),
                    sim_values=rise,
                    paper_verdict="claim reproduced" if pval < 0.05 else "claim NOT reproduced",
                    note=f"one-sided t-test across {CHAINS} chains: t = {tstat:.2f}, "
                         f"p = {pval:.2g} (5 % level); source entropy-rate perplexity "
                         f"{float(np.exp(src.info.entropy_rate)) if hasattr(src, 'info') and hasattr(src.info, 'entropy_rate') else float('nan'):.3g}"))
    gap = ppl["replace"][:, T] - ppl["fresh"][:, T]
    m, se = mean_se(gap)
    tstat = m / se if se > 0 else np.inf
    pval = float(stats.t.sf(tstat, CHAINS - 1))
    rows.append(Row(PAPER, f"tiny transformer, replace - fresh {ALPHA:.0%}, gen {T}",
                    "perplexity gap (replace minus 10 % real)",
                    Published(None, "claim: 10 % real data limits the rise", "claim"),
                    sim_values=gap,
                    paper_verdict="claim reproduced" if pval < 0.05 else "claim NOT reproduced",
                    note=f"one-sided t-test across {CHAINS} chains: t = {tstat:.2f}, "
                         f"p = {pval:.2g}"))
    return PaperResult(NAME, TITLE, rows, draw=lambda rows: _draw(ppl, T))


def _draw(ppl, T):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    g = np.arange(T + 1)
    for name, c in (("replace", "tab:red"), ("fresh", "tab:blue")):
        x = ppl[name]
        ax.plot(g, x.T, color=c, alpha=0.3, lw=0.8)
        ax.plot(g, x.mean(0), color=c, lw=2,
                label=name if name == "replace" else f"{ALPHA:.0%} real data")
    ax.axhline(ppl["replace"][0, 0], color="k", ls="--", lw=0.8,
               label="source model on held-out text (gen 0)")
    ax.set_xlabel("generation")
    ax.set_ylabel("held-out perplexity (real text)")
    ax.set_title("tiny transformers on a known bigram source")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

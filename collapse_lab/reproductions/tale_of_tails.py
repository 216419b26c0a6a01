"""Dohmatob, Feng, Yang, Charton, Kempe (2024), "A Tale of Tails: Model Collapse as a Change of
Scaling Laws", ICML 2024, arXiv 2402.07043.

Claim: a model trained on T0 samples of a Zipf(beta) law keeps roughly the ranks up to
T0^(1/beta) (the tail beyond is cut), each further generation cuts more, and mixing in a small
fraction of real data limits the loss. Lab: unigram (categorical) chains, V = 1000, beta = 1.5,
T0 = 1000 draws per generation. E[support] and E[lost source mass] are exact (binomial count
chain, theory/wright_fisher.md W5); with 10 % fresh real data per generation a lost token can
come back, the lab has no closed form, and the claim is checked on the simulation (z of the
difference to the Replace theory).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

import collapse_lab as cl

from ..theory import wright_fisher as wf
from . import _runs
from ._core import PaperResult, Published, Row, SimCheck, mean_se

NAME = "tale_of_tails"
TITLE = "Dohmatob et al. 2024, A Tale of Tails: Zipf tail cut"
PAPER = "Tale of Tails 2024"
V, BETA, T0, ALPHA = 1000, 1.5, 1000, 0.1
TS = (1, 10)


def run(ctx) -> PaperResult:
    rows = []
    p = cl.zipf(BETA, V)
    fam = cl.Categorical(V)
    tmax = max(TS)
    chains = min(ctx.chains, 2000) if not ctx.tiny else ctx.chains
    runs = {}
    for i, (name, pol) in enumerate((("replace", cl.Replace()), ("fresh", cl.Fresh(ALPHA)))):
        res = cl.run_chains(_runs.key(ctx, 600 + i), fam, fam.source(p), policy=pol,
                            num_chains=chains, num_generations=tmax, num_samples=T0,
                            method="sample")
        runs[name] = {k: _runs.np64(res.observables[k]) for k in ("support_size", "lost_mass")}
    sup, lost = runs["replace"]["support_size"], runs["replace"]["lost_mass"]
    cut = T0 ** (1 / BETA)
    for t in TS:
        es = float(wf.expected_survivors(t, T0, p))
        pub = (Published(cut, "tail cut at rank ~ T0^(1/beta)", "formula", read_tol=0.5)
               if t == 1 else Published(None, "claim: each generation cuts more", "claim"))
        rows.append(Row(PAPER, f"Zipf({BETA}), V={V}, T0={T0}, replace, t={t}",
                        "surviving ranks E[support]", pub, theory=es, theory_kind="exact",
                        theory_label="W5", sim_values=sup[:, t],
                        sim_check=SimCheck(sup[:, t], es, label="E[support] (W5)"),
                        note="order-of-magnitude claim: agrees within a factor 1.5"
                        if t == 1 else ""))
        el = float(wf.expected_lost_mass(t, T0, p))
        rows.append(Row(PAPER, f"Zipf({BETA}), V={V}, T0={T0}, replace, t={t}",
                        "lost source mass", Published(None, "claim: tail mass lost", "claim"),
                        theory=el, theory_kind="exact", theory_label="W5",
                        sim_values=lost[:, t],
                        sim_check=SimCheck(lost[:, t], el, label="E[lost mass] (W5)")))
    fl = runs["fresh"]["lost_mass"][:, tmax]
    el = float(wf.expected_lost_mass(tmax, T0, p))
    m, se = mean_se(fl)
    z = (el - m) / se if se > 0 else np.inf
    reproduced = z > stats.norm.isf(1e-3)
    rows.append(Row(PAPER, f"Zipf({BETA}), V={V}, T0={T0}, {ALPHA:.0%} fresh real, t={tmax}",
                    "lost source mass", Published(None, "claim: real data limits the loss",
                                                  "claim"),
                    theory=None, sim_values=fl,
                    paper_verdict="claim reproduced" if reproduced else "claim NOT reproduced",
                    note=f"no closed form with fresh data; {m:.4g} +- {se:.2g} vs Replace exact "
                         f"{el:.4g} (z = {z:.1f} for 'lower', one-sided 1e-3)"))
    curves = {k: (v["support_size"].mean(0), v["lost_mass"].mean(0)) for k, v in runs.items()}
    return PaperResult(NAME, TITLE, rows, draw=lambda rows: _draw(curves, p, tmax))


def _draw(curves, p, tmax):
    import matplotlib.pyplot as plt

    t = np.arange(tmax + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ranks = np.arange(1, V + 1)
    axes[0].loglog(ranks, p, color="grey", label=f"source Zipf({BETA})")
    for tt, ls in ((1, "--"), (tmax, ":")):
        keep = 1 - wf.loss_probability(tt, T0, p)
        axes[0].loglog(ranks, p * keep, "k" + ls[0] if ls == "--" else "k:",
                       label=f"E[p_i 1(kept)] after {tt} gen (exact)")
    axes[0].axvline(T0 ** (1 / BETA), color="tab:red", ls=":", label=r"$T_0^{1/\beta}$")
    axes[0].set_xlabel("rank")
    axes[0].set_ylabel("probability")
    axes[0].legend(fontsize=8)
    for name, c in (("replace", "tab:red"), ("fresh", "tab:blue")):
        axes[1].plot(t, curves[name][1], color=c,
                     label=f"{name}{' ' + format(ALPHA, '.0%') if name == 'fresh' else ''}: "
                           "lab sim")
    axes[1].plot(t, [wf.expected_lost_mass(tt, T0, p) if tt else 0 for tt in t], "k--",
                 label="replace: exact (W5)")
    axes[1].set_xlabel("generation")
    axes[1].set_ylabel("lost source mass")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig

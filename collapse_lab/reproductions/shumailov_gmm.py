"""Shumailov et al. (2024), Nature 631, 755-759: the 2-D two-component Gaussian mixture refit
by EM on 1,000 samples per generation for about 2,000 generations (the printed per-component
scale falls from about 0.90 to about 0.010 in their single run).

Lab: two equally weighted unit-covariance components 8 standard deviations apart (as in
benchmarks/mixture_collapse.py). "Scale" is read as the geometric per-dimension standard
deviation det(Sigma_k)^(1/(2d)); the row compares its logarithm, whose law is light-tailed.
Theory (theory/mixture.md, M6): E[log det Sigma_k | alive] by the forward recursion over the
count chain -- exact for oracle assignments (each component refit on the points it generated),
approximate for EM on well-separated components. The paper printed one run, so its
Monte-Carlo error is the spread of a single chain: the whole law of log scale at t = 2000.
"""

from __future__ import annotations

import numpy as np

import collapse_lab as cl

from ..theory import mixture as thm
from . import _runs
from ._core import PaperResult, Published, Row, SimCheck

NAME = "shumailov_gmm"
TITLE = "Shumailov et al. 2024 (Nature): 2-D two-component GMM, EM, n = 1000"
PAPER = "Shumailov 2024 GMM"
N, D, W, SEP = 1000, 2, 0.5, 8.0


def _log_scale(res):
    obs = res.observables
    alive = np.asarray(obs["alive"]).astype(bool)
    ld = _runs.np64(obs["alive_log_det"])
    return alive, ld / (2 * D)


def run(ctx) -> PaperResult:
    T = ctx.gmm_generations
    rows, curves = [], {}
    theory_curve = None
    gens = np.unique(np.linspace(0, T, 21).astype(int))
    nondeg = thm.nondegenerate_probability(gens, N, W, D)
    theory_curve = thm.expected_alive_log_det(gens, N, W, D, "mle", 0.0) / nondeg / (2 * D)
    th_T = float(theory_curve[-1])
    for name, oracle, chains, method in (
        ("oracle", True, min(ctx.chains, ctx.gmm_oracle_chains), "exact"),
        ("EM", False, min(ctx.chains, ctx.gmm_em_chains), "sample"),
    ):
        if oracle:
            fam = cl.GaussianMixture(2, D, oracle_assignments=True, num_heldout=0)
        else:
            fam = cl.GaussianMixture(2, D, num_em_steps=3, num_heldout=0)
        src = fam.source([W, 1 - W], np.array([[-SEP / 2, 0.0], [SEP / 2, 0.0]]), 1.0)
        res = cl.run_chains(_runs.key(ctx, 700 + int(oracle)), fam, src, num_chains=chains,
                            num_generations=T, num_samples=N, method=method,
                            chunk_size=min(T, 500))
        alive, ls = _log_scale(res)
        vals = ls[:, T][alive[:, T]]
        curves[name] = np.array([ls[:, g][alive[:, g]].mean() for g in gens])
        lost = int((~alive[:, T]).sum())
        rows.append(Row(
            PAPER, f"{name}, n={N}, t={T}, {chains} chains x 2 components",
            "log per-component scale (1/2d) log det Sigma_k",
            Published(float(np.log(0.010)), "printed output, one run: scale ~0.010",
                      "mc", 1, read_tol=0.0, abs_tol=0.2, seeds_note="one printed run"),
            theory=th_T, theory_kind="exact" if oracle else "approximate", theory_label="M6",
            sim_values=vals,
            sim_check=SimCheck(vals, th_T, exact=oracle, rel_tol=0.0 if oracle else 0.05,
                               label="E[log det | alive]/2d (M6)"),
            note=(f"scale exp(theory) = {np.exp(th_T):.3g}; {lost} components lost; "
                  "component values pooled (two per chain, weakly dependent through the "
                  "shared count)")))
    return PaperResult(NAME, TITLE, rows,
                       draw=lambda rows: _draw(gens, curves, theory_curve, T))


def _draw(gens, curves, theory_curve, T):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, c in curves.items():
        ax.plot(gens, np.exp(c), label=f"{name}: lab sim (geometric mean)")
    ax.plot(gens, np.exp(theory_curve), "k--", label="exact theory (M6, oracle)")
    if T >= 1000:
        ax.plot([T], [0.010], "o", mfc="none", color="tab:red", label="printed ~0.010")
    ax.set_yscale("log")
    ax.set_xlabel("generation")
    ax.set_ylabel(r"per-component scale det$(\Sigma_k)^{1/2d}$")
    ax.set_title(f"2-D two-component GMM, n = {N}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

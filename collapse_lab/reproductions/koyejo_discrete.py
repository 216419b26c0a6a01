"""Koyejo lab discrete distributions: mean iterations to total collapse, K = 10, uniform start.

Kazdan, Schaeffer et al. (2024), arXiv 2410.16713 (discrete-distribution experiments; values read
off a log-scale plot, n = 10 ... 10^5 samples per iteration, Replace). Beside them: Littler
(1975) / Kimura's diffusion value $-2n\sum_i (1-p_i)\ln(1-p_i) = 1.8965\,n$ for K = 10 uniform
(approximate), and the lab's **exact** value $E[T] = 1 + \sum_i \sum_y \mathrm{Bin}(y; n, p_i)
[(I-Q)^{-1} h](y)$ (theory/reproductions.md#total-collapse): total collapse is the disjoint
union of "category i fixes", so only the (n+1)-state two-type count chain is needed, not the
$\binom{n+9}{9}$-state composition chain. Exact up to ``--discrete-exact-max-n``; beyond it the
diffusion value is used (its gap to the exact value is -1.5, -2.2, -3.0 generations at n = 10,
100, 1000: relative error < 2e-3 at n >= 1000). The lab simulates chains to total collapse up to
``--discrete-max-sim-n`` (sample path: n draws per generation, horizon 15 n generations).
Seed count: 100 (seeds 0-99 in the authors' sweep configuration,
RylanSchaeffer/KoyejoLab-Collapse-or-Thrive, sweeps/fit_discrete_distributions/replace.yaml).
"""

from __future__ import annotations

import numpy as np

import collapse_lab as cl

from ..theory import wright_fisher as wf
from . import _runs
from ._core import PaperResult, Published, Row, SimCheck
from ._theory import mean_total_collapse_time

NAME = "koyejo_discrete"
TITLE = "Koyejo lab discrete K=10: iterations to total collapse (vs Littler / Kimura, exact)"
PAPER = "Kazdan/Schaeffer 2024"
K = 10
NS = (10, 100, 1000, 10_000, 100_000)
PUBLISHED = (17.0, 200.0, 1800.0, 16_500.0, 190_000.0)
SEEDS = 100


def simulate(ctx, n, salt):
    """Chains to total collapse; at most ``ctx.discrete_chains`` of them (a horizon of 15 n
    generations each)."""
    fam = cl.Categorical(K)
    src = fam.source(np.full(K, 1.0 / K))
    horizon = max(60, 15 * n)
    sub = _runs.Context(**{**ctx.__dict__, "chains": min(ctx.chains, ctx.discrete_chains)})
    params = _runs.final_carry(sub, salt, fam, src, cl.Replace(), horizon, n, "sample",
                               chunk=min(horizon, 2000))
    return np.asarray(params.fixation_generation, dtype=np.float64), horizon


def run(ctx) -> PaperResult:
    rows, sims = [], {}
    p0 = np.full(K, 1.0 / K)
    cv = None
    for i, (n, pub) in enumerate(zip(NS, PUBLISHED)):
        littler = wf.littler_time(p0, n)
        if n <= ctx.discrete_exact_max_n:
            theory, kind, label = mean_total_collapse_time(p0, n), "exact", "total-collapse"
        else:
            theory, kind, label = littler, "approximate", "Littler/Kimura diffusion"
        row = Row(PAPER, f"K={K}, n={n}, replace", "mean iterations to total collapse",
                  Published(pub, "Fig. (log scale), read off plot", "mc", SEEDS, read_tol=0.10,
                            seeds_note="sweep config: seeds 0-99"),
                  theory=theory, theory_kind=kind, theory_label=label,
                  note=f"Littler/Kimura diffusion: {littler:.5g} (= {littler / n:.4f} n)")
        if n <= ctx.discrete_max_sim_n:
            t_fix, horizon = simulate(ctx, n, 200 + i)
            unfixed = int(np.sum(t_fix < 0))
            sims[n] = t_fix
            if unfixed:
                row.note += f"; {unfixed} chains not collapsed by {horizon} (excluded)"
                t_fix = t_fix[t_fix >= 0]
            row.sim_values = t_fix
            cv = float(np.std(t_fix, ddof=1) / np.mean(t_fix))
            if kind == "exact":
                row.sim_check = SimCheck(t_fix, theory, label="E[T] exact")
        elif cv is not None:
            row.paper_sd = cv * theory
            row.note += (f"; paper MC error from the simulated coefficient of variation "
                         f"({cv:.3f}, largest simulated n), normal interval")
        rows.append(row)
    return PaperResult(NAME, TITLE, rows, draw=lambda rows: _draw(rows, sims))


def _draw(rows, sims):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    ax = axes[0]
    ns = np.array(NS, dtype=float)
    grid = np.logspace(1, 5, 50)
    ax.plot(grid, [wf.littler_time(np.full(K, 0.1), n) for n in grid], "k--", lw=0.8,
            label="Littler / Kimura diffusion (1.8965 n)")
    ex = [(r.theory, int(r.setting.split("n=")[1].split(",")[0])) for r in rows
          if r.theory_kind == "exact"]
    if ex:
        ax.plot([e[1] for e in ex], [e[0] for e in ex], "k^", label="exact (lab)")
    ax.plot(ns, PUBLISHED, "o", mfc="none", color="tab:red", label="published (read off plot)")
    sim = [(r.sim_mean, r.sim_se, int(r.setting.split("n=")[1].split(",")[0])) for r in rows
           if r.sim_mean is not None]
    if sim:
        ax.errorbar([s[2] for s in sim], [s[0] for s in sim], [2 * s[1] for s in sim], fmt="s",
                    color="tab:blue", label="lab simulation (+-2 SE)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("samples per iteration n")
    ax.set_ylabel("mean iterations to total collapse")
    ax.legend(fontsize=8)
    ax = axes[1]
    for n, t in sims.items():
        t = np.sort(t[t >= 0])
        ax.plot(t / n, 1 - np.arange(1, t.size + 1) / t.size, label=f"n={n} (lab)")
    ax.set_yscale("log")
    ax.set_xlabel("T / n")
    ax.set_ylabel("P(not collapsed)")
    ax.set_title("survival of diversity (simulated chains)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig



"""Suresh, Thangaraj, Khandavally (2024), "Rate of Model Collapse in Recursive Training",
arXiv 2412.17646: survival bounds beside the exact probabilities.

* Bernoulli / unigram: a symbol with source probability p_0 survives k generations of n
  samples with probability >= 1 - exp(-n p_0 g_k); we take g_k = 1/k (the paper's message: the
  time to forget a word grows linearly with its count n p_0). Exact: one minus the loss
  probability of the binomial count chain (theory/wright_fisher.md, W5).
* Gaussian: P(sigma_k^2 > eps) <= (sigma_0/eps) exp(-k/(4n-1)) at n = 10, eps = 0.1, 200
  generations, as quoted in the issue. The stored excerpts of the paper we could search did not
  contain the theorem text, so the exact form is unverified here; a similar bound,
  P(sigma_k > eps) <= E[sigma_k]/eps ~ (sigma_0/eps) exp(-k/(4n)) for the unbiased refit, follows
  from Markov's inequality and theory/gaussian.md G3. Either way the bound exceeds 1 until
  k ~ 100 at these settings and holds with a wide margin. Exact: the law of log sigma_k^2
  (theory/gaussian.md, G6). MLE refit ("ML or near-ML estimation" in the paper).
Bounds are checked as bounds ("bound holds"); the simulation is checked against the exact
probabilities with exact binomial tests.
"""

from __future__ import annotations

import numpy as np

import collapse_lab as cl

from ..theory import gaussian as thg
from ..theory import wright_fisher as wf
from . import _runs
from ._core import PaperResult, Published, Row, SimCheck
from ._theory import suresh_gaussian_bound, suresh_survival_bound

NAME = "suresh"
TITLE = "Suresh et al. 2024: survival bounds vs exact probabilities"
PAPER = "Suresh 2024"
N_B, P0 = 100, 0.05  # Bernoulli: expected original count n p_0 = 5
KS_B = (1, 10, 50, 100)
N_G, EPS, T_G = 10, 0.1, 200
KS_G = (10, 50, 100, 200)


def run(ctx) -> PaperResult:
    rows = []
    tb = max(KS_B) if not ctx.tiny else 10
    fam = cl.Categorical(2)
    res = cl.run_chains(_runs.key(ctx, 400), fam, fam.source([P0, 1 - P0]), num_chains=ctx.chains,
                        num_generations=tb, num_samples=N_B, method="sample")
    p = _runs.np64(res.observables["tracked_probs"])[:, :, 0]
    surv_curve = (p > 0).mean(0)
    for k in [k for k in KS_B if k <= tb]:
        exact = 1 - float(wf.loss_probability(k, N_B, P0))
        bound = float(suresh_survival_bound(k, N_B, P0))
        rows.append(Row(PAPER, f"Bernoulli p0={P0}, n={N_B}, k={k}", "P(p_k != 0)",
                        Published(bound, "bound 1 - exp(-n p0 / k)", "bound_lower"),
                        theory=exact, theory_kind="exact", theory_label="W5",
                        sim_values=(p[:, k] > 0).astype(float),
                        sim_check=SimCheck(p[:, k], 1 - exact, kind="probability",
                                           threshold=0.5 / N_B, label="P(lost) binomial")))
    tg = T_G if not ctx.tiny else 10
    res = _runs.gaussian_run(ctx, 401, N_G, tg, cl.Replace(), estimator="mle")
    logv = _runs.np64(res.observables["log_variance"])
    gauss_curve = (logv > np.log(EPS)).mean(0)
    for k in [k for k in KS_G if k <= tg] or [tg]:
        exact = 1 - float(thg.variance_probability_below(EPS, k, N_G, "mle"))
        bound = float(suresh_gaussian_bound(k, N_G, EPS))
        rows.append(Row(PAPER, f"Gaussian n={N_G}, eps={EPS}, k={k}", "P(sigma_k^2 > eps)",
                        Published(bound, "bound (sigma0/eps) exp(-k/(4n-1))", "bound_upper"),
                        theory=exact, theory_kind="exact", theory_label="G6",
                        sim_values=(logv[:, k] > np.log(EPS)).astype(float),
                        sim_check=SimCheck(logv[:, k], 1 - exact, kind="probability",
                                           threshold=float(np.log(EPS)),
                                           label="P(var < eps) binomial")))
    return PaperResult(NAME, TITLE, rows,
                       draw=lambda rows: _draw(surv_curve, gauss_curve, tb, tg))


def _draw(surv, gauss, tb, tg):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    k = np.arange(1, tb + 1)
    axes[0].plot(k, surv[1:], color="tab:blue", label="lab simulation")
    axes[0].plot(k, 1 - wf.loss_probability(k, N_B, P0), "k--", label="exact (W5)")
    axes[0].plot(k, suresh_survival_bound(k, N_B, P0), ":", color="tab:red",
                 label=r"Suresh bound $1-e^{-np_0/k}$")
    axes[0].set_xlabel("generation k")
    axes[0].set_ylabel(r"P($p_k \neq 0$)")
    axes[0].set_title(f"Bernoulli p0={P0}, n={N_B}")
    axes[0].legend(fontsize=8)
    k = np.arange(1, tg + 1)
    axes[1].plot(k, gauss[1:], color="tab:blue", label="lab simulation")
    axes[1].plot(k, [1 - thg.variance_probability_below(EPS, kk, N_G, "mle") for kk in k],
                 "k--", label="exact (G6)")
    axes[1].plot(k, np.minimum(suresh_gaussian_bound(k, N_G, EPS), 1.0), ":", color="tab:red",
                 label=r"Suresh bound $(\sigma_0/\varepsilon)e^{-k/(4n-1)}$ (capped at 1)")
    axes[1].set_yscale("log")
    axes[1].set_ylim(1e-6, 1.5)
    axes[1].set_xlabel("generation k")
    axes[1].set_ylabel(r"P($\sigma_k^2 > \varepsilon$)")
    axes[1].set_title(f"Gaussian n={N_G}, eps={EPS}, MLE")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig

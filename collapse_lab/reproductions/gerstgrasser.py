"""Gerstgrasser et al. (2024), "Is Model Collapse Inevitable? Breaking the Curse of Recursion by
Accumulating Real and Synthetic Data", arXiv 2404.01413.

Claim: replacing data makes the error grow linearly in the number of generations; accumulating
it keeps the error bounded by a pi^2/6 factor. Gaussian mean error E[(mu_t - mu_0)^2]/sigma^2
(unbiased refit, so that Replace is exactly linear: t/n, G7) against the accumulate value
sum_s E[sigma_s^2]/(n (s+1)^2) <= pi^2/(6n) (X7). The linear-regression test error rows (Replace
n sigma^2 d/(T-d-1), Accumulate <= pi^2/6 sigma^2 d/(T-d-1)) need the LinearRegression family.
"""

from __future__ import annotations

import math

import numpy as np

import collapse_lab as cl

from ..theory import gaussian as thg
from . import _regression, _runs
from ._core import PaperResult, Published, Row, SimCheck

NAME = "gerstgrasser"
TITLE = "Gerstgrasser et al. 2024: Accumulate bounded vs Replace linear"
PAPER = "Gerstgrasser 2024"
N = 1000
TS = (10, 100)


def run(ctx) -> PaperResult:
    rows = []
    tmax = max(TS) if not ctx.tiny else 10
    curves = {}
    for policy, pol in (("replace", cl.Replace()), ("accumulate", cl.Accumulate())):
        res = _runs.gaussian_run(ctx, 500 + len(curves), N, tmax, pol, estimator="unbiased")
        d = _runs.np64(res.observables["mean_drift2"])
        curves[policy] = d.mean(0)
        for t in [t for t in TS if t <= tmax] or [tmax]:
            if policy == "replace":
                th = float(thg.expected_mean_drift2(t, N, "unbiased"))
                pub = Published(t / N, "claim: linear growth, t sigma^2/n", "formula",
                                abs_tol=1e-12)
            else:
                th = float(thg.expected_mean_drift2_accumulate(t, N, "unbiased"))
                pub = Published(math.pi**2 / (6 * N), "bound pi^2 sigma^2/(6n)", "bound_upper")
            rows.append(Row(PAPER, f"Gaussian n={N}, unbiased, {policy}, t={t}",
                            "E[(mu_t - mu_0)^2]/sigma^2", pub, theory=th, theory_kind="exact",
                            theory_label="G7" if policy == "replace" else "X7",
                            sim_values=d[:, t], sim_check=SimCheck(d[:, t], th,
                                                                   label="E[drift^2]")))
    rows.extend(regression_rows(ctx))
    return PaperResult(NAME, TITLE, rows, draw=lambda rows: _draw(curves, tmax))


def regression_rows(ctx):
    """Regression test-error rows (need the LinearRegression family)."""
    out = []
    e1 = _regression.one_generation_error()
    for i, policy in enumerate(("replace", "accumulate")):
        setting = (f"linear regression d={_regression.D}, T={_regression.T_SAMPLES}, "
                   f"noise={_regression.NOISE}, {policy}")
        if not hasattr(cl, "LinearRegression"):
            pub = Published(None, "claim: linear growth" if policy == "replace" else
                            "claim: bounded by pi^2/6 sigma^2 d/(T-d-1)", "claim")
            out.append(Row(PAPER, setting, "test error", pub,
                           note="skipped: needs LinearRegression (not available)"))
            continue
        gens, values, theory = _regression.run(ctx, policy, 510 + i)
        setting += f", t={gens}"
        if policy == "replace":
            pub = Published(gens * e1, "claim: linear growth t sigma^2 d/(T-d-1)", "formula",
                            abs_tol=1e-9)
        else:
            pub = Published(math.pi**2 / 6 * e1, "bound pi^2/6 sigma^2 d/(T-d-1)",
                            "bound_upper")
        row = Row(PAPER, setting, "test error E||w_t - w*||^2", pub, sim_values=values)
        if theory is not None:
            value, exact, formula, rel_tol = theory
            row.theory, row.theory_kind, row.theory_label = (
                value, "exact" if exact else "approximate", formula)
            row.sim_check = SimCheck(values, value, exact=exact, rel_tol=rel_tol,
                                     label=f"E[test error] ({formula})")
        else:
            row.note = "the family's check() has no test-error row here"
        out.append(row)
    return out


def _draw(curves, tmax):
    import matplotlib.pyplot as plt

    t = np.arange(tmax + 1)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(t, curves["replace"], color="tab:red", label="replace: lab sim")
    ax.plot(t, curves["accumulate"], color="tab:blue", label="accumulate: lab sim")
    ax.plot(t, thg.expected_mean_drift2(t, N, "unbiased"), "k--", lw=0.8, label="exact (G7, X7)")
    ax.plot(t, thg.expected_mean_drift2_accumulate(t, N, "unbiased"), "k--", lw=0.8)
    ax.axhline(math.pi**2 / (6 * N), color="tab:blue", ls=":", label=r"$\pi^2/(6n)$ bound")
    ax.set_xlabel("generation t")
    ax.set_ylabel(r"E[$(\mu_t-\mu_0)^2$] / $\sigma^2$")
    ax.set_title(f"Gaussian mean error, n = {N} (unbiased refit)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

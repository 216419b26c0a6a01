"""Linear-regression chains for the Gerstgrasser and Dohmatob-Feng-Kempe rows (needs the
LinearRegression family; theory values come from the family's own check() rows,
theory/regression.md R1 and R4)."""

from __future__ import annotations

import numpy as np

import collapse_lab as cl

from . import _runs

D, T_SAMPLES, NOISE = 10, 50, 1.0
GENERATIONS = 10


def one_generation_error() -> float:
    """sigma^2 d / (T - d - 1): the OLS excess risk after one refit (Gaussian design)."""
    return NOISE**2 * D / (T_SAMPLES - D - 1)


def run(ctx, policy_name: str, salt: int):
    """Test error per chain at the last generation and the check() theory row (or None)."""
    gens = GENERATIONS if not ctx.tiny else 3
    fam = cl.LinearRegression(dim=D, noise_std=NOISE)
    src = fam.source(np.ones(D))
    pol = cl.Replace() if policy_name == "replace" else cl.Accumulate()
    res = cl.run_chains(_runs.key(ctx, salt), fam, src, policy=pol, num_chains=ctx.chains,
                        num_generations=gens, num_samples=T_SAMPLES,
                        method="exact" if fam.has_exact else "sample")
    values = _runs.np64(res.observables["test_error"])[:, gens]
    table = cl.check(res, overrides={"generations": [gens]})
    hit = table[(table["observable"] == "test_error") & (table["generation"] == gens)
                & table["statistic"].str.startswith("z (mean)")]
    theory = None
    if len(hit):
        theory = (float(hit["predicted"].iloc[0]), bool(hit["exact"].iloc[0]),
                  str(hit["formula"].iloc[0]), float(hit["rel_tol"].iloc[0]))
    return gens, values, theory

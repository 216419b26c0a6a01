"""Dohmatob, Feng, Kempe (2024), "Model Collapse Demystified: The Case of Regression",
NeurIPS 2024, arXiv 2402.07712: under Replace the test error of ordinary least squares grows
linearly in the generation, with slope noise^2 d/(T - d - 1) (T samples per generation, d
features, Gaussian design). Lab: the LinearRegression family on its exact path (sufficient
statistics drawn from their Wishart law), d = 10, T = 50, noise 1; theory from the family's
check() rows (theory/regression.md R1). The row compares the slope E[test error_t]/t.
"""

from __future__ import annotations

from . import _regression
from ._core import PaperResult, Published, Row, SimCheck

NAME = "dohmatob_regression"
TITLE = "Dohmatob, Feng, Kempe 2024: regression test error slope"
PAPER = "Dohmatob 2024 (regression)"
REQUIRES = ("LinearRegression",)


def _published():
    return Published(_regression.one_generation_error(), "formula noise^2 d/(T-d-1)", "formula",
                     abs_tol=1e-9)


def placeholder_rows():
    return [Row(PAPER, f"d={_regression.D}, T={_regression.T_SAMPLES}, "
                       f"noise^2={_regression.NOISE**2}, replace",
                "test-error slope per generation", _published())]


def run(ctx) -> PaperResult:
    gens, values, theory = _regression.run(ctx, "replace", 520)
    row = Row(PAPER, f"d={_regression.D}, T={_regression.T_SAMPLES}, "
                     f"noise^2={_regression.NOISE**2}, replace, t={gens}",
              "test-error slope E[test error_t]/t", _published(), sim_values=values / gens)
    if theory is not None:
        value, exact, formula, rel_tol = theory
        row.theory, row.theory_kind, row.theory_label = (value / gens,
                                                         "exact" if exact else "approximate",
                                                         formula)
        row.sim_check = SimCheck(values / gens, value / gens, exact=exact, rel_tol=rel_tol,
                                 label=f"E[test error]/t ({formula})")
    else:
        row.note = "the family's check() has no test-error row here"
    return PaperResult(NAME, TITLE, [row])

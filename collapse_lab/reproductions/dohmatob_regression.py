"""Dohmatob, Feng, Kempe (2024), "Model Collapse Demystified: The Case of Regression",
NeurIPS 2024, arXiv 2402.07712: under Replace the test error of ordinary least squares grows
linearly in the generation, with slope noise^2 d/(T - d - 1) (T samples, d features, Gaussian
design). Needs the LinearRegression family; this entry lights up once it exists (its rows
are listed below with the published slope so the report shows what will be checked).
"""

from __future__ import annotations

import collapse_lab as cl

from ._core import PaperResult, Published, Row

NAME = "dohmatob_regression"
TITLE = "Dohmatob, Feng, Kempe 2024: regression test error slope"
PAPER = "Dohmatob 2024 (regression)"
REQUIRES = ("LinearRegression",)
D, T_SAMPLES, NOISE2 = 10, 50, 1.0


def placeholder_rows():
    slope = NOISE2 * D / (T_SAMPLES - D - 1)
    return [Row(PAPER, f"d={D}, T={T_SAMPLES}, noise^2={NOISE2}, replace",
                "test-error slope per generation",
                Published(slope, "formula noise^2 d/(T-d-1)", "formula"))]


def run(ctx) -> PaperResult:
    rows = placeholder_rows()
    rows[0].note = ("skipped: cl.LinearRegression exists but this entry has not been wired to "
                    f"its API yet ({type(cl.LinearRegression).__name__})")
    return PaperResult(NAME, TITLE, rows)

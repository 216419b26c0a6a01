"""Feng et al. (2024), "Beyond Model Collapse: Scaling Up with Synthesized Data Requires
Verification", arXiv 2406.07515: a verifier that keeps only synthetic samples above a quality
threshold can stop collapse; the threshold sets the limit error.

Needs the Verified policy; this entry lights up once it exists.
"""

from __future__ import annotations

from ._core import PaperResult, Published, Row

NAME = "feng_verification"
TITLE = "Feng et al. (2024)"
REQUIRES = ("Verified",)


def placeholder_rows():
    return [Row(TITLE, "Gaussian / categorical chain under Verified", "qualitative claim",
                Published(None, "claim (see the paper)", "claim"))]


def run(ctx) -> PaperResult:
    rows = placeholder_rows()
    rows[0].note = ("skipped: Verified is available, but this entry has no published setting and "
                    "number pinned down yet (the paper's figures were not available to us)")
    return PaperResult(NAME, TITLE, rows)

"""Ferbach et al. (2024), "Self-Consuming Generative Models with Curated Data Provably Optimize Human
Preferences", NeurIPS 2024, arXiv 2407.09499: curating synthetic samples by a reward concentrates
the model on the reward's maximisers (the expected reward increases over generations).

Needs the Curated policy; this entry lights up once it exists.
"""

from __future__ import annotations

from ._core import PaperResult, Published, Row

NAME = "ferbach_curation"
TITLE = "Ferbach et al. (2024)"
REQUIRES = ("Curated",)


def placeholder_rows():
    return [Row(TITLE, "Gaussian / categorical chain under Curated", "qualitative claim",
                Published(None, "claim (see the paper)", "claim"))]


def run(ctx) -> PaperResult:
    rows = placeholder_rows()
    rows[0].note = ("skipped: Curated is available, but this entry has no published setting and "
                    "number pinned down yet (the paper's figures were not available to us)")
    return PaperResult(NAME, TITLE, rows)

"""A theory prediction about one observable at one generation (plain data).

Families build these in ``predictions(config, overrides)``; :func:`collapse_lab.check` turns each
into a row of the verdict table with a statistic of known null law.
"""

from __future__ import annotations

import dataclasses
import math

KINDS = ("mean", "variance", "probability", "quantile")
TRANSFORMS = (None, "sqrt", "log", "exp_neg")


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One predicted value.

    Attributes:
        observable: name of the recorded observable (a key of ``result.observables``).
        generation: generation t the prediction is about.
        kind: ``"mean"`` (E[f(X_t)], z across chains), ``"variance"`` (Var[f(X_t)], z with the
            fourth-moment standard error), ``"probability"`` (P(f(X_t) < threshold), exact
            binomial test) or ``"quantile"`` (the ``level``-quantile of f(X_t) equals
            ``predicted``; binomial test of the count below it).
        predicted: the predicted value.
        label: human-readable quantity, e.g. ``"E[log var]"``.
        formula: catalogue / derivation id, e.g. ``"G4"``.
        reference: anchor of the derivation, e.g. ``"theory/gaussian.md#g4"``.
        exact: exact finite-sample formula (hard test) or approximation (tolerance band).
        rel_tol: relative tolerance of an approximate prediction.
        threshold: the cut of a probability row.
        level: the quantile level of a quantile row.
        transform: ``None``, ``"sqrt"``, ``"log"`` or ``"exp_neg"`` (x -> exp(-x), e.g. a
            precision 1/variance from ``log_variance``) applied to the observable first.
        index: index into a vector-valued observable (per chain and generation), or None.
    """

    observable: str
    generation: int
    kind: str
    predicted: float
    label: str
    formula: str
    reference: str
    exact: bool = True
    rel_tol: float = 0.0
    threshold: float | None = None
    level: float | None = None
    transform: str | None = None
    index: tuple | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}")


def add_prediction(rows, doc, observable, generation, kind, value, label, formula, **kw):
    """Append a :class:`Prediction` to ``rows`` when ``value`` is finite.

    ``reference`` is ``f"{doc}#{formula.lower()}"``; extra keywords go to :class:`Prediction`.
    """
    if math.isfinite(float(value)):
        rows.append(
            Prediction(
                observable=observable,
                generation=int(generation),
                kind=kind,
                predicted=float(value),
                label=label,
                formula=formula,
                reference=f"{doc}#{formula.lower()}",
                **kw,
            )
        )


def default_generations(num_generations: int) -> list[int]:
    """A short, roughly log-spaced set of generations at which to check (<= 10 values)."""
    grid = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000]
    out = [g for g in grid if g <= num_generations]
    if num_generations not in out:
        out.append(num_generations)
    if len(out) > 10:
        out = out[:1] + out[-9:]
    return out

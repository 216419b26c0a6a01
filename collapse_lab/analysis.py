"""Tidy frames and rates of runs (no plotting): theory curves, collapse rates, row groups.

The data side of the figures and reports: :func:`theory_frame` lists every prediction that
applies on a dense grid of generations, :func:`collapse_rate` the per-generation decay of a run's
key observable beside its theory rate. ``RunResult.summary()`` is the per-generation table.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

COLLAPSE_OBSERVABLES = (
    "log_variance",
    "log_det",
    "heterozygosity",
    "entropy",
    "variance",
    "support_size",
)


def scalar_observables(result) -> list[str]:
    if getattr(result, "reduced", False):  # a ReducedResult: moments [generation] per observable
        return [k for k, m in result.moments.items() if np.ndim(m.mean) == 1]
    return [k for k, v in result.observables.items() if np.ndim(v) == 2]


def theory_frame(result, max_points: int = 60) -> pd.DataFrame:
    """Every prediction that applies, on a dense grid of generations where the family allows.

    Families that accept the ``generations`` theory override (the Gaussian does) give up to
    ``max_points`` generations; others give their default check generations.
    """
    config = result.config
    num_generations = config.num_generations
    gens = np.unique(np.rint(np.linspace(1, num_generations, min(num_generations, max_points))))
    try:
        preds = config.family.predictions(config, {"generations": [int(g) for g in gens]})
    except (ValueError, TypeError, KeyError):
        preds = config.family.predictions(config)
    rows = [
        {
            "observable": p.observable,
            "generation": p.generation,
            "kind": p.kind,
            "predicted": p.predicted,
            "label": p.label,
            "formula": p.formula,
            "exact": p.exact,
            "threshold": p.threshold,
            "level": p.level,
            "transform": p.transform,
            "indexed": p.index is not None,
        }
        for p in preds
    ]
    cols = [
        "observable",
        "generation",
        "kind",
        "predicted",
        "label",
        "formula",
        "exact",
        "threshold",
        "level",
        "transform",
        "indexed",
    ]
    return pd.DataFrame(rows, columns=cols)


def plain_rows(theory: pd.DataFrame, kind: str) -> pd.DataFrame:
    if len(theory) == 0:
        return theory
    keep = (theory["kind"] == kind) & theory["transform"].isna() & ~theory["indexed"].astype(bool)
    return theory[keep]


def collapse_rate(result) -> dict:
    """Per-generation collapse rate of the run's key observable, empirical and predicted.

    For a log observable (``log_variance``, ``log_det``) the rate is
    $-(\\bar x_T - \\bar x_0)/T$; for a positive one (heterozygosity, variance, ...)
    $-\\log(\\bar x_T / \\bar x_0)/T$, with $\\bar x_t$ the across-chain mean. The theory rate
    applies the same map to the predicted mean at generation T (NaN without such a prediction).

    Returns:
        ``{"observable", "rate", "std_error", "theory_rate", "generation"}``.
    """
    config = result.config
    last = int(config.num_generations)
    available = scalar_observables(result)
    preds = [
        p
        for p in config.family.predictions(config)
        if p.kind == "mean" and p.transform is None and p.index is None and p.generation == last
    ]
    predicted = {p.observable: p.predicted for p in preds}
    candidates = [o for o in COLLAPSE_OBSERVABLES if o in available]
    with_theory = [o for o in candidates if o in predicted]
    if with_theory:
        name = with_theory[0]
    elif candidates:
        name = candidates[0]
    elif available:
        name = available[0]
    else:
        return {
            "observable": None,
            "rate": math.nan,
            "std_error": math.nan,
            "theory_rate": math.nan,
            "generation": last,
        }
    if getattr(result, "reduced", False):
        m = result.moments[name]
        x0, mean_t, count = float(m.mean[0]), float(m.mean[last]), float(m.count[last])
        se_t = math.sqrt(float(m.variance()[last]) / count) if count > 1 else math.nan
    else:
        arr = np.asarray(result.observables[name], np.float64)
        x0, xt = arr[:, 0].mean(), arr[:, last]
        mean_t = xt.mean()
        se_t = xt.std(ddof=1) / math.sqrt(xt.size) if xt.size > 1 else math.nan
    theory = predicted.get(name, math.nan)
    if name.startswith("log_"):
        rate, se = -(mean_t - x0) / last, se_t / last
        theory_rate = -(theory - x0) / last
    else:
        ok = x0 > 0 and mean_t > 0
        rate = -math.log(mean_t / x0) / last if ok else math.nan
        se = se_t / (mean_t * last) if ok else math.nan
        theory_rate = -math.log(theory / x0) / last if (x0 > 0 and theory > 0) else math.nan
    return {
        "observable": name,
        "rate": float(rate),
        "std_error": float(se),
        "theory_rate": float(theory_rate),
        "generation": last,
    }


_ITEM = re.compile(r"_\d+(?=[\]\s)=,])")
_ITEM_SUFFIX = re.compile(r" #\d+$")


def item_group(label: str) -> str:
    """``E[p_11]`` -> ``E[p_i]``, ``P(p_2 = 0)`` -> ``P(p_i = 0)``, ``X #3`` -> ``X #i``."""
    return _ITEM_SUFFIX.sub(" #i", _ITEM.sub("_i", label))


def item_label(label: str) -> str:
    """A per-item row's label without its index: ``E[P_t(a,b)] #3`` -> ``E[P_t(a,b)]``."""
    return _ITEM_SUFFIX.sub("", label)

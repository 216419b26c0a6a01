"""Compare a run with every theory prediction that applies, at a stated false-alarm rate.

Each :class:`~collapse_lab.prediction.Prediction` becomes one row with a statistic of known null
law across *independent chains* (never across one chain's generations):

* ``mean``: $z = (\\bar x - \\mu)/(s/\\sqrt C)$ (CLT across C chains);
* ``variance``: $z = (s^2 - v)/\\sqrt{(m_4 - s^4)/C}$;
* ``probability``: exact two-sided binomial test of the count of chains below the threshold;
* ``quantile``: exact binomial test of the count of chains below the predicted quantile.

Family-wise error control: Bonferroni over the rows, so the probability that *any* exact row of
a correct theory fails is at most ``false_alarm``. Approximate predictions pass when the gap is
within their relative tolerance plus the same Monte-Carlo allowance.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ._validate import open_unit

COLUMNS = [
    "observable",
    "quantity",
    "generation",
    "statistic",
    "predicted",
    "empirical",
    "std_error",
    "z",
    "p_value",
    "z_threshold",
    "pass",
    "exact",
    "rel_tol",
    "formula",
    "reference",
]


def _two_sided_normal(z) -> float:
    """$2 P(Z > |z|)$ for a standard normal Z (erfc keeps the far tail accurate)."""
    return math.erfc(abs(float(z)) / math.sqrt(2.0))


def _values(result, pred) -> np.ndarray:
    arr = np.asarray(result.observables[pred.observable])[:, pred.generation]
    if pred.index is not None:
        arr = arr[(slice(None),) + tuple(pred.index)]
    arr = arr.astype(np.float64)
    if pred.transform == "sqrt":
        arr = np.sqrt(arr)
    elif pred.transform == "log":
        arr = np.log(arr)
    elif pred.transform == "exp_neg":
        arr = np.exp(-arr)
    return arr


def _summary(result, pred):
    """Sufficient numbers for one row: from raw chains, or from a reduced result."""
    if not getattr(result, "reduced", False):
        x = _values(result, pred)
        c = x.size
        out = {"count": c, "finite": bool(np.all(np.isfinite(x)))}
        if pred.kind in ("mean", "variance"):
            out["mean"] = x.mean()
            out["var"] = x.var(ddof=1)
            out["m4"] = np.mean((x - x.mean()) ** 4)
        else:
            cut = pred.threshold if pred.kind == "probability" else pred.predicted
            out["below"] = int(np.sum(x < cut))
            if pred.kind == "quantile":
                level = pred.level
                half = np.sqrt(level * (1 - level) / c)
                lo, hi = np.quantile(x, [max(level - half, 0.0), min(level + half, 1.0)])
                out["quantile"] = float(np.quantile(x, level))
                out["quantile_se"] = (hi - lo) / 2
        return out
    if pred.transform is not None:
        return None  # a transformed moment cannot be recovered from the moments of X
    m = result.moments[pred.observable]
    t = pred.generation
    sel = (t,) + (tuple(pred.index) if pred.index is not None else ())
    c = float(m.count[t])
    out = {"count": int(c)}
    mean, m2, m4 = (float(np.asarray(a)[sel]) for a in (m.mean, m.m2, m.m4))
    out["finite"] = bool(np.isfinite(mean) and np.isfinite(m2))
    if pred.kind in ("mean", "variance"):
        out.update(mean=mean, var=m2 / max(c - 1, 1), m4=m4 / c)
        return out
    cut = pred.threshold if pred.kind == "probability" else pred.predicted
    key = (pred.observable, t, float(cut))
    if key not in result.threshold_counts:
        return None  # this cut was not counted on the device (e.g. an override moved it)
    out["below"] = result.threshold_counts[key]
    out["quantile"] = np.nan
    out["quantile_se"] = np.nan
    return out


def _row(pred, sm, z_threshold, per_row_alpha):
    c = sm["count"]
    out = {"statistic": pred.kind}
    if pred.kind == "mean":
        emp = sm["mean"]
        se = np.sqrt(sm["var"] / c)
        z = (emp - pred.predicted) / se if se > 0 else (0.0 if emp == pred.predicted else np.inf)
        p = _two_sided_normal(z)
        out["statistic"] = "z (mean)"
    elif pred.kind == "variance":
        emp = sm["var"]
        se = np.sqrt(max(sm["m4"] - emp**2, 0.0) / c)
        z = (emp - pred.predicted) / se if se > 0 else (0.0 if emp == pred.predicted else np.inf)
        p = _two_sided_normal(z)
        out["statistic"] = "z (variance)"
    elif pred.kind == "probability":
        k = sm["below"]
        emp = k / c
        prob = pred.predicted
        se = np.sqrt(prob * (1 - prob) / c)
        z = (emp - prob) / se if se > 0 else 0.0
        p = stats.binomtest(k, c, prob).pvalue if 0 < prob < 1 else float(emp == prob)
        out["statistic"] = "binomial"
    else:  # quantile
        level = pred.level
        k = sm["below"]
        emp = sm["quantile"]
        se = sm["quantile_se"]
        z = (k / c - level) / np.sqrt(level * (1 - level) / c)
        p = stats.binomtest(k, c, level).pvalue
        out["statistic"] = "binomial (quantile)"
    finite = sm["finite"]
    if pred.exact:
        passed = finite and p >= per_row_alpha
    else:
        gap = abs(emp - pred.predicted)
        passed = finite and gap <= pred.rel_tol * abs(pred.predicted) + z_threshold * se
    out.update(
        empirical=float(emp),
        std_error=float(se),
        z=float(z),
        p_value=float(p),
        passed=bool(passed),
    )
    return out


def check(result, false_alarm: float = 1e-3, overrides: dict | None = None) -> pd.DataFrame:
    """Verdict table: every prediction that applies to ``result``'s family, policy and sizes.

    Args:
        result: a :class:`~collapse_lab.chain.RunResult`, a loaded run, or a
            :class:`~collapse_lab.reduce.ReducedResult` (rows that need a statistic the
            reduction did not keep -- a moment of a transformed observable, or a probability
            at a cut that was not counted on the device -- are listed in ``attrs["skipped"]``).
        false_alarm: family-wise probability that a correct exact theory fails any row
            (Bonferroni over the rows).
        overrides: replace theory inputs (e.g. ``{"estimator": "unbiased"}``,
            ``{"num_samples": 9}``, ``{"generations": [1, 10]}``) to check a deliberately wrong
            formula against the same chains -- a negative control.

    Returns:
        A DataFrame with one row per prediction; ``df.attrs["passed"]`` is True when all pass.
        ``df.attrs["verdict"]`` is ``"all pass"``, ``"some rows fail"`` or ``"nothing checked"``
        (no prediction applies, e.g. a family without theory, or every row was skipped); in
        the last case ``df.attrs["note"]`` says why and :func:`format_table` prints it, so an
        empty table never reads as a failed (or passed) check.

    Raises:
        ValueError: ``false_alarm`` outside (0, 1), ``overrides`` not a dict, or an override key
            the family's theory does not know.
    """
    false_alarm = open_unit("false_alarm", false_alarm)
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f"overrides must be a dict or None, got {type(overrides).__name__}")
    config = result.config
    family = config.family
    preds = family.predictions(config, overrides)
    if overrides and not preds and not family.predictions(config, None):
        raise ValueError(
            f"overrides {sorted(overrides)} given, but the {getattr(family, 'name', family)} "
            "family has no theory predictions to override"
        )
    summaries = [_summary(result, pred) for pred in preds]
    skipped = [p for p, sm in zip(preds, summaries) if sm is None]
    preds = [p for p, sm in zip(preds, summaries) if sm is not None]
    summaries = [sm for sm in summaries if sm is not None]
    m = max(len(preds), 1)
    per_row = false_alarm / m
    z_thr = float(stats.norm.isf(per_row / 2))
    rows = []
    for pred, sm in zip(preds, summaries):
        r = _row(pred, sm, z_thr, per_row)
        rows.append(
            {
                "observable": pred.observable,
                "quantity": pred.label,
                "generation": pred.generation,
                "statistic": r["statistic"],
                "predicted": pred.predicted,
                "empirical": r["empirical"],
                "std_error": r["std_error"],
                "z": r["z"],
                "p_value": r["p_value"],
                "z_threshold": z_thr,
                "pass": r["passed"],
                "exact": pred.exact,
                "rel_tol": pred.rel_tol,
                "formula": pred.formula,
                "reference": pred.reference,
            }
        )
    df = pd.DataFrame(rows, columns=COLUMNS)
    note = ""
    if not rows:
        name = getattr(family, "name", type(family).__name__)
        note = (
            f"nothing checked: every applicable prediction ({len(skipped)}) needs a statistic "
            "this reduced result did not keep"
            if skipped
            else f"nothing checked: no theory prediction applies to this {name} run "
            f"(policy {getattr(getattr(config, 'policy', None), 'name', '?')}"
            + (f", overrides {overrides}" if overrides else "")
            + ")"
        )
    df.attrs.update(
        false_alarm=false_alarm,
        per_row_alpha=per_row,
        num_chains=config.num_chains,
        num_rows=len(rows),
        skipped=[(p.observable, p.label, p.generation) for p in skipped],
        passed=bool(len(rows) > 0 and df["pass"].all()),
        verdict=("all pass" if df["pass"].all() else "some rows fail")
        if rows
        else "nothing checked",
        note=note,
    )
    return df


def format_table(df: pd.DataFrame, title: str | None = None) -> str:
    """Plain-text verdict table for terminals and reports."""
    show = df[
        [
            "quantity",
            "generation",
            "predicted",
            "empirical",
            "std_error",
            "z",
            "pass",
            "exact",
            "formula",
        ]
    ].copy()
    show["pass"] = show["pass"].map({True: "PASS", False: "FAIL"})
    show["exact"] = show["exact"].map({True: "exact", False: "approx"})
    text = show.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    a = df.attrs
    head = title + "\n" if title else ""
    if a.get("verdict") == "nothing checked":
        return head + f"NOTHING CHECKED -- {a.get('note')}"
    verdict = "ALL PASS" if a.get("passed") else "SOME ROWS FAIL"
    foot = (
        f"{a.get('num_rows', len(df))} rows over {a.get('num_chains')} independent chains; "
        f"family-wise false-alarm rate {a.get('false_alarm')} (Bonferroni, per row "
        f"{a.get('per_row_alpha', float('nan')):.2g}) -> {verdict}"
    )
    return head + text + "\n" + foot

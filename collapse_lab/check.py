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

import numpy as np
import pandas as pd
from scipy import stats

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


def _values(result, pred) -> np.ndarray:
    arr = np.asarray(result.observables[pred.observable])[:, pred.generation]
    if pred.index is not None:
        arr = arr[(slice(None),) + tuple(pred.index)]
    arr = arr.astype(np.float64)
    if pred.transform == "sqrt":
        arr = np.sqrt(arr)
    elif pred.transform == "log":
        arr = np.log(arr)
    return arr


def _row(pred, x, z_threshold, per_row_alpha):
    c = x.size
    finite = bool(np.all(np.isfinite(x)))
    out = {"statistic": pred.kind}
    if pred.kind == "mean":
        emp = x.mean()
        se = x.std(ddof=1) / np.sqrt(c)
        z = (emp - pred.predicted) / se if se > 0 else (0.0 if emp == pred.predicted else np.inf)
        p = 2 * stats.norm.sf(abs(z))
        out["statistic"] = "z (mean)"
    elif pred.kind == "variance":
        emp = x.var(ddof=1)
        m4 = np.mean((x - x.mean()) ** 4)
        se = np.sqrt(max(m4 - emp**2, 0.0) / c)
        z = (emp - pred.predicted) / se if se > 0 else (0.0 if emp == pred.predicted else np.inf)
        p = 2 * stats.norm.sf(abs(z))
        out["statistic"] = "z (variance)"
    elif pred.kind == "probability":
        k = int(np.sum(x < pred.threshold))
        emp = k / c
        prob = pred.predicted
        se = np.sqrt(prob * (1 - prob) / c)
        z = (emp - prob) / se if se > 0 else 0.0
        p = stats.binomtest(k, c, prob).pvalue if 0 < prob < 1 else float(emp == prob)
        out["statistic"] = "binomial"
    else:  # quantile
        level = pred.level
        k = int(np.sum(x < pred.predicted))
        emp = float(np.quantile(x, level))
        half = np.sqrt(level * (1 - level) / c)
        lo, hi = np.quantile(x, [max(level - half, 0.0), min(level + half, 1.0)])
        se = (hi - lo) / 2
        z = (k / c - level) / half
        p = stats.binomtest(k, c, level).pvalue
        out["statistic"] = "binomial (quantile)"
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
        result: a :class:`~collapse_lab.chain.RunResult` (or a loaded run).
        false_alarm: family-wise probability that a correct exact theory fails any row
            (Bonferroni over the rows).
        overrides: replace theory inputs (e.g. ``{"estimator": "unbiased"}``,
            ``{"num_samples": 9}``, ``{"generations": [1, 10]}``) to check a deliberately wrong
            formula against the same chains -- a negative control.

    Returns:
        A DataFrame with one row per prediction; ``df.attrs["passed"]`` is True when all pass.
    """
    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm must lie in (0, 1), got {false_alarm!r}")
    config = result.config
    preds = config.family.predictions(config, overrides)
    m = max(len(preds), 1)
    per_row = false_alarm / m
    z_thr = float(stats.norm.isf(per_row / 2))
    rows = []
    for pred in preds:
        x = _values(result, pred)
        r = _row(pred, x, z_thr, per_row)
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
    df.attrs.update(
        false_alarm=false_alarm,
        per_row_alpha=per_row,
        num_chains=config.num_chains,
        num_rows=len(rows),
        passed=bool(len(rows) > 0 and df["pass"].all()),
    )
    return df


def format_table(df: pd.DataFrame, title: str | None = None) -> str:
    """Plain-text verdict table for terminals and reports."""
    show = df[
        ["quantity", "generation", "predicted", "empirical", "std_error", "z", "pass", "exact",
         "formula"]
    ].copy()
    show["pass"] = show["pass"].map({True: "PASS", False: "FAIL"})
    show["exact"] = show["exact"].map({True: "exact", False: "approx"})
    text = show.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    a = df.attrs
    head = title + "\n" if title else ""
    verdict = "ALL PASS" if a.get("passed") else "SOME ROWS FAIL"
    foot = (
        f"{a.get('num_rows', len(df))} rows over {a.get('num_chains')} independent chains; "
        f"family-wise false-alarm rate {a.get('false_alarm')} (Bonferroni, per row "
        f"{a.get('per_row_alpha', float('nan')):.2g}) -> {verdict}"
    )
    return head + text + "\n" + foot

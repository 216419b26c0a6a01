"""Rows, verdicts and the report of the reproductions (no simulation here).

Every row of the report sets three numbers side by side: the value a paper published, the
lab's simulation (mean +- standard error across independent chains) and the lab's theory.
Two verdicts:

* **simulation vs theory** -- the same statistics as :func:`collapse_lab.check` (z across
  independent chains for a mean, exact binomial test for a probability; ``check._row`` does the
  arithmetic), Bonferroni over every checked row of the report;
* **paper vs theory** -- is the published number consistent with the theory *within the
  paper's own Monte-Carlo error*? A paper that averaged S seeds published one draw of an
  S-seed mean. Its law under the truth is estimated from the lab's own chains: resample S
  chains (bootstrap), take the mean, centre the spread on the theory value. The published
  value is consistent when it lies in the central ``level`` interval of that law, widened by
  the stated reading tolerance (values read off a plot). The normal standard error
  ``sd / sqrt(S)`` is printed as "paper MC error".

Analytic statements (a formula, a bound, a qualitative claim) get a verdict of their own kind:
"agrees" (formula equal to the theory within its rounding), "bound holds" / "bound violated",
"claim reproduced" / "claim not reproduced".
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from ..check import _row as _check_row
from ..prediction import Prediction

PUBLISHED_KINDS = ("mc", "formula", "bound_lower", "bound_upper", "claim")


@dataclasses.dataclass
class Published:
    """A published number and where it comes from.

    Attributes:
        value: the number (None for a purely qualitative claim).
        source: where it was read: "Fig. 3 (read off plot)", "printed output", "Eq. (5)".
        kind: ``"mc"`` (a Monte-Carlo estimate over ``seeds`` runs), ``"formula"`` (an
            analytic value), ``"bound_lower"`` / ``"bound_upper"`` (the theory must lie above /
            below it), ``"claim"`` (qualitative; ``value`` may be None).
        seeds: number of independent runs the paper averaged (``"mc"`` only).
        read_tol: relative reading tolerance (values read off a plot; 0 for printed numbers).
        abs_tol: absolute tolerance (rounding of a printed number, e.g. 5e-4 for "0.000").
        seeds_note: how the seed count is known ("stated in the paper", "assumed").
    """

    value: float | None
    source: str
    kind: str = "mc"
    seeds: int | None = None
    read_tol: float = 0.0
    abs_tol: float = 0.0
    seeds_note: str = ""

    def __post_init__(self):
        if self.kind not in PUBLISHED_KINDS:
            raise ValueError(f"kind must be one of {PUBLISHED_KINDS}, got {self.kind!r}")
        if self.kind == "mc" and (self.seeds is None or int(self.seeds) < 1):
            raise ValueError(f"seeds must be an integer >= 1 for kind 'mc', got {self.seeds!r}")
        if self.read_tol < 0 or self.abs_tol < 0:
            raise ValueError("read_tol and abs_tol must be >= 0")


@dataclasses.dataclass
class SimCheck:
    """What the simulation-vs-theory verdict tests: per-chain values against a prediction.

    ``kind`` is ``"mean"`` (z across chains) or ``"probability"`` (P(value < threshold), exact
    binomial test); ``label`` says which statistic (it may differ from the displayed quantity,
    e.g. E[log var] where E[var] is too heavy-tailed to test; see theory/gaussian.md).
    """

    values: np.ndarray
    predicted: float
    kind: str = "mean"
    exact: bool = True
    rel_tol: float = 0.0
    threshold: float | None = None
    label: str = ""


@dataclasses.dataclass
class Row:
    """One line of the report (see the module docstring for the verdicts)."""

    paper: str
    setting: str
    quantity: str
    published: Published
    theory: float | None = None
    theory_kind: str = "none"  # "exact", "approximate", "bound" or "none"
    theory_label: str = ""
    sim_mean: float | None = None
    sim_se: float | None = None
    sim_values: np.ndarray | None = None  # per-chain values of the displayed quantity
    sim_check: SimCheck | None = None
    paper_sd: float | None = None  # per-run SD when no per-chain values exist
    note: str = ""
    # filled in by finalise()
    sim_z: float | None = None
    sim_p: float | None = None
    sim_verdict: str = ""
    paper_se: float | None = None
    paper_lo: float | None = None
    paper_hi: float | None = None
    paper_verdict: str = ""


@dataclasses.dataclass
class PaperResult:
    """What one reproduction returns: its rows, a figure-drawing callback and notes."""

    name: str
    title: str
    rows: list[Row]
    draw: Callable | None = None  # draw(rows) -> matplotlib Figure
    notes: list[str] = dataclasses.field(default_factory=list)
    skipped: str | None = None  # reason the whole entry did not run
    seconds: float = 0.0


# ------------------------------------------------------------------ paper error from seed count
def paper_standard_error(sd: float, seeds: int) -> float:
    """Monte-Carlo standard error of a mean over ``seeds`` independent runs: ``sd / sqrt(S)``."""
    if isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    if not sd >= 0:
        raise ValueError(f"sd must be >= 0, got {sd!r}")
    return float(sd) / math.sqrt(int(seeds))


def seed_mean_interval(
    values,
    seeds: int,
    center: float,
    level: float = 0.99,
    num_resamples: int = 4000,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """Central ``level`` interval of an S-seed mean under the truth, centred on ``center``.

    The law of the mean of S independent runs is estimated by resampling S of the lab's
    per-chain ``values`` (with replacement) ``num_resamples`` times; its spread
    (``resampled mean - mean(values)``) is added to ``center`` (the theory value). This keeps
    the skewness of heavy-tailed or discrete quantities (fixation times, small probabilities)
    that a normal interval would miss.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        raise ValueError("values must hold at least two finite per-chain values")
    rng = np.random.default_rng(0) if rng is None else rng
    seeds = int(seeds)
    # draw in blocks to bound memory (num_resamples x seeds indices)
    means = np.empty(num_resamples)
    block = max(1, 2_000_000 // seeds)
    for start in range(0, num_resamples, block):
        stop = min(start + block, num_resamples)
        idx = rng.integers(0, x.size, size=(stop - start, seeds))
        means[start:stop] = x[idx].mean(axis=1)
    spread = means - x.mean()
    lo, hi = np.quantile(spread, [(1 - level) / 2, (1 + level) / 2])
    return float(center + lo), float(center + hi)


def normal_interval(center: float, se: float, level: float = 0.99) -> tuple[float, float]:
    """``center +- z se`` with the two-sided ``level`` normal quantile."""
    z = float(stats.norm.isf((1 - level) / 2))
    return float(center - z * se), float(center + z * se)


def paper_verdict(published: Published, theory: float | None, interval=None) -> str:
    """Paper-vs-theory verdict (see the module docstring)."""
    v = published.value
    if theory is None or not np.isfinite(theory):
        return "no theory"
    kind = published.kind
    if kind == "claim":
        return "see note"
    if v is None:
        return "no value"
    slack = published.read_tol * abs(v) + published.abs_tol
    if kind == "formula":
        return "agrees" if abs(v - theory) <= slack + 1e-12 * abs(theory) else "DISAGREES"
    if kind == "bound_lower":
        return "bound holds" if theory >= v - slack else "BOUND VIOLATED"
    if kind == "bound_upper":
        return "bound holds" if theory <= v + slack else "BOUND VIOLATED"
    if interval is None:
        return "no error estimate"
    lo, hi = interval
    if lo - slack <= v <= hi + slack:
        return "within paper MC error"
    return "OUTSIDE paper MC error"


# ------------------------------------------------------------------ simulation vs theory
def _summary(sc: SimCheck) -> dict:
    x = np.asarray(sc.values, dtype=np.float64).ravel()
    out = {"count": int(x.size), "finite": bool(np.all(np.isfinite(x)))}
    if sc.kind == "mean":
        out.update(mean=x.mean(), var=x.var(ddof=1), m4=np.mean((x - x.mean()) ** 4))
    else:
        out["below"] = int(np.sum(x < sc.threshold))
    return out


def sim_check_row(sc: SimCheck, z_threshold: float, per_row_alpha: float) -> dict:
    """One simulation-vs-theory verdict through :mod:`collapse_lab.check`'s own row logic."""
    if sc.kind not in ("mean", "probability"):
        raise ValueError(f"SimCheck.kind must be 'mean' or 'probability', got {sc.kind!r}")
    pred = Prediction(
        observable="value",
        generation=0,
        kind=sc.kind,
        predicted=float(sc.predicted),
        label=sc.label,
        formula="",
        reference="",
        exact=sc.exact,
        rel_tol=sc.rel_tol,
        threshold=sc.threshold,
    )
    return _check_row(pred, _summary(sc), z_threshold, per_row_alpha)


def mean_se(values) -> tuple[float, float]:
    x = np.asarray(values, dtype=np.float64).ravel()
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan


def finalise(rows: Sequence[Row], false_alarm: float = 1e-3, level: float = 0.99,
             num_resamples: int = 4000, seed: int = 0) -> dict:
    """Fill in both verdicts of every row (Bonferroni over the rows with a simulation check)."""
    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm must lie in (0, 1), got {false_alarm!r}")
    checked = [r for r in rows if r.sim_check is not None]
    m = max(len(checked), 1)
    per_row = false_alarm / m
    z_thr = float(stats.norm.isf(per_row / 2))
    rng = np.random.default_rng(seed)
    for r in rows:
        if r.sim_values is not None and r.sim_mean is None:
            r.sim_mean, r.sim_se = mean_se(r.sim_values)
        if r.note.startswith("skipped"):
            r.sim_verdict = r.paper_verdict = "skipped"
            continue
        if r.sim_check is not None:
            out = sim_check_row(r.sim_check, z_thr, per_row)
            r.sim_z, r.sim_p = out["z"], out["p_value"]
            r.sim_verdict = "PASS" if out["passed"] else "FAIL"
        elif r.sim_mean is not None:
            r.sim_verdict = "not checked"
        else:
            r.sim_verdict = "no simulation"
        pub = r.published
        interval = None
        if pub.kind == "mc" and r.theory is not None and np.isfinite(r.theory):
            vals = None if r.sim_values is None else np.asarray(r.sim_values, np.float64)
            if vals is not None and vals.size >= 2:
                sd = float(np.std(vals[np.isfinite(vals)], ddof=1))
                r.paper_se = paper_standard_error(sd, pub.seeds)
                interval = seed_mean_interval(vals, pub.seeds, r.theory, level, num_resamples,
                                              rng)
            elif r.paper_sd is not None:
                r.paper_se = paper_standard_error(r.paper_sd, pub.seeds)
                interval = normal_interval(r.theory, r.paper_se, level)
            if interval is not None:
                r.paper_lo, r.paper_hi = interval
        if not r.paper_verdict:
            r.paper_verdict = paper_verdict(pub, r.theory, interval)
    return {"false_alarm": false_alarm, "per_row_alpha": per_row, "z_threshold": z_thr,
            "num_checked": len(checked), "level": level,
            "all_pass": all(r.sim_verdict == "PASS" for r in checked)}


# ------------------------------------------------------------------ output
CSV_COLUMNS = [
    "paper", "setting", "quantity", "published", "published_source", "published_kind",
    "seeds", "seeds_note", "paper_mc_error", "paper_interval_lo", "paper_interval_hi",
    "sim_mean", "sim_se", "theory", "theory_kind", "theory_label", "sim_check", "sim_z",
    "sim_p", "sim_vs_theory", "paper_vs_theory", "note",
]


def _fmt(v, digits=4):
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    v = float(v)
    if not np.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def row_record(r: Row) -> dict:
    p = r.published
    return {
        "paper": r.paper,
        "setting": r.setting,
        "quantity": r.quantity,
        "published": "" if p.value is None else p.value,
        "published_source": p.source,
        "published_kind": p.kind,
        "seeds": "" if p.seeds is None else p.seeds,
        "seeds_note": p.seeds_note,
        "paper_mc_error": "" if r.paper_se is None else r.paper_se,
        "paper_interval_lo": "" if r.paper_lo is None else r.paper_lo,
        "paper_interval_hi": "" if r.paper_hi is None else r.paper_hi,
        "sim_mean": "" if r.sim_mean is None else r.sim_mean,
        "sim_se": "" if r.sim_se is None else r.sim_se,
        "theory": "" if r.theory is None else r.theory,
        "theory_kind": r.theory_kind,
        "theory_label": r.theory_label,
        "sim_check": "" if r.sim_check is None else r.sim_check.label,
        "sim_z": "" if r.sim_z is None else r.sim_z,
        "sim_p": "" if r.sim_p is None else r.sim_p,
        "sim_vs_theory": r.sim_verdict,
        "paper_vs_theory": r.paper_verdict,
        "note": r.note,
    }


def write_csv(path, rows: Sequence[Row]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow(row_record(r))


def markdown_table(rows: Sequence[Row]) -> str:
    head = ("| setting | quantity | published (source) | seeds -> paper MC error "
            "| lab simulation (mean +- SE) | lab theory | sim vs theory | paper vs theory |")
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        p = r.published
        pub = "--" if p.value is None else _fmt(p.value)
        pub += f" ({p.source})"
        if p.kind == "mc":
            err = f"{p.seeds}" + (f" -> +-{_fmt(r.paper_se, 2)}" if r.paper_se is not None
                                  else "")
            if r.paper_lo is not None:
                err += f" [{_fmt(r.paper_lo, 3)}, {_fmt(r.paper_hi, 3)}]"
            if p.seeds_note:
                err += f" ({p.seeds_note})"
        else:
            err = {"formula": "analytic", "bound_lower": "lower bound",
                   "bound_upper": "upper bound", "claim": "claim"}[p.kind]
        sim = "--" if r.sim_mean is None else f"{_fmt(r.sim_mean)} +- {_fmt(r.sim_se, 2)}"
        theo = "--" if r.theory is None else f"{_fmt(r.theory)} ({r.theory_kind}"
        if r.theory is not None:
            theo += f"; {r.theory_label})" if r.theory_label else ")"
        sv = r.sim_verdict
        if r.sim_check is not None:
            sv += f" (z={r.sim_z:.2f}" + (f" on {r.sim_check.label})" if r.sim_check.label
                                            else ")")
        lines.append(f"| {r.setting} | {r.quantity} | {pub} | {err} | {sim} | {theo} | {sv} "
                     f"| {r.paper_verdict} |")
    return "\n".join(lines)

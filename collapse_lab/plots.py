"""Figures of runs against theory (seaborn on matplotlib's Agg canvas; no display needed).

* :func:`trajectories_figure` -- per-generation chain quantile bands (5-95 %, 25-75 %), median
  and mean of the key observables, with the theory curve of every mean / median prediction;
* :func:`survival_figure` -- fraction of chains not yet collapsed (probability predictions) and
  tail-loss observables against prediction;
* :func:`zscore_figure` -- the verdict table's z-scores against the Bonferroni threshold;
* :func:`sweep_figure` -- the collapse rate against the swept axis (n, alpha, ...).

Every function returns a :class:`matplotlib.figure.Figure` (saving is the caller's job;
:func:`write_figures` saves a run's set). matplotlib and seaborn are imported only when a figure is
drawn: the data helpers (:func:`theory_frame`, :func:`collapse_rate`) need neither.
"""

from __future__ import annotations

import functools
import math
import textwrap
import warnings

import numpy as np
import pandas as pd

from . import analysis

PREFERRED = (
    "log_variance",
    "variance",
    "mean_drift2",
    "w2_squared",
    "log_det",
    "entropy",
    "heterozygosity",
    "support_size",
    "kl_to_source",
    "lost_mass",
)
TAIL_WORDS = ("tail", "lost", "support", "surviv")
LABELS = {
    "log_variance": r"log variance  $\log\sigma^2_t$",
    "variance": r"variance $\sigma^2_t$ (source units$^2$)",
    "mean": r"mean $\mu_t$ (source units)",
    "mean_drift2": r"squared mean drift $\|\mu_t-\mu_0\|^2$",
    "w2_squared": r"$W_2^2$(model, source)",
    "log_det": r"$\log\det\Sigma_t$",
    "tail_mass_3sigma": r"model mass beyond source $\pm3\sigma$",
    "tail_mass_5sigma": r"model mass beyond source $\pm5\sigma$",
    "entropy": "entropy (nats)",
    "heterozygosity": r"heterozygosity $1-\sum_i p_i^2$",
    "support_size": "support size (categories)",
    "lost_mass": "lost source mass",
    "kl_to_source": "KL(model || source) (nats)",
    "max_prob": "largest probability",
    "tail_mass_1pct": "mass on rarest 1% of source",
    "tail_mass_10pct": "mass on rarest 10% of source",
}
FIGURE_DPI = 150
WIDTH_IN = 7.0  # a full text width of a two-column paper


def label(observable: str) -> str:
    return LABELS.get(observable, observable.replace("_", " "))


def _title(result, width: int = 80) -> str:
    """A compact, wrapped title: family and its scalar settings, policy, method, n, chains."""
    config = result.config
    desc = config.family.describe()
    extras = ", ".join(
        f"{k}={v}"
        for k, v in desc.items()
        if k != "family" and v is not None and isinstance(v, (int, float, str))
    )
    n = np.asarray(config.num_samples)
    n_text = f"n={int(n[0])}" if np.all(n == n[0]) else f"n={int(n.min())}..{int(n.max())}"
    pol = config.policy.name + (
        f"(alpha={config.policy.alpha:g})" if config.policy.name == "fresh" else ""
    )
    text = (
        f"{config.family.name} ({extras}), {pol}, {config.method}, {n_text}: "
        f"{config.num_chains} chains"
    )
    return textwrap.fill(text, width)


# ------------------------------------------------------------------------------ styling
def _styled(func):
    """Draw ``func``'s figure inside seaborn's paper context (readable at print size)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import seaborn as sns

        with (
            sns.axes_style("ticks"),
            sns.plotting_context("paper", font_scale=1.15),
            warnings.catch_warnings(),
        ):
            # Observables that are undefined at some generations (all chains NaN) plot as gaps.
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
            return func(*args, **kwargs)

    return wrapper


def _figure(width, height, nrows=1, ncols=1, **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _spans_decades(values, factor: float = 100.0) -> bool:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0 or np.any(v < 0):
        return False
    pos = v[v > 0]
    return pos.size > 0 and pos.max() / pos.min() > factor


def histogram_quantiles(edges, counts, levels) -> np.ndarray:
    """Quantiles ``[level, generation]`` from fixed-bin histograms ``counts [T+1, B+2]`` (bin 0
    below ``edges[0]``, bin B+1 at or above ``edges[-1]``), linear within a bin: accurate to a
    bin width, clipped to the edges. The quantile bands of a reduced run's figures."""
    edges = np.asarray(edges, np.float64)
    counts = np.asarray(counts, np.float64)
    total = counts.sum(axis=1, keepdims=True)
    cum = np.cumsum(counts, axis=1) / np.where(total > 0, total, 1.0)
    out = np.full((len(levels), counts.shape[0]), np.nan)
    rows = np.arange(counts.shape[0])
    for j, q in enumerate(levels):
        i = np.argmax(cum >= q, axis=1)  # first bin reaching the level
        prev = np.where(i > 0, cum[rows, np.maximum(i - 1, 0)], 0.0)
        share = counts[rows, i] / np.where(total[:, 0] > 0, total[:, 0], 1.0)
        frac = np.clip((q - prev) / np.where(share > 0, share, 1.0), 0.0, 1.0)
        lo = edges[np.clip(i - 1, 0, edges.size - 1)]
        hi = edges[np.clip(i, 0, edges.size - 1)]
        x = np.where((i >= 1) & (i <= edges.size - 1), lo + frac * (hi - lo), lo)
        out[j] = np.where(total[:, 0] > 0, x, np.nan)
    return out


def _scalar_names(result) -> list[str]:
    if getattr(result, "reduced", False):
        return [k for k, m in result.moments.items() if np.ndim(m.mean) == 1]
    return analysis.scalar_observables(result)


def _bands(result, name):
    """5, 25, 50, 75, 95 % across chains and the mean, per generation (from the histograms of a
    reduced run: NaN quantiles where it kept none)."""
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    if getattr(result, "reduced", False):
        m = result.moments[name]
        mean = np.asarray(m.mean, np.float64)
        if name in result.histograms:
            q = histogram_quantiles(*result.histograms[name], levels)
            # Where every chain has the same value (generation 0) the quantiles are that value,
            # not a spread over its bin.
            q = np.where(np.asarray(m.m2) == 0, mean[None, :], q)
        else:
            q = np.full((len(levels), mean.size), np.nan)
        return (*q, mean)
    arr = np.asarray(result.observables[name], np.float64)
    return (*np.nanquantile(arr, levels, axis=0), np.nanmean(arr, axis=0))


# ------------------------------------------------------------------------------ figures
@_styled
def trajectories_figure(result, theory: pd.DataFrame | None = None, observables=None):
    """Quantile bands across chains, median and mean per generation, and the theory curves.

    For a reduced run (:func:`collapse_lab.run_reduced`) the bands come from its histograms.
    """
    import seaborn as sns

    theory = analysis.theory_frame(result) if theory is None else theory
    available = _scalar_names(result)
    if observables is None:
        predicted = set(theory["observable"]) if len(theory) else set()
        ordered = [o for o in PREFERRED if o in available]
        ordered += [o for o in available if o in predicted and o not in ordered]
        ordered += [o for o in available if o not in ordered]
        observables = ordered[:4]
    if not observables:
        raise ValueError("the result has no scalar observable to plot")
    ncols = 1 if len(observables) == 1 else 2
    nrows = math.ceil(len(observables) / ncols)
    fig, axes = _figure(WIDTH_IN if ncols == 2 else 4.5, 2.5 * nrows + 0.9, nrows, ncols)
    colour = sns.color_palette("deep")[0]
    means = analysis.plain_rows(theory, "mean")
    medians = analysis.plain_rows(theory, "quantile")
    gens = np.arange(result.config.num_generations + 1)
    shared = None
    for ax, name in zip(axes.flat, observables):
        q05, q25, q50, q75, q95, mean = _bands(result, name)
        handles = [
            ax.fill_between(
                gens, q05, q95, color=colour, alpha=0.18, lw=0, label="5-95% of chains"
            ),
            ax.fill_between(
                gens, q25, q75, color=colour, alpha=0.35, lw=0, label="25-75% of chains"
            ),
            ax.plot(gens, q50, color=colour, lw=1.4, label="median of chains")[0],
            ax.plot(gens, mean, color=colour, lw=1.2, ls="--", label="mean of chains")[0],
        ]
        shared = shared or handles
        theory_handles = []
        th = means[means["observable"] == name].sort_values("generation")
        if len(th):
            lab = th["label"].iloc[0]
            tag = "exact" if th["exact"].all() else "approx."
            theory_handles += ax.plot(
                th["generation"],
                th["predicted"],
                color="black",
                lw=1.1,
                marker="o" if len(th) <= 12 else None,
                ms=3,
                label=f"theory {lab} ({th['formula'].iloc[0]}, {tag})",
            )
        tq = medians[(medians["observable"] == name) & (medians["level"] == 0.5)]
        if len(tq):
            tq = tq.sort_values("generation")
            dense = len(tq) > 12
            theory_handles += ax.plot(
                tq["generation"],
                tq["predicted"],
                color="black",
                lw=1.0 if dense else 0,
                ls="--",
                marker=None if dense else "x",
                ms=4,
                label=f"theory median ({tq['formula'].iloc[0]})",
            )
        if _spans_decades(np.concatenate([q05, q95])):
            ax.set_yscale("log", nonpositive="mask")
        ax.set_xlabel("generation t")
        ax.set_ylabel(label(name))
        ax.set_xlim(0, gens[-1])
        if theory_handles:
            ax.legend(handles=theory_handles, fontsize="x-small", frameon=False, loc="best")
        sns.despine(ax=ax)
    for ax in list(axes.flat)[len(observables) :]:
        ax.set_visible(False)
    fig.legend(handles=shared, loc="outside lower center", ncols=4, frameon=False, fontsize="small")
    fig.suptitle(_title(result), fontsize="medium")
    return fig


@_styled
def survival_figure(result, theory: pd.DataFrame | None = None):
    """Survival and tail loss against prediction; None if the run has neither.

    Left: the fraction of chains not yet collapsed below each probability prediction's
    threshold, and the surviving fraction of the source's support (observables named
    ``support*`` / ``surviv*``, as mean_t / mean_0). Right: tail-mass and lost-mass observables.
    """
    import seaborn as sns

    theory = analysis.theory_frame(result) if theory is None else theory
    probs = analysis.plain_rows(theory, "probability")
    means = analysis.plain_rows(theory, "mean")
    available = analysis.scalar_observables(result)
    supports = [o for o in available if "support" in o or "surviv" in o][:3]
    tails = [o for o in available if ("tail" in o or "lost" in o) and o not in supports][:4]
    left = bool(len(probs)) or bool(supports)
    panels = int(left) + int(bool(tails))
    if panels == 0:
        return None
    fig, axes = _figure(WIDTH_IN if panels == 2 else 4.5, 3.5, 1, panels)
    axes = list(axes.flat)
    palette = sns.color_palette("deep")
    num_chains = result.config.num_chains
    gens = np.arange(next(iter(result.observables.values())).shape[1])
    if left:
        ax = axes.pop(0)
        band_label = "theory ± 1.96 s.e. (binomial)"
        groups = list(probs.groupby(["observable", "threshold", "label"], sort=False))
        for i, ((name, thr, lab), rows) in enumerate(groups[:4]):
            arr = np.asarray(result.observables[name], np.float64)
            surv = np.mean(arr >= thr, axis=0)
            inner = lab[2:-1] if lab.startswith("P(") and lab.endswith(")") else lab
            if " < " in inner:
                text = inner.replace(" < ", " >= ")
            elif inner.startswith("not "):
                text = inner[4:]
            else:
                text = f"not ({inner})"
            rows = rows.sort_values("generation")
            g = rows["generation"].to_numpy()
            p = 1.0 - rows["predicted"].to_numpy()
            se = np.sqrt(np.clip(p * (1 - p), 0, None) / num_chains)
            ax.fill_between(
                g,
                np.clip(p - 1.96 * se, 0, 1),
                np.clip(p + 1.96 * se, 0, 1),
                color="0.8",
                lw=0,
                label=band_label if i == 0 else None,
            )
            ax.plot(
                g,
                p,
                color="black",
                lw=1.0,
                label=f"theory ({rows['formula'].iloc[0]})" if i == 0 else None,
            )
            ax.plot(gens, surv, color=palette[i], lw=1.4, label=f"chains with {text}")
        for j, name in enumerate(supports):
            arr = np.asarray(result.observables[name], np.float64)
            start = float(np.mean(arr[:, 0]))
            if start <= 0:
                continue
            col = palette[4 + j]
            ax.plot(
                gens,
                np.mean(arr, axis=0) / start,
                color=col,
                lw=1.4,
                label=f"{label(name)}: mean / initial",
            )
            th = means[means["observable"] == name].sort_values("generation")
            if len(th):
                ax.plot(
                    th["generation"],
                    th["predicted"] / start,
                    color="black",
                    lw=1.0,
                    ls=":",
                    label=f"theory ({th['formula'].iloc[0]})",
                )
        ax.set_yscale("log", nonpositive="mask")
        lowest = [
            np.nanmin(np.where(y > 0, y, np.nan)) for y in (ln.get_ydata() for ln in ax.get_lines())
        ]
        bottom = max(min([v for v in lowest if np.isfinite(v)] + [1.0]) / 2, 0.5 / num_chains, 1e-6)
        ax.set_ylim(bottom, 1.3)
        ax.set_xlabel("generation t")
        ax.set_ylabel("surviving fraction")
        ax.set_title("Survival", fontsize="medium")
        ax.legend(fontsize="x-small", frameon=False, loc="lower left")
        sns.despine(ax=ax)
    if tails:
        ax = axes.pop(0)
        plotted = []
        for i, name in enumerate(tails):
            arr = np.asarray(result.observables[name], np.float64)
            col = palette[(i + 3) % len(palette)]
            mean, median = np.nanmean(arr, axis=0), np.nanmedian(arr, axis=0)
            ax.plot(gens, mean, color=col, lw=1.4, label=f"{label(name)}: mean")
            ax.plot(gens, median, color=col, lw=1.0, ls="--", label="median")
            plotted += [mean, median]
            th = means[means["observable"] == name].sort_values("generation")
            if len(th):
                ax.plot(
                    th["generation"],
                    th["predicted"],
                    color="black",
                    lw=1.0,
                    ls=":",
                    marker="o" if len(th) <= 12 else None,
                    ms=3,
                    label=f"theory ({th['formula'].iloc[0]})",
                )
        values = np.concatenate(plotted)
        if _spans_decades(values):
            ax.set_yscale("log", nonpositive="mask")
            top = np.nanmax(values)
            ax.set_ylim(max(np.nanmin(values[values > 0]), top * 1e-12) / 2, top * 3)
        ax.set_xlabel("generation t")
        ax.set_ylabel("probability mass (across chains)")
        ax.set_title("Tail loss", fontsize="medium")
        ax.legend(fontsize="x-small", frameon=False, loc="best")
        sns.despine(ax=ax)
    fig.suptitle(_title(result), fontsize="medium")
    return fig


@_styled
def zscore_figure(table: pd.DataFrame, title: str | None = None):
    """Each verdict row's z against the Bonferroni threshold, grouped by quantity."""
    import seaborn as sns
    from matplotlib.colors import LogNorm

    if len(table) == 0:
        raise ValueError("the check table is empty: no prediction applies")
    df = table.copy()
    thr = float(df["z_threshold"].iloc[0])
    finite = df["z"].replace([np.inf, -np.inf], np.nan).abs()
    lim = max(thr * 1.3, float(np.nanmax(finite)) * 1.1 if finite.notna().any() else 0, 1.0)
    df["z_shown"] = df["z"].clip(-lim, lim)
    df["verdict"] = np.where(df["pass"].astype(bool), "pass", "FAIL")
    if df["quantity"].nunique() > 20:
        # Per-item rows (E[p_11], Var[p_3], "... #2") share one line per kind of quantity.
        df["quantity"] = df["quantity"].map(analysis.item_group)
    quantities = list(dict.fromkeys(df["quantity"]))
    fig, axes = _figure(WIDTH_IN * 0.8, min(1.4 + 0.3 * len(quantities), 9.0))
    ax = axes[0, 0]
    gens = df["generation"].astype(float)
    norm = LogNorm(vmin=max(gens.min(), 1), vmax=max(gens.max(), 2))
    sns.scatterplot(
        data=df,
        x="z_shown",
        y="quantity",
        hue="generation",
        hue_norm=norm,
        palette="viridis",
        style="verdict",
        markers={"pass": "o", "FAIL": "X"},
        style_order=["pass", "FAIL"],
        s=40,
        ax=ax,
        legend="full",
    )
    for x in (-thr, thr):
        ax.axvline(x, color="firebrick", ls="--", lw=1)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_xlim(-lim, lim)
    ax.set_xlabel(f"z = (empirical - predicted) / s.e.   (dashed: Bonferroni ±{thr:.2f})")
    ax.set_ylabel("")
    a = table.attrs
    passed = int(df["pass"].astype(bool).sum())
    head = title + "\n" if title else ""
    ax.set_title(
        f"{head}{passed}/{len(df)} rows pass; {a.get('num_chains', '?')} chains, family-wise "
        f"false-alarm {a.get('false_alarm', '?')}",
        fontsize="medium",
    )
    ax.legend(fontsize="x-small", frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    sns.despine(ax=ax)
    return fig


def _axis_values(points, axis):
    values = [p["assignment"][axis] for p in points]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return values, numeric


@_styled
def sweep_figure(points: list[dict]):
    r"""Collapse rate against the first numeric swept axis (other axes: one line each).

    Left: simulated rate (95% confidence bars) and theory. Right: the gap in standard errors,
    $z = (\text{simulated} - \text{theory}) / \text{s.e.}$, against the $\pm1.96$ band.

    Args:
        points: ``[{"assignment": {...}, "result": RunResult, ...}, ...]``.
    """
    import seaborn as sns

    if not points:
        raise ValueError("no sweep points")
    axes_names = list(points[0]["assignment"])
    x_axis = next((a for a in axes_names if _axis_values(points, a)[1]), axes_names[0])
    others = [a for a in axes_names if a != x_axis]
    rows = []
    for p in points:
        rate = analysis.collapse_rate(p["result"])
        group = ", ".join(f"{a.split('.')[-1]}={p['assignment'][a]}" for a in others)
        rows.append({"x": p["assignment"][x_axis], "group": group or "all", **rate})
    df = pd.DataFrame(rows)
    df["z"] = (df["rate"] - df["theory_rate"]) / df["std_error"]
    numeric = _axis_values(points, x_axis)[1]
    if not numeric:
        df["x"] = df["x"].map(str)
    has_theory = bool(df["theory_rate"].notna().any())
    fig, axes = _figure(WIDTH_IN if has_theory else 4.5, 3.3, 1, 2 if has_theory else 1)
    ax = axes[0, 0]
    palette = sns.color_palette("deep", n_colors=max(df["group"].nunique(), 1))
    for i, (col, (group, sub)) in enumerate(zip(palette, df.groupby("group", sort=False))):
        sub = sub.sort_values("x") if numeric else sub
        ax.errorbar(
            sub["x"],
            sub["rate"],
            yerr=1.96 * sub["std_error"],
            color=col,
            marker="o",
            ms=4,
            lw=1.2,
            capsize=2,
            zorder=2,
            label=f"simulated ({group})" if others else "simulated",
        )
        if sub["theory_rate"].notna().any():
            ax.plot(
                sub["x"],
                sub["theory_rate"],
                color="black",
                ls=":",
                marker="s",
                ms=8,
                mfc="none",
                mew=1.0,
                lw=1,
                zorder=3,
                label="theory" if i == 0 else None,
            )
        if has_theory:
            axes[0, 1].plot(
                sub["x"],
                sub["z"],
                color=col,
                marker="o",
                ms=4,
                lw=1.0,
                label=group if others else None,
            )
    short = x_axis.split(".")[-1]
    xname = {
        "num_samples": "sample size n",
        "alpha": r"fresh-data fraction $\alpha$",
        "temperature": r"sampling temperature $\lambda$",
    }.get(short, short)
    log_x = (
        numeric and np.all(df["x"] > 0) and (short == "num_samples" or _spans_decades(df["x"], 10))
    )
    rates = df["rate"].to_numpy()
    if log_x:
        ax.set_xscale("log")
    if _spans_decades(np.concatenate([rates, df["theory_rate"].dropna().to_numpy()]), 10):
        ax.set_yscale("log", nonpositive="mask")
    obs = df["observable"].iloc[0]
    last = int(df["generation"].iloc[0])
    ax.set_xlabel(xname)
    ax.set_ylabel(f"collapse rate per generation\n(decay of mean {obs}, t = 0..{last})")
    ax.set_title(f"Collapse rate against {short}", fontsize="medium")
    ax.legend(fontsize="x-small", frameon=False)
    sns.despine(ax=ax)
    if has_theory:
        zax = axes[0, 1]
        zax.axhspan(-1.96, 1.96, color="0.85", lw=0, label="95% band")
        zax.axhline(0, color="grey", lw=0.6)
        if log_x:
            zax.set_xscale("log")
        top = max(3.0, float(np.nanmax(np.abs(df["z"].to_numpy()))) * 1.2)
        zax.set_ylim(-top, top)
        zax.set_xlabel(xname)
        zax.set_ylabel("(simulated - theory) / s.e.")
        zax.set_title("Agreement with theory", fontsize="medium")
        zax.legend(fontsize="x-small", frameon=False)
        sns.despine(ax=zax)
    return fig

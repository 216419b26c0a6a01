"""Reports of saved runs: the verdict table, report.md, and writing the figures.

Everything a finished run writes besides its arrays: ``summary.csv``, ``check.csv`` (the verdict
table of :func:`collapse_lab.check`), ``figures/*.png`` (drawn by :mod:`collapse_lab.plots`) and
``report.md``. :func:`finalize` does it for one run and marks it complete; :func:`finalize_sweep`
for a sweep; :func:`save` saves a result made in Python.
"""

from __future__ import annotations

import io as _io
import json
import warnings
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from . import analysis, io, plots
from .check import COLUMNS, check

__all__ = ["finalize", "finalize_sweep", "save", "verdict", "write_figures", "write_report"]


def verdict(result, false_alarm: float = 1e-3):
    """``collapse_lab.check(result, false_alarm)``, computed once per result and rate.

    Finishing a run, its sweep report and the command line all need the same table; the theory
    behind it (quantiles of log-chi-square sums, ...) is not free, so it is cached here (beside
    the result, not inside it) for as long as the result lives.
    """
    key = (id(result), float(false_alarm))
    if key not in _VERDICTS:
        if not any(k[0] == id(result) for k in _VERDICTS):
            weakref.finalize(result, _forget, id(result))
        _VERDICTS[key] = check(result, false_alarm=false_alarm)
    return _VERDICTS[key]


_VERDICTS: dict[tuple[int, float], pd.DataFrame] = {}


def _forget(result_id: int) -> None:
    for key in [k for k in _VERDICTS if k[0] == result_id]:
        del _VERDICTS[key]


def finalize(run_dir, result, *, false_alarm: float = 1e-3, figures: bool = True, background=None):
    """Write arrays.npz, summary.csv, check.csv, figures and report.md; mark the run complete.

    With ``background`` (a one-worker ``concurrent.futures`` executor) the figures, the report
    and the completion mark are drawn there and a Future is returned: matplotlib's Python work
    then overlaps the next run's XLA compilation. Until that Future is done the run reads as
    unfinished, and ``resume`` would redo this step.
    """
    run_dir = Path(run_dir)
    reduced = bool(getattr(result, "reduced", False))
    arrays_sha = io.write_reduced(run_dir, result) if reduced else io.write_arrays(run_dir, result)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        # Observables that are infinite on some chains (a perplexity, ...) give NaN spreads.
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = result.summary()
    io.atomic_write_text(run_dir / io.SUMMARY, summary.to_csv(index=False))
    table = verdict(result, false_alarm)
    write_check_table(run_dir, table)

    def rest():
        figure_paths = write_figures(run_dir, result, table) if figures else []
        io.write_timings(run_dir, result.timings)
        write_report(run_dir, result, table, figure_paths)
        io.mark_complete(
            run_dir,
            generations_done=int(result.generations_done),
            arrays_sha256=arrays_sha,
            passed=bool(table.attrs.get("passed", False)),
            **({"reduced": True} if reduced else {}),
        )

    if background is not None:
        return background.submit(rest)
    rest()
    return None


def write_check_table(run_dir, table) -> None:
    io.atomic_write_text(Path(run_dir) / io.CHECK, table.to_csv(index=False))


def save_figure(fig, path) -> Path:
    """Save as PNG atomically (temp file + rename) and release the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = _io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=plots.FIGURE_DPI)
    io.atomic_write_bytes(path, buffer.getvalue())
    return path


def draw_run_figures(result, table: pd.DataFrame, out_dir) -> list[Path]:
    """Draw and save a run's figures into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    theory = analysis.theory_frame(result)
    paths = [save_figure(plots.trajectories_figure(result, theory), out_dir / "trajectories.png")]
    # Survival and tail-loss curves need every chain's trajectory: not drawn for reduced runs.
    fig = None if getattr(result, "reduced", False) else plots.survival_figure(result, theory)
    if fig is not None:
        paths.append(save_figure(fig, out_dir / "survival.png"))
    if len(table):
        paths.append(save_figure(plots.zscore_figure(table), out_dir / "zscores.png"))
    return paths


def draw_sweep_figures(points: list[dict], out_dir) -> list[Path]:
    return [save_figure(plots.sweep_figure(points), Path(out_dir) / "collapse_rate.png")]


def write_figures(run_dir, result, table) -> list[Path]:
    """Draw the run's figures into ``run_dir/figures`` (skipped with a warning without seaborn)."""
    try:
        return draw_run_figures(result, table, Path(run_dir) / io.FIGURES)
    except ImportError as err:  # matplotlib / seaborn missing
        warnings.warn(f"figures skipped ({err}); pip install 'collapse_lab[plot]'", stacklevel=2)
        return []


def save(result, run_dir, *, force: bool = False, false_alarm: float = 1e-3, figures: bool = True):
    """Save a finished :class:`~collapse_lab.chain.RunResult` (e.g. from ``run_chains``).

    ``collapse_lab.load(run_dir)`` then returns an equal result.
    """
    if result.generations_done != result.config.num_generations:
        raise ValueError(
            f"result has {result.generations_done} of {result.config.num_generations} "
            "generations; save a finished run"
        )
    run_dir = io.prepare_run_dir(run_dir, force=force)
    io.begin_run(run_dir, result.config, None)
    io.record_session(
        run_dir, wall_s=0.0, generations=result.generations_done, timings=result.timings
    )
    finalize(run_dir, result, false_alarm=false_alarm, figures=figures)
    return run_dir


def finalize_sweep(sweep_dir, *, figures: bool = True, results=None) -> None:
    """Sweep figure (collapse rate against the swept axis) and the sweep's report.md.

    ``results`` (``[(assignment, RunResult), ...]`` in sweep order) saves reloading the runs.
    """
    sweep_dir = Path(sweep_dir)
    manifest = io.read_manifest(sweep_dir)
    experiment = io.read_experiment(sweep_dir)
    points = []
    for i, r in enumerate(manifest["runs"]):
        result = results[i][1] if results is not None else io.load(sweep_dir / r["dir"])
        table = verdict(result, experiment.false_alarm)
        points.append(
            {"assignment": r["assignment"], "result": result, "table": table, "dir": r["dir"]}
        )
    figure_paths = []
    if figures:
        try:
            figure_paths = draw_sweep_figures(points, sweep_dir / io.FIGURES)
        except ImportError as err:  # matplotlib / seaborn missing
            warnings.warn(f"figures skipped ({err})", stacklevel=2)
    text = sweep_report(experiment, points, figure_paths, sweep_dir)
    io.atomic_write_text(sweep_dir / io.REPORT, text)
    io.mark_complete(
        sweep_dir,
        passed=all(bool(p["table"].attrs.get("passed")) for p in points),
    )


def write_report(run_dir, result, table, figure_paths) -> None:
    run_dir = Path(run_dir)
    prov = io.read_provenance(run_dir)
    experiment = io.read_config_record(run_dir).get("experiment")
    io.atomic_write_text(
        run_dir / io.REPORT, run_report(run_dir, result, table, figure_paths, prov, experiment)
    )


# ------------------------------------------------------------------------------ reports
def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        head = ", ".join(_fmt(v) for v in value[:3])
        return f"[{head}, ..., {_fmt(value[-1])}] ({len(value)} values)"
    return str(value).replace("|", "\\|")


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A GitHub-flavoured Markdown table."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def verdict_markdown(table) -> str:
    """The verdict table as Markdown, with the family-wise verdict line."""
    a = table.attrs
    if len(table) == 0:
        note = a.get("note") or "no theory prediction applies to this configuration"
        return f"_Nothing checked: {note.removeprefix('nothing checked: ')}._"
    rows = []
    for r in table.to_dict("records"):
        rows.append(
            {
                **r,
                "pass": "PASS" if r["pass"] else "**FAIL**",
                "exact": "exact" if r["exact"] else "approx",
            }
        )
    cols = [c for c in COLUMNS if c not in ("observable", "z_threshold", "rel_tol")]
    verdict = "ALL PASS" if a.get("passed") else "SOME ROWS FAIL"
    foot = (
        f"{a.get('num_rows', len(table))} rows over {a.get('num_chains')} independent chains; "
        f"family-wise false-alarm rate {a.get('false_alarm')} (Bonferroni, per row "
        f"{a.get('per_row_alpha', float('nan')):.2g}): **{verdict}**"
    )
    return markdown_table(rows, cols) + "\n\n" + foot


FIGURE_TITLES = {
    "trajectories": "Trajectories against theory",
    "survival": "Survival and tail loss",
    "zscores": "Verdict z-scores",
    "collapse_rate": "Collapse rate across the sweep",
}


def _figure_links(figure_paths, base: Path) -> str:
    lines = []
    for p in figure_paths:
        rel = Path(p).relative_to(base).as_posix()
        title = FIGURE_TITLES.get(Path(p).stem, Path(p).stem.replace("_", " ").capitalize())
        lines.append(f"### {title}\n\n![{title}]({rel})\n")
    return "\n".join(lines) if lines else "_No figures (install the `plot` extra)._"


def _describe_config(result, experiment) -> list[dict]:
    desc = dict(result.config.describe())
    desc.pop("key_data", None)
    if experiment is not None:
        desc["seed"] = experiment["seed"]
        if experiment.get("source"):
            desc["source"] = json.dumps(experiment["source"])
        if experiment.get("sampling"):
            desc["sampling"] = json.dumps(experiment["sampling"])
        if experiment.get("reduce"):
            desc["reduce"] = True
            desc["chain_batch"] = getattr(result, "chain_batch", None) or "default"
        else:
            desc["chunk_size"] = experiment.get("chunk_size", "auto")
    n = desc.get("num_samples")
    if isinstance(n, list) and len(set(n)) == 1:
        desc["num_samples"] = n[0]
    return [{"key": k, "value": v} for k, v in desc.items()]


def run_report(run_dir, result, table, figure_paths, prov: dict, experiment: dict | None) -> str:
    """report.md of one run: configuration, verdict table, figures, provenance."""
    run_dir = Path(run_dir)
    config = result.config
    name = experiment["name"] if experiment else run_dir.name
    verdict = (
        "ALL PASS"
        if table.attrs.get("passed")
        else ("no predictions" if len(table) == 0 else "SOME ROWS FAIL")
    )
    sessions = prov.get("sessions", [])
    env = sessions[-1]["environment"] if sessions else io.environment()
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    git = env.get("git") or {}
    devices = ", ".join(f"{d['platform']}:{d['id']} {d['kind']}".strip() for d in env["devices"])
    total_wall = sum(s.get("wall_s", 0.0) for s in sessions)
    reduced = bool(getattr(result, "reduced", False))
    mode = (
        [
            "**Reduced run** (`reduce = true`): only across-chain summaries per generation were "
            "kept (count, mean and central moments, the threshold counts the verdict needs, "
            "fixed-bin histograms), so memory and `reduced.npz` do not grow with the number of "
            "chains. Quantile bands in the figures are read from the histograms (bin "
            "resolution); per-chain figures (survival, tail loss) are not drawn, and quantile "
            "rows are checked by their threshold counts.",
            "",
        ]
        if reduced
        else []
    )
    files = (
        f"Files: `{io.REDUCED}` (across-chain summaries `mom/<name>/<moment>` [generation], "
        f"`thr/*`, `hist/<name>/*`), `{io.SUMMARY}`, `{io.CHECK}`, `{io.CONFIG}`, "
        f'`{io.PROVENANCE}`. Load with `collapse_lab.load("{run_dir}")` (a ReducedResult).'
        if reduced
        else f"Files: `{io.ARRAYS}` (observables `obs/<name>` [chain, generation]), "
        f"`{io.SUMMARY}`, `{io.CHECK}`, `{io.CONFIG}`, `{io.PROVENANCE}`. Load with "
        f'`collapse_lab.load("{run_dir}")`.'
    )
    lines = [
        f"# {name}",
        "",
        f"{config.family.name} family, {config.policy.name} policy, method `{config.method}`: "
        f"{config.num_chains} chains x {config.num_generations} generations. "
        f"Verdict: **{verdict}**.",
        "",
        *mode,
        "## Configuration",
        "",
        markdown_table(_describe_config(result, experiment), ["key", "value"]),
        "",
        "## Verdict table",
        "",
        verdict_markdown(table),
        "",
        "## Figures",
        "",
        _figure_links(figure_paths, run_dir),
        "",
        "## Provenance",
        "",
        f"- created {prov.get('created')}; {len(sessions)} session(s), {total_wall:.1f} s wall "
        f"in total; seed {prov.get('seed')}, key {prov.get('key')}",
        f"- {versions}",
        f"- Python {env['python']} on {env['platform']}; backend {env['backend']} ({devices}); "
        f"x64 {env['x64']}",
        f"- git revision {git.get('revision', 'unknown')}"
        + (" (with uncommitted changes)" if git.get("dirty") else ""),
        "",
        files,
        "",
    ]
    return "\n".join(lines)


def sweep_report(experiment, points: list[dict], figure_paths, sweep_dir) -> str:
    """report.md of a sweep: the sweep axes, one verdict line per sub-run, the sweep figure."""
    sweep_dir = Path(sweep_dir)
    rows = []
    for p in points:
        table, result = p["table"], p["result"]
        rate = analysis.collapse_rate(result)
        rows.append(
            {
                **{k: json.dumps(v) for k, v in p["assignment"].items()},
                "rows": len(table),
                "failed": int((~table["pass"].astype(bool)).sum()) if len(table) else 0,
                "verdict": "PASS" if table.attrs.get("passed") else "**FAIL**",
                f"rate ({rate['observable']})": rate["rate"],
                "std error": rate["std_error"],
                "theory rate": rate["theory_rate"],
                "report": f"[report]({p['dir']}/{io.REPORT})",
            }
        )
    axes = list(experiment.sweep)
    swept = ", ".join(f"`{a}` in {experiment.sweep[a]}" for a in axes)
    seeds = (
        "seeds as swept"
        if "seed" in experiment.sweep
        else f"sub-run i has seed {experiment.seed} + i (independent random streams)"
    )
    cols = [*axes, "rows", "failed", "verdict"]
    extra = [c for c in rows[0] if c not in cols and c != "report"] if rows else []
    lines = [
        f"# {experiment.name} (sweep)",
        "",
        f"{len(points)} sub-runs over {swept}; "
        f"{experiment.family} family, {experiment.policy} policy, {experiment.num_chains} chains x "
        f"{experiment.num_generations} generations each; {seeds}.",
        "",
        "## Sub-runs",
        "",
        markdown_table(rows, [*cols, *extra, "report"]),
        "",
        "The collapse rate is the per-generation decay of the across-chain mean of the observable "
        "(slope of a log observable, or of the log of a positive one) between generation 0 and "
        "the last generation; the theory rate applies the same definition to the predicted mean.",
        "",
        "## Figures",
        "",
        _figure_links(figure_paths, sweep_dir),
        "",
    ]
    return "\n".join(lines)


def write_demo_report(out, sections, wall_s: float) -> None:
    """``report.md`` of a demo directory: one section per experiment, with its main figure.

    ``sections``: ``[(experiment, passed, figure file name), ...]``.
    """
    out = Path(out)
    lines = [
        "# collapse_lab demo",
        "",
        f"{len(sections)} experiments in {wall_s:.1f} s. Each directory below is a saved run "
        "(`collapse_lab.load(dir)`, `collapse-lab check dir`).",
        "",
    ]
    for exp, passed, figure in sections:
        fig_path = Path(exp.name) / io.FIGURES / figure
        lines += [
            f"## {exp.name}: {'ALL PASS' if passed else 'SOME ROWS FAIL'}",
            "",
            f"[full report]({exp.name}/{io.REPORT})",
            "",
        ]
        if (out / fig_path).exists():
            lines += [f"![{exp.name}]({fig_path.as_posix()})", ""]
    io.atomic_write_text(out / io.REPORT, "\n".join(lines))


def redraw(run_dir, false_alarm: float) -> None:
    """Redraw the figures and report.md of a saved run or sweep (``collapse-lab plot``)."""
    run_dir = Path(run_dir)
    if io.run_kind(run_dir) == "sweep":
        results = []
        for r in io.read_manifest(run_dir)["runs"]:
            sub = run_dir / r["dir"]
            result = io.load(sub)
            table = verdict(result, false_alarm)
            write_report(sub, result, table, write_figures(sub, result, table))
            results.append((r["assignment"], result))
        finalize_sweep(run_dir, figures=True, results=results)
    else:
        result = io.load(run_dir)
        table = verdict(result, false_alarm)
        write_report(run_dir, result, table, write_figures(run_dir, result, table))


# ------------------------------------------------------------------------------ text verdicts
def condensed_table(table, title: str) -> str:
    df = table.assign(
        group=table["quantity"].map(analysis.item_group), abs_z=table["z"].abs(), ok=table["pass"]
    )
    summary = (
        df.groupby(["group", "formula"], sort=False)
        .agg(
            rows=("ok", "size"),
            passed=("ok", "sum"),
            max_abs_z=("abs_z", "max"),
            generations=("generation", lambda g: f"{g.min()}-{g.max()}"),
        )
        .reset_index()
    )
    summary["verdict"] = [
        "PASS" if p == r else "FAIL" for p, r in zip(summary["passed"], summary["rows"])
    ]
    text = summary.rename(columns={"group": "quantity"}).to_string(
        index=False, float_format=lambda v: f"{v:.3g}"
    )
    a = table.attrs
    verdict = "ALL PASS" if a.get("passed") else "SOME ROWS FAIL"
    foot = (
        f"{len(table)} rows (grouped; every row in check.csv and report.md) over "
        f"{a.get('num_chains')} independent chains; family-wise false-alarm rate "
        f"{a.get('false_alarm')} (Bonferroni, |z| threshold {df['z_threshold'].iloc[0]:.2f}) -> "
        f"{verdict}"
    )
    return f"{title}\n{text}\n{foot}"


def run_title(result) -> str:
    config = result.config
    n = config.num_samples
    n_text = str(int(n[0])) if (n == n[0]).all() else f"{int(n.min())}..{int(n.max())}"
    extras = ", ".join(f"{k}={v}" for k, v in config.family.describe().items() if k != "family")
    pol = config.policy.name + (
        f"(alpha={config.policy.alpha:g})" if config.policy.name == "fresh" else ""
    )
    return (
        f"{config.family.name} ({extras}), {pol}, method={config.method}: {config.num_chains} "
        f"chains x {config.num_generations} generations, n = {n_text}"
    )


def sweep_lines(points) -> str:
    lines = []
    for p in points:
        table = p["table"]
        rate = analysis.collapse_rate(p["result"])
        status = "PASS" if table.attrs.get("passed") else "FAIL"
        label = ", ".join(f"{k}={v}" for k, v in p["assignment"].items())
        lines.append(
            f"  {label:<24} {len(table):3d} rows  {status}   collapse rate "
            f"{rate['rate']:.4g} ± {rate['std_error']:.2g} (theory {rate['theory_rate']:.4g}, "
            f"{rate['observable']})"
        )
    return "\n".join(lines)

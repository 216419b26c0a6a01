"""Published collapse results, reproduced side by side: paper, lab simulation, lab theory.

``python -m collapse_lab.reproductions [NAME ...]`` (or ``main(argv)``) runs the selected
reproductions (all by default) and writes ``<out>/report.md``, ``<out>/results.csv`` and one
figure per paper (``<out>/<name>.png``). Entries whose family or policy is not available in
this build are listed with the reason and skipped. The per-paper modules live in this package
(so an installed lab can run them from any directory); ``benchmarks/reproductions/`` holds thin
script entries.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

from ._core import PaperResult, Published, Row, SimCheck, finalise, markdown_table, write_csv
from ._runs import Context

__all__ = ["ENTRIES", "main", "add_arguments", "run_args", "CLI_HELP", "CLI_DESCRIPTION", "run_entries", "write_report", "Published", "Row", "SimCheck",
           "PaperResult", "Context"]

# name -> module (one module per paper / experiment), in report order
ENTRIES = {
    "koyejo_gaussian": "koyejo_gaussian",
    "koyejo_discrete": "koyejo_discrete",
    "shumailov_gaussian": "shumailov_gaussian",
    "shumailov_gmm": "shumailov_gmm",
    "suresh": "suresh",
    "gerstgrasser": "gerstgrasser",
    "dohmatob_regression": "dohmatob_regression",
    "tale_of_tails": "tale_of_tails",
    "feng_verification": "feng_verification",
    "ferbach_curation": "ferbach_curation",
    "shumailov_lm": "shumailov_lm",
}


def _module(name):
    return importlib.import_module(f"{__name__}.{ENTRIES[name]}")


def run_entries(names, ctx: Context, log=print) -> list[PaperResult]:
    out = []
    for name in names:
        mod = _module(name)
        t0 = time.perf_counter()
        missing = [m for m in getattr(mod, "REQUIRES", ()) if not hasattr(_cl(), m)]
        if missing:
            res = PaperResult(name, mod.TITLE, mod.placeholder_rows() if hasattr(
                mod, "placeholder_rows") else [],
                skipped=f"needs {', '.join(missing)} (not available)")
        elif name == "shumailov_lm" and not ctx.lm:
            res = PaperResult(name, mod.TITLE, mod.placeholder_rows(), skipped="--no-lm")
        else:
            res = mod.run(ctx)
        res.seconds = time.perf_counter() - t0
        log(f"[reproduce] {name}: {len(res.rows)} rows in {res.seconds:.1f} s"
            + (f" (skipped: {res.skipped})" if res.skipped else ""))
        out.append(res)
    return out


def _cl():
    import collapse_lab

    return collapse_lab


def write_report(results: list[PaperResult], out: Path, ctx: Context, false_alarm=1e-3,
                 level=0.99, figures=True, total_s=None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    rows = [r for res in results for r in res.rows]
    for res in results:
        if res.skipped:
            for r in res.rows:
                r.note = r.note or f"skipped: {res.skipped}"
    summary = finalise(rows, false_alarm=false_alarm, level=level, seed=ctx.seed)
    write_csv(out / "results.csv", rows)
    lines = [
        "# Published results, reproduced side by side",
        "",
        "Each row: the paper's number (and where it was read), the paper's seed count and the "
        "Monte-Carlo error it implies (the S-seed mean's standard error, and its central "
        f"{level:.0%} interval around the lab's theory, resampled from the lab's own chains), the "
        "lab's simulation (mean +- standard error across independent chains), the lab's theory, "
        "and two verdicts: simulation vs theory (the `check()` statistics: z across chains or "
        f"exact binomial; Bonferroni over {summary['num_checked']} checked rows, family-wise "
        f"false-alarm rate {false_alarm:g}, |z| threshold {summary['z_threshold']:.2f}) and "
        "paper vs theory (inside the paper's own Monte-Carlo interval, widened by the stated "
        "reading tolerance of values read off a plot, or not).",
        "",
        f"Sizes: {ctx.chains} chains per setting{' (tiny smoke-test sizes)' if ctx.tiny else ''}"
        f", seed {ctx.seed}; machine: {platform.platform()}, "
        f"{'total ' + format(total_s, '.0f') + ' s' if total_s is not None else ''}.",
        f"Simulation-vs-theory: {'ALL CHECKED ROWS PASS' if summary['all_pass'] else 'SOME ROWS FAIL'}.",
        "",
    ]
    lines.extend(_disagreements(rows))
    for res in results:
        lines.append(f"## {res.title}")
        lines.append("")
        if res.skipped:
            lines.append(f"**Skipped**: {res.skipped}. Rows light up when it is available.")
            lines.append("")
        mod = _module(res.name)
        doc = (mod.__doc__ or "").strip()
        if doc:
            lines.append(doc)
            lines.append("")
        if res.rows:
            lines.append(markdown_table(res.rows))
            lines.append("")
            notes = [f"- *{r.setting}, {r.quantity}*: {r.note}" for r in res.rows if r.note]
            if notes:
                lines.append("Row notes:")
                lines.extend(notes)
                lines.append("")
        for note in res.notes:
            lines.append(note)
            lines.append("")
        if figures and res.draw is not None and not res.skipped:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig = res.draw(res.rows)
            fig.savefig(out / f"{res.name}.png", dpi=110)
            plt.close(fig)
            lines.append(f"![{res.name}]({res.name}.png)")
            lines.append("")
        lines.append(f"_({res.seconds:.1f} s)_")
        lines.append("")
    (out / "report.md").write_text("\n".join(lines))
    return summary


BAD = ("OUTSIDE paper MC error", "DISAGREES", "BOUND VIOLATED", "claim NOT reproduced")


def _disagreements(rows) -> list[str]:
    """The rows where the lab disagrees with a paper beyond the paper's own error."""
    bad = [r for r in rows if r.paper_verdict in BAD]
    failed = [r for r in rows if r.sim_verdict == "FAIL"]
    out = ["## Where the lab disagrees", ""]
    if not bad:
        out.append("No published value lies outside its paper's own Monte-Carlo error (or "
                   "contradicts the exact theory) at these sizes.")
    for r in bad:
        out.append(f"- **{r.paper}, {r.setting}, {r.quantity}**: published {r.published.value}"
                   f" vs theory {r.theory:.4g} ({r.paper_verdict}). {r.note or ''}")
    if failed:
        out.append("")
        out.append("Simulation-vs-theory failures (expected in at most a fraction "
                   "`--false-alarm` of runs when the theory is right):")
        out.extend(f"- {r.paper}, {r.setting}, {r.quantity}: z = {r.sim_z:.2f}" for r in failed)
    out.append("")
    return out


CLI_HELP = "re-run published collapse experiments beside the lab's theory"
CLI_DESCRIPTION = ("Re-run published model-collapse experiments at the papers' settings and "
                   "write report.md, results.csv and one figure per paper: published value, "
                   "its Monte-Carlo error, the lab's simulation and exact theory, two verdicts.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``reproduce`` options, on any parser (the CLI's subcommand or this module's own)."""
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"entries to run (default: all): {', '.join(ENTRIES)}")
    p.add_argument("--out", default="reproductions", help="output folder (default: %(default)s)")
    p.add_argument("--chains", type=int, default=10_000, help="chains per setting")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiny", action="store_true", help="smoke-test sizes (seconds, not minutes)")
    p.add_argument("--discrete-max-sim-n", type=int, default=100,
                   help="largest n simulated to total collapse (K=10 fixation times)")
    p.add_argument("--discrete-exact-max-n", type=int, default=1000,
                   help="largest n given the exact fixation time (an (n-1)-state solve)")
    p.add_argument("--gmm-generations", type=int, default=2000)
    p.add_argument("--gmm-oracle-chains", type=int, default=200)
    p.add_argument("--gmm-em-chains", type=int, default=8)
    p.add_argument("--lm-generations", type=int, default=4)
    p.add_argument("--discrete-chains", type=int, default=4000,
                   help="chains simulated to total collapse (capped by --chains)")
    p.add_argument("--no-lm", action="store_true", help="skip the tiny-transformer entry")
    p.add_argument("--false-alarm", type=float, default=1e-3)
    p.add_argument("--level", type=float, default=0.99,
                   help="central level of the paper's Monte-Carlo interval")
    p.add_argument("--no-figures", action="store_true")


def build_parser():
    p = argparse.ArgumentParser(prog="collapse-lab reproduce", description=CLI_DESCRIPTION)
    add_arguments(p)
    return p


def main(argv=None) -> int:
    """``collapse-lab reproduce [NAME ...] [flags]`` (exit status 1 if a checked row fails)."""
    try:
        return run_args(build_parser().parse_args(argv))
    except ValueError as err:
        raise SystemExit(f"collapse-lab reproduce: error: {err}") from None


def run_args(args) -> int:
    """Run from parsed :func:`add_arguments` options (the CLI subcommand's entry)."""
    names = args.names or list(ENTRIES)
    unknown = [n for n in names if n not in ENTRIES]
    if unknown:
        raise ValueError(f"unknown reproduction(s) {unknown}; choose from {list(ENTRIES)}")
    if args.chains < 2:
        raise ValueError(f"--chains must be >= 2, got {args.chains}")
    ctx = Context(chains=args.chains, seed=args.seed, tiny=args.tiny,
                  discrete_max_sim_n=args.discrete_max_sim_n,
                  discrete_exact_max_n=args.discrete_exact_max_n, lm=not args.no_lm,
                  gmm_generations=args.gmm_generations,
                  gmm_oracle_chains=args.gmm_oracle_chains, gmm_em_chains=args.gmm_em_chains,
                  lm_generations=args.lm_generations, discrete_chains=args.discrete_chains)
    if args.tiny:
        ctx.gmm_generations = min(ctx.gmm_generations, 20)
        ctx.discrete_max_sim_n = min(ctx.discrete_max_sim_n, 10)
        ctx.discrete_exact_max_n = min(ctx.discrete_exact_max_n, 100)
    t0 = time.perf_counter()
    results = run_entries(names, ctx)
    out = Path(args.out)
    summary = write_report(results, out, ctx, args.false_alarm, args.level,
                           figures=not args.no_figures, total_s=time.perf_counter() - t0)
    print(f"[reproduce] wrote {out / 'report.md'}, {out / 'results.csv'} "
          f"({time.perf_counter() - t0:.0f} s); simulation vs theory: "
          f"{'all checked rows pass' if summary['all_pass'] else 'SOME ROWS FAIL'}")
    return 0 if summary["all_pass"] else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

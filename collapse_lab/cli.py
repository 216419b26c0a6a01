"""Command line ``collapse-lab``: demo, run, check, plot, resume, list (argparse subcommands).

A thin layer over :mod:`collapse_lab.spec` (experiment files), :mod:`collapse_lab.experiment`
(chunked runs, resume), :mod:`collapse_lab.io` (saved runs) and :mod:`collapse_lab.report`
(verdict tables, figures, report.md). Errors in the arguments or the experiment file print one
line naming the key and exit with status 2; ``check`` exits with 0 (every checked row passes), 1
(a row fails) or :data:`NOTHING_CHECKED` (3: no row could be checked). Every subcommand is one entry of :data:`COMMANDS`
(name, help, description, function adding its arguments, function running it).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as _dt
import shutil
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import jax

from . import analysis, io, report, reproductions
from ._version import __version__
from .chain import METHODS
from .check import check, format_table
from .experiment import BackgroundWriter, demo_suite, resume, run_experiment
from .policies import POLICIES
from .sampling import SamplingBias
from .spec import (
    SOURCE_GENERATORS,
    build_config,
    families,
    load_experiment,
    parse_experiment,
    signature_args,
    validate_experiment,
)

DEFAULT_DEMO_DIR = "collapse_lab_demo"
DEFAULT_RUNS_DIR = "collapse_lab_runs"
NOTHING_CHECKED = 3  # exit status of `check` when no theory row could be checked


# ------------------------------------------------------------------------------------ helpers
def _literal(text: str):
    """A TOML literal (``0.5``, ``[1, 2]``, ``true``, ``"x"``), or the bare text as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _pairs(items, flag: str) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{flag} takes KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = _literal(value.strip())
    return out


def _sample_sizes(text: str):
    parts = [p for p in text.split(",") if p.strip()]
    values = []
    for p in parts:
        try:
            values.append(int(p))
        except ValueError:
            raise ValueError(
                f"--num-samples takes an integer or a comma list, got {text!r}"
            ) from None
    return values[0] if len(values) == 1 else values


def _set_x64(enabled: bool) -> None:
    import jax

    if bool(jax.config.read("jax_enable_x64")) != bool(enabled):
        jax.config.update("jax_enable_x64", bool(enabled))


def _run_x64(run_dir: Path) -> bool:
    return io.stored_x64(run_dir)


def _run_dir(args) -> Path:
    """``args.run_dir`` as a path, refused (naming RUN_DIR) unless it is a collapse_lab run."""
    run_dir = Path(args.run_dir)
    if not run_dir.exists():
        raise ValueError(f"RUN_DIR {run_dir} does not exist")
    if not run_dir.is_dir():
        raise ValueError(f"RUN_DIR {run_dir} is not a directory")
    if not io.is_run_dir(run_dir):
        raise ValueError(
            f"RUN_DIR {run_dir} is not a collapse_lab run, sweep or demo directory "
            f"(no {io.RUN_MANIFEST})"
        )
    return run_dir


def _overrides(items) -> dict | None:
    """``--override KEY=VALUE`` pairs (theory inputs of ``check``), or None."""
    out = _pairs(items, "--override")
    for key in out:
        if not key.isidentifier():
            raise ValueError(
                f"--override takes KEY=VALUE with KEY a theory input name, got {key!r}"
            )
    return out or None


def _print_table(table, title: str, max_rows: int | None = None) -> None:
    """Print the verdict table; beyond ``max_rows`` rows, one line per kind of quantity."""
    if len(table) == 0:
        note = table.attrs.get("note") or "no theory prediction applies to this configuration"
        print(f"{title}\n({note})\n")
    elif max_rows is None or len(table) <= max_rows:
        print(format_table(table, title) + "\n")
    else:
        print(report.condensed_table(table, title) + "\n")


# ------------------------------------------------------------------------------------ demo
def _demo_suite(args) -> list[dict]:
    """The demo experiments (``collapse_lab/experiments/*.toml``) of the installed families."""
    suite = []
    for entry in demo_suite():
        name = entry["family"]["name"]
        if name not in families():
            print(
                f"[demo] skipping {entry['name']}: the {name} family is not installed", flush=True
            )
            continue
        suite.append(entry)
    covered = {e["family"]["name"] for e in suite}
    for name in families():
        if name not in covered:
            print(f"[demo] no demo experiment for the {name} family", flush=True)
    if args.only:
        unknown = set(args.only) - {e["name"] for e in suite}
        if unknown:
            names = ", ".join(e["name"] for e in suite)
            raise ValueError(
                f"--only: unknown experiment(s) {sorted(unknown)} (available: {names})"
            )
        suite = [e for e in suite if e["name"] in args.only]
    for entry in suite:
        entry["seed"] = args.seed
        entry["false_alarm"] = args.false_alarm
        if args.num_chains is not None:
            entry["num_chains"] = args.num_chains
        if args.num_generations is not None:
            entry["num_generations"] = args.num_generations
    return suite


def _demo_one(exp, out: Path, args, writer):
    """Run one suite experiment; print its verdict (figures are drawn on ``writer``'s thread)."""
    t0 = time.perf_counter()
    sub = run_experiment(
        exp,
        out / exp.name,
        progress=args.progress,
        figures=args.figures,
        sweep_run_figures=False,
        background=writer,
    )
    took = time.perf_counter() - t0
    if exp.sweep:
        points = [
            {"assignment": a, "result": r, "table": report.verdict(r, exp.false_alarm)}
            for a, r in sub
        ]
        print(
            f"{exp.name}: sweep over {', '.join(exp.sweep)} ({len(points)} runs in {took:.1f} s; "
            f"verdict tables in {out / exp.name}/runs/*/report.md)"
        )
        print(report.sweep_lines(points) + "\n", flush=True)
        return all(p["table"].attrs["passed"] for p in points), "collapse_rate.png"
    table = report.verdict(sub, exp.false_alarm)
    _print_table(table, f"{exp.name} ({took:.1f} s): {report.run_title(sub)}", max_rows=60)
    return bool(table.attrs["passed"]), "trajectories.png"


def _demo(args) -> int:
    out = Path(args.out)
    if out.exists() and io.is_run_dir(out) and io.run_kind(out) == "demo":
        shutil.rmtree(out)  # the demo replaces its own previous output
    io.prepare_run_dir(out, force=args.force)
    io.write_demo_manifest(out, status="running")
    t0 = time.perf_counter()
    experiments = [parse_experiment(e) for e in _demo_suite(args)]
    sections, all_passed = [], True
    with BackgroundWriter() as writer:
        for exp in experiments:
            passed, figure = _demo_one(exp, out, args, writer)
            all_passed &= passed
            sections.append((exp, passed, figure))
    wall = time.perf_counter() - t0
    report.write_demo_report(out, sections, wall)
    io.write_demo_manifest(out, status="complete", passed=all_passed, wall_s=round(wall, 2))
    summary = "ALL PASS" if all_passed else "SOME ROWS FAIL"
    print(
        f"demo: {len(sections)} experiments, {summary}, {wall:.1f} s; figures and report in "
        f"{out}/ (open {out / io.REPORT})"
    )
    return 0 if all_passed else 1


# ------------------------------------------------------------------------------------ run
def _experiment_from_args(args):
    if args.config:
        data = load_experiment(args.config).to_dict()
    else:
        data = {
            "family": {"name": "gaussian"},
            "num_chains": 1000,
            "num_generations": 100,
            "num_samples": 10,
        }
    fam = data["family"] if isinstance(data["family"], dict) else {"name": data["family"]}
    if args.family:
        fam = {"name": args.family}
        data["source"] = {}
    fam.update(_pairs(args.family_arg, "--family-arg"))
    data["family"] = fam
    if args.source:
        data["source"] = {**data.get("source", {}), **_pairs(args.source, "--source")}
    if args.policy or args.alpha is not None or args.policy_arg:
        pol = data.get("policy", "replace")
        pol = {"name": pol} if isinstance(pol, str) else dict(pol)
        if args.policy:
            pol = {"name": args.policy}
        if args.alpha is not None:
            pol["alpha"] = args.alpha
        pol.update(_pairs(args.policy_arg, "--policy-arg"))
        data["policy"] = pol
    sampling = dict(data.get("sampling", {}))
    for key in ("temperature", "top_k", "top_p", "min_p", "epsilon"):
        value = getattr(args, key)
        if value is not None:
            sampling[key] = value
    if sampling:
        data["sampling"] = sampling
    for key in (
        "num_chains",
        "num_generations",
        "method",
        "seed",
        "chunk_size",
        "false_alarm",
        "key_impl",
        "name",
    ):
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    if args.num_samples is not None:
        data["num_samples"] = _sample_sizes(args.num_samples)
    if args.x64:
        data["x64"] = True
    if args.reduce:
        data["reduce"] = True
    if args.chain_batch is not None:
        data["chain_batch"] = args.chain_batch
    if args.sweep:
        sweep = dict(data.get("sweep", {}))
        for item in args.sweep:
            if "=" not in item:
                raise ValueError(f"--sweep takes KEY=V1,V2,..., got {item!r}")
            key, values = item.split("=", 1)
            sweep[key.strip()] = [_literal(v.strip()) for v in values.split(",") if v.strip()]
        data["sweep"] = sweep
    return parse_experiment(data)


def _run(args) -> int:
    try:
        experiment = _experiment_from_args(args)
        validate_experiment(experiment)
    except ValueError as err:
        if args.config and str(args.config) not in str(err):
            raise ValueError(f"{args.config}: {err}") from None
        raise
    _set_x64(experiment.x64)
    if args.out:
        out = Path(args.out)
    else:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path(DEFAULT_RUNS_DIR) / f"{experiment.name}-{stamp}"
    print(f"running {experiment.name} into {out}", file=sys.stderr, flush=True)
    result = run_experiment(
        experiment, out, force=args.force, progress=args.progress, figures=args.figures
    )
    _report_finished(out, experiment, result)
    return 0


def _report_finished(out: Path, experiment, result) -> None:
    if experiment.sweep:
        points = [
            {"assignment": a, "result": r, "table": report.verdict(r, experiment.false_alarm)}
            for a, r in result
        ]
        print(f"{experiment.name}: sweep over {', '.join(experiment.sweep)}")
        print(report.sweep_lines(points))
    else:
        _print_table(report.verdict(result, experiment.false_alarm), report.run_title(result))
    print(f"saved to {out}/ (report: {out / 'report.md'})")


# ------------------------------------------------------------------------------------ others
def _demo_children(run_dir: Path) -> list[Path]:
    """The saved runs and sweeps inside a demo directory."""
    return sorted(p for p in run_dir.iterdir() if p.is_dir() and io.is_run_dir(p))


def _check(args) -> int:
    run_dir = _run_dir(args)
    if io.run_kind(run_dir) == "demo":
        codes = [_check_one(child, args) for child in _demo_children(run_dir)]
        return _combined_status(codes)
    return _check_one(run_dir, args)


def _combined_status(codes) -> int:
    """1 if any table fails; else 0 if any row was checked; else NOTHING_CHECKED."""
    codes = list(codes)
    if 1 in codes:
        return 1
    if 0 in codes or not codes:
        return 0
    return NOTHING_CHECKED


def _check_one(run_dir: Path, args) -> int:
    overrides = _overrides(args.override)
    _set_x64(_run_x64(run_dir))
    if io.run_kind(run_dir) == "sweep":
        pairs = io.load_sweep(run_dir)
    else:
        pairs = [({}, io.load(run_dir))]
    experiment = io.read_experiment(run_dir)
    false_alarm = args.false_alarm or (experiment.false_alarm if experiment else 1e-3)
    codes = []
    for assignment, result in pairs:
        table = check(result, false_alarm=false_alarm, overrides=overrides)
        where = f" [{', '.join(f'{k}={v}' for k, v in assignment.items())}]" if assignment else ""
        title = f"{run_dir}: {report.run_title(result)}{where}" + (
            f"\ntheory overrides: {overrides}" if overrides else ""
        )
        _print_table(table, title)
        if table.attrs.get("verdict") == "nothing checked":
            codes.append(NOTHING_CHECKED)
        else:
            codes.append(0 if table.attrs["passed"] else 1)
    status = _combined_status(codes)
    if status == NOTHING_CHECKED:
        print(
            f"{run_dir}: nothing checked (no theory row applies or the needed statistics were "
            f"not kept); exit status {NOTHING_CHECKED}"
        )
    return status


def _plot(args) -> int:
    run_dir = _run_dir(args)
    kind = io.run_kind(run_dir)
    if kind == "demo":
        for child in _demo_children(run_dir):
            _plot(argparse.Namespace(**{**vars(args), "run_dir": str(child)}))
        return 0
    if kind not in ("run", "sweep"):
        raise ValueError(f"{run_dir} is a {kind} directory; plot takes a run or a sweep")
    _set_x64(_run_x64(run_dir))
    experiment = io.read_experiment(run_dir)
    false_alarm = experiment.false_alarm if experiment else 1e-3
    report.redraw(run_dir, false_alarm)
    figures = sorted(run_dir.glob(f"**/{io.FIGURES}/*.png"))
    for path in figures:
        print(path)
    print(f"report: {run_dir / io.REPORT}")
    return 0


def _resume(args) -> int:
    run_dir = _run_dir(args)
    if io.run_kind(run_dir) == "demo":
        for child in _demo_children(run_dir):
            _resume(argparse.Namespace(**{**vars(args), "run_dir": str(child)}))
        return 0
    _set_x64(_run_x64(run_dir))
    experiment = io.read_experiment(run_dir)
    if experiment is None:
        raise ValueError(f"{run_dir} was saved from Python (no experiment): nothing to resume")
    before = io.run_status(run_dir)
    result = resume(run_dir, progress=args.progress, figures=args.figures)
    if before == "complete":
        print(f"{run_dir} was already complete; nothing to resume")
    _report_finished(run_dir, experiment, result)
    return 0


def _list(args) -> int:
    demo_specs = {}
    for entry in demo_suite():
        demo_specs.setdefault(entry["family"]["name"], entry)
    print("Families (collapse_lab.FAMILIES):")
    for name, cls in families().items():
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        args_, _ = signature_args(cls.__init__)
        src, _ = signature_args(cls.source)
        print(f"  {name}: {cls.__name__}({', '.join(args_)}) - {doc}")
        print(f"      source: {cls.__name__}.source({', '.join(src)})")
        spec = demo_specs.get(name)
        if spec is None:
            print("      (no example experiment: observables and predictions need a source)")
            continue
        base = {k: v for k, v in copy.deepcopy(spec).items() if k not in ("sweep", "name")}
        base.update(num_chains=2, num_generations=10)
        try:
            exp = parse_experiment({**base, "policy": "replace"})
            config = build_config(exp)
            exact = "yes" if config.family.has_exact else "no"
            print(f"      exact method (method='exact') for the example arguments: {exact}")
            obs = jax.eval_shape(config.family.observe, config.source, config.source)
            print(f"      observables: {', '.join(obs)}")
            for pol in ("replace", "accumulate", {"name": "fresh", "alpha": 0.2}):
                config = build_config(parse_experiment({**base, "policy": pol}))
                preds = config.family.predictions(config)
                # Per-item rows ("E[P_t(a,b)] #3") are listed once, without their index.
                seen = dict.fromkeys(f"{analysis.item_label(p.label)} [{p.formula}]" for p in preds)
                pname = pol if isinstance(pol, str) else "fresh(alpha)"
                print(f"      predictions ({pname}): {', '.join(seen) or 'none'}")
        except ValueError as err:
            print(f"      (example experiment failed: {err})")
    print("\nPolicies:")
    for name, cls in POLICIES.items():
        fields = [f.name for f in dataclasses.fields(cls)]
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"  {name}{'(' + ', '.join(fields) + ')' if fields else ''}: {doc}")
    bias = [f"{f.name}" for f in dataclasses.fields(SamplingBias)]
    print(f"\nSampling bias ([sampling] table / flags): {', '.join(bias)}")
    print(f"Methods: {', '.join(METHODS)}")
    print(f"Source generators ([source] zipf = {{exponent = 1.1}}): {', '.join(SOURCE_GENERATORS)}")
    print(f"collapse_lab {__version__}")
    return 0


# ------------------------------------------------------------------------------------ parser
def _add_output_flags(p, *, progress=True):
    if progress:
        p.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="show a progress bar (default: only on a terminal)",
        )
    p.add_argument(
        "--no-figures",
        dest="figures",
        action="store_false",
        help="skip the figures (faster; no matplotlib needed)",
    )


def _demo_arguments(demo) -> None:
    demo.add_argument(
        "--out",
        default=DEFAULT_DEMO_DIR,
        help=f"output directory (default ./{DEFAULT_DEMO_DIR}; a previous demo "
        "output there is replaced)",
    )
    demo.add_argument("--seed", type=int, default=0, help="integer seed (default 0)")
    demo.add_argument(
        "--num-chains", type=int, default=None, help="override every experiment's number of chains"
    )
    demo.add_argument(
        "--num-generations",
        type=int,
        default=None,
        help="override every experiment's number of generations",
    )
    demo.add_argument(
        "--false-alarm",
        type=float,
        default=1e-3,
        help="family-wise false-alarm rate of each verdict table (default 1e-3)",
    )
    demo.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this suite experiment (repeatable), e.g. gaussian-replace",
    )
    demo.add_argument(
        "--force",
        action="store_true",
        help="replace an existing collapse_lab run directory at --out",
    )
    _add_output_flags(demo)


def _run_arguments(run) -> None:
    run.add_argument("--config", metavar="FILE", help="experiment file (.toml or .json)")
    run.add_argument("--name", help="run name (default FAMILY-POLICY)")
    run.add_argument("--family", help="family name (see `collapse-lab list`; default gaussian)")
    run.add_argument(
        "--family-arg",
        action="append",
        metavar="KEY=VALUE",
        help="family argument, e.g. dim=2 or estimator=unbiased (repeatable)",
    )
    run.add_argument(
        "--source",
        action="append",
        metavar="KEY=VALUE",
        help="source argument, e.g. mean=0 cov=1, probs=[0.5,0.5], "
        "or 'zipf={exponent=1.1}' (repeatable)",
    )
    run.add_argument(
        "--policy", choices=sorted(POLICIES), help="data policy (default replace)"
    )
    run.add_argument("--alpha", type=float, help="fresh-data fraction of policy fresh, in [0, 1]")
    run.add_argument(
        "--policy-arg",
        action="append",
        metavar="KEY=VALUE",
        help="policy argument, e.g. every=10 (refresh) or w=5 (window) (repeatable)",
    )
    run.add_argument("--temperature", type=float, help="sampling temperature (> 0)")
    run.add_argument("--top-k", type=int, help="top-k sampling bias (>= 1)")
    run.add_argument("--top-p", type=float, help="nucleus sampling bias in (0, 1]")
    run.add_argument("--min-p", type=float, help="min-p sampling bias in (0, 1]")
    run.add_argument("--epsilon", type=float, help="truncation sampling bias in (0, 1)")
    run.add_argument("--num-chains", type=int, help="independent chains (default 1000)")
    run.add_argument("--num-generations", type=int, help="generations T (default 100)")
    run.add_argument("--num-samples", help="training-set size n, or a comma list n_0,n_1,...")
    run.add_argument("--method", choices=["sample", "exact"], help="default sample")
    run.add_argument("--seed", type=int, help="integer seed in [0, 2**32) (default 0)")
    run.add_argument("--chunk-size", type=int, help="generations per jitted chunk / checkpoint")
    run.add_argument("--false-alarm", type=float, help="family-wise false-alarm rate")
    run.add_argument("--key-impl", help="PRNG implementation (default threefry2x32)")
    run.add_argument("--x64", action="store_true", help="simulate in float64 (jax_enable_x64)")
    run.add_argument(
        "--reduce",
        action="store_true",
        help="keep only across-chain summaries per generation (reduce = true): memory and files "
        "independent of the number of chains; for runs whose per-chain arrays are too large",
    )
    run.add_argument(
        "--chain-batch",
        type=int,
        help="with --reduce: chains per compiled batch and per checkpoint (default 65536)",
    )
    run.add_argument(
        "--sweep",
        action="append",
        metavar="KEY=V1,V2",
        help="sweep an axis, e.g. num_samples=10,100 or alpha=0.1,0.5 (repeatable)",
    )
    run.add_argument("--out", help=f"run directory (default ./{DEFAULT_RUNS_DIR}/NAME-TIME)")
    run.add_argument(
        "--force", action="store_true", help="replace an existing collapse_lab run directory"
    )
    _add_output_flags(run)


def _check_arguments(chk) -> None:
    chk.add_argument("run_dir", metavar="RUN_DIR")
    chk.add_argument(
        "--false-alarm",
        type=float,
        default=None,
        help="family-wise false-alarm rate (default: the run's)",
    )
    chk.add_argument(
        "--override",
        action="append",
        metavar="KEY=VALUE",
        help="theory override for a negative control, e.g. estimator=unbiased",
    )


def _plot_arguments(plot) -> None:
    plot.add_argument("run_dir", metavar="RUN_DIR")


def _no_arguments(parser) -> None:
    del parser


def _resume_arguments(res) -> None:
    res.add_argument("run_dir", metavar="RUN_DIR")
    _add_output_flags(res)


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand: its help line, description, argument setup and the function it runs
    (``run(args) -> exit status``; a ``ValueError`` prints one line and exits with status 2)."""

    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {
    "demo": Command(
        "run the default suite; print verdict tables; write figures and report.md",
        "Run the default collapse suite (collapse_lab/experiments/*.toml: Gaussian replace / "
        "accumulate / fresh, a sweep over n, and the other installed families), print the "
        "verdict tables, and write saved runs, figures and report.md into --out.",
        _demo_arguments,
        _demo,
    ),
    "run": Command(
        "run an experiment from flags or a TOML file, save it, print the verdict",
        "Run chains from an experiment file (--config) and/or flags (flags override "
        "the file), checkpointing every chunk, then save arrays, tables, figures and report.md. "
        "With --reduce (reduce = true) only across-chain summaries are kept, checkpointed after "
        "every chain batch.",
        _run_arguments,
        _run,
    ),
    "check": Command(
        "recompute and print the verdict table of a saved run",
        "Load a saved run (or sweep) and print its verdict table; exit status 0 if every "
        "checked row passes, 1 if a row fails, 3 if nothing could be checked (no prediction "
        "applies, or a reduced run kept none of the statistics the predictions need).",
        _check_arguments,
        _check,
    ),
    "plot": Command(
        "redraw the figures and report.md of a saved run",
        "Redraw figures/ and report.md of a saved run or sweep.",
        _plot_arguments,
        _plot,
    ),
    "resume": Command(
        "continue a killed run from its last checkpoint",
        "Continue a killed run or sweep from its last verified "
        "checkpoint; the result is bit-identical to an uninterrupted run.",
        _resume_arguments,
        _resume,
    ),
    "list": Command(
        "families, policies, observables and predictions",
        "List the families, policies, sampling biases, observables "
        "and the theory predictions available for each family and policy.",
        _no_arguments,
        _list,
    ),
    "reproduce": Command(
        reproductions.CLI_HELP,
        reproductions.CLI_DESCRIPTION,
        reproductions.add_arguments,
        reproductions.run_args,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collapse-lab",
        description="Model-collapse laboratory: self-consuming resampling chains checked "
        "against exact theory.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.description)
        command.arguments(p)
        # Looked up by name at call time, so tests (and wrappers) may replace a command.
        p.set_defaults(func=lambda args, name=name: COMMANDS[name].run(args))
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"collapse-lab {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Orchestration: run an experiment (or its sweep) in checkpointed chunks, and resume it.

:func:`run_experiment` validates every (sub-)run up front (:mod:`collapse_lab.spec`), then runs the
generations in jitted chunks (a Python loop) with a tqdm progress bar and an atomic checkpoint
after every chunk (:mod:`collapse_lab.io`), and finally writes the tables, figures and report
(:mod:`collapse_lab.report`). :func:`resume` continues a killed run to a result bit-identical to an
uninterrupted one.

A reduced experiment (``reduce = true``) runs :func:`collapse_lab.run_reduced` over chain batches
instead, checkpointing the accumulated across-chain summaries after every batch; resuming it
continues after the last finished batch, again bit-identically.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import tomllib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

from . import io, report
from .chain import check_memory, continue_run, start_run
from .reduce import DEFAULT_CHAIN_BATCH, run_reduced_config
from .spec import (
    Experiment,
    build_config,
    default_chunk_size,
    load_experiment,
    parse_experiment,
    validate_experiment,
)

__all__ = ["BackgroundWriter", "demo_suite", "resume", "run_experiment"]


def demo_suite() -> list[dict]:
    """The demo experiments, ``collapse_lab/experiments/*.toml`` in file-name order (plain data).

    Small and exact where possible: the whole suite runs in about a minute on 2 CPU cores.
    """
    files = sorted(
        (p for p in resources.files("collapse_lab").joinpath("experiments").iterdir()),
        key=lambda p: p.name,
    )
    return [tomllib.loads(p.read_text(encoding="utf-8")) for p in files if p.name.endswith(".toml")]


def _progress_bar(
    total: int, initial: int, desc: str, enabled, num_chains: int, unit: str = "gen", note=None
):
    """tqdm bar in generations (shows gen/s and the ETA; chains for a reduced run); on stderr,
    only on a terminal unless ``enabled`` forces it on or off."""
    disable = None if enabled is None else not enabled
    try:
        width = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        width = 0
    bar = tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        # A terminal that reports a 0 x 0 size (e.g. under `script`) would get no bar at all.
        dynamic_ncols=width > 0,
        ncols=None if width > 0 else 100,
        nrows=None if width > 0 else 24,
        disable=disable,
        file=sys.stderr,
        smoothing=0.3,
    )
    bar.set_postfix_str(note or f"{num_chains:,} chains", refresh=False)
    return bar


def _execute(
    run_dir: Path, experiment: Experiment, config, result, progress, figures: bool, background=None
):
    """Advance ``result`` to the end with checkpoints and a progress bar, then save everything."""
    io.acquire_lock(run_dir)
    checkpoint = io.Checkpoint(run_dir)
    chunk = experiment.chunk_size or default_chunk_size(config.num_generations)
    bar = _progress_bar(
        config.num_generations,
        result.generations_done,
        experiment.name,
        progress,
        config.num_chains,
    )
    last = [result.generations_done]
    t0 = time.perf_counter()

    def callback(stop, params, pool, obs_chunk):
        checkpoint.write_chunk(last[0], stop, params, pool, obs_chunk)
        bar.update(stop - last[0])
        last[0] = stop

    try:
        try:
            result = continue_run(result, chunk_size=chunk, callback=callback)
        finally:
            bar.close()
        _record_and_finalize(run_dir, result, experiment, t0, figures, background)
    finally:
        io.release_lock(run_dir)
    return result


def _check_memory(config) -> None:
    """The memory guard of kept runs, pointing at reduced mode."""
    try:
        check_memory(config)
    except ValueError as err:
        raise ValueError(
            f"{err}. From an experiment: set reduce = true in the file or pass "
            "`collapse-lab run --reduce` (across-chain summaries only)"
        ) from None


def _execute_reduced(
    run_dir: Path, experiment: Experiment, config, progress, figures: bool, background=None
):
    """Run (or continue) a reduced run over chain batches, checkpointing the accumulated
    summaries after each batch, then save everything."""
    io.acquire_lock(run_dir)
    try:
        checkpoint = io.ReducedCheckpoint(run_dir)
        state = checkpoint.restore()
        done = 0 if state is None else int(state["done"])
        bar = _progress_bar(
            config.num_chains,
            done,
            experiment.name,
            progress,
            config.num_chains,
            unit="chain",
            note=f"{config.num_generations:,} generations, reduced",
        )
        last = [done]
        t0 = time.perf_counter()

        def advance(stop, _total):
            bar.update(stop - last[0])
            last[0] = stop

        try:
            result = run_reduced_config(
                config,
                chain_batch=experiment.chain_batch or DEFAULT_CHAIN_BATCH,
                state=state,
                on_batch=checkpoint.write,
                progress=advance,
            )
        finally:
            bar.close()
        _record_and_finalize(run_dir, result, experiment, t0, figures, background)
    finally:
        io.release_lock(run_dir)
    return result


def _record_and_finalize(run_dir, result, experiment, t0, figures, background) -> None:
    """Record the session's wall time and timings, then write the verdict, report and figures."""
    io.record_session(
        run_dir,
        wall_s=time.perf_counter() - t0,
        generations=result.generations_done,
        timings=result.timings,
    )
    report.finalize(
        run_dir, result, false_alarm=experiment.false_alarm, figures=figures, background=background
    )


def run_experiment(
    experiment,
    run_dir,
    *,
    force: bool = False,
    progress=None,
    figures: bool = True,
    sweep_run_figures: bool = True,
    background: BackgroundWriter | None = None,
):
    """Run an experiment (or every point of its sweep) into ``run_dir`` and save it.

    Args:
        experiment: an :class:`Experiment`, a plain-data dict, or a path to a TOML/JSON file.
        run_dir: the run directory to create (see the README for its layout).
        force: replace an existing run directory (only one made by collapse_lab).
        progress: show a tqdm progress bar (None: only when stderr is a terminal).
        figures: draw figures (needs matplotlib and seaborn).
        sweep_run_figures: for a sweep, also draw every sub-run's own figures (the sweep
            figure is drawn whenever ``figures`` is True).
        background: a :class:`BackgroundWriter`: draw figures and reports on its thread while
            the next run compiles (call its ``wait()`` before reading the run directories).

    Returns:
        The :class:`~collapse_lab.chain.RunResult` of a single run (a
        :class:`~collapse_lab.reduce.ReducedResult` with ``reduce = true``), or for a sweep a
        list of ``(assignment, result)`` pairs.

    Raises:
        ValueError: bad experiment (named key), ``run_dir`` exists and ``force`` is False, or a
            kept run whose observables would not fit in memory (use ``reduce = true``).
    """
    experiment = _as_experiment(experiment)
    runs = validate_experiment(experiment)
    for _, sub in runs:
        if not sub.reduce:  # refuse before anything is written
            _check_memory(build_config(sub))
    run_dir = Path(run_dir)
    io.prepare_run_dir(run_dir, force=force)
    if experiment.sweep:
        io.write_sweep_manifest(run_dir, experiment, [a for a, _ in runs])
        out = []
        for index, (assignment, sub) in enumerate(runs):
            sub_dir = io.prepare_run_dir(io.sweep_run_dir(run_dir, index, assignment))
            sub_figures = figures and sweep_run_figures
            out.append((assignment, _start(sub, sub_dir, progress, sub_figures, background)))
        if background is not None:
            background.submit(report.finalize_sweep, run_dir, figures=figures, results=out)
        else:
            report.finalize_sweep(run_dir, figures=figures, results=out)
        return out
    return _start(experiment, run_dir, progress, figures, background)


class BackgroundWriter:
    """One worker thread for figures and reports (matplotlib work is Python, holding the GIL,
    while XLA compilation and the kernels release it, so the two overlap on a 2-core machine).

    Use as a context manager; leaving it waits for every task and re-raises the first error.
    """

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collapse-lab-writer")
        self._futures = []

    def submit(self, func, *args, **kwargs):
        future = self._pool.submit(func, *args, **kwargs)
        self._futures.append(future)
        return future

    def wait(self) -> None:
        """Wait for every submitted task; raise the first exception one of them raised."""
        try:
            for future in self._futures:
                future.result()
        finally:
            self._futures.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)
        return False


def _start(experiment: Experiment, run_dir: Path, progress, figures: bool, background=None):
    config = build_config(experiment)
    io.begin_run(run_dir, config, experiment)
    if experiment.reduce:
        return _execute_reduced(run_dir, experiment, config, progress, figures, background)
    result = start_run(config)
    io.Checkpoint(run_dir).write_initial(result)
    return _execute(run_dir, experiment, config, result, progress, figures, background)


def resume(run_dir, *, progress=None, figures: bool = True):
    """Continue a killed (or finished) run or sweep from its last checkpoint.

    The result is bit-identical to an uninterrupted run. A corrupt or truncated checkpoint is
    detected (SHA-256 in the checkpoint manifest) and refused with a ``ValueError``.

    Returns:
        As :func:`run_experiment`.
    """
    run_dir = Path(run_dir)
    kind = io.run_kind(run_dir)
    if kind == "sweep":
        if io.run_status(run_dir) == "complete":
            return io.load_sweep(run_dir)
        experiment = io.read_experiment(run_dir)
        out = []
        for index, (assignment, sub) in enumerate(experiment.sub_runs()):
            sub_dir = io.sweep_run_dir(run_dir, index, assignment)
            if not (sub_dir / io.RUN_MANIFEST).exists():
                # Never started (or killed before its manifest): the folder is ours to redo.
                shutil.rmtree(sub_dir, ignore_errors=True)
                io.prepare_run_dir(sub_dir)
                out.append((assignment, _start(sub, sub_dir, progress, figures)))
            else:
                out.append((assignment, _resume_one(sub_dir, progress, figures)))
        report.finalize_sweep(run_dir, figures=figures, results=out)
        return out
    if kind != "run":
        raise ValueError(f"{run_dir} is a {kind} directory; resume takes a run or a sweep")
    return _resume_one(run_dir, progress, figures)


def _resume_one(run_dir: Path, progress, figures: bool):
    experiment = io.read_experiment(run_dir)
    if experiment is None:
        raise ValueError(
            f"{run_dir} was saved from Python, not run from an experiment: nothing to resume"
        )
    if io.run_status(run_dir) == "complete":
        return io.load(run_dir)
    config = build_config(experiment)
    io.check_config_matches(run_dir, config)
    if experiment.reduce:
        return _execute_reduced(run_dir, experiment, config, progress, figures)
    _check_memory(config)
    io.acquire_lock(run_dir)  # before touching the checkpoint: refuse a run still in progress
    result = io.Checkpoint(run_dir).restore(config)
    return _execute(run_dir, experiment, config, result, progress, figures)


def _as_experiment(experiment) -> Experiment:
    if isinstance(experiment, Experiment):
        return experiment
    if isinstance(experiment, (str, Path)):
        return load_experiment(experiment)
    if isinstance(experiment, Mapping):
        return parse_experiment(experiment)
    raise ValueError(f"experiment must be an Experiment, a dict or a file path, got {experiment!r}")

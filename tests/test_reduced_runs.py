"""Reduced runs (``reduce = true`` / ``collapse-lab run --reduce``) saved, resumed, checked, plotted.

The acceptance test SIGKILLs a reduced ``collapse-lab run`` after a few chain batches, resumes it,
and compares every saved summary bit for bit with an uninterrupted run. Also: the experiment keys
are validated, the memory guard of kept runs points at reduced mode, and ``check`` exits with its
own status when nothing could be checked. Fixed seeds. Statistical assertions: the saved run's
verdict passes (family-wise false-alarm rate 1e-3, Bonferroni over its rows) and, on the same
summaries, the negative control (the unbiased estimator's theory) fails its E[log var] row at
generation 20 (expected z about 6.5 against a |z| threshold of about 4.2: a miss rate near 1 %).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import collapse_lab as cl
from collapse_lab import experiment, io
from collapse_lab.cli import NOTHING_CHECKED, main
from collapse_lab.reduce import MOMENT_FIELDS, run_reduced_config
from collapse_lab.spec import build_config, parse_experiment

BASE = {
    "name": "reduced",
    "family": {"name": "gaussian"},
    "num_chains": 100,
    "num_generations": 5,
    "num_samples": 8,
}


def test_reduce_keys_are_validated_and_round_trip():
    exp = parse_experiment({**BASE, "reduce": True, "chain_batch": 64})
    assert exp.reduce and exp.chain_batch == 64
    assert parse_experiment(exp.to_dict()) == exp
    plain = parse_experiment(BASE)
    assert not plain.reduce and "reduce" not in plain.to_dict()  # old records unchanged
    with pytest.raises(ValueError, match="chain_batch applies only to reduced runs"):
        parse_experiment({**BASE, "chain_batch": 64})
    with pytest.raises(ValueError, match="chain_batch"):
        parse_experiment({**BASE, "reduce": True, "chain_batch": 0})
    with pytest.raises(ValueError, match="reduce must be true or false"):
        parse_experiment({**BASE, "reduce": "yes"})


def test_chain_batch_flag_without_reduce_is_refused(tmp_path, capsys):
    code = main(["run", "--chain-batch", "64", "--out", str(tmp_path / "x"), "--no-figures"])
    assert code == 2 and "chain_batch applies only to reduced runs" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_kept_run_too_large_for_memory_is_refused_pointing_at_reduce(tmp_path):
    # 10^7 chains x 10^5 generations of kept observables: petabytes. Refused before any file.
    huge = {**BASE, "num_chains": 10**7, "num_generations": 10**5}
    with pytest.raises(ValueError, match=r"reduce = true.*--reduce"):
        experiment.run_experiment(huge, tmp_path / "huge", figures=False, progress=False)
    assert not (tmp_path / "huge").exists()


def _chains_done(run_dir):
    try:
        return json.loads((run_dir / "checkpoint" / "manifest.json").read_text())["chains_done"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def test_reduced_sigkill_then_resume_is_bit_identical_checked_and_plotted(tmp_path, capsys):
    num_chains, batch = 1280, 64  # 20 chain batches, one checkpoint after each
    args = [
        *("run", "--reduce", "--chain-batch", str(batch), "--num-chains", str(num_chains)),
        *("--num-generations", "20", "--num-samples", "300", "--method", "sample"),
        *("--seed", "4", "--name", "big", "--out", "killed", "--no-figures"),
    ]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "collapse_lab.cli", *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run_dir = tmp_path / "killed"
    deadline = time.monotonic() + 200
    while _chains_done(run_dir) < 2 * batch and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = _chains_done(run_dir)
    assert 2 * batch <= done < num_chains and done % batch == 0, done  # killed mid-way
    assert io.run_status(run_dir) == "running"

    # A damaged checkpoint is refused with a clear message, never silently used.
    damaged = tmp_path / "damaged"
    shutil.copytree(run_dir, damaged)
    saved = damaged / "checkpoint" / f"reduced-{done:012d}.npz"
    saved.write_bytes(saved.read_bytes()[:100])
    assert main(["resume", str(damaged), "--no-figures"]) == 2
    assert f"reduced-{done:012d}.npz is corrupt or truncated" in capsys.readouterr().err

    assert main(["resume", str(run_dir), "--no-figures"]) == 0
    assert "ALL PASS" in capsys.readouterr().out  # family-wise false-alarm rate 1e-3
    assert io.run_status(run_dir) == "complete"
    names = {p.name for p in run_dir.iterdir()}
    assert {"reduced.npz", "summary.csv", "check.csv", "report.md"} <= names
    assert "arrays.npz" not in names and "checkpoint" not in names
    got = io.load(run_dir)
    assert got.reduced and got.chain_batch == batch

    # Reference: uninterrupted, same config and the same (pilot) histogram edges.
    config = build_config(io.read_experiment(run_dir))
    edges = {k: e for k, (e, _) in got.histograms.items()}
    want = run_reduced_config(config, chain_batch=batch, histogram_edges=edges)
    assert set(got.moments) == set(want.moments)
    for name, m in want.moments.items():
        for field in MOMENT_FIELDS:
            a, b = getattr(got.moments[name], field), getattr(m, field)
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), (name, field)
    assert got.threshold_counts == want.threshold_counts and got.threshold_counts
    for name, (_, counts) in want.histograms.items():
        assert np.array_equal(got.histograms[name][1], counts), name

    # A reduced result made (or loaded) in Python saves and loads like a kept one.
    copy = tmp_path / "copy"
    cl.save(got, copy, figures=False)
    again = io.load(copy)
    assert again.reduced and again.threshold_counts == got.threshold_counts
    assert all(np.array_equal(again.moments[k].m4, m.m4) for k, m in got.moments.items())

    # check: same verdict from the saved summaries; nothing checked has its own exit status.
    assert main(["check", str(run_dir)]) == 0
    assert "ALL PASS" in capsys.readouterr().out
    # Negative control on the same summaries: the unbiased estimator's theory moves
    # E[log var_20] by 20 log(300/299) = 0.067, about 6.5 standard errors at 1,280 chains.
    wrong = cl.check(got, overrides={"estimator": "unbiased"})
    target = wrong[(wrong["quantity"] == "E[log var]") & (wrong["generation"] == 20)]
    assert len(wrong) > 0 and len(target) == 1
    assert not target["pass"].iloc[0] and not wrong.attrs["passed"]
    assert main(["check", str(run_dir), "--override", "estimator=unbiased"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["check", str(run_dir), "--override", "generations=[]"]) == NOTHING_CHECKED
    assert "nothing checked" in capsys.readouterr().out

    # plot: drawn from the summaries; the per-chain survival figure is skipped with a note.
    assert main(["plot", str(run_dir)]) == 0
    assert sorted(p.name for p in (run_dir / "figures").iterdir()) == [
        "trajectories.png",
        "zscores.png",
    ]
    text = (run_dir / "report.md").read_text()
    assert "Reduced run" in text and "reduced.npz" in text and "| chain_batch | 64 |" in text
    assert "figures/trajectories.png" in text

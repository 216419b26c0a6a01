"""The ``collapse-lab`` command line, end to end in subprocesses on tiny sizes.

Includes the acceptance test for resume: SIGKILL a running ``collapse-lab run`` mid-way, then
``collapse-lab resume``, and compare every array bit for bit with an uninterrupted run.
Deterministic (fixed seeds): no statistical test here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

import collapse_lab as cl
from collapse_lab import io
from collapse_lab.cli import build_parser, main

COMMANDS = ["demo", "run", "check", "plot", "resume", "list"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Subprocess environment sharing a persistent JAX compilation cache (speed only)."""
    cache = tmp_path_factory.mktemp("jax_cache")
    out = dict(os.environ)
    out.update(
        JAX_PLATFORMS="cpu",
        JAX_COMPILATION_CACHE_DIR=str(cache),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    return out


def cli(args, env, cwd, check=True, **kw):
    proc = subprocess.run(
        [sys.executable, "-m", "collapse_lab.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    assert f"collapse-lab {command}" in capsys.readouterr().out


def test_entry_point_help(env, tmp_path):
    exe = shutil.which("collapse-lab")
    args = [exe, "--help"] if exe else [sys.executable, "-m", "collapse_lab.cli", "--help"]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for command in COMMANDS:
        assert command in proc.stdout


def test_list_shows_families_policies_observables_predictions(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in cl.FAMILIES:
        assert f"  {name}:" in out
    assert "log_variance" in out and "E[log var] [G4]" in out
    assert "predictions (accumulate)" in out and "fresh(alpha)" in out
    assert "top_p" in out and "zipf" in out


EXPERIMENT = textwrap.dedent(
    """
    name = "tiny"
    seed = 5
    num_chains = 32
    num_generations = 8
    num_samples = 6
    chunk_size = 4

    [family]
    name = "gaussian"

    [source]
    mean = 0.0
    cov = 1.0
    """
)


def reference_run(seed, num_chains, num_generations, num_samples, chunk_size):
    family = cl.Gaussian()
    return cl.run_chains(
        jax.random.key(seed),
        family,
        family.source(0.0, 1.0),
        num_chains=num_chains,
        num_generations=num_generations,
        num_samples=num_samples,
        chunk_size=chunk_size,
    )


def assert_arrays_equal(run_dir, want):
    got = cl.load(run_dir)
    assert set(got.observables) == set(want.observables)
    for k, v in want.observables.items():
        assert got.observables[k].dtype == v.dtype
        assert np.array_equal(got.observables[k], v, equal_nan=True), k
    for a, b in zip(
        jax.tree_util.tree_leaves((got.final_params, got.final_pool)),
        jax.tree_util.tree_leaves((want.final_params, want.final_pool)),
    ):
        assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_run_check_plot_from_a_toml_file(env, tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text(EXPERIMENT)
    proc = cli(
        ["run", "--config", "tiny.toml", "--out", "out", "--num-chains", "200", "--no-figures"],
        env,
        tmp_path,
    )
    assert "ALL PASS" in proc.stdout and "E[log var]" in proc.stdout
    run_dir = tmp_path / "out"
    assert {"report.md", "arrays.npz", "summary.csv", "check.csv", "provenance.json"} <= {
        p.name for p in run_dir.iterdir()
    }
    config = json.loads((run_dir / "config.json").read_text())
    assert config["experiment"]["num_chains"] == 200  # the flag overrides the file
    assert_arrays_equal(run_dir, reference_run(5, 200, 8, 6, 4))

    # The other commands on the saved run, in-process (same code path, no interpreter start).
    assert main(["check", str(run_dir)]) == 0
    assert "ALL PASS" in capsys.readouterr().out
    # A deliberately wrong theory (unbiased for MLE) fails with status 1: E[log var_8] moves
    # by 8 log(6/5) = 1.46, about 10 standard errors at 200 chains.
    assert main(["check", str(run_dir), "--override", "estimator=unbiased"]) == 1
    assert "FAIL" in capsys.readouterr().out

    assert not (run_dir / "figures").exists()
    assert main(["plot", str(run_dir)]) == 0
    assert sorted(p.name for p in (run_dir / "figures").iterdir()) == [
        "survival.png",
        "trajectories.png",
        "zscores.png",
    ]
    assert "report.md" in capsys.readouterr().out
    assert "figures/trajectories.png" in (run_dir / "report.md").read_text()

    # Refuses to overwrite without --force, and says so.
    code = main(["run", "--config", str(tmp_path / "tiny.toml"), "--out", str(run_dir)])
    assert code == 2 and "--force" in capsys.readouterr().err


def _generations_done(run_dir):
    try:
        return json.loads((run_dir / "checkpoint" / "manifest.json").read_text())[
            "generations_done"
        ]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def test_sigkill_then_resume_is_bit_identical(env, tmp_path, capsys):
    num_generations = 60
    args = [
        "run",
        "--num-chains",
        "200",
        "--num-generations",
        str(num_generations),
        "--num-samples",
        "6",
        "--seed",
        "9",
        "--chunk-size",
        "1",
        "--out",
        "killed",
        "--no-figures",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "collapse_lab.cli", *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run_dir = tmp_path / "killed"
    deadline = time.monotonic() + 120
    while _generations_done(run_dir) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = _generations_done(run_dir)
    assert 3 <= done < num_generations, done  # killed mid-way
    assert io.run_status(run_dir) == "running"

    # A damaged copy is refused with a clear message, never silently used.
    damaged = tmp_path / "damaged"
    shutil.copytree(run_dir, damaged)
    chunk = damaged / "checkpoint" / "obs-00000002-00000002.npz"
    chunk.write_bytes(chunk.read_bytes()[:100])
    assert main(["resume", str(damaged), "--no-figures"]) == 2
    err = capsys.readouterr().err
    assert "obs-00000002-00000002.npz is corrupt or truncated" in err

    proc = cli(["resume", "killed", "--no-figures"], env, tmp_path)
    assert "saved to killed" in proc.stdout
    assert io.run_status(run_dir) == "complete"
    # Reference: uninterrupted, in chunks of 4 (the kernel the TOML test compiled already;
    # chunking never changes a bit -- the runner's own tests cover that).
    assert_arrays_equal(run_dir, reference_run(9, 200, num_generations, 6, 4))


def test_bad_experiment_files_name_the_key(tmp_path, capsys):
    cases = {
        "unknown.toml": (
            "num_chains = 4\nnum_generations = 2\nnum_samples = 5\nfamily = 'gaussian'\n"
            "num_chian = 3\n",
            "num_chian",
        ),
        "type.toml": (
            "num_chains = '4'\nnum_generations = 2\nnum_samples = 5\nfamily = 'gaussian'\n",
            "num_chains",
        ),
        "range.toml": (
            "num_chains = 4\nnum_generations = 2\nnum_samples = 5\nfamily = 'gaussian'\n"
            "[policy]\nname = 'fresh'\nalpha = 2.0\n",
            "policy.alpha",
        ),
        "family.toml": (
            "num_chains = 4\nnum_generations = 2\nnum_samples = 5\n"
            "[family]\nname = 'gaussian'\ndim = 0\n",
            "dim",
        ),
    }
    for name, (text, key) in cases.items():
        (tmp_path / name).write_text(text)
        code = main(["run", "--config", str(tmp_path / name), "--out", str(tmp_path / "never")])
        err = capsys.readouterr().err
        assert code == 2, name
        assert key in err and name in err, (name, err)  # names the key and the file
        assert not (tmp_path / "never").exists()  # refused before anything was created
    code = main(["run", "--family-arg", "estimator=biased", "--out", str(tmp_path / "never")])
    assert code == 2 and "estimator" in capsys.readouterr().err


def test_demo_tiny(env, tmp_path):
    """Two of the suite's experiments, tiny (the full demo's time is measured, not tested)."""
    proc = cli(
        [
            "demo",
            "--num-chains",
            "200",
            "--num-generations",
            "6",
            "--out",
            "demo",
            "--only",
            "gaussian-replace",
            "--only",
            "gaussian-sweep-n",
            "--no-figures",
        ],
        env,
        tmp_path,
    )
    out = proc.stdout
    assert "gaussian-replace" in out and "E[log var]" in out and "collapse rate" in out
    assert "demo:" in out and "report.md" in out
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "## gaussian-replace" in report and "## gaussian-sweep-n" in report
    code = main(["demo", "--only", "nonesuch", "--out", str(tmp_path / "x")])
    assert code == 2


def test_demo_replaces_only_its_own_output(tmp_path, monkeypatch, capsys):
    import collapse_lab.cli as cli_module

    monkeypatch.setattr(cli_module, "_demo_suite", lambda args: [])  # no runs: logic only
    demo_dir = tmp_path / "demo"
    assert main(["demo", "--out", str(demo_dir)]) == 0
    (demo_dir / "marker").write_text("old")
    assert main(["demo", "--out", str(demo_dir)]) == 0  # its own output: replaced
    assert not (demo_dir / "marker").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    assert main(["demo", "--out", str(other)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (other / "notes.txt").read_text() == "keep"


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A tiny saved run (from Python: no subprocess) for the command-line error cases."""
    family = cl.Gaussian()
    result = cl.run_chains(
        jax.random.key(0),
        family,
        family.source(jax.random.key(1), 0.0, 1.0),
        num_chains=8,
        num_generations=2,
        num_samples=5,
        method="exact",
    )
    return cl.save(result, tmp_path_factory.mktemp("saved") / "run", figures=False)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["check", "{run}", "--override", "estimator"], "--override"),
        (["check", "{run}", "--override", "=unbiased"], "--override"),
        (["check", "{run}", "--override", "not a name=1"], "--override"),
        (["check", "{missing}"], "RUN_DIR"),
        (["plot", "{missing}"], "RUN_DIR"),
        (["resume", "{missing}"], "RUN_DIR"),
        (["check", "{foreign}"], "RUN_DIR"),
        (["plot", "{foreign}"], "RUN_DIR"),
        (["resume", "{foreign}"], "RUN_DIR"),
        (["check", "{file}"], "RUN_DIR"),
    ],
)
def test_bad_command_line_names_the_argument(argv, named, saved_run, tmp_path, capsys):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a run")
    (tmp_path / "file.txt").write_text("x")
    paths = {
        "run": saved_run,
        "missing": tmp_path / "nonesuch",
        "foreign": foreign,
        "file": tmp_path / "file.txt",
    }
    code = main([a.format(**{k: str(v) for k, v in paths.items()}) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert named in err and len(err.strip().splitlines()) == 1, err
    assert (foreign / "notes.txt").read_text() == "not a run"  # nothing touched

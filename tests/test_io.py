"""Saved runs: save/load round trips, provenance, refusal to overwrite, corrupt files detected.

Deterministic (fixed seeds, bit-for-bit comparisons): no statistical test here.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

import collapse_lab as cl
from collapse_lab import io
from collapse_lab.chain import continue_run, make_config, start_run


def small_result(**kw):
    family = kw.pop("family", cl.Gaussian())
    source = kw.pop("source", family.source(0.5, 2.0))
    # Chunks of 2 like the checkpoint fixture: one compiled kernel for the whole module.
    args = dict(
        policy=cl.Replace(),
        num_chains=16,
        num_generations=6,
        num_samples=5,
        method="sample",
        chunk_size=2,
    )
    args.update(kw)
    return cl.run_chains(jax.random.key(4), family, source, **args)


@pytest.fixture(scope="module")
def result():
    return small_result()


def assert_same(got, want):
    assert set(got.observables) == set(want.observables)
    for k in want.observables:
        assert got.observables[k].dtype == want.observables[k].dtype
        assert np.array_equal(got.observables[k], want.observables[k], equal_nan=True), k
    for a, b in zip(
        jax.tree_util.tree_leaves((got.final_params, got.final_pool)),
        jax.tree_util.tree_leaves((want.final_params, want.final_pool)),
    ):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    assert got.generations_done == want.generations_done
    assert io.configs_equal(got.config, want.config)


def test_save_load_round_trip(tmp_path, result):
    run_dir = cl.save(result, tmp_path / "run", figures=False)
    loaded = cl.load(run_dir)
    assert_same(loaded, result)
    # The loaded config runs on: continuing it would give the same chains.
    assert loaded.config.describe() == result.config.describe()
    files = {p.name for p in run_dir.iterdir()}
    assert {
        "run.json",
        "config.json",
        "provenance.json",
        "arrays.npz",
        "summary.csv",
        "check.csv",
        "report.md",
    } <= files
    summary = pd.read_csv(run_dir / "summary.csv")
    assert {"observable", "generation", "mean", "std_error", "q0.05", "q0.95"} <= set(summary)
    pd.testing.assert_frame_equal(summary, result.summary(), check_dtype=False, rtol=1e-6)
    table = pd.read_csv(run_dir / "check.csv")
    assert len(table) == len(cl.check(result)) and "z" in table
    report = (run_dir / "report.md").read_text()
    assert "## Verdict table" in report and "## Configuration" in report


def test_pickle_fallback_when_no_plain_source_spec(tmp_path, result, monkeypatch):
    monkeypatch.setattr(cl.Gaussian, "source_args", lambda self, source: None)
    run_dir = cl.save(result, tmp_path / "run", figures=False)
    assert (run_dir / io.OBJECTS).is_file()
    assert_same(cl.load(run_dir), result)


def test_two_dimensional_source_round_trips(tmp_path):
    """The plain-data (mean, cov) record of a 2-D source rebuilds it; no kernel needs to run."""
    family = cl.Gaussian(dim=2)
    source = family.source([1.0, -2.0], [[2.0, 0.3], [0.3, 0.5]])
    config = make_config(
        jax.random.key(9),
        family,
        source,
        policy=cl.Replace(),
        num_chains=4,
        num_generations=1,
        num_samples=5,
        method="sample",
    )
    start = start_run(config)
    fake = dataclasses.replace(
        start,
        observables={k: np.concatenate([v, v], axis=1) for k, v in start.observables.items()},
        generations_done=1,
    )
    assert_same(cl.load(cl.save(fake, tmp_path / "run", figures=False)), fake)


def test_provenance_records_environment(tmp_path, result):
    run_dir = cl.save(result, tmp_path / "run", figures=False)
    prov = json.loads((run_dir / "provenance.json").read_text())
    env = prov["sessions"][-1]["environment"]
    for package in ("collapse_lab", "jax", "jaxlib", "numpy", "scipy", "equinox"):
        assert env["versions"][package]
    assert env["backend"] == jax.default_backend()
    assert env["devices"] and "platform" in env["devices"][0]
    assert env["x64"] is False
    assert "git" in env and "python" in env
    assert prov["key"]["impl"] == "threefry2x32"
    assert "timings" in prov


def test_refuses_to_overwrite_without_force(tmp_path, result):
    run_dir = cl.save(result, tmp_path / "run", figures=False)
    with pytest.raises(ValueError, match="--force"):
        cl.save(result, run_dir, figures=False)
    cl.save(result, run_dir, force=True, figures=False)  # replaces its own run directory
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("do not delete")
    with pytest.raises(ValueError, match="not a collapse_lab run directory"):
        cl.save(result, other, force=True, figures=False)
    assert (other / "thesis.tex").read_text() == "do not delete"


def test_corrupt_arrays_are_detected(tmp_path, result):
    run_dir = cl.save(result, tmp_path / "run", figures=False)
    data = bytearray((run_dir / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (run_dir / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt"):
        cl.load(run_dir)


# ------------------------------------------------------------------------------------ checkpoints
@pytest.fixture
def checkpointed(tmp_path):
    """A run directory stopped after generation 4 of 6 (chunks of 2), plus its config."""
    family = cl.Gaussian()
    config = make_config(
        jax.random.key(4),
        family,
        family.source(0.5, 2.0),
        policy=cl.Replace(),
        num_chains=16,
        num_generations=6,
        num_samples=5,
        method="sample",
    )
    run_dir = io.prepare_run_dir(tmp_path / "run")
    io.begin_run(run_dir, config)
    ckpt = io.Checkpoint(run_dir)
    start = start_run(config)
    ckpt.write_initial(start)
    done = [0]

    def callback(stop, params, pool, obs):
        ckpt.write_chunk(done[0], stop, params, pool, obs)
        done[0] = stop

    continue_run(start, chunk_size=2, until=4, callback=callback)
    return run_dir, config


def test_checkpoint_restores_bit_identical(checkpointed, result):
    run_dir, config = checkpointed
    restored = io.Checkpoint(run_dir).restore(config)
    assert restored.generations_done == 4
    finished = continue_run(restored, chunk_size=2)
    assert_same(finished, result)


def test_stale_and_temporary_files_are_ignored(checkpointed, result):
    run_dir, config = checkpointed
    ckdir = run_dir / io.CHECKPOINT
    # A kill between writing a chunk and the manifest naming it, and one in mid-write.
    (ckdir / "obs-00000005-00000006.npz").write_bytes(b"half a chunk")
    (ckdir / ".carry-00000006.npz.tmp-999").write_bytes(b"partial")
    restored = io.Checkpoint(run_dir).restore(config)
    assert not (ckdir / "obs-00000005-00000006.npz").exists()
    assert not list(ckdir.glob(".*tmp*"))
    assert_same(continue_run(restored, chunk_size=2), result)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path):
    data = bytearray(path.read_bytes())
    data[-30] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [
        "truncate_chunk",
        "flip_chunk",
        "truncate_carry",
        "delete_chunk",
        "edit_manifest",
        "garble_manifest",
    ],
)
def test_corrupt_checkpoint_is_refused(checkpointed, damage):
    run_dir, config = checkpointed
    ckdir = run_dir / io.CHECKPOINT
    chunk = ckdir / "obs-00000003-00000004.npz"
    carry = ckdir / "carry-00000004.npz"
    manifest = ckdir / "manifest.json"
    if damage == "truncate_chunk":
        _truncate(chunk)
        expect = "obs-00000003-00000004.npz is corrupt or truncated"
    elif damage == "flip_chunk":
        _flip(chunk)
        expect = "obs-00000003-00000004.npz is corrupt or truncated"
    elif damage == "truncate_carry":
        _truncate(carry)
        expect = "carry-00000004.npz is corrupt or truncated"
    elif damage == "delete_chunk":
        chunk.unlink()
        expect = "missing"
    elif damage == "edit_manifest":
        m = json.loads(manifest.read_text())
        m["generations_done"] = 6
        manifest.write_text(json.dumps(m))
        expect = "manifest .* is corrupt"
    else:
        manifest.write_text(manifest.read_text()[:40])
        expect = "manifest .* is corrupt"
    with pytest.raises(ValueError, match=expect):
        io.Checkpoint(run_dir).restore(config)


def test_incomplete_run_cannot_be_loaded(checkpointed):
    run_dir, _ = checkpointed
    with pytest.raises(ValueError, match="resume"):
        cl.load(run_dir)
    shutil.rmtree(run_dir / io.CHECKPOINT)
    with pytest.raises(ValueError, match="not complete"):
        cl.load(run_dir)


def test_live_lock_blocks_a_second_process(tmp_path):
    run_dir = io.prepare_run_dir(tmp_path / "run")
    io.acquire_lock(run_dir)  # our own lock can be re-taken
    io.acquire_lock(run_dir)
    lock = json.loads((run_dir / io.LOCK).read_text())
    lock["pid"] = 1  # a live process that is not us (init)
    (run_dir / io.LOCK).write_text(json.dumps(lock))
    with pytest.raises(ValueError, match="being run by process 1"):
        io.acquire_lock(run_dir)
    lock["pid"] = 2**22 + 12345  # beyond pid_max: a dead process, e.g. killed by SIGKILL
    (run_dir / io.LOCK).write_text(json.dumps(lock))
    io.acquire_lock(run_dir)
    io.release_lock(run_dir)
    assert not (run_dir / io.LOCK).exists()


# Run directories written by the code before the layer split (issue 17): a `collapse-lab run`
# experiment, `cl.save` of a Gaussian (plain-data source) and of a categorical (pickled family and
# source), and a categorical sweep. They must keep loading, bit for bit.
LEGACY = Path(__file__).parent / "data" / "legacy_runs"


@pytest.mark.parametrize("name", ["gaussian_run", "gaussian_saved", "categorical_saved"])
def test_runs_written_by_older_code_still_load(name):
    run_dir = LEGACY / name
    loaded = cl.load(run_dir)
    record = json.loads((run_dir / "config.json").read_text())
    assert loaded.config.describe() == record["run"]
    with np.load(run_dir / "arrays.npz") as arrays:
        obs = {k[4:]: arrays[k] for k in arrays.files if k.startswith("obs/")}
    assert set(obs) == set(loaded.observables)
    for k, v in obs.items():
        assert np.array_equal(loaded.observables[k], v, equal_nan=True), k
    assert loaded.generations_done == record["run"]["num_generations"]
    assert len(cl.check(loaded)) > 0  # the verdict table is rebuilt from the loaded result


def test_sweep_written_by_older_code_still_loads():
    points = cl.load_sweep(LEGACY / "categorical_sweep")
    assert [a for a, _ in points] == [{"num_samples": 10}, {"num_samples": 20}]
    assert [int(r.config.num_samples[0]) for _, r in points] == [10, 20]

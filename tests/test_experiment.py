"""Experiment specs (TOML/JSON), sweeps, source specs, and chunked runs with checkpoints/resume.

Everything here is deterministic (fixed seeds, bit-for-bit comparisons): no statistical test, so
no false-failure rate to state.
"""

from __future__ import annotations

import textwrap

import jax
import numpy as np
import pytest

import collapse_lab as cl
from collapse_lab import io
from collapse_lab import spec as ex

EXAMPLE = textwrap.dedent(
    """
    name = "gaussian-fresh"
    seed = 7
    num_chains = 40
    num_generations = 12
    num_samples = 10
    method = "exact"
    chunk_size = 5

    [family]
    name = "gaussian"
    estimator = "unbiased"

    [source]
    mean = 1.5
    cov = 2.0

    [policy]
    name = "fresh"
    alpha = 0.2

    [sweep]
    num_samples = [10, 20]
    alpha = [0.1, 0.5, 1.0]
    """
)


def base(**changes) -> dict:
    data = {
        "name": "t",
        "seed": 3,
        "num_chains": 30,
        "num_generations": 12,
        "num_samples": 10,
        "method": "sample",
        "family": {"name": "gaussian"},
        "source": {"mean": 0.0, "cov": 1.0},
    }
    data.update(changes)
    return data


def test_example_file_parses_and_round_trips(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(EXAMPLE)
    exp = cl.load_experiment(path)
    assert exp.family == "gaussian" and exp.family_args == {"estimator": "unbiased"}
    assert exp.policy == "fresh" and exp.policy_args == {"alpha": 0.2}
    assert exp.source == {"mean": 1.5, "cov": 2.0}
    assert (exp.num_chains, exp.num_generations, exp.seed, exp.chunk_size) == (40, 12, 7, 5)
    assert exp.sweep == {"num_samples": [10, 20], "alpha": [0.1, 0.5, 1.0]}
    assert ex.parse_experiment(exp.to_dict()) == exp
    json_path = tmp_path / "exp.json"
    json_path.write_text(__import__("json").dumps(exp.to_dict()))
    assert cl.load_experiment(json_path) == exp


def test_sweep_expands_to_every_combination():
    exp = ex.parse_experiment(
        base(
            policy={"name": "fresh", "alpha": 0.2},
            sweep={"num_samples": [10, 20], "alpha": [0.1, 0.5, 1.0]},
        )
    )
    runs = exp.sub_runs()
    assert len(runs) == 6
    seen = {(a["num_samples"], a["alpha"]) for a, _ in runs}
    assert seen == {(n, a) for n in (10, 20) for a in (0.1, 0.5, 1.0)}
    for assignment, sub in runs:
        assert not sub.sweep
        assert sub.num_samples == assignment["num_samples"]
        assert sub.policy_args == {"alpha": assignment["alpha"]}
        assert sub.name.startswith("t-num_samples=")
    # Dotted keys and nested tables name the same axis.
    dotted = ex.parse_experiment(base(sweep={"family.estimator": ["mle", "unbiased"]}))
    nested = ex.parse_experiment(base(sweep={"family": {"estimator": ["mle", "unbiased"]}}))
    assert dotted.sweep == nested.sweep
    assert [s.family_args["estimator"] for _, s in dotted.sub_runs()] == ["mle", "unbiased"]


BAD = [
    # (change, words the message must contain)
    ({"num_chain": 10}, ["num_chain"]),
    ({"num_chains": "100"}, ["num_chains", "integer"]),
    ({"num_chains": 10.0}, ["num_chains"]),
    ({"num_chains": True}, ["num_chains"]),
    ({"num_generations": 0}, ["num_generations", ">= 1"]),
    ({"num_samples": [10, 10]}, ["num_samples", "one per generation"]),
    ({"num_samples": "ten"}, ["num_samples"]),
    ({"method": "magic"}, ["method"]),
    ({"seed": -1}, ["seed"]),
    ({"seed": 2**32}, ["seed"]),
    ({"false_alarm": 0.0}, ["false_alarm"]),
    ({"key_impl": "mt19937"}, ["key_impl"]),
    ({"x64": "yes"}, ["x64"]),
    ({"name": "a b/c"}, ["name"]),
    ({"family": {"name": "nonesuch"}}, ["family.name"]),
    ({"family": {"name": "gaussian", "dimm": 2}}, ["family.dimm", "dim"]),
    ({"family": {"estimator": "mle"}}, ["family.name"]),
    ({"policy": "recycle"}, ["policy.name"]),
    ({"policy": {"name": "fresh", "alpha": 1.5}}, ["policy.alpha"]),
    ({"policy": {"name": "fresh"}}, ["policy.alpha", "required"]),
    ({"policy": {"name": "replace", "alpha": 0.1}}, ["policy.alpha"]),
    ({"sampling": {"top_q": 0.9}}, ["sampling.top_q"]),
    ({"sampling": {"top_p": 1.5}}, ["sampling.top_p"]),
    ({"sampling": {"temperature": 0}}, ["sampling.temperature"]),
    ({"sweep": {"chunk_size": [1, 2]}}, ["sweep.chunk_size"]),
    ({"sweep": {"num_samples": 10}}, ["sweep.num_samples", "list"]),
    ({"sweep": {"num_samples": []}}, ["sweep.num_samples"]),
    ({"source": [1, 2]}, ["source", "table"]),
]


@pytest.mark.parametrize("change,words", BAD, ids=[str(c) for c, _ in BAD])
def test_bad_values_name_the_key(change, words):
    with pytest.raises(ValueError) as info:
        ex.parse_experiment(base(**change))
    for word in words:
        assert word in str(info.value)


BUILD_ERRORS = [
    ({"num_samples": 1}, ["num_samples"]),
    ({"family": {"name": "gaussian", "dim": 0}}, ["dim"]),
    ({"source": {"mean": 0.0, "cov": -1.0}}, ["source", "cov"]),
    ({"source": {"mean": 0.0, "covariance": 1.0}}, ["source.covariance", "cov"]),
    ({"sampling": {"top_k": 5}}, ["sampling.top_k", "gaussian"]),
    ({"sweep": {"num_samples": [10, 1]}}, ["num_samples", "sweep point"]),
]


@pytest.mark.parametrize("change,words", BUILD_ERRORS, ids=[str(c) for c, _ in BUILD_ERRORS])
def test_values_refused_when_building_name_the_key(change, words):
    exp = ex.parse_experiment(base(**change))
    with pytest.raises(ValueError) as info:
        ex.validate_experiment(exp)
    for word in words:
        assert word in str(info.value)


def test_file_errors_name_the_file_and_key(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("num_chains = [1,\n")
    with pytest.raises(ValueError, match="broken.toml.*not valid TOML"):
        cl.load_experiment(broken)
    typo = tmp_path / "typo.toml"
    typo.write_text(
        'num_chains = 10\nnum_generations = 5\nnum_samples = 10\nfamily = "gaussian"\nnum_chian = 3\n'
    )
    with pytest.raises(ValueError, match=r"typo.toml.*num_chian"):
        cl.load_experiment(typo)
    with pytest.raises(ValueError, match="cannot read"):
        cl.load_experiment(tmp_path / "missing.toml")


def test_gaussian_temperature_comes_from_the_sampling_table():
    exp = ex.parse_experiment(base(sampling={"temperature": 0.9}))
    assert ex.build_family(exp) == cl.Gaussian(temperature=0.9)
    both = ex.parse_experiment(
        base(family={"name": "gaussian", "temperature": 0.8}, sampling={"temperature": 0.9})
    )
    with pytest.raises(ValueError, match="temperature"):
        ex.build_family(both)


class _StubVocabFamily:
    """Stands in for a vocabulary family to test the generic source path (no kernels run)."""

    vocab_size = 4

    def source(self, probs):
        probs = np.asarray(probs, dtype=float)
        if probs.shape != (self.vocab_size,) or abs(probs.sum() - 1) > 1e-9:
            raise ValueError(f"probs must be a distribution over {self.vocab_size}, got {probs}")
        return probs


class _StubKeyedFamily:
    def source(self, key, transitions):
        return key, transitions


def test_generic_source_path_with_generators(monkeypatch):
    stub = _StubVocabFamily()
    assert np.allclose(ex.build_source(stub, {"probs": [0.1, 0.2, 0.3, 0.4]}), [0.1, 0.2, 0.3, 0.4])
    assert np.allclose(ex.build_source(stub, {"probs": {"uniform": {}}}), 0.25)
    assert np.allclose(ex.build_source(stub, {"uniform": {}}), 0.25)

    def fake_zipf(exponent, vocab_size):
        w = 1.0 / np.arange(1, vocab_size + 1) ** exponent
        return w / w.sum()

    monkeypatch.setattr(cl, "zipf", fake_zipf, raising=False)
    got = ex.build_source(stub, {"zipf": {"exponent": 1.1}})  # vocab_size comes from the family
    assert np.allclose(got, fake_zipf(1.1, 4))
    with pytest.raises(ValueError, match=r"source.zipf.exponnt"):
        ex.build_source(stub, {"zipf": {"exponnt": 1.1}})
    with pytest.raises(ValueError, match="probs must be a distribution"):
        ex.build_source(stub, {"probs": [0.5, 0.6, 0.0, 0.0]})
    with pytest.raises(ValueError, match="source.weights"):
        ex.build_source(stub, {"weights": [1.0]})
    monkeypatch.delattr(cl, "zipf", raising=False)
    if not hasattr(cl, "zipf"):
        with pytest.raises(ValueError, match="source.zipf is not an argument"):
            ex.build_source(stub, {"zipf": {"exponent": 1.1}})
        with pytest.raises(ValueError, match="not available"):
            ex._generate_source("source.probs.zipf", "zipf", {}, stub)
    key = ex.source_key(5)
    got_key, transitions = ex.build_source(_StubKeyedFamily(), {"transitions": [[1.0]]}, key=key)
    assert transitions == [[1.0]] and got_key is key
    with pytest.raises(ValueError, match="needs a key"):
        ex.build_source(_StubKeyedFamily(), {"transitions": [[1.0]]})
    with pytest.raises(ValueError, match="source.key"):
        ex.build_source(_StubKeyedFamily(), {"transitions": [[1.0]], "key": 1}, key=key)


def test_source_key_is_never_a_generation_key():
    root = jax.random.key(5)
    chain_last = jax.random.fold_in(root, 2**32 - 1)
    generation_keys = [jax.random.fold_in(chain_last, t) for t in (1, 2, 3)]
    data = jax.random.key_data(ex.source_key(5))
    assert not any(np.array_equal(data, jax.random.key_data(k)) for k in generation_keys)
    assert np.array_equal(data, jax.random.key_data(jax.random.fold_in(chain_last, 0)))


# ------------------------------------------------------------------------------------ running
RUN = base(num_chains=24, num_generations=15, num_samples=6, chunk_size=5, seed=11)


@pytest.fixture(scope="module")
def reference():
    family = cl.Gaussian()
    # Same chunk length as RUN, so that one compiled kernel serves the whole module (chunking
    # itself never changes a bit: that is the runner's own test).
    return cl.run_chains(
        jax.random.key(11),
        family,
        family.source(0.0, 1.0),
        num_chains=24,
        num_generations=15,
        num_samples=6,
        method="sample",
        chunk_size=5,
    )


def assert_same_result(got, want):
    assert set(got.observables) == set(want.observables)
    for name in want.observables:
        a, b = got.observables[name], want.observables[name]
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=True), name
    la = jax.tree_util.tree_leaves((got.final_params, got.final_pool))
    lb = jax.tree_util.tree_leaves((want.final_params, want.final_pool))
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
    assert got.generations_done == want.generations_done
    assert io.configs_equal(got.config, want.config)


def test_run_experiment_matches_run_chains_and_saves(tmp_path, reference):
    result = cl.run_experiment(RUN, tmp_path / "run", figures=False, progress=False)
    assert_same_result(result, reference)
    assert_same_result(cl.load(tmp_path / "run"), reference)
    assert io.run_status(tmp_path / "run") == "complete"
    assert not (tmp_path / "run" / io.CHECKPOINT).exists()  # removed once complete
    with pytest.raises(ValueError, match="--force"):
        cl.run_experiment(RUN, tmp_path / "run", figures=False, progress=False)


def test_interrupted_run_resumes_bit_identical(tmp_path, monkeypatch, reference):
    """A crash after two chunks (in-process stand-in for a kill), then resume."""
    original = io.Checkpoint.write_chunk
    calls = []

    def crash_after_two(self, *args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash")
        calls.append(args[1])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(io.Checkpoint, "write_chunk", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        cl.run_experiment(RUN, tmp_path / "run", figures=False, progress=False)
    monkeypatch.setattr(io.Checkpoint, "write_chunk", original)
    assert calls == [5, 10] and io.run_status(tmp_path / "run") == "running"
    assert io.Checkpoint(tmp_path / "run").read_manifest()["generations_done"] == 10
    with pytest.raises(ValueError, match="resume"):
        cl.load(tmp_path / "run")
    resumed = cl.resume(tmp_path / "run", figures=False, progress=False)
    assert_same_result(resumed, reference)
    assert_same_result(cl.load(tmp_path / "run"), reference)
    prov = io._read_json(tmp_path / "run" / io.PROVENANCE, "provenance")
    assert [s["generations_done"] for s in prov["sessions"]] == [15]  # one finished session
    # Resuming a complete run is a no-op that returns the same result.
    assert_same_result(cl.resume(tmp_path / "run", figures=False), reference)


def test_sweep_runs_every_point_and_resumes(tmp_path):
    # 400 chains x 30 generations in one chunk, exact: the kernel test_plots.py compiles too.
    spec = base(
        num_chains=400,
        num_generations=30,
        method="exact",
        chunk_size=30,
        sweep={"num_samples": [5, 50]},
    )
    out = cl.run_experiment(spec, tmp_path / "sweep", figures=False, progress=False)
    assert [a for a, _ in out] == [{"num_samples": 5}, {"num_samples": 50}]
    loaded = cl.load_sweep(tmp_path / "sweep")
    for (a, r), (b, s) in zip(out, loaded):
        assert a == b
        assert_same_result(s, r)
        assert int(r.config.num_samples[0]) == a["num_samples"]
    assert "(sweep)" in (tmp_path / "sweep" / io.REPORT).read_text()
    with pytest.raises(ValueError, match="load_sweep"):
        cl.load(tmp_path / "sweep")
    # A sweep killed before its second point started: resume runs the missing point.
    second = tmp_path / "sweep" / io.read_manifest(tmp_path / "sweep")["runs"][1]["dir"]
    import shutil

    shutil.rmtree(second)
    io._write_manifest(tmp_path / "sweep", status="running")  # as a kill would leave it
    again = cl.resume(tmp_path / "sweep", figures=False, progress=False)
    assert_same_result(again[1][1], out[1][1])


def test_default_chunk_size():
    assert ex.default_chunk_size(5) == 5
    assert ex.default_chunk_size(50) == 10
    assert ex.default_chunk_size(1000) == 10
    assert ex.default_chunk_size(10_000) == 100


@pytest.mark.skipif("categorical" not in cl.FAMILIES, reason="categorical family not installed")
def test_categorical_source_from_zipf_generator():
    """The generic source path on the real categorical family (no kernel runs)."""
    exp = ex.parse_experiment(
        base(
            family={"name": "categorical", "vocab_size": 50},
            source={"zipf": {"exponent": 1.1}},
            sampling={"top_k": 10},
            num_samples=100,
        )
    )
    config = ex.build_config(exp)
    assert config.family.vocab_size == 50 and config.family.bias.top_k == 10
    probs = np.asarray(cl.zipf(1.1, 50))
    same = ex.build_config(
        ex.parse_experiment(
            base(
                family={"name": "categorical", "vocab_size": 50},
                source={"probs": probs.tolist()},
                sampling={"top_k": 10},
                num_samples=100,
            )
        )
    )
    for a, b in zip(
        jax.tree_util.tree_leaves(config.source), jax.tree_util.tree_leaves(same.source)
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    with pytest.raises(ValueError, match="source.zipf.exponnt"):
        ex.build_config(
            ex.parse_experiment(
                base(
                    family={"name": "categorical", "vocab_size": 50},
                    source={"zipf": {"exponnt": 1.1}},
                )
            )
        )


def test_readme_example_is_valid():
    """The experiment file shown in README.md parses and builds (keeps the README true)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start = readme.index("```toml\n") + len("```toml\n")
    text = readme[start : readme.index("```", start)]
    import tomllib

    exp = ex.parse_experiment(tomllib.loads(text))
    runs = ex.validate_experiment(exp)
    assert len(runs) == 6 and exp.policy == "fresh"
    assert [sub.seed for _, sub in runs] == list(range(exp.seed, exp.seed + 6))


def test_progress_bar_reports_generations_per_second(tmp_path, capsys, reference):
    cl.run_experiment(RUN, tmp_path / "run", figures=False, progress=True)
    err = capsys.readouterr().err
    assert "gen/s" in err and "15/15" in err and "24 chains" in err

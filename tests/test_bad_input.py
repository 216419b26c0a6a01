"""Bad input is refused with a ``ValueError`` that names the argument, before anything runs.

One parametrised table of (call, argument name). The runner's kernel entry point is patched to
fail, so a case that got as far as compiling or running a chain would be reported as such.
(The command-line cases -- a malformed ``--override``, ``check``/``plot``/``resume`` on a missing
or foreign directory -- are tested with the CLI in tests/test_cli.py.)
"""

from __future__ import annotations

import math
import types

import jax
import numpy as np
import pytest

import collapse_lab as cl
from collapse_lab import chain
from collapse_lab.chain import RunResult
from collapse_lab.families.mixture import GaussianMixture
from collapse_lab.prediction import Prediction
from collapse_lab.sampling import SamplingBias
from collapse_lab.theory import gaussian as th_gaussian
from collapse_lab.theory import mixture as th_mixture
from collapse_lab.theory import ngram as th_ngram
from collapse_lab.theory import wright_fisher as th_wf

KEY = jax.random.key(0)


@pytest.fixture(autouse=True)
def nothing_runs(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("bad input reached the kernel")

    monkeypatch.setattr(chain, "run_generations", refuse)


def families():
    """One cheap instance of every family (no source is built: validation comes first)."""
    return {
        "gaussian": cl.Gaussian(dim=1),
        "categorical": cl.Categorical(5),
        "ngram": cl.NGram(4, 1, mode="fixed_counts"),
        "mixture": GaussianMixture(2, 1, oracle_assignments=True, num_heldout=0),
        "transformer": cl.Transformer(4, 8, d_model=8, num_layers=1, num_heads=1),
    }


def run(family="gaussian", source=None, **kw):
    fam = families()[family]
    if source is None and family == "gaussian":
        source = fam.source()
    args = {"num_chains": 4, "num_generations": 3, "num_samples": 5, **kw}
    return cl.run_chains(KEY, fam, source, **args)


class _OneRowFamily:
    """Stub family with one prediction and no theory inputs to override."""

    name = "synthetic"

    def predictions(self, config, overrides=None):
        if overrides:
            raise ValueError(f"unknown theory overrides {sorted(overrides)}")
        return [ROW]


def synthetic():
    config = types.SimpleNamespace(family=_OneRowFamily(), num_chains=10, policy=None)
    return RunResult(observables={"x": np.zeros((10, 2))}, config=config)


ROW = Prediction("x", 1, "mean", 0.0, "E[x]", "F", "ref")

CASES = {
    # runner sizes
    "num_chains negative": (lambda: run(num_chains=-1), "num_chains"),
    "num_chains zero": (lambda: run(num_chains=0), "num_chains"),
    "num_chains float": (lambda: run(num_chains=2.5), "num_chains"),
    "num_generations negative": (lambda: run(num_generations=-1), "num_generations"),
    "num_samples negative": (lambda: run(num_samples=-1), "num_samples"),
    "chunk_size zero": (lambda: run(chunk_size=0), "chunk_size"),
    "chunk_size negative": (lambda: run(chunk_size=-3), "chunk_size"),
    "memory: kept observables would not fit": (
        lambda: run(num_chains=10**9, num_generations=10**6, method="exact"),
        "run_reduced",
    ),
    # schedules, for every family
    **{
        f"schedule {bad!r} ({family})": (
            lambda family=family, bad=bad: run(family, num_samples=[5, bad, 5]),
            "num_samples",
        )
        for family in ("gaussian", "categorical", "ngram", "mixture", "transformer")
        for bad in (2.5, math.inf, math.nan)
    },
    "schedule callable 2.5": (lambda: run(num_samples=lambda t: 2.5), "num_samples"),
    # family arguments
    "mixture NaN means": (
        lambda: families()["mixture"].source([0.5, 0.5], [math.nan, 1.0], [1.0, 1.0]),
        "means",
    ),
    "categorical top_k > vocab_size": (
        lambda: cl.Categorical(5, bias=SamplingBias(top_k=6)),
        "top_k",
    ),
    "ngram top_k > vocab_size": (
        lambda: cl.NGram(4, 1, mode="fixed_counts", bias=SamplingBias(top_k=5)),
        "top_k",
    ),
    "transformer top_k > vocab_size": (
        lambda: cl.Transformer(4, 8, bias=SamplingBias(top_k=5)),
        "top_k",
    ),
    "random_markov_source vocab_size 1": (
        lambda: cl.random_markov_source(KEY, 1, 1),
        "vocab_size",
    ),
    "random_markov_source order 0": (lambda: cl.random_markov_source(KEY, 4, 0), "order"),
    "random_markov_source support_size 0": (
        lambda: cl.random_markov_source(KEY, 4, 1, support_size=0),
        "support_size",
    ),
    "random_markov_source exponent NaN": (
        lambda: cl.random_markov_source(KEY, 4, 1, exponent=math.nan),
        "exponent",
    ),
    "random_markov_source integer key": (lambda: cl.random_markov_source(0, 4, 1), "key"),
    "transformer vocab_size 1": (lambda: cl.Transformer(1, 8), "vocab_size"),
    "transformer zero layers": (lambda: cl.Transformer(4, 8, num_layers=0), "num_layers"),
    "transformer zero heads": (lambda: cl.Transformer(4, 8, num_heads=0), "num_heads"),
    "transformer NaN learning_rate": (
        lambda: cl.Transformer(4, 8, learning_rate=math.nan),
        "learning_rate",
    ),
    "transformer inf learning_rate": (
        lambda: cl.Transformer(4, 8, learning_rate=math.inf),
        "learning_rate",
    ),
    # check()
    "check false_alarm 0": (lambda: cl.check(synthetic(), false_alarm=0.0), "false_alarm"),
    "check false_alarm 1": (lambda: cl.check(synthetic(), false_alarm=1.0), "false_alarm"),
    "check false_alarm NaN": (
        lambda: cl.check(synthetic(), false_alarm=math.nan),
        "false_alarm",
    ),
    "check unknown override key": (
        lambda: cl.check(synthetic(), overrides={"no_such_input": 1}),
        "overrides",
    ),
    # the Gaussian filter policies (issue 13): arguments, dimension, family
    **{
        f"VerifiedSmooth c = {bad!r}": (lambda bad=bad: cl.VerifiedSmooth(bad), "c must")
        for bad in (0, -1.0, math.nan, math.inf, True, "2")
    },
    **{
        f"CuratedLinear k = {bad!r}": (lambda bad=bad: cl.CuratedLinear(bad), "k must")
        for bad in (0, -2, 2.5, True)
    },
    **{
        f"CuratedLinear sign = {bad!r}": (lambda bad=bad: cl.CuratedLinear(2, bad), "sign must")
        for bad in (0, 2, -0.5, True, math.nan)
    },
    "VerifiedSmooth dim 2": (
        lambda: cl.run_chains(KEY, cl.Gaussian(2), cl.Gaussian(2).source([0.0, 0.0], np.eye(2)),
                              policy=cl.VerifiedSmooth(1.0), num_chains=2, num_generations=2,
                              num_samples=5),
        "dim 1",
    ),
    "CuratedLinear dim 2": (
        lambda: cl.run_chains(KEY, cl.Gaussian(2), cl.Gaussian(2).source([0.0, 0.0], np.eye(2)),
                              policy=cl.CuratedLinear(2), num_chains=2, num_generations=2,
                              num_samples=5),
        "dim 1",
    ),
    "VerifiedSmooth categorical": (
        lambda: run("categorical", cl.Categorical(5).source(np.full(5, 0.2)),
                    policy=cl.VerifiedSmooth(1.0)),
        "VerifiedSmooth",
    ),
    "CuratedLinear categorical": (
        lambda: run("categorical", cl.Categorical(5).source(np.full(5, 0.2)),
                    policy=cl.CuratedLinear(2)),
        "CuratedLinear",
    ),
    "verified_smooth theory c = 0": (
        lambda: th_gaussian.expected_precision_verified_smooth(2, 10, 0.0), "c must"),
    "verified_smooth step c = NaN": (
        lambda: th_gaussian.verified_smooth_step(0.0, 1.0, 10, math.nan), "c must"),
    "max_normal_moments k = 0": (lambda: th_gaussian.max_normal_moments(0), "k must"),
    "curated_linear theory sign 0": (
        lambda: th_gaussian.curated_linear_step(10, 2, sign=0), "sign must"),
    # theory: a generation is an integer, never truncated
    "gaussian theory t = 2.7": (lambda: th_gaussian.expected_variance(2.7, 10), "t must"),
    "gaussian theory t = NaN": (lambda: th_gaussian.expected_log_variance(math.nan, 10), "t must"),
    "gaussian theory cdf t = 1.5": (
        lambda: th_gaussian.log_variance_cdf(0.0, 1.5, 10),
        "t must",
    ),
    "wright-fisher theory t = 2.5": (
        lambda: th_wf.expected_heterozygosity(2.5, 10, [0.5, 0.5]),
        "t must",
    ),
    "mixture theory t = 2.5": (lambda: th_mixture.loss_probability(2.5, 10, 0.3), "t must"),
    "ngram theory t = 2.5": (lambda: th_ngram.variance_ratio(2.5, 10), "t must"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_raises_value_error_naming_the_argument(case):
    call, word = CASES[case]
    with pytest.raises(ValueError, match=word):
        call()


def test_a_run_that_fits_is_not_refused_and_the_estimate_is_exact():
    fam = cl.Gaussian(dim=1)
    config = chain.make_config(
        KEY,
        fam,
        fam.source(),
        policy=cl.Replace(),
        num_chains=1000,
        num_generations=9,
        num_samples=5,
        method="exact",
    )
    per_chain_generation = sum(
        np.dtype(v.dtype).itemsize * int(np.prod(np.shape(v)[2:]))
        for v in chain.observe_source(config).values()
    )
    assert chain.check_memory(config) == 1000 * 10 * per_chain_generation
    with pytest.raises(ValueError, match="GiB") as info:
        chain.check_memory(config, limit_bytes=1000)
    for way_out in ("run_reduced", "fewer", "chunks", "num_chains"):
        assert way_out in str(info.value)

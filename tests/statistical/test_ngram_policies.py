"""n-gram fixed-counts mode under the issue-13 policies: AccumulateSubsample's exact rows
(theory/ngram.md#p3) and generation-1-only rows for the other policies.

Every check() table passes at family-wise false-alarm 1e-3 (two tables: false-failure rate
2e-3). The negative control checks the same chains against a subsample two tokens larger per
unit weight and must reject at least one P3 row (it moves the variance rows by many SE).
"""

from __future__ import annotations

import functools

import jax
import pytest
from _controls import assert_rejects

import collapse_lab as cl

FALSE_ALARM = 1e-3


@functools.cache
def _run(policy):
    fam = cl.NGram(4, 1, mode="fixed_counts")
    transitions = cl.random_markov_source(jax.random.key(0), 4, 1, support_size=3)
    src = fam.source(jax.random.key(1), transitions)
    return cl.run_chains(jax.random.key(1314), fam, src, policy=policy, num_chains=4000,
                         num_generations=20, num_samples=20, method="exact")


def test_accumulate_subsample_rows_pass_and_wrong_size_is_rejected():
    result = _run(cl.AccumulateSubsample(10))
    table = cl.check(result, FALSE_ALARM)
    assert {"P3", "W1"} <= set(table["formula"]), cl.format_table(table)
    assert table["pass"].all(), cl.format_table(table)
    assert_rejects(
        cl.check(result, FALSE_ALARM, overrides={"policy": cl.AccumulateSubsample(12)}),
        rows={"formula": {"P3"}, "exact": True},
    )


@pytest.mark.parametrize("policy", [cl.Window(3)], ids=repr)
def test_other_policies_get_generation_one_rows_only(policy):
    """Regression: these policies used to receive the replace rows at every generation, which
    their chains do not follow; now only generation 1 (fit on source draws) is checked."""
    table = cl.check(_run(policy), FALSE_ALARM)
    assert len(table) > 0 and set(table["generation"]) == {1}
    assert table["pass"].all(), cl.format_table(table)


def test_corpus_mode_refuses_accumulate_subsample():
    fam = cl.NGram(4, 1, mode="corpus", seq_len=8)
    src = fam.source(jax.random.key(1), cl.random_markov_source(jax.random.key(0), 4, 1,
                                                                support_size=3))
    with pytest.raises(ValueError, match="policy"):
        cl.run_chains(jax.random.key(0), fam, src, policy=cl.AccumulateSubsample(5),
                      num_chains=4, num_generations=2, num_samples=5)

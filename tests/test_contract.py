"""Contract tests run over every registered family (one small example each)."""

import jax
import numpy as np
import pytest
from family_examples import EXAMPLES, TRANSFORMER_EXAMPLES

import collapse_lab as cl
from collapse_lab import chain

ALL_EXAMPLES = {**EXAMPLES, **TRANSFORMER_EXAMPLES}
# The transformer's cases compile a training loop (about 40 s of CPU here): slow tier.
SLOW = pytest.mark.slow


def _param(*values):
    return pytest.param(*values, marks=SLOW) if values[0] in TRANSFORMER_EXAMPLES else values


CASES = [
    _param(name, method)
    for name, make in ALL_EXAMPLES.items()
    for method in (
        ("sample", "exact")
        if name not in TRANSFORMER_EXAMPLES and make()[0].has_exact
        else ("sample",)
    )
]
NAMES = [_param(name) if name in TRANSFORMER_EXAMPLES else name for name in ALL_EXAMPLES]


def test_every_registered_family_has_a_contract_example():
    names = {n.split("-")[0] for n in ALL_EXAMPLES}
    assert set(cl.ALL_FAMILIES) <= names
    assert set(cl.FAMILIES) <= set(cl.ALL_FAMILIES)


@pytest.fixture(scope="module")
def runs():
    cache = {}

    def get(name, method, num_chains, key=3):
        k = (name, method, num_chains, key)
        if k not in cache:
            fam, src, n = ALL_EXAMPLES[name]()
            cache[k] = cl.run_chains(
                jax.random.key(key),
                fam,
                src,
                policy=cl.Replace(),
                num_chains=num_chains,
                num_generations=5,
                num_samples=n,
                method=method,
            )
        return cache[k]

    return get


@pytest.mark.parametrize("name,method", CASES)
def test_shapes_dtypes_and_no_nan(runs, name, method):
    r = runs(name, method, 8)
    assert r.observables
    for obs, arr in r.observables.items():
        assert arr.shape[:2] == (8, 6), obs
        assert not np.any(np.isnan(arr)), obs
        assert arr.dtype in (np.float32, np.float64, np.int32, np.int64, np.bool_), obs
    assert r.generations_done == 5


@pytest.mark.parametrize("name,method", CASES)
def test_same_key_same_result_and_batch_invariance(runs, name, method):
    a = runs(name, method, 8)
    # A family that pads chains to its own chain_align (the transformer) is bit-identical among
    # runs with the same padded count: 7 and 8 chains both pad to 8.
    b = runs(name, method, 7 if name in TRANSFORMER_EXAMPLES else 130)
    c = runs(name, method, 8, key=4)
    m = min(8, b.observables[next(iter(b.observables))].shape[0])
    for obs in a.observables:
        np.testing.assert_array_equal(a.observables[obs][:m], b.observables[obs][:m])
    assert any(not np.array_equal(a.observables[o], c.observables[o]) for o in a.observables)


@pytest.mark.parametrize("name", NAMES)
def test_no_retrace_on_rerun_and_check_builds_a_table(name):
    fam, src, n = ALL_EXAMPLES[name]()
    kw = dict(num_chains=8, num_generations=5, num_samples=n, method="sample")
    cl.run_chains(jax.random.key(0), fam, src, **kw)
    before = dict(chain.TRACE_COUNTS)
    r = cl.run_chains(jax.random.key(1), fam, src, **kw)
    assert chain.TRACE_COUNTS == before
    table = cl.check(r, false_alarm=1e-3)
    assert list(table.columns[:3]) == ["observable", "quantity", "generation"]

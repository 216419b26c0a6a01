"""run_chains(..., observables=[...]): only the named observables and those check() needs."""

import jax
import numpy as np
import pytest

import collapse_lab as cl


@pytest.mark.parametrize("method", [pytest.param("sample", marks=pytest.mark.slow), "exact"])
def test_selected_observables_match_the_full_run(method):
    family = cl.Categorical(50)
    source = family.source(cl.zipf(1.1, 50))
    kwargs = dict(num_chains=64, num_generations=3, num_samples=200, method=method)
    full = cl.run_chains(jax.random.key(3), family, source, **kwargs)
    part = cl.run_chains(jax.random.key(3), family, source, observables=["entropy"], **kwargs)
    config = part.config
    needed = {p.observable for p in family.predictions(config)}
    assert set(part.observables) == {"entropy"} | needed
    assert "kl_to_source" not in part.observables
    for name, values in part.observables.items():
        np.testing.assert_allclose(values, full.observables[name], rtol=1e-6, err_msg=name)
    np.testing.assert_array_equal(part.final_params.weights, full.final_params.weights)
    assert cl.check(part).attrs["num_rows"] == cl.check(full).attrs["num_rows"]


def test_bad_observables_are_rejected_before_tracing():
    family = cl.Gaussian()
    with pytest.raises(ValueError, match="observables"):
        cl.run_chains(jax.random.key(0), family, family.source(), num_chains=2,
                      num_generations=1, num_samples=10, observables=["nope"])
    with pytest.raises(ValueError, match="observables"):
        cl.run_chains(jax.random.key(0), family, family.source(), num_chains=2,
                      num_generations=1, num_samples=10, observables="mean")

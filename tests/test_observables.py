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


def test_checked_observables_are_remembered_per_config(monkeypatch):
    """The names check() needs are computed from the predictions once per configuration (the
    closed forms cost tens of milliseconds); a different configuration computes them again."""
    from collapse_lab import chain

    family = cl.Gaussian()
    calls = []
    original = type(family).predictions

    def counting(self, config, overrides=None):
        calls.append(config.num_generations)
        return original(self, config, overrides)

    monkeypatch.setattr(type(family), "predictions", counting)
    monkeypatch.setattr(chain, "_CHECKED_OBSERVABLES", {})
    kwargs = dict(num_chains=64, num_samples=10, method="exact", observables=["mean"])
    runs = [cl.run_chains(jax.random.key(k), family, family.source(), num_generations=t, **kwargs)
            for k, t in [(0, 2), (1, 2), (0, 3)]]
    assert calls == [2, 3]  # the second run (same configuration, other key) used the cache
    names = chain.checked_observables(runs[0].config)
    assert names == {p.observable for p in original(family, runs[0].config)}
    assert set(runs[0].observables) == {"mean"} | names

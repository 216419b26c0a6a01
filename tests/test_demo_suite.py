"""The demo suite is data (``collapse_lab/experiments/*.toml``): every file parses, names an
installed family and policy, and builds a run configuration (nothing is compiled or run here; the
CLI tests run the demo at tiny sizes)."""

from __future__ import annotations

import pytest

import collapse_lab as cl
from collapse_lab.experiment import demo_suite
from collapse_lab.spec import build_config, parse_experiment

SUITE = demo_suite()


def test_suite_is_not_empty_and_names_are_unique():
    names = [entry["name"] for entry in SUITE]
    assert len(names) >= 9
    assert len(set(names)) == len(names)


def test_every_registered_family_has_a_demo_entry():
    assert {entry["family"]["name"] for entry in SUITE} >= set(cl.FAMILIES)


@pytest.mark.parametrize("entry", SUITE, ids=[e["name"] for e in SUITE])
def test_entry_parses_and_builds(entry):
    experiment = parse_experiment(entry)
    for _, sub in experiment.sub_runs():
        config = build_config(sub)
        assert config.num_chains == sub.num_chains
        assert config.family.name == entry["family"]["name"]

"""Bit-identical results across (simulated) device counts, for every family example and the
transformer: 1 vs 2 devices for four representative families (one method each) in the default
tier (the two processes run side by side); 1 vs 4 devices, every family example, both methods,
and the transformer in the slow tier (its compile alone cost ~50 s of the default tier's CPU)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from family_examples import EXAMPLES

import collapse_lab as cl

HERE = Path(__file__).resolve().parent


def _run_side_by_side(tmp_path, counts, mode):
    """Run the helper for each device count at once; return the arrays of each."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    paths = [tmp_path / f"devices-{c}.npz" for c in counts]
    procs = [
        subprocess.Popen([sys.executable, str(HERE / "_sharded_run.py"), str(c), str(p), mode],
                         env=env)
        for c, p in zip(counts, paths)
    ]
    for proc in procs:
        assert proc.wait(timeout=900) == 0
    return [np.load(p) for p in paths]


def _assert_bit_identical(one, other, transformer=True):
    assert set(one.files) == set(other.files)
    assert len(one.files) > 0
    assert any(k.startswith("transformer/") for k in one.files) == transformer
    differ = [k for k in one.files if not np.array_equal(one[k], other[k])]
    assert not differ, differ


def test_every_family_has_an_example():
    names = {n.split("-")[0] for n in EXAMPLES}
    assert set(cl.FAMILIES) <= names


def test_one_vs_two_devices_bit_identical(tmp_path):
    _assert_bit_identical(*_run_side_by_side(tmp_path, (1, 2), "quick"), transformer=False)


@pytest.mark.slow
def test_one_vs_four_devices_bit_identical(tmp_path):
    _assert_bit_identical(*_run_side_by_side(tmp_path, (1, 4), "full"))

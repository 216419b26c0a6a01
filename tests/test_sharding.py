"""Bit-identical results on 1 and 4 (simulated) devices, for every family example and the transformer."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from family_examples import EXAMPLES

import collapse_lab as cl

HERE = Path(__file__).resolve().parent


def _run(devices, path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    subprocess.run([sys.executable, str(HERE / "_sharded_run.py"), str(devices), str(path)],
                   check=True, env=env, timeout=600)
    return np.load(path)


def test_every_family_has_an_example():
    names = {n.split("-")[0] for n in EXAMPLES}
    assert set(cl.FAMILIES) <= names


def test_one_vs_four_devices_bit_identical(tmp_path):
    one = _run(1, tmp_path / "one.npz")
    four = _run(4, tmp_path / "four.npz")
    assert set(one.files) == set(four.files)
    assert len(one.files) > 0
    assert any(k.startswith("transformer/") for k in one.files)
    differ = [k for k in one.files if not np.array_equal(one[k], four[k])]
    assert not differ, differ

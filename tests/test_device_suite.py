"""benchmarks/device_suite.py runs on the CPU (--quick) and compares against its reference."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "device_suite.py")


def _module():
    spec = importlib.util.spec_from_file_location("device_suite", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_counts_equal_values_and_the_largest_relative_difference():
    compare = _module()._compare
    ref = {"a": [1.0, 2.0, float("nan")], "b": [4.0]}
    same = compare({"a": [1.0, 2.0, float("nan")], "b": [4.0]}, ref)
    assert same == {"equal": 4, "values": 4, "bit_identical": True, "max_rel_diff": 0.0}
    off = compare({"a": [1.0, 2.0 * (1 + 1e-6), float("nan")], "b": [4.0]}, ref)
    assert off["equal"] == 3 and not off["bit_identical"]
    assert off["max_rel_diff"] == pytest.approx(1e-6, rel=1e-3)
    assert "error" in compare({"a": [1.0], "b": [4.0]}, ref)


@pytest.mark.slow
def test_quick_suite_runs_on_cpu_and_matches_the_reference(tmp_path):
    out = tmp_path / "suite.json"
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, SCRIPT, "--quick", "--out", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert len(report["rates"]) == 9
    assert all("error" not in r for r in report["rates"]), report["rates"]
    identity = report["bit_identity"]
    assert len(identity) == 8
    # Same device (CPU) as the stored reference: every family and path bit-identical.
    assert all(v.get("bit_identical") for v in identity.values()), identity

"""Two local processes joined by ``jax.distributed`` (coordinator on 127.0.0.1, gloo CPU
collectives) run one chain-sharded ``run_chains`` and ``run_reduced`` together.

* ``run_chains``: every observable is bit-identical to a one-process, one-device run (each chain
  runs the same elementwise program wherever it is placed), and both processes see all chains.
* ``run_reduced``: bit-identical to one process with two devices (the same partitioned program;
  slow tier), and equal to the one-device run only to float32 rounding: the across-chain sums are formed per
  device and then added across devices, a different order from one device's tree. Counts and
  histograms are integers and identical.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _multihost_case import run_case

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 240  # per process; each normally finishes in well under a minute


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(out, process_id, num_processes, port, devices=1):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=(os.environ.get("XLA_FLAGS", "")
                          + f" --xla_force_host_platform_device_count={devices}").strip())
    cmd = [sys.executable, str(HERE / "_multihost_run.py"), str(out), str(process_id),
           str(num_processes), str(port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _finish(procs):
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT_S)[0])
    finally:
        for p in procs:  # never leave a process waiting for its peer
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]


def _two_processes(tmp_path, extra=()):
    import jax

    if not hasattr(jax.config, "jax_cpu_collectives_implementation"):
        pytest.skip("this jax has no CPU collectives option")
    port = _free_port()
    outs = [tmp_path / f"process{i}.npz" for i in range(2)]
    procs = [_start(outs[i], i, 2, port) for i in range(2)] + list(extra)
    one_device = run_case()  # meanwhile, this process on its one CPU device
    _finish(procs)
    p0, p1 = (np.load(p) for p in outs)
    assert int(p0["devices"]) == 2 and int(p1["devices"]) == 2
    return p0, p1, one_device


@pytest.mark.slow  # about 45 s of CPU (three JAX processes, each compiling its kernels)
def test_two_processes_run_one_sharded_job(tmp_path):
    p0, p1, one_device = _two_processes(tmp_path)
    keys = set(one_device)
    assert keys == set(p0.files) - {"devices"} == set(p1.files) - {"devices"}
    assert any(k.startswith("chains/") for k in keys) and any(k.startswith("reduced/") for k in keys)
    assert any(k.startswith("counts/") for k in keys) and any(k.startswith("hist/") for k in keys)
    # Both processes hold the whole result, bit for bit the same.
    assert not [k for k in keys if not np.array_equal(p0[k], p1[k])]
    # Chains: bit-identical to one process on one device.
    chains = [k for k in keys if k.startswith("chains/")]
    assert not [k for k in chains if not np.array_equal(p0[k], one_device[k])]
    # Reduced: integers identical to one device, float moments to float32 rounding.
    for k in keys - set(chains):
        if k.startswith("reduced/") and not k.endswith("/count"):
            np.testing.assert_allclose(p0[k], one_device[k], rtol=1e-5, atol=1e-9, err_msg=k)
        else:
            assert np.array_equal(p0[k], one_device[k]), k


@pytest.mark.slow
def test_two_processes_equal_one_process_on_two_devices(tmp_path):
    """The reduced moments' difference from one device is the device split, not the hosts: two
    processes give the bits of one process with two devices (the same partitioned program)."""
    two_path = tmp_path / "two_devices.npz"
    p0, _, _ = _two_processes(tmp_path, extra=[_start(two_path, 0, 1, 0, devices=2)])
    two = np.load(two_path)
    assert int(two["devices"]) == 2
    keys = set(two.files) - {"devices"}
    assert keys and any(k.startswith("reduced/") for k in keys)
    assert not [k for k in keys if not np.array_equal(p0[k], two[k])]

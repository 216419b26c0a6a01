"""Subprocess helper for tests/test_multihost.py: one sharded ``run_chains`` and ``run_reduced``.

``python _multihost_run.py OUT PROCESS_ID NUM_PROCESSES PORT``: with ``NUM_PROCESSES`` > 1 the
process joins a ``jax.distributed`` job whose coordinator listens on 127.0.0.1:PORT (CPU
collectives through gloo), one CPU device per process; with ``NUM_PROCESSES`` = 1 it runs alone
on the CPU devices ``XLA_FLAGS`` gives it. Every process writes the results it sees to OUT.
"""

import os
import sys

os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import numpy as np  # noqa: E402

out, process_id, num_processes, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if num_processes > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}",
                               num_processes=num_processes, process_id=process_id,
                               initialization_timeout=60)
    assert jax.process_count() == num_processes and len(jax.local_devices()) == 1

sys.path.insert(0, os.path.dirname(__file__))
from _multihost_case import CHAINS, REDUCED, run_case  # noqa: E402

result = run_case()
np.savez(out, devices=len(jax.devices()), **result)
print("done", CHAINS, REDUCED, flush=True)

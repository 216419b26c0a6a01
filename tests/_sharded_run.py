"""Subprocess helper: run every family example (and a tiny transformer) on N simulated CPU devices
and save the arrays.

Usage: ``_sharded_run.py DEVICES OUT.npz [full|quick]``: ``full`` runs both methods of every
family and the transformer; ``quick`` (the default test tier) runs one method (exact where it
exists) of the examples in ``QUICK`` (one per kind of kernel: closed-form, multinomial,
Bartlett, point buffer) and no transformer."""

import os
import sys

# The device count, after whatever flags the test run passes down (e.g. the optimisation level).
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + f" --xla_force_host_platform_device_count={sys.argv[1]}").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from family_examples import EXAMPLES  # noqa: E402

import collapse_lab as cl  # noqa: E402

assert len(jax.devices()) == int(sys.argv[1]), jax.devices()
QUICK = ("gaussian", "categorical", "linear_regression", "kde")
quick = len(sys.argv) > 3 and sys.argv[3] == "quick"
out = {}
for name, make in EXAMPLES.items():
    if quick and name not in QUICK:
        continue
    fam, src, n = make()
    # one compiled shape per family and method: 4 generations in chunks of 2
    if quick:
        methods = ("exact",) if fam.has_exact else ("sample",)
    else:
        methods = ("sample", "exact") if fam.has_exact else ("sample",)
    for method in methods:
        r = cl.run_chains(jax.random.key(5), fam, src, policy=cl.Fresh(0.25), num_chains=70,
                          num_generations=4, num_samples=n, method=method, chunk_size=2)
        for k, v in r.observables.items():
            out[f"{name}/{method}/{k}"] = v

# The transformer (not in FAMILIES: its source is built from an n-gram source). Tiny sizes; 6
# chains pad to 8 on one device (align 4) and to 4 x 4 on four, so the per-device batch differs.
# Full mode only: its compile costs ~20 s of CPU per process (~50 s of the default tier).
if not quick:
    ngram_src = cl.NGram(6, 1, mode="corpus", seq_len=8).source(
        jax.random.key(1), cl.random_markov_source(jax.random.key(0), 6, 1, support_size=3))
    fam = cl.Transformer(6, 8, d_model=8, num_layers=1, num_heads=2, num_train_steps=6, batch_size=8)
    src = fam.source(jax.random.key(2), ngram_src, heldout_sequences=8)
    r = cl.run_chains(jax.random.key(5), fam, src, policy=cl.Fresh(0.25), num_chains=6,
                      num_generations=2, num_samples=16, chunk_size=1)
    for k, v in r.observables.items():
        out[f"transformer/sample/{k}"] = v
np.savez(sys.argv[2], **out)

"""The run compared across processes by tests/test_multihost.py (shared by the test process and
the subprocesses, so all of them run exactly the same thing)."""

import jax
import numpy as np

import collapse_lab as cl

CHAINS = dict(num_chains=100, num_generations=3, num_samples=10, chunk_size=2)
REDUCED = dict(num_chains=300, num_generations=3, num_samples=10, chain_batch=128)


def run_case() -> dict:
    fam = cl.Gaussian(dim=1)
    src = fam.source(0.0, 1.0)
    full = cl.run_chains(jax.random.key(3), fam, src, policy=cl.Fresh(0.25), **CHAINS)
    # Fixed histogram edges: no pilot run, so one compiled kernel less per process.
    edges = {"variance": np.linspace(0.0, 3.0, 17), "mean": np.linspace(-2.0, 2.0, 17)}
    red = cl.run_reduced(jax.random.key(4), fam, src, histogram_edges=edges, **REDUCED)
    out = {f"chains/{k}": v for k, v in full.observables.items()}
    for name, m in red.moments.items():
        for field in ("count", "mean", "m2", "m3", "m4"):
            out[f"reduced/{name}/{field}"] = getattr(m, field)
    for (name, t, cut), count in red.threshold_counts.items():
        out[f"counts/{name}/{t}/{cut!r}"] = count
    for name, (_edges, hist) in red.histograms.items():
        out[f"hist/{name}"] = hist
    return out

"""Small runs of every family under the original policies (Replace, Accumulate, Fresh(0.3)).

``python tests/_policy_baseline.py`` (from the repository root, ``PYTHONPATH=$PWD``) regenerates
``tests/data/policy_baseline.npz``; :mod:`tests.test_policies` compares new runs against it bit
for bit. Keys are ``<case>/<policy>/<method>/<observable>``; the categorical and n-gram cases are
separate keys so that they can be regenerated alone if their samplers change
(``python tests/_policy_baseline.py categorical ngram``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np

import collapse_lab as cl

PATH = Path(__file__).parent / "data" / "policy_baseline.npz"
NUM_CHAINS = 4
NUM_GENERATIONS = 6


def _gaussian_1d():
    fam = cl.Gaussian(dim=1, estimator="mle")
    return fam, fam.source(1.0, 2.0), 10, ("sample", "exact")


def _gaussian_2d():
    fam = cl.Gaussian(dim=2, estimator="unbiased")
    return fam, fam.source([0.0, 1.0], [[2.0, 0.3], [0.3, 0.5]]), 8, ("sample", "exact")


def _categorical():
    fam = cl.Categorical(20)
    return fam, fam.source(cl.zipf(1.1, 20)), 30, ("sample", "exact")


def _ngram():
    p = cl.random_markov_source(jax.random.key(0), vocab_size=6, order=1, support_size=4)
    fam = cl.NGram(6, 1, mode="fixed_counts")
    src = fam.source(jax.random.key(1), p, heldout_sequences=4, heldout_seq_len=30)
    methods = ("sample", "exact") if fam.has_exact else ("sample",)
    return fam, src, 5, methods


def _mixture():
    fam = cl.GaussianMixture(2, 1, oracle_assignments=True, num_heldout=4)
    return fam, fam.source([0.6, 0.4], [-3.0, 3.0], [1.0, 0.5]), 12, ("sample", "exact")


CASES = {
    "gaussian1d": _gaussian_1d,
    "gaussian2d": _gaussian_2d,
    "categorical": _categorical,
    "ngram": _ngram,
    "mixture": _mixture,
}
POLICIES = {"replace": cl.Replace, "accumulate": cl.Accumulate, "fresh": lambda: cl.Fresh(0.3)}


def runs(cases=None, methods=None):
    """Yield ``(key, array)`` for every baseline entry (optionally only some methods)."""
    for case in cases or CASES:
        fam, src, n, available = CASES[case]()
        for pname, make in POLICIES.items():
            for method in available:
                if methods is not None and method not in methods:
                    continue
                res = cl.run_chains(
                    jax.random.key(13), fam, src, policy=make(), num_chains=NUM_CHAINS,
                    num_generations=NUM_GENERATIONS, num_samples=n, method=method,
                )
                for obs, arr in res.observables.items():
                    yield f"{case}/{pname}/{method}/{obs}", np.asarray(arr)


def main(argv):
    cases = argv or None
    out = dict(np.load(PATH)) if (cases and PATH.exists()) else {}
    if cases:
        out = {k: v for k, v in out.items() if k.split("/")[0] not in cases}
    out.update(runs(cases))
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **out)
    print(f"wrote {len(out)} arrays to {PATH} ({PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])

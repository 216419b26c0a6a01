"""How far s warm-started EM steps are from the EM fixed point (theory/mixture.md#em).

K = 3 in 1-D (weights 0.5, 0.3, 0.2, means -4, 0, 4, variances 1, 0.5, 2), n = 1,000, one
generation from the source, ``--chains`` chains: for each s, the largest absolute difference of
the fitted weights, means and log standard deviations from a 200-step fit on the same data and
start, and the distribution of the log-likelihood gap (nats, whole data set, float64).

Usage: ``python benchmarks/em_convergence.py [--chains 500]``
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

import collapse_lab as cl


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=500)
    args = parser.parse_args()
    n = 1000
    fam0 = cl.GaussianMixture(3, 1)
    src = fam0.source([0.5, 0.3, 0.2], [-4.0, 0.0, 4.0], [1.0, 0.5, 2.0])
    keys = jax.random.split(jax.random.key(0), args.chains)
    data = jax.jit(jax.vmap(lambda k: fam0.sample_stats(k, src, n)))(keys)
    x = np.asarray(data.points[..., 0], np.float64)

    def fit(steps):
        fam = cl.GaussianMixture(3, 1, num_em_steps=steps)
        return jax.jit(jax.vmap(lambda s: fam.estimate(None, s, src)))(data)

    def loglik(p):
        w = np.asarray(p.weights, np.float64)[:, :, None]
        m = np.asarray(p.means[..., 0], np.float64)[:, :, None]
        v = np.exp(2 * np.asarray(p.log_scale, np.float64))[:, :, None]
        lp = np.log(w) - 0.5 * np.log(2 * np.pi * v) - (x[:, None, :] - m) ** 2 / (2 * v)
        return np.logaddexp.reduce(lp, axis=1).sum(-1)

    ref = fit(200)
    ll_ref = loglik(ref)
    print("steps  max|dw|   max|dmu|  max|dlog sd|  loglik gap: median    q99       max")
    for steps in (1, 2, 3, 5, 10, 20, 50, 100):
        p = fit(steps)
        dw, dm, ds = (float(np.max(np.abs(np.asarray(getattr(p, f)) - np.asarray(getattr(ref, f)))))
                      for f in ("weights", "means", "log_scale"))
        gap = ll_ref - loglik(p)
        print(f"{steps:5d}  {dw:.2e}  {dm:.2e}  {ds:.2e}      {np.median(gap):9.2e} "
              f"{np.quantile(gap, 0.99):9.2e} {gap.max():9.2e}")


if __name__ == "__main__":
    main()

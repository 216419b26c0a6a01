"""Shared run helpers for the reproductions (public API and the chunked runner only)."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

import collapse_lab as cl

from ..chain import make_config, run_generations, start_run
from ..theory import gaussian as thg


@dataclasses.dataclass
class Context:
    """Sizes and options shared by every reproduction (set from the command line)."""

    chains: int = 10_000
    seed: int = 0
    tiny: bool = False  # smoke-test sizes
    discrete_max_sim_n: int = 100
    discrete_exact_max_n: int = 1000
    lm: bool = True
    gmm_generations: int = 2000
    gmm_oracle_chains: int = 200
    gmm_em_chains: int = 8
    lm_generations: int = 4
    discrete_chains: int = 4000


def key(ctx: Context, salt: int):
    return jax.random.key(ctx.seed * 1000 + salt)


def gaussian_run(ctx, salt, n, generations, policy, estimator="mle"):
    fam = cl.Gaussian(dim=1, estimator=estimator)
    return cl.run_chains(key(ctx, salt), fam, fam.source(0.0, 1.0), policy=policy,
                         num_chains=ctx.chains, num_generations=generations, num_samples=n,
                         method="exact")


def heavy_tailed_variance(t, n) -> bool:
    """E[var_t] is not testable by a z across chains when Var[log var_t] > 1 (as in check())."""
    return float(thg.variance_of_log_variance(t, n)) > 1.0


def final_carry(ctx, salt, family, source, policy, generations, n, method, chunk=500):
    """Run without keeping per-generation observables; returns the last params (per chain)."""
    config = make_config(key(ctx, salt), family, source, policy=policy,
                         num_chains=ctx.chains, num_generations=generations, num_samples=n,
                         method=method)
    res = start_run(config)
    params, pool = res.final_params, res.final_pool
    start = 0
    while start < generations:
        stop = min(start + chunk, generations)
        params, pool, _ = run_generations(config, params, pool, start, stop)
        start = stop
    return params


def np64(x):
    return np.asarray(x, dtype=np.float64)

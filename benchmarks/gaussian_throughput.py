"""Gaussian chain throughput: collapse_lab (sample and exact paths) vs NumPy and a Python loop.

All baselines are measured in the same run on the same machine:

* ``jax_normal_rate``: the machine's JAX normal-generation rate (one jitted ``jax.random.normal``
  of the same total size, same PRNG implementation) -- the ceiling of any literal sample path;
* ``numpy_vectorised``: a NumPy implementation that draws a ``[chains, n]`` float32 block per
  generation and refits every chain at once (the best one can do without JAX);
* ``numpy_exact``: NumPy drawing each refit's mean and chi-square directly (the exact path's
  counterpart);
* ``python_loop``: one chain at a time, as in the papers' scripts (measured on a few chains and
  reported per chain-generation).

Usage: ``python benchmarks/gaussian_throughput.py [--quick] [--out results.json]``.
Prints a table and writes JSON with provenance.
"""

from __future__ import annotations

import time

import _common  # benchmarks/_common.py (this folder is on sys.path)
import jax
import jax.numpy as jnp
import numpy as np

import collapse_lab as cl


def _best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def jax_normal_rate(key, shape):
    """Best rate of one jitted normal draw of ``shape`` (same PRNG implementation)."""
    total = int(np.prod(shape))
    f = jax.jit(lambda k: jax.random.normal(k, shape, jnp.float32).sum())
    f(key).block_until_ready()
    dt = _best(lambda: f(jax.random.fold_in(key, 1)).block_until_ready(), repeat=7)
    return total / dt


def collapse_lab_rate(key, chains, generations, n, method):
    fam = cl.Gaussian(estimator="mle")
    src = fam.source(0.0, 1.0)

    def go():
        r = cl.run_chains(key, fam, src, num_chains=chains, num_generations=generations,
                          num_samples=n, method=method)
        return r

    t0 = time.perf_counter()
    go()  # includes compilation
    first = time.perf_counter() - t0
    dt = _best(go, repeat=2)
    return {"seconds": dt, "compile_s": max(first - dt, 0.0),
            "chain_generations_per_s": chains * generations / dt,
            "samples_per_s": chains * generations * n / dt}


def _numpy_chains(chains, generations, n, refit, seed=0, record=False, build_only=False):
    """Time NumPy chains whose per-generation refit ``refit(rng) -> (zbar, M2)`` is vectorised
    over chains (standardised frame); the state update is shared by both baselines.

    ``record``: also keep, per generation, the four observables a collapse_lab run restricted to
    ``check()``'s needs returns (``log_variance``, ``variance``, ``mean_drift2``,
    ``w2_squared``), in ``[generations, chains]`` float32 arrays: the same outputs, so equal work.
    Without it only the final state is kept (NumPy does less than the lab then).
    ``build_only``: return the untimed zero-argument step function instead (for interleaved
    timings against another implementation).
    """
    rng = np.random.default_rng(seed)

    def go():
        mu = np.zeros(chains, np.float32)
        log_s = np.zeros(chains, np.float32)
        if record:
            log_var, var, drift2, w2 = (np.empty((generations, chains), np.float32)
                                        for _ in range(4))
        sigma = np.ones(chains, np.float32)
        for t in range(generations):
            zbar, m2 = refit(rng)
            mu = mu + sigma * zbar
            log_s = log_s + 0.5 * np.log(m2 / n)
            sigma = np.exp(log_s)  # one exp per generation, shared with the observables
            if record:
                np.multiply(log_s, 2, out=log_var[t])
                np.multiply(sigma, sigma, out=var[t])
                np.multiply(mu, mu, out=drift2[t])
                s = sigma - 1
                np.add(drift2[t], s * s, out=w2[t])
        return log_s

    if build_only:
        return go
    dt = _best(go, repeat=2)
    return {"seconds": dt, "chain_generations_per_s": chains * generations / dt,
            "samples_per_s": chains * generations * n / dt}


def numpy_vectorised(chains, generations, n, seed=0):
    """The sample path in NumPy: a ``[chains, n]`` float32 block per generation."""

    def refit(rng):
        z = rng.standard_normal((chains, n), dtype=np.float32)
        zbar = z.mean(axis=1)
        return zbar, np.square(z - zbar[:, None]).sum(axis=1)

    return _numpy_chains(chains, generations, n, refit, seed)


def numpy_exact(chains, generations, n, seed=0, record=False, build_only=False):
    """The exact path in NumPy: each refit's mean and chi-square drawn directly (O(1) in n).
    ``record``: keep the per-generation observables too (see :func:`_numpy_chains`)."""

    def refit(rng):
        zbar = rng.standard_normal(chains, dtype=np.float32) / np.float32(np.sqrt(n))
        return zbar, rng.chisquare(n - 1, chains).astype(np.float32)

    return _numpy_chains(chains, generations, n, refit, seed, record=record,
                         build_only=build_only)


def python_loop(chains, generations, n, seed=0):
    rng = np.random.default_rng(seed)

    def go():
        for _ in range(chains):
            mu, sigma = 0.0, 1.0
            for _ in range(generations):
                x = rng.normal(mu, sigma, size=n)
                mu, sigma = float(x.mean()), float(x.std())
    dt = _best(go, repeat=1)
    return {"seconds": dt, "chain_generations_per_s": chains * generations / dt,
            "samples_per_s": chains * generations * n / dt}


def main(argv=None):
    ap = _common.parser(__doc__, "benchmarks/results/gaussian_throughput.json")
    ap.add_argument("--chains", type=int, default=10_000)
    ap.add_argument("--generations", type=int, default=200)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--impl", default="threefry2x32", help="JAX PRNG implementation")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    args = ap.parse_args(argv)
    if args.quick:
        args.chains, args.generations = 2000, 50
    key = jax.random.key(0, impl=args.impl)
    C, T, n = args.chains, args.generations, args.n

    res = {"config": vars(args)}
    res["jax_normal_rate"] = max(jax_normal_rate(key, (C, n)), jax_normal_rate(key, (C * n,)))
    res["sample"] = collapse_lab_rate(key, C, T, n, "sample")
    res["numpy_vectorised"] = numpy_vectorised(C, T, n)
    res["numpy_exact"] = numpy_exact(C, T, n)
    loop_chains = max(C // 500, 4)
    res["python_loop"] = python_loop(loop_chains, T, n)
    res["exact"] = {}
    for n_exact in (10, 100, 1000, 100_000):
        res["exact"][str(n_exact)] = collapse_lab_rate(key, C, T, n_exact, "exact")

    s, npv, loop = res["sample"], res["numpy_vectorised"], res["python_loop"]
    ex = res["exact"]
    rates = [v["chain_generations_per_s"] for v in ex.values()]
    res["ratios"] = {
        "sample_vs_numpy": s["samples_per_s"] / npv["samples_per_s"],
        "sample_vs_python_loop": s["samples_per_s"] / loop["samples_per_s"],
        "sample_fraction_of_jax_normal_rate": s["samples_per_s"] / res["jax_normal_rate"],
        "exact_max_over_min_rate_n10_to_n1e5": max(rates) / min(rates),
        "exact_n1000_vs_sample_path_n1000": None,
        "exact_vs_numpy_exact_chain_gen_per_s": (
            ex[str(n)]["chain_generations_per_s"] / res["numpy_exact"]["chain_generations_per_s"]
            if str(n) in ex else None),
    }
    # The sample path at n=1000 (same chains and generations) for the exact/sample ratio.
    res["sample_n1000"] = collapse_lab_rate(key, C, T, 1000, "sample")
    res["ratios"]["exact_n1000_vs_sample_path_n1000"] = (
        ex["1000"]["chain_generations_per_s"] / res["sample_n1000"]["chain_generations_per_s"]
    )
    res["provenance"] = _common.provenance()

    print(f"Gaussian throughput: {C} chains x {T} generations, float32, PRNG {args.impl}")
    print(f"{'path':34s} {'chain-gen/s':>14s} {'samples/s':>14s}")
    print(f"{'JAX normal generation (ceiling)':34s} {'':>14s} {res['jax_normal_rate']:14.3g}")
    for name, r in [(f"collapse_lab sample, n={n}", s), (f"numpy vectorised, n={n}", npv),
                    (f"numpy exact (normal+chisquare), n={n}", res["numpy_exact"]),
                    (f"python loop, n={n}", loop),
                    ("collapse_lab sample, n=1000", res["sample_n1000"])]:
        print(f"{name:34s} {r['chain_generations_per_s']:14.3g} {r['samples_per_s']:14.3g}")
    for k, r in ex.items():
        print(f"{'collapse_lab exact, n=' + k:34s} {r['chain_generations_per_s']:14.3g} "
              f"{'(n-free)':>14s}")
    print("compile time (s): sample {:.2f}, exact {:.2f}".format(s["compile_s"], ex["100"]["compile_s"]))
    for k, v in res["ratios"].items():
        print(f"  {k:42s} {v:10.3g}")
    _common.write_json(args.out, res)
    return res


if __name__ == "__main__":
    main()

"""Throughput of every family and path against NumPy and per-chain Python loops, same run.

Each measurement runs in its own subprocess so that its peak resident memory can be reported.
Rates: chain-generations/s and samples/s (tokens/s for the discrete families); ``rng_fraction``
is the sample path's samples/s divided by the machine's JAX random-number rate for the numbers
that path consumes (normals for the Gaussian, uniforms for categorical draws), measured in the
same run with the same PRNG implementation. Scaling: chains from 10^2 to 10^6 (the largest in
reduced mode) and n from 10 to 10^6.

Usage: ``python benchmarks/throughput.py [--quick] [--out benchmarks/results/throughput.json]``
writes JSON (with provenance) and a Markdown table next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time


# ------------------------------------------------------------------------------ measurements
def _timed(fn, repeat=2):
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best, max(first - best, 0.0)


def point(spec: dict) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import collapse_lab as cl

    kind = spec["kind"]
    C, T, n = spec.get("chains", 0), spec.get("generations", 0), spec.get("n", 0)
    key = jax.random.key(0)
    out = dict(spec)
    if kind == "rng":
        shape = (spec["chains"], spec["n"])
        fn = {"normal": jax.random.normal, "uniform": jax.random.uniform}[spec["what"]]
        f = jax.jit(lambda k: fn(k, shape, jnp.float32).sum())
        dt, _ = _timed(lambda: f(key).block_until_ready(), repeat=3)
        out["per_s"] = shape[0] * shape[1] / dt
    elif kind in ("gaussian", "categorical"):
        if kind == "gaussian":
            fam = cl.Gaussian()
            src = fam.source()
        else:
            fam = cl.Categorical(spec["vocab"])
            src = fam.source(cl.zipf(1.1, spec["vocab"]))
        runner = cl.run_reduced if spec.get("reduced") else cl.run_chains
        extra = {"chain_batch": 65_536} if spec.get("reduced") else {}

        def go():
            r = runner(key, fam, src, num_chains=C, num_generations=T, num_samples=n,
                       method=spec["method"], **extra)
            if spec.get("reduced"):
                return r
            return jax.block_until_ready(r.observables)

        dt, compile_s = _timed(go, repeat=1 if C * T >= 10**8 else 2)
        out.update(seconds=dt, compile_s=compile_s, chain_generations_per_s=C * T / dt,
                   samples_per_s=C * T * n / dt)
    elif kind == "numpy_gaussian":
        rng = np.random.default_rng(0)

        def go():
            mu = np.zeros(C, np.float32)
            log_s = np.zeros(C, np.float32)
            for _ in range(T):
                z = rng.standard_normal((C, n), dtype=np.float32)
                zbar = z.mean(axis=1)
                mu = mu + np.exp(log_s) * zbar
                log_s = log_s + 0.5 * np.log(np.square(z - zbar[:, None]).sum(axis=1) / n)

        dt, _ = _timed(go, repeat=1)
        out.update(seconds=dt, chain_generations_per_s=C * T / dt, samples_per_s=C * T * n / dt)
    elif kind == "numpy_categorical":
        rng = np.random.default_rng(0)
        p0 = cl.zipf(1.1, spec["vocab"])

        def go():
            p = np.broadcast_to(p0, (C, p0.size)).copy()
            for _ in range(T):
                p = rng.multinomial(n, p) / n

        dt, _ = _timed(go, repeat=1)
        out.update(seconds=dt, chain_generations_per_s=C * T / dt, samples_per_s=C * T * n / dt)
    elif kind == "loop_gaussian":
        rng = np.random.default_rng(0)

        def go():
            for _ in range(C):
                mu, sigma = 0.0, 1.0
                for _ in range(T):
                    x = rng.normal(mu, sigma, size=n)
                    mu, sigma = float(x.mean()), float(x.std())

        dt, _ = _timed(go, repeat=1)
        out.update(seconds=dt, chain_generations_per_s=C * T / dt, samples_per_s=C * T * n / dt)
    elif kind == "loop_categorical":
        rng = np.random.default_rng(0)
        p0 = cl.zipf(1.1, spec["vocab"])

        def go():
            for _ in range(C):
                p = p0
                for _ in range(T):
                    tokens = rng.choice(p.size, size=n, p=p)
                    p = np.bincount(tokens, minlength=p.size) / n

        dt, _ = _timed(go, repeat=1)
        out.update(seconds=dt, chain_generations_per_s=C * T / dt, samples_per_s=C * T * n / dt)
    else:
        raise ValueError(f"unknown point kind {kind!r}")
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run_point(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--point", json.dumps(spec)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return dict(spec, error=proc.stderr.strip().splitlines()[-1:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------- the plan
def plan(quick: bool) -> list[dict]:
    C, T = (2000, 50) if quick else (10_000, 200)
    V = 1000
    cc, ct = (200, 20) if quick else (1000, 50)
    pts = [
        {"name": "rng normal", "kind": "rng", "what": "normal", "chains": C, "n": 100},
        {"name": "rng uniform", "kind": "rng", "what": "uniform", "chains": cc, "n": 1000},
        {"name": "gaussian sample n=100", "kind": "gaussian", "method": "sample",
         "chains": C, "generations": T, "n": 100},
        {"name": "gaussian numpy n=100", "kind": "numpy_gaussian", "chains": C,
         "generations": T, "n": 100},
        {"name": "gaussian loop n=100", "kind": "loop_gaussian", "chains": max(C // 500, 4),
         "generations": T, "n": 100},
        {"name": f"categorical sample V={V} n=1000", "kind": "categorical", "method": "sample",
         "vocab": V, "chains": cc, "generations": ct, "n": 1000},
        {"name": f"categorical exact V={V} n=1000", "kind": "categorical", "method": "exact",
         "vocab": V, "chains": cc, "generations": ct, "n": 1000},
        {"name": f"categorical numpy V={V} n=1000", "kind": "numpy_categorical", "vocab": V,
         "chains": cc, "generations": ct, "n": 1000},
        {"name": f"categorical loop V={V} n=1000", "kind": "loop_categorical", "vocab": V,
         "chains": max(cc // 50, 2), "generations": ct, "n": 1000},
    ]
    for n in (10, 1000, 10**6):
        pts.append({"name": f"gaussian exact n={n}", "kind": "gaussian", "method": "exact",
                    "chains": C, "generations": T, "n": n})
    for n in (10, 1000, 10_000):
        pts.append({"name": f"gaussian sample n={n} (scaling in n)", "kind": "gaussian",
                    "method": "sample", "chains": C // 10, "generations": T, "n": n})
    for n in (100, 10**6):
        pts.append({"name": f"categorical exact V={V} n={n} (scaling in n)",
                    "kind": "categorical", "method": "exact", "vocab": V, "chains": cc,
                    "generations": ct, "n": n})
    top = 5 if quick else 6
    for e in range(2, top + 1):
        reduced = e >= 6
        pts.append({"name": f"gaussian exact chains=1e{e}" + (" (reduced)" if reduced else ""),
                    "kind": "gaussian", "method": "exact", "chains": 10**e, "generations": 100,
                    "n": 100, "reduced": reduced})
    return pts


def _get(results, name):
    return next(r for r in results if r["name"] == name)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    ap.add_argument("--point", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="benchmarks/results/throughput.json")
    args = ap.parse_args(argv)
    if args.point:
        print(json.dumps(point(json.loads(args.point))))
        return None
    import jax

    import collapse_lab as cl

    results = []
    for spec in plan(args.quick):
        r = _run_point(spec)
        results.append(r)
        print(f"{r['name']:48s} " + ("ERROR " + str(r["error"]) if "error" in r else
              f"{r.get('chain_generations_per_s', float('nan')):12.3g} chain-gen/s "
              f"{r.get('samples_per_s', r.get('per_s', float('nan'))):12.3g} /s "
              f"peak {r['peak_rss_mb']:8.0f} MB"), flush=True)
    ok = [r for r in results if "error" not in r]
    g = {r["name"]: r for r in ok}
    ratios = {}
    try:
        s = g["gaussian sample n=100"]
        ratios["gaussian sample vs numpy"] = (
            s["samples_per_s"] / g["gaussian numpy n=100"]["samples_per_s"])
        ratios["gaussian sample vs python loop"] = (
            s["samples_per_s"] / g["gaussian loop n=100"]["samples_per_s"])
        ratios["gaussian sample / JAX normal rate"] = s["samples_per_s"] / g["rng normal"]["per_s"]
        ex = [g[f"gaussian exact n={n}"]["chain_generations_per_s"] for n in (10, 1000, 10**6)]
        ratios["gaussian exact max/min rate, n=10..1e6"] = max(ex) / min(ex)
        ratios["gaussian exact vs numpy (chain-gen/s, n=100 numpy)"] = (
            g["gaussian exact n=1000"]["chain_generations_per_s"]
            / g["gaussian numpy n=100"]["chain_generations_per_s"])
        ratios["gaussian exact vs python loop (chain-gen/s)"] = (
            g["gaussian exact n=1000"]["chain_generations_per_s"]
            / g["gaussian loop n=100"]["chain_generations_per_s"])
    except KeyError:
        pass
    V = 1000
    try:
        cs = g[f"categorical sample V={V} n=1000"]
        ce = g[f"categorical exact V={V} n=1000"]
        cn = g[f"categorical numpy V={V} n=1000"]
        cloop = g[f"categorical loop V={V} n=1000"]
        ratios["categorical sample vs numpy"] = cs["samples_per_s"] / cn["samples_per_s"]
        ratios["categorical exact vs numpy"] = ce["samples_per_s"] / cn["samples_per_s"]
        ratios["categorical sample vs python loop"] = cs["samples_per_s"] / cloop["samples_per_s"]
        ratios["categorical exact vs python loop"] = ce["samples_per_s"] / cloop["samples_per_s"]
        ratios["categorical sample / JAX uniform rate"] = cs["samples_per_s"] / g["rng uniform"]["per_s"]
    except KeyError:
        pass
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        "jax": jax.__version__, "collapse_lab": cl.__version__,
        "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"provenance": meta, "results": results, "ratios": ratios}, f, indent=2)
    lines = [f"Throughput on {meta['machine']} ({meta['backend']}), jax {meta['jax']}, "
             f"{meta['date']}", "",
             "| measurement | chains | generations | n | chain-gen/s | samples/s | compile s "
             "| peak MB |", "|---|---|---|---|---|---|---|---|"]
    for r in ok:
        rate = r.get("samples_per_s", r.get("per_s"))
        lines.append(
            f"| {r['name']} | {r.get('chains', '')} | {r.get('generations', '')} | "
            f"{r.get('n', '')} | {r.get('chain_generations_per_s', float('nan')):.3g} | "
            f"{rate:.3g} | {r.get('compile_s', float('nan')):.2f} | {r['peak_rss_mb']:.0f} |")
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {k} | {v:.3g} |" for k, v in ratios.items()]
    md = "\n".join(lines) + "\n"
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(md)
    print(md)
    return ratios


if __name__ == "__main__":
    main()

"""Accelerator check: every family's rate on both paths beside the committed CPU figures, and
bit-identity of a few chains against values stored from a CPU run. One JSON out.

Runs the family points of ``throughput.py`` (same names and sizes, so the rates line up with
``benchmarks/results/throughput.json``) in this process on the default JAX device, prints each
rate beside the CPU rate committed there, then runs a tiny fixed configuration of every family
and path and compares its observables with ``benchmarks/results/device_reference.json``
(written on the CPU by ``--write-reference``).

Expected differences on a GPU: integer observables (counts, support sizes) and the chains'
discrete decisions agree unless a float comparison inside a sampler flips; float observables
may differ in the last bits (float32 relative ~1e-6 per operation, growing with the number of
generations), because XLA's GPU and CPU back ends round transcendental functions (log, exp,
erf_inv) and fused multiply-adds differently. The report states, per family and path, the
number of equal values and the largest relative difference.

Usage::

    python benchmarks/device_suite.py [--quick] [--out benchmarks/results/device_suite.json]
    python benchmarks/device_suite.py --write-reference   # on the CPU, to refresh the reference

Budget: under 4 minutes on one GPU at the default sizes; ``--quick`` (smaller sizes, also the
CPU smoke test) takes about a minute here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
REFERENCE = os.path.join(RESULTS, "device_reference.json")

# The throughput.py points measured here (both paths of every family).
POINTS = (
    "gaussian sample n=100",
    "gaussian exact n=100",
    "categorical sample V=1000 n=1000",
    "categorical exact V=1000 n=1000",
    "ngram corpus sample V=200",
    "ngram fixed-counts exact V=200",
    "mixture EM sample K=3",
    "mixture oracle exact K=3",
    "transformer sample V=16 L=32",
)

# Tiny fixed runs whose observables are compared with the stored CPU values.
IDENTITY = (
    ("gaussian", "sample", 50),
    ("gaussian", "exact", 50),
    ("categorical", "sample", 500),
    ("categorical", "exact", 500),
    ("ngram_corpus", "sample", 4),
    ("ngram_fixed", "exact", 20),
    ("mixture_em", "sample", 100),
    ("mixture_oracle", "exact", 100),
)
IDENTITY_CHAINS = 4
IDENTITY_GENERATIONS = 3


def _throughput():
    spec = importlib.util.spec_from_file_location("throughput", os.path.join(HERE, "throughput.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _identity_run(tp, name, method, n):
    import jax
    import numpy as np

    import collapse_lab as cl

    if name == "gaussian":
        family = cl.Gaussian()
        source = family.source()
    elif name == "categorical":
        family = cl.Categorical(100)
        source = family.source(cl.zipf(1.1, 100))
    else:
        family, source = tp._family_example(name, 200 if name.startswith("ngram") else 0)
    result = cl.run_chains(jax.random.key(7), family, source, num_chains=IDENTITY_CHAINS,
                           num_generations=IDENTITY_GENERATIONS, num_samples=n, method=method)
    return {k: np.asarray(v, np.float64).ravel().tolist() for k, v in result.observables.items()}


def _compare(now: dict, ref: dict) -> dict:
    import numpy as np

    equal = total = 0
    worst = 0.0
    for k, values in ref.items():
        a, b = np.asarray(now.get(k, []), np.float64), np.asarray(values, np.float64)
        if a.shape != b.shape:
            return {"error": f"observable {k}: shape {a.shape} != reference {b.shape}"}
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        equal += int(same.sum())
        total += a.size
        diff = np.abs(a - b)[~same]
        scale = np.maximum(np.abs(b)[~same], 1e-30)
        if diff.size:
            worst = max(worst, float(np.max(diff / scale)))
    return {"equal": equal, "values": total, "bit_identical": equal == total,
            "max_rel_diff": worst}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (CPU smoke test)")
    ap.add_argument("--out", default=os.path.join(RESULTS, "device_suite.json"))
    ap.add_argument("--cpu-figures", default=os.path.join(RESULTS, "throughput.json"))
    ap.add_argument("--write-reference", action="store_true",
                    help="store the identity runs' observables as the reference (run on CPU)")
    args = ap.parse_args(argv)
    import jax

    tp = _throughput()
    start = time.perf_counter()
    if args.write_reference:
        ref = {f"{f} {m}": _identity_run(tp, f, m, n) for f, m, n in IDENTITY}
        ref["_provenance"] = {"backend": jax.default_backend(), "jax": jax.__version__,
                              "machine": platform.platform(),
                              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
        with open(REFERENCE, "w") as f:
            json.dump(ref, f)
        print("wrote", REFERENCE)
        return ref
    cpu = {}
    if os.path.exists(args.cpu_figures):
        with open(args.cpu_figures) as f:
            cpu = {r["name"]: r for r in json.load(f)["results"] if "error" not in r}
    plan = {p["name"]: p for p in tp.plan(args.quick)}
    device = f"{jax.default_backend()} ({', '.join(str(d) for d in jax.devices())})"
    print(f"device suite on {device}, jax {jax.__version__}")
    print(f"{'point':36s} {'chain-gen/s':>12s} {'CPU (committed)':>16s} {'ratio':>7s}")
    rates = []
    for name in POINTS:
        spec = plan[name]
        try:
            r = tp.point(spec)
        except Exception as e:  # report and go on: the suite must finish
            r = dict(spec, error=f"{type(e).__name__}: {e}")
        base = cpu.get(name, {}).get("chain_generations_per_s")
        rate = r.get("chain_generations_per_s")
        r["cpu_chain_generations_per_s"] = base
        r["vs_cpu"] = rate / base if rate and base else None
        # Committed CPU figures are at full size; --quick rates are not comparable.
        r["comparable_to_cpu"] = not args.quick
        rates.append(r)
        if "error" in r:
            print(f"{name:36s} ERROR {r['error']}", flush=True)
        else:
            ratio = f"{r['vs_cpu']:7.2f}" if r["vs_cpu"] and not args.quick else "      -"
            base_s = f"{base:16.3g}" if base else f"{'-':>16s}"
            print(f"{name:36s} {rate:12.3g} {base_s} {ratio}", flush=True)
    identity = {}
    if os.path.exists(REFERENCE):
        with open(REFERENCE) as f:
            ref = json.load(f)
        print(f"\nbit identity against the CPU reference ({ref['_provenance']['date']}):")
        for fam, method, n in IDENTITY:
            key = f"{fam} {method}"
            try:
                identity[key] = _compare(_identity_run(tp, fam, method, n), ref[key])
            except Exception as e:
                identity[key] = {"error": f"{type(e).__name__}: {e}"}
            c = identity[key]
            print(f"  {key:22s} " + (c["error"] if "error" in c else
                  f"{c['equal']}/{c['values']} values equal, max rel diff {c['max_rel_diff']:.2g}"))
    else:
        print(f"\nno reference at {REFERENCE}: run with --write-reference on the CPU first")
    elapsed = time.perf_counter() - start
    report = {
        "provenance": {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
                       "jax": jax.__version__, "machine": platform.platform(),
                       "date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick},
        "rates": rates,
        "bit_identity": identity,
        "expected_difference": (
            "CPU vs GPU: float observables may differ in the last bits (float32, ~1e-6 relative "
            "per operation) because the back ends round transcendental functions and fused "
            "multiply-adds differently; a sampler decision that flips on such a difference "
            "changes that chain from then on. Same device: bit-identical."),
        "elapsed_s": elapsed,
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\n{elapsed:.0f} s; wrote {args.out}")
    return report


if __name__ == "__main__":
    main()

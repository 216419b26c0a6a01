"""Huge ensembles in reduced mode: the issue-8 acceptance runs, with peak memory.

* Gaussian, exact path, 1,000,000 chains x 1,000 generations (n = 10, MLE, replace): every
  applicable exact row of ``check()`` must pass at false-alarm 1e-3.
* Categorical, exact path, vocab 1,000 (Zipf 1.1), 100,000 chains x 100 generations, n = 1,000:
  peak resident memory must stay under 4 GiB.

Each run is a subprocess so that its own peak RSS is reported. Usage:
``python benchmarks/reduced_scale.py [--quick] [--only gaussian|categorical]``.
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

import _common  # benchmarks/_common.py (this folder is on sys.path)


def run(spec):
    import jax

    import collapse_lab as cl

    t0 = time.perf_counter()
    if spec["family"] == "gaussian":
        fam = cl.Gaussian(estimator="mle")
        src = fam.source()
    else:
        fam = cl.Categorical(spec["vocab"])
        src = fam.source(cl.zipf(1.1, spec["vocab"]))
    done = []
    red = cl.run_reduced(
        jax.random.key(2026), fam, src, num_chains=spec["chains"],
        num_generations=spec["generations"], num_samples=spec["n"], method="exact",
        chain_batch=spec["batch"], progress=lambda a, b: done.append(a),
    )
    seconds = time.perf_counter() - t0
    table = cl.check(red, false_alarm=1e-3)
    out = dict(spec, seconds=seconds,
               chain_generations_per_s=spec["chains"] * spec["generations"] / seconds,
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               check_rows=len(table), check_passed=bool(table.attrs["passed"]),
               failed_rows=table.loc[~table["pass"], ["quantity", "generation", "z"]]
               .to_dict("records"),
               skipped_rows=len(table.attrs.get("skipped", [])))
    print(cl.format_table(table, f"{spec['family']}: {spec['chains']} chains x "
                                 f"{spec['generations']} generations (reduced)"), file=sys.stderr)
    return out


def main(argv=None):
    ap = _common.parser(__doc__, "benchmarks/results/reduced_scale.json")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["gaussian", "categorical"])
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.spec:
        print(json.dumps(run(json.loads(args.spec)), default=str))
        return
    scale = 100 if args.quick else 1
    specs = [
        {"family": "gaussian", "chains": 1_000_000 // scale, "generations": 1000, "n": 10,
         "batch": 131_072},
        {"family": "categorical", "vocab": 1000, "chains": 100_000 // scale, "generations": 100,
         "n": 1000, "batch": 8192},
    ]
    results = []
    for spec in specs:
        if args.only and spec["family"] != args.only:
            continue
        proc = subprocess.run([sys.executable, __file__, "--spec", json.dumps(spec)],
                              capture_output=True, text=True)
        sys.stderr.write(proc.stderr[-6000:])
        if proc.returncode != 0:
            results.append(dict(spec, error=proc.stderr.strip().splitlines()[-1:]))
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        r["machine"] = f"{os.cpu_count()} CPU cores, {platform.platform()}"
        results.append(r)
        print(f"{r['family']}: {r['chains']} x {r['generations']}: {r['seconds']:.0f} s, "
              f"{r['chain_generations_per_s']:.3g} chain-gen/s, peak RSS {r['peak_rss_mb']:.0f} MB,"
              f" check {'PASS' if r['check_passed'] else 'FAIL'} ({r['check_rows']} rows)")
    # Keep the other families' earlier results when only some were run (--only).
    if os.path.exists(args.out) and not args.quick:
        with open(args.out) as f:
            ran = {r["family"] for r in results}
            results = [r for r in json.load(f) if r.get("family") not in ran] + results
    _common.write_json(args.out, results)


if __name__ == "__main__":
    main()

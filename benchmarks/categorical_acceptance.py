"""Acceptance run of the categorical (Wright-Fisher) family against its exact theory.

Zipf(1.1) over 1,000 categories, n = 1,000 tokens per generation, 10,000 independent chains,
200 generations (replace policy), then ``check()`` with the true sample size and with wrong
sample sizes as negative controls (``overrides={"num_samples": n'}``). Prints the verdict
tables and the z-scores of the headline rows, and writes JSON.

Usage::

    python benchmarks/categorical_acceptance.py [--method sample|exact] [--chains 10000]
        [--generations 200] [--out benchmarks/results/categorical_acceptance.json]
"""

from __future__ import annotations

import time

import _common  # benchmarks/_common.py (this folder is on sys.path)
import jax

import collapse_lab as cl

HEADLINE = ("support_size", "lost_mass", "heterozygosity")


def summarize(table):
    exact = table[table["exact"]]
    rows = {}
    for obs in HEADLINE:
        part = exact[exact["observable"] == obs]
        rows[obs] = {
            "num_rows": int(len(part)),
            "failed": int((~part["pass"]).sum()),
            "max_abs_z": float(part["z"].abs().max()) if len(part) else None,
        }
    var_rows = exact[exact["statistic"] == "z (variance)"]
    rows["variance_of_p"] = {
        "num_rows": int(len(var_rows)),
        "failed": int((~var_rows["pass"]).sum()),
        "max_abs_z": float(var_rows["z"].abs().max()) if len(var_rows) else None,
    }
    return {
        "num_rows": int(len(table)),
        "num_exact_rows": int(len(exact)),
        "exact_rows_failed": int((~exact["pass"]).sum()),
        "all_exact_pass": bool(exact["pass"].all()),
        "per_row_alpha": float(table.attrs["per_row_alpha"]),
        "z_threshold": float(table["z_threshold"].iloc[0]),
        "headline": rows,
    }


def main(argv=None):
    parser = _common.parser(__doc__, "benchmarks/results/categorical_acceptance.json")
    parser.add_argument("--method", default="sample", choices=["sample", "exact"])
    parser.add_argument("--chains", type=int, default=10_000)
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    n = args.num_samples
    family = cl.Categorical(args.vocab)
    source = family.source(cl.zipf(1.1, args.vocab))
    start = time.perf_counter()
    result = cl.run_chains(
        jax.random.key(args.seed),
        family,
        source,
        num_chains=args.chains,
        num_generations=args.generations,
        num_samples=n,
        method=args.method,
        chunk_size=50,
    )
    run_s = time.perf_counter() - start
    print(
        f"{args.chains} chains x {args.generations} generations, n = {n}, "
        f"method={args.method}: {run_s:.1f} s"
    )

    report = {"config": vars(args), "run_seconds": run_s, "checks": {}}
    controls = {
        "n": None,
        "n+1": n + 1,
        "n-1": n - 1,
        "1.05n": round(1.05 * n),
        "0.95n": round(0.95 * n),
        "1.2n": round(1.2 * n),
    }
    for name, wrong_n in controls.items():
        overrides = None if wrong_n is None else {"num_samples": wrong_n}
        start = time.perf_counter()
        table = cl.check(result, overrides=overrides)
        summary = summarize(table)
        summary["check_seconds"] = time.perf_counter() - start
        report["checks"][name] = summary
        head = table[table["observable"].isin(HEADLINE)]
        title = f"--- theory with num_samples = {wrong_n or n} ({name}) ---"
        print(cl.format_table(head, title=title))
        print(
            f"exact rows: {summary['num_exact_rows']}, failed: {summary['exact_rows_failed']}; "
            f"variance rows failed: {summary['headline']['variance_of_p']['failed']} of "
            f"{summary['headline']['variance_of_p']['num_rows']}\n"
        )
    _common.write_json(args.out, report)
    return report


if __name__ == "__main__":
    main()

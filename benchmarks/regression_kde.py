"""Linear regression and KDE chains against their exact theory, and the regression exact path's
cost in the per-generation sample size T.

Three parts (theory/regression.md, theory/kde.md):

* ``flat``: ``LinearRegression(5, 1.0)`` on the exact path (Bartlett-Wishart statistics, no
  samples), the same compiled kernel at T = 20, 1,000, 10^5 and 10^6: wall time per call (best
  of ``--repeats`` after one warm-up) and the ratio max/min. The exact path's cost should not
  depend on T.
* ``regression``: mean test error over chains, Replace (linear growth, R1) and Accumulate
  (bounded, R4), d = 5, T = 20, noise 1, with the exact theory and Gerstgrasser et al.'s
  fixed-design bound.
* ``kde``: 1-D KDE chains from N(0, 1), n = 50, under a fixed bandwidth h = 0.3 (converges
  to (n - 1) h^2 = 4.41), Silverman's rule (explodes geometrically, factor 1.215 per
  generation) and Silverman's rule with its constant scaled by 0.1 (below the phase boundary
  c* = n^(-3/10) = 0.31: collapses, factor 0.982), with the exact K1/K2 recursions.

Usage::

    python benchmarks/regression_kde.py [--quick] [--out benchmarks/results/regression_kde]

Writes ``<out>.json`` and ``<out>.png`` and prints a table. Timings are wall-clock on a shared
machine: compare the ratios, measured in the same run, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import jax
import numpy as np

import collapse_lab as cl
from collapse_lab.theory import kde as th_kde
from collapse_lab.theory import regression as th_reg


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer chains and generations")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/regression_kde")
    p.add_argument("--flat-only", action="store_true",
                   help="re-measure only the cost in T and update flat_in_T in <out>.json")
    return p.parse_args()


def flat_in_t(num_chains, num_generations, repeats):
    """Best-of-``repeats`` wall time per T; the sizes are measured round-robin so that a change
    of load on a shared machine hits every T alike (one compile, T is data on this path)."""
    fam = cl.LinearRegression(5, 1.0)
    src = fam.source(np.linspace(-1.0, 1.0, 5))
    sizes = [20, 1000, 100_000, 1_000_000]

    def once(t_size, seed):
        t0 = time.perf_counter()
        res = cl.run_chains(jax.random.key(seed), fam, src, num_chains=num_chains,
                            num_generations=num_generations, num_samples=t_size, method="exact")
        np.asarray(res.observables["test_error"])
        return time.perf_counter() - t0

    once(20, 0)  # compile
    best = {t: np.inf for t in sizes}
    for r in range(repeats):
        for t_size in sizes:
            best[t_size] = min(best[t_size], once(t_size, r + 1))
    times = list(best.values())
    return {"num_chains": num_chains, "num_generations": num_generations, "repeats": repeats,
            "seconds": {str(k): v for k, v in best.items()},
            "ratio_max_over_min": max(times) / min(times)}


def regression_curves(num_chains, num_generations):
    fam = cl.LinearRegression(5, 1.0)
    src = fam.source(np.linspace(-1.0, 1.0, 5))
    t = np.arange(num_generations + 1)
    out = {"t": t.tolist()}
    for name, policy in (("replace", cl.Replace()), ("accumulate", cl.Accumulate())):
        res = cl.run_chains(jax.random.key(7), fam, src, policy=policy, num_chains=num_chains,
                            num_generations=num_generations, num_samples=20, method="exact")
        err = res.observables["test_error"].astype(np.float64)
        table = cl.check(res, false_alarm=1e-3)
        theory = (th_reg.expected_test_error(t, 20, 5, 1.0) if name == "replace"
                  else th_reg.expected_test_error_accumulate(t, 20, 5, 1.0))
        out[name] = {"mean": err.mean(0).tolist(),
                     "se": (err.std(0, ddof=1) / np.sqrt(num_chains)).tolist(),
                     "theory": np.asarray(theory).tolist(),
                     "check_rows": len(table), "check_passed": table.attrs["passed"]}
    out["fixed_design_bound"] = np.asarray(
        th_reg.accumulate_fixed_design_bound(t, 20, 5, 1.0)).tolist()
    return out


def kde_curves(num_chains, num_generations, n=50):
    t = np.arange(num_generations + 1)
    cases = {"fixed h = 0.3": (cl.KDE(0.3, max_points=n), {"bandwidth": 0.3}),
             "Silverman": (cl.KDE("silverman", max_points=n), None),
             "Silverman x 0.1": (cl.KDE("silverman", max_points=n, bandwidth_scale=0.1), None)}
    out = {"t": t.tolist(), "n": n, "critical_constant": th_kde.critical_rule_constant(n),
           "silverman_constant": th_kde.rule_constant("silverman")}
    for name, (fam, kw) in cases.items():
        kw = kw or {"constant": fam.rule_constant}
        res = cl.run_chains(jax.random.key(9), fam, fam.source(0.0, 1.0), num_chains=num_chains,
                            num_generations=num_generations, num_samples=n)
        logv = res.observables["log_variance"].astype(np.float64)
        var = res.observables["variance"].astype(np.float64)
        table = cl.check(res, false_alarm=1e-3)
        out[name] = {
            "median_variance": np.exp(np.median(logv, 0)).tolist(),
            "q05": np.exp(np.quantile(logv, 0.05, 0)).tolist(),
            "q95": np.exp(np.quantile(logv, 0.95, 0)).tolist(),
            "mean_variance": var.mean(0).tolist(),
            "theory_mean": np.asarray(th_kde.expected_variance(t, n, 1, 1.0, **kw)).tolist(),
            "check_rows": len(table), "check_passed": table.attrs["passed"],
        }
    return out


def plot(reg, kde, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    ax = axes[0]
    t = np.asarray(reg["t"])
    for name, color in (("replace", "C0"), ("accumulate", "C1")):
        m, se = np.asarray(reg[name]["mean"]), np.asarray(reg[name]["se"])
        ax.fill_between(t, m - 2 * se, m + 2 * se, color=color, alpha=0.3, lw=0)
        ax.plot(t, m, color=color, lw=1.5, label=f"{name}: mean over chains (+-2 se)")
        ax.plot(t, reg[name]["theory"], "k--", lw=1)
    ax.plot(t, reg["fixed_design_bound"], ":", color="gray",
            label="fixed-design accumulate (Gerstgrasser et al.)")
    ax.plot([], [], "k--", lw=1, label="exact theory (R1, R4)")
    ax.set(xlabel="generation t", ylabel="test error E||w_t - w*||^2_Sigma",
           title="OLS regression, d = 5, T = 20, noise 1")
    ax.legend(fontsize=8)
    ax = axes[1]
    t = np.asarray(kde["t"])
    for (name, color) in zip(["fixed h = 0.3", "Silverman", "Silverman x 0.1"], ["C2", "C3", "C4"]):
        c = kde[name]
        ax.fill_between(t, c["q05"], c["q95"], color=color, alpha=0.2, lw=0)
        ax.plot(t, c["mean_variance"], color=color, lw=1.5, label=f"{name}: mean")
        ax.plot(t, c["theory_mean"], "k--", lw=1)
    ax.plot([], [], "k--", lw=1, label="exact theory (K1, K2)")
    ax.set_yscale("log")
    ax.set(xlabel="generation t", ylabel="variance of the KDE's points",
           title=f"KDE, n = {kde['n']}: explosion vs collapse (c* = {kde['critical_constant']:.3f})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    args = parse_args()
    chains = 2000 if args.quick else 20_000
    gens = 20 if args.quick else 50
    t0 = time.time()
    flat = flat_in_t(1000 if args.quick else 10_000, 10 if args.quick else 20, args.repeats)
    print("exact path seconds by T:", flat["seconds"],
          f"ratio max/min = {flat['ratio_max_over_min']:.2f}")
    out = Path(args.out)
    if args.flat_only:
        data = json.loads(out.with_suffix(".json").read_text())
        data["flat_in_T"] = flat
        out.with_suffix(".json").write_text(json.dumps(data, indent=1))
        return
    reg = regression_curves(chains, gens)
    print("regression check rows passed:",
          {k: reg[k]["check_passed"] for k in ("replace", "accumulate")})
    kde = kde_curves(chains // 4 if not args.quick else 1000, 50 if not args.quick else 20)
    print("kde check rows passed:",
          {k: kde[k]["check_passed"] for k in ("fixed h = 0.3", "Silverman", "Silverman x 0.1")})
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(reg, kde, out.with_suffix(".png"))
    meta = {"platform": platform.platform(), "jax": jax.__version__,
            "devices": [str(d) for d in jax.devices()], "wall_s": time.time() - t0,
            "quick": args.quick}
    out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "flat_in_T": flat, "regression": reg, "kde": kde}, indent=1))
    print(f"wrote {out}.json and {out}.png ({meta['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()

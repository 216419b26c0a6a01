"""The classic Gaussian-mixture collapse experiment against the exact count-chain theory.

Setting (Shumailov et al. 2024, "AI models collapse when trained on recursively generated
data", Gaussian-mixture toy experiment): 2-D, two equally weighted components with identity
covariances 8 standard deviations apart, n = 1,000 samples per generation, 2,000 generations,
each generation refit on the previous generation's samples.

Two fits are run on the same source:

* ``em``: EM (warm start, ``--em-steps`` steps per generation), literal sampling, few chains;
* ``oracle``: oracle assignments on the exact path (counts, then Bartlett-Wishart per
  component; cost independent of n), more chains.

Both are compared with theory/mixture.md: the mean spread E[tr Sigma_k 1(alive)] (M4; its
across-chain mean is heavy tailed at large t/n, catalogue T1, so the light-tailed log-det law M6
is plotted as well), the expected log-determinant on the chains where the component is alive
(M6 / P(A)), and the probability that a component is lost (M3). The rule of thumb "a component
is a Gaussian fit on n w_k points" (RT) is drawn for comparison. ``check()`` tables of both runs
are summarised too.

Usage::

    python benchmarks/mixture_collapse.py [--quick] [--em-chains 64] [--oracle-chains 500]
        [--out benchmarks/results/mixture_collapse]

Writes ``<out>.json`` (curves at selected generations, z-scores, check summaries, timings) and
``<out>.png`` (the figure), and prints a table.
"""

from __future__ import annotations

import time
from pathlib import Path

import _common  # benchmarks/_common.py (this folder is on sys.path)
import jax
import numpy as np

import collapse_lab as cl
from collapse_lab.theory import mixture as th

WEIGHTS = (0.5, 0.5)


def parse_args():
    parser = _common.parser(__doc__, "benchmarks/results/mixture_collapse")
    parser.add_argument("--generations", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--separation", type=float, default=8.0)
    parser.add_argument("--em-chains", type=int, default=64)
    parser.add_argument("--em-steps", type=int, default=3)
    parser.add_argument("--oracle-chains", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="200 generations, fewer chains")
    args = parser.parse_args()
    if args.quick:
        args.generations, args.em_chains, args.oracle_chains = 200, 16, 200
    return args


def run(args, oracle: bool):
    if oracle:
        fam = cl.GaussianMixture(2, 2, oracle_assignments=True, num_heldout=0)
        chains, method = args.oracle_chains, "exact"
    else:
        fam = cl.GaussianMixture(2, 2, num_em_steps=args.em_steps, num_heldout=0)
        chains, method = args.em_chains, "sample"
    half = args.separation / 2
    src = fam.source(WEIGHTS, np.array([[-half, 0.0], [half, 0.0]]), 1.0)
    t0 = time.perf_counter()
    result = cl.run_chains(jax.random.key(args.seed + int(oracle)), fam, src,
                           num_chains=chains, num_generations=args.generations,
                           num_samples=args.samples, method=method, chunk_size=500)
    return result, time.perf_counter() - t0


def empirical(result):
    """Per-generation curves pooled over the two (exchangeable) components."""
    obs = result.observables
    alive = obs["alive"].astype(bool)  # [C, T+1, K]
    var = obs["alive_variance"].astype(np.float64)
    log_det = obs["alive_log_det"].astype(np.float64)
    nondeg = alive & np.isfinite(obs["log_det"])
    chains = alive.shape[0] * alive.shape[2]  # chain-components

    def pooled(x):
        x = np.moveaxis(x, 2, 1).reshape(chains, -1)
        return x.mean(0), x.std(0, ddof=1) / np.sqrt(chains)

    var_mean, var_se = pooled(var)
    lost_mean, lost_se = pooled((~alive).astype(np.float64))
    count = np.moveaxis(nondeg, 2, 1).reshape(chains, -1).sum(0)
    ld = np.moveaxis(np.where(nondeg, log_det, 0.0), 2, 1).reshape(chains, -1)
    sel = np.moveaxis(nondeg, 2, 1).reshape(chains, -1)
    ld_mean = ld.sum(0) / np.maximum(count, 1)
    ld_sd = np.sqrt(np.maximum((np.where(sel, ld, 0) ** 2).sum(0) / np.maximum(count, 1)
                               - ld_mean**2, 0.0))
    ld_se = ld_sd / np.sqrt(np.maximum(count, 1))
    median_log_var = np.median(
        np.moveaxis(np.where(alive, np.log(np.maximum(var, 1e-300)), np.nan), 2, 1)
        .reshape(chains, -1), axis=0)
    return {
        "var": (var_mean, var_se),
        "lost": (lost_mean, lost_se),
        "log_det_given_alive": (ld_mean, ld_se),
        "median_log_var": median_log_var,
    }


def theory(args, t):
    n, w, d = args.samples, WEIGHTS[0], 2
    tr0, log_det0 = 2.0, 0.0
    nondeg = th.nondegenerate_probability(t, n, w, d)
    return {
        "var": th.expected_alive_variance(t, n, w, "mle", tr0),
        "lost": th.loss_probability(t, n, w),
        "log_det_given_alive": th.expected_alive_log_det(t, n, w, d, "mle", log_det0)
        / np.maximum(nondeg, 1e-300),
        "rule_var": th.rule_of_thumb_variance(t, n, w, "mle", tr0),
        "rule_log_det": th.rule_of_thumb_log_det(t, n, w, d, "mle", log_det0),
    }


def check_summary(result):
    table = cl.check(result, false_alarm=1e-3)
    return {
        "rows": int(len(table)),
        "failed": int((~table["pass"]).sum()),
        "passed": bool(table.attrs["passed"]),
        "max_abs_z": float(table["z"].abs().max()) if len(table) else None,
        "exact": bool(table["exact"].all()) if len(table) else None,
    }


def plot(path, t, curves, theo):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    colors = {"em": "tab:blue", "oracle": "tab:orange"}
    labels = {"em": "EM (sample path)", "oracle": "oracle assignments (exact path)"}
    ax = axes[0]
    for name, c in curves.items():
        mean, se = c["var"]
        ax.plot(t, mean, color=colors[name], label=labels[name], lw=1.2)
        low = mean - 2 * se
        # on the log axis, draw the band only where its lower edge is positive
        ax.fill_between(t, np.where(low > 0, low, np.nan), np.where(low > 0, mean + 2 * se,
                        np.nan), color=colors[name], alpha=0.2)
    ax.plot(t, theo["var"], color="black", lw=1.5, label="exact theory (M4)")
    ax.plot(t, theo["rule_var"], color="grey", ls="--", lw=1.2, label="rule of thumb n w (RT)")
    ax.set_yscale("log")
    ax.set_xlabel("generation")
    ax.set_ylabel(r"mean of tr $\Sigma_k\cdot 1\{$alive$\}$")
    ax.set_title("component spread (mean, heavy-tailed)")
    ax.legend(fontsize=8)

    ax = axes[1]
    for name, c in curves.items():
        mean, se = c["log_det_given_alive"]
        ax.plot(t, mean, color=colors[name], lw=1.2, label=labels[name])
        ax.fill_between(t, mean - 2 * se, mean + 2 * se, color=colors[name], alpha=0.2)
    ax.plot(t, theo["log_det_given_alive"], color="black", lw=1.5, label="exact theory (M6)")
    ax.plot(t, theo["rule_log_det"], color="grey", ls="--", lw=1.2, label="rule of thumb (RT)")
    ax.set_xlabel("generation")
    ax.set_ylabel(r"E[log det $\Sigma_k$ | alive]")
    ax.set_title("component spread (log scale, light-tailed)")
    ax.legend(fontsize=8)

    ax = axes[2]
    for name, c in curves.items():
        mean, se = c["lost"]
        ax.plot(t, mean, color=colors[name], lw=1.2, label=labels[name])
        ax.fill_between(t, mean - 2 * se, mean + 2 * se, color=colors[name], alpha=0.2)
    ax.plot(t, theo["lost"], color="black", lw=1.5, label="exact theory (M3)")
    ax.set_xlabel("generation")
    ax.set_ylabel("P(component lost)")
    ax.set_title("mode loss (Wright-Fisher)")
    ax.legend(fontsize=8)
    fig.suptitle("2-D two-component mixture, n = 1000 per generation: spread and mode loss")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    args = parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(args.generations + 1)
    t0 = time.perf_counter()
    theo = theory(args, t)
    theory_s = time.perf_counter() - t0
    curves, checks, timings = {}, {}, {"theory_s": theory_s}
    for name, oracle in (("oracle", True), ("em", False)):
        result, seconds = run(args, oracle)
        timings[f"{name}_run_s"] = seconds
        curves[name] = empirical(result)
        checks[name] = check_summary(result)
        del result
    plot(out.with_suffix(".png"), t, curves, theo)

    marks = [g for g in (1, 10, 100, 500, 1000, 1500, 2000) if g <= args.generations]
    table = []
    print(f"{'gen':>5} {'quantity':<22} {'theory':>10} {'oracle':>10} {'z':>7} {'EM':>10} "
          f"{'z':>7} {'rule':>10}")
    for g in marks:
        for key, rule_key in (("var", "rule_var"), ("log_det_given_alive", "rule_log_det"),
                              ("lost", None)):
            row = {"generation": g, "quantity": key, "theory": float(theo[key][g])}
            if rule_key:
                row["rule_of_thumb"] = float(theo[rule_key][g])
            for name in ("oracle", "em"):
                mean, se = curves[name][key]
                row[name] = float(mean[g])
                row[f"{name}_se"] = float(se[g])
                row[f"{name}_z"] = float((mean[g] - theo[key][g]) / se[g]) if se[g] > 0 else None
            table.append(row)

            def fmt(v):
                return f"{v:>7.2f}" if v is not None else f"{'-':>7}"

            print(f"{g:>5} {key:<22} {row['theory']:>10.4g} {row['oracle']:>10.4g} "
                  f"{fmt(row['oracle_z'])} {row['em']:>10.4g} {fmt(row['em_z'])} "
                  f"{row.get('rule_of_thumb', float('nan')):>10.4g}")
    for name, c in checks.items():
        print(f"check({name}): {c['rows']} rows, {c['failed']} failed, "
              f"max |z| {c['max_abs_z']:.2f}, exact rows: {c['exact']}")
    print("timings:", {k: round(v, 1) for k, v in timings.items()})
    payload = {
        "setting": {
            "dim": 2, "weights": WEIGHTS, "separation_sd": args.separation,
            "num_samples": args.samples, "num_generations": args.generations,
            "em_chains": args.em_chains, "em_steps": args.em_steps,
            "oracle_chains": args.oracle_chains, "seed": args.seed,
        },
        "rows": table,
        "checks": checks,
        "timings": timings,
        "provenance": _common.provenance(),
        "figure": str(out.with_suffix(".png")),
    }
    _common.write_json(out.with_suffix(".json"), payload)
    print(f"wrote {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()

"""Throughput of every family and path against NumPy and per-chain Python loops, same run.

Each measurement runs in its own subprocess so that its peak resident memory can be reported.
Rates: chain-generations/s and samples/s (tokens/s for the discrete families); ``rng_fraction``
is the sample path's samples/s divided by the machine's JAX random-number rate for the numbers
that path consumes (normals for the Gaussian, uniforms for categorical draws), measured in the
same run with the same PRNG implementation. Scaling: chains from 10^2 to 10^6 (the largest in
reduced mode) and n from 10 to 10^6. The n-gram (corpus mode, against the NumPy and Python-loop
baselines of ``ngram_throughput.py``; fixed-counts exact mode), mixture (EM sample path, oracle
exact path) and transformer families are measured on small representative configurations; the
mixture and transformer have no NumPy baseline here (EM and training loops would have to be
written twice), so only their own rates, compile times and peak memory are reported.

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
        go = _step_function(spec)
        dt, compile_s = _timed(go, repeat=1 if C * T >= 10**8 else 2)
        out.update(seconds=dt, compile_s=compile_s, chain_generations_per_s=C * T / dt,
                   samples_per_s=C * T * n / dt)
    elif kind == "family":
        # The other families: collapse_lab rates only (see FAMILY_BASELINES for n-gram's).
        fam, src = _family_example(spec["family"], spec.get("vocab", 0))

        def go():
            r = cl.run_chains(key, fam, src, num_chains=C, num_generations=T, num_samples=n,
                              method=spec["method"])
            return jax.block_until_ready(r.observables)

        # Best of two timed calls, as for the Gaussian and categorical points (the first call
        # after compiling is often slower: fresh buffers).
        dt, compile_s = _timed(go, repeat=2)
        per_gen = spec.get("samples_per_generation", n)
        out.update(seconds=dt, compile_s=compile_s, chain_generations_per_s=C * T / dt,
                   samples_per_s=C * T * per_gen / dt)
    elif kind in ("numpy_ngram", "loop_ngram"):
        ngram_bench = _load_sibling("ngram_throughput")
        if kind == "numpy_ngram":
            r = ngram_bench.numpy_corpus(spec["vocab"], C, T, spec["sequences"], spec["seq_len"])
        else:
            r = ngram_bench.python_loop(spec["vocab"], spec["tokens"])
        out.update(seconds=r["seconds"], samples_per_s=r["tokens_per_s"])
    elif kind in ("numpy_gaussian", "numpy_gaussian_exact", "loop_gaussian"):
        # The Gaussian baselines of gaussian_throughput.py (one copy of each).
        gt = _load_sibling("gaussian_throughput")
        fn = {"numpy_gaussian": gt.numpy_vectorised, "numpy_gaussian_exact": gt.numpy_exact,
              "loop_gaussian": gt.python_loop}[kind]
        out.update(fn(C, T, n, record=True) if spec.get("record") else fn(C, T, n))
    elif kind == "numpy_categorical":
        go = _step_function(spec)
        if spec.get("record"):
            out["recorded"] = go.recorded
        dt, _ = _timed(go, repeat=1)
        out.update(seconds=dt, chain_generations_per_s=C * T / dt, samples_per_s=C * T * n / dt)
    elif kind == "paired":
        out.update(_paired(spec))
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


def _step_function(spec: dict):
    """The zero-argument function that runs ``spec``'s chains once (collapse_lab's run, or a
    NumPy baseline), for the timings of :func:`point` and :func:`_paired`."""
    import jax
    import numpy as np

    import collapse_lab as cl

    kind = spec["kind"]
    C, T, n = spec.get("chains", 0), spec.get("generations", 0), spec.get("n", 0)
    if kind in ("gaussian", "categorical"):
        key = jax.random.key(0)
        if kind == "gaussian":
            fam = cl.Gaussian()
            src = fam.source()
        else:
            fam = cl.Categorical(spec["vocab"])
            src = fam.source(cl.zipf(1.1, spec["vocab"]))
        runner = cl.run_reduced if spec.get("reduced") else cl.run_chains
        extra = {"chain_batch": 65_536} if spec.get("reduced") else {}
        if spec.get("observables"):  # only these and the ones check() needs
            extra["observables"] = spec["observables"]

        def go():
            r = runner(key, fam, src, num_chains=C, num_generations=T, num_samples=n,
                       method=spec["method"], **extra)
            if spec.get("reduced"):
                return r
            return jax.block_until_ready(r.observables)

        return go
    if kind == "numpy_gaussian_exact":
        return _load_sibling("gaussian_throughput").numpy_exact(
            C, T, n, record=bool(spec.get("record")), build_only=True)
    if kind == "numpy_categorical":
        rng = np.random.default_rng(0)
        p0 = cl.zipf(1.1, spec["vocab"])
        record, names = _numpy_categorical_observables(spec) if spec.get("record") else (None, [])

        def go():
            p = np.broadcast_to(p0, (C, p0.size)).copy()
            kept = {}
            for _ in range(T):
                p = rng.multinomial(n, p) / n
                if record is not None:
                    record(p, kept)
            return kept

        go.recorded = names
        return go
    raise ValueError(f"no step function for point kind {kind!r}")


def _paired(spec: dict) -> dict:
    """collapse_lab and its NumPy baseline timed alternately in one process.

    This host's speed drifts by 15-40 % over minutes, so two rates measured a minute apart can
    disagree by more than the effect measured. Here each side is warmed up (compiled) once, then
    ``rounds`` rounds each time one call of ``ours`` and one of ``baseline``; the ratio is that of
    the best calls (and the median of the per-round ratios is reported beside it).
    """
    import numpy as np

    ours, base = _step_function(spec["ours"]), _step_function(spec["baseline"])
    t0 = time.perf_counter()
    ours()
    compile_s = time.perf_counter() - t0
    base()
    t_ours, t_base = [], []
    for _ in range(spec.get("rounds", 5)):
        for fn, times in ((ours, t_ours), (base, t_base)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    work = spec["ours"]["chains"] * spec["ours"]["generations"]
    return {"ours_seconds": t_ours, "baseline_seconds": t_base,
            "compile_s": max(compile_s - min(t_ours), 0.0),
            "chain_generations_per_s": work / min(t_ours),
            "samples_per_s": work * spec["ours"]["n"] / min(t_ours),
            "baseline_samples_per_s": work * spec["ours"]["n"] / min(t_base),
            "ratio_best": min(t_base) / min(t_ours),
            "ratio_median": float(np.median(np.asarray(t_base) / np.asarray(t_ours)))}


def _numpy_categorical_observables(spec):
    """Equal work for the NumPy Wright-Fisher step: a function ``record(p, kept)`` that appends
    this generation's values of the observables ``run_chains`` keeps when asked only for
    ``spec["observables"]`` (the names ``check()`` needs for this setting, found by a one-chain
    run outside the timing), computed vectorised over the chains as a NumPy user would."""
    import jax
    import numpy as np

    import collapse_lab as cl

    fam = cl.Categorical(spec["vocab"])
    src = fam.source(cl.zipf(1.1, spec["vocab"]))
    names = sorted(cl.run_chains(jax.random.key(0), fam, src, num_chains=1,
                                 num_generations=spec["generations"], num_samples=spec["n"],
                                 method="exact", observables=spec["observables"]).observables)
    w0 = np.asarray(src.weights)
    p0 = w0 / w0.sum()
    idx = np.arange(w0.size)
    tails = {f"tail_mass_{f}pct": (w0 > 0) & ((w0 < int(c)) | ((w0 == int(c)) & (idx >= int(i))))
             for f, c, i in zip((1, 10), np.asarray(src.tail_cut), np.asarray(src.tail_index))}
    tracked = fam.tracked_categories(src)
    log_p0 = np.log(np.where(p0 > 0, p0, 1.0))

    def record(p, kept):
        positive = p > 0
        log_p = np.log(np.where(positive, p, 1.0))
        values = {}
        for name in names:
            if name == "heterozygosity":
                values[name] = 1.0 - np.einsum("ij,ij->i", p, p)
            elif name == "lost_mass":
                values[name] = (~positive) @ p0
            elif name == "support_size":
                values[name] = positive.sum(axis=1)
            elif name == "tracked_probs":
                values[name] = p[:, tracked]
            elif name == "entropy":
                values[name] = -np.einsum("ij,ij->i", p, log_p)
            elif name == "kl_to_source":
                values[name] = np.einsum("ij,ij->i", p, log_p - log_p0)
            elif name in tails:
                values[name] = p @ tails[name]
            else:
                raise ValueError(f"no NumPy version of observable {name!r}")
        for name, v in values.items():
            kept.setdefault(name, []).append(v)
        return values

    return record, names


def _load_sibling(name):
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _family_example(name, vocab):
    """Small representative configurations of the n-gram, mixture and transformer families."""
    import jax

    import collapse_lab as cl

    if name in ("ngram_corpus", "ngram_fixed"):
        p = cl.random_markov_source(jax.random.key(1), vocab, 1, support_size=32)
        if name == "ngram_corpus":
            fam = cl.NGram(vocab, 1, mode="corpus", seq_len=NGRAM_SEQ_LEN)
        else:
            fam = cl.NGram(vocab, 1, mode="fixed_counts")
        return fam, fam.source(jax.random.key(2), p)
    if name in ("mixture_em", "mixture_oracle"):
        oracle = name == "mixture_oracle"
        fam = cl.GaussianMixture(3, 1, num_em_steps=10, oracle_assignments=oracle)
        return fam, fam.source([0.5, 0.3, 0.2], [-4.0, 0.0, 4.0], [1.0, 0.5, 2.0])
    if name == "transformer":
        p = cl.random_markov_source(jax.random.key(1), vocab, 1, support_size=4)
        ngram_src = cl.NGram(vocab, 1, mode="corpus", seq_len=32).source(jax.random.key(2), p)
        fam = cl.Transformer(vocab, 32, d_model=32, num_layers=2, num_heads=2,
                             num_train_steps=100, batch_size=16)
        return fam, fam.source(jax.random.key(3), ngram_src, heldout_sequences=32)
    raise ValueError(f"unknown family example {name!r}")


NGRAM_SEQ_LEN = 200


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
    pts.append({"name": "gaussian numpy exact n=100", "kind": "numpy_gaussian_exact",
                "chains": C, "generations": T, "n": 100})
    for n in (10, 100, 1000, 10**6):
        pts.append({"name": f"gaussian exact n={n}", "kind": "gaussian", "method": "exact",
                    "chains": C, "generations": T, "n": n})
    for n in (10, 1000, 10_000):
        pts.append({"name": f"gaussian sample n={n} (scaling in n)", "kind": "gaussian",
                    "method": "sample", "chains": C // 10, "generations": T, "n": n})
    pts.append({"name": "gaussian exact n=100 (check observables)", "kind": "gaussian",
                "method": "exact", "chains": C, "generations": T, "n": 100,
                "observables": ["log_variance"]})
    # Equal work: NumPy also keeps the four per-generation observables that run returns.
    pts.append({"name": "gaussian numpy exact n=100 (same observables)",
                "kind": "numpy_gaussian_exact", "chains": C, "generations": T, "n": 100,
                "record": True})
    # The exact Gaussian step at 10x the chains: the per-generation fixed cost (a few dozen
    # small kernels) is amortised over more chains on both sides.
    big = 20_000 if quick else 100_000
    pts.append({"name": "gaussian numpy exact n=100 chains=1e5", "kind": "numpy_gaussian_exact",
                "chains": big, "generations": T // 2, "n": 100})
    pts.append({"name": "gaussian exact n=100 chains=1e5 (check observables)", "kind": "gaussian",
                "method": "exact", "chains": big, "generations": T // 2, "n": 100,
                "observables": ["log_variance"]})
    pts.append({"name": "gaussian numpy exact n=100 chains=1e5 (same observables)",
                "kind": "numpy_gaussian_exact", "chains": big, "generations": T // 2,
                "n": 100, "record": True})
    pts.append({"name": f"categorical sample V={V} n=1000 (check observables)",
                "kind": "categorical", "method": "sample", "vocab": V, "chains": cc,
                "generations": ct, "n": 1000, "observables": ["support_size"]})
    pts.append({"name": f"categorical exact V={V} n=1000 (check observables)",
                "kind": "categorical", "method": "exact", "vocab": V, "chains": cc,
                "generations": ct, "n": 1000, "observables": ["support_size"]})
    for n in (10**4, 10**6):
        pts.append({"name": f"categorical numpy V={V} n={n}", "kind": "numpy_categorical",
                    "vocab": V, "chains": cc, "generations": ct, "n": n})
    # Equal work on the exact path: both sides keep the observables check() needs.
    for n in (10**4, 10**6):
        pts.append({"name": f"categorical exact V={V} n={n} (check observables)",
                    "kind": "categorical", "method": "exact", "vocab": V, "chains": cc,
                    "generations": ct, "n": n, "observables": ["support_size"]})
        pts.append({"name": f"categorical numpy V={V} n={n} (same observables)",
                    "kind": "numpy_categorical", "vocab": V, "chains": cc, "generations": ct,
                    "n": n, "record": True, "observables": ["support_size"]})
    for n in (100, 10**4, 10**6):
        pts.append({"name": f"categorical exact V={V} n={n} (scaling in n)",
                    "kind": "categorical", "method": "exact", "vocab": V, "chains": cc,
                    "generations": ct, "n": n})
    # The acceptance ratios once more, each side timed alternately in one process (_paired).
    cat = {"kind": "categorical", "vocab": V, "chains": cc, "generations": ct,
           "observables": ["support_size"]}
    npc = {"kind": "numpy_categorical", "vocab": V, "chains": cc, "generations": ct}
    pts.append({"name": f"paired: categorical sample V={V} n=1000 (check observables) "
                "/ numpy multinomial", "kind": "paired", "rounds": 5,
                "ours": dict(cat, method="sample", n=1000), "baseline": dict(npc, n=1000)})
    for n, rounds in ((10**4, 5), (10**6, 3)):
        pts.append({"name": f"paired: categorical exact V={V} n={n} (check observables) "
                    "/ numpy multinomial (same observables)", "kind": "paired", "rounds": rounds,
                    "ours": dict(cat, method="exact", n=n),
                    "baseline": dict(npc, n=n, record=True, observables=["support_size"])})
    for chains, gens in ((C, T), (big, T // 2)):
        pts.append({"name": f"paired: gaussian exact n=100 chains={chains} (check observables) "
                    "/ numpy normal + chisquare (same observables)", "kind": "paired",
                    "rounds": 5,
                    "ours": {"kind": "gaussian", "method": "exact", "chains": chains,
                             "generations": gens, "n": 100, "observables": ["log_variance"]},
                    "baseline": {"kind": "numpy_gaussian_exact", "chains": chains,
                                 "generations": gens, "n": 100, "record": True}})
    # The other families (rates; n-gram also against NumPy and a Python loop).
    nv, nc, nseq = 200, (16 if quick else 64), 20
    ntok = nseq * NGRAM_SEQ_LEN
    pts += [
        {"name": f"ngram corpus sample V={nv}", "kind": "family", "family": "ngram_corpus",
         "method": "sample", "vocab": nv, "chains": nc, "generations": 5, "n": nseq,
         "samples_per_generation": ntok},
        {"name": f"ngram numpy V={nv}", "kind": "numpy_ngram", "vocab": nv, "chains": nc,
         "generations": 1, "sequences": nseq, "seq_len": NGRAM_SEQ_LEN},
        {"name": f"ngram loop V={nv}", "kind": "loop_ngram", "vocab": nv, "tokens": 20_000},
        {"name": f"ngram fixed-counts exact V={nv}", "kind": "family", "family": "ngram_fixed",
         "method": "exact", "vocab": nv, "chains": nc * 4, "generations": 20, "n": 100,
         "samples_per_generation": 100 * nv},
        {"name": "mixture EM sample K=3", "kind": "family", "family": "mixture_em",
         "method": "sample", "chains": C // 10, "generations": 20, "n": 1000},
        {"name": "mixture oracle exact K=3", "kind": "family", "family": "mixture_oracle",
         "method": "exact", "chains": C // 10, "generations": 20, "n": 1000},
        {"name": "transformer sample V=16 L=32", "kind": "family", "family": "transformer",
         "method": "sample", "vocab": 16, "chains": 4 if quick else 8, "generations": 2,
         "n": 64, "samples_per_generation": 64 * 32},
    ]
    top = 5 if quick else 6
    for e in range(2, top + 1):
        reduced = e >= 6
        pts.append({"name": f"gaussian exact chains=1e{e}" + (" (reduced)" if reduced else ""),
                    "kind": "gaussian", "method": "exact", "chains": 10**e, "generations": 100,
                    "n": 100, "reduced": reduced})
    return pts


def path_table(g: dict) -> list[dict]:
    """One row per (family, path): ratios to NumPy, to the Python loop and to the RNG rate.

    Every ratio compares samples/s at the same n. The Gaussian exact path is compared with NumPy
    drawing the same exact law (normal mean, chi-square), the categorical paths with NumPy's
    multinomial (its fastest exact draw of the counts). ``rng_fraction``: samples/s over the JAX
    rate of the random numbers a literal sample needs (normals for the Gaussian, uniforms for
    tokens) -- above 1 for exact paths, which skip the samples.
    """
    V = 1000
    spec = [
        ("gaussian sample", "gaussian sample n=100", "gaussian numpy n=100",
         "vectorised standard_normal + refit", "gaussian loop n=100", "rng normal"),
        ("gaussian exact", "gaussian exact n=100", "gaussian numpy exact n=100",
         "vectorised normal + chisquare", "gaussian loop n=100", "rng normal"),
        ("gaussian exact (check observables)", "gaussian exact n=100 (check observables)",
         "gaussian numpy exact n=100", "vectorised normal + chisquare", "gaussian loop n=100",
         "rng normal"),
        ("gaussian exact, 1e5 chains (check observables)",
         "gaussian exact n=100 chains=1e5 (check observables)",
         "gaussian numpy exact n=100 chains=1e5", "vectorised normal + chisquare", None,
         "rng normal"),
        ("gaussian exact (check observables), equal work",
         "gaussian exact n=100 (check observables)",
         "gaussian numpy exact n=100 (same observables)",
         "vectorised normal + chisquare, keeping the same 4 observables", "gaussian loop n=100",
         "rng normal"),
        ("gaussian exact, 1e5 chains (check observables), equal work",
         "gaussian exact n=100 chains=1e5 (check observables)",
         "gaussian numpy exact n=100 chains=1e5 (same observables)",
         "vectorised normal + chisquare, keeping the same 4 observables", None, "rng normal"),
        ("categorical sample", f"categorical sample V={V} n=1000",
         f"categorical numpy V={V} n=1000", "vectorised multinomial",
         f"categorical loop V={V} n=1000", "rng uniform"),
        ("categorical exact", f"categorical exact V={V} n=1000",
         f"categorical numpy V={V} n=1000", "vectorised multinomial",
         f"categorical loop V={V} n=1000", "rng uniform"),
        ("categorical sample (check observables)",
         f"categorical sample V={V} n=1000 (check observables)",
         f"categorical numpy V={V} n=1000", "vectorised multinomial",
         f"categorical loop V={V} n=1000", "rng uniform"),
        ("categorical exact (check observables)",
         f"categorical exact V={V} n=1000 (check observables)",
         f"categorical numpy V={V} n=1000", "vectorised multinomial",
         f"categorical loop V={V} n=1000", "rng uniform"),
    ]
    for n in (10**4, 10**6):
        spec.append((f"categorical exact n={n}", f"categorical exact V={V} n={n} (scaling in n)",
                     f"categorical numpy V={V} n={n}", "vectorised multinomial", None,
                     "rng uniform"))
    for n in (10**4, 10**6):
        spec.append((f"categorical exact n={n} (check observables), equal work",
                     f"categorical exact V={V} n={n} (check observables)",
                     f"categorical numpy V={V} n={n} (same observables)",
                     "vectorised multinomial, keeping the same observables", None,
                     "rng uniform"))
    spec.append(("ngram corpus sample", "ngram corpus sample V=200", "ngram numpy V=200",
                 "vectorised inverse-CDF corpus + bincount", "ngram loop V=200", "rng uniform"))
    rows = []
    for path, ours, numpy_name, numpy_desc, loop, rng in spec:
        if not all(k in g for k in (ours, numpy_name, rng)) or (loop and loop not in g):
            continue
        rate = g[ours]["samples_per_s"]
        rows.append({"path": path, "n": g[ours]["n"], "rate": rate,
                     "vs_numpy": rate / g[numpy_name]["samples_per_s"],
                     "numpy_baseline": numpy_desc,
                     "vs_python_loop": rate / g[loop]["samples_per_s"] if loop else None,
                     "rng_fraction": rate / g[rng]["per_s"]})
    return rows


def scaling_ratios(g: dict) -> dict:
    """Flatness in n of the exact paths, and the exact / sample ratio of the Gaussian."""
    ratios = {}
    try:
        ex = [g[f"gaussian exact n={n}"]["chain_generations_per_s"] for n in (10, 100, 1000, 10**6)]
        ratios["gaussian exact max/min chain-gen/s, n=10..1e6"] = max(ex) / min(ex)
        ratios["gaussian exact / sample chain-gen/s at n=1000 (1,000 chains)"] = (
            g["gaussian exact n=1000"]["chain_generations_per_s"]
            / g["gaussian sample n=1000 (scaling in n)"]["chain_generations_per_s"])
    except KeyError:
        pass
    try:
        rate = {n: g[f"categorical exact V=1000 n={n} (scaling in n)"]["chain_generations_per_s"]
                for n in (100, 10**4, 10**6)}
        rate[1000] = g["categorical exact V=1000 n=1000"]["chain_generations_per_s"]
        ratios["categorical exact max/min chain-gen/s, n=1e2..1e6"] = (
            max(rate.values()) / min(rate.values()))
        upper = [rate[n] for n in (1000, 10**4, 10**6)]
        ratios["categorical exact max/min chain-gen/s, n=1e3..1e6"] = max(upper) / min(upper)
    except KeyError:
        pass
    return ratios


def markdown(meta: dict, results: list, paths: list, ratios: dict) -> str:
    """The Markdown tables (all measurements, per-path ratios, other ratios)."""
    ok = [r for r in results if "error" not in r]

    def num(x, fmt):
        return "-" if x is None or x != x else format(x, fmt)

    lines = [f"Throughput on {meta['machine']} ({meta['backend']}), jax {meta['jax']}, "
             f"{meta['date']} {meta.get('run', '')}", ""]
    if meta.get("load_average_at_start"):
        lines += [f"Load average at start: {', '.join(f'{x:.1f}' for x in meta['load_average_at_start'])}"
                  + (f". {meta['note']}" if meta.get("note") else ""), ""]
    lines += [
             "| measurement | chains | generations | n | chain-gen/s | samples/s | compile s "
             "| peak MB |", "|---|---|---|---|---|---|---|---|"]
    for r in ok:
        if r.get("kind") == "paired":
            continue
        rate = r.get("samples_per_s", r.get("per_s"))
        lines.append(
            f"| {r['name']} | {r.get('chains', '')} | {r.get('generations', '')} | "
            f"{r.get('n', '')} | {num(r.get('chain_generations_per_s'), '.3g')} | "
            f"{num(rate, '.3g')} | {num(r.get('compile_s'), '.2f')} | {r['peak_rss_mb']:.0f} |")
    lines += ["", "Sample and exact paths against the baselines measured in the same run (rates "
              "in samples/s; for an exact path, the n samples it stands for per chain-generation):",
              "", "| path | n | rate | vs NumPy | NumPy baseline | vs Python loop "
              "| fraction of JAX RNG rate |", "|---|---|---|---|---|---|---|"]
    for row in paths:
        lines.append(f"| {row['path']} | {row['n']} | {row['rate']:.3g} | "
                     f"{row['vs_numpy']:.3g} | {row['numpy_baseline']} | "
                     f"{num(row['vs_python_loop'], '.3g')} | {row['rng_fraction']:.3g} |")
    paired = [r for r in ok if r.get("kind") == "paired"]
    if paired:
        lines += ["", "The same ratios with both sides timed alternately in one process (one call "
                  "each per round; ratio of the best calls, and the median of the per-round "
                  "ratios):", "", "| comparison | rounds | collapse_lab samples/s | NumPy samples/s "
                  "| ratio (best) | ratio (median) |", "|---|---|---|---|---|---|"]
        for r in paired:
            lines.append(f"| {r['name'][len('paired: '):]} | {r['rounds']} | "
                         f"{r['samples_per_s']:.3g} | {r['baseline_samples_per_s']:.3g} | "
                         f"{r['ratio_best']:.3g} | {r['ratio_median']:.3g} |")
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {k} | {v:.3g} |" for k, v in ratios.items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    ap.add_argument("--note", default="", help="a line for the Markdown header (e.g. load)")
    ap.add_argument("--only", help="run only the points whose name matches this regex")
    ap.add_argument("--point", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="benchmarks/results/throughput.json")
    ap.add_argument("--markdown-only", action="store_true",
                    help="rewrite the Markdown table from an existing --out JSON")
    args = ap.parse_args(argv)
    if args.markdown_only:
        with open(args.out) as f:
            saved = json.load(f)
        ok = {r["name"]: r for r in saved["results"] if "error" not in r}
        saved["paths"], saved["ratios"] = path_table(ok), scaling_ratios(ok)
        with open(args.out, "w") as f:
            json.dump(saved, f, indent=2)
        md = markdown(saved["provenance"], saved["results"], saved["paths"], saved["ratios"])
        with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
            f.write(md)
        print(md)
        return saved["ratios"]
    if args.point:
        print(json.dumps(point(json.loads(args.point))))
        return None
    import jax

    import collapse_lab as cl

    load_at_start = os.getloadavg()
    started = time.strftime("%H:%M:%S")
    results = []
    import re

    for spec in plan(args.quick):
        if args.only and not re.search(args.only, spec["name"]):
            continue
        r = _run_point(spec)
        results.append(r)
        print(f"{r['name']:48s} " + ("ERROR " + str(r["error"]) if "error" in r else
              f"{r.get('chain_generations_per_s', float('nan')):12.3g} chain-gen/s "
              f"{r.get('samples_per_s', r.get('per_s', float('nan'))):12.3g} /s "
              f"peak {r['peak_rss_mb']:8.0f} MB"), flush=True)
    ok = [r for r in results if "error" not in r]
    g = {r["name"]: r for r in ok}
    paths = path_table(g)
    ratios = scaling_ratios(g)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        "jax": jax.__version__, "collapse_lab": cl.__version__,
        "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
        "note": args.note, "load_average_at_start": load_at_start,
        "run": f"{started} - {time.strftime('%H:%M:%S')}",
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"provenance": meta, "results": results, "paths": paths, "ratios": ratios},
                  f, indent=2)
    md = markdown(meta, results, paths, ratios)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(md)
    print(md)
    return ratios


if __name__ == "__main__":
    main()

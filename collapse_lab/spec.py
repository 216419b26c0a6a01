"""Experiment specs: a plain-data schema (TOML/JSON), validation, sweeps, and building a run.

An experiment file names a family and its arguments, the source, the policy, the sampling bias and
the sizes; an optional ``[sweep]`` table turns it into one sub-run per combination of values::

    name = "gaussian-fresh"
    seed = 0                  # the only integer seed: jax.random.key(seed)
    num_chains = 10000
    num_generations = 200
    num_samples = 10          # or a list with one n_t per generation
    method = "exact"          # "sample" or "exact"
    reduce = false            # true: keep only across-chain summaries (huge runs)
    chain_batch = 65536       # with reduce: chains per compiled batch (and per checkpoint)

    [family]
    name = "gaussian"
    estimator = "mle"

    [source]
    mean = 0.0
    cov = 1.0

    [policy]
    name = "fresh"
    alpha = 0.1

    [sweep]
    num_samples = [10, 100]
    alpha = [0.1, 0.5]

Every key is validated in plain Python before anything runs; a bad key, type or value raises a
``ValueError`` that names the key. :func:`build_config` turns one (sub-)run into the runner's
:class:`~collapse_lab.chain.RunConfig`; running it is :mod:`collapse_lab.experiment`'s job.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import json
import math
import re
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ._validate import integer, open_unit
from .chain import METHODS, make_config
from .families import FAMILIES
from .policies import POLICIES, make_policy
from .sampling import SamplingBias

KEY_IMPLS = ("threefry2x32", "threefry4x32", "philox2x32", "philox4x32", "unsafe_rbg", "rbg")
TOP_LEVEL_KEYS = (
    "name",
    "seed",
    "num_chains",
    "num_generations",
    "num_samples",
    "method",
    "chunk_size",
    "false_alarm",
    "key_impl",
    "x64",
    "reduce",
    "chain_batch",
    "family",
    "source",
    "policy",
    "sampling",
    "sweep",
)
# Short sweep names for the axes people sweep most often.
SWEEP_ALIASES = {"alpha": "policy.alpha", "temperature": "sampling.temperature"}
SWEEPABLE_TOP_LEVEL = ("num_samples", "num_chains", "num_generations", "method", "seed", "policy")
SWEEP_TABLES = ("family", "source", "policy", "sampling")
MAX_SEED = 2**32  # jax.random.key folds larger seeds onto smaller ones when x64 is off
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=,+-]*$")


# ------------------------------------------------------------------------------------ helpers
def _int(key: str, value, lo: int, hi: int | None = None) -> int:
    """An integer in ``[lo, hi)`` (``hi`` None: unbounded), by the shared validator."""
    return integer(key, value, lo=lo, hi=None if hi is None else hi - 1)


def _choice(key: str, value, allowed) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{key} must be one of {sorted(allowed)}, got {value!r}")
    return value


def _table(key: str, value) -> dict:
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be a table, got {value!r} ({type(value).__name__})")
    return dict(value)


def _plain(key: str, value):
    """Check that ``value`` is plain TOML/JSON data (numbers, strings, bools, lists, tables)."""
    if isinstance(value, Mapping):
        return {k: _plain(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(f"{key}[{i}]", v) for i, v in enumerate(value)]
    if isinstance(value, (str, bool, int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{key} must be finite, got {value!r}")
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise ValueError(f"{key} must be a number, string, boolean, list or table, got {value!r}")


def signature_args(func) -> tuple[list[str], bool]:
    """Keyword names accepted by ``func`` (without self) and whether it takes ``**kwargs``."""
    params = list(inspect.signature(func).parameters.values())
    names = [
        p.name
        for p in params
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return names, any(p.kind == p.VAR_KEYWORD for p in params)


def families() -> dict:
    """The family registry (``collapse_lab.FAMILIES``)."""
    return FAMILIES


# ------------------------------------------------------------------------------------ the spec
@dataclasses.dataclass(frozen=True)
class Experiment:
    """A validated experiment (plain data; build the run with :func:`build_config`).

    Attributes:
        name: run name (letters, digits, ``_ . = , + -``).
        family: registry name of the family (a key of ``collapse_lab.FAMILIES``).
        family_args: keyword arguments of the family's constructor.
        source: keyword arguments of ``family.source(...)``; a value ``{zipf = {...}}`` (or a key
            naming a source generator such as ``zipf``) is evaluated first, see
            :func:`build_source`.
        policy: ``"replace"``, ``"accumulate"`` or ``"fresh"`` (any key of ``POLICIES``).
        policy_args: the policy's arguments, e.g. ``{"alpha": 0.1}``.
        sampling: sampling-bias arguments (fields of :class:`~collapse_lab.sampling.SamplingBias`).
        num_chains: independent chains.
        num_generations: refits T.
        num_samples: n (an int) or a schedule (one n_t per generation).
        method: ``"sample"`` or ``"exact"``.
        seed: integer seed in ``[0, 2**32)``; the run's key is ``jax.random.key(seed, impl=...)``.
        chunk_size: generations per jitted chunk (None: about 100 chunks).
        false_alarm: family-wise false-alarm rate of the verdict table.
        key_impl: PRNG implementation (``threefry2x32`` by default).
        x64: whether the run needs ``jax_enable_x64`` (float64 simulation).
        reduce: keep only across-chain summaries per generation (:func:`collapse_lab.run_reduced`:
            memory independent of ``num_chains``; no per-chain arrays are saved).
        chain_batch: with ``reduce``, chains per compiled batch and per checkpoint (None: the
            runner's default, 65,536).
        sweep: axis -> list of values (dotted keys such as ``policy.alpha``); empty: one run.
    """

    name: str
    family: str
    family_args: dict
    source: dict
    policy: str
    policy_args: dict
    sampling: dict
    num_chains: int
    num_generations: int
    num_samples: Any
    method: str
    seed: int
    chunk_size: int | None = None
    false_alarm: float = 1e-3
    key_impl: str = "threefry2x32"
    x64: bool = False
    reduce: bool = False
    chain_batch: int | None = None
    sweep: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        """The canonical plain-data form (what :func:`parse_experiment` reads back)."""
        out = {
            "name": self.name,
            "seed": self.seed,
            "num_chains": self.num_chains,
            "num_generations": self.num_generations,
            "num_samples": copy.deepcopy(self.num_samples),
            "method": self.method,
            "false_alarm": self.false_alarm,
            "key_impl": self.key_impl,
            "x64": self.x64,
            "family": {"name": self.family, **copy.deepcopy(self.family_args)},
            "source": copy.deepcopy(self.source),
            "policy": {"name": self.policy, **copy.deepcopy(self.policy_args)},
            "sampling": copy.deepcopy(self.sampling),
        }
        if self.chunk_size is not None:
            out["chunk_size"] = self.chunk_size
        # Written only when set, so experiments stored before reduced mode read back unchanged.
        if self.reduce:
            out["reduce"] = True
        if self.chain_batch is not None:
            out["chain_batch"] = self.chain_batch
        if self.sweep:
            out["sweep"] = copy.deepcopy(self.sweep)
        return out

    def sub_runs(self) -> list[tuple[dict, Experiment]]:
        """One ``(assignment, experiment)`` per combination of the sweep values (in file order).

        Point i runs with seed ``seed + i`` (independent random streams, so the points' errors
        are independent), unless ``seed`` itself is a sweep axis. Without a sweep:
        ``[({}, self)]``.
        """
        if not self.sweep:
            return [({}, self)]
        axes = list(self.sweep)
        out = []
        for index, values in enumerate(itertools.product(*(self.sweep[a] for a in axes))):
            data = self.to_dict()
            del data["sweep"]
            # Independent random streams per point (seed + index) unless the seed is swept.
            data["seed"] = self.seed + index
            assignment = dict(zip(axes, values))
            for axis, value in assignment.items():
                _assign(data, axis, value)
            data["name"] = f"{self.name}-{sweep_label(assignment)}"
            out.append((assignment, parse_experiment(data)))
        return out


def sweep_label(assignment: dict) -> str:
    """A file-name-safe label such as ``num_samples=10,alpha=0.1``."""
    parts = []
    for axis, value in assignment.items():
        short = axis.split(".")[-1]
        text = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
        text = re.sub(r"[^A-Za-z0-9_.+-]", "", text.replace(",", "+"))
        parts.append(f"{short}={text}")
    return ",".join(parts)


def _assign(data: dict, axis: str, value) -> None:
    path = SWEEP_ALIASES.get(axis, axis).split(".")
    if path == ["policy"]:
        data["policy"] = {"name": value} if isinstance(value, str) else value
        return
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


# ------------------------------------------------------------------------------------ parsing
def load_experiment(path) -> Experiment:
    """Read and validate an experiment file (``.toml`` or ``.json``).

    Raises:
        ValueError: the file cannot be parsed, or a key is unknown, of the wrong type or out of
            range (the message names the file and the key).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read experiment file {path}: {err}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {err}") from None
    try:
        return parse_experiment(data)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def parse_experiment(data: Mapping) -> Experiment:
    """Validate a plain-data experiment (a parsed TOML/JSON document) and normalise it.

    Only the types and ranges of the keys are checked here; :func:`validate_experiment` also
    builds every sub-run's family, source and policy.
    """
    data = _table("experiment", data)
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ValueError(
            f"unknown key(s) {unknown} in the experiment (allowed: {', '.join(TOP_LEVEL_KEYS)})"
        )
    for required in ("num_chains", "num_generations", "num_samples", "family"):
        if required not in data:
            raise ValueError(f"missing required key {required!r}")

    fam = data["family"]
    if isinstance(fam, str):
        fam = {"name": fam}
    fam = _table("family", fam)
    if "name" not in fam:
        raise ValueError("family.name is required (one of the registered families)")
    family_name = _choice("family.name", fam.pop("name"), families())
    family_cls = families()[family_name]
    accepted, var_kw = signature_args(family_cls.__init__)
    for k in fam:
        if k not in accepted and not var_kw:
            raise ValueError(
                f"family.{k} is not an argument of {family_cls.__name__} "
                f"(accepted: {', '.join(accepted) or 'none'})"
            )
    family_args = _plain("family", fam)

    source = _plain("source", _table("source", data.get("source", {})))

    pol = data.get("policy", "replace")
    if isinstance(pol, str):
        pol = {"name": pol}
    pol = _table("policy", pol)
    policy_name = _choice("policy.name", pol.pop("name", "replace"), POLICIES)
    declared = dataclasses.fields(POLICIES[policy_name])
    fields = [f.name for f in declared]
    required = [
        f.name
        for f in declared
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    for k in pol:
        if k not in fields:
            allowed = ", ".join(fields) if fields else "no arguments"
            raise ValueError(f"policy.{k} is not an argument of policy {policy_name!r} ({allowed})")
    for k in required:
        if k not in pol:
            raise ValueError(f"policy.{k} is required for policy {policy_name!r}")
    try:
        POLICIES[policy_name](**pol)
    except (ValueError, TypeError) as err:
        raise ValueError(f"policy.{_first_field(err, fields)}: {err}") from None
    policy_args = _plain("policy", pol)

    sampling = _table("sampling", data.get("sampling", {}))
    bias_fields = [f.name for f in dataclasses.fields(SamplingBias)]
    for k in sampling:
        if k not in bias_fields:
            raise ValueError(f"sampling.{k} is unknown (allowed: {', '.join(bias_fields)})")
    try:
        SamplingBias(**sampling)
    except (ValueError, TypeError) as err:
        raise ValueError(f"sampling.{_first_field(err, bias_fields)}: {err}") from None
    sampling = _plain("sampling", sampling)

    num_chains = _int("num_chains", data["num_chains"], 1)
    num_generations = _int("num_generations", data["num_generations"], 1)
    num_samples = data["num_samples"]
    if isinstance(num_samples, (list, tuple)):
        if len(num_samples) < num_generations:
            raise ValueError(
                f"num_samples has {len(num_samples)} entries, need one per generation "
                f"({num_generations})"
            )
        num_samples = [_int(f"num_samples[{i}]", v, 1) for i, v in enumerate(num_samples)]
    else:
        num_samples = _int("num_samples", num_samples, 1)

    method = _choice("method", data.get("method", "sample"), METHODS)
    seed = _int("seed", data.get("seed", 0), 0, MAX_SEED)
    chunk_size = data.get("chunk_size")
    if chunk_size is not None:
        chunk_size = _int("chunk_size", chunk_size, 1)
    false_alarm = data.get("false_alarm", 1e-3)
    false_alarm = open_unit("false_alarm", false_alarm)
    key_impl = _choice("key_impl", data.get("key_impl", "threefry2x32"), KEY_IMPLS)
    x64 = data.get("x64", False)
    if not isinstance(x64, bool):
        raise ValueError(f"x64 must be true or false, got {x64!r}")
    reduce = data.get("reduce", False)
    if not isinstance(reduce, bool):
        raise ValueError(f"reduce must be true or false, got {reduce!r}")
    chain_batch = data.get("chain_batch")
    if chain_batch is not None:
        chain_batch = _int("chain_batch", chain_batch, 1)
        if not reduce:
            raise ValueError(
                "chain_batch applies only to reduced runs: set reduce = true (--reduce) or drop it"
            )
    name = data.get("name", f"{family_name}-{policy_name}")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"name must be a non-empty string of letters, digits and _ . = , + -, got {name!r}"
        )

    sweep = _parse_sweep(data.get("sweep", {}))
    return Experiment(
        name=name,
        family=family_name,
        family_args=family_args,
        source=source,
        policy=policy_name,
        policy_args=policy_args,
        sampling=sampling,
        num_chains=num_chains,
        num_generations=num_generations,
        num_samples=num_samples,
        method=method,
        seed=seed,
        chunk_size=chunk_size,
        false_alarm=float(false_alarm),
        key_impl=key_impl,
        x64=x64,
        reduce=reduce,
        chain_batch=chain_batch,
        sweep=sweep,
    )


def _first_field(err: Exception, fields) -> str:
    text = str(err)
    for f in fields:
        if re.search(rf"\b{re.escape(f)}\b", text):
            return f
    return fields[0] if fields else "?"


def _flatten(prefix: str, table: Mapping) -> dict:
    out = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, Mapping):
            out.update(_flatten(key, v))
        else:
            out[key] = v
    return out


def _parse_sweep(sweep) -> dict:
    sweep = _flatten("", _table("sweep", sweep))
    out = {}
    for axis, values in sweep.items():
        path = SWEEP_ALIASES.get(axis, axis)
        head = path.split(".")[0]
        ok = path in SWEEPABLE_TOP_LEVEL or (head in SWEEP_TABLES and "." in path)
        if not ok:
            raise ValueError(
                f"sweep.{axis} cannot be swept (sweep one of {', '.join(SWEEPABLE_TOP_LEVEL)}, "
                f"alpha, temperature, or a dotted key under {', '.join(SWEEP_TABLES)})"
            )
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ValueError(f"sweep.{axis} must be a non-empty list of values, got {values!r}")
        out[axis] = _plain(f"sweep.{axis}", list(values))
    return out


# ------------------------------------------------------------------------------------ building
SOURCE_GENERATORS = ("zipf", "zipf_mandelbrot", "uniform")  # documented; others are found too


def _find_generator(name: str, family):
    """A source generator by name: ``uniform``, or a public function of the family's module or
    of ``collapse_lab`` (``zipf``, ``random_markov_source``, ...); None if there is none."""
    if name == "uniform":
        return "uniform"
    if name.startswith("_"):
        return None
    # The public API module is read at call time (it imports this one, so never import it here).
    for module in (sys.modules.get(type(family).__module__), sys.modules.get("collapse_lab")):
        func = getattr(module, name, None) if module is not None else None
        if inspect.isfunction(func):
            return func
    return None


def _generate_source(key: str, name: str, args, family, source_key=None):
    """Evaluate a source generator such as ``{zipf = {exponent = 1.1}}`` for ``family``.

    Arguments the generator takes but the spec omits are filled from the family's attributes of
    the same name (``vocab_size``, ``order``, ...); a ``key`` argument receives ``source_key``
    folded with 1 (the family's ``source`` itself gets ``source_key``).
    """
    if not isinstance(args, Mapping):
        raise ValueError(f"{key}: arguments of {name} must be a table, got {args!r}")
    args = dict(args)
    func = _find_generator(name, family)
    if func is None:
        raise ValueError(f"{key}: source generator {name!r} is not available in this collapse_lab")
    vocab_size = getattr(family, "vocab_size", None)
    if func == "uniform":
        if args:
            raise ValueError(f"{key}: uniform takes no arguments, got {sorted(args)}")
        if vocab_size is None:
            raise ValueError(f"{key}: uniform needs a family with a vocab_size")
        return np.full(int(vocab_size), 1.0 / int(vocab_size))
    accepted, var_kw = signature_args(func)
    for k in args:
        if k not in accepted and not var_kw:
            raise ValueError(f"{key}.{k} is not an argument of {name} ({', '.join(accepted)})")
    if "key" in accepted:
        if "key" in args:
            raise ValueError(f"{key}.key is derived from the experiment's seed; do not give it")
        if source_key is None:
            raise ValueError(f"{key}: {name} needs a key (give a seed)")
        args["key"] = jax.random.fold_in(source_key, 1)
    for k in accepted:
        if k not in args and isinstance(getattr(family, k, None), (int, float, str)):
            args[k] = getattr(family, k)
    try:
        return func(**args)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{key}: {err}") from None


def source_key(seed: int, key_impl: str = "threefry2x32"):
    """Key for families whose ``source`` (or a source generator) is random.

    ``fold_in(fold_in(key(seed), 2**32 - 1), 0)``: the runner never uses it, because generation
    keys are ``fold_in(chain_key, t)`` with t >= 1.
    """
    root = jax.random.key(seed, impl=key_impl)
    return jax.random.fold_in(jax.random.fold_in(root, 2**32 - 1), 0)


def build_source(family, source: Mapping, key=None):
    """Generation-0 parameters from a plain-data source spec.

    Keys are the keyword arguments of ``family.source`` (e.g. ``mean``/``cov`` for the Gaussian,
    ``probs`` for the categorical family). A value written as a one-key table naming a generator
    (``probs = {zipf = {exponent = 1.1}}``) is evaluated first; a key that names a generator
    (``zipf = {exponent = 1.1}``) becomes the first argument of ``family.source``. Generators
    (``zipf``, ``zipf_mandelbrot``: functions of ``collapse_lab``; ``uniform``) receive the family's
    ``vocab_size`` unless given. A ``source`` that takes a ``key`` receives ``key`` (see
    :func:`source_key`).
    """
    accepted, var_kw = signature_args(family.source)
    args, positional = {}, []
    if "key" in accepted:
        if "key" in source:
            raise ValueError("source.key is derived from the experiment's seed; do not give it")
        if key is None:
            raise ValueError(f"{type(family).__name__}.source needs a key (give a seed)")
        args["key"] = key
    for k, v in source.items():
        if k not in accepted and _find_generator(k, family) is not None:
            positional.append(_generate_source(f"source.{k}", k, v, family, key))
            continue
        if k not in accepted and not var_kw:
            raise ValueError(
                f"source.{k} is not an argument of {type(family).__name__}.source "
                f"(accepted: {', '.join(accepted)}; or a generator such as "
                f"{', '.join(SOURCE_GENERATORS)})"
            )
        if isinstance(v, Mapping) and len(v) == 1:
            gen = next(iter(v))
            if _find_generator(gen, family) is not None:
                v = _generate_source(f"source.{k}.{gen}", gen, v[gen], family, key)
        args[k] = v
    if len(positional) > 1:
        raise ValueError(f"source: at most one generator key, got {len(positional)}")
    try:
        if positional and "key" in args and accepted[0] == "key":
            return family.source(args.pop("key"), *positional, **args)
        return family.source(*positional, **args)
    except (ValueError, TypeError) as err:
        raise ValueError(f"source: {err}") from None


def build_family(experiment: Experiment):
    """The family module: ``FAMILIES[name](**family_args)`` plus the sampling bias.

    A family whose constructor takes ``bias`` (or ``sampling``) receives a
    :class:`~collapse_lab.sampling.SamplingBias`; one that only takes ``temperature`` (the
    Gaussian) receives ``[sampling] temperature``; any other bias is refused by name.
    """
    cls = families()[experiment.family]
    args = dict(experiment.family_args)
    accepted, _ = signature_args(cls.__init__)
    sampling = {k: v for k, v in experiment.sampling.items() if v is not None}
    if sampling:
        bias_arg = next((a for a in ("bias", "sampling") if a in accepted), None)
        if bias_arg is not None:
            if bias_arg in args:
                raise ValueError(
                    f"give the sampling bias in [sampling] or family.{bias_arg}, not both"
                )
            args[bias_arg] = SamplingBias(**sampling)
        else:
            for k in sampling:
                if k not in accepted:
                    raise ValueError(
                        f"sampling.{k} is not supported by the {experiment.family} family "
                        f"(its sampling arguments: "
                        f"{', '.join(a for a in accepted if a in ('temperature',)) or 'none'})"
                    )
                if k in args:
                    raise ValueError(f"{k} is given in both [family] and [sampling]")
                args[k] = sampling[k]
    try:
        return cls(**args)
    except (ValueError, TypeError) as err:
        raise ValueError(f"family ({experiment.family}): {err}") from None


def build_policy(experiment: Experiment):
    return make_policy(experiment.policy, **experiment.policy_args)


def build_config(experiment: Experiment):
    """Validate everything and build the :class:`~collapse_lab.chain.RunConfig` of one run.

    Raises:
        ValueError: for a sweep (use :meth:`Experiment.sub_runs`), or a value the family, source,
            policy or runner refuses (the message names the key).
    """
    if experiment.sweep:
        raise ValueError("build_config needs a single run; use experiment.sub_runs() for a sweep")
    if bool(jax.config.read("jax_enable_x64")) != experiment.x64:
        raise ValueError(
            f"x64 = {str(experiment.x64).lower()} in the experiment, but jax_enable_x64 is "
            f"{jax.config.read('jax_enable_x64')}: set JAX_ENABLE_X64={int(experiment.x64)} "
            "(the command line does this for you)"
        )
    family = build_family(experiment)
    source = build_source(
        family, experiment.source, key=source_key(experiment.seed, experiment.key_impl)
    )
    policy = build_policy(experiment)
    key = jax.random.key(experiment.seed, impl=experiment.key_impl)
    try:
        return make_config(
            key,
            family,
            source,
            policy=policy,
            num_chains=experiment.num_chains,
            num_generations=experiment.num_generations,
            num_samples=experiment.num_samples,
            method=experiment.method,
        )
    except ValueError as err:
        raise ValueError(f"{err} (experiment {experiment.name!r})") from None


def validate_experiment(experiment: Experiment) -> list[tuple[dict, Experiment]]:
    """Build every sub-run's config once (cheap: no kernel runs) so errors surface up front."""
    runs = experiment.sub_runs()
    for assignment, sub in runs:
        try:
            build_config(sub)
        except ValueError as err:
            where = f" (sweep point {sweep_label(assignment)})" if assignment else ""
            raise ValueError(f"{err}{where}") from None
    return runs


def default_chunk_size(num_generations: int) -> int:
    """At least 10 generations per chunk and at most about 100 chunks per run.

    Long runs then show a live progress bar and checkpoint every ~1% of the run, while short
    ones do not pay a kernel dispatch and a checkpoint write per generation.
    """
    return max(min(num_generations, 10), math.ceil(num_generations / 100))

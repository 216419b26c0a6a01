"""Persistence: atomic files, locks, provenance, checkpoints, and saving/loading run arrays.

Only files: the verdict table, report.md and figures of a run are written by
:mod:`collapse_lab.report`, and running is :mod:`collapse_lab.experiment`'s job.

A run directory holds::

    run.json          marker and manifest: kind (run / sweep), status (running / complete),
                      SHA-256 of arrays.npz
    config.json       the resolved configuration (experiment spec, RunConfig.describe(), key)
    provenance.json   versions, backend and devices, x64 flag, seed, git revision, timings
    checkpoint/       while running: manifest.json + obs-*.npz chunks + carry-*.npz (removed
                      once the run is complete)
    arrays.npz        observables obs/<name> [chain, generation, ...], the final carry
                      (carry/params/<i>, carry/pool/<i>), the source leaves, n_t, key data
    reduced.npz       instead of arrays.npz for a reduced run (reduce = true): across-chain
                      moments mom/<name>/{count,mean,m2,m3,m4} [generation, ...], threshold
                      counts thr/*, histograms hist/<name>/{edges,counts}, source leaves, n_t,
                      key data (checkpoint/: reduced-<chains>.npz after every chain batch)
    summary.csv       tidy per-generation table (RunResult.summary())
    check.csv         the verdict table (collapse_lab.check)
    figures/*.png     trajectories, survival / tail loss, z-score overview
    report.md         configuration, verdict table, figures, provenance

Every file is written to a temporary name in the same directory and renamed into place
(``os.replace``), so a run killed at any instant leaves either the old or the new file. Checkpoint
chunks carry a SHA-256 in the checkpoint manifest: a corrupt or truncated file is refused with a
clear message, never silently used.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io as _io
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .chain import RunResult, initial_carry, make_config, start_run
from .families import FAMILIES
from .policies import make_policy
from .reduce import MOMENT_FIELDS, Moments, ReducedResult
from .sampling import SamplingBias
from .spec import build_config, build_source, parse_experiment, source_key, sweep_label

FORMAT = 1
RUN_MANIFEST = "run.json"
CONFIG = "config.json"
PROVENANCE = "provenance.json"
ARRAYS = "arrays.npz"
REDUCED = "reduced.npz"
SUMMARY = "summary.csv"
CHECK = "check.csv"
REPORT = "report.md"
FIGURES = "figures"
CHECKPOINT = "checkpoint"
EXPERIMENT = "experiment.json"
OBJECTS = "objects.pkl"
SWEEP_RUNS = "runs"
PACKAGES = (
    "collapse_lab",
    "jax",
    "jaxlib",
    "numpy",
    "scipy",
    "equinox",
    "optax",
    "pandas",
    "tqdm",
    "matplotlib",
    "seaborn",
)


# ------------------------------------------------------------------------------ atomic files
def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified_checkpoint_file(directory: Path, entry: dict) -> Path:
    """``directory / entry["file"]``, after checking it exists and matches the recorded
    SHA-256 (a clear ValueError otherwise: a checkpoint is never resumed from a bad file)."""
    path = directory / entry["file"]
    if not path.is_file():
        raise ValueError(f"checkpoint file {path} is missing; the run cannot be resumed")
    sha = sha256_file(path)
    if sha != entry["sha256"]:
        raise ValueError(
            f"checkpoint file {path} is corrupt or truncated (SHA-256 {sha[:12]}... != "
            f"{entry['sha256'][:12]}... recorded); refusing to resume from it"
        )
    return path


def atomic_write_bytes(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename); return its SHA-256."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest()


def atomic_write_text(path: Path, text: str) -> str:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_dump(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {obj!r}")


def atomic_write_json(path: Path, obj) -> str:
    return atomic_write_text(path, _json_dump(obj))


def _npz_bytes(arrays: dict) -> bytes:
    buffer = _io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} {path} is corrupt (not valid JSON: {err})") from None


def _remove_temporaries(directory: Path) -> None:
    for stray in directory.glob(".*.tmp-*"):
        stray.unlink(missing_ok=True)


# ------------------------------------------------------------------------------ run directory
def is_run_dir(path) -> bool:
    return (Path(path) / RUN_MANIFEST).is_file()


def prepare_run_dir(run_dir, *, force: bool = False) -> Path:
    """Create ``run_dir``; refuse an existing non-empty one unless ``force``.

    With ``force`` only a directory made by collapse_lab (it holds ``run.json``) is replaced; any
    other non-empty directory is refused so that ``--force`` never deletes unrelated files.
    """
    run_dir = Path(run_dir)
    if run_dir.exists():
        if not run_dir.is_dir():
            raise ValueError(f"{run_dir} exists and is not a directory")
        if any(run_dir.iterdir()):
            if not force:
                raise ValueError(
                    f"run directory {run_dir} already exists; choose another --out, or pass "
                    "--force (force=True) to replace it"
                )
            if not is_run_dir(run_dir):
                raise ValueError(
                    f"{run_dir} is not empty and is not a collapse_lab run directory (no "
                    f"{RUN_MANIFEST}); refusing to replace it even with --force"
                )
            shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def read_manifest(run_dir) -> dict:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a directory")
    manifest = _read_json(run_dir / RUN_MANIFEST, "run manifest")
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{run_dir}: unsupported run format {manifest.get('format')!r}")
    return manifest


def write_demo_manifest(demo_dir, **fields) -> None:
    """``run.json`` of a demo directory (kind ``demo``), replaced whole."""
    atomic_write_json(Path(demo_dir) / RUN_MANIFEST, {"format": FORMAT, "kind": "demo", **fields})


def run_kind(run_dir) -> str:
    """``"run"``, ``"sweep"`` or ``"demo"``."""
    return read_manifest(run_dir)["kind"]


def run_status(run_dir) -> str:
    """``"running"`` (or killed) or ``"complete"``."""
    return read_manifest(run_dir)["status"]


def _write_manifest(run_dir: Path, **fields) -> None:
    path = run_dir / RUN_MANIFEST
    manifest = json.loads(path.read_text()) if path.exists() else {"format": FORMAT}
    manifest.update(fields)
    atomic_write_json(path, manifest)


LOCK = ".lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire_lock(run_dir) -> None:
    """Mark ``run_dir`` as being worked on by this process; refuse if another live one holds it.

    A lock left by a killed process (its pid is gone) is taken over, so resume works after
    SIGKILL.
    """
    path = Path(run_dir) / LOCK
    if path.exists():
        try:
            held = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            held = {}
        pid, host = held.get("pid"), held.get("host")
        if (
            isinstance(pid, int)
            and pid != os.getpid()
            and host == platform.node()
            and _pid_alive(pid)
        ):
            raise ValueError(
                f"{run_dir} is being run by process {pid}; wait for it or stop it before resuming"
            )
    atomic_write_json(path, {"pid": os.getpid(), "host": platform.node(), "since": _now()})


def release_lock(run_dir) -> None:
    (Path(run_dir) / LOCK).unlink(missing_ok=True)


# ------------------------------------------------------------------------------ provenance
def _git_revision() -> dict | None:
    """Commit (and dirty flag) of the source tree collapse_lab is imported from, if any."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        revision = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "collapse_lab"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"revision": revision, "dirty": dirty}


def environment() -> dict:
    """Package versions, Python, platform, JAX backend and devices, x64 flag, git revision."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    devices = jax.devices()
    return {
        "versions": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "backend": jax.default_backend(),
        "devices": [
            {"id": d.id, "platform": d.platform, "kind": getattr(d, "device_kind", "")}
            for d in devices
        ],
        "x64": bool(jax.config.read("jax_enable_x64")),
        "git": _git_revision(),
        "command": list(sys.argv),
    }


def record_session(run_dir, *, wall_s: float, generations: int, timings: dict | None = None):
    """Append one working session (environment, timings) to ``provenance.json``."""
    path = Path(run_dir) / PROVENANCE
    prov = _read_json(path, "provenance")
    prov.setdefault("sessions", []).append(
        {
            "ended": _now(),
            "wall_s": round(float(wall_s), 3),
            "generations_done": int(generations),
            "timings": timings or {},
            "environment": environment(),
        }
    )
    atomic_write_json(path, prov)


# ------------------------------------------------------------------------------ configuration
def _family_spec(family) -> dict | None:
    """``{"name", "args"}`` that rebuilds ``family`` through ``FAMILIES``, or None."""
    desc = dict(family.describe())
    name = desc.pop("family", family.name)
    if name not in FAMILIES:
        return None
    try:
        if _family_from_spec({"name": name, "args": desc}) == family:
            return {"name": name, "args": desc}
    except (ValueError, TypeError):  # not rebuildable from describe()
        pass
    return None


def _family_from_spec(spec: dict):
    """``FAMILIES[name](**args)``; a described sampling bias (a dict) becomes a SamplingBias."""
    args = dict(spec["args"])
    if isinstance(args.get("bias"), dict):
        args["bias"] = SamplingBias(**args["bias"])
    return FAMILIES[spec["name"]](**args)


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def _config_record(config, experiment) -> dict:
    record = {
        "format": FORMAT,
        "experiment": experiment.to_dict() if experiment is not None else None,
        "run": config.describe(),
        "family": None,
        "source": None,
        "policy": config.policy.describe(),
        "num_samples": [int(v) for v in config.num_samples],
        "key": {"data": np.ravel(config.key_data).tolist(), "impl": config.key_impl},
        "x64": _x64(),
    }
    if experiment is None:
        record["family"] = _family_spec(config.family)
        record["source"] = config.family.source_args(config.source)
    return record


def _x64() -> bool:
    return bool(jax.config.read("jax_enable_x64"))


def begin_run(run_dir, config, experiment=None) -> None:
    """Write config.json, provenance.json and run.json (status ``running``)."""
    run_dir = Path(run_dir)
    record = _config_record(config, experiment)
    atomic_write_json(run_dir / CONFIG, record)
    if experiment is None and (record["family"] is None or record["source"] is None):
        # Not expressible as plain data: keep the objects (source leaves as NumPy) as well.
        source = jax.tree_util.tree_map(np.asarray, config.source)
        atomic_write_bytes(run_dir / OBJECTS, pickle.dumps((config.family, source)))
    seed = experiment.seed if experiment is not None else None
    atomic_write_json(
        run_dir / PROVENANCE,
        {"created": _now(), "seed": seed, "key": record["key"], "sessions": []},
    )
    _write_manifest(run_dir, kind="run", status="running", created=_now())


def stored_x64(run_dir) -> bool:
    """Whether a run, sweep (or demo: False) was made with ``jax_enable_x64``."""
    run_dir = Path(run_dir)
    kind = run_kind(run_dir)
    if kind == "sweep":
        return bool(_read_json(run_dir / EXPERIMENT, "sweep experiment").get("x64", False))
    if kind == "run":
        return bool(_read_json(run_dir / CONFIG, "run config").get("x64", False))
    return False


def read_experiment(run_dir):
    """The :class:`~collapse_lab.experiment.Experiment` a run or sweep was made from, or None."""
    run_dir = Path(run_dir)
    if run_kind(run_dir) == "sweep":
        data = _read_json(run_dir / EXPERIMENT, "sweep experiment")
    else:
        data = _read_json(run_dir / CONFIG, "run config").get("experiment")
    if data is None:
        return None
    try:
        return parse_experiment(data)
    except ValueError as err:
        raise ValueError(f"{run_dir}: stored experiment is invalid: {err}") from None


def _rebuild_config(run_dir: Path, record: dict):
    """The RunConfig of a saved run, from its plain-data record (or the pickled objects)."""
    if record.get("x64") is not None and bool(record["x64"]) != _x64():
        raise ValueError(
            f"{run_dir} was made with jax_enable_x64={record['x64']}; set "
            f"JAX_ENABLE_X64={int(record['x64'])} to load it"
        )
    if record.get("experiment") is not None:
        return build_config(parse_experiment(record["experiment"]))
    if record.get("family") is not None and record.get("source") is not None:
        family = _family_from_spec(record["family"])
        # Plain-data sources are deterministic (they ignore the key); the leaves are replaced by
        # the stored arrays anyway.
        source = build_source(family, record["source"], key=source_key(0))
    else:
        objects = run_dir / OBJECTS
        if not objects.is_file():
            raise ValueError(f"{run_dir}: {OBJECTS} is missing; cannot rebuild the family")
        family, source = pickle.loads(objects.read_bytes())
        source = jax.tree_util.tree_map(jnp.asarray, source)
    policy_desc = dict(record["policy"])
    policy = make_policy(policy_desc.pop("policy"), **policy_desc)
    key = jax.random.wrap_key_data(
        jnp.asarray(np.asarray(record["key"]["data"], np.uint32)), impl=record["key"]["impl"]
    )
    return make_config(
        key,
        family,
        source,
        policy=policy,
        num_chains=record["run"]["num_chains"],
        num_generations=record["run"]["num_generations"],
        num_samples=np.asarray(record["num_samples"], np.int64),
        method=record["run"]["method"],
    )


def _with_source_leaves(config, leaves: list[np.ndarray], where: str):
    """Replace the source leaves by the stored ones (bit-exact), checking shapes and dtypes."""
    treedef = jax.tree_util.tree_structure(config.source)
    current = _leaves(config.source)
    _check_leaves(current, leaves, f"{where} source")
    source = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in leaves])
    return dataclasses.replace(config, source=source)


def _check_leaves(expected, got, what: str) -> None:
    if len(expected) != len(got):
        raise ValueError(
            f"{what}: {len(got)} arrays stored, the configuration needs {len(expected)}"
        )
    for i, (e, g) in enumerate(zip(expected, got)):
        if tuple(e.shape) != tuple(g.shape) or np.dtype(e.dtype) != np.dtype(g.dtype):
            raise ValueError(
                f"{what}: array {i} is {g.dtype}{list(g.shape)}, expected {e.dtype}{list(e.shape)}"
            )


def check_config_matches(run_dir, config) -> None:
    """Refuse to resume when the rebuilt config differs from the one the run started with."""
    record = _read_json(Path(run_dir) / CONFIG, "run config")
    now = _config_record(config, None)
    for field in ("run", "policy", "num_samples", "key"):
        if json.loads(_json_dump(record[field])) != json.loads(_json_dump(now[field])):
            raise ValueError(
                f"{run_dir}: the configuration rebuilt from the experiment differs from the one "
                f"stored ({field}); the code or the library versions changed since the run began"
            )


def configs_equal(a, b) -> bool:
    """Whether two RunConfigs are equal in content (same description, source bits, key, n_t)."""
    if a.describe() != b.describe() or a.family != b.family or a.policy != b.policy:
        return False
    la, lb = _leaves(a.source), _leaves(b.source)
    return len(la) == len(lb) and all(
        x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
        for x, y in zip(la, lb)
    )


# ------------------------------------------------------------------------------ checkpoints
class Checkpoint:
    """Chunked, checksummed, atomically written state of a running run.

    ``checkpoint/manifest.json`` lists the observable chunks (``obs-<first>-<last>.npz``, columns
    first..last of the ``[chain, generation]`` arrays) and the carry after the last chunk
    (``carry-<generation>.npz``), each with its SHA-256. Files are written before the manifest
    that names them, and the previous carry is deleted only after the new manifest is in place,
    so a kill at any instant leaves a consistent checkpoint.
    """

    def __init__(self, run_dir):
        self.dir = Path(run_dir) / CHECKPOINT
        self.manifest_path = self.dir / "manifest.json"
        self.manifest: dict | None = None

    # -- writing
    def _write_npz(self, name: str, arrays: dict) -> dict:
        sha = atomic_write_bytes(self.dir / name, _npz_bytes(arrays))
        return {"file": name, "sha256": sha}

    def _carry_arrays(self, params, pool) -> dict:
        arrays = {f"params/{i}": x for i, x in enumerate(_leaves(params))}
        arrays.update({f"pool/{i}": x for i, x in enumerate(_leaves(pool))})
        return arrays

    def _commit(self, manifest: dict) -> None:
        body = {k: v for k, v in manifest.items() if k != "sha256"}
        manifest["sha256"] = hashlib.sha256(
            json.dumps(body, sort_keys=True).encode("utf-8")
        ).hexdigest()
        atomic_write_json(self.manifest_path, manifest)
        self.manifest = manifest

    def write_initial(self, result) -> None:
        """Generation 0 (source observables) and the initial carry."""
        self.dir.mkdir(parents=True, exist_ok=True)
        _remove_temporaries(self.dir)
        obs = {k: np.asarray(v)[:, :1] for k, v in result.observables.items()}
        chunk = self._write_npz("obs-00000000-00000000.npz", obs)
        chunk.update(first=0, last=0)
        carry = self._write_npz(
            f"carry-{result.generations_done:08d}.npz",
            self._carry_arrays(result.final_params, result.final_pool),
        )
        self._commit(
            {
                "format": FORMAT,
                "generations_done": int(result.generations_done),
                "chunks": [chunk],
                "carry": carry,
            }
        )

    def write_chunk(self, start: int, stop: int, params, pool, obs_chunk: dict) -> None:
        """Record generations ``start + 1 .. stop`` and the carry after generation ``stop``."""
        if self.manifest is None:
            self.manifest = self.read_manifest()
        chunk = self._write_npz(
            f"obs-{start + 1:08d}-{stop:08d}.npz", {k: np.asarray(v) for k, v in obs_chunk.items()}
        )
        chunk.update(first=start + 1, last=stop)
        carry = self._write_npz(f"carry-{stop:08d}.npz", self._carry_arrays(params, pool))
        old_carry = self.manifest["carry"]["file"]
        manifest = dict(self.manifest)
        manifest.update(
            generations_done=int(stop), chunks=[*self.manifest["chunks"], chunk], carry=carry
        )
        self._commit(manifest)
        if old_carry != carry["file"]:
            (self.dir / old_carry).unlink(missing_ok=True)

    # -- reading
    def read_manifest(self) -> dict:
        manifest = _read_json(self.manifest_path, "checkpoint manifest")
        body = {k: v for k, v in manifest.items() if k != "sha256"}
        sha = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
        if manifest.get("sha256") != sha or manifest.get("format") != FORMAT:
            raise ValueError(
                f"checkpoint manifest {self.manifest_path} is corrupt (checksum mismatch); "
                "the run cannot be resumed from it"
            )
        return manifest

    def _load_npz(self, entry: dict) -> dict:
        path = _verified_checkpoint_file(self.dir, entry)
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def restore(self, config):
        """The :class:`~collapse_lab.chain.RunResult` at the last checkpoint (verified)."""
        if not self.manifest_path.exists():
            # Killed before the first checkpoint: start again from generation 0.
            self.dir.mkdir(parents=True, exist_ok=True)
            result = start_run(config)
            self.write_initial(result)
            return result
        _remove_temporaries(self.dir)
        manifest = self.read_manifest()
        self.manifest = manifest
        done = int(manifest["generations_done"])
        pieces: dict[str, list] = {}
        expected_first = 0
        for entry in sorted(manifest["chunks"], key=lambda e: e["first"]):
            if entry["first"] != expected_first:
                raise ValueError(
                    f"checkpoint in {self.dir} has a gap before column {entry['first']}"
                )
            for k, v in self._load_npz(entry).items():
                pieces.setdefault(k, []).append(v)
            expected_first = entry["last"] + 1
        if expected_first != done + 1:
            raise ValueError(f"checkpoint in {self.dir} ends at {expected_first - 1}, not {done}")
        observables = {k: np.concatenate(v, axis=1) for k, v in pieces.items()}
        for k, v in observables.items():
            if v.shape[:2] != (config.num_chains, done + 1):
                raise ValueError(
                    f"checkpoint observable {k} has shape {v.shape}, expected "
                    f"({config.num_chains}, {done + 1}, ...)"
                )
        carry = self._load_npz(manifest["carry"])
        params_struct, pool_struct = jax.eval_shape(lambda: initial_carry(config))
        trees = []
        for prefix, struct in (("params", params_struct), ("pool", pool_struct)):
            leaves_struct, treedef = jax.tree_util.tree_flatten(struct)
            stored = [
                carry[f"{prefix}/{i}"]
                for i in range(sum(k.startswith(prefix + "/") for k in carry))
            ]
            _check_leaves(leaves_struct, stored, f"checkpoint carry ({prefix})")
            trees.append(jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in stored]))
        # Files beyond the manifest (a kill between writing a chunk and its manifest) are stale.
        named = {e["file"] for e in manifest["chunks"]} | {
            manifest["carry"]["file"],
            "manifest.json",
        }
        for path in self.dir.iterdir():
            if path.name not in named:
                path.unlink(missing_ok=True)
        return RunResult(
            observables=observables,
            config=config,
            final_params=trees[0],
            final_pool=trees[1],
            generations_done=done,
        )


class ReducedCheckpoint:
    """Checkpoint of a reduced run: the across-chain summaries accumulated over the finished
    chain batches (``checkpoint/reduced-<chains done>.npz``, named with its SHA-256 in
    ``checkpoint/manifest.json``). Written file first, manifest second, old file removed last,
    so a kill at any instant leaves a consistent checkpoint.
    """

    def __init__(self, run_dir):
        self.dir = Path(run_dir) / CHECKPOINT
        self.manifest_path = self.dir / "manifest.json"

    def write(self, state: dict) -> None:
        """Record the summaries after ``state["done"]`` chains (a dict of NumPy arrays)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        done = int(state["done"])
        name = f"reduced-{done:012d}.npz"
        sha = atomic_write_bytes(self.dir / name, _npz_bytes(state))
        old = None
        if self.manifest_path.exists():
            old = self.read_manifest().get("file")
        body = {"format": FORMAT, "reduced": True, "chains_done": done, "file": name, "sha256": sha}
        manifest = {**body, "manifest_sha256": _body_sha(body)}
        atomic_write_json(self.manifest_path, manifest)
        if old is not None and old != name:
            (self.dir / old).unlink(missing_ok=True)

    def read_manifest(self) -> dict:
        manifest = _read_json(self.manifest_path, "checkpoint manifest")
        body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
        if manifest.get("manifest_sha256") != _body_sha(body) or not manifest.get("reduced"):
            raise ValueError(
                f"checkpoint manifest {self.manifest_path} is corrupt (checksum mismatch) or not "
                "a reduced run's; the run cannot be resumed from it"
            )
        return manifest

    def restore(self) -> dict | None:
        """The verified saved summaries, or None when no batch had finished."""
        if not self.manifest_path.exists():
            return None
        _remove_temporaries(self.dir)
        manifest = self.read_manifest()
        path = _verified_checkpoint_file(self.dir, manifest)
        for stray in self.dir.iterdir():
            if stray.name not in (manifest["file"], "manifest.json"):
                stray.unlink(missing_ok=True)
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


def _body_sha(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------ final results
def _result_arrays(result) -> dict:
    arrays = {f"obs/{k}": np.asarray(v) for k, v in result.observables.items()}
    arrays.update({f"carry/params/{i}": x for i, x in enumerate(_leaves(result.final_params))})
    arrays.update({f"carry/pool/{i}": x for i, x in enumerate(_leaves(result.final_pool))})
    arrays.update({f"source/{i}": x for i, x in enumerate(_leaves(result.config.source))})
    arrays["num_samples"] = np.asarray(result.config.num_samples)
    arrays["key_data"] = np.asarray(result.config.key_data)
    arrays["generations_done"] = np.asarray(result.generations_done)
    return arrays


def write_arrays(run_dir, result) -> str:
    """Write ``arrays.npz`` (observables, final carry, source leaves, n_t, key); return its SHA-256."""
    return atomic_write_bytes(Path(run_dir) / ARRAYS, _npz_bytes(_result_arrays(result)))


def _reduced_arrays(result) -> dict:
    arrays = {}
    for name, m in result.moments.items():
        arrays.update({f"mom/{name}/{f}": np.asarray(getattr(m, f)) for f in MOMENT_FIELDS})
    keys = list(result.threshold_counts)
    arrays["thr/observable"] = np.asarray([k[0] for k in keys], dtype=np.str_)
    arrays["thr/generation"] = np.asarray([k[1] for k in keys], dtype=np.int64)
    arrays["thr/cut"] = np.asarray([k[2] for k in keys], dtype=np.float64)
    arrays["thr/count"] = np.asarray([result.threshold_counts[k] for k in keys], dtype=np.int64)
    for name, (edges, counts) in result.histograms.items():
        arrays[f"hist/{name}/edges"] = np.asarray(edges)
        arrays[f"hist/{name}/counts"] = np.asarray(counts)
    arrays.update({f"source/{i}": x for i, x in enumerate(_leaves(result.config.source))})
    arrays["num_samples"] = np.asarray(result.config.num_samples)
    arrays["key_data"] = np.asarray(result.config.key_data)
    arrays["chain_batch"] = np.asarray(-1 if result.chain_batch is None else result.chain_batch)
    return arrays


def write_reduced(run_dir, result) -> str:
    """Write ``reduced.npz`` (a reduced run's summaries, source leaves, n_t, key); its SHA-256."""
    return atomic_write_bytes(Path(run_dir) / REDUCED, _npz_bytes(_reduced_arrays(result)))


def _reduced_from_arrays(arrays: dict, config) -> ReducedResult:
    names = sorted({k[4:].rsplit("/", 1)[0] for k in arrays if k.startswith("mom/")})
    moments = {n: Moments(*(arrays[f"mom/{n}/{f}"] for f in MOMENT_FIELDS)) for n in names}
    counts = {
        (str(o), int(g), float(c)): int(k)
        for o, g, c, k in zip(
            arrays["thr/observable"],
            arrays["thr/generation"],
            arrays["thr/cut"],
            arrays["thr/count"],
        )
    }
    hist_names = sorted({k[5:].rsplit("/", 1)[0] for k in arrays if k.startswith("hist/")})
    hists = {n: (arrays[f"hist/{n}/edges"], arrays[f"hist/{n}/counts"]) for n in hist_names}
    batch = int(arrays["chain_batch"])
    return ReducedResult(
        config=config,
        moments=moments,
        threshold_counts=counts,
        histograms=hists,
        chain_batch=None if batch < 0 else batch,
    )


def write_timings(run_dir, timings: dict) -> None:
    """Record the run's timings in ``provenance.json``."""
    path = Path(run_dir) / PROVENANCE
    prov = _read_json(path, "provenance")
    prov["timings"] = dict(timings)
    atomic_write_json(path, prov)


def mark_complete(run_dir, **fields) -> None:
    """Mark a run (or sweep) complete in ``run.json`` and drop its checkpoint."""
    run_dir = Path(run_dir)
    _write_manifest(run_dir, status="complete", completed=_now(), **fields)
    shutil.rmtree(run_dir / CHECKPOINT, ignore_errors=True)


def read_provenance(run_dir) -> dict:
    return _read_json(Path(run_dir) / PROVENANCE, "provenance")


def read_config_record(run_dir) -> dict:
    """The plain-data ``config.json`` of a run."""
    return _read_json(Path(run_dir) / CONFIG, "run config")


def load(run_dir):
    """Load a complete saved run as the :class:`~collapse_lab.chain.RunResult` it was (a
    :class:`~collapse_lab.reduce.ReducedResult` for a reduced run).

    Observables, the final carry and the configuration are restored bit for bit (the config is
    rebuilt from its plain-data record; the source leaves come from arrays.npz).

    Raises:
        ValueError: not a run directory, a sweep (see :func:`load_sweep`), an unfinished run
            (resume it first), or arrays.npz does not match its recorded SHA-256.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest["kind"] != "run":
        raise ValueError(
            f"{run_dir} is a {manifest['kind']} directory; use load_sweep() for sweeps"
        )
    if manifest["status"] != "complete":
        raise ValueError(
            f"{run_dir} is not complete (killed or still running); run `collapse-lab resume "
            f"{run_dir}` first"
        )
    path = run_dir / (REDUCED if manifest.get("reduced") else ARRAYS)
    if not path.is_file() or sha256_file(path) != manifest["arrays_sha256"]:
        raise ValueError(f"{path} is missing or corrupt (SHA-256 differs from {RUN_MANIFEST})")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    record = _read_json(run_dir / CONFIG, "run config")
    source_leaves = [arrays[f"source/{i}"] for i in range(_count(arrays, "source/"))]
    config = _with_source_leaves(_rebuild_config(run_dir, record), source_leaves, str(run_dir))
    if manifest.get("reduced"):
        result = _reduced_from_arrays(arrays, config)
        result.timings = dict(_read_json(run_dir / PROVENANCE, "provenance").get("timings", {}))
        return result
    params_struct, pool_struct = jax.eval_shape(lambda: initial_carry(config))
    trees = []
    for prefix, struct in (("carry/params/", params_struct), ("carry/pool/", pool_struct)):
        leaves_struct, treedef = jax.tree_util.tree_flatten(struct)
        stored = [arrays[f"{prefix}{i}"] for i in range(_count(arrays, prefix))]
        _check_leaves(leaves_struct, stored, f"{path} ({prefix})")
        trees.append(jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in stored]))
    observables = {k[4:]: v for k, v in arrays.items() if k.startswith("obs/")}
    prov = _read_json(run_dir / PROVENANCE, "provenance")
    return RunResult(
        observables=observables,
        config=config,
        final_params=trees[0],
        final_pool=trees[1],
        generations_done=int(arrays["generations_done"]),
        timings=dict(prov.get("timings", {})),
    )


def _count(arrays: dict, prefix: str) -> int:
    return sum(1 for k in arrays if k.startswith(prefix) and k[len(prefix) :].isdigit())


# ------------------------------------------------------------------------------ sweeps
def sweep_run_dir(sweep_dir, index: int, assignment: dict) -> Path:
    return Path(sweep_dir) / SWEEP_RUNS / f"{index:03d}_{sweep_label(assignment)}"


def write_sweep_manifest(sweep_dir, experiment, assignments: list[dict]) -> None:
    sweep_dir = Path(sweep_dir)
    atomic_write_json(sweep_dir / EXPERIMENT, experiment.to_dict())
    runs = [
        {"assignment": a, "dir": str(sweep_run_dir(sweep_dir, i, a).relative_to(sweep_dir))}
        for i, a in enumerate(assignments)
    ]
    atomic_write_json(
        sweep_dir / PROVENANCE,
        {"created": _now(), "seed": experiment.seed, "environment": environment()},
    )
    _write_manifest(sweep_dir, kind="sweep", status="running", created=_now(), runs=runs)


def load_sweep(sweep_dir) -> list[tuple[dict, object]]:
    """``[(assignment, RunResult), ...]`` of a complete sweep, in sweep order."""
    sweep_dir = Path(sweep_dir)
    manifest = read_manifest(sweep_dir)
    if manifest["kind"] != "sweep":
        raise ValueError(f"{sweep_dir} is a {manifest['kind']} directory, not a sweep")
    return [(r["assignment"], load(sweep_dir / r["dir"])) for r in manifest["runs"]]

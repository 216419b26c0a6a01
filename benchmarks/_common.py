"""Helpers every benchmark script shares: its argument parser, provenance, and JSON output.

The scripts run as ``python benchmarks/<name>.py`` (this folder is then first on ``sys.path``),
so they import this module as ``_common``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np

import collapse_lab as cl


def parser(doc: str, out: str) -> argparse.ArgumentParser:
    """An argument parser described by the first line of ``doc``, with ``--out`` (default ``out``)."""
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--out", default=out, help=f"where the results go (default {out})")
    return ap


def provenance() -> dict:
    """Versions, backend and devices, machine and its load, and the date of this run."""
    return {
        "jax": jax.__version__,
        "numpy": np.__version__,
        "collapse_lab": cl.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_json(path, obj, indent: int = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` (parent folders created) and say so."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=indent, default=str))
    print(f"wrote {path}")
    return path

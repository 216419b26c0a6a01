"""The import graph of collapse_lab points one way (README "Layout"; DESIGN.md section 1).

Read from the source with ``ast`` (nothing is imported): every ``import`` / ``from ... import`` of a
collapse_lab module, at module level or inside a function, is an edge. The graph must have no
cycle and no edge from a lower layer to a higher one. Deterministic: no statistical test here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "collapse_lab"

# Lowest first. A module may import modules of its own layer or of layers below it.
LAYERS = [
    ("theory", ["theory", "theory.*", "_version", "_validate"]),
    ("primitives", ["_batch_invariant", "_random", "_hosts", "sampling", "prediction"]),
    ("samplers", ["_multinomial"]),
    ("contract", ["family", "policies"]),
    ("families", ["families", "families.*"]),
    ("chain", ["chain"]),
    ("on chains", ["reduce", "check"]),
    ("spec", ["spec"]),
    ("io", ["io"]),
    ("analysis", ["analysis"]),
    ("plots", ["plots"]),
    ("report", ["report"]),
    ("experiment", ["experiment"]),
    ("api", [""]),  # collapse_lab/__init__.py: the curated public API
    # The reproductions are written against the public API only (``import collapse_lab``).
    ("reproductions", ["reproductions", "reproductions.*"]),
    ("cli", ["cli"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    for rank, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return rank
    raise AssertionError(f"collapse_lab.{module} is in no layer: add it to LAYERS in this test")


def imports_of(path: Path, source: str | None = None) -> set[str]:
    """The collapse_lab modules ``path`` imports (relative to the package, "" for the package)."""
    here = module_name(path)
    package = here.split(".") if path.name == "__init__.py" else here.split(".")[:-1]
    package = [p for p in package if p]
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "collapse_lab" or alias.name.startswith("collapse_lab."):
                    found.add(alias.name.removeprefix("collapse_lab").lstrip("."))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module != "collapse_lab" and not (node.module or "").startswith(
                    "collapse_lab."
                ):
                    continue
                base = node.module.removeprefix("collapse_lab").lstrip(".").split(".")
                base = [b for b in base if b]
            else:
                base = package[: len(package) - (node.level - 1)] + (
                    node.module.split(".") if node.module else []
                )
            for alias in node.names:
                candidate = ".".join([*base, alias.name])
                is_module = (PACKAGE / Path(*candidate.split("."))).with_suffix(
                    ".py"
                ).is_file() or (PACKAGE / Path(*candidate.split("."))).is_dir()
                found.add(candidate if is_module else ".".join(base))
    found.discard(here)
    return found


def graph(overrides: dict[str, str] | None = None) -> dict[str, set[str]]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        source = (overrides or {}).get(name)
        out[name] = imports_of(path, source)
    return out


def violations(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in edges.items():
        for target in sorted(targets):
            if target not in edges:
                problems.append(f"collapse_lab.{module} imports unknown collapse_lab.{target}")
            elif layer_of(target) > layer_of(module):
                problems.append(
                    f"upward import: collapse_lab.{module} ({LAYERS[layer_of(module)][0]}) imports "
                    f"collapse_lab.{target} ({LAYERS[layer_of(target)][0]})"
                )
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(edges)]
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (or a self-loop)."""
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_every_module_has_a_layer():
    for module in graph():
        layer_of(module)


def test_imports_point_down_and_have_no_cycles():
    assert violations(graph()) == []


def test_theory_imports_nothing_of_the_simulator():
    for module, targets in graph().items():
        if module.startswith("theory"):
            assert all(t.startswith("theory") for t in targets), (module, targets)


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("io", "from .report import verdict\n", "upward import: collapse_lab.io (io)"),
        ("chain", "from . import experiment\n", "upward import: collapse_lab.chain (chain)"),
        ("theory.gaussian", "import collapse_lab.chain\n", "upward import"),
        ("_random", "from ._multinomial import binomial\n", "upward import"),
        ("families.ngram", "from .transformer import Transformer\n", "import cycle"),
    ],
)
def test_an_added_upward_import_or_cycle_is_caught(module, line, expected):
    """Negative control: the same check rejects the graph once one bad import is added."""
    path = PACKAGE / Path(*module.split("."))
    path = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
    edges = graph({module: path.read_text(encoding="utf-8") + "\n" + line})
    problems = violations(edges)
    assert problems and any(expected in p for p in problems), problems

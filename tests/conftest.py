"""Shared test setup, and the suite's family-wise false-alarm budget (stated here, once).

False-alarm budget. Every stochastic assertion states its false-failure rate (the probability
that a correct implementation fails it, over the fixed seeds' randomness) in its file's or test's
docstring. Rates add up (Bonferroni), so the default tier (``python -m pytest``, no ``-m slow``)
fails spuriously with probability at most the sum of the per-file rates below, and that sum
must stay under the budget of **5e-2**. Add your file's rate here when you add stochastic tests.

====================================  =========================================================
file                                  stated false-failure rate (default tier)
====================================  =========================================================
statistical/test_wright_fisher.py     10 check() tables at 1e-3 + sweep 8 x 1e-4 -> 1.1e-2
test_multinomial.py                   about 8 tests at <= 1e-3                    -> 8e-3
test_theory_wright_fisher.py          about 5 Monte Carlo tests at 1e-3          -> 5e-3
test_categorical.py                   2 tests at 1e-3                            -> 2e-3
statistical/test_gaussian_theory.py   12 check() tables / KS at 1e-4            -> 1.2e-3
statistical/test_verification_threshold.py 3 tables at 1e-3 + 2 binomial at 1e-4 -> 3.2e-3
statistical/test_ngram_policies.py    2 tables at 1e-3                          -> 2e-3
test_check.py                         10 binomial calibrations + 3 z (power)     -> 1.2e-3
test_transformer.py                   loss margins of > 0.3 nats                 -> << 1e-3
statistical/test_ngram_theory.py      5 tables at 1e-4, KS, NumPy Monte Carlo    -> 7e-4
statistical/test_mixture_theory.py    4 tables at 1e-4, KS                        -> 5e-4
test_theory_gaussian.py               NumPy Monte Carlo, |z| < 4.5                -> 2e-4
test_gaussian.py                      W2 / tail-mass Monte Carlo, |z| < 4.5       -> 1e-4
test_reduce.py                        1 table at 1e-4                             -> 1e-4
test_mixture.py, test_plots.py        |z| < 4.5                                   -> 6e-5
====================================  =========================================================

Total: about 3e-2 (+ test_transformer's margin), under the 5e-2 budget. Negative controls
(a wrong formula that must be rejected) go through ``tests/_controls.assert_rejects`` and each
targets a shift of >= 8 standard errors, so their own failure-to-reject rate is negligible
against this budget. Hypothesis runs derandomised (the "ci" profile below), so the examples are
fixed and the rates above are per run of the suite.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

os.environ.setdefault("JAX_PLATFORMS", "cpu")

# One compilation cache for the whole run: the xdist workers and the subprocesses that tests start
# inherit this directory (created once, in the controlling process, removed when it exits), so a
# program that several test files or processes compile identically is compiled once. A cache hit
# loads the same executable, so no result can change. A cache the user already set is used as is.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    _cache = tempfile.mkdtemp(prefix="collapse-lab-jax-cache-")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

# The default tier compiles hundreds of small programs and runs most of them for milliseconds:
# on the 2-core CI machine XLA's LLVM optimisation was about a fifth of the suite's CPU time.
# Unless the run selects the slow tier (acceptance-size runs, where run time dominates) or the
# user set an optimisation level, the backend compiles at level 0 (compile ~40 % faster, small
# kernels ~3x slower). Same semantics: every bit-identity test against values stored from
# optimised builds passes at level 0 too. ``COLLAPSE_LAB_TEST_OPTIMIZED=1`` keeps XLA's default.
_FAST_COMPILE = "--xla_backend_optimization_level=0"


def pytest_configure(config):
    # Before any test module is imported (collection comes later) and before JAX creates its
    # backend, which is when XLA reads XLA_FLAGS; xdist workers run this hook too.
    flags = os.environ.get("XLA_FLAGS", "")
    if ("slow" in (config.option.markexpr or "").replace("not slow", "")
            or "xla_backend_optimization_level" in flags
            or os.environ.get("COLLAPSE_LAB_TEST_OPTIMIZED") == "1"):
        return
    os.environ["XLA_FLAGS"] = f"{flags} {_FAST_COMPILE}".strip()


import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=12, print_blob=True)
settings.load_profile("ci")


@pytest.fixture
def key():
    return jax.random.key(20261128)


# Files whose tests take longest start first, longest first (the default tier's per-file
# totals, 2026-12-06; a few tens of seconds each): under ``--dist loadfile`` xdist hands out
# whole files in collection order, so a long file collected late would run alone at the end of
# the suite while the other worker idles. test_sharding's two subprocesses go first, while the
# other worker's files still leave a core to them. pyproject's addopts pass
# ``--no-loadscope-reorder``: without it xdist (>= 3.x) hands out files by number of tests,
# most first, which ran test_sharding (one long test) alone at the very end.
_LONG_FIRST = ("test_sharding.py", "test_contract.py", "test_wright_fisher.py",
               "test_policies.py", "test_gaussian.py", "test_categorical.py",
               "test_multinomial.py", "test_policies_theory.py", "test_gaussian_theory.py",
               "test_cli.py", "test_transformer.py", "test_mixture_theory.py",
               "test_ngram_theory.py", "test_mixture.py", "test_multihost.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = os.path.basename(str(item.fspath))
        return _LONG_FIRST.index(name) if name in _LONG_FIRST else len(_LONG_FIRST)

    items.sort(key=rank)  # stable: the order inside a file and among the others is kept

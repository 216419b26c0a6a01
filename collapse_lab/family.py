"""The contract every model family implements.

A family is a final :class:`equinox.Module` holding hyper-parameters only. Its *parameters* are a
separate pytree whose structure, shapes and dtypes never change across generations (it is the
carry of the generation scan).

The runner never materialises a training set itself. Instead every family describes its data by
additive (mergeable) *sufficient statistics*:

* ``sample_stats(key, params, buffer_size, num_samples)`` draws ``num_samples`` points from
  ``params`` (``buffer_size`` is the static array size, ``num_samples <= buffer_size`` may be a
  traced integer) and returns their statistics -- the literal ``method="sample"`` path;
* ``exact_stats(key, params, num_samples)`` draws the *same statistics* directly from their exact
  law, without materialising samples (``method="exact"``);
* ``merge(a, b)`` combines two statistics (the pooled data set), ``empty_stats(params)`` is the
  identity of ``merge``;
* ``estimate(key, stats, params)`` refits the parameters (closed-form fits ignore the key).

Policies (replace, accumulate, fresh real data) are then written once for every family, and they
run in O(1) memory per chain whatever the number of generations.
"""

from __future__ import annotations

import abc
import functools
import inspect
from typing import Any

import equinox as eqx
from jaxtyping import PRNGKeyArray

from ._validate import check_key

Params = Any
Stats = Any


def is_key(value) -> bool:
    """Whether ``value`` is a single typed PRNG key (``jax.random.key(seed)``)."""
    try:
        check_key("key", value)
    except ValueError:
        return False
    return True


def key_first(source):
    """Give a source that needs no randomness the contract's ``source(key, ...)`` signature.

    The key is accepted and unused. The keyless call of earlier versions (``source(mean, cov)``)
    still works: a first argument that is not a typed key is taken as the first source argument.
    """
    signature = inspect.signature(source)
    params = list(signature.parameters.values())
    key = inspect.Parameter("key", inspect.Parameter.POSITIONAL_OR_KEYWORD)

    @functools.wraps(source)
    def wrapper(self, *args, **kwargs):
        if "key" in kwargs:
            del kwargs["key"]
        elif args and is_key(args[0]):
            args = args[1:]
        return source(self, *args, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[params[0], key, *params[1:]])
    return wrapper


def check_made_by(name: str, value, params_type: type, maker: str, **sizes):
    """The source check the families share: ``value`` is a ``params_type`` built by ``maker``
    (e.g. ``"NGram.source(key, transitions)"``) whose ``info`` has the family's ``sizes``
    (``vocab_size=..., order=...``); otherwise a ``ValueError`` naming ``name``."""
    if not isinstance(value, params_type):
        raise ValueError(f"{name} must come from {maker}, got {type(value).__name__}")
    have = {k: getattr(value.info, k) for k in sizes}
    if have != sizes:
        text = ", ".join(f"{k}={v}" for k, v in have.items())
        want = ", ".join(f"{k}={v}" for k, v in sizes.items())
        raise ValueError(f"{name} has {text}; the family has {want}")
    return value


class AbstractFamily(eqx.Module):
    """Abstract base of all model families (equinox abstract/final pattern)."""

    # ----------------------------------------------------------------------------- identity
    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Registry name of the family (``"gaussian"``, ``"categorical"``, ...)."""

    @property
    def has_exact(self) -> bool:
        """Whether :meth:`exact_stats` is implemented for these hyper-parameters
        (``method="exact"``); families override this property, never shadow it."""
        return True

    # The runner pads the chain count to a multiple of this (None: the runner's default, 64).
    # The transformer sets it as a constructor argument (see theory/transformer.md#determinism).
    chain_align = None

    @abc.abstractmethod
    def source(self, key: PRNGKeyArray, *args, **kwargs) -> Params:
        """Generation-0 parameters. The key comes first for every family; a source that needs
        no randomness takes it and ignores it (see :func:`key_first`). Keyword arguments are
        plain data (numbers, lists): an experiment file's ``[source]`` table names them."""

    def source_args(self, source: Params) -> dict | None:
        """Plain-data keyword arguments of :meth:`source` that rebuild ``source`` (what a saved
        run records in ``config.json``), or None when the source is not plain data (a pickle of
        the family and source is kept instead)."""
        del source
        return None

    @abc.abstractmethod
    def check_source(self, source: Params) -> Params:
        """Validate generation-0 parameters (``ValueError`` naming ``source``); return them."""

    # ----------------------------------------------------------------------------- simulation
    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray, params: Params, num_samples: int) -> Any:
        """Draw ``num_samples`` data points from the model ``params`` (one chain)."""

    @abc.abstractmethod
    def sample_stats(
        self, key: PRNGKeyArray, params: Params, buffer_size: int, num_samples: Any
    ) -> Stats:
        """Statistics of ``num_samples`` literal draws from ``params`` (static buffer size)."""

    @abc.abstractmethod
    def exact_stats(self, key: PRNGKeyArray, params: Params, num_samples: Any) -> Stats:
        """Statistics of ``num_samples`` draws, drawn from their exact law in O(1) in n."""

    @abc.abstractmethod
    def merge(self, a: Stats, b: Stats) -> Stats:
        """Statistics of the union of two data sets."""

    @abc.abstractmethod
    def empty_stats(self, params: Params) -> Stats:
        """Statistics of the empty data set (identity of :meth:`merge`)."""

    @abc.abstractmethod
    def estimate(self, key: PRNGKeyArray, stats: Stats, params: Params) -> Params:
        """Fit new parameters on the data summarised by ``stats``."""

    @abc.abstractmethod
    def observe(self, params: Params, source: Params) -> dict[str, Any]:
        """Per-generation observables (scalars or small fixed-shape arrays) of one chain."""

    # ----------------------------------------------------------------------------- checking
    @abc.abstractmethod
    def validate_num_samples(self, num_samples: Any) -> None:
        """Raise ``ValueError`` naming ``num_samples`` if a sample size is not allowed."""

    # ----------------------------------------------------------------------------- policy hooks
    # Optional additions some data policies need (collapse_lab.policies); defaults: absent.
    fixed_shape_stats = True  # merge keeps the statistics' shapes (Window, FixedReal need it)
    has_subsample = False  # subsample_stats: draw without replacement from pooled statistics
    has_points = False  # sample_points / points_stats: a static buffer of drawn points

    def subsample_stats(self, key: PRNGKeyArray, stats: Stats, num_samples: Any,
                        max_samples: int) -> Stats:
        """Statistics of ``num_samples`` (<= static ``max_samples``) points drawn without
        replacement from the data summarised by ``stats`` (count families)."""
        raise NotImplementedError

    def sample_points(self, key: PRNGKeyArray, params: Params, num_samples: int) -> Any:
        """``[num_samples, ...]`` draws in a frame that ``points_stats`` understands."""
        raise NotImplementedError

    def points_stats(self, points: Any, mask: Any) -> Stats:
        """Statistics of the points of ``points`` where ``mask`` is true."""
        raise NotImplementedError

    def validate_policy(self, policy: Any) -> None:
        """Raise ``ValueError`` naming ``policy`` if this family cannot run under it (default: any)."""
        del policy

    def without_bias(self) -> AbstractFamily:
        """This family with its sampling bias removed (temperature 1, no truncation).

        Fresh real data (policy ``Fresh``) is drawn from the source through this family: sampling
        bias is a property of generating from a model, not of collecting real data.
        """
        return self

    def predictions(self, config: Any, overrides: dict | None = None) -> list:
        """Theory predictions that apply to a run with ``config`` (see :mod:`collapse_lab.check`).

        ``overrides`` replaces theory inputs (e.g. ``{"estimator": "unbiased"}`` or
        ``{"num_samples": n - 1}``) so that a deliberately wrong formula can be checked against
        the same chains (a negative control).
        """
        del config, overrides
        return []

    def describe(self) -> dict[str, Any]:
        """Plain-data description of the hyper-parameters (for configs and provenance)."""
        return {"family": self.name}

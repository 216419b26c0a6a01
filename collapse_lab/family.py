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
from typing import Any

import equinox as eqx
from jaxtyping import PRNGKeyArray

Params = Any
Stats = Any


class AbstractFamily(eqx.Module):
    """Abstract base of all model families (equinox abstract/final pattern)."""

    # ----------------------------------------------------------------------------- identity
    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Registry name of the family (``"gaussian"``, ``"categorical"``, ...)."""

    has_exact = True  # whether ``exact_stats`` is implemented (method="exact")

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

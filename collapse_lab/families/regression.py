r"""Linear regression family: label fresh Gaussian inputs with the current model, refit, repeat.

Generation t is a weight vector $w_t$ ($w_0 = w^*$, the source). Generation t+1 draws
$n_t$ inputs $x \sim N(0, \Sigma)$, labels them $y = x^\top w_t + \varepsilon$ with
$\varepsilon \sim N(0, \sigma^2)$, and refits by least squares (OLS, or ridge). Everything runs
in the source's whitened frame $z = L^{-1}x$ ($\Sigma = L L^\top$), where the weights are
$v = L^\top w$ and the test error (excess risk $\lVert w - w^*\rVert_\Sigma^2$) is
$\lVert v - v^*\rVert^2$.

Sufficient statistics $(n, Z^\top Z, Z^\top y, y^\top y)$ add up, so ``Accumulate`` and
``Fresh`` run in O(1) memory per chain. ``method="exact"`` draws them without samples
(theory/regression.md#exact): $Z^\top Z = B B^\top$ by Bartlett's decomposition
($B_{ii}^2 \sim \chi^2_{n-i}$, $B_{ij} \sim N(0,1)$ below the diagonal), $Z^\top\varepsilon =
\sigma B g$ with $g \sim N(0, I_d)$ (its law given $Z^\top Z$ is $N(0, \sigma^2 Z^\top Z)$), and
$\varepsilon^\top\varepsilon = \sigma^2(\lVert g\rVert^2 + \chi^2_{n-d})$ (the part of
$\varepsilon$ in the column space of Z and the independent rest): $O(d^3)$ whatever n.

References:
    Dohmatob, Feng & Kempe (2024), "Model Collapse Demystified: The Case of Regression",
    arXiv 2402.07712; Gerstgrasser et al. (2024), arXiv 2404.01413.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._batch_invariant import dmatmul, dsum
from .._random import log_chisquare_sample, normals, uniforms
from .._validate import covariance_matrix, mean_vector
from ..family import AbstractFamily, key_first
from ..prediction import Prediction

ESTIMATORS = ("ols", "ridge")


class RegressionParams(eqx.Module):
    """A linear model in the source's whitened frame (the scan carry).

    Absolute weights are $w = L^{-\\top} v$ with $L$ the Cholesky factor of the input covariance.
    """

    weights: jax.Array  # [d] whitened weights v_t
    residual: jax.Array  # [] training residual RSS / n of the fit that made this model
    true_weights: jax.Array  # [d] whitened source weights v* (constant)
    inv_chol_t: jax.Array  # [d, d] L^{-T}: absolute from whitened weights (constant)
    penalty: jax.Array  # [d, d] ridge penalty in the whitened frame, L^{-1} L^{-T} (constant)


class RegressionStats(eqx.Module):
    """Additive statistics of a labelled data set in the whitened frame."""

    count: jax.Array  # []
    xtx: jax.Array  # [d, d]  Z^T Z
    xty: jax.Array  # [d]     Z^T y
    yy: jax.Array  # []      y^T y


def _float_dtype():
    return jnp.result_type(float)


def _cholesky(a):
    """Lower Cholesky factor by unrolled column updates (elementwise ops and :func:`dsum`, so
    the bits do not depend on the vmap batch size). Small d only (the loops are unrolled)."""
    d = a.shape[-1]
    chol = jnp.zeros_like(a)
    for j in range(d):
        s = a[j:, j]
        if j > 0:
            s = s - dsum(chol[j:, :j] * chol[j, :j][None, :], 1)
        pivot = jnp.sqrt(jnp.maximum(s[0], jnp.finfo(a.dtype).tiny))
        chol = chol.at[j:, j].set(jnp.concatenate([pivot[None], s[1:] / pivot]))
    return chol


def _chol_solve(chol, b):
    """Solve $L L^\\top x = b$ by unrolled substitution (batch-invariant bits)."""
    d = b.shape[-1]
    y = jnp.zeros_like(b)
    for i in range(d):
        acc = b[i] - (dsum(chol[i, :i] * y[:i], 0) if i else 0.0)
        y = y.at[i].set(acc / chol[i, i])
    x = jnp.zeros_like(b)
    for i in reversed(range(d)):
        acc = y[i] - (dsum(chol[i + 1 :, i] * x[i + 1 :], 0) if i < d - 1 else 0.0)
        x = x.at[i].set(acc / chol[i, i])
    return x


def _real(name, value, lo=None, strict=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and (v <= lo if strict else v < lo):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {lo}, got {value!r}")
    return v


class LinearRegression(AbstractFamily):
    """Self-consuming linear regression with a Gaussian design.

    Args:
        dim: number of features d >= 1.
        noise_std: label noise $\\sigma > 0$ (the same for synthetic and fresh real labels).
        ridge: ridge penalty $\\lambda \\ge 0$ on the mean squared error:
            $w = \\arg\\min \\frac1N\\lVert y - Xw\\rVert^2 + \\lambda\\lVert w\\rVert^2$, i.e.
            $(X^\\top X + N\\lambda I)^{-1} X^\\top y$ with N the pooled count.
        estimator: ``"ols"`` (needs ``ridge == 0`` and ``num_samples >= dim + 2``) or
            ``"ridge"`` (needs ``ridge > 0``).
    """

    dim: int = eqx.field(static=True)
    noise_std: float = eqx.field(static=True)
    ridge: float = eqx.field(static=True)
    estimator: str = eqx.field(static=True)

    def __init__(self, dim: int = 1, noise_std: float = 1.0, ridge: float = 0.0,
                 estimator: str = "ols"):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
        noise = _real("noise_std", noise_std, 0.0, strict=True)
        lam = _real("ridge", ridge, 0.0)
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
        if estimator == "ols" and lam != 0.0:
            raise ValueError(f"ridge must be 0 for estimator='ols', got {ridge!r}")
        if estimator == "ridge" and lam <= 0.0:
            raise ValueError(f"ridge must be > 0 for estimator='ridge', got {ridge!r}")
        self.dim = int(dim)
        self.noise_std = noise
        self.ridge = lam
        self.estimator = estimator

    @property
    def name(self) -> str:
        return "linear_regression"

    def describe(self) -> dict:
        return {"family": self.name, "dim": self.dim, "noise_std": self.noise_std,
                "ridge": self.ridge, "estimator": self.estimator}

    # ------------------------------------------------------------------------------ source
    @key_first
    def source(self, weights, input_cov=None) -> RegressionParams:
        """Generation-0 parameters: true weights $w^*$ and the input covariance $\\Sigma$.

        Args:
            weights: ``[dim]`` true weights (a scalar is broadcast).
            input_cov: ``None`` (identity), a positive scalar ($c I$) or a ``[dim, dim]``
                symmetric positive definite matrix.

        Raises:
            ValueError: naming ``weights`` (wrong shape, NaN or inf) or ``input_cov`` (wrong
                shape, not finite, not symmetric, not positive definite).
        """
        d = self.dim
        w = mean_vector("weights", weights, d)
        cov, chol = covariance_matrix("input_cov", 1.0 if input_cov is None else input_cov, d)
        inv_t = np.linalg.inv(chol).T
        dt = _float_dtype()
        return RegressionParams(
            weights=jnp.asarray(chol.T @ w, dt),
            residual=jnp.asarray(self.noise_std**2, dt),
            true_weights=jnp.asarray(chol.T @ w, dt),
            inv_chol_t=jnp.asarray(inv_t, dt),
            penalty=jnp.asarray(inv_t.T @ inv_t, dt),
        )

    def check_source(self, source) -> RegressionParams:
        if not isinstance(source, RegressionParams):
            raise ValueError(
                f"source must come from LinearRegression.source(weights, input_cov), got "
                f"{type(source).__name__}")
        if source.weights.shape != (self.dim,):
            raise ValueError(f"source has dim {source.weights.shape[0]}, family has dim "
                             f"{self.dim}")
        return source

    def validate_num_samples(self, num_samples) -> None:
        n = np.asarray(num_samples)
        lo = self.dim + 2 if self.estimator == "ols" else 1
        if np.any(n < lo):
            what = f"n >= dim + 2 = {lo} for OLS" if self.estimator == "ols" else "n >= 1"
            raise ValueError(f"num_samples must satisfy {what}, got min {int(n.min())}")

    def absolute_weights(self, params: RegressionParams) -> jax.Array:
        """Absolute weights $w_t$; broadcasts over leading chain axes."""
        return jnp.einsum("...ij,...j->...i", params.inv_chol_t, params.weights)

    # ------------------------------------------------------------------------------ sampling
    def sample(self, key, params: RegressionParams, num_samples: int):
        """``(x [n, d], y [n])`` in absolute coordinates (the draws ``sample_stats`` makes)."""
        z, y = self._draw(key, params, num_samples)
        chol = jnp.linalg.inv(params.inv_chol_t).T
        return z @ chol.T, y

    def _draw(self, key, params, buffer_size):
        dt = params.weights.dtype
        u = normals(uniforms(key, buffer_size, (self.dim + 1,), dt))
        z, eps = u[:, : self.dim], u[:, self.dim]
        y = dsum(z * params.weights[None, :], 1) + self.noise_std * eps
        return z, y

    def sample_stats(self, key, params, buffer_size, num_samples=None) -> RegressionStats:
        """Literal draws; memory O(buffer_size * d^2) per chain (batch-invariant sums)."""
        dt = params.weights.dtype
        z, y = self._draw(key, params, buffer_size)
        if num_samples is None:
            count = jnp.asarray(buffer_size, dt)
        else:
            count = jnp.asarray(num_samples, dt)
            keep = jnp.arange(buffer_size) < num_samples
            z = jnp.where(keep[:, None], z, 0)
            y = jnp.where(keep, y, 0)
        return RegressionStats(
            count=count,
            xtx=dsum(z[:, :, None] * z[:, None, :], 0),
            xty=dsum(z * y[:, None], 0),
            yy=dsum(y * y, 0),
        )

    def exact_stats(self, key, params, num_samples) -> RegressionStats:
        dt = params.weights.dtype
        d = self.dim
        count = jnp.asarray(num_samples, dt)
        key_chi, key_rest = jax.random.split(key)
        # Bartlett: Z^T Z = B B^T, B_ii^2 ~ chi^2_{n-i}, B_ij ~ N(0,1) below the diagonal; a
        # column without degrees of freedom is zero (n < d: singular, e.g. a small fresh batch).
        df = jnp.concatenate([count - jnp.arange(d, dtype=dt), jnp.maximum(count - d, 0)[None]])
        pos = df > 0
        log_chi = jnp.where(pos, log_chisquare_sample(key_chi, jnp.where(pos, df, 1), dt),
                            -jnp.inf)
        chi = jnp.exp(log_chi)
        u = normals(uniforms(key_rest, d + 1, (d,), dt))
        below = jnp.tril(u[:d], -1)
        b = jnp.where(pos[None, :d], below + jnp.diag(jnp.sqrt(chi[:d])), 0.0)
        g = jnp.where(pos[:d], u[d], 0.0)
        xtx = dmatmul(b, b.T)
        noise = self.noise_std * dmatmul(b, g)  # Z^T eps | Z^T Z ~ N(0, sigma^2 Z^T Z)
        v = params.weights
        signal = dmatmul(xtx, v)
        yy = (dsum(v * signal, 0) + 2 * dsum(v * noise, 0)
              + self.noise_std**2 * (dsum(g * g, 0) + chi[d]))
        return RegressionStats(count=count, xtx=xtx, xty=signal + noise, yy=yy)

    # ------------------------------------------------------------------------------ pooling
    def empty_stats(self, params) -> RegressionStats:
        dt = params.weights.dtype
        d = self.dim
        return RegressionStats(count=jnp.zeros((), dt), xtx=jnp.zeros((d, d), dt),
                               xty=jnp.zeros((d,), dt), yy=jnp.zeros((), dt))

    def merge(self, a: RegressionStats, b: RegressionStats) -> RegressionStats:
        return jax.tree_util.tree_map(jnp.add, a, b)

    def estimate(self, key, stats: RegressionStats, params: RegressionParams
                 ) -> RegressionParams:
        del key  # closed-form fit
        a = stats.xtx
        if self.ridge > 0:
            a = a + (self.ridge * stats.count) * params.penalty
        v = _chol_solve(_cholesky(a), stats.xty)
        rss = stats.yy - 2 * dsum(v * stats.xty, 0) + dsum(v * dmatmul(stats.xtx, v), 0)
        residual = jnp.maximum(rss, 0.0) / jnp.maximum(stats.count, 1)
        return eqx.tree_at(lambda p: (p.weights, p.residual), params, (v, residual))

    # ------------------------------------------------------------------------------ observing
    def observe(self, params: RegressionParams, source: RegressionParams) -> dict:
        """``test_error`` ($\\lVert w_t - w^*\\rVert_\\Sigma^2$, the excess risk),
        ``weight_norm`` ($\\lVert w_t\\rVert$), ``weight_drift2`` ($\\lVert w_t -
        w^*\\rVert^2$, Euclidean), ``train_residual`` (RSS / n of the fit that made $w_t$ on its
        own training set; $\\sigma^2$ at generation 0, the source's population residual)."""
        del source  # the truth is carried in params
        du = params.weights - params.true_weights
        w = dmatmul(params.inv_chol_t, params.weights)
        dw = dmatmul(params.inv_chol_t, du)
        return {
            "test_error": dsum(du * du, 0),
            "weight_norm": jnp.sqrt(dsum(w * w, 0)),
            "weight_drift2": dsum(dw * dw, 0),
            "train_residual": params.residual,
        }

    # ------------------------------------------------------------------------------ theory
    def predictions(self, config, overrides: dict | None = None) -> list[Prediction]:
        from ._regression_predictions import regression_predictions

        return regression_predictions(self, config, overrides or {})

r"""Gaussian family: fit a mean and a covariance, sample, refit.

Precision design (DESIGN.md section 8): drawing ``mu + sigma * z`` and refitting loses sigma once
sigma/|mu| falls below float eps. Parameters are therefore carried in the source's standardised
frame as ``(mean, log_scale, shape)`` with covariance $e^{2\,\mathrm{log\_scale}} K K^\top$ and
$\det K = 1$; samples are drawn and summarised in the model's own standardised frame (z), and the
carry is updated from z's statistics. The law is then exact for any number of generations, and
``log_variance`` never freezes or underflows.

Sufficient statistics ``(count, mean, log_scale, shape)`` hold the sum of squares as
$M_2 = e^{2\,\mathrm{log\_scale}} F F^\top$ with F a lower-triangular factor of Frobenius norm
$\sqrt d$, so merging pools (accumulate, fresh data; Chan et al. pairwise update) is done on the
log scale and through a QR factorisation, never by forming and re-factoring $M_2$.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import ndtr, ndtri

from .._batch_invariant import dmatmul, dsum, dtrace
from .._random import (
    log_chisquare_sample,
    normal_and_log_chisquare,
    normals,
    uniforms,
)
from .._validate import covariance_matrix, mean_vector
from ..family import AbstractFamily, key_first
from ..prediction import Prediction
from ._gaussian_predictions import gaussian_predictions

ESTIMATORS = {"mle": 0, "unbiased": 1}


class GaussianParams(eqx.Module):
    """A Gaussian model in the source's standardised frame (the scan carry).

    Absolute mean $= \\mu_0 + L_0\\,\\mathrm{mean}$, absolute covariance
    $= L_0 (e^{2\\,\\mathrm{log\\_scale}} K K^\\top) L_0^\\top$ with $L_0$ = ``frame_chol``.
    """

    mean: jax.Array  # [d]
    log_scale: jax.Array  # []
    shape: jax.Array  # [d, d] lower triangular, det 1
    frame_mean: jax.Array  # [d] source mean (constant)
    frame_chol: jax.Array  # [d, d] Cholesky factor of the source covariance (constant)


class GaussianStats(eqx.Module):
    r"""Statistics of a data set: count, mean (source frame), and the scatter matrix
    $M_2 = e^{2a} F F^\top$ with F lower triangular and $\lVert F\rVert_F^2 = d$."""

    count: jax.Array
    mean: jax.Array
    log_scale: jax.Array
    shape: jax.Array


def _trace_sqrt_psd(a):
    r"""$\mathrm{tr}\,A^{1/2}$ of a symmetric PSD matrix.

    For d <= 3 only arithmetic and square roots are used (closed forms for d <= 2, a Newton
    iteration on the symmetric functions of the eigenvalues for d = 3), so the result is
    bit-identical under any batch size or device layout; larger d falls back to ``eigvalsh``.
    """
    d = a.shape[-1]
    if d == 1:
        return jnp.sqrt(jnp.clip(a[0, 0], 0))
    if d == 2:
        det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
        return jnp.sqrt(jnp.clip(a[0, 0] + a[1, 1] + 2 * jnp.sqrt(jnp.clip(det, 0)), 0))
    if d == 3:
        # With e1, e2, e3 the elementary symmetric functions of the eigenvalues and
        # s = sum_i sqrt(lambda_i), r = sqrt(e3): s^2 = e1 + 2 sqrt(e2 + 2 r s). Newton's method
        # on this convex equation, started above the root (s^2 <= 3 e1), converges monotonically.
        e1 = a[0, 0] + a[1, 1] + a[2, 2]
        e2 = (
            a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
            + a[0, 0] * a[2, 2] - a[0, 2] * a[2, 0]
            + a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1]
        )
        e3 = (
            a[0, 0] * (a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1])
            - a[0, 1] * (a[1, 0] * a[2, 2] - a[1, 2] * a[2, 0])
            + a[0, 2] * (a[1, 0] * a[2, 1] - a[1, 1] * a[2, 0])
        )
        e1, e2, r = jnp.clip(e1, 0), jnp.clip(e2, 0), jnp.sqrt(jnp.clip(e3, 0))

        def newton(_, s):
            root = jnp.sqrt(e2 + 2 * r * s)
            f = s * s - e1 - 2 * root
            df = 2 * s - 2 * r / jnp.where(root > 0, root, 1.0)
            return jnp.where(df > 0, s - f / jnp.where(df > 0, df, 1.0), s)

        return jax.lax.fori_loop(0, 40, newton, jnp.sqrt(3 * e1))
    return dsum(jnp.sqrt(jnp.clip(jnp.linalg.eigvalsh(a), 0)), 0)


def _float_dtype():
    return jnp.result_type(float)


def _ncdf(x):
    """Standard normal CDF as ``erfc(-x / sqrt 2) / 2``: one erfc instead of ``ndtr``'s erf and
    erfc pair, with the same accuracy (relative in the lower tail, absolute near 1)."""
    return 0.5 * lax.erfc(-x * (1.0 / math.sqrt(2.0)))


class Gaussian(AbstractFamily):
    """Gaussian model family (1-D or multivariate).

    Args:
        dim: dimension d >= 1.
        estimator: ``"mle"`` (divide the sum of squares by n) or ``"unbiased"`` (by n - 1).
        temperature: sampling bias $\\lambda > 0$: samples are drawn from
            $N(\\mu_t, \\lambda\\Sigma_t)$ (catalogue G12; 1 = unbiased sampling).
    """

    dim: int = eqx.field(static=True)
    estimator: str = eqx.field(static=True)
    temperature: float = eqx.field(static=True)

    def __init__(self, dim: int = 1, estimator: str = "mle", temperature: float = 1.0):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {estimator!r}")
        t = temperature
        if isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer)):
            raise ValueError(f"temperature must be a positive number, got {t!r}")
        if not math.isfinite(float(t)) or float(t) <= 0:
            raise ValueError(f"temperature must be finite and > 0, got {t!r}")
        self.dim = int(dim)
        self.estimator = estimator
        self.temperature = float(temperature)

    @property
    def name(self) -> str:
        return "gaussian"

    def without_bias(self) -> Gaussian:
        """The same family with unbiased sampling (used for fresh real data)."""
        return Gaussian(self.dim, self.estimator, 1.0)

    @property
    def offset(self) -> int:
        return ESTIMATORS[self.estimator]

    def describe(self) -> dict:
        return {
            "family": self.name,
            "dim": self.dim,
            "estimator": self.estimator,
            "temperature": self.temperature,
        }

    # ------------------------------------------------------------------------------ source
    @key_first
    def source(self, mean=0.0, cov=1.0) -> GaussianParams:
        """Generation-0 parameters from an absolute mean and covariance (variance if dim = 1).

        Raises:
            ValueError: naming ``mean`` or ``cov`` if shapes mismatch ``dim``, values are not
                finite, or the covariance is not positive definite.
        """
        d = self.dim
        mean_np = mean_vector("mean", mean, d)
        cov_np, chol = covariance_matrix("cov", cov, d)
        dt = _float_dtype()
        return GaussianParams(
            mean=jnp.zeros(d, dt),
            log_scale=jnp.zeros((), dt),
            shape=jnp.eye(d, dtype=dt),
            frame_mean=jnp.asarray(mean_np, dt),
            frame_chol=jnp.asarray(chol, dt),
        )

    def check_source(self, source) -> GaussianParams:
        if not isinstance(source, GaussianParams):
            raise ValueError(f"source must come from Gaussian.source(mean, cov), got {source!r}")
        if source.mean.shape != (self.dim,):
            raise ValueError(f"source has dim {source.mean.shape[0]}, family has dim {self.dim}")
        return source

    def validate_num_samples(self, num_samples) -> None:
        n = np.asarray(num_samples)
        lo = 2 if self.dim == 1 else self.dim + 1
        if np.any(n < lo):
            what = "n >= 2" if self.dim == 1 else f"n > dim = {self.dim}"
            raise ValueError(f"num_samples must satisfy {what}, got min {int(n.min())}")

    def source_args(self, source: GaussianParams) -> dict:
        mean, cov = self.absolute(source)
        return {
            "mean": np.asarray(mean, np.float64).tolist(),
            "cov": np.asarray(cov, np.float64).tolist(),
        }

    def absolute(self, params: GaussianParams) -> tuple[jax.Array, jax.Array]:
        """Absolute (mean, covariance) of a model; broadcasts over leading chain axes."""
        lk = params.frame_chol @ params.shape
        scale2 = jnp.exp(2 * params.log_scale)[..., None, None]
        cov = scale2 * (lk @ jnp.swapaxes(lk, -1, -2))
        mean = params.frame_mean + jnp.einsum("...ij,...j->...i", params.frame_chol, params.mean)
        return mean, cov

    # ------------------------------------------------------------------------------ sampling
    def _log_scale_sampling(self, params):
        return params.log_scale + 0.5 * jnp.log(jnp.asarray(self.temperature, params.mean.dtype))

    def sample(self, key, params: GaussianParams, num_samples: int) -> jax.Array:
        """Absolute samples, shape ``[num_samples, dim]`` (the draws ``sample_stats`` makes)."""
        z = normals(uniforms(key, num_samples, (self.dim,), params.mean.dtype))
        rel = params.mean + jnp.exp(self._log_scale_sampling(params)) * (z @ params.shape.T)
        return params.frame_mean + rel @ params.frame_chol.T

    def _stats_from_z(self, params, count, zbar, m2z) -> GaussianStats:
        """Statistics of samples given their standardised mean and scatter (matrix or log)."""
        ls = self._log_scale_sampling(params)
        mean = params.mean + jnp.exp(ls) * dmatmul(params.shape, zbar)
        if self.dim == 1:
            # m2z is log(M2) of z here: stay on the log scale.
            return GaussianStats(
                count=count, mean=mean, log_scale=ls + 0.5 * m2z, shape=jnp.ones((1, 1), mean.dtype)
            )
        # m2z is a lower-triangular factor of z's scatter; K @ m2z is one of M2's (no squaring
        # of condition numbers, so strongly anisotropic chains stay finite).
        factor, log_norm = self._normalise_factor(dmatmul(params.shape, m2z))
        return GaussianStats(count=count, mean=mean, log_scale=ls + log_norm, shape=factor)

    def _normalise_factor(self, factor):
        """Scale a factor F to Frobenius norm sqrt(d); return (F', log of the removed scale)."""
        fro2 = dsum(dsum(factor * factor, 1), 0)
        ok = fro2 > 0
        safe = jnp.where(ok, fro2, 1.0)
        out = jnp.where(ok, factor * jnp.sqrt(self.dim / safe), jnp.eye(self.dim, dtype=factor.dtype))
        return out, 0.5 * jnp.where(ok, jnp.log(safe / self.dim), -jnp.inf)

    def sample_stats(self, key, params, buffer_size, num_samples=None) -> GaussianStats:
        dt = params.mean.dtype
        if self.dim == 1:
            # A flat [n] draw vectorises better than [n, 1]. One pass over the draws: sums of
            # y = z - z_0 (shifted by the first draw) and of y^2, then M2 = S2 - S1^2 / n. The
            # shift bounds the cancellation: n (ybar)^2 <= (n - 1) M2, so S2 <= n M2 and the
            # relative error of M2 is at most ~n ulp (typically ~2). A second pass over z
            # (z - zbar) cost about 1.6x more, as XLA recomputes or re-reads the draws.
            z = normals(uniforms(key, buffer_size, (), dt))
            return self._stats_from_draws_1d(params, z, buffer_size, num_samples, dt)
        z = normals(uniforms(key, buffer_size, (self.dim,), dt))
        if num_samples is None:
            count = jnp.asarray(buffer_size, dt)
            zbar = dsum(z, 0) / buffer_size
            dev = z - zbar
        else:
            count = jnp.asarray(num_samples, dt)
            mask = (jnp.arange(buffer_size) < num_samples)[:, None]
            zbar = dsum(jnp.where(mask, z, 0), 0) / jnp.maximum(count, 1)
            dev = jnp.where(mask, z - zbar, 0)
        # dev = Q R gives scatter = R^T R: a lower factor even when the scatter is singular
        # (fewer samples than dimensions, e.g. a small fresh batch).
        r = jnp.linalg.qr(dev, mode="r")[: self.dim]
        if r.shape[0] < self.dim:
            r = jnp.concatenate([r, jnp.zeros((self.dim - r.shape[0], self.dim), dt)], axis=0)
        sign = jnp.where(jnp.diag(r) < 0, -1.0, 1.0)
        return self._stats_from_z(params, count, zbar, (r * sign[:, None]).T)

    def exact_stats(self, key, params, num_samples) -> GaussianStats:
        dt = params.mean.dtype
        d = self.dim
        count = jnp.asarray(num_samples, dt)
        if d == 1:
            # The exact path is PRNG-bound: the normal and the chi-square come from three
            # Threefry blocks of the key (_random.normal_and_log_chisquare).
            df = count - 1
            pos = df > 0
            z, log_chi = normal_and_log_chisquare(key, jnp.where(pos, df, 1), dt,
                                                  anchor=num_samples)
            zbar = z[None] / jnp.sqrt(jnp.maximum(count, 1))
            log_chi = jnp.where(pos, log_chi, -jnp.inf)
            return self._stats_from_z(params, count, zbar, log_chi)
        key_mean, key_chi, key_off = jax.random.split(key, 3)
        zbar = jax.random.normal(key_mean, (d,), dt) / jnp.sqrt(jnp.maximum(count, 1))
        # Bartlett: M2 of n standard normals ~ Wishart(n - 1, I) = B B^T with
        # B_ii^2 ~ chi^2_{n-1-i}, B_ij ~ N(0, 1) below the diagonal.
        df = count - 1 - jnp.arange(d, dtype=dt)
        pos = df > 0
        log_chi = jnp.where(pos, log_chisquare_sample(key_chi, jnp.where(pos, df, 1), dt), -jnp.inf)
        below = jnp.tril(jax.random.normal(key_off, (d, d), dt), -1)
        # A column whose chi-square has no degrees of freedom is zero (singular Wishart).
        b = jnp.where(pos[None, :], below + jnp.diag(jnp.exp(0.5 * log_chi)), 0.0)
        return self._stats_from_z(params, count, zbar, b)

    # ------------------------------------------------------------------------------ point buffers
    has_points = True

    def sample_points(self, key, params, num_samples) -> jax.Array:
        """``[num_samples, dim]`` draws in the source's standardised frame (the frame of the
        carry; ``sample`` maps them to absolute values). Used by buffer policies."""
        z = normals(uniforms(key, num_samples, (self.dim,), params.mean.dtype))
        return params.mean + jnp.exp(self._log_scale_sampling(params)) * (z @ params.shape.T)

    def points_stats(self, points, mask) -> GaussianStats:
        """Statistics of the masked points of ``sample_points`` (standardised frame)."""
        dt = points.dtype
        w = mask.astype(dt)[:, None]
        count = dsum(mask.astype(dt), 0)
        mean = dsum(points * w, 0) / jnp.maximum(count, 1)
        dev = (points - mean) * w
        if self.dim == 1:
            ss = dsum(dev[:, 0] * dev[:, 0], 0)
            log_scale = jnp.where(ss > 0, 0.5 * jnp.log(jnp.where(ss > 0, ss, 1.0)), -jnp.inf)
            return GaussianStats(count=count, mean=mean, log_scale=log_scale,
                                 shape=jnp.ones((1, 1), dt))
        r = jnp.linalg.qr(dev, mode="r")[: self.dim]
        if r.shape[0] < self.dim:
            r = jnp.concatenate([r, jnp.zeros((self.dim - r.shape[0], self.dim), dt)], axis=0)
        sign = jnp.where(jnp.diag(r) < 0, -1.0, 1.0)
        factor, log_norm = self._normalise_factor((r * sign[:, None]).T)
        return GaussianStats(count=count, mean=mean, log_scale=log_norm, shape=factor)

    def truncated_stats(self, key, params, c, buffer_size, num_samples=None) -> GaussianStats:
        """Statistics of draws from the model (at its temperature) truncated to the band
        ``|x| <= c`` of the source's standardised frame (dim 1; :class:`VerifiedBand`).

        Inverse CDF in the model's own standardised frame z, summarised there like
        ``sample_stats`` (so the carry keeps its precision at any scale).
        """
        dt = params.mean.dtype
        m = params.mean[0]
        s = jnp.exp(self._log_scale_sampling(params))
        a = (-c - m) / s
        b = (c - m) / s
        u = uniforms(key, buffer_size, (), dt)
        lo, hi = _ncdf(a), _ncdf(b)  # Phi(a), Phi(b)
        qlo, qhi = _ncdf(-b), _ncdf(-a)  # 1 - Phi(b), 1 - Phi(a)
        p = lo + u * (hi - lo)
        q = qlo + (1 - u) * (qhi - qlo)  # 1 - p, accurate in the upper tail
        z = jnp.where(p <= 0.5, ndtri(jnp.minimum(p, 0.5)), -ndtri(jnp.minimum(q, 0.5)))
        z = jnp.clip(jnp.where(jnp.isnan(z), a, z), a, b)
        return self._stats_from_draws_1d(params, z, buffer_size, num_samples, dt)

    def smooth_verified_params(self, params, c) -> GaussianParams:
        r"""The kept law of :class:`~collapse_lab.VerifiedSmooth` as parameters to sample
        **without** temperature (dim 1): the model's sampling law $N(m, v)$ ($v$ includes the
        temperature) times the acceptance $e^{-x^2/(2c^2)}$ (source-standardised frame) is
        $N(m', v')$ with $1/v' = 1/v + 1/c^2$, $m' = m v'/v$ (theory/gaussian.md#p9). Computed
        on the log scale: $\log v' = \log v - \log(1 + v/c^2)$."""
        ls = self._log_scale_sampling(params)
        shrink = jnp.log1p(jnp.exp(2 * ls) / (c * c))  # log(v / v')
        return eqx.tree_at(lambda p: (p.mean, p.log_scale), params,
                           (params.mean * jnp.exp(-shrink), ls - 0.5 * shrink))

    def best_of_k_stats(self, key, params, k, sign, buffer_size, num_samples=None):
        r"""Statistics of draws that are each the best of ``k`` model draws (at its temperature)
        by the reward ``sign * x`` (dim 1; :class:`~collapse_lab.CuratedLinear`).

        In the model's standardised frame a kept draw is ``sign * M``, M the maximum of k
        standard normals, drawn by inversion: $\Phi(M) = U^{1/k}$, so
        $M = -\Phi^{-1}(-\mathrm{expm1}(\log U / k))$ (accurate in the upper tail)."""
        dt = params.mean.dtype
        u = uniforms(key, buffer_size, (), dt)
        z = -ndtri(-jnp.expm1(jnp.log(u) / k))
        return self._stats_from_draws_1d(params, sign * z, buffer_size, num_samples, dt)

    def _stats_from_draws_1d(self, params, z, buffer_size, num_samples, dt) -> GaussianStats:
        """Statistics of the first ``num_samples`` standardised 1-D draws ``z`` (all if None)."""
        y = z - z[0]
        if num_samples is None:
            count = jnp.asarray(buffer_size, dt)
        else:
            count = jnp.asarray(num_samples, dt)
            y = jnp.where(jnp.arange(buffer_size) < num_samples, y, 0)
        sums = dsum(jnp.stack([y, y * y]), 1)
        safe_count = jnp.maximum(count, 1)
        zbar = jnp.where(count > 0, z[0] + sums[0] / safe_count, 0)
        ss = jnp.maximum(sums[1] - sums[0] * (sums[0] / safe_count), 0)
        log_m2 = jnp.where(ss > 0, jnp.log(jnp.where(ss > 0, ss, 1.0)), -jnp.inf)
        return self._stats_from_z(params, count, zbar[None], log_m2)

    # ------------------------------------------------------------------------------ pooling
    def empty_stats(self, params) -> GaussianStats:
        dt = params.mean.dtype
        return GaussianStats(
            count=jnp.zeros((), dt),
            mean=jnp.zeros(self.dim, dt),
            log_scale=jnp.asarray(-jnp.inf, dt),
            shape=jnp.eye(self.dim, dtype=dt),
        )

    def merge(self, a: GaussianStats, b: GaussianStats) -> GaussianStats:
        count = a.count + b.count
        safe = jnp.maximum(count, 1)
        delta = b.mean - a.mean
        mean = a.mean + delta * (b.count / safe)
        norm2 = dsum(delta * delta, 0)
        weight = a.count * b.count / safe
        cross_ok = (norm2 > 0) & (weight > 0)
        log_cross = jnp.where(
            cross_ok, 0.5 * jnp.log(jnp.where(cross_ok, weight * norm2 / self.dim, 1.0)), -jnp.inf
        )
        # M2 = e^{2a} Sa + e^{2b} Sb + w delta delta^T, all on the log scale.
        top = jnp.maximum(jnp.maximum(a.log_scale, b.log_scale), log_cross)
        top = jnp.where(jnp.isfinite(top), top, 0.0)
        wa = jnp.exp(2 * (a.log_scale - top))
        wb = jnp.exp(2 * (b.log_scale - top))
        wc = jnp.exp(2 * (log_cross - top))
        if self.dim == 1:
            total = wa + wb + wc
            ok = total > 0
            log_scale = top + 0.5 * jnp.where(ok, jnp.log(jnp.where(ok, total, 1.0)), -jnp.inf)
            return GaussianStats(count=count, mean=mean, log_scale=log_scale, shape=a.shape)
        u = jnp.where(norm2 > 0, delta / jnp.sqrt(jnp.where(norm2 > 0, norm2, 1.0)), 0.0)
        # M2 = G G^T with G = [sqrt(wa) Fa, sqrt(wb) Fb, sqrt(wc d) u]; its lower factor is R^T
        # from the QR decomposition of G^T (stable: never forms M2 itself).
        g = jnp.concatenate(
            [jnp.sqrt(wa) * a.shape, jnp.sqrt(wb) * b.shape,
             jnp.sqrt(wc * self.dim) * u[:, None]], axis=1
        )
        r = jnp.linalg.qr(g.T, mode="r")
        sign = jnp.where(jnp.diag(r) < 0, -1.0, 1.0)
        factor, log_norm = self._normalise_factor((r * sign[:, None]).T)
        return GaussianStats(count=count, mean=mean, log_scale=top + log_norm, shape=factor)

    def estimate(self, key, stats: GaussianStats, params: GaussianParams) -> GaussianParams:
        del key  # closed-form fit
        log_den = 0.5 * jnp.log(stats.count - self.offset)
        if self.dim == 1:
            return eqx.tree_at(
                lambda p: (p.mean, p.log_scale), params, (stats.mean, stats.log_scale - log_den)
            )
        chol = stats.shape  # already a lower-triangular factor of M2
        g = dsum(jnp.log(jnp.diag(chol)), 0) / self.dim
        return eqx.tree_at(
            lambda p: (p.mean, p.log_scale, p.shape),
            params,
            (stats.mean, stats.log_scale + g - log_den, chol * jnp.exp(-g)),
        )

    # ------------------------------------------------------------------------------ observing
    def observe(self, params: GaussianParams, source: GaussianParams) -> dict:
        """Observables of one model against the source.

        ``mean`` (absolute; a vector if dim > 1), ``variance`` (trace if dim > 1, may underflow
        to 0), ``log_variance`` (log of it, never underflows), ``log_det`` (dim > 1),
        ``mean_drift2`` ($\\lVert\\mu_t-\\mu_0\\rVert^2$), ``w2_squared`` (squared 2-Wasserstein
        distance to the source), ``tail_mass_3sigma`` / ``tail_mass_5sigma`` (model probability
        beyond the source's 3 / 5 sigma; for dim > 1 the average over coordinates of the
        marginal two-sided tail).
        """
        del source  # the frame is carried in params
        l0 = params.frame_chol
        drift = dmatmul(l0, params.mean)
        mean_abs = params.frame_mean + drift
        drift2 = dsum(drift * drift, 0)
        out = {}
        if self.dim == 1:
            s0 = l0[0, 0]
            log_var = 2 * params.log_scale + 2 * jnp.log(s0)
            sigma_rel = jnp.exp(params.log_scale)
            m = params.mean[0]
            out["mean"] = mean_abs[0]
            out["variance"] = jnp.exp(log_var)
            out["log_variance"] = log_var
            out["mean_drift2"] = drift2
            out["w2_squared"] = s0 * s0 * (m * m + (sigma_rel - 1) ** 2)
            for k in (3, 5):
                out[f"tail_mass_{k}sigma"] = _ncdf((m - k) / sigma_rel) + _ncdf((-k - m) / sigma_rel)
            return out
        lk = dmatmul(l0, params.shape)
        fro = dsum(dsum(lk * lk, 1), 0)
        log_var = 2 * params.log_scale + jnp.log(fro)
        cov = jnp.exp(2 * params.log_scale) * dmatmul(lk, lk.T)
        cov0 = dmatmul(l0, l0.T)
        # tr (C0^{1/2} C C0^{1/2})^{1/2} = tr (M^T M)^{1/2} with M = L0^T Lc.
        lc = lk * jnp.exp(params.log_scale)
        m = dmatmul(l0.T, lc)
        root_sum = _trace_sqrt_psd(dmatmul(m.T, m))
        w2 = drift2 + jnp.exp(log_var) + dtrace(cov0) - 2 * root_sum
        out["mean"] = mean_abs
        out["variance"] = jnp.exp(log_var)
        out["log_variance"] = log_var
        out["log_det"] = (
            2 * self.dim * params.log_scale
            + 2 * dsum(jnp.log(jnp.diag(l0)), 0)
            + 2 * dsum(jnp.log(jnp.abs(jnp.diag(params.shape))), 0)
        )
        out["mean_drift2"] = drift2
        out["w2_squared"] = jnp.maximum(w2, 0.0)
        sd0 = jnp.sqrt(jnp.diag(cov0))
        sd = jnp.sqrt(jnp.diag(cov))
        for k in (3, 5):
            upper = ndtr((drift - k * sd0) / sd)
            lower = ndtr((-k * sd0 - drift) / sd)
            out[f"tail_mass_{k}sigma"] = dsum(upper + lower, 0) / self.dim
        return out

    # ------------------------------------------------------------------------------ theory
    def predictions(self, config, overrides: dict | None = None) -> list[Prediction]:
        return gaussian_predictions(self, config, overrides or {})

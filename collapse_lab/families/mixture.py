r"""Gaussian mixtures refit each generation, by EM or with oracle assignments.

Parameters (the scan carry, :class:`MixtureParams`): weights $w$ [K], a live mask [K], means
[K, d] and each covariance as $\Sigma_k = e^{2 a_k} F_k F_k^\top$ with a log-scale $a_k$ and a
factor $F_k$ normalised to $\lVert F_k\rVert_F^2 = d$ (so $\mathrm{tr}\,\Sigma_k = d\,e^{2a_k}$).
As in the Gaussian family, carrying the scale on the log axis means a collapsing component never
underflows to a zero covariance by rounding (DESIGN.md section 8).

Samples: each point's component is drawn by inverting one uniform against the cumulative
weights (summed in a fixed order), then $x = \mu_k + e^{a_k} F_k z$ with $z \sim N(0, I)$.

Two fitting designs:

* ``oracle_assignments=True`` -- every component is refit on the samples it generated (the
  exactly solvable design of theory/mixture.md). Samples are drawn and summarised in each
  component's own standardised frame, so the law is exact for any number of generations. The
  statistics are per-component Gaussian sufficient statistics plus counts, mergeable, so
  Replace, Accumulate and Fresh all run in O(1) memory, and ``method="exact"`` draws them without
  materialising samples: counts ~ Multinomial(n, w) (sequential binomials), then per component a
  mean ~ N(0, I/N) and a Bartlett-decomposed Wishart(N - 1, I) scatter. The fit is the honest
  MLE: a component fit on one point is a point mass (variance exactly 0), one fit on no point is
  dead (weight 0, previous parameters kept, ``alive`` False).
* ``oracle_assignments=False`` -- EM on the sampled points: a fixed number of EM steps in a
  ``lax.scan`` with log-space responsibilities, warm-started from the previous generation (or
  re-initialised from the data each generation with ``reinit=True``). The steps are part of the
  estimator: with overlapping components EM is still moving after 10 steps, so the fit is not the
  EM fixed point (theory/mixture.md#em). Each step's sums run over blocks of 256 points, so that
  a block stays in cache (benchmarks/results/profile_em.md). The statistics are the data
  buffer itself (points [B, d] and a 0/1 weight per point); Fresh concatenates buffers, and
  Accumulate is rejected (its buffer would grow without bound). A component whose soft count
  falls below ``min_count`` dies: weight exactly 0, previous mean and covariance kept, never used
  again. Every M-step adds ``covariance_floor`` times the fit's own mean per-axis variance, plus
  an absolute ``MIN_VARIANCE_RATIO`` times the source's, to the diagonal, so EM covariances are
  always positive definite; every division and logarithm is guarded, so no NaN appears even after
  components die. (A fixed absolute floor, like scikit-learn's ``reg_covar``, would stop the
  collapse once the variances reach it; the relative floor does not.)
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from .._batch_invariant import dsum, dsum_last
from .._random import log_chisquare_sample
from ..family import AbstractFamily, key_first
from ._mixture_predictions import mixture_predictions

ESTIMATORS = {"mle": 0, "unbiased": 1}
COVARIANCES = ("full", "diag")
HELDOUT_SEED = 20240607  # the fixed held-out set of source draws (same for every chain)
# EM's absolute covariance floor, relative to the source's mean per-axis component variance: a
# component fit on one point becomes (almost) a point mass, as in the oracle design.
MIN_VARIANCE_RATIO = 1e-12


class MixtureParams(eqx.Module):
    """A Gaussian mixture (the scan carry). Covariance k is ``exp(2 log_scale[k]) F F^T``.

    Attributes:
        weights: mixing weights [K] (exactly 0 for dead components).
        alive: live-component mask [K] (bool).
        means: component means [K, d] (absolute coordinates).
        log_scale: half the log of the mean per-axis variance, [K]; ``-inf`` for a point mass.
        shape: covariance factors F [K, d, d] with squared Frobenius norm d.
        floor: absolute covariance floor used by EM (a constant scalar, ``MIN_VARIANCE_RATIO``
            times the source's mean per-axis variance).
    """

    weights: jax.Array
    alive: jax.Array
    means: jax.Array
    log_scale: jax.Array
    shape: jax.Array
    floor: jax.Array


class MixtureComponentStats(eqx.Module):
    """Per-component Gaussian statistics (oracle design): count, mean and scatter
    $M_2 = e^{2\\,\\mathrm{log\\_scale}} G G^\\top$ with G lower triangular,
    $\\lVert G\\rVert_F^2 = d$ (G may be singular)."""

    count: jax.Array  # [K]
    mean: jax.Array  # [K, d]
    log_scale: jax.Array  # [K]
    factor: jax.Array  # [K, d, d]


class MixtureSampleBuffer(eqx.Module):
    """The data set itself (EM design): points [B, d] and a 0/1 weight per point [B]."""

    points: jax.Array
    mask: jax.Array


def _float_dtype():
    return jnp.result_type(float)


def _check_int(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _check_float(name, value, lo, lo_open=True):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    bad = (v <= lo) if lo_open else (v < lo)
    if not math.isfinite(v) or bad:
        rel = ">" if lo_open else ">="
        raise ValueError(f"{name} must be finite and {rel} {lo}, got {value!r}")
    return v


# ------------------------------------------------------------------------ plain math helpers
# Every float reduction below goes through the batch-invariant helpers of ``_batch_invariant`` and every
# small matrix routine (Cholesky, triangular solve) is unrolled into elementwise arithmetic: a
# chain's numbers then do not depend on how many chains run beside it or on the device layout
# (DESIGN.md section 3), and no LAPACK custom call runs inside the kernel. (Two batched LAPACK
# calls executing at once on this 2-core CPU were seen to deadlock XLA's intra-op thread pool.)
def _mm(a, b):
    """``a @ b`` over the last two axes with a fixed summation order."""
    return dsum(a[..., :, :, None] * b[..., None, :, :], axis=-2)


def _mv(a, v):
    """``a @ v`` (matrix times vector, last axes) with a fixed summation order."""
    return dsum(a * v[..., None, :], axis=-1)


def _t(a):
    return jnp.swapaxes(a, -1, -2)


def _trace(m):
    return dsum(jnp.diagonal(m, axis1=-2, axis2=-1), axis=-1)


def _normalised_factor(g, log_extra):
    """Split factors g [..., d, d] of M = g g^T into (log scale, factor with squared Frobenius
    norm d), i.e. M = e^{2 log_scale} G G^T with tr(G G^T) = d; g = 0 -> (-inf, I)."""
    d = g.shape[-1]
    fro2 = dsum(dsum(g * g, axis=-1), axis=-1)
    ok = fro2 > 0
    safe = jnp.where(ok, fro2, 1.0)
    eye = jnp.eye(d, dtype=g.dtype)
    factor = jnp.where(ok[..., None, None], g * jnp.sqrt(d / safe)[..., None, None], eye)
    log_scale = jnp.where(ok, log_extra + 0.5 * jnp.log(safe / d), -jnp.inf)
    return log_scale, factor


def _psd_tol(m):
    """Pivot tolerance of :func:`_cholesky` for a PSD matrix that may be singular: rounding
    residue of a zero pivot is about eps times the matrix's scale."""
    d = m.shape[-1]
    return 16 * d * jnp.finfo(m.dtype).eps * jnp.maximum(_trace(m) / d, 0.0)


def _cholesky(s, tol=0.0):
    """Lower-triangular F with F F^T = s for symmetric PSD s [..., d, d] (unrolled, no NaN).

    A pivot at or below ``tol`` is treated as zero and its column set to 0, which is the exact
    factor of a singular PSD matrix (the Schur complement of a zero pivot vanishes).
    """
    d = s.shape[-1]
    low = [[None] * d for _ in range(d)]
    for j in range(d):
        acc = s[..., j, j]
        for k in range(j):
            acc = acc - low[j][k] * low[j][k]
        ok = acc > tol
        root = jnp.sqrt(jnp.where(ok, acc, 1.0))
        low[j][j] = jnp.where(ok, root, 0.0)
        inv = jnp.where(ok, 1.0 / root, 0.0)
        for i in range(j + 1, d):
            acc = s[..., i, j]
            for k in range(j):
                acc = acc - low[i][k] * low[j][k]
            low[i][j] = acc * inv
    zero = jnp.zeros_like(s[..., 0, 0])
    rows = [jnp.stack([low[i][j] if j <= i else zero for j in range(d)], -1) for i in range(d)]
    return jnp.stack(rows, -2)


def _solve_lower(low, b):
    """y with low y = b for lower-triangular low [..., d, d] (nonzero diagonal), b [..., d]."""
    d = b.shape[-1]
    ys = []
    for i in range(d):
        acc = b[..., i]
        for k in range(i):
            acc = acc - low[..., i, k] * ys[k]
        ys.append(acc / low[..., i, i])
    return jnp.stack(ys, -1)


def _trace_sqrt_psd(m):
    r"""$\mathrm{tr}\,M^{1/2}$ for symmetric PSD m [..., d, d]: closed forms for d <= 2
    ($\sqrt{\lambda_1} + \sqrt{\lambda_2} = \sqrt{\mathrm{tr} M + 2\sqrt{\det M}}$); larger d
    uses ``eigvalsh`` (one LAPACK call, outside any other)."""
    d = m.shape[-1]
    if d == 1:
        return jnp.sqrt(jnp.clip(m[..., 0, 0], 0.0))
    if d == 2:
        det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
        return jnp.sqrt(jnp.clip(m[..., 0, 0] + m[..., 1, 1] + 2 * jnp.sqrt(jnp.clip(det, 0.0)),
                                 0.0))
    return dsum(jnp.sqrt(jnp.clip(jnp.linalg.eigvalsh(m), 0.0)), axis=-1)


def _logsumexp(x, axis=-1):
    """log sum exp over ``axis`` (batch-invariant); ``-inf`` when every entry is ``-inf``."""
    top = jnp.max(x, axis=axis, keepdims=True)
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    total = dsum(jnp.exp(x - top), axis=axis)
    pos = total > 0
    return jnp.where(pos, jnp.squeeze(top, axis) + jnp.log(jnp.where(pos, total, 1.0)), -jnp.inf)


def _log_pdf_components(points, means, log_scale, shape):
    """log N(x_b | mu_k, Sigma_k) for every point and component, [B, K].

    ``shape`` holds lower-triangular factors. Works on the normalised factor so that tiny scales
    neither underflow nor overflow; a point mass or a singular component (a zero on the factor's
    diagonal) gets ``-inf`` at every point.
    """
    d = means.shape[-1]
    diag = jnp.diagonal(shape, axis1=-2, axis2=-1)  # [K, d]
    finite = jnp.isfinite(log_scale)
    degenerate = jnp.any(diag <= 0, axis=-1) | ~finite
    safe_ls = jnp.where(finite, log_scale, 0.0)
    safe_shape = jnp.where(degenerate[:, None, None], jnp.eye(d, dtype=shape.dtype), shape)
    diff = points[:, None, :] - means[None, :, :]  # [B, K, d]
    y = _solve_lower(safe_shape[None], diff)
    maha = dsum(y * y, axis=-1) * jnp.exp(-2 * safe_ls)[None]
    safe_diag = jnp.where(degenerate[:, None], 1.0, jnp.abs(diag))
    log_det = 2 * d * safe_ls + 2 * dsum(jnp.log(safe_diag), axis=-1)
    logp = -0.5 * (maha + log_det[None] + d * jnp.log(2 * jnp.pi))
    return jnp.where(degenerate[None], -jnp.inf, logp)


def _covariances(params):
    scale2 = jnp.exp(2 * params.log_scale)[..., None, None]
    return scale2 * _mm(params.shape, _t(params.shape))


def _sequential_multinomial(key, n, weights):
    """Counts ~ Multinomial(n, weights) by conditional binomials (exact; K binomial draws).

    $N_k \\mid N_{<k} \\sim \\mathrm{Bin}(n - \\sum_{j<k} N_j, w_k / \\sum_{j \\ge k} w_j)$; the
    conditional probability is set to exactly 1 when no weight remains after k, so a dead
    component never receives a point through rounding.
    """
    k_total = weights.shape[0]
    tails = [weights[k_total - 1]]
    for k in range(k_total - 2, -1, -1):
        tails.append(weights[k] + tails[-1])
    tail = jnp.stack(tails[::-1])  # sum_{j >= k} w_j, in a fixed order
    after = jnp.concatenate([tail[1:], jnp.zeros(1, weights.dtype)])
    safe_tail = jnp.where(tail > 0, tail, 1.0)
    prob = jnp.where(after > 0, jnp.clip(weights / safe_tail, 0.0, 1.0), 1.0)
    prob = jnp.where(weights > 0, prob, 0.0)

    def body(remaining, inputs):
        key_k, p_k = inputs
        c = jax.random.binomial(key_k, remaining, p_k, dtype=weights.dtype)
        c = jnp.where(remaining > 0, c, 0.0)
        return remaining - c, c

    keys = jax.random.split(key, k_total)
    # One binomial call site inside a scan: compiles once whatever K is.
    _, counts = jax.lax.scan(body, jnp.asarray(n, weights.dtype), (keys, prob))
    return counts


EM_BLOCK = 256  # points per block of the EM sums (a block's arrays stay in cache)


def _em_blocks(points, mask):
    """Points [B, d] and mask [B] as blocks for the EM step: [num_blocks, d, b] and
    [num_blocks, b], with b = B when B <= EM_BLOCK and otherwise b = EM_BLOCK and the last block
    padded with points at 0 of mask 0 (they get responsibility exactly 0)."""
    num, d = points.shape
    size = num if num <= EM_BLOCK else EM_BLOCK
    num_blocks = -(-num // size)
    pad = num_blocks * size - num
    if pad:
        # A select over a gather rather than a concatenate with zeros: XLA fused the sampler
        # that makes the points into the concatenate (pad) fusion, which its CPU backend runs
        # as scalar code (12 ms of a 45 ms generation at 1,000 chains). The same values.
        index = jnp.arange(num + pad)
        inside = index < num
        points = jnp.where(inside[:, None], points[jnp.minimum(index, num - 1)], 0.0)
        mask = jnp.where(inside, mask[jnp.minimum(index, num - 1)], 0.0)
    points_b = jnp.swapaxes(points.reshape(num_blocks, size, d), 1, 2)
    return points_b, mask.reshape(num_blocks, size)


@functools.lru_cache(maxsize=16)
def _heldout_normals(num_components: int, num_heldout: int, dim: int) -> np.ndarray:
    """The fixed standard-normal draws behind the held-out set (float64 NumPy, drawn once)."""
    rng = np.random.default_rng(HELDOUT_SEED)
    return rng.standard_normal((num_components, num_heldout, dim))


# ------------------------------------------------------------------------------ the family
class GaussianMixture(AbstractFamily):
    """Gaussian mixture family, refit by EM or with oracle assignments.

    Args:
        num_components: number of components K >= 1.
        dim: dimension d >= 1.
        covariance: ``"full"`` or ``"diag"`` covariance matrices.
        num_em_steps: EM steps per generation (>= 1; fixed, inside a ``lax.scan``).
        estimator: ``"mle"`` (divide the scatter by N) or ``"unbiased"`` (by N - 1; oracle
            design only).
        oracle_assignments: refit every component on the samples it generated (the exactly
            solvable design) instead of running EM.
        reinit: EM only: re-initialise from the data each generation (deterministic
            farthest-point means, then EM) instead of warm-starting from the previous
            generation; components are then matched to the previous slots greedily by mean.
            Dead components come back to life under ``reinit``.
        min_count: EM only: a component whose soft count falls below this dies.
        covariance_floor: EM only: each M-step adds this times the fit's mean per-axis
            variance to the diagonal (plus a tiny absolute floor): covariances stay positive
            definite without slowing the collapse.
        num_heldout: held-out source draws per source component for ``source_loglik``
            (0: do not record ``source_loglik``, which is the costliest observable).
    """

    num_components: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    covariance: str = eqx.field(static=True)
    num_em_steps: int = eqx.field(static=True)
    estimator: str = eqx.field(static=True)
    oracle_assignments: bool = eqx.field(static=True)
    reinit: bool = eqx.field(static=True)
    min_count: float = eqx.field(static=True)
    covariance_floor: float = eqx.field(static=True)
    num_heldout: int = eqx.field(static=True)

    def __init__(
        self,
        num_components: int = 2,
        dim: int = 1,
        covariance: str = "full",
        num_em_steps: int = 10,
        estimator: str = "mle",
        oracle_assignments: bool = False,
        reinit: bool = False,
        min_count: float = 0.5,
        covariance_floor: float = 1e-6,
        num_heldout: int = 64,
    ):
        self.num_components = _check_int("num_components", num_components, 1)
        self.dim = _check_int("dim", dim, 1)
        if covariance not in COVARIANCES:
            raise ValueError(f"covariance must be one of {COVARIANCES}, got {covariance!r}")
        self.covariance = covariance
        self.num_em_steps = _check_int("num_em_steps", num_em_steps, 1)
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {estimator!r}")
        if not isinstance(oracle_assignments, (bool, np.bool_)):
            raise ValueError(
                f"oracle_assignments must be True or False, got {oracle_assignments!r}"
            )
        if not isinstance(reinit, (bool, np.bool_)):
            raise ValueError(f"reinit must be True or False, got {reinit!r}")
        if estimator != "mle" and not oracle_assignments:
            raise ValueError(
                f"estimator={estimator!r} needs oracle_assignments=True (EM fits the MLE)"
            )
        if reinit and oracle_assignments:
            raise ValueError("reinit applies to EM only; it needs oracle_assignments=False")
        self.estimator = estimator
        self.oracle_assignments = bool(oracle_assignments)
        self.reinit = bool(reinit)
        self.min_count = _check_float("min_count", min_count, 0.0)
        self.covariance_floor = _check_float("covariance_floor", covariance_floor, 0.0)
        self.num_heldout = _check_int("num_heldout", num_heldout, 0)

    @property
    def name(self) -> str:
        return "gaussian_mixture"

    @property
    def has_exact(self) -> bool:  # type: ignore[override]
        return self.oracle_assignments

    @property
    def fixed_shape_stats(self) -> bool:  # type: ignore[override]
        """EM keeps a data buffer (merge concatenates); oracle statistics have fixed shapes."""
        return self.oracle_assignments

    @property
    def offset(self) -> int:
        return ESTIMATORS[self.estimator]

    def describe(self) -> dict:
        return {
            "family": self.name,
            "num_components": self.num_components,
            "dim": self.dim,
            "covariance": self.covariance,
            "num_em_steps": self.num_em_steps,
            "estimator": self.estimator,
            "oracle_assignments": self.oracle_assignments,
            "reinit": self.reinit,
            "min_count": self.min_count,
            "covariance_floor": self.covariance_floor,
            "num_heldout": self.num_heldout,
        }

    # ------------------------------------------------------------------------------ source
    @key_first
    def source(self, weights=None, means=None, covariances=1.0) -> MixtureParams:
        """Generation-0 parameters.

        Args:
            weights: [K] probabilities summing to 1 (default uniform). Zero entries start dead.
            means: [K, d] component means (a [K] vector is accepted when d = 1). Default: spaced
                8 apart along the first axis, centred at 0.
            covariances: a scalar variance, [K] variances, [K, d] diagonal variances or
                [K, d, d] covariance matrices (diagonal ones if ``covariance="diag"``).

        Raises:
            ValueError: naming ``weights``, ``means`` or ``covariances`` if a shape mismatches
                ``num_components`` / ``dim``, a value is not finite, the weights are not a
                distribution, or a covariance is not positive definite.
        """
        k, d = self.num_components, self.dim
        if weights is None:
            w = np.full(k, 1.0 / k)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (k,):
                raise ValueError(
                    f"weights must have shape ({k},) for num_components={k}, got {w.shape}"
                )
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError(f"weights must be finite and >= 0, got {weights!r}")
            if abs(w.sum() - 1.0) > 1e-6:
                raise ValueError(f"weights must sum to 1 (a distribution), got sum {w.sum()!r}")
            w = w / w.sum()
        if means is None:
            mu = np.zeros((k, d))
            mu[:, 0] = 8.0 * (np.arange(k) - (k - 1) / 2)
        else:
            mu = np.asarray(means, dtype=np.float64)
            if d == 1 and mu.shape == (k,):
                mu = mu[:, None]
            if mu.shape != (k, d):
                raise ValueError(
                    f"means must have shape ({k}, {d}) for num_components={k}, dim={d}, "
                    f"got {mu.shape}"
                )
            if not np.all(np.isfinite(mu)):
                raise ValueError("means must be finite")
        cov = np.asarray(covariances, dtype=np.float64)
        if cov.ndim == 0:
            cov = np.broadcast_to(np.eye(d) * float(cov), (k, d, d)).copy()
        elif cov.shape == (k,):
            cov = cov[:, None, None] * np.eye(d)
        elif cov.shape == (k, d) and d > 1:
            cov = cov[:, :, None] * np.eye(d)
        elif cov.shape == (k, d) and d == 1:
            cov = cov[:, :, None]
        if cov.shape != (k, d, d):
            raise ValueError(
                f"covariances must be a scalar, ({k},), ({k}, {d}) or ({k}, {d}, {d}), "
                f"got {cov.shape}"
            )
        if not np.all(np.isfinite(cov)):
            raise ValueError("covariances must be finite")
        if not np.allclose(cov, np.swapaxes(cov, 1, 2), rtol=1e-10, atol=1e-12):
            raise ValueError("covariances must be symmetric")
        if self.covariance == "diag" and d > 1:
            off = cov * (1 - np.eye(d))
            if np.any(off != 0):
                raise ValueError('covariances must be diagonal for covariance="diag"')
        for j in range(k):
            eig = np.linalg.eigvalsh(cov[j])
            if eig.min() <= 0:
                raise ValueError(f"covariances[{j}] must be positive definite")
        fro_var = np.trace(cov, axis1=1, axis2=2) / d
        log_scale = 0.5 * np.log(fro_var)
        shape = np.stack([np.linalg.cholesky(cov[j] / fro_var[j]) for j in range(k)])
        floor = MIN_VARIANCE_RATIO * float(np.mean(fro_var))
        dt = _float_dtype()
        return MixtureParams(
            weights=jnp.asarray(w, dt),
            alive=jnp.asarray(w > 0),
            means=jnp.asarray(mu, dt),
            log_scale=jnp.asarray(log_scale, dt),
            shape=jnp.asarray(shape, dt),
            floor=jnp.asarray(floor, dt),
        )

    def check_source(self, source) -> MixtureParams:
        if not isinstance(source, MixtureParams):
            raise ValueError(f"source must come from GaussianMixture.source(...), got {source!r}")
        k, d = self.num_components, self.dim
        if source.means.shape != (k, d):
            raise ValueError(
                f"source has means of shape {source.means.shape}; the family has "
                f"num_components={k}, dim={d}"
            )
        return source

    def validate_num_samples(self, num_samples) -> None:
        n = np.asarray(num_samples)
        if np.any(n < 1):
            raise ValueError(f"num_samples must be >= 1, got min {int(n.min())}")

    def validate_policy(self, policy) -> None:
        """EM keeps the data buffer itself, which Accumulate would grow without bound
        (AccumulateSubsample pools it in a static buffer of every generation's points)."""
        if getattr(policy, "accumulate", False) and not self.oracle_assignments \
                and policy.name != "accumulate_subsample":
            raise ValueError(
                "policy Accumulate() is not available for GaussianMixture with EM "
                "(oracle_assignments=False): EM needs the data buffer, which accumulation grows "
                "without bound under static shapes. Use oracle_assignments=True (mergeable "
                "per-component statistics), Replace() or Fresh(alpha)."
            )

    def covariances(self, params: MixtureParams) -> jax.Array:
        """Absolute covariance matrices [..., K, d, d] (may underflow to 0; see log_scale)."""
        return _covariances(params)

    # ------------------------------------------------------------------------------ sampling
    def _labels_and_normals(self, key, params, num):
        r"""Component labels by inversion of one uniform each, and standard normals.

        Label $k$ is drawn when $u \in [c_{k-1}, c_k)$ for the edges $c_k = \sum_{j \le k} w_j /
        \sum_j w_j$ (sums in a fixed order, no transcendental function, so the same bits on any
        batch or device layout). A dead component's interval is empty, and an edge with no weight
        left after it is $+\infty$, so rounding never hands a point to a dead component. One
        uniform per point replaces ``jax.random.categorical``'s K Gumbel draws (two logarithms
        each), about 5x cheaper at K = 3 (benchmarks/results/profile_em.md); the normals are
        drawn exactly as before.
        """
        key_label, key_z = jax.random.split(key)
        w = params.weights
        k_total = self.num_components
        cum = [w[0]]
        for k in range(1, k_total):
            cum.append(cum[-1] + w[k])
        after = [w[k_total - 1]]  # after[i] = sum_{j > k_total - 2 - i} w_j
        for k in range(k_total - 2, 0, -1):
            after.append(w[k] + after[-1])
        after = after[::-1]  # after[k] = sum_{j > k} w_j, k = 0 .. K - 2
        total = jnp.where(cum[-1] > 0, cum[-1], 1.0)
        u = jax.random.uniform(key_label, (num,), w.dtype)
        labels = jnp.zeros(num, jnp.int32)
        for k in range(k_total - 1):
            edge = jnp.where(after[k] > 0, cum[k] / total, jnp.inf)
            labels = labels + (u >= edge).astype(jnp.int32)
        z = jax.random.normal(key_z, (num, self.dim), w.dtype)
        return labels, z

    def sample(self, key, params: MixtureParams, num_samples: int) -> jax.Array:
        """Absolute samples, shape ``[num_samples, dim]``."""
        labels, z = self._labels_and_normals(key, params, num_samples)
        return self._points(params, labels, z)

    def _points(self, params, labels, z):
        scale = jnp.exp(params.log_scale)[labels][:, None]
        return params.means[labels] + scale * _mv(params.shape[labels], z)

    # ------------------------------------------------------------------------------ point buffers
    @property
    def has_points(self) -> bool:  # type: ignore[override]
        """EM keeps the points themselves, so buffer policies (AccumulateSubsample: a static
        buffer of every generation's points, subsampled each generation) can pool them."""
        return not self.oracle_assignments

    def sample_points(self, key, params, num_samples) -> jax.Array:
        """``[num_samples, dim]`` draws, as ``sample_stats`` puts them in the EM buffer."""
        labels, z = self._labels_and_normals(key, params, num_samples)
        return self._points(params, labels, z)

    def points_stats(self, points, mask) -> MixtureSampleBuffer:
        """The EM buffer of the masked points (the fit runs EM on them)."""
        return MixtureSampleBuffer(points=points, mask=mask.astype(points.dtype))

    def _stats_from_z(self, params, count, zbar, factor_z) -> MixtureComponentStats:
        """Absolute per-component statistics from each component's standardised statistics.

        ``factor_z`` is a lower-triangular factor B of the standardised scatter ($S_z = B B^T$);
        the absolute scatter's factor is then the triangular product F B. Carrying products of
        triangular factors (never re-factorising $F S_z F^T$) keeps every diagonal entry, and so
        the log-determinant, to relative precision however anisotropic the covariance becomes.
        """
        scale = jnp.exp(params.log_scale)[:, None]
        mean = params.means + scale * _mv(params.shape, zbar)
        log_scale, factor = _normalised_factor(_mm(params.shape, factor_z), params.log_scale)
        return MixtureComponentStats(count=count, mean=mean, log_scale=log_scale, factor=factor)

    def sample_stats(self, key, params, buffer_size, num_samples=None):
        labels, z = self._labels_and_normals(key, params, buffer_size)
        dt = z.dtype
        if num_samples is None:
            mask = jnp.ones(buffer_size, dt)
        else:
            mask = (jnp.arange(buffer_size) < num_samples).astype(dt)
        if not self.oracle_assignments:
            return MixtureSampleBuffer(points=self._points(params, labels, z), mask=mask)
        onehot = (labels[:, None] == jnp.arange(self.num_components)).astype(dt) * mask[:, None]
        count = dsum(onehot, axis=0)
        zbar = dsum(onehot[:, :, None] * z[:, None, :], axis=0) / jnp.maximum(count, 1.0)[:, None]
        dev = (z[:, None, :] - zbar[None]) * onehot[:, :, None]  # [B, K, d]
        scatter = dsum(dev[..., :, None] * dev[..., None, :], axis=0)
        factor_z = _cholesky(scatter, _psd_tol(scatter))
        # The scatter of N points has rank N - 1 (almost surely): its Cholesky factor has exactly
        # min(N - 1, d) nonzero columns. Zero the others explicitly, so that a fit on one point
        # is an exact point mass whatever rounding the compiled kernel does in z - mean(z).
        rank = jnp.arange(self.dim, dtype=dt)[None, None, :] < (count - 1)[:, None, None]
        return self._stats_from_z(params, count, zbar, factor_z * rank)

    def exact_stats(self, key, params, num_samples):
        if not self.oracle_assignments:
            raise ValueError("exact_stats needs oracle_assignments=True")
        dt = params.weights.dtype
        k, d = self.num_components, self.dim
        key_count, key_mean, key_chi, key_off = jax.random.split(key, 4)
        count = _sequential_multinomial(key_count, num_samples, params.weights)
        zbar = jax.random.normal(key_mean, (k, d), dt) / jnp.sqrt(jnp.maximum(count, 1.0))[:, None]
        # Bartlett: the scatter of N standard normals is Wishart(N - 1, I) = B B^T, B lower
        # triangular, B_ii^2 ~ chi^2_{N-1-i}, B_ij ~ N(0, 1) below; columns with N - 1 - i <= 0
        # vanish (singular Wishart when N <= d).
        df = count[:, None] - 1 - jnp.arange(d, dtype=dt)[None]
        pos = df > 0
        log_chi = log_chisquare_sample(key_chi, jnp.where(pos, df, 1.0), dt)
        diag = jnp.where(pos, jnp.exp(0.5 * log_chi), 0.0)
        below = jnp.tril(jax.random.normal(key_off, (k, d, d), dt), -1) * pos[:, None, :]
        b = below + diag[:, :, None] * jnp.eye(d, dtype=dt)
        return self._stats_from_z(params, count, zbar, b)

    # ------------------------------------------------------------------------------ pooling
    def empty_stats(self, params):
        dt = params.weights.dtype
        k, d = self.num_components, self.dim
        if not self.oracle_assignments:
            return MixtureSampleBuffer(points=jnp.zeros((0, d), dt), mask=jnp.zeros((0,), dt))
        return MixtureComponentStats(
            count=jnp.zeros(k, dt),
            mean=jnp.zeros((k, d), dt),
            log_scale=jnp.full(k, -jnp.inf, dt),
            factor=jnp.broadcast_to(jnp.eye(d, dtype=dt), (k, d, d)),
        )

    def merge(self, a, b):
        if not self.oracle_assignments:
            return MixtureSampleBuffer(
                points=jnp.concatenate([a.points, b.points]),
                mask=jnp.concatenate([a.mask, b.mask]),
            )
        d = self.dim
        count = a.count + b.count
        safe = jnp.maximum(count, 1.0)
        delta = b.mean - a.mean
        mean = a.mean + delta * (b.count / safe)[:, None]
        norm2 = dsum(delta * delta, axis=-1)
        weight = a.count * b.count / safe
        cross_ok = (norm2 > 0) & (weight > 0)
        log_cross = jnp.where(
            cross_ok, 0.5 * jnp.log(jnp.where(cross_ok, weight * norm2 / d, 1.0)), -jnp.inf
        )
        # M2 = e^{2a} Sa + e^{2b} Sb + w delta delta^T, combined on the log scale (Chan et al.).
        top = jnp.maximum(jnp.maximum(a.log_scale, b.log_scale), log_cross)
        top = jnp.where(jnp.isfinite(top), top, 0.0)
        wa = jnp.exp(2 * (a.log_scale - top))[:, None, None]
        wb = jnp.exp(2 * (b.log_scale - top))[:, None, None]
        wc = jnp.exp(2 * (log_cross - top))[:, None, None]
        unit = jnp.where(
            (norm2 > 0)[:, None], delta / jnp.sqrt(jnp.where(norm2 > 0, norm2, 1.0))[:, None], 0.0
        )
        m = (
            wa * _mm(a.factor, _t(a.factor))
            + wb * _mm(b.factor, _t(b.factor))
            + wc * d * unit[:, :, None] * unit[:, None, :]
        )
        log_scale, factor = _normalised_factor(_cholesky(m, _psd_tol(m)), top)
        # Merging with an empty side returns the other side unchanged (no re-factorisation).
        only_a = (b.count == 0)[:, None, None]
        only_b = (a.count == 0)[:, None, None]
        factor = jnp.where(only_a, a.factor, jnp.where(only_b, b.factor, factor))
        log_scale = jnp.where(
            b.count == 0, a.log_scale, jnp.where(a.count == 0, b.log_scale, log_scale)
        )
        return MixtureComponentStats(count=count, mean=mean, log_scale=log_scale, factor=factor)

    # ------------------------------------------------------------------------------ fitting
    def estimate(self, key, stats, params: MixtureParams) -> MixtureParams:
        del key  # both fits are deterministic
        if self.oracle_assignments:
            return self._estimate_oracle(stats, params)
        return self._estimate_em(stats, params)

    def _estimate_oracle(self, stats: MixtureComponentStats, params) -> MixtureParams:
        d = self.dim
        count = stats.count
        alive = count > 0
        weights = count / jnp.maximum(dsum(count), 1.0)
        den = count - self.offset
        fit = den > 0
        log_scale = jnp.where(
            fit, stats.log_scale - 0.5 * jnp.log(jnp.where(fit, den, 1.0)), -jnp.inf
        )
        if self.covariance == "diag":
            # The diagonal of G G^T: same trace, so the same log_scale.
            diag = dsum(stats.factor * stats.factor, axis=-1)
            factor = jnp.sqrt(diag)[..., :, None] * jnp.eye(d, dtype=diag.dtype)
        else:
            factor = stats.factor
        keep = alive[:, None]
        return MixtureParams(
            weights=jnp.where(alive, weights, 0.0),
            alive=alive,
            means=jnp.where(keep, stats.mean, params.means),
            log_scale=jnp.where(alive, log_scale, params.log_scale),
            shape=jnp.where(keep[..., None], factor, params.shape),
            floor=params.floor,
        )

    def _em_init(self, points, mask, params):
        """Starting (weights, alive, means, covariances) of EM, from params or from the data."""
        d, k = self.dim, self.num_components
        eye = jnp.eye(d, dtype=points.dtype)
        if not self.reinit:
            cov = _covariances(params) + params.floor * eye
            return params.weights, params.alive, params.means, cov
        # Deterministic farthest-point initialisation (no randomness, no k-means++).
        total = jnp.maximum(dsum(mask), 1.0)
        centre = dsum(mask[:, None] * points, axis=0) / total

        def dist2(x, y):
            return dsum((x - y) ** 2, axis=-1)

        far = jnp.where(mask > 0, dist2(points, centre), -1.0)
        chosen = [jnp.argmax(far)]
        nearest = dist2(points, points[chosen[0]])
        for _ in range(1, k):
            nxt = jnp.argmax(jnp.where(mask > 0, nearest, -1.0))
            chosen.append(nxt)
            nearest = jnp.minimum(nearest, dist2(points, points[nxt]))
        means = points[jnp.stack(chosen)]
        spread = dsum(mask * nearest) / (total * d)
        var0 = jnp.maximum(spread, 0.0) + params.floor
        cov = jnp.broadcast_to(var0 * eye, (k, d, d))
        weights = jnp.full(k, 1.0 / k, points.dtype)
        return weights, jnp.ones(k, bool), means, cov

    def _em_block_sums(self, points_t, mask, means, chol, inv_diag, const):
        r"""Responsibility-weighted sums over one block of points ``points_t`` [d, b]:
        $\sum r$, $\sum r (x - m)_i$ and $\sum r (x - m)_i (x - m)_j$ ($j \le i$) about the
        current means $m$, stacked as [1 + d + d(d+1)/2, K].

        Every array is [K, b] with the points last, so the reduction over the points is one
        :func:`dsum_last` over the minor axis, and responsibilities take one ``exp`` per point and
        component (the normaliser reuses the same exponentials).
        """
        d = self.dim
        # diff[i] = x_i - m_{k,i}, [K, b]; y = L^{-1} diff by forward substitution.
        diff = [points_t[i][None, :] - means[:, i][:, None] for i in range(d)]
        ys = []
        for i in range(d):
            acc = diff[i]
            for j in range(i):
                acc = acc - chol[:, i, j][:, None] * ys[j]
            ys.append(acc * inv_diag[:, i][:, None])
        maha = ys[0] * ys[0]
        for i in range(1, d):
            maha = maha + ys[i] * ys[i]
        joint = const[:, None] - 0.5 * maha  # [K, b]; -inf for dead components
        top = jnp.max(joint, axis=0)  # a max is exact in any order
        top = jnp.where(jnp.isfinite(top), top, 0.0)
        expo = jnp.exp(joint - top[None])
        total = dsum(expo, axis=0)
        pos = total > 0
        resp = expo * jnp.where(pos, mask / jnp.where(pos, total, 1.0), 0.0)[None]
        terms = [resp] + [resp * diff[i] for i in range(d)]
        terms += [terms[1 + i] * diff[j] for i in range(d) for j in range(i + 1)]
        # Each term reduced on its own, then stacked (the same tree; bit-identical to reducing
        # the stack for whole blocks of 256, while a single shorter block may differ in the last
        # bit where a product fuses into the first level as an FMA): stacking the [K, b] terms
        # first made XLA emit the products
        # inside a concatenate fusion, which its CPU backend runs as scalar code (about half
        # of a step's time; benchmarks/results/profile_em.md).
        return jnp.stack([dsum_last(t) for t in terms])

    def _em_step(self, points_b, mask_b, state, floor):
        r"""One EM step on the points ``points_b`` [num_blocks, d, b] (``mask_b`` [num_blocks, b]).

        The E-step and the M-step's sums run block by block in a ``lax.scan`` (the per-block sums
        of :meth:`_em_block_sums` added in block order): a block's [K, b] arrays for all chains
        stay in cache, where the whole buffer's would not (about 2x faster at 500 chains, n =
        1,000; benchmarks/results/profile_em.md). Elementwise arithmetic and fixed-order sums
        only, so a chain's numbers do not depend on the batch (DESIGN.md section 3). The M-step
        then uses the one-pass sums about the current means $m$: $\mu' = m + \delta$,
        $S = \sum r (x-m)(x-m)^\top / N - \delta\delta^\top$ with $\delta = \sum r (x - m) / N$.
        The shift is the previous EM iterate, so $\delta$ is one step's move and the subtraction
        loses only about $\epsilon\,\delta^2 / \sigma^2$ relative: the fixed point is that of the
        two-pass update, to rounding.
        """
        weights, alive, means, cov = state
        d, k = self.dim, self.num_components
        eye = jnp.eye(d, dtype=points_b.dtype)
        chol = _cholesky(cov)
        chol_diag = jnp.diagonal(chol, axis1=-2, axis2=-1)
        bad = jnp.any(chol_diag <= 0, axis=-1)  # only by rounding: the floor keeps cov PD
        chol = jnp.where(bad[:, None, None], jnp.sqrt(floor) * eye, chol)
        chol_diag = jnp.diagonal(chol, axis1=-2, axis2=-1)
        log_det = 2 * dsum(jnp.log(chol_diag), axis=-1)
        log_w = jnp.log(jnp.where(alive, weights, 1.0))
        const = jnp.where(alive, log_w - 0.5 * (log_det + d * math.log(2 * math.pi)), -jnp.inf)
        inv_diag = 1.0 / chol_diag

        def block(acc, inputs):
            pts, msk = inputs
            return acc + self._em_block_sums(pts, msk, means, chol, inv_diag, const), None

        first = self._em_block_sums(points_b[0], mask_b[0], means, chol, inv_diag, const)
        if points_b.shape[0] > 1:
            sums, _ = jax.lax.scan(block, first, (points_b[1:], mask_b[1:]))
        else:
            sums = first
        soft = sums[0]
        survive = alive & (soft >= self.min_count)
        # Never let every component die: the largest one always survives.
        survive = survive | (jnp.arange(k) == jnp.argmax(jnp.where(alive, soft, -1.0)))
        safe = jnp.where(soft > 0, soft, 1.0)
        delta = jnp.stack([sums[1 + i] / safe for i in range(d)], -1)  # [K, d]
        new_means = means + delta
        pairs = [(i, j) for i in range(d) for j in range(i + 1)]
        second = [[None] * d for _ in range(d)]
        for idx, (i, j) in enumerate(pairs):
            value = sums[1 + d + idx] / safe - delta[:, i] * delta[:, j]
            if i == j:
                value = jnp.maximum(value, 0.0)  # cancellation can only go below 0 by rounding
            second[i][j] = second[j][i] = value
        scatter = jnp.stack([jnp.stack(row, -1) for row in second], -2)  # [K, d, d]
        if self.covariance == "diag":
            scatter = scatter * eye
        relative = self.covariance_floor * _trace(scatter) / d
        new_cov = scatter + (relative + floor)[:, None, None] * eye
        new_w = jnp.where(survive, soft, 0.0)
        new_w = new_w / jnp.maximum(dsum(new_w), jnp.finfo(new_w.dtype).tiny)
        means = jnp.where(survive[:, None], new_means, means)
        cov = jnp.where(survive[:, None, None], new_cov, cov)
        return new_w, survive, means, cov

    def _match(self, new_state, params):
        """Reorder re-initialised components to the previous slots (greedy nearest mean)."""
        weights, alive, means, cov = new_state
        k = self.num_components
        cost = dsum((params.means[:, None, :] - means[None]) ** 2, axis=-1)  # [prev, new]
        order = jnp.argsort(-jnp.where(params.alive, params.weights, -1.0))
        used = jnp.zeros(k, bool)
        perm = jnp.zeros(k, jnp.int32)
        for i in range(k):
            slot = order[i]
            j = jnp.argmin(jnp.where(used, jnp.inf, cost[slot]))
            perm = perm.at[slot].set(j)
            used = used.at[j].set(True)
        return weights[perm], alive[perm], means[perm], cov[perm]

    def _estimate_em(self, stats: MixtureSampleBuffer, params) -> MixtureParams:
        points, mask = stats.points, stats.mask
        state = self._em_init(points, mask, params)
        points_b, mask_b = _em_blocks(points, mask)  # once per fit, not once per EM step

        def body(carry, _):
            return self._em_step(points_b, mask_b, carry, params.floor), None

        state, _ = jax.lax.scan(body, state, None, length=self.num_em_steps)
        if self.reinit:
            state = self._match(state, params)
        weights, alive, means, cov = state
        chol = _cholesky(cov)
        fro2 = dsum(dsum(chol * chol, axis=-1), axis=-1)
        ok = fro2 > 0
        safe = jnp.where(ok, fro2, 1.0)
        log_scale = jnp.where(ok, 0.5 * jnp.log(safe / self.dim), params.log_scale)
        shape = jnp.where(ok[:, None, None], chol * jnp.sqrt(self.dim / safe)[:, None, None],
                          params.shape)
        if not self.reinit:
            # Dead components keep their previous parameters exactly.
            log_scale = jnp.where(alive, log_scale, params.log_scale)
            shape = jnp.where(alive[:, None, None], shape, params.shape)
        return MixtureParams(
            weights=jnp.where(alive, weights, 0.0),
            alive=alive,
            means=means,
            log_scale=log_scale,
            shape=shape,
            floor=params.floor,
        )

    # ------------------------------------------------------------------------------ observing
    def observe(self, params: MixtureParams, source: MixtureParams) -> dict:
        r"""Observables of one mixture against the source (slot k is matched to source k).

        * ``weights`` [K], ``alive`` [K] (1.0 / 0.0), ``num_alive``, ``heterozygosity``
          ($1 - \sum_k w_k^2$);
        * ``means`` [K, d];
        * ``log_variance`` [K]: $\log \mathrm{tr}\,\Sigma_k$ (``-inf`` for a point mass; a dead
          component keeps its last value), ``log_det`` [K] (``-inf`` when singular);
        * ``alive_log_det`` [K]: ``log_det`` where the component is alive with a positive-definite
          covariance, else 0 (the quantity of theory/mixture.md#m6; light-tailed);
        * ``alive_variance`` [K]: $\mathrm{tr}\,\Sigma_k \cdot 1\{\text{alive}\}$ (the variance
          itself when d = 1; the quantity of theory/mixture.md#m4);
        * ``source_loglik``: mean log-likelihood under the model of a fixed held-out set of
          source draws (``num_heldout`` per source component, weighted by the source weights);
          ``-inf`` once some held-out point has zero model density in floating point (a lost
          mode next to collapsed components); absent when ``num_heldout=0``;
        * ``tail_mass_3sigma``: model mass outside the source's 3-sigma region, per matched
          component and coordinate: $\sum_k w_k \frac1d\sum_i P(|x_i - \mu_{0,ki}| >
          3\sigma_{0,ki})$, $x \sim N(\mu_k, \Sigma_k)$;
        * ``w2_matched``: $\sum_k w_k W_2^2(N(\mu_k,\Sigma_k), N(\mu_{0,k},\Sigma_{0,k}))$,
          the within-component squared 2-Wasserstein distance under the oracle matching;
        * ``mmd_squared``: squared MMD between the model and source mixtures with a Gaussian
          kernel of bandwidth$^2$ equal to the source's mean per-axis component variance
          (closed form; sees weight changes and lost components).
        """
        d = self.dim
        dt = params.weights.dtype
        w, alive = params.weights, params.alive
        # Materialise the covariances once: if XLA re-derived them inside each consumer's fusion
        # it could contract multiply-adds into FMAs differently per layout, and a chain's bits
        # would then depend on the batch size or device count (DESIGN.md section 3).
        cov, cov0 = jax.lax.optimization_barrier((_covariances(params), _covariances(source)))
        out = {
            "weights": w,
            "alive": alive.astype(dt),
            "num_alive": dsum(alive.astype(dt)),
            "heterozygosity": 1 - dsum(w * w),
            "means": params.means,
        }
        rel_tr = dsum(dsum(params.shape * params.shape, axis=-1), axis=-1)  # = d up to rounding
        log_var = 2 * params.log_scale + jnp.log(rel_tr)
        out["log_variance"] = log_var
        # shape is lower triangular: log |det F| is the sum of log |diagonal|
        logabs = dsum(jnp.log(jnp.abs(jnp.diagonal(params.shape, axis1=-2, axis2=-1))), axis=-1)
        log_det = 2 * d * params.log_scale + 2 * logabs
        out["log_det"] = log_det
        out["alive_log_det"] = jnp.where(alive & jnp.isfinite(log_det), log_det, 0.0)
        out["alive_variance"] = jnp.where(alive, jnp.exp(log_var), 0.0)
        if self.num_heldout > 0:
            out["source_loglik"] = self._source_loglik(params, source)

        # Tail mass beyond the matched source component's 3 sigma, per coordinate.
        sd = jnp.sqrt(jnp.clip(jnp.diagonal(cov, axis1=-2, axis2=-1), 0.0))
        sd0 = jnp.sqrt(jnp.diagonal(cov0, axis1=-2, axis2=-1))
        drift = params.means - source.means
        chol0 = jnp.exp(source.log_scale)[:, None, None] * source.shape
        cross = _mm(_mm(_t(chol0), cov), chol0)
        sd, sd0, drift, cross = jax.lax.optimization_barrier((sd, sd0, drift, cross))
        pos = sd > 0
        safe_sd = jnp.where(pos, sd, 1.0)
        tails = jnp.where(
            pos,
            ndtr((drift - 3 * sd0) / safe_sd) + ndtr((-3 * sd0 - drift) / safe_sd),
            (jnp.abs(drift) > 3 * sd0).astype(dt),
        )
        out["tail_mass_3sigma"] = dsum(w * dsum(tails, axis=-1) / d)

        # Within-component W2^2 under the oracle matching: with Sigma_0 = L0 L0^T,
        # tr (Sigma_0^{1/2} Sigma Sigma_0^{1/2})^{1/2} = tr (L0^T Sigma L0)^{1/2} (cross above).
        # The traces come from the log-scale representation (tr = e^{log_var}), not from the
        # diagonal of cov, which XLA may recompute with differently contracted multiply-adds.
        tr0 = jnp.exp(2 * source.log_scale) * dsum(dsum(source.shape * source.shape, -1), -1)
        w2 = dsum(drift * drift, axis=-1) + jnp.exp(log_var) + tr0 - 2 * _trace_sqrt_psd(cross)
        out["w2_matched"] = dsum(w * jnp.maximum(w2, 0.0))

        # Squared MMD with a Gaussian kernel (closed form for Gaussian mixtures).
        bw2 = dsum(_trace(cov0)) / (self.num_components * d)
        w0, m0 = source.weights, source.means
        out["mmd_squared"] = jnp.maximum(
            _kernel_mean(w, params.means, cov, w, params.means, cov, bw2)
            - 2 * _kernel_mean(w, params.means, cov, w0, m0, cov0, bw2)
            + _kernel_mean(w0, m0, cov0, w0, m0, cov0, bw2),
            0.0,
        )
        return out

    def _source_loglik(self, params: MixtureParams, source: MixtureParams) -> jax.Array:
        """Mean log-likelihood of the fixed held-out source set, stratified by component."""
        k, d, m = self.num_components, self.dim, self.num_heldout
        dt = params.weights.dtype
        z = jnp.asarray(_heldout_normals(k, m, d), dt)
        chol0 = jnp.exp(source.log_scale)[:, None, None] * source.shape
        held = source.means[:, None, :] + _mv(chol0[:, None], z)  # [K, M, d]
        logp = _log_pdf_components(
            held.reshape(-1, d), params.means, params.log_scale, params.shape
        )
        alive = params.alive
        log_w = jnp.log(jnp.where(alive, params.weights, 1.0))
        joint = jnp.where(alive[None], log_w[None] + logp, -jnp.inf)
        loglik = _logsumexp(joint, axis=-1).reshape(k, m)
        per_source = jnp.where(source.weights > 0, dsum(loglik, axis=-1) / m, 0.0)
        return dsum(source.weights * per_source)

    # ------------------------------------------------------------------------------ theory
    def predictions(self, config, overrides: dict | None = None) -> list:
        return mixture_predictions(self, config, overrides or {})


def _kernel_mean(wa, ma, ca, wb, mb, cb, bw2):
    r"""$\sum_{ij} w_{a,i} w_{b,j} E[k(X_i, Y_j)]$ for $k(x, y) = e^{-\lVert x-y\rVert^2/(2h^2)}$:
    $E k = h^d \det(C_i + C_j + h^2 I)^{-1/2} e^{-\delta^\top (C_i+C_j+h^2I)^{-1}\delta/2}$."""
    d = ma.shape[-1]
    s = ca[:, None] + cb[None] + bw2 * jnp.eye(d, dtype=ca.dtype)  # [Ka, Kb, d, d]
    delta = ma[:, None, :] - mb[None, :, :]
    chol = _cholesky(s)  # positive definite: the kernel adds h^2 I
    y = _solve_lower(chol, delta)
    log_det = 2 * dsum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    log_k = 0.5 * d * jnp.log(bw2) - 0.5 * log_det - 0.5 * dsum(y * y, axis=-1)
    return dsum(dsum(wa[:, None] * wb[None, :] * jnp.exp(log_k), axis=-1), axis=-1)

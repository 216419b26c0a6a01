"""``check()`` as a measured instrument: calibration on synthetic runs with known laws.

No simulator is involved: each synthetic :class:`~collapse_lab.chain.RunResult` holds NumPy
draws whose law is known exactly, and a stub family returns correct (or deliberately shifted)
:class:`~collapse_lab.prediction.Prediction` rows. Every column ("generation") of a synthetic
observable is an independent draw, and every synthetic run uses fresh draws, so rows and runs
are independent by construction.

False-failure rates (under a correct ``check()``):
* null calibration: 2 false-alarm levels x 5 row kinds = 10 two-sided binomial tests of the
  rejection count at 1e-4 each -> 1e-3;
* power: 3 z-tests of the mean z across runs at |z| < 4 (6.3e-5 each) -> 2e-4;
* the other tests are deterministic.
So this file fails spuriously with probability below 1.2e-3. Seeds are fixed.

Power against a miscalibrated threshold (measured by patching ``check.py`` in a scratch run):
doubling or halving the per-row rate ``false_alarm / R`` moves every exact-row rejection count
from its expected ~100 to ~200 or ~50 (|z| >= 5), and doubling or halving the z threshold of
approximate rows moves their rate by more than 5x, so each such error fails the calibration test.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from _controls import assert_rejects
from scipy import stats

import collapse_lab as cl
from collapse_lab.chain import RunResult
from collapse_lab.prediction import Prediction

CHAINS = 500
CELL_ALPHA = 1e-4  # false-failure rate of each binomial calibration test


class SyntheticFamily:
    """Stub family: returns fixed predictions; the override ``shift`` adds to every value."""

    name = "synthetic"

    def __init__(self, preds):
        self.preds = list(preds)

    def predictions(self, config, overrides=None):
        overrides = overrides or {}
        unknown = set(overrides) - {"shift"}
        if unknown:
            raise ValueError(f"unknown theory overrides {sorted(unknown)}")
        shift = overrides.get("shift", 0.0)
        return [Prediction(**{**p.__dict__, "predicted": p.predicted + shift}) for p in self.preds]


def synthetic_result(preds, x):
    """A RunResult over ``x`` [chains, generations + 1] checked against ``preds``."""
    config = types.SimpleNamespace(
        family=SyntheticFamily(preds), num_chains=x.shape[0], policy=types.SimpleNamespace(name="-")
    )
    return RunResult(observables={"x": x}, config=config)


def pred(generation, kind, value, **kw):
    return Prediction(
        observable="x",
        generation=generation,
        kind=kind,
        predicted=float(value),
        label=f"{kind}@{generation}",
        formula=kind.upper(),
        reference="synthetic",
        **kw,
    )


# One correct prediction of every row kind; column g of the observable has the stated law.
P_CUT, Q_LEVEL, APPROX_TOL = 0.3, 0.25, 0.1
CALIBRATION_PREDS = [
    pred(1, "mean", 0.0),  # N(0, 1): z is exactly Student t with C - 1 degrees of freedom
    pred(2, "variance", 1.0),  # Uniform(-sqrt 3, sqrt 3): light tails, the 4th-moment z is ~N
    pred(3, "probability", stats.norm.cdf(P_CUT), threshold=P_CUT),  # N(0, 1), exact binomial
    pred(4, "quantile", stats.norm.ppf(Q_LEVEL), level=Q_LEVEL),  # N(0, 1), exact binomial
    # approximate rows at the edges of their band: true mean 2 (1 +- tol), predicted 2
    pred(5, "mean", 2.0, exact=False, rel_tol=APPROX_TOL),
    pred(6, "mean", 2.0, exact=False, rel_tol=APPROX_TOL),
]


def calibration_draws(rng, chains):
    x = np.empty((chains, 7))
    x[:, 0] = 0.0
    x[:, 1] = rng.standard_normal(chains)
    x[:, 2] = rng.uniform(-np.sqrt(3), np.sqrt(3), chains)
    x[:, 3] = rng.standard_normal(chains)
    x[:, 4] = rng.standard_normal(chains)
    x[:, 5] = 2.0 * (1 + APPROX_TOL) + rng.standard_normal(chains)
    x[:, 6] = 2.0 * (1 - APPROX_TOL) + rng.standard_normal(chains)
    return x


def binomial_rejection_rate(chains, prob, alpha):
    """Exact P(two-sided binomial p-value < alpha) for K ~ Bin(chains, prob)."""
    k = np.arange(chains + 1)
    reject = np.array([stats.binomtest(int(i), chains, prob).pvalue < alpha for i in k])
    return float(stats.binom.pmf(k, chains, prob)[reject].sum())


@pytest.mark.parametrize("false_alarm,runs", [(0.5, 1200), (0.9, 700)])
def test_null_rejection_frequency_matches_the_stated_rate(false_alarm, runs):
    """Each row kind of a correct theory is rejected at its stated per-row rate false_alarm / R.

    Expected counts per kind are about 100 (65 to 105 for the discrete binomial rows), so
    a per-row rate off by 2x in either direction is a >= 4 sigma departure.
    """
    rng = np.random.default_rng(int(false_alarm * 1000))
    rows = len(CALIBRATION_PREDS)
    per_row = false_alarm / rows
    z_thr = stats.norm.isf(per_row / 2)
    rejected = np.zeros(rows, dtype=int)
    for _ in range(runs):
        table = cl.check(
            synthetic_result(CALIBRATION_PREDS, calibration_draws(rng, CHAINS)),
            false_alarm=false_alarm,
        )
        assert len(table) == rows and table.attrs["per_row_alpha"] == pytest.approx(per_row)
        rejected += ~table["pass"].to_numpy(dtype=bool)
    df = CHAINS - 1
    expected_rate = {
        "mean": 2 * stats.t.sf(stats.norm.isf(per_row / 2), df),
        "variance": per_row,  # asymptotic normality of the 4th-moment z (uniform data)
        "probability": binomial_rejection_rate(CHAINS, stats.norm.cdf(P_CUT), per_row),
        "quantile": binomial_rejection_rate(CHAINS, Q_LEVEL, per_row),
        # each edge row fails when the mean strays outward by z_thr standard errors
        "approximate": stats.t.sf(z_thr, df),
    }
    counts = {
        "mean": (rejected[0], runs),
        "variance": (rejected[1], runs),
        "probability": (rejected[2], runs),
        "quantile": (rejected[3], runs),
        "approximate": (rejected[4] + rejected[5], 2 * runs),
    }
    report = {k: (c, n, round(expected_rate[k] * n, 1)) for k, (c, n) in counts.items()}
    for kind, (count, n) in counts.items():
        p = stats.binomtest(int(count), n, expected_rate[kind]).pvalue
        assert p > CELL_ALPHA, (kind, report)


def test_shift_of_k_standard_errors_gives_z_near_k():
    """Power: a prediction k standard errors away gives z = k on average (mean, variance,
    probability rows). Mean of z over 300 independent runs against k, |z-score| < 4 each."""
    rng = np.random.default_rng(7)
    runs, chains = 300, CHAINS
    k_mean, k_var, k_prob = 3.0, -4.0, 5.0
    p0 = 0.4
    # true values; predictions placed k standard errors of the statistic away
    se_var = np.sqrt((1.8 - 1.0) / chains)  # uniform(-sqrt3, sqrt3): m4 = 1.8, var = 1
    cut = stats.norm.ppf(p0)
    preds = [
        pred(1, "mean", 0.0 - k_mean / np.sqrt(chains)),
        pred(2, "variance", 1.0 - k_var * se_var),
        pred(3, "probability", p0 - k_prob * np.sqrt(p0 * (1 - p0) / chains), threshold=cut),
    ]
    z = np.empty((runs, 3))
    for i in range(runs):
        x = np.zeros((chains, 4))
        x[:, 1] = rng.standard_normal(chains)
        x[:, 2] = rng.uniform(-np.sqrt(3), np.sqrt(3), chains)
        x[:, 3] = rng.standard_normal(chains)
        z[i] = cl.check(synthetic_result(preds, x), false_alarm=0.01)["z"].to_numpy()
    # the probability row's z uses the predicted p's standard error: rescale to the true one
    p_pred = preds[2].predicted
    z[:, 2] *= np.sqrt(p_pred * (1 - p_pred)) / np.sqrt(p0 * (1 - p0))
    for j, k in enumerate((k_mean, k_var, k_prob)):
        score = (z[:, j].mean() - k) / (z[:, j].std(ddof=1) / np.sqrt(runs))
        assert abs(score) < 4, (j, k, z[:, j].mean())


@pytest.mark.parametrize("num_rows", [1, 3, 40])
@pytest.mark.parametrize("false_alarm", [1e-3, 0.05])
def test_bonferroni_threshold_formula_and_the_boundary(num_rows, false_alarm):
    """Per-row rate false_alarm / R and z threshold Phi^{-1}(1 - false_alarm / (2R)); a mean row
    just inside the threshold passes and one just outside fails (deterministic data)."""
    chains = 400
    e = np.tile([-1.0, 1.0], chains // 2)  # mean 0, sample sd sqrt(C / (C - 1)) exactly
    se = np.sqrt(chains / (chains - 1)) / np.sqrt(chains)
    z_thr = stats.norm.isf(false_alarm / (2 * num_rows))
    x = np.zeros((chains, num_rows + 1))
    x[:, 1:] = e[:, None]
    preds = [pred(g, "mean", 0.0) for g in range(1, num_rows + 1)]
    inside = preds[:-1] + [pred(num_rows, "mean", -0.999 * z_thr * se)]
    outside = preds[:-1] + [pred(num_rows, "mean", -1.001 * z_thr * se)]
    ok = cl.check(synthetic_result(inside, x), false_alarm=false_alarm)
    assert ok.attrs["num_rows"] == num_rows
    assert ok.attrs["per_row_alpha"] == pytest.approx(false_alarm / num_rows, rel=1e-12)
    np.testing.assert_allclose(ok["z_threshold"], z_thr, rtol=1e-12)
    assert ok.attrs["passed"] and ok.attrs["verdict"] == "all pass"
    bad = cl.check(synthetic_result(outside, x), false_alarm=false_alarm)
    assert_rejects(bad, rows={"formula": "MEAN"})
    assert list(bad["pass"]) == [True] * (num_rows - 1) + [False]
    assert bad["z"].iloc[-1] == pytest.approx(1.001 * z_thr, rel=1e-9)


def test_approximate_row_band_is_tolerance_plus_z_threshold():
    """An approximate row passes iff |gap| <= rel_tol |predicted| + z_thr * se (deterministic)."""
    chains = 400
    e = np.tile([-1.0, 1.0], chains // 2)
    se = np.sqrt(chains / (chains - 1)) / np.sqrt(chains)
    z_thr = stats.norm.isf(0.01 / 2)
    x = np.zeros((chains, 2))
    for sign in (1, -1):
        for factor, passes in ((0.999, True), (1.001, False)):
            x[:, 1] = 10.0 + sign * factor * (1.0 + z_thr * se) + e
            row = pred(1, "mean", 10.0, exact=False, rel_tol=0.1)
            table = cl.check(synthetic_result([row], x), false_alarm=0.01)
            assert table["pass"].iloc[0] == passes, (sign, factor)


def test_run_without_predictions_says_so():
    """An empty table is not a failed (or passed) check: the verdict and the formatter say so."""
    x = np.zeros((10, 3))
    table = cl.check(synthetic_result([], x))
    assert len(table) == 0 and not table.attrs["passed"]
    assert table.attrs["verdict"] == "nothing checked"
    assert "no theory prediction applies" in table.attrs["note"]
    text = cl.format_table(table)
    assert "NOTHING CHECKED" in text and "FAIL" not in text.replace("NOTHING", "")
    with pytest.raises(AssertionError, match="empty"):
        assert_rejects(table, rows={"formula": "MEAN"})


def test_negative_control_helper_is_not_vacuous():
    """assert_rejects fails on a passing table and on a table without the targeted rows."""
    chains = 400
    x = np.zeros((chains, 2))
    x[:, 1] = np.tile([-1.0, 1.0], chains // 2)
    good = cl.check(synthetic_result([pred(1, "mean", 0.0)], x))
    with pytest.raises(AssertionError, match="not rejected"):
        assert_rejects(good, rows={"formula": "MEAN"})
    wrong = cl.check(synthetic_result([pred(1, "mean", 0.0)], x), overrides={"shift": 1.0})
    assert_rejects(wrong, rows={"formula": "MEAN"})
    with pytest.raises(AssertionError, match="no row"):
        assert_rejects(wrong, rows={"formula": "VARIANCE"})


@pytest.mark.parametrize("false_alarm", [0.0, 1.0, -0.1, 1.5, float("nan"), "0.1", True])
def test_false_alarm_outside_unit_interval_is_rejected(false_alarm):
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="false_alarm"):
        cl.check(synthetic_result([pred(1, "mean", 0.0)], x), false_alarm=false_alarm)


def test_unknown_or_malformed_overrides_are_rejected():
    x = np.zeros((10, 2))
    result = synthetic_result([pred(1, "mean", 0.0)], x)
    with pytest.raises(ValueError, match="overrides"):
        cl.check(result, overrides={"no_such_input": 1})
    with pytest.raises(ValueError, match="overrides"):
        cl.check(result, overrides=[("shift", 1.0)])
    empty = synthetic_result([], x)
    with pytest.raises(ValueError, match="overrides"):
        cl.check(empty, overrides={"shift": 1.0})

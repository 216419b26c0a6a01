"""Reproductions: the paper-vs-theory comparison logic and a smoke run at tiny sizes."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import stats

from collapse_lab.reproductions import main
from collapse_lab.reproductions._core import (
    Published,
    Row,
    SimCheck,
    finalise,
    normal_interval,
    paper_standard_error,
    paper_verdict,
    seed_mean_interval,
    sim_check_row,
)
from collapse_lab.reproductions._theory import mean_total_collapse_time
from collapse_lab.theory import wright_fisher as wf


def test_paper_standard_error_from_seed_count():
    assert paper_standard_error(2.0, 100) == pytest.approx(0.2)
    assert paper_standard_error(1.0, 1) == 1.0
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="seeds"):
            paper_standard_error(1.0, bad)
    with pytest.raises(ValueError, match="sd"):
        paper_standard_error(-1.0, 10)


def test_seed_mean_interval_matches_normal_theory_and_keeps_skew():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 2.0, 20_000)
    lo, hi = seed_mean_interval(x, 100, center=5.0, level=0.99, num_resamples=20_000,
                                rng=np.random.default_rng(2))
    nlo, nhi = normal_interval(5.0, 2.0 / 10.0, 0.99)
    # resampling error of a 0.5 % quantile from 20k means: a few per cent of the half-width
    assert lo == pytest.approx(nlo, abs=0.05) and hi == pytest.approx(nhi, abs=0.05)
    # one seed of an exponential: the interval is the law itself (skewed), not +-z sd
    e = rng.exponential(1.0, 50_000)
    lo, hi = seed_mean_interval(e, 1, center=1.0, level=0.9, rng=np.random.default_rng(3))
    assert lo == pytest.approx(stats.expon.ppf(0.05), abs=0.02)
    assert hi == pytest.approx(stats.expon.ppf(0.95), abs=0.1)
    with pytest.raises(ValueError, match="level"):
        seed_mean_interval(x, 10, 0.0, level=1.0)
    with pytest.raises(ValueError, match="values"):
        seed_mean_interval([1.0], 10, 0.0)


def test_paper_verdicts():
    mc = Published(0.5, "fig", "mc", 100)
    assert paper_verdict(mc, 0.4, (0.3, 0.55)) == "within paper MC error"
    assert paper_verdict(mc, 0.4, (0.3, 0.45)) == "OUTSIDE paper MC error"
    # a 20 % reading tolerance widens the interval
    read = Published(0.5, "fig", "mc", 100, read_tol=0.2)
    assert paper_verdict(read, 0.4, (0.3, 0.45)) == "within paper MC error"
    assert paper_verdict(Published(1.1, "eq", "formula", abs_tol=5e-3), 1.1) == "agrees"
    assert paper_verdict(Published(1.2, "eq", "formula"), 1.1) == "DISAGREES"
    assert paper_verdict(Published(0.3, "b", "bound_lower"), 0.5) == "bound holds"
    assert paper_verdict(Published(0.7, "b", "bound_lower"), 0.5) == "BOUND VIOLATED"
    assert paper_verdict(Published(0.7, "b", "bound_upper"), 0.5) == "bound holds"
    assert paper_verdict(mc, None) == "no theory"
    with pytest.raises(ValueError, match="seeds"):
        Published(0.5, "fig", "mc")
    with pytest.raises(ValueError, match="kind"):
        Published(0.5, "fig", "guess")


def test_finalise_paper_error_from_seed_count_and_sim_check_negative_control():
    # Per-chain values with known law N(1, 1): the check passes against the true mean and
    # rejects a wrong one (|z| ~ 20). False-failure rate of the passing row: 1e-3 (fixed seed).
    x = np.random.default_rng(4).normal(1.0, 1.0, 4000)
    rows = [
        Row("p", "s", "q", Published(1.05, "fig", "mc", 25), theory=1.0, theory_kind="exact",
            sim_values=x, sim_check=SimCheck(x, 1.0)),
        Row("p", "s", "q", Published(1.9, "fig", "mc", 25), theory=1.0, theory_kind="exact",
            sim_values=x, sim_check=SimCheck(x, 1.3, label="wrong theory")),
    ]
    summary = finalise(rows, false_alarm=1e-3)
    assert summary["num_checked"] == 2
    assert rows[0].sim_verdict == "PASS" and rows[1].sim_verdict == "FAIL"
    assert not summary["all_pass"]
    # paper error: sd/sqrt(25) = 0.2; 1.05 is inside, 1.9 (4.5 SE) outside the 99 % interval
    assert rows[0].paper_se == pytest.approx(0.2, rel=0.05)
    assert rows[0].paper_verdict == "within paper MC error"
    assert rows[1].paper_verdict == "OUTSIDE paper MC error"
    # probability rows use the exact binomial test
    out = sim_check_row(SimCheck(x, stats.norm.cdf(-1.0), kind="probability", threshold=0.0),
                        4.0, 1e-4)
    assert out["passed"]
    out = sim_check_row(SimCheck(x, 0.3, kind="probability", threshold=0.0), 4.0, 1e-4)
    assert not out["passed"]


def test_total_collapse_time_matches_composition_chain():
    for p, n in ((np.full(3, 1 / 3), 30), ([0.2, 0.3, 0.5], 12), (np.full(4, 0.25), 8),
                 ([0.3, 0.7], 20)):
        assert mean_total_collapse_time(p, n) == pytest.approx(wf.mean_fixation_time(p, n),
                                                               rel=1e-10)
    # Littler's diffusion value is close but not exact (1.8965 n for K = 10)
    exact = mean_total_collapse_time(np.full(10, 0.1), 100)
    assert abs(exact - wf.littler_time(np.full(10, 0.1), 100)) > 1.0
    with pytest.raises(ValueError, match="n must"):
        mean_total_collapse_time([0.5, 0.5], 0)


def test_reproduce_smoke_tiny(tmp_path):
    out = tmp_path / "rep"
    rc = main(["shumailov_gaussian", "dohmatob_regression", "--tiny", "--chains", "256",
               "--out", str(out)])
    assert rc == 0
    report = (out / "report.md").read_text()
    assert "sim vs theory" in report and "paper vs theory" in report
    assert "needs LinearRegression (not available)" in report or "LinearRegression" in report
    assert (out / "shumailov_gaussian.png").exists()
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 4
    gauss = [r for r in rows if r["paper"].startswith("Shumailov")]
    assert gauss and all(r["sim_vs_theory"] in ("PASS", "not checked") for r in gauss)
    assert any(r["paper_vs_theory"] == "agrees" for r in gauss)
    with pytest.raises(SystemExit):
        main(["no_such_paper", "--out", str(out)])

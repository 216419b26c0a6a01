"""Figures: they render, carry labelled axes, theory overlays and log axes where data span decades.

One statistical assertion (the collapse rate against theory, ``test_collapse_rate_matches_theory``)
states its false-failure rate there; everything else is deterministic.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

pytest.importorskip("seaborn")

from _controls import assert_rejects  # noqa: E402

import collapse_lab as cl  # noqa: E402
from collapse_lab import analysis, plots, report  # noqa: E402

NUM_CHAINS = 400


@pytest.fixture(scope="module")
def runs():
    """Three exact-path replace runs (n = 4, 16, 64) sharing one compiled kernel."""
    family = cl.Gaussian()
    out = []
    for index, n in enumerate((4, 16, 64)):
        result = cl.run_chains(
            jax.random.key(100 + index),
            family,
            family.source(0.0, 1.0),
            num_chains=NUM_CHAINS,
            num_generations=30,
            num_samples=n,
            method="exact",
        )
        out.append({"assignment": {"num_samples": n}, "result": result, "table": cl.check(result)})
    return out


def _texts(fig):
    return [ax.get_xlabel() for ax in fig.axes] + [ax.get_ylabel() for ax in fig.axes]


def test_trajectories_have_bands_theory_and_log_axes(runs):
    result = runs[0]["result"]
    fig = plots.trajectories_figure(result)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4
    assert all(ax.get_xlabel() == "generation t" and ax.get_ylabel() for ax in visible)
    by_label = {ax.get_ylabel(): ax for ax in visible}
    variance = next(ax for label, ax in by_label.items() if label.startswith("variance"))
    assert variance.get_yscale() == "log"  # spans decades by generation 30 at n = 4
    log_var = next(ax for label, ax in by_label.items() if label.startswith("log variance"))
    assert log_var.get_yscale() == "linear"
    theory = [line for line in log_var.get_lines() if line.get_label().startswith("theory")]
    assert theory and "G4" in theory[0].get_label()
    assert fig.legends  # the shared legend of bands / median / mean
    assert fig.get_size_inches()[0] <= 7.5  # fits a paper's text width


def test_survival_and_tail_loss(runs):
    fig = plots.survival_figure(runs[0]["result"])
    assert fig is not None and len(fig.axes) == 2
    survival, tails = fig.axes
    assert survival.get_yscale() == "log" and survival.get_ylabel() == "surviving fraction"
    assert any(line.get_label().startswith("theory") for line in survival.get_lines())
    assert tails.get_title() == "Tail loss"


def test_zscore_overview_marks_failures(runs):
    result = runs[0]["result"]
    good = plots.zscore_figure(runs[0]["table"])
    assert "rows pass" in good.axes[0].get_title()
    wrong = cl.check(result, overrides={"estimator": "unbiased"})  # negative control
    fig = plots.zscore_figure(wrong, title="negative control")
    title = fig.axes[0].get_title()
    assert title.startswith("negative control")
    assert_rejects(wrong, rows={"formula": "G4"})
    assert f"/{len(wrong)} rows pass" in title


def test_collapse_rate_matches_theory(runs):
    """Collapse rate of E[log var] against the exact G4 value, one z per run (independent chains).

    z = (rate - theory) / se with se from the across-chain standard deviation; the rate is a
    linear map of the chain mean of log var_T, so z is asymptotically N(0, 1) (400 chains).
    |z| < 4.5 for all three runs: false-failure rate < 3 * 6.8e-6 = 2e-5.
    """
    for point in runs:
        rate = analysis.collapse_rate(point["result"])
        assert rate["observable"] == "log_variance" and rate["generation"] == 30
        z = (rate["rate"] - rate["theory_rate"]) / rate["std_error"]
        assert abs(z) < 4.5, (point["assignment"], rate)
    # Theory: E[log var_t] = t E[log(chi2_{n-1} / n)], so the rate falls roughly like 1/n.
    rates = [analysis.collapse_rate(p["result"])["theory_rate"] for p in runs]
    assert rates[0] > rates[1] > rates[2] > 0


def test_sweep_figure_uses_log_n(runs):
    fig = plots.sweep_figure(runs)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "sample size n"
    assert "collapse rate" in ax.get_ylabel()
    assert any(line.get_label() == "theory" for line in ax.get_lines())


def test_theory_frame_is_dense_where_the_family_allows(runs):
    frame = analysis.theory_frame(runs[0]["result"])
    generations = frame[frame["label"] == "E[log var]"]["generation"]
    assert len(generations) == 30  # every generation (<= 60 points)
    assert not math.isnan(frame["predicted"].iloc[0])


def test_write_figures_saves_pngs(tmp_path, runs):
    paths = report.draw_run_figures(runs[0]["result"], runs[0]["table"], tmp_path)
    assert [p.name for p in paths] == ["trajectories.png", "survival.png", "zscores.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (sweep,) = report.draw_sweep_figures(runs, tmp_path)
    assert sweep.name == "collapse_rate.png" and sweep.stat().st_size > 10_000
    assert not list(tmp_path.glob(".*tmp*"))


def test_figures_do_not_touch_pyplot_state(runs):
    import matplotlib

    plots.zscore_figure(runs[2]["table"])
    assert (
        "matplotlib.pyplot" not in __import__("sys").modules
        or not __import__("matplotlib.pyplot").pyplot.get_fignums()
    )
    assert matplotlib.rcParams["figure.figsize"] == matplotlib.rcParamsDefault["figure.figsize"]
    assert np.isfinite(analysis.collapse_rate(runs[2]["result"])["rate"])

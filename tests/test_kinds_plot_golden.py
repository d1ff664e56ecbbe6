"""Every golden sweep draws with its kind's plot, and a plot uses each point's stored model.

Sweeps of format >= 1.2 store each point's model (:meth:`lmech.sweep.SweepResult.model_at`);
plots that need a model take it from there and fall back to the sweep's flat
parameters (``meta["fixed"]``) for 1.0 / 1.1 archives, which store none.
"""

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import dmft  # noqa: E402,F401  (registers the kinds)
import odes  # noqa: E402,F401
import replica  # noqa: E402,F401
import validation  # noqa: E402,F401
from lmech import archive  # noqa: E402
from lmech.cli import main  # noqa: E402
from lmech.config import get_kind, resolve_callable  # noqa: E402
from lmech.sweep import sweep  # noqa: E402

REF = Path(__file__).parent / "reference"
SWEEPS = [p for p in sorted(REF.glob("sweep_*.json")) if json.loads(p.read_text())["kind"] == "lmech.Sweep"]


def _load(path):
    rec = json.loads(path.read_text())
    return rec, archive.load(REF / rec["file"], rec["name"])


def _drawn(ax):
    """What an axes shows: its lines' data and its meshes' arrays."""
    lines = [(l.get_label(), np.asarray(l.get_xdata(), float), np.asarray(l.get_ydata(), float))
             for l in ax.get_lines()]
    meshes = [np.asarray(c.get_array(), float) for c in ax.collections if c.get_array() is not None]
    return lines, meshes


def _same_drawing(a, b):
    (la, ma), (lb, mb) = a, b
    assert [x[0] for x in la] == [x[0] for x in lb]
    for (_, xa, ya), (_, xb, yb) in zip(la, lb):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert len(ma) == len(mb)
    for u, v in zip(ma, mb):
        np.testing.assert_array_equal(u, v)


def test_golden_sweeps_cover_both_ways_of_rebuilding_a_model():
    versions = {json.loads(p.read_text())["format_version"] for p in SWEEPS}
    assert {"1.1", "1.2"} <= versions


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_golden_sweep_plots_with_its_kind(path, tmp_path):
    rec, res = _load(path)
    stored = [res.model_at(i) for i in range(int(np.prod(res.shape)))]
    # 1.2 archives hand every finished point's model to the plot; 1.0/1.1 ones none
    if rec["format_version"] in ("1.0", "1.1"):
        assert all(m is None for m in stored)
    else:
        assert any(m is not None for m in stored)
    kind = get_kind(res.meta["sweep_kind"])
    assert kind.plot, kind.name
    fig, ax = plt.subplots()
    resolve_callable(kind.plot)(res, ax)
    lines, meshes = _drawn(ax)
    assert lines or meshes
    assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), "a figure needs labelled axes"
    plt.close(fig)
    # and through the command line, which draws the same kind's plot into a PNG
    png = tmp_path / "fig.png"
    assert main(["plot", str(REF / rec["file"]), "-o", str(png)]) == 0
    assert png.stat().st_size > 0


@pytest.mark.parametrize("path", [p for p in SWEEPS if "bayes" in p.stem], ids=lambda p: p.stem)
def test_bayes_plot_takes_the_stored_model_else_the_flat_parameters(path):
    # without its flat parameters a 1.2 sweep draws the same figure (the stored model serves);
    # a 1.1 sweep has only the flat parameters
    rec, res = _load(path)
    plot = resolve_callable(get_kind("replica.bayes_optimal").plot)
    fig, ax = plt.subplots()
    plot(res, ax)
    want = _drawn(ax)
    plt.close(fig)
    if rec["format_version"] in ("1.0", "1.1"):
        return   # nothing stored: the flat parameters are the only source (drawn above)
    res.meta["fixed"] = {}
    fig, ax = plt.subplots()
    plot(res, ax)
    _same_drawing(_drawn(ax), want)
    plt.close(fig)


def test_bayes_plot_uses_the_stored_model_over_misleading_flat_parameters(tmp_path):
    # a Rademacher prior: the transition at alpha_c = 1.2447 (Gyorgyi, PRA 41, 7097 (1990)),
    # found by the plot itself (thresholds not archived) from the model it rebuilds
    res = sweep("replica.kinds:bayes_point", {"alpha": [0.5, 2.0]},
                fixed={"prior": "rademacher", "channel": "sign", "thresholds": False},
                archive=tmp_path / "s.h5")
    res = archive.load(tmp_path / "s.h5", "sweep")
    assert res.model_at(0).prior.name == "rademacher"
    # flat parameters that would rebuild a Gaussian prior (no first-order transition)
    res.meta["fixed"] = {"prior": "gaussian", "channel": "sign"}
    fig, ax = plt.subplots()
    resolve_callable(get_kind("replica.bayes_optimal").plot)(res, ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("first-order transition 1.244") for lab in labels), labels
    plt.close(fig)


def test_gardner_margin_plot_uses_the_stored_prior(tmp_path):
    # a Rademacher (binary) sweep over the margin draws the spherical capacity for comparison
    sweep("replica.kinds:gardner_point", {"margin": [0.0, 0.5]},
          fixed={"prior": "rademacher", "alpha": 0.5}, archive=tmp_path / "g.h5")
    res = archive.load(tmp_path / "g.h5", "sweep")
    res.meta["fixed"] = {}      # the flat name would default to spherical
    fig, ax = plt.subplots()
    resolve_callable(get_kind("replica.gardner").plot)(res, ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("rademacher weights" in lab for lab in labels), labels
    assert "spherical weights (Gardner 1988)" in labels
    plt.close(fig)


@pytest.mark.parametrize("name", ["result_validation_ValidationReport", "result_odes_Trajectory"])
def test_lmech_plot_draws_reports_and_single_results_with_labelled_axes(name, tmp_path):
    from lmech.cli import figure

    rec = json.loads((REF / f"{name}.json").read_text())
    fig = figure(archive.load(REF / rec["file"], rec["name"]))
    labels = [(a.get_xlabel(), a.get_ylabel()) for a in fig.axes if a.has_data()]
    assert labels and all(x.strip() and y.strip() for x, y in labels)
    plt.close(fig)
    png = tmp_path / "fig.png"
    assert main(["plot", str(REF / rec["file"]), "-o", str(png)]) == 0
    assert png.stat().st_size > 0


def test_dmft_figures_mark_the_threshold_they_are_about():
    # random RNN over g in [0.5, 1.5]: the chaos onset g_c = 1 (Sompolinsky, Crisanti & Sommers,
    # PRL 61, 259 (1988)); the p = 3 sweep over T in [1, 2] lies above T_d = sqrt(3/8) = 0.612
    # (Crisanti, Horner & Sommers 1993), so no T_d line is drawn there
    rnn = archive.load(REF / "sweep_dmft_rnn.h5", "sweep")
    fig, ax = plt.subplots()
    resolve_callable(get_kind("dmft.rnn").plot)(rnn, ax)
    assert "$g_c$ = 1" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    pspin = archive.load(REF / "sweep_dmft_pspin.h5", "sweep")
    fig, ax = plt.subplots()
    resolve_callable(get_kind("dmft.pspin").plot)(pspin, ax)
    assert not any(t.get_text().startswith("$T_d$ =") for t in ax.get_legend().get_texts())
    plt.close(fig)

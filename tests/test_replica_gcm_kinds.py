"""The replica.gcm sweep kind: points, checks, the example config and the plots."""

from __future__ import annotations

import math
import pathlib
import tomllib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import replica  # noqa: E402
from lmech.config import parse_config  # noqa: E402
from lmech.sweep import sweep  # noqa: E402
from replica.kinds import GCMSpec, gcm_check, gcm_plot, gcm_point  # noqa: E402

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def test_point_equals_direct_solve_and_stores_the_flat_spec():
    r = gcm_point(alpha=0.05, p=2000, a=1.5, r=0.5, noise=0.1, lam=0.01)
    m = replica.power_law_model(2000, 1.5, 0.5, noise=0.1, reg=0.01)
    d = replica.solve(m, 0.05)
    assert r.success and r.test_error == d.test_error and r.n == pytest.approx(100.0)
    assert isinstance(r.model, GCMSpec) and r.model.p == 2000
    # a fixed lambda of this package is Cui et al.'s l = 1 (lambda_C = lambda/alpha); noisy, a = 1.5,
    # r = 1/2: l* = a/(1 + 2 a r) = 0.6 < 1 < a, the variance regime, slope -(1 - l/a) = -1/3
    assert r.slope_pred == pytest.approx(-1 / 3, rel=1e-14)
    assert r.slope_pred_noiseless == pytest.approx(-1.0, rel=1e-14)   # -2 l min(r, 1)


def test_decay_and_optimal_modes():
    # decay: lambda_C = lam n^-ell, lambda = alpha lambda_C
    r = gcm_point(alpha=0.01, p=1000, lam=2.0, ell=0.5, reg_mode="decay", noise=0.1)
    assert r.reg == pytest.approx(0.01 * 2.0 * 10.0 ** -0.5, rel=1e-14)
    o = gcm_point(alpha=0.01, p=1000, reg_mode="optimal", noise=0.1)
    direct = replica.optimal_reg(replica.power_law_model(1000, 1.5, 2 / 3, noise=0.1), 0.01)
    assert o.reg == direct.reg and o.test_error == direct.test_error
    assert o.slope_pred == pytest.approx(-2 / 3, rel=1e-14)


def test_check_names_the_parameter():
    with pytest.raises(ValueError, match="reg_mode"):
        gcm_check(alpha=0.1, reg_mode="best")
    with pytest.raises(ValueError, match="a"):
        gcm_check(alpha=0.1, a=0.0)
    with pytest.raises(ValueError, match="alpha"):
        gcm_check(alpha=0.0)


def test_plots_learning_curve_and_diagram(tmp_path):
    res = sweep("replica.kinds:gcm_point", {"alpha": list(np.geomspace(1e-3, 1e-1, 21))},
                fixed={"p": 20000, "noise": 0.0, "lam": 0.0}, archive=tmp_path / "lc.h5")
    fig, ax = plt.subplots()
    gcm_plot(res, ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("predicted slope -2") for t in labels)
    assert any(t.startswith("fitted slope") for t in labels)
    plt.close(fig)
    res2 = sweep("replica.kinds:gcm_point", {"alpha": [0.01, 0.1, 1.0], "lam": [1e-4, 1e-2, 1.0]},
                 fixed={"p": 500, "noise": 0.1}, archive=tmp_path / "d.h5")
    fig, ax = plt.subplots()
    gcm_plot(res2, ax)
    best = [l for l in ax.get_lines() if "best" in l.get_label()][0].get_ydata()
    assert np.all(np.isfinite(best))
    plt.close(fig)


def test_example_crossover_first_and_last_points():
    text = (EXAMPLES / "replica_gcm_crossover.toml").read_text()
    cfg = parse_config(tomllib.loads(text), text)
    pts = cfg.all_points()
    assert len(pts) == 41 and math.isclose(pts[0]["alpha"] * pts[0]["p"], 10.0, rel_tol=1e-12)
    first = gcm_point(**pts[0], **cfg.options)
    # noiseless and noisy predicted slopes of the crossover (Cui et al. NeurIPS 2021): -2 and -2/3
    assert first.slope_pred_noiseless == pytest.approx(-2.0) and first.slope_pred == pytest.approx(-2 / 3)
    assert first.success

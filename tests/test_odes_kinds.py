"""The sweep kind odes.phase_diagram: point, check, plot, example config; escape-time physics."""

import math
from pathlib import Path

import numpy as np
import pytest

import odes
from lmech.config import ConfigError, get_kind, load_config, parse_config, resolve_callable
from odes import fixed_points as fp
from odes.kinds import initial_state, phase_check, phase_plot, phase_point

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_kind_is_registered_with_importable_callables():
    kind = get_kind("odes.phase_diagram")
    assert kind.name == "odes.phase_diagram" and resolve_callable(kind.point) is phase_point
    for name in (kind.point, kind.check, kind.plot):
        assert callable(resolve_callable(name))


def test_point_scalars_hold_the_phase_diagram_observables():
    r = phase_point(lr=0.5, r0=1e-3, t_max=600.0)
    assert r.success
    for k in ("eg_final", "plateau_eg", "plateau_t", "plateau_length", "t_escape"):
        assert k in r.scalars and math.isfinite(r.scalars[k])
    assert r.arrays == {}
    assert r.plateau_t < r.t_escape < 600.0
    assert 0 < r.plateau_length < r.t_escape


def test_escape_time_is_set_by_the_unstable_eigenvalue_of_the_plateau():
    """As r0 -> 0 the trajectory passes ever closer to the symmetric fixed point (generic branch):
    the plateau value tends to its eg, and each decade of r0 adds ln(10)/lambda_u to the escape
    time, lambda_u the positive eigenvalue of its Jacobian (Saad & Solla 1995, symmetric phase)."""
    gen = fp.symmetric_fixed_point(odes.CommitteeMachine(2, 2, lr=0.5), branch="generic")
    lam_u = gen.eigenvalues[0].real
    t = [phase_point(lr=0.5, r0=r0, t_max=1500.0) for r0 in (1e-6, 1e-7, 1e-8)]
    rates = [math.log(10.0) / (b.t_escape - a.t_escape) for a, b in zip(t[:-1], t[1:])]
    assert abs(rates[1] - lam_u) < abs(rates[0] - lam_u) < 0.02 * lam_u
    assert abs(t[2].plateau_eg - gen.eg) < abs(t[0].plateau_eg - gen.eg) < 3e-5


def test_relative_plateau_measure_ignores_a_noisy_asymptote():
    r = phase_point(lr=0.5, r0=1e-3, t_max=3000.0, noise=0.01)
    asym = fp.noise_asymptote(odes.CommitteeMachine(2, 2, lr=0.5, noise=0.01)).eg
    assert r.eg_final == pytest.approx(asym, rel=1e-6)
    assert r.plateau_eg > 10 * asym
    assert r.plateau_t < r.t_escape


def test_check_names_the_parameter():
    with pytest.raises(ValueError, match="r0"):
        phase_check(r0=2.0, q0=0.5)
    with pytest.raises(ValueError, match="K"):
        phase_check(K=0)
    with pytest.raises(ValueError, match="t_max"):
        phase_check(t_max=-1.0)
    with pytest.raises(ValueError, match="q0"):
        initial_state(2, 2, -1.0, 1e-3, 0)


@pytest.mark.parametrize("name", ["odes_phase_diagram.toml", "odes_lr_vs_K.toml"])
def test_example_config_parses_and_bad_configs_fail_before_work(name):
    cfg = load_config(EXAMPLES / name)
    assert cfg.kind.name == "odes.phase_diagram"
    assert len(cfg.all_points()) == 40
    with pytest.raises(ConfigError, match="r0"):
        parse_config({"kind": "odes.phase_diagram", "model": {"q0": 0.5}, "grid": {"r0": [1e-3, 2.0]}})
    with pytest.raises(ConfigError, match="lr"):
        parse_config({"kind": "odes.phase_diagram", "grid": {"lr": [-0.5]}})


def test_plot_draws_a_sweep():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmech.sweep import sweep

    res = sweep("odes.kinds:phase_point", {"lr": [0.5, 1.0], "r0": [1e-3, 1e-2]},
                fixed={"t_max": 400.0})
    assert res.arrays["t_escape"].shape == (2, 2)
    assert np.all(np.isfinite(res.arrays["t_escape"]))
    fig, ax = plt.subplots()
    phase_plot(res, ax)
    assert len(ax.lines) == 2
    plt.close(fig)


def test_fast_convergence_to_zero_error_is_not_a_plateau():
    """eta = 1.5: eg reaches exact zero (rounding) inside the window; the relative measure must
    neither divide by zero nor take the converged tail for a plateau."""
    r = phase_point(lr=1.5, r0=10 ** -3.5, t_max=3000.0)
    assert r.success
    assert 0.01 < r.plateau_eg < 0.05 and r.plateau_t < r.t_escape < 200.0

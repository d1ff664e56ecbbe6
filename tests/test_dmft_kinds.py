"""Tests of the dmft sweep kinds, example configs and archive round trips."""

import math
from pathlib import Path

import numpy as np
import pytest

import dmft
from lmech import archive
from lmech.config import ConfigError, get_kind, load_config, parse_config, resolve_callable

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name", ["dmft.pspin", "dmft.linreg", "dmft.rnn", "dmft.glm"])
def test_kinds_registered(name):
    import inspect

    kind = get_kind(name)
    assert kind.name == name and resolve_callable(kind.point) is getattr(dmft.kinds, name[5:] + "_point")
    for ref in (kind.point, kind.check, kind.plot):
        assert callable(resolve_callable(ref))
    # every declared parameter and option is a keyword of the point function, with the
    # declared default
    sig = inspect.signature(resolve_callable(kind.point)).parameters
    for key, par in {**kind.params, **kind.options}.items():
        assert key in sig, key
        assert sig[key].default == par.default, key


def test_pspin_point_scalars_and_reference():
    # dt = 0.05: at 0.1 the (undivided, conservative) Richardson estimate is above rtol 1e-4
    res = dmft.kinds.pspin_point(p=3, T=1.0, t_max=2.0, dt=0.05)
    assert res.success
    assert res.scalars["energy_reference"] == pytest.approx(-0.5)
    assert "C" not in res.arrays and "e" in res.arrays
    full = dmft.solve(dmft.SphericalPSpin(p=3, T=1.0), 2.0, dt=0.05)
    assert res.energy == full.energy
    low = dmft.kinds.pspin_point(p=3, T=0.5, t_max=1.0, dt=0.1)
    assert low.scalars["energy_reference"] == pytest.approx(-0.88669, abs=1e-5)


def test_linreg_point_matches_mp():
    res = dmft.kinds.linreg_point(alpha=2.0, noise=0.1, t_max=3.0, dt=0.025)
    assert res.error == pytest.approx(res.error_mp, abs=2e-4)


def test_rnn_point_has_stationary_variance():
    res = dmft.kinds.rnn_point(g=0.5, phi="relu", t_max=2.0, dt=0.2, n_quad=8)
    assert math.isnan(res.stationary_variance)
    res = dmft.kinds.rnn_point(g=2.0, phi="erf", t_max=2.0, dt=0.2)
    assert res.stationary_variance == pytest.approx(_scs_erf_variance(2.0), rel=1e-10)


def _scs_erf_variance(g):
    # Independent computation of the SCS stationary variance (Sompolinsky, Crisanti &
    # Sommers, PRL 61, 259 (1988), eq. (7)): Delta0^2/2 = g^2 Var Psi(x), x ~ N(0, Delta0).
    # By Price's theorem Var Psi = int_0^Delta0 C_phi(D) dD with, for phi = erf(sqrt(pi) x/2),
    # C_phi(D) = (2/pi) arcsin(k D / (1 + k Delta0)), k = pi/2 (Williams 1998), whose
    # integral is closed: int_0^d arcsin(c D) dD = d arcsin(c d) + (sqrt(1 - c^2 d^2) - 1)/c.
    import mpmath as mp
    mp.mp.dps = 30
    k = mp.pi / 2

    def f(d):
        c = k / (1 + k * d)
        var = (2 / mp.pi) * (d * mp.asin(c * d) + (mp.sqrt(1 - (c * d) ** 2) - 1) / c)
        return d * d / 2 - g * g * var

    return float(mp.findroot(f, (mp.mpf("0.5"), mp.mpf(20)), solver="anderson"))


def test_glm_point_closed_and_sampled():
    closed = dmft.kinds.glm_point(alpha=2.0, teacher="sign", t_max=3.0, dt=0.1)
    sampled = dmft.kinds.glm_point(alpha=2.0, teacher="sign", t_max=3.0, dt=0.1,
                                   method="sampled", n_traj=400, n_replicas=4)
    assert closed.success and sampled.success
    assert closed.test_error == pytest.approx(_glm_sign_test_error(2.0, 3.0),
                                              abs=closed.error_estimate["test_error"] + 1e-9)
    assert abs(sampled.M - closed.M) < 5 * sampled.M_se[-1]
    relu = dmft.kinds.glm_point(teacher="relu", t_max=1.0, dt=0.1)
    assert math.isnan(relu.test_error)
    with pytest.raises(ValueError, match="teacher"):
        dmft.kinds.glm_check(teacher="tanh")


def _glm_sign_test_error(alpha, t):
    # Exact test error of least-squares gradient flow from 0 on sign-teacher data (rho = 1,
    # no ridge): the linear equivalent has signal s = a^2, a = E|h| = sqrt(2/pi), so
    # M = (s + m)/a with m = -s int e^{-lambda t} dF(lambda) (the bias part beta* e^{-S t}),
    # Q = C + 2m + s with C the exact Marchenko-Pastur error dmft.mp_error; F is the
    # Marchenko-Pastur law of ratio 1/alpha (< 1: no atom), integrated here by scipy.quad.
    from scipy.integrate import quad
    g = 1.0 / alpha
    lo, hi = (1 - math.sqrt(g)) ** 2, (1 + math.sqrt(g)) ** 2
    dens = lambda x: math.sqrt((hi - x) * (x - lo)) / (2 * math.pi * g * x)  # noqa: E731
    lap = quad(lambda x: math.exp(-x * t) * dens(x), lo, hi, epsabs=1e-13, epsrel=1e-12)[0]
    a = math.sqrt(2 / math.pi)
    s = a * a
    m = -s * lap
    lin = dmft.GLMDynamics(alpha=alpha, teacher="sign").linear_equivalent()
    C = dmft.mp_error(lin, t)
    return math.acos(((s + m) / a) / math.sqrt(C + 2 * m + s)) / math.pi


def test_glm_point_logistic_and_sgd_through_the_command_line(tmp_path):
    # logistic loss and persistent SGD go to the sampled process by default (method "auto")
    res = dmft.kinds.glm_point(alpha=2.0, loss="logistic", ridge=0.05, batch_fraction=0.5,
                               t_max=1.0, dt=0.1, n_traj=200, n_replicas=2)
    assert res.success and res.meta["method"] == "sampled"
    # the test error of a linear classifier against a sign teacher is arccos(M/sqrt(Q rho))/pi
    # (Engel & Van den Broeck, Statistical Mechanics of Learning, eq. (2.3)), within the
    # Monte Carlo errors of the replica averages
    assert abs(res.test_error - math.acos(res.M / math.sqrt(res.Q)) / math.pi) <= \
        5 * res.error_estimate["test_error"]
    assert 0 <= res.train_error < 0.5
    assert math.isnan(res.test_risk) and "replica_state" not in res.arrays
    with pytest.raises(ValueError, match="batch_fraction"):
        dmft.kinds.glm_check(batch_fraction=0.0)
    with pytest.raises(ValueError, match="teacher"):
        dmft.kinds.glm_check(loss="hinge", teacher="linear")
    from lmech.cli import main
    text = (EXAMPLES / "dmft_glm_logistic.toml").read_text()
    text = text.replace("num = 6", "num = 2").replace("t_max = 5.0", "t_max = 0.5").replace(
        "n_traj = 2000", "n_traj = 100").replace("n_replicas = 4", "n_replicas = 2")
    cfg = tmp_path / "g.toml"
    cfg.write_text(text)
    assert main(["run", str(cfg), "-o", str(tmp_path / "g.h5")]) == 0
    sweep = archive.load(tmp_path / "g.h5")
    err = np.asarray(sweep.arrays["test_error"])
    assert err.shape == (2, 2) and np.all((0 < err) & (err < 0.5))


def test_checks_name_parameters():
    with pytest.raises(ValueError, match="T"):
        dmft.kinds.pspin_check(T=-0.5)
    with pytest.raises(ValueError, match="t_max"):
        dmft.kinds.pspin_check(t_max=0.0)
    with pytest.raises(ValueError, match="alpha"):
        dmft.kinds.linreg_check(alpha=-1.0)
    with pytest.raises(ValueError, match="phi"):
        dmft.kinds.rnn_check(phi="softsign")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("dmft_*.toml")))
def test_example_configs_parse(path):
    cfg = load_config(path)
    assert cfg.kind.name.startswith("dmft.")
    assert len(cfg.all_points()) >= 2


def test_glm_config_fixes_a_loss_given_as_a_table():
    # [model] loss = {kind = "huber", delta = 0.5} is built by the loss registry (as by
    # `lmech validate`), checked at every point by the kind, and kept as the block itself
    from lmech.blocks.losses import Huber
    data = {"kind": "dmft.glm", "model": {"loss": {"kind": "huber", "delta": 0.5}},
            "grid": {"alpha": [1.0, 2.0]}}
    cfg = parse_config(data)
    assert cfg.fixed["loss"] == Huber(delta=0.5)
    assert all(p["loss"] == Huber(delta=0.5) for p in cfg.all_points())
    with pytest.raises(ConfigError, match=r"^model\.loss\.delta: must lie in"):
        parse_config({**data, "model": {"loss": {"kind": "huber", "delta": 0.0}}})
    with pytest.raises(ConfigError, match=r"^model\.loss\.kind: "):
        parse_config({**data, "model": {"loss": {"kind": "hubber"}}})


def test_bad_config_names_key():
    with pytest.raises(ConfigError, match="model.T"):
        parse_config({"kind": "dmft.pspin", "model": {"T": -1.0}, "grid": {"p": [3]}})


@pytest.mark.parametrize("model", [dmft.SphericalPSpin(p=3, T=0.7),
                                   dmft.LinearRegressionGF(alpha=2.0, noise=0.1),
                                   dmft.RandomRNN(g=1.5, phi="erf")])
def test_archive_round_trip(tmp_path, model):
    res = dmft.solve(model, 2.0, dt=0.1)
    path = tmp_path / "run.h5"
    archive.save(res, path, "run")
    back = archive.load(path, "run")
    assert isinstance(back, dmft.DMFTResult)
    assert back.same_as(res)
    assert back.model == model


def test_plot_functions(tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    class Fake:
        meta = {"axes": ["T"]}
        arrays = {"T": np.array([0.5, 1.0]), "energy": np.array([-0.8, -0.5]),
                  "energy_reference": np.array([-0.88, -0.5])}

    fig, ax = plt.subplots()
    dmft.kinds.plot_pspin(Fake(), ax)
    assert len(ax.lines) == 2
    plt.close(fig)

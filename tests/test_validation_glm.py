"""Tests of validation.glm: finite-d gradient flow, Langevin dynamics and persistent SGD on a GLM."""

import math

import numpy as np
import pytest

import dmft
from validation import compare, simulate_glm
from validation.glm import glm_point, selection_probabilities, simulate_glm_dynamics


def test_heun_flow_is_second_order_against_the_exact_square_loss_flow():
    # square loss, full batch: the eigenbasis solution is exact (no time step), with the same
    # data stream; the Heun error must fall by ~4 when dt halves (in the asymptotic regime
    # dt * s_max << 1, s_max ~ (1 + sqrt(1/alpha))^2 + ridge = 3.4 the stiffest mode)
    model = dmft.GLMDynamics(alpha=1.5, teacher="sign", ridge=0.1)
    times = [1.0, 3.0]
    exact = simulate_glm(model, 60, times, seed=4)
    errs = []
    for dt in (0.1, 0.05, 0.025):
        run = simulate_glm_dynamics(model, 60, times, seed=4, dt=dt)
        errs.append(max(np.max(np.abs(run.arrays[k] - exact.arrays[k]))
                        for k in ("M_t", "Q_t", "train_loss_t", "test_risk_t")))
    assert errs[-1] < 1e-3
    for a, b in zip(errs, errs[1:]):
        assert 3.5 < a / b < 4.5, errs


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_heun_flow_converges_in_the_step(loss):
    # Richardson ratio of successive differences: 4 for the smooth logistic loss; the hinge
    # (a kink) converges too, at least at first order
    model = dmft.GLMDynamics(alpha=2.0, loss=loss, ridge=0.05)
    runs = [simulate_glm_dynamics(model, 80, [2.0], seed=1, dt=dt).Q_t[0]
            for dt in (0.04, 0.02, 0.01, 0.005)]
    d = np.abs(np.diff(runs))
    if loss == "logistic":
        assert 3.5 < d[0] / d[1] < 4.5 and 3.5 < d[1] / d[2] < 4.5, d
    else:
        assert d[2] < d[0] / 1.8 and d[2] < 1e-3, d


def test_langevin_heun_matches_exact_ornstein_uhlenbeck():
    # temperature T: d beta = -grad L dt + sqrt(2T/d) dW; the exact OU transitions of
    # simulate_glm and the Heun scheme agree in distribution (means over seeds)
    model = dmft.GLMDynamics(alpha=2.0, teacher="sign", ridge=0.2, temperature=0.5)
    a = np.array([simulate_glm(model, 100, [2.0], seed=s).Q_t[0] for s in range(12)])
    b = np.array([simulate_glm_dynamics(model, 100, [2.0], seed=s, dt=0.02).Q_t[0]
                  for s in range(12)])
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) < 4 * se + 2e-3
    # and the thermal contribution is there: Q well above the T = 0 flow
    cold = simulate_glm(dmft.GLMDynamics(alpha=2.0, teacher="sign", ridge=0.2), 100, [2.0], seed=0)
    assert b.mean() > cold.Q_t[0] + 0.5


def test_selection_chain_probabilities():
    p11, p01 = selection_probabilities(0.25, 2.0, 0.1)
    lam = 1.0 / (0.75 * 2.0)
    assert p11 == pytest.approx(0.25 + 0.75 * math.exp(-0.1 * lam), rel=1e-15)
    assert p01 == pytest.approx(0.25 * (1 - math.exp(-0.1 * lam)), rel=1e-15)
    # stationarity: b p11 + (1-b) p01 = b
    assert 0.25 * p11 + 0.75 * p01 == pytest.approx(0.25, rel=1e-14)
    assert selection_probabilities(1.0, 2.0, 0.1) == (1.0, 1.0)


def test_sgd_with_b_one_is_gradient_flow_and_b_below_one_differs():
    gf = dmft.GLMDynamics(alpha=2.0, loss="logistic", ridge=0.05)
    sgd1 = dmft.GLMDynamics(alpha=2.0, loss="logistic", ridge=0.05, batch_fraction=1.0,
                            persistence=0.3)
    a = simulate_glm_dynamics(gf, 50, [1.0, 2.0], seed=2, dt=0.05)
    b = simulate_glm_dynamics(sgd1, 50, [1.0, 2.0], seed=2, dt=0.05)
    for k in ("M_t", "Q_t", "train_loss_t"):
        assert np.array_equal(a.arrays[k], b.arrays[k])
    c = simulate_glm_dynamics(dmft.GLMDynamics(alpha=2.0, loss="logistic", ridge=0.05,
                                               batch_fraction=0.2), 50, [1.0, 2.0], seed=2, dt=0.05)
    assert not np.allclose(a.Q_t, c.Q_t, rtol=1e-3)


def test_errors_name_the_parameter():
    m = dmft.GLMDynamics(loss="logistic")
    with pytest.raises(ValueError, match="times"):
        simulate_glm_dynamics(m, 20, [0.5, 0.33], dt=0.1)
    with pytest.raises(ValueError, match="model"):
        simulate_glm_dynamics(dmft.LinearRegressionGF(), 20, [0.5])
    with pytest.raises(ValueError, match="d"):
        simulate_glm_dynamics(m, 0, [0.5])
    with pytest.raises(ValueError, match="dt"):
        simulate_glm_dynamics(m, 10, [0.5], dt=0.0)
    with pytest.raises(ValueError, match="loss"):
        simulate_glm(m, 20, [0.5])
    with pytest.raises(ValueError, match="batch_fraction"):
        simulate_glm(dmft.GLMDynamics(batch_fraction=0.5), 20, [0.5])
    with pytest.raises(ValueError, match="method"):
        glm_point(20, 0, model=m, times=[0.5], method="euler")


def test_compare_sampled_logistic_theory_agrees_and_wrong_theory_disagrees():
    # validation.compare with the GLM simulator (issue 6): the sampled DMFT agrees with the
    # finite-d flow; a theory for a ridge 10 times larger is reported as disagreeing
    model = dmft.GLMDynamics(alpha=2.0, loss="logistic", ridge=0.05)
    th = dmft.solve(model, 2.0, method="sampled", dt=0.1, n_traj=2000, n_replicas=4, seed=1)
    times = th.t[::5]
    kw = dict(sizes=[100, 200, 400], seeds=8, observables=["M_t", "Q_t", "train_loss_t"],
              sim_options={"times": times, "dt": 0.05}, atol=0.005)
    rep = compare(th, model, **kw)
    assert rep.success and rep.agree, rep.table("Q_t")
    wrong = dmft.solve(dmft.GLMDynamics(alpha=2.0, loss="logistic", ridge=0.5), 2.0,
                       method="sampled", dt=0.1, n_traj=2000, n_replicas=4, seed=1)
    rep2 = compare(wrong, model, **kw)
    assert rep2.success and not rep2.agree


def test_glm_config_through_the_command_line(tmp_path, capsys):
    from lmech.cli import main
    from validation.config import load_validation_config
    from pathlib import Path
    ex = Path(__file__).parent.parent / "examples" / "validation_glm_logistic.toml"
    cfg = load_validation_config(ex)
    assert cfg.kind.name == "validation.glm" and cfg.model.loss == "logistic"
    text = ex.read_text().replace("sizes = [200, 400, 800]", "sizes = [100, 200]").replace(
        "seeds = 8", "seeds = 4").replace("t_max = 3.0", "t_max = 1.0")
    f = tmp_path / "g.toml"
    f.write_text(text)
    rc = main(["validate", str(f), "-o", str(tmp_path / "g.h5"), "--png", str(tmp_path / "g.png")])
    assert rc == 0
    assert (tmp_path / "g.png").exists()
    bad = tmp_path / "b.toml"
    bad.write_text(text.replace('method = "sampled"', 'method = "uniform"'))
    capsys.readouterr()
    assert main(["validate", str(bad), "-o", str(tmp_path / "b.h5")]) != 0
    assert "theory.n_replicas" in capsys.readouterr().err
    # logistic has no closure: method = "uniform" is refused, naming the key
    bad.write_text(text.replace('method = "sampled"', 'method = "uniform"').replace(
        "n_traj = 2000\n", "").replace("n_replicas = 4\n", "").replace("seed = 1\n", ""))
    assert main(["validate", str(bad), "-o", str(tmp_path / "b.h5")]) != 0
    assert "theory.method" in capsys.readouterr().err

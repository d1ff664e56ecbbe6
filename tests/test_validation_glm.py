"""Tests of validation.glm: finite-d gradient flow, Langevin dynamics and persistent SGD on a GLM."""

import math

import numpy as np
import pytest

import lmech

import dmft
from validation import compare, simulate_glm
from validation.glm import glm_point, selection_chain, selection_probabilities, simulate_glm_dynamics


def test_huber_flow_large_delta_is_the_square_loss_flow_and_converges_in_the_step():
    # Huber (Huber, Ann. Math. Statist. 35, 73 (1964)): for delta beyond every residual, the
    # gradient is the square loss's, so the simulator's run is the square-loss run (same data stream)
    from lmech.blocks.losses import Huber
    sq = dmft.GLMDynamics(alpha=1.5, teacher="relu", noise=0.2, ridge=0.1)
    big = dmft.GLMDynamics(alpha=1.5, teacher="relu", noise=0.2, ridge=0.1, loss=Huber(delta=1e6))
    a = simulate_glm_dynamics(sq, 60, [1.0, 3.0], seed=4, dt=0.05)
    b = simulate_glm_dynamics(big, 60, [1.0, 3.0], seed=4, dt=0.05)
    for k in ("M_t", "Q_t", "train_loss_t", "test_risk_t"):
        np.testing.assert_allclose(b.arrays[k], a.arrays[k], rtol=1e-12)
    # finite delta: the Heun flow of the piecewise-quadratic loss (l'' jumps) converges in the step
    # at least at first order: successive differences fall by > 1.8 per halving
    hub = dmft.GLMDynamics(alpha=1.5, teacher="relu", noise=0.2, ridge=0.1, loss=Huber(delta=0.3))
    runs = [simulate_glm_dynamics(hub, 80, [2.0], seed=1, dt=dt).Q_t[0] for dt in (0.04, 0.02, 0.01, 0.005)]
    d = np.abs(np.diff(runs))
    assert d[1] < d[0] / 1.8 and d[2] < d[1] / 1.8, d


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
    # the exact solution has no step: a dt passed with it would be silently ignored
    sq = dmft.GLMDynamics(alpha=1.5, teacher="sign", ridge=0.1)
    with pytest.raises(ValueError, match="dt"):
        glm_point(20, 0, model=sq, times=[0.5], method="exact", dt=0.05)
    exact = glm_point(20, 0, model=sq, times=[0.5], method="exact")
    assert np.array_equal(exact.Q_t, simulate_glm(sq, 20, [0.5], seed=0).Q_t)
    heun = glm_point(20, 0, model=sq, times=[0.5], method="heun", dt=0.05)
    assert heun.options["dt"] == 0.05


def test_compare_sampled_logistic_theory_agrees_and_wrong_theory_disagrees():
    # validation.compare with the GLM simulator: the sampled DMFT agrees with the
    # finite-d flow; a theory for a ridge 10 times larger is reported as disagreeing
    model = dmft.GLMDynamics(alpha=2.0, loss="logistic", ridge=0.05)
    th = dmft.solve(model, 2.0, method="sampled", dt=0.1, n_traj=2000, n_replicas=4, seed=1)
    times = th.t[::5]
    kw = dict(sizes=[100, 200, 400], seeds=8, observables=["M_t", "Q_t", "train_loss_t"],
              sim_options={"times": times, "dt": 0.05}, atol=0.005)
    rep = compare(th, model, **kw)
    assert rep.success and rep.verdict != "disagree", rep.table("Q_t")
    wrong = dmft.solve(dmft.GLMDynamics(alpha=2.0, loss="logistic", ridge=0.5), 2.0,
                       method="sampled", dt=0.1, n_traj=2000, n_replicas=4, seed=1)
    rep2 = compare(wrong, model, **kw)
    assert rep2.success and rep2.verdict == "disagree"


def _sub(text, old, new):
    """``text.replace(old, new)``, asserting that ``old`` is there (an edit that silently did
    nothing would let the test run the unedited example)."""
    assert old in text, old
    return text.replace(old, new)


def test_glm_config_through_the_command_line(tmp_path, capsys):
    from lmech.cli import main
    from validation.config import load_validation_config
    from pathlib import Path
    ex = Path(__file__).parent.parent / "examples" / "validation_glm_logistic.toml"
    cfg = load_validation_config(ex)
    assert cfg.kind.name == "validation.glm" and cfg.model.loss == "logistic"
    text = ex.read_text()
    for old, new in (("sizes = [200, 400, 800]", "sizes = [100, 200]"), ("seeds = 8", "seeds = 4"),
                     ("t_max = 3.0", "t_max = 1.0")):
        text = _sub(text, old, new)
    f = tmp_path / "g.toml"
    f.write_text(text)
    rc = main(["validate", str(f), "-o", str(tmp_path / "g.h5"), "--png", str(tmp_path / "g.png")])
    rep = lmech.archive.load(tmp_path / "g.h5", "validation")
    # 4 seeds at d <= 200: nothing rejected; the exit status follows the verdict
    assert rep.verdict != "disagree" and rc == {"agree": 0, "inconclusive": 3}[rep.verdict], rep.message
    assert (tmp_path / "g.png").exists()
    bad = tmp_path / "b.toml"
    bad.write_text(_sub(text, 'method = "sampled"', 'method = "uniform"'))
    capsys.readouterr()
    assert main(["validate", str(bad), "-o", str(tmp_path / "b.h5")]) != 0
    assert "theory.n_replicas" in capsys.readouterr().err
    # logistic has no closure: method = "uniform" is refused, naming the key
    uniform = _sub(text, 'method = "sampled"', 'method = "uniform"')
    for line in ("n_traj = 2000\n", "n_replicas = 4\n", "seed = 1\n"):
        uniform = _sub(uniform, line, "")
    bad.write_text(uniform)
    assert main(["validate", str(bad), "-o", str(tmp_path / "b.h5")]) != 0
    assert "theory.method" in capsys.readouterr().err
    # the exact simulator has no step: a simulation.dt with method = "exact" is refused
    bad.write_text(_sub(text, "[simulation]\n", '[simulation]\nmethod = "exact"\n'))
    assert main(["validate", str(bad), "-o", str(tmp_path / "b.h5")]) != 0
    assert "simulation.dt" in capsys.readouterr().err



@pytest.mark.parametrize("b, tau", [(0.5, 1.0), (0.2, 2.0)])
def test_selection_chain_is_the_persistent_sgd_process(b, tau):
    # Monte Carlo of the kernel chain against the continuous-time two-state process of
    # Mignacco et al. (NeurIPS 2020; rates 1/tau for 1 -> 0 and b/((1-b) tau) for 0 -> 1):
    # stationary P(s = 1) = b, mean sojourn in s = 1 equal to tau (in s = 0: (1-b) tau/b),
    # and Cov(s_0, s_t) = b (1-b) exp(-t/((1-b) tau)).
    dt, n_chains, n_steps = 0.005, 4000, 3000
    S = selection_chain(b, tau, dt, n_chains, n_steps, seed=7)
    # stationarity: at a few times the fraction over independent chains is b (binomial error)
    se = math.sqrt(b * (1 - b) / n_chains)
    for k in (0, 500, n_steps):
        assert abs(S[k].mean() - b) < 4 * se, (k, S[k].mean())
    # autocorrelation from stationarity, at lags within a few relaxation times
    for t in (0.25, 0.5, 1.0, 2.0):
        lag = int(round(t / dt))
        prod = S[0] * S[lag]
        cov = prod.mean() - S[0].mean() * S[lag].mean()
        want = b * (1 - b) * math.exp(-t / ((1 - b) * tau))
        assert abs(cov - want) < 4 * prod.std() / math.sqrt(n_chains) + 1e-3, (t, cov, want)
    # mean sojourn times by the censoring-free estimator: time spent in the state over the number
    # of exits from it (the maximum-likelihood mean of exponential holding times, relative error
    # 1/sqrt(exits)); the grid resolves a sojourn to one step dt
    for state, want in ((1.0, tau), (0.0, (1 - b) * tau / b)):
        occupied = np.sum(S[:-1] == state) * dt
        exits = np.sum((S[:-1] == state) & (S[1:] != state))
        assert exits > 5000
        mean = occupied / exits
        assert abs(mean - want) < 4 * mean / math.sqrt(exits) + dt, (state, mean, want)


def test_selection_chain_full_batch_and_bad_input():
    # b = 1: p11 = p01 = 1, every sample selected at every step
    assert np.all(selection_chain(1.0, 2.0, 0.1, 5, 10) == 1.0)
    for kw, name in ((dict(b=0.0), "b"), (dict(tau=-1.0), "tau"), (dict(dt=0.0), "dt"),
                     (dict(n_chains=0), "n_chains"), (dict(n_steps=-1), "n_steps")):
        args = dict(b=0.5, tau=1.0, dt=0.1, n_chains=3, n_steps=2) | kw
        with pytest.raises(ValueError, match=name):
            selection_chain(**args)


_PSGD = dict(alpha=2.0, loss="logistic", ridge=0.05, batch_fraction=0.5)
_PSGD_THEORY = dict(method="sampled", dt=0.1, n_traj=8000, n_replicas=8, seed=1)


def _psgd_compare(persistence, sizes, seeds):
    """The finite-d persistent SGD at b = 1/2, tau = 1 against the sampled DMFT of a model whose
    persistence is ``persistence`` (1: the same model; otherwise a wrong theory)."""
    model = dmft.GLMDynamics(**_PSGD, persistence=1.0)
    theory = dmft.solve(dmft.GLMDynamics(**_PSGD, persistence=persistence), 4.0, **_PSGD_THEORY)
    assert theory.success
    # atol covers the Monte Carlo error of the sampled theory (its standard errors here:
    # Q 0.001-0.004, train loss 0.001-0.0015)
    return compare(theory, model, sizes=sizes, seeds=seeds,
                   observables=["M_t", "Q_t", "train_loss_t"],
                   sim_options={"times": theory.t[::10], "dt": 0.05}, atol=0.005)


def test_persistent_sgd_agrees_with_the_sampled_dmft():
    # b = 1/2, tau = 1 (Mignacco et al., NeurIPS 2020): the finite-d simulator (its own selection
    # chain, Heun step 0.05) against the sampled DMFT (the dmft layer's chain, step 0.1).
    # Measured (N = 100, 200, 400, 12 seeds): |z| <= 2.8 for the right theory; a theory with a
    # ten times longer persistence (tau = 10) is off by up to 7.9 standard errors in the train
    # loss.  tau = 3 is only marginally distinguishable at these sizes: see the slow test below.
    rep = _psgd_compare(1.0, [100, 200, 400], 12)
    assert rep.success and rep.verdict != "disagree", rep.message + "\n" + rep.table("train_loss_t")
    wrong = _psgd_compare(10.0, [100, 200, 400], 12)
    assert wrong.success and wrong.verdict == "disagree", wrong.table("train_loss_t")


@pytest.mark.slow
def test_persistent_sgd_distinguishes_a_threefold_persistence():
    # N = 200, 400, 800, 16 seeds (about a minute): the right theory agrees (|z| <= 1.2 measured)
    # and a theory with tau = 3 instead of 1 disagrees on M_t, Q_t and the train loss
    # (train loss z = -3.9 at t = 4 against the Bonferroni threshold 3.7, measured)
    rep = _psgd_compare(1.0, [200, 400, 800], 16)
    assert rep.success and rep.verdict != "disagree", rep.message
    wrong = _psgd_compare(3.0, [200, 400, 800], 16)
    assert wrong.success and wrong.verdict == "disagree", wrong.table("train_loss_t")

"""Exact finite-size gradient flows against an ODE solver, and against the DMFT of dmft."""

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import dmft
from validation import compare, pspin_theory, simulate_linreg, simulate_pspin2

LINREG = dmft.LinearRegressionGF(alpha=2.0, noise=0.25, ridge=0.0)
SPIN2 = dmft.SphericalPSpin(p=2, T=0.0)


@pytest.mark.parametrize("ridge", [0.0, 0.3])
def test_linreg_exact_solution_matches_ode_solver(ridge):
    model = dmft.LinearRegressionGF(alpha=0.7, noise=0.5, ridge=ridge, signal=2.0)
    d, seed, ts = 30, 4, np.array([0.0, 0.3, 1.0, 3.0])
    res = simulate_linreg(model, d, ts, seed=seed)
    # redraw the same data and integrate d beta/dt = -grad L numerically
    rng = np.random.default_rng(seed)
    n = int(round(0.7 * d))
    X = rng.standard_normal((n, d))
    b = rng.standard_normal(d)
    b *= math.sqrt(2.0) / np.linalg.norm(b)
    y = X @ b + math.sqrt(0.5) * rng.standard_normal(n)
    sol = solve_ivp(lambda t, beta: X.T @ (y - X @ beta) / n - ridge * beta, (0, 3.0), np.zeros(d),
                    t_eval=ts, rtol=1e-11, atol=1e-13)
    betas = sol.y.T
    err = np.sum((betas - b) ** 2, axis=1)
    train = np.sum((y - betas @ X.T) ** 2, axis=1) / (2 * n)
    assert np.allclose(res.error_t, err, rtol=1e-8)
    assert np.allclose(res.train_loss_t, train, rtol=1e-8)
    assert np.allclose(res.m, (betas - b) @ b, rtol=1e-7, atol=1e-9)
    assert np.allclose(res.test_risk_t, 0.5 * (err + 0.5), rtol=1e-8)


def test_linreg_long_time_limit_is_least_squares():
    # t -> infinity at ridge 0, alpha > 1: the least-squares estimator; train loss -> |P_perp y|^2/(2n)
    res = simulate_linreg(LINREG, 50, [0.0, 1e4], seed=1)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 50))
    b = rng.standard_normal(50)
    b /= np.linalg.norm(b)
    y = X @ b + 0.5 * rng.standard_normal(100)
    bhat = np.linalg.lstsq(X, y, rcond=None)[0]
    assert res.error_t[-1] == pytest.approx(np.sum((bhat - b) ** 2), rel=1e-9)
    assert res.error_t[0] == pytest.approx(1.0, rel=1e-12)


def test_linreg_langevin_against_dmft():
    # Langevin at temperature T (exact Ornstein-Uhlenbeck transitions per eigenmode) against the DMFT
    model = dmft.LinearRegressionGF(alpha=2.0, noise=0.25, temperature=0.3)
    theory = dmft.solve(model, 3.0, dt=0.05)
    rep = compare(theory, model, sizes=[200, 400], seeds=20, observables=["error_t", "train_loss_t"],
                  sim_options={"times": theory.t[::10]})
    assert rep.verdict != "disagree", rep.message + "\n" + rep.table("error_t")
    # and the temperature matters: the T = 0 theory is rejected by the same runs
    cold = dmft.solve(LINREG, 3.0, dt=0.05)
    rep0 = compare(cold, model, sizes=[100, 200], seeds=20, observables=["error_t"],
                   sim_options={"times": theory.t[::10]})
    assert rep0.verdict == "disagree"


def test_pspin2_exact_solution_matches_ode_solver():
    N, seed, ts = 40, 3, np.array([0.0, 0.5, 1.5, 3.0])
    res = simulate_pspin2(SPIN2, N, ts, seed=seed)
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((N, N))
    J = (G + G.T) * math.sqrt(0.5 / N)
    s0 = rng.standard_normal(N)
    s0 *= math.sqrt(N) / np.linalg.norm(s0)

    def f(t, s):
        mu = s @ J @ s / N
        return J @ s - mu * s

    sol = solve_ivp(f, (0, 3.0), s0, t_eval=ts, rtol=1e-11, atol=1e-12)
    S = sol.y.T
    assert np.allclose(res.C, S @ S.T / N, atol=1e-8)
    e = -0.5 * np.einsum("ti,ij,tj->t", S, J, S) / N
    assert np.allclose(res.e, e, atol=1e-8)
    # the Hamiltonian covariance: E[H(s)H(s')] = N q^2 / 2 for the 'half' convention
    assert np.allclose(np.diag(res.C), 1.0, atol=1e-12)


def test_pspin2_coupling_scale_from_tracy_widom():
    # J / sqrt(2c) is GOE with semicircle edge 2: E lambda_max = 2 + N^(-2/3) E[TW1],
    # E[TW1] = -1.2065, sd[TW1] = 1.2680 (Tracy & Widom, CMP 177, 727 (1996))
    N, seeds = 200, 20
    for conv, c in (("half", 0.5), ("full", 1.0)):
        model = dmft.SphericalPSpin(p=2, T=0.0, convention=conv)
        lmax = np.array([simulate_pspin2(model, N, [0.0], seed=s).lambda_max for s in range(seeds)])
        lmax /= math.sqrt(2 * c)
        expected = 2.0 - 1.2065 * N ** (-2 / 3)
        sem = 1.2680 * N ** (-2 / 3) / math.sqrt(seeds)
        assert abs(lmax.mean() - expected) < 4 * sem + 1.0 / N


def test_linreg_agrees_with_dmft():
    theory = dmft.solve(LINREG, 4.0, dt=0.05)
    ts = theory.t[::10]
    rep = compare(theory, LINREG, sizes=[100, 200, 400], seeds=20,
                  observables=["error_t", "train_loss_t", "test_risk_t", "m"], sim_options={"times": ts})
    assert rep.verdict != "disagree", rep.message + "\n" + rep.table("train_loss_t")
    assert rep.conventions["x"] == "t"


def test_linreg_wrong_noise_disagrees():
    wrong = dmft.solve(dmft.LinearRegressionGF(alpha=2.0, noise=0.35), 4.0, dt=0.05)
    rep = compare(wrong, LINREG, sizes=[100, 200], seeds=20, observables=["train_loss_t"],
                  sim_options={"times": wrong.t[::10]})
    assert rep.verdict == "disagree"


def test_pspin2_agrees_with_dmft():
    theory = dmft.solve(SPIN2, 5.0, dt=0.05)
    ts = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0]
    rep = compare(pspin_theory(theory, ts), SPIN2, sizes=[100, 200, 400], seeds=10)
    assert rep.verdict != "disagree", rep.message + "\n" + rep.table("e")
    assert rep.arrays["C/mean"].shape == (3, 6, 6)


def test_pspin2_wrong_theory_disagrees():
    # the DMFT of the 'full' convention (J larger by sqrt 2) against 'half' simulations
    wrong = dmft.solve(dmft.SphericalPSpin(p=2, T=0.0, convention="full"), 5.0, dt=0.05)
    rep = compare(pspin_theory(wrong, [0.0, 1.0, 3.0, 5.0]), SPIN2, sizes=[100, 200], seeds=10)
    assert rep.verdict == "disagree"


def test_gradflow_input_errors():
    with pytest.raises(ValueError, match="model"):
        simulate_linreg(SPIN2, 10, [0.0])
    with pytest.raises(ValueError, match="d"):
        simulate_linreg(LINREG, 0, [0.0])
    with pytest.raises(ValueError, match="times"):
        simulate_linreg(LINREG, 10, [1.0, 0.0])
    with pytest.raises(ValueError, match="p"):
        simulate_pspin2(dmft.SphericalPSpin(p=3, T=0.0), 10, [0.0])
    with pytest.raises(ValueError, match="T"):
        simulate_pspin2(dmft.SphericalPSpin(p=2, T=0.5), 10, [0.0])
    with pytest.raises(ValueError, match="model"):
        simulate_pspin2(LINREG, 10, [0.0])
    with pytest.raises(ValueError, match="times"):
        pspin_theory(dmft.solve(SPIN2, 1.0, dt=0.05), [0.0, 0.33])


@pytest.mark.slow
def test_linreg_acceptance_n4000_d2000():
    # test and train error of the DMFT against n = 4000, d = 2000 within error bars
    theory = dmft.solve(LINREG, 5.0, dt=0.025)
    rep = compare(theory, LINREG, sizes=[2000], seeds=10, observables=["test_risk_t", "train_loss_t"],
                  sim_options={"times": theory.t[::20]})
    print(rep.table("test_risk_t"))
    print(rep.table("train_loss_t"))
    assert rep.verdict != "disagree", rep.message


@pytest.mark.slow
def test_pspin2_acceptance_n4000():
    # C(t, t') and e(t) of the p = 2 DMFT at T = 0 against N = 4000, t <= 5
    theory = dmft.solve(SPIN2, 5.0, dt=0.025)
    rep = compare(pspin_theory(theory, [0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0]), SPIN2, sizes=[4000], seeds=6)
    print(rep.table("e"))
    assert rep.verdict != "disagree", rep.message


# -- random recurrent network (dmft.RandomRNN) ----------------------------------------------
def test_rnn_linear_matches_matrix_exponential():
    from scipy.linalg import expm

    from validation import simulate_rnn

    model = dmft.RandomRNN(g=0.8, phi="linear")
    N, ts = 50, np.array([0.0, 0.5, 1.0])
    res = simulate_rnn(model, N, ts, seed=2, dt=0.001)
    rng = np.random.default_rng(2)
    J = rng.standard_normal((N, N)) * (0.8 / math.sqrt(N))
    x0 = rng.standard_normal(N)
    X = np.array([expm((J - np.eye(N)) * t) @ x0 for t in ts])
    # Heun's global error is O(dt^2) = 1e-6 here
    assert np.allclose(res.C, X @ X.T / N, rtol=1e-5, atol=1e-6)


def test_rnn_heun_is_second_order():
    from validation import simulate_rnn

    model = dmft.RandomRNN(g=1.5, phi="tanh")
    ref = simulate_rnn(model, 60, [0.0, 2.0], seed=0, dt=0.0025).C
    e1 = np.abs(simulate_rnn(model, 60, [0.0, 2.0], seed=0, dt=0.04).C - ref).max()
    e2 = np.abs(simulate_rnn(model, 60, [0.0, 2.0], seed=0, dt=0.02).C - ref).max()
    assert 3.0 < e1 / e2 < 5.0


@pytest.mark.parametrize("model", [dmft.RandomRNN(g=1.5, phi="tanh"),
                                   dmft.RandomRNN(g=2.0, phi="erf", noise=0.2)])
def test_rnn_agrees_with_dmft(model):
    theory = dmft.solve(model, 4.0, dt=0.05)
    ts = [0.0, 1.0, 2.0, 4.0]
    rep = compare(pspin_theory(theory, ts), model, sizes=[100, 200, 400], seeds=10, sim_options={"times": ts})
    assert rep.verdict != "disagree", rep.message + "\n" + rep.table("variance_t")


def test_rnn_wrong_gain_disagrees():
    wrong = dmft.solve(dmft.RandomRNN(g=2.0, phi="tanh"), 4.0, dt=0.05)
    ts = [0.0, 1.0, 2.0, 4.0]
    rep = compare(pspin_theory(wrong, ts), dmft.RandomRNN(g=1.5, phi="tanh"), sizes=[200, 400], seeds=10,
                  sim_options={"times": ts}, observables=["variance_t"])
    assert rep.verdict == "disagree"


def test_rnn_input_errors():
    from validation import simulate_rnn

    with pytest.raises(ValueError, match="model"):
        simulate_rnn(SPIN2, 10, [0.0])
    with pytest.raises(ValueError, match="dt"):
        simulate_rnn(dmft.RandomRNN(), 10, [0.0, 0.015], dt=0.01)
    with pytest.raises(ValueError, match="dt"):
        simulate_rnn(dmft.RandomRNN(), 10, [0.0], dt=0.0)


# -- square-loss GLM with non-Gaussian labels (dmft.GLMDynamics) -------------------------------
@pytest.mark.parametrize("model", [dmft.GLMDynamics(alpha=2.0, teacher="sign", ridge=0.1),
                                   dmft.GLMDynamics(alpha=0.8, teacher="relu", noise=0.1)])
def test_glm_square_loss_agrees_with_dmft(model):
    # the real sign / ReLU labels against the DMFT's linear-equivalent closure
    theory = dmft.solve(model, 3.0, dt=0.05)
    obs = ["M_t", "Q_t", "train_loss_t", "test_risk_t"] + (["test_error_t"] if model.teacher == "sign" else [])
    rep = compare(theory, model, sizes=[100, 200], seeds=10, observables=obs,
                  sim_options={"times": theory.t[::10]})
    assert rep.verdict != "disagree", rep.message + "\n" + rep.table("train_loss_t")


def test_glm_wrong_teacher_disagrees():
    # the DMFT of a linear teacher against simulations with sign labels
    wrong = dmft.solve(dmft.GLMDynamics(alpha=2.0, teacher="linear", ridge=0.1), 3.0, dt=0.05)
    rep = compare(wrong, dmft.GLMDynamics(alpha=2.0, teacher="sign", ridge=0.1), sizes=[100, 200], seeds=10,
                  observables=["M_t", "Q_t"], sim_options={"times": wrong.t[::10]})
    assert rep.verdict == "disagree"


def test_glm_linear_teacher_equals_least_squares():
    # a linear teacher with rho = signal is the least-squares model: same data, same flow
    from validation import simulate_glm, simulate_linreg

    g = simulate_glm(dmft.GLMDynamics(alpha=1.5, teacher="linear", noise=0.3, rho=0.7), 40, [0.0, 1.0, 3.0],
                     seed=5)
    lr = simulate_linreg(dmft.LinearRegressionGF(alpha=1.5, noise=0.3, signal=0.7), 40, [0.0, 1.0, 3.0],
                         seed=5)
    assert np.allclose(g.train_loss_t, lr.train_loss_t, rtol=1e-12)
    # |beta - beta*|^2 = Q - 2M + rho
    assert np.allclose(g.Q_t - 2 * g.M_t + 0.7, lr.error_t, rtol=1e-10)
    with pytest.raises(ValueError, match="model"):
        simulate_glm(LINREG, 10, [0.0])


# -- spherical p-spin Langevin dynamics (p = 2, 3) ------------------------------------------
def test_pspin3_energy_variance_given_the_configuration():
    # pure p = 3 (couplings on i < j < k, E J^2 = 6c/N^2, c = 1/2): E_J[H(s)^2] = sigma^2 e_3(s_1^2, ..,
    # s_N^2), sigma^2 = 3/N^2.  Over 4000 instances, e(0) = H(s0)/N of simulate_pspin against the
    # conditional mean at its s0 (drawn after the N(N-1)(N-2)/6 couplings from the same generator);
    # the energy itself and the force are checked against the contraction in test_validation_pspin.py
    from validation import simulate_pspin

    model = dmft.SphericalPSpin(p=3, T=0.0)
    N = 9
    triples = list(itertools.combinations(range(N), 3))
    diffs = []
    for seed in range(4000):
        rng = np.random.default_rng(seed)
        rng.standard_normal(len(triples))
        s0 = rng.standard_normal(N)
        s0 *= math.sqrt(N) / np.linalg.norm(s0)
        e3 = sum(s0[i] ** 2 * s0[j] ** 2 * s0[k] ** 2 for i, j, k in triples)
        diffs.append((N * simulate_pspin(model, N, [0.0], seed=seed).e[0]) ** 2 - 3.0 / N ** 2 * e3)
    diffs = np.asarray(diffs)
    assert abs(diffs.mean()) < 4 * diffs.std(ddof=1) / math.sqrt(diffs.size)


def test_pspin_langevin_p2_matches_exact_solution():
    from validation import simulate_pspin

    ts = [0.0, 1.0, 2.0, 3.0]
    exact = simulate_pspin2(SPIN2, 80, ts, seed=1)
    errs = [np.abs(simulate_pspin(SPIN2, 80, ts, seed=1, dt=dt).C - exact.C).max() for dt in (0.04, 0.02)]
    assert errs[1] < 1e-3 and 3.0 < errs[0] / errs[1] < 5.0     # second order at T = 0


@pytest.mark.parametrize("model", [dmft.SphericalPSpin(p=3, T=0.0), dmft.SphericalPSpin(p=3, T=0.8),
                                   dmft.SphericalPSpin(p=2, T=0.5)])
def test_pspin_langevin_agrees_with_dmft(model):
    theory = dmft.solve(model, 3.0, dt=0.05)
    ts = [0.0, 0.5, 1.0, 2.0, 3.0]
    rep = compare(pspin_theory(theory, ts), model, sizes=[40, 80], seeds=8, sim_options={"times": ts, "dt": 0.01})
    assert rep.verdict != "disagree", rep.message + "\n" + rep.table("e")


def test_pspin_langevin_wrong_temperature_disagrees():
    wrong = dmft.solve(dmft.SphericalPSpin(p=3, T=0.0), 3.0, dt=0.05)
    ts = [0.0, 1.0, 2.0, 3.0]
    rep = compare(pspin_theory(wrong, ts), dmft.SphericalPSpin(p=3, T=0.8), sizes=[40, 80], seeds=8,
                  sim_options={"times": ts, "dt": 0.01})
    assert rep.verdict == "disagree"


def test_pspin_langevin_input_errors():
    from validation import simulate_pspin

    with pytest.raises(ValueError, match="N"):
        simulate_pspin(dmft.SphericalPSpin(p=4, T=0.0), 200, [0.0])   # 8 * 200^4 bytes
    with pytest.raises(ValueError, match="N"):
        simulate_pspin(dmft.SphericalPSpin(p=3, T=0.0), 4000, [0.0])
    with pytest.raises(ValueError, match="dt"):
        simulate_pspin(SPIN2, 10, [0.0, 0.015], dt=0.01)
    with pytest.raises(ValueError, match="model"):
        simulate_pspin(LINREG, 10, [0.0])

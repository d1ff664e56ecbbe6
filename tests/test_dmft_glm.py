"""Tests of dmft.GLMDynamics (square loss, closed) against finite-N gradient flow."""

import math

import numpy as np
import pytest

import dmft
from dmft.glm import teacher_moments
from lmech.spec import from_spec, to_spec


@pytest.mark.parametrize("teacher,f", [("linear", lambda h: h), ("sign", np.sign),
                                       ("relu", lambda h: np.maximum(h, 0.0))])
def test_teacher_moments_by_quadrature(teacher, f):
    rho, s2 = 1.7, 0.3
    a, ey2 = teacher_moments(teacher, rho, s2)
    sd = math.sqrt(rho)
    # adaptive quadrature on the two half-lines (the kinks of sign/relu sit at 0)
    from scipy.integrate import quad

    def E(g):
        dens = lambda h: math.exp(-0.5 * h * h / rho) / math.sqrt(2 * math.pi * rho)  # noqa: E731
        return sum(quad(lambda h: g(h) * dens(h), lo, hi, epsabs=1e-13)[0]
                   for lo, hi in ((-np.inf, 0.0), (0.0, np.inf)))

    fs = lambda h: float(f(np.array(h)))  # noqa: E731
    assert a == pytest.approx(E(lambda h: fs(h) * h) / rho, rel=1e-10)
    assert ey2 == pytest.approx(E(lambda h: fs(h) ** 2) + s2, rel=1e-10)
    assert sd > 0


def _simulate(model, times, d, seeds):
    """Exact finite-N gradient flow, beta(t) = (S+lam)^-1 (1 - e^{-(S+lam)t}) X^T y / n."""
    f = {"linear": lambda h: h, "sign": np.sign, "relu": lambda h: np.maximum(h, 0.0)}[model.teacher]
    n = int(round(model.alpha * d))
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, d))
        bstar = rng.standard_normal(d)
        bstar *= math.sqrt(model.rho) / np.linalg.norm(bstar)
        y = f(X @ bstar) + math.sqrt(model.noise) * rng.standard_normal(n)
        S = X.T @ X / n
        ev, V = np.linalg.eigh(S)
        b = V.T @ (X.T @ y / n)
        lam = ev + model.ridge
        rows = []
        for t in times:
            beta = V @ (-np.expm1(-lam * t) / lam * b)
            M = beta @ bstar
            Q = beta @ beta
            err = math.acos(np.clip(M / math.sqrt(Q * model.rho), -1, 1)) / math.pi
            train = 0.5 * np.mean((y - X @ beta) ** 2)
            rows.append([M, Q, err, train])
        out.append(rows)
    return np.array(out)  # (seeds, times, 4)


@pytest.mark.parametrize("model", [dmft.GLMDynamics(alpha=2.0, teacher="sign"),
                                   dmft.GLMDynamics(alpha=0.7, teacher="sign", ridge=0.1),
                                   dmft.GLMDynamics(alpha=1.5, teacher="relu", noise=0.1)])
def test_square_loss_closure_matches_finite_size_gradient_flow(model):
    times = [0.5, 2.0, 6.0]
    res = dmft.solve(model, 6.0, dt=0.025)
    assert res.success
    sim = _simulate(model, times, d=500, seeds=range(8))
    mean = sim.mean(axis=0)
    sem = sim.std(axis=0, ddof=1) / math.sqrt(sim.shape[0])
    for k, t in enumerate(times):
        i = int(round(t / 0.025))
        theory = [res.M_t[i], res.Q_t[i],
                  res.test_error_t[i] if model.teacher == "sign" else np.nan, res.train_loss_t[i]]
        for c, th in enumerate(theory):
            if np.isnan(th):
                continue
            # agreement within 4 standard errors plus a finite-d allowance of 1/d
            # (and the O(h^2) = 6e-4 discretisation error of dt = 0.025)
            assert abs(mean[k, c] - th) < 4 * sem[k, c] + 1.0 / 500 + 1e-3, (t, c, mean[k, c], th)


def test_linear_teacher_is_linear_regression():
    g = dmft.GLMDynamics(alpha=2.0, teacher="linear", noise=0.25, rho=1.5)
    lin = g.linear_equivalent()
    assert lin == dmft.LinearRegressionGF(alpha=2.0, noise=0.25, signal=1.5)
    res = dmft.solve(g, 2.0, dt=0.05)
    # test risk (E y^2 - 2 M + Q)/2 equals (|beta - beta*|^2 + sigma^2)/2
    ref = dmft.solve(lin, 2.0, dt=0.05)
    assert np.allclose(res.test_risk_t, ref.test_risk_t, rtol=1e-12, atol=1e-12)


def test_validation_and_spec():
    g = dmft.GLMDynamics(alpha=1.0, teacher="relu", ridge=0.2)
    assert from_spec(to_spec(g)) == g
    with pytest.raises(ValueError, match="loss"):
        dmft.GLMDynamics(loss="logistic")
    with pytest.raises(ValueError, match="loss"):
        dmft.GLMDynamics(loss="absolute")
    with pytest.raises(ValueError, match="teacher"):
        dmft.GLMDynamics(teacher="tanh")
    with pytest.raises(ValueError, match="batch_fraction"):
        dmft.GLMDynamics(batch_fraction=0.5)
    with pytest.raises(ValueError, match="rho"):
        dmft.GLMDynamics(rho=0.0)
    with pytest.raises(ValueError, match="alpha"):
        dmft.GLMDynamics(alpha=-1.0)


@pytest.mark.parametrize("model", [dmft.GLMDynamics(alpha=2.0, teacher="sign"),
                                   dmft.GLMDynamics(alpha=0.7, teacher="relu", ridge=0.1,
                                                    noise=0.2)])
def test_sampled_process_agrees_with_closed_over_whole_horizon(model):
    # issue 4: the Monte Carlo effective process (non-Gaussian labels, causal marching,
    # common random numbers) and the exact closure agree within error bars up to t = 12
    t_max, dt = 12.0, 0.1
    closed = dmft.solve(model, t_max, dt=dt)
    res = dmft.solve(model, t_max, method="sampled", dt=dt, n_traj=800, n_replicas=8, seed=3)
    assert res.success, res.message
    for t in (1.0, 5.0, 10.0, 12.0):
        i = int(round(t / dt))
        for key, se in (("M_t", "M_se"), ("Q_t", "Q_se"), ("train_loss_t", "train_loss_se")):
            z = (res.arrays[key][i] - closed.arrays[key][i]) / res.arrays[se][i]
            # 8 replicas: Student t with 7 degrees of freedom; |z| < 5 has p ~ 1e-3
            assert abs(z) < 5, (t, key, z)
        # and the error bars are small enough for the comparison to mean something
        assert res.Q_se[i] < 0.03 * closed.Q_t[i]
    assert res.iterations[1:].max() < 50


def test_sampled_options():
    m = dmft.GLMDynamics(alpha=2.0)
    with pytest.raises(TypeError, match="rtol_corrector"):
        dmft.solve(m, 1.0, method="sampled", rtol_corrector=1e-3)
    with pytest.raises(ValueError, match="n_traj"):
        dmft.solve(m, 1.0, method="sampled", n_traj=1)
    with pytest.raises(ValueError, match="sampled"):
        dmft.solve(dmft.LinearRegressionGF(), 1.0, method="sampled")
    with pytest.raises(ValueError, match="temperature"):
        dmft.solve(dmft.GLMDynamics(temperature=0.1), 1.0, method="sampled")

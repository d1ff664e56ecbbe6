"""Finite-d ERM and GAMP against the replica saddle points of replica."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize

import lmech.blocks.losses
import replica
from validation import compare, replica_theory, simulate_erm, simulate_gamp


def drawn_problem(prior, channel, d, alpha, seed):
    """The instance simulate_erm / simulate_gamp draw at their first alpha: one generator seeded with
    ``seed``, then the teacher, the n x d inputs and the labels, in that order (public samplers)."""
    rng = np.random.default_rng(seed)
    n = max(1, int(round(alpha * d)))
    w_star = prior.sample(d, rng)
    X = rng.standard_normal((n, d))
    y = channel.sample(X @ w_star / math.sqrt(d), rng)
    return X, y, w_star


def assert_run_is_the_fit(res, w, w_star, train_loss, abs_tol):
    d = w.size
    assert res.success
    assert res.m[0] == pytest.approx(w @ w_star / d, abs=abs_tol)
    assert res.q[0] == pytest.approx(w @ w / d, abs=abs_tol)
    assert res.train_loss[0] == pytest.approx(train_loss, abs=abs_tol)


def test_logistic_fit_is_the_minimiser():
    # the objective sum_mu log(1 + exp(-y_mu w.x_mu/sqrt d)) + (lam/2) |w|^2, minimised here by BFGS
    model = replica.ERM("logistic", 0.1, "gaussian", "label-flip")
    d, alpha, seed = 60, 2.0, 0
    res = simulate_erm(model, d, [alpha], seed=seed)
    X, y, w_star = drawn_problem(model.teacher_prior, model.channel, d, alpha, seed)

    def obj(v):
        return np.sum(np.logaddexp(0.0, -y * (X @ v) / math.sqrt(d))) + 0.5 * model.reg * v @ v

    ref = minimize(obj, np.zeros(d), method="BFGS", options={"gtol": 1e-10}).x
    tl = np.mean(np.logaddexp(0.0, -y * (X @ ref) / math.sqrt(d)))
    assert_run_is_the_fit(res, ref, w_star, tl, 1e-6)


def test_hinge_fit_is_the_minimiser():
    # the hinge objective sum max(0, 1 - a.w) + (lam/2)|w|^2 (a = y x/sqrt d) through its dual,
    # max sum(a_mu) - |A^T a|^2/(2 lam) over 0 <= a_mu <= 1, w = A^T a/lam, solved here by L-BFGS-B,
    # with a zero duality gap certifying both
    model = replica.ERM("hinge", 0.3, "gaussian", "label-flip")
    d, alpha, seed = 60, 2.0, 0
    res = simulate_erm(model, d, [alpha], seed=seed)
    X, y, w_star = drawn_problem(model.teacher_prior, model.channel, d, alpha, seed)
    lam = model.reg
    A = X * (y / math.sqrt(d))[:, None]
    dual = minimize(lambda a: (0.5 / lam * np.sum((A.T @ a) ** 2) - a.sum(), A @ (A.T @ a) / lam - 1.0),
                    np.full(len(y), 0.5), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(y),
                    options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 100_000})
    w = A.T @ dual.x / lam
    primal = np.sum(np.maximum(0.0, 1.0 - A @ w)) + 0.5 * lam * w @ w
    assert primal == pytest.approx(-dual.fun, rel=1e-7)
    assert_run_is_the_fit(res, w, w_star, np.mean(np.maximum(0.0, 1.0 - A @ w)), 1e-5)


def test_squared_hinge_fit_is_the_minimiser():
    # any smooth loss of lmech.blocks goes through the same Newton-CG fit: the squared hinge
    # objective sum max(0, 1 - y w.x/sqrt d)^2/2 + (lam/2)|w|^2 minimised here by BFGS
    model = replica.ERM("squared-hinge", 0.2, "gaussian", "label-flip")
    d, alpha, seed = 60, 2.0, 0
    res = simulate_erm(model, d, [alpha], seed=seed)
    X, y, w_star = drawn_problem(model.teacher_prior, model.channel, d, alpha, seed)

    def obj(v):
        r = np.maximum(0.0, 1.0 - y * (X @ v) / math.sqrt(d))
        return 0.5 * r @ r + 0.5 * model.reg * v @ v, -(X.T @ (y * r)) / math.sqrt(d) + model.reg * v

    ref = minimize(obj, np.zeros(d), jac=True, method="BFGS", options={"gtol": 1e-10}).x
    tl = np.mean(0.5 * np.maximum(0.0, 1.0 - y * (X @ ref) / math.sqrt(d)) ** 2)
    assert_run_is_the_fit(res, ref, w_star, tl, 1e-6)


def test_huber_fit_is_the_minimiser():
    # Huber's loss (Huber, Ann. Math. Statist. 35, 73 (1964), eq. (8)) on a linear teacher through the
    # same Newton-CG fit: the objective sum rho_delta(y - w.x/sqrt d) + (lam/2)|w|^2 minimised here by BFGS
    delta = 0.5
    model = replica.ERM(lmech.blocks.losses.Huber(delta=delta), 0.2, "gaussian", replica.Linear(delta=0.3))
    d, alpha, seed = 60, 2.0, 0
    res = simulate_erm(model, d, [alpha], seed=seed)
    X, y, w_star = drawn_problem(model.teacher_prior, model.channel, d, alpha, seed)

    def rho(r):
        return np.where(np.abs(r) <= delta, 0.5 * r * r, delta * np.abs(r) - 0.5 * delta ** 2)

    def obj(v):
        r = y - X @ v / math.sqrt(d)
        return np.sum(rho(r)) + 0.5 * model.reg * v @ v, -(X.T @ np.clip(r, -delta, delta)) / math.sqrt(d) + model.reg * v

    ref = minimize(obj, np.zeros(d), jac=True, method="BFGS", options={"gtol": 1e-10}).x
    assert_run_is_the_fit(res, ref, w_star, np.mean(rho(y - X @ ref / math.sqrt(d))), 1e-6)


def test_huber_erm_agrees_with_the_replica_saddle_point():
    # finite d against the replica prediction at one point: 16 instances at d = 400, the spread over
    # instances gives the error bar (|z| < 4; finite-size bias O(1/d) below it)
    model = replica.ERM(lmech.blocks.losses.Huber(delta=0.5), 0.3, "gaussian", replica.Linear(delta=0.25))
    th = replica.solve(model, 2.0)
    assert th.success
    runs = [simulate_erm(model, 400, [2.0], seed=s) for s in range(16)]
    assert all(r.success for r in runs)
    for k in ("m", "q", "train_loss"):
        v = np.array([getattr(r, k)[0] for r in runs])
        se = v.std(ddof=1) / math.sqrt(v.size)
        assert abs(v.mean() - th.scalars[k]) < 4 * se, (k, v.mean(), th.scalars[k], se)
        assert se < 0.05 * abs(th.scalars[k])


def test_square_fit_closed_form():
    model = replica.ERM("square", 0.5, "gaussian", "sign")
    d, alpha, seed = 60, 2.0, 0
    res = simulate_erm(model, d, [alpha], seed=seed)
    X, y, w_star = drawn_problem(model.teacher_prior, model.channel, d, alpha, seed)
    aug = np.vstack([X / math.sqrt(d), math.sqrt(0.5) * np.eye(d)])
    ref = np.linalg.lstsq(aug, np.concatenate([y, np.zeros(d)]), rcond=None)[0]
    assert_run_is_the_fit(res, ref, w_star, 0.5 * np.mean((y - X @ ref / math.sqrt(d)) ** 2), 1e-12)
    with pytest.raises(ValueError, match="reg"):
        simulate_erm(replica.ERM("square", 0.0, "gaussian", "sign"), d, [0.5])


def test_samplers_moments():
    rng = np.random.default_rng(0)
    d = 200_000
    assert np.mean(replica.Gaussian(rho=2.0).sample(d, rng) ** 2) == pytest.approx(2.0, rel=0.02)
    w = replica.Spherical(rho=3.0).sample(500, rng)
    assert w @ w == pytest.approx(1500.0, rel=1e-12)
    assert set(np.unique(replica.Rademacher().sample(100, rng))) == {-1.0, 1.0}
    gb = replica.GaussBernoulli(rho=0.3).sample(d, rng)
    assert np.mean(gb != 0) == pytest.approx(0.3, abs=0.005)
    assert np.mean(gb ** 2) == pytest.approx(0.3, rel=0.03)
    z = rng.standard_normal(d)
    flips = replica.LabelFlip(eps=0.2).sample(z, rng) != np.sign(z)
    assert np.mean(flips) == pytest.approx(0.2, abs=0.005)
    # probit: P(y != sign z) = E[Phi(-|z|/sqrt(Delta))] = arctan(sqrt(Delta))/pi
    wrong = replica.Probit(delta=0.5).sample(z, rng) != np.sign(z)
    assert np.mean(wrong) == pytest.approx(math.atan(math.sqrt(0.5)) / math.pi, abs=0.005)
    lin = replica.Linear(delta=0.25).sample(z, rng) - z
    assert np.var(lin) == pytest.approx(0.25, rel=0.02)


def test_gamp_gaussian_linear_reaches_the_exact_posterior_mean():
    # Gaussian prior and channel: the AMP fixed point is the exact posterior mean (a ridge solve)
    model = replica.BayesOptimalGLM(prior=replica.Gaussian(rho=1.0), channel=replica.Linear(delta=0.5))
    d, alpha, seed = 300, 2.0, 3
    res = simulate_gamp(model, d, [alpha], seed=seed, n_iter=300, tol=1e-20)
    X, y, w_star = drawn_problem(model.prior, model.channel, d, alpha, seed)
    F = X / math.sqrt(d)
    post = np.linalg.solve(F.T @ F / 0.5 + np.eye(d), F.T @ y / 0.5)
    assert res.mse[0] == pytest.approx(np.sum((post - w_star) ** 2) / d, rel=1e-6)


def test_logistic_erm_agrees_with_replica():
    model = replica.ERM(loss="logistic", reg=0.1)
    theory = replica_theory(model, [1.0, 3.0])
    rep = compare(theory, model, sizes=[100, 200], seeds=10, observables=["test_error", "train_loss", "m", "q"])
    assert rep.success and rep.verdict != "disagree", rep.message + "\n" + rep.table("q")


def test_logistic_erm_wrong_regularisation_disagrees():
    theory = replica_theory(replica.ERM(loss="logistic", reg=0.2), [1.0, 3.0])
    rep = compare(theory, replica.ERM(loss="logistic", reg=0.1), sizes=[100, 200], seeds=10,
                  observables=["q"])
    assert rep.verdict == "disagree"


def test_hinge_erm_agrees_with_replica():
    model = replica.ERM(loss="hinge", reg=0.1)
    theory = replica_theory(model, [0.5, 2.0])
    # the dual solver stops at a projected-gradient violation of 1e-7: a training loss that
    # vanishes in theory (separable data with margin at alpha = 0.5) comes out ~5e-9 at finite d;
    # atol = 1e-6 states that numerical floor
    rep = compare(theory, model, sizes=[100, 200], seeds=10, observables=["test_error", "train_loss", "q"],
                  atol=1e-6)
    assert rep.success and rep.verdict != "disagree", rep.message + "\n" + rep.table("train_loss")


def test_ridge_regression_agrees_with_closed_form():
    model = replica.ERM(loss="square", reg=0.3, channel=replica.Linear(delta=0.5))
    alphas = [0.5, 2.0]
    theory = replica_theory(model, alphas)
    for j, a in enumerate(alphas):   # the replica solver agrees with its own closed form
        assert theory["q"][j] == pytest.approx(replica.erm.ridge_closed_form(model, a)["q"], rel=1e-8)
    rep = compare(theory, model, sizes=[100, 200], seeds=10, observables=["test_error", "m", "q"])
    assert rep.verdict != "disagree", rep.message + "\n" + rep.table("test_error")


def test_gamp_sign_perceptron_reaches_bayes_error():
    model = replica.BayesOptimalGLM(prior="gaussian", channel="sign")
    theory = replica_theory(model, [1.0, 2.0])
    rep = compare(theory, model, sizes=[200, 400], seeds=10, observables=["test_error", "mse"])
    assert rep.success and rep.verdict != "disagree", rep.message + "\n" + rep.table("test_error")


def test_gamp_rademacher_prior():
    # below the algorithmic transition of the binary perceptron (alpha ~ 1.49), GAMP follows
    # the uninformed state-evolution branch
    model = replica.BayesOptimalGLM(prior="rademacher", channel="sign")
    theory = replica_theory(model, [0.8, 1.2])
    rep = compare(theory, model, sizes=[200, 400], seeds=10, observables=["mse"])
    assert rep.verdict != "disagree", rep.message + "\n" + rep.table("mse")


def test_erm_input_errors():
    with pytest.raises(ValueError, match="model"):
        simulate_erm(replica.BayesOptimalGLM(), 10, [1.0])
    with pytest.raises(ValueError, match="alphas"):
        simulate_erm(replica.ERM(), 10, [0.0])
    with pytest.raises(ValueError, match="d"):
        simulate_erm(replica.ERM(), 0, [1.0])
    with pytest.raises(ValueError, match="reg"):
        simulate_erm(replica.ERM(loss="hinge", reg=0.0), 10, [1.0])
    with pytest.raises(ValueError, match="model"):
        simulate_gamp(replica.ERM(), 10, [1.0])
    with pytest.raises(ValueError, match="damping"):
        simulate_gamp(replica.BayesOptimalGLM(), 10, [1.0], damping=1.0)
    with pytest.raises(ValueError, match="n_iter"):
        simulate_gamp(replica.BayesOptimalGLM(), 10, [1.0], n_iter=0)


@pytest.mark.slow
def test_logistic_erm_acceptance_d2000():
    # logistic ERM at lambda = 0.1: finite-d test error at d = 2000 against the replica saddle point
    model = replica.ERM(loss="logistic", reg=0.1)
    theory = replica_theory(model, [1.0, 5.0])
    rep = compare(theory, model, sizes=[2000], seeds=8, observables=["test_error", "train_loss"])
    print(rep.table("test_error"))
    assert rep.verdict != "disagree", rep.message


@pytest.mark.slow
def test_gamp_acceptance_d2000():
    # Bayes-optimal sign perceptron: GAMP at d = 2000 reaches the Bayes error of the state evolution
    model = replica.BayesOptimalGLM(prior="gaussian", channel="sign")
    theory = replica_theory(model, [1.0, 2.0, 5.0])
    rep = compare(theory, model, sizes=[2000], seeds=8, observables=["test_error", "mse"])
    print(rep.table("test_error"))
    assert rep.verdict != "disagree", rep.message


def test_gamp_trajectory_follows_state_evolution():
    from validation.erm import state_evolution

    model = replica.BayesOptimalGLM(prior="gaussian", channel="sign")
    alphas = [1.0, 2.0]
    se = state_evolution(model, alphas, 10)
    # the state evolution's fixed point is the replica saddle point
    assert se[:, -1] == pytest.approx(replica_theory(model, alphas)["mse"], rel=1e-3)
    rep = compare({"alpha": np.array(alphas), "mse_iter": se}, model, sizes=[300, 600], seeds=8,
                  observables=["mse_iter"], sim_options={"n_iter": 10, "tol": 0.0})
    assert rep.verdict != "disagree", rep.message
    # the iterates at sample ratios 50 % higher do not match
    wrong = {"alpha": np.array(alphas), "mse_iter": state_evolution(model, [1.5, 3.0], 10)}
    rep = compare(wrong, model, sizes=[300, 600], seeds=8, observables=["mse_iter"],
                  sim_options={"n_iter": 10, "tol": 0.0})
    assert rep.verdict == "disagree"


def test_erm_loss_without_kernel_is_refused():
    class _PyHinge(replica.ProxLoss):
        name = "py-hinge"

        def prox_margin(self, om, V):
            return replica.Hinge().prox_margin(om, V)

    with pytest.raises(ValueError, match="loss: validation.simulate_erm needs a loss with a compiled kernel"):
        simulate_erm(replica.ERM(_PyHinge(), 0.1), 10, [1.0])

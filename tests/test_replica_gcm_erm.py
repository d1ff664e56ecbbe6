"""Spectral saddle points of the Gaussian covariate model (replica.gcm_erm).

Loureiro et al., "Learning curves of generic features maps", NeurIPS 2021 (the GCM), in the
package's spectral convention (student eigenvalues omega_i, squared teacher projections theta2_i,
unseen teacher power rho_perp).  Checks: the isotropic limit against replica.ERM; the exact
invariances of the model (rescaling of the features with lambda, order and merging of modes);
rho_perp as label noise for the square loss against the ridge closed form derived here; a finite-p
simulation of logistic regression on a two-level spectrum; the Bayes-optimal special cases.
"""

import math

import numpy as np
import pytest
from scipy.optimize import brentq, minimize
from scipy.special import expit, log_expit

from lmech.status import Status
from replica import ERM, BayesOptimalGLM, ridge_closed_form
from replica.bayes import solve_bayes
from replica.blocks import Gaussian, get_channel
from replica.erm import solve_erm
from replica.gcm_erm import solve_spectral, solve_spectral_bayes, spectral_sums

KEYS = ("m", "q", "V", "test_error", "train_loss")


def _close(a, b, key, ea, eb, rel=1e-10):
    """|a - b| within 1e-10 relative, or within the sum of the two solvers' own error estimates."""
    tol = max(rel * abs(b), ea + eb)
    assert abs(a - b) <= tol, f"{key}: {a!r} vs {b!r} (|diff| {abs(a - b):.2e} > {tol:.2e})"


# ---------------------------------------------------------------------------
# isotropic limit: omega_i = 1, theta2_i = rho, rho_perp = 0 is replica.ERM
# ---------------------------------------------------------------------------
CASES = [("logistic", "sign"), ("hinge", "sign"), ("squared-hinge", "sign"), ("square", "linear"),
         ("logistic", "label-flip"), ("hinge", "probit")]
POINTS = [(0.5, 1.0), (2.0, 1e-2), (3.0, 1e-4)]


@pytest.mark.parametrize("loss,channel", CASES)
@pytest.mark.parametrize("alpha,lam", POINTS)
def test_isotropic_limit_is_the_erm_saddle_point(loss, channel, alpha, lam):
    rho = 1.3
    kw = {"linear": {"delta": 0.25}, "label-flip": {"eps": 0.1}, "probit": {"delta": 0.2}}.get(channel, {})
    ch = get_channel(channel, **kw)
    g = solve_spectral(np.ones(7), np.full(7, rho), 0.0, alpha, lam, loss, ch)
    e = solve_erm(ERM(loss=loss, reg=lam, teacher_prior=Gaussian(rho=rho), channel=ch), alpha)
    assert g["success"] and e.success, (g["message"], e.message)
    assert g["status"] == Status.CONVERGED
    for k in KEYS:
        _close(g[k], e.scalars[k], k, g["error_estimate"][k], e.error_estimate[k])
    for k in ("mhat", "qhat", "Vhat"):
        assert g[k] == pytest.approx(e.scalars[k], rel=1e-8)


def test_isotropic_ridge_against_the_closed_form():
    """Square loss on a linear teacher: replica.ridge_closed_form (Aubin et al. 2020, eq. 17's V root)
    to rounding, and the error estimate bounds the actual error."""
    for alpha, lam in ((0.5, 1e-2), (0.5, 1e-4), (2.0, 1e-4), (1.0, 0.1)):
        ch = get_channel("linear", delta=0.3)
        c = ridge_closed_form(ERM(loss="square", reg=lam, teacher_prior=Gaussian(rho=1.3), channel=ch), alpha)
        g = solve_spectral(np.ones(3), np.full(3, 1.3), 0.0, alpha, lam, "square", ch)
        assert g["success"]
        for k in ("m", "q", "V", "test_error"):
            assert abs(g[k] - c[k]) <= max(g["error_estimate"][k], 4e-16 * abs(c[k])), k
            assert abs(g[k] - c[k]) <= 1e-12 * abs(c[k]), k


@pytest.mark.parametrize("lam,vh", [(1e-4, 3.0), (1e-6, 100.0), (1.0, 0.01)])
def test_spectral_sums_against_exactly_rounded_sums(lam, vh):
    """The compiled one-pass sums of (G4)-(G6) over 1e5 power-law modes (with multiplicities) against
    math.fsum (correctly rounded): within 8 ulp of each positive sum."""
    p = 100_000
    k = np.arange(1.0, p + 1.0)
    u = k ** -1.5
    cnt = np.where(k % 3 == 0, 2.0, 1.0)
    t2 = cnt * p * k ** -2.5 / u
    s = spectral_sums(u, cnt, t2 * u, lam, vh)
    a = u / (lam + vh * u)
    n = math.fsum(cnt)
    exact = [math.fsum(cnt * a) / n, math.fsum(t2 * u * a) / n, math.fsum(t2 * u * a * a) / n,
             math.fsum(cnt * a * a) / n]
    for got, want in zip(s, exact):
        assert got == pytest.approx(want, rel=8 * np.finfo(float).eps, abs=0.0)


# ---------------------------------------------------------------------------
# invariances of the model
# ---------------------------------------------------------------------------
def _two_level(p, a=2.0, b=0.5, ta=0.3, tb=2.0):
    omega = np.r_[np.full(p // 2, a), np.full(p - p // 2, b)]
    theta2 = np.r_[np.full(p // 2, ta), np.full(p - p // 2, tb)]
    return omega, theta2


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_rescaling_omega_and_lambda_together_leaves_the_predictor_unchanged(loss):
    """v -> sqrt(c) v with theta2 -> theta2 / c keeps the teacher; w -> w / sqrt(c) with lambda -> c lambda
    keeps the objective: m, q, V and every observable are unchanged (module docstring)."""
    omega, theta2 = _two_level(10)
    ref = solve_spectral(omega, theta2, 0.1, 1.7, 0.05, loss, "sign")
    assert ref["success"]
    for c in (1e-3, 7.0, 1e4):
        r = solve_spectral(c * omega, theta2 / c, 0.1, 1.7, c * 0.05, loss, "sign")
        assert r["success"]
        for k in KEYS + ("train_error",):
            _close(r[k], ref[k], k, r["error_estimate"][k], ref["error_estimate"][k])


def test_mode_order_and_multiplicity():
    """The sums (G4)-(G6) are over modes: shuffling the modes (which merges equal eigenvalues) and
    repeating each mode k times at the same alpha give the same saddle point."""
    rng = np.random.default_rng(3)
    omega = np.geomspace(5.0, 0.01, 40)
    theta2 = rng.uniform(0.0, 2.0, 40)
    ref = solve_spectral(omega, theta2, 0.0, 1.3, 0.02, "logistic", "sign")
    perm = rng.permutation(40)
    sh = solve_spectral(omega[perm], theta2[perm], 0.0, 1.3, 0.02, "logistic", "sign")
    rep = solve_spectral(np.repeat(omega, 3), np.repeat(theta2, 3), 0.0, 1.3, 0.02, "logistic", "sign")
    for r in (sh, rep):
        assert r["success"]
        for k in KEYS:
            _close(r[k], ref[k], k, r["error_estimate"][k], ref["error_estimate"][k])


# ---------------------------------------------------------------------------
# rho_perp: noise for the square loss (closed form)
# ---------------------------------------------------------------------------
def _ridge_gcm(omega, theta2, rho_perp, alpha, lam, delta):
    """Ridge on the GCM in closed form (derived from (G1)-(G6) with the square loss on a linear
    channel: mhat = Vhat = alpha/(1 + V), qhat = alpha (rho + Delta + q - 2m)/(1 + V)**2).

    V is the root of V = S(V) = (1/p) sum omega/(lam + omega alpha/(1+V)) (S is positive at V = 0
    and bounded by mean(omega)/lam: bracketed), then m explicitly and q from one linear equation;
    the excess error rho + q - 2m includes rho_perp."""
    p = omega.size
    rho = float(np.mean(omega * theta2)) + rho_perp

    def g(V):
        return V - np.sum(omega / (lam + omega * alpha / (1.0 + V))) / p

    V = brentq(g, 1e-300, 2.0 * float(np.mean(omega)) / lam + 1.0, xtol=1e-300, rtol=1e-15)
    vh = alpha / (1.0 + V)
    D = lam + vh * omega
    m = vh * np.sum(theta2 * omega ** 2 / D) / p
    Sb = np.sum(theta2 * omega ** 3 / D ** 2) / p
    Sc = np.sum(omega ** 2 / D ** 2) / p
    k = alpha / (1.0 + V) ** 2
    q = (vh * vh * Sb + k * Sc * (rho + delta - 2.0 * m)) / (1.0 - k * Sc)
    return {"m": m, "q": q, "V": V, "test_error": rho + q - 2.0 * m}


@pytest.mark.parametrize("alpha,lam", [(0.6, 1e-3), (2.5, 0.1), (1.0, 1e-4)])
def test_rho_perp_acts_as_noise_for_the_square_loss(alpha, lam):
    omega = np.geomspace(3.0, 0.02, 60)
    theta2 = 1.0 / (1.0 + np.arange(60.0))
    rp, delta = 0.35, 0.1
    g = solve_spectral(omega, theta2, rp, alpha, lam, "square", get_channel("linear", delta=delta))
    c = _ridge_gcm(omega, theta2, rp, alpha, lam, delta)
    assert g["success"]
    for k in ("m", "q", "V", "test_error"):
        assert g[k] == pytest.approx(c[k], rel=1e-11, abs=1e-14)
    # the same estimator as without rho_perp and with noise Delta + rho_perp; its excess error
    # differs by the unseen power rho_perp
    h = solve_spectral(omega, theta2, 0.0, alpha, lam, "square", get_channel("linear", delta=delta + rp))
    for k in ("m", "q", "V"):
        assert g[k] == pytest.approx(h[k], rel=1e-11)
    assert g["test_error"] == pytest.approx(h["test_error"] + rp, rel=1e-11)


def test_power_law_ridge_with_1e5_modes_against_the_closed_form():
    """p = 1e5 modes omega_k = k^-1.5, teacher power k^-2.5 per mode (replica.gcm's power-law convention),
    lambda down to 1e-6: the spectral sums at scale against the closed form above."""
    p = 100_000
    k = np.arange(1.0, p + 1.0)
    omega = k ** -1.5
    theta2 = p * k ** -2.5 / omega
    ch = get_channel("linear", delta=0.05)
    for alpha, lam in ((0.3, 1e-6), (4.0, 1e-4)):
        g = solve_spectral(omega, theta2, 0.0, alpha, lam, "square", ch)
        c = _ridge_gcm(omega, theta2, 0.0, alpha, lam, 0.05)
        assert g["success"]
        for key in ("m", "q", "V", "test_error"):
            assert g[key] == pytest.approx(c[key], rel=1e-10)


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_lambda_1e_4_converges_on_1e5_modes(loss):
    """The small-ridge regime of the speed target: p = 1e5 power-law modes, lambda = 1e-4, several alphas,
    each converged within rtol and invariant under omega -> c omega, lambda -> c lambda (c = 1e3)."""
    p = 100_000
    k = np.arange(1.0, p + 1.0)
    omega = k ** -1.5
    theta2 = p * k ** -2.5 / omega
    for alpha in (0.5, 5.0, 20.0):
        r = solve_spectral(omega, theta2, 0.0, alpha, 1e-4, loss, "sign")
        s = solve_spectral(1e3 * omega, theta2 / 1e3, 0.0, alpha, 1e-1, loss, "sign")
        assert r["success"] and s["success"], (r["message"], s["message"])
        for key in KEYS:
            _close(s[key], r[key], key, s["error_estimate"][key], r["error_estimate"][key])


def test_a_loss_given_by_its_prox_is_the_same_loss_as_the_kernel():
    """The squared hinge written as a ProxLoss (NumPy margin prox, replica.erm's numpy channel path)
    against the compiled SquaredHinge, on a two-level spectrum."""
    from dataclasses import dataclass

    from lmech.blocks.losses import ProxLoss

    @dataclass(frozen=True)
    class NumpySquaredHinge(ProxLoss):
        def prox_margin(self, om, V):
            om = np.asarray(om, float)
            t = np.where(om >= 1.0, om, (om + V) / (1.0 + V))
            return t, 0.5 * np.maximum(1.0 - t, 0.0) ** 2, np.where(om >= 1.0, 0.0, 1.0)

        def kinks(self, V):
            return (1.0,)

    omega, theta2 = _two_level(8)
    a = solve_spectral(omega, theta2, 0.1, 1.5, 0.05, NumpySquaredHinge(), "sign")
    b = solve_spectral(omega, theta2, 0.1, 1.5, 0.05, "squared-hinge", "sign")
    assert a["success"] and b["success"]
    for key in KEYS:
        _close(a[key], b[key], key, a["error_estimate"][key], b["error_estimate"][key])


# ---------------------------------------------------------------------------
# finite-p simulation: logistic regression on a two-level spectrum
# ---------------------------------------------------------------------------
def _simulate_logistic(omega, theta2, rho_perp, alpha, lam, seed):
    """One draw of the GCM in its eigenbasis and the ridge-logistic fit (scipy L-BFGS); the overlaps
    are the population ones of the fitted w (m = sum theta omega w / p, q = sum omega w^2 / p)."""
    rng = np.random.default_rng(seed)
    p = omega.size
    n = int(round(alpha * p))
    theta = np.sqrt(theta2) * rng.choice([-1.0, 1.0], p)
    v = rng.standard_normal((n, p)) * np.sqrt(omega)
    nu = v @ theta / math.sqrt(p) + math.sqrt(rho_perp) * rng.standard_normal(n)
    y = np.where(nu >= 0.0, 1.0, -1.0)
    Xy = v * (y[:, None] / math.sqrt(p))

    def f(w):
        t = Xy @ w
        return -np.sum(log_expit(t)) + 0.5 * lam * (w @ w), -Xy.T @ expit(-t) + lam * w

    r = minimize(f, np.zeros(p), jac=True, method="L-BFGS-B",
                 options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10_000})
    w = r.x
    m = float(np.sum(theta * omega * w)) / p
    q = float(np.sum(omega * w * w)) / p
    rho = float(np.mean(omega * theta2)) + rho_perp
    return m, q, math.acos(m / math.sqrt(rho * q)) / math.pi, float(-np.mean(log_expit(Xy @ w)))


def test_two_level_spectrum_against_a_finite_p_simulation():
    """p = 600 (half the modes at omega = 2, half at 0.5; teacher power mostly on the weak half),
    rho_perp = 0.2, alpha = 2, lambda = 0.1, 8 seeds: m, q, the test error and the training loss
    within 4 standard errors of the seed mean (finite-p corrections are O(1/p), below the noise)."""
    omega, theta2 = _two_level(600)
    th = solve_spectral(omega, theta2, 0.2, 2.0, 0.1, "logistic", "sign")
    assert th["success"]
    runs = np.array([_simulate_logistic(omega, theta2, 0.2, 2.0, 0.1, s) for s in range(8)])
    mean = runs.mean(axis=0)
    se = runs.std(axis=0, ddof=1) / math.sqrt(len(runs))
    for j, k in enumerate(("m", "q", "test_error", "train_loss")):
        assert abs(mean[j] - th[k]) <= 4.0 * se[j], (k, mean[j], se[j], th[k])


# ---------------------------------------------------------------------------
# Bayes-optimal
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("channel,kw", [("sign", {}), ("probit", {"delta": 0.3}), ("linear", {"delta": 0.5})])
@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_bayes_isotropic_limit_is_the_bayes_optimal_glm(channel, kw, alpha):
    ch = get_channel(channel, **kw)
    g = solve_spectral_bayes(np.ones(5), np.full(5, 1.3), 0.0, alpha, ch)
    b = solve_bayes(BayesOptimalGLM(prior=Gaussian(rho=1.3), channel=ch), alpha)
    assert g["success"] and b.success
    _close(g["q"], b.q, "q", g["error_estimate"]["q"], b.error_estimate["q"])
    _close(g["test_error"], b.scalars["eg_bayes"], "test_error", g["error_estimate"]["test_error"],
           b.error_estimate["eg_bayes"])


def test_bayes_on_a_linear_channel_is_ridge_with_lambda_delta_over_s():
    """Gaussian prior of variance s on every mode and Gaussian noise Delta (plus the unseen teacher
    power rho_perp, Gaussian noise to the statistician): the posterior mean is ridge with
    lambda = (Delta + rho_perp) / s on any spectrum, so the Bayes overlap q equals ridge's m and q
    (Nishimori)."""
    omega = np.geomspace(4.0, 0.05, 50)
    s, delta = 0.7, 0.4
    ch = get_channel("linear", delta=delta)
    for rp in (0.0, 0.2):
        b = solve_spectral_bayes(omega, np.full(50, s), rp, 1.5, ch)
        r = solve_spectral(omega, np.full(50, s), rp, 1.5, (delta + rp) / s, "square", ch)
        assert b["success"] and r["success"]
        for k in ("m", "q"):
            _close(b["q"], r[k], k, b["error_estimate"]["q"], r["error_estimate"][k])
        _close(b["test_error"], r["test_error"], "test_error", b["error_estimate"]["test_error"],
               r["error_estimate"]["test_error"])


@pytest.mark.parametrize("loss", ["logistic", "hinge", "squared-hinge"])
@pytest.mark.parametrize("lam,alpha", [(1e-3, 3.0), (1e-1, 0.7)])
def test_error_estimate_bounds_the_error_against_a_refined_solve(loss, lam, alpha):
    """At rtol = 1e-6 (a few Newton steps, 12 nodes per panel) the estimated absolute errors bound the
    distance to a solve with 96 nodes per panel at rtol = 1e-11 (power-law spectrum, 1e4 modes)."""
    p = 10_000
    k = np.arange(1.0, p + 1.0)
    omega = k ** -1.5
    theta2 = p * k ** -2.5 / omega
    r = solve_spectral(omega, theta2, 0.1, alpha, lam, loss, "sign", rtol=1e-6)
    ref = solve_spectral(omega, theta2, 0.1, alpha, lam, loss, "sign", n_quad=96, rtol=1e-11)
    assert r["success"] and ref["success"]
    for key in KEYS:
        assert abs(r[key] - ref[key]) <= r["error_estimate"][key] + ref["error_estimate"][key], key


# ---------------------------------------------------------------------------
# outcomes and bad input
# ---------------------------------------------------------------------------
def test_success_only_within_tolerance():
    """An rtol below rounding cannot be met: the result says so instead of claiming convergence."""
    omega, theta2 = _two_level(6)
    r = solve_spectral(omega, theta2, 0.0, 2.0, 0.1, "square", "linear", rtol=1e-18)
    assert not r["success"] and r["status"] in (Status.TOLERANCE, Status.MAX_ITER)
    assert any(not (e <= 1e-18 * max(abs(r[k]), 1e-300)) for k, e in r["error_estimate"].items())


def test_warm_start_from_a_previous_result():
    omega, theta2 = _two_level(8)
    a = solve_spectral(omega, theta2, 0.0, 2.0, 1e-3, "hinge", "sign")
    b = solve_spectral(omega, theta2, 0.0, 2.0, 1e-3, "hinge", "sign", init=a)
    assert b["success"] and b["n_iter"] <= 2
    _close(b["q"], a["q"], "q", a["error_estimate"]["q"], b["error_estimate"]["q"])
    # an lmech.Result holding m, q, V (here replica.ERM's, isotropic) is a starting point too
    e = solve_erm(ERM(loss="hinge", reg=1e-3, teacher_prior=Gaussian(rho=1.3), channel="sign"), 2.0)
    c = solve_spectral(np.ones(4), np.full(4, 1.3), 0.0, 2.0, 1e-3, "hinge", "sign", init=e)
    assert c["success"] and c["n_iter"] <= 2
    _close(c["q"], e.q, "q", c["error_estimate"]["q"], e.error_estimate["q"])


@pytest.mark.parametrize("args,match", [
    (dict(omega=[1.0, 0.0]), "omega"),
    (dict(omega=[1.0, np.nan]), "omega"),
    (dict(theta2=[1.0, -0.1]), "theta2"),
    (dict(theta2=[1.0, 1.0, 1.0]), "theta2"),
    (dict(rho_perp=-0.1), "rho_perp"),
    (dict(theta2=[0.0, 0.0], rho_perp=0.0), "theta2"),
    (dict(alpha=0.0), "alpha"),
    (dict(reg=0.0), "reg"),
    (dict(reg=-1.0), "reg"),
    (dict(loss="nope"), "loss"),
    (dict(channel="nope"), "channel"),
    (dict(loss="logistic", channel="linear"), "loss"),
    (dict(rtol=0.0), "rtol"),
    (dict(n_quad=2), "n_quad"),
    (dict(init={"m": 0.1}), "init"),
])
def test_bad_input_is_refused_before_any_work(args, match):
    kw = dict(omega=[1.0, 2.0], theta2=[1.0, 0.5], rho_perp=0.0, alpha=1.0, reg=0.1, loss="logistic",
              channel="sign")
    kw.update(args)
    opts = {k: kw.pop(k) for k in ("rtol", "n_quad", "init") if k in kw}
    with pytest.raises(ValueError, match=match):
        solve_spectral(kw["omega"], kw["theta2"], kw["rho_perp"], kw["alpha"], kw["reg"], kw["loss"],
                       kw["channel"], **opts)

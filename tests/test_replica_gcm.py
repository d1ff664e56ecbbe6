"""Gaussian covariate model: model, conventions and the ridge saddle point (replica.gcm).

References: Loureiro et al., "Learning curves of generic features maps for realistic
datasets with a teacher-student model", NeurIPS 2021 (the GCM); Hastie, Montanari,
Rosset & Tibshirani, "Surprises in high-dimensional ridgeless least squares
interpolation", Ann. Statist. 50, 949 (2022) (ridgeless limits).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

import replica
from lmech import Status
from lmech.spec import from_json, to_json
from replica.gcm import GaussianCovariateModel, convert_source_exponent, solve_ridge


def linear(delta):
    return replica.get_channel("linear", delta=delta)


def close(a, b, rtol):
    """|a - b| <= rtol max(1, |b|) (relative, absolute below 1: lmech.result.over_tolerance)."""
    return abs(a - b) <= rtol * max(1.0, abs(b))


# ---------------------------------------------------------------------------
# model and conventions
# ---------------------------------------------------------------------------
def test_spectra_are_read_only_float_arrays_and_spec_round_trips():
    m = GaussianCovariateModel(omega=[1, 2, 3], theta2=[1.0, 0.5, 0.0], rho_perp=0.25, reg=0.1)
    om, th2, rp = m.spectra()
    assert om.dtype == np.float64 and not om.flags.writeable and not th2.flags.writeable
    assert m.rho == pytest.approx((1 * 1 + 2 * 0.5) / 3 + 0.25, rel=1e-15)
    back = from_json(to_json(m))
    assert np.array_equal(back.omega, m.omega) and back.reg == m.reg and back.rho_perp == m.rho_perp
    assert isinstance(m.loss, replica.Square) and m.channel.delta == 0.0


@pytest.mark.parametrize("kw, match", [
    (dict(omega=[1.0, 0.0], theta2=[1.0, 1.0]), "omega must be > 0"),
    (dict(omega=[1.0, 2.0], theta2=[1.0]), "theta2 must have the shape"),
    (dict(omega=[1.0, 2.0], theta2=[1.0, -1.0]), "theta2 must be >= 0"),
    (dict(omega=[1.0, 2.0], theta2=[1.0, 1.0], reg=-1.0), "reg"),
    (dict(omega=[1.0, 2.0], theta2=[1.0, 1.0], rho_perp=-0.1), "rho_perp"),
    (dict(omega=[1.0, 2.0], theta2=[0.0, 0.0]), "no power"),
    (dict(omega=[1.0, float("nan")], theta2=[1.0, 1.0]), "omega"),
    (dict(omega=[1.0, 2.0], theta2=[1.0, 1.0], loss="logistic"), "regression loss"),
])
def test_bad_model_input(kw, match):
    with pytest.raises(ValueError, match=match):
        GaussianCovariateModel(**kw)


def test_bad_solve_input():
    m = GaussianCovariateModel(omega=[1.0, 2.0], theta2=[1.0, 1.0], reg=0.1)
    with pytest.raises(ValueError, match="alpha"):
        replica.solve(m, 0.0)
    with pytest.raises(TypeError):
        replica.solve(m, 1.0, damping=0.5)
    with pytest.raises(ValueError, match="rtol"):
        solve_ridge(m, 1.0, rtol=0.0)


def test_source_exponent_converter():
    # Cui et al. (NeurIPS 2021) r = 2/3 with capacity a = 1.5: teacher power ~ k^-(1 + 2 a r) = k^-3;
    # Caponnetto-De Vito c = 2r (their rate n^(-bc/(bc+1)) = n^(-2ar/(2ar+1)), b = a)
    assert convert_source_exponent(2 / 3, frm="cui", to="target_decay", a=1.5) == pytest.approx(3.0, rel=1e-15)
    assert convert_source_exponent(2 / 3, frm="cui", to="cdv") == pytest.approx(4 / 3, rel=1e-15)
    assert convert_source_exponent(0.3, frm="interpolation", to="cui") == pytest.approx(0.15, rel=1e-15)
    for conv in replica.gcm.SOURCE_CONVENTIONS:
        x = convert_source_exponent(0.7, frm="cui", to=conv, a=2.0)
        assert convert_source_exponent(x, frm=conv, to="cui", a=2.0) == pytest.approx(0.7, rel=1e-14)
    a, b = 1.5, 3.0
    ca, cb = 2 * a * convert_source_exponent(b, frm="target_decay", to="cui", a=a), 2 * a * (2 / 3)
    assert ca == pytest.approx(cb, rel=1e-15)
    with pytest.raises(ValueError, match="a: "):
        convert_source_exponent(1.0, frm="cui", to="target_decay")
    with pytest.raises(ValueError, match="frm"):
        convert_source_exponent(1.0, frm="bordelon", to="cui")


def _joint_cov(k, p, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((k + p, k + p + 5))
    C = A @ A.T / (k + p + 5)
    return C[:k, :k], C[k:, k:], C[:k, k:], rng.standard_normal(k)


def test_from_matrices_teacher_power():
    Psi, Omega, Phi, theta0 = _joint_cov(12, 9, 0)
    m = GaussianCovariateModel.from_matrices(Psi, Omega, Phi, theta0)
    k, p = 12, 9
    rho = theta0 @ Psi @ theta0 / k
    assert m.rho == pytest.approx(rho, rel=1e-13)
    # rho_perp = Var(nu | v) = theta0^T (Psi - Phi Omega^-1 Phi^T) theta0 / k  (Schur complement)
    schur = Psi - Phi @ np.linalg.solve(Omega, Phi.T)
    assert m.rho_perp == pytest.approx(theta0 @ schur @ theta0 / k, rel=1e-10)
    assert np.allclose(np.sort(m.omega), np.linalg.eigvalsh(Omega), rtol=1e-13)
    with pytest.raises(ValueError, match="positive semi-definite"):
        GaussianCovariateModel.from_matrices(Psi, Omega, 10 * Phi, theta0)


# ---------------------------------------------------------------------------
# ridge saddle point
# ---------------------------------------------------------------------------
GRID = [(lam, a, d) for lam in (0.0, 1e-6, 1e-2, 1.0) for a in (0.3, 0.9, 1.2, 4.0) for d in (0.0, 0.5)]


@pytest.mark.parametrize("lam, alpha, delta", GRID)
def test_isotropic_limit_equals_erm_ridge(lam, alpha, delta):
    # omega = 1, theta2 = rho, rho_perp = 0 is replica.ERM(Square, lambda, prior of second moment rho)
    rho = 1.3
    g = replica.solve(GaussianCovariateModel(omega=np.ones(5), theta2=np.full(5, rho), reg=lam,
                                             channel=linear(delta)), alpha)
    e = replica.ERM("square", lam, replica.get_prior("gaussian", rho=rho), linear(delta))
    ref = replica.ridge_closed_form(e, alpha)
    assert g.success and g.status == Status.CONVERGED
    for k in ("m", "q", "V", "test_error"):
        if math.isinf(ref[k]):
            assert math.isinf(g.scalars[k])
        else:
            assert close(g.scalars[k], ref[k], 1e-10), (k, g.scalars[k], ref[k])
            assert abs(g.scalars[k] - ref[k]) <= 1e-10 * max(1.0, abs(ref[k])) + g.error_estimate[k]


def test_isotropic_limit_equals_iterated_erm():
    rho, lam, alpha, delta = 1.0, 0.05, 1.7, 0.3
    g = replica.solve(GaussianCovariateModel(omega=np.ones(3), theta2=np.full(3, rho), reg=lam,
                                             channel=linear(delta)), alpha)
    e = replica.solve(replica.ERM("square", lam, "gaussian", linear(delta)), alpha)
    assert e.success
    for k in ("m", "q", "V", "mhat", "qhat", "Vhat", "test_error", "train_loss"):
        assert close(g.scalars[k], e.scalars[k], 1e-10), k


def _matrix_saddle(Psi, Omega, Phi, theta0, lam, alpha, delta):
    """The ridge saddle point written with the matrices (no eigendecomposition): the GCM
    equations of Loureiro et al. (NeurIPS 2021) with b = sqrt(p/k) Phi^T theta0,
    G = (lam + Vhat Omega)^-1:  V = tr(Omega G)/p, m = mhat b^T G b / p,
    q = [mhat^2 b^T G Omega G b + qhat tr(Omega G Omega G)] / p, mhat = Vhat = alpha/(1+V),
    qhat = alpha (rho + Delta + q - 2m)/(1+V)^2; Vhat by a bracketed root, q by its linear equation."""
    k, p = Psi.shape[0], Omega.shape[0]
    b = math.sqrt(p / k) * Phi.T @ theta0
    rho = theta0 @ Psi @ theta0 / k
    I = np.eye(p)

    def V_of(vh):
        return np.trace(np.linalg.solve(lam * I + vh * Omega, Omega)) / p

    vh = brentq(lambda x: x * (1.0 + V_of(x)) - alpha, 1e-12, alpha, xtol=1e-15, rtol=1e-15)
    V = V_of(vh)
    G = np.linalg.inv(lam * I + vh * Omega)
    m = vh * b @ G @ b / p
    s1 = vh ** 2 * b @ G @ Omega @ G @ b / p
    s2 = np.trace(Omega @ G @ Omega @ G) / p
    c = alpha / (1.0 + V) ** 2
    q = (s1 + c * s2 * (rho + delta - 2 * m)) / (1.0 - c * s2)
    return {"m": m, "q": q, "V": V, "test_error": rho + q - 2 * m}


@pytest.mark.parametrize("lam, alpha", [(0.1, 0.6), (0.1, 2.5), (1e-3, 1.5)])
def test_matrix_form_equals_spectral_form(lam, alpha):
    Psi, Omega, Phi, theta0 = _joint_cov(15, 11, 1)
    delta = 0.2
    ref = _matrix_saddle(Psi, Omega, Phi, theta0, lam, alpha, delta)
    g = replica.solve(GaussianCovariateModel.from_matrices(Psi, Omega, Phi, theta0, reg=lam,
                                                          channel=linear(delta)), alpha)
    assert g.success
    for k in ref:
        assert close(g.scalars[k], ref[k], 1e-10), (k, g.scalars[k], ref[k])


def test_ridgeless_limits_explicit():
    rng = np.random.default_rng(3)
    p = 50
    om, th2, rp, d = rng.uniform(0.2, 3.0, p), rng.uniform(0.0, 2.0, p), 0.15, 0.3

    def model(lam):
        return GaussianCovariateModel(omega=om, theta2=th2, rho_perp=rp, reg=lam, channel=linear(d))

    # alpha > 1: least squares; excess error rho_perp + (rho_perp + Delta)/(alpha - 1), whatever the
    # spectrum (Hastie et al. 2022, Thm 1 / Prop. 2, with the unseen teacher power rho_perp acting as noise)
    for alpha in (1.5, 4.0):
        r = replica.solve(model(0.0), alpha)
        assert r.success and r.V == pytest.approx(1.0 / (alpha - 1.0), rel=1e-13)
        assert r.test_error == pytest.approx(rp + (rp + d) / (alpha - 1.0), rel=1e-13)
        assert r.m == pytest.approx(np.mean(om * th2), rel=1e-13)
    # alpha < 1: minimum-norm interpolator; lambda -> 0 limit, V = inf, zero training loss
    for alpha in (0.3, 0.8):
        r0 = replica.solve(model(0.0), alpha)
        assert r0.success and math.isinf(r0.V) and r0.train_loss == 0.0 and r0.Vhat == 0.0
        lams = [1e-5, 1e-6, 1e-7]
        errs = [replica.solve(model(lam), alpha).test_error for lam in lams]
        # the approach to the limit is linear in lambda: Richardson from the two smallest
        extrap = errs[2] + (errs[2] - errs[1]) / 9.0
        assert abs(errs[2] - r0.test_error) < abs(errs[1] - r0.test_error) < abs(errs[0] - r0.test_error)
        assert extrap == pytest.approx(r0.test_error, rel=1e-9)
        # lambda V -> t alpha with the limit t of the effective ridge
        assert replica.solve(model(1e-9), alpha).V * 1e-9 == pytest.approx(r0.lambda_V, rel=1e-6)
    # alpha = 1 at lambda = 0: the interpolation peak, a failure with its status
    r = replica.solve(model(0.0), 1.0)
    assert not r.success and r.status == Status.DIVERGED


def test_finite_p_monte_carlo():
    """Ridge on sampled Gaussian data with the model's spectrum, against the saddle point."""
    rng = np.random.default_rng(7)
    p, trials = 200, 60
    om, th2, rp, lam, d = np.linspace(0.5, 2.0, p), np.linspace(2.0, 0.2, p), 0.1, 0.3, 0.2
    model = GaussianCovariateModel(omega=om, theta2=th2, rho_perp=rp, reg=lam, channel=linear(d))
    for alpha in (0.5, 1.5):
        n = int(alpha * p)
        errs = []
        for _ in range(trials):
            theta = np.sqrt(th2) * rng.choice([-1.0, 1.0], p)
            X = rng.standard_normal((n, p)) * np.sqrt(om)
            y = X @ theta / math.sqrt(p) + math.sqrt(rp + d) * rng.standard_normal(n)
            w = np.linalg.solve(X.T @ X / p + lam * np.eye(p), X.T @ y / math.sqrt(p))
            errs.append(np.mean(om * (theta - w) ** 2) + rp)
        errs = np.asarray(errs)
        se = errs.std(ddof=1) / math.sqrt(trials)
        theory = replica.solve(model, alpha).test_error
        assert abs(errs.mean() - theory) < 4.0 * se, (alpha, errs.mean(), theory, se)


def test_error_estimate_bounds_the_error_against_extended_precision():
    # an anisotropic spectrum spanning 10 decades: the saddle point recomputed with mpmath at 40 digits
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    p = 400
    k = np.arange(1, p + 1.0)
    om, th2 = k ** -1.5 * 10, k ** -0.5
    for lam, alpha in ((1e-4, 0.5), (1e-2, 3.0)):
        g = replica.solve(GaussianCovariateModel(omega=om, theta2=th2, reg=lam, channel=linear(0.1)), alpha)
        oms, ths = [mpmath.mpf(float(x)) for x in om], [mpmath.mpf(float(x)) for x in th2]
        L, A, Dl = mpmath.mpf(lam), mpmath.mpf(alpha), mpmath.mpf("0.1")

        def F(t):
            return L / t + mpmath.fsum(w / (t + w) for w in oms) / p - A

        t = mpmath.findroot(F, mpmath.mpf(float(g.kappa / alpha)))
        r = [w / (t + w) for w in oms]
        vh = L / t
        S1 = mpmath.fsum(th * w * (1 - ri) ** 2 for th, w, ri in zip(ths, oms, r)) / p
        B = mpmath.fsum(ri * ri for ri in r) / p
        C = mpmath.fsum(ri * (1 - ri) for ri in r) / p
        E = (A * S1 + Dl * B) / (vh + C)
        assert abs(g.test_error - float(E)) <= g.error_estimate["test_error"]
        assert abs(g.test_error - float(E)) <= 1e-13 * float(E)

"""Fixed points and stability of the committee-machine ODEs: Jacobian vs long integrations."""

import math

import numpy as np
import pytest

import odes
from odes import fixed_points as fp

Q0 = np.diag([0.5, 0.5])
R0 = 1e-3 * np.array([[1.0, 0.5], [0.2, 0.8]])
STANDARD = odes.CommitteeMachine(K=2, M=2, lr=0.5)


def test_symmetric_branches_reference_values():
    """K = M = 2, eta = 0.5: generic branch eg = 0.0146448, degenerate 0.0146770 (independent: roots of a
    separately written Saad-Solla RHS, tests/test_odes_integrate.py::test_fixed_points_and_spectrum_...)."""
    gen = fp.symmetric_fixed_point(STANDARD, branch="generic")
    deg = fp.symmetric_fixed_point(STANDARD, branch="degenerate")
    assert gen.success and deg.success
    assert gen.eg == pytest.approx(0.0146448, abs=5e-8)
    assert deg.eg == pytest.approx(0.0146770, abs=5e-8)
    assert gen.q > gen.c + 1e-3 and gen.r == pytest.approx(gen.s, abs=1e-12)
    assert deg.q == deg.c and deg.r == deg.s
    for r in (gen, deg):
        # a fixed point of the full (not only the symmetric) ODEs, and a saddle: the plateau
        assert r.residual < 1e-12
        assert r.lambda_max > 0 and not r.stable
        assert r.eigenvalues.shape == (7,)


@pytest.mark.parametrize("K", [2, 3])
def test_symmetric_fixed_point_small_lr_limit(K):
    """eta -> 0: q = c = 1/(2K-1), r = s = 1/sqrt(K(2K-1)) and
    eg = (K/pi)(pi/6 - K asin(1/(2K))) (Saad & Solla, PRE 52, 4225 (1995), symmetric phase; K = 2: 0.0116108); the approach is linear in eta."""
    if K == 2:
        assert fp.symmetric_eg_small_lr(2) == pytest.approx(0.0116108, abs=5e-8)
    errs = []
    for eta in (1e-3, 5e-4):
        r = fp.symmetric_fixed_point(odes.CommitteeMachine(K, K, lr=eta), branch="degenerate", steps=3)
        assert r.success
        errs.append(abs(r.eg - fp.symmetric_eg_small_lr(K)))
        assert r.q == pytest.approx(1 / (2 * K - 1), abs=20 * eta)
        assert r.r == pytest.approx(1 / math.sqrt(K * (2 * K - 1)), abs=20 * eta)
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.02)


def test_perfect_learning_spectrum_and_late_decay():
    """Slowest eigenvalue -0.0220924 at Q = R = T = I (independent: the Jacobian of a separately written RHS,
    tests/test_odes_integrate.py::test_fixed_points_and_spectrum_...); a long integration's distance
    to perfect learning decays at exactly that rate."""
    p = fp.perfect_learning(STANDARD)
    assert p.success
    assert p.eigenvalues[0].real == pytest.approx(-0.0220924, abs=5e-8)
    assert p.decay_rate == pytest.approx(0.044185, abs=1e-6)
    te = np.array([900.0, 1000.0])
    r = odes.integrate(STANDARD, 1000.0, Q0=Q0, R0=R0, rtol=1e-12, atol=1e-18, t_eval=te)
    s = odes.System(STANDARD)
    ystar = s.pack(np.eye(2), np.eye(2))
    d = [np.linalg.norm(s.pack(Q, R) - ystar) for Q, R in zip(r.Q, r.R)]
    rate = -math.log(d[1] / d[0]) / 100.0
    assert rate == pytest.approx(-p.eigenvalues[0].real, rel=1e-5)


def test_critical_lr_agrees_with_long_integrations():
    """Below eta_c the run converges to perfect learning, above it does not."""
    ec = fp.critical_lr(STANDARD)
    assert 1.0 < ec < 5.0
    assert fp._lam_max(STANDARD, ec * 0.999, None) < 0 < fp._lam_max(STANDARD, ec * 1.001, None)
    near = dict(Q0=np.eye(2) + 1e-3 * np.array([[1.0, 0.2], [0.2, -0.5]]), R0=np.eye(2) * (1 - 1e-3))
    below = odes.integrate(odes.CommitteeMachine(2, 2, lr=0.95 * ec), 3000.0, t_eval=[3000.0], **near)
    above = odes.integrate(odes.CommitteeMachine(2, 2, lr=1.05 * ec), 3000.0, t_eval=[3000.0], **near)
    assert below.eg_final < 1e-12
    assert above.eg_final > 1e-3


def test_fastest_lr_maximises_the_decay_rate():
    eta, rate = fp.fastest_lr(STANDARD)
    ec = fp.critical_lr(STANDARD)
    assert 0 < eta < ec
    assert rate == pytest.approx(-2 * fp._lam_max(STANDARD, eta, None), rel=1e-12)
    for e in (0.97 * eta, 1.03 * eta, 0.5):
        assert -2 * fp._lam_max(STANDARD, e, None) < rate


@pytest.mark.parametrize("noise", [1e-2, 1e-3])
def test_noise_asymptote_agrees_with_long_integration(noise):
    m = odes.CommitteeMachine(2, 2, lr=0.5, noise=noise)
    fpt = fp.noise_asymptote(m)
    assert fpt.success and fpt.stable
    r = odes.integrate(m, 3000.0, Q0=Q0, R0=R0, t_eval=[3000.0], rtol=1e-12, atol=1e-14)
    assert r.eg_final == pytest.approx(fpt.eg, rel=1e-9)
    np.testing.assert_allclose(r.Q[-1], fpt.Q, atol=1e-12)


def test_noise_asymptote_small_noise_is_linear_in_variance():
    a = fp.noise_asymptote(odes.CommitteeMachine(2, 2, lr=0.5, noise=1e-4)).eg
    b = fp.noise_asymptote(odes.CommitteeMachine(2, 2, lr=0.5, noise=1e-5)).eg
    assert a / b == pytest.approx(10.0, rel=2e-3)


def test_newton_from_a_perturbed_plateau():
    deg = fp.symmetric_fixed_point(STANDARD, branch="generic")
    Q = deg.Q + 1e-3 * np.array([[1.0, 0.3], [0.3, -0.5]])
    R = deg.R + 1e-3 * np.array([[0.2, -0.1], [0.4, 0.1]])
    r = fp.newton(STANDARD, Q, R)
    assert r.success and r.residual < 1e-12
    np.testing.assert_allclose(r.eigenvalues.real, np.sort(np.linalg.eigvals(r.jacobian).real)[::-1],
                               atol=1e-12)


def test_newton_reports_failure_as_data():
    # linear K = M = 1: R* = 1 and dQ = (1 - Q)(2 eta - eta^2) + eta^2 sigma^2, so at
    # eta = 2 with noise there is no fixed point, and for eta = 3 it is unstable
    r = fp.newton(odes.CommitteeMachine(1, 1, activation="linear", lr=2.0, noise=0.1), [[1.0]], [[0.5]])
    assert not r.success and "not converged" in r.message
    r = fp.newton(odes.CommitteeMachine(1, 1, activation="linear", lr=3.0, noise=0.1), [[1.0]], [[0.5]])
    assert r.success and not r.stable
    assert r.Q[0, 0] == pytest.approx(1 + 9 * 0.1 / (6 - 9), rel=1e-12)


def test_invalid_fixed_point_requests():
    with pytest.raises(ValueError, match="M"):
        fp.symmetric_fixed_point(odes.CommitteeMachine(2, 3))
    with pytest.raises(ValueError, match="branch"):
        fp.symmetric_fixed_point(STANDARD, branch="other")
    with pytest.raises(ValueError, match="train_second"):
        fp.symmetric_fixed_point(odes.CommitteeMachine(2, 2, train_second=True))
    with pytest.raises(ValueError, match="M"):
        fp.perfect_learning(odes.CommitteeMachine(2, 3))


def test_fixed_point_archive_round_trip(tmp_path):
    archive = pytest.importorskip("lmech.archive")
    r = fp.symmetric_fixed_point(STANDARD, branch="degenerate")
    archive.save(r, tmp_path / "fp.h5", "plateau")
    back = archive.load(tmp_path / "fp.h5", "plateau")
    assert isinstance(back, fp.FixedPoint) and back.same_as(r)
    assert back.eigenvalues.dtype.kind == "c"

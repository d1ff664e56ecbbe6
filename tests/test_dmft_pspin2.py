"""Tests of dmft.pspin2_exact: exact dynamics of the spherical 2-spin (Cugliandolo & Dean 1995)."""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.special import ive

import dmft


def _bessel_f(s):
    """f(s) = I1(2s)/s, f(0) = 1, scaled by e^{-2s} (Cugliandolo & Dean, J. Phys. A 28, 4213
    (1995), T = 0: C(t,t') = f(t+t') / sqrt(f(2t) f(2t')), e(t) = -I0(4t)/I1(4t) + 1/(2t))."""
    s = np.asarray(s, dtype=float)
    out = np.ones_like(s)
    nz = s > 0
    out[nz] = ive(1, 2 * s[nz]) / s[nz]
    return out


def test_zero_temperature_bessel_closed_form():
    t = np.array([0.0, 0.3, 1.0, 4.0, 12.0, 100.0, 1e3, 1e4])
    r = dmft.pspin2_exact(0.0, t, correlation=True)
    e = -ive(0, 4 * t[1:]) / ive(1, 4 * t[1:]) + 1.0 / (2 * t[1:])
    assert np.max(np.abs(r.energy[1:] - e)) < 1e-13
    assert r.energy[0] == pytest.approx(0.0, abs=1e-14)  # random start: e(0) = 0
    d = _bessel_f(2 * t)
    C = _bessel_f(np.add.outer(t, t)) / np.sqrt(np.outer(d, d))
    assert np.max(np.abs(r.C - C)) < 1e-12
    assert r.error_estimate["energy"] < 1e-11 and r.error_estimate["C"] < 1e-11


def _volterra_residual(T, t):
    """E1 of dmft.pspin2: Gam(t) - g(2t) - 2T int_0^t g(2(t-s)) Gam(s) ds, all scaled by e^{-4t}.

    The time integral by adaptive quadrature (scipy QUADPACK), independent of the spectral
    formula E2 the library uses."""
    from scipy.integrate import quad

    def gam(s):  # e^{-4 s} Gam(s) from the library's log Gam
        return math.exp(dmft.pspin2_exact(T, [s]).log_gamma[0] - 4 * s)

    def g2(x):  # e^{-4x} g(2x), g(y) = I1(2y)/y
        return ive(1, 4 * x) / (2 * x) if x > 0 else 1.0

    integral, err = quad(lambda s: g2(t - s) * gam(s), 0.0, t, epsabs=0, epsrel=1e-13, limit=200)
    return gam(t) - g2(t) - 2 * T * integral, gam(t)


@pytest.mark.parametrize("T,t", [(0.5, 3.0), (1.0, 2.0), (1.7, 1.5)])
def test_closed_form_solves_the_volterra_equation(T, t):
    # the spherical constraint of the Langevin solution (Cugliandolo & Dean 1995, sec. 3)
    res, scale = _volterra_residual(T, t)
    assert abs(res) < 1e-11 * scale


def _mu_mpmath(T, t):
    """mu(t) = Gam'/(2 Gam) from E2 in the eigenvalue variable l, by mpmath (tanh-sinh)."""
    mpmath.mp.dps = 30
    T, t = mpmath.mpf(T), mpmath.mpf(t)

    def w(l, k):  # sigma(l) e^{2 (l - 2) t} (l - 2)^k
        if l * l >= 4:
            return mpmath.mpf(0)
        rho = mpmath.sqrt(4 - l * l) / (2 * mpmath.pi)
        return rho / (1 + T * T - T * l) * mpmath.exp(2 * (l - 2) * t) * (l - 2) ** k

    # breakpoints at the scales 1/t of the edge and |1-T|^2 of the pole of sigma
    floor = max(min(1 / (400 * t), (1 - T) ** 2 / 100), mpmath.mpf(10) ** -12)
    pts = sorted({mpmath.mpf(-2), mpmath.mpf(2)}
                 | {2 - x for x in [mpmath.mpf(4) / 2 ** k for k in range(1, 60)] if x > floor})
    m0 = mpmath.quad(lambda l: w(l, 0), pts)
    m1 = mpmath.quad(lambda l: w(l, 1), pts)
    if T > 1:  # the atom of weight 1 - 1/T^2 at l = T + 1/T
        a = T + 1 / T
        m0 += (1 - 1 / T ** 2) * mpmath.exp(2 * (a - 2) * t)
        m1 += (1 - 1 / T ** 2) * mpmath.exp(2 * (a - 2) * t) * (a - 2)
    return float(2 + m1 / m0)


@settings(max_examples=12, deadline=None)
@given(T=st.floats(0.0, 3.0), logt=st.floats(-2.0, 4.0))
def test_mu_against_mpmath(T, logt):
    t = 10.0 ** logt
    if T > 1.0 and t > 100.0 / (T + 1 / T - 2):
        t = 100.0 / (T + 1 / T - 2)  # mpmath's exp range: the atom dominates by e^{200} there
    r = dmft.pspin2_exact(T, [t])
    ref = _mu_mpmath(T, t)
    assert abs(r.mu[0] - ref) < 1e-10
    assert r.energy[0] == pytest.approx((T - ref) / 2, abs=1e-10)
    assert r.error_estimate["mu"] < 1e-10


@pytest.mark.parametrize("T", [0.9, 0.99, 0.999, 1.0, 1.001, 1.01])
def test_near_critical_temperature_against_mpmath(T):
    # the pole of sigma approaches the spectrum edge: the graded panels must resolve it
    t = np.array([0.5, 10.0, 1e3, 1e4])
    r = dmft.pspin2_exact(T, t)
    for k in (0, 2):
        assert abs(r.mu[k] - _mu_mpmath(T, t[k])) < 1e-10


def test_long_time_limits():
    # T < T_c = 1 (half convention): aging, e -> -1 + T/2 (the spherical SK energy,
    # Kosterlitz, Thouless & Jones, PRL 36, 1217 (1976)), approached as t^-1;
    # T > 1: equilibrium e = -1/(2T) (paramagnet, -xi(1)/T)
    t = np.array([1e6, 1e7])
    for T in (0.0, 0.3, 0.5, 0.8):
        e = dmft.pspin2_exact(T, t).energy
        # e(t) - e_inf ~ a / t: the ratio of the distances is 10 to O(1/t)
        d = e - (-1 + T / 2)
        assert d[0] > 0 and d[0] / d[1] == pytest.approx(10.0, rel=1e-3)
    for T in (1.5, 3.0):
        assert dmft.pspin2_exact(T, [200.0]).energy[0] == pytest.approx(-1 / (2 * T), abs=1e-12)
    # at T = 0 the amplitude is 3/8 (Cugliandolo & Dean 1995: e = -1 + 3/(8t) + ...)
    assert (dmft.pspin2_exact(0.0, [1e7]).energy[0] + 1) * 1e7 == pytest.approx(3 / 8, rel=1e-6)


def test_correlation_against_uniform_integrator():
    # independent computation: the uniform predictor-corrector (second order), Richardson-
    # extrapolated by the solver, agrees with the exact solution within its own error estimate
    m = dmft.SphericalPSpin(p=2, T=0.5)
    res = dmft.solve(m, 3.0, method="uniform", dt=0.05)
    ex = dmft.pspin2_exact(0.5, res.t, correlation=True)
    assert np.max(np.abs(ex.C - res.C)) <= res.error_estimate["C"]
    assert np.max(np.abs(ex.energy - res.e)) <= res.error_estimate["e"]


def test_correlation_against_mpmath_double_integral():
    # E4 of dmft.pspin2 by nested mpmath quadrature at one pair of times
    mpmath.mp.dps = 16
    T, t, tp = mpmath.mpf("0.5"), mpmath.mpf(3), mpmath.mpf(1)

    def rho(l):
        return mpmath.sqrt(4 - l * l) / (2 * mpmath.pi)

    def B(l):
        f = lambda n: rho(n) / (1 + T * T - T * n) * (  # noqa: E731
            (mpmath.exp(2 * n * tp) - mpmath.exp(2 * l * tp)) / (n - l) if n != l
            else 2 * tp * mpmath.exp(2 * l * tp))
        return mpmath.exp(2 * l * tp) + T * mpmath.quad(f, [-2, l, 2])

    N = mpmath.quad(lambda l: rho(l) * mpmath.exp(l * (t - tp)) * B(l), [-2, 0, 2])
    gam = lambda s: mpmath.quad(lambda n: rho(n) / (1 + T * T - T * n) * mpmath.exp(2 * n * s),  # noqa: E731
                                [-2, 0, 2])
    ref = float(N / mpmath.sqrt(gam(t) * gam(tp)))
    r = dmft.pspin2_exact(0.5, [1.0, 3.0], correlation=True)
    assert abs(r.C[1, 0] - ref) < 1e-12


def test_conventions():
    # full convention at T_f, time t: the half dynamics at T_f/sqrt2, time sqrt2 t,
    # energies times sqrt2 (dmft.pspin.convert)
    t = np.array([0.5, 7.0, 300.0])
    f = dmft.pspin2_exact(0.7, t, convention="full", correlation=True)
    h = dmft.pspin2_exact(0.7 / math.sqrt(2), math.sqrt(2) * t, correlation=True)
    assert np.allclose(f.energy, math.sqrt(2) * h.energy, rtol=0, atol=1e-13)
    assert np.allclose(f.mu, math.sqrt(2) * h.mu, rtol=0, atol=1e-13)
    assert np.allclose(f.C, h.C, rtol=0, atol=1e-13)


def test_invalid_input():
    with pytest.raises(ValueError, match="T"):
        dmft.pspin2_exact(-0.1, [1.0])
    with pytest.raises(ValueError, match="times"):
        dmft.pspin2_exact(0.5, [-1.0])
    with pytest.raises(ValueError, match="times"):
        dmft.pspin2_exact(0.5, [])
    with pytest.raises(ValueError, match="tol"):
        dmft.pspin2_exact(0.5, [1.0], tol=0.0)
    with pytest.raises(ValueError, match="convention"):
        dmft.pspin2_exact(0.5, [1.0], convention="third")

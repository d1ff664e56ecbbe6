"""Tests of dmft.RandomRNN (Sompolinsky, Crisanti & Sommers, PRL 61, 259 (1988))."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate
from scipy.special import ive

import dmft
from dmft import _kernels
from lmech import gauss
from lmech.spec import from_spec, to_spec


def _gh_corr(code, c11, c12, c22, n):
    z, w = gauss.hermite(n)
    u = np.empty(n * n)
    return _kernels.phi_corr(code, c11, c12, c22, np.array(z), np.array(w), u, u.copy(), u.copy())


@settings(max_examples=25, deadline=None, derandomize=True)
@given(c11=st.floats(0.05, 3.0), c22=st.floats(0.05, 3.0), rho=st.floats(-0.99, 0.99))
def test_erf_correlation_quadrature_matches_closed_form(c11, c22, rho):
    c12 = rho * math.sqrt(c11 * c22)
    exact = _kernels.phi_corr_exact(_kernels.PHI_ERF, c11, c12, c22)
    # erf is entire: the product rule converges fast (the accuracy knob is n); at
    # |rho| -> 1 and variance 3 it needs n ~ 150 for rounding-level agreement
    assert _gh_corr(_kernels.PHI_ERF, c11, c12, c22, 150) == pytest.approx(exact, abs=1e-13)


@pytest.mark.parametrize("c11,c12,c22", [(1.0, 0.3, 2.0), (2.5, -1.0, 0.8), (0.3, 0.29, 0.3)])
def test_tanh_correlation_quadrature_matches_adaptive_integration(c11, c12, c22):
    # independent reference: adaptive 2-D integration of the Gaussian density
    cov = np.array([[c11, c12], [c12, c22]])
    inv = np.linalg.inv(cov)
    norm = 1 / (2 * math.pi * math.sqrt(np.linalg.det(cov)))

    def f(v, u):
        q = inv[0, 0] * u * u + 2 * inv[0, 1] * u * v + inv[1, 1] * v * v
        return math.tanh(u) * math.tanh(v) * norm * math.exp(-0.5 * q)

    L = 12.0
    ref, _ = integrate.dblquad(f, -L * math.sqrt(c11), L * math.sqrt(c11), -L * math.sqrt(c22),
                               L * math.sqrt(c22), epsabs=1e-11, epsrel=1e-10)
    # tanh has poles at +-i pi/2: the rule converges, but more slowly for wide Gaussians
    errs = [abs(_gh_corr(_kernels.PHI_TANH, c11, c12, c22, n) - ref) for n in (16, 48, 200)]
    assert errs[2] < 1e-10
    assert errs[0] > errs[1] > errs[2] or errs[1] < 1e-12


def test_linear_network_closed_form():
    # phi linear, Ginibre J of variance g^2/N: C(t,t') = x0 e^{-(t+t')} I0(2 g sqrt(t t'))
    g, x0 = 0.8, 1.3
    m = dmft.RandomRNN(g=g, phi="linear", x0_var=x0)
    errs = []
    for h in (0.1, 0.05):
        res = dmft.solve(m, 10.0, dt=h, extrapolate=False)  # the base scheme
        t = res.t
        arg = 2 * g * np.sqrt(np.outer(t, t))
        exact = x0 * np.exp(-np.add.outer(t, t) + arg) * ive(0, arg)
        errs.append(np.max(np.abs(res.C - exact)))
        assert errs[-1] <= res.error_estimate["C"]  # single-grid Richardson estimate
    assert errs[1] < 1e-3
    assert 3.8 < errs[0] / errs[1] < 4.2  # second order
    # the default (extrapolated) answer is within its own estimate of the exact C
    ext = dmft.solve(m, 10.0)
    assert ext.success
    arg = 2 * g * np.sqrt(np.outer(ext.t, ext.t))
    exact = x0 * np.exp(-np.add.outer(ext.t, ext.t) + arg) * ive(0, arg)
    assert np.max(np.abs(ext.C - exact)) <= ext.error_estimate["C"]
    # the quadrature path (exact for polynomials) gives the same numbers
    gh = dmft.solve(m, 10.0, dt=0.05, closed_form=False, n_quad=4, extrapolate=False)
    assert np.allclose(gh.C, res.C, rtol=0, atol=1e-13)
    # R = e^{-(t-t')}, discretised by the trapezoid rule: ((1 - h/2)/(1 + h/2))^k
    k = np.arange(len(t))[::-1]
    assert np.allclose(res.R[-1, :], ((1 - 0.025) / (1 + 0.025)) ** k, rtol=0,
                       atol=200 * 1e-10)  # corrector tol 1e-10 per step, 200 steps
    assert np.max(np.abs(res.R[-1, :] - np.exp(-(t[-1] - t)))) < 1e-4


def test_subcritical_decay():
    # g < 1: correlations decay to zero (SCS 1988)
    res = dmft.solve(dmft.RandomRNN(g=0.5, phi="tanh"), 30.0, dt=0.2, n_quad=12)
    v = res.variance_t
    assert np.all(np.diff(v) < 0)
    assert v[-1] < 1e-8
    assert res.stationary_variance == 0.0


def test_chaotic_stationary_variance_erf():
    # g > 1: C(t,t) tends to the finite Delta_0 of the SCS potential condition
    m = dmft.RandomRNN(g=2.0, phi="erf")
    ra = dmft.solve(m, 60.0, dt=0.2)
    rb = dmft.solve(m, 60.0, dt=0.1)
    v = (4 * rb.variance_t[-1] - ra.variance_t[-1]) / 3  # Richardson, h -> 0
    d0 = dmft.stationary_variance(m)
    assert d0 > 1.0
    assert v == pytest.approx(d0, rel=2e-4)
    # two-time correlation decays to 0 along the row (chaos, no frozen part)
    assert abs(rb.C[-1, 100]) < 1e-2 * d0


def test_chaotic_stationary_variance_tanh():
    # quadrature converged (n_quad = 40 at Delta_0 ~ 2, see above); dt = 0.2 leaves an
    # O(h^2) error of ~2e-3 relative (as measured for erf at the same g and h)
    m = dmft.RandomRNN(g=2.0, phi="tanh")
    res = dmft.solve(m, 40.0, dt=0.2, n_quad=40)
    d0 = dmft.stationary_variance(m)
    assert res.variance_t[-1] == pytest.approx(d0, rel=3e-3)


def test_stationary_variance_condition():
    # Delta_0 solves Delta_0^2/2 = g^2 Var[log cosh(sqrt(Delta_0) z)]  (SCS 1988)
    m = dmft.RandomRNN(g=1.5)
    d0 = dmft.stationary_variance(m)
    var = gauss.expect(lambda z: np.log(np.cosh(math.sqrt(d0) * z)) ** 2, 200) - \
        gauss.expect(lambda z: np.log(np.cosh(math.sqrt(d0) * z)), 200) ** 2
    assert 0.5 * d0 ** 2 == pytest.approx(1.5 ** 2 * var, rel=1e-9)
    # near the transition Delta_0 -> 0 continuously
    assert dmft.stationary_variance(dmft.RandomRNN(g=1.02)) < 0.1 * d0


def test_stationary_profile_matches_late_transient():
    # the late two-time correlation C(t, t - tau) of the transient (uniform grid,
    # closed-form erf correlations) tends to the SCS stationary Delta(tau)
    m = dmft.RandomRNN(g=2.0, phi="erf")
    sp = dmft.solve(m, 8.0, dt=0.1, method="stationary")
    assert sp.success and sp.variance == pytest.approx(dmft.stationary_variance(m), rel=1e-6)
    res = dmft.solve(m, 60.0, dt=0.1)
    lags = np.arange(0, 81)  # tau = 0 .. 8
    gaps = []
    for t_end in (30.0, 45.0, 60.0):
        n = int(round(t_end / 0.1))
        gaps.append(np.max(np.abs(res.C[n, n - lags] - sp.C[lags])))
    # the distance to the stationary profile shrinks as the network ages, at least
    # geometrically (it is still 3e-3 at t = 60, far above the transient's error estimate:
    # the approach to the stationary state is slow, not a discretisation error)
    assert res.success and res.error_estimate["C"] < 0.1 * gaps[2]
    assert gaps[2] < 0.5 * gaps[1] < 0.25 * gaps[0]
    # the profile decreases from Delta_0 and obeys Delta'' = Delta - g^2 C_phi
    C, h = sp.C, 0.1
    assert np.all(np.diff(C) < 0)
    d2 = (C[2:] - 2 * C[1:-1] + C[:-2]) / h ** 2
    cphi = np.array([_kernels.phi_corr_exact(_kernels.PHI_ERF, C[0], c, C[0]) for c in C[1:-1]])
    assert np.max(np.abs(d2 - (C[1:-1] - 4.0 * cphi))) < 2e-3


def test_stationary_subcritical_is_fixed_point():
    sp = dmft.solve(dmft.RandomRNN(g=0.8, phi="tanh"), 2.0, dt=0.5, method="stationary")
    assert sp.variance == 0.0 and np.all(sp.C == 0.0)
    with pytest.raises(ValueError, match="g"):
        dmft.rnn.stationary_profile(dmft.RandomRNN(g=0.8), 2.0)


def test_validation():
    m = dmft.RandomRNN(g=1.2, phi="erf", noise=0.1)
    assert from_spec(to_spec(m)) == m
    with pytest.raises(ValueError, match="g"):
        dmft.RandomRNN(g=-1.0)
    with pytest.raises(ValueError, match="phi"):
        dmft.RandomRNN(phi="sigmoid")
    with pytest.raises(ValueError, match="noise"):
        dmft.RandomRNN(noise=-0.1)
    with pytest.raises(ValueError, match="x0_var"):
        dmft.RandomRNN(x0_var=0.0)
    with pytest.raises(ValueError, match="noise"):
        dmft.stationary_variance(m)
    with pytest.raises(ValueError, match="phi"):
        dmft.stationary_variance(dmft.RandomRNN(g=2.0, phi="relu"))
    with pytest.raises(ValueError, match="closed_form"):
        dmft.solve(m, 1.0, closed_form="yes")


def test_linear_network_with_white_noise():
    # x' = (J - 1) x + eta, <eta eta> = sigma^2 delta: for Ginibre J (variance g^2/N)
    # C(t,t') = x0 e^{-(t+t')} I0(2g sqrt(t t'))
    #         + sigma^2 int_0^t' e^{-(t+t'-2s)} I0(2g sqrt((t-s)(t'-s))) ds
    g, x0, s2 = 0.6, 0.5, 0.4
    m = dmft.RandomRNN(g=g, phi="linear", x0_var=x0, noise=s2)
    res = dmft.solve(m, 6.0, dt=0.025)

    def exact(t, tp):
        def f(s):
            a = 2 * g * math.sqrt((t - s) * (tp - s))
            return math.exp(-(t + tp - 2 * s) + a) * ive(0, a)
        arg = 2 * g * math.sqrt(t * tp)
        return x0 * math.exp(-(t + tp) + arg) * ive(0, arg) + s2 * integrate.quad(f, 0, tp)[0]

    for i, j in ((240, 240), (240, 120), (120, 40), (80, 80)):
        assert res.C[i, j] == pytest.approx(exact(res.t[i], res.t[j]), abs=2e-4)

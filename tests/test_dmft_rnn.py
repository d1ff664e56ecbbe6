"""Tests of dmft.RandomRNN (Sompolinsky, Crisanti & Sommers, PRL 61, 259 (1988))."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from scipy import integrate
from scipy.special import ive

import dmft
from lmech import gauss
from lmech.spec import from_spec, to_spec


def erf_corr(c11, c12, c22):
    """E[phi(u) phi(v)] for phi = erf(sqrt(pi) x/2), (u, v) ~ N(0, [[c11, c12], [c12, c22]]):
    (2/pi) asin(k c12 / sqrt((1 + k c11)(1 + k c22))), k = pi/2 (Williams, Neural Comput. 10, 1203 (1998))."""
    k = math.pi / 2
    return 2 / math.pi * math.asin(k * c12 / math.sqrt((1 + k * c11) * (1 + k * c22)))


@settings(max_examples=4, deadline=None, derandomize=True)
@given(g=st.floats(0.3, 2.5), x0=st.floats(0.05, 3.0), noise=st.floats(0.0, 0.5))
def test_erf_quadrature_path_of_the_solver_matches_its_closed_form_path(g, x0, noise):
    # the same transient with phi-correlations by the product Gauss-Hermite rule (closed_form=False)
    # and by the closed form: erf is entire, so at n = 150 nodes the rule is exact to rounding and the
    # two runs, each corrector iterated to 1e-14, agree to rounding
    m = dmft.RandomRNN(g=g, phi="erf", x0_var=x0, noise=noise)
    opts = dict(dt=0.1, tol=1e-14, rtol_corrector=0.0)
    exact = dmft.solve(m, 0.5, closed_form=True, **opts)
    quad = dmft.solve(m, 0.5, closed_form=False, n_quad=150, **opts)
    assert exact.success and quad.success
    np.testing.assert_allclose(quad.C, exact.C, rtol=0, atol=1e-12)


def _tanh_corr_mpmath(c11, c12, c22):
    """E[tanh(u) tanh(v)] by mpmath (tanh-sinh, 12 digits), nested in the Cholesky variables,
    each integral split where its tanh factor turns (z = 0 outside, z = |m|/c inside) and
    truncated at |z| = 9 (Gaussian mass beyond: 2e-19)."""
    import mpmath as mp

    with mp.workdps(12):
        if c11 < c22:
            c11, c22 = c22, c11
        a = mp.sqrt(c11)
        b = c12 / a
        c = mp.sqrt(max(c22 - b * b, 0))
        k = 1 / mp.sqrt(2 * mp.pi)

        def G(m):  # E[tanh(m + c z)], the nodes +-z paired
            if c == 0:
                return mp.tanh(m)
            return mp.quad(lambda z: k * mp.exp(-z * z / 2) * (mp.tanh(m + c * z) + mp.tanh(m - c * z)),
                           [0, abs(m) / c, 9]) if abs(m) / c < 9 else \
                mp.quad(lambda z: k * mp.exp(-z * z / 2) * (mp.tanh(m + c * z) + mp.tanh(m - c * z)), [0, 9])

        return float(2 * mp.quad(lambda z: k * mp.exp(-z * z / 2) * mp.tanh(a * z) * G(b * z),
                                 [0, min(1 / a, 4), 9]))


@settings(max_examples=3, deadline=None, derandomize=True)
@given(c11=st.floats(1e-3, 60.0), c22=st.floats(1e-3, 60.0), rho=st.floats(-1.0, 1.0))
@example(c11=50.0, c22=40.0, rho=0.999)   # sharp tanh on both axes, nearly singular covariance
@example(c11=0.01, c22=30.0, rho=-0.7)    # very unequal variances
def test_tanh_correlation_against_mpmath_within_its_bound(c11, c22, rho):
    # the rule used by the solver for tanh: an a-priori bound (trapezoid rule, strip of
    # analyticity) that holds at every variance, where a fixed Gauss-Hermite rule fails
    # (tanh(sqrt(c) z) tends to sign(z) as c grows: 24 nodes are 0.03 off in C at g = 3)
    c12 = rho * math.sqrt(c11 * c22)
    value, bound = dmft.rnn.phi_correlation("tanh", c11, c12, c22)
    ref = _tanh_corr_mpmath(c11, c12, c22)
    assert bound < 2e-11
    assert abs(value - ref) <= bound + 1e-12 * max(1.0, abs(ref))  # mpmath at 12 digits


def test_phi_correlation_closed_forms_and_limits():
    # erf: Williams (1998) arcsin form; linear: the covariance itself
    assert dmft.rnn.phi_correlation("erf", 1.3, 0.4, 0.7) == (pytest.approx(erf_corr(1.3, 0.4, 0.7),
                                                                              abs=1e-15), 0.0)
    assert dmft.rnn.phi_correlation("linear", 1.3, 0.4, 0.7)[0] == 0.4
    # tanh: equal arguments (rho = 1) give E tanh(u)^2, a 1-D integral; uncorrelated give 0
    import mpmath as mp
    c = 20.0
    e2 = float(mp.quad(lambda z: mp.exp(-z * z / 2) * mp.tanh(mp.sqrt(c) * z) ** 2, [-mp.inf, 0, mp.inf])
               / mp.sqrt(2 * mp.pi))
    v, b = dmft.rnn.phi_correlation("tanh", c, c, c)
    assert abs(v - e2) <= b
    assert dmft.rnn.phi_correlation("tanh", 3.0, 0.0, 2.0)[0] == pytest.approx(0.0, abs=1e-15)
    # large variances: tanh -> sign, E[sign(u) sign(v)] = (2/pi) arcsin(rho) (Sheppard's
    # formula); the distance shrinks steadily as the variance grows
    dev = [abs(dmft.rnn.phi_correlation("tanh", c, 0.5 * c, c)[0] - 2 / math.pi * math.asin(0.5))
           for c in (10.0, 100.0, 1000.0)]
    assert dev[0] > dev[1] > dev[2] and dev[2] < 1e-3
    with pytest.raises(ValueError, match="phi"):
        dmft.rnn.phi_correlation("relu", 1.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="c12"):
        dmft.rnn.phi_correlation("tanh", 1.0, 1.5, 1.0)


def test_tanh_solver_uses_the_bounded_rule():
    # the transient with the bounded rule (default) against the Gauss-Hermite product rule:
    # at a small variance (x0_var = 0.3, g = 1.5) 120 nodes are exact to rounding and the two
    # agree to the corrector tolerance; at g = 3 (C(t,t) ~ 4.5) the 24-node rule is far off
    # while 120 nodes approach the bounded rule
    m = dmft.RandomRNN(g=1.5, phi="tanh", x0_var=0.3)
    opts = dict(dt=0.1, tol=1e-14, rtol_corrector=0.0, extrapolate=False, rtol=1.0)
    a = dmft.solve(m, 1.5, **opts)
    b = dmft.solve(m, 1.5, closed_form=False, n_quad=120, **opts)
    assert "a-priori bound" in a.conventions["phi_correlation"]
    np.testing.assert_allclose(a.C, b.C, rtol=0, atol=1e-12)
    m = dmft.RandomRNN(g=3.0, phi="tanh")
    opts = dict(dt=0.1, extrapolate=False, rtol=1.0)
    a = dmft.solve(m, 4.0, **opts)
    errs = [abs(dmft.solve(m, 4.0, closed_form=False, n_quad=n, **opts).variance - a.variance)
            for n in (24, 120)]
    assert errs[1] < 1e-3 * errs[0]


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
    # quadrature converged (n_quad = 40 at Delta_0 ~ 2, see above).  The stationary solution of the
    # DMFT (method="stationary", Delta(tau) integrated as a particle in the SCS potential) has the
    # variance Delta_0 that the energy condition of Sompolinsky, Crisanti & Sommers, PRL 61, 259
    # (1988) gives independently; the transient from C(0,0) = 1 approaches it from below, its gap
    # shrinking at every step of the late trajectory (relaxation, not discretisation: the
    # transient's own error estimate, a bound, is smaller than the gap).
    m = dmft.RandomRNN(g=2.0, phi="tanh")
    d0 = dmft.stationary_variance(m)
    sp = dmft.solve(m, 8.0, dt=0.1, method="stationary", n_quad=40)
    assert abs(sp.variance - d0) <= sp.error_estimate["variance"]
    res = dmft.solve(m, 40.0, dt=0.2, n_quad=40)
    late = res.variance_t[res.t >= 10.0]
    assert np.all(late < d0) and np.all(np.diff(late) > 0)
    assert res.error_estimate["variance_t"] < d0 - late[-1]


def test_stationary_accepts_every_allowed_n_quad():
    # n_quad up to 200 is allowed; the refined level is capped at the 300 nodes of
    # lmech.gauss.hermite (it used to ask for 2 n_quad and fail for n_quad > 150).  The
    # variance agrees with the independent energy condition (SCS 1988) within its estimate.
    m = dmft.RandomRNN(g=2.0, phi="tanh")
    for nq in (151, 200):
        sp = dmft.solve(m, 8.0, dt=0.1, method="stationary", n_quad=nq)
        assert sp.success
        assert abs(sp.variance - dmft.stationary_variance(m)) <= sp.error_estimate["variance"]


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
    cphi = np.array([erf_corr(C[0], c, C[0]) for c in C[1:-1]])
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

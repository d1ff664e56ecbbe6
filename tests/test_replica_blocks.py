"""Priors and channels of replica.blocks: identities, closed forms vs quadrature."""

import math

import numpy as np
import pytest
from scipy import integrate

import replica
from lmech.gauss import hermite
from lmech.spec import from_spec, to_spec
from lmech.special import Phi, x_log_x
from replica.blocks import get_channel, get_prior

CHANNELS = [replica.Sign(), replica.LabelFlip(0.1), replica.Probit(0.2), replica.Linear(0.5),
            replica.ReLU(0.3)]
PRIORS = [replica.Gaussian(1.3), replica.Rademacher(), replica.GaussBernoulli(0.3)]


@pytest.mark.parametrize("ch", CHANNELS, ids=lambda c: c.name)
@pytest.mark.parametrize("q", [0.05, 0.5, 0.93])
def test_qhat_is_twice_derivative_of_psi_out(ch, q):
    # BKMMZ eq. 16: qhat / alpha = 2 dPsi_out/dq, central differences O(h^2)
    h = 1e-5
    fd = (ch.psi_out(q + h, 1.0) - ch.psi_out(q - h, 1.0)) / h
    assert fd == pytest.approx(ch.qhat_unit(q, 1.0), rel=2e-7)


@pytest.mark.parametrize("pr", PRIORS, ids=lambda p: p.name)
@pytest.mark.parametrize("r", [0.1, 1.0, 7.0, 40.0])
def test_q_is_twice_derivative_of_psi_prior(pr, r):
    h = 1e-5 * r
    fd = (pr.psi(r + h) - pr.psi(r - h)) / (2 * h)
    assert 2 * fd == pytest.approx(pr.q_of_r(r), rel=1e-6, abs=1e-9)


def _direct_psi_out(ch, q, rho=1.0):
    """E_xi sum_y Z log Z with Z = eps + (1-2eps) Phi(y sqrt(q) xi / sqrt(V + Delta)), by adaptive quadrature."""
    eps = getattr(ch, "eps", 0.0)
    delta = getattr(ch, "delta", 0.0)
    s = math.sqrt(q / (rho - q + delta))

    def f(xi):
        tot = sum(x_log_x(eps + (1 - 2 * eps) * Phi(y * s * xi)) for y in (1, -1))
        return math.exp(-0.5 * xi * xi) / math.sqrt(2 * math.pi) * tot

    L = min(40.0, 40.0 / s) if eps == 0 else 40.0
    return integrate.quad(f, -L, L, epsabs=1e-16, epsrel=1e-13, limit=400, points=[0.0])[0]


@pytest.mark.parametrize("ch", CHANNELS[:3], ids=lambda c: c.name)
@pytest.mark.parametrize("q", [0.1, 0.7, 0.999])
def test_sign_family_psi_out_vs_adaptive_quadrature(ch, q):
    # the rescaled Gauss-Hermite rule against scipy.quad on the raw integrand
    assert ch.psi_out(q, 1.0) == pytest.approx(_direct_psi_out(ch, q), rel=1e-10, abs=1e-13)


def test_sign_psi_out_near_perfect_recovery_is_accurate():
    # V -> 0: Psi_out ~ -c sqrt(V) (peaked integrand); compare n = 64 (the panel-rule floor) and n = 200
    ch = replica.Sign()
    for V in (1e-4, 1e-8):
        a = ch.psi_out(1 - V, 1.0, V, n=64)
        b = ch.psi_out(1 - V, 1.0, V, n=200)
        assert a == pytest.approx(b, rel=1e-12)
        assert ch.psi_out(1 - V, 1.0, V) == pytest.approx(_direct_psi_out(ch, 1 - V) if V > 1e-6 else b,
                                                          rel=1e-8)


def test_linear_channel_closed_form():
    ch = replica.Linear(0.5)
    q, V = 0.3, 0.7
    assert ch.psi_out(q, 1.0) == pytest.approx(-0.5 * math.log(2 * math.pi * math.e * (0.5 + V)))
    assert ch.qhat_unit(q, 1.0) == pytest.approx(1 / (0.5 + V))


def test_relu_psi_out_at_q0_is_negative_entropy_of_marginal():
    # at q = 0, Z_out(y) is the density of y = max(0, z) + sqrt(Delta) nu, z ~ N(0, rho)
    ch, rho = replica.ReLU(0.3), 1.0

    def p(y):
        a = 0.5 * math.exp(-0.5 * y * y / 0.3) / math.sqrt(2 * math.pi * 0.3)
        vt = rho + 0.3
        s = math.sqrt(rho * 0.3 / vt)
        mu = y * rho / vt
        return a + math.exp(-0.5 * y * y / vt) / math.sqrt(2 * math.pi * vt) * Phi(mu / s)

    ref = integrate.quad(lambda y: x_log_x(p(y)), -12, 15, limit=400, epsabs=1e-13)[0]
    assert ch.psi_out(0.0, rho) == pytest.approx(ref, rel=1e-9)


def test_probit_equals_sign_with_extra_variance():
    # P(y|z) = Phi(y z / sqrt Delta): Z_out(y, w, V) = Phi(y w / sqrt(V + Delta)), i.e. the
    # sign channel at rho' = rho + Delta
    q = 0.4
    assert replica.Probit(0.2).psi_out(q, 1.0) == pytest.approx(replica.Sign().psi_out(q, 1.2), rel=1e-13)


def test_gauss_bernoulli_rho1_is_gaussian():
    # closed form (Gaussian N(0,1)) vs the Gauss-Legendre panels of the Gauss-Bernoulli prior
    gb, g = replica.GaussBernoulli(1.0), replica.Gaussian(1.0)
    for r in (0.01, 1.0, 30.0, 1e4):
        assert gb.mmse(r) == pytest.approx(g.mmse(r), rel=1e-11)
        assert gb.psi(r) == pytest.approx(g.psi(r), rel=1e-11)


def test_gauss_bernoulli_converges_in_quadrature():
    gb = replica.GaussBernoulli(0.1)
    for r in (10.0, 1e3, 1e5):
        assert gb.mmse(r, n=96) == pytest.approx(gb.mmse(r, n=300), rel=1e-7)


def test_nishimori_identities_rademacher_and_sign():
    # prior: E[tanh(B) w*] = E[tanh(B)^2] (w* = 1 by symmetry); channel:
    # E[Z g_out^2] = -E[Z d_omega g_out] (Nishimori), by brute-force quadrature
    z, w = hermite(200)
    r = 2.3
    B = r + math.sqrt(r) * z
    # (200-node rule on tanh, poles at distance pi/(2 sqrt r) from the axis: ~1e-11)
    assert np.dot(w, np.tanh(B)) == pytest.approx(np.dot(w, np.tanh(B) ** 2), rel=1e-10)
    q, V = 0.6, 0.4
    om = math.sqrt(q) * z
    from lmech.special import log_Phi
    lz = np.vectorize(log_Phi)
    h = 1e-4
    tot = 0.0
    for y in (1, -1):
        Z = np.exp(lz(y * om / math.sqrt(V)))
        d2 = (lz(y * (om + h) / math.sqrt(V)) - 2 * lz(y * om / math.sqrt(V))
              + lz(y * (om - h) / math.sqrt(V))) / h**2
        tot += np.dot(w, Z * d2)
    assert -tot == pytest.approx(replica.Sign().qhat_unit(q, 1.0), rel=1e-6)


def test_registries_and_specs():
    assert get_prior("rademacher") == replica.Rademacher()
    assert get_prior("gauss-bernoulli", rho=0.2).rho == 0.2
    assert get_channel("probit", delta=0.5) == replica.Probit(0.5)
    for obj in (replica.GaussBernoulli(0.2), replica.LabelFlip(0.05), replica.ReLU(0.1)):
        assert from_spec(to_spec(obj)) == obj


@pytest.mark.parametrize("bad, match", [
    (lambda: get_prior("nope"), "prior"),
    (lambda: get_channel("nope"), "channel"),
    (lambda: replica.Gaussian(-1.0), "rho"),
    (lambda: replica.GaussBernoulli(1.5), "rho"),
    (lambda: replica.LabelFlip(0.5), "eps"),
    (lambda: replica.Linear(-1.0), "delta"),
    (lambda: replica.Probit(-1.0), "delta"),
    (lambda: replica.ReLU(float("nan")), "delta"),
])
def test_invalid_blocks(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_relu_converges_in_n():
    # panels around omega = 0 resolve the step H(omega/sqrt V) even at V = 1e-3
    ch, q = replica.ReLU(0.3), 0.999
    assert ch.psi_out(q, 1.0, n=96) == pytest.approx(ch.psi_out(q, 1.0, n=192), rel=1e-10)
    assert ch.qhat_unit(q, 1.0, n=96) == pytest.approx(ch.qhat_unit(q, 1.0, n=192), rel=1e-7)


def test_nishimori_gauss_bernoulli_by_adaptive_quadrature():
    # q(r) = E[<w> w*] = E[<w>^2] = rho - E[Var(w|B)]: the kernel computes the last form on
    # Gauss-Legendre panels; the first two by scipy.quad over w* and the channel noise
    rho, r = 0.3, 5.0
    pr = replica.GaussBernoulli(rho)

    def post_mean(B):
        l0 = math.log1p(-rho)
        l1 = math.log(rho) - 0.5 * math.log1p(r) + 0.5 * B * B / (1 + r)
        pi = 1.0 / (1.0 + math.exp(l0 - l1))
        return pi * B / (1 + r)

    g = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731

    def expect(f):
        # w* = 0 with prob 1 - rho (B ~ N(0, r)); w* ~ N(0,1) with prob rho (B | w* ~ N(r w*, r))
        zero = integrate.quad(lambda x: g(x) * f(math.sqrt(r) * x, 0.0), -12, 12, epsabs=1e-14)[0]
        one = integrate.dblquad(lambda x, ws: g(ws) * g(x) * f(r * ws + math.sqrt(r) * x, ws),
                                -10, 10, -10, 10, epsabs=1e-12)[0]
        return (1 - rho) * zero + rho * one

    q1 = expect(lambda B, ws: post_mean(B) * ws)
    q2 = expect(lambda B, ws: post_mean(B) ** 2)
    assert q1 == pytest.approx(q2, rel=1e-8)
    assert pr.q_of_r(r) == pytest.approx(q1, rel=1e-8)


from hypothesis import example, given, settings, strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(q=st.floats(0.01, 0.98), eps=st.floats(0.0, 0.45), delta=st.floats(0.0, 2.0),
       rho=st.floats(0.5, 2.0))
def test_sign_family_identity_random_parameters(q, eps, delta, rho):
    # qhat/alpha = 2 dPsi_out/dq for random label-flip / probit parameters and prior scale
    qq = q * rho

    class Ch(replica.blocks.SignFamily):
        probit_delta = delta
        flip_eps = eps

    ch = Ch()
    h = 1e-5 * rho
    fd = (ch.psi_out(qq + h, rho) - ch.psi_out(qq - h, rho)) / h
    assert fd == pytest.approx(ch.qhat_unit(qq, rho), rel=1e-6, abs=1e-9)
    # and Psi_out against the direct integral E_xi sum_y Z log Z
    s = math.sqrt(qq / (rho - qq + delta))

    def f(xi):
        return math.exp(-0.5 * xi * xi) / math.sqrt(2 * math.pi) * sum(
            x_log_x(eps + (1 - 2 * eps) * Phi(y * s * xi)) for y in (1, -1))

    L = min(40.0, 40.0 / s) if eps == 0 else 40.0
    ref = integrate.quad(f, -L, L, epsabs=1e-15, epsrel=1e-12, limit=400, points=[0.0])[0]
    assert ch.psi_out(qq, rho) == pytest.approx(ref, rel=1e-9, abs=1e-13)


# ---------------------------------------------------------------------------
# the quadrature rules against mpmath across the parameter range (integrands that sharpen)
# ---------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(logr=st.floats(-9.0, 6.4))
def test_rademacher_mmse_and_psi_vs_mpmath(logr):
    # x = r + sqrt(r) xi ~ N(r, r): mmse = E[2 / (1 + exp(2x))] (positive integrand, no
    # cancellation), Psi - r/2 = -log 2 + E log(1 + exp(-2x)); the integrands step at x = 0 over
    # a width 1/sqrt(r) in xi, so a fixed Gauss-Hermite rule fails as r grows (2e-3 relative at
    # r = 16 with 96 nodes).  r up to 600, where the mmse is exp(-300)-small.
    import mpmath as mp

    mp.mp.dps = 30
    r = math.exp(logr)
    mr, sr = mp.mpf(r), mp.sqrt(mp.mpf(r))
    pts = sorted({-mp.inf, mr - 12 * sr, mp.mpf(0), mr, mr + 12 * sr, mp.inf})
    mmse = mp.quad(lambda x: mp.npdf(x, mr, sr) * 2 / (1 + mp.exp(2 * x)), pts)
    psi = -mp.log(2) + mp.quad(lambda x: mp.npdf(x, mr, sr) * mp.log1p(mp.exp(-2 * x)), pts)
    pr = replica.Rademacher()
    assert pr.mmse(r) == pytest.approx(float(mmse), rel=1e-13)
    assert pr.psi_minus(r) == pytest.approx(float(psi), abs=1e-14)


@settings(max_examples=12, deadline=None)
@given(q=st.floats(0.01, 0.999), eps=st.sampled_from([0.0, 1e-12, 1e-6, 0.01, 0.2, 0.45]),
       delta=st.sampled_from([0.0, 1e-8, 1e-3, 0.3, 3.0]))
def test_sign_family_kernels_vs_mpmath(q, eps, delta):
    # Z_y = eps + (1-2eps) Phi(y w), w = sqrt(q) xi / sqrt(V + Delta), V = 1 - q:
    # Psi_out = E sum_y Z_y log Z_y and qhat/alpha = E sum_y (d_omega Z_y)^2 / Z_y (BKMMZ eqs.
    # 15-16), even in xi.  With label flips Z_y switches from (1-2eps) Phi to eps in the tail,
    # over a width ~ 1/sqrt(2 log(1/eps)): a fixed 96-node Gauss-Hermite rule was 4e-11 off at
    # q = 0.875, eps = 1e-6.
    import mpmath as mp

    if eps > 0.0 and delta > 0.0:
        return  # no built-in channel has both probit noise and label flips
    mp.mp.dps = 20
    c = 1 - 2 * mp.mpf(eps)
    s = mp.sqrt(mp.mpf(1 - q) + delta)
    a = mp.sqrt(mp.mpf(q)) / s

    def zs(xi):
        return [eps + c * mp.ncdf(y * a * xi) for y in (1, -1)]

    def psi(xi):
        return mp.npdf(xi) * sum(z * mp.log(z) for z in zs(xi) if z > 0)

    def qh(xi):
        dz = c * mp.npdf(a * xi) / s
        return mp.npdf(xi) * sum(dz ** 2 / z for z in zs(xi))

    pts = sorted({mp.mpf(0), mp.mpf(1), mp.mpf(2), mp.mpf(4), mp.mpf(8)}
                 | {k / a for k in (1, 2, 4, 8) if k / a < 12}) + [mp.inf]
    ch = replica.LabelFlip(eps) if eps > 0.0 else (replica.Probit(delta) if delta > 0.0 else replica.Sign())
    assert ch.psi_out(q, 1.0) == pytest.approx(float(2 * mp.quad(psi, pts)), rel=1e-13, abs=1e-15)
    assert ch.qhat_unit(q, 1.0) == pytest.approx(float(2 * mp.quad(qh, pts)), rel=1e-13)


@pytest.mark.parametrize("delta, q", [(1e-3, 0.9), (1e-3, 0.3)])
def test_relu_sharp_output_noise_vs_nested_quadrature(delta, q):
    # y = max(0, z) + sqrt(Delta) nu with Delta << V: Phi(mu/s) in Z_out steps over a width
    # sqrt(Delta/V); a fixed 96-node Gauss-Hermite rule over y was 5e-4 off in qhat at
    # Delta = 1e-3, q = 0.9.  Reference: scipy.quad over xi and y, with
    # Z_out = H(omega/sqrt V) N(y; 0, Delta) + N(y; omega, V + Delta) Phi(mu/s) and
    # g_out = d_omega log Z_out by central differences (independent of the kernel's formula).
    V = 1.0 - q
    vt, sd, st = V + delta, math.sqrt(delta), math.sqrt(V + delta)
    s = math.sqrt(V * delta / vt)
    c = 1.0 / math.sqrt(2 * math.pi)

    def Z(y, om):
        mu = (om * delta + y * V) / vt
        return (0.5 * math.erfc(om / math.sqrt(2 * V)) * c / sd * math.exp(-0.5 * (y / sd) ** 2)
                + c / st * math.exp(-0.5 * ((y - om) / st) ** 2) * 0.5 * math.erfc(-mu / s / math.sqrt(2)))

    def inner(xi):
        om = math.sqrt(q) * xi
        h = 1e-5

        def f(y):
            z = Z(y, om)
            if z <= 0.0:
                return 0.0
            g = (math.log(Z(y, om + h)) - math.log(Z(y, om - h))) / (2 * h)
            return z * g * g

        ystar = -om * delta / V
        pts = sorted({0.0, ystar, om})
        lo, hi = min(pts) - 12 * math.sqrt(vt), max(pts) + 12 * math.sqrt(vt)
        return integrate.quad(f, lo, hi, points=pts, limit=400, epsabs=1e-12, epsrel=1e-10)[0]

    ref = integrate.quad(lambda xi: math.exp(-0.5 * xi * xi) / math.sqrt(2 * math.pi) * inner(xi),
                         -9, 9, points=[0.0], limit=200, epsabs=1e-11, epsrel=1e-9)[0]
    assert replica.ReLU(delta).qhat_unit(q, 1.0) == pytest.approx(ref, rel=1e-7)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(logr=st.floats(-6.0, 8.0), rho=st.floats(0.01, 0.99))
@example(logr=8.0, rho=0.5)
@example(logr=-5.75, rho=0.01)
@example(logr=8.0, rho=0.99)
def test_gauss_bernoulli_vs_mpmath(logr, rho):
    # B = r w* + sqrt(r) xi with w* ~ (1-rho) delta_0 + rho N(0,1): B ~ N(0, r) or N(0, r + r^2);
    # Z0(B) = (1-rho) + rho exp(B^2/(2(1+r))) / sqrt(1+r); the posterior weight of the non-zero
    # component switches at B* = sqrt(2 (1+r) log((1-rho) sqrt(1+r) / rho)) over a width (1+r)/B*
    # in B, sharp as r grows.  Psi - r rho/2 = E log Z0 - r rho/2 and mmse = E[posterior
    # variance] (Nishimori), both by mpmath (breakpoints at the switch).  Checked at the default
    # n: a rule whose panels do not follow the switch was 7e-12 off at r = e^8, rho = 0.5 and
    # 9e-7 at r = e^8, rho = 0.99 (switch off the real axis, width ~ sqrt(pi (1+r)) << sd).
    import mpmath as mp

    mp.mp.dps = 25
    r = mp.mpf(math.exp(logr))
    rho_ = mp.mpf(rho)

    def logz(b):
        return mp.log((1 - rho_) + rho_ * mp.exp(b * b / (2 * (1 + r))) / mp.sqrt(1 + r))

    def var(b):
        pi = 1 - (1 - rho_) / mp.exp(logz(b))
        return pi / (1 + r) + pi * (1 - pi) * b * b / (1 + r) ** 2

    arg = (1 - rho_) * mp.sqrt(1 + r) / rho_
    switch = []
    if arg > 1:
        bs = mp.sqrt(2 * (1 + r) * mp.log(arg))
        switch = [bs + f * (1 + r) / bs for f in (-4, -1, 0, 1, 4)]

    def expect(f):
        tot = 0
        for wgt, sd in ((1 - rho_, mp.sqrt(r)), (rho_, mp.sqrt(r + r * r))):
            pts = sorted({mp.mpf(0), sd, 4 * sd, 12 * sd} | {b for b in switch if 0 < b < 12 * sd})
            tot += wgt * 2 * mp.quad(lambda b: mp.npdf(b, 0, sd) * f(b), pts + [mp.inf])
        return tot

    # psi_minus = -I(r) < 0 (mutual information, no zero crossing).  Rounding floor: the block
    # adds two terms that cancel, of size min(r rho/2, |log rho| + log(1+r)/2 + 1/2) (E log Z0 -
    # r rho/2, or the l2 term of log Z0 integrated in closed form plus E softplus(l1 - l2)); a
    # few ulps of that scale
    pr = replica.GaussBernoulli(rho)
    scale = min(float(r) * rho / 2, abs(math.log(rho)) + 0.5 * math.log1p(float(r)) + 0.5)
    floor = 8 * np.finfo(float).eps * scale
    assert pr.psi_minus(float(r)) == pytest.approx(float(expect(logz) - r * rho_ / 2), rel=1e-12,
                                                   abs=floor)
    # positive integrand, no cancellation
    assert pr.mmse(float(r)) == pytest.approx(float(expect(var)), rel=1e-12)

"""Kernel ridge regression learning curves: Canatar, Bordelon & Pehlevan, Nat. Commun. 12, 2914 (2021),
eq. (4) (kappa, gamma, E_g), solved on their own, against the GCM ridge saddle point."""

from __future__ import annotations

import math

import numpy as np
import pytest

import replica
from replica import GaussianCovariateModel, canatar_kappa, canatar_learning_curve


def test_kappa_flat_spectrum_closed_form():
    # M equal eigenvalues 1/M: kappa = lam + kappa/(s + kappa), s = n/M, a quadratic
    M = 40
    eta = np.full(M, 1.0 / M)
    for lam in (0.0, 1e-3, 0.5):
        for n in (5.0, 39.0, 41.0, 400.0):
            if lam == 0.0 and n >= M:
                continue
            s = n / M
            b = s - lam - 1.0
            ref = (-b + math.sqrt(b * b + 4 * lam * s)) / 2 if b <= 0 else 2 * lam * s / (b + math.sqrt(b * b + 4 * lam * s))
            assert canatar_kappa(eta, n, lam) == pytest.approx(ref, rel=1e-13)
    assert canatar_kappa(eta, 50.0, 0.0) == 0.0


CASES = [(50, 0.1, 0.0, 1.5, 1.2), (2000, 1e-3, 0.3, 1.7, 1.0), (500, 0.0, 0.2, 2.0, 1.5), (300, 1.0, 1.0, 1.1, 0.8)]


@pytest.mark.parametrize("M, lam, noise, a, s", CASES)
def test_canatar_equals_gcm_ridge(M, lam, noise, a, s):
    rng = np.random.default_rng(M)
    k = np.arange(1, M + 1.0)
    eta = k ** -a * rng.uniform(0.5, 1.5, M)
    c = k ** -s * rng.choice([-1.0, 1.0], M)
    model = GaussianCovariateModel.from_kernel(eta, c, noise=noise, reg=lam)
    ns = np.array([2.0, 17.0, 0.6 * M, 3.0 * M])
    if lam == 0.0:
        ns = ns[ns < M]
    cl = canatar_learning_curve(eta, c, ns, lam, noise)
    for i, n in enumerate(ns):
        r = replica.solve(model, n / M)
        assert r.success
        assert r.test_error == pytest.approx(cl["E_g"][i], rel=1e-12)
        assert r.test_error_noisy == pytest.approx(cl["E_g_noisy"][i], rel=1e-12)
        assert r.kappa == pytest.approx(cl["kappa"][i], rel=1e-12)


def test_kernel_map_conventions():
    eta = np.array([0.5, 0.25, 0.125])
    c = np.array([1.0, -0.5, 0.25])
    m = GaussianCovariateModel.from_kernel(eta, c, noise=0.1, reg=0.2, target_residual=0.05)
    # teacher power per mode omega theta^2 / p = c^2; rho = |f*|^2 + residual
    assert np.allclose(m.omega * m.theta2 / m.p, c * c, rtol=1e-15)
    assert m.rho == pytest.approx(np.sum(c * c) + 0.05, rel=1e-15)
    assert m.channel.delta == 0.1 and m.reg == 0.2
    with pytest.raises(ValueError, match="eigenvalues"):
        canatar_kappa([1.0, -1.0], 3, 0.1)
    with pytest.raises(ValueError, match="target_coef"):
        canatar_learning_curve([1.0, 0.5], [1.0], 3, 0.1)


from hypothesis import given, settings, strategies as st  # noqa: E402

from lmech import Status  # noqa: E402
from lmech.result import over_tolerance  # noqa: E402


@settings(max_examples=25, deadline=None, derandomize=True)
@given(M=st.integers(1, 400), a=st.floats(0.5, 3.0), s=st.floats(0.0, 2.0), log_lam=st.floats(-10.0, 2.0),
       noise=st.floats(0.0, 2.0), log_ratio=st.floats(-3.0, 2.0), seed=st.integers(0, 2 ** 31))
def test_canatar_equals_gcm_ridge_across_the_parameter_range(M, a, s, log_lam, noise, log_ratio, seed):
    # ridges from 1e-10 to 1e2, sample sizes from 1e-3 to 1e2 times the number of modes,
    # eigenvalues spanning up to 8 decades, random target signs and sizes
    rng = np.random.default_rng(seed)
    k = np.arange(1, M + 1.0)
    eta = k ** -a * rng.uniform(0.2, 1.0, M)
    c = k ** -s * rng.standard_normal(M)
    if not np.any(c):
        c[0] = 1.0
    lam, n = 10.0 ** log_lam, M * 10.0 ** log_ratio
    cl = canatar_learning_curve(eta, c, n, lam, noise)
    r = replica.solve(GaussianCovariateModel.from_kernel(eta, c, noise=noise, reg=lam), n / M)
    # at the interpolation threshold (n = M) with lambda -> 0, V ~ lambda^-1/2 carries the relative
    # error of the root (~1e-10 there): the only estimate allowed above rtol = 1e-10
    bad = over_tolerance(r.error_estimate, r.scalars, 1e-10)
    assert r.success or (r.status == Status.TOLERANCE and bad == ["V"])
    # the reference divides by 1 - gamma, computed as 1 - sum: its rounding grows like eps/(1 - gamma)
    # at the interpolation peak (the GCM form has no such cancellation: Vhat + <r(1-r)>)
    tol = 1e-12 + 100 * np.finfo(float).eps / (1.0 - cl["gamma"])
    assert r.test_error == pytest.approx(cl["E_g"], rel=tol)
    assert r.kappa == pytest.approx(cl["kappa"], rel=tol)


def test_interpolation_peak_against_mpmath():
    # n = M modes, lambda = 1e-10, noise 1: the excess error ~ 8e4 at the double-descent peak.  The GCM
    # form has no cancellation; Canatar's 1 - gamma loses ~1e-11 here (eq. (4) evaluated in doubles)
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    M, lam = 15, 1e-10
    rng = np.random.default_rng(0)
    eta = np.arange(1, M + 1.0) ** -0.5 * rng.uniform(0.2, 1.0, M)
    c = rng.standard_normal(M)
    r = replica.solve(GaussianCovariateModel.from_kernel(eta, c, noise=1.0, reg=lam), 1.0)
    E = [mpmath.mpf(float(x)) for x in eta]
    C2 = [mpmath.mpf(float(x)) ** 2 for x in c]
    L, P = mpmath.mpf(lam), mpmath.mpf(M)
    K = mpmath.findroot(lambda k: k - L - k * mpmath.fsum(e / (P * e + k) for e in E), mpmath.mpf(r.kappa))
    g = mpmath.fsum(P * e ** 2 / (P * e + K) ** 2 for e in E)
    Eg = (mpmath.fsum(K ** 2 * c2 / (P * e + K) ** 2 for e, c2 in zip(E, C2)) + g) / (1 - g)
    assert float(Eg) > 1e4
    assert abs(r.test_error - float(Eg)) <= r.error_estimate["test_error"]
    assert r.test_error == pytest.approx(float(Eg), rel=1e-14)

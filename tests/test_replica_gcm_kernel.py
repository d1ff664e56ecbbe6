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

"""Tests of dmft.LinearRegressionGF against the Marchenko–Pastur formulas."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from scipy import integrate

import dmft
from dmft.linreg import mp_density, mp_error, mp_train_loss
from lmech.spec import from_spec, to_spec


@pytest.mark.parametrize("gamma", [0.3, 0.5, 2.0])
def test_mp_density_moments(gamma):
    # Marchenko-Pastur law of X^T X / n: mass 1, mean 1, second moment 1 + gamma; the density
    # integrated here by scipy (algebraic end-point weights), the atom added by hand
    lo, hi, dens, atom = mp_density(gamma)
    assert atom == pytest.approx(max(0.0, 1 - 1 / gamma), abs=1e-15)
    for k, ref in ((0, 1.0), (1, 1.0), (2, 1.0 + gamma)):
        f = lambda s: s ** (k - 1) / (2 * math.pi * gamma)  # noqa: E731  density * sqrt-weight
        val, _ = integrate.quad(f, lo, hi, weight="alg", wvar=(0.5, 0.5), epsabs=1e-13, epsrel=1e-12)
        assert val + (atom if k == 0 else 0.0) == pytest.approx(ref, abs=1e-10)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_mp_averages_of_the_public_formulas_at_t_zero(alpha):
    # the Marchenko-Pastur averages inside mp_error and mp_train_loss: at noise 0 and ridge 0,
    # mp_error(t) = r^2 Int e^{-2st} dF and mp_train_loss(t) = (r^2/2) Int s e^{-2st} dF, so at t = 0
    # they give r^2 times the mass and r^2/2 times the mean, and -d/dt of the loss at 0 gives
    # r^2 (1 + gamma) (second-order one-sided difference: error (h^2/3) |L'''(0)| = (4/3) h^2 r^2 m4,
    # m4 = 1 + 6 g + 6 g^2 + g^3 the fourth Marchenko-Pastur moment, plus quadrature noise 1e-12/h)
    m = dmft.LinearRegressionGF(alpha=alpha, noise=0.0, signal=2.0)
    g = 1 / alpha
    assert mp_error(m, 0.0) == pytest.approx(2.0, abs=1e-10)
    assert mp_train_loss(m, 0.0) == pytest.approx(1.0, abs=1e-10)
    h = 1e-4
    slope = (-3 * mp_train_loss(m, 0.0) + 4 * mp_train_loss(m, h) - mp_train_loss(m, 2 * h)) / (2 * h)
    m4 = 1 + 6 * g + 6 * g ** 2 + g ** 3
    assert -slope == pytest.approx(2.0 * (1 + g), abs=4 / 3 * h ** 2 * 2.0 * m4 * 1.01 + 1e-7)


def test_mp_density_matches_sampled_spectrum():
    rng = np.random.default_rng(0)
    n, d = 4000, 1000
    X = rng.standard_normal((n, d))
    ev = np.linalg.eigvalsh(X.T @ X / n)
    t = 0.7
    # E e^{-2 s t}: a smooth linear statistic, fluctuations O(1/d); mp_error at noise 0, ridge 0 and
    # unit signal is exactly Int e^{-2 s t} dF
    theory = mp_error(dmft.LinearRegressionGF(alpha=n / d, noise=0.0), t)
    assert np.mean(np.exp(-2 * ev * t)) == pytest.approx(theory, abs=2e-3)


@pytest.mark.parametrize("model", [
    dmft.LinearRegressionGF(alpha=2.0, noise=0.25),
    dmft.LinearRegressionGF(alpha=0.5, noise=0.25, ridge=0.1, signal=2.0),
    dmft.LinearRegressionGF(alpha=1.5, noise=0.0, ridge=0.3),
    # Langevin dynamics: the thermal Ornstein-Uhlenbeck term of mp_error
    dmft.LinearRegressionGF(alpha=2.0, noise=0.25, temperature=0.3),
    dmft.LinearRegressionGF(alpha=0.7, ridge=0.2, temperature=0.5),
])
def test_dmft_matches_marchenko_pastur_with_second_order(model):
    errs = []
    for h in (0.05, 0.025):
        res = dmft.solve(model, 4.0, dt=h, extrapolate=False)  # the base scheme's order
        e = []
        for t in (1.0, 2.0, 4.0):
            k = int(round(t / h))
            e.append(res.error_t[k] - dmft.mp_error(model, t))
            assert res.test_risk_t[k] == pytest.approx(0.5 * (res.error_t[k] + model.noise))
            if model.ridge == 0 and model.temperature == 0:
                e.append(res.train_loss_t[k] - dmft.mp_train_loss(model, t))
        errs.append(np.array(e))
    # the DMFT error vanishes as h^2: every discrepancy quarters when h halves
    assert np.max(np.abs(errs[1])) < 1e-3
    ratio = errs[0] / errs[1]
    assert np.all((ratio > 3.5) & (ratio < 4.5)), ratio
    # the default answer (Richardson-extrapolated) is within its own error estimate (which
    # may exceed rtol = 1e-4 for the stiffest spectra, alpha = 0.5: success is then False)
    res = dmft.solve(model, 4.0)
    for t in (1.0, 2.0, 4.0):
        k = int(round(t / 0.1))
        assert abs(res.error_t[k] - dmft.mp_error(model, t)) <= res.error_estimate["error_t"]
    assert abs(res.error - dmft.mp_error(model, 4.0)) <= res.error_estimate["error"]


@settings(max_examples=6, deadline=None, derandomize=True)
@given(alpha=st.floats(0.3, 4.0), noise=st.floats(0.0, 1.0), ridge=st.floats(0.0, 0.5),
       signal=st.floats(0.2, 2.0))
@example(alpha=0.5, noise=0.0, ridge=5e-324, signal=1.0)  # subnormal ridge, atom of F at 0
def test_dmft_matches_marchenko_pastur_random_parameters(alpha, noise, ridge, signal):
    model = dmft.LinearRegressionGF(alpha=alpha, noise=noise, ridge=ridge, signal=signal)
    h = 0.025
    res = dmft.solve(model, 2.0, dt=h)
    exact = dmft.mp_error(model, 2.0)
    # O(h^2) bound with the constants observed above (discrepancy <= ~0.8 h^2 per unit scale)
    scale = signal + noise
    assert abs(res.error - exact) < 2.0 * h * h * scale


def test_train_loss_starts_at_y_variance_and_gamma_limit():
    model = dmft.LinearRegressionGF(alpha=3.0, noise=0.5, signal=1.5)
    res = dmft.solve(model, 1.0, dt=0.05)
    # t = 0: beta = 0, train loss = E y^2 / 2 = (r^2 + sigma^2)/2, error = r^2
    assert res.train_loss_t[0] == pytest.approx(0.5 * (1.5 + 0.5), rel=1e-12)
    assert res.error_t[0] == pytest.approx(1.5)
    assert res.m[0] == pytest.approx(-1.5)


def test_model_validation_and_spec():
    m = dmft.LinearRegressionGF(alpha=2.0, noise=0.1, ridge=0.0)
    assert from_spec(to_spec(m)) == m
    with pytest.raises(ValueError, match="alpha"):
        dmft.LinearRegressionGF(alpha=0.0)
    with pytest.raises(ValueError, match="noise"):
        dmft.LinearRegressionGF(noise=-1.0)
    with pytest.raises(ValueError, match="ridge"):
        dmft.LinearRegressionGF(ridge=-0.1)
    with pytest.raises(ValueError, match="signal"):
        dmft.LinearRegressionGF(signal=0.0)
    with pytest.raises(ValueError, match="ridge"):
        dmft.mp_train_loss(dmft.LinearRegressionGF(ridge=0.1), 1.0)
    with pytest.raises(ValueError, match="temperature"):
        dmft.LinearRegressionGF(temperature=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        dmft.mp_train_loss(dmft.LinearRegressionGF(temperature=0.1), 1.0)

"""Tests of dmft.LinearRegressionGF against the Marchenko–Pastur formulas."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import dmft
from dmft.linreg import _mp_integral, mp_density
from lmech.spec import from_spec, to_spec


@pytest.mark.parametrize("gamma", [0.3, 0.5, 2.0])
def test_mp_density_moments(gamma):
    # Marchenko-Pastur law of X^T X / n: mass 1, mean 1, second moment 1 + gamma
    assert _mp_integral(gamma, lambda s: 1.0) == pytest.approx(1.0, abs=1e-10)
    assert _mp_integral(gamma, lambda s: s) == pytest.approx(1.0, abs=1e-10)
    assert _mp_integral(gamma, lambda s: s * s) == pytest.approx(1.0 + gamma, abs=1e-10)


def test_mp_density_matches_sampled_spectrum():
    rng = np.random.default_rng(0)
    n, d = 4000, 1000
    X = rng.standard_normal((n, d))
    ev = np.linalg.eigvalsh(X.T @ X / n)
    lo, hi, dens, atom = mp_density(d / n)
    t = 0.7
    # E e^{-2 s t}: a smooth linear statistic, fluctuations O(1/d)
    assert np.mean(np.exp(-2 * ev * t)) == pytest.approx(_mp_integral(d / n, lambda s: math.exp(-2 * s * t)),
                                                         abs=2e-3)


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

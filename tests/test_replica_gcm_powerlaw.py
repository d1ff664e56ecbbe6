"""Power-law data, rates and the optimal ridge of the GCM (replica.gcm.powerlaw, replica.gcm.optimal).

Cui, Loureiro, Krzakala & Zdeborova, "Generalization error rates in kernel regression: the
crossover from the noiseless to noisy regime", NeurIPS 2021 (Cui et al.): Fig. 1 (decay
exponents of the excess error in the (n, l) plane) and sec. 3.
"""

from __future__ import annotations

import numpy as np
import pytest

import replica
from replica.gcm import (GaussianCovariateModel, fit_slope, learning_curve, optimal_reg, power_law_model,
                         rate_exponent, rate_table)

A, R = 1.5, 2 / 3


def test_power_law_model_convention():
    m = power_law_model(1000, A, R, noise=0.1)
    k = np.arange(1, 1001.0)
    assert np.allclose(m.omega, k ** -A, rtol=1e-15)
    # teacher power per mode omega theta^2 / p = k^-(1 + 2 a r) (Cui et al.'s source condition)
    assert np.allclose(m.omega * m.theta2 / m.p, k ** -(1 + 2 * A * R), rtol=1e-14)
    assert m.channel.delta == 0.1
    mb = power_law_model(1000, A, b=1 + 2 * A * R, noise=0.1)
    assert np.allclose(mb.theta2, m.theta2, rtol=1e-14)
    with pytest.raises(ValueError, match="r, b"):
        power_law_model(10, A, R, b=3.0)


def test_rate_table_published_values_and_continuity():
    # Cui et al.: noiseless optimal 2 a min(r, 1) = 2 and noisy optimal 2 a m / (1 + 2 a m) = 2/3
    assert rate_exponent(A, R, noisy=False) == (pytest.approx(-2.0, rel=1e-15), "noiseless_ridgeless")
    assert rate_exponent(A, R, noisy=True) == (pytest.approx(-2 / 3, rel=1e-15), "noisy_optimal")
    # saturation: r > 1 gives the exponents of r = 1
    assert rate_exponent(A, 3.0, noisy=False)[0] == pytest.approx(-2 * A, rel=1e-15)
    t = rate_table(A, R)
    ls = t["noisy_optimal"][0][0]
    assert ls == pytest.approx(A / (1 + 2 * A * R), rel=1e-15)
    # the regimes meet continuously at their borders (Fig. 1 of Cui et al.)
    assert t["noisy_bias"][1](ls) == pytest.approx(t["noisy_optimal"][1], rel=1e-14)
    assert t["noisy_variance"][1](ls) == pytest.approx(t["noisy_optimal"][1], rel=1e-14)
    assert t["noiseless_ridge"][1](A) == pytest.approx(t["noiseless_ridgeless"][1], rel=1e-14)
    assert t["noisy_variance"][1](A) == pytest.approx(t["noisy_ridgeless"][1], abs=1e-15)
    # the optimal noisy l maximises the noisy exponent
    ells = np.linspace(0.01, 2.0, 400)
    betas = [-rate_exponent(A, R, noisy=True, ell=float(l))[0] for l in ells]
    assert ells[int(np.argmax(betas))] == pytest.approx(ls, abs=0.01)


def test_fit_slope_of_an_exact_power_law_and_of_a_bending_curve():
    n = np.logspace(2, 4, 21)
    f = fit_slope(n, 3.0 * n ** -0.75, decades=2)
    assert f["slope"] == pytest.approx(-0.75, rel=1e-12) and f["slope_err"] < 1e-12
    # n^-1 (1 + 5 n^-0.3): the local slope drifts towards -1; the uncertainty covers the distance
    f = fit_slope(n, n ** -1.0 * (1 + 5 * n ** -0.3), decades=2)
    assert abs(f["slope"] + 1.0) <= f["slope_err"]
    assert abs(f["slope_extrapolated"] + 1.0) < abs(f["slope"] + 1.0)


def test_noiseless_rate_slope_minus_two():
    # ridgeless is the optimal noiseless ridge (Cui et al., l >= a); p = 1e5 modes, n = 10..1000 << p
    m = power_law_model(100_000, A, R, noise=0.0, reg=0.0)
    lc = learning_curve(m, np.logspace(-4, -2, 21), a=A, r=R, fit_decades=2)
    assert lc.success and lc.predicted_slope == pytest.approx(-2.0)
    assert abs(lc.slope - lc.predicted_slope) <= lc.slope_err and lc.slope_agrees
    assert lc.slope_err < 0.1


def test_noisy_optimal_rate_slope_minus_two_thirds():
    # noisy, optimal ridge at each n: the Caponnetto-De Vito rate 2 a r / (1 + 2 a r) = 2/3; n = 1e3..1e5
    # with p = 1e5 (the same slopes to 1e-6 with p = 1e6: the finite p does not bend the curve here)
    m = power_law_model(100_000, A, R, noise=1.0, reg=0.0)
    lc = learning_curve(m, np.logspace(-2, 0, 15), reg="optimal", a=A, r=R, fit_decades=2)
    assert lc.success and lc.predicted_slope == pytest.approx(-2 / 3)
    assert abs(lc.slope - lc.predicted_slope) <= lc.slope_err and lc.slope_agrees
    assert lc.slope_err < 0.02
    assert np.all(lc.reg > 0.0)


def test_optimal_reg_equals_bayes_ridge():
    # a teacher with theta_i^2 = c in every mode is, for ridge, a Gaussian prior N(0, c) on w:
    # the best ridge is the posterior mean, lambda = Delta / c, whatever the spectrum
    rng = np.random.default_rng(5)
    om = rng.uniform(0.1, 3.0, 60)
    for c, delta, alpha in ((1.0, 0.5, 0.7), (2.0, 0.1, 3.0)):
        m = GaussianCovariateModel(omega=om, theta2=np.full(60, c), reg=1.0,
                                   channel=replica.get_channel("linear", delta=delta))
        r = optimal_reg(m, alpha, xtol=1e-8)
        assert r.success and r.reg == pytest.approx(delta / c, rel=1e-3)
        # it is a minimum: both neighbours are worse
        for f in (0.9, 1.1):
            assert replica.solve(m.with_(reg=r.reg * f), alpha).test_error > r.test_error


def test_optimal_reg_noiseless_takes_the_ridgeless_limit():
    rho = 1.0
    m = GaussianCovariateModel(omega=np.ones(4), theta2=np.full(4, rho), reg=1.0,
                               channel=replica.get_channel("linear", delta=0.0))
    for alpha in (0.5, 2.0):
        r = optimal_reg(m, alpha)
        assert r.success and r.reg == 0.0 and r.reg_opt_xtol == 0.0
        # least-norm interpolator rho (1 - alpha) for alpha < 1; zero error for alpha > 1
        assert r.test_error == pytest.approx(rho * max(1 - alpha, 0.0), abs=1e-15)
    with pytest.raises(ValueError, match="bounds"):
        optimal_reg(m, 1.0, bounds=(1.0, 0.1))


def test_noiseless_optimal_ridge_is_ridgeless_and_slope_minus_two():
    # Cui et al.: without noise any l >= a is optimal; the search over lambda >= 0 ends at the explicit
    # lambda -> 0 limit, and the slope is the noiseless optimal -2 a min(r, 1) = -2
    m = power_law_model(100_000, A, R, noise=0.0, reg=1.0)
    lc = learning_curve(m, np.logspace(-4, -2, 15), reg="optimal", a=A, r=R)
    assert lc.success and np.all(lc.reg == 0.0)
    assert lc.predicted_slope == pytest.approx(-2.0) and lc.slope_agrees


def test_bad_input_of_the_power_law_helpers():
    with pytest.raises(ValueError, match="a must"):
        power_law_model(10, 0.0, R)
    with pytest.raises(ValueError, match="r must"):
        power_law_model(10, A, -1.0)
    with pytest.raises(ValueError, match="p must"):
        power_law_model(0, A, R)
    m = power_law_model(100, A, R)
    with pytest.raises(ValueError, match="reg"):
        learning_curve(m, [0.1, 0.2], reg="best")
    with pytest.raises(ValueError, match="alphas"):
        learning_curve(m, [0.0, 0.2])
    with pytest.raises(ValueError, match="ell"):
        rate_exponent(A, R, noisy=True, ell=-1.0)
    with pytest.raises(ValueError, match="^a must lie in"):
        rate_exponent(1.0, R, noisy=True)   # Cui et al.'s rates need a trace-class covariance, a > 1
    with pytest.raises(ValueError, match="^a must lie in"):
        learning_curve(m, [0.1, 0.2], a=0.5, r=R)
    with pytest.raises(ValueError, match="model"):
        optimal_reg("ridge", 1.0)

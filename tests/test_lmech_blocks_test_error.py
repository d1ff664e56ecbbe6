"""Channel.test_error: the one GLM test-error formula, against a Monte Carlo of the channel.

A student ``h`` and the teacher pre-activation ``z`` are jointly Gaussian with
``E z^2 = rho``, ``E z h = m``, ``E h^2 = q``; labels are drawn with the
channel's own ``sample``.  The classification error against the clean label
``sign(z)`` is ``arccos(m / sqrt(q rho)) / pi`` (Engel & Van den Broeck,
Statistical Mechanics of Learning, CUP 2001, eq. (2.3)); the regression error
``E (z - h)^2 = rho + q - 2m``.
"""

import math

import numpy as np
import pytest

from lmech.blocks import get_channel

N_MC = 400_000
CHANNELS = [("sign", {}), ("label-flip", {"eps": 0.15}), ("probit", {"delta": 0.4}),
            ("linear", {"delta": 0.5}), ("relu", {"delta": 0.3})]
OVERLAPS = [(0.6, 1.1, 1.3), (-0.3, 0.5, 0.8), (1.2, 2.0, 0.9)]   # (m, q, rho), m^2 < q rho


def _pair(m, q, rho, rng):
    u, v = rng.standard_normal((2, N_MC))
    z = math.sqrt(rho) * u
    h = (m / math.sqrt(rho)) * u + math.sqrt(q - m * m / rho) * v
    return z, h


@pytest.mark.parametrize("name,kw", CHANNELS, ids=[c[0] for c in CHANNELS])
@pytest.mark.parametrize("m,q,rho", OVERLAPS)
def test_test_error_matches_monte_carlo_of_the_channel(name, kw, m, q, rho):
    ch = get_channel(name, **kw)
    rng = np.random.default_rng(20261205)
    z, h = _pair(m, q, rho, rng)
    y = ch.sample(z, rng)
    if ch.classification:
        sign_h = np.where(h >= 0, 1.0, -1.0)
        cases = {False: sign_h != np.where(z >= 0, 1.0, -1.0), True: sign_h != y}
    else:
        cases = {False: (z - h) ** 2}
        if name == "linear":
            cases[True] = (y - h) ** 2
    for noisy, sample in cases.items():
        sample = sample.astype(float)
        mc, se = sample.mean(), sample.std() / math.sqrt(N_MC)
        theory = ch.test_error(m, q, rho, noisy=noisy)
        assert isinstance(theory, float)
        assert abs(theory - mc) < 4.0 * se, (noisy, theory, mc, se)


@pytest.mark.parametrize("name,kw", CHANNELS[:3], ids=[c[0] for c in CHANNELS[:3]])
def test_classification_limits(name, kw):
    ch = get_channel(name, **kw)
    eps, delta = kw.get("eps", 0.0), kw.get("delta", 0.0)
    for q, rho in [(0.3, 1.0), (2.0, 0.7)]:
        # m = 0: an uncorrelated student is at chance, on clean and on noisy labels
        assert ch.test_error(0.0, q, rho) == 0.5
        assert ch.test_error(0.0, q, rho, noisy=True) == pytest.approx(0.5, abs=1e-15)
        # m^2 = q rho: the student has the teacher's direction, zero clean error (one on the
        # reversed direction); on noisy labels what is left is the noise: eps + (1 - 2 eps) x the
        # probit disagreement P(sign z != sign(z + sqrt(Delta) nu)) = arctan(sqrt(Delta/rho))/pi
        m = math.sqrt(q * rho)
        assert ch.test_error(m, q, rho) == 0.0
        assert ch.test_error(-m, q, rho) == 1.0
        floor = eps + (1.0 - 2.0 * eps) * math.atan(math.sqrt(delta / rho)) / math.pi
        assert ch.test_error(m, q, rho, noisy=True) == pytest.approx(floor, rel=1e-14, abs=1e-16)
    # the student h = 0 (q = 0) answers sign(0) = +1: chance
    assert ch.test_error(0.0, 0.0, 1.0) == 0.5


def test_regression_limits_and_noise():
    lin = get_channel("linear", delta=0.25)
    # m^2 = q rho with q = rho: h = z, no excess error; on noisy labels the noise variance
    assert lin.test_error(0.8, 0.8, 0.8) == 0.0
    assert lin.test_error(0.8, 0.8, 0.8, noisy=True) == 0.25
    # m = 0: E (z - h)^2 = rho + q
    assert lin.test_error(0.0, 0.3, 1.0) == pytest.approx(1.3, rel=1e-15)
    with pytest.raises(ValueError, match="noisy"):
        get_channel("relu", delta=0.1).test_error(0.1, 0.5, 1.0, noisy=True)


@pytest.mark.parametrize("name,kw", CHANNELS[:4], ids=[c[0] for c in CHANNELS[:4]])
def test_arrays_broadcast_to_the_scalar_values(name, kw):
    ch = get_channel(name, **kw)
    m = np.array([0.0, 0.2, -0.4, 0.7, np.nan])
    q = np.array([0.0, 0.5, 0.5, 0.9, 0.5])
    got = ch.test_error(m, q, 0.8)
    want = [ch.test_error(float(a), float(b), 0.8) for a, b in zip(m, q)]
    assert got.shape == m.shape
    np.testing.assert_allclose(got[:-1], want[:-1], rtol=1e-15, atol=0)
    assert math.isnan(got[-1]) and math.isnan(want[-1])   # a diverged run is reported, not hidden


def test_replica_erm_error_on_probit_labels_is_a_monte_carlo_of_its_student():
    # the ERM student's (m, q) on a probit teacher: its error on fresh noisy labels
    # y = sign(z + sqrt(Delta) nu), simulated, against the reported test_error_noisy
    from replica.blocks import get_channel as replica_channel
    from replica.erm import ERM, solve_erm

    delta, rho = 0.3, 1.0
    res = solve_erm(ERM(loss="logistic", reg=0.1, channel=replica_channel("probit", delta=delta)), 2.0)
    m, q = res.scalars["m"], res.scalars["q"]
    rng = np.random.default_rng(7)
    z, h = _pair(m, q, rho, rng)
    y = np.where(z + math.sqrt(delta) * rng.standard_normal(N_MC) >= 0, 1.0, -1.0)
    wrong = (np.where(h >= 0, 1.0, -1.0) != y).astype(float)
    se = wrong.std() / math.sqrt(N_MC)
    assert abs(res.scalars["test_error_noisy"] - wrong.mean()) < 4.0 * se
    assert res.scalars["test_error_noisy"] - res.scalars["test_error"] > 10.0 * se


# -- Channel.test_risk: the square-loss risk on y = f(z) + sqrt(noise) nu -----------------------
@pytest.mark.parametrize("name", ["linear", "sign", "relu", "label-flip", "probit"])
@pytest.mark.parametrize("m,q,rho", OVERLAPS)
@pytest.mark.parametrize("noise", [0.0, 0.7])
def test_test_risk_against_adaptive_quadrature(name, m, q, rho, noise):
    # independent computation: h = (m/rho) z + sqrt(q - m^2/rho) xi with xi independent of z, so
    # E (f(z) + sqrt(noise) nu - h)^2 = E_z (f(z) - (m/rho) z)^2 + q - m^2/rho + noise, the first
    # term by adaptive quadrature split at the kink z = 0 of the sign and ReLU teachers
    from scipy.integrate import quad
    ch = get_channel(name)

    def integrand(z):
        f = float(ch.teacher_map(np.array([z]))[0])
        return (f - m / rho * z) ** 2 * math.exp(-z * z / (2 * rho)) / math.sqrt(2 * math.pi * rho)

    lo = sum(quad(integrand, a, b, epsabs=1e-14, epsrel=1e-13)[0]
             for a, b in ((-math.inf, 0.0), (0.0, math.inf)))
    ref = 0.5 * (lo + q - m * m / rho + noise)
    assert ch.test_risk(m, q, rho, noise=noise) == pytest.approx(ref, rel=1e-11, abs=1e-13)
    # arrays broadcast
    got = ch.test_risk(np.array([m, m]), np.array([q, q]), rho, noise=noise)
    assert got.shape == (2,) and np.all(got == ch.test_risk(m, q, rho, noise=noise))


def test_glm_dynamics_reports_the_channel_test_risk():
    # dmft.GLMDynamics (and the simulators of validation, which call it) take the risk from
    # the teacher channel with the model's own label noise
    import dmft
    g = dmft.GLMDynamics(alpha=1.5, teacher="relu", noise=0.3, rho=1.2)
    M, Q = np.array([0.2, 0.5]), np.array([0.4, 0.9])
    assert np.array_equal(g.test_risk(M, Q), get_channel("relu").test_risk(M, Q, 1.2, noise=0.3))

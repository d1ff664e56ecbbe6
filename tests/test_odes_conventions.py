"""Convention converters: round trips, and converted problems giving the same trajectories."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

import odes
from odes import conventions as cv

Q0 = np.diag([0.5, 0.4])
R0 = 1e-2 * np.array([[1.0, 0.5], [0.2, 0.8]])


@settings(max_examples=20, deadline=None)
@given(v=st.lists(st.floats(-3, 3), min_size=1, max_size=6),
       src=st.sampled_from(odes.READOUTS), dst=st.sampled_from(odes.READOUTS))
def test_readout_weights_round_trip(v, src, dst):
    n = len(v)
    there = cv.readout_weights(v, n, src, dst)
    np.testing.assert_allclose(cv.readout_weights(there, n, dst, src), v, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("src,dst", [("sum", "mean"), ("mean", "sqrt"), ("sqrt", "sum")])
def test_readout_conversion_gives_the_same_trajectory(src, dst):
    m = odes.CommitteeMachine(2, 2, lr=0.3, train_second=True, lr_v=0.2, readout=src,
                              v_teacher=(1.0, 0.7))
    v0 = np.array([0.8, 1.1])
    m2, v2 = cv.to_readout(m, dst, v0)
    back, vb = cv.to_readout(m2, src, v2)
    assert back.readout == src
    np.testing.assert_allclose(vb, v0, rtol=1e-14)
    np.testing.assert_allclose(back.v_teacher, m.v_teacher, rtol=1e-14)
    assert back.eta_v == pytest.approx(m.eta_v, rel=1e-14)
    te = [0.0, 5.0, 20.0]
    a = odes.integrate(m, 20.0, Q0=Q0, R0=R0, v0=v0, t_eval=te, rtol=1e-11, atol=1e-13)
    b = odes.integrate(m2, 20.0, Q0=Q0, R0=R0, v0=v2, t_eval=te, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(a.eg, b.eg, rtol=1e-8)
    np.testing.assert_allclose(a.Q, b.Q, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(cv.readout_weights(a.v, 2, src, dst), b.v, rtol=1e-8)
    assert a.conventions["readout"] != b.conventions["readout"]


def test_erf_scaling_round_trip_and_equivalence():
    """erf(u) network with (Q, R, T, eta) == erf(u/sqrt 2) network with (2Q, 2R, 2T, 2 eta).

    The erf(u) side is integrated by Gauss-Hermite (a Custom activation), the other by the closed
    forms: the right-hand sides must map into each other (dQ doubles)."""
    T = np.array([[1.0, 0.2], [0.2, 0.8]])
    Q, R, T2, lr, wd = cv.erf_scaling(Q0, R0, T, 0.4, weight_decay=0.1)
    np.testing.assert_allclose(Q, 2 * Q0)
    assert lr == pytest.approx(0.8) and wd == pytest.approx(0.05)
    back = cv.erf_scaling(Q, R, T2, lr, src="erf(u/sqrt(2))", dst="erf(u)", weight_decay=wd)
    for x, y in zip(back, (Q0, R0, T, 0.4, 0.1)):
        np.testing.assert_allclose(x, y, rtol=1e-15)
    # K = M = 1 to keep the 4-D Gauss-Hermite rules cheap; erf(u) at unit variance is
    # erf(u/sqrt 2) at variance 2, where Gauss-Hermite converges geometrically but slowly
    Q1, R1, T1 = Q0[:1, :1], R0[:1, :1], T[:1, :1]
    Q, R, T2, lr, wd = cv.erf_scaling(Q1, R1, T1, 0.4, weight_decay=0.1)
    ss = odes.CommitteeMachine(1, 1, activation="erf", lr=lr, weight_decay=wd, noise=0.05)
    s2 = odes.System(ss, T2)
    f2 = s2.f(0.0, s2.pack(Q, R))
    errs = []
    for n in (12, 20, 28):
        act = odes.Custom(erf, lambda u: 2 / math.sqrt(math.pi) * np.exp(-u * u), n_nodes=n, name="erf(u)")
        plain = odes.CommitteeMachine(1, 1, activation=act, lr=0.4, weight_decay=0.1, noise=0.05)
        s1 = odes.System(plain, T1)
        errs.append(np.abs(2 * s1.f(0.0, s1.pack(Q1, R1)) - f2).max())
        assert s1.eg(s1.pack(Q1, R1)) == pytest.approx(s2.eg(s2.pack(Q, R)), abs=10 * errs[-1])
    assert errs[0] > 10 * errs[1] > 100 * errs[2]
    assert errs[2] < 2e-6


@settings(max_examples=20, deadline=None)
@given(t=st.floats(0, 1e4), lr=st.floats(1e-3, 10))
def test_time_units_round_trip(t, lr):
    a = cv.time_units(t, lr)
    assert a == pytest.approx(lr * t, rel=1e-15)
    assert cv.time_units(a, lr, src="eta*steps/N", dst="steps/N") == pytest.approx(t, rel=1e-14, abs=1e-300)


def test_time_units_small_lr_limit():
    """In alpha = eta steps/N the trajectory has a limit as eta -> 0 (the eta^2 terms vanish);
    at fixed alpha the difference between eta and eta/2 is first order in eta."""
    alpha = 4.0
    egs = []
    for eta in (0.04, 0.02, 0.01):
        t = float(cv.time_units(alpha, eta, src="eta*steps/N", dst="steps/N"))
        r = odes.integrate(odes.CommitteeMachine(2, 2, lr=eta), t, Q0=Q0, R0=R0, t_eval=[t],
                           rtol=1e-11, atol=1e-13)
        egs.append(r.eg[-1])
    d1, d2 = abs(egs[0] - egs[1]), abs(egs[1] - egs[2])
    assert d1 / d2 == pytest.approx(2.0, rel=0.05)


@settings(max_examples=20, deadline=None)
@given(s=st.floats(0, 100))
def test_noise_round_trip(s):
    assert cv.noise_std(cv.noise_variance(s)) == pytest.approx(s, rel=1e-15)


def test_invalid_conventions():
    with pytest.raises(ValueError, match="src"):
        cv.readout_weights([1.0], 1, "max", "sum")
    with pytest.raises(ValueError, match="readout"):
        cv.to_readout(odes.CommitteeMachine(2, 2), "median")
    with pytest.raises(ValueError, match="dst"):
        cv.erf_scaling(Q0, R0, np.eye(2), 0.1, dst="tanh")
    with pytest.raises(ValueError, match="lr"):
        cv.time_units(1.0, 0.0)
    with pytest.raises(ValueError, match="std"):
        cv.noise_variance(-1.0)
    with pytest.raises(ValueError, match="variance"):
        cv.noise_std(-1.0)

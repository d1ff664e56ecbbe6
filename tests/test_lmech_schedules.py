"""Learning-rate schedule blocks (lmech.blocks.schedules): closed forms of eta(t) and its integral."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from lmech.blocks.schedules import SCHEDULES, Constant, PowerLaw, get_schedule, lr_at
from lmech.spec import from_spec, params_of, to_spec


@settings(max_examples=60, deadline=None)
@given(t0=st.floats(1e-3, 1e3), power=st.floats(0.05, 4.0), lr=st.floats(1e-3, 10.0))
def test_power_law_halves_the_rate_at_its_half_life(t0, power, lr):
    # (1 + t/t0)^(-p) = 1/2  at  t = t0 (2^(1/p) - 1)
    t_half = t0 * math.expm1(math.log(2.0) / power)
    assert PowerLaw(t0=t0, power=power)(t_half, lr) == pytest.approx(lr / 2, rel=1e-13)
    assert PowerLaw(t0=t0, power=power)(0.0, lr) == lr


@pytest.mark.parametrize("power", [0.3, 0.5, 1.0, 1.7])
def test_integrated_rate_matches_its_closed_form(power):
    # int_0^T lr (1 + t/t0)^(-p) dt = lr t0 ((1 + T/t0)^(1-p) - 1) / (1 - p), lr t0 log(1 + T/t0) at p = 1:
    # the "time" the annealed dynamics has run (Saad & Solla, PRE 52, 4225 (1995), the asymptotic phase)
    lr, t0, T = 0.7, 3.0, 250.0
    s = PowerLaw(t0=t0, power=power)
    num, err = quad(lambda t: s(t, lr), 0.0, T, epsabs=0.0, epsrel=1e-13, limit=200)
    if power == 1.0:
        closed = lr * t0 * math.log1p(T / t0)
    else:
        closed = lr * t0 * ((1.0 + T / t0) ** (1.0 - power) - 1.0) / (1.0 - power)
    assert num == pytest.approx(closed, rel=1e-11)


def test_constant_and_zero_power_are_the_bare_rate_exactly():
    t = np.array([0.0, 0.5, 10.0, 1e6])
    assert np.array_equal(Constant()(t, 0.37), np.full(4, 0.37))
    assert np.array_equal(PowerLaw(t0=2.0, power=0.0)(t, 0.37), np.full(4, 0.37))
    # the kernel evaluator takes the same arguments the blocks hand out
    code, t0, power = PowerLaw(t0=2.0, power=1.0).kernel_args()
    assert lr_at(code, 6.0, 0.8, t0, power) == pytest.approx(0.2, rel=1e-15)


def test_registry_specs_and_bad_input():
    assert set(SCHEDULES) >= {"constant", "power_law"}
    assert get_schedule("constant") == Constant()
    assert get_schedule({"kind": "power_law", "t0": 5.0, "power": 1.0}) == PowerLaw(t0=5.0, power=1.0)
    s = PowerLaw(t0=5.0, power=0.5)
    assert get_schedule(s) is s
    assert from_spec(to_spec(s)) == s
    assert set(params_of(PowerLaw)) == {"t0", "power"}
    with pytest.raises(ValueError, match="schedule"):
        get_schedule("cosine")
    with pytest.raises(ValueError, match="^t0"):
        PowerLaw(t0=0.0)
    with pytest.raises(ValueError, match="^power"):
        PowerLaw(power=-0.5)


# -- schedules evaluated in Python (WarmupCosine, Piecewise, FromCallable) ---------------------
def test_warmup_cosine_matches_its_definition():
    # linear warm-up to the peak, then (1 + cos(pi u))/2 down to the floor (Loshchilov & Hutter,
    # ICLR 2017, Eq. 5 with eta_min = final, no restarts); constant floor after total
    from lmech.blocks.schedules import WarmupCosine

    s = WarmupCosine(warmup=10.0, total=110.0, final=0.1)
    t = np.array([0.0, 5.0, 10.0, 35.0, 60.0, 110.0, 500.0])
    u = np.clip((t - 10.0) / 100.0, 0, 1)
    want = np.where(t < 10.0, t / 10.0, 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * u)))
    np.testing.assert_allclose(s(t, 2.0), 2.0 * want, rtol=1e-15, atol=1e-15)
    assert s(60.0) == pytest.approx(0.55, rel=1e-15)  # half way down the cosine
    assert s.breakpoints() == (10.0, 110.0)
    assert WarmupCosine(total=5.0)(0.0) == 1.0   # no warm-up: starts at the peak
    with pytest.raises(ValueError, match="warmup"):
        WarmupCosine(warmup=5.0, total=5.0)


def test_piecewise_and_callable_schedules():
    from lmech.blocks.schedules import FromCallable, Piecewise

    p = Piecewise(boundaries=(10.0, 20.0), values=(1.0, 0.5, 0.1))
    np.testing.assert_array_equal(p(np.array([0.0, 9.999, 10.0, 19.0, 20.0, 1e9]), 2.0),
                                  [2.0, 2.0, 1.0, 1.0, 0.2, 0.2])
    assert p.breakpoints() == (10.0, 20.0)
    with pytest.raises(ValueError, match="values"):
        Piecewise(boundaries=(10.0,), values=(1.0,))
    with pytest.raises(ValueError, match="boundaries"):
        Piecewise(boundaries=(20.0, 10.0), values=(1.0, 0.5, 0.1))
    f = FromCallable(fn=lambda t: 1.0 / (1.0 + t))
    np.testing.assert_allclose(f.rate(np.array([0.0, 1.0, 3.0])), [1.0, 0.5, 0.25], rtol=1e-15)
    with pytest.raises(ValueError, match="fn"):
        FromCallable(fn=3.0)
    with pytest.raises(NotImplementedError):
        p.kernel_args()
    assert set(SCHEDULES) >= {"warmup_cosine", "piecewise", "callable"}
    assert get_schedule({"kind": "piecewise", "boundaries": (5.0,), "values": (1.0, 0.3)}) == \
        Piecewise(boundaries=(5.0,), values=(1.0, 0.3))
    assert from_spec(to_spec(p)) == p

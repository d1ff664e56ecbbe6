"""lmech.special against mpmath at 50 digits."""

import math

import mpmath as mp
import numpy as np
import pytest

from lmech import special as sp

mp.mp.dps = 50

XS = np.concatenate([-np.geomspace(1e-3, 1e4, 60), [0.0], np.geomspace(1e-3, 40.0, 40)])


def _tol(x):
    # documented bound: 4 (1 + x^2) eps, the conditioning of exp(-x^2/2)
    return 4.0 * (1.0 + float(x) ** 2) * 2.220446049250313e-16


def _ncdf(x):
    return mp.ncdf(mp.mpf(float(x)))


@pytest.mark.parametrize("x", XS)
def test_log_Phi_matches_mpmath(x):
    xm = mp.mpf(float(x))
    # for x > 0 take log1p of the tail so that 50 digits suffice far out
    ref = mp.log1p(-mp.ncdf(-xm)) if x > 0 else mp.log(mp.ncdf(xm))
    if float(ref) == 0.0:  # |log Phi| below the double range: returns -H(x) -> 0
        assert abs(sp.log_Phi(float(x))) < 1e-300
        return
    got = sp.log_Phi(float(x))
    assert abs(got - float(ref)) <= _tol(x) * abs(float(ref))


@pytest.mark.parametrize("x", XS[XS > -37.5])
def test_Phi_and_H_relative(x):
    ref = float(_ncdf(x))
    assert sp.Phi(float(x)) == pytest.approx(ref, rel=_tol(x), abs=0)
    ref_h = float(mp.ncdf(-mp.mpf(float(x))))
    if ref_h > 1e-300:
        assert sp.H(float(x)) == pytest.approx(ref_h, rel=_tol(x), abs=0)


@pytest.mark.parametrize("x", XS)
def test_mills_matches_mpmath(x):
    xm = mp.mpf(float(x))
    ref = float(mp.npdf(xm) / mp.ncdf(xm))
    got = sp.mills(float(x))
    if ref == 0.0:
        assert got == 0.0
    else:
        assert got == pytest.approx(ref, rel=_tol(x), abs=0)


def test_mills_is_derivative_of_log_Phi():
    for x in (-50.0, -3.0, 0.3, 4.0):
        h = 1e-5 * max(1.0, abs(x))
        fd = (sp.log_Phi(x + h) - sp.log_Phi(x - h)) / (2 * h)
        assert fd == pytest.approx(sp.mills(x), rel=1e-8)


def test_limits_and_symmetry():
    assert sp.log_Phi(-math.inf) == -math.inf
    assert sp.mills(-math.inf) == math.inf
    assert sp.log_Phi(0.0) == pytest.approx(-math.log(2.0), rel=1e-15)
    assert sp.log_H(2.5) == sp.log_Phi(-2.5)
    assert sp.phi(1.3) == pytest.approx(float(mp.npdf(1.3)), rel=1e-15)
    assert sp.x_log_x(0.0) == 0.0
    assert sp.x_log_x(0.5) == pytest.approx(0.5 * math.log(0.5), rel=1e-15)

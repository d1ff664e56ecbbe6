"""Gauss-Hermite rules against closed forms, to 1e-12."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from scipy.special import erf

from lmech.gauss import expect, expect2d, hermite, hermite2d


def double_factorial(k):
    return math.prod(range(k, 0, -2)) if k > 0 else 1


@pytest.mark.parametrize("n", [1, 2, 5, 20, 64])
def test_moments_exact_up_to_degree_2n_minus_1(n):
    z, w = hermite(n)
    assert abs(w.sum() - 1.0) < 1e-14
    for k in range(0, 2 * n):
        exact = 0.0 if k % 2 else double_factorial(k - 1)
        scale = double_factorial(k - 1 if k % 2 == 0 else k)  # size of E|z|^k
        got = float(np.dot(w, z ** k))
        assert abs(got - exact) <= 1e-12 * max(1.0, scale), (n, k)


def test_nodes_are_read_only_and_cached():
    z, w = hermite(10)
    assert hermite(10)[0] is z
    with pytest.raises(ValueError):
        z[0] = 1.0
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 300\]"):
        hermite(0)


@given(a=st.floats(0.05, 1.5), mu=st.floats(-2, 2), s=st.floats(0.1, 1.5))
@settings(max_examples=40, deadline=None)
def test_erf_expectations_closed_form(a, mu, s):
    # E[erf(a x)], x ~ N(mu, s^2) = erf(a mu / sqrt(1 + 2 a^2 s^2)).
    # The rule size is the accuracy knob: 200 nodes reach 1e-12 for slopes a * s <= 2.25
    # (100 nodes give ~4e-10 there; steeper integrands need more nodes or rescaling).
    got = expect(lambda x: erf(a * x), 200, mean=mu, std=s)
    exact = math.erf(a * mu / math.sqrt(1 + 2 * a * a * s * s))
    assert abs(got - exact) < 1e-12


@given(c11=st.floats(0.2, 2.0), c22=st.floats(0.2, 2.0), rho=st.floats(-0.95, 0.95),
       a=st.floats(0.2, 1.4), b=st.floats(0.2, 1.4))
@settings(max_examples=40, deadline=None)
def test_erf_erf_2d_closed_form(c11, c22, rho, a, b):
    # 200 x 200 nodes reach 1e-12 for slopes a sqrt(c11), b sqrt(c22) <= 2 (checked on the
    # corners of this box; at slope 2.6 the error is ~3e-11: more nodes are needed there).
    # E[erf(a u) erf(b v)] = (2/pi) asin(2 a b c12 / sqrt((1 + 2 a^2 c11)(1 + 2 b^2 c22)))
    c12 = rho * math.sqrt(c11 * c22)
    cov = [[c11, c12], [c12, c22]]
    got = expect2d(lambda u, v: erf(a * u) * erf(b * v), cov, 200)
    exact = 2 / math.pi * math.asin(2 * a * b * c12 / math.sqrt((1 + 2 * a * a * c11) * (1 + 2 * b * b * c22)))
    assert abs(got - exact) < 1e-12


def test_2d_second_moments_and_singular_covariance():
    cov = np.array([[2.0, -0.7], [-0.7, 0.5]])
    uv, w = hermite2d(8, cov)
    emp = (uv * w[:, None]).T @ uv
    assert np.allclose(emp, cov, atol=1e-13, rtol=0)
    # rank-one covariance: v = -u exactly
    uv, w = hermite2d(6, [[1.0, -1.0], [-1.0, 1.0]])
    assert np.allclose(uv[:, 1], -uv[:, 0], atol=1e-15)
    # degenerate first variable
    uv, w = hermite2d(6, [[0.0, 0.0], [0.0, 4.0]])
    assert np.all(uv[:, 0] == 0.0)
    assert abs(np.dot(w, uv[:, 1] ** 2) - 4.0) < 1e-13
    with pytest.raises(ValueError, match="cov must be positive semidefinite"):
        hermite2d(4, [[1.0, 2.0], [2.0, 1.0]])


def test_rules_are_usable_inside_numba_kernels():
    # the public rules are plain contiguous float arrays: a Numba kernel consumes them directly
    @njit
    def erf_corr(uv, w):
        s = 0.0
        for k in range(w.shape[0]):
            s += w[k] * math.erf(uv[k, 0] / math.sqrt(2.0)) * math.erf(uv[k, 1] / math.sqrt(2.0))
        return s

    c = 0.3
    uv, w = hermite2d(80, [[1.0, c], [c, 1.0]])
    # erf(u/sqrt2) units: E = (2/pi) asin(c/2)
    assert abs(erf_corr(uv, w) - 2 / math.pi * math.asin(c / 2)) < 1e-12
    z, wz = hermite(40)

    @njit
    def second_moment(z, w):
        return np.sum(w * z * z)

    assert abs(second_moment(z, wz) - 1.0) < 1e-13

"""lmech.randmat: the Marchenko–Pastur law of F F^T / d at ratio gamma = N / d.

Reference: density sqrt((b - s)(s - a)) / (2 pi gamma s) on [a, b] = [(1 - sqrt g)^2, (1 + sqrt g)^2]
plus an atom 1 - 1/g at 0 for g > 1 (Marchenko & Pastur, Math. USSR Sb. 1, 457 (1967); Bai &
Silverstein, Spectral Analysis of Large Dimensional Random Matrices, 2010, eq. (3.1.1)); moments
int s^k dMP = sum_{j=0}^{k-1} g^j N(k, j+1), N(k, j) = C(k, j) C(k, j-1) / k the Narayana numbers
(Bai & Silverstein 2010, Lemma 3.1).
"""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lmech.randmat import mp_atom, mp_cdf, mp_density, mp_edges, mp_expect, mp_quantiles

GAMMAS = [0.01, 0.3, 1.0, 2.5, 40.0]


def edges(g):
    return (1 - math.sqrt(g)) ** 2, (1 + math.sqrt(g)) ** 2


def narayana_moment(k, g):
    return sum(g ** j * math.comb(k, j + 1) * math.comb(k, j) / k for j in range(k)) if k else 1.0


def mp_cdf_mpmath(x, g):
    """atom + int_a^x density, the density integrated by mpmath (tanh-sinh) at 30 digits."""
    with mpmath.workdps(30):
        a, b = edges(g)
        dens = lambda s: mpmath.sqrt((b - s) * (s - a)) / (2 * mpmath.pi * g * s)  # noqa: E731
        return max(0.0, 1 - 1 / g) + float(mpmath.quad(dens, [a, min(x, b)]))


@pytest.mark.parametrize("g", GAMMAS)
def test_cdf_against_mpmath_integration_of_the_density(g):
    a, b = edges(g)
    xs = [a + f * (b - a) for f in (1e-6, 0.01, 0.3, 0.5, 0.9)] + [b - 1e-9 * (b - a)]
    for x in xs:
        assert mp_cdf(x, g) == pytest.approx(mp_cdf_mpmath(x, g), abs=1e-12), x
    np.testing.assert_allclose(mp_cdf(np.array(xs), g), [mp_cdf_mpmath(x, g) for x in xs], rtol=0, atol=1e-12)
    assert mp_cdf(b, g) == 1.0 and mp_cdf(math.inf, g) == 1.0
    assert mp_cdf(-1e-300, g) == 0.0 and mp_cdf(-math.inf, g) == 0.0
    assert mp_cdf(0.0, g) == pytest.approx(max(0.0, 1 - 1 / g), abs=1e-15)   # the atom (0 for g <= 1)


@settings(max_examples=15, deadline=None)
@given(g=st.floats(1e-3, 1e3), f=st.floats(0.0, 1.0))
def test_cdf_against_mpmath_hypothesis(g, f):
    a, b = edges(g)
    x = a + f * (b - a)
    assert mp_cdf(x, g) == pytest.approx(mp_cdf_mpmath(x, g), abs=1e-12)


@pytest.mark.parametrize("g", GAMMAS)
def test_edges_atom_and_density(g):
    a, b = mp_edges(g)
    assert (a, b) == pytest.approx(edges(g), rel=1e-15, abs=1e-300)
    assert mp_atom(g) == pytest.approx(max(0.0, 1 - 1 / g), abs=1e-16)
    s = np.linspace(a, b, 9)[1:-1]
    ref = [math.sqrt((b - x) * (x - a)) / (2 * math.pi * g * x) for x in s]
    np.testing.assert_allclose(mp_density(s, g), ref, rtol=1e-14)
    # zero outside the support; the density is the derivative of the CDF (central difference,
    # error (h^2/6) |p''| ~ 1e-10 here, plus rounding 1e-16/h)
    assert mp_density(a - 1e-3, g) == 0.0 and mp_density(b + 1e-3, g) == 0.0
    h = 1e-5 * (b - a)
    for x in s:
        assert (mp_cdf(x + h, g) - mp_cdf(x - h, g)) / (2 * h) == pytest.approx(mp_density(x, g), rel=1e-7)


@pytest.mark.parametrize("g", GAMMAS)
def test_expect_gives_the_narayana_moments(g):
    for k in range(6):
        ref = narayana_moment(k, g)
        assert mp_expect(lambda s: s ** k, g) == pytest.approx(ref, rel=1e-11), k


@pytest.mark.parametrize("g", GAMMAS)
def test_quantiles_invert_the_cdf(g):
    n = 257
    q = mp_quantiles(n, g)
    n0 = int(round(n * (1 - 1 / g))) if g > 1 else 0
    assert np.all(q[:n0] == 0.0) and np.all(np.diff(q) >= 0)
    a, b = edges(g)
    assert np.all((q[n0:] >= a) & (q[n0:] <= b))
    atom, total = max(0.0, 1 - 1 / g), min(1.0, 1 / g)
    target = atom + total * (np.arange(n - n0) + 0.5) / (n - n0)
    np.testing.assert_allclose(mp_cdf(q[n0:], g), target, rtol=0, atol=1e-13)


@pytest.mark.parametrize("g", [0.5, 1.5, 3.0])
def test_quantile_moments_converge_to_narayana(g):
    # midpoint quantiles as a quadrature (whole atom: n a multiple of the numerator of g):
    # error O(n^-5/3) from the square-root edges, so a 4x finer n divides it by 4^(5/3) ~ 10
    ns = [960, 3840]
    for k in (2, 3):
        err = [abs(np.mean(mp_quantiles(n, g) ** k) - narayana_moment(k, g)) for n in ns]
        assert math.log(err[0] / err[1]) / math.log(4) == pytest.approx(5 / 3, abs=0.05), (k, err)


def test_explicit_atom_count():
    q = mp_quantiles(12, 3.0, n_zero=9)
    assert np.all(q[:9] == 0.0) and np.all(q[9:] > 0.0)
    # three continuous cells, the middle one at the continuous median
    assert mp_cdf(q[10], 3.0) == pytest.approx(1 - 1 / 3 + 0.5 / 3, abs=1e-14)


@pytest.mark.parametrize("call,name", [
    (lambda: mp_cdf(1.0, 0.0), "^ratio"), (lambda: mp_cdf(1.0, -1.0), "^ratio"),
    (lambda: mp_cdf(math.nan, 1.0), "^x"), (lambda: mp_density(1.0, math.inf), "^ratio"),
    (lambda: mp_quantiles(0, 1.0), "^n"), (lambda: mp_quantiles(5, 2.0, n_zero=6), "^n_zero"),
    (lambda: mp_edges(math.nan), "^ratio"), (lambda: mp_expect(lambda s: s, -2.0), "^ratio"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()

"""lmech.fit: least-squares slope and its standard error, checked against exact arithmetic."""

import math
from fractions import Fraction

import numpy as np
import pytest

from lmech.fit import linear_fit, loglog_slope


def textbook(x, y):
    """b = S_xy / S_xx, a = ybar - b xbar, se(b) = sqrt(RSS / (n - 2) / S_xx), in exact rationals."""
    X, Y = [Fraction(v) for v in x], [Fraction(v) for v in y]
    n = len(X)
    xb, yb = sum(X) / n, sum(Y) / n
    sxx = sum((u - xb) ** 2 for u in X)
    b = sum((u - xb) * (v - yb) for u, v in zip(X, Y)) / sxx
    a = yb - b * xb
    rss = sum((v - a - b * u) ** 2 for u, v in zip(X, Y))
    return float(b), math.sqrt(rss / (n - 2) / sxx), float(a)


def test_exact_power_law():
    x = np.geomspace(1.0, 1e6, 13)
    slope, se, icpt = loglog_slope(x, 3.0 * x ** -1.7)
    assert slope == pytest.approx(-1.7, rel=1e-14)
    assert icpt == pytest.approx(math.log(3.0), rel=1e-13)
    assert se < 1e-14        # the residuals are rounding only


def test_standard_error_against_the_textbook_formula():
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0]
    y = [2.1, 3.9, 6.2, 7.8, 10.1, 13.7]
    b, se, a = textbook(x, y)
    got = linear_fit(x, y)
    assert got == pytest.approx((b, se, a), rel=1e-13)


def test_loglog_is_the_linear_fit_of_the_logs():
    x = np.array([10.0, 30.0, 100.0, 300.0, 1000.0])
    y = np.array([0.5, 0.21, 0.09, 0.041, 0.017])
    b, se, a = textbook(np.log(x), np.log(y))
    assert loglog_slope(x, y) == pytest.approx((b, se, a), rel=1e-12)


def test_two_points_give_the_exact_slope_and_no_error():
    slope, se, icpt = linear_fit([1.0, 3.0], [2.0, 8.0])
    assert (slope, icpt) == pytest.approx((3.0, -1.0), rel=1e-15)
    assert math.isnan(se)


@pytest.mark.parametrize("x,y,name", [
    ([1.0, 2.0, 0.0], [1.0, 2.0, 3.0], "^x"), ([1.0, 2.0, 3.0], [1.0, -2.0, 3.0], "^y"),
    ([1.0, math.nan, 3.0], [1.0, 2.0, 3.0], "^x"), ([1.0, 2.0, 3.0], [1.0, math.inf, 3.0], "^y"),
    ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], "^x"), ([1.0], [1.0], "^x"), ([1.0, 2.0], [1.0, 2.0, 3.0], "^y"),
])
def test_bad_input_names_the_argument(x, y, name):
    with pytest.raises(ValueError, match=name):
        loglog_slope(x, y)

"""Straight-line least squares with a standard error: one home for power-law exponent fits.

:func:`linear_fit` is ordinary least squares of ``y = slope x + intercept``
with the textbook standard error of the slope (derived in :func:`linear_fit`);
:func:`loglog_slope` applies it
to ``(log x, log y)``, the exponent of a power law ``y ~ x^slope``.
"""

from __future__ import annotations

import math

import numpy as np

from lmech.checks import check_array

__all__ = ["linear_fit", "loglog_slope"]


def linear_fit(x, y) -> tuple[float, float, float]:
    """Ordinary least-squares line through ``(x_i, y_i)`` and the standard error of its slope.

    Parameters
    ----------
    x, y : array_like (n,)
        Finite abscissae (not all equal) and ordinates, ``n >= 2``.

    Returns
    -------
    slope : float
        ``S_xy / S_xx`` (computed by ``numpy.linalg.lstsq``).
    stderr : float
        ``sqrt(RSS / (n - 2) / S_xx)``, ``RSS`` the residual sum of squares and
        ``S_xx = sum (x_i - mean x)^2``: the slope is ``sum (x_i - mean x) y_i / S_xx``,
        so for independent errors of equal variance ``sigma^2`` its variance is
        ``sigma^2 / S_xx``, and ``RSS / (n - 2)`` is the unbiased estimate of ``sigma^2``.
        NaN for ``n = 2`` (no degree of freedom left).
    intercept : float

    Raises
    ------
    ValueError
        Naming ``x`` or ``y``: not 1-D, sizes differ, fewer than 2 points,
        non-finite entries, or all ``x`` equal.
    """
    x = check_array("x", x, ndim=1, min_size=2)
    y = check_array("y", y, ndim=1, shape=(x.size,))
    n = x.size
    sxx = float(((x - x.mean()) ** 2).sum())
    if not sxx > 0.0:
        raise ValueError("x must hold at least two distinct values (a slope is fitted)")
    A = np.vstack([x, np.ones(n)]).T
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    if n > 2:
        resid = y - A @ coef
        se = math.sqrt(float((resid ** 2).sum()) / (n - 2) / sxx)
    else:
        se = math.nan
    return float(coef[0]), se, float(coef[1])


def loglog_slope(x, y) -> tuple[float, float, float]:
    """Exponent of a power law ``y ~ C x^slope``: :func:`linear_fit` of ``log y`` on ``log x``.

    Parameters
    ----------
    x, y : array_like (n,)
        Positive finite values, ``n >= 2``, ``x`` not all equal.

    Returns
    -------
    slope, stderr, intercept : float
        As :func:`linear_fit` on natural logarithms (``intercept = log C``).

    Raises
    ------
    ValueError
        Naming ``x`` or ``y`` when an entry is non-positive or non-finite, or as
        :func:`linear_fit`.
    """
    x = check_array("x", x, ndim=1, min_size=2)
    y = check_array("y", y, ndim=1, shape=(x.size,))
    for name, v in (("x", x), ("y", y)):
        if not np.all(v > 0.0):
            raise ValueError(f"{name} must be > 0 (a power law is fitted on log-log axes)")
    return linear_fit(np.log(x), np.log(y))

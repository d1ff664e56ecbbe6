"""Gaussian special functions, accurate in the far tails and callable from Numba.

Conventions: ``phi`` is the standard normal density, ``Phi`` its cumulative
distribution function, ``H(x) = Phi(-x)`` the Gardner function (Gaussian tail
probability), ``mills(x) = phi(x) / Phi(x)`` the inverse Mills ratio (the
derivative of ``log Phi``).

Every function is a scalar ``@njit(cache=True)`` function of a float64, so
that kernels of the theory layers call them directly; from Python they take
and return floats (use :func:`numpy.vectorize` or a kernel for arrays).

Accuracy (tested against :mod:`mpmath` at 50 digits in
``tests/test_lmech_special.py``): relative error below ``4 (1 + x**2) eps``
(``eps = 2.2e-16``) for ``Phi``, ``H``, ``mills`` and ``log Phi``, for all
``x`` where the value is a normal double; the factor ``x**2`` is the rounding
of the exponent ``x**2/2`` (the condition number of ``exp(-x**2/2)``).  For
``x < -20``, ``mills`` and ``log Phi`` do not exponentiate and are accurate to
a few ulp (``log Phi(x) ~ -x**2/2`` as ``x -> -inf``; ``log Phi(x) ~ -H(x)``
as ``x -> +inf``).  For ``x < -20`` the functions use the
asymptotic expansion ``Phi(x)/phi(x) = (1/|x|) sum_k (-1)^k (2k-1)!! / x^(2k)``
(Abramowitz & Stegun 26.2.12), summed to its smallest term, which at
``|x| >= 20`` is below ``1e-17``; above, ``math.erfc`` of the C library.
"""

from __future__ import annotations

import math

from numba import njit

from .warm import register_warmup

__all__ = ["phi", "Phi", "H", "log_Phi", "log_H", "mills", "x_log_x"]

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_XASYM = -20.0


@njit(cache=True)
def _tail_series(x):
    """``Phi(x) / phi(x) * |x|`` for ``x <= -20`` by the asymptotic series (A&S 26.2.12)."""
    u = 1.0 / (x * x)
    term = 1.0
    s = 1.0
    k = 1
    while k < 60:
        new = -term * (2.0 * k - 1.0) * u
        if abs(new) >= abs(term):  # the asymptotic series starts to diverge
            break
        term = new
        s += term
        if abs(term) < 1e-18 * abs(s):
            break
        k += 1
    return s


@njit(cache=True)
def phi(x):
    """Standard normal density ``exp(-x**2/2) / sqrt(2 pi)``."""
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@njit(cache=True)
def Phi(x):
    """Standard normal CDF, relative accuracy in both tails (``0.5 erfc(-x/sqrt 2)``)."""
    return 0.5 * math.erfc(-x / _SQRT2)


@njit(cache=True)
def H(x):
    """Gaussian tail ``H(x) = Phi(-x) = int_x^inf Dz``."""
    return 0.5 * math.erfc(x / _SQRT2)


@njit(cache=True)
def log_Phi(x):
    """``log Phi(x)`` with full relative accuracy for all real ``x``.

    ``x > 0``: ``log1p(-H(x))``; ``-20 <= x <= 0``: ``log(Phi(x))``;
    ``x < -20``: ``-x**2/2 - log|x| - log sqrt(2 pi) + log(series)``.
    """
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x / _SQRT2))
    if x >= _XASYM:
        return math.log(0.5 * math.erfc(-x / _SQRT2))
    if math.isinf(x):
        return -math.inf
    return -0.5 * x * x - math.log(-x) - _LOG_SQRT_2PI + math.log(_tail_series(x))


@njit(cache=True)
def log_H(x):
    """``log H(x) = log Phi(-x)``."""
    return log_Phi(-x)


@njit(cache=True)
def mills(x):
    """Inverse Mills ratio ``phi(x) / Phi(x) = d log Phi / dx``, accurate for all ``x``.

    Grows like ``|x|`` as ``x -> -inf`` and decays like ``phi(x)`` as ``x -> +inf``.
    """
    if x >= _XASYM:
        return phi(x) / Phi(x)
    if math.isinf(x):
        return math.inf
    return -x / _tail_series(x)


@njit(cache=True)
def x_log_x(x):
    """``x log x`` with the continuous value 0 at ``x = 0``."""
    if x <= 0.0:
        return 0.0
    return x * math.log(x)


@register_warmup("lmech.special")
def warmup():
    """Compile the special functions once."""
    for x in (-30.0, -1.0, 1.0):
        phi(x)
        Phi(x)
        H(x)
        log_Phi(x)
        log_H(x)
        mills(x)
        x_log_x(abs(x))

"""Numba kernels of the Gaussian covariate model: trace sums over the spectrum.

Pure functions of float64 arrays and scalars.  Every sum is over positive
terms and is accumulated in blocks of :data:`BLOCK` entries whose partial sums
are then added: its relative rounding error is at most ``(min(p, BLOCK) + ceil(p/BLOCK) + 1)
eps`` (recursive summation inside and across the blocks; Higham, *Accuracy
and Stability of Numerical Algorithms*, 2nd ed., SIAM 2002, eq. (4.4)),
:func:`sum_rounding` below.  The wrappers live in :mod:`replica.gcm.ridge`.

Notation: ``t`` is the effective ridge of the spectral saddle point
(``t = lambda / Vhat``), ``r_i = omega_i / (t + omega_i)`` the fraction of
mode ``i`` that is learnt.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lmech.warm import register_warmup

#: entries per block of the blocked summation
BLOCK = 256
EPS = float(np.finfo(np.float64).eps)


def sum_rounding(p: int) -> float:
    """Bound on the relative rounding error of a blocked sum of ``p`` positive terms."""
    return (min(p, BLOCK) + math.ceil(p / BLOCK) + 1.0) * EPS


@njit(cache=True)
def root_sums(omega, t):
    """``(D, C) = (mean r, mean r (1 - r))`` with ``r = omega / (t + omega)``."""
    p = omega.size
    D = 0.0
    C = 0.0
    i = 0
    while i < p:
        j = min(i + BLOCK, p)
        d = 0.0
        c = 0.0
        for k in range(i, j):
            r = omega[k] / (t + omega[k])
            d += r
            c += r * (1.0 - r)
        D += d
        C += c
        i = j
    return D / p, C / p


@njit(cache=True)
def observable_sums(omega, theta2, t):
    """Means over the spectrum at effective ridge ``t``.

    Returns ``(D, B, C, S1, M, A, P)``: ``D = <r>``, ``B = <r**2>``, ``C = <r rc>``,
    ``S1 = <tw rc**2>``, ``M = <tw r>``, ``A = <tw r**2>``, ``P = <tw>``, with
    ``tw = theta2 omega``, ``r = omega/(t + omega)`` and ``rc = 1 - r = t/(t + omega)``
    computed as such (no cancellation when ``t << omega``).  Each is a sum of
    terms ``r^i rc^j`` (``i + j <= 2``) with positive weights, so that its
    logarithmic derivative in ``log t`` is at most ``i + j <= 2`` in magnitude
    (``dr/dlog t = -r rc``, ``drc/dlog t = r rc``).
    """
    p = omega.size
    D = B = C = S1 = M = A = P = 0.0
    i = 0
    while i < p:
        j = min(i + BLOCK, p)
        d = b = c = s1 = mm = a = pp = 0.0
        for k in range(i, j):
            w = omega[k]
            inv = 1.0 / (t + w)
            r = w * inv
            rc = t * inv
            tw = theta2[k] * w
            d += r
            b += r * r
            c += r * rc
            s1 += tw * rc * rc
            mm += tw * r
            a += tw * r * r
            pp += tw
        D += d
        B += b
        C += c
        S1 += s1
        M += mm
        A += a
        P += pp
        i = j
    return D / p, B / p, C / p, S1 / p, M / p, A / p, P / p


@register_warmup("replica.gcm._kernels")
def warmup():
    om = np.array([1.0, 0.5, 0.25])
    root_sums(om, 0.1)
    observable_sums(om, om, 0.1)

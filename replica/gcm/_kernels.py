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
    """Means over the spectrum at effective ridge ``t``, and their derivatives in ``log t``.

    Returns the array ``[D, B, C, S1, M, A, P, B1, C1, S2, M1, A1]``: ``D = <r>``,
    ``B = <r**2>``, ``C = <r rc>``, ``S1 = <tw rc**2>``, ``M = <tw r>``,
    ``A = <tw r**2>``, ``P = <tw>`` and ``B1 = <r**2 rc>``, ``C1 = <r rc (r - rc)>``,
    ``S2 = <tw r rc**2>``, ``M1 = <tw r rc>``, ``A1 = <tw r**2 rc>``, with ``tw =
    theta2 omega``, ``r = omega/(t + omega)`` and ``rc = 1 - r = t/(t + omega)``
    computed as such (no cancellation when ``t << omega``).  Since ``dr/dlog t =
    -r rc``: ``dD = -C``, ``dB = -2 B1``, ``dC = C1``, ``dS1 = 2 S2``, ``dM = -M1``,
    ``dA = -2 A1``.
    """
    p = omega.size
    out = np.zeros(12)
    i = 0
    while i < p:
        j = min(i + BLOCK, p)
        d = b = c = s1 = mm = a = pp = b1 = c1 = s2 = m1 = a1 = 0.0
        for k in range(i, j):
            w = omega[k]
            s = t + w
            r = w / s
            rc = t / s
            tw = theta2[k] * w
            rr = r * rc
            d += r
            b += r * r
            c += rr
            s1 += tw * rc * rc
            mm += tw * r
            a += tw * r * r
            pp += tw
            b1 += r * rr
            c1 += rr * (r - rc)
            s2 += tw * rr * rc
            m1 += tw * rr
            a1 += tw * rr * r
        out[0] += d
        out[1] += b
        out[2] += c
        out[3] += s1
        out[4] += mm
        out[5] += a
        out[6] += pp
        out[7] += b1
        out[8] += c1
        out[9] += s2
        out[10] += m1
        out[11] += a1
        i = j
    return out / p


@register_warmup("replica.gcm._kernels")
def warmup():
    om = np.array([1.0, 0.5, 0.25])
    root_sums(om, 0.1)
    observable_sums(om, om, 0.1)

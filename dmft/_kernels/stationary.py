"""Numba kernel of ``method="stationary"`` (:mod:`dmft.stationary`): the one-time,
time-translation-invariant equation of the spherical p-spin paramagnet under the
fluctuation-dissipation theorem.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

import lmech

from .common import xi_derivs


@njit(cache=True)
def stationary_pspin(coef, T, h, n, tol, max_corr, C, F, its):
    """One-time (FDT, time-translation invariant) equation of the paramagnet.

    ``C'(tau) = -T C(tau) - (1/T) int_0^tau xi'(C(tau-s)) C'(s) ds``, ``C(0) = 1``
    (Cugliandolo & Kurchan 1993 with R = -C'/T; Crisanti, Horner & Sommers,
    Z. Phys. B 92, 257 (1993)), on ``tau_i = i h``: trapezoid memory (its
    ``s = tau`` end point solved for), trapezoid (Heun) time step iterated to
    ``tol``.  Writes ``C``, ``F = C'`` and ``its[i]``, the corrector
    iterations of step ``i`` (``max_corr + 1`` if it did not reach ``tol``);
    returns the number of valid points.
    """
    beta = 1.0 / T
    xp = np.zeros(n)
    f0, f1, f2 = xi_derivs(coef, 1.0)
    xp0 = f1
    C[0] = 1.0
    xp[0] = xp0
    F[0] = -T
    for i in range(1, n):
        Cn = C[i - 1] + h * F[i - 1]
        for it in range(max_corr):
            f0, f1, f2 = xi_derivs(coef, Cn)
            # F_i (1 + beta h xi'(C_0)/2) = -T C_i - beta h [xi'(C_i) F_0/2 + sum_{k=1}^{i-1} xi'(C_{i-k}) F_k]
            s = 0.5 * f1 * F[0]
            for k in range(1, i):
                s += xp[i - k] * F[k]
            Fn = (-T * Cn - beta * h * s) / (1.0 + 0.5 * beta * h * xp0)
            Cc = C[i - 1] + 0.5 * h * (F[i - 1] + Fn)
            done = abs(Cc - Cn) <= tol
            Cn = Cc
            if done:
                break
        its[i] = it + 1 if done else max_corr + 1
        f0, f1, f2 = xi_derivs(coef, Cn)
        C[i] = Cn
        xp[i] = f1
        s = 0.5 * f1 * F[0]
        for k in range(1, i):
            s += xp[i - k] * F[k]
        F[i] = (-T * Cn - beta * h * s) / (1.0 + 0.5 * beta * h * xp0)
        if not math.isfinite(C[i]):
            return i + 1
    return n



@lmech.register_warmup("dmft._kernels.stationary")
def warmup():
    """Compile :func:`stationary_pspin` on tiny inputs."""
    n = 4
    stationary_pspin(np.array([0.0, 0.0, 0.0, 0.5]), 1.0, 0.1, n, 1e-12, 5, np.zeros(n),
                     np.zeros(n), np.zeros(n, dtype=np.int64))

"""Numba kernels of the base package: pure functions of arrays and scalars."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .warm import register_warmup


@njit(cache=True)
def map2d(z, w, c11, c12, c22, u, v, ww):
    """Map the 1-D rule ``(z, w)`` to a product rule for ``N(0, [[c11, c12], [c12, c22]])``.

    Writes nodes into ``u``, ``v`` and weights into ``ww`` (each of length
    ``len(z)**2``).  Uses the Cholesky factor ``u = a z1``,
    ``v = b z1 + c z2`` with ``a = sqrt(c11)``, ``b = c12 / a``,
    ``c = sqrt(c22 - b**2)`` (clipped at 0 for singular covariances; when
    ``c11 = 0``, ``u = 0`` and ``v = sqrt(c22) z2``).
    """
    n = z.shape[0]
    if c11 > 0.0:
        a = math.sqrt(c11)
        b = c12 / a
        rem = c22 - b * b
        c = math.sqrt(rem) if rem > 0.0 else 0.0
    else:
        a = 0.0
        b = 0.0
        c = math.sqrt(c22) if c22 > 0.0 else 0.0
    k = 0
    for i in range(n):
        for j in range(n):
            u[k] = a * z[i]
            v[k] = b * z[i] + c * z[j]
            ww[k] = w[i] * w[j]
            k += 1


@register_warmup("lmech._kernels")
def warmup():
    """Compile the kernels of this module once."""
    z = np.zeros(2)
    w = np.full(2, 0.5)
    out = np.empty(4)
    map2d(z, w, 1.0, 0.5, 1.0, out, out.copy(), out.copy())

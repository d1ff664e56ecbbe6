"""Numba kernel of :mod:`validation.erm`: the L2-penalised hinge loss (SVM) by dual coordinate descent.

Pure functions of float64 arrays and scalars (no globals, no Python objects, no
``fastmath``); random numbers are pre-drawn by the Python wrapper from a
:class:`numpy.random.Generator` and passed in, so a run is reproducible from its
seed alone.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from lmech.warm import register_warmup

from .common import dot


@njit(cache=True)
def svm_dual_cd(A, lam, a, u, tol, max_pass):
    """Dual coordinate descent for the L2-penalised hinge loss (Hsieh et al., ICML 2008, Algorithm 1).

    Minimises ``(1/(2 lam)) |A^T a|^2 - sum a`` over ``0 <= a <= 1``, the dual
    of ``min_w sum_mu max(0, 1 - A_mu . w) + (lam/2)|w|^2`` with ``w = A^T a / lam``.
    ``a`` (n,) and ``u = A^T a`` (d,) are updated in place; sweeps run in a
    fixed cyclic order until the largest projected-gradient violation of a
    sweep falls below ``tol``.

    Returns
    -------
    (int, float)
        Sweeps used and the final largest violation.
    """
    n, d = A.shape
    qii = np.empty(n)
    for i in range(n):
        qii[i] = dot(A[i], A[i]) / lam
    viol = np.inf
    sweeps = 0
    for sweep in range(max_pass):
        viol = 0.0
        for i in range(n):
            G = dot(A[i], u) / lam - 1.0
            ai = a[i]
            if ai <= 0.0:
                pg = min(G, 0.0)
            elif ai >= 1.0:
                pg = max(G, 0.0)
            else:
                pg = G
            if abs(pg) > viol:
                viol = abs(pg)
            if pg != 0.0 and qii[i] > 0.0:
                new = ai - G / qii[i]
                if new < 0.0:
                    new = 0.0
                elif new > 1.0:
                    new = 1.0
                delta = new - ai
                if delta != 0.0:
                    a[i] = new
                    Ai = A[i]
                    for k in range(d):
                        u[k] += delta * Ai[k]
        sweeps = sweep + 1
        if viol < tol:
            break
    return sweeps, viol


@register_warmup("validation._kernels.erm")
def warmup():
    """Compile :func:`svm_dual_cd` on tiny inputs."""
    svm_dual_cd(np.ones((3, 2)), 0.5, np.zeros(3), np.zeros(2), 1e-8, 2)

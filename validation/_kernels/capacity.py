"""Numba kernels of :mod:`validation.capacity`: maximal stability of a perceptron and
exhaustive feasibility of binary weights.

Pure functions of float64 arrays and scalars (no globals, no Python objects, no
``fastmath``); random numbers are pre-drawn by the Python wrapper from a
:class:`numpy.random.Generator` and passed in, so a run is reproducible from its
seed alone.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lmech.warm import register_warmup

from .common import dot


@njit(cache=True)
def binary_feasible(A, theta):
    """Whether some ``w`` in ``{-1, +1}^d`` satisfies ``A w >= theta`` row by row (exhaustive).

    Visits the ``2^(d-1)`` sign vectors with ``w_0 = +1`` in Gray-code order
    and checks each and its opposite ``-w`` (fields ``-h``), so all ``2^d``
    are covered; the fields ``h = A w`` change by one column per step, so a
    vector costs ``O(n)``.  Stops at the first solution.

    Returns
    -------
    int
        Number of vectors visited (``> 0``) if a solution was found, the
        negated count if none exists.
    """
    n, d = A.shape
    w = np.ones(d)
    h = np.zeros(n)
    for mu in range(n):
        s = 0.0
        for i in range(d):
            s += A[mu, i]
        h[mu] = s
    total = 1 << (d - 1)
    for k in range(total):
        if k > 0:
            # flip the bit of the lowest set bit of k (Gray code), among w_1..w_{d-1}
            j = 0
            kk = k
            while (kk & 1) == 0:
                kk >>= 1
                j += 1
            i = j + 1
            w[i] = -w[i]
            for mu in range(n):
                h[mu] += 2.0 * w[i] * A[mu, i]
        okp = True
        okm = True
        for mu in range(n):
            if h[mu] < theta:
                okp = False
            if -h[mu] < theta:
                okm = False
            if not okp and not okm:
                break
        if okp or okm:
            return k + 1
    return -total


@njit(cache=True)
def max_stability_cd(A, a, u, ubest, kappa, tol, max_pass):
    """Maximal stability ``gamma* = max_{|w| = 1} min_mu A_mu . w`` bracketed by dual coordinate descent.

    The hard-margin problem ``min |w|^2 / 2`` subject to ``A w >= 1`` has the
    dual ``max_{a >= 0} D(a) = sum a - |A^T a|^2 / 2`` (Hsieh et al., ICML 2008,
    Algorithm 1, without the upper box); ``gamma* = 1 / |w_opt|``.  Each sweep
    updates ``a_i <- max(0, a_i - (A_i . u - 1) / |A_i|^2)`` cyclically, with
    ``u = A^T a`` kept in place, and then brackets ``gamma*`` by two
    certificates valid for *any* iterate:

    * ``lo = max over sweeps of min_mu A_mu . u / |u|`` (the best stability
      seen; the iterate ``u`` that attained it is copied into ``ubest``, so
      ``lo`` is exactly the stability of the witness ``ubest``),
    * ``hi = |A^T a| / sum a`` (weak duality, ``|w_opt|^2 >= 2 D(s a)`` maximised
      over the scale ``s``; for non-separable data ``hi -> 0``).

    Stops when ``lo >= kappa`` (stability ``kappa`` reachable, with witness
    ``ubest``), ``hi < kappa`` (unreachable), or ``hi - lo <= tol hi`` (a NaN
    ``kappa`` never decides: the bracket is refined to ``tol``).

    Returns
    -------
    (int, float, float)
        Sweeps used, ``lo`` and ``hi`` (``lo <= gamma* <= hi``).
    """
    n, d = A.shape
    qii = np.empty(n)
    for i in range(n):
        qii[i] = dot(A[i], A[i])
    lo = -np.inf
    hi = np.inf
    sweeps = 0
    for sweep in range(max_pass):
        for i in range(n):
            G = dot(A[i], u) - 1.0
            ai = a[i]
            if qii[i] > 0.0 and (G < 0.0 or ai > 0.0):
                new = ai - G / qii[i]
                if new < 0.0:
                    new = 0.0
                delta = new - ai
                if delta != 0.0:
                    a[i] = new
                    Ai = A[i]
                    for k in range(d):
                        u[k] += delta * Ai[k]
        sweeps = sweep + 1
        nu = math.sqrt(dot(u, u))
        sa = 0.0
        for i in range(n):
            sa += a[i]
        if nu > 0.0:
            m = np.inf
            for i in range(n):
                h = dot(A[i], u)
                if h < m:
                    m = h
            if m / nu > lo:
                lo = m / nu
                for k in range(d):
                    ubest[k] = u[k]
        if sa > 0.0:
            hi = min(hi, nu / sa)
        if lo >= kappa or hi < kappa or hi - lo <= tol * abs(hi):
            break
    return sweeps, lo, hi


@register_warmup("validation._kernels.capacity")
def warmup():
    """Compile the capacity kernels on tiny inputs."""
    binary_feasible(np.ones((3, 2)), 0.0)
    max_stability_cd(np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2), np.zeros(2), np.zeros(2),
                     0.5, 1e-9, 2)

"""Numba kernels of :mod:`validation.plrf`: one-pass SGD on power-law random features.

Pure functions of float64 arrays and scalars; the Gaussian inputs are drawn by
the Python wrapper from a :class:`numpy.random.Generator` (in chunks of steps)
and passed in, so a run is reproducible from its seed alone.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from lmech.warm import register_warmup


@njit(cache=True)
def sgd_chunk(W, sqrt_sig, b, theta, g, gamma, B):
    """Steps of one-pass SGD on ``theta`` (in place): ``g`` holds ``(steps, B, v)`` standard normals.

    Each sample ``x = sqrt_sig * g``, features ``z = W^T x``, label ``y = <b, x>``;
    ``theta <- theta - (gamma / B) sum_batch z (<z, theta> - y)``.
    """
    v, d = W.shape
    z = np.empty(d)
    grad = np.empty(d)
    for s in range(g.shape[0]):
        grad[:] = 0.0
        for k in range(B):
            z[:] = 0.0
            y = 0.0
            for j in range(v):
                xj = sqrt_sig[j] * g[s, k, j]
                y += b[j] * xj
                for i in range(d):
                    z[i] += W[j, i] * xj
            r = -y
            for i in range(d):
                r += z[i] * theta[i]
            for i in range(d):
                grad[i] += z[i] * r
        for i in range(d):
            theta[i] -= gamma / B * grad[i]
    return theta


@njit(cache=True)
def population_risk(W, sig, b, theta):
    """``P(theta) = (1/2) sum_j sigma_j ((W theta)_j - b_j)^2``, exactly."""
    v, d = W.shape
    acc = 0.0
    for j in range(v):
        u = -b[j]
        for i in range(d):
            u += W[j, i] * theta[i]
        acc += sig[j] * u * u
    return 0.5 * acc


@register_warmup("validation._kernels.plrf")
def _warm():
    W = np.ones((3, 2)) * 0.1
    s = np.ones(3)
    th = np.zeros(2)
    sgd_chunk(W, s, s, th, np.zeros((1, 1, 3)), 0.1, 1)
    population_risk(W, s, s, th)

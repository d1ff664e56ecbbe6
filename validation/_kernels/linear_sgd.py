"""One-pass minibatch SGD on Gaussian least squares in H's eigenbasis (:mod:`validation.linear_sgd`).

Pure kernel: the wrapper pre-draws the standard normals (data and label noise) from a
:class:`numpy.random.Generator` and passes them in chunks of steps.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from lmech.warm import register_warmup


@njit(cache=True)
def sgd_steps(w, v, sqrt_h, ws, sigma, beta, lam, etas, Z, xi, x, grad):
    """Advance ``(w, v)`` in place by ``len(etas)`` steps of heavy-ball minibatch SGD.

    ``Z`` (steps, B, d): standard normals, ``x = sqrt_h * Z[s, b]``; ``xi`` (steps, B): label
    noise ``y = <w*, x> + sigma xi``.  Update ``g = (1/B) sum_b x_b (<w, x_b> - y_b) + lam w``,
    ``v <- beta v - eta g``, ``w <- w + v``.
    """
    n_steps, B, d = Z.shape
    for s in range(n_steps):
        eta = etas[s]
        for i in range(d):
            grad[i] = 0.0
        for b in range(B):
            r = 0.0
            for i in range(d):
                xi_ = sqrt_h[i] * Z[s, b, i]
                x[i] = xi_
                r += xi_ * (w[i] - ws[i])
            r -= sigma * xi[s, b]
            for i in range(d):
                grad[i] += x[i] * r
        for i in range(d):
            g = grad[i] / B + lam * w[i]
            v[i] = beta * v[i] - eta * g
            w[i] += v[i]


@register_warmup("validation._kernels.linear_sgd")
def warmup():
    """Compile :func:`sgd_steps` once."""
    d = 3
    sgd_steps(np.zeros(d), np.zeros(d), np.ones(d), np.ones(d), 0.1, 0.5, 0.1, np.full(2, 0.1),
              np.zeros((2, 1, d)), np.zeros((2, 1)), np.empty(d), np.empty(d))

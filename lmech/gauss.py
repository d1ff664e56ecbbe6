"""Gauss–Hermite rules for Gaussian expectations.

``hermite(n)`` gives nodes ``z`` and weights ``w`` with
``sum(w * f(z)) ~= E[f(z)]`` for ``z ~ N(0, 1)``, exact for polynomials of
degree ``<= 2n - 1``.  ``hermite2d(n, cov)`` gives the product rule mapped to a
correlated 2-D Gaussian ``N(0, cov)``.  Nodes and weights are plain float64
arrays, so they can be passed into Numba kernels; :func:`lmech._kernels.map2d`
maps a product rule to a covariance inside a kernel.

The accuracy knob is ``n``: for integrands analytic in a strip (erf, tanh,
logistic) the error falls exponentially in ``sqrt(n)`` or faster.  Peaked or
non-smooth integrands need rescaling or splitting by the caller.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from . import _kernels
from .checks import check_int, check_psd

__all__ = ["hermite", "hermite2d", "expect", "expect2d"]


@lru_cache(maxsize=64)
def _hermite(n: int):
    z, w = hermegauss(n)
    w = w / np.sqrt(2.0 * np.pi)
    # the rule is symmetric: enforce it exactly
    z = 0.5 * (z - z[::-1])
    w = 0.5 * (w + w[::-1])
    w = w / w.sum()
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for ``E[f(z)]``, ``z ~ N(0, 1)``.

    Parameters
    ----------
    n : int
        Number of nodes, ``1 <= n <= 300`` (numpy's rule overflows beyond ~350).

    Returns
    -------
    z, w : ndarray
        Read-only float64 arrays of length ``n``; ``w`` sums to 1.
    """
    n = check_int("n", n, low=1, high=300)
    return _hermite(n)


def hermite2d(n: int, cov) -> tuple[np.ndarray, np.ndarray]:
    """Product Gauss–Hermite rule for ``E[f(u, v)]``, ``(u, v) ~ N(0, cov)``.

    Parameters
    ----------
    n : int
        Nodes per dimension (``n**2`` in all).
    cov : array_like, shape (2, 2)
        Symmetric positive-semidefinite covariance.

    Returns
    -------
    uv : ndarray, shape (n*n, 2)
        Nodes.
    w : ndarray, shape (n*n,)
        Weights, summing to 1.
    """
    c = check_psd("cov", cov)
    if c.shape != (2, 2):
        raise ValueError(f"cov must have shape (2, 2), got {c.shape}")
    z, w = hermite(n)
    u = np.empty(n * n)
    v = np.empty(n * n)
    ww = np.empty(n * n)
    _kernels.map2d(z, w, c[0, 0], c[0, 1], c[1, 1], u, v, ww)
    return np.stack([u, v], axis=1), ww


def expect(f, n: int = 64, *, mean: float = 0.0, std: float = 1.0) -> float:
    """``E[f(x)]`` for ``x ~ N(mean, std**2)`` by an ``n``-node rule."""
    z, w = hermite(n)
    return float(np.dot(w, f(mean + std * z)))


def expect2d(f, cov, n: int = 64) -> float:
    """``E[f(u, v)]`` for ``(u, v) ~ N(0, cov)`` by an ``n x n`` product rule."""
    uv, w = hermite2d(n, cov)
    return float(np.dot(w, f(uv[:, 0], uv[:, 1])))

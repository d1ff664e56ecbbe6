"""Numba kernels shared by several :mod:`dmft` methods: the mixture polynomial
``xi`` of the spherical p-spin and the activations of the random RNN (with their
Gaussian correlations).  Pure functions of floats and float64 arrays.
"""

from __future__ import annotations

import math

from numba import njit

from lmech._kernels import map2d
from lmech.blocks.activations import ERF_SQRTPI, LINEAR, RELU, TANH, act_g

#: the RNN's activations are rows of the :mod:`lmech.blocks.activations` table
#: (dmft's ``erf`` is ``erf(sqrt(pi) x / 2)``, the table's ``erf_sqrtpi``)
PHI_TANH = TANH
PHI_ERF = ERF_SQRTPI
PHI_RELU = RELU
PHI_LINEAR = LINEAR


# ---------------------------------------------------------------------------
# activations of the random RNN
@njit(cache=True)
def phi_eval(code, x):
    """phi(x) for the activation ``code`` of :func:`lmech.blocks.activations.act_g`."""
    return act_g(code, x)


@njit(cache=True)
def phi_corr_exact(code, c11, c12, c22):
    """Closed-form E[phi(u) phi(v)] for ``erf(sqrt(pi) x/2)`` and ``linear``.

    erf: ``(2/pi) arcsin(2 a^2 c12 / sqrt((1 + 2 a^2 c11)(1 + 2 a^2 c22)))``,
    ``a^2 = pi/4`` (Williams, Neural Comput. 10, 1203 (1998)); linear: ``c12``.
    """
    if code == PHI_LINEAR:
        return c12
    k = 0.5 * math.pi
    arg = k * c12 / math.sqrt((1.0 + k * c11) * (1.0 + k * c22))
    if arg > 1.0:
        arg = 1.0
    elif arg < -1.0:
        arg = -1.0
    return (2.0 / math.pi) * math.asin(arg)


@njit(cache=True)
def phi_corr(code, c11, c12, c22, z, w, u, v, ww):
    """E[phi(u) phi(v)] for (u, v) ~ N(0, [[c11, c12], [c12, c22]]) by a product rule."""
    map2d(z, w, c11, c12, c22, u, v, ww)
    s = 0.0
    if code == TANH or code == ERF_SQRTPI:
        # odd phi and a symmetric rule: node (i, j) and (n-1-i, n-1-j) give equal terms
        n = z.shape[0]
        half = (n * n) // 2
        for k in range(half):
            s += ww[k] * phi_eval(code, u[k]) * phi_eval(code, v[k])
        s *= 2.0
        if (n * n) % 2 == 1:
            s += ww[half] * phi_eval(code, u[half]) * phi_eval(code, v[half])
        return s
    for k in range(ww.shape[0]):
        s += ww[k] * phi_eval(code, u[k]) * phi_eval(code, v[k])
    return s


# ---------------------------------------------------------------------------
# mixture polynomials xi(q) = sum_k coef[k] q^k (coef[0] is the q^0 term)
@njit(cache=True)
def xi_derivs(coef, q):
    """Return xi(q), xi'(q), xi''(q) for xi(q) = sum_k coef[k] q^k."""
    f0 = 0.0
    f1 = 0.0
    f2 = 0.0
    for k in range(coef.shape[0] - 1, -1, -1):
        f2 = f2 * q + 2.0 * f1
        f1 = f1 * q + f0
        f0 = f0 * q + coef[k]
    return f0, f1, f2


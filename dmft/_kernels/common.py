"""Numba kernels shared by several :mod:`dmft` methods: the mixture polynomial
``xi`` of the spherical p-spin and the activations of the random RNN (with their
Gaussian correlations).  Pure functions of floats and float64 arrays.
"""

from __future__ import annotations

import math

import numpy as np
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



# ---------------------------------------------------------------------------
# E[tanh(u) tanh(v)]: trapezoid rule with an a-priori error bound
#: the two trapezoid rules' combined discretisation target (each rule gets half)
TANH_CORR_EPS = 1e-11
#: half-width of the truncated Gaussian range: erfc(7.5/sqrt 2) = 6.4e-14 per rule
_TANH_L = 7.5
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def _trap_step(s, eps):
    """Step ``h`` and strip half-width ``d`` of the trapezoid rule for ``E[f(s z)]``.

    ``f`` is ``tanh`` (or a Gaussian average of it): ``|tanh(x + i y)| <= 1``
    for ``|y| <= pi/4``, so ``f(s z) phi(z)`` is analytic in the strip ``|Im z|
    < d = pi/(4 s)`` with ``int |f phi| dx <= M = exp(d^2/2)``, and the
    trapezoid rule errs by at most ``2 M / (exp(2 pi d / h) - 1)`` (Trefethen &
    Weideman, SIAM Rev. 56, 385 (2014), Theorem 5.1).  ``d`` is capped at
    ``sqrt(2 log(2/eps))``, where the step is largest.
    """
    dmax = math.sqrt(2.0 * math.log(2.0 / eps))
    d = dmax if s * dmax <= 0.25 * math.pi else 0.25 * math.pi / s
    h = 2.0 * math.pi * d / math.log(1.0 + 2.0 * math.exp(0.5 * d * d) / eps)
    return h, d


@njit(cache=True)
def tanh_corr(c11, c12, c22, eps):
    """``E[tanh(u) tanh(v)]`` for ``(u, v) ~ N(0, [[c11, c12], [c12, c22]])``, with an error bound.

    Returns ``(value, bound)``, ``|value - exact| <= bound``.  With the
    Cholesky form ``u = a z1``, ``v = b z1 + c z2`` (``a^2`` the larger
    variance, so ``|b| <= a``)::

        E = int phi(z1) tanh(a z1) G(b z1) dz1,   G(m) = int phi(z2) tanh(m + c z2) dz2,

    both integrals by the trapezoid rule on the real line, truncated at
    ``|z| <= 7.5``, with steps from the strip of analyticity: ``tanh`` is
    bounded by 1 for ``|Im| <= pi/4`` (so is ``G``, a Gaussian average of it),
    hence the strip ``pi/(4 a)`` in ``z1`` and ``pi/(4 c)`` in ``z2`` and the
    a-priori bound of :func:`_trap_step` (Trefethen & Weideman, SIAM Rev. 56,
    385 (2014), Th. 5.1) for each rule, ``eps/2`` each; the truncations add
    ``erfc(7.5/sqrt 2)`` each.  The step shrinks as the variances grow (the
    integrand sharpens: ``tanh(a z)`` tends to ``sign(z)``), so the bound holds
    at any variance; cost ``~ 100 a c`` terms for variances above 0.1.  The
    inner sum pairs the nodes ``+-z2``: ``tanh(m + x) + tanh(m - x) = 2 sinh(2m)
    / (cosh(2m) + cosh(2x))`` (one division per term, no cancellation).
    """
    if c11 < c22:
        c11, c22 = c22, c11
    if c22 <= 0.0 or c11 <= 0.0:
        return 0.0, 0.0
    a = math.sqrt(c11)
    b = c12 / a
    rem = c22 - b * b
    c = math.sqrt(rem) if rem > 0.0 else 0.0
    tail = math.erfc(_TANH_L / math.sqrt(2.0))
    h1, d1 = _trap_step(a, 0.5 * eps)
    bound = 2.0 * math.exp(0.5 * d1 * d1) / (math.exp(2.0 * math.pi * d1 / h1) - 1.0) + tail
    n1 = int(math.ceil(_TANH_L / h1))
    if c > 0.0:
        h2, d2 = _trap_step(c, 0.5 * eps)
        bound += 2.0 * math.exp(0.5 * d2 * d2) / (math.exp(2.0 * math.pi * d2 / h2) - 1.0) + tail
        n2 = int(math.ceil(_TANH_L / h2))
    else:
        h2 = 0.0
        n2 = 0
    big = 2.0 * (_TANH_L + h1) * max(abs(b), 1e-300) > 700.0 or \
        2.0 * (_TANH_L + h2) * c > 700.0
    # inner nodes x_k = c k h2 (k >= 1): weights and cosh(2 x_k)
    w0 = h2 * _INV_SQRT_2PI
    wk = np.empty(n2)
    ck = np.empty(n2)
    xk = np.empty(n2)
    for k in range(n2):
        z = (k + 1) * h2
        wk[k] = w0 * math.exp(-0.5 * z * z)
        xk[k] = c * z
        ck[k] = math.cosh(2.0 * xk[k]) if not big else 0.0
    s = 0.0
    for j in range(1, n1 + 1):
        z1 = j * h1
        m = b * z1
        if c > 0.0:
            if not big:
                s2 = math.sinh(2.0 * m)
                c2 = math.cosh(2.0 * m)
                g = 0.0
                for k in range(n2):
                    g += wk[k] / (c2 + ck[k])
                g = w0 * math.tanh(m) + 2.0 * s2 * g
            else:  # huge variances: the plain sum (cosh would overflow)
                g = w0 * math.tanh(m)
                for k in range(n2):
                    g += wk[k] * (math.tanh(m + xk[k]) + math.tanh(m - xk[k]))
        else:
            g = math.tanh(m)
        s += math.exp(-0.5 * z1 * z1) * math.tanh(a * z1) * g
    # the integrand is even in z1 and vanishes at 0
    return 2.0 * h1 * _INV_SQRT_2PI * s, bound

"""Numba kernels of the ``odes`` layer: Gaussian integrals and the ODE right-hand side.

Notation (Saad & Solla, PRE 52, 4225 (1995); Goldt et al., NeurIPS 2019,
supplementary material): for a zero-mean Gaussian vector with covariance ``C``
(indices 1..4 below), and activation ``g``,

* ``I2 = E[g(x1) g(x2)]``
* ``I3 = E[g'(x1) x2 g(x3)]``
* ``I4 = E[g'(x1) g'(x2) g(x3) g(x4)]``
* ``J2 = E[g'(x1) g'(x2)]``

Activation codes used by the kernels: ``0`` erf(u/sqrt 2), ``1`` ReLU,
``2`` linear, ``3`` quadratic (``g(u) = u**2``).

Every function here is a pure function of float64 scalars and arrays (and of
the :class:`CommitteeArgs` tuple of them); the validating wrappers live in
:mod:`odes.integrals` and :mod:`odes.integrate`.
"""

from __future__ import annotations

import math
from collections import namedtuple
from functools import lru_cache

import numpy as np
from numba import njit
from numba.extending import overload

from lmech.blocks.schedules import lr_at
from lmech.warm import register_warmup

ERF, RELU, LINEAR, QUADRATIC = 0, 1, 2, 3

#: The committee machine in kernel form, built once by
#: :meth:`odes.CommitteeMachine.kernel_args` and passed as one argument to every
#: kernel that needs the model: the ODE right-hand side, ``eg``, the Euler and
#: DOP853 steppers here, and the finite-N online SGD of :mod:`validation`.
#: Fields hold the model's parameters as it gives them (the kernels derive the
#: effective weights ``v / c_K``, ``v* / c_M`` and rate ``eta_v / c_K^2``):
#:
#: ``act`` (int) activation code (``-1``: :class:`odes.Custom`, not a kernel path);
#: ``K``, ``M`` (int); ``train_v`` (bool); ``lr``, ``lr_v`` (float) the rates
#: ``eta``, ``eta_v``; ``schedule``, ``t0``, ``power`` the learning-rate schedule
#: (:func:`lmech.blocks.schedules.lr_at`); ``noise`` (``sigma^2``), ``wd``
#: (weight decay), ``c_k``, ``c_m`` (readout normalisations); arrays (float64,
#: C-contiguous, writable): ``vt`` (M,) teacher second layer, ``T`` (M, M)
#: teacher overlaps, ``v0`` (K,) initial (or fixed) student second layer,
#: ``u``, ``wu`` the Gauss-Legendre rule of the ReLU ``I4`` (:func:`legendre01`).
CommitteeArgs = namedtuple("CommitteeArgs", ["act", "K", "M", "train_v", "lr", "lr_v", "schedule", "t0",
                                             "power", "noise", "wd", "c_k", "c_m", "vt", "T", "v0", "u",
                                             "wu"])

#: The same fields as :class:`CommitteeArgs` for the erf(u/sqrt 2) activation (``act`` must be
#: ``ERF``): a distinct type, so that the kernels specialised on it compile the erf path only
#: (:func:`coefficients_erf`, :func:`i2_erf`), not the generic one with the ReLU ``I4``; the
#: first call then compiles in a fraction of the time.  Same arithmetic, same results.
ErfArgs = namedtuple("ErfArgs", CommitteeArgs._fields)

#: The Butcher tableau of DOP853 with its error estimators and dense-output coefficients.
DOP853Tableau = namedtuple("DOP853Tableau", ["A", "B", "C", "E3", "E5", "D"])

_2PI = 2.0 / math.pi
_4PI2 = 4.0 / (math.pi * math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@lru_cache(maxsize=32)
def legendre01(n: int):
    """Composite Gauss-Legendre rule on ``[0, 1]`` for the ReLU orthant integral.

    ``n`` nodes on each of the 7 geometrically graded panels with breakpoints
    ``0, 1e-6, 1e-5, ..., 0.1, 1``: the integrand of
    :func:`orthant4` (in ``u``, ``s = 1 - u^2``) has a
    near-kink of width ``sqrt(1 - rho^2)`` at ``u = 0`` for correlations
    ``rho`` close to 1, which the grading resolves down to ``1 - rho ~ 1e-12``.
    Read-only arrays (cached).
    """
    x, w = np.polynomial.legendre.leggauss(n)
    edges = np.concatenate([[0.0], 10.0 ** np.arange(-6, 1)])
    us, ws = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        us.append(a + 0.5 * (b - a) * (x + 1.0))
        ws.append(0.5 * (b - a) * w)
    u = np.concatenate(us)
    wu = np.concatenate(ws)
    u.setflags(write=False)
    wu.setflags(write=False)
    return u, wu


@njit(cache=True)
def _asin_clip(x):
    if x > 1.0:
        x = 1.0
    elif x < -1.0:
        x = -1.0
    return math.asin(x)


# ---------------------------------------------------------------------------
# erf(u / sqrt 2): Saad & Solla (1995), appendix; Goldt et al. (2019), supplementary material
# ---------------------------------------------------------------------------
@njit(cache=True)
def i2_erf(c11, c12, c22):
    """``(2/pi) asin(C12 / sqrt((1+C11)(1+C22)))`` (Saad & Solla 1995, appendix)."""
    return _2PI * _asin_clip(c12 / math.sqrt((1.0 + c11) * (1.0 + c22)))


@njit(cache=True)
def i3_erf(c11, c12, c13, c22, c23, c33):
    """``E[g'(x1) x2 g(x3)]`` for erf(u/sqrt 2) (Saad & Solla 1995, appendix).

    ``(2/pi) (C23 (1+C11) - C12 C13) / ((1+C11) sqrt(L3))`` with
    ``L3 = (1+C11)(1+C33) - C13**2``.
    """
    l3 = (1.0 + c11) * (1.0 + c33) - c13 * c13
    return _2PI * (c23 * (1.0 + c11) - c12 * c13) / ((1.0 + c11) * math.sqrt(l3))


@njit(cache=True)
def i4_erf(c11, c12, c13, c14, c22, c23, c24, c33, c34, c44):
    """``E[g'(x1) g'(x2) g(x3) g(x4)]`` for erf(u/sqrt 2) (Saad & Solla 1995, appendix).

    ``(4/pi^2) L4^{-1/2} asin(L0 / sqrt(L1 L2))`` with
    ``L4 = (1+C11)(1+C22) - C12^2``,
    ``L0 = L4 C34 - C23 C24 (1+C11) - C13 C14 (1+C22) + C12 C13 C24 + C12 C14 C23``,
    ``L1 = L4 (1+C33) - C23^2 (1+C11) - C13^2 (1+C22) + 2 C12 C13 C23``,
    ``L2 = L4 (1+C44) - C24^2 (1+C11) - C14^2 (1+C22) + 2 C12 C14 C24``.
    """
    a = 1.0 + c11
    b = 1.0 + c22
    l4 = a * b - c12 * c12
    l0 = l4 * c34 - c23 * c24 * a - c13 * c14 * b + c12 * (c13 * c24 + c14 * c23)
    l1 = l4 * (1.0 + c33) - c23 * c23 * a - c13 * c13 * b + 2.0 * c12 * c13 * c23
    l2 = l4 * (1.0 + c44) - c24 * c24 * a - c14 * c14 * b + 2.0 * c12 * c14 * c24
    return _4PI2 / math.sqrt(l4) * _asin_clip(l0 / math.sqrt(l1 * l2))


@njit(cache=True)
def j2_erf(c11, c12, c22):
    """``E[g'(x1) g'(x2)] = (2/pi) ((1+C11)(1+C22) - C12^2)^{-1/2}`` (Goldt et al. 2019, SM)."""
    return _2PI / math.sqrt((1.0 + c11) * (1.0 + c22) - c12 * c12)


# ---------------------------------------------------------------------------
# linear and quadratic: Isserlis' theorem
# ---------------------------------------------------------------------------
@njit(cache=True)
def i4_quad(c11, c12, c13, c14, c22, c23, c24, c33, c34, c44):
    """``E[2x1 2x2 x3^2 x4^2]`` by Isserlis' theorem (15 pairings)."""
    return 4.0 * (c12 * (c33 * c44 + 2.0 * c34 * c34)
                  + 2.0 * c13 * (c23 * c44 + 2.0 * c24 * c34)
                  + 2.0 * c14 * (c24 * c33 + 2.0 * c23 * c34))


# ---------------------------------------------------------------------------
# ReLU: arc-cosine kernel, Stein's lemma, orthant probabilities
# ---------------------------------------------------------------------------
@njit(cache=True)
def i2_relu(c11, c12, c22):
    """``E[relu(x1) relu(x2)] = sqrt(C11 C22)/(2 pi) (sin th + (pi - th) cos th)``, ``cos th = rho``.

    The order-1 arc-cosine kernel (Cho & Saul, NeurIPS 2009).
    """
    s = math.sqrt(c11 * c22)
    if s <= 0.0:
        return 0.0
    rho = c12 / s
    if rho > 1.0:
        rho = 1.0
    elif rho < -1.0:
        rho = -1.0
    th = math.acos(rho)
    return s / (2.0 * math.pi) * (math.sqrt(max(0.0, 1.0 - rho * rho)) + (math.pi - th) * rho)


@njit(cache=True)
def _p2(c11, c12, c22):
    """``P(x1 > 0, x2 > 0) = 1/4 + asin(rho)/(2 pi)`` (Sheppard's formula)."""
    d = math.sqrt(c11 * c22)
    rho = c12 / d if d > 0.0 else 0.0
    return 0.25 + _asin_clip(rho) / (2.0 * math.pi)


@njit(cache=True)
def i3_relu(c11, c12, c13, c22, c23, c33):
    """``E[theta(x1) x2 relu(x3)]`` by Stein's lemma in x2.

    ``C12 E[delta(x1) relu(x3)] + C23 P(x1 > 0, x3 > 0)`` with
    ``E[delta(x1) relu(x3)] = sqrt(C11 C33 - C13^2) / (2 pi C11)``.
    """
    rem = c11 * c33 - c13 * c13
    if rem < 0.0:
        rem = 0.0
    t1 = c12 * math.sqrt(rem) / (2.0 * math.pi * c11) if c11 > 0.0 else 0.0
    return t1 + c23 * _p2(c11, c13, c33)


@njit(cache=True)
def j2_relu(c11, c12, c22):
    """``E[theta(x1) theta(x2)] = 1/4 + asin(rho)/(2 pi)``."""
    return _p2(c11, c12, c22)


@njit(cache=True)
def _condition(S, n, j):
    """Covariance of the other ``n - 1`` variables given ``x_j = 0``."""
    out = np.empty((n - 1, n - 1))
    sjj = S[j, j]
    ia = 0
    for a in range(n):
        if a == j:
            continue
        ib = 0
        for b in range(n):
            if b == j:
                continue
            out[ia, ib] = S[a, b] - S[a, j] * S[j, b] / sjj
            ib += 1
        ia += 1
    return out


@njit(cache=True)
def _corr(S, a, b):
    d = math.sqrt(max(S[a, a], 0.0) * max(S[b, b], 0.0))
    if d <= 0.0:
        return 0.0
    r = S[a, b] / d
    if r > 1.0:
        return 1.0
    if r < -1.0:
        return -1.0
    return r


@njit(cache=True)
def orthant4(R, u, wu):
    """``P(x > 0)`` for a 4-D zero-mean Gaussian with correlation matrix ``R``.

    Plackett's identity ``dP/drho_ij = phi2(0, 0; rho_ij) P(x_k, x_l > 0 | x_i = x_j = 0)``
    integrated along ``R(s) = I + s (R - I)`` from ``P(I) = 1/16``; the
    substitution ``s = 1 - u^2`` removes the square-root endpoint singularity
    of (nearly) singular ``R``.  ``(u, wu)`` is a Gauss-Legendre rule on [0, 1].
    """
    total = 0.0
    pairs_i = (0, 0, 0, 1, 1, 2)
    pairs_j = (1, 2, 3, 2, 3, 3)
    for q in range(u.shape[0]):
        s = 1.0 - u[q] * u[q]
        ds = 2.0 * u[q] * wu[q]
        f = 0.0
        for p in range(6):
            i = pairs_i[p]
            j = pairs_j[p]
            rij = R[i, j]
            if rij == 0.0:
                continue
            # the two other indices
            k = -1
            l = -1
            for m in range(4):
                if m != i and m != j:
                    if k < 0:
                        k = m
                    else:
                        l = m
            r = s * rij
            # 1 - |r| = (1 - |rho|) + |rho| u^2 without cancellation (s = 1 - u^2)
            ar = abs(rij)
            det = ((1.0 - ar) + ar * u[q] * u[q]) * (1.0 + abs(r))
            if det <= 0.0:
                continue
            aki = s * R[k, i]
            akj = s * R[k, j]
            ali = s * R[l, i]
            alj = s * R[l, j]
            # v_k^T inv(S_ij) v_l with inv = [[1, -r], [-r, 1]] / det
            ckl = s * R[k, l] - (aki * ali - r * (aki * alj + akj * ali) + akj * alj) / det
            ckk = 1.0 - (aki * aki - 2.0 * r * aki * akj + akj * akj) / det
            cll = 1.0 - (ali * ali - 2.0 * r * ali * alj + alj * alj) / det
            dd = math.sqrt(max(ckk, 0.0) * max(cll, 0.0))
            rc = ckl / dd if dd > 0.0 else 0.0
            f += rij / (2.0 * math.pi * math.sqrt(det)) * (0.25 + _asin_clip(rc) / (2.0 * math.pi))
        total += f * ds
    return 0.0625 + total


@njit(cache=True)
def _orthant(S, n, u, wu):
    """``P(x > 0)`` for ``n <= 4`` variables with covariance ``S``."""
    if n == 0:
        return 1.0
    if n == 1:
        return 0.5
    # int64 indices, not literals: a literal makes Numba compile another copy of _corr per pair
    i0 = np.int64(0)
    i1 = np.int64(1)
    i2 = np.int64(2)
    if n == 2:
        return 0.25 + _asin_clip(_corr(S, i0, i1)) / (2.0 * math.pi)
    if n == 3:
        return 0.125 + (_asin_clip(_corr(S, i0, i1)) + _asin_clip(_corr(S, i0, i2))
                        + _asin_clip(_corr(S, i1, i2))) / (4.0 * math.pi)
    R = np.empty((4, 4))
    for a in range(4):
        for b in range(4):
            R[a, b] = _corr(S, a, b) if a != b else 1.0
    return orthant4(R, u, wu)


@njit(cache=True)
def _first_moment(S, n, w, u, wu):
    """``E[x_w 1{x > 0}] = sum_j S_wj phi_j(0) P(others > 0 | x_j = 0)`` (Stein's lemma)."""
    tot = 0.0
    for j in range(n):
        if S[w, j] == 0.0 or S[j, j] <= 0.0:
            continue
        Sc = _condition(S, n, j)
        tot += S[w, j] * _INV_SQRT_2PI / math.sqrt(S[j, j]) * _orthant(Sc, n - 1, u, wu)
    return tot


@njit(cache=True)
def _second_moment(S, n, v, w, u, wu):
    """``E[x_v x_w 1{x > 0}]`` (``v == w`` allowed) by Stein's lemma in ``x_v``.

    ``S_vw P(x > 0) + sum_{j != w} S_vj phi_j(0) E[x_w 1{others > 0} | x_j = 0]``.
    """
    tot = S[v, w] * _orthant(S, n, u, wu)
    for j in range(n):
        if j == w or S[v, j] == 0.0 or S[j, j] <= 0.0:
            continue
        Sc = _condition(S, n, j)
        wc = w if w < j else w - 1
        tot += S[v, j] * _INV_SQRT_2PI / math.sqrt(S[j, j]) * _first_moment(Sc, n - 1, wc, u, wu)
    return tot


@njit(cache=True)
def i4_relu(C, labels, u, wu):
    """``E[theta(x1) theta(x2) relu(x3) relu(x4)]`` for ReLU.

    ``C`` is the 4x4 covariance; ``labels`` (4 ints) mark variables that are
    the *same* random variable (the same unit), which are merged exactly
    (``theta^2 = theta``, ``theta relu = relu``, ``relu^2 = x^2 theta``).
    The integrand is ``x3 x4 1{all > 0}``; Stein's lemma reduces it to
    orthant probabilities, closed for up to 3 variables and a 1-D
    Gauss-Legendre integral (:func:`orthant4`, rule ``(u, wu)``) for 4.

    Accuracy: ~1e-13 for well-conditioned covariances.  When two *different*
    units are almost identical (a student unit within ``delta`` of a teacher
    unit, close to perfect learning), the conditional variances
    ``S_aa - S_aj^2 / S_jj ~ delta^2`` lose digits to cancellation, so the
    ReLU right-hand side carries rounding noise ~``1e-16 / delta^2`` there;
    adaptive tolerances much below ``rtol = 1e-10`` cannot be met in that
    regime (``integrate`` then stops at ``max_steps`` and says so).
    """
    # distinct variables and the power of each
    rep = np.empty(4, dtype=np.int64)
    pw = np.zeros(4, dtype=np.int64)
    # n, v, w typed int64 from the start: a plain ``0`` / ``-1`` is first typed as a literal, and
    # Numba then compiles a second, literal-specialised copy of the whole _second_moment chain
    n = np.int64(0)
    for a in range(4):
        found = -1
        for b in range(n):
            if labels[rep[b]] == labels[a]:
                found = b
                break
        if found < 0:
            rep[n] = a
            found = n
            n += 1
        if a >= 2:
            pw[found] += 1
    S = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            S[a, b] = C[rep[a], rep[b]]
    v = np.int64(-1)
    w = np.int64(-1)
    for a in range(n):
        if pw[a] == 2:
            v = a
            w = a
        elif pw[a] == 1:
            if v < 0:
                v = a
            else:
                w = a
    return _second_moment(S, n, v, w, u, wu)


# ---------------------------------------------------------------------------
# dispatch by activation code
# ---------------------------------------------------------------------------
@njit(cache=True)
def i2_act(act, c11, c12, c22):
    if act == ERF:
        return i2_erf(c11, c12, c22)
    if act == RELU:
        return i2_relu(c11, c12, c22)
    if act == LINEAR:
        return c12
    return c11 * c22 + 2.0 * c12 * c12


@njit(cache=True)
def i3_act(act, c11, c12, c13, c22, c23, c33):
    if act == ERF:
        return i3_erf(c11, c12, c13, c22, c23, c33)
    if act == RELU:
        return i3_relu(c11, c12, c13, c22, c23, c33)
    if act == LINEAR:
        return c23
    return 2.0 * (c12 * c33 + 2.0 * c13 * c23)


@njit(cache=True)
def j2_act(act, c11, c12, c22):
    if act == ERF:
        return j2_erf(c11, c12, c22)
    if act == RELU:
        return j2_relu(c11, c12, c22)
    if act == LINEAR:
        return 1.0
    return 4.0 * c12


@njit(cache=True)
def i4_act(act, C, labels, u, wu):
    """``I4`` of the 4x4 covariance ``C`` for activation ``act``."""
    if act == ERF:
        return i4_erf(C[0, 0], C[0, 1], C[0, 2], C[0, 3], C[1, 1], C[1, 2], C[1, 3],
                      C[2, 2], C[2, 3], C[3, 3])
    if act == RELU:
        return i4_relu(C, labels, u, wu)
    if act == LINEAR:
        return C[2, 3]
    return i4_quad(C[0, 0], C[0, 1], C[0, 2], C[0, 3], C[1, 1], C[1, 2], C[1, 3],
                   C[2, 2], C[2, 3], C[3, 3])


# ---------------------------------------------------------------------------
# dispatch by the type of the model tuple, at compile time: an ErfArgs model compiles the erf
# path only, a CommitteeArgs model every activation (chosen at run time from ``a.act``)
# ---------------------------------------------------------------------------
def _is_erf_args(a) -> bool:
    return getattr(a, "instance_class", None) is ErfArgs


def model_coefficients(a, C, w, K, L, A, B, J, G):
    """The Gaussian averages ``A, B, J, G`` of the model ``a`` (:func:`coefficients_erf` or
    :func:`coefficients`); Numba kernels only."""
    raise TypeError("model_coefficients is for Numba kernels only")


@overload(model_coefficients)
def _model_coefficients(a, C, w, K, L, A, B, J, G):
    if _is_erf_args(a):
        def erf_only(a, C, w, K, L, A, B, J, G):
            coefficients_erf(C, w, K, L, A, B, J, G)
        return erf_only

    def any_act(a, C, w, K, L, A, B, J, G):
        if a.act == ERF:
            coefficients_erf(C, w, K, L, A, B, J, G)
        else:
            coefficients(a.act, C, w, K, L, a.u, a.wu, A, B, J, G)
    return any_act


def model_i2(a, c11, c12, c22):
    """``I2`` of the model ``a``'s activation; Numba kernels only."""
    raise TypeError("model_i2 is for Numba kernels only")


@overload(model_i2)
def _model_i2(a, c11, c12, c22):
    if _is_erf_args(a):
        return lambda a, c11, c12, c22: i2_erf(c11, c12, c22)
    return lambda a, c11, c12, c22: i2_act(a.act, c11, c12, c22)


# ---------------------------------------------------------------------------
# the committee-machine ODE
# ---------------------------------------------------------------------------
@njit(cache=True)
def unpack(y, a, C, w):
    """Fill the full covariance ``C`` ((K+M)^2) and the signed readout ``w`` from the state.

    State layout: upper triangle of ``Q`` row by row (diagonal included),
    then ``R`` (K x M, row-major), then the effective weights ``v / c_K`` (K)
    if the second layer trains.  ``w = (-v / c_K, v* / c_M)`` so that
    ``teacher - student = sum_c w_c g(x_c)``; ``a`` is a :class:`CommitteeArgs`.
    """
    K = a.K
    M = a.M
    T = a.T
    train_v = a.train_v
    p = 0
    for i in range(K):
        for k in range(i, K):
            C[i, k] = y[p]
            C[k, i] = y[p]
            p += 1
    for i in range(K):
        for m in range(M):
            C[i, K + m] = y[p]
            C[K + m, i] = y[p]
            p += 1
    for n in range(M):
        for m in range(M):
            C[K + n, K + m] = T[n, m]
    for i in range(K):
        w[i] = -(y[p + i] if train_v else a.v0[i] / a.c_k)
    for m in range(M):
        w[K + m] = a.vt[m] / a.c_m


@njit(cache=True)
def coefficients(act, C, w, K, L, u, wu, A, B, J, G):
    """Gaussian averages the ODE needs, for a generic activation code.

    ``A[i, b] = sum_c w_c I3(i, b, c)``, ``B[i, k] = sum_{c,d} w_c w_d I4(i, k, c, d)``,
    ``J[i, k] = J2(i, k)``, ``G[c, d] = I2(c, d)`` (all ``c, d`` over students and teachers).
    Uses ``I4(i,k,c,d) = I4(k,i,c,d) = I4(i,k,d,c)``.
    """
    for c in range(L):
        for d in range(c, L):
            G[c, d] = i2_act(act, C[c, c], C[c, d], C[d, d])
            G[d, c] = G[c, d]
    for i in range(K):
        for b in range(L):
            s = 0.0
            for c in range(L):
                s += w[c] * i3_act(act, C[i, i], C[i, b], C[i, c], C[b, b], C[b, c], C[c, c])
            A[i, b] = s
    C4 = np.empty((4, 4))
    lab = np.empty(4, dtype=np.int64)
    for i in range(K):
        for k in range(i, K):
            J[i, k] = j2_act(act, C[i, i], C[i, k], C[k, k])
            J[k, i] = J[i, k]
            s = 0.0
            for c in range(L):
                for d in range(c, L):
                    idx = (i, k, c, d)
                    for a in range(4):
                        lab[a] = idx[a]
                        for b in range(4):
                            C4[a, b] = C[idx[a], idx[b]]
                    val = i4_act(act, C4, lab, u, wu)
                    s += (1.0 if c == d else 2.0) * w[c] * w[d] * val
            B[i, k] = s
            B[k, i] = s


@njit(cache=True)
def coefficients_erf(C, w, K, L, A, B, J, G):
    """:func:`coefficients` for erf(u/sqrt 2), with per-pair precomputation.

    For each student pair ``(i, k)`` the quantities ``L4``, ``1 + C_ii``,
    ``1 + C_kk`` and, for every field ``c``, ``L1(c)`` are computed once; the
    inner loop over ``c <= d`` then costs one square root and one arcsine.
    """
    opd = np.empty(L)
    for c in range(L):
        opd[c] = 1.0 + C[c, c]
    for c in range(L):
        for d in range(c, L):
            G[c, d] = _2PI * _asin_clip(C[c, d] / math.sqrt(opd[c] * opd[d]))
            G[d, c] = G[c, d]
    # I3(i, b, c) = (2/pi) (C_bc (1+C_ii) - C_ib C_ic) / ((1+C_ii) sqrt(L3(i, c)))
    pre = np.empty(L)
    for i in range(K):
        a = opd[i]
        for c in range(L):
            pre[c] = w[c] * _2PI / (a * math.sqrt(a * opd[c] - C[i, c] * C[i, c]))
        for b in range(L):
            s = 0.0
            for c in range(L):
                s += pre[c] * (C[b, c] * a - C[i, b] * C[i, c])
            A[i, b] = s
    l1 = np.empty(L)
    for i in range(K):
        a = opd[i]
        for k in range(i, K):
            b = opd[k]
            c12 = C[i, k]
            l4 = a * b - c12 * c12
            J[i, k] = _2PI / math.sqrt(l4)
            J[k, i] = J[i, k]
            for c in range(L):
                c13 = C[i, c]
                c23 = C[k, c]
                l1[c] = 1.0 / math.sqrt(l4 * opd[c] - c23 * c23 * a - c13 * c13 * b
                                        + 2.0 * c12 * c13 * c23)
            s = 0.0
            for c in range(L):
                c13 = C[i, c]
                c23 = C[k, c]
                wc = w[c]
                # diagonal term d == c
                l0 = l4 * C[c, c] - c23 * c23 * a - c13 * c13 * b + 2.0 * c12 * c13 * c23
                x = l0 * l1[c] * l1[c]
                inner = 0.5 * wc * _asin_clip(x)
                ta = c23 * a
                tb = c13 * b
                for d in range(c + 1, L):
                    c14 = C[i, d]
                    c24 = C[k, d]
                    l0 = l4 * C[c, d] - ta * c24 - tb * c14 + c12 * (c13 * c24 + c14 * c23)
                    inner += w[d] * _asin_clip(l0 * l1[c] * l1[d])
                s += wc * inner
            s *= 2.0 * _4PI2 / math.sqrt(l4)
            B[i, k] = s
            B[k, i] = s


@njit(cache=True)
def assemble(a, C, w, A, B, J, G, eta, eta_v, out):
    """Right-hand side from the Gaussian averages (Saad & Solla 1995; Goldt et al. 2019, supplementary material; our notation).

    ``dQ_ik = eta (v_i A[i,k] + v_k A[k,i]) + eta^2 v_i v_k (B[i,k] + sigma2 J[i,k]) - 2 eta wd Q_ik``,
    ``dR_in = eta v_i A[i, K+n] - eta wd R_in``,
    ``dv_i  = eta_v sum_c w_c G[i, c]``.
    Returns ``eg = (1/2) sum_{c,d} w_c w_d G[c, d]``.  ``sigma2``, ``wd``,
    ``K``, ``M`` and ``train_v`` are read from ``a`` (:class:`CommitteeArgs`).
    """
    K = a.K
    M = a.M
    sigma2 = a.noise
    wd = a.wd
    train_v = a.train_v
    p = 0
    for i in range(K):
        vi = -w[i]
        for k in range(i, K):
            vk = -w[k]
            out[p] = (eta * (vi * A[i, k] + vk * A[k, i]) + eta * eta * vi * vk * (B[i, k] + sigma2 * J[i, k])
                      - 2.0 * eta * wd * C[i, k])
            p += 1
    for i in range(K):
        vi = -w[i]
        for m in range(M):
            out[p] = eta * vi * A[i, K + m] - eta * wd * C[i, K + m]
            p += 1
    L = K + M
    if train_v:
        for i in range(K):
            s = 0.0
            for c in range(L):
                s += w[c] * G[i, c]
            out[p + i] = eta_v * s
    eg = 0.0
    for c in range(L):
        for d in range(L):
            eg += w[c] * w[d] * G[c, d]
    return 0.5 * eg


@njit(cache=True)
def rates(t, a):
    """``(eta(t), eta_v(t) / c_K^2)``: the two learning rates of the ODEs at time ``t``.

    The schedule is :func:`lmech.blocks.schedules.lr_at` (the one the finite-N
    simulator of :mod:`validation` uses); the second-layer rate acts on the
    effective weights ``v / c_K``, hence the ``1 / c_K^2``.
    """
    eta = lr_at(a.schedule, t, a.lr, a.t0, a.power)
    eta_v = lr_at(a.schedule, t, a.lr_v / (a.c_k * a.c_k), a.t0, a.power)
    return eta, eta_v


@njit(cache=True)
def rhs(t, y, a, out):
    """Right-hand side ``dy/dt`` into ``out`` for the model ``a`` (:class:`CommitteeArgs`);
    returns ``eg`` at ``y``."""
    K = a.K
    L = K + a.M
    C = np.empty((L, L))
    w = np.empty(L)
    unpack(y, a, C, w)
    A = np.empty((K, L))
    B = np.empty((K, K))
    J = np.empty((K, K))
    G = np.empty((L, L))
    model_coefficients(a, C, w, K, L, A, B, J, G)
    eta, eta_v = rates(t, a)
    return assemble(a, C, w, A, B, J, G, eta, eta_v, out)


@njit(cache=True)
def eg_of(y, a):
    """Generalisation error ``(1/2) E[(teacher - student)^2]`` at state ``y`` (model ``a``)."""
    L = a.K + a.M
    C = np.empty((L, L))
    w = np.empty(L)
    unpack(y, a, C, w)
    eg = 0.0
    for c in range(L):
        for d in range(L):
            eg += w[c] * w[d] * model_i2(a, C[c, c], C[c, d], C[d, d])
    return 0.5 * eg


@njit(cache=True)
def rhs_fields(t, y, fields, out):
    """:func:`rhs` with the :class:`CommitteeArgs` passed as a plain tuple of its fields, in order.

    For calls from Python once per evaluation (:meth:`odes.System.f`): Numba types a plain
    tuple in its C fast path but a namedtuple in Python, which costs about 1 us per call,
    half the ``K = 2`` right-hand side.
    """
    return rhs(t, y, CommitteeArgs(*fields), out)


@njit(cache=True)
def eg_fields(y, fields):
    """:func:`eg_of` with the :class:`CommitteeArgs` as a plain tuple (see :func:`rhs_fields`)."""
    return eg_of(y, CommitteeArgs(*fields))


@njit(cache=True)
def rhs_fields_erf(t, y, fields, out):
    """:func:`rhs_fields` for the fields of an :class:`ErfArgs` (erf path only)."""
    return rhs(t, y, ErfArgs(*fields), out)


@njit(cache=True)
def eg_fields_erf(y, fields):
    """:func:`eg_fields` for the fields of an :class:`ErfArgs` (erf path only)."""
    return eg_of(y, ErfArgs(*fields))


@njit(cache=True)
def grad_eg(y, a, out):
    """Gradient of :func:`eg_of` at ``y`` into ``out`` by central differences.

    Step ``1e-6 max(1, |y_j|)`` per coordinate: truncation ``O(h^2)`` and
    rounding ``O(eps / h)``, about ``1e-10`` relative.  One call instead of
    ``2 n`` calls of :func:`eg_of` from Python.
    """
    yp = y.copy()
    for i in range(y.shape[0]):
        yi = y[i]
        h = 1e-6 * max(1.0, abs(yi))
        yp[i] = yi + h
        ep = eg_of(yp, a)
        yp[i] = yi - h
        em = eg_of(yp, a)
        yp[i] = yi
        out[i] = (ep - em) / (2.0 * h)
    return out


@njit(cache=True)
def euler(y0, dt, n_steps, every, a, ys, egs, bound):
    """Fixed-step forward Euler, storing every ``every``-th step (step 0 included).

    Returns the number of steps taken; stops early (returning the step index)
    when the state leaves ``|y| < bound`` or becomes non-finite.
    """
    y = y0.copy()
    f = np.empty_like(y)
    j = 0
    for s in range(n_steps + 1):
        t = s * dt
        eg = rhs(t, y, a, f)
        if s % every == 0:
            for q in range(y.shape[0]):
                ys[j, q] = y[q]
            egs[j] = eg
            j += 1
        ok = math.isfinite(eg)
        for q in range(y.shape[0]):
            if not (abs(y[q]) < bound):
                ok = False
        if not ok:
            return s
        if s == n_steps:
            break
        for q in range(y.shape[0]):
            y[q] += dt * f[q]
    return n_steps


# ---------------------------------------------------------------------------
# adaptive Dormand-Prince 8(5,3) stepper with the 7th-order dense output
# ---------------------------------------------------------------------------
@njit(cache=True)
def _rms(x, scale):
    s = 0.0
    for i in range(x.shape[0]):
        z = x[i] / scale[i]
        s += z * z
    return math.sqrt(s / x.shape[0])


@njit(cache=True)
def dop853(y0, t_end, rtol, atol, max_step, bound, max_steps, tab, a):
    """Integrate ``dy/dt = rhs`` from 0 to ``t_end`` with DOP853 (Hairer, Norsett & Wanner,
    *Solving Ordinary Differential Equations I*, 2nd ed., Springer 1993, the DOP853 code; the method of :func:`scipy.integrate.solve_ivp`).

    Error norm ``|h| e5^2 / sqrt((e5^2 + 0.01 e3^2) n)`` of the embedded 5th- and
    3rd-order estimators, step factor ``0.9 err^(-1/8)`` clipped to ``[0.2, 10]``
    (no growth right after a rejection); Hairer's initial step.  Stores every
    accepted step with the 7 coefficient vectors of the 7th-order dense output
    (``y = y_old + x(F0 + (1-x)(F1 + x(F2 + (1-x)(F3 + x(F4 + (1-x)(F5 + x F6))))))``).

    Also accumulates, per component, the absolute values of the local error estimates of the
    accepted steps (``h sum_j E5_j k_j``, scaled by ``e5 / sqrt(e5^2 + 0.01 e3^2)`` as in the
    error norm): ``cum[s]`` bounds the global error at ``ts[s]`` where the flow does not
    amplify earlier errors.

    ``tab`` is the :class:`DOP853Tableau`, ``a`` the model (:class:`CommitteeArgs`).
    Returns ``ts, ys, Fs, cum, n_accepted, n_rejected, nfev, status`` with status
    0 (reached ``t_end``), -2 (``|y| >= bound``, or the step size collapsed
    on a non-finite trial state), -1 (step size underflow or ``max_steps``):
    the values of :class:`lmech.Status` ``CONVERGED``, ``DIVERGED``, ``MAX_ITER``.
    Only finite, accepted states are stored.
    """
    A = tab.A
    B = tab.B
    Cn = tab.C
    E3 = tab.E3
    E5 = tab.E5
    D = tab.D
    n = y0.shape[0]
    cap = 256
    ts = np.empty(cap)
    ys = np.empty((cap, n))
    Fs = np.empty((cap, 7, n))
    cum = np.zeros((cap, n))
    lerr = np.empty(n)
    Ks = np.empty((16, n))
    ytmp = np.empty(n)
    ynew = np.empty(n)
    scale = np.empty(n)
    err5 = np.empty(n)
    err3 = np.empty(n)
    y = y0.copy()
    t = 0.0
    nfev = 0
    ts[0] = 0.0
    for i in range(n):  # element loops, not slice assignment: fewer helpers to compile
        ys[0, i] = y[i]
    n_out = 1
    rhs(t, y, a, Ks[0])
    nfev += 1
    # Hairer's initial step (order 7 interpolant, error exponent 1/8)
    for i in range(n):
        scale[i] = atol + abs(y[i]) * rtol
    d0 = _rms(y, scale)
    d1 = _rms(Ks[0], scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    if not (h0 > 0.0 and math.isfinite(h0)):
        # d0 or d1 overflowed (a huge right-hand side or a tiny atol): start from the smallest
        # step that still advances t; the step-size control takes it from there (or reports
        # the underflow)
        h0 = 10.0 * (np.nextafter(t_end, np.inf) - t_end)
    h0 = min(h0, t_end)
    for i in range(n):
        ytmp[i] = y[i] + h0 * Ks[0, i]
    rhs(t + h0, ytmp, a, Ks[1])
    nfev += 1
    for i in range(n):
        err5[i] = Ks[1, i] - Ks[0, i]
    d2 = _rms(err5, scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / 8.0)
    if not (h1 >= 0.0):  # nan: an overflowed estimate
        h1 = 0.0
    h = min(100.0 * h0, h1, max_step)
    n_acc = 0
    n_rej = 0
    status = 0
    while t < t_end:
        if n_acc + n_rej >= max_steps:
            status = -1
            break
        min_step = 10.0 * (np.nextafter(t, np.inf) - t)
        if h < min_step:
            status = -1
            break
        rejected = False
        blew_up = False
        while True:
            if h < min_step:
                # the step size collapsed: on overflow of the state this is a divergence
                status = -2 if blew_up else -1
                break
            tn = t + h
            if tn >= t_end:
                tn = t_end
            hh = tn - t
            for s_ in range(1, 12):
                for i in range(n):
                    acc = 0.0
                    for j in range(s_):
                        acc += A[s_, j] * Ks[j, i]
                    ytmp[i] = y[i] + hh * acc
                rhs(t + Cn[s_] * hh, ytmp, a, Ks[s_])
            for i in range(n):
                acc = 0.0
                for j in range(12):
                    acc += B[j] * Ks[j, i]
                ynew[i] = y[i] + hh * acc
            rhs(tn, ynew, a, Ks[12])
            nfev += 12
            e5 = 0.0
            e3 = 0.0
            finite = True
            for i in range(n):
                sc = atol + max(abs(y[i]), abs(ynew[i])) * rtol
                a5 = 0.0
                a3 = 0.0
                for j in range(13):
                    a5 += E5[j] * Ks[j, i]
                    a3 += E3[j] * Ks[j, i]
                lerr[i] = a5
                a5 /= sc
                a3 /= sc
                e5 += a5 * a5
                e3 += a3 * a3
                if not math.isfinite(ynew[i]):
                    finite = False
            if not finite or not math.isfinite(e5):
                err = math.inf
                blew_up = True
            elif e5 == 0.0 and e3 == 0.0:
                err = 0.0
            else:
                err = hh * e5 / math.sqrt((e5 + 0.01 * e3) * n)
            if err < 1.0:
                if err == 0.0:
                    factor = 10.0
                else:
                    factor = min(10.0, 0.9 * err ** (-1.0 / 8.0))
                if rejected:
                    factor = min(1.0, factor)
                h = min(hh * factor, max_step) if tn < t_end else h
                break
            if not math.isfinite(err):
                factor = 0.2
            else:
                factor = max(0.2, 0.9 * err ** (-1.0 / 8.0))
            h = hh * factor
            rejected = True
            n_rej += 1
        if status != 0:
            break
        # dense output: three extra stages and the interpolation coefficients
        for s_ in range(13, 16):
            for i in range(n):
                acc = 0.0
                for j in range(s_):
                    acc += A[s_, j] * Ks[j, i]
                ytmp[i] = y[i] + hh * acc
            rhs(t + Cn[s_] * hh, ytmp, a, Ks[s_])
        nfev += 3
        if n_out == cap:
            cap *= 2
            ts2 = np.empty(cap)
            ys2 = np.empty((cap, n))
            Fs2 = np.empty((cap, 7, n))
            cum2 = np.zeros((cap, n))
            for q in range(n_out):
                ts2[q] = ts[q]
                for i in range(n):
                    ys2[q, i] = ys[q, i]
                    cum2[q, i] = cum[q, i]
                    for r in range(7):
                        Fs2[q, r, i] = Fs[q, r, i]
            ts, ys, Fs, cum = ts2, ys2, Fs2, cum2
        for i in range(n):
            dy = ynew[i] - y[i]
            Fs[n_out, 0, i] = dy
            Fs[n_out, 1, i] = hh * Ks[0, i] - dy
            Fs[n_out, 2, i] = 2.0 * dy - hh * (Ks[12, i] + Ks[0, i])
            for r in range(4):
                acc = 0.0
                for j in range(16):
                    acc += D[r, j] * Ks[j, i]
                Fs[n_out, 3 + r, i] = hh * acc
        t = tn
        wfac = 1.0 if e5 == 0.0 else math.sqrt(e5 / (e5 + 0.01 * e3))
        for i in range(n):
            y[i] = ynew[i]
            Ks[0, i] = Ks[12, i]
            cum[n_out, i] = cum[n_out - 1, i] + abs(hh * lerr[i]) * wfac
        ts[n_out] = t
        for i in range(n):
            ys[n_out, i] = y[i]
        n_out += 1
        n_acc += 1
        over = False
        for i in range(n):
            if not (abs(y[i]) < bound):
                over = True
        if over:
            status = -2
            break
    return ts[:n_out], ys[:n_out], Fs[:n_out], cum[:n_out], n_acc, n_rej, nfev, status


@njit(cache=True)
def dense_eval(ts, ys, Fs, tq, out):
    """Evaluate the DOP853 dense output stored by :func:`dop853` at the times ``tq`` (rows of ``out``)."""
    m = ts.shape[0]
    n = ys.shape[1]
    k = 1
    for q in range(tq.shape[0]):
        tt = tq[q]
        if tt <= ts[0]:
            for i in range(n):
                out[q, i] = ys[0, i]
            continue
        # the step [ts[k-1], ts[k]] containing tt (tq is usually sorted: continue from the last k)
        if k >= m or ts[k - 1] > tt:
            k = 1
        while k < m - 1 and ts[k] < tt:
            k += 1
        x = (tt - ts[k - 1]) / (ts[k] - ts[k - 1])
        if x > 1.0:
            x = 1.0
        for i in range(n):
            acc = 0.0
            for r in range(6, -1, -1):
                acc += Fs[k, r, i]
                acc *= x if r % 2 == 0 else 1.0 - x
            out[q, i] = ys[k - 1, i] + acc
    return out


def dop853_tableau() -> DOP853Tableau:
    """The DOP853 coefficients (Hairer's tableau, read from scipy so they are not retyped here)."""
    from scipy.integrate._ivp import dop853_coefficients as tab

    return DOP853Tableau(*(np.ascontiguousarray(getattr(tab, k), dtype=np.float64)
                           for k in DOP853Tableau._fields))


@register_warmup("odes._kernels")
def warmup():
    """Compile every kernel of this module once on tiny inputs."""
    u = np.array([0.2, 0.8])
    wu = np.array([0.5, 0.5])
    C = np.eye(4) + 0.1
    lab = np.arange(4, dtype=np.int64)
    y = np.array([0.5, 0.1, 1.0])
    out = np.empty(3)
    for act in (ERF, RELU, LINEAR, QUADRATIC):
        # the types odes.CommitteeMachine.kernel_args builds: one signature per kernel
        a = CommitteeArgs(act=act, K=1, M=1, train_v=True, lr=0.1, lr_v=0.1, schedule=0, t0=1.0,
                          power=0.0, noise=0.0, wd=0.0, c_k=1.0, c_m=1.0, vt=np.ones(1), T=np.eye(1),
                          v0=np.ones(1), u=u, wu=wu)
        i2_act(act, 1.0, 0.1, 1.0)
        i3_act(act, 1.0, 0.1, 0.2, 1.0, 0.3, 1.0)
        j2_act(act, 1.0, 0.1, 1.0)
        i4_act(act, C, lab, u, wu)
        rhs(0.0, y, a, out)
        eg_of(y, a)
        rhs_fields(0.0, y, tuple(a), out)
        grad_eg(y, a, np.empty(3))
        eg_fields(y, tuple(a))
    i3_erf(1.0, 0.1, 0.2, 1.0, 0.3, 1.0)
    i4_erf(1.0, 0.1, 0.2, 0.1, 1.0, 0.3, 0.1, 1.0, 0.2, 1.0)
    j2_erf(1.0, 0.1, 1.0)
    orthant4(C, u, wu)
    ys = np.empty((2, 3))
    egs = np.empty(2)
    a = a._replace(act=ERF)
    # the pieces the Custom (Gauss-Hermite) path of odes.System.f calls from Python
    Cf = np.empty((2, 2))
    wf = np.empty(2)
    unpack(y, a, Cf, wf)
    eta, eta_v = rates(0.0, a)
    assemble(a, Cf, wf, np.zeros((1, 2)), np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((2, 2)), eta, eta_v, out)
    euler(y, 0.1, 1, 1, a, ys, egs, 1e6)
    ts, ys, Fs, _, _, _, _, _ = dop853(y, 0.1, 1e-6, 1e-8, math.inf, 1e6, 1000, dop853_tableau(), a)
    dense_eval(ts, ys, Fs, np.array([0.05]), np.empty((1, 3)))
    # the erf-only specialisations odes.integrate uses for erf models
    e = ErfArgs(*a)
    rhs_fields_erf(0.0, y, tuple(e), out)
    eg_fields_erf(y, tuple(e))
    grad_eg(y, e, np.empty(3))
    euler(y, 0.1, 1, 1, e, ys, egs, 1e6)
    dop853(y, 0.1, 1e-6, 1e-8, math.inf, 1e6, 1000, dop853_tableau(), e)

"""Numba kernels of the :mod:`dmft` layer: pure functions of float64 arrays.

The central kernel, :func:`integrate_uniform`, is one generic second-order
predictor–corrector (Heun, PECE iterated to a tolerance) for causal two-time
equations of the Cugliandolo–Kurchan form on a uniform grid ``t_i = i h``::

    d/dt C(t,t') = -mu(t) C(t,t') + int_0^t  Sig(t,s) C(s,t') ds
                                  + int_0^t' D(t,s)  R(t',s) ds + E(t,t')
    d/dt R(t,t') = -mu(t) R(t,t') + int_t'^t Sig(t,s) R(s,t') ds,   R(t,t) = 1
    d/dt C(t,t)  = 2 d_1 C(t,t^-) + W(t)

with trapezoid memory integrals (split at the grid node t', where C has its
kink), so the scheme is second order in ``h`` for every model.  A *model*
supplies only its memory kernels ``Sig(t_i, t_k)`` (self-energy), ``D(t_i,
t_k)`` (noise kernel), ``mu(t_i)`` (mass / Lagrange multiplier), the drive
``E`` and the white-noise intensity ``W``, through :func:`_model_row`, which
dispatches on an integer model code (Numba kernels take no Python objects):

* ``MODEL_PSPIN`` (0): spherical mixed p-spin, covariance ``xi(q) = sum_k
  c_k q^k``; ``Sig = xi''(C) R``, ``D = xi'(C)``, ``W = 2T`` and ``mu`` from
  the spherical constraint (Cugliandolo & Kurchan, PRL 71, 173 (1993), eqs.
  (5)-(7)).
* ``MODEL_RNN`` (1): random recurrent network (Sompolinsky, Crisanti &
  Sommers, PRL 61, 259 (1988)); ``Sig = 0``, ``mu = 1``, ``D = g^2
  E[phi(x(t)) phi(x(s))]``, ``W = sigma^2``.  The correlation is in closed
  form for erf and linear, by the trapezoid rule with an a-priori error bound
  (:func:`dmft._kernels.common.tanh_corr`) for tanh, and by a 2-D
  Gauss–Hermite product rule for relu or when ``par[3] = 0`` (closed forms off).
* ``MODEL_LINREG`` (2): least-squares gradient flow with Gaussian data; the
  sample-side response ``Rr`` and loss correlation ``C_l`` are two-time
  auxiliaries obtained from Volterra equations (see :mod:`dmft.linreg`).

Each ``C`` is stored as a full symmetric ``(n, n)`` array and ``R`` as the
lower triangle of an ``(n, n)`` array, so that every inner loop runs along
contiguous rows.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

import lmech

from .common import (PHI_ERF, PHI_LINEAR, PHI_TANH, TANH_CORR_EPS, phi_corr, phi_corr_exact,
                     tanh_corr, xi_derivs)

MODEL_PSPIN = 0
MODEL_RNN = 1
MODEL_LINREG = 2


# ---------------------------------------------------------------------------
@njit(cache=True)
def _trap_row(a, b, n_last, h):
    """h * trapezoid sum_{k=0..n_last} a[k] b[k]."""
    if n_last <= 0:
        return 0.0
    s = 0.5 * (a[0] * b[0] + a[n_last] * b[n_last])
    for k in range(1, n_last):
        s += a[k] * b[k]
    return h * s


@njit(cache=True)
def _linreg_aux(I, h, par, C, R, Rr, Cl, B):
    """Fill row I of the linear-regression auxiliaries Rr (sample response) and Cl.

    Rr(t,t') = gamma R(t,t') - gamma int_t'^t R(t,s) Rr(s,t') ds   (Volterra, trapezoid,
    the s = t end point solved for), and with A = sigma^2 + C,
    B(t,t') = A(t,t') - int_0^t Rr(t,s) A(s,t') ds,
    Cl(t,t') = B(t,t') - int_0^t' B(t,s) Rr(t',s) ds.
    """
    gamma = par[0]
    s2 = par[1]
    # Rr row I, j <= I: acc[j] = sum_{k=j}^{I-1} c_k R[I,k] Rr[k,j], c_j = 1/2
    acc = np.zeros(I + 1)
    for k in range(I):
        rk = R[I, k]
        for j in range(k + 1):
            acc[j] += rk * Rr[k, j]
    for j in range(I):
        acc[j] -= 0.5 * R[I, j] * Rr[j, j]
        Rr[I, j] = gamma * (R[I, j] - h * acc[j]) / (1.0 + 0.5 * gamma * h * R[I, I])
    Rr[I, I] = gamma * R[I, I]
    # B row I (all j <= I): B[j] = A(I,j) - h trap_{k=0..I} Rr[I,k] A(k,j)
    for j in range(I + 1):
        B[j] = 0.0
    if I > 0:
        for k in range(I + 1):
            ck = Rr[I, k] * (0.5 if (k == 0 or k == I) else 1.0)
            for j in range(I + 1):
                B[j] += ck * (s2 + C[k, j])
    for j in range(I + 1):
        B[j] = (s2 + C[I, j]) - h * B[j]
    # Cl row I: Cl[I,j] = B[j] - h trap_{k=0..j} B[k] Rr[j,k]
    for j in range(I + 1):
        v = B[j] - _trap_row(B, Rr[j], j, h)
        Cl[I, j] = v
        Cl[j, I] = v


@njit(cache=True)
def _model_row(model, par, coef, I, h, C, R, Sig, D, E, y, Rr, Cl, B, z, w, u, v, ww):
    """Fill the memory kernels of row ``I``; return (mu, W).

    ``Sig[k] = Sig(t_I, t_k)``, ``D[k] = D(t_I, t_k)`` for ``k <= I``, ``E[j] =
    E(t_I, t_j)`` for ``j <= I``; ``mu`` and the white-noise intensity ``W`` of
    the equal-time equation.
    """
    if model == MODEL_PSPIN:
        T = par[0]
        for k in range(I + 1):
            f0, f1, f2 = xi_derivs(coef, C[I, k])
            Sig[k] = f2 * R[I, k]
            D[k] = f1
            E[k] = 0.0
        # spherical constraint: d/dt C(t,t) = 2 d_1 C(t,t^-) + 2T = 0
        integ = _trap_row(Sig, C[I], I, h) + _trap_row(D, R[I], I, h)
        mu = (T + integ) / C[I, I]
        return mu, 2.0 * T
    elif model == MODEL_RNN:
        g = par[0]
        s2 = par[1]
        code = int(par[2])
        cII = C[I, I]
        exact = par[3] != 0.0 and (code == PHI_ERF or code == PHI_LINEAR)
        bounded = par[3] != 0.0 and code == PHI_TANH
        for k in range(I + 1):
            if exact:
                D[k] = g * g * phi_corr_exact(code, cII, C[I, k], C[k, k])
            elif bounded:
                D[k] = g * g * tanh_corr(cII, C[I, k], C[k, k], TANH_CORR_EPS)[0]
            else:
                D[k] = g * g * phi_corr(code, cII, C[I, k], C[k, k], z, w, u, v, ww)
            Sig[k] = 0.0
            E[k] = 0.0
        return 1.0, s2
    else:  # MODEL_LINREG: par = gamma, sigma2, ridge, r2, temperature
        gamma = par[0]
        lam = par[2]
        _linreg_aux(I, h, par, C, R, Rr, Cl, B)
        for k in range(I + 1):
            Sig[k] = Rr[I, k]
            D[k] = gamma * Cl[I, k]
            E[k] = -lam * y[0, k]
        # Langevin: white noise of intensity 2T on each theta component
        return 1.0 + lam, 2.0 * par[4]


@njit(cache=True)
def _model_dy(model, par, I, h, y, Sig, dy):
    """Derivatives of the one-time variables ``y[:, I]`` (model specific)."""
    if model == MODEL_LINREG:
        lam = par[2]
        r2 = par[3]
        # m(t) = <theta* Delta(t)>: dm/dt = -(1+lam) m - lam r^2 + int_0^t Rr(t,s) m(s) ds
        dy[0] = -(1.0 + lam) * y[0, I] - lam * r2 + _trap_row(Sig, y[0], I, h)


@njit(cache=True)
def _derivs(I, h, C, R, Sig, D, E, mu, W, acc1, acc2, dC, dR):
    """Right-hand sides of row ``I``: dC[j], dR[j] for j <= I; returns dC(t,t)/dt.

    ``dC[I]`` is the one-sided derivative d_1 C(t, t^-) used to predict the
    next row's sub-diagonal.
    """
    # One pass over the lower triangles of C and R (C is symmetric: the k < j
    # terms of int Sig C come from row j), fusing the three memory integrals:
    #   acc1[j] = sum_k c_k Sig[k] C[k, j]              (trapezoid over [0, t_I])
    #   acc2[j] = sum_{k >= j} Sig[k] R[k, j]           (end points corrected below)
    #   accD[k] = sum_{j <= k} D[j] R[k, j]             (end points corrected below)
    cw = np.empty(I + 1)
    for k in range(I + 1):
        wk = 0.0 if I == 0 else (0.5 if (k == 0 or k == I) else 1.0)
        cw[k] = wk * Sig[k]
        acc1[k] = 0.0
        acc2[k] = 0.0
    for k in range(I + 1):
        ck = cw[k]
        sk = Sig[k]
        Ck = C[k]
        Rk = R[k]
        s_up = 0.0
        sD = 0.0
        for j in range(k):
            cj = Ck[j]
            rj = Rk[j]
            acc1[j] += ck * cj
            s_up += cw[j] * cj
            acc2[j] += sk * rj
            sD += D[j] * rj
        acc1[k] += s_up + ck * Ck[k]
        acc2[k] += sk * Rk[k]
        # D term of column k: h * trapezoid over [0, t_k] of D(t_I, s) R(t_k, s)
        if k > 0:
            sD += D[k] * Rk[k]
            dC[k] = h * (sD - 0.5 * (D[0] * Rk[0] + D[k] * Rk[k]))
        else:
            dC[k] = 0.0
    for j in range(I + 1):
        a2 = 0.0
        if j < I:
            a2 = acc2[j] - 0.5 * Sig[j] * R[j, j] - 0.5 * Sig[I] * R[I, j]
        dR[j] = -mu * R[I, j] + h * a2
        dC[j] = -mu * C[I, j] + h * acc1[j] + dC[j] + E[j]
    return 2.0 * dC[I] + W


@njit(cache=True)
def integrate_uniform(model, par, coef, C0, y0, h, n, tol, rtol_pc, max_corr, z, w, C, R, Rr, Cl, y,
                      mu_out, iters, start):
    """Heun predictor–corrector for the causal two-time equations on ``t_i = i h``.

    Parameters
    ----------
    model : int
        Model code (``MODEL_PSPIN``, ``MODEL_RNN``, ``MODEL_LINREG``).
    par, coef : float64 arrays
        Model parameters; ``coef`` the mixture polynomial (p-spin only).
    C0 : float
        C(0, 0).
    y0 : float64 array
        Initial one-time variables.
    h : float
        Time step; ``n`` grid points.
    tol, rtol_pc, max_corr : float, float, int
        The corrector is iterated (at most ``max_corr`` times) until the
        largest change of a row falls below ``tol (1 + |C(t,t)|)`` or below
        ``rtol_pc`` times the first change (the predictor–corrector
        difference, an estimate of the local truncation error), so that the
        remaining iteration error is a fraction ``rtol_pc`` of the step's own
        discretisation error.
    z, w : float64 arrays
        1-D Gauss–Hermite rule (RNN only).
    C, R, Rr, Cl : float64 arrays (n, n), outputs
        C full symmetric, R lower triangle; Rr, Cl auxiliaries (linear
        regression only, else shape (1, 1)).
    y : float64 array (ny, n), output
        One-time variables.
    mu_out : float64 array (n,), output
    iters : int64 array (n,), output
        Corrector iterations per step.
    start : int
        Number of rows already computed (0 or 1: a fresh start).  Resuming
        from ``start`` rows of an earlier run with the same options
        reproduces the uninterrupted run exactly: the predictor's
        derivatives are rebuilt from the stored rows ``start-2`` and
        ``start-1``.

    Returns
    -------
    int
        Number of valid rows (``n`` on success; fewer if a NaN/inf
        appeared, the row where it did is then the last returned).
    """
    ny = y.shape[0]
    nq = z.shape[0] * z.shape[0]
    u = np.empty(nq)
    v = np.empty(nq)
    ww = np.empty(nq)
    Sig = np.zeros(n)
    D = np.zeros(n)
    E = np.zeros(n)
    B = np.zeros(n)
    acc1 = np.zeros(n)
    acc2 = np.zeros(n)
    dC = np.zeros(n)
    dR = np.zeros(n)
    dCn = np.zeros(n)
    dRn = np.zeros(n)
    dCp = np.zeros(n)
    dRp = np.zeros(n)
    ddp = 0.0
    dy = np.zeros(max(ny, 1))
    dyn = np.zeros(max(ny, 1))
    if start <= 1:
        start = 1
        C[0, 0] = C0
        R[0, 0] = 1.0
        for a in range(ny):
            y[a, 0] = y0[a]
    else:
        # resume: rows < start are given; rebuild the derivatives of rows start-2, start-1
        mu, W = _model_row(model, par, coef, start - 2, h, C, R, Sig, D, E, y, Rr, Cl, B, z, w,
                           u, v, ww)
        ddp = _derivs(start - 2, h, C, R, Sig, D, E, mu, W, acc1, acc2, dCp, dRp)
    mu, W = _model_row(model, par, coef, start - 1, h, C, R, Sig, D, E, y, Rr, Cl, B, z, w, u, v,
                       ww)
    mu_out[start - 1] = mu
    dd = _derivs(start - 1, h, C, R, Sig, D, E, mu, W, acc1, acc2, dC, dR)
    _model_dy(model, par, start - 1, h, y, Sig, dy)
    for i in range(start - 1, n - 1):
        I = i + 1
        # predictor: Adams-Bashforth 2 where the previous row's derivative exists
        # (j < i), Euler on the new sub-diagonal j = i and at the first step
        for j in range(I):
            if i > 0 and j < i:
                C[I, j] = C[i, j] + h * (1.5 * dC[j] - 0.5 * dCp[j])
                R[I, j] = R[i, j] + h * (1.5 * dR[j] - 0.5 * dRp[j])
            else:
                C[I, j] = C[i, j] + h * dC[j]
                R[I, j] = R[i, j] + h * dR[j]
            C[j, I] = C[I, j]
        if i > 0:
            C[I, I] = C[i, i] + h * (1.5 * dd - 0.5 * ddp)
        else:
            C[I, I] = C[i, i] + h * dd
        R[I, I] = 1.0
        for a in range(ny):
            y[a, I] = y[a, i] + h * dy[a]
        it = 0
        first = 0.0
        while True:
            it += 1
            mu, W = _model_row(model, par, coef, I, h, C, R, Sig, D, E, y, Rr, Cl, B, z, w, u, v, ww)
            ddn = _derivs(I, h, C, R, Sig, D, E, mu, W, acc1, acc2, dCn, dRn)
            _model_dy(model, par, I, h, y, Sig, dyn)
            if it > max_corr:
                break
            # corrector (trapezoid)
            change = 0.0
            for j in range(I):
                cn = C[i, j] + 0.5 * h * (dC[j] + dCn[j])
                rn = R[i, j] + 0.5 * h * (dR[j] + dRn[j])
                change = max(change, abs(cn - C[I, j]), abs(rn - R[I, j]))
                C[I, j] = cn
                C[j, I] = cn
                R[I, j] = rn
            cn = C[i, i] + 0.5 * h * (dd + ddn)
            change = max(change, abs(cn - C[I, I]))
            C[I, I] = cn
            for a in range(ny):
                yn = y[a, i] + 0.5 * h * (dy[a] + dyn[a])
                change = max(change, abs(yn - y[a, I]))
                y[a, I] = yn
            if not math.isfinite(change):
                mu_out[I] = mu
                iters[I] = it
                return I + 1
            if it == 1:
                first = change
            if change <= tol * (1.0 + abs(C[I, I])) or (it > 1 and change <= rtol_pc * first):
                # final evaluation at the corrected row (PECE)
                mu, W = _model_row(model, par, coef, I, h, C, R, Sig, D, E, y, Rr, Cl, B, z, w, u,
                                   v, ww)
                ddn = _derivs(I, h, C, R, Sig, D, E, mu, W, acc1, acc2, dCn, dRn)
                _model_dy(model, par, I, h, y, Sig, dyn)
                break
        mu_out[I] = mu
        iters[I] = it
        for j in range(I + 1):
            dCp[j] = dC[j]
            dRp[j] = dR[j]
            dC[j] = dCn[j]
            dR[j] = dRn[j]
        ddp = dd
        dd = ddn
        for a in range(ny):
            dy[a] = dyn[a]
        if not (math.isfinite(dd) and math.isfinite(mu)):
            return I + 1
    return n


@njit(cache=True)
def pspin_energy(coef, C, R, h, n, e):
    """e(t_i) = -int_0^t_i xi'(C(t_i,s)) R(t_i,s) ds (trapezoid), written into ``e``."""
    D = np.zeros(n)
    for i in range(n):
        for k in range(i + 1):
            f0, f1, f2 = xi_derivs(coef, C[i, k])
            D[k] = f1
        e[i] = -_trap_row(D, R[i], i, h)



@lmech.register_warmup("dmft._kernels.uniform")
def warmup():
    """Compile the uniform-grid kernels for every model code on tiny inputs."""
    n = 4
    z = np.zeros(1)
    w = np.ones(1)
    coef = np.array([0.0, 0.0, 0.0, 0.5])
    for model, par in ((MODEL_PSPIN, np.array([0.5])), (MODEL_RNN, np.array([1.5, 0.0, 0.0, 0.0])),
                       (MODEL_RNN, np.array([1.5, 0.0, 1.0, 1.0])),
                       (MODEL_LINREG, np.array([0.5, 0.1, 0.0, 1.0, 0.0]))):
        big = model == MODEL_LINREG
        C = np.zeros((n, n))
        R = np.zeros((n, n))
        Rr = np.zeros((n, n) if big else (1, 1))
        Cl = np.zeros((n, n) if big else (1, 1))
        y = np.zeros((1 if big else 0, n))
        integrate_uniform(model, par, coef, 1.0, np.zeros(y.shape[0]), 0.1, n, 1e-12, 1e-3, 3, z, w,
                          C, R, Rr, Cl, y, np.zeros(n), np.zeros(n, dtype=np.int64), 0)
        integrate_uniform(model, par, coef, 1.0, np.zeros(y.shape[0]), 0.1, n, 1e-12, 1e-3, 3, z, w,
                          C, R, Rr, Cl, y, np.zeros(n), np.zeros(n, dtype=np.int64), 2)
    pspin_energy(coef, C, R, 0.1, n, np.zeros(n))

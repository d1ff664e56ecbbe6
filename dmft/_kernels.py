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
  E[phi(x(t)) phi(x(s))]`` by 2-D Gauss–Hermite quadrature, ``W = sigma^2``.
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
from lmech._kernels import map2d

MODEL_PSPIN = 0
MODEL_RNN = 1
MODEL_LINREG = 2

PHI_TANH = 0
PHI_ERF = 1
PHI_RELU = 2
PHI_LINEAR = 3


# ---------------------------------------------------------------------------
# activations of the random RNN
@njit(cache=True)
def phi_eval(code, x):
    """phi(x) for the activation ``code`` (tanh, erf(sqrt(pi) x / 2), relu, linear)."""
    if code == PHI_TANH:
        return math.tanh(x)
    if code == PHI_ERF:
        return math.erf(0.5 * math.sqrt(math.pi) * x)
    if code == PHI_RELU:
        return x if x > 0.0 else 0.0
    return x


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
    if code == PHI_TANH or code == PHI_ERF:
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
        for k in range(I + 1):
            if exact:
                D[k] = g * g * phi_corr_exact(code, cII, C[I, k], C[k, k])
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
    yold = np.zeros(max(ny, 1))
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


@njit(cache=True)
def stationary_pspin(coef, T, h, n, tol, max_corr, C, F, its):
    """One-time (FDT, time-translation invariant) equation of the paramagnet.

    ``C'(tau) = -T C(tau) - (1/T) int_0^tau xi'(C(tau-s)) C'(s) ds``, ``C(0) = 1``
    (Cugliandolo & Kurchan 1993 with R = -C'/T; Crisanti, Horner & Sommers,
    Z. Phys. B 92, 257 (1993)), on ``tau_i = i h``: trapezoid memory (its
    ``s = tau`` end point solved for), trapezoid (Heun) time step iterated to
    ``tol``.  Writes ``C``, ``F = C'`` and ``its[i]``, the corrector
    iterations of step ``i`` (``max_corr + 1`` if it did not reach ``tol``);
    returns the number of valid points.
    """
    beta = 1.0 / T
    xp = np.zeros(n)
    f0, f1, f2 = xi_derivs(coef, 1.0)
    xp0 = f1
    C[0] = 1.0
    xp[0] = xp0
    F[0] = -T
    for i in range(1, n):
        Cn = C[i - 1] + h * F[i - 1]
        for it in range(max_corr):
            f0, f1, f2 = xi_derivs(coef, Cn)
            # F_i (1 + beta h xi'(C_0)/2) = -T C_i - beta h [xi'(C_i) F_0/2 + sum_{k=1}^{i-1} xi'(C_{i-k}) F_k]
            s = 0.5 * f1 * F[0]
            for k in range(1, i):
                s += xp[i - k] * F[k]
            Fn = (-T * Cn - beta * h * s) / (1.0 + 0.5 * beta * h * xp0)
            Cc = C[i - 1] + 0.5 * h * (F[i - 1] + Fn)
            done = abs(Cc - Cn) <= tol
            Cn = Cc
            if done:
                break
        its[i] = it + 1 if done else max_corr + 1
        f0, f1, f2 = xi_derivs(coef, Cn)
        C[i] = Cn
        xp[i] = f1
        s = 0.5 * f1 * F[0]
        for k in range(1, i):
            s += xp[i - k] * F[k]
        F[i] = (-T * Cn - beta * h * s) / (1.0 + 0.5 * beta * h * xp0)
        if not math.isfinite(C[i]):
            return i + 1
    return n


@njit(cache=True)
def _gs_row(v, Qb, L, I, scale):
    """Incremental QR of a data matrix: orthogonalise ``v`` against ``Qb[:I]``.

    Modified Gram–Schmidt with one re-orthogonalisation; writes the
    coefficients times ``scale`` into ``L[I, :I+1]`` and the new unit vector
    into ``Qb[I]`` (zero if ``v`` lies in the span to 1e-12 relative).  With
    ``scale = 1/sqrt(M)``, ``L`` is a Cholesky factor of the empirical
    covariance ``D D^T / M`` computed without forming it (stable for the
    near-singular covariances of smooth processes).
    """
    w = v.copy()
    nv = math.sqrt(np.dot(w, w))
    for k in range(I + 1):
        L[I, k] = 0.0
    for rep in range(2):
        for k in range(I):
            r = np.dot(Qb[k], w)
            L[I, k] += r * scale
            w -= r * Qb[k]
    nr = math.sqrt(np.dot(w, w))
    if nr > 1e-12 * nv:
        L[I, I] = nr * scale
        Qb[I] = w / nr
    else:
        L[I, I] = 0.0
        Qb[I] = 0.0


@njit(cache=True)
def _glm_fields_drift(I, h, gamma, lam, R, Rr, theta_star, s_star, eps, zs, zt, Qz, Lz, Ql, Ll,
                      Delta, ell, Fout):
    """Empirical kernels of step ``I``, then sample-side losses and parameter-side drift.

    The joint covariance of ``(h*, zeta(t_0), ...)`` (index 0 is ``h*``) and
    that of the loss, ``C_l``, are the empirical ones of the trajectories;
    the Gaussian fields are drawn from them with Cholesky factors obtained by
    incremental QR of the trajectory data (:func:`_gs_row`) applied to fixed
    standard normals ``zs``, ``zt`` (common random numbers).
    """
    M = s_star.shape[0]
    Ms = eps.shape[0]
    # Cholesky row I+1 of Cov(h*, zeta(t_0), ...) = empirical Cov(theta*, Delta(t_0), ...)
    _gs_row(Delta[I], Qz, Lz, I + 1, 1.0 / math.sqrt(M))
    zeta = np.zeros(Ms)
    for j in range(I + 2):
        lj = Lz[I + 1, j]
        for b in range(Ms):
            zeta[b] += lj * zs[j, b]
    # l(t) = eps' - zeta(t) - gamma int_0^t R(t,s) l(s) ds, trapezoid, end point solved for
    if I == 0:
        for b in range(Ms):
            ell[0, b] = eps[b] - zeta[b]
    else:
        for b in range(Ms):
            ell[I, b] = 0.5 * R[I, 0] * ell[0, b]
        for k in range(1, I):
            rk = R[I, k]
            for b in range(Ms):
                ell[I, b] += rk * ell[k, b]
        for b in range(Ms):
            ell[I, b] = (eps[b] - zeta[b] - gamma * h * ell[I, b]) / (1.0 + 0.5 * gamma * h * R[I, I])
    # Cholesky row I of gamma x empirical C_l, and the field xi ~ GP(gamma C_l)
    _gs_row(ell[I], Ql, Ll, I, math.sqrt(gamma / Ms))
    for a in range(M):
        Fout[a] = 0.0
    for k in range(I + 1):
        lk = Ll[I, k]
        for a in range(M):
            Fout[a] += lk * zt[k, a]  # xi^a(t_I)
    # drift: -(1+lam) Delta - lam s* + int_0^t Rr(t,s) Delta(s) ds + xi
    mem = np.zeros(M)
    if I > 0:
        for a in range(M):
            mem[a] = 0.5 * (Rr[I, 0] * Delta[0, a] + Rr[I, I] * Delta[I, a])
        for k in range(1, I):
            rk = Rr[I, k]
            for a in range(M):
                mem[a] += rk * Delta[k, a]
    for a in range(M):
        Fout[a] += -(1.0 + lam) * Delta[I, a] - lam * s_star[a] + h * mem[a]


@njit(cache=True)
def _slab_test(it, new, old, se, tol_se, w, adapt, prev_res):
    """Convergence test and adaptive damping of one pass of a sampled slab.

    The pass moved the monitored observables from ``old`` to ``new`` with
    mixing weight ``w`` (``x <- x + w (G(x) - x)``), so the undamped residual
    in units of the stopping tolerance is ``res = max_c |new_c - old_c| /
    (w (tol_se se_c))``.  Returns ``(ok, w', res)``: ``ok`` when ``res <=
    1``; with ``adapt``, ``w`` is halved (down to 1/64) when the residual is
    above tolerance and grew since the previous pass (``prev_res``), i.e. the
    fixed-point map is not contracting.  For ``it <= 1`` nothing is compared
    (``ok`` False).
    """
    if it <= 1:
        return False, w, math.inf
    res = 0.0
    for c in range(new.shape[0]):
        r = abs(new[c] - old[c]) / (w * (tol_se * se[c] + 1e-15))
        if not math.isfinite(r):
            res = math.inf  # a non-finite pass never converges
            break
        if r > res:
            res = r
    if adapt and it > 2 and res > 1.0 and not (res <= prev_res) and w > 1.0 / 64.0:
        w = 0.5 * w
    return res <= 1.0, w, res


@njit(cache=True)
def glm_square_sampled(par, R, Rr, theta_star, s_star, eps, zs, zt, h, n, tol_se, n_pass,
                       max_iter, damp0, adapt, Delta, ell, iters, wmix, start):
    """Causal marching of the sampled effective process of the square-loss GLM.

    ``M = s_star.size`` parameter-side trajectories ``Delta^a(t)`` (``s* = a
    theta*``) and ``Ms = eps.size`` sample-side trajectories of the loss
    ``l^b(t)``, coupled through Gaussian fields whose covariances are the
    empirical ones of the other side (``zeta ~ C`` jointly with ``h*``,
    ``xi ~ gamma C_l``), drawn by incremental Cholesky factors from fixed
    standard normals (common random numbers across iterations); the
    responses ``R``, ``Rr`` are deterministic for the square loss.  Each
    time slab (one step, Heun's rule) is iterated until the slab's
    observables ``<Delta^2>``, ``<Delta s*>``, ``<l^2>`` move by less than
    ``tol_se`` Monte Carlo standard errors in ``n_pass`` consecutive passes
    (at most ``max_iter``), each pass mixed with weight ``w`` (initially
    ``damp0``, halved by :func:`_slab_test` when ``adapt`` and the residual
    grows; the final weight of each slab goes to ``wmix``).  ``par =
    (gamma, ridge)``; ``h* = sqrt(<theta*^2>)
    zs[0]`` must have been used for the labels in ``eps``.  Returns the number
    of steps done.  Resume: with ``start > 1``, rows ``< start`` of ``Delta``
    and ``iters`` hold a previous run with the same random numbers; the
    losses, Cholesky factors and drift of those rows are regenerated in one
    pass (the arithmetic of the slabs' final evaluations) and the march
    continues, reproducing the uninterrupted run bit for bit.
    """
    gamma = par[0]
    lam = par[1]
    M = s_star.shape[0]
    Ms = eps.shape[0]
    Qz = np.zeros((n + 1, M))
    Lz = np.zeros((n + 1, n + 1))
    Ql = np.zeros((n, Ms))
    Ll = np.zeros((n, n))
    _gs_row(theta_star, Qz, Lz, 0, 1.0 / math.sqrt(M))
    F = np.zeros(M)
    Fn = np.zeros(M)
    old = np.zeros(3)
    new = np.zeros(3)
    se = np.zeros(3)
    if start <= 1:
        start = 1
        for a in range(M):
            Delta[0, a] = -s_star[a]
    for I in range(start):
        _glm_fields_drift(I, h, gamma, lam, R, Rr, theta_star, s_star, eps, zs, zt, Qz, Lz, Ql,
                          Ll, Delta, ell, F)
    for i in range(start - 1, n - 1):
        I = i + 1
        for a in range(M):
            Delta[I, a] = Delta[i, a] + h * F[a]
        good = 0
        it = 0
        w = damp0
        res = math.inf
        while True:
            it += 1
            _glm_fields_drift(I, h, gamma, lam, R, Rr, theta_star, s_star, eps, zs, zt, Qz, Lz, Ql,
                              Ll, Delta, ell, Fn)
            for a in range(M):
                x = Delta[i, a] + 0.5 * h * (F[a] + Fn[a])
                Delta[I, a] = x if w == 1.0 else Delta[I, a] + w * (x - Delta[I, a])
            s1 = 0.0
            s2 = 0.0
            m1 = 0.0
            m2 = 0.0
            for a in range(M):
                d2 = Delta[I, a] * Delta[I, a]
                dm = Delta[I, a] * s_star[a]
                s1 += d2
                s2 += d2 * d2
                m1 += dm
                m2 += dm * dm
            l1 = 0.0
            l2 = 0.0
            for b in range(Ms):
                v = ell[I, b] * ell[I, b]
                l1 += v
                l2 += v * v
            new[0] = s1 / M
            new[1] = m1 / M
            new[2] = l1 / Ms
            se[0] = math.sqrt(max(s2 / M - new[0] ** 2, 0.0) / M)
            se[1] = math.sqrt(max(m2 / M - new[1] ** 2, 0.0) / M)
            se[2] = math.sqrt(max(l2 / Ms - new[2] ** 2, 0.0) / Ms)
            w_used = w
            ok, w, res = _slab_test(it, new, old, se, tol_se, w, adapt, res)
            if it > 1:
                good = good + 1 if ok else 0
            for c in range(3):
                old[c] = new[c]
            if not (math.isfinite(new[0]) and math.isfinite(new[2])):
                iters[I] = it
                return I
            if good >= n_pass or it >= max_iter:
                break
        # a slab that stopped at max_iter without n_pass good passes is marked max_iter + 1
        iters[I] = it if good >= n_pass else max_iter + 1
        wmix[I] = w_used
        # kernels and drift at the converged slab
        _glm_fields_drift(I, h, gamma, lam, R, Rr, theta_star, s_star, eps, zs, zt, Qz, Lz, Ql, Ll,
                          Delta, ell, F)
    return n

@lmech.register_warmup("dmft._kernels")
def warmup():
    """Compile every kernel of this module on tiny inputs."""
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
    stationary_pspin(coef, 1.0, 0.1, n, 1e-12, 5, np.zeros(n), np.zeros(n),
                     np.zeros(n, dtype=np.int64))
    # time-doubling kernels (p-spin at T > 0 and T = 0)
    N = 16
    nw = N + 1
    n0 = N // 2 + 1
    for T in (0.5, 0.0):
        Cu = np.zeros((n0, n0))
        Ru = np.zeros((n0, n0))
        integrate_uniform(MODEL_PSPIN, np.array([T]), coef, 1.0, np.zeros(0), 0.05, n0, 1e-12,
                          1e-3, 5, z, w, Cu, Ru, np.zeros((1, 1)), np.zeros((1, 1)),
                          np.zeros((0, n0)), np.zeros(n0), np.zeros(n0, dtype=np.int64), 0)
        arrs = [np.zeros((nw, nw)) for _ in range(7)]
        doubling_init(coef, T, T > 0.0, 0.05, n0, Cu, Ru, arrs[0], arrs[1], arrs[2], arrs[3],
                      arrs[4], arrs[5], arrs[6], np.zeros(n0), np.zeros(n0))
        nr = N - n0 + 1
        doubling_rows(coef, T, T > 0.0, 0.05, n0, N, 2, arrs[0], arrs[1], arrs[2], arrs[3],
                      arrs[4], arrs[5], arrs[6], 1e-9, 20, np.zeros(nr), np.zeros(nr),
                      np.zeros(nr, dtype=np.int64), np.zeros(nr))
        doubling_decimate(N, arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], arrs[5], arrs[6])
    M = 3
    glm_square_sampled(np.array([0.5, 0.0]), np.eye(n), np.eye(n), np.ones(M), np.ones(M),
                       np.ones(M), np.ones((n + 1, M)), np.ones((n, M)), 0.1, n, 0.01, 2, 5, 0.5, True,
                       np.zeros((n, M)), np.zeros((n, M)), np.zeros(n, dtype=np.int64), np.ones(n),
                       0)
    _warmup_glm_general()


# ===========================================================================
# GLM section (general loss): BEGIN
# GLM with a general loss (square / logistic / hinge), Langevin noise and
# persistent SGD: the sampled effective process with per-trajectory responses
LOSS_SQUARE = 0
LOSS_LOGISTIC = 1
LOSS_HINGE = 2


@njit(cache=True)
def loss_value(loss, y, h):
    """ell(y, h): square ``(y-h)^2/2``, logistic ``log(1+e^{-yh})``, hinge ``max(0, 1-yh)``."""
    if loss == LOSS_SQUARE:
        return 0.5 * (y - h) * (y - h)
    if loss == LOSS_LOGISTIC:
        u = -y * h
        if u > 0.0:
            return u + math.log1p(math.exp(-u))
        return math.log1p(math.exp(u))
    u = 1.0 - y * h
    return u if u > 0.0 else 0.0


@njit(cache=True)
def loss_d1(loss, y, h):
    """d ell / d h; the hinge's subgradient at the kink ``y h = 1`` is taken as 0."""
    if loss == LOSS_SQUARE:
        return h - y
    if loss == LOSS_LOGISTIC:
        u = y * h  # -y sigma(-y h)
        if u >= 0.0:
            e = math.exp(-u)
            return -y * e / (1.0 + e)
        return -y / (1.0 + math.exp(u))
    return -y if y * h < 1.0 else 0.0


@njit(cache=True)
def loss_d2(loss, y, h):
    """d^2 ell / d h^2 (``y^2 = 1`` for logistic; 0 almost everywhere for the hinge)."""
    if loss == LOSS_SQUARE:
        return 1.0
    if loss == LOSS_LOGISTIC:
        u = abs(y * h)
        e = math.exp(-u)
        return e / ((1.0 + e) * (1.0 + e))
    return 0.0


@njit(cache=True)
def loss_prox(loss, y, v, c):
    """Solve ``h + c ell'(y, h) = v`` (``c > 0``): returns ``(h, dh/dv)``.

    The proximal operator of ``c ell(y, .)``; square and hinge in closed
    form (hinge: ``h = v + c y`` if ``y v < 1 - c``, ``h = v`` if ``y v > 1``,
    else ``h = y``, the kink), logistic by Newton's method from ``h = v``
    (``1 + c ell'' >= 1``, converged to 1e-15 relative).
    """
    if loss == LOSS_SQUARE:
        return (v + c * y) / (1.0 + c), 1.0 / (1.0 + c)
    if loss == LOSS_HINGE:
        u = y * v
        if u < 1.0 - c:
            return v + c * y, 1.0
        if u > 1.0:
            return v, 1.0
        return y, 0.0
    h = v
    for _ in range(60):
        f = h + c * loss_d1(loss, y, h) - v
        fp = 1.0 + c * loss_d2(loss, y, h)
        dh = f / fp
        h -= dh
        if abs(dh) <= 1e-15 * (1.0 + abs(h)):
            break
    return h, 1.0 / (1.0 + c * loss_d2(loss, y, h))


@njit(cache=True)
def _glm_general_eval(loss, I, hstep, gamma, lam, binv, theta_star, hstar, yl, zs, zt, S, Qz, Lz,
                      Ql, Ll, theta, hs, gs, G, acc, Kd, mus, R, dR, F, update_R):
    """Step ``I``: (optionally) ``R[I]`` from the current ``Kd[I]``, the sample side, ``Kd[I]``, the drift.

    Sample side (trajectory ``b``)::

        h(t) = omega(t) - gamma int_0^t R(t,s) g(s) ds,   g = (s(t)/b) ell'(y, h),

    ``(h*, omega)`` Gaussian with the empirical covariance of ``(theta*,
    theta)`` (incremental QR, common random numbers ``zs``); the end point of
    the trapezoid memory is solved for by the proximal operator
    (:func:`loss_prox`).  The per-trajectory response ``G[I, j] = d g(t_I) /
    d omega(t_j)`` obeys ``G[I, I] = q_I = (1 - dh/dv)/c``, ``G[I, j] = -q_I
    gamma h sum_{k=j}^{I-1} w_k R(I,k) G[k, j]``; ``Kd[I, j] = E G[I, j]`` is
    the discrete memory kernel (the instantaneous mass on the diagonal), and
    by Stein's lemma ``mu*(t) = (E[h* g(t)] - sum_j m_j Kd[I, j]) / rho``.
    The parameter-side response obeys ``d_t R(t,s) = -lam R(t,s) - int_s^t
    K(t,u) R(u,s) du`` (trapezoid in ``t``, the diagonal mass implicit); with
    ``update_R`` its row ``I`` is first recomputed from the current estimate
    of ``Kd[I]`` (else ``R[I]``, ``dR[I]`` are used as given: the predictor,
    or the stored rows of a run being resumed).  Every output of the step
    is then a function of ``theta[:I+1]``, ``R[:I+1]``, ``dR[:I+1]`` and the
    history, which is what makes a resumed run exact.  Writes the drift
    without its diagonal part ``-(lam + Kd[I, I]) theta`` into ``F``.
    """
    M = theta_star.shape[0]
    Ms = yl.shape[0]
    off = I * (I + 1) // 2
    if update_R:
        # parameter-side response row I (implicit in the diagonal mass)
        mass = lam + Kd[I, I]
        for k in range(I):
            s = (1.0 if k == 0 else 0.5) * Kd[I, k] * R[k, k]
            for m in range(k + 1, I):
                s += Kd[I, m] * R[m, k]
            R[I, k] = (R[I - 1, k] + 0.5 * hstep * (dR[I - 1, k] - s)) / (1.0 + 0.5 * hstep * mass)
            dR[I, k] = -mass * R[I, k] - s
        R[I, I] = 1.0
        dR[I, I] = -mass
    _gs_row(theta[I], Qz, Lz, I + 1, 1.0 / math.sqrt(M))
    c = 0.5 * gamma * hstep
    # memory term of the sample side: acc0[b] = sum_{k<I} w_k R(I,k) g_k[b]
    for b in range(Ms):
        acc[I, b] = 0.0
    for k in range(I):
        wk = 0.5 if k == 0 else 1.0
        rk = wk * R[I, k]
        for b in range(Ms):
            acc[I, b] += rk * gs[k, b]
    eg = 0.0
    ehg = 0.0
    for b in range(Ms):
        om = 0.0
        for j in range(I + 2):
            om += Lz[I + 1, j] * zs[j, b]
        sb = S[I, b] * binv
        if I == 0:
            hb = om
            g = sb * loss_d1(loss, yl[b], hb)
            q = sb * loss_d2(loss, yl[b], hb)
        else:
            v = om - gamma * hstep * acc[I, b]
            if sb == 0.0:
                hb = v
                g = 0.0
                q = 0.0
            else:
                ce = c * sb
                hb, dh = loss_prox(loss, yl[b], v, ce)
                if loss == LOSS_HINGE:
                    g = (v - hb) / c
                    # d g/d v = 1/c on the kink window 1 - ce <= y v <= 1, else 0: averaged over
                    # a window of width ce around y v (a continuous tent of the same unit mass),
                    # so that the slab iteration is a continuous map of the trajectories
                    u = yl[b] * v
                    lo = max(u - 0.5 * ce, 1.0 - ce)
                    hi = min(u + 0.5 * ce, 1.0)
                    q = (hi - lo) / (ce * c) if hi > lo else 0.0
                else:
                    g = sb * loss_d1(loss, yl[b], hb)
                    q = (1.0 - dh) / c
        hs[I, b] = hb
        gs[I, b] = g
        G[off + I, b] = q
        ehg += hstar[b] * g
        eg += q
    # per-trajectory responses, row I: G[I, j] = -q_I gamma h sum_{k=j}^{I-1} w_k R(I,k) G[k,j]
    for j in range(I):
        for b in range(Ms):
            acc[j, b] = 0.0
    for k in range(I):
        wk = 0.5 if k == 0 else 1.0
        rk = wk * R[I, k]
        ok = k * (k + 1) // 2
        for j in range(k + 1):
            row = G[ok + j]
            for b in range(Ms):
                acc[j, b] += rk * row[b]
    for j in range(I):
        s = 0.0
        row = G[off + j]
        for b in range(Ms):
            row[b] = -G[off + I, b] * gamma * hstep * acc[j, b]
            s += row[b]
        Kd[I, j] = s / Ms
    Kd[I, I] = eg / Ms
    # teacher term by Stein's lemma (empirical covariance of the Gaussian fields)
    rho = Lz[0, 0] * Lz[0, 0]
    st = ehg / Ms
    for j in range(I + 1):
        st -= Lz[0, 0] * Lz[j + 1, 0] * Kd[I, j]
    mus[I] = st / rho if rho > 0.0 else 0.0
    # field xi ~ GP(gamma E[g g]) on the parameter side
    _gs_row(gs[I], Ql, Ll, I, math.sqrt(gamma / Ms))
    # drift without the diagonal mass: -sum_{j<I} Kd[I,j] theta_j - mu* theta* + xi
    for a in range(M):
        F[a] = -mus[I] * theta_star[a]
    for k in range(I + 1):
        lk = Ll[I, k]
        for a in range(M):
            F[a] += lk * zt[k, a]
    for j in range(I):
        kj = Kd[I, j]
        for a in range(M):
            F[a] -= kj * theta[j, a]


@njit(cache=True)
def glm_general_sampled(loss, par, theta_star, zs, zt, zw, S, yl, h, n, tol_se, n_pass, max_iter,
                        damp0, adapt, theta, hs, gs, Kd, mus, R, dR, iters, wmix, start):
    """Causal marching of the sampled effective process of a GLM (any loss, Langevin, SGD).

    Parameter side (``M`` trajectories, ``theta = sqrt(d) beta``, from 0)::

        d theta/dt = -lam theta - int_0^t K(t,s) theta(s) ds - mu*(t) theta* + xi(t) + eta(t),
        <xi xi> = gamma E[g(t) g(s)],   <eta eta> = 2 T delta(t - s),

    sample side as in :func:`_glm_general_eval` (``Ms`` trajectories; labels
    ``yl``, teacher field ``h* = sqrt(<theta*^2>) zs[0]``, selection
    variables ``S`` of persistent SGD).  Heun (trapezoid) slabs with the
    diagonal mass implicit and additive noise ``sqrt(2 T h) zw``; each slab
    iterated until ``<theta^2>``, ``<theta theta*>`` and ``<ell>`` move by
    less than ``tol_se`` Monte Carlo standard errors in ``n_pass``
    consecutive passes (at most ``max_iter``), with the common random
    numbers ``zs``, ``zt``, ``zw`` fixed; each pass is mixed with the
    adaptive weight of :func:`_slab_test` (initially ``damp0``; final weight
    per slab in ``wmix``).  ``par = (gamma, ridge, T,
    1/b)``.  Returns the number of steps done.

    Resume: with ``start > 1``, rows ``< start`` of ``theta``, ``R``, ``dR``
    and ``iters`` hold a previous run (same random numbers); its sample side,
    responses, kernels and drift are regenerated in one pass, with the same
    arithmetic as the slabs' final evaluations, and the march continues: the
    result equals the uninterrupted run bit for bit.
    """
    gamma = par[0]
    lam = par[1]
    T = par[2]
    binv = par[3]
    M = theta_star.shape[0]
    Ms = yl.shape[0]
    Qz = np.zeros((n + 1, M))
    Lz = np.zeros((n + 1, n + 1))
    Ql = np.zeros((n, Ms))
    Ll = np.zeros((n, n))
    G = np.zeros((n * (n + 1) // 2, Ms))
    acc = np.zeros((n, Ms))
    hstar = np.empty(Ms)
    _gs_row(theta_star, Qz, Lz, 0, 1.0 / math.sqrt(M))
    for b in range(Ms):
        hstar[b] = Lz[0, 0] * zs[0, b]
    F = np.zeros(M)
    Fn = np.zeros(M)
    old = np.zeros(3)
    new = np.zeros(3)
    se = np.zeros(3)
    amp = math.sqrt(2.0 * T * h)
    if start <= 1:
        start = 1
        for a in range(M):
            theta[0, a] = 0.0
        R[0, 0] = 1.0
    # rows < start: the initial condition, or the regenerated history of a resumed run
    for I in range(start):
        _glm_general_eval(loss, I, h, gamma, lam, binv, theta_star, hstar, yl, zs, zt, S, Qz, Lz,
                          Ql, Ll, theta, hs, gs, G, acc, Kd, mus, R, dR, F, False)
        if I == 0:
            dR[0, 0] = -(lam + Kd[0, 0])
        mass = lam + Kd[I, I]
        for a in range(M):
            F[a] -= mass * theta[I, a]
    for i in range(start - 1, n - 1):
        I = i + 1
        # predictor: Euler for theta and for the response row
        for a in range(M):
            theta[I, a] = theta[i, a] + h * F[a] + amp * zw[i, a]
        for k in range(I):
            R[I, k] = R[i, k] + h * dR[i, k]
        R[I, I] = 1.0
        good = 0
        it = 0
        w = damp0
        res = math.inf
        while True:
            it += 1
            _glm_general_eval(loss, I, h, gamma, lam, binv, theta_star, hstar, yl, zs, zt, S, Qz,
                              Lz, Ql, Ll, theta, hs, gs, G, acc, Kd, mus, R, dR, Fn, it > 1)
            den = 1.0 + 0.5 * h * (lam + Kd[I, I])
            for a in range(M):
                x = (theta[i, a] + 0.5 * h * (F[a] + Fn[a]) + amp * zw[i, a]) / den
                theta[I, a] = x if w == 1.0 else theta[I, a] + w * (x - theta[I, a])
            s1 = 0.0
            s2 = 0.0
            m1 = 0.0
            m2 = 0.0
            for a in range(M):
                d2 = theta[I, a] * theta[I, a]
                dm = theta[I, a] * theta_star[a]
                s1 += d2
                s2 += d2 * d2
                m1 += dm
                m2 += dm * dm
            l1 = 0.0
            l2 = 0.0
            for b in range(Ms):
                v = loss_value(loss, yl[b], hs[I, b])
                l1 += v
                l2 += v * v
            new[0] = s1 / M
            new[1] = m1 / M
            new[2] = l1 / Ms
            se[0] = math.sqrt(max(s2 / M - new[0] ** 2, 0.0) / M)
            se[1] = math.sqrt(max(m2 / M - new[1] ** 2, 0.0) / M)
            se[2] = math.sqrt(max(l2 / Ms - new[2] ** 2, 0.0) / Ms)
            w_used = w
            ok, w, res = _slab_test(it, new, old, se, tol_se, w, adapt, res)
            if it > 1:
                good = good + 1 if ok else 0
            for c in range(3):
                old[c] = new[c]
            if not math.isfinite(new[0]) or not math.isfinite(new[2]):
                iters[I] = it
                return I
            if good >= n_pass or it >= max_iter:
                break
        # a slab that stopped at max_iter without n_pass good passes is marked max_iter + 1
        iters[I] = it if good >= n_pass else max_iter + 1
        wmix[I] = w_used
        # kernels and drift at the converged slab
        _glm_general_eval(loss, I, h, gamma, lam, binv, theta_star, hstar, yl, zs, zt, S, Qz, Lz,
                          Ql, Ll, theta, hs, gs, G, acc, Kd, mus, R, dR, F, True)
        mass = lam + Kd[I, I]
        for a in range(M):
            F[a] -= mass * theta[I, a]
    return n


@njit(cache=True)
def sgd_selection(u, h, tau, b, out):
    """Persistent-SGD selection variables on the grid ``t_k = k h`` from uniforms ``u``.

    ``s`` is a two-state Markov chain (Mignacco et al., NeurIPS 2020):
    ``1 -> 0`` at rate ``1/tau``, ``0 -> 1`` at rate ``b/((1-b) tau)``
    (stationary ``P(s=1) = b``, mean time in the batch ``tau``), sampled
    exactly at the grid times: ``P(s'=1|s=1) = b + (1-b) e^{-h/((1-b) tau)}``,
    ``P(s'=1|s=0) = b (1 - e^{-h/((1-b) tau)})``; ``s(0) = [u[0] < b]``.
    ``u`` has the shape ``(n, m)`` of ``out``.  ``b = 1`` gives ``s = 1``.
    """
    n = out.shape[0]
    m = out.shape[1]
    if b >= 1.0:
        for k in range(n):
            for j in range(m):
                out[k, j] = 1.0
        return
    e = math.exp(-h / ((1.0 - b) * tau))
    p11 = b + (1.0 - b) * e
    p01 = b * (1.0 - e)
    for j in range(m):
        out[0, j] = 1.0 if u[0, j] < b else 0.0
    for k in range(1, n):
        for j in range(m):
            p = p11 if out[k - 1, j] == 1.0 else p01
            out[k, j] = 1.0 if u[k, j] < p else 0.0


def _warmup_glm_general():
    """Compile the general-loss GLM kernels on tiny inputs (called by :func:`warmup`)."""
    n = 4
    M = 3
    for loss in (LOSS_SQUARE, LOSS_LOGISTIC, LOSS_HINGE):
        glm_general_sampled(loss, np.array([0.5, 0.1, 0.1, 1.0]), np.ones(M), np.ones((n + 1, M)),
                            np.ones((n, M)), np.ones((n, M)), np.ones((n, M)), np.ones(M), 0.1, n,
                            0.01, 2, 5, 0.5, True, np.zeros((n, M)), np.zeros((n, M)),
                            np.zeros((n, M)), np.zeros((n, n)), np.zeros(n), np.zeros((n, n)),
                            np.zeros((n, n)), np.zeros(n, dtype=np.int64), np.ones(n), 0)
        loss_value(loss, 1.0, 0.3)
    sgd_selection(np.full((n, M), 0.5), 0.1, 1.0, 0.5, np.zeros((n, M)))
# GLM section (general loss): END
# ===========================================================================


# ===========================================================================
# Time-doubling (Kim–Latz type) integrator of the spherical mixed p-spin.
# Design and numbered equations (D1)-(D13): dmft/doubling.py.  Window arrays
# (n = N + 1 points, t_i = i h):
#   C[i, j]   C(t_i, t_j), full symmetric
#   X[i, j]   chi(t_i, t_j) = int_{t_j}^{t_i} R(t_i, s) ds for j <= i, mirrored
#             into the upper triangle (X[j, i] = X[i, j])
#   AC[j, l]  (1/h) int_{s_{l-1}}^{s_l} C(t_j, s) ds      (l >= 1, any l: C symmetric)
#   AX[j, l]  the same for s -> X[j, s] (chi(t_j, s) for s < t_j, chi(s, t_j) beyond)
#   H1, H2, H3[i, l]  (1/h) int over interval l of f_k(C(t_i, s)) ds, l <= i,
#             f1 = xi', f2 = xi'', f3 = (C xi')' = C xi'' + xi'
# The last nc >= 2 points of each new row (and their interval averages)
# are copied from the previous row (time-translation invariance next to the
# diagonal); the others are solved implicitly (BDF2, Gauss–Seidel sweeps in
# decreasing t', accelerated by Anderson mixing).
DB_MEM = 8  # Anderson memory


@njit(cache=True)
def _db_avg_first(a, b, c):
    """(1/h) int over [x_0, x_1] of the parabola through (x_0, a), (x_1, b), (x_2, c)."""
    return (5.0 * a + 8.0 * b - c) / 12.0


@njit(cache=True)
def _db_avg_last(a, b, c):
    """(1/h) int over [x_1, x_2] of the parabola through (x_0, a), (x_1, b), (x_2, c)."""
    return (-a + 8.0 * b + 5.0 * c) / 12.0


@njit(cache=True)
def _db_row_hav(coef, i, lmin, lmax, C, X, AC, AX, H1, H2, H3):
    """Interval averages along row ``i`` for intervals lmin..lmax (eq. D4)."""
    for l in range(max(lmin, 1), lmax + 1):
        if l + 1 <= i:
            a, b, c = l - 1, l, l + 1
            first = True
        elif l >= 2:
            a, b, c = l - 2, l - 1, l
            first = False
        else:  # i = l = 1: linear
            a0, a1, a2 = xi_derivs(coef, C[i, 0])
            b0, b1, b2 = xi_derivs(coef, C[i, 1])
            H1[i, 1] = 0.5 * (a1 + b1)
            H2[i, 1] = 0.5 * (a2 + b2)
            H3[i, 1] = 0.5 * (C[i, 0] * a2 + a1 + C[i, 1] * b2 + b1)
            AC[i, 1] = 0.5 * (C[i, 0] + C[i, 1])
            AX[i, 1] = 0.5 * (X[i, 0] + X[i, 1])
            continue
        ca = C[i, a]
        cb = C[i, b]
        cc = C[i, c]
        a0, a1, a2 = xi_derivs(coef, ca)
        b0, b1, b2 = xi_derivs(coef, cb)
        c0, c1, c2 = xi_derivs(coef, cc)
        if first:
            H1[i, l] = _db_avg_first(a1, b1, c1)
            H2[i, l] = _db_avg_first(a2, b2, c2)
            H3[i, l] = _db_avg_first(ca * a2 + a1, cb * b2 + b1, cc * c2 + c1)
            AC[i, l] = _db_avg_first(ca, cb, cc)
            AX[i, l] = _db_avg_first(X[i, a], X[i, b], X[i, c])
        else:
            H1[i, l] = _db_avg_last(a1, b1, c1)
            H2[i, l] = _db_avg_last(a2, b2, c2)
            H3[i, l] = _db_avg_last(ca * a2 + a1, cb * b2 + b1, cc * c2 + c1)
            AC[i, l] = _db_avg_last(ca, cb, cc)
            AX[i, l] = _db_avg_last(X[i, a], X[i, b], X[i, c])


@njit(cache=True)
def _db_dphi(T, fdt, i, l, C, X):
    """Increment over interval l of Phi(t_i, s) = C + T chi (T > 0) or of chi (T = 0)."""
    if fdt:
        return (C[i, l] - C[i, l - 1]) + T * (X[i, l] - X[i, l - 1])
    return X[i, l] - X[i, l - 1]


@njit(cache=True)
def _db_mu_e(coef, T, fdt, i, C, X, AX, H1, H3):
    """mu(t_i) and e(t_i) from row i (eqs. D6, D7; D9 for the plain form)."""
    if fdt:
        sm = 0.0
        se = 0.0
        for l in range(1, i + 1):
            d = _db_dphi(T, fdt, i, l, C, X)
            sm += H3[i, l] * d
            se += H1[i, l] * d
        x1_0, x1_1, x1_2 = xi_derivs(coef, 1.0)
        x0_0, x0_1, x0_2 = xi_derivs(coef, C[i, 0])
        return T + (x1_1 - C[i, 0] * x0_1 - sm) / T, -(x1_0 - x0_0 - se) / T
    # plain form (eq. D9; always at T = 0): by parts against the averages of chi(t_i, .)
    p0, p1, p2 = xi_derivs(coef, C[i, 0])
    f3p = C[i, 0] * p2 + p1
    f1p = p1
    sm = f3p * X[i, 0]
    se = -f1p * X[i, 0]
    for l in range(1, i + 1):
        q0, q1, q2 = xi_derivs(coef, C[i, l])
        f3 = C[i, l] * q2 + q1
        sm += AX[i, l] * (f3 - f3p)
        se -= AX[i, l] * (q1 - f1p)
        f3p = f3
        f1p = q1
    return T + sm, se


@njit(cache=True)
def _db_rhs(T, fdt, i, j, C, X, AC, AX, F1, dF1, u, v):
    """Memory terms of d_t C(t_i, t_j) and d_t chi(t_i, t_j) without the -mu terms (eqs. D8, D9)."""
    Cj = C[j]
    Xj = X[j]
    ACj = AC[j]
    AXj = AX[j]
    sC = 0.0
    sB = 0.0
    sX = 0.0
    if fdt:
        # int g d_s F, F = f1(C(t_i, .)), g = C(., t_j) or chi(., t_j) (eq. D5): the fast
        # factor is averaged, the slow one differenced.  g is fast next to t_j, F next to
        # t_i: up to the midpoint L the interval average of g times the increment of F,
        # beyond it (by parts) the average of F (u = H1) times the increment of g.
        L = (i + j) // 2
        sA = 0.0
        sXA = 0.0
        for l in range(1, j + 1):
            dc = Cj[l] - Cj[l - 1]
            if l <= L:
                sA += ACj[l] * dF1[l]
                sC += v[l] * ACj[l]
            else:
                sC += u[l] * dc + v[l] * ACj[l]
            sB += ACj[l] * dF1[l] + u[l] * (dc + T * (Xj[l] - Xj[l - 1]))
        for l in range(j + 1, i + 1):
            if l <= L:
                sA += ACj[l] * dF1[l]
                sXA += AXj[l] * dF1[l]
                sC += v[l] * ACj[l]
                sX += v[l] * AXj[l]
            else:
                sC += u[l] * (Cj[l] - Cj[l - 1]) + v[l] * ACj[l]
                sX += u[l] * (Xj[l] - Xj[l - 1]) + v[l] * AXj[l]
        rc = (C[i, j] * F1[i] - Cj[L] * F1[L] + sA - sC + F1[j] - F1[0] * C[j, 0] - sB) / T
        rx = 1.0 + (X[i, j] * F1[i] - Xj[L] * F1[L] + sXA - sX) / T
        return rc, rx
    # plain form (eq. D9): u[l] = f2(C(t_i, s_l)) at the grid points, by parts against
    # the interval averages AX[i, l] of chi(t_i, .)
    # (the midpoint switch of the split form is not used here: with it the plain form
    # turns unstable at T = 0 once h > 1)
    AXi = AX[i]
    for l in range(1, j + 1):
        sC += AXi[l] * (u[l] * Cj[l] - u[l - 1] * Cj[l - 1])
        sB += AXj[l] * dF1[l]
    for l in range(j + 1, i + 1):
        sC += AXi[l] * (u[l] * Cj[l] - u[l - 1] * Cj[l - 1])
        sX += AXi[l] * (u[l] * Xj[l] - u[l - 1] * Xj[l - 1])
    sC += u[0] * Cj[0] * X[i, 0]
    return sC + F1[0] * X[j, 0] + sB, 1.0 + sX


@njit(cache=True)
def _db_refresh(coef, T, fdt, i, lmin, lmax, C, X, AC, AX, H1, H2, H3, F1, dF1, u, v):
    """Recompute F1, dF1, u, v of row i on intervals lmin..lmax (and points lmin-1..lmax)."""
    for l in range(max(lmin - 1, 0), lmax + 1):
        f0, f1, f2 = xi_derivs(coef, C[i, l])
        F1[l] = f1
        if not fdt:
            u[l] = f2
    if not fdt:
        for l in range(max(lmin, 1), lmax + 1):
            dF1[l] = F1[l] - F1[l - 1]
        return
    for l in range(max(lmin, 1), lmax + 1):
        dF1[l] = F1[l] - F1[l - 1]
        u[l] = H1[i, l]
        v[l] = H2[i, l] * _db_dphi(T, fdt, i, l, C, X)


@njit(cache=True)
def _db_anderson(x, g, fprev, gprev, dFh, dGh, nh, it, Mm, Gm, gam):
    """One Anderson-mixing update of ``x`` from ``g = G(x)`` (eq. D13); returns the history size.

    Walker & Ni, SIAM J. Numer. Anal. 49, 1715 (2011), "type II" with memory
    ``DB_MEM``: ``x <- g - sum_k gamma_k dG_k`` with ``gamma`` the least-squares
    fit of the residual ``f = g - x`` by the residual differences ``dF_k``
    (normal equations, Tikhonov-regularised); the history is dropped when the
    fit is not finite.
    """
    L = x.shape[0]
    mem = dFh.shape[0]
    if it > 1:
        slot = (it - 2) % mem
        for q in range(L):
            dFh[slot, q] = (g[q] - x[q]) - fprev[q]
            dGh[slot, q] = g[q] - gprev[q]
        nh = min(nh + 1, mem)
    for q in range(L):
        fprev[q] = g[q] - x[q]
        gprev[q] = g[q]
    if nh == 0:
        for q in range(L):
            x[q] = g[q]
        return nh
    tr = 0.0
    for a in range(nh):
        s = 0.0
        for q in range(L):
            s += dFh[a, q] * fprev[q]
        Gm[a] = s
        for b in range(a, nh):
            s = 0.0
            for q in range(L):
                s += dFh[a, q] * dFh[b, q]
            Mm[a, b] = s
            Mm[b, a] = s
        tr += Mm[a, a]
    if not math.isfinite(tr):
        for q in range(L):
            x[q] = g[q]
        return 0
    A = Mm[:nh, :nh].copy()
    for a in range(nh):
        A[a, a] += 1e-12 * tr + 1e-300
    sol = np.linalg.solve(A, Gm[:nh].copy())
    ok = True
    for a in range(nh):
        gam[a] = sol[a]
        if not math.isfinite(sol[a]):
            ok = False
    if not ok:
        for q in range(L):
            x[q] = g[q]
        return 0
    for q in range(L):
        s = g[q]
        for a in range(nh):
            s -= gam[a] * dGh[a, q]
        x[q] = s
    return nh


@njit(cache=True)
def doubling_init(coef, T, fdt, h, n0, Cu, Ru, C, X, AC, AX, H1, H2, H3, mu_out, e_out):
    """Fill rows 0..n0-1 of the window from a uniform-grid solution (eq. D10).

    ``Cu`` (full symmetric) and ``Ru`` (lower triangle) are the uniform
    predictor–corrector's C and R on the same grid; chi is their trapezoid
    integral along each row, the interval averages follow eq. (D4).  Writes
    mu(t_i), e(t_i) of these rows (eqs. D6, D7).
    """
    for i in range(n0):
        for j in range(i + 1):
            C[i, j] = Cu[i, j]
            C[j, i] = Cu[i, j]
        X[i, i] = 0.0
        for j in range(i - 1, -1, -1):
            X[i, j] = X[i, j + 1] + 0.5 * h * (Ru[i, j] + Ru[i, j + 1])
            X[j, i] = X[i, j]
    for i in range(n0):
        _db_row_hav(coef, i, 1, i, C, X, AC, AX, H1, H2, H3)
    # averages over interval l > j of column j (s -> C(s, t_j), s > t_j)
    for j in range(n0):
        for l in range(j + 1, n0):
            if l + 1 <= n0 - 1:
                AC[j, l] = _db_avg_first(C[l - 1, j], C[l, j], C[l + 1, j])
                AX[j, l] = _db_avg_first(X[l - 1, j], X[l, j], X[l + 1, j])
            elif l - 2 >= j:
                AC[j, l] = _db_avg_last(C[l - 2, j], C[l - 1, j], C[l, j])
                AX[j, l] = _db_avg_last(X[l - 2, j], X[l - 1, j], X[l, j])
            else:
                AC[j, l] = 0.5 * (C[l - 1, j] + C[l, j])
                AX[j, l] = 0.5 * (X[l - 1, j] + X[l, j])
    for i in range(n0):
        mu, e = _db_mu_e(coef, T, fdt, i, C, X, AX, H1, H3)
        mu_out[i] = mu
        e_out[i] = e


@njit(cache=True)
def _db_sweep(coef, T, fdt, h, i, jmax, nc, x, g, C, X, AC, AX, H1, H2, H3, F1, dF1, u, v):
    """One Gauss–Seidel sweep of the BDF2 equations of row i from the row ``x``; writes ``g``.

    Returns (mu, largest |g - x|).  Columns are visited in decreasing t_j
    (from the diagonal outwards, as Kim & Latz do): at p = 3, T = 0.5 this
    needs 13 sweeps per row on average to t = 1e4 against 21 in increasing
    order (N = 256, tol = 1e-9).  ``mu`` is refreshed once per sweep.
    """
    m = jmax + 1
    for j in range(m):
        C[i, j] = x[j]
        C[j, i] = x[j]
        X[i, j] = x[m + j]
        X[j, i] = x[m + j]
    _db_row_hav(coef, i, 1, i - nc, C, X, AC, AX, H1, H2, H3)
    for j in range(m):
        AC[j, i] = _db_avg_last(C[i - 2, j], C[i - 1, j], C[i, j])
        AX[j, i] = _db_avg_last(X[i - 2, j], X[i - 1, j], X[i, j])
    _db_refresh(coef, T, fdt, i, 1, i, C, X, AC, AX, H1, H2, H3, F1, dF1, u, v)
    mu, e = _db_mu_e(coef, T, fdt, i, C, X, AX, H1, H3)
    change = 0.0
    for jj in range(m):
        j = m - 1 - jj
        rc, rx = _db_rhs(T, fdt, i, j, C, X, AC, AX, F1, dF1, u, v)
        if fdt:
            a = -mu + (F1[i] - u[i] - 5.0 / 12.0 * v[i]) / T
        else:
            a = -mu + AX[i, i] * u[i]
        rc -= mu * C[i, j] + a * C[i, j]
        rx -= mu * X[i, j] + a * X[i, j]
        den = 3.0 - 2.0 * h * a
        cn = (4.0 * C[i - 1, j] - C[i - 2, j] + 2.0 * h * rc) / den
        xn = (4.0 * X[i - 1, j] - X[i - 2, j] + 2.0 * h * rx) / den
        g[j] = cn
        g[m + j] = xn
        dmax = max(abs(cn - x[j]), abs(xn - x[m + j]))
        if not math.isfinite(dmax):
            change = np.inf  # (max() would drop a NaN)
        else:
            change = max(change, dmax)
        # Gauss–Seidel: write the new values and refresh what depends on them
        C[i, j] = cn
        C[j, i] = cn
        X[i, j] = xn
        X[j, i] = xn
        AC[j, i] = _db_avg_last(C[i - 2, j], C[i - 1, j], C[i, j])
        AX[j, i] = _db_avg_last(X[i - 2, j], X[i - 1, j], X[i, j])
        lo = max(j - 1, 1)
        hi = min(j + 1, i - nc)
        _db_row_hav(coef, i, lo, hi, C, X, AC, AX, H1, H2, H3)
        _db_refresh(coef, T, fdt, i, max(j - 1, 1), min(j + 1, i), C, X, AC, AX, H1, H2, H3, F1, dF1,
                    u, v)
    return mu, change


@njit(cache=True)
def doubling_rows(coef, T, fdt, h, i0, i1, nc, C, X, AC, AX, H1, H2, H3, tol, max_iter, mu_out,
                  e_out, iters, change_out):
    """Compute rows i0..i1 of the window (eqs. D1-D11, D13); returns the last valid row + 1.

    Each new row copies its last ``nc`` (>= 2) sub-diagonal points and interval
    averages from the previous row (eq. D11a) and solves the others by the
    implicit BDF2 step (eq. D11b): Gauss–Seidel sweeps over the row,
    accelerated by Anderson mixing, until the largest change of C and chi in
    a sweep falls below ``tol`` (at most ``max_iter`` sweeps).  ``iters[k]``
    holds the sweeps of row ``i0 + k`` (``max_iter + 1`` if not converged)
    and ``change_out[k]`` its last change.
    """
    n = C.shape[0]
    F1 = np.zeros(n)
    dF1 = np.zeros(n)
    u = np.zeros(n)
    v = np.zeros(n)
    x = np.zeros(2 * n)
    g = np.zeros(2 * n)
    fprev = np.zeros(2 * n)
    gprev = np.zeros(2 * n)
    dFh = np.zeros((DB_MEM, 2 * n))
    dGh = np.zeros((DB_MEM, 2 * n))
    Mm = np.zeros((DB_MEM, DB_MEM))
    Gm = np.zeros(DB_MEM)
    gam = np.zeros(DB_MEM)
    for i in range(i0, i1 + 1):
        k = i - i0
        jmax = i - nc - 1
        m = jmax + 1
        # (D11a) time-translation copies next to the diagonal
        C[i, i] = 1.0
        X[i, i] = 0.0
        for j in range(i - nc, i):
            C[i, j] = C[i - 1, j - 1]
            C[j, i] = C[i, j]
            X[i, j] = X[i - 1, j - 1]
            X[j, i] = X[i, j]
            AC[j, i] = AC[j - 1, i - 1]
            AX[j, i] = AX[j - 1, i - 1]
        for l in range(i - nc + 1, i + 1):
            H1[i, l] = H1[i - 1, l - 1]
            H2[i, l] = H2[i - 1, l - 1]
            H3[i, l] = H3[i - 1, l - 1]
            AC[i, l] = AC[i - 1, l - 1]
            AX[i, l] = AX[i - 1, l - 1]
        # predictor: linear extrapolation along the columns
        for j in range(m):
            x[j] = 2.0 * C[i - 1, j] - C[i - 2, j]
            x[m + j] = 2.0 * X[i - 1, j] - X[i - 2, j]
        xv = x[:2 * m]
        gv = g[:2 * m]
        nh = 0
        it = 0
        change = np.inf
        mu = np.nan
        while True:
            it += 1
            mu, change = _db_sweep(coef, T, fdt, h, i, jmax, nc, xv, gv, C, X, AC, AX, H1, H2,
                                   H3, F1, dF1, u, v)
            if not math.isfinite(change):
                iters[k] = it
                change_out[k] = change
                mu_out[k] = np.nan
                e_out[k] = np.nan
                return i
            if change <= tol or it >= max_iter:
                break
            nh = _db_anderson(xv, gv, fprev[:2 * m], gprev[:2 * m], dFh[:, :2 * m],
                              dGh[:, :2 * m], nh, it, Mm, Gm, gam)
        # the row now holds g (the last sweep's output): final averages and one-time values
        _db_row_hav(coef, i, 1, i - nc, C, X, AC, AX, H1, H2, H3)
        for j in range(m):
            AC[j, i] = _db_avg_last(C[i - 2, j], C[i - 1, j], C[i, j])
            AX[j, i] = _db_avg_last(X[i - 2, j], X[i - 1, j], X[i, j])
        mu, e = _db_mu_e(coef, T, fdt, i, C, X, AX, H1, H3)
        iters[k] = it if change <= tol else max_iter + 1
        change_out[k] = change
        mu_out[k] = mu
        e_out[k] = e
        if not (math.isfinite(mu) and math.isfinite(e)):
            return i
        # |C(t,t')| <= 1 (Cauchy-Schwarz on the sphere): a violation flags an unstable scheme
        for j in range(i):
            if abs(C[i, j]) > 1.0 + 1e-6:
                iters[k] = -1
                return i
    return i1 + 1


@njit(cache=True)
def doubling_decimate(N, C, X, AC, AX, H1, H2, H3):
    """Halve the window (eq. D12): keep the even points, average pairs of intervals; h -> 2h."""
    M = N // 2
    for a in range(M + 1):
        for b in range(M + 1):
            C[a, b] = C[2 * a, 2 * b]
            X[a, b] = X[2 * a, 2 * b]
    for A in (AC, AX):
        tmp = A.copy()
        for j in range(M + 1):
            for l in range(1, M + 1):
                A[j, l] = 0.5 * (tmp[2 * j, 2 * l - 1] + tmp[2 * j, 2 * l])
    for Hk in (H1, H2, H3):
        tmp = Hk.copy()
        for a in range(M + 1):
            for b in range(1, a + 1):
                Hk[a, b] = 0.5 * (tmp[2 * a, 2 * b - 1] + tmp[2 * a, 2 * b])

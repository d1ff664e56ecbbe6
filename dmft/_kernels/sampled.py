"""Numba kernels of ``method="sampled"`` (:mod:`dmft.sampled`): Monte Carlo over
trajectories of the teacher-student GLM effective process.

:func:`glm_square_sampled` is the square-loss, full-batch, ``T = 0`` case whose
responses are deterministic (taken from the Gaussian closure);
:func:`glm_general_sampled` is the general case (any loss with a kernel in the
:mod:`lmech.blocks.losses` table, passed as its ``code`` and parameters
``lpar``; Langevin noise, persistent SGD) with per-trajectory responses.  The
SGD selection chain (:func:`sgd_selection`) is shared with the public helpers
of :mod:`dmft.glm`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

import lmech
from lmech.blocks.losses import HINGE, loss_d1, loss_d2, loss_prox, loss_value


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


# GLM with any loss of the lmech.blocks table (its code and parameters ``lpar``), Langevin
# noise and persistent SGD: the sampled effective process with per-trajectory responses


@njit(cache=True)
def _glm_general_eval(loss, lpar, I, hstep, gamma, lam, binv, theta_star, hstar, yl, zs, zt, S, Qz, Lz,
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
            g = sb * loss_d1(loss, lpar, yl[b], hb)
            q = sb * loss_d2(loss, lpar, yl[b], hb)
        else:
            v = om - gamma * hstep * acc[I, b]
            if sb == 0.0:
                hb = v
                g = 0.0
                q = 0.0
            else:
                ce = c * sb
                hb, dh = loss_prox(loss, lpar, yl[b], v, ce)
                if loss == HINGE:
                    g = (v - hb) / c
                    # d g/d v = 1/c on the kink window 1 - ce <= y v <= 1, else 0: averaged over
                    # a window of width ce around y v (a continuous tent of the same unit mass),
                    # so that the slab iteration is a continuous map of the trajectories
                    u = yl[b] * v
                    lo = max(u - 0.5 * ce, 1.0 - ce)
                    hi = min(u + 0.5 * ce, 1.0)
                    q = (hi - lo) / (ce * c) if hi > lo else 0.0
                else:
                    g = sb * loss_d1(loss, lpar, yl[b], hb)
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
def glm_general_sampled(loss, lpar, par, theta_star, zs, zt, zw, S, yl, h, n, tol_se, n_pass, max_iter,
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
        _glm_general_eval(loss, lpar, I, h, gamma, lam, binv, theta_star, hstar, yl, zs, zt, S, Qz, Lz,
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
            _glm_general_eval(loss, lpar, I, h, gamma, lam, binv, theta_star, hstar, yl, zs, zt, S, Qz,
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
                v = loss_value(loss, lpar, yl[b], hs[I, b])
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
        _glm_general_eval(loss, lpar, I, h, gamma, lam, binv, theta_star, hstar, yl, zs, zt, S, Qz, Lz,
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



@lmech.register_warmup("dmft._kernels.sampled")
def warmup():
    """Compile the sampled-process kernels (both cases, every loss) on tiny inputs."""
    n = 4
    M = 3
    glm_square_sampled(np.array([0.5, 0.0]), np.eye(n), np.eye(n), np.ones(M), np.ones(M),
                       np.ones(M), np.ones((n + 1, M)), np.ones((n, M)), 0.1, n, 0.01, 2, 5, 0.5, True,
                       np.zeros((n, M)), np.zeros((n, M)), np.zeros(n, dtype=np.int64), np.ones(n),
                       0)
    from lmech.blocks.losses import LOSSES
    for cls in {c for c in LOSSES.values() if c.code >= 0}:
        loss, lpar = cls.code, cls().par
        glm_general_sampled(loss, lpar, np.array([0.5, 0.1, 0.1, 1.0]), np.ones(M), np.ones((n + 1, M)),
                            np.ones((n, M)), np.ones((n, M)), np.ones((n, M)), np.ones(M), 0.1, n,
                            0.01, 2, 5, 0.5, True, np.zeros((n, M)), np.zeros((n, M)),
                            np.zeros((n, M)), np.zeros((n, n)), np.zeros(n), np.zeros((n, n)),
                            np.zeros((n, n)), np.zeros(n, dtype=np.int64), np.ones(n), 0)
    sgd_selection(np.full((n, M), 0.5), 0.1, 1.0, 0.5, np.zeros((n, M)))

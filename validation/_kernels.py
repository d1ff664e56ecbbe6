"""Numba kernels of the ``validation`` layer: finite-N simulators.

Every function here is a pure function of float64 arrays and scalars (no
globals, no Python objects, no ``fastmath``); random numbers are pre-drawn by
the Python wrappers from a :class:`numpy.random.Generator` and passed in as
arrays, so a run is reproducible from its seed alone.  The validating
wrappers live in :mod:`validation.committee` and the other simulator modules.

Activations and losses are those of :mod:`lmech.blocks` (``act_g``, ``act_dg``,
``loss_value``, ``loss_d1`` and their codes): ``0`` erf(u/sqrt 2), ``1`` ReLU,
``2`` linear, ``3`` quadratic (``g(u) = u**2``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lmech.blocks.activations import ERF_SQRT2, act_dg, act_g
from lmech.blocks.activations import LINEAR as _LINEAR
from lmech.blocks.activations import QUADRATIC as _QUADRATIC
from lmech.blocks.activations import RELU as _RELU
from lmech.blocks.losses import HINGE, LOGISTIC, SQUARE, loss_d1, loss_value
from lmech.blocks.schedules import lr_at
from lmech.warm import register_warmup

# the activation table of lmech.blocks (codes 0 erf(u/sqrt 2), 1 ReLU, 2 linear, 3 quadratic)
ERF, RELU, LINEAR, QUADRATIC = ERF_SQRT2, _RELU, _LINEAR, _QUADRATIC


@njit(cache=True)
def dot(a, b):
    """``sum_i a[i] b[i]`` of two contiguous 1-D arrays with four interleaved partial sums.

    The summation order is fixed (deterministic, no ``fastmath``); the four
    independent chains hide the latency of the additions.
    """
    n = a.shape[0]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    n4 = n - n % 4
    for i in range(0, n4, 4):
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
    for i in range(n4, n):
        s0 += a[i] * b[i]
    return (s0 + s1) + (s2 + s3)


@njit(cache=True)
def svm_dual_cd(A, lam, a, u, tol, max_pass):
    """Dual coordinate descent for the L2-penalised hinge loss (Hsieh et al., ICML 2008, Algorithm 1).

    Minimises ``(1/(2 lam)) |A^T a|^2 - sum a`` over ``0 <= a <= 1``, the dual
    of ``min_w sum_mu max(0, 1 - A_mu . w) + (lam/2)|w|^2`` with ``w = A^T a / lam``.
    ``a`` (n,) and ``u = A^T a`` (d,) are updated in place; sweeps run in a
    fixed cyclic order until the largest projected-gradient violation of a
    sweep falls below ``tol``.

    Returns
    -------
    (int, float)
        Sweeps used and the final largest violation.
    """
    n, d = A.shape
    qii = np.empty(n)
    for i in range(n):
        qii[i] = dot(A[i], A[i]) / lam
    viol = np.inf
    sweeps = 0
    for sweep in range(max_pass):
        viol = 0.0
        for i in range(n):
            G = dot(A[i], u) / lam - 1.0
            ai = a[i]
            if ai <= 0.0:
                pg = min(G, 0.0)
            elif ai >= 1.0:
                pg = max(G, 0.0)
            else:
                pg = G
            if abs(pg) > viol:
                viol = abs(pg)
            if pg != 0.0 and qii[i] > 0.0:
                new = ai - G / qii[i]
                if new < 0.0:
                    new = 0.0
                elif new > 1.0:
                    new = 1.0
                delta = new - ai
                if delta != 0.0:
                    a[i] = new
                    Ai = A[i]
                    for k in range(d):
                        u[k] += delta * Ai[k]
        sweeps = sweep + 1
        if viol < tol:
            break
    return sweeps, viol


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
def pspin3_tensor(J, N):
    """Symmetric ``N x N x N`` tensor from the couplings ``J`` of the triples ``i < j < k``
    (flattened in lexicographic order); entries with a repeated index are 0."""
    T = np.zeros((N, N, N))
    c = 0
    for i in range(N):
        for j in range(i + 1, N):
            for k in range(j + 1, N):
                v = J[c]
                c += 1
                T[i, j, k] = v
                T[i, k, j] = v
                T[j, i, k] = v
                T[j, k, i] = v
                T[k, i, j] = v
                T[k, j, i] = v
    return T


@njit(cache=True)
def pspin_force(p, A, s, out):
    """``F = -grad H`` for ``H = -(1/2) s^T J s`` (p = 2, ``A = J[None]`` of shape (1, N, N)) or
    ``H = -(1/6) sum T_ijk s_i s_j s_k`` (p = 3, ``A = T`` (N, N, N)); returns ``H``."""
    N = s.shape[0]
    if p == 2:
        for i in range(N):
            out[i] = dot(A[0, i], s)
    else:
        for i in range(N):
            acc = 0.0
            for j in range(N):
                acc += s[j] * dot(A[i, j], s)
            out[i] = 0.5 * acc
    return -dot(s, out) / p


@njit(cache=True)
def pspin_langevin(p, A, s, dt, temp, noise, rec, S, E):
    """Langevin dynamics on the sphere ``|s|^2 = N``: Heun on the tangent drift, then projection.

    Per step: ``f(s) = F(s) - (s.F/N) s`` (tangent force), ``s' = s + dt f(s) +
    sqrt(2 T dt) xi``, ``s'' = s + dt (f(s) + f(s'))/2 + sqrt(2 T dt) xi``, each
    rescaled to ``|s|^2 = N`` (the rescaling plays the Lagrange multiplier
    ``mu`` and absorbs the Ito drift).  Second order at ``T = 0``, weak
    order one at ``T > 0``.  ``noise`` (n_steps, N) holds the standard normals;
    the state at the step indices ``rec`` goes into ``S`` (n_rec, N) and its
    energy ``H/N`` into ``E``.
    """
    N = s.shape[0]
    n_steps = noise.shape[0]
    F0 = np.empty(N)
    F1 = np.empty(N)
    sp = np.empty(N)
    amp = math.sqrt(2.0 * temp * dt)
    r = 0
    for step in range(n_steps + 1):
        while r < rec.shape[0] and rec[r] == step:
            for i in range(N):
                S[r, i] = s[i]
            E[r] = pspin_force(p, A, s, F0) / N
            r += 1
        if step == n_steps or r == rec.shape[0]:
            break
        pspin_force(p, A, s, F0)
        mu0 = dot(s, F0) / N
        for i in range(N):
            F0[i] -= mu0 * s[i]
            sp[i] = s[i] + dt * F0[i] + amp * noise[step, i]
        nrm = math.sqrt(N / dot(sp, sp))
        for i in range(N):
            sp[i] *= nrm
        pspin_force(p, A, sp, F1)
        mu1 = dot(sp, F1) / N
        for i in range(N):
            s[i] = s[i] + 0.5 * dt * (F0[i] + F1[i] - mu1 * sp[i]) + amp * noise[step, i]
        nrm = math.sqrt(N / dot(s, s))
        for i in range(N):
            s[i] *= nrm
    return r


# ===========================================================================
# The committee machine's online SGD (one kernel for every activation), general-p
# spherical p-spin
# ===========================================================================
# Built-in activations are called by code (act_g, act_dg, inlined); custom ones
# reach the same kernel as first-class functions of type float64(float64) (Numba
# cfuncs, built by validation.committee.compile_activation), so the kernel is
# compiled and cached once for that function *type*, not once per activation.
# Each step calls g and g' only K + M times against the O((K + M) N) dot products
# and updates, so the indirect calls cost nothing measurable
# (benchmarks/validation_bench.py).


@njit(cache=True)
def fn_dg(g, dg, has_dg, u):
    """``g'(u)``: ``dg(u)`` if ``has_dg``, else the central difference of :meth:`odes.Custom.derivative`
    (step ``1e-5 max(1, |u|)``)."""
    if has_dg:
        return dg(u)
    h = 1e-5 * max(1.0, abs(u))
    return (g(u + h) - g(u - h)) / (2.0 * h)


@njit(cache=True)
def committee_g(code, g, u):
    """``g(u)``: the built-in activation :func:`act_g` of ``code`` if ``g is None``, else the
    first-class function ``g``.  Numba prunes the other branch for each type of ``g``, so the
    built-in path compiles without an indirect call in it."""
    if g is None:
        return act_g(code, u)
    return g(u)


@njit(cache=True)
def committee_dg(code, g, dg, has_dg, u):
    """``g'(u)``: :func:`act_dg` of ``code`` if ``g is None``, else :func:`fn_dg` of the
    first-class functions (branch pruned by type, as in :func:`committee_g`)."""
    if g is None:
        return act_dg(code, u)
    return fn_dg(g, dg, has_dg, u)


@njit(cache=True)
def committee_sgd(W, v, X, xi, step0, a, g, dg, has_dg):
    """Online SGD of the soft committee machine on a block of pre-drawn inputs.

    Implements, for each row ``x`` of ``X`` (one step ``mu = step0, step0+1, ...``
    at time ``t = mu / N``), the update of Saad & Solla, PRE 52, 4225 (1995),
    eq. (2), in the conventions of :class:`odes.CommitteeMachine`::

        lambda_k = w_k . x / sqrt N,   nu_m = w*_m . x / sqrt N
        Delta    = (1/c_K) sum_k v_k g(lambda_k) - (1/c_M) sum_m v*_m g(nu_m) - sigma xi
        w_k     <- (1 - eta wd / N) w_k - (eta / sqrt N) Delta (v_k / c_K) g'(lambda_k) x
        v_k     <- v_k - (eta_v / N) Delta g(lambda_k) / c_K        (if train_v)

    with ``eta = eta(t)``, ``eta_v = eta_v(t)`` from the schedule
    (:func:`lmech.blocks.schedules.lr_at`, the evaluator of the ODEs too).
    The first-layer step is ``eta / sqrt N`` times ``dL/dlambda_k x``, i.e.
    ``eta`` times the gradient of ``L = Delta^2 / 2`` with respect to ``w_k``
    (which carries its own ``1/sqrt N``): the scaling under which ``Q`` and
    ``R`` move by O(1) per unit time ``t = steps/N``, as in the ODEs.

    Parameters
    ----------
    W : ndarray (K + M, N)
        Rows ``0..K-1`` the student weights ``w_k`` (updated in place), rows
        ``K..K+M-1`` the teacher weights ``w*_m``.
    v : ndarray (K,)
        Student second-layer weights (updated in place if ``train_v``).
    X : ndarray (B, N)
        Standard Gaussian inputs, one row per step.
    xi : ndarray (B,)
        Standard Gaussian label noise, one per step (scaled by ``sqrt(noise)``).
    step0 : int
        Index of the first step of the block.
    a : odes._kernels.CommitteeArgs
        The model (:meth:`odes.CommitteeMachine.kernel_args`): ``K``, ``act``,
        ``train_v``, the rates and their schedule, ``noise``, ``wd``, ``c_k``,
        ``c_m`` and the teacher's second layer ``vt``.
    g, dg, has_dg
        ``None, None, False`` for a built-in activation (``a.act >= 0``:
        :func:`act_g` and :func:`act_dg` are called, inlined).  For a custom
        one (``a.act < 0``): ``g`` and ``g' = dg`` as first-class functions
        ``float64(float64)``, or a central difference of ``g`` if not
        ``has_dg`` (:func:`fn_dg`).  One source, two compiled (and cached)
        specialisations: the ``None`` one has no indirect call in it.

    Returns
    -------
    float
        ``sum Delta^2 / 2`` over the block (the online training loss); NaN
        propagates when the weights diverge.
    """
    B, N = X.shape
    K = a.K
    L = W.shape[0]
    M = L - K
    code = a.act
    vt = a.vt
    c_k = a.c_k
    c_m = a.c_m
    wd = a.wd
    sigma = math.sqrt(a.noise)
    sqn = math.sqrt(N)
    h = np.zeros(L)
    coef = np.zeros(K)
    loss = 0.0
    for b in range(B):
        x = X[b]
        t = (step0 + b) / N
        eta = lr_at(a.schedule, t, a.lr, a.t0, a.power)
        eta_v = lr_at(a.schedule, t, a.lr_v, a.t0, a.power)
        for l in range(L):
            h[l] = dot(W[l], x) / sqn
        phi = 0.0
        for k in range(K):
            phi += v[k] * committee_g(code, g, h[k])
        phi /= c_k
        y = 0.0
        for m in range(M):
            y += vt[m] * committee_g(code, g, h[K + m])
        y = y / c_m + sigma * xi[b]
        delta = phi - y
        loss += 0.5 * delta * delta
        for k in range(K):
            coef[k] = eta / sqn * delta * v[k] / c_k * committee_dg(code, g, dg, has_dg, h[k])
        decay = 1.0 - eta * wd / N
        for k in range(K):
            w = W[k]
            c = coef[k]
            if decay == 1.0:
                for i in range(N):
                    w[i] -= c * x[i]
            else:
                for i in range(N):
                    w[i] = decay * w[i] - c * x[i]
        if a.train_v:
            for k in range(K):
                v[k] -= eta_v / N * delta * committee_g(code, g, h[k]) / c_k
    return loss


@njit(cache=True)
def committee_outputs(F, v, code, g, c):
    """Outputs ``(1/c) sum_k v_k g(F[a, k])`` of a committee for pre-activations ``F`` (n, K):
    the built-in activation ``code`` (``g = None``) or the first-class function ``g``."""
    n, K = F.shape
    out = np.empty(n)
    for a in range(n):
        s = 0.0
        for k in range(K):
            s += v[k] * committee_g(code, g, F[a, k])
        out[a] = s / c
    return out


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


@njit(cache=True)
def pspin_force_mix(degrees, offsets, T, s, out, work):
    """``F = -grad H`` and ``H`` for a sum of dense symmetric tensors, ``H = -sum_k (1/k!) T^(k)[s, ..., s]``.

    ``T^(k)`` (degree ``degrees[j]``) is the flat slice ``T[offsets[j]:offsets[j] + N^k]``;
    ``F_i = sum_k (1/(k-1)!) T^(k)[i, s, ..., s]`` is obtained by contracting the
    last index with ``s`` repeatedly (``N^k`` multiply-adds per degree, in ``work``
    of length ``>= N^(k-1)``), and ``H = -sum_k s.F^(k)/k`` (Euler's identity for
    homogeneous polynomials).  For ``k = 2`` with ``T^(2) = J`` this is
    ``H = -(1/2) s^T J s``; for ``k = 3`` it is :func:`pspin_force` with ``p = 3``.
    """
    N = s.shape[0]
    for i in range(N):
        out[i] = 0.0
    H = 0.0
    for j in range(degrees.shape[0]):
        k = degrees[j]
        base = offsets[j]
        m = 1
        for _ in range(k - 1):
            m *= N
        # first contraction: work[r] = T[r, :] . s over the N^(k-1) rows
        for r in range(m):
            acc0 = 0.0
            acc1 = 0.0
            row = base + r * N
            n2 = N - N % 2
            for q in range(0, n2, 2):
                acc0 += T[row + q] * s[q]
                acc1 += T[row + q + 1] * s[q + 1]
            if n2 < N:
                acc0 += T[row + N - 1] * s[N - 1]
            work[r] = acc0 + acc1
        # further contractions in place (row r reads work[rN : rN + N], never yet overwritten)
        while m > N:
            m //= N
            for r in range(m):
                acc = 0.0
                for q in range(N):
                    acc += work[r * N + q] * s[q]
                work[r] = acc
        fact = 1.0
        for q in range(2, k):
            fact *= q
        sf = 0.0
        for i in range(N):
            fi = work[i] / fact
            out[i] += fi
            sf += s[i] * fi
        H -= sf / k
    return H


@njit(cache=True)
def pspin_langevin_mix(degrees, offsets, T, s, dt, temp, noise, rec, S, E):
    """:func:`pspin_langevin` (projected Heun on ``|s|^2 = N``) with the force of
    :func:`pspin_force_mix`: any pure degree ``p`` or mixture of degrees."""
    N = s.shape[0]
    kmax = 2
    for j in range(degrees.shape[0]):
        if degrees[j] > kmax:
            kmax = degrees[j]
    wlen = 1
    for _ in range(kmax - 1):
        wlen *= N
    work = np.empty(wlen)
    n_steps = noise.shape[0]
    F0 = np.empty(N)
    F1 = np.empty(N)
    sp = np.empty(N)
    amp = math.sqrt(2.0 * temp * dt)
    r = 0
    for step in range(n_steps + 1):
        while r < rec.shape[0] and rec[r] == step:
            for i in range(N):
                S[r, i] = s[i]
            E[r] = pspin_force_mix(degrees, offsets, T, s, F0, work) / N
            r += 1
        if step == n_steps or r == rec.shape[0]:
            break
        pspin_force_mix(degrees, offsets, T, s, F0, work)
        mu0 = dot(s, F0) / N
        for i in range(N):
            F0[i] -= mu0 * s[i]
            sp[i] = s[i] + dt * F0[i] + amp * noise[step, i]
        nrm = math.sqrt(N / dot(sp, sp))
        for i in range(N):
            sp[i] *= nrm
        pspin_force_mix(degrees, offsets, T, sp, F1, work)
        mu1 = dot(sp, F1) / N
        for i in range(N):
            s[i] = s[i] + 0.5 * dt * (F0[i] + F1[i] - mu1 * sp[i]) + amp * noise[step, i]
        nrm = math.sqrt(N / dot(s, s))
        for i in range(N):
            s[i] *= nrm
    return r


def _ident(u):
    return u


def _one(u):
    return 1.0


@register_warmup("validation._kernels")
def warmup():
    """Compile every kernel of this module once on tiny inputs."""
    N, K, M = 4, 2, 1
    W = np.full((K + M, N), 0.1)
    v = np.ones(K)
    vt = np.ones(M)
    X = np.ones((2, N))
    xi = np.zeros(2)
    from odes._kernels import CommitteeArgs  # the type odes.CommitteeMachine.kernel_args builds

    from numba import cfunc

    gf = cfunc("float64(float64)", cache=True)(_ident)
    dgf = cfunc("float64(float64)", cache=True)(_one)
    for code in (ERF, RELU, LINEAR, QUADRATIC):
        dot(X[0], X[1])
    for code, fns in ((ERF, (None, None, False)), (-1, (gf, dgf, True)), (-1, (gf, dgf, False))):
        a = CommitteeArgs(act=code, K=K, M=M, train_v=True, lr=0.1, lr_v=0.1, schedule=1, t0=1.0,
                          power=0.5, noise=0.01, wd=0.1, c_k=1.0, c_m=1.0, vt=vt, T=np.eye(M),
                          v0=np.ones(K), u=np.ones(2), wu=np.ones(2))
        if fns[0] is not None:
            fn_dg(*fns, 0.3)
        committee_sgd(W, v, X, xi, 0, a, *fns)
        committee_outputs(np.ones((2, K)), v, code, fns[0], 1.0)
    svm_dual_cd(np.ones((3, 2)), 0.5, np.zeros(3), np.zeros(2), 1e-8, 2)
    binary_feasible(np.ones((3, 2)), 0.0)
    T3 = pspin3_tensor(np.ones(4), 4)
    s4 = np.ones(4)
    rec = np.array([0, 1], dtype=np.int64)
    for pp, A in ((2, np.eye(4)[None]), (3, T3)):
        pspin_force(pp, A, s4, np.empty(4))
        pspin_langevin(pp, A, s4.copy(), 0.1, 0.1, np.zeros((1, 4)), rec, np.empty((2, 4)), np.empty(2))
    max_stability_cd(np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2), np.zeros(2), np.zeros(2),
                     0.5, 1e-9, 2)
    T4 = np.ones(4 ** 4)
    deg = np.array([2, 4], dtype=np.int64)
    off = np.array([0, 16], dtype=np.int64)
    Tm = np.concatenate((np.eye(4).ravel(), T4))
    pspin_force_mix(deg, off, Tm, s4, np.empty(4), np.empty(64))
    pspin_langevin_mix(deg, off, Tm, s4.copy(), 0.1, 0.1, np.zeros((1, 4)), rec, np.empty((2, 4)),
                       np.empty(2))


# ===========================================================================
# GLM dynamics section (square / logistic / hinge, Langevin, persistent SGD): BEGIN
GLM_SQUARE, GLM_LOGISTIC, GLM_HINGE = SQUARE, LOGISTIC, HINGE


@njit(cache=True)
def glm_loss_terms(loss, par, y, h, s, binv, g, ell):
    """Per-sample ``g = (s/b) d ell/dh`` and ``ell(y, h)`` (all samples), in place.

    ``loss``, ``par``: code and parameters of a :mod:`lmech.blocks.losses`
    loss (square ``(y-h)^2/2``; logistic ``log(1 + e^{-y h})``; hinge
    ``max(0, 1 - y h)`` with subgradient 0 at the kink ``y h = 1``; ...).
    Returns the mean loss.
    """
    n = y.shape[0]
    tot = 0.0
    for mu in range(n):
        v = loss_value(loss, par, y[mu], h[mu])
        g[mu] = s[mu] * binv * loss_d1(loss, par, y[mu], h[mu])
        ell[mu] = v
        tot += v
    return tot / n


@njit(cache=True)
def sgd_switch(s, u, p11, p01):
    """One exact step of the persistent-SGD selection chain: ``s' = [u < p11]`` if ``s = 1``, else ``[u < p01]``."""
    for mu in range(s.shape[0]):
        p = p11 if s[mu] == 1.0 else p01
        s[mu] = 1.0 if u[mu] < p else 0.0


@register_warmup("validation._kernels.glm")
def _warmup_glm():
    """Compile the GLM-dynamics kernels once on tiny inputs."""
    y = np.array([1.0, -1.0, 1.0])
    h = np.array([0.3, 0.2, 1.0])
    s = np.ones(3)
    for loss in (GLM_SQUARE, GLM_LOGISTIC, GLM_HINGE):
        glm_loss_terms(loss, np.zeros(1), y, h, s, 1.0, np.empty(3), np.empty(3))
    sgd_switch(s, np.full(3, 0.5), 0.9, 0.1)
# GLM dynamics section: END
# ===========================================================================

"""Numba kernels of :mod:`validation.committee`: online SGD of the soft committee machine.

Pure functions of float64 arrays and scalars (no globals, no Python objects, no
``fastmath``); random numbers are pre-drawn by the Python wrapper from a
:class:`numpy.random.Generator` and passed in, so a run is reproducible from its
seed alone.

Built-in activations are called by code (act_g, act_dg, inlined); custom ones
reach the same kernel as first-class functions of type float64(float64) (Numba
cfuncs, built by validation.committee.compile_activation), so the kernel is
compiled and cached once for that function *type*, not once per activation.
Each step calls g and g' only K + M times against the O((K + M) N) dot products
and updates, so the indirect calls cost nothing measurable
(benchmarks/validation_bench.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lmech.blocks.activations import ERF_SQRT2, act_dg, act_g
from lmech.blocks.schedules import lr_at
from lmech.warm import register_warmup

from .common import dot


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


def _ident(u):
    return u


def _one(u):
    return 1.0


@register_warmup("validation._kernels.committee")
def warmup():
    """Compile the committee kernels (built-in and first-class activations) on tiny inputs."""
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
    for code, fns in ((ERF_SQRT2, (None, None, False)), (-1, (gf, dgf, True)), (-1, (gf, dgf, False))):
        a = CommitteeArgs(act=code, K=K, M=M, train_v=True, lr=0.1, lr_v=0.1, schedule=1, t0=1.0,
                          power=0.5, noise=0.01, wd=0.1, c_k=1.0, c_m=1.0, vt=vt, T=np.eye(M),
                          v0=np.ones(K), u=np.ones(2), wu=np.ones(2))
        if fns[0] is not None:
            fn_dg(*fns, 0.3)
        committee_sgd(W, v, X, xi, 0, a, *fns)
        committee_outputs(np.ones((2, K)), v, code, fns[0], 1.0)

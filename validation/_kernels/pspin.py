"""Numba kernels of :func:`validation.simulate_pspin`: Langevin dynamics of the spherical
p-spin (pure ``p = 2, 3`` and mixtures) on the sphere ``|s|^2 = N``.

Pure functions of float64 arrays and scalars (no globals, no Python objects, no
``fastmath``); random numbers are pre-drawn by the Python wrapper from a
:class:`numpy.random.Generator` and passed in, so a run is reproducible from its
seed alone.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lmech.warm import register_warmup

from .common import dot


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


@register_warmup("validation._kernels.pspin")
def warmup():
    """Compile the p-spin kernels (p = 2, 3 and a 2+4 mixture) on tiny inputs."""
    T3 = pspin3_tensor(np.ones(4), 4)
    s4 = np.ones(4)
    rec = np.array([0, 1], dtype=np.int64)
    for pp, A in ((2, np.eye(4)[None]), (3, T3)):
        pspin_force(pp, A, s4, np.empty(4))
        pspin_langevin(pp, A, s4.copy(), 0.1, 0.1, np.zeros((1, 4)), rec, np.empty((2, 4)), np.empty(2))
    T4 = np.ones(4 ** 4)
    deg = np.array([2, 4], dtype=np.int64)
    off = np.array([0, 16], dtype=np.int64)
    Tm = np.concatenate((np.eye(4).ravel(), T4))
    pspin_force_mix(deg, off, Tm, s4, np.empty(4), np.empty(64))
    pspin_langevin_mix(deg, off, Tm, s4.copy(), 0.1, 0.1, np.zeros((1, 4)), rec, np.empty((2, 4)),
                       np.empty(2))

"""Gaussian integrals of the committee-machine ODEs, for any activation.

For a zero-mean Gaussian vector with covariance ``C``:

* ``I2(C) = E[g(x1) g(x2)]``
* ``I3(C) = E[g'(x1) x2 g(x3)]``
* ``I4(C) = E[g'(x1) g'(x2) g(x3) g(x4)]``
* ``J2(C) = E[g'(x1) g'(x2)]``

(Saad & Solla, PRE 52, 4225 (1995), appendix; Goldt et al., NeurIPS 2019,
supplementary material).  ``activation`` is ``"erf"`` (``erf(u/sqrt 2)``,
closed forms), ``"relu"`` (closed ``I2``, ``I3``, ``J2``; ``I4`` reduced by
Stein's lemma to orthant probabilities with one 1-D Gauss-Legendre integral),
``"linear"``, ``"quadratic"`` (Isserlis), or a :class:`odes.model.Custom`
activation, integrated with a Gauss-Hermite product rule of ``n_nodes`` per
dimension (:func:`gauss_expect`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from lmech.checks import check_int, check_psd

from . import _kernels
from .model import ACTIVATIONS, NODE_LEVELS, NODE_RTOL, Custom, odes_activation

__all__ = ["I2", "I3", "I4", "J2", "gauss_expect", "legendre01"]


#: The graded Gauss-Legendre rule of the ReLU ``I4`` (it lives with the kernel that uses it).
legendre01 = _kernels.legendre01


def gauss_expect(funcs, cov, n_nodes: int) -> float:
    """``E[prod_i f_i(x_i)]`` for ``x ~ N(0, cov)`` by a Gauss-Hermite product rule.

    Uses the symmetric square root of ``cov`` (so singular covariances are
    fine) and ``n_nodes**d`` points in ``d = len(funcs)`` dimensions.
    """
    if isinstance(funcs, (str, bytes)) or not hasattr(funcs, "__len__") or len(funcs) == 0 \
            or not all(callable(f) for f in funcs):
        raise ValueError(f"funcs must be a non-empty sequence of callables, got {funcs!r:.80}")
    d = len(funcs)
    cov = check_psd("cov", cov, tol=1e-10)
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}) (one row per function), got {cov.shape}")
    n_nodes = check_int("n_nodes", n_nodes, low=1, high=200)
    if n_nodes ** d > 20_000_000:
        raise ValueError(f"n_nodes = {n_nodes} in d = {d} dimensions is {float(n_nodes) ** d:.3g} points, "
                         "above 2e7 (the memory of the product rule)")
    lam, U = np.linalg.eigh(cov)
    Lm = U * np.sqrt(np.clip(lam, 0.0, None))
    z, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    grids = np.meshgrid(*([z] * d), indexing="ij")
    Z = np.stack([g.ravel() for g in grids], axis=1)
    W = np.ones(Z.shape[0])
    wg = np.meshgrid(*([w] * d), indexing="ij")
    for g in wg:
        W = W * g.ravel()
    X = Z @ Lm.T
    prod = np.ones(Z.shape[0])
    for i, f in enumerate(funcs):
        prod = prod * f(X[:, i])
    return float(W @ prod)


def _refined(evaluate, activation, d):
    """``evaluate(n)`` at ``activation.n_nodes``, or refined through :data:`NODE_LEVELS`.

    Refinement stops when two successive levels agree to ``NODE_RTOL``
    relative, or at the last level affordable in ``d`` dimensions (at most
    ``2e7`` points).
    """
    if activation.n_nodes is not None:
        return evaluate(activation.n_nodes)
    prev = None
    for n in NODE_LEVELS:
        if n ** d > 20_000_000:
            break
        val = evaluate(n)
        if prev is not None and abs(val - prev) <= NODE_RTOL * max(abs(val), 1e-300):
            return val
        prev = val
    return prev


def _cov(C, n):
    C = check_psd("C", C, tol=1e-10)
    if C.shape != (n, n):
        raise ValueError(f"C must have shape ({n}, {n}), got {C.shape}")
    return C


#: Points at which a :class:`Custom` activation (and its derivative) must return finite reals
#: before any work: the nodes of the quadrature rules of unit-variance fields lie within them.
PROBE_U = np.linspace(-8.0, 8.0, 33)


def probe_custom(act) -> None:
    """Raise ``ValueError`` naming ``activation`` if ``act.g`` (or its derivative) maps
    :data:`PROBE_U` to complex or non-finite values: checked before any work.

    A function that does not take arrays (a scalar function, as the compiled kernels of
    :mod:`validation` take) or returns another shape is not judged here: the quadrature
    rules, which need vectorised functions, report it when they call it."""
    for label, fun in (("g", act.g), ("dg", act.dg if act.dg is not None else act.derivative)):
        try:
            val = np.asarray(fun(PROBE_U.copy()))
        except Exception:  # noqa: BLE001  (not vectorised: not judged here)
            continue
        if val.shape != PROBE_U.shape:
            continue
        if val.dtype.kind not in "iuf":
            raise ValueError(f"activation: {label} must map a float64 array to real numbers of the "
                             f"same shape, got dtype {val.dtype}, shape {val.shape}")
        bad = ~np.isfinite(val)
        if np.any(bad):
            raise ValueError(f"activation: {label} returned non-finite values at u = "
                             f"{PROBE_U[bad][:3].tolist()} (it must be finite on [-8, 8])")


def _code(activation):
    if isinstance(activation, Custom):
        if not activation.resolved:
            raise ValueError(f"activation is the stored name {activation.g!r}, not a callable")
        probe_custom(activation)
        return -1
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))} "
                         f"or an odes.Custom (or a lmech.blocks.activations block), got {activation!r}")
    return ACTIVATIONS[activation]


def _ident(u):
    return u


def I2(activation, C) -> float:
    """``E[g(x1) g(x2)]`` for the 2x2 covariance ``C``.

    Parameters
    ----------
    activation : str or Custom
        ``"erf"`` (``erf(u/sqrt 2)``; Saad & Solla 1995, appendix), ``"relu"``
        (arc-cosine kernel, Stein's lemma), ``"linear"``, ``"quadratic"``
        (Isserlis), or a :class:`Custom` activation (Gauss-Hermite, its
        ``n_nodes`` per dimension, or refined to ``1e-8`` relative when
        ``n_nodes`` is None).
    C : array_like
        Symmetric positive-semidefinite covariance of the Gaussian fields.

    Returns
    -------
    float
    """
    C = _cov(C, 2)
    activation = odes_activation(activation)
    code = _code(activation)
    if code < 0:
        return _refined(lambda n: gauss_expect([activation.g, activation.g], C, n), activation, 2)
    return float(_kernels.i2_act(code, C[0, 0], C[0, 1], C[1, 1]))


def I3(activation, C) -> float:
    """``E[g'(x1) x2 g(x3)]`` for the 3x3 covariance ``C``.

    Parameters
    ----------
    activation : str or Custom
        ``"erf"`` (``erf(u/sqrt 2)``; Saad & Solla 1995, appendix), ``"relu"``
        (arc-cosine kernel, Stein's lemma), ``"linear"``, ``"quadratic"``
        (Isserlis), or a :class:`Custom` activation (Gauss-Hermite, its
        ``n_nodes`` per dimension, or refined to ``1e-8`` relative when
        ``n_nodes`` is None).
    C : array_like
        Symmetric positive-semidefinite covariance of the Gaussian fields.

    Returns
    -------
    float
    """
    C = _cov(C, 3)
    activation = odes_activation(activation)
    code = _code(activation)
    if code < 0:
        return _refined(lambda n: gauss_expect([activation.derivative, _ident, activation.g], C, n), activation, 3)
    return float(_kernels.i3_act(code, C[0, 0], C[0, 1], C[0, 2], C[1, 1], C[1, 2], C[2, 2]))


def J2(activation, C) -> float:
    """``E[g'(x1) g'(x2)]`` for the 2x2 covariance ``C``.

    Parameters
    ----------
    activation : str or Custom
        ``"erf"`` (``erf(u/sqrt 2)``; Saad & Solla 1995, appendix), ``"relu"``
        (arc-cosine kernel, Stein's lemma), ``"linear"``, ``"quadratic"``
        (Isserlis), or a :class:`Custom` activation (Gauss-Hermite, its
        ``n_nodes`` per dimension, or refined to ``1e-8`` relative when
        ``n_nodes`` is None).
    C : array_like
        Symmetric positive-semidefinite covariance of the Gaussian fields.

    Returns
    -------
    float
    """
    C = _cov(C, 2)
    activation = odes_activation(activation)
    code = _code(activation)
    if code < 0:
        return _refined(lambda n: gauss_expect([activation.derivative, activation.derivative], C, n), activation, 2)
    return float(_kernels.j2_act(code, C[0, 0], C[0, 1], C[1, 1]))


def I4(activation, C, *, labels=(0, 1, 2, 3), quad_nodes: int = 12) -> float:
    """``E[g'(x1) g'(x2) g(x3) g(x4)]`` for the 4x4 covariance ``C``.

    Parameters
    ----------
    labels : tuple of 4 ints
        Equal labels mark the *same* random variable (e.g. ``I4(i, i, c, d)``
        in the ODEs); only the ReLU reduction uses them, to merge factors
        exactly.  The covariance must then have equal rows for them.
    quad_nodes : int
        Gauss-Legendre nodes per panel for the ReLU 4-variable orthant
        probability (:func:`legendre01`).
    """
    C = _cov(C, 4)
    activation = odes_activation(activation)
    code = _code(activation)
    quad_nodes = check_int("quad_nodes", quad_nodes, low=2, high=400)
    if code < 0:
        d = activation.derivative
        return _refined(lambda n: gauss_expect([d, d, activation.g, activation.g], C, n), activation, 4)
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__") or len(labels) != 4 \
            or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in labels):
        raise ValueError(f"labels must be 4 integers, got {labels!r:.80}")
    lab = np.asarray(labels, dtype=np.int64)
    u, wu = legendre01(quad_nodes)
    return float(_kernels.i4_act(code, C, lab, u, wu))


# ---------------------------------------------------------------------------
# the ODE coefficients for a Custom activation (numpy, vectorised)
# ---------------------------------------------------------------------------
def _batched_expect(fs, covs, n_nodes):
    """``gauss_expect`` for a batch of covariances ``covs`` (B, d, d)."""
    d = covs.shape[-1]
    lam, U = np.linalg.eigh(covs)
    Lm = U * np.sqrt(np.clip(lam, 0.0, None))[:, None, :]
    z, w = _hermite_grid(n_nodes, d)
    out = np.empty(covs.shape[0])
    chunk = max(1, 2_000_000 // z.shape[0])  # bound the memory of the node array
    for b0 in range(0, covs.shape[0], chunk):
        X = np.einsum("pj,bij->bpi", z, Lm[b0: b0 + chunk])
        prod = np.ones(X.shape[:2])
        for i, f in enumerate(fs):
            prod = prod * f(X[:, :, i])
        out[b0: b0 + chunk] = prod @ w
    return out


@lru_cache(maxsize=16)
def _hermite_grid(n, d):
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    grids = np.meshgrid(*([z] * d), indexing="ij")
    Z = np.stack([g.ravel() for g in grids], axis=1)
    W = np.ones(Z.shape[0])
    for g in np.meshgrid(*([w] * d), indexing="ij"):
        W = W * g.ravel()
    return Z, W


def custom_i2(act: Custom, C):
    """``G[c, d] = I2(c, d)`` for all pairs of fields with covariance ``C``.

    Two-dimensional averages, so at least 48 nodes per dimension (2304 points):
    ``eg`` is then exact to rounding for smooth activations such as ``tanh``.
    ``act.n_nodes`` must be resolved (an int).
    """
    L = C.shape[0]
    ii, jj = np.triu_indices(L)
    c2 = np.stack([np.stack([C[ii, ii], C[ii, jj]], -1), np.stack([C[jj, ii], C[jj, jj]], -1)], -2)
    G = np.empty((L, L))
    vals = _batched_expect([act.g, act.g], c2, max(act.n_nodes, 48))
    G[ii, jj] = vals
    G[jj, ii] = vals
    return G


def custom_coefficients(act: Custom, C, w, K):
    """``A, B, J, G`` of :func:`odes._kernels.coefficients` for a :class:`Custom` activation.

    The sums over teacher and student fields are taken inside one Gaussian
    average over all ``L = K + M`` fields (``Delta = sum_c w_c g(x_c)``, the
    output error)::

        A[i, b] = E[g'(x_i) x_b Delta],   B[i, k] = E[g'(x_i) g'(x_k) Delta^2],
        J[i, k] = E[g'(x_i) g'(x_k)],      G[c, d] = E[g(x_c) g(x_d)]

    on one Gauss-Hermite product rule in the ``r = rank C`` principal
    directions of ``C`` (``n_nodes**r`` points, every function evaluated once
    per point).  When that rule would exceed 4e6 points (``r >= 5`` with many
    nodes) the pairwise 3- and 4-dimensional rules are used instead.
    """
    C = np.asarray(C, dtype=float)
    L = C.shape[0]
    n = act.n_nodes
    lam, U = np.linalg.eigh(C)
    keep = lam > 1e-14 * max(1.0, float(lam.max()))
    r = int(keep.sum())
    if r == 0 or n ** r > 4_000_000:
        return _custom_coefficients_pairwise(act, C, w, K)
    Lm = U[:, keep] * np.sqrt(lam[keep])  # x = Lm z, z ~ N(0, I_r)
    Z, Wt = _hermite_grid(n, r)
    g, dg = act.g, act.derivative
    A = np.zeros((K, L))
    B = np.zeros((K, K))
    J = np.zeros((K, K))
    G = np.zeros((L, L))
    chunk = max(1, 400_000 // L)
    for p0 in range(0, Z.shape[0], chunk):
        X = Z[p0: p0 + chunk] @ Lm.T
        wt = Wt[p0: p0 + chunk]
        gx = g(X)
        dx = dg(X[:, :K])
        delta = gx @ w
        G += gx.T @ (gx * wt[:, None])
        J += dx.T @ (dx * wt[:, None])
        A += (dx * (wt * delta)[:, None]).T @ X
        B += dx.T @ (dx * (wt * delta * delta)[:, None])
    return A, B, J, G


def _custom_coefficients_pairwise(act: Custom, C, w, K):
    """``A, B, J, G`` integral by integral (3- and 4-dimensional rules): for large ``K + M``."""
    L = C.shape[0]
    n = act.n_nodes
    g, dg = act.g, act.derivative
    G = custom_i2(act, C)
    # I3(i, b, c) for all i < K, b, c
    idx = np.array([(i, b, c) for i in range(K) for b in range(L) for c in range(L)])
    c3 = C[idx[:, :, None], idx[:, None, :]]
    I3v = _batched_expect([dg, _ident, g], c3, n).reshape(K, L, L)
    A = I3v @ w
    ik = [(i, k) for i in range(K) for k in range(i, K)]
    cd = [(c, d) for c in range(L) for d in range(c, L)]
    idx4 = np.array([(i, k, c, d) for (i, k) in ik for (c, d) in cd])
    c4 = C[idx4[:, :, None], idx4[:, None, :]]
    I4v = _batched_expect([dg, dg, g, g], c4, n).reshape(len(ik), len(cd))
    wt = np.array([(1.0 if c == d else 2.0) * w[c] * w[d] for (c, d) in cd])
    Bv = I4v @ wt
    idxj = np.array(ik)
    cj = C[idxj[:, :, None], idxj[:, None, :]]
    Jv = _batched_expect([dg, dg], cj, n)
    B = np.empty((K, K))
    J = np.empty((K, K))
    for p, (i, k) in enumerate(ik):
        B[i, k] = B[k, i] = Bv[p]
        J[i, k] = J[k, i] = Jv[p]
    return A, B, J, G

"""Kernel ridge regression learning curves (Canatar, Bordelon & Pehlevan 2021), solved on their own.

Canatar, Bordelon & Pehlevan, "Spectral bias and task-model alignment explain
generalization in kernel regression and infinitely wide neural networks",
Nat. Commun. 12, 2914 (2021), eq. (4) and the definitions below it.  KRR with
``P`` samples, kernel eigenvalues ``eta_k``, target ``f* = sum_k c_k phi_k``
(``E phi_k phi_l = delta_kl``; Canatar's ``wbar_k`` is ``c_k / sqrt(eta_k)``),
label noise of variance ``sigma**2`` and ridge ``lambda`` on
``sum_mu (f(x_mu) - y_mu)**2 + lambda |f|_H**2``:

    kappa = lambda + kappa sum_k eta_k / (P eta_k + kappa),
    gamma = sum_k P eta_k**2 / (P eta_k + kappa)**2,
    E_g = [sum_k kappa**2 c_k**2 / (P eta_k + kappa)**2 + sigma**2 gamma] / (1 - gamma),

``E_g`` the error against the target (without the test-label noise).  These
functions solve the ``kappa`` equation directly (Brent's method in ``kappa``,
then Newton polishing), independently of :func:`replica.gcm.ridge.solve_ridge`;
:meth:`replica.GaussianCovariateModel.from_kernel` maps the same problem onto the
GCM (``omega_k = p eta_k``, ``theta_k**2 = c_k**2 / eta_k``, ``alpha = P/p``,
Canatar's ``kappa = alpha t``), and a test holds the two to rounding.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from lmech.checks import check_array, check_real

__all__ = ["canatar_kappa", "canatar_learning_curve"]


def _spectrum(eigenvalues):
    eta = check_array("eigenvalues", eigenvalues, ndim=1, min_size=1)
    if not np.all(eta > 0.0):
        raise ValueError(f"eigenvalues must be > 0, got min {eta.min()!r}")
    return eta


def canatar_kappa(eigenvalues, n, reg) -> float:
    """Self-consistent ``kappa`` of Canatar et al. (Nat. Commun. 2021, eq. (4)).

    ``kappa = reg + kappa sum_k eta_k / (n eta_k + kappa)`` for ``reg > 0``;
    for ``reg = 0`` the ridgeless root ``sum_k eta_k / (n eta_k + kappa) = 1``,
    which exists for ``n`` below the number of modes (``kappa = 0`` above it).
    Solved by Brent's method on ``f(kappa) = 1 - reg/kappa - sum_k eta_k/(n eta_k + kappa)``
    in a bracket where it changes sign, then two Newton steps (to rounding).
    """
    eta = _spectrum(eigenvalues)
    n = check_real("n", n, low=0.0, low_open=True)
    lam = check_real("reg", reg, low=0.0)
    if lam == 0.0 and n >= eta.size:
        if n == eta.size:
            raise ValueError("n: the ridgeless kappa at n = number of modes is the interpolation threshold")
        return 0.0

    def f(k):
        return 1.0 - lam / k - float(np.sum(eta / (n * eta + k)))

    def df(k):
        return lam / k ** 2 + float(np.sum(eta / (n * eta + k) ** 2))

    # f increases from -inf (or 1 - sum 1/n < 0 when n < modes) to 1: bracket by doubling
    hi = lam + float(np.sum(eta)) + 1e-300
    while f(hi) <= 0.0:
        hi *= 2.0
    lo = hi
    while f(lo) >= 0.0:
        lo *= 0.5
    k = brentq(f, lo, hi, xtol=1e-300, rtol=4.0 * np.finfo(float).eps, maxiter=500)
    for _ in range(2):
        k = k - f(k) / df(k)
    return float(k)


def canatar_learning_curve(eigenvalues, target_coef, n, reg, noise=0.0) -> dict:
    """Generalisation error of kernel ridge regression (Canatar et al. 2021, eq. (4)).

    Parameters
    ----------
    eigenvalues : array (M,)
        Kernel eigenvalues ``eta_k > 0``.
    target_coef : array (M,)
        Target coefficients ``c_k`` in the orthonormal eigenbasis (``f* = sum c_k phi_k``).
    n : float or array
        Number of samples ``P``.
    reg : float
        Ridge ``lambda >= 0`` on ``sum (f - y)**2 + lambda |f|_H**2``.
    noise : float
        Label-noise variance ``sigma**2``.

    Returns
    -------
    dict
        ``kappa``, ``gamma``, ``E_g`` (error against the target), ``E_g_noisy``
        (``+ sigma**2``), arrays of the shape of ``n``.
    """
    eta = _spectrum(eigenvalues)
    c = check_array("target_coef", target_coef, shape=eta.shape)
    lam = check_real("reg", reg, low=0.0)
    s2 = check_real("noise", noise, low=0.0)
    ns = np.atleast_1d(np.asarray(n, dtype=float))
    out = {k: np.empty(ns.shape) for k in ("kappa", "gamma", "E_g", "E_g_noisy")}
    c2 = c * c
    for i, P in enumerate(ns):
        k = canatar_kappa(eta, P, lam)
        d = P * eta + k
        gamma = float(np.sum(P * eta ** 2 / d ** 2))
        bias = float(np.sum(k * k * c2 / d ** 2))
        E = (bias + s2 * gamma) / (1.0 - gamma)
        out["kappa"][i], out["gamma"][i], out["E_g"][i], out["E_g_noisy"][i] = k, gamma, E, E + s2
    if np.ndim(n) == 0:
        return {k: float(v[0]) for k, v in out.items()}
    return out

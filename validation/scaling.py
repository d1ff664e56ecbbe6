"""Finite-size random-feature training matching :class:`dmft.RandomFeatureScaling`.

:func:`simulate_scaling` draws one instance -- the projection ``A`` (N x M,
iid N(0, 1)), ``P`` Gaussian samples ``psi ~ N(0, diag(lam))`` and label
noise -- and solves the training *exactly* in the eigenbasis of the empirical
kernel ``K = X^T X / P + ridge`` (``X = Psi A^T / sqrt N``): gradient flow
``w(t) = K^-1 (1 - e^{-K t}) X^T y / P``, gradient descent ``w_n = K^-1 (1 -
(1 - lr K)^n) X^T y / P``.  The test loss is exact given the instance:
``(w* - A^T w/sqrt N)^T Lambda (w* - A^T w/sqrt N) + noise``.

The theory is a deterministic equivalent, exact as ``N, P, M -> infinity`` at
fixed ratios.  The simulator's size is a replication factor ``s``: every
eigenvalue is repeated ``s`` times (its task power split among the copies)
and ``N, P`` are multiplied by ``s``; the theory is the same for every ``s``
(``D``, ``N``, ``P`` in its equation (1) all scale by ``s``), so
:func:`validation.compare` extrapolates ``s -> infinity`` with the usual
``1/s`` correction.  An infinite ``N`` (``N = 0``) trains ``v`` in ``R^M``
directly; an infinite ``P`` uses the population kernel.
"""

from __future__ import annotations

import math
import time

import numpy as np

from lmech.checks import check_array
from lmech.result import Result, register_result
from lmech.status import Status

from .compare import Simulator, register_simulator

__all__ = ["ScalingRun", "simulate_scaling", "scaling_point"]


@register_result("validation.ScalingRun")
class ScalingRun(Result):
    """One finite-size random-feature training run.

    Arrays: ``t``, ``loss`` (test loss on it) and ``train_loss`` (``|y - X w|^2/P``;
    NaN for an infinite ``P``).  Scalars: ``scale``, ``N``,
    ``P``, ``M`` (the replicated sizes), ``seed``.  ``error_estimate`` 0: the
    loss is an exact function of the sampled instance (eigenbasis), up to
    rounding.
    """


def _instance(model, scale):
    lam, pw = model.spectrum()
    lam = np.repeat(lam, scale)
    pw = np.repeat(pw, scale) / scale
    N = int(round(model.N * scale)) if model.N else 0
    P = int(round(model.P * scale)) if model.P else 0
    return lam, pw, N, P


def simulate_scaling(model, times, *, scale: int = 1, seed: int = 0) -> ScalingRun:
    """Exact training of one random instance of ``model`` (see the module docstring).

    Parameters
    ----------
    model : dmft.RandomFeatureScaling
    times : array_like
        Increasing times ``>= 0`` (gradient descent: multiples of ``lr``).
    scale : int
        Replication factor ``s >= 1`` of the spectrum and of ``N``, ``P``.
    seed : int
        Seed of the instance.
    """
    import dmft

    if not isinstance(model, dmft.RandomFeatureScaling):
        raise ValueError(f"model must be a dmft.RandomFeatureScaling, got {type(model).__name__}")
    t0 = time.perf_counter()
    ts = check_array("times", times, ndim=1, min_size=1)
    if np.any(ts < 0) or np.any(np.diff(ts) <= 0):
        raise ValueError("times must be strictly increasing and >= 0")
    if not (isinstance(scale, (int, np.integer)) and scale >= 1):
        raise ValueError(f"scale must be an int >= 1, got {scale!r}")
    if model.lr > 0:
        steps = ts / model.lr
        if np.any(np.abs(steps - np.round(steps)) > 1e-9 * np.maximum(1.0, steps)):
            raise ValueError("times must be multiples of lr (t = lr x steps) for gradient descent")
    lam, pw, N, P = _instance(model, int(scale))
    M = lam.size
    if N * max(P, 1) * M > 4e10:
        raise ValueError(f"scale: N P M = {N * P * M:.3g} is too large for an exact run")
    rng = np.random.default_rng(seed)
    wstar = np.sqrt(pw / lam)
    sq = np.sqrt(lam)
    A = rng.standard_normal((N, M)) / math.sqrt(N) if N else None  # A / sqrt(N)
    if P:
        Psi = rng.standard_normal((P, M)) * sq
        y = Psi @ wstar
        if model.noise > 0:
            y = y + math.sqrt(model.noise) * rng.standard_normal(P)
        X = Psi @ A.T if N else Psi
        K = X.T @ X / P
        bvec = X.T @ y / P
    else:
        # population: E phi phi^T, E phi y
        if N:
            AL = A * lam
            K = AL @ A.T
            bvec = AL @ wstar
        else:
            K = np.diag(lam)
            bvec = lam * wstar
    K = K + model.ridge * np.eye(K.shape[0])
    ev, V = np.linalg.eigh(K)
    ev = np.maximum(ev, 0.0)
    c = V.T @ bvec
    loss = np.empty(ts.size)
    train = np.full(ts.size, np.nan)
    for i, t in enumerate(ts):
        if model.lr > 0:
            n = int(round(t / model.lr))
            base = 1.0 - model.lr * ev
            with np.errstate(over="ignore", invalid="ignore"):
                # (1 - (1 - lr ev)^n) / ev: through log1p where 1 - lr ev > 0 (no cancellation), as a
                # power of the (negative) base where lr ev >= 1 (oscillating or diverging modes)
                stable = base > 0
                decay = np.where(stable, -np.expm1(n * np.log1p(-np.where(stable, model.lr * ev, 0.0))),
                                 1.0 - base ** n)
            g = np.where(ev > 0, decay / np.where(ev > 0, ev, 1.0), n * model.lr)
        else:
            x = ev * t
            g = np.where(x > 1e-300, -np.expm1(-x) / np.where(ev > 0, ev, 1.0), t)
        with np.errstate(over="ignore", invalid="ignore"):   # a diverging run overflows: reported below
            w = V @ (g * c)
            v = A.T @ w if N else w
            e = wstar - v
            loss[i] = float(e @ (lam * e)) + model.noise
            if P:
                r = y - X @ w
                train[i] = float(r @ r) / P
    # gradient descent diverges once lr times the top eigenvalue exceeds 2 (the losses are still exact
    # where finite); a non-finite loss is never reported as success
    finite = bool(np.all(np.isfinite(loss))) and not (model.lr > 0 and model.lr * ev.max() > 2.0)
    return ScalingRun(success=finite, status=Status.CONVERGED if finite else Status.DIVERGED,
                      message="" if finite else "gradient descent diverges (lr times the top eigenvalue > 2)",
                      n_iter=1, model=model, options={"scale": int(scale), "seed": seed},
                      arrays={"t": ts, "loss": loss, "train_loss": train},
                      scalars={"scale": int(scale), "N": N, "P": P, "M": M, "seed": int(seed)},
                      timings={"simulate": time.perf_counter() - t0},
                      error_estimate={"loss": 0.0, "train_loss": 0.0})


def scaling_point(N, seed, *, model, times):
    """Point function of :func:`validation.compare`: ``N`` is the replication factor."""
    return simulate_scaling(model, times, scale=int(N), seed=int(seed))


def _from_theory(theory):
    return {"times": np.asarray(theory.arrays["t"])}


register_simulator("dmft.RandomFeatureScaling", Simulator(
    point="validation.scaling:scaling_point", x="t", observables=("loss",),
    from_theory="validation.scaling:_from_theory"))

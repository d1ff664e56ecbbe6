"""Finite-d one-pass SGD on Gaussian data with a given spectrum, against :func:`odes.risk_curve`.

The simulator draws fresh ``x ~ N(0, H)`` (in H's eigenbasis: ``x_i = sqrt(h_i) z_i``; SGD is
equivariant under rotations, so the eigenbasis loses no generality) and labels
``y = <w*, x> + sigma xi`` every step, runs the update of :class:`odes.LinearSGD` (batch,
heavy ball, weight decay, schedule) from ``w = 0`` and records the population risk
``(1/2)(sigma^2 + sum_i h_i (w_i - w*_i)^2)`` exactly (no test sample).  The theory's
expected risk is exact at every finite ``d`` (Isserlis), so there is no finite-size
correction: :func:`validation.compare` is run with the one size ``N = model.dimension``
and the verdict rests on the spread over seeds.
"""

from __future__ import annotations

import math
import time

import numpy as np

from lmech.checks import check_array, check_int
from lmech.result import Result

from ._kernels import linear_sgd as _kl
from .compare import Simulator, register_simulator

__all__ = ["simulate_linear_sgd", "linear_sgd_point"]

#: steps drawn per chunk of pre-drawn normals (bounded memory: chunk * B * d doubles)
_CHUNK_DOUBLES = 1 << 22


def simulate_linear_sgd(model, times, *, seed: int = 0) -> Result:
    """One run of one-pass SGD of ``model`` (an :class:`odes.LinearSGD`) at its dimension.

    Parameters
    ----------
    model : odes.LinearSGD
        Spectrum (each eigenvalue repeated by its multiplicity), target, batch, noise,
        momentum, weight decay and schedule.
    times : array_like
        Increasing integer step counts ``>= 0`` at which the risk is recorded.
    seed : int
        Seed of the :class:`numpy.random.Generator` drawing the data and label noise.

    Returns
    -------
    lmech.Result
        Arrays ``t``, ``risk``, ``excess_risk`` (conventions of :class:`odes.RiskCurve`).
    """
    import odes

    if not isinstance(model, odes.LinearSGD):
        raise ValueError(f"model must be an odes.LinearSGD, got {type(model).__name__}")
    t_out = check_array("times", times, ndim=1, min_size=1)
    if np.any(t_out < 0) or np.any(t_out != np.round(t_out)) or np.any(np.diff(t_out) <= 0):
        raise ValueError("times must be increasing integers >= 0")
    if np.any(t_out > 1e12):
        raise ValueError("times must be <= 1e12 (the simulation runs every step)")
    seed = check_int("seed", seed, low=0)
    t0 = time.perf_counter()
    m = np.asarray(model.multiplicity, dtype=float)
    if not np.all((m >= 1.0) & (m == np.round(m))):
        raise ValueError("multiplicity: a finite-d simulation needs positive integer multiplicities (the "
                         f"model has {m[(m < 1.0) | (m != np.round(m))][:3].tolist()}); real weights are for the theory")
    rep = m.astype(np.int64)
    h = np.repeat(model.eigenvalues, rep)
    ws = np.ascontiguousarray(np.repeat(model.target, rep))
    sqrt_h = np.sqrt(h)
    d = h.size
    B = int(model.batch)
    sigma = math.sqrt(model.noise)
    rng = np.random.default_rng(seed)
    w, v = np.zeros(d), np.zeros(d)
    x, grad = np.empty(d), np.empty(d)
    chunk = max(1, _CHUNK_DOUBLES // (B * d))
    exc = np.empty(t_out.size)
    t = 0
    for j, tt in enumerate(t_out.astype(np.int64)):
        while t < tt:
            n = int(min(chunk, tt - t))
            etas = np.ascontiguousarray(model.lr * model.schedule.rate(np.arange(t, t + n, dtype=float)))
            Z = rng.standard_normal((n, B, d))
            xi = rng.standard_normal((n, B))
            _kl.sgd_steps(w, v, sqrt_h, ws, sigma, model.momentum, model.weight_decay, etas, Z, xi,
                          x, grad)
            t += n
        e = w - ws
        exc[j] = 0.5 * float(h @ (e * e))
    ok = bool(np.all(np.isfinite(exc)))
    return Result(success=ok, message="simulated" if ok else "non-finite weights", model=model,
                  options={"seed": seed, "d": d}, conventions=model.conventions(),
                  timings={"total": time.perf_counter() - t0},
                  arrays={"t": t_out, "risk": exc + 0.5 * model.noise, "excess_risk": exc},
                  scalars={"d": d, "seed": seed})


def linear_sgd_point(N, seed, *, model, times):
    """Point function of :func:`validation.compare`: ``N`` must be ``model.dimension``."""
    if int(N) != model.dimension:
        raise ValueError(f"sizes: the linear SGD model has dimension {model.dimension} (the sum of "
                         f"its multiplicities); the expected risk is exact there, compare at that "
                         f"size only (got N={N})")
    return simulate_linear_sgd(model, times, seed=int(seed))


linear_sgd_point.options_of = simulate_linear_sgd

register_simulator("odes.LinearSGD", Simulator(
    point="validation.linear_sgd:linear_sgd_point", x="t", observables=("risk",),
    from_theory="validation.gradflow:times_from"))

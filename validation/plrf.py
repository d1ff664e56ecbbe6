"""Finite-d simulation of power-law random features trained by one-pass SGD.

The model of :mod:`odes.plrf` (Paquette, Paquette, Xiao & Pennington, NeurIPS
2024, Sec. 2) simulated as it is defined: a draw of ``W`` (``v x d``, entries
``N(0, 1/d)``), fresh inputs ``x_j ~ N(0, j^(-2 alpha))`` at every step,
labels ``y = <b, x>``, SGD on ``theta`` from 0 with the model's batch and
learning rate, and the exact population risk
``P(theta) = (1/2) sum_j sigma_j ((W theta)_j - b_j)^2`` at the recorded steps.
:func:`validation.compare` confronts the mean over seeds (draws of ``W`` and
of the data) with :func:`odes.plrf.risk_curve` (``sizes=[model.d]``: the
theory is the deterministic equivalent at the model's own ``d``).
"""

from __future__ import annotations

import math
import time

import numpy as np

from lmech.checks import check_int
from lmech.result import Result, register_result

from ._kernels import plrf as _k
from .compare import Simulator, register_simulator

__all__ = ["PLRFRun", "simulate_plrf", "plrf_point", "steps_from"]


@register_result("validation.PLRFRun")
class PLRFRun(Result):
    """One finite-d SGD run on PLRF.

    Arrays: ``t`` (steps), ``risk`` (the exact population risk at ``t``).
    Scalars: ``d``, ``v``, ``seed``, ``lr``.  ``error_estimate["risk"] = 0``:
    the risk is an exact function of the run (no test-set sampling); the
    spread over seeds is what :func:`validation.compare` measures.
    """


def simulate_plrf(model, d: int, times, *, seed: int = 0, chunk: int = 64) -> PLRFRun:
    """One-pass SGD on a draw of the PLRF ``model`` at ``d = model.d``.

    Parameters
    ----------
    model : odes.PLRF
    d : int
        Number of features; must equal ``model.d`` (the theory is at that ``d``).
    times : array_like of int
        Increasing steps at which to record the risk (0 allowed).
    seed : int
        Seed of the :class:`numpy.random.Generator` drawing ``W`` and the inputs.
    chunk : int
        Steps whose inputs are drawn at once.
    """
    from odes.plrf import PLRF, learning_rate

    if not isinstance(model, PLRF):
        raise ValueError(f"model must be an odes.PLRF, got {type(model).__name__}")
    d = check_int("d", d, low=1)
    if d != model.d:
        raise ValueError(f"d must equal model.d = {model.d} (the theory is the deterministic equivalent "
                         f"at the model's d), got {d}")
    seed = check_int("seed", seed, low=0)
    chunk = check_int("chunk", chunk, low=1)
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.size == 0 or np.any(t < 0) or np.any(t != np.round(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("times must be increasing non-negative integers (SGD steps)")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    v, B = model.v, model.batch
    sig = model.sigma()
    b = np.arange(1, v + 1, dtype=np.float64) ** (-model.beta)
    W = rng.standard_normal((v, d)) / math.sqrt(d)
    theta = np.zeros(d)
    gamma = learning_rate(model)
    risk = np.empty(t.size)
    done = 0
    sq = np.sqrt(sig)
    for i, target in enumerate(t.astype(np.int64)):
        while done < target:
            n = int(min(chunk, target - done))
            _k.sgd_chunk(W, sq, b, theta, rng.standard_normal((n, B, v)), gamma, B)
            done += n
        risk[i] = _k.population_risk(W, sig, b, theta)
    ok = bool(np.all(np.isfinite(risk)))
    return PLRFRun(success=ok, message="one-pass SGD" if ok else "the run diverged (non-finite risk)",
                   model=model, options={"d": d, "seed": seed},
                   conventions={"risk": "P = (1/2) E[(f(x) - y)^2], exact given theta", "time": "SGD steps"},
                   timings={"total": time.perf_counter() - t0},
                   arrays={"t": t, "risk": risk},
                   scalars={"d": d, "v": v, "seed": seed, "lr": gamma},
                   error_estimate={"risk": 0.0})


def plrf_point(N, seed, *, model, times):
    """Point function for :func:`validation.compare` (``N`` is ``d``; it must be ``model.d``)."""
    return simulate_plrf(model, int(N), times, seed=int(seed))


def steps_from(theory) -> dict:
    """Default recording steps: the theory's own ``t``."""
    a = theory.arrays if isinstance(theory, Result) else theory
    return {"times": np.asarray(a["t"], dtype=float)}


register_simulator("odes.PLRF", Simulator(point="validation.plrf:plrf_point", x="t", observables=("risk",),
                                          from_theory="validation.plrf:steps_from"))

"""Damped fixed-point iteration with Anderson acceleration, shared by the solvers.

One stepper for every replica model (state evolution of Bayes-optimal GLMs,
ERM saddle points): the model supplies the map ``x -> F(x)`` on a vector of
order parameters and a validity test; this module supplies damping, Anderson
acceleration (type II, Walker & Ni, SIAM J. Numer. Anal. 49, 1715 (2011)) and
a relative stopping rule on the *undamped* residual, so that a heavily damped
iteration is never declared converged on the size of its own step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lmech.status import Status

__all__ = ["FixedPointOutcome", "iterate"]

#: iterations without halving the best residual that count as a stagnation
STALL = 12
#: plain damped steps taken after a stagnation before Anderson resumes
PICARD_STEPS = 25


@dataclass
class FixedPointOutcome:
    x: np.ndarray
    fx: np.ndarray
    success: bool
    n_iter: int
    residual: float
    message: str
    status: Status = Status.CONVERGED


def _residual(x, fx, floor):
    return float(np.max(np.abs(fx - x) / np.maximum(np.maximum(np.abs(x), np.abs(fx)), floor)))


def _newton_step(F, x, g, valid, floor):
    """One damped Newton step on ``G = F - id``; ``None`` unless it halves the residual."""
    n = x.size
    J = np.empty((n, n))
    for j in range(n):
        h = 1e-7 * max(abs(x[j]), 1e-7 * float(np.max(np.abs(x))), 1e-300)
        xp = x.copy()
        xp[j] += h
        if not valid(xp):
            xp[j] = x[j] - h
            h = -h
        gp = np.asarray(F(xp), dtype=float) - xp
        if not np.all(np.isfinite(gp)):
            return None
        J[:, j] = (gp - g) / h
    try:
        dx = np.linalg.solve(J, -g)
    except np.linalg.LinAlgError:
        return None
    res0 = float(np.max(np.abs(g) / np.maximum(np.abs(x), floor)))
    t = 1.0
    for _ in range(8):
        xn = x + t * dx
        if np.all(np.isfinite(xn)) and valid(xn):
            fn = np.asarray(F(xn), dtype=float)
            if np.all(np.isfinite(fn)) and _residual(xn, fn, floor) < 0.5 * res0:
                return xn
        t *= 0.5
    return None


def iterate(F, x0, *, valid, rtol=1e-10, max_iter=10_000, damping="adaptive",
            method="anderson", memory=5, floor=1e-300, newton=False) -> FixedPointOutcome:
    """Find ``x = F(x)``.

    Parameters
    ----------
    F : callable
        ``F(x) -> ndarray``; may return non-finite values (treated as failure).
    x0 : ndarray
        Starting point (must satisfy ``valid``).
    valid : callable
        ``valid(x) -> bool``; Anderson proposals outside the domain fall back
        to a damped Picard step and the history is cleared.
    rtol : float
        Stop when ``max_i |F(x)_i - x_i| / max(|x_i|, |F(x)_i|, floor_i) <= rtol``.
    damping : "adaptive" or float in (0, 1]
        Weight ``beta`` of the new iterate, ``x <- x + beta (F(x) - x)``.
        ``"adaptive"`` starts at 1; for Picard steps it halves when the
        residual grows and recovers by a factor 1.5 when it falls; with
        Anderson (whose residuals are not monotone) it halves at each
        restart after a stagnation of 12 iterations.
    method : "anderson" or "picard"
    memory : int
        Anderson history length.
    newton : bool
        On stagnation, try a damped Newton step with a forward-difference
        Jacobian (``x.size + 1`` map evaluations) before restarting.
    """
    x = np.array(x0, dtype=float)
    floor = np.broadcast_to(np.asarray(floor, dtype=float), x.shape)
    adaptive = damping == "adaptive"
    beta = 1.0 if adaptive else float(damping)
    X, G = [], []
    res_prev = math.inf
    res_best, it_best, picard_left = math.inf, 0, 0
    fx = x
    for it in range(1, max_iter + 1):
        fx = np.asarray(F(x), dtype=float)
        if not np.all(np.isfinite(fx)):
            return FixedPointOutcome(x, fx, False, it, math.nan,
                                     "the map returned a non-finite value (divergence)", Status.DIVERGED)
        res = _residual(x, fx, floor)
        if res <= rtol:
            return FixedPointOutcome(fx, fx, True, it, res, f"converged (relative residual {res:.2e})")
        g = fx - x
        anderson = method == "anderson" and memory > 0
        if res < 0.5 * res_best:
            res_best, it_best = res, it
        elif it - it_best > STALL:
            # stagnation: first a Newton step on G(x) = F(x) - x with a
            # forward-difference Jacobian (cheap for a few order parameters);
            # if it does not reduce the residual (e.g. Anderson homing in on
            # the 'ghost' of a vanished fixed point past a spinodal), restart
            # with plain damped steps
            X, G = [], []
            res_best, it_best = res, it
            xn = _newton_step(F, x, g, valid, floor) if newton else None
            if xn is not None:
                x = xn
                continue
            picard_left = PICARD_STEPS
            if adaptive and anderson:
                beta = max(beta * 0.5, 0.02)
        if adaptive and not anderson:
            beta = max(beta * 0.5, 0.02) if res > res_prev else min(1.0, beta * 1.5)
        elif adaptive and picard_left > 0:
            beta = max(beta * 0.5, 0.02) if res > res_prev else min(1.0, beta * 1.5)
        res_prev = res
        step = x + beta * g
        if picard_left > 0:
            picard_left -= 1
        elif method == "anderson" and memory > 0:
            X.append(x.copy())
            G.append(g.copy())
            if len(X) > memory + 1:
                X.pop(0)
                G.pop(0)
            if len(X) >= 2:
                dX = np.array([X[i + 1] - X[i] for i in range(len(X) - 1)]).T
                dG = np.array([G[i + 1] - G[i] for i in range(len(G) - 1)]).T
                try:
                    gamma, *_ = np.linalg.lstsq(dG, g, rcond=1e-12)
                    cand = x + beta * g - (dX + beta * dG) @ gamma
                except np.linalg.LinAlgError:
                    cand = step
                if np.all(np.isfinite(cand)) and valid(cand):
                    step = cand
                else:
                    X, G = [], []
        if not valid(step):
            step = x + beta * g
            X, G = [], []
            while not valid(step) and beta > 1e-6:
                beta *= 0.5
                step = x + beta * g
            if not valid(step):
                return FixedPointOutcome(x, fx, False, it, res,
                                         "the iteration left the domain of valid states", Status.INVALID_STATE)
        x = step
    fx = np.asarray(F(x), dtype=float)
    res = _residual(x, fx, floor) if np.all(np.isfinite(fx)) else math.nan
    return FixedPointOutcome(x, fx, False, max_iter, res,
                             f"max_iter={max_iter} reached (relative residual {res:.2e})", Status.MAX_ITER)

"""Fixed points of the committee-machine ODEs and their stability.

* :func:`jacobian` and :func:`spectrum`: the linearisation of the ODEs at a
  state (central differences of the Numba right-hand side, in the packed
  coordinates: upper triangle of ``Q``, ``R``, and ``v`` if trained).
* :func:`newton`: a general fixed point from a given state.
* :func:`symmetric_fixed_point`: the symmetric plateau of a realisable
  ``K = M`` machine with ``T = I`` (Saad & Solla, PRE 52, 4225 (1995),
  the symmetric phase), ``Q = (q - c) I + c 1 1^T``, ``R = (r - s) I + s 1 1^T``, on the
  ``"generic"`` branch (``q > c``) or the ``"degenerate"`` branch of identical
  students (``q = c``, ``r = s``), by continuation in the learning rate.
* :func:`perfect_learning`: the spectrum at ``Q = R = T``, ``v = v*`` (K = M):
  the asymptotic decay rate (``eg ~ exp(2 lambda_max t)``), the critical
  learning rate ``eta_c`` above which perfect learning is unstable and the
  learning rate of fastest asymptotic decay.
* :func:`noise_asymptote`: the fixed point near perfect learning with output
  noise and its generalisation error.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from scipy.optimize import brentq, minimize_scalar, root

from lmech.checks import check_choice, check_real
from lmech.result import Result, register_result

from .integrate import System, _initial
from .model import CommitteeMachine

__all__ = ["FixedPoint", "jacobian", "spectrum", "newton", "symmetric_fixed_point",
           "perfect_learning", "critical_lr", "fastest_lr", "noise_asymptote", "symmetric_eg_small_lr"]


@register_result("odes.FixedPoint")
class FixedPoint(Result):
    """A fixed point of the ODEs with its Jacobian spectrum.

    Arrays: ``Q``, ``R``, ``v``, ``T``, ``eigenvalues`` (complex, sorted by
    decreasing real part), ``jacobian``.  Scalars: ``eg``, ``lr``,
    ``lambda_max`` (largest real part), ``stable``; symmetric fixed points
    also ``q``, ``c``, ``r``, ``s``.
    """


def jacobian(model: CommitteeMachine, Q, R, *, T=None, v=None, h: float = 1e-6) -> np.ndarray:
    """Jacobian ``d f / d y`` of the ODEs at ``(Q, R, v)`` by central differences.

    Coordinates are the packed state of :class:`odes.System` (upper triangle
    of ``Q`` row by row, ``R`` row-major, then ``v`` if ``train_second``).
    The step ``h`` is relative to ``max(1, |y_j|)``; the truncation error is
    ``O(h^2)`` and the rounding error ``O(eps / h)``.
    """
    system = System(model, T, v)
    y = system.pack(np.asarray(Q, float), np.asarray(R, float), system.v0 if v is None else np.asarray(v, float))
    return _jac(system, y, h)


def _jac(system, y, h=1e-6):
    n = y.size
    J = np.empty((n, n))
    for j in range(n):
        dy = h * max(1.0, abs(y[j]))
        yp = y.copy()
        ym = y.copy()
        yp[j] += dy
        ym[j] -= dy
        J[:, j] = (system.f(0.0, yp) - system.f(0.0, ym)) / (2.0 * dy)
    return J


def _eigs(J):
    ev = np.linalg.eigvals(J).astype(complex)  # complex always, so the dtype never depends on the state
    return ev[np.argsort(-ev.real, kind="stable")]


def spectrum(model: CommitteeMachine, Q, R, *, T=None, v=None) -> np.ndarray:
    """Eigenvalues of :func:`jacobian` sorted by decreasing real part."""
    return _eigs(jacobian(model, Q, R, T=T, v=v))


def _result(system, y, success, message, n_iter, residual, options, t0, extra=None):
    Q, R, v = system.unpack(y)
    J = _jac(system, y)
    ev = _eigs(J)
    lam = float(ev[0].real)
    scalars = dict(eg=system.eg(y), lr=system.model.lr, lambda_max=lam, stable=bool(lam < 0.0))
    scalars.update(extra or {})
    return FixedPoint(success=success, status=0 if success else -1, message=message, n_iter=n_iter,
                      residual=residual, model=system.model, options=options,
                      conventions=system.model.conventions(),
                      timings={"solve": time.perf_counter() - t0},
                      arrays=dict(Q=Q, R=R, v=v, T=system.T, eigenvalues=ev, jacobian=J),
                      scalars=scalars)


def newton(model: CommitteeMachine, Q0, R0, *, T=None, v0=None, tol: float = 1e-12,
           max_iter: int = 200) -> FixedPoint:
    """A fixed point ``f(Q, R, v) = 0`` from the state ``(Q0, R0, v0)``.

    Powell's hybrid method (:func:`scipy.optimize.root`, ``"hybr"``) with the
    finite-difference Jacobian.  ``residual`` is ``max |f|`` at the answer;
    ``success`` requires ``residual <= tol``.
    """
    t0 = time.perf_counter()
    system = System(model, T, v0)
    Q0, R0 = _initial(system, Q0, R0)
    tol = check_real("tol", tol, low=0.0, low_open=True)
    y0 = system.pack(Q0, R0, system.v0)
    sol = root(lambda y: system.f(0.0, y), y0, jac=lambda y: _jac(system, y), method="hybr",
               options={"xtol": 1e-14, "maxfev": max_iter * (y0.size + 1)})
    res = float(np.max(np.abs(system.f(0.0, sol.x))))
    ok = bool(np.all(np.isfinite(sol.x)) and res <= tol)
    msg = "converged" if ok else f"not converged: max|f| = {res:.3g} > tol ({sol.message})"
    return _result(system, sol.x, ok, msg, int(sol.nfev), res, {"tol": tol, "max_iter": max_iter}, t0)


# ---------------------------------------------------------------------------
# symmetric fixed points
# ---------------------------------------------------------------------------
def _sym_state(K, q, c, r, s):
    Q = (q - c) * np.eye(K) + c * np.ones((K, K))
    R = (r - s) * np.eye(K) + s * np.ones((K, K))
    return Q, R


def _sym_residual(system, x):
    K = system.K
    Q, R = _sym_state(K, *x)
    dQ, dR, _ = system.unpack(system.f(0.0, system.pack(Q, R)))
    if K == 1:
        return np.array([dQ[0, 0], 0.0, dR[0, 0], 0.0])
    off = ~np.eye(K, dtype=bool)
    return np.array([np.mean(np.diag(dQ)), np.mean(dQ[off]), np.mean(np.diag(dR)), np.mean(dR[off])])


def symmetric_eg_small_lr(K: int) -> float:
    """``eg`` of the symmetric plateau as ``eta -> 0`` for erf, ``K = M``, ``T = I``, summed readout.

    ``q = c = 1/(2K-1)``, ``r = s = 1/sqrt(K(2K-1))`` and
    ``eg = (K/pi) (pi/6 - K asin(1/(2K)))`` (Saad & Solla 1995, the symmetric
    phase; value quoted in issue 3 and checked in the tests).
    """
    return K / math.pi * (math.pi / 6.0 - K * math.asin(1.0 / (2.0 * K)))


def _check_symmetric(model):
    if model.K != model.M:
        raise ValueError(f"M must equal K for a symmetric fixed point, got K={model.K}, M={model.M}")
    if model.train_second:
        raise ValueError("train_second must be False for the symmetric fixed point")
    if model.v_teacher is not None and len(set(model.v_teacher)) > 1:
        raise ValueError("v_teacher must be uniform for a symmetric fixed point")


def symmetric_fixed_point(model: CommitteeMachine, *, branch: str = "generic", steps: int = 20,
                          guess=None, tol: float = 1e-12) -> FixedPoint:
    """The symmetric (unspecialised) fixed point: the plateau, with ``T = I``, ``v = v*``.

    Parameters
    ----------
    model : CommitteeMachine
        ``K = M``, first layer only, uniform ``v*``; any activation.
    branch : {"generic", "degenerate"}
        ``"degenerate"``: identical students, ``q = c``, ``r = s`` (a
        two-parameter ansatz).  ``"generic"``: ``q > c``, ``r = s``.
    steps : int
        Continuation steps in ``eta`` from ``lr / steps`` up to ``lr`` (the
        first step starts from the erf ``eta -> 0`` solution,
        ``q = c = 1/(2K-1)``, ``r = s = 1/sqrt(K(2K-1))``, or from ``guess``).
    guess : tuple (q, c, r, s), optional
        Starting point at the first continuation step.
    tol : float
        Tolerance on ``max |f|`` at the answer.

    Returns
    -------
    FixedPoint
        With scalars ``q``, ``c``, ``r``, ``s`` and ``branch``; the
        eigenvalues are those of the full Jacobian (``stable`` says whether
        the plateau attracts in every direction, which it never does when
        escape is possible).
    """
    t0 = time.perf_counter()
    _check_symmetric(model)
    check_choice("branch", branch, ("generic", "degenerate"))
    K = model.K
    if guess is None:
        q0 = 1.0 / (2 * K - 1)
        r0 = 1.0 / math.sqrt(K * (2 * K - 1))
        x = np.array([q0 + 0.05, q0 - 0.05, r0, r0]) if branch == "generic" and K > 1 else \
            np.array([q0, q0, r0, r0])
    else:
        x = np.asarray(guess, dtype=float)
        if x.shape != (4,):
            raise ValueError(f"guess must be (q, c, r, s), got {guess!r}")
    etas = model.lr * np.arange(1, steps + 1) / steps if model.lr > 0 else np.array([0.0])
    nfev = 0
    ok = True
    sol = None
    for eta in etas:
        system = System(dataclasses.replace(model, lr=float(eta)))
        if branch == "degenerate":
            def fun(z, system=system):
                r4 = _sym_residual(system, (z[0], z[0], z[1], z[1]))
                return np.array([r4[0], r4[2]])
            sol = root(fun, [x[0], x[2]], method="hybr", options={"xtol": 1e-14})
            x = np.array([sol.x[0], sol.x[0], sol.x[1], sol.x[1]])
        else:
            def fun(z, system=system):
                r4 = _sym_residual(system, (z[0], z[1], z[2], z[2]))
                return np.array([r4[0], r4[1], r4[2] + r4[3]])
            sol = root(fun, [x[0], x[1], x[2]], method="hybr", options={"xtol": 1e-14})
            x = np.array([sol.x[0], sol.x[1], sol.x[2], sol.x[2]])
        nfev += int(sol.nfev)
    system = System(model)
    res = float(np.max(np.abs(_sym_residual(system, x))))
    Q, R = _sym_state(K, *x)
    y = system.pack(Q, R)
    full = float(np.max(np.abs(system.f(0.0, y))))
    ok = bool(np.all(np.isfinite(x)) and full <= tol)
    if branch == "generic" and K > 1 and ok and not x[0] - x[1] > 1e-8:
        ok = False
        msg = "the generic-branch solve fell onto the degenerate branch (q = c)"
    else:
        msg = "converged" if ok else f"not converged: max|f| = {full:.3g} > tol"
    return _result(system, y, ok, msg, nfev, max(res, full),
                   {"branch": branch, "steps": steps, "tol": tol}, t0,
                   dict(q=float(x[0]), c=float(x[1]), r=float(x[2]), s=float(x[3]), branch=branch))


# ---------------------------------------------------------------------------
# perfect learning, eta_c, fastest decay, noise
# ---------------------------------------------------------------------------
def _perfect_state(model, T):
    if model.K != model.M:
        raise ValueError(f"M must equal K for perfect learning, got K={model.K}, M={model.M}")
    T = np.eye(model.M) if T is None else np.asarray(T, dtype=float)
    return T, T.copy(), T


def perfect_learning(model: CommitteeMachine, *, T=None) -> FixedPoint:
    """Spectrum at perfect learning ``Q = R = T``, ``v = v*`` (``K = M``).

    The largest eigenvalue ``lambda_max`` sets the asymptotic decay
    ``eg ~ exp(2 lambda_max t)`` (Saad & Solla 1995, asymptotic phase); it is a fixed
    point only without output noise.
    """
    t0 = time.perf_counter()
    Q, R, T = _perfect_state(model, T)
    system = System(model, T, model.teacher_weights() * model.c_student / model.c_teacher)
    y = system.pack(Q, R, system.v0)
    res = float(np.max(np.abs(system.f(0.0, y))))
    ok = res <= 1e-12
    msg = "perfect learning" if ok else f"perfect learning is not a fixed point here (max|f| = {res:.3g})"
    return _result(system, y, ok, msg, 0, res, {}, t0,
                   {"decay_rate": -2.0 * float(_eigs(_jac(system, y))[0].real)})


def _lam_max(model, eta, T):
    m = dataclasses.replace(model, lr=float(eta), noise=0.0)
    Q, R, T = _perfect_state(m, T)
    system = System(m, T, m.teacher_weights() * m.c_student / m.c_teacher)
    return float(_eigs(_jac(system, system.pack(Q, R, system.v0)))[0].real)


def critical_lr(model: CommitteeMachine, *, T=None, eta_max: float = 100.0, xtol: float = 1e-12) -> float:
    """``eta_c``: the smallest ``eta > 0`` at which perfect learning turns unstable.

    Scans ``lambda_max(eta)`` on a geometric grid up to ``eta_max`` and
    polishes the first sign change with Brent's method; ``inf`` if none.
    """
    grid = np.geomspace(1e-3, eta_max, 60)
    prev = None
    for eta in grid:
        lam = _lam_max(model, eta, T)
        if lam >= 0.0 and prev is not None:
            return float(brentq(lambda e: _lam_max(model, e, T), prev, eta, xtol=xtol, rtol=1e-15))
        prev = eta if lam < 0.0 else None
    return math.inf


def fastest_lr(model: CommitteeMachine, *, T=None) -> tuple[float, float]:
    """Learning rate of fastest asymptotic decay and that rate ``-2 lambda_max``.

    Maximises ``-lambda_max(eta)`` over ``(0, eta_c)`` (bounded Brent).
    """
    ec = critical_lr(model, T=T)
    hi = ec if math.isfinite(ec) else 100.0
    r = minimize_scalar(lambda e: _lam_max(model, e, T), bounds=(1e-6 * hi, hi), method="bounded",
                        options={"xatol": 1e-10 * hi})
    return float(r.x), -2.0 * float(r.fun)


def noise_asymptote(model: CommitteeMachine, *, T=None, tol: float = 1e-13) -> FixedPoint:
    """The fixed point near perfect learning with output noise (``K = M``).

    Newton from ``Q = R = T``; its ``eg`` is the asymptotic generalisation
    error of online SGD at constant learning rate with noise variance
    ``sigma^2`` (Saad & Solla 1995; Goldt et al. 2019).
    """
    Q, R, T = _perfect_state(model, T)
    return newton(model, Q, R, T=T, tol=tol)

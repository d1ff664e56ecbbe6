"""Perceptron capacity at finite N: the probability that random patterns can be stored.

For ``n = alpha N`` patterns ``x_mu ~ N(0, I_N)`` with random labels
``y_mu = +-1`` (the setting of :class:`replica.GardnerVolume`), a finite-N
instance is *feasible* when some weight vector stores every pattern with
margin ``kappa``: ``y_mu w.x_mu / sqrt(N) >= kappa``.

* spherical weights, ``kappa = 0``: a linear programme (scipy's HiGHS)
  maximising the margin ``t`` of ``y_mu x_mu . w >= t`` over ``|w_i| <= 1``;
  the instance is separable iff ``t* > 0`` (and the returned ``w`` is
  checked to separate);
  the exact answer is Cover's count (Cover, IEEE Trans. Electron. Comput.
  EC-14, 326 (1965), Theorem 1): ``P = 2^(1-n) sum_{k<N} C(n-1, k)``, which
  :func:`cover_probability` evaluates and the tests check the LP against;
* spherical weights, ``kappa > 0``: the constraint set is the intersection
  of the sphere with a convex cone, nonempty iff the maximal stability
  ``gamma* = max_{|w|^2 = N} min_mu y_mu w.x_mu / sqrt(N)`` (the hard-margin
  SVM, Krauth & Mezard, J. Phys. A 20, L745 (1987)) is at least ``kappa``;
  :func:`max_stability` brackets ``gamma*`` by dual coordinate descent
  between a primal witness and a weak-duality bound and stops as soon as the
  bracket decides ``gamma* >= kappa``;
* spherical weights, ``kappa < 0``: the set is not convex (the sphere minus
  convex caps); no sound finite-N decision procedure is implemented and
  such a model raises :class:`ValueError` naming ``margin``;
* binary weights ``w_i = +-1``, any ``kappa``: exhaustive search over the
  ``2^N`` vectors (Gray code, Numba), for ``N`` up to about 24.

:func:`capacity_scan` estimates ``P(alpha)`` over sizes and seeds (through
:func:`lmech.sweep.sweep`, any executor) and returns a
:class:`CapacityReport`: the probability curves with binomial standard
errors, the ``alpha`` where each crosses ``1/2`` and the ``10-90 %`` width,
next to the replica capacity ``alpha_c`` of :func:`replica.gardner.capacity`
(``2`` for the spherical perceptron at ``kappa = 0``, Gardner 1988; about
``0.833`` for binary weights, Krauth & Mezard 1989).
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
from scipy.optimize import linprog

from lmech.checks import check_array, check_int, check_memory, check_real
from lmech.result import Result, register_result
from lmech.status import Status

from ._kernels import capacity as _kcap

__all__ = ["CapacityRun", "CapacityReport", "feasible", "simulate_capacity", "capacity_scan",
           "cover_probability", "capacity_point", "max_stability"]

_NEGATIVE_MARGIN = ("margin: the spherical simulator needs kappa >= 0: for kappa < 0 the set "
                    "{|w|^2 = N, y w.x/sqrt N >= kappa} is not convex (the sphere minus convex "
                    "caps), so neither the LP nor the max-stability QP decides it")


@register_result("validation.CapacityRun")
class CapacityRun(Result):
    """Feasibility of one random instance per ``alpha`` at one ``N`` and seed.

    Arrays: ``alpha`` (P,), ``n`` (P,) patterns, ``feasible`` (P,) 0/1.

    ``error_estimate["feasible"]``: 0 when every instance was decided (by an
    LP or a proven stability bracket, so each 0/1 is exact), NaN otherwise.
    """

    #: codes before lmech.Status
    LEGACY_STATUS = {2: Status.INCOMPLETE}


@register_result("validation.CapacityReport")
class CapacityReport(Result):
    """Finite-N probability of storage against the replica capacity.

    Arrays: ``alpha`` (P,), ``sizes`` (S,), ``p`` and ``sem`` (S, P),
    ``p_exact`` (S, P) (Cover's formula; spherical ``kappa = 0`` only, else NaN),
    ``crossing`` and ``crossing_err`` (S,) the ``alpha`` where ``p = 1/2``
    (linear interpolation between the bracketing points; error from the
    standard errors of those two points), ``width`` (S,) the distance between
    the interpolated ``p = 0.9`` and ``p = 0.1`` points.  Scalars:
    ``alpha_c`` (replica), ``crossing_largest``, ``sharpening`` (widths
    non-increasing in N), ``n_seeds``.

    ``error_estimate``: ``p`` the largest binomial standard error of the
    storage probabilities, ``crossing`` the largest standard error of the
    ``p = 1/2`` crossings, ``crossing_largest`` that of the largest size.
    """

    #: codes before lmech.Status (1: instances failed, 2: undecided)
    LEGACY_STATUS = {1: Status.INCOMPLETE, 2: Status.INCOMPLETE}


def _nanmax(a) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.nanmax(a)) if np.isfinite(a).any() else math.nan


def _report_errors(sem, crossing_err) -> dict:
    """Monte Carlo standard errors of a :class:`CapacityReport`'s main observables."""
    return {"p": _nanmax(sem), "crossing": _nanmax(crossing_err),
            "crossing_largest": float(crossing_err[-1])}


def cover_probability(N: int, n: int) -> float:
    """Cover's probability that ``n`` random patterns in general position in ``R^N`` are linearly
    separable through the origin with random labels: ``2^(1-n) sum_{k=0}^{N-1} C(n-1, k)``,
    in exact integer arithmetic (correctly rounded)."""
    N = check_int("N", N, low=1)
    n = check_int("n", n, low=1)
    if n <= N:
        return 1.0
    # exact integer arithmetic, one rounding at the end
    count = sum(math.comb(n - 1, k) for k in range(N))
    return float(Fraction(count, 1 << (n - 1)))


def max_stability(X: np.ndarray, y: np.ndarray, *, kappa: float = math.nan, tol: float = 1e-10,
                  max_pass: int = 100_000):
    """Bracket of the maximal stability ``gamma* = max_{|w|^2 = N} min_mu y_mu w.x_mu / sqrt(N)``.

    With ``|w|^2 = N`` the stability of pattern ``mu`` is ``y_mu x_mu . w/|w|``,
    so ``gamma*`` is the hard-margin SVM margin of the points ``y_mu x_mu``
    (through the origin): ``gamma* = 1 / min{|w| : y_mu x_mu . w >= 1}``
    (Krauth & Mezard, J. Phys. A 20, L745 (1987); the Gardner capacity
    ``alpha_c(kappa)`` is where ``gamma*`` crosses ``kappa`` as N grows).

    Parameters
    ----------
    X : ndarray (n, N)
        Patterns (rows).
    y : ndarray (n,)
        Labels ``+-1``.
    kappa : float, optional
        Stop as soon as the bracket decides whether ``gamma* >= kappa``
        (default NaN: run until the relative width ``tol``).
    tol : float
        Relative width of the bracket at which to stop, in ``(0, 1)``.
    max_pass : int
        Cap on coordinate-descent sweeps (``>= 1``).

    Returns
    -------
    (lo, hi, w, sweeps)
        ``lo <= gamma* <= hi``; ``lo`` is the best stability seen over the
        sweeps and the returned witness ``w`` is the iterate that attained it
        (scaled to ``|w|^2 = N``), so ``min_mu y_mu w.x_mu / sqrt(N) = lo`` up
        to rounding (``lo <= 0`` when not separable; ``w = 0`` and
        ``lo = -inf`` if no sweep produced a nonzero iterate); ``hi`` is a
        weak-duality bound (:func:`validation._kernels.capacity.max_stability_cd`).
    """
    X = check_array("X", X)
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n patterns, N weights), got shape {X.shape}")
    y = check_array("y", y).ravel()
    n, N = X.shape
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), one label per row of X, got {y.shape}")
    if not np.all(np.abs(y) == 1.0):
        raise ValueError("y must hold labels +-1")
    if not (isinstance(kappa, (float, np.floating)) and math.isnan(kappa)):
        kappa = check_real("kappa", kappa)
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True)
    max_pass = check_int("max_pass", max_pass, low=1)
    A = np.ascontiguousarray(X * y[:, None])
    a = np.zeros(n)
    u = np.zeros(N)
    ubest = np.zeros(N)
    sweeps, lo, hi = _kcap.max_stability_cd(A, a, u, ubest, float(kappa), tol, max_pass)
    nu = float(np.linalg.norm(ubest))
    w = ubest * (math.sqrt(N) / nu) if nu > 0 else ubest
    return float(lo), float(hi), w, int(sweeps)


def feasible(model, X: np.ndarray, y: np.ndarray, *, max_pass: int = 100_000):
    """Whether the instance ``(X, y)`` can be stored by ``model``'s weights with its margin.

    Returns ``True`` or ``False`` only when certified; for a spherical
    ``kappa > 0`` instance whose bracket of ``gamma*`` still contains ``kappa``
    after ``max_pass`` sweeps (including a tie, ``gamma*`` within rounding of
    ``kappa``), or whose witness fails the floating-point recheck, ``None``
    (undecided).
    """
    import replica.gardner

    if not isinstance(model, replica.gardner.GardnerVolume):
        raise ValueError(f"model must be a replica.GardnerVolume, got {type(model).__name__}")
    X = check_array("X", X, ndim=2)
    n, N = X.shape
    y = check_array("y", y).ravel()
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), one label per row of X, got {y.shape}")
    max_pass = check_int("max_pass", max_pass, low=1)
    A = X * y[:, None]
    if model.binary:
        return _kcap.binary_feasible(np.ascontiguousarray(A / math.sqrt(N)), float(model.margin)) > 0
    if model.margin < 0.0:
        raise ValueError(_NEGATIVE_MARGIN)
    if model.margin > 0.0:
        kappa = float(model.margin)
        lo, hi, w, _ = max_stability(X, y, kappa=kappa, max_pass=max_pass)
        if lo >= kappa:
            # the witness is re-checked in floating point; a witness that fails the recheck
            # certifies nothing either way: undecided
            return True if np.min(A @ w) / math.sqrt(N) >= kappa * (1.0 - 1e-12) else None
        if hi < kappa:
            return False
        # lo < kappa <= hi: neither certificate decides (including a tie hi - lo <= 1e-10 hi,
        # where gamma* is within rounding of kappa): undecided
        return None
    # maximise the margin t of A w >= t over the box |w_i| <= 1 (t <= 1): always feasible and
    # bounded, so HiGHS returns an optimum; the instance is separable iff t* > 0, and a
    # claimed separation is verified on the returned w in floating point
    c = np.zeros(N + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A, np.ones((n, 1))])
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), bounds=[(-1.0, 1.0)] * N + [(None, 1.0)],
                  method="highs")
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed on the margin LP: {res.message}")
    w = res.x[:N]
    return bool(-res.fun > 1e-9 and np.min(A @ w) > 0.0)


def simulate_capacity(model, N: int, alphas, *, seed: int = 0, max_binary_N: int = 26,
                      max_pass: int = 100_000) -> CapacityRun:
    """One random instance per ``alpha`` at size ``N``: is it feasible?

    Parameters
    ----------
    model : replica.GardnerVolume
        Spherical weights with ``kappa >= 0`` (LP at ``kappa = 0``, the
        certified maximal-stability bracket of :func:`max_stability` above;
        an instance it cannot decide within its sweep cap is NaN), or binary
        weights with any ``kappa``.
    N : int
        Number of weights (binary: at most ``max_binary_N``).
    alphas : array_like
        Pattern ratios; ``n = round(alpha N)``.
    seed : int
        Seed of the generator drawing patterns and labels.
    max_pass : int
        Sweep cap of :func:`max_stability` (spherical ``kappa > 0``).

    Returns
    -------
    CapacityRun
        ``success`` is False (status 2, the message counting them) when some
        instance was left undecided (NaN in ``feasible``); the decided ones
        are returned all the same.
    """
    import replica.gardner

    if not isinstance(model, replica.gardner.GardnerVolume):
        raise ValueError(f"model must be a replica.GardnerVolume, got {type(model).__name__}")
    N = check_int("N", N, low=1, high=max_binary_N if model.binary else None)
    seed = check_int("seed", seed, low=0)
    max_pass = check_int("max_pass", max_pass, low=1)
    alphas = check_array("alphas", alphas, finite=False).ravel()
    if alphas.size == 0 or np.any(~np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ValueError("alphas must be a non-empty list of positive finite pattern ratios")
    if not model.binary and model.margin < 0.0:
        raise ValueError(_NEGATIVE_MARGIN)
    # the largest instance: n x N patterns and about three copies (products, the LP or dual solver)
    n_max = max(1.0, float(np.max(alphas)) * N)
    check_memory("alphas", 8.0 * 4 * n_max * N,
                 f"simulate_capacity at N = {N}, alpha = {float(np.max(alphas)):.3g} ({n_max:.3g} patterns)")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    ns = np.maximum(1, np.rint(alphas * N)).astype(np.int64)
    feas = np.zeros(alphas.size)
    for j, n in enumerate(ns):
        X = rng.standard_normal((int(n), N))
        y = rng.choice(np.array([-1.0, 1.0]), size=int(n))
        f = feasible(model, X, y, max_pass=max_pass)
        feas[j] = math.nan if f is None else float(f)
    n_undecided = int(np.isnan(feas).sum())
    if model.binary:
        method = "exhaustive search (Gray code)"
    elif model.margin == 0.0:
        method = "LP feasibility (HiGHS)"
    else:
        method = ("maximal stability >= kappa, bracketed by hard-margin dual coordinate descent "
                  "(primal witness / weak-duality bound)")
    return CapacityRun(success=n_undecided == 0, status=Status.CONVERGED if n_undecided == 0 else Status.INCOMPLETE,
                       message="decided every instance" if n_undecided == 0 else
                       f"{n_undecided} of {alphas.size} instances undecided (NaN, left out of p): "
                       "maximal stability too close to kappa for the sweep cap",
                       model=model, options={"N": N, "seed": seed, "max_pass": max_pass},
                       conventions={"instance": "x ~ N(0, I_N), y = +-1 uniform, n = round(alpha N)",
                                    "margin": "y w.x/sqrt(N) >= kappa with |w|^2 = N",
                                    "method": method},
                       timings={"total": time.perf_counter() - t0},
                       arrays={"alpha": alphas, "n": ns, "feasible": feas},
                       scalars={"N": N, "seed": seed, "n_undecided": n_undecided},
                       error_estimate={"feasible": 0.0 if n_undecided == 0 else math.nan})


def capacity_point(N, seed, *, model, alphas, max_pass=100_000):
    """Point function for :func:`lmech.sweep.sweep`."""
    return simulate_capacity(model, int(N), alphas, seed=int(seed), max_pass=max_pass)


def _cross(alpha, p, level):
    """First ``alpha`` where the decreasing curve ``p`` falls through ``level`` (interpolated)."""
    for j in range(alpha.size - 1):
        if p[j] >= level > p[j + 1]:
            return j, alpha[j] + (p[j] - level) * (alpha[j + 1] - alpha[j]) / (p[j] - p[j + 1])
    return None, math.nan


def capacity_scan(model, *, sizes, alphas, seeds=100, executor=None, progress=False,
                  max_pass: int = 100_000) -> CapacityReport:
    """Probability of storage at every size and ``alpha``, and where it crosses 1/2.

    Parameters
    ----------
    model : replica.GardnerVolume
    sizes : sequence of int
    alphas : sequence of float (increasing)
    seeds : int or sequence of int
        Instances per size and ``alpha`` (``range(seeds)`` for an int).
    executor : concurrent.futures.Executor, optional
        Runs the (size, seed) instances (serial if None).
    max_pass : int
        Sweep cap of :func:`max_stability` (spherical ``kappa > 0``).

    Returns
    -------
    CapacityReport
        ``success`` is False (status ``INCOMPLETE``) when an instance raised
        or was left undecided (undecided instances are left out of ``p``, and
        the message counts both).
    """
    import replica.gardner

    from lmech.sweep import sweep

    t0 = time.perf_counter()
    sizes = sorted(check_int(f"sizes[{i}]", n, low=1) for i, n in enumerate(sizes))
    if not sizes or len(set(sizes)) != len(sizes):
        raise ValueError("sizes must be a non-empty list of distinct sizes")
    seeds = list(range(check_int("seeds", seeds, low=2))) if isinstance(seeds, (int, np.integer)) \
        else [check_int(f"seeds[{i}]", s, low=0) for i, s in enumerate(seeds)]
    alphas = np.asarray(alphas, dtype=float).ravel()
    if alphas.size < 2 or np.any(np.diff(alphas) <= 0) or alphas[0] <= 0:
        raise ValueError("alphas must be at least two increasing positive values")
    if not isinstance(model, replica.gardner.GardnerVolume):
        raise ValueError(f"model must be a replica.GardnerVolume, got {type(model).__name__}")
    if model.binary and max(sizes) > 26:
        raise ValueError("sizes: exhaustive search of binary weights is limited to N <= 26")
    if not model.binary and model.margin < 0.0:
        raise ValueError(_NEGATIVE_MARGIN)
    max_pass = check_int("max_pass", max_pass, low=1)
    if executor is not None:
        import lmech
        lmech.warmup(("validation",))
    res = sweep("validation.capacity:capacity_point",
                {"N": np.asarray(sizes, dtype=np.int64), "seed": np.asarray(seeds, dtype=np.int64)},
                fixed={"model": model, "alphas": alphas, "max_pass": max_pass}, executor=executor,
                keep_arrays=["feasible"], progress=progress)
    # a run that left instances undecided is not converged but its decided instances count
    ok = res.arrays["done"] & ~res.arrays["failed"]
    F = np.array(res.arrays["feasible"], dtype=float)          # (S, n_seeds, P)
    F[~ok] = np.nan
    k = np.sum(np.isfinite(F), axis=1)
    p = np.nansum(F, axis=1) / np.maximum(k, 1)
    sem = np.sqrt(p * (1 - p) / np.maximum(k - 1, 1))
    S = len(sizes)
    crossing = np.full(S, np.nan)
    crossing_err = np.full(S, np.nan)
    width = np.full(S, np.nan)
    for s in range(S):
        j, a = _cross(alphas, p[s], 0.5)
        crossing[s] = a
        if j is not None:
            slope = (p[s, j] - p[s, j + 1]) / (alphas[j + 1] - alphas[j])
            crossing_err[s] = math.hypot(sem[s, j], sem[s, j + 1]) / slope
        hi = _cross(alphas, p[s], 0.9)[1]
        lo = _cross(alphas, p[s], 0.1)[1]
        width[s] = lo - hi
    p_exact = np.full((S, alphas.size), np.nan)
    if not model.binary and model.margin == 0.0:
        for s, N in enumerate(sizes):
            for j, a in enumerate(alphas):
                p_exact[s, j] = cover_probability(N, max(1, int(round(a * N))))
    alpha_c = float(replica.gardner.capacity(model))
    n_bad = int((~ok).sum())
    n_undecided = int(np.sum(np.isnan(F[ok])))
    w = width[np.isfinite(width)]
    scalars = {"alpha_c": alpha_c, "crossing_largest": float(crossing[-1]),
               "crossing_err_largest": float(crossing_err[-1]),
               "sharpening": bool(w.size >= 2 and np.all(np.diff(w) <= 0)),
               "n_seeds": len(seeds), "n_undecided": n_undecided}
    msg = (f"P = 1/2 at alpha = {crossing[-1]:.4g} +- {crossing_err[-1]:.2g} for N = {sizes[-1]}; "
           f"replica alpha_c = {alpha_c:.6g}") + (f"; {n_bad} instances failed" if n_bad else "") \
        + (f"; {n_undecided} instances undecided (left out)" if n_undecided else "")
    status = Status.INCOMPLETE if n_bad or n_undecided else Status.CONVERGED
    return CapacityReport(success=status == 0, status=status, message=msg,
                          n_iter=int(ok.sum()), model=model,
                          options={"sizes": tuple(sizes), "n_seeds": len(seeds), "max_pass": max_pass},
                          conventions={"p": "fraction of feasible instances over seeds",
                                       "sem": "binomial sqrt(p(1-p)/(k-1))",
                                       "crossing": "linear interpolation of p = 1/2",
                                       "width": "alpha(p = 0.1) - alpha(p = 0.9), interpolated"},
                          timings={"total": time.perf_counter() - t0},
                          arrays={"alpha": alphas, "sizes": np.asarray(sizes), "p": p, "sem": sem,
                                  "p_exact": p_exact, "crossing": crossing,
                                  "crossing_err": crossing_err, "width": width},
                          scalars=scalars, error_estimate=_report_errors(sem, crossing_err))

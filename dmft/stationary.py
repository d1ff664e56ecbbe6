"""``method="stationary"``: one-time solvers of time-translation-invariant states.

* :class:`SphericalPSpin` (``T > 0``): the paramagnet under the
  fluctuation–dissipation theorem, ``C'(tau) = -T C(tau) - (1/T) int_0^tau
  xi'(C(tau - s)) C'(s) ds`` (Cugliandolo & Kurchan, PRL 71, 173 (1993);
  Crisanti, Horner & Sommers, Z. Phys. B 92, 257 (1993)), trapezoid
  predictor–corrector (kernel :func:`dmft._kernels.stationary.stationary_pspin`,
  second order in ``dt``), Richardson-extrapolated like ``"uniform"``.
* :class:`RandomRNN`: the Sompolinsky–Crisanti–Sommers stationary
  autocorrelation (:func:`dmft.rnn.stationary_profile`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from lmech import Status
from lmech.checks import check_bool, check_int, check_real

from ._kernels import stationary as _ks
from .cost import check_cost
from .pspin import SphericalPSpin
from .result import DMFTResult, finish_richardson, richardson_levels
from .rnn import RandomRNN, stationary_profile, stationary_variance
from .uniform import UNIFORM_DT, UNIFORM_RTOL, grid_points

__all__ = ["solve_stationary", "paramagnet_plateau", "ORDER", "ORDER_EXTRAPOLATED"]

#: Order of convergence in ``dt`` of the p-spin one-time scheme without extrapolation:
#: trapezoid memory and implicit trapezoid step, whose errors (Euler–Maclaurin, the
#: solution being smooth in tau) expand in even powers of ``dt``.
ORDER = 2
#: Hence the Richardson extrapolation (the default) removes the ``dt^2`` term and leaves
#: ``dt^4``.
ORDER_EXTRAPOLATED = 4


def solve_stationary(model, t_max, *, dt=UNIFORM_DT, tol=1e-10, max_corrector=50,
                     extrapolate=True, rtol=UNIFORM_RTOL, n_quad=48) -> DMFTResult:
    """The stationary (``t -> infinity``, time-translation invariant) correlation
    ``C(tau)`` on ``tau in [0, t_max]`` (``method="stationary"``).

    Parameters
    ----------
    model : SphericalPSpin (``T > 0``) or RandomRNN
    t_max : float
        Largest lag (``> 0``).
    dt : float, optional
        Step of the returned lag grid (default 0.1); must divide ``t_max``.
    tol, max_corrector : optional
        p-spin: corrector tolerance (``0 < tol <= 1e-3``, default 1e-10) and
        iteration cap per step (``1 .. 10000``, default 50).
    extrapolate : bool, optional
        p-spin: Richardson extrapolation from ``dt/2`` and ``dt`` with the
        error estimate from ``2 dt``, as in :func:`dmft.uniform.solve_uniform`
        (default True).
    rtol : float, optional
        ``success`` requires every error estimate ``<= rtol max(1, |X|)``
        (``0 < rtol <= 1``, default 1e-4).
    n_quad : int, optional
        RNN: Gauss–Hermite nodes (default 48); the profile is returned
        computed with ``min(2 n_quad, 300)`` nodes and twice the spline
        points, its difference with the ``n_quad`` profile being the error
        estimate (``2 <= n_quad <= 200``).  Every option is checked for both
        models; :func:`dmft.solve` refuses, with a TypeError, ``n_quad`` for the
        p-spin and ``tol``, ``max_corrector``, ``extrapolate`` for the RNN.

    Returns
    -------
    DMFTResult
        Arrays ``tau``, ``C`` (and for the p-spin ``R = -C'/T``); scalars
        ``energy`` (p-spin, the equilibrium ``-xi(1)/T`` exactly), ``C_final``
        or ``variance`` (RNN), and for the p-spin ``T_d``
        (:func:`paramagnet_plateau`).  At ``T <= T_d`` the FDT solution is
        computed but is not the long-time state (the dynamics from a random
        start ages): ``success`` is False, ``status`` ``NO_SOLUTION``, the
        message says so and ``plateau_q`` holds its plateau.
    """
    # every option is checked whatever the model (n_quad: RNN only; tol, max_corrector,
    # extrapolate: p-spin only; dmft.solve refuses them with a TypeError for the other model)
    t_max = check_real("t_max", t_max, low=0.0, low_open=True)
    tol = check_real("tol", tol, low=0.0, low_open=True, high=1e-3)
    max_corr = check_int("max_corrector", max_corrector, low=1, high=10_000)
    dt = check_real("dt", dt, low=0.0, low_open=True)
    extrapolate = check_bool("extrapolate", extrapolate)
    rtol = check_real("rtol", rtol, low=0.0, low_open=True, high=1.0)
    n_quad = check_int("n_quad", n_quad, low=2, high=200)
    if not isinstance(model, (SphericalPSpin, RandomRNN)):
        raise ValueError("model: method 'stationary' is implemented for SphericalPSpin and "
                         f"RandomRNN only, got {type(model).__name__}")
    n = grid_points(t_max, dt)
    if isinstance(model, RandomRNN):
        # the profile is computed on a spline of max(400, 4n) then 2 max(400, 4n) points
        check_cost("stationary", f"t_max/dt = {t_max!r}/{dt!r}", 8.0 * 40 * n,
                   1e-6 * n, f"its profile ({n} points)", "use a larger dt or a shorter t_max")
        return _stationary_rnn(model, t_max, dt, n, n_quad, rtol)
    T = check_real("T", model.T, low=0.0, low_open=True)
    nf = 2 * n - 1 if extrapolate else n
    # three levels of three one-time arrays; each step sums over the past (trapezoid memory)
    check_cost("stationary", f"t_max/dt = {t_max!r}/{dt!r}", 8.0 * 4 * (nf + n + n // 2),
               _SECONDS_PER_SQUARE * (float(nf) ** 2 + float(n) ** 2 + float(n) ** 2 / 4),
               f"its lag grid ({nf} points)", "use a larger dt or a shorter t_max")
    return _stationary_pspin(model, t_max, dt, n, tol, max_corr, extrapolate, rtol)


#: Seconds per (lag points)^2 of one level of the p-spin one-time scheme (measured on the
#: shared 2-core machine: 3-spin at T = 0.8, dt = 0.1, t_max = 500 and 1000, i.e. finest
#: levels of 10001 and 20001 points: 0.35 s and 0.87 s, 2.7e-9 and 1.7e-9 per point^2).
_SECONDS_PER_SQUARE = 2.5e-9


def paramagnet_plateau(model: SphericalPSpin) -> tuple[float, float]:
    """The dynamical temperature ``T_d`` of ``model`` and the plateau ``q`` of its FDT
    (time-translation-invariant) solution at the model's temperature.

    Under FDT the stationary equation (module docstring) gives, as ``tau -> infinity``
    with ``C -> q``, ``T^2 q = xi'(q) (1 - q)`` (Crisanti, Horner & Sommers, Z. Phys. B 92,
    257 (1993); Cugliandolo & Kurchan, PRL 71, 173 (1993)).  ``T_d^2`` is the largest
    value of ``xi'(q) (1-q) / q`` on ``(0, 1]`` (a polynomial: ``xi`` starts at ``q^2``;
    ``p (p-2)^(p-2) / (2 (p-1)^(p-1))`` for the pure p-spin with ``xi = q^p / 2``, 3/8
    at p = 3), and for ``T < T_d`` the plateau ``q`` is the largest root in ``(0, 1)``
    (0 for ``T > T_d``, the paramagnet decays).  Then the FDT solution is not the
    long-time state of the dynamics from a random start, which ages (Cugliandolo &
    Kurchan 1993).
    """
    P = np.polynomial.Polynomial
    xi = P(model.xi_coefficients())
    h = P((xi.deriv().coef[1:] if len(xi.deriv().coef) > 1 else [0.0])) * P([1.0, -1.0])
    cand = [0.0, 1.0] + [float(r.real) for r in h.deriv().roots()
                         if abs(r.imag) < 1e-12 and 0.0 < r.real < 1.0]
    Td = math.sqrt(max(0.0, max(float(h(q)) for q in cand)))
    roots = [float(r.real) for r in (h - model.T ** 2).roots()
             if abs(r.imag) < 1e-9 and 0.0 < r.real < 1.0]
    return Td, (max(roots) if roots and model.T < Td else 0.0)


def _stationary_rnn(model: RandomRNN, t_max, dt, n, n_quad, rtol):
    t0 = time.perf_counter()

    def profile(nq, refine):
        d0 = stationary_variance(model, n_quad=nq)
        if d0 == 0.0:
            return d0, dt * np.arange(n), np.zeros(n)
        from scipy.interpolate import CubicSpline
        ts, ds = stationary_profile(model, t_max, n_quad=nq, n_points=refine * max(400, 4 * n))
        tau = dt * np.arange(n)
        tau = tau[tau <= ts[-1] + 1e-12]
        return d0, tau, CubicSpline(ts, ds)(tau)

    # the profile with twice the quadrature nodes and spline points is returned; its
    # difference with the base one (n_quad) is the (conservative) error estimate
    d1, tau1, C1 = profile(n_quad, 1)
    d0, tau, C = profile(min(2 * n_quad, 300), 2)  # lmech.gauss.hermite allows up to 300
    m = min(len(C), len(C1))
    err = {"variance": abs(d1 - d0), "C": float(np.max(np.abs(C1[:m] - C[:m])))}
    if d0 == 0.0:
        msg = "g phi'(0) <= 1: the stationary state is the fixed point x = 0"
    else:
        msg = ("stationary profile to tau = %.6g" % tau[-1]) if tau[-1] < t_max - 1e-9 * t_max \
            else "stationary profile to t_max"
    scale = max(1.0, abs(d0))
    success = all(e <= rtol * scale for e in err.values())
    if not success:
        msg += f"; error estimate above rtol = {rtol:g}: raise n_quad"
    conventions = model.conventions()
    conventions["integrator"] = "SCS energy conservation, tau(Delta) quadrature (solve_ivp)"
    conventions["tau"] = "C(tau) = lim_t C(t + tau, t)"
    conventions["error_estimate"] = ("difference with min(2 n_quad, 300) nodes and twice the "
                                     "spline points")
    return DMFTResult(success=success, status=Status.CONVERGED if success else Status.TOLERANCE,
                      message=msg, n_iter=0,
                      model=model,
                      options={"method": "stationary", "dt": dt, "n_quad": n_quad, "rtol": rtol},
                      conventions=conventions, timings={"solve": time.perf_counter() - t0},
                      arrays={"tau": tau, "C": C},
                      scalars={"t_max": t_max, "variance": d0, "n_steps": len(tau) - 1},
                      meta={"method": "stationary"}, error_estimate=err)


def _stationary_pspin(model: SphericalPSpin, t_max, dt, n, tol, max_corr, extrapolate, rtol):
    T = check_real("T", model.T, low=0.0, low_open=True)
    coef = model.xi_coefficients()
    opts = {"method": "stationary", "dt": dt, "tol": tol, "max_corrector": max_corr,
            "extrapolate": extrapolate, "rtol": rtol}

    def level(h, m, res):
        C = np.zeros(m)
        F = np.zeros(m)
        t0 = time.perf_counter()
        its = np.zeros(m, dtype=np.int64)
        done = _ks.stationary_pspin(coef, T, h, m, tol, max_corr, C, F, its)
        n_fail = int(np.sum(its[1:done] > max_corr))
        if done < m or not np.all(np.isfinite(C)):
            msg = f"non-finite values at tau = {h * (done - 1):.6g} (h = {h:.3g})"
            status = Status.DIVERGED
        elif n_fail:
            msg = (f"corrector did not reach tol = {tol:g} in {max_corr} iterations at "
                   f"{n_fail} steps (h = {h:.3g}): raise max_corrector or decrease dt")
            status = Status.MAX_ITER
        else:
            msg = "integrated to t_max"
            status = Status.CONVERGED
        ok = msg == "integrated to t_max"
        return {"C": C, "R": -F / T}, {"success": ok, "status": status, "iters": its,
                                        "message": msg, "elapsed": time.perf_counter() - t0}

    arr, diff, infos = richardson_levels(level, n, dt, opts)
    tau = dt * np.arange(n)
    conventions = model.conventions()
    conventions["integrator"] = "one-time (TTI + FDT) trapezoid predictor-corrector" + (
        "; Richardson-extrapolated from steps dt/2 and dt" if extrapolate else "")
    conventions["tau"] = "C(tau) = C(t + tau, t), R(tau) = -C'(tau)/T, t -> infinity"
    scalars = {"t_max": t_max, "energy": model.equilibrium_energy(),
               "C_final": float(arr["C"][-1]), "n_steps": n - 1}
    res = finish_richardson(model, opts, {"tau": tau, "C": arr["C"], "R": arr["R"]}, diff, infos, scalars,
                  {"C_final": ("C", "last")}, conventions, {"method": "stationary"})
    res.error_estimate["energy"] = 0.0  # -xi(1)/T exactly
    Td, q = paramagnet_plateau(model)
    res.scalars["T_d"] = Td
    if model.T <= Td:
        # the FDT solution exists (it has a plateau q) but is not the long-time state
        res.scalars["plateau_q"] = q
        res.__dict__["success"] = False
        res.__dict__["status"] = int(Status.NO_SOLUTION)
        res.__dict__["message"] = (
            f"T = {model.T:g} <= T_d = {Td:.6g}: the paramagnetic (FDT, time-translation-"
            f"invariant) ansatz is not the long-time state below the dynamical temperature "
            f"(its solution has a plateau q = {q:.6g}; the dynamics from a random start ages: "
            f"use method='doubling' or 'uniform'); the integration itself: {res.message}")
    return res

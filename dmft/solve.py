"""``dmft.solve``: integrate a model's DMFT equations and return a :class:`DMFTResult`.

Methods
-------
``"uniform"``
    Second-order predictor–corrector on a uniform grid with trapezoid memory
    integrals (:func:`dmft._kernels.integrate_uniform`); cost ``O(n^3)``,
    memory ``O(n^2)``.  Every model.  By default the grids ``dt/2`` and
    ``dt`` are combined by Richardson extrapolation and a third grid ``2 dt``
    gives the error estimate (``extrapolate``, ``rtol``); about 1.14 times
    the cost of the ``dt/2`` grid alone.  Requests whose two-time arrays
    would not fit in memory raise ValueError before any allocation.
``"sampled"``
    Monte Carlo over trajectories of the effective process (GLM; see
    :func:`dmft.glm.solve_sampled`).
``"doubling"``
    Time-doubling (Kim–Latz type) integrator of the spherical p-spin with a
    fixed window of points, for long and aging runs (chosen automatically for
    a :class:`SphericalPSpin` with ``t_max > 50`` when ``method`` is not given)
    (:func:`dmft.doubling.solve_doubling`; options ``n_window``, ``dt0``,
    ``tol``, ``max_corrector``, ``n_copy``, ``fdt_split``, ``checkpoint``,
    ``resume``).
``"stationary"``
    One-time solver for the time-translation-invariant paramagnet of the
    spherical p-spin (``T > 0``), assuming the fluctuation–dissipation
    theorem; for the random RNN the Sompolinsky–Crisanti–Sommers stationary
    autocorrelation (:func:`dmft.rnn.stationary_profile`).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

import lmech
from lmech.checks import check_bool, check_choice, check_int, check_options, check_real
from lmech.result import over_tolerance

from . import _kernels
from .glm import GLMDynamics
from .linreg import LinearRegressionGF
from .pspin import SphericalPSpin
from .rnn import PHI_CODES, RandomRNN, stationary_variance

__all__ = ["DMFTResult", "solve", "METHODS"]

METHODS = ("uniform", "stationary", "sampled", "doubling")


@lmech.register_result("dmft.DMFTResult")
class DMFTResult(lmech.Result):
    """Result of :func:`dmft.solve`.

    Arrays (model dependent): ``t`` (time grid), ``C`` (two-time correlation,
    full symmetric), ``R`` (response, lower triangle ``R[i, j] = R(t_i,
    t_j)``, ``j <= i``), ``mu`` (Lagrange multiplier / mass), ``iterations``
    (corrector iterations per step) and one-time observables; scalars hold the
    final values (the observables a sweep stores).  ``method="doubling"``
    (:func:`dmft.doubling.solve_doubling`) stores the final window ``t``,
    ``C``, ``chi`` (integrated response) and ``R`` (interval means), and the
    one-time history ``t_all``, ``e``, ``mu``, ``iterations`` over every time
    visited.
    """


_UNIFORM_OPTS = ("method", "dt", "tol", "rtol_corrector", "max_corrector", "n_quad", "closed_form",
                 "resume", "extrapolate", "rtol")
_SAMPLED_OPTS = ("method", "dt", "n_traj", "n_samples", "n_replicas", "seed", "tol_se", "n_pass",
                 "max_iter", "damping", "adaptive_damping", "resume")

#: Default output step of ``method="uniform"`` (with ``extrapolate=True`` the
#: finest integration grid has step ``dt / 2``).
UNIFORM_DT = 0.1
#: Default relative tolerance on the Richardson error estimate.
UNIFORM_RTOL = 1e-4
#: Without an explicit ``method``, a :class:`SphericalPSpin` run longer than
#: this goes to ``method="doubling"`` (the uniform grid costs O((t_max/dt)^3)).
AUTO_DOUBLING_T_MAX = 50.0
#: Used when the available memory cannot be read from the system.
MEMORY_CAP_BYTES = 8 * 2 ** 30


def solve(model, t_max, **options) -> DMFTResult:
    """Solve the DMFT equations of ``model`` on ``[0, t_max]``.

    Parameters
    ----------
    model : SphericalPSpin, LinearRegressionGF, RandomRNN or GLMDynamics
    t_max : float
        Final time (``> 0``).
    method : {"uniform", "stationary", "sampled", "doubling"}, optional
        Integrator.  If not given: ``"doubling"`` for a :class:`SphericalPSpin`
        with ``t_max > 50`` (``AUTO_DOUBLING_T_MAX``) or with a doubling-only
        option (``n_window``, ``dt0``, ...), and no uniform-only option
        (``dt``, ``extrapolate``, ``rtol``, ...), else ``"uniform"``; the choice is recorded in
        ``result.options["method"]`` and ``result.meta["method_choice"]``
        and stated in the message.  ``"sampled"`` takes the options of
        :func:`dmft.glm.solve_sampled` and ``"doubling"`` those of
        :func:`dmft.doubling.solve_doubling` (``n_window``, ``dt0``, ``tol``,
        ``max_corrector``, ``n_copy``, ``fdt_split``, ``checkpoint``,
        ``resume``) instead of the corrector options.
    dt : float, optional
        Step of the returned time grid (default 0.1); must divide ``t_max``.
    extrapolate : bool, optional
        ``"uniform"`` and ``"stationary"`` (p-spin): integrate at ``dt / 2``,
        ``dt`` and ``2 dt`` and return the Richardson extrapolation ``(4
        X_{dt/2} - X_dt) / 3`` of every array on the ``dt`` grid (default
        True).  The error estimate of each observable is the undivided
        difference ``|X_R(dt) - X_R(2 dt)|`` with ``X_R(h)`` the
        extrapolation from ``h/2, h``, compared on the ``2 dt`` grid.  It is
        not divided by ``2^q - 1``: the extrapolated error is not a single
        power of ``dt`` at the default step (for the 2-spin it changes sign
        between ``dt = 0.1`` and ``0.025``, against
        :func:`dmft.pspin2_exact`), so the undivided difference, which
        bounds the error whenever the error at ``2 dt`` is at least twice the
        error at ``dt``, is the conservative choice.  With False the
        single-grid second-order solution at ``dt`` is returned, with the
        estimate ``|X_dt - X_2dt| / 3`` from a half-resolution run.  If
        ``t_max / dt`` is odd, the last common time is ``t_max - dt``.  A
        final-time scalar's estimate is the largest over the last quarter of
        the common times (robust where the leading error term changes sign).
    rtol : float, optional
        ``success`` requires every error estimate ``<= rtol * max(1, |X|)``
        (``|X|`` the largest magnitude of that observable; default 1e-4).  With
        the default ``dt`` the 3-spin at ``T = 0.8`` has energy error 5e-5 at
        ``t = 100`` (measured against ``-1/(2T)``; estimate 9e-5), but the
        two-time ``C`` is estimated to 6e-4, so ``success`` is False there:
        ``dt = 0.05`` brings every estimate below 1e-4.
    tol : float, optional
        Corrector tolerance on the largest change of a row (default 1e-10).
    resume : DMFTResult, optional
        A successful ``"uniform"`` result with ``extrapolate=False``, of the
        same model with the same numerical options and a shorter horizon
        (e.g. loaded from an archive with :func:`lmech.archive.load`): its
        rows are reused and the integration continues to ``t_max``,
        reproducing the uninterrupted run exactly.  For :class:`GLMDynamics`
        also with ``method="sampled"`` (a sampled result with the same sampled
        options: its per-replica state is regenerated in one pass, see
        :func:`dmft.glm.solve_sampled`).
    rtol_corrector : float, optional
        The corrector also stops when its change falls below this fraction of
        the predictor–corrector difference (the local error estimate; default
        1e-3; 0 iterates to ``tol``).
    max_corrector : int, optional
        Maximum corrector iterations per step (default 50).
    n_quad : int, optional
        Gauss–Hermite nodes per dimension for phi-correlations (RNN).
        ``"uniform"``: default 24; the quadrature error (the change of the
        ``2 dt`` solution with ``min(2 n_quad, 300)`` nodes) is added to every error
        estimate, since a fixed rule loses accuracy as ``C(t,t)`` grows (tanh
        at ``g = 3``: 0.04 in C with 24 nodes).  ``"stationary"``: default
        48; the profile is returned computed with ``min(2 n_quad, 300)`` nodes and
        twice the spline points, its difference with the ``n_quad`` profile
        being the error estimate.
    closed_form : bool, optional
        RNN with ``erf``/``linear``: use the closed-form phi-correlation
        instead of quadrature (default True).

    Returns
    -------
    DMFTResult
        ``error_estimate`` holds the estimated absolute error of the main
        observables (final-time scalars and, for arrays, the largest error
        over the common grid).  ``success`` is False (with a message) if the
        integration produced non-finite values, a corrector did not converge
        or an error estimate exceeds its tolerance.

    Raises
    ------
    ValueError
        On invalid input, and (``"uniform"``) before any allocation when the
        two-time arrays of ``t_max / dt`` points would not fit in the
        available memory (use ``method="doubling"``).

    Notes
    -----
    Cost of ``"uniform"``: O(m^3) time and O(m^2) memory for ``m = 2 t_max /
    dt`` points of the finest grid (memory-bound; about 10 s for m = 2000 on
    one core of the reference machine, see ``benchmarks/README.md``).  Runs
    that fit in memory are not refused however long they take.
    """
    auto = "method" not in options
    if auto:
        method = _auto_method(model, t_max, options)
    else:
        method = check_choice("method", options["method"], METHODS)
    if method == "doubling":
        from .doubling import solve_doubling
        res = solve_doubling(model, t_max, **options)
        if auto:
            why = (f"t_max > {AUTO_DOUBLING_T_MAX:g}" if t_max > AUTO_DOUBLING_T_MAX
                   else "doubling options given")
            _note_auto(res, "doubling", why)
        return res
    if method == "sampled":
        check_options(options, _SAMPLED_OPTS, "dmft.solve(method='sampled')")
        if not isinstance(model, GLMDynamics):
            raise ValueError("method 'sampled' is implemented for GLMDynamics only")
        from .glm import solve_sampled
        t_max = check_real("t_max", t_max, low=0.0, low_open=True)
        kw = {k: v for k, v in options.items() if k != "method"}
        return solve_sampled(model, t_max, **kw)
    check_options(options, _UNIFORM_OPTS, "dmft.solve")
    t_max = check_real("t_max", t_max, low=0.0, low_open=True)
    tol = check_real("tol", options.get("tol", 1e-10), low=0.0, low_open=True)
    max_corr = check_int("max_corrector", options.get("max_corrector", 50), low=1, high=10_000)
    rtol_pc = check_real("rtol_corrector", options.get("rtol_corrector", 1e-3), low=0.0, high=0.5)
    dt = check_real("dt", options.get("dt", UNIFORM_DT), low=0.0, low_open=True)
    extrapolate = check_bool("extrapolate", options.get("extrapolate", True))
    rtol = check_real("rtol", options.get("rtol", UNIFORM_RTOL), low=0.0, low_open=True)
    n = int(round(t_max / dt)) + 1
    if abs((n - 1) * dt - t_max) > 1e-9 * t_max:
        raise ValueError(f"dt must divide t_max, got t_max={t_max!r}, dt={dt!r}")
    if n < 3:
        raise ValueError(f"dt must give at least 2 steps, got t_max/dt = {t_max / dt!r}")
    if method == "stationary":
        if isinstance(model, RandomRNN):
            return _stationary_rnn(model, t_max, dt, n, options)
        if not isinstance(model, SphericalPSpin):
            raise ValueError("method 'stationary' is implemented for SphericalPSpin and "
                             "RandomRNN only")
        return _stationary_pspin(model, t_max, dt, n, tol, max_corr, extrapolate, rtol)
    if not isinstance(model, (SphericalPSpin, RandomRNN, LinearRegressionGF, GLMDynamics)):
        raise ValueError(f"model must be a dmft model, got {type(model).__name__}")
    _check_memory(model, t_max, dt, n, extrapolate)
    n_quad = check_int("n_quad", options.get("n_quad", 24), low=2, high=200)
    opts = {"method": method, "dt": dt, "tol": tol, "rtol_corrector": rtol_pc,
            "max_corrector": max_corr, "extrapolate": extrapolate, "rtol": rtol}
    if isinstance(model, RandomRNN):
        opts["n_quad"] = n_quad
        opts["closed_form"] = check_bool("closed_form", options.get("closed_form", True))
    resume = options.get("resume")
    if resume is not None:
        if extrapolate:
            raise ValueError("resume needs extrapolate=False (a resumable single-grid run)")
        _check_resume(resume, model, opts, n)
    if isinstance(model, SphericalPSpin):
        return _uniform_pspin(model, t_max, dt, n, opts, resume)
    if isinstance(model, RandomRNN):
        return _uniform_rnn(model, t_max, dt, n, opts, resume)
    if isinstance(model, LinearRegressionGF):
        return _uniform_linreg(model, t_max, dt, n, opts, resume)
    if isinstance(model, GLMDynamics):
        return _uniform_glm(model, t_max, dt, n, opts, resume)
    raise ValueError(f"model must be a dmft model, got {type(model).__name__}")


def _run_uniform(code, par, coef, C0, y0, dt, n, opts, *, big=False, z=None, w=None, resume=None):
    C = np.zeros((n, n))
    R = np.zeros((n, n))
    Rr = np.zeros((n, n) if big else (1, 1))
    Cl = np.zeros((n, n) if big else (1, 1))
    y = np.zeros((len(y0), n))
    mu = np.zeros(n)
    iters = np.zeros(n, dtype=np.int64)
    start = 0
    if resume is not None:
        start = resume.C.shape[0]
        C[:start, :start] = resume.C
        R[:start, :start] = resume.R
        iters[:start] = resume.iterations
        if "mu" in resume.arrays:
            mu[:start] = resume.mu
        if big:
            Rr[:start, :start] = resume.R_sample
            Cl[:start, :start] = resume.C_loss
            y[0, :start] = resume.m
    if z is None:
        z, w = np.zeros(1), np.ones(1)
    t0 = time.perf_counter()
    done = _kernels.integrate_uniform(code, np.asarray(par, dtype=np.float64),
                                      np.asarray(coef, dtype=np.float64), float(C0),
                                      np.asarray(y0, dtype=np.float64), dt, n, opts["tol"],
                                      opts["rtol_corrector"], opts["max_corrector"],
                                      np.ascontiguousarray(z),
                                      np.ascontiguousarray(w), C, R, Rr, Cl, y, mu, iters, start)
    elapsed = time.perf_counter() - t0
    finite = bool(np.all(np.isfinite(C[:done, :done])) and np.all(np.isfinite(R[:done, :done])))
    success = done == n and finite
    corr_fail = int(np.sum(iters[1:done] > opts["max_corrector"]))
    if success and corr_fail:
        success = False
        msg = f"corrector did not reach tol in {corr_fail} steps"
    elif success:
        msg = "integrated to t_max"
    else:
        msg = f"non-finite values at t = {(done - 1) * dt:.6g}; stopped"
        C[done:, :] = np.nan
        C[:, done:] = np.nan
        R[done:, :] = np.nan
        mu[done:] = np.nan
    return dict(C=C, R=R, Rr=Rr, Cl=Cl, y=y, mu=mu, iters=iters, done=done, success=success,
                message=msg, elapsed=elapsed)


def _check_resume(resume, model, opts, n):
    """Raise ValueError (naming ``resume``) unless ``resume`` can be continued to ``n`` points."""
    if not isinstance(resume, DMFTResult) or resume.meta.get("method") != "uniform":
        raise ValueError("resume must be a DMFTResult of method 'uniform'")
    if resume.model != model:
        raise ValueError(f"resume was computed for another model: {resume.model!r}")
    if not resume.success:
        raise ValueError("resume must be a successful run")
    for k, v in opts.items():
        if resume.options.get(k) != v:
            raise ValueError(f"resume was computed with {k}={resume.options.get(k)!r}, not {v!r}")
    n0 = resume.C.shape[0]
    if not 2 <= n0 <= n:
        raise ValueError(f"resume has {n0} time points; need 2 <= points <= {n}")


def _auto_method(model, t_max, options):
    """The method chosen when ``method`` is not given (see :func:`solve`)."""
    from .doubling import DOUBLING_OPTIONS
    uniform_only = {"dt", "rtol_corrector", "n_quad", "closed_form", "extrapolate", "rtol",
                    "resume"}
    doubling_only = set(DOUBLING_OPTIONS) - set(_UNIFORM_OPTS)
    if not isinstance(model, SphericalPSpin) or uniform_only & set(options):
        return "uniform"
    if doubling_only & set(options):
        return "doubling"
    if isinstance(t_max, (int, float)) and t_max > AUTO_DOUBLING_T_MAX:
        return "doubling"
    return "uniform"


def _note_auto(res, method, why):
    res.options["method"] = method
    res.meta["method_choice"] = f"automatic: {method!r} ({why})"
    res.__dict__["message"] = f"{res.message} [method {method!r} chosen automatically: {why}]"


def _available_memory():
    """Bytes of memory available: MemAvailable (else free pages, else ``MEMORY_CAP_BYTES``),
    capped by a cgroup v2 limit (``memory.max - memory.current``) where there is one."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            avail = MEMORY_CAP_BYTES
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as f:
                used = int(f.read().strip())
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    return avail


def _check_memory(model, t_max, dt, n, extrapolate):
    """Raise ValueError (naming t_max and dt) if the two-time arrays would not fit in memory."""
    n_arr = 4 if isinstance(model, (LinearRegressionGF, GLMDynamics)) else 2
    nc = (n - 1) // 2 + 1
    nf = 2 * n - 1 if extrapolate else n
    # the finest level, its combination with the dt level (and temporaries), the 2 dt level
    need = 8.0 * n_arr * (nf * nf + 3.0 * n * n + nc * nc)
    avail = _available_memory()
    if need > 0.8 * avail:
        raise ValueError(
            f"t_max/dt = {t_max!r}/{dt!r}: method 'uniform' would need {need / 2**30:.3g} GiB "
            f"for its two-time arrays ({nf} x {nf} points), more than the "
            f"{avail / 2**30:.3g} GiB available; use method='doubling' (SphericalPSpin), a "
            f"larger dt or a shorter t_max")


def _sub(a):
    """Every other grid point of a time series or two-time array."""
    return a[::2] if a.ndim == 1 else a[::2, ::2]


def _levels(level, n, dt, opts, resume=None):
    """Run ``level(h, m, resume)`` at the resolutions of ``opts`` and combine them.

    ``level`` returns ``(arrays, info)``: ``arrays`` maps names to time series
    ``(m,)`` or two-time arrays ``(m, m)`` on ``t_i = i h``; ``info`` has
    ``success``, ``message``, ``iters``, ``elapsed``.  Returns ``(arrays,
    diff, infos)``: the (extrapolated) arrays on the ``dt`` grid, the
    error estimates on the ``2 dt`` grid (same names) or None, and the infos
    (the ``dt`` level first).  Extrapolated: the undivided difference
    ``|X_R(dt) - X_R(2 dt)|`` (conservative: it bounds ``|X_R(dt) - X|``
    whenever ``|X_R(2 dt) - X| >= 2 |X_R(dt) - X|``, with no assumption on the
    sign or the order of the remainder).
    """
    nc = (n - 1) // 2 + 1
    if opts["extrapolate"]:
        mid, imid = level(dt, n, None)
        fine, ifine = level(0.5 * dt, 2 * n - 1, None)
        out = {k: (4.0 * _sub(fine[k]) - mid[k]) / 3.0 for k in mid}
        infos = [imid, ifine]
        if nc >= 3:
            crs, icrs = level(2.0 * dt, nc, None)
            infos.append(icrs)
            diff = {k: np.abs(_sub(out[k]) - (4.0 * _sub(mid[k]) - crs[k]) / 3.0)
                    for k in mid}
        else:
            diff = None
    else:
        out, imid = level(dt, n, resume)
        infos = [imid]
        if nc >= 3:
            crs, icrs = level(2.0 * dt, nc, None)
            infos.append(icrs)
            diff = {k: np.abs(_sub(out[k]) - crs[k]) / 3.0 for k in out}
        else:
            diff = None
    return out, diff, infos


def _finish(model, opts, arrays, diff, infos, scalars, finals, conventions, meta,
            residual=math.nan, skip=(), hint="decrease dt"):
    """Build the result: error estimates, the tolerance test, the message.

    ``finals`` maps a scalar's name to ``(array name, where)``: its error
    estimate is the largest of ``diff[array name]`` over the last quarter of
    the common times (``where="last"``, time series) or over the middle half of
    the last common row (``"half"``, for ``C(t_max, t_max/2)``).  Every
    array in ``diff`` also gets the largest estimate over the common grid.
    """
    err = {}
    if diff is None:
        err = {k: math.nan for k in finals}
    else:
        for name, (key, where) in finals.items():
            d = diff[key]
            # largest over the last quarter of the common grid (a single time can sit
            # where the leading error term changes sign)
            q = max(1, len(d) // 4)
            if where == "last":
                err[name] = float(np.max(d[-q:]))
            else:  # "half": C(t_max, t_max/2), over the middle half of the last row
                m = len(d) - 1
                err[name] = float(np.max(d[-1, m // 4:m - m // 4 + 1]))
        for key, d in diff.items():
            if key in skip:
                continue
            err[key] = float(np.max(d)) if np.all(np.isfinite(d)) else math.nan
    rtol = opts["rtol"]
    # arrays are held to their largest magnitude
    bad = over_tolerance(err, {name: scalars[name] if name in scalars
                               else float(np.nanmax(np.abs(arrays[name]))) for name in err}, rtol)
    ok = all(i["success"] for i in infos)
    success = ok and not bad
    if not ok:
        msg = next(i["message"] for i in infos if not i["success"])
        if infos.index(next(i for i in infos if not i["success"])) > 0:
            msg = f"a refinement level ({msg})"
    elif diff is None:
        msg = "too few steps for an error estimate (t_max / dt >= 4 needed)"
    elif bad:
        msg = (f"error estimate above rtol = {rtol:g} for {', '.join(bad)} "
               f"(largest {max(err[b] for b in bad):.3g}); {hint}")
    else:
        msg = "integrated to t_max; error estimates within rtol"
    levels = "dt/2, dt, 2 dt" if opts["extrapolate"] else "dt, 2 dt"
    conventions = dict(conventions)
    conventions["error_estimate"] = (
        "undivided Richardson difference |X_R(dt) - X_R(2 dt)|, "
        "X_R(h) = (4 X_{h/2} - X_h)/3 (X_R(dt) returned)"
        if opts["extrapolate"] else "Richardson: |X_dt - X_2dt| / 3 (second order)")
    meta = dict(meta, levels=levels)
    return DMFTResult(success=success, status=0 if success else -1, message=msg,
                      n_iter=int(sum(int(i["iters"].sum()) for i in infos)), residual=residual,
                      model=model, options=opts, conventions=conventions,
                      timings={"solve": sum(i["elapsed"] for i in infos)}, arrays=arrays,
                      scalars=scalars, meta=meta, error_estimate=err)


def _info(out):
    return {k: out[k] for k in ("success", "message", "iters", "elapsed")}


def _fdt_last_row(C, R, T, dt):
    """X(t, t') = T R(t,t') / d_t' C(t,t') along the last row (second-order differences)."""
    row = C[-1]
    dC = np.gradient(row, dt, edge_order=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return T * R[-1] / dC


_INTEGRATOR = "uniform Heun predictor-corrector, trapezoid memory"


def _integrator(opts):
    if opts["extrapolate"]:
        return _INTEGRATOR + "; Richardson-extrapolated from steps dt/2 and dt"
    return _INTEGRATOR


def _uniform_pspin(model: SphericalPSpin, t_max, dt, n, opts, resume=None):
    coef = model.xi_coefficients()

    def level(h, m, res):
        out = _run_uniform(_kernels.MODEL_PSPIN, [model.T], coef, 1.0, [], h, m, opts,
                           resume=res)
        e = np.full(m, np.nan)
        _kernels.pspin_energy(coef, out["C"], out["R"], h, out["done"], e)
        return {"C": out["C"], "R": out["R"], "mu": out["mu"], "e": e}, _info(out)

    arr, diff, infos = _levels(level, n, dt, opts, resume)
    C, R = arr["C"], arr["R"]
    t = dt * np.arange(n)
    cons = np.diag(C) - 1.0
    X = _fdt_last_row(C, R, model.T, dt)
    conventions = model.conventions()
    conventions["integrator"] = _integrator(opts)
    scalars = {"t_max": t_max, "energy": float(arr["e"][-1]), "mu_final": float(arr["mu"][-1]),
               "C_half": float(C[-1, (n - 1) // 2]),
               "max_constraint_residual": float(np.nanmax(np.abs(cons))),
               "n_steps": n - 1}
    arrays = {"t": t, "C": C, "R": R, "mu": arr["mu"], "e": arr["e"],
              "constraint_residual": cons, "fdt_ratio_last": X,
              "iterations": infos[0]["iters"]}
    finals = {"energy": ("e", "last"), "mu_final": ("mu", "last"), "C_half": ("C", "half")}
    return _finish(model, opts, arrays, diff, infos, scalars, finals, conventions,
                   {"method": "uniform"}, residual=scalars["max_constraint_residual"])


def _uniform_rnn(model: RandomRNN, t_max, dt, n, opts, resume=None):
    from lmech import gauss
    par = [model.g, model.noise, float(PHI_CODES[model.phi]), float(opts["closed_form"])]
    exact = opts["closed_form"] and model.phi in ("erf", "linear")

    def make_level(n_quad):
        z, w = gauss.hermite(n_quad)

        def level(h, m, res):
            out = _run_uniform(_kernels.MODEL_RNN, par, [0.0], model.x0_var, [], h, m, opts,
                               z=z, w=w, resume=res)
            return ({"C": out["C"], "R": out["R"], "variance_t": np.diag(out["C"]).copy()},
                    _info(out))

        return level

    arr, diff, infos = _levels(make_level(opts["n_quad"]), n, dt, opts, resume)
    nc = (n - 1) // 2 + 1
    hint = "decrease dt"
    n_quad2 = min(2 * opts["n_quad"], 300)  # lmech.gauss.hermite allows up to 300
    if not exact and diff is not None:
        # quadrature error: the 2 dt grid again with twice the Gauss-Hermite nodes; the
        # change (the error of the n_quad rule, conservatively) is added to the estimates
        base, ib = make_level(opts["n_quad"])(2.0 * dt, nc, None)
        fine, iq = make_level(n_quad2)(2.0 * dt, nc, None)
        infos += [ib, iq]
        quad = {k: np.abs(fine[k] - base[k]) for k in diff}
        if max(np.nanmax(q) for q in quad.values()) > max(np.nanmax(d) for d in diff.values()):
            hint = "raise n_quad (the quadrature error dominates)"
        for k in diff:
            diff[k] = diff[k] + quad[k]
    C = arr["C"]
    t = dt * np.arange(n)
    scalars = {"t_max": t_max, "variance": float(arr["variance_t"][-1]),
               "C_half": float(C[-1, (n - 1) // 2]), "n_steps": n - 1}
    if model.noise == 0.0 and model.phi in ("tanh", "erf"):
        scalars["stationary_variance"] = stationary_variance(model)
    conventions = model.conventions()
    conventions["integrator"] = _integrator(opts)
    conventions["phi_correlation"] = ("closed form" if exact else
                                      f"2-D Gauss-Hermite product rule, {opts['n_quad']}^2 nodes")
    if not exact:
        conventions["quadrature_error"] = (f"change of the 2 dt solution with {n_quad2}^2 "
                                           "nodes, added to every error estimate")
    arrays = {"t": t, "C": C, "R": arr["R"], "variance_t": arr["variance_t"],
              "iterations": infos[0]["iters"]}
    finals = {"variance": ("variance_t", "last"), "C_half": ("C", "half")}
    return _finish(model, opts, arrays, diff, infos, scalars, finals, conventions,
                   {"method": "uniform"}, hint=hint)


def _linreg_level(model: LinearRegressionGF, opts, observables=None):
    par = [model.gamma, model.noise, model.ridge, model.signal, model.temperature]

    def level(h, m, res):
        out = _run_uniform(_kernels.MODEL_LINREG, par, [0.0], model.signal, [-model.signal], h,
                           m, opts, big=True, resume=res)
        err = np.diag(out["C"]).copy()
        arrays = {"C": out["C"], "R": out["R"], "m": out["y"][0].copy(), "error_t": err,
                  "train_loss_t": 0.5 * np.diag(out["Cl"]).copy(), "C_loss": out["Cl"],
                  "R_sample": out["Rr"]}
        if observables is not None:
            arrays.update(observables(arrays))
        return arrays, _info(out)

    return level


def _uniform_linreg(model: LinearRegressionGF, t_max, dt, n, opts, resume=None):
    arr, diff, infos = _levels(_linreg_level(model, opts), n, dt, opts, resume)
    t = dt * np.arange(n)
    err = arr["error_t"]
    test = 0.5 * (err + model.noise)
    scalars = {"t_max": t_max, "error": float(err[-1]), "test_risk": float(test[-1]),
               "train_loss": float(arr["train_loss_t"][-1]), "overlap_m": float(arr["m"][-1]),
               "n_steps": n - 1}
    conventions = model.conventions()
    conventions["integrator"] = _integrator(opts)
    arrays = {"t": t, "C": arr["C"], "R": arr["R"], "m": arr["m"], "error_t": err,
              "test_risk_t": test, "train_loss_t": arr["train_loss_t"],
              "C_loss": arr["C_loss"], "R_sample": arr["R_sample"],
              "iterations": infos[0]["iters"]}
    if diff is not None:
        diff["test_risk_t"] = 0.5 * diff["error_t"]
    finals = {"error": ("error_t", "last"), "test_risk": ("test_risk_t", "last"),
              "train_loss": ("train_loss_t", "last"), "overlap_m": ("m", "last")}
    return _finish(model, opts, arrays, diff, infos, scalars, finals, conventions,
                   {"method": "uniform"})


def _uniform_glm(model: GLMDynamics, t_max, dt, n, opts, resume=None):
    if model.loss != "square":
        raise ValueError(f"loss {model.loss!r} has no Gaussian closure: use method='sampled'")
    if model.batch_fraction != 1.0:
        raise ValueError("batch_fraction < 1 (SGD) has no Gaussian closure: use method='sampled'")
    if resume is not None:
        # the closure's own state: continue the linear-equivalent run exactly
        resume = DMFTResult(success=resume.success, model=model.linear_equivalent(),
                            options=resume.options, meta={"method": "uniform"},
                            arrays={"C": resume.C, "R": resume.R, "iterations": resume.iterations,
                                    "R_sample": resume.R_sample, "C_loss": resume.C_loss,
                                    "m": resume.m_equivalent})

    def observables(a):
        obs = model.observables(a["error_t"], a["m"])
        return {k + "_t": np.asarray(v, dtype=float) for k, v in obs.items()}

    lin = model.linear_equivalent()
    arr, diff, infos = _levels(_linreg_level(lin, opts, observables), n, dt, opts,
                                 resume)
    arrays = {"t": dt * np.arange(n), "C": arr["C"], "R": arr["R"], "m_equivalent": arr["m"],
              "R_sample": arr["R_sample"], "C_loss": arr["C_loss"],
              "error_equivalent_t": arr["error_t"], "train_loss_t": arr["train_loss_t"],
              "M_t": arr["M_t"], "Q_t": arr["Q_t"], "test_risk_t": arr["test_risk_t"],
              "iterations": infos[0]["iters"]}
    scalars = {"t_max": t_max, "M": float(arr["M_t"][-1]), "Q": float(arr["Q_t"][-1]),
               "test_risk": float(arr["test_risk_t"][-1]),
               "train_loss": float(arr["train_loss_t"][-1]), "n_steps": n - 1}
    finals = {"M": ("M_t", "last"), "Q": ("Q_t", "last"), "test_risk": ("test_risk_t", "last"),
              "train_loss": ("train_loss_t", "last")}
    if "test_error_t" in arr:
        arrays["test_error_t"] = arr["test_error_t"]
        scalars["test_error"] = float(arr["test_error_t"][-1])
        finals["test_error"] = ("test_error_t", "last")
    if diff is not None:
        diff["error_equivalent_t"] = diff.pop("error_t")
        diff["m_equivalent"] = diff.pop("m")
    conventions = model.conventions()
    conventions["integrator"] = _integrator(opts)
    # test_error = arccos(M / sqrt(Q)) / pi is not smooth at t = 0 (M, Q -> 0): its
    # estimate is reported at t_max only
    return _finish(model, opts, arrays, diff, infos, scalars, finals, conventions,
                   {"method": "uniform", "closure": "linear equivalent"},
                   skip=("test_error_t",))


def _stationary_rnn(model: RandomRNN, t_max, dt, n, options):
    from .rnn import stationary_profile
    n_quad = check_int("n_quad", options.get("n_quad", 48), low=2, high=200)
    rtol = check_real("rtol", options.get("rtol", UNIFORM_RTOL), low=0.0, low_open=True)
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
    return DMFTResult(success=success, status=0 if success else -1, message=msg, n_iter=0,
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
        done = _kernels.stationary_pspin(coef, T, h, m, tol, max_corr, C, F, its)
        n_fail = int(np.sum(its[1:done] > max_corr))
        if done < m or not np.all(np.isfinite(C)):
            msg = f"non-finite values at tau = {h * (done - 1):.6g} (h = {h:.3g})"
        elif n_fail:
            msg = (f"corrector did not reach tol = {tol:g} in {max_corr} iterations at "
                   f"{n_fail} steps (h = {h:.3g}): raise max_corrector or decrease dt")
        else:
            msg = "integrated to t_max"
        ok = msg == "integrated to t_max"
        return {"C": C, "R": -F / T}, {"success": ok, "iters": its, "message": msg,
                                        "elapsed": time.perf_counter() - t0}

    arr, diff, infos = _levels(level, n, dt, opts)
    tau = dt * np.arange(n)
    conventions = model.conventions()
    conventions["integrator"] = "one-time (TTI + FDT) trapezoid predictor-corrector" + (
        "; Richardson-extrapolated from steps dt/2 and dt" if extrapolate else "")
    conventions["tau"] = "C(tau) = C(t + tau, t), R(tau) = -C'(tau)/T, t -> infinity"
    scalars = {"t_max": t_max, "energy": model.equilibrium_energy(),
               "C_final": float(arr["C"][-1]), "n_steps": n - 1}
    res = _finish(model, opts, {"tau": tau, "C": arr["C"], "R": arr["R"]}, diff, infos, scalars,
                  {"C_final": ("C", "last")}, conventions, {"method": "stationary"})
    res.error_estimate["energy"] = 0.0  # -xi(1)/T exactly
    return res

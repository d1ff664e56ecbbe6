"""``dmft.solve``: integrate a model's DMFT equations and return a :class:`DMFTResult`.

Methods
-------
``"uniform"``
    Second-order predictor–corrector on a uniform grid with trapezoid memory
    integrals (:func:`dmft._kernels.integrate_uniform`); cost ``O(n^3)``,
    memory ``O(n^2)``.  Every model.
``"sampled"``
    Monte Carlo over trajectories of the effective process (GLM; see
    :func:`dmft.glm.solve_sampled`).
``"doubling"``
    Time-doubling (Kim–Latz type) integrator of the spherical p-spin with a
    fixed window of points, for long and aging runs
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

import time

import numpy as np

import lmech
from lmech.checks import check_bool, check_choice, check_int, check_options, check_real

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
                 "resume")
_SAMPLED_OPTS = ("method", "dt", "n_traj", "n_samples", "n_replicas", "seed", "tol_se", "n_pass",
                 "max_iter", "damping", "adaptive_damping", "resume")


def solve(model, t_max, **options) -> DMFTResult:
    """Solve the DMFT equations of ``model`` on ``[0, t_max]``.

    Parameters
    ----------
    model : SphericalPSpin, LinearRegressionGF, RandomRNN or GLMDynamics
    t_max : float
        Final time (``> 0``).
    method : {"uniform", "stationary", "sampled", "doubling"}, optional
        Integrator (default ``"uniform"``); ``"sampled"`` takes the options
        of :func:`dmft.glm.solve_sampled` and ``"doubling"`` those of
        :func:`dmft.doubling.solve_doubling` (``n_window``, ``dt0``, ``tol``,
        ``max_corrector``, ``n_copy``, ``fdt_split``, ``checkpoint``,
        ``resume``) instead of the corrector options.
    dt : float, optional
        Time step (default 0.05); must divide ``t_max``.
    tol : float, optional
        Corrector tolerance on the largest change of a row (default 1e-10).
    resume : DMFTResult, optional
        A successful ``"uniform"`` result of the same model with the same
        numerical options and a shorter horizon (e.g. loaded from an archive
        with :func:`lmech.archive.load`): its rows are reused and the
        integration continues to ``t_max``, reproducing the uninterrupted
        run exactly.  For :class:`GLMDynamics` also with ``method="sampled"``
        (a sampled result with the same sampled options: its per-replica
        state is regenerated in one pass, see :func:`dmft.glm.solve_sampled`).
    rtol_corrector : float, optional
        The corrector also stops when its change falls below this fraction of
        the predictor–corrector difference (the local error estimate; default
        1e-3; 0 iterates to ``tol``).
    max_corrector : int, optional
        Maximum corrector iterations per step (default 50).
    n_quad : int, optional
        Gauss–Hermite nodes per dimension for phi-correlations (RNN; default
        24, and 48 for the stationary profile).
    closed_form : bool, optional
        RNN with ``erf``/``linear``: use the closed-form phi-correlation
        instead of quadrature (default True).

    Returns
    -------
    DMFTResult
        ``success`` is False (with a message) if the integration produced
        non-finite values or a corrector did not converge.
    """
    method = check_choice("method", options.get("method", "uniform"), METHODS)
    if method == "doubling":
        from .doubling import solve_doubling
        return solve_doubling(model, t_max, **options)
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
    dt = check_real("dt", options.get("dt", 0.05), low=0.0, low_open=True)
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
        return _stationary_pspin(model, t_max, dt, n, tol, max_corr)
    n_quad = check_int("n_quad", options.get("n_quad", 24), low=2, high=200)
    opts = {"method": method, "dt": dt, "tol": tol, "rtol_corrector": rtol_pc,
            "max_corrector": max_corr}
    if isinstance(model, RandomRNN):
        opts["n_quad"] = n_quad
        opts["closed_form"] = check_bool("closed_form", options.get("closed_form", True))
    resume = options.get("resume")
    if resume is not None:
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


def _fdt_last_row(C, R, T, dt):
    """X(t, t') = T R(t,t') / d_t' C(t,t') along the last row (second-order differences)."""
    row = C[-1]
    dC = np.gradient(row, dt, edge_order=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return T * R[-1] / dC


def _uniform_pspin(model: SphericalPSpin, t_max, dt, n, opts, resume=None):
    coef = model.xi_coefficients()
    out = _run_uniform(_kernels.MODEL_PSPIN, [model.T], coef, 1.0, [], dt, n, opts, resume=resume)
    C, R = out["C"], out["R"]
    e = np.full(n, np.nan)
    d = out["done"]
    _kernels.pspin_energy(coef, C, R, dt, d, e)
    t = dt * np.arange(n)
    cons = np.diag(C) - 1.0
    X = _fdt_last_row(C, R, model.T, dt)
    conventions = model.conventions()
    conventions["integrator"] = "uniform Heun predictor-corrector, trapezoid memory"
    scalars = {"t_max": t_max, "energy": float(e[-1]), "mu_final": float(out["mu"][-1]),
               "C_half": float(C[-1, (n - 1) // 2]),
               "max_constraint_residual": float(np.nanmax(np.abs(cons[:d]))),
               "n_steps": n - 1}
    return DMFTResult(success=out["success"], status=0 if out["success"] else -1,
                      message=out["message"], n_iter=int(out["iters"].sum()),
                      residual=scalars["max_constraint_residual"], model=model, options=opts,
                      conventions=conventions, timings={"solve": out["elapsed"]},
                      arrays={"t": t, "C": C, "R": R, "mu": out["mu"], "e": e,
                              "constraint_residual": cons, "fdt_ratio_last": X,
                              "iterations": out["iters"]},
                      scalars=scalars, meta={"method": "uniform"})


def _uniform_rnn(model: RandomRNN, t_max, dt, n, opts, resume=None):
    from lmech import gauss
    z, w = gauss.hermite(opts["n_quad"])
    par = [model.g, model.noise, float(PHI_CODES[model.phi]), float(opts["closed_form"])]
    out = _run_uniform(_kernels.MODEL_RNN, par, [0.0], model.x0_var, [], dt, n, opts, z=z, w=w,
                       resume=resume)
    C, R = out["C"], out["R"]
    t = dt * np.arange(n)
    var = np.diag(C).copy()
    scalars = {"t_max": t_max, "variance": float(var[-1]),
               "C_half": float(C[-1, (n - 1) // 2]), "n_steps": n - 1}
    if model.noise == 0.0 and model.phi in ("tanh", "erf"):
        scalars["stationary_variance"] = stationary_variance(model)
    conventions = model.conventions()
    exact = opts["closed_form"] and model.phi in ("erf", "linear")
    conventions["integrator"] = "uniform Heun predictor-corrector, trapezoid memory"
    conventions["phi_correlation"] = ("closed form" if exact else
                                      f"2-D Gauss-Hermite product rule, {opts['n_quad']}^2 nodes")
    return DMFTResult(success=out["success"], status=0 if out["success"] else -1,
                      message=out["message"], n_iter=int(out["iters"].sum()), model=model,
                      options=opts, conventions=conventions, timings={"solve": out["elapsed"]},
                      arrays={"t": t, "C": C, "R": R, "variance_t": var,
                              "iterations": out["iters"]},
                      scalars=scalars, meta={"method": "uniform"})


def _uniform_linreg(model: LinearRegressionGF, t_max, dt, n, opts, resume=None):
    par = [model.gamma, model.noise, model.ridge, model.signal, model.temperature]
    out = _run_uniform(_kernels.MODEL_LINREG, par, [0.0], model.signal, [-model.signal], dt, n,
                       opts, big=True, resume=resume)
    C = out["C"]
    t = dt * np.arange(n)
    err = np.diag(C).copy()
    train = 0.5 * np.diag(out["Cl"]).copy()
    test = 0.5 * (err + model.noise)
    scalars = {"t_max": t_max, "error": float(err[-1]), "test_risk": float(test[-1]),
               "train_loss": float(train[-1]), "overlap_m": float(out["y"][0, -1]),
               "n_steps": n - 1}
    conventions = model.conventions()
    conventions["integrator"] = "uniform Heun predictor-corrector, trapezoid memory"
    return DMFTResult(success=out["success"], status=0 if out["success"] else -1,
                      message=out["message"], n_iter=int(out["iters"].sum()), model=model,
                      options=opts, conventions=conventions, timings={"solve": out["elapsed"]},
                      arrays={"t": t, "C": C, "R": out["R"], "m": out["y"][0].copy(),
                              "error_t": err, "test_risk_t": test, "train_loss_t": train,
                              "C_loss": out["Cl"], "R_sample": out["Rr"],
                              "iterations": out["iters"]},
                      scalars=scalars, meta={"method": "uniform"})


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
    lin = _uniform_linreg(model.linear_equivalent(), t_max, dt, n, opts, resume)
    obs = model.observables(lin.error_t, lin.m)
    arrays = {"t": lin.t, "C": lin.C, "R": lin.R, "m_equivalent": lin.m,
              "R_sample": lin.R_sample, "C_loss": lin.C_loss,
              "error_equivalent_t": lin.error_t, "train_loss_t": lin.train_loss_t,
              "M_t": obs["M"], "Q_t": obs["Q"], "test_risk_t": obs["test_risk"],
              "iterations": lin.iterations}
    scalars = {"t_max": t_max, "M": float(obs["M"][-1]), "Q": float(obs["Q"][-1]),
               "test_risk": float(obs["test_risk"][-1]), "train_loss": lin.train_loss,
               "n_steps": n - 1}
    if "test_error" in obs:
        arrays["test_error_t"] = obs["test_error"]
        scalars["test_error"] = float(obs["test_error"][-1])
    conventions = model.conventions()
    conventions["integrator"] = lin.conventions["integrator"]
    return DMFTResult(success=lin.success, status=lin.status, message=lin.message,
                      n_iter=lin.n_iter, model=model, options=opts, conventions=conventions,
                      timings=lin.timings, arrays=arrays, scalars=scalars,
                      meta={"method": "uniform", "closure": "linear equivalent"})


def _stationary_rnn(model: RandomRNN, t_max, dt, n, options):
    from .rnn import stationary_profile
    n_quad = check_int("n_quad", options.get("n_quad", 48), low=2, high=200)
    t0 = time.perf_counter()
    d0 = stationary_variance(model, n_quad=n_quad)
    if d0 == 0.0:
        tau = dt * np.arange(n)
        C = np.zeros(n)
        msg = "g phi'(0) <= 1: the stationary state is the fixed point x = 0"
    else:
        from scipy.interpolate import CubicSpline
        ts, ds = stationary_profile(model, t_max, n_quad=n_quad, n_points=max(400, 4 * n))
        tau = dt * np.arange(n)
        tau = tau[tau <= ts[-1] + 1e-12]
        C = CubicSpline(ts, ds)(tau)
        msg = ("stationary profile to tau = %.6g" % tau[-1]) if tau[-1] < t_max - 1e-9 * t_max \
            else "stationary profile to t_max"
    conventions = model.conventions()
    conventions["integrator"] = "SCS energy conservation, tau(Delta) quadrature (solve_ivp)"
    conventions["tau"] = "C(tau) = lim_t C(t + tau, t)"
    return DMFTResult(success=True, status=0, message=msg, n_iter=0, model=model,
                      options={"method": "stationary", "dt": dt, "n_quad": n_quad},
                      conventions=conventions, timings={"solve": time.perf_counter() - t0},
                      arrays={"tau": tau, "C": C},
                      scalars={"t_max": t_max, "variance": d0, "n_steps": len(tau) - 1},
                      meta={"method": "stationary"})


def _stationary_pspin(model: SphericalPSpin, t_max, dt, n, tol, max_corr):
    T = check_real("T", model.T, low=0.0, low_open=True)
    coef = model.xi_coefficients()
    C = np.zeros(n)
    F = np.zeros(n)
    t0 = time.perf_counter()
    done = _kernels.stationary_pspin(coef, T, dt, n, tol, max_corr, C, F)
    elapsed = time.perf_counter() - t0
    success = done == n and bool(np.all(np.isfinite(C)))
    tau = dt * np.arange(n)
    R = -F / T
    conventions = model.conventions()
    conventions["integrator"] = "one-time (TTI + FDT) trapezoid predictor-corrector"
    conventions["tau"] = "C(tau) = C(t + tau, t), R(tau) = -C'(tau)/T, t -> infinity"
    return DMFTResult(success=success, status=0 if success else -1,
                      message="integrated to t_max" if success else "non-finite values",
                      n_iter=n - 1, model=model,
                      options={"method": "stationary", "dt": dt, "tol": tol,
                               "max_corrector": max_corr},
                      conventions=conventions, timings={"solve": elapsed},
                      arrays={"tau": tau, "C": C, "R": R},
                      scalars={"t_max": t_max, "energy": model.equilibrium_energy(),
                               "C_final": float(C[-1]), "n_steps": n - 1},
                      meta={"method": "stationary"})

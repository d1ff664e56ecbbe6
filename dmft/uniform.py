"""``method="uniform"``: the second-order predictor–corrector on a uniform grid.

The two-time equations of every model are integrated by one generic kernel
(:func:`dmft._kernels.uniform.integrate_uniform`: Heun predictor–corrector with
trapezoid memory integrals, second order in the step), once per refinement
level; by default the levels ``dt/2`` and ``dt`` are combined by Richardson
extrapolation and ``2 dt`` gives the error estimate
(:func:`dmft.result.richardson_levels`).  Cost ``O(n^3)``, memory ``O(n^2)``
for ``n`` points of the finest grid.
"""

from __future__ import annotations

import math
import time

import numpy as np

from lmech import Status, gauss
from lmech.checks import check_bool, check_int, check_real

from ._kernels import uniform as _ku
from .cost import check_cost
from .glm import GLMDynamics
from .linreg import LinearRegressionGF
from .pspin import SphericalPSpin
from .result import DMFTResult, finish_richardson, richardson_levels
from .rnn import PHI_CODES, RandomRNN, stationary_variance

__all__ = ["solve_uniform", "UNIFORM_DT", "UNIFORM_RTOL", "ORDER", "ORDER_EXTRAPOLATED"]

#: Default output step of ``method="uniform"`` (with ``extrapolate=True`` the
#: finest integration grid has step ``dt / 2``).
UNIFORM_DT = 0.1
#: Default relative tolerance on the Richardson error estimate.
UNIFORM_RTOL = 1e-4
#: Largest number of steps ``t_max / dt`` of a grid (far beyond what memory allows for the
#: two-time methods; bounds the integer conversion).
MAX_STEPS = 1e15
#: Order of convergence in ``dt`` of the single-grid scheme (``extrapolate=False``):
#: Heun predictor-corrector with trapezoid memory integrals split at the kink of C.
ORDER = 2
#: Order of the Richardson-extrapolated result (``extrapolate=True``, the default): not
#: declared.  The ``dt^2`` term is removed, but what remains is not a single power of
#: ``dt`` at practical steps (2-spin, T = 0.5, e(2) against :func:`dmft.pspin2_exact`:
#: errors 2.4e-6, 5.6e-7, 3.1e-8, 1.6e-9, 2.4e-11 for dt = 0.2 .. 0.0125, successive
#: slopes 2.1, 4.2, 4.3, 6.0), which is why the error estimate is the undivided difference.
ORDER_EXTRAPOLATED = None


def solve_uniform(model, t_max, *, dt=UNIFORM_DT, tol=1e-10, rtol_corrector=1e-3,
                  max_corrector=50, n_quad=24, closed_form=True, extrapolate=True,
                  rtol=UNIFORM_RTOL, resume=None) -> DMFTResult:
    """Integrate the two-time DMFT equations of ``model`` on a uniform grid (``method="uniform"``).

    Parameters
    ----------
    model : SphericalPSpin, LinearRegressionGF, RandomRNN or GLMDynamics
        A :class:`GLMDynamics` needs the square loss at full batch (its exact
        Gaussian closure); otherwise use ``method="sampled"``.
    t_max : float
        Final time (``> 0``).
    dt : float, optional
        Step of the returned time grid (default 0.1); must divide ``t_max``.
    extrapolate : bool, optional
        Integrate at ``dt / 2``, ``dt`` and ``2 dt`` and return the Richardson
        extrapolation ``(4 X_{dt/2} - X_dt) / 3`` of every array on the ``dt``
        grid (default True).  The error estimate of each observable is the
        undivided difference ``|X_R(dt) - X_R(2 dt)|`` with ``X_R(h)`` the
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
        (``|X|`` the largest magnitude of that observable; ``0 < rtol <= 1``,
        default 1e-4).  With
        the default ``dt`` the 3-spin at ``T = 0.8`` has energy error 5.0e-5
        at ``t = 100`` (measured against ``-1/(2T)``) with an estimate of
        6.4e-4 (the undivided difference is conservative), so ``success`` is
        False there, after 13 s; ``method="doubling"`` (what :func:`dmft.solve`
        picks for such a run) is 6e-6 off in 0.6 s (benchmarks/README.md).
    tol : float, optional
        Corrector tolerance on the largest change of a row (``0 < tol <= 1e-3``,
        default 1e-10).
    rtol_corrector : float, optional
        The corrector also stops when its change falls below this fraction of
        the predictor–corrector difference (the local error estimate; default
        1e-3; 0 iterates to ``tol``).
    max_corrector : int, optional
        Maximum corrector iterations per step (default 50).
    n_quad : int, optional
        RNN: Gauss–Hermite nodes per dimension of the product rule for the
        phi-correlation where it is used (relu, or ``closed_form=False``;
        default 24); the quadrature error (the change of the ``2 dt`` solution
        with ``min(2 n_quad, 300)`` nodes) is then added to every error
        estimate, since a fixed rule loses accuracy as ``C(t,t)`` grows (tanh
        at ``g = 3``: 0.04 in C with 24 nodes).  ``2 <= n_quad <= 200``,
        checked for every model; :func:`dmft.solve` refuses it (TypeError) for
        the other models.
    closed_form : bool, optional
        RNN: use the closed-form phi-correlation for ``erf`` and ``linear``
        and, for ``tanh`` (which has none), the trapezoid rule with an
        a-priori error bound of about 1e-11 per correlation at any variance
        (:func:`dmft._kernels.common.tanh_corr`; Trefethen & Weideman, SIAM
        Rev. 56, 385 (2014), Th. 5.1), instead of the ``n_quad`` product rule
        (default True).  Refused by :func:`dmft.solve` for the other models
        (TypeError).
    resume : DMFTResult, optional
        A successful ``"uniform"`` result with ``extrapolate=False``, of the
        same model with the same numerical options and a shorter horizon
        (e.g. loaded from an archive with :func:`lmech.archive.load`): its
        rows are reused and the integration continues to ``t_max``,
        reproducing the uninterrupted run exactly.

    Returns
    -------
    DMFTResult
        ``error_estimate`` holds the estimated absolute error of the main
        observables (final-time scalars and, for arrays, the largest error
        over the common grid).  ``success`` is False (with a message and a
        ``status``: ``DIVERGED``, ``MAX_ITER``, ``TOLERANCE`` or
        ``NO_ESTIMATE``) if the integration produced non-finite values, a
        corrector did not converge, an error estimate exceeds its tolerance or
        there are too few steps for one.

    Raises
    ------
    ValueError
        On invalid input, and before any allocation when the two-time arrays
        of ``t_max / dt`` points would not fit in the available memory (use
        ``method="doubling"``).

    Warns
    -----
    dmft.cost.CostWarning
        Before any work, when the run is expected to take more than a minute
        (from the cost law in the Notes).

    Notes
    -----
    Cost: O(m^3) time and O(m^2) memory for ``m = 2 t_max / dt`` points of the
    finest grid (memory-bound; about 10 s for m = 2000 on one core of the
    reference machine, see ``benchmarks/README.md``).  Runs that fit in memory
    are not refused however long they take.  Order of convergence in ``dt``
    of the single grid: :data:`ORDER` (checked in ``tests/test_dmft_order.py``);
    the extrapolated output is more accurate but of no single order
    (:data:`ORDER_EXTRAPOLATED`).
    """
    t_max = check_real("t_max", t_max, low=0.0, low_open=True)
    tol = check_real("tol", tol, low=0.0, low_open=True, high=1e-3)
    max_corr = check_int("max_corrector", max_corrector, low=1, high=10_000)
    rtol_pc = check_real("rtol_corrector", rtol_corrector, low=0.0, high=0.5)
    dt = check_real("dt", dt, low=0.0, low_open=True)
    extrapolate = check_bool("extrapolate", extrapolate)
    rtol = check_real("rtol", rtol, low=0.0, low_open=True, high=1.0)
    # every option is checked whatever the model (n_quad, closed_form: RNN only; dmft.solve
    # refuses them with a TypeError for another model)
    n_quad = check_int("n_quad", n_quad, low=2, high=200)
    closed_form = check_bool("closed_form", closed_form)
    n = grid_points(t_max, dt)
    if not isinstance(model, (SphericalPSpin, RandomRNN, LinearRegressionGF, GLMDynamics)):
        raise ValueError(f"model must be a dmft model, got {type(model).__name__}")
    if isinstance(model, GLMDynamics):
        _check_closure(model)
    _check_memory(model, t_max, dt, n, extrapolate, n_quad, closed_form)
    opts = {"method": "uniform", "dt": dt, "tol": tol, "rtol_corrector": rtol_pc,
            "max_corrector": max_corr, "extrapolate": extrapolate, "rtol": rtol}
    if isinstance(model, RandomRNN):
        opts["n_quad"] = n_quad
        opts["closed_form"] = closed_form
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
    return _uniform_glm(model, t_max, dt, n, opts, resume)


def _check_closure(model: GLMDynamics):
    """ValueError (naming the field) unless the GLM has the exact Gaussian closure."""
    if model.loss != "square":
        raise ValueError(f"loss {model.loss!r} has no Gaussian closure: use method='sampled'")
    if model.batch_fraction != 1.0:
        raise ValueError("batch_fraction < 1 (SGD) has no Gaussian closure: use method='sampled'")


def grid_points(t_max, dt):
    """Number of points ``n`` of the grid ``t_i = i dt`` on ``[0, t_max]``; ValueError
    (naming ``dt``) unless ``dt`` divides ``t_max`` in at least 2 steps."""
    ratio = t_max / dt
    if not ratio <= MAX_STEPS:  # also inf (t_max / dt overflows)
        raise ValueError(f"t_max/dt must be at most {MAX_STEPS:g} steps, got {t_max!r}/{dt!r}")
    n = int(round(ratio)) + 1
    if abs((n - 1) * dt - t_max) > 1e-9 * t_max:
        raise ValueError(f"dt must divide t_max, got t_max={t_max!r}, dt={dt!r}")
    if n < 3:
        raise ValueError(f"dt must give at least 2 steps, got t_max/dt = {t_max / dt!r}")
    return n


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
    done = _ku.integrate_uniform(code, np.asarray(par, dtype=np.float64),
                                 np.asarray(coef, dtype=np.float64), float(C0),
                                 np.asarray(y0, dtype=np.float64), dt, n, opts["tol"],
                                 opts["rtol_corrector"], opts["max_corrector"],
                                 np.ascontiguousarray(z),
                                 np.ascontiguousarray(w), C, R, Rr, Cl, y, mu, iters, start)
    elapsed = time.perf_counter() - t0
    finite = bool(np.all(np.isfinite(C[:done, :done])) and np.all(np.isfinite(R[:done, :done])))
    success = done == n and finite
    corr_fail = int(np.sum(iters[1:done] > opts["max_corrector"]))
    status = Status.CONVERGED
    if success and corr_fail:
        success = False
        msg = f"corrector did not reach tol in {corr_fail} steps"
        status = Status.MAX_ITER
    elif success:
        msg = "integrated to t_max"
    else:
        msg = f"non-finite values at t = {(done - 1) * dt:.6g}; stopped"
        status = Status.DIVERGED
        C[done:, :] = np.nan
        C[:, done:] = np.nan
        R[done:, :] = np.nan
        mu[done:] = np.nan
    return dict(C=C, R=R, Rr=Rr, Cl=Cl, y=y, mu=mu, iters=iters, done=done, success=success,
                status=status, message=msg, elapsed=elapsed)


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


#: Seconds per (grid points)^3 of one level on the reference machine (benchmarks/README.md,
#: "dmft"): p-spin 2000 steps in 10 s, linear regression 500 steps in 0.25 s, RNN with
#: quadrature 400 steps in 3.4 s at 24^2 nodes (per node^2: 9e-11); tanh with the bounded
#: trapezoid rule (g = 2) 0.41 times the 24^2-node rule's time, measured side by side.
_SECONDS_PER_CUBE = {"pspin": 1.3e-9, "linreg": 2e-9, "rnn_node2": 9e-11, "rnn_tanh": 3e-8}


def _check_memory(model, t_max, dt, n, extrapolate, n_quad=24, closed_form=True):
    """Raise ValueError (naming t_max and dt) if the two-time arrays would not fit in memory;
    warn (:class:`dmft.cost.CostWarning`) if the run is expected to be long."""
    n_arr = 4 if isinstance(model, (LinearRegressionGF, GLMDynamics)) else 2
    nc = (n - 1) // 2 + 1
    nf = 2 * n - 1 if extrapolate else n
    # the finest level, its combination with the dt level (and temporaries), the 2 dt level
    need = 8.0 * n_arr * (float(nf) * nf + 3.0 * n * n + float(nc) * nc)
    levels = float(nf) ** 3 + float(n) ** 3 + float(nc) ** 3
    if isinstance(model, RandomRNN):
        if closed_form and model.phi in ("erf", "linear"):
            c = _SECONDS_PER_CUBE["pspin"]
        elif closed_form and model.phi == "tanh":
            c = _SECONDS_PER_CUBE["rnn_tanh"]
        else:  # the quadrature level at 2 dt with min(2 n_quad, 300) nodes is added
            c = _SECONDS_PER_CUBE["rnn_node2"] * n_quad ** 2
            levels += 4.0 * float(nc) ** 3
    elif isinstance(model, SphericalPSpin):
        c = _SECONDS_PER_CUBE["pspin"]
    else:
        c = _SECONDS_PER_CUBE["linreg"]
    check_cost("uniform", f"t_max/dt = {t_max!r}/{dt!r}", need, c * levels,
               f"its two-time arrays ({nf} x {nf} points)",
               "use method='doubling' (SphericalPSpin), a larger dt or a shorter t_max")


def _info(out):
    return {k: out[k] for k in ("success", "status", "message", "iters", "elapsed")}


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
        out = _run_uniform(_ku.MODEL_PSPIN, [model.T], coef, 1.0, [], h, m, opts,
                           resume=res)
        e = np.full(m, np.nan)
        _ku.pspin_energy(coef, out["C"], out["R"], h, out["done"], e)
        return {"C": out["C"], "R": out["R"], "mu": out["mu"], "e": e}, _info(out)

    arr, diff, infos = richardson_levels(level, n, dt, opts, resume)
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
    return finish_richardson(model, opts, arrays, diff, infos, scalars, finals, conventions,
                   {"method": "uniform"}, residual=scalars["max_constraint_residual"])


def _uniform_rnn(model: RandomRNN, t_max, dt, n, opts, resume=None):
    par = [model.g, model.noise, float(PHI_CODES[model.phi]), float(opts["closed_form"])]
    exact = opts["closed_form"] and model.phi in ("erf", "linear")
    bounded = opts["closed_form"] and model.phi == "tanh"

    def make_level(n_quad):
        z, w = gauss.hermite(n_quad)

        def level(h, m, res):
            out = _run_uniform(_ku.MODEL_RNN, par, [0.0], model.x0_var, [], h, m, opts,
                               z=z, w=w, resume=res)
            return ({"C": out["C"], "R": out["R"], "variance_t": np.diag(out["C"]).copy()},
                    _info(out))

        return level

    arr, diff, infos = richardson_levels(make_level(opts["n_quad"]), n, dt, opts, resume)
    nc = (n - 1) // 2 + 1
    hint = "decrease dt"
    n_quad2 = min(2 * opts["n_quad"], 300)  # lmech.gauss.hermite allows up to 300
    if not (exact or bounded) and diff is not None:
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
    conventions["phi_correlation"] = (
        "closed form" if exact else
        f"trapezoid rule in both Cholesky variables, steps from the strip of analyticity of "
        f"tanh; a-priori bound {_ku.TANH_CORR_EPS:g} + 2 erfc(7.5/sqrt 2) per correlation "
        f"(Trefethen & Weideman, SIAM Rev. 56, 385 (2014), Th. 5.1)" if bounded else
        f"2-D Gauss-Hermite product rule, {opts['n_quad']}^2 nodes")
    if not (exact or bounded):
        conventions["quadrature_error"] = (f"change of the 2 dt solution with {n_quad2}^2 "
                                           "nodes, added to every error estimate")
    arrays = {"t": t, "C": C, "R": arr["R"], "variance_t": arr["variance_t"],
              "iterations": infos[0]["iters"]}
    finals = {"variance": ("variance_t", "last"), "C_half": ("C", "half")}
    return finish_richardson(model, opts, arrays, diff, infos, scalars, finals, conventions,
                   {"method": "uniform"}, hint=hint)


def _linreg_level(model: LinearRegressionGF, opts, observables=None):
    par = [model.gamma, model.noise, model.ridge, model.signal, model.temperature]

    def level(h, m, res):
        out = _run_uniform(_ku.MODEL_LINREG, par, [0.0], model.signal, [-model.signal], h,
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
    arr, diff, infos = richardson_levels(_linreg_level(model, opts), n, dt, opts, resume)
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
    return _stiffness_note(model, dt, finish_richardson(
        model, opts, arrays, diff, infos, scalars, finals, conventions, {"method": "uniform"}))


def _stiffness_note(lin: LinearRegressionGF, dt, res):
    """Say why a diverged least-squares run diverged when the step is beyond the explicit
    scheme's stability: the largest rate is the upper Marchenko–Pastur edge
    ``(1 + sqrt(gamma))^2`` plus the ridge (``gamma = 1/alpha``)."""
    rate = (1.0 + math.sqrt(lin.gamma)) ** 2 + lin.ridge
    if res.status == Status.DIVERGED and rate * dt > 1.0:
        res.__dict__["message"] = (
            f"{res.message} (stiff: the largest relaxation rate (1 + sqrt(1/alpha))^2 + ridge "
            f"= {rate:.3g} needs dt well below {1.0 / rate:.3g})")
    return res


def _uniform_glm(model: GLMDynamics, t_max, dt, n, opts, resume=None):
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
    arr, diff, infos = richardson_levels(_linreg_level(lin, opts, observables), n, dt, opts,
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
    return _stiffness_note(lin, dt, finish_richardson(
        model, opts, arrays, diff, infos, scalars, finals, conventions,
        {"method": "uniform", "closure": "linear equivalent"}, skip=("test_error_t",)))

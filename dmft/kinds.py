"""Sweep kinds of the dmft layer for ``lmech run``.

``dmft.pspin``
    Spherical p-spin Langevin dynamics from a random start (parameters ``p``,
    ``T``, ``convention``, ``t_max``; options ``method`` (uniform, stationary
    or doubling), ``dt``, ``tol``, ``max_corrector``, and ``n_window``,
    ``dt0`` for the doubling integrator).  Observables: ``energy`` (at ``t_max``),
    ``mu_final``, ``C_half`` (``C(t_max, t_max/2)``), ``max_constraint_residual``,
    and the reference ``energy_reference``: ``-xi(1)/T`` above ``T_d``, the
    aging energy below (NaN where neither applies).
``dmft.linreg``
    Least-squares gradient flow or Langevin dynamics (``alpha``, ``noise``,
    ``ridge``, ``signal``, ``temperature``, ``t_max``).  Observables: ``error``, ``test_risk``, ``train_loss``,
    ``overlap_m`` and the exact ``error_mp`` (Marchenko–Pastur).
``dmft.glm``
    Teacher–student GLM trained by gradient flow, Langevin dynamics or
    persistent SGD (``alpha``, ``loss`` any of :data:`lmech.blocks.LOSSES` with a kernel, ``ridge``,
    ``teacher``, ``noise``, ``rho``, ``temperature``, ``batch_fraction``,
    ``persistence``, ``t_max``; ``method`` auto -- the closure where it
    exists, else sampled --, uniform or sampled, with the sampled options).
    Observables: ``M``, ``Q``, ``train_loss``, ``test_error`` (sign
    teacher), ``test_risk`` (regression losses), ``train_error`` (margin losses),
    NaN where not defined.
``dmft.rnn``
    Random RNN (``g``, ``phi``, ``noise``, ``x0_var``, ``t_max``).
    Observables: ``variance`` (``C(t_max, t_max)``), ``C_half`` and, for the
    noiseless tanh/erf network, ``stationary_variance``.
``dmft.scaling``
    Linear random features (``N``) trained on ``P`` power-law samples (``a``,
    ``b``, ``M``, ``ridge``, ``noise``, ``lr``, ``t_max``; 0 = infinite size).
    Observables: ``loss`` (test loss at ``t_max``), ``loss_inf`` (``t ->
    infinity``), ``loss_0``.

Every point also records the solver's error estimates (``<name>_err``, see
:attr:`lmech.Result.error_estimate`); ``converged`` is False when an estimate
exceeds the solver's ``rtol``.

Point results keep one-time arrays only (the two-time ``C``, ``R`` of a sweep
point are dropped to bound archive size; run :func:`dmft.solve` for them).
"""

from __future__ import annotations

import math

import numpy as np

from lmech.config import Param, SweepKind, register_kind, solver_options

from .doubling import solve_doubling
from .glm import GLMDynamics
from .linreg import LinearRegressionGF, mp_error
from .pspin import CONVENTIONS, SphericalPSpin
from .rnn import RandomRNN
from .result import DMFTResult
from .sampled import OPTIONS as SAMPLED_OPTIONS, solve_sampled
from .solve import METHODS, solve
from .uniform import solve_uniform

__all__ = ["pspin_point", "pspin_check", "linreg_point", "linreg_check", "rnn_point", "scaling_point", "scaling_check",
           "rnn_check", "glm_point", "glm_check", "plot_observable"]


def _slim(res: DMFTResult, extra: dict | None = None) -> DMFTResult:
    """The same result without two-time arrays (for sweep points)."""
    arrays = {k: v for k, v in res.arrays.items() if v.ndim <= 1}
    scalars = dict(res.scalars)
    scalars.update(extra or {})
    return DMFTResult(success=res.success, status=res.status, message=res.message,
                      n_iter=res.n_iter, residual=res.residual, model=res.model,
                      options=res.options, conventions=res.conventions, timings=res.timings,
                      arrays=arrays, scalars=scalars, meta=res.meta,
                      error_estimate=res.error_estimate)


def _t_max(default: float, help: str = "final time") -> dict:
    """The one sweep-only parameter of the dmft kinds: the final time."""
    return {"t_max": Param(float, default=default, low=0.0, low_open=True, help=help)}


# -- p-spin -------------------------------------------------------------------
def _pspin_solve(model: SphericalPSpin, *, t_max, method, dt, tol, max_corrector, n_window, dt0,
                 rtol) -> DMFTResult:
    # 0 = the method's own default (its signature's): the option is not passed
    extra = {k: v for k, v in (("tol", tol), ("max_corrector", max_corrector), ("rtol", rtol)) if v}
    if method == "doubling":
        res = solve(model, t_max, method=method, n_window=n_window, dt0=dt0, **extra)
    else:
        res = solve(model, t_max, method=method, dt=dt, **extra)
    p, T = model.p, model.T
    ref = math.nan
    if p >= 3 and T > 0:
        if T > model.dynamical_temperature():
            ref = model.equilibrium_energy()
        else:
            ref = model.aging_energy()
    elif p == 2 and T == 0:
        ref = -math.sqrt(2.0 * CONVENTIONS[model.convention])  # ground state -lambda_max c = -sqrt(2c)
    return _slim(res, {"energy_reference": ref})


_PSPIN_DOC = """Solve the p-spin at one point; scalars are the final observables.

    ``method="doubling"`` uses ``n_window``, ``dt0``, ``tol`` and
    ``max_corrector`` (sweeps per row) and ignores ``dt``; the other methods
    ignore ``n_window`` and ``dt0``.  ``tol = 0``, ``max_corrector = 0`` and
    ``rtol = 0`` mean the method's own defaults, those of its signature
    (:func:`dmft.uniform.solve_uniform`, :func:`dmft.stationary.solve_stationary`,
    :func:`dmft.doubling.solve_doubling`; the doubling estimate is conservative,
    its ``rtol`` larger).
    """


# -- linear regression -----------------------------------------------------------
def _linreg_solve(model: LinearRegressionGF, *, t_max, dt, tol, max_corrector,
                  rtol) -> DMFTResult:
    res = solve(model, t_max, dt=dt, tol=tol, max_corrector=max_corrector, rtol=rtol)
    return _slim(res, {"error_mp": mp_error(model, t_max)})


# -- random RNN -------------------------------------------------------------------
def _rnn_solve(model: RandomRNN, *, t_max, dt, n_quad, closed_form, tol, max_corrector,
               rtol) -> DMFTResult:
    res = solve(model, t_max, dt=dt, n_quad=n_quad, closed_form=closed_form, tol=tol,
                max_corrector=max_corrector, rtol=rtol)
    return _slim(res)


# -- GLM ------------------------------------------------------------------------------
def _glm_solve(model: GLMDynamics, *, t_max, method, dt, tol, max_corrector, n_traj, n_samples,
               n_replicas, seed, tol_se, n_pass, max_iter, damping, adaptive_damping,
               rtol) -> DMFTResult:
    if method == "auto":
        method = "uniform" if model.closed else "sampled"
    if method == "sampled":
        res = solve(model, t_max, method="sampled", dt=dt, n_traj=n_traj, n_samples=n_samples,
                    n_replicas=n_replicas, seed=seed, tol_se=tol_se, n_pass=n_pass,
                    max_iter=max_iter, damping=damping, adaptive_damping=adaptive_damping)
    else:
        res = solve(model, t_max, dt=dt, tol=tol, max_corrector=max_corrector, rtol=rtol)
    return _slim(res)


# -- plot -------------------------------------------------------------------------
_LABELS = {"energy_reference": "reference energy (paramagnet above T_d, aging below)",
           "stationary_variance": "stationary chaotic variance"}


def _thresholds(res, x_name):
    """``[(value, label)]``: the thresholds a dmft figure is about, on its first axis.

    p-spin against T: the dynamical temperature T_d (Crisanti, Horner & Sommers,
    Z. Phys. B 92, 257 (1993)); random RNN against g: the chaos onset g_c = 1
    (Sompolinsky, Crisanti & Sommers, PRL 61, 259 (1988)).
    """
    from .pspin import dynamical_temperature

    kind = res.meta.get("sweep_kind", "")
    fixed = res.meta.get("fixed", {}) or {}
    if kind == "dmft.pspin" and x_name == "T":
        p = res.model_at(0).p if res.model_at(0) is not None else fixed.get("p", 3)
        if int(p) >= 3:
            return [(dynamical_temperature(int(p)), r"$T_d$")]
    if kind == "dmft.rnn" and x_name == "g":
        return [(1.0, r"$g_c$")]
    return []


def _plotter(observable, reference=None, ylabel=None):
    def plot(res, ax):
        axes = res.meta["axes"]
        x = np.asarray(res.arrays[axes[0]])
        y = np.asarray(res.arrays[observable])
        ref = np.asarray(res.arrays[reference]) if reference and reference in res.arrays else None
        if y.ndim == 1:
            ax.plot(x, y, "o-", label=observable)
            if ref is not None:
                ax.plot(x, ref, "k--", label=_LABELS.get(reference, reference))
        else:
            other = np.asarray(res.arrays[axes[1]])
            for j in range(y.shape[1]):
                idx = (slice(None), j) + (0,) * (y.ndim - 2)
                ax.plot(x, y[idx], "o-", label=f"{axes[1]} = {other[j]:g}")
                if ref is not None:
                    ax.plot(x, ref[idx], "k--", lw=0.8)
        for value, label in _thresholds(res, axes[0]):
            if np.nanmin(x) <= value <= np.nanmax(x):
                ax.axvline(value, color="0.4", ls=":", lw=1, label=f"{label} = {value:.4g}")
        ax.set_xlabel(axes[0])
        ax.set_ylabel(ylabel or observable)
        ax.legend()
    return plot


plot_pspin = _plotter("energy", "energy_reference", "energy per spin at t_max")
plot_linreg = _plotter("test_risk", None, "test risk at t_max")
plot_rnn = _plotter("variance", "stationary_variance", "variance C(t_max, t_max)")
plot_glm = _plotter("test_error", None, "test error at t_max (sign teacher)")


def plot_observable(res, ax, observable):
    """Draw ``observable`` of a finished dmft sweep against its first axis."""
    _plotter(observable)(res, ax)


def _methods_of(model_cls) -> tuple[str, ...]:
    """The entries of :data:`dmft.solve.METHODS` that accept ``model_cls``."""
    return tuple(k for k, m in METHODS.items() if model_cls in m.models)


#: The kinds' options take their defaults from the method functions' signatures
#: (:func:`lmech.config.solver_options`); a default declared here is the kind's own.
#: The sweeps' time step ``dt = 0.05`` of the p-spin and linreg kinds is half the
#: uniform grid's default (``dmft.uniform.UNIFORM_DT = 0.1``): it stays the kinds' own
#: so that sweeps reproduce the archives they wrote (the GLM kind takes the sampled
#: method's default, also 0.05, for both of its methods).
_DT_SWEEP = 0.05

_COMMON_OPTS = solver_options(
    solve_uniform,
    rtol=Param(float, low=0.0, low_open=True,
               help="relative tolerance on the error estimates (uniform, stationary): "
                    "converged requires every estimate <= rtol * max(1, |value|)"),
    tol=Param(float, low=0.0, low_open=True, help="corrector tolerance"),
    max_corrector=Param(int, low=1, high=10_000, help="corrector iterations per step"),
)

PSPIN = register_kind(SweepKind.from_model(
    SphericalPSpin,
    name="dmft.pspin",
    solve=_pspin_solve,
    point="dmft.kinds:pspin_point",
    check="dmft.kinds:pspin_check",
    plot="dmft.kinds:plot_pspin",
    point_doc=_PSPIN_DOC,
    extra_params=_t_max(20.0),
    options={
        **solver_options(
            solve,
            method=Param(str, default="uniform", choices=_methods_of(SphericalPSpin),
                         help="integrator (stationary: one-time FDT solver, T > T_d; doubling: "
                              "time-doubling window for long/aging runs)")),
        **solver_options(
            solve_uniform,
            dt=Param(float, default=_DT_SWEEP, low=0.0, low_open=True,
                     help="time step (uniform, stationary)"),
            # 0 = each method's own default: one sweep option serves methods whose defaults differ
            rtol=Param(float, default=0.0, low=0.0,
                       help="relative tolerance on the error estimates: converged requires every "
                            "estimate <= rtol * max(1, |value|); 0 = the method's default (1e-4, "
                            "doubling 1e-3)")),
        **solver_options(
            solve_doubling,
            n_window=Param(int, low=16, high=4096, help="points of the doubling window (even)"),
            dt0=Param(float, low=0.0, low_open=True, high=1.0,
                      help="upper bound on the initial step (doubling)"),
            tol=Param(float, default=0.0, low=0.0,
                      help="corrector tolerance (0: the method's default, 1e-10 uniform, 1e-9 "
                           "doubling)"),
            max_corrector=Param(int, default=0, low=0, high=10_000,
                                help="corrector iterations (doubling: sweeps) per step (0: the "
                                     "method's default, 50 uniform, 300 doubling)")),
    },
    description="Cugliandolo-Kurchan dynamics of the spherical p-spin: energy and correlations "
                "at t_max against the equilibrium / aging references.",
))

LINREG = register_kind(SweepKind.from_model(
    LinearRegressionGF,
    name="dmft.linreg",
    solve=_linreg_solve,
    point="dmft.kinds:linreg_point",
    check="dmft.kinds:linreg_check",
    plot="dmft.kinds:plot_linreg",
    point_doc="Solve least-squares gradient flow (or Langevin) at one point, with the exact MP error.",
    extra_params=_t_max(10.0, "gradient-flow time"),
    options={**solver_options(solve_uniform, dt=Param(float, default=_DT_SWEEP, low=0.0, low_open=True,
                                                      help="time step")),
             **_COMMON_OPTS},
    description="DMFT of least-squares gradient flow with Gaussian data; error, test risk and "
                "training loss at t_max, with the exact Marchenko-Pastur error.",
))

RNN = register_kind(SweepKind.from_model(
    RandomRNN,
    name="dmft.rnn",
    solve=_rnn_solve,
    point="dmft.kinds:rnn_point",
    check="dmft.kinds:rnn_check",
    plot="dmft.kinds:plot_rnn",
    point_doc="Transient of the random RNN at one point.",
    extra_params=_t_max(20.0),
    observables=("stationary_variance",),
    options={**solver_options(
                 solve_uniform,
                 dt=Param(float, low=0.0, low_open=True, help="time step"),
                 n_quad=Param(int, low=2, high=200, help="Gauss-Hermite nodes per dimension"),
                 closed_form=Param(bool, help="closed-form erf/linear correlations")),
             **_COMMON_OPTS},
    description="Sompolinsky-Crisanti-Sommers random network: variance C(t,t) at t_max against "
                "the stationary chaotic variance.",
))

GLM = register_kind(SweepKind.from_model(
    GLMDynamics,
    name="dmft.glm",
    solve=_glm_solve,
    point="dmft.kinds:glm_point",
    check="dmft.kinds:glm_check",
    plot="dmft.kinds:plot_glm",
    point_doc="""GLM dynamics at one point: the exact closure (``method="uniform"``; square loss,
    full batch), or the sampled effective process (``"sampled"``); ``"auto"`` picks the closure
    where it exists.""",
    extra_params=_t_max(10.0, "gradient-flow time"),
    observables=("test_error", "test_risk", "train_error"),
    options={**solver_options(
                 solve,
                 method=Param(str, default="auto", choices=("auto",) + _methods_of(GLMDynamics),
                              help="closed (uniform grid), Monte Carlo effective process, or auto "
                                   "(closed where it exists)")),
             # the sampled method's options, declared once in dmft.sampled.OPTIONS (its step
             # dt is the one the closure, on the uniform grid, also takes here)
             **solver_options(solve_sampled, **{k: SAMPLED_OPTIONS[k] for k in (
                 "dt", "n_traj", "n_samples", "n_replicas", "seed", "tol_se", "n_pass", "max_iter",
                 "damping", "adaptive_damping")}),
             **_COMMON_OPTS},
    description="Teacher-student GLM (any loss of lmech.blocks.LOSSES) trained by gradient flow, "
                "Langevin dynamics or persistent SGD: overlap M, norm Q, test error/risk, "
                "training loss and error at t_max.",
))

#: point and check functions (parameters: the model's fields, t_max and the kind's options)
pspin_point, pspin_check = PSPIN.point_function, PSPIN.check_function
linreg_point, linreg_check = LINREG.point_function, LINREG.check_function
rnn_point, rnn_check = RNN.point_function, RNN.check_function
glm_point, glm_check = GLM.point_function, GLM.check_function


# -- scaling laws: linear random features on P samples (dmft.scaling) ---------------------------
from .scaling import RandomFeatureScaling, scaling_loss  # noqa: E402


def _scaling_solve(model: RandomFeatureScaling, *, t_max, rtol, max_refine) -> DMFTResult:
    res = scaling_loss(model, [t_max], rtol=rtol, max_refine=max_refine)
    return DMFTResult(success=res.success, status=res.status, message=res.message,
                      n_iter=res.n_iter, residual=res.residual, model=res.model,
                      options=res.options, conventions=res.conventions, timings=res.timings,
                      arrays={}, scalars={"loss": res.scalars["loss_final"],
                                          "loss_inf": res.scalars["loss_inf"],
                                          "loss_0": res.scalars["loss_0"]},
                      meta=res.meta, error_estimate=res.error_estimate)


def plot_scaling(res, ax):
    """Test loss at t_max against the first axis, log-log, with the t -> infinity limit dashed."""
    _plotter("loss", "loss_inf", "test loss at t_max")(res, ax)
    ax.set_xscale("log")
    ax.set_yscale("log")


SCALING = register_kind(SweepKind.from_model(
    RandomFeatureScaling,
    name="dmft.scaling",
    solve=_scaling_solve,
    point="dmft.kinds:scaling_point",
    check="dmft.kinds:scaling_check",
    plot="dmft.kinds:plot_scaling",
    point_doc="Test loss at t_max of linear random features (N) trained on P power-law samples "
              "(frequency-domain DMFT), with its t -> infinity limit loss_inf.",
    extra_params=_t_max(100.0, "training time (gradient descent: lr x steps)"),
    observables=("loss", "loss_inf", "loss_0"),
    options=solver_options(
        scaling_loss,
        rtol=Param(float, low=1e-13, high=1.0, high_open=True,
                   help="relative tolerance on the loss (plus the floor 1e-12 L(0))"),
        max_refine=Param(int, low=0, high=10, help="contour refinements per block")),
    description="Bordelon-Atanasov-Pehlevan dynamical model of neural scaling laws: test loss "
                "L(t_max, N, P) of linear random features on power-law data, and its limit.",
))

scaling_point, scaling_check = SCALING.point_function, SCALING.check_function

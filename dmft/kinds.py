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
    persistent SGD (``alpha``, ``loss`` square/logistic/hinge, ``ridge``,
    ``teacher``, ``noise``, ``rho``, ``temperature``, ``batch_fraction``,
    ``persistence``, ``t_max``; ``method`` auto -- the closure where it
    exists, else sampled --, uniform or sampled, with the sampled options).
    Observables: ``M``, ``Q``, ``train_loss``, ``test_error`` (sign
    teacher), ``test_risk`` (square loss), ``train_error`` (logistic, hinge),
    NaN where not defined.
``dmft.rnn``
    Random RNN (``g``, ``phi``, ``noise``, ``x0_var``, ``t_max``).
    Observables: ``variance`` (``C(t_max, t_max)``), ``C_half`` and, for the
    noiseless tanh/erf network, ``stationary_variance``.

Every point also records the solver's error estimates (``<name>_err``, see
:attr:`lmech.Result.error_estimate`); ``converged`` is False when an estimate
exceeds the solver's ``rtol``.

Point results keep one-time arrays only (the two-time ``C``, ``R`` of a sweep
point are dropped to bound archive size; run :func:`dmft.solve` for them).
"""

from __future__ import annotations

import math

import numpy as np

from lmech.config import Param, SweepKind, register_kind

from .glm import LOSSES, TEACHERS, GLMDynamics
from .linreg import LinearRegressionGF, mp_error
from .pspin import CONVENTIONS, SphericalPSpin
from .rnn import PHI_CODES, RandomRNN
from .result import DMFTResult
from .solve import solve

__all__ = ["pspin_point", "pspin_check", "linreg_point", "linreg_check", "rnn_point",
           "rnn_check", "plot_observable"]


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


def _check_tmax(t_max):
    if not (isinstance(t_max, (int, float)) and t_max > 0 and math.isfinite(t_max)):
        raise ValueError(f"t_max must lie in (0, inf), got {t_max!r}")


# -- p-spin -------------------------------------------------------------------
def pspin_check(*, p=3, T=0.5, convention="half", t_max=20.0):
    """Raise ValueError naming the parameter for an invalid point."""
    _check_tmax(t_max)
    SphericalPSpin(p=p, T=T, convention=convention)


def pspin_point(*, p=3, T=0.5, convention="half", t_max=20.0, method="uniform", dt=0.05,
                tol=0.0, max_corrector=0, n_window=256, dt0=0.05, rtol=0.0) -> DMFTResult:
    """Solve the p-spin at one point; scalars are the final observables.

    ``method="doubling"`` uses ``n_window``, ``dt0``, ``tol`` and
    ``max_corrector`` (sweeps per row) and ignores ``dt``; the other methods
    ignore ``n_window`` and ``dt0``.  ``tol = 0`` and ``max_corrector = 0``
    mean the method's own defaults (1e-10 and 50 for the uniform grid, 1e-9
    and 300 for doubling); ``rtol = 0`` likewise (1e-4 for the uniform grid and
    the stationary solver, 1e-3 for doubling, whose estimate is conservative).
    """
    model = SphericalPSpin(p=p, T=T, convention=convention)
    doubling = method == "doubling"
    tol = tol or (1e-9 if doubling else 1e-10)
    max_corrector = max_corrector or (300 if doubling else 50)
    extra = {"rtol": rtol} if rtol else {}
    if doubling:
        res = solve(model, t_max, method=method, n_window=n_window, dt0=dt0, tol=tol,
                    max_corrector=max_corrector, **extra)
    else:
        res = solve(model, t_max, method=method, dt=dt, tol=tol, max_corrector=max_corrector,
                    **extra)
    ref = math.nan
    if p >= 3 and T > 0:
        if T > model.dynamical_temperature():
            ref = model.equilibrium_energy()
        else:
            ref = model.aging_energy()
    elif p == 2 and T == 0:
        ref = -math.sqrt(2.0 * CONVENTIONS[convention])  # ground state -lambda_max c = -sqrt(2c)
    return _slim(res, {"energy_reference": ref})


# -- linear regression -----------------------------------------------------------
def linreg_check(*, alpha=2.0, noise=0.0, ridge=0.0, signal=1.0, temperature=0.0, t_max=10.0):
    """Raise ValueError naming the parameter for an invalid point."""
    _check_tmax(t_max)
    LinearRegressionGF(alpha=alpha, noise=noise, ridge=ridge, signal=signal,
                       temperature=temperature)


def linreg_point(*, alpha=2.0, noise=0.0, ridge=0.0, signal=1.0, temperature=0.0, t_max=10.0,
                 dt=0.05, tol=1e-10, max_corrector=50, rtol=1e-4) -> DMFTResult:
    """Solve least-squares gradient flow (or Langevin) at one point, with the exact MP error."""
    model = LinearRegressionGF(alpha=alpha, noise=noise, ridge=ridge, signal=signal,
                               temperature=temperature)
    res = solve(model, t_max, dt=dt, tol=tol, max_corrector=max_corrector, rtol=rtol)
    return _slim(res, {"error_mp": mp_error(model, t_max)})


# -- random RNN -------------------------------------------------------------------
def rnn_check(*, g=1.5, phi="tanh", noise=0.0, x0_var=1.0, t_max=20.0):
    """Raise ValueError naming the parameter for an invalid point."""
    _check_tmax(t_max)
    RandomRNN(g=g, phi=phi, noise=noise, x0_var=x0_var)


def rnn_point(*, g=1.5, phi="tanh", noise=0.0, x0_var=1.0, t_max=20.0, dt=0.1, n_quad=24,
              closed_form=True, tol=1e-10, max_corrector=50, rtol=1e-4) -> DMFTResult:
    """Transient of the random RNN at one point."""
    model = RandomRNN(g=g, phi=phi, noise=noise, x0_var=x0_var)
    res = solve(model, t_max, dt=dt, n_quad=n_quad, closed_form=closed_form, tol=tol,
                max_corrector=max_corrector, rtol=rtol)
    extra = {} if "stationary_variance" in res.scalars else {"stationary_variance": math.nan}
    return _slim(res, extra)


# -- GLM ------------------------------------------------------------------------------
def glm_check(*, alpha=2.0, loss="square", ridge=0.0, teacher="sign", noise=0.0, rho=1.0,
              temperature=0.0, batch_fraction=1.0, persistence=1.0, t_max=10.0):
    """Raise ValueError naming the parameter for an invalid point."""
    _check_tmax(t_max)
    GLMDynamics(alpha=alpha, loss=loss, ridge=ridge, teacher=teacher, noise=noise, rho=rho,
                temperature=temperature, batch_fraction=batch_fraction, persistence=persistence)


def glm_point(*, alpha=2.0, loss="square", ridge=0.0, teacher="sign", noise=0.0, rho=1.0,
              temperature=0.0, batch_fraction=1.0, persistence=1.0, t_max=10.0, method="auto",
              dt=0.05, tol=1e-10, max_corrector=50, n_traj=2000, n_samples=None, n_replicas=4,
              seed=0, tol_se=0.01, n_pass=2, max_iter=50, damping=1.0,
              adaptive_damping=True, rtol=1e-4) -> DMFTResult:
    """GLM dynamics at one point: the exact closure (``method="uniform"``; square loss, full
    batch), or the sampled effective process (``"sampled"``); ``"auto"`` picks the closure
    where it exists."""
    model = GLMDynamics(alpha=alpha, loss=loss, ridge=ridge, teacher=teacher, noise=noise,
                        rho=rho, temperature=temperature, batch_fraction=batch_fraction,
                        persistence=persistence)
    if method == "auto":
        method = "uniform" if model.closed else "sampled"
    if method == "sampled":
        res = solve(model, t_max, method="sampled", dt=dt, n_traj=n_traj, n_samples=n_samples,
                    n_replicas=n_replicas, seed=seed, tol_se=tol_se, n_pass=n_pass,
                    max_iter=max_iter, damping=damping, adaptive_damping=adaptive_damping)
    else:
        res = solve(model, t_max, dt=dt, tol=tol, max_corrector=max_corrector, rtol=rtol)
    extra = {k: math.nan for k in ("test_error", "test_risk", "train_error")
             if k not in res.scalars}
    return _slim(res, extra)


# -- plot -------------------------------------------------------------------------
def _plotter(observable, reference=None, ylabel=None):
    def plot(res, ax):
        axes = res.meta["axes"]
        x = np.asarray(res.arrays[axes[0]])
        y = np.asarray(res.arrays[observable])
        ref = np.asarray(res.arrays[reference]) if reference and reference in res.arrays else None
        if y.ndim == 1:
            ax.plot(x, y, "o-", label=observable)
            if ref is not None:
                ax.plot(x, ref, "k--", label=reference)
        else:
            other = np.asarray(res.arrays[axes[1]])
            for j in range(y.shape[1]):
                idx = (slice(None), j) + (0,) * (y.ndim - 2)
                ax.plot(x, y[idx], "o-", label=f"{axes[1]} = {other[j]:g}")
                if ref is not None:
                    ax.plot(x, ref[idx], "k--", lw=0.8)
        ax.set_xlabel(axes[0])
        ax.set_ylabel(ylabel or observable)
        ax.legend()
    return plot


plot_pspin = _plotter("energy", "energy_reference", "energy at t_max")
plot_linreg = _plotter("test_risk", None, "test risk at t_max")
plot_rnn = _plotter("variance", "stationary_variance", "C(t_max, t_max)")
plot_glm = _plotter("test_error", None, "test error at t_max (sign teacher)")


def plot_observable(res, ax, observable):
    """Draw ``observable`` of a finished dmft sweep against its first axis."""
    _plotter(observable)(res, ax)


_RTOL = Param(float, default=1e-4, low=0.0, low_open=True,
              help="relative tolerance on the error estimates (uniform, stationary): "
                   "converged requires every estimate <= rtol * max(1, |value|)")

_COMMON_OPTS = {
    "rtol": _RTOL,
    "tol": Param(float, default=1e-10, low=0.0, low_open=True, help="corrector tolerance"),
    "max_corrector": Param(int, default=50, low=1, high=10_000, help="corrector iterations per step"),
}

register_kind(SweepKind(
    name="dmft.pspin",
    point="dmft.kinds:pspin_point",
    check="dmft.kinds:pspin_check",
    plot="dmft.kinds:plot_pspin",
    params={
        "p": Param(int, default=3, low=2, high=64, help="degree of the p-spin interaction"),
        "T": Param(float, default=0.5, low=0.0, help="temperature"),
        "convention": Param(str, default="half", choices=tuple(CONVENTIONS),
                            help="Hamiltonian normalisation xi(q) = q^p/2 (half) or q^p (full)"),
        "t_max": Param(float, default=20.0, low=0.0, low_open=True, help="final time"),
    },
    options={
        "method": Param(str, default="uniform", choices=("uniform", "stationary", "doubling"),
                        help="integrator (stationary: one-time FDT solver, T > T_d; doubling: "
                             "time-doubling window for long/aging runs)"),
        "dt": Param(float, default=0.05, low=0.0, low_open=True,
                    help="time step (uniform, stationary)"),
        "rtol": Param(float, default=0.0, low=0.0,
                      help="relative tolerance on the error estimates: converged requires every "
                           "estimate <= rtol * max(1, |value|); 0 = the method's default (1e-4, "
                           "doubling 1e-3)"),
        "n_window": Param(int, default=256, low=16, high=4096,
                          help="points of the doubling window (even)"),
        "dt0": Param(float, default=0.05, low=0.0, low_open=True, high=1.0,
                     help="upper bound on the initial step (doubling)"),
        "tol": Param(float, default=0.0, low=0.0,
                     help="corrector tolerance (0: the method's default, 1e-10 uniform, 1e-9 "
                          "doubling)"),
        "max_corrector": Param(int, default=0, low=0, high=10_000,
                               help="corrector iterations (doubling: sweeps) per step (0: the "
                                    "method's default, 50 uniform, 300 doubling)"),
    },
    description="Cugliandolo-Kurchan dynamics of the spherical p-spin: energy and correlations "
                "at t_max against the equilibrium / aging references.",
))

register_kind(SweepKind(
    name="dmft.linreg",
    point="dmft.kinds:linreg_point",
    check="dmft.kinds:linreg_check",
    plot="dmft.kinds:plot_linreg",
    params={
        "alpha": Param(float, default=2.0, low=0.0, low_open=True, help="samples per dimension n/d"),
        "noise": Param(float, default=0.0, low=0.0, help="label-noise variance"),
        "ridge": Param(float, default=0.0, low=0.0, help="ridge penalty"),
        "signal": Param(float, default=1.0, low=0.0, low_open=True, help="|beta*|^2"),
        "temperature": Param(float, default=0.0, low=0.0, help="Langevin temperature (0: gradient flow)"),
        "t_max": Param(float, default=10.0, low=0.0, low_open=True, help="gradient-flow time"),
    },
    options={"dt": Param(float, default=0.05, low=0.0, low_open=True, help="time step"),
             **_COMMON_OPTS},
    description="DMFT of least-squares gradient flow with Gaussian data; error, test risk and "
                "training loss at t_max, with the exact Marchenko-Pastur error.",
))

register_kind(SweepKind(
    name="dmft.rnn",
    point="dmft.kinds:rnn_point",
    check="dmft.kinds:rnn_check",
    plot="dmft.kinds:plot_rnn",
    params={
        "g": Param(float, default=1.5, low=0.0, help="coupling gain"),
        "phi": Param(str, default="tanh", choices=tuple(PHI_CODES), help="activation"),
        "noise": Param(float, default=0.0, low=0.0, help="white-noise variance"),
        "x0_var": Param(float, default=1.0, low=0.0, low_open=True, help="initial variance"),
        "t_max": Param(float, default=20.0, low=0.0, low_open=True, help="final time"),
    },
    options={"dt": Param(float, default=0.1, low=0.0, low_open=True, help="time step"),
             "n_quad": Param(int, default=24, low=2, high=200, help="Gauss-Hermite nodes per dimension"),
             "closed_form": Param(bool, default=True, help="closed-form erf/linear correlations"),
             **_COMMON_OPTS},
    description="Sompolinsky-Crisanti-Sommers random network: variance C(t,t) at t_max against "
                "the stationary chaotic variance.",
))

register_kind(SweepKind(
    name="dmft.glm",
    point="dmft.kinds:glm_point",
    check="dmft.kinds:glm_check",
    plot="dmft.kinds:plot_glm",
    params={
        "alpha": Param(float, default=2.0, low=0.0, low_open=True, help="samples per dimension n/d"),
        "loss": Param(str, default="square", choices=LOSSES, help="training loss"),
        "ridge": Param(float, default=0.0, low=0.0, help="ridge penalty"),
        "teacher": Param(str, default="sign", choices=TEACHERS, help="teacher activation"),
        "noise": Param(float, default=0.0, low=0.0, help="label-noise variance"),
        "rho": Param(float, default=1.0, low=0.0, low_open=True, help="|beta*|^2"),
        "temperature": Param(float, default=0.0, low=0.0, help="Langevin temperature"),
        "batch_fraction": Param(float, default=1.0, low=0.0, high=1.0, low_open=True,
                                help="persistent-SGD batch fraction b (1: gradient flow)"),
        "persistence": Param(float, default=1.0, low=0.0, low_open=True,
                             help="mean time tau a sample stays in the SGD batch"),
        "t_max": Param(float, default=10.0, low=0.0, low_open=True, help="gradient-flow time"),
    },
    options={"method": Param(str, default="auto", choices=("auto", "uniform", "sampled"),
                             help="closed (uniform grid), Monte Carlo effective process, or auto "
                                  "(closed where it exists)"),
             "dt": Param(float, default=0.05, low=0.0, low_open=True, help="time step"),
             "n_traj": Param(int, default=2000, low=10, help="trajectories per replica (sampled)"),
             "n_samples": Param(int, default=None, low=10,
                                help="sample-side trajectories per replica (sampled; "
                                     "default n_traj)"),
             "n_replicas": Param(int, default=4, low=2, help="independent replicas (sampled)"),
             "seed": Param(int, default=0, low=0, help="random seed (sampled)"),
             "tol_se": Param(float, default=0.01, low=0.0, low_open=True,
                             help="slab tolerance in Monte Carlo standard errors (sampled)"),
             "n_pass": Param(int, default=2, low=1, high=100,
                             help="consecutive converged passes per slab (sampled)"),
             "max_iter": Param(int, default=50, low=2, high=10_000,
                               help="iterations per slab (sampled)"),
             "damping": Param(float, default=1.0, low=0.0, low_open=True, high=1.0,
                              help="initial mixing weight of a slab's passes (sampled)"),
             "adaptive_damping": Param(bool, default=True,
                                       help="halve the weight when a slab's residual grows "
                                            "(sampled)"),
             **_COMMON_OPTS},
    description="Teacher-student GLM (square, logistic or hinge loss) trained by gradient flow, "
                "Langevin dynamics or persistent SGD: overlap M, norm Q, test error/risk, "
                "training loss and error at t_max.",
))

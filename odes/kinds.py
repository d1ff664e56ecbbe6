"""Sweep kind ``odes.phase_diagram`` for ``lmech run``: the ODE phase diagram.

Each point integrates the committee-machine ODEs from ``Q0 = q0 I``,
``R0 = r0 U`` (``U`` a fixed pseudo-random ``K x M`` matrix with entries in
``[0, 1)``, drawn from ``seed``), ``T = I``, and records the final error, the
plateau (value, time, length) and the escape time as scalars.  The plateau
window is given in ``alpha = eta t`` so that it follows the learning rate
(default ``[10, 1000]``), and the plateau is the minimum of
``|d log eg/dt|`` there (``plateau_measure="relative"`` of
:func:`odes.integrate`), which ignores the convergence phase and a noisy
asymptote.
"""

from __future__ import annotations

import math

import numpy as np

from dataclasses import dataclass

from lmech.config import SweepKind, register_kind
from lmech.spec import Model, param

from .integrate import Trajectory, integrate
from .model import CommitteeMachine

__all__ = ["phase_point", "phase_check", "phase_plot", "initial_state", "PhaseStart",
           "PhaseOptions"]


def initial_state(K: int, M: int, q0: float, r0: float, seed: int):
    """``Q0 = q0 I`` and ``R0 = r0 U`` with ``U ~ Uniform[0, 1)^(K x M)`` from ``seed``.

    Raises ValueError naming ``r0`` if ``[[Q0, R0], [R0^T, I]]`` is not PSD.
    """
    if not (isinstance(q0, (int, float)) and q0 > 0 and math.isfinite(q0)):
        raise ValueError(f"q0 must lie in (0, inf), got {q0!r}")
    if not (isinstance(r0, (int, float)) and math.isfinite(r0)):
        raise ValueError(f"r0 must be finite, got {r0!r}")
    U = np.random.default_rng(seed).random((K, M))
    Q0 = q0 * np.eye(K)
    R0 = r0 * U
    # PSD iff q0 I - R0 R0^T is PSD (Schur complement with T = I)
    if np.linalg.eigvalsh(Q0 - R0 @ R0.T).min() < -1e-12:
        raise ValueError(f"r0 is too large for q0={q0}: [[Q0, R0], [R0^T, I]] must be PSD")
    return Q0, R0


@dataclass(frozen=True)
class PhaseStart(Model):
    """Sweep-only parameters of ``odes.phase_diagram``: the initial condition and the final time."""

    q0: float = param(0.5, low=0.0, low_open=True, help="initial Q = q0 I")
    r0: float = param(1e-3, help="initial R = r0 U, U uniform from seed")
    seed: int = param(0, low=0, help="seed of the initial R pattern")
    t_max: float = param(1000.0, low=0.0, low_open=True, help="final time steps/N")


@dataclass(frozen=True)
class PhaseOptions(Model):
    """Numerical options of ``odes.phase_diagram``."""

    method: str = param("DOP853", choices=("DOP853", "RK45", "Radau", "LSODA", "euler"),
                        help="integrator")
    rtol: float = param(1e-11, low=1e-14, high=1.0, help="relative tolerance")
    atol: float = param(0.0, low=0.0, help="absolute tolerance; 0 means the default of odes.integrate")
    dt: float = param(0.01, low=0.0, low_open=True, help="Euler step")
    alpha_lo: float = param(10.0, low=0.0, help="plateau window start in eta t")
    alpha_hi: float = param(1000.0, low=0.0, low_open=True, help="plateau window end in eta t")
    escape_fraction: float = param(0.5, low=0.0, high=1.0, low_open=True,
                                   help="escape when eg < fraction * plateau")
    bound: float = param(1e4, low=0.0, low_open=True,
                         help="divergence (success = false) when |Q|, |R| or |v| exceeds it")


def _phase_validate(model: CommitteeMachine, *, q0, r0, seed, t_max):
    if model.lr <= 0:
        raise ValueError(f"lr must be > 0 in a phase diagram (the plateau window is in eta t), "
                         f"got {model.lr!r}")
    initial_state(model.K, model.M, q0, r0, seed)


def _phase_solve(model: CommitteeMachine, *, q0, r0, seed, t_max, method, rtol, atol, dt,
                 alpha_lo, alpha_hi, escape_fraction, bound) -> Trajectory:
    lr = model.lr
    Q0, R0 = initial_state(model.K, model.M, q0, r0, seed)
    kw = dict(rtol=rtol, atol=atol if atol > 0 else None) if method != "euler" else dict(dt=dt)
    res = integrate(model, t_max, Q0=Q0, R0=R0, method=method,
                    plateau_window=(alpha_lo / lr, alpha_hi / lr), plateau_measure="relative",
                    escape_fraction=escape_fraction, bound=bound,
                    escape_after=alpha_lo / lr, **kw)
    return Trajectory(success=res.success, status=res.status, message=res.message, n_iter=res.n_iter,
                      residual=res.residual, model=res.model, options=res.options,
                      conventions=res.conventions, timings=res.timings, arrays={},
                      scalars=res.scalars, meta=res.meta, error_estimate=res.error_estimate)


def phase_plot(sweep_result, ax):
    """Draw the escape time of a sweep against its first axis.

    A 1-D sweep also shows the plateau length; on a 2-D sweep there is one
    curve per value of the second axis; further axes are cut at their first
    value.  Geometric axes get a logarithmic scale.
    """
    axes = list(sweep_result.meta["axes"])
    arr = sweep_result.arrays
    x = np.asarray(arr[axes[0]], dtype=float)
    z = np.asarray(arr["t_escape"], dtype=float)
    while z.ndim > 2:
        z = z[..., 0]
    if z.ndim == 1:
        ax.plot(x, z, "o-", label="escape time")
        if "plateau_length" in arr:
            pl = np.asarray(arr["plateau_length"], dtype=float)
            while pl.ndim > 1:
                pl = pl[..., 0]
            ax.plot(x, pl, "s--", label="plateau length")
    else:
        second = np.asarray(arr[axes[1]], dtype=float)
        for j, val in enumerate(second):
            ax.plot(x, z[:, j], "o-", label=f"{axes[1]} = {val:.3g}")
    if x.size > 2 and np.all(x > 0) and x.max() / x.min() > 20:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(axes[0])
    ax.set_ylabel("escape time  t = steps / N")
    ax.legend(fontsize="small")
    return ax


KIND = register_kind(SweepKind.from_model(
    CommitteeMachine,
    name="odes.phase_diagram",
    fields=("K", "M", "activation", "lr", "noise", "weight_decay", "train_second", "readout"),
    defaults={"K": 2, "M": 2},
    extra_params=PhaseStart,
    options=PhaseOptions,
    solve=_phase_solve,
    validate=_phase_validate,
    point="odes.kinds:phase_point",
    check="odes.kinds:phase_check",
    plot="odes.kinds:phase_plot",
    description="Online SGD ODEs of the teacher-student committee machine (Saad & Solla 1995): "
                "final error, plateau height and length, escape time across model parameters.",
    point_doc="""One point of the phase diagram: a :class:`Trajectory` without its time series.

    Scalars: ``eg_final``, ``plateau_eg``, ``plateau_t``, ``plateau_length``,
    ``t_escape``, ``t_plateau_enter``, ``eg0``, ``nfev``, ... (NaN where the
    trajectory has no plateau or never escapes).  ``error_estimate`` as
    :func:`odes.integrate` (refined run): the default ``rtol = 1e-11`` keeps
    ``plateau_eg`` and ``t_escape`` of the standard case within ``1e-5``
    relative (at ``1e-10`` the relative plateau measure moves ``plateau_t``
    by about 1 and ``plateau_eg`` by 1.2e-4 relative).
    """,
))
#: the point function (parameters: the model's fields, PhaseStart and PhaseOptions)
phase_point = KIND.point_function
#: raise ValueError naming the parameter for an invalid point
phase_check = KIND.check_function


# --- power-law random features (odes.plrf): the compute-optimal frontier and the phase diagram ----
from . import plrf_sweeps as _plrf  # noqa: E402

PLRF_LOSS = register_kind(SweepKind.from_model(
    _plrf.PLRFView,
    name="odes.plrf_loss",
    build=lambda view: view.build(),
    extra_params=_plrf.LossPoint,
    options=_plrf.LossOptions,
    solve=_plrf.loss_solve,
    observables=("loss", "steps", "p_star", "kernel_norm"),
    point="odes.kinds:plrf_loss_point",
    check="odes.kinds:plrf_loss_check",
    plot="odes.plrf_sweeps:loss_plot",
    description="Power-law random features (Paquette et al. 2024): exact expected one-pass SGD risk of "
                "model size d after flops/(B d) steps; a grid over d and flops draws the "
                "compute-optimal frontier.",
    point_doc="""One point: the risk of the PLRF of size ``d`` at compute budget ``flops``.

    Scalars ``loss`` (``P(t)``, ``t = floor(flops / (B d))``), ``steps``,
    ``p_star``, ``kernel_norm``; ``error_estimate["loss"]`` as
    :func:`odes.plrf.risk_curve`.  A budget below one step fails (status
    INVALID_STATE, loss NaN).
    """,
))
#: the point function of ``odes.plrf_loss``
plrf_loss_point = PLRF_LOSS.point_function
#: its check function
plrf_loss_check = PLRF_LOSS.check_function

PLRF_PHASE = register_kind(SweepKind.from_model(
    _plrf.PLRFView,
    name="odes.plrf_phase_diagram",
    fields=("alpha", "beta"),
    build=lambda view: view.build(),
    extra_params=_plrf.FrontierOptions,
    options=_plrf.PhaseOptions,
    solve=_plrf.phase_solve,
    observables=("eta", "eta_err", "xi", "xi_err", "eta_theory", "xi_theory", "phase_code"),
    point="odes.kinds:plrf_phase_point",
    check="odes.kinds:plrf_phase_check",
    plot="odes.plrf_sweeps:phase_plot",
    description="Power-law random features (Paquette et al. 2024): fitted compute-optimal exponents "
                "P*(f) ~ f^-eta, d*(f) ~ f^xi across the (alpha, beta) plane.",
    point_doc="""One point of the (alpha, beta) phase diagram: :func:`odes.plrf.frontier`.

    Scalars ``eta``, ``eta_err``, ``xi``, ``xi_err`` (fitted, with their
    uncertainty), ``eta_theory``, ``xi_theory`` (the paper's phases above
    the high-dimensional line, NaN below), ``phase_code``
    (:data:`odes.plrf_sweeps.PHASE_CODES`).
    """,
))
#: the point function of ``odes.plrf_phase_diagram``
plrf_phase_point = PLRF_PHASE.point_function
#: its check function
plrf_phase_check = PLRF_PHASE.check_function


# ---------------------------------------------------------------------------
# odes.linear_sgd: risk curves of one-pass SGD on Gaussian least squares
# ---------------------------------------------------------------------------
from .linear_sgd import LinearSGD, RiskCurve, log_times, risk_curve  # noqa: E402


@dataclass(frozen=True)
class LinearSGDSpec(Model):
    """Flat view of :class:`odes.LinearSGD` for configs: a spectrum by name and the scalars.

    ``spectrum = "power_law"``: ``h_j = j^(-2 alpha)``, ``w*_j = j^(-beta)``, ``j = 1..d``
    (:meth:`odes.LinearSGD.power_law`); ``"isotropic"``: ``H = I_d``, ``w*_j = 1/sqrt(d)``.
    """

    spectrum: str = param("power_law", choices=("power_law", "isotropic"), help="data spectrum")
    d: int = param(1000, low=1, high=10_000_000, help="dimension (modes)")
    alpha: float = param(1.0, low=0.0, help="power law: h_j = j^(-2 alpha)")
    beta: float = param(0.5, help="power law: w*_j = j^(-beta)")
    lr: float = param(0.1, low=0.0, help="learning rate eta")
    batch: int = param(1, low=1, help="batch size B")
    noise: float = param(0.0, low=0.0, help="label-noise variance sigma^2")
    momentum: float = param(0.0, low=0.0, high=1.0, high_open=True, help="heavy-ball beta")
    weight_decay: float = param(0.0, low=0.0, help="weight decay lambda")

    def model(self) -> LinearSGD:
        kw = dict(lr=self.lr, batch=self.batch, noise=self.noise, momentum=self.momentum,
                  weight_decay=self.weight_decay)
        if self.spectrum == "isotropic":
            return LinearSGD(eigenvalues=[1.0], multiplicity=[self.d], target=[self.d ** -0.5], **kw)
        return LinearSGD.power_law(self.d, self.alpha, self.beta, **kw)


@dataclass(frozen=True)
class RiskTimes(Model):
    """Sweep-only parameters of ``odes.linear_sgd``: the log-spaced output steps."""

    t_max: float = param(1e6, low=1.0, high=1e12, help="last step")
    per_decade: int = param(4, low=1, high=100, help="outputs per decade of steps")


@dataclass(frozen=True)
class RiskOptions(Model):
    """Numerical options of ``odes.linear_sgd``."""

    method: str = param("propagator", choices=("propagator", "recursion", "volterra"), help="solver")
    rtol: float = param(1e-6, low=1e-12, high=1e-1, help="relative tolerance on the risk")


def risk_times(t_max: float, per_decade: int) -> np.ndarray:
    """The output steps of ``odes.linear_sgd``: 0 and ``round(10^(k/per_decade))`` up to ``t_max``."""
    k = np.arange(0, int(math.floor(per_decade * math.log10(t_max) + 1e-9)) + 1)
    return np.unique(np.concatenate([[0.0], np.round(10.0 ** (k / per_decade)), [round(t_max)]]))


def _risk_solve(model: LinearSGD, *, t_max, per_decade, method, rtol) -> RiskCurve:
    t = risk_times(t_max, per_decade)
    res = risk_curve(model, t, method=method, rtol=rtol)
    scalars = dict(res.scalars)
    for tt, r in zip(res.t, res.risk):
        scalars[f"risk_t{int(tt)}"] = float(r)
    scalars["risk_final"] = float(res.risk[-1])
    scalars["lr_ratio"] = model.lr / scalars["lr_threshold"]
    scalars["diverged"] = res.status == -2
    return RiskCurve(success=res.success, status=res.status, message=res.message, n_iter=res.n_iter,
                     residual=res.residual, model=res.model, options=res.options,
                     conventions=res.conventions, timings=res.timings, arrays={}, scalars=scalars,
                     meta=res.meta, error_estimate=res.error_estimate)


def linear_sgd_plot(sweep_result, ax):
    """Risk against steps (log-log), one curve per grid point; rates at or above the stability
    threshold ``eta_c`` (:func:`odes.stability_threshold`) dashed, labels ``eta/eta_c``."""
    arr = sweep_result.arrays
    names = sorted((k for k in sweep_result.meta["observables"] if k.startswith("risk_t")),
                   key=lambda k: int(k[6:]))
    t = np.array([int(k[6:]) for k in names], dtype=float)
    axes = list(sweep_result.meta["axes"])
    shape = np.asarray(arr[names[0]]).shape
    for idx in np.ndindex(*shape):
        r = np.array([float(np.asarray(arr[k])[idx]) for k in names])
        ratio = float(np.asarray(arr["lr_ratio"])[idx]) if "lr_ratio" in arr else math.nan
        lab = ", ".join(f"{a}={np.asarray(arr[a])[i]:.3g}" for a, i in zip(axes, idx))
        ok = t > 0
        style = "--" if ratio >= 1 else "-"
        ax.plot(t[ok], r[ok], style, label=f"{lab} (eta/eta_c={ratio:.2f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("steps t")
    ax.set_ylabel("risk (1/2) E (y - f)^2")
    ax.legend(fontsize="x-small")
    return ax


LINEAR_SGD_KIND = register_kind(SweepKind.from_model(
    LinearSGDSpec,
    name="odes.linear_sgd",
    build=LinearSGDSpec.model,
    solve=_risk_solve,
    extra_params=RiskTimes,
    options=RiskOptions,
    observables=("risk_final", "lr_threshold", "kernel_norm", "lr_ratio", "diverged"),
    point="odes.kinds:linear_sgd_point",
    check="odes.kinds:linear_sgd_check",
    plot="odes.kinds:linear_sgd_plot",
    description="Expected risk of one-pass SGD on Gaussian least squares (exact second moments): "
                "risk at log-spaced steps, the stability threshold eta_c and eta/eta_c.",
    point_doc="""One risk curve: scalars ``risk_t<step>`` at the steps of :func:`risk_times`,
    ``risk_final``, ``lr_threshold`` (eta_c of the recursion), ``lr_ratio`` (eta/eta_c),
    ``kernel_norm``, ``diverged``; ``error_estimate`` of :func:`odes.risk_curve`.
    """,
))
#: the point function (parameters: LinearSGDSpec, RiskTimes and RiskOptions)
linear_sgd_point = LINEAR_SGD_KIND.point_function
#: raise ValueError naming the parameter for an invalid point
linear_sgd_check = LINEAR_SGD_KIND.check_function

__all__ += ["linear_sgd_point", "linear_sgd_check", "linear_sgd_plot", "LinearSGDSpec", "RiskTimes",
            "RiskOptions", "risk_times"]

"""Integration of the committee-machine ODEs and the observables of a trajectory.

:func:`integrate` solves the order-parameter ODEs of online SGD (Saad &
Solla, PRE 52, 4225 (1995); Biehl & Schwarze, J. Phys. A 28, 643 (1995);
Goldt et al., NeurIPS 2019, and its supplementary material) with a Numba
right-hand side, either adaptively (default: DOP853 stepped in Numba, or any
:func:`scipy.integrate.solve_ivp` method) or with fixed-step forward Euler
(``method="euler"``, the scheme of published codes).
It returns a :class:`Trajectory` with the order parameters, the
generalisation error, the plateau, the escape time and the solver statistics.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq, minimize_scalar

from lmech.checks import (check_array, check_choice, check_int, check_memory, check_psd, check_real,
                          check_shape)
from lmech.result import Result, register_result
from lmech.status import Status

from . import _kernels
from .integrals import custom_coefficients, custom_i2, probe_custom
from .model import NODE_LEVELS, NODE_RTOL, CommitteeMachine, Custom

__all__ = ["Trajectory", "integrate", "System"]


@register_result("odes.Trajectory")
class Trajectory(Result):
    """A solution of the committee-machine ODEs.

    Arrays: ``t`` (n,), ``Q`` (n, K, K), ``R`` (n, K, M), ``v`` (n, K) (as
    given, in the model's readout normalisation), ``eg`` (n,), ``T`` (M, M),
    ``v_teacher`` (M,).  Scalars: ``eg0``, ``eg_final``, ``t_final``,
    ``plateau_eg``, ``plateau_t`` (minimum of ``|d eg/dt|`` in the plateau
    window), ``t_escape`` (first ``t > escape_after`` with
    ``eg < escape_fraction * plateau_eg``), ``t_plateau_enter`` (first ``t``
    with ``eg < plateau_eg / escape_fraction``), ``plateau_length``
    (``t_escape - t_plateau_enter``), ``t_converged`` (all NaN when not
    found), ``nfev``, ``n_steps``, ``n_rejected`` (-1 if the solver does not
    say), ``max_abs_order_parameter`` (largest
    ``|Q|``, ``|R|`` or ``|v|`` on the output grid: with bounded activations
    such as erf, weights above the critical learning rate grow without a
    blow-up, which a small ``bound`` turns into a reported divergence).
    """

    #: codes before lmech.Status (-1, a failed step, names no cause: FAILED)
    LEGACY_STATUS = {1: Status.STOPPED, -2: Status.DIVERGED, -3: Status.INVALID_STATE,
                     -4: Status.TOLERANCE, -5: Status.NO_ESTIMATE}


class System:
    """The ODE system of a model with its teacher, in the kernels' packed state.

    State: upper triangle of ``Q`` (row by row), ``R`` row-major, then ``v``
    (effective weights ``v / c_K``) if the second layer trains.  The readout
    normalisation is absorbed into effective weights ``v/c_K``, ``v*/c_M``
    and the effective second-layer rate ``eta_v / c_K^2``.  ``args`` is the
    model's :meth:`~odes.CommitteeMachine.kernel_args` with this ``T`` and
    ``v0``: the one argument of every kernel call.
    """

    def __init__(self, model: CommitteeMachine, T=None, v0=None):
        if not isinstance(model, CommitteeMachine):
            raise ValueError(f"model must be an odes.CommitteeMachine, got {type(model).__name__}")
        K, M = model.K, model.M
        if isinstance(model.activation, Custom) and not model.activation.resolved:
            raise ValueError(f"activation is the stored name {model.activation.g!r}, not a callable: "
                             "rebuild the model with the function itself")
        self.model = model
        #: the activation with its node count once resolved (Custom with n_nodes=None: at the first
        #: right-hand side evaluation, by refinement)
        self.act = model.activation
        if isinstance(self.act, Custom):
            probe_custom(self.act)
        self.K, self.M, self.L = K, M, K + M
        if T is None:
            T = np.eye(M)
        T = check_psd("T", T, tol=1e-10)
        if T.shape != (M, M):
            raise ValueError(f"T must have shape ({M}, {M}), got {T.shape}")
        self.T = T
        if v0 is None:
            v0 = np.ones(K)
        self.v0 = check_shape("v0", v0, (K,))
        self.cK, self.cM = model.c_student, model.c_teacher
        self.train_v = model.train_second
        self.code = model.act_code
        #: the kernels' one argument (bound once: attribute look-ups cost more than the K = 2 kernel)
        self.args = model.kernel_args(T, self.v0)
        #: the argument of the ODE kernels (rhs, eg, steppers): ``args`` itself, or for erf the same
        #: fields as an ``ErfArgs``, whose kernels compile the erf path only (a much faster first call)
        self.ode_args = self.args
        self._rhs_fields, self._eg_fields = _kernels.rhs_fields, _kernels.eg_fields
        if self.code == _kernels.ERF:
            self.ode_args = _kernels.ErfArgs(*self.args)
            self._rhs_fields, self._eg_fields = _kernels.rhs_fields_erf, _kernels.eg_fields_erf
        self._fields = tuple(self.args)  # the fast calling convention of rhs_fields, eg_fields
        nq = K * (K + 1) // 2
        self.nq, self.nr = nq, K * M
        self.n = nq + K * M + (K if self.train_v else 0)
        self.iu = np.triu_indices(K)
        self.nfev = 0
        self.n_rejected = -1  # known only for the Numba DOP853 stepper

    # -- packing ------------------------------------------------------------
    def pack(self, Q, R, v=None) -> np.ndarray:
        y = np.empty(self.n)
        y[: self.nq] = Q[self.iu]
        y[self.nq: self.nq + self.nr] = R.ravel()
        if self.train_v:
            y[self.nq + self.nr:] = (self.v0 if v is None else v) / self.cK
        return y

    def unpack(self, y):
        """``Q, R, v`` from a state (``v`` in the model's normalisation)."""
        K, M = self.K, self.M
        y = np.asarray(y)
        Q = np.empty(y.shape[:-1] + (K, K))
        Q[..., self.iu[0], self.iu[1]] = y[..., : self.nq]
        Q[..., self.iu[1], self.iu[0]] = y[..., : self.nq]
        R = y[..., self.nq: self.nq + self.nr].reshape(y.shape[:-1] + (K, M))
        if self.train_v:
            v = y[..., self.nq + self.nr:] * self.cK
        else:
            v = np.broadcast_to(self.v0, y.shape[:-1] + (K,)).copy()
        return Q, R.copy(), v

    # -- evaluation ---------------------------------------------------------
    def f(self, t, y):
        """``dy/dt`` at ``(t, y)``."""
        self.nfev += 1
        out = np.empty(self.n)
        if self.code >= 0:
            self._rhs_fields(t, y, self._fields, out)
            return out
        C = np.empty((self.L, self.L))
        w = np.empty(self.L)
        if not np.all(np.isfinite(y)):  # a solver's trial state beyond overflow: no integrals there
            out.fill(math.nan)
            return out
        _kernels.unpack(y, self.args, C, w)
        if self.act.n_nodes is None:
            self.act = _choose_nodes(self.act, C, w, self.K)
        A, B, J, G = custom_coefficients(self.act, C, w, self.K)
        eta, eta_v = _kernels.rates(t, self.args)
        _kernels.assemble(self.args, C, w, A, B, J, G, eta, eta_v, out)
        return out

    def eg(self, y) -> float:
        """Generalisation error at state ``y``."""
        if self.code >= 0:
            return float(self._eg_fields(y, self._fields))
        C = np.empty((self.L, self.L))
        w = np.empty(self.L)
        _kernels.unpack(y, self.args, C, w)
        act = self.act if self.act.n_nodes is not None else dataclasses.replace(self.act, n_nodes=48)
        G = custom_i2(act, C)
        return float(0.5 * w @ G @ w)

    def deg_dt(self, t, y) -> float:
        """``d eg / dt`` along the flow, by a central difference along ``f``."""
        f = self.f(t, y)
        fmax = float(np.max(np.abs(f)))
        if fmax == 0.0:
            return 0.0
        h = 1e-5 * max(1.0, float(np.max(np.abs(y)))) / fmax
        return (self.eg(y + h * f) - self.eg(y - h * f)) / (2.0 * h)


def grad_eg(system, y) -> np.ndarray:
    """Gradient of ``eg`` at the packed state ``y`` by central differences.

    Step ``1e-6 max(1, |y_j|)`` per coordinate: truncation ``O(h^2)`` and
    rounding ``O(eps / h)``, about ``1e-10`` relative.
    """
    y = np.asarray(y, dtype=float)
    if system.code >= 0:  # the same differences in one kernel call
        return _kernels.grad_eg(np.ascontiguousarray(y), system.ode_args, np.empty(y.size))
    h = 1e-6 * np.maximum(1.0, np.abs(y))
    g = np.empty(y.size)
    for i in range(y.size):
        yp, ym = y.copy(), y.copy()
        yp[i] += h[i]
        ym[i] -= h[i]
        g[i] = (system.eg(yp) - system.eg(ym)) / (2.0 * h[i])
    return g


def _choose_nodes(act, C, w, K):
    """``act`` with ``n_nodes`` refined through ``NODE_LEVELS`` at the covariance ``C``.

    Stops when ``A, B, J`` of two successive levels agree to ``NODE_RTOL``
    relative to their largest entry (or at the last affordable level,
    ``n^rank <= 4e6``).
    """
    prev = None
    chosen = NODE_LEVELS[0]
    rank = int(np.sum(np.linalg.eigvalsh(C) > 1e-14 * max(1.0, float(np.abs(C).max()))))
    for n in NODE_LEVELS:
        if n ** max(rank, 1) > 4_000_000:
            break
        cur = np.concatenate([a.ravel() for a in custom_coefficients(dataclasses.replace(act, n_nodes=n), C, w, K)[:3]])
        chosen = n
        if prev is not None and np.max(np.abs(cur - prev)) <= NODE_RTOL * max(float(np.max(np.abs(cur))), 1e-300):
            break
        prev = cur
    return dataclasses.replace(act, n_nodes=chosen)


def _initial(system, Q0, R0, names=("Q0", "R0")):
    K, M = system.K, system.M
    nq, nr = names
    Q0 = check_psd(nq, Q0, tol=1e-10)
    if Q0.shape != (K, K):
        raise ValueError(f"{nq} must have shape ({K}, {K}), got {Q0.shape}")
    R0 = check_shape(nr, R0, (K, M))
    # the joint covariance of student and teacher fields must be PSD
    C = np.block([[Q0, R0], [R0.T, system.T]])
    lam = np.linalg.eigvalsh(C).min()
    if lam < -1e-10 * max(1.0, np.abs(C).max()):
        raise ValueError(f"{nr} is inconsistent with {nq} and T: [[{nq}, {nr}], [{nr}^T, T]] must be "
                         f"positive semidefinite (smallest eigenvalue {lam:.3g})")
    if system.code == _kernels.RELU and np.any(np.diag(Q0) <= 0.0):
        raise ValueError(f"{nq} must have a positive diagonal for the ReLU activation")
    return Q0, R0


def integrate(model: CommitteeMachine, t_max: float, *, Q0, R0, T=None, v0=None,
              method: str = "DOP853", rtol: float = 1e-10, atol: float | None = None, t_eval=None,
              dt: float | None = None, max_step: float = math.inf,
              plateau_window: tuple = (20.0, 250.0), plateau_measure: str = "abs",
              escape_fraction: float = 0.5,
              escape_after: float = 10.0, eg_tol: float | None = None,
              bound: float = 1e6, max_steps: int = 100_000, tol: float = 1e-5,
              refine: bool | None = True) -> Trajectory:
    """Integrate the committee-machine ODEs from ``t = 0`` to ``t_max``.

    Parameters
    ----------
    model : CommitteeMachine
        The model.
    t_max : float
        Final time (``t = steps / N``), ``> 0``.
    Q0 : array_like (K, K)
        Initial student-student overlaps, symmetric PSD.
    R0 : array_like (K, M)
        Initial student-teacher overlaps.
    T : array_like (M, M), optional
        Teacher-teacher overlaps (default identity), symmetric PSD.
    v0 : array_like (K,), optional
        Initial (or fixed) second-layer weights, default all ones.
    method : str
        ``"DOP853"`` (default): Dormand-Prince 8(5,3) with its 7th-order dense
        output, stepped entirely in Numba (:func:`odes._kernels.dop853`, the
        algorithm of scipy's ``DOP853``) for the built-in activations, and
        through :func:`scipy.integrate.solve_ivp` for :class:`Custom` ones;
        ``"scipy-DOP853"``, ``"RK45"``, ``"RK23"``, ``"Radau"``, ``"BDF"``,
        ``"LSODA"``: :func:`scipy.integrate.solve_ivp`; ``"euler"``: fixed
        step ``dt``.
    rtol, atol : float
        Tolerances of the adaptive methods, ``rtol`` in ``[1e-14, 1]``, ``atol >= 1e-100``
        (below, the scaled error norms overflow).  ``atol=None`` means ``1e-14``
        (``1e-12`` for ReLU).  The defaults put the standard case's escape
        time within ~4e-5 of its converged value: the small initial overlaps
        (``R0 ~ 1e-3``) need an absolute tolerance well below them, since the
        plateau's length is set by their growth.  The ReLU right-hand side
        carries rounding noise ~``1e-16 / delta^2`` when a student unit is
        within ``delta`` of a teacher unit (:func:`odes._kernels.i4_relu`),
        so near perfect learning ``atol`` much below ``1e-12`` makes the
        adaptive steps collapse.
    t_eval : array_like, optional
        Increasing output times within ``[0, t_max]``; the result holds the
        state exactly there (dense output of the adaptive method; for Euler,
        linear interpolation between steps unless the times are on the step
        grid).  Default: the adaptive solver's own steps, or every Euler step
        (thinned to at most 20001 points).
    dt : float, optional
        Euler step (required for ``method="euler"``).
    max_step : float
        Largest adaptive step.
    plateau_window : (float, float)
        Window in which the plateau is sought: the minimum of ``|d eg/dt|``.
        The plateau is reported only for a minimum inside the window.
    plateau_measure : {"abs", "relative"}
        Minimise ``|d eg/dt|`` (the definition of the standard-case reference
        values) or ``|d log eg/dt|`` restricted to ``eg > 2 eg_final``, which
        stays on the plateau for long windows and noisy runs (sweeps use it).
    escape_fraction, escape_after : float
        The escape time is the first ``t > escape_after`` with
        ``eg < escape_fraction * plateau_eg``.
    eg_tol : float, optional
        Stop (successfully) when ``eg`` falls below it; ``t_converged``.
    bound : float
        Divergence: the run stops with ``success=False`` when an order
        parameter exceeds ``bound`` in absolute value, or becomes non-finite.
    max_steps : int
        Accepted plus rejected steps allowed to the Numba DOP853 stepper (at most ``1e9``); the
        run fails (``status=Status.MAX_ITER``) beyond it, e.g. when a tolerance is below
        the rounding noise of the right-hand side.
    tol : float
        Requested accuracy: ``success=True`` requires ``error_estimate["eg"]
        <= tol * max|eg|`` (and, with ``refine``, the escape time's estimate
        within ``tol * t_escape`` and the plateau's within ``tol * plateau_eg``).
        An estimate of ``eg`` that could not be made (``nan``: ``refine=False``
        with a method without an embedded estimate, or a failed refined run)
        fails the run (``status=Status.NO_ESTIMATE``, the message names it), and so does a
        plateau or escape time found without an estimate (``refine=False``):
        no unestimated result passes as a success.  With ``refine``, a plateau
        or escape that the refined run does not reproduce is reported as not
        found (NaN).  ``tol=inf`` asks for no
        accuracy and checks nothing.
    refine : bool
        Also rerun at ``rtol/20``, ``atol/20`` (Euler: ``dt/2``) on the same
        output times and take twice the change (Euler: 2.5 times, Richardson
        for a first-order method with a 1.25 safety factor) as an error
        estimate of ``eg``, ``Q``, ``R`` and the scalars ``plateau_eg``,
        ``t_escape``, ``eg_final``.  The embedded estimate misses the error
        of the dense output between steps and the amplification of early
        errors by the flow (the escape from the plateau amplifies them); the
        refinement sees both.  Default (``True``, also ``None``): on for
        every method and activation (it costs about one more run); with
        ``False`` only the Numba DOP853 (built-in activations) still has an
        estimate, its embedded one.

    Raises
    ------
    ValueError
        Naming the argument, for invalid input, before any work; also when the stored
        arrays would need more than half the available memory (``t_eval`` with too many
        times, Euler's ``dt`` with too many steps, a model whose state is too large for the
        stepper).  A run expected to take long (an Euler run of more than ``WARN_STEPS``
        steps timed above ``WARN_SECONDS``; a right-hand side whose evaluation is expected to
        cost more than ``WARN_SECONDS / 3000``, e.g. ReLU with ``K = M = 20``, 2.2 s) states
        its expected cost in a :class:`UserWarning` before it starts.

    Returns
    -------
    Trajectory
        ``success=False`` (with a message, never silent NaNs) when the
        solution diverges or the solver fails, or when the error estimate
        exceeds ``tol``.  ``status`` (:class:`lmech.Status`): ``CONVERGED``;
        ``STOPPED`` (``eg_tol`` reached, a success); ``DIVERGED`` (``bound``
        or non-finite state); ``MAX_ITER`` (``max_steps`` or step-size
        underflow); ``INVALID_STATE`` (non-finite outputs, or an impossible state: ``eg < 0``
        or a covariance ``[[Q, R], [R^T, T]]`` that is not positive semidefinite beyond
        :data:`STATE_TOL`, which loose tolerances produce); ``TOLERANCE`` (an
        estimate above ``tol``); ``NO_ESTIMATE`` (an estimate could not be
        made).  ``n_iter``: accepted steps (Euler: steps).  ``error_estimate``: absolute errors of ``eg`` (max
        over the output times), ``Q`` and ``R`` (max over entries and times).
        The Numba DOP853 (built-in activations) sums the absolute local error
        estimates of its steps per component (its embedded 5th/3rd-order
        estimators, i.e. no amplification by the flow) and maps them to ``eg``
        through ``|grad eg|``; other methods give ``nan`` (not estimated, which
        fails the run) unless ``refine`` (the default).
        With ``refine=True`` each estimate is the larger of that and the
        change on refinement.  For a :class:`Custom` activation the
        quadrature error is added (see :class:`Custom`).  Defaults
        (``rtol=1e-10``) give the README's standard case (K = M = 2, erf,
        ``t_max = 1000``) ``eg`` to ~1e-9 and ``t_escape`` to ~1e-6 relative.
    """
    t_start = time.perf_counter()
    system = System(model, T, v0)
    t_max = check_real("t_max", t_max, low=0.0, low_open=True)
    check_choice("method", method, ("DOP853", "scipy-DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA",
                                    "euler"))
    check_choice("plateau_measure", plateau_measure, ("abs", "relative"))
    rtol = check_real("rtol", rtol, low=1e-14, high=1.0)
    if atol is None:
        atol = 1e-12 if system.code == _kernels.RELU else 1e-14
    # below 1e-100 the scaled error norms of the steppers overflow (and such a tolerance asks
    # nothing that rtol >= 1e-14 does not already ask)
    atol = check_real("atol", atol, low=1e-100)
    max_step = check_real("max_step", max_step, low=0.0, low_open=True, allow_inf=True)
    escape_fraction = check_real("escape_fraction", escape_fraction, low=0.0, high=1.0, low_open=True)
    escape_after = check_real("escape_after", escape_after, low=0.0)
    bound = check_real("bound", bound, low=0.0, low_open=True, allow_inf=True)
    max_steps = check_int("max_steps", max_steps, low=1, high=10 ** 9)
    tol = check_real("tol", tol, low=0.0, low_open=True, allow_inf=True)
    if refine is None:
        refine = True
    if not isinstance(refine, (bool, np.bool_)):
        raise ValueError(f"refine must be True, False or None, got {refine!r}")
    if eg_tol is not None:
        eg_tol = check_real("eg_tol", eg_tol, low=0.0, low_open=True)
    pw = check_array("plateau_window", plateau_window, finite=False)
    if pw.shape != (2,) or not np.all(np.isfinite(pw)) or not pw[0] < pw[1] or pw[0] < 0:
        raise ValueError(f"plateau_window must be (t_lo, t_hi) with 0 <= t_lo < t_hi, got {plateau_window!r}")
    Q0, R0 = _initial(system, Q0, R0)
    if t_eval is not None:
        t_eval = check_array("t_eval", t_eval, finite=False).ravel()
        if (t_eval.size == 0 or not np.all(np.isfinite(t_eval)) or np.any(np.diff(t_eval) <= 0)
                or t_eval[0] < 0 or t_eval[-1] > t_max * (1 + 1e-12)):
            raise ValueError(f"t_eval must be finite and strictly increasing within [0, t_max={t_max:g}]")
    if method == "euler":
        if dt is None:
            raise ValueError("dt must be given for method='euler'")
        dt = check_real("dt", dt, low=0.0, low_open=True)
        if dt > t_max:
            raise ValueError(f"dt = {dt!r} must not exceed t_max = {t_max!r}")
    elif dt is not None:
        raise ValueError("dt is only used by method='euler'")
    _check_cost(system, method, t_max, dt, t_eval, refine)
    options = dict(method=method, rtol=rtol, atol=atol, dt=dt, max_step=max_step,
                   plateau_window=tuple(float(x) for x in pw), plateau_measure=plateau_measure,
                   escape_fraction=escape_fraction,
                   escape_after=escape_after, eg_tol=eg_tol, bound=bound, max_steps=max_steps,
                   t_eval=None if t_eval is None else "given", tol=tol, refine=bool(refine))
    y0 = system.pack(Q0, R0, system.v0)

    if method == "euler":
        out = _run_euler(system, y0, t_max, dt, t_eval, bound, eg_tol)
    elif method == "DOP853" and system.code >= 0:
        out = _run_dop853(system, y0, t_max, rtol, atol, max_step, t_eval, bound, eg_tol, max_steps)
    else:
        out = _run_ivp(system, y0, t_max, method.replace("scipy-", ""), rtol, atol, max_step,
                       t_eval, bound, eg_tol)
    ts, ys, egs, eg_fun, success, status, message, n_steps, t_conv = out
    t_solve = time.perf_counter() - t_start

    # -- observables ----------------------------------------------------------
    plateau_eg = plateau_t = t_escape = t_enter = math.nan
    if success or status == Status.STOPPED:
        plateau_t, plateau_eg = _plateau(system, ts, ys, egs, eg_fun, pw, plateau_measure)
        if math.isfinite(plateau_eg):
            t_escape = _first_below(ts, egs, eg_fun, escape_fraction * plateau_eg, escape_after)
            t_enter = _first_below(ts, egs, eg_fun, plateau_eg / escape_fraction, 0.0)
            if not t_enter <= plateau_t:
                t_enter = math.nan
    Q, R, v = system.unpack(ys)
    if success and not (np.all(np.isfinite(ys)) and np.all(np.isfinite(egs))):
        success, status = False, Status.INVALID_STATE
        message = "non-finite order parameters in the solution"
    errors = _embedded_errors(system, ts, ys, eg_fun, method)
    if refine and (success or status == Status.STOPPED):
        kw = dict(T=T, v0=v0, method=method, max_step=max_step, plateau_window=plateau_window,
                  plateau_measure=plateau_measure, escape_fraction=escape_fraction,
                  escape_after=escape_after, eg_tol=eg_tol, bound=bound, max_steps=4 * max_steps,
                  tol=math.inf, refine=False, t_eval=ts)
        if method == "euler":
            fine = integrate(model, t_max, Q0=Q0, R0=R0, dt=dt / 2, **kw)
        else:
            fine = integrate(model, t_max, Q0=Q0, R0=R0, rtol=max(rtol / 20, 1e-14), atol=atol / 20, **kw)
        Qf, Rf, _ = system.unpack(ys)
        m_ = min(len(fine.t), len(ts))
        if fine.success or fine.status == Status.STOPPED:
            diffs = dict(eg=np.max(np.abs(fine.eg[:m_] - egs[:m_])),
                         Q=np.max(np.abs(fine.Q[:m_] - Qf[:m_])), R=np.max(np.abs(fine.R[:m_] - Rf[:m_])))
        else:  # the refined run failed: its difference says nothing
            diffs = dict(eg=math.nan, Q=math.nan, R=math.nan)
        # the error of the coarse run from its change: Richardson for Euler (first order: twice
        # the change on halving dt) with a 1.25 safety factor; twice the change for the
        # adaptive methods (a 20 times tighter tolerance leaves 5-15% of the error for orders 3-8)
        fac = 2.5 if method == "euler" else 2.0
        for k, dv in diffs.items():
            dv = fac * float(dv)
            base = errors.get(k, math.nan)
            errors[k] = math.nan if not math.isfinite(dv) else (max(base, dv) if math.isfinite(base) else dv)
        # a plateau (escape) that the refined run does not reproduce is not established: not found
        if math.isfinite(plateau_eg) and not math.isfinite(fine.plateau_eg):
            plateau_eg = plateau_t = t_escape = t_enter = math.nan
        if math.isfinite(t_escape) and not math.isfinite(fine.t_escape):
            t_escape = math.nan
        refined = dict(plateau_eg=(plateau_eg, fine.plateau_eg), t_escape=(t_escape, fine.t_escape),
                       eg_final=(float(egs[-1]), fine.eg_final))
        for k, (a, b) in refined.items():
            if math.isfinite(a) and math.isfinite(b):
                errors[k] = fac * abs(a - b) + (errors["eg"] if k != "t_escape" else 0.0)
    errors.update(_quadrature_errors(system, ts, ys, errors))
    for k in ("plateau_eg", "t_escape", "eg_final"):  # the same keys on every run (sweeps record them)
        errors.setdefault(k, math.nan)
    if success and np.all(np.isfinite(egs)) and math.isfinite(tol):  # tol=inf: no accuracy asked
        # eg relative to its largest value, the initial one included (outputs may all be late)
        scale = max(float(np.max(np.abs(egs))), abs(system.eg(y0)))
        checks = [("eg", scale)] + [(k, abs(x)) for k, x in (("plateau_eg", plateau_eg), ("t_escape", t_escape))
                                    if math.isfinite(x)]
        # nan: not estimated (refine=False with a method without an embedded estimate, or the
        # refined run failed); that is no success
        missing = [k for k, _ in checks if not math.isfinite(errors[k])]
        bad = [(k, errors[k], tol * sc) for k, sc in checks if errors[k] > tol * sc]
        if missing:
            success, status = False, Status.NO_ESTIMATE
            message = ("not estimated: the error of " + ", ".join(missing)
                       + (" (no embedded estimate for this method: use refine=True)" if not refine
                          else " (the refined run failed, or found no such value to compare with)"))
        elif bad:
            success, status = False, Status.TOLERANCE
            message = "; ".join(f"error estimate of {k} {e:.3g} above tol * |{k}| = {b:.3g}" for k, e, b in bad)
    if success or status in (Status.TOLERANCE, Status.NO_ESTIMATE):
        bad_state = state_violation(Q, R, system.T, egs)
        if bad_state:
            success, status = False, Status.INVALID_STATE
            message = (f"impossible state: {bad_state} (the tolerances rtol={rtol:g}, atol={atol:g} "
                       "or dt are too loose)")
    timings = {"solve": t_solve, "total": time.perf_counter() - t_start}
    scalars = dict(eg0=float(egs[0]), eg_final=float(egs[-1]), t_final=float(ts[-1]),
                   plateau_eg=plateau_eg, plateau_t=plateau_t, t_escape=t_escape,
                   t_plateau_enter=t_enter, plateau_length=t_escape - t_enter,
                   t_converged=t_conv, nfev=int(system.nfev), n_steps=int(n_steps),
                   n_rejected=int(system.n_rejected),
                   max_abs_order_parameter=float(np.max(np.abs(ys))) if np.all(np.isfinite(ys)) else math.inf)
    arrays = dict(t=ts, Q=Q, R=R, v=v, eg=egs, T=system.T, v_teacher=model.teacher_weights())
    return Trajectory(success=success, status=status, message=message, n_iter=n_steps,
                      residual=math.nan, model=model, options=options,
                      conventions=model.conventions(), timings=timings, arrays=arrays,
                      scalars=scalars, meta=dict({"state_size": system.n},
                                                            **({"n_nodes": system.act.n_nodes}
                                                               if system.code < 0 else {})),
                      error_estimate=errors)


#: Largest violation of the order parameters' constraints passed as rounding: the smallest
#: eigenvalue of the covariance of (student, teacher) fields above ``-STATE_TOL max(1, |C|)``,
#: ``eg`` above ``-STATE_TOL max(1, |eg|)``.  Default runs stay within 1e-9 (ReLU, whose
#: right-hand side is noisiest, within 4e-10).
STATE_TOL = 1e-8


def state_violation(Q, R, T, eg) -> str:
    """Why the states ``(Q, R)`` (arrays ``(n, K, K)``, ``(n, K, M)``) with teacher ``T`` and
    generalisation errors ``eg`` are impossible, or ``""``.

    ``[[Q, R], [R^T, T]]`` is the covariance of the student and teacher fields, so it is
    positive semidefinite (which also gives ``|R_ij| <= sqrt(Q_ii T_jj)``), and ``eg >= 0``;
    both within :data:`STATE_TOL`.  At most 4000 evenly spread states (the last included)
    are examined for the covariance; every ``eg``.
    """
    eg = np.atleast_1d(np.asarray(eg, dtype=float))
    Q = np.asarray(Q, dtype=float).reshape((-1,) + np.shape(Q)[-2:])
    R = np.asarray(R, dtype=float).reshape((-1,) + np.shape(R)[-2:])
    emin = float(np.min(eg)) if eg.size else 0.0
    if emin < -STATE_TOL * max(1.0, float(np.max(np.abs(eg)))):
        j = int(np.argmin(eg))
        return f"eg = {emin:.3g} < 0 (at output {j})"
    n = Q.shape[0]
    idx = np.unique(np.concatenate([np.linspace(0, n - 1, min(n, 4000)).astype(int), [n - 1]]))
    Qs, Rs = Q[idx], R[idx]
    Ts = np.broadcast_to(T, (idx.size,) + T.shape)
    C = np.concatenate([np.concatenate([Qs, Rs], axis=2),
                        np.concatenate([np.swapaxes(Rs, 1, 2), Ts], axis=2)], axis=1)
    lam = np.linalg.eigvalsh(C).min(axis=1)
    scale = np.maximum(1.0, np.max(np.abs(C), axis=(1, 2)))
    rel = lam / scale
    j = int(np.argmin(rel))
    if rel[j] < -STATE_TOL:
        return (f"the covariance [[Q, R], [R^T, T]] is not positive semidefinite (smallest "
                f"eigenvalue {lam[j]:.3g} at output {int(idx[j])}; |R_ij| > sqrt(Q_ii T_jj) is one such case)")
    return ""


def _embedded_errors(system, ts, ys, eg_fun, method):
    """Embedded error estimates of ``eg``, ``Q``, ``R`` (``nan`` where the method has none)."""
    dense = getattr(eg_fun, "dense", None) if eg_fun is not None else None
    cum = getattr(dense, "cum", None)
    if cum is None or method != "DOP853" or ts.size == 0:
        return dict(eg=math.nan, Q=math.nan, R=math.nan)
    # the accumulated local errors at the end of the step containing each output time
    k = np.clip(np.searchsorted(dense.ts, ts, side="left"), 0, cum.shape[0] - 1)
    c = cum[k]
    idx = np.unique(np.concatenate([np.linspace(0, ts.size - 1, min(ts.size, 200)).astype(int),
                                    [ts.size - 1]]))
    err_eg = 0.0
    for j in idx:
        err_eg = max(err_eg, float(np.abs(grad_eg(system, ys[j])) @ c[j]))
    # rounding of eg itself
    err_eg += 4e-16 * float(np.max(np.abs([system.eg(ys[j]) for j in idx])))
    return dict(eg=err_eg, Q=float(np.max(c[:, : system.nq])),
                R=float(np.max(c[:, system.nq: system.nq + system.nr])))


def _quadrature_errors(system, ts, ys, errors):
    """The Gauss-Hermite error of a :class:`Custom` activation, added to ``errors``.

    The right-hand side and ``eg`` are compared with the next level of
    :data:`odes.model.NODE_LEVELS` above the rule used (``n_nodes + 6`` above
    them; the level below at the top level, 60 nodes, whose difference
    overestimates the error) at five states of the run: ``|delta eg|`` adds to the error of
    ``eg``, and ``t * max |delta f|`` (the drift it causes without
    amplification) to those of the state and, through ``|grad eg|``, of
    ``eg``.  Nothing for the built-in activations (closed forms).
    """
    if system.code >= 0 or ts.size == 0:
        return {}
    act = system.act
    if act.n_nodes is None:  # never evaluated: resolve at the first state
        system.f(ts[0], ys[0])
        act = system.act
    finer = [n for n in NODE_LEVELS if n > act.n_nodes]
    coarser = [n for n in NODE_LEVELS if n < act.n_nodes]
    # the next level up; at the top, the level below (whose difference overestimates the error)
    n_ref = finer[0] if finer else (min(act.n_nodes + 6, 100) if act.n_nodes < 100 else coarser[-1])
    if act.n_nodes == NODE_LEVELS[-1] and coarser:
        n_ref = coarser[-1]
    ref = System(dataclasses.replace(system.model, activation=dataclasses.replace(act, n_nodes=n_ref)),
                 system.T, system.v0)
    idx = np.unique(np.linspace(0, ts.size - 1, min(ts.size, 5)).astype(int))
    d_eg = 0.0
    d_f = np.zeros(system.n)
    for j in idx:
        d_eg = max(d_eg, abs(ref.eg(ys[j]) - system.eg(ys[j])))
        d_f = np.maximum(d_f, np.abs(ref.f(ts[j], ys[j]) - system.f(ts[j], ys[j])))
    drift = float(ts[-1] - ts[0]) * d_f
    g = grad_eg(system, ys[-1])
    out = {}
    for k, add in (("eg", d_eg + float(np.abs(g) @ drift)), ("Q", float(np.max(drift[: system.nq]))),
                   ("R", float(np.max(drift[system.nq: system.nq + system.nr])))):
        out[k] = add + errors.get(k, math.nan)  # nan (time integration not estimated) stays nan
    return out


def _run_ivp(system, y0, t_max, method, rtol, atol, max_step, t_eval, bound, eg_tol):
    def diverge(t, y):
        m = float(np.max(np.abs(y)))
        return bound - m if math.isfinite(m) else -1.0

    diverge.terminal = True
    events = [diverge]
    if eg_tol is not None:
        def converge(t, y):
            return system.eg(y) - eg_tol

        converge.terminal = True
        events.append(converge)
    sol = solve_ivp(system.f, (0.0, t_max), y0, method=method, rtol=rtol, atol=atol,
                    max_step=max_step, dense_output=True, events=events)
    t_conv = math.nan
    success, status, message = sol.status >= 0, Status.CONVERGED, "integrated to t_max"
    t_end = float(sol.t[-1])
    if sol.status < 0:
        status = Status.MAX_ITER
        message = f"solver failed at t={t_end:.6g}: {sol.message}"
    elif sol.status == 1:
        if sol.t_events[0].size:
            success, status = False, Status.DIVERGED
            message = (f"diverged: an order parameter reached |{bound:g}| at t={t_end:.6g} "
                       "(learning rate above its critical value?)")
        else:
            status = Status.STOPPED
            t_conv = float(sol.t_events[1][0])
            message = f"eg fell below eg_tol at t={t_conv:.10g}"
    if t_eval is None:
        ts = sol.t
        ys = sol.y.T.copy()
    else:
        ts = t_eval[t_eval <= t_end * (1 + 1e-14)]
        if ts.size == 0:
            ts = sol.t[:1]
        ys = sol.sol(ts).T.copy() if sol.sol is not None else sol.y.T[:1]
        ys[0] = y0 if ts[0] == 0.0 else ys[0]
    egs = np.array([system.eg(y) for y in ys])
    dense = sol.sol

    def eg_fun(t):
        return system.eg(dense(t))

    eg_fun.dense = dense

    return (np.asarray(ts, dtype=float), ys, egs, eg_fun if dense is not None else None,
            success, status, message, int(sol.t.size - 1), t_conv)


class _DenseDOP853:
    """Dense output of :func:`odes._kernels.dop853` with the call conventions of scipy's ``OdeSolution``."""

    def __init__(self, ts, ys, Fs):
        self.ts, self.ys, self.Fs = ts, ys, Fs

    def __call__(self, t):
        tq = np.atleast_1d(np.asarray(t, dtype=float))
        out = np.empty((tq.size, self.ys.shape[1]))
        _kernels.dense_eval(self.ts, self.ys, self.Fs, tq, out)
        return out[0] if np.ndim(t) == 0 else out.T


def _run_dop853(system, y0, t_max, rtol, atol, max_step, t_eval, bound, eg_tol, max_steps):
    ts, ys, Fs, cum, n_acc, n_rej, nfev, st = _kernels.dop853(
        y0, t_max, rtol, atol, max_step, bound, max_steps, _TAB, system.ode_args)
    system.nfev += int(nfev)
    system.n_rejected = int(n_rej)
    dense = _DenseDOP853(ts, ys, Fs)
    dense.cum = cum
    t_end = float(ts[-1])
    success, status, message = True, Status.CONVERGED, "integrated to t_max"
    if st == Status.DIVERGED:
        success, status = False, Status.DIVERGED
        message = (f"diverged: an order parameter left |y| < {bound:g} or became non-finite by "
                   f"t={t_end:.6g} (learning rate above its critical value?)")
    elif st == Status.MAX_ITER:
        success, status = False, Status.MAX_ITER
        message = (f"solver failed at t={t_end:.6g}: step size underflow or more than max_steps "
                   "steps (a tolerance below the rounding noise of the right-hand side?)")
    step_eg = np.array([system.eg(y) for y in ys])

    def eg_fun(t):
        return system.eg(dense(t))

    eg_fun.dense = dense
    t_conv = math.nan
    if eg_tol is not None:
        below = np.nonzero(step_eg < eg_tol)[0]
        if below.size:
            j = int(below[0])
            t_conv = float(ts[0]) if j == 0 else _bracketed_crossing(eg_fun, eg_tol, float(ts[j - 1]),
                                                                     float(ts[j]))
            status, message = Status.STOPPED, f"eg fell below eg_tol at t={t_conv:.10g}"
            t_end = t_conv
    if t_eval is None:
        keep = ts < t_end
        out_t = np.concatenate([ts[keep], [t_end]])
        out_y = np.concatenate([ys[keep], dense(t_end)[None, :]]) if status == Status.STOPPED else ys[: keep.sum() + 1]
        if status != Status.STOPPED:
            out_t = ts.copy()
        egs = np.array([system.eg(y) for y in out_y]) if status == Status.STOPPED else step_eg
    else:
        out_t = t_eval[t_eval <= t_end * (1 + 1e-14)]
        if out_t.size == 0:
            out_t = ts[:1]
        out_y = dense(out_t).T.copy()
        if out_t[0] == 0.0:
            out_y[0] = y0
        egs = np.array([system.eg(y) for y in out_y])
    return out_t, out_y, egs, eg_fun, success, status, message, int(n_acc), t_conv


#: The DOP853 coefficients (Hairer's tableau, read from scipy so they are not retyped here).
_TAB = _kernels.dop853_tableau()


def _gib(nbytes) -> str:
    return f"{nbytes / 2 ** 30:.3g} GiB"


#: Euler runs of more steps than this are timed on a short run first and their expected
#: duration stated in a warning when it exceeds :data:`WARN_SECONDS`.
WARN_STEPS = 10 ** 6
WARN_SECONDS = 30.0


def _check_cost(system, method, t_max, dt, t_eval, refine):
    """Refuse (``ValueError`` naming the parameter) a run whose stored arrays cannot fit
    (:func:`lmech.checks.check_memory`), and warn with the expected duration of a long Euler run, before any
    work.

    Stored per output row: the state, ``eg`` and the unpacked ``Q``, ``R``, ``v``
    (8 bytes each).  Euler stores every step when ``t_eval`` is given, and its refined run
    (``refine``, at ``dt/2`` on the coarse run's output times) every step of its own.
    """
    K, M = system.K, system.M
    row = 8 * (system.n + 1 + K * K + K * M + K)
    # the package's one memory rule: lmech.checks.check_memory (MEMORY_FRACTION of what is available)
    if t_eval is not None:
        check_memory("t_eval", t_eval.size * row, f"the output at {t_eval.size} times",
                     hint="ask for fewer output times")
    if method != "euler":
        # the Numba DOP853 keeps every accepted step with its dense output: at least 256 rows
        # of 9 state vectors from the start (scipy's methods keep as much with dense output)
        check_memory("model", 8 * 256 * (9 * system.n + 1),
                     f"K = {K}, M = {M} gives a state of {system.n} order parameters: the stepper's "
                     f"first 256 steps", hint="reduce K or M")
        per_rhs = rhs_seconds(system)
        if math.isfinite(per_rhs) and per_rhs * 15 * 200 > WARN_SECONDS:
            warnings.warn(f"odes.integrate: one right-hand side evaluation of K = {K}, M = {M} "
                          f"({system.model.activation if system.code >= 0 else 'custom'}) is expected to take about "
                          f"{per_rhs:.3g} s, so a DOP853 step (15 evaluations) about {15 * per_rhs:.3g} s; "
                          f"runs take tens to thousands of steps{', twice with refine' if refine else ''} "
                          f"(erf, K = M = 20, to t_max = 50 from Q0 = I/2: {_REF_NFEV} evaluations with "
                          f"refine, which at this cost is about {_hours(_REF_NFEV * per_rhs)})",
                          stacklevel=3)
        return
    n_steps = t_max / dt
    rows = (n_steps + 1 if t_eval is not None else min(n_steps + 1, 20001))
    if refine:
        rows += 2 * n_steps + 1  # the refined run stores every step at the coarse output times
    check_memory("dt", rows * row,
                 f"dt = {dt:g} gives {n_steps:.3g} Euler steps to t_max = {t_max:g}; storing them"
                 f"{' (refine=True' if refine else ''}{', t_eval' if refine and t_eval is not None else ''}"
                 f"{' (t_eval' if t_eval is not None and not refine else ''}"
                 f"{')' if refine or t_eval is not None else ''}",
                 hint="use a larger dt" + (", refine=False" if refine else "")
                 + (" or fewer output times" if t_eval is not None else ""))
    total = n_steps * (3 if refine else 1)
    if total > WARN_STEPS:
        per_step = _time_euler_step(system)
        expected = total * per_step
        if expected > WARN_SECONDS:
            warnings.warn(f"odes.integrate: {total:.3g} Euler steps (dt = {dt:g}, t_max = {t_max:g}"
                          f"{', refine' if refine else ''}) are expected to take about {expected:.3g} s",
                          stacklevel=3)


#: Seconds per four-field average ``I4`` in the right-hand side of the built-in activations
#: (measured with K = M = 20 on the development machine: erf 5e-9, ReLU 1.3e-5, whose ``I4`` is a
#: 4-variable orthant probability by a 1-D quadrature of 84 nodes; linear and quadratic as erf).
I4_SECONDS = {_kernels.ERF: 5e-9, _kernels.RELU: 1.3e-5, _kernels.LINEAR: 5e-9, _kernels.QUADRATIC: 5e-9}


#: Right-hand side evaluations of a reference run (measured): erf, K = M = 20, t_max = 50,
#: Q0 = I/2, R0 = 1e-3, default tolerances, refine=True (92 accepted steps).
_REF_NFEV = 1529


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2g} h" if seconds >= 3600 else f"{seconds / 60:.2g} min"


def rhs_seconds(system) -> float:
    """Expected seconds of one right-hand side evaluation: the number of ``I4`` averages,
    ``K (K+1)/2 * L (L+1)/2`` with ``L = K + M``, times :data:`I4_SECONDS`; ``nan`` for a
    :class:`Custom` activation (its cost depends on the function and the node count)."""
    if system.code < 0:
        return math.nan
    K, L = system.K, system.L
    return K * (K + 1) / 2 * L * (L + 1) / 2 * I4_SECONDS[system.code]


def _time_euler_step(system) -> float:
    """Seconds per Euler step of ``system`` (a short timed run from a neutral state, on a copy:
    the node count of a :class:`Custom` activation is still chosen at the run's own start)."""
    system = System(system.model, system.T, system.v0)
    y0 = system.pack(np.eye(system.K), np.zeros((system.K, system.M)), system.v0)
    n = 2000 if system.code >= 0 else 20
    ys = np.empty((2, system.n))
    egs = np.empty(2)
    t0 = time.perf_counter()
    if system.code >= 0:
        _kernels.euler(y0, 1e-6, n, n, system.ode_args, ys, egs, math.inf)
    else:
        _euler_py(system, y0, 1e-6, n, n, ys, egs, math.inf)
    return (time.perf_counter() - t0) / n


def _run_euler(system, y0, t_max, dt, t_eval, bound, eg_tol):
    n_steps = int(round(t_max / dt))
    if abs(n_steps * dt - t_max) > 1e-9 * t_max:
        raise ValueError(f"dt must divide t_max (t_max/dt = {t_max / dt!r})")
    every = 1 if t_eval is not None else max(1, int(math.ceil(n_steps / 20000)))
    n_store = n_steps // every + 1
    ys = np.full((n_store, system.n), np.nan)
    egs = np.full(n_store, np.nan)
    s_end = _kernels.euler(y0, dt, n_steps, every, system.ode_args, ys, egs,
                           bound) if system.code >= 0 else _euler_py(
        system, y0, dt, n_steps, every, ys, egs, bound)
    system.nfev += s_end + 1
    n_done = s_end // every + 1
    ts = np.arange(n_store) * (every * dt)
    success, status, message = True, Status.CONVERGED, "integrated to t_max"
    if s_end < n_steps:
        success, status = False, Status.DIVERGED
        message = (f"diverged: an order parameter left |y| < {bound:g} or became non-finite at "
                   f"t={s_end * dt:.6g} (learning rate above its critical value?)")
        ts, ys, egs = ts[:n_done], ys[:n_done], egs[:n_done]
        finite = np.all(np.isfinite(ys), axis=1) & np.isfinite(egs)
        ts, ys, egs = ts[finite], ys[finite], egs[finite]  # keep the last finite states only
    t_conv = math.nan
    if eg_tol is not None:
        below = np.nonzero(egs < eg_tol)[0]
        if below.size:
            j = int(below[0])
            t_conv = _interp_cross(ts, egs, j, eg_tol)
            ts, ys, egs = ts[: j + 1], ys[: j + 1], egs[: j + 1]
            status, message = Status.STOPPED, f"eg fell below eg_tol at t={t_conv:.10g}"
    if t_eval is not None:
        te = t_eval[t_eval <= ts[-1] * (1 + 1e-14)]
        ys = np.stack([np.interp(te, ts, ys[:, q]) for q in range(system.n)], axis=1)
        egs = np.interp(te, ts, egs)
        ts = te
    return ts, ys, egs, None, success, status, message, int(s_end), t_conv


def _euler_py(system, y0, dt, n_steps, every, ys, egs, bound):
    y = y0.copy()
    j = 0
    for s in range(n_steps + 1):
        f = system.f(s * dt, y)
        eg = system.eg(y)
        if s % every == 0:
            ys[j] = y
            egs[j] = eg
            j += 1
        if not (math.isfinite(eg) and np.all(np.abs(y) < bound)):
            return s
        if s == n_steps:
            break
        y = y + dt * f
    return n_steps


def _interp_cross(ts, egs, j, level):
    if j == 0:
        return float(ts[0])
    t0, t1, e0, e1 = ts[j - 1], ts[j], egs[j - 1], egs[j]
    return float(t0 + (level - e0) * (t1 - t0) / (e1 - e0))


def _plateau(system, ts, ys, egs, eg_fun, pw, measure="abs"):
    """``(t, eg)`` at the minimum of ``|d eg/dt|`` (or ``|d log eg/dt|``) inside the window ``pw``.

    With ``measure="relative"`` the rate is divided by ``eg`` (so the
    exponential convergence after the escape, at relative rate
    ``2 |lambda_max|``, never looks like a plateau) and times where ``eg`` is
    already within a factor 2 of its final value are excluded (so the noisy
    asymptote is not taken for a plateau) or below ``1e-8 eg(0)`` (rounding
    noise), unless that excludes everything.
    Returns NaNs if the minimum lies on the window's edge.
    """
    lo, hi = pw[0], min(pw[1], ts[-1])
    if hi <= lo:
        return math.nan, math.nan
    # the plateau must stand above the final error and above the rounding noise of eg
    floor = max(2.0 * float(egs[-1]), 1e-8 * float(egs[0]))
    if eg_fun is None:
        # fixed-step samples: finite differences on the stored grid
        m = (ts >= lo) & (ts <= hi)
        if m.sum() < 5:
            return math.nan, math.nan
        d = np.abs(np.gradient(egs, ts))
        if measure == "relative":
            keep = m & (egs > floor)
            m = keep if keep.sum() >= 5 else m & (egs > 1e-8 * egs[0])
            d = np.where(egs > 0, d / np.where(egs > 0, egs, 1.0), np.inf)
            if m.sum() < 5:
                return math.nan, math.nan
        idx = np.nonzero(m)[0]
        j = idx[np.argmin(d[idx])]
        if j in (idx[0], idx[-1]):
            return math.nan, math.nan
        return float(ts[j]), float(egs[j])
    dense = eg_fun.dense
    noise_floor = 1e-8 * max(float(egs[0]), float(eg_fun(0.0)))  # eg(0), also when the outputs start later

    grid = np.linspace(lo, hi, 81 if measure == "abs" else 401)
    if measure == "relative":
        e = np.array([eg_fun(t) for t in grid])
        if not np.any(e > floor):  # the run ends on the plateau: keep only the noise floor
            floor = 1e-8 * float(egs[0])

    def slope(t):
        # d eg/dt = grad eg . f(y) at the interpolated state: exact up to the
        # interpolation error of the state, not a difference quotient in t
        y = dense(t)
        d = abs(system.deg_dt(t, y))
        e = system.eg(y)
        if measure == "abs":
            # a converged tail at the rounding level of eg is no plateau
            return d if e > noise_floor else math.inf
        return d / e if e > floor else math.inf

    d = np.array([slope(t) for t in grid])
    j = int(np.argmin(d))
    if j == 0 or j == grid.size - 1 or not np.isfinite(d[j + 1]) or not np.isfinite(d[j - 1]):
        return math.nan, math.nan
    r = minimize_scalar(slope, bounds=(grid[j - 1], grid[j + 1]), method="bounded",
                        options={"xatol": 1e-6})
    t = float(r.x)
    return t, float(eg_fun(t))


def _first_below(ts, egs, eg_fun, level, after):
    """First ``t > after`` with ``eg(t) < level`` (root-polished on the dense output)."""
    idx = np.nonzero((ts > after) & (egs < level))[0]
    if idx.size == 0:
        return math.nan
    j = int(idx[0])
    if j == 0:
        return float(ts[0])
    lo = float(ts[j - 1])
    if lo < after:
        # the crossing lies in [after, ts[j]] unless eg(after) is already below the level
        if eg_fun is None:
            return float(ts[j])
        lo = after
        if eg_fun(lo) < level:
            return lo
    if eg_fun is None:
        return _interp_cross(ts, egs, j, level)
    return _bracketed_crossing(eg_fun, level, lo, float(ts[j]))


def _bracketed_crossing(eg_fun, level, lo, hi):
    """First ``t`` in ``[lo, hi]`` with ``eg(t) < level`` on the dense output, by Brent's method.

    ``eg(lo)`` is at or above the level on the stored grid, ``eg(hi)`` below; the dense
    output can disagree with the grid by rounding (or ``lo`` is the start of the run, already
    below the level): then the crossing is the end point that already lies on its side.
    """
    f_lo, f_hi = eg_fun(lo) - level, eg_fun(hi) - level
    if f_lo < 0.0:
        return float(lo)
    if f_hi >= 0.0:
        return float(hi)
    return float(brentq(lambda t: eg_fun(t) - level, lo, hi, xtol=1e-12, rtol=1e-14))

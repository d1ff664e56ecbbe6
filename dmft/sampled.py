"""``method="sampled"``: Monte Carlo over trajectories of the effective process of
:class:`dmft.GLMDynamics` (every loss, Langevin noise, persistent SGD).

The effective process and its notation are those of :mod:`dmft.glm`; the
kernels are :func:`dmft._kernels.sampled.glm_square_sampled` (square loss, full
batch, ``T = 0``: deterministic responses from the Gaussian closure, computed
by :func:`dmft.uniform.solve_uniform`) and
:func:`dmft._kernels.sampled.glm_general_sampled` (the general case).  It is a
Monte Carlo method: its error is statistical (``error_estimate`` holds standard
errors over independent replicas) plus an ``O(dt)`` time discretisation, so it
declares no order and is not part of the deterministic order test.
"""

from __future__ import annotations

import math
import time

import numpy as np

from lmech import Status
from lmech.blocks import get_channel
from lmech.checks import check_real
from lmech.spec import Param, check_option

from ._kernels import sampled as _kernels_sampled
from .cost import check_cost
from .glm import GLMDynamics
from .result import DMFTResult
from .uniform import grid_points, solve_uniform

__all__ = ["solve_sampled", "OPTIONS"]

#: The sampled process is a Monte Carlo method: no deterministic order in ``dt``.
ORDER = None

#: The numerical options of :func:`solve_sampled`, declared once: the solver checks its
#: arguments against them (:func:`lmech.spec.check_option`), and the sweep kind ``dmft.glm``
#: and ``lmech validate``'s ``[theory]`` take their schemas from this table.
OPTIONS = {
    "dt": Param(float, low=0.0, low_open=True, help="time step"),
    "n_traj": Param(int, low=10, high=10 ** 7, help="trajectories per replica (sampled)"),
    "n_samples": Param(int, low=10, high=10 ** 7,
                       help="sample-side trajectories per replica (sampled; default n_traj)"),
    "n_replicas": Param(int, low=2, high=1000, help="independent replicas (sampled)"),
    "seed": Param(int, low=0, help="random seed (sampled)"),
    "tol_se": Param(float, low=0.0, low_open=True, high=1.0,
                    help="slab tolerance in Monte Carlo standard errors (sampled)"),
    "n_pass": Param(int, low=1, high=100, help="consecutive converged passes per slab (sampled)"),
    "max_iter": Param(int, low=2, high=10_000, help="iterations per slab (sampled)"),
    "damping": Param(float, low=0.0, low_open=True, high=1.0,
                     help="initial mixing weight of a slab's passes (sampled)"),
    "adaptive_damping": Param(bool, help="halve the weight when a slab's residual grows (sampled)"),
}


def _teacher(model, hstar):
    """The clean teacher ``f(h*)`` (:meth:`lmech.blocks.channels.Channel.teacher_map`)."""
    return get_channel(model.teacher).teacher_map(hstar)


def solve_sampled(model: GLMDynamics, t_max: float, *, dt: float = 0.05, n_traj: int = 2000,
                  n_samples: int | None = None, n_replicas: int = 4, seed: int = 0,
                  tol_se: float = 0.01, n_pass: int = 2, max_iter: int = 50,
                  damping: float = 1.0, adaptive_damping: bool = True, resume=None):
    """Monte Carlo over trajectories of the GLM effective process.

    ``n_replicas`` independent replicas, each with ``n_traj`` parameter-side
    trajectories (``theta* ~ N(0, rho)``) and ``n_samples`` (default
    ``n_traj``) sample-side trajectories, coupled through Gaussian fields
    drawn from the empirical covariances of the other side with common random
    numbers (fixed for all iterations), marched causally one time slab at a
    time; each slab is iterated until its observables move by less than
    ``tol_se`` Monte Carlo standard errors in ``n_pass`` consecutive passes.
    Each pass is mixed, ``x <- x + w (G(x) - x)``, with the weight ``w``
    starting at ``damping`` (1: plain fixed-point iteration); with
    ``adaptive_damping``, ``w`` is halved (down to 1/64) whenever a pass's
    undamped residual grows, i.e. the slab's fixed-point map is not
    contracting, and the stopping rule is applied to the undamped residual
    so that a small ``w`` cannot fake convergence.  The final weight of each
    slab (smallest over replicas) is returned in ``damping_weight``.
    The labels are sampled from the actual teacher (``y = f(h*) + sigma z``),
    so the process is non-Gaussian.

    Square loss, ``T = 0``, ``b = 1``: the responses are deterministic and
    taken from the closure (:func:`dmft._kernels.sampled.glm_square_sampled`,
    trajectories of ``Delta = theta - a theta*``).  Any other case (any other
    loss of the :mod:`lmech.blocks.losses` table, whose ``code`` and ``par``
    the kernel takes; Langevin noise, persistent SGD) runs
    :func:`dmft._kernels.sampled.glm_general_sampled`, which estimates the memory
    kernel ``K`` from per-trajectory responses (memory ``O(n^2 n_samples)``
    for ``n`` time points, time ``O(n^3 n_samples)``), the teacher term by
    Stein's lemma and the parameter-side response ``R`` from ``K``, with the
    end point of the sample-side memory solved by the proximal operator of
    the loss (which resolves the hinge's kink: a sample can stay on the
    margin ``y h = 1``).

    Random numbers: each replica draws from its own child of
    ``SeedSequence(seed)``, itself split into one stream per purpose
    (teacher and label noise, sample-side fields, parameter-side fields,
    Langevin increments, SGD selection), each filled row by row in time, so
    that the first rows do not depend on ``t_max``.  Hence ``resume``: a
    successful earlier result of the same model and options (any shorter
    ``t_max``) is continued from its stored per-replica state
    (``replica_state``: ``theta`` -- or ``Delta`` for the square kernel --,
    and for the general kernel the response rows ``replica_R``,
    ``replica_dR``): the history is regenerated in one pass, without
    iterating, and the continued run equals the uninterrupted one bit for
    bit.

    Returns a :class:`dmft.DMFTResult` with the replica averages ``M_t``,
    ``Q_t``, ``train_loss_t``, ``test_risk_t`` (regression losses:
    square, Huber), ``test_error_t`` (sign teacher), ``train_error_t``
    (margin losses: logistic, hinge, ...) and
    their standard errors ``*_se`` from the spread over replicas (the
    trajectories of one replica share their empirical kernels, so their own
    spread would underestimate the error).  ``error_estimate`` holds these
    standard errors at ``t_max`` for the final observables; it does not
    include the O(dt) time discretisation of the sampled process, and no
    tolerance is imposed on it (``success`` is about the slab iterations;
    choose ``n_traj``, ``n_replicas`` for the error bars needed).

    Options: ``10 <= n_traj, n_samples <= 1e7``, ``2 <= n_replicas <= 1000``,
    ``seed >= 0``, ``0 < tol_se <= 1`` (a slab stops when it moves by less than
    that many standard errors), ``1 <= n_pass <= 100``, ``n_pass < max_iter <=
    10000``, ``0 < damping <= 1``.  Memory and time are estimated before any
    allocation: ValueError naming ``t_max/dt``, ``n_traj``, ``n_samples`` when
    the run would not fit, :class:`dmft.cost.CostWarning` when it would be long.
    """
    if not isinstance(model, GLMDynamics):
        raise ValueError("method 'sampled' is implemented for GLMDynamics only")
    t_max = check_real("t_max", t_max, low=0.0, low_open=True)
    n_traj = check_option(OPTIONS, "n_traj", n_traj)
    n_samples = n_traj if n_samples is None else check_option(OPTIONS, "n_samples", n_samples)
    n_replicas = check_option(OPTIONS, "n_replicas", n_replicas)
    tol_se = check_option(OPTIONS, "tol_se", tol_se)
    n_pass = check_option(OPTIONS, "n_pass", n_pass)
    max_iter = check_option(OPTIONS, "max_iter", max_iter)
    if max_iter <= n_pass:
        raise ValueError(f"max_iter must exceed n_pass = {n_pass} (a slab needs n_pass good "
                         f"passes after its first), got {max_iter}")
    damping = check_option(OPTIONS, "damping", damping)
    adaptive_damping = check_option(OPTIONS, "adaptive_damping", adaptive_damping)
    seed = check_option(OPTIONS, "seed", seed)
    dt = check_option(OPTIONS, "dt", dt)
    n = grid_points(t_max, dt)
    general = not (model.closed and model.temperature == 0.0)
    _check_cost(general, t_max, dt, n, n_traj, n_samples, n_replicas)
    if not general:
        # deterministic responses (independent of the correlations for the square loss)
        lin = solve_uniform(model.linear_equivalent(), t_max, dt=dt, extrapolate=False)
        R = np.ascontiguousarray(lin.R)
        Rr = np.ascontiguousarray(lin.R_sample)
    options = {"method": "sampled", "dt": dt, "n_traj": n_traj, "n_samples": n_samples,
               "n_replicas": n_replicas, "seed": seed, "tol_se": tol_se, "n_pass": n_pass,
               "max_iter": max_iter, "damping": damping, "adaptive_damping": adaptive_damping}
    n0 = 0
    if resume is not None:
        n0 = _check_sampled_resume(resume, model, options, n)
    states = []
    reps = []
    iters = np.zeros(n, dtype=np.int64)
    done_all = True
    done_min = n
    t0 = time.perf_counter()
    seeds = np.random.SeedSequence(seed).spawn(n_replicas)
    for r, ss in enumerate(seeds):
        rngs = [np.random.default_rng(c) for c in ss.spawn(5)]
        st = None
        if resume is not None:
            st = {k: resume.arrays[k][r, :n0] for k in ("replica_state", "replica_iterations",
                                                        "replica_R", "replica_dR",
                                                        "replica_damping")
                  if k in resume.arrays}
            st = {k: v[:, :n0] if k in ("replica_R", "replica_dR") else v for k, v in st.items()}
        if general:
            rep, it, done, state = _one_replica_general(model, dt, n, n_traj, n_samples, rngs,
                                                        tol_se, n_pass, max_iter, damping,
                                                        adaptive_damping, st)
        else:
            Cd, md, l2, it, done, state = _one_replica(model, R, Rr, dt, n, n_traj, n_samples,
                                                       rngs, tol_se, n_pass, max_iter, damping,
                                                       adaptive_damping, st)
            obs = model.observables(Cd, md)
            rep = {"M_t": obs["M"], "Q_t": obs["Q"], "train_loss_t": 0.5 * l2,
                   "test_risk_t": obs["test_risk"]}
            if "test_error" in obs:
                rep["test_error_t"] = obs["test_error"]
        done_all &= done == n
        done_min = min(done_min, int(done))
        iters = np.maximum(iters, it)
        reps.append(rep)
        states.append(state)
    elapsed = time.perf_counter() - t0
    arrays = {"t": dt * np.arange(n), "iterations": iters}
    for key in states[0]:
        arrays[key] = np.array([st[key] for st in states])
    arrays["damping_weight"] = arrays["replica_damping"].min(axis=0)
    for key in reps[0]:
        stack = np.array([r[key] for r in reps])
        with np.errstate(over="ignore", invalid="ignore"):  # diverged rows become NaN below
            arrays[key] = stack.mean(axis=0)
            arrays[key.replace("_t", "") + "_se"] = (stack.std(axis=0, ddof=1)
                                                      / math.sqrt(n_replicas))
        # rows a replica never reached are not data
        arrays[key][done_min:] = np.nan
        arrays[key.replace("_t", "") + "_se"][done_min:] = np.nan
    unconverged = int(np.sum(iters[1:done_min] > max_iter))  # kernels mark them max_iter + 1
    finite = bool(np.all(np.isfinite(arrays["Q_t"])))
    success = done_all and unconverged == 0 and finite
    if success:
        msg = "every slab converged"
        status = Status.CONVERGED
    elif not done_all:
        msg = f"non-finite values at t = {done_min * dt:.6g}; stopped"
        status = Status.DIVERGED
    elif unconverged:
        msg = f"{unconverged} slabs did not converge in max_iter = {max_iter} passes"
        status = Status.MAX_ITER
    else:
        msg = "non-finite observables"
        status = Status.DIVERGED
    scalars = {"t_max": t_max, "M": float(arrays["M_t"][-1]), "Q": float(arrays["Q_t"][-1]),
               "train_loss": float(arrays["train_loss_t"][-1]), "n_traj": n_traj,
               "n_samples": n_samples, "n_replicas": n_replicas,
               "seconds_per_slab": elapsed / max(n - 1, 1) / n_replicas,
               "damped_slabs": int(np.sum(arrays["damping_weight"][1:] < 1.0))}
    for key in ("test_error", "test_risk", "train_error"):
        if key + "_t" in arrays:
            scalars[key] = float(arrays[key + "_t"][-1])
    # Monte Carlo standard errors (independent replicas) of the final observables; the
    # O(dt) time discretisation of the sampled process is not included
    error_estimate = {key: float(arrays[key + "_se"][-1])
                      for key in ("M", "Q", "train_loss", "test_error", "test_risk",
                                  "train_error") if key + "_se" in arrays}
    conventions = model.conventions()
    if general:
        conventions["integrator"] = (
            "sampled effective process: causal marching, Heun slabs (diagonal mass implicit, "
            "additive noise sqrt(2 T dt)), sample-side memory end point by the proximal operator, "
            "per-trajectory responses, teacher term by Stein's lemma, common random numbers, "
            "adaptive damping of each slab's passes, stopping when the undamped residual is below "
            "tol_se standard errors; error bars from independent replicas")
        if model.loss == "hinge":
            conventions["integrator"] += (
                "; hinge: the derivative of the proximal step (1/c on its kink window of width "
                "c = dt/(2 alpha b)) is averaged over a window of the same width around each "
                "trajectory (a tent of unit mass, an O(dt) smoothing that keeps the slab "
                "iteration a continuous map)")
    else:
        conventions["integrator"] = ("sampled effective process: causal marching, Heun slabs, "
                                     "common random numbers, adaptive damping, stopping when the "
                                     "undamped residual is below tol_se standard errors; error "
                                     "bars from independent replicas")
    return DMFTResult(success=success, status=status, message=msg,
                      n_iter=int(iters.sum()), model=model,
                      options=options, conventions=conventions, timings={"solve": elapsed},
                      arrays=arrays, scalars=scalars, error_estimate=error_estimate,
                      meta={"method": "sampled", "kernel": "general" if general else "square",
                            "resumed_from": n0})


#: Seconds per (time points)^2 x trajectory x replica on the reference machine
#: (benchmarks/README.md, "sampled GLM"): general kernel 3.7 ms per slab per replica at
#: 2000 trajectories and 50 slabs, square kernel 1.4 ms at 2000 and 100 slabs.
_SECONDS_PER_UNIT = {"general": 3.7e-8, "square": 7e-9}


def _check_cost(general, t_max, dt, n, n_traj, n_samples, n_replicas):
    """ValueError (naming t_max/dt, n_traj, n_samples) if the run would not fit in memory;
    :class:`dmft.cost.CostWarning` if it is expected to be long."""
    n = float(n)
    stored = 8.0 * n_replicas * n * n_traj  # the per-replica state kept for resume
    fields = 8.0 * n * (4.0 * n_samples + 3.0 * n_traj)  # random fields and trajectories
    if general:
        # per-trajectory responses (n (n+1)/2 per sample), kernels, replica response rows
        need = 8.0 * n * (n + 1) / 2 * n_samples + fields + stored + 8.0 * 4 * n * n \
            + 8.0 * n_replicas * 2 * n * n
    else:  # the closure's single-grid run (4 two-time arrays) gives the responses
        need = 8.0 * 4 * n * n + fields + stored
    sec = _SECONDS_PER_UNIT["general" if general else "square"] * n * n \
        * max(n_traj, n_samples) * n_replicas
    check_cost("sampled", f"t_max/dt = {t_max!r}/{dt!r}, n_traj = {n_traj}, "
               f"n_samples = {n_samples}", need, sec,
               f"{int(n)} time points x {max(n_traj, n_samples)} trajectories",
               "use fewer trajectories, samples or time points")


def _check_sampled_resume(resume, model, options, n):
    """Raise ValueError (naming ``resume``) unless ``resume`` can be continued; return its length."""
    if not isinstance(resume, DMFTResult) or resume.meta.get("method") != "sampled":
        raise ValueError("resume must be a DMFTResult of method 'sampled'")
    if resume.model != model:
        raise ValueError(f"resume was computed for another model: {resume.model!r}")
    if not resume.success:
        raise ValueError("resume must be a successful run")
    for k, v in options.items():
        if resume.options.get(k) != v:
            raise ValueError(f"resume was computed with {k}={resume.options.get(k)!r}, not {v!r}")
    if "replica_state" not in resume.arrays:
        raise ValueError("resume holds no per-replica state (replica_state)")
    n0 = resume.arrays["replica_state"].shape[1]
    if not 2 <= n0 <= n:
        raise ValueError(f"resume has {n0} time points; need 2 <= points <= {n}")
    return n0


def _one_replica_general(model, dt, n, n_traj, n_samples, rngs, tol_se, n_pass, max_iter,
                         damping=1.0, adaptive=True, state=None):
    """One replica of :func:`dmft._kernels.sampled.glm_general_sampled`.

    ``rngs``: the five generators (teacher and label noise, sample-side
    fields, parameter-side fields, Langevin increments, SGD selection);
    ``state``: the stored rows of a run to resume.  Returns ``(observables,
    iters, done, state)``.
    """
    b = model.batch_fraction
    theta_star = math.sqrt(model.rho) * rngs[0].standard_normal(n_traj)
    zs = rngs[1].standard_normal((n + 1, n_samples))    # row 0 draws h*, row k+1 omega(t_k)
    zt = rngs[2].standard_normal((n, n_traj))            # xi(t_k)
    zw = (rngs[3].standard_normal((n, n_traj)) if model.temperature > 0.0
          else np.zeros((n, n_traj)))                    # Brownian increments
    S = np.ones((n, n_samples))
    if b < 1.0:
        _kernels_sampled.sgd_selection(rngs[4].random((n, n_samples)), dt, model.persistence, b, S)
    hstar = math.sqrt(float(np.mean(theta_star ** 2))) * zs[0]
    y = _teacher(model, hstar)
    if model.noise > 0.0:
        y = y + math.sqrt(model.noise) * rngs[0].standard_normal(n_samples)
    theta = np.zeros((n, n_traj))
    hs = np.zeros((n, n_samples))
    gs = np.zeros((n, n_samples))
    Kd = np.zeros((n, n))
    mus = np.zeros(n)
    R = np.zeros((n, n))
    dR = np.zeros((n, n))
    iters = np.zeros(n, dtype=np.int64)
    wmix = np.full(n, damping)
    start = 0
    if state is not None:
        start = state["replica_state"].shape[0]
        theta[:start] = state["replica_state"]
        R[:start, :start] = state["replica_R"]
        dR[:start, :start] = state["replica_dR"]
        iters[:start] = state["replica_iterations"]
        wmix[:start] = state["replica_damping"]
    par = np.array([1.0 / model.alpha, model.ridge, model.temperature, 1.0 / b])
    lb = model.loss_block
    done = _kernels_sampled.glm_general_sampled(lb.code, lb.par, par, theta_star, zs, zt, zw, S,
                                        np.ascontiguousarray(y, dtype=np.float64), dt, n,
                                        tol_se, n_pass, max_iter, damping, adaptive, theta, hs,
                                        gs, Kd, mus, R, dR, iters, wmix, start)
    Q = (theta ** 2).mean(axis=1)
    M = (theta * theta_star).mean(axis=1)
    train = lb.value(y[None, :], hs).mean(axis=1)
    rep = {"M_t": M, "Q_t": Q, "train_loss_t": train}
    if lb.regression:
        rep["test_risk_t"] = model.test_risk(M, Q)
    else:
        rep["train_error_t"] = (y * hs <= 0.0).mean(axis=1)
    if model.teacher == "sign":
        rep["test_error_t"] = model.test_error(M, Q)
    state = {"replica_state": theta, "replica_R": R, "replica_dR": dR,
             "replica_iterations": iters, "replica_damping": wmix}
    return rep, iters, done, state


def _one_replica(model, R, Rr, dt, n, n_traj, n_samples, rngs, tol_se, n_pass, max_iter,
                 damping=1.0, adaptive=True, state=None):
    """One replica of :func:`dmft._kernels.sampled.glm_square_sampled` (streams as in the general case)."""
    a, _ = model.teacher_moments()
    theta_star = math.sqrt(model.rho) * rngs[0].standard_normal(n_traj)
    zs = rngs[1].standard_normal((n + 1, n_samples))  # row 0 draws h*, row k+1 zeta(t_k)
    zt = rngs[2].standard_normal((n, n_traj))
    hstar = math.sqrt(float(np.mean(theta_star ** 2))) * zs[0]
    y = _teacher(model, hstar) + math.sqrt(model.noise) * rngs[0].standard_normal(n_samples)
    eps = y - a * hstar
    s_star = a * theta_star
    Delta = np.zeros((n, n_traj))
    ell = np.zeros((n, n_samples))
    iters = np.zeros(n, dtype=np.int64)
    wmix = np.full(n, damping)
    start = 0
    if state is not None:
        start = state["replica_state"].shape[0]
        Delta[:start] = state["replica_state"]
        iters[:start] = state["replica_iterations"]
        wmix[:start] = state["replica_damping"]
    done = _kernels_sampled.glm_square_sampled(np.array([1.0 / model.alpha, model.ridge]), R, Rr,
                                       theta_star, s_star, eps, zs, zt, dt, n, tol_se,
                                       n_pass, max_iter, damping, adaptive, Delta, ell, iters,
                                       wmix, start)
    state = {"replica_state": Delta, "replica_iterations": iters, "replica_damping": wmix}
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged run is reported, not warned
        moments = ((Delta ** 2).mean(axis=1), (Delta * s_star).mean(axis=1),
                   (ell ** 2).mean(axis=1))
    return (*moments, iters, done, state)

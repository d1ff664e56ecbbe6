"""Sweep kinds of the validation layer for ``lmech run``: finite-N simulation over a grid.

``validation.capacity``
    Perceptron storage at finite ``N``: for each grid point ``(alpha, N,
    kappa, prior)``, ``seeds`` random instances (``n = round(alpha N)``
    Gaussian patterns with random labels) decided exactly by
    :func:`validation.capacity.simulate_capacity` (LP at ``kappa = 0``,
    certified maximal-stability bracket at ``kappa > 0``, exhaustive search
    for binary weights).  Observables: the fraction ``p`` of storable
    instances and its binomial standard error ``sem``, Cover's exact
    ``p_exact`` (spherical, ``kappa = 0``) and the replica capacity
    ``alpha_c`` (Gardner, J. Phys. A 21, 257 (1988); Krauth & Mezard,
    J. Phys. France 50, 3057 (1989) for binary weights).

``validation.committee_sgd``
    Online SGD of the teacher-student committee machine at finite ``N``
    against its ODEs (Saad & Solla, PRE 52, 4225 (1995)): for each grid point
    ``seeds`` runs of :func:`validation.simulate_committee` from ``Q0 = q0 I``,
    ``R0 = r0 U`` (the initial condition of ``odes.phase_diagram``,
    :func:`odes.kinds.initial_state`) up to time ``t``.  Observables: the
    simulated ``eg`` at ``t`` (mean over seeds) and its standard error, the
    ODE's ``eg_ode`` and the z-score ``z = (eg_sim - eg_ode) / eg_sem``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time

import numpy as np

from lmech.config import Param, SweepKind, register_kind
from lmech.result import Result
from lmech.status import Status

__all__ = ["capacity_point", "capacity_check", "capacity_plot", "committee_point", "committee_check",
           "committee_plot", "point_seeds"]

_PRIORS = ("spherical", "rademacher")
_MAX_BINARY_N = 26


_SEEDS_CONVENTION = ("instance j of a grid point uses seed j of np.random.SeedSequence([seed0, "
                     "8 words of sha256 of the point's parameters]).generate_state(seeds): "
                     "independent random numbers at every grid point (validation.kinds.point_seeds)")


def point_seeds(seed0: int, n: int, **params) -> np.ndarray:
    """``n`` generator seeds for one grid point, independent across points and across ``seed0``.

    The entropy of a :class:`numpy.random.SeedSequence` is ``seed0``
    followed by the eight 32-bit words of the SHA-256 of the point's
    parameters (``name=value`` sorted by name; integers in decimal, floats
    by :meth:`float.hex`, strings as they are), so two points differing in
    any parameter draw unrelated instances (no common random numbers across
    the grid), and the same point and ``seed0`` always draw the same ones,
    in any process.  Returns ``n`` uint32 seeds.
    """
    words = []
    for name in sorted(params):
        v = params[name]
        if isinstance(v, str):
            text = v
        elif isinstance(v, (bool, np.bool_)):
            text = str(bool(v))
        elif isinstance(v, (int, np.integer)):
            text = str(int(v))
        else:
            text = float(v).hex()
        words.append(f"{name}={text}")
    digest = hashlib.sha256(";".join(words).encode()).digest()
    entropy = [int(seed0)] + [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 32, 4)]
    return np.random.SeedSequence(entropy).generate_state(int(n))


# -- perceptron capacity ---------------------------------------------------------------------------
def _gardner(prior, kappa):
    import replica.gardner

    try:
        return replica.gardner.GardnerVolume(prior=prior, margin=kappa)
    except ValueError as exc:
        raise ValueError(str(exc).replace("margin", "kappa", 1)) from None


@functools.lru_cache(maxsize=64)
def _alpha_c(prior: str, kappa: float) -> float:
    import replica.gardner

    return float(replica.gardner.capacity(_gardner(prior, kappa)))


def capacity_check(*, alpha=2.0, N=50, kappa=0.0, prior="spherical"):
    """Raise ValueError naming the parameter for an invalid point."""
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must lie in (0, inf), got {alpha!r}")
    if prior not in _PRIORS:
        raise ValueError(f"prior must be one of {_PRIORS}, got {prior!r}")
    if not (isinstance(kappa, (int, float)) and math.isfinite(kappa)):
        raise ValueError(f"kappa must be finite, got {kappa!r}")
    if prior == "spherical" and kappa < 0:
        raise ValueError("kappa must be >= 0 for spherical weights: for kappa < 0 the constraint set "
                         "is not convex and the simulator has no exact decision procedure")
    hi = _MAX_BINARY_N if prior == "rademacher" else 100_000
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or not 1 <= N <= hi:
        raise ValueError(f"N must be an integer in [1, {hi}]"
                         + (" (exhaustive search of binary weights)" if prior == "rademacher" else "")
                         + f", got {N!r}")
    _gardner(prior, kappa)


def capacity_point(*, alpha=2.0, N=50, kappa=0.0, prior="spherical", seeds=50, seed0=0,
                   max_pass=100_000) -> Result:
    """Fraction of ``seeds`` random instances at ``(alpha, N)`` that can be stored with margin ``kappa``.

    Instance ``j`` is :func:`validation.capacity.simulate_capacity` with the
    ``j``-th seed of :func:`point_seeds` for ``(seed0; alpha, N, kappa,
    prior)``: independent instances at every grid point (points at different
    ``alpha`` or ``kappa`` share no patterns).  Scalars: ``p``, ``sem`` (binomial ``sqrt(p(1-p)/(k-1))``
    over the ``k`` decided instances), ``n_decided``, ``n_undecided``,
    ``alpha_c`` (replica), ``p_exact`` (Cover's formula for spherical weights
    at ``kappa = 0``, else NaN), ``n`` (patterns).  ``error_estimate["p"]``
    (a sweep records ``p_err``) is ``sem``, or where ``p`` is 0 or 1 (``sem``
    = 0) the Agresti--Coull standard error ``sqrt(p~(1-p~)/(k+4))``,
    ``p~ = (k p + 2)/(k + 4)``.  ``success`` is False
    (status ``INCOMPLETE``) when some instance was left undecided by the max-stability
    search within ``max_pass`` sweeps; the numbers over the decided ones are
    returned all the same.
    """
    from .capacity import cover_probability, simulate_capacity

    capacity_check(alpha=alpha, N=N, kappa=kappa, prior=prior)
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 2:
        raise ValueError(f"seeds must be an integer >= 2, got {seeds!r}")
    t0 = time.perf_counter()
    model = _gardner(prior, float(kappa))
    instance_seeds = point_seeds(int(seed0), int(seeds), alpha=float(alpha), N=int(N),
                                 kappa=float(kappa), prior=str(prior))
    feas = np.array([simulate_capacity(model, int(N), [alpha], seed=int(sd),
                                       max_pass=int(max_pass)).feasible[0]
                     for sd in instance_seeds])
    ok = np.isfinite(feas)
    k = int(ok.sum())
    p = float(feas[ok].mean()) if k else math.nan
    sem = math.sqrt(p * (1.0 - p) / (k - 1)) if k > 1 else math.nan
    # error estimate of p: the binomial sem; where every decided instance agrees (p = 0 or 1) that
    # is 0, so the Agresti-Coull standard error (Agresti & Coull 1998, Am. Stat. 52, 119, eq. for
    # p~ = (x + 2)/(k + 4)) stands in: sqrt(p~(1 - p~)/(k + 4)) > 0
    if k and p in (0.0, 1.0):
        pt = (k * p + 2.0) / (k + 4.0)
        p_err = math.sqrt(pt * (1.0 - pt) / (k + 4.0))
    else:
        p_err = sem
    n = max(1, int(round(alpha * N)))
    p_exact = cover_probability(int(N), n) if (prior == "spherical" and kappa == 0.0) else math.nan
    n_undecided = int(seeds) - k
    message = (f"{k} of {seeds} instances decided" if n_undecided == 0 else
               f"{n_undecided} of {seeds} instances undecided (left out of p): maximal stability "
               f"too close to kappa for max_pass = {int(max_pass)} sweeps")
    return Result(success=n_undecided == 0, status=Status.CONVERGED if n_undecided == 0 else Status.INCOMPLETE,
                  message=message,
                  n_iter=int(seeds), model=model,
                  options={"seeds": int(seeds), "seed0": int(seed0), "max_pass": int(max_pass)},
                  conventions={"p": "fraction of storable instances over seeds (undecided left out)",
                               "sem": "binomial sqrt(p(1-p)/(k-1))",
                               "instance": "x ~ N(0, I_N), y = +-1 uniform, n = round(alpha N); "
                                           "y w.x/sqrt(N) >= kappa",
                               "seeds": _SEEDS_CONVENTION},
                  timings={"total": time.perf_counter() - t0},
                  scalars={"p": p, "sem": sem, "n_decided": k, "n_undecided": n_undecided,
                           "alpha_c": _alpha_c(prior, float(kappa)), "p_exact": p_exact, "n": n},
                  error_estimate={"p": p_err})


def _axis_lines(sweep_result, xname):
    """(x values, list of (label, index tuple into the grid)) for curves along ``xname``."""
    axes = list(sweep_result.meta["axes"])
    arr = sweep_result.arrays
    x = np.asarray(arr[xname], dtype=float)
    i = axes.index(xname)
    others = [a for a in axes if a != xname]
    shape = [np.asarray(arr[a]).size for a in others]
    curves = []
    for idx in np.ndindex(*shape) if shape else [()]:
        label = ", ".join(f"{a} = {np.asarray(arr[a]).ravel()[j]:.4g}" for a, j in zip(others, idx))
        full = list(idx)
        full.insert(i, slice(None))
        curves.append((label, tuple(full)))
    return x, curves[:8]


def capacity_plot(sweep_result, ax):
    """``p`` with error bars against ``alpha`` (one curve per other grid value), and ``alpha_c``."""
    arr = sweep_result.arrays
    axes = list(sweep_result.meta["axes"])
    xname = "alpha" if "alpha" in axes else axes[0]
    x, curves = _axis_lines(sweep_result, xname)
    for c, (label, sl) in enumerate(curves):
        ax.errorbar(x, np.asarray(arr["p"])[sl], yerr=np.asarray(arr["sem"])[sl], fmt="o-", ms=3,
                    capsize=2, color=f"C{c % 10}", label=label or None)
    ac = np.asarray(arr["alpha_c"], dtype=float)
    ac = ac[np.isfinite(ac)]
    if xname == "alpha" and ac.size:
        for v in np.unique(np.round(ac, 10)):
            ax.axvline(v, color="k", ls="--", lw=1)
        ax.plot([], [], "k--", lw=1, label="replica alpha_c")
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax.set_xlabel(xname)
    ax.set_ylabel("P(storable)")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize="small")
    return ax


# -- committee machine -----------------------------------------------------------------------------
def _committee_model(K, M, activation, lr, noise):
    import odes

    return odes.CommitteeMachine(K=K, M=M, activation=activation, lr=lr, noise=noise)


def committee_check(*, N=500, lr=0.5, K=2, M=2, activation="erf", noise=0.0, q0=0.5, r0=1e-3,
                    init_seed=0, t=10.0):
    """Raise ValueError naming the parameter for an invalid point."""
    from odes.kinds import initial_state

    _committee_model(K, M, activation, lr, noise)
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < K + M:
        raise ValueError(f"N must be an integer >= K + M = {K + M}, got {N!r}")
    if not (isinstance(t, (int, float)) and math.isfinite(t) and t >= 1.0 / N):
        raise ValueError(f"t must be a finite time >= 1/N = {1.0 / N:.3g}, got {t!r}")
    initial_state(K, M, q0, r0, init_seed)


def committee_point(*, N=500, lr=0.5, K=2, M=2, activation="erf", noise=0.0, q0=0.5, r0=1e-3,
                    init_seed=0, t=10.0, seeds=10, seed0=0, n_test=0, rtol=1e-10) -> Result:
    """``seeds`` online-SGD runs at size ``N`` to time ``t`` against the ODEs from the same start.

    Run ``j`` uses the ``j``-th seed of :func:`point_seeds` for ``(seed0;
    every parameter of the point)``: independent runs at every grid point.

    Scalars: ``eg_sim`` (mean over the successful runs of the analytic ``eg``
    from ``Q, R`` at ``t``), ``eg_sem``, ``eg_sd``, ``eg_ode``, ``z`` (``(eg_sim -
    eg_ode) / eg_sem``), ``n_ok``; with ``n_test > 0`` also ``eg_test_sim`` and
    ``eg_test_sem`` (held-out test sets).  ``error_estimate``: ``eg_sim`` (and
    ``eg_test_sim``) its standard error over seeds (a sweep records
    ``eg_sim_err``), ``eg_ode`` the ODE solver's estimate of ``eg``.
    """
    import odes
    from odes.kinds import initial_state

    from .committee import simulate_committee

    committee_check(N=N, lr=lr, K=K, M=M, activation=activation, noise=noise, q0=q0, r0=r0,
                    init_seed=init_seed, t=t)
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 2:
        raise ValueError(f"seeds must be an integer >= 2, got {seeds!r}")
    if isinstance(seed0, bool) or not isinstance(seed0, (int, np.integer)) or seed0 < 0:
        raise ValueError(f"seed0 must be an integer >= 0, got {seed0!r}")
    t0 = time.perf_counter()
    model = _committee_model(K, M, activation, lr, noise)
    run_seeds = point_seeds(int(seed0), int(seeds), N=int(N), lr=float(lr), K=int(K), M=int(M),
                            activation=str(activation), noise=float(noise), q0=float(q0),
                            r0=float(r0), init_seed=int(init_seed), t=float(t))
    Q0, R0 = initial_state(K, M, q0, r0, init_seed)
    theory = odes.integrate(model, float(t), Q0=Q0, R0=R0, t_eval=[0.0, float(t)], rtol=rtol)
    eg, eg_test, msgs = [], [], []
    for s in run_seeds:
        r = simulate_committee(model, int(N), [0.0, float(t)], Q0=Q0, R0=R0, seed=int(s),
                               n_test=int(n_test))
        if r.success:
            eg.append(r.eg[-1])
            eg_test.append(r.eg_test[-1])
        else:
            msgs.append(r.message)
    eg = np.asarray(eg)
    k = eg.size
    mean = float(eg.mean()) if k else math.nan
    sd = float(eg.std(ddof=1)) if k > 1 else math.nan
    sem = sd / math.sqrt(k) if k > 1 else math.nan
    eg_ode = float(theory.eg[-1]) if theory.success else math.nan
    z = (mean - eg_ode) / sem if (k > 1 and sem > 0) else math.nan
    scalars = {"eg_sim": mean, "eg_sem": sem, "eg_sd": sd, "eg_ode": eg_ode, "z": z, "n_ok": k}
    if n_test:
        et = np.asarray(eg_test)
        scalars["eg_test_sim"] = float(et.mean()) if k else math.nan
        scalars["eg_test_sem"] = float(et.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan
    ok = bool(theory.success and k == int(seeds))
    message = (f"{k} of {seeds} runs succeeded" + (f" ({msgs[0]})" if msgs else "")
               + ("" if theory.success else f"; ODE failed: {theory.message}"))
    conv = dict(model.conventions())
    conv.update(eg_sim="mean over seeds of eg(t) from Q, R (odes.System.eg)",
                z="(eg_sim - eg_ode) / eg_sem", initial_condition="Q0 = q0 I, R0 = r0 U (odes.kinds)",
                seeds=_SEEDS_CONVENTION.replace("instance", "run"))
    err = {"eg_sim": sem, "eg_ode": float(theory.error_estimate.get("eg", math.nan))}
    if n_test:
        err["eg_test_sim"] = scalars["eg_test_sem"]
    status = Status.CONVERGED if ok else (theory.status if not theory.success else Status.INCOMPLETE)
    return Result(success=ok, status=status, message=message, n_iter=int(seeds), model=model,
                  options={"seeds": int(seeds), "seed0": int(seed0), "n_test": int(n_test), "rtol": rtol},
                  conventions=conv, timings={"total": time.perf_counter() - t0}, scalars=scalars,
                  error_estimate=err)


def committee_plot(sweep_result, ax):
    """Simulated ``eg(t)`` with error bars against the first axis, over the ODE's values."""
    arr = sweep_result.arrays
    axes = list(sweep_result.meta["axes"])
    x, curves = _axis_lines(sweep_result, axes[0])
    for c, (label, sl) in enumerate(curves):
        col = f"C{c % 10}"
        ax.errorbar(x, np.asarray(arr["eg_sim"])[sl], yerr=np.asarray(arr["eg_sem"])[sl], fmt="o", ms=3,
                    capsize=2, color=col, label=("SGD " + label) if label else "SGD")
        ax.plot(x, np.asarray(arr["eg_ode"])[sl], "-", color=col, lw=1.2,
                label=("ODE " + label) if label else "ODE")
    if x.size > 2 and np.all(x > 0) and x.max() / x.min() > 20:
        ax.set_xscale("log")
    ax.set_xlabel(axes[0])
    ax.set_ylabel("eg at time t")
    ax.legend(fontsize="small")
    return ax


register_kind(SweepKind(
    name="validation.capacity",
    point="validation.kinds:capacity_point",
    check="validation.kinds:capacity_check",
    plot="validation.kinds:capacity_plot",
    params={
        "alpha": Param(float, default=2.0, low=0.0, low_open=True, help="patterns per weight, n = round(alpha N)"),
        "N": Param(int, default=50, low=1, high=100_000, help="number of weights"),
        "kappa": Param(float, default=0.0, help="margin (stability threshold); >= 0 for spherical weights"),
        "prior": Param(str, default="spherical", choices=_PRIORS, help="spherical or binary (+-1) weights"),
    },
    options={
        "seeds": Param(int, default=50, low=2, high=1_000_000, help="random instances per point"),
        "seed0": Param(int, default=0, low=0, help="entropy of the instances' seeds (point_seeds)"),
        "max_pass": Param(int, default=100_000, low=1, high=100_000_000,
                          help="sweep cap of the max-stability search (spherical, kappa > 0)"),
    },
    description="Perceptron storage at finite N: fraction of random instances storable with margin "
                "kappa, against the replica capacity alpha_c (Gardner 1988; Krauth & Mezard 1989). "
                "Independent instances at every grid point (seeds from seed0 and the point's "
                "parameters).",
))

register_kind(SweepKind(
    name="validation.committee_sgd",
    point="validation.kinds:committee_point",
    check="validation.kinds:committee_check",
    plot="validation.kinds:committee_plot",
    params={
        "N": Param(int, default=500, low=2, high=10_000_000, help="input dimension"),
        "lr": Param(float, default=0.5, low=0.0, help="first-layer learning rate eta"),
        "K": Param(int, default=2, low=1, high=1000, help="student hidden units"),
        "M": Param(int, default=2, low=1, high=1000, help="teacher hidden units"),
        "activation": Param(str, default="erf", choices=("erf", "relu", "linear", "quadratic"),
                            help="erf means erf(u/sqrt 2)"),
        "noise": Param(float, default=0.0, low=0.0, help="output-noise variance sigma^2"),
        "q0": Param(float, default=0.5, low=0.0, low_open=True, help="initial Q = q0 I"),
        "r0": Param(float, default=1e-3, help="initial R = r0 U, U uniform from init_seed"),
        "init_seed": Param(int, default=0, low=0, help="seed of the initial R pattern"),
        "t": Param(float, default=10.0, low=0.0, low_open=True, help="final time steps/N"),
    },
    options={
        "seeds": Param(int, default=10, low=2, high=100_000, help="SGD runs per point"),
        "seed0": Param(int, default=0, low=0, help="entropy of the runs' seeds (point_seeds)"),
        "n_test": Param(int, default=0, low=0, high=10_000_000, help="held-out test set per run (0: none)"),
        "rtol": Param(float, default=1e-10, low=1e-14, high=1e-2, help="ODE relative tolerance"),
    },
    description="Online SGD of the committee machine at finite N against its ODEs (Saad & Solla 1995): "
                "simulated eg at time t with its standard error, the ODE value and the z-score. "
                "Independent runs at every grid point (seeds from seed0 and the point's parameters).",
))

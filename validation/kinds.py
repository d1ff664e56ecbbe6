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

from dataclasses import dataclass, replace

from lmech.config import Param, SweepKind, register_kind
from lmech.result import Result
from lmech.spec import Model, param, params_of
from lmech.status import Status
from odes import CommitteeMachine, integrate
from odes.kinds import PhaseStart, initial_state

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


@dataclass(frozen=True)
class CapacityPoint(Model):
    """One point of ``validation.capacity``: random instances of size ``N`` at ``alpha`` and margin ``kappa``."""

    alpha: float = param(2.0, low=0.0, low_open=True, help="patterns per weight, n = round(alpha N)")
    N: int = param(50, low=1, high=100_000, help="number of weights")
    kappa: float = param(0.0, help="margin (stability threshold); >= 0 for spherical weights")
    prior: str = param("spherical", choices=_PRIORS, help="spherical or binary (+-1) weights")

    def check(self):
        if self.prior == "spherical" and self.kappa < 0:
            raise ValueError("kappa must be >= 0 for spherical weights: for kappa < 0 the constraint "
                             "set is not convex and the simulator has no exact decision procedure")
        if self.prior == "rademacher" and self.N > _MAX_BINARY_N:
            raise ValueError(f"N must be an integer in [1, {_MAX_BINARY_N}] (exhaustive search of "
                             f"binary weights), got {self.N!r}")
        _gardner(self.prior, self.kappa)


_CAPACITY_DOC = """Fraction of ``seeds`` random instances at ``(alpha, N)`` that can be stored with margin ``kappa``.

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


def _capacity_solve(point: CapacityPoint, *, seeds, seed0, max_pass) -> Result:
    from .capacity import cover_probability, simulate_capacity

    alpha, N, kappa, prior = point.alpha, point.N, point.kappa, point.prior
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
_START = params_of(PhaseStart)

#: sweep-only parameters of ``validation.committee_sgd``: the size, the start of
#: ``odes.phase_diagram`` and the final time
_COMMITTEE_RUN = {
    "N": Param(int, default=500, low=2, high=10_000_000, help="input dimension"),
    "q0": _START["q0"],
    "r0": replace(_START["r0"], help="initial R = r0 U, U uniform from init_seed"),
    "init_seed": _START["seed"],
    "t": replace(_START["t_max"], default=10.0),
}


def _committee_validate(model, *, N, q0, r0, init_seed, t):
    K, M = model.K, model.M
    if N < K + M:
        raise ValueError(f"N must be an integer >= K + M = {K + M}, got {N!r}")
    if t < 1.0 / N:
        raise ValueError(f"t must be a finite time >= 1/N = {1.0 / N:.3g}, got {t!r}")
    initial_state(K, M, q0, r0, init_seed)


_COMMITTEE_DOC = """``seeds`` online-SGD runs at size ``N`` to time ``t`` against the ODEs from the same start.

    Run ``j`` uses the ``j``-th seed of :func:`point_seeds` for ``(seed0;
    every parameter of the point)``: independent runs at every grid point.

    Scalars: ``eg_sim`` (mean over the successful runs of the analytic ``eg``
    from ``Q, R`` at ``t``), ``eg_sem``, ``eg_sd``, ``eg_ode``, ``z`` (``(eg_sim -
    eg_ode) / eg_sem``), ``n_ok``; with ``n_test > 0`` also ``eg_test_sim`` and
    ``eg_test_sem`` (held-out test sets).  ``error_estimate``: ``eg_sim`` (and
    ``eg_test_sim``) its standard error over seeds (a sweep records
    ``eg_sim_err``), ``eg_ode`` the ODE solver's estimate of ``eg``.
    """


def _committee_solve(model, *, N, q0, r0, init_seed, t, seeds, seed0, n_test, rtol) -> Result:
    from .committee import simulate_committee

    K, M, activation, lr, noise = model.K, model.M, model.activation, model.lr, model.noise
    t0 = time.perf_counter()
    run_seeds = point_seeds(int(seed0), int(seeds), N=int(N), lr=float(lr), K=int(K), M=int(M),
                            activation=str(activation), noise=float(noise), q0=float(q0),
                            r0=float(r0), init_seed=int(init_seed), t=float(t))
    Q0, R0 = initial_state(K, M, q0, r0, init_seed)
    theory = integrate(model, float(t), Q0=Q0, R0=R0, t_eval=[0.0, float(t)], rtol=rtol)
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


CAPACITY = register_kind(SweepKind.from_model(
    CapacityPoint,
    name="validation.capacity",
    solve=_capacity_solve,
    options={
        "seeds": Param(int, default=50, low=2, high=1_000_000, help="random instances per point"),
        "seed0": Param(int, default=0, low=0, help="entropy of the instances' seeds (point_seeds)"),
        "max_pass": Param(int, default=100_000, low=1, high=100_000_000,
                          help="sweep cap of the max-stability search (spherical, kappa > 0)"),
    },
    point="validation.kinds:capacity_point",
    check="validation.kinds:capacity_check",
    plot="validation.kinds:capacity_plot",
    point_doc=_CAPACITY_DOC,
    description="Perceptron storage at finite N: fraction of random instances storable with margin "
                "kappa, against the replica capacity alpha_c (Gardner 1988; Krauth & Mezard 1989). "
                "Independent instances at every grid point (seeds from seed0 and the point's "
                "parameters).",
))
capacity_point, capacity_check = CAPACITY.point_function, CAPACITY.check_function

COMMITTEE = register_kind(SweepKind.from_model(
    CommitteeMachine,
    name="validation.committee_sgd",
    fields=("K", "M", "activation", "lr", "noise"),
    defaults={"K": 2, "M": 2},
    extra_params=_COMMITTEE_RUN,
    validate=_committee_validate,
    solve=_committee_solve,
    options={
        "seeds": Param(int, default=10, low=2, high=100_000, help="SGD runs per point"),
        "seed0": Param(int, default=0, low=0, help="entropy of the runs' seeds (point_seeds)"),
        "n_test": Param(int, default=0, low=0, high=10_000_000, help="held-out test set per run (0: none)"),
        "rtol": Param(float, default=1e-10, low=1e-14, high=1e-2, help="ODE relative tolerance"),
    },
    point="validation.kinds:committee_point",
    check="validation.kinds:committee_check",
    plot="validation.kinds:committee_plot",
    point_doc=_COMMITTEE_DOC,
    description="Online SGD of the committee machine at finite N against its ODEs (Saad & Solla 1995): "
                "simulated eg at time t with its standard error, the ODE value and the z-score. "
                "Independent runs at every grid point (seeds from seed0 and the point's parameters).",
))
committee_point, committee_check = COMMITTEE.point_function, COMMITTEE.check_function

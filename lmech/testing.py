"""A small sweep kind of the base package, for tests and for trying the machinery.

``lmech.erf_overlap`` computes, by a 2-D Gauss–Hermite rule,

    E[erf(a u) erf(a v)],   (u, v) ~ N(0, [[1, c], [c, 1]]),

and compares it with the closed form ``(2/pi) asin(2 a^2 c / (1 + 2 a^2))``
(e.g. Saad & Solla, PRE 52, 4225 (1995), eq. (A3) with unit variances).
It is a real, cheap, deterministic computation whose convergence flag depends
on the rule size ``n``, so sweeps of it exercise success, failure and
exceptions: ``fail_above`` makes points with ``c > fail_above`` raise, and
``sleep`` slows each point down (for interruption tests).
"""

from __future__ import annotations

import math
import time

import numpy as np

from .checks import check_int, check_real
from .config import Param, SweepKind, register_kind
from .gauss import hermite2d
from .result import Result
from .status import Status

__all__ = ["erf_overlap", "check_erf_overlap"]


def check_erf_overlap(a, c, n=40, fail_above=2.0, sleep=0.0, tol=1e-12):
    """Validate the parameters of :func:`erf_overlap` (ValueError naming them)."""
    check_real("a", a, low=0.0, high=100.0)
    check_real("c", c, low=-1.0, high=1.0)
    check_int("n", n, low=1, high=300)
    check_real("fail_above", fail_above)
    check_real("sleep", sleep, low=0.0, high=60.0)
    check_real("tol", tol, low=0.0, low_open=True)


def erf_overlap(a, c, n=40, fail_above=2.0, sleep=0.0, tol=1e-12) -> Result:
    """``E[erf(a u) erf(a v)]`` by an ``n x n`` Gauss–Hermite rule, with its closed form.

    Returns a :class:`Result` whose scalars are ``value`` (quadrature),
    ``exact`` (closed form) and ``error``; ``success`` is ``error <= tol``.
    Since the closed form is known, the error estimate of ``value`` is its
    true error.
    Raises :class:`RuntimeError` when ``c > fail_above`` (to exercise the
    per-point failure path of sweeps).
    """
    check_erf_overlap(a, c, n, fail_above, sleep, tol)
    if c > fail_above:
        raise RuntimeError(f"c = {c} is above fail_above = {fail_above}")
    if sleep:
        time.sleep(sleep)
    t0 = time.perf_counter()
    uv, w = hermite2d(n, [[1.0, c], [c, 1.0]])
    value = float(np.dot(w, np.vectorize(math.erf)(a * uv[:, 0]) * np.vectorize(math.erf)(a * uv[:, 1])))
    exact = 2.0 / math.pi * math.asin(2 * a * a * c / (1 + 2 * a * a))
    err = abs(value - exact)
    ok = err <= tol
    return Result(success=ok, status=Status.CONVERGED if ok else Status.TOLERANCE,
                  message="quadrature within tol" if ok else f"quadrature error {err:.2e} above tol",
                  n_iter=n * n, residual=err,
                  options={"n": n, "tol": tol},
                  conventions={"integrand": "erf(a u) erf(a v), unit variances, correlation c"},
                  timings={"quadrature": time.perf_counter() - t0},
                  scalars={"value": value, "exact": exact, "error": err},
                  error_estimate={"value": err})


def plot_erf_overlap(res, ax):
    """Draw the quadrature value against the first axis, one line per other-axis value."""
    axes = res.meta["axes"]
    x = res.arrays[axes[0]]
    v = res.arrays["value"] if "value" in res.arrays else np.full(res.shape, np.nan)
    if v.ndim == 1:
        ax.plot(x, v, "o-")
    else:
        other = res.arrays[axes[1]]
        for j in range(v.shape[1]):
            ax.plot(x, v[:, j], "o-", label=f"{axes[1]} = {other[j]:g}")
        ax.legend()
    ax.set_xlabel(axes[0])
    ax.set_ylabel("E[erf(a u) erf(a v)]")


register_kind(SweepKind(
    name="lmech.erf_overlap",
    point="lmech.testing:erf_overlap",
    check="lmech.testing:check_erf_overlap",
    plot="lmech.testing:plot_erf_overlap",
    params={
        "a": Param(float, default=1.0, low=0.0, high=100.0, help="erf slope"),
        "c": Param(float, default=0.5, low=-1.0, high=1.0, help="correlation of u and v"),
        "fail_above": Param(float, default=2.0, help="points with c above this raise (testing)"),
        "sleep": Param(float, default=0.0, low=0.0, high=60.0, help="seconds to sleep per point (testing)"),
    },
    options={
        "n": Param(int, default=40, low=1, high=300, help="Gauss-Hermite nodes per dimension"),
        "tol": Param(float, default=1e-12, low=0.0, low_open=True, help="success threshold on the error"),
    },
    description="Gauss-Hermite quadrature of E[erf(a u) erf(a v)] against its closed form.",
))

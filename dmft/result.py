"""``dmft.result``: the result of every :mod:`dmft` method, and the Richardson
bookkeeping shared by the grid methods (``"uniform"``, ``"stationary"``).

No module here imports a method module or :mod:`dmft.solve`; every method
imports :class:`DMFTResult` from here.
"""

from __future__ import annotations

import math

import numpy as np

import lmech
from lmech import Status
from lmech.result import over_tolerance

__all__ = ["DMFTResult"]


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

    ``status`` is a :class:`lmech.Status`: ``CONVERGED`` (every error estimate
    within ``rtol``), ``TOLERANCE`` (integrated, an estimate above ``rtol``),
    ``NO_ESTIMATE`` (integrated, but the error could not be estimated),
    ``MAX_ITER`` (a corrector or slab iteration hit its cap), ``DIVERGED``
    (non-finite values), ``INVALID_STATE`` (``|C(t, t')| > 1`` in the
    doubling scheme), ``INCOMPLETE`` (a doubling checkpoint: a run still to be
    continued).  In the sense of the :mod:`lmech.status` docstring, ``n_iter``
    counts the corrector iterations (grid methods: summed over every step of
    every refinement level; ``"doubling"``: sweeps per row plus the uniform
    start's corrector iterations; ``"sampled"``: passes per slab, the largest
    over replicas, summed over slabs; the RNN stationary profile: 0, it solves
    no equation iteratively) and ``residual`` is the solver's own measure of
    what it drives to zero (``"uniform"`` p-spin: the largest violation of
    ``C(t, t) = 1``; ``"doubling"``: the largest last corrector change of a
    row; otherwise ``nan``).
    """

    #: codes before lmech.Status (-1 named no cause: FAILED; 1 was a doubling checkpoint)
    LEGACY_STATUS = {1: Status.INCOMPLETE}


# -- Richardson levels of the grid methods ---------------------------------------------------
def sub(a):
    """Every other grid point of a time series or two-time array."""
    return a[::2] if a.ndim == 1 else a[::2, ::2]


def richardson_levels(level, n, dt, opts, resume=None):
    """See :func:`_richardson_levels`; a diverged level (reported by its info) combines
    to non-finite values without a floating-point warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _richardson_levels(level, n, dt, opts, resume)


def _richardson_levels(level, n, dt, opts, resume=None):
    """Run ``level(h, m, resume)`` at the resolutions of ``opts`` and combine them.

    ``level`` returns ``(arrays, info)``: ``arrays`` maps names to time series
    ``(m,)`` or two-time arrays ``(m, m)`` on ``t_i = i h``; ``info`` has
    ``success``, ``status``, ``message``, ``iters``, ``elapsed``.  Returns
    ``(arrays, diff, infos)``: the (extrapolated) arrays on the ``dt`` grid,
    the error estimates on the ``2 dt`` grid (same names) or None, and the
    infos (the ``dt`` level first).  Extrapolated: the undivided difference
    ``|X_R(dt) - X_R(2 dt)|`` (conservative: it bounds ``|X_R(dt) - X|``
    whenever ``|X_R(2 dt) - X| >= 2 |X_R(dt) - X|``, with no assumption on the
    sign or the order of the remainder).
    """
    nc = (n - 1) // 2 + 1
    if opts["extrapolate"]:
        mid, imid = level(dt, n, None)
        fine, ifine = level(0.5 * dt, 2 * n - 1, None)
        out = {k: (4.0 * sub(fine[k]) - mid[k]) / 3.0 for k in mid}
        infos = [imid, ifine]
        if nc >= 3:
            crs, icrs = level(2.0 * dt, nc, None)
            infos.append(icrs)
            diff = {k: np.abs(sub(out[k]) - (4.0 * sub(mid[k]) - crs[k]) / 3.0)
                    for k in mid}
        else:
            diff = None
    else:
        out, imid = level(dt, n, resume)
        infos = [imid]
        if nc >= 3:
            crs, icrs = level(2.0 * dt, nc, None)
            infos.append(icrs)
            diff = {k: np.abs(sub(out[k]) - crs[k]) / 3.0 for k in out}
        else:
            diff = None
    return out, diff, infos


def finish_richardson(model, opts, arrays, diff, infos, scalars, finals, conventions, meta,
                      residual=math.nan, skip=(), hint="decrease dt"):
    """Build the result of a grid method: error estimates, the tolerance test, status, message.

    ``finals`` maps a scalar's name to ``(array name, where)``: its error
    estimate is the largest of ``diff[array name]`` over the last quarter of
    the common times (``where="last"``, time series) or over the middle half of
    the last common row (``"half"``, for ``C(t_max, t_max/2)``).  Every
    array in ``diff`` also gets the largest estimate over the common grid.
    """
    err = {}
    if diff is None:
        err = {k: math.nan for k in finals}
    else:
        for name, (key, where) in finals.items():
            d = diff[key]
            # largest over the last quarter of the common grid (a single time can sit
            # where the leading error term changes sign)
            q = max(1, len(d) // 4)
            if where == "last":
                err[name] = float(np.max(d[-q:]))
            else:  # "half": C(t_max, t_max/2), over the middle half of the last row
                m = len(d) - 1
                err[name] = float(np.max(d[-1, m // 4:m - m // 4 + 1]))
        for key, d in diff.items():
            if key in skip:
                continue
            err[key] = float(np.max(d)) if np.all(np.isfinite(d)) else math.nan
    rtol = opts["rtol"]
    # arrays are held to their largest magnitude
    bad = over_tolerance(err, {name: scalars[name] if name in scalars
                               else float(np.nanmax(np.abs(arrays[name]))) for name in err}, rtol)
    ok = all(i["success"] for i in infos)
    success = ok and not bad
    if not ok:
        failed = next(i for i in infos if not i["success"])
        msg = failed["message"]
        status = failed["status"]
        if infos.index(failed) > 0:
            msg = f"a refinement level ({msg})"
    elif diff is None:
        msg = "too few steps for an error estimate (t_max / dt >= 4 needed)"
        status = Status.NO_ESTIMATE
    elif bad:
        msg = (f"error estimate above rtol = {rtol:g} for {', '.join(bad)} "
               f"(largest {max(err[b] for b in bad):.3g}); {hint}")
        status = Status.TOLERANCE
    else:
        msg = "integrated to t_max; error estimates within rtol"
        status = Status.CONVERGED
    levels = "dt/2, dt, 2 dt" if opts["extrapolate"] else "dt, 2 dt"
    conventions = dict(conventions)
    conventions["error_estimate"] = (
        "undivided Richardson difference |X_R(dt) - X_R(2 dt)|, "
        "X_R(h) = (4 X_{h/2} - X_h)/3 (X_R(dt) returned)"
        if opts["extrapolate"] else "Richardson: |X_dt - X_2dt| / 3 (second order)")
    meta = dict(meta, levels=levels)
    return DMFTResult(success=success, status=status, message=msg,
                      n_iter=int(sum(int(i["iters"].sum()) for i in infos)), residual=residual,
                      model=model, options=opts, conventions=conventions,
                      timings={"solve": sum(i["elapsed"] for i in infos)}, arrays=arrays,
                      scalars=scalars, meta=meta, error_estimate=err)

"""Theory against finite-N simulation: :func:`compare` and :class:`ValidationReport`.

:func:`compare` runs the finite-N simulator of a model over sizes and seeds
(through :func:`lmech.sweep.sweep`, on any executor), and confronts the
simulated observables with a theory result point by point.  For every
observable, abscissa point ``x`` (a time ``t`` or a sample ratio ``alpha``) and
component, the report holds

* the simulation mean over seeds and its standard error ``sem = s / sqrt(n)``
  at every size ``N``;
* the theory value and the z-score ``z_N = (mean_N - theory) / sigma_N``, with
  ``sigma_N^2 = sem_N^2 + atol^2 + (rtol * theory)^2``;
* the finite-size extrapolation ``mean_N = a + b N^(-power)`` (weighted least
  squares over the sizes, weights ``1/sem^2``; the standard error of ``a``
  propagated from the ``sem``; ``chi^2`` of the fit with ``n_sizes - 2``
  degrees of freedom) and its z-score ``(a - theory) / sigma_a``;
* a verdict: the theory *agrees* with the simulation when every
  ``|z|`` of the extrapolation lies below ``z_max``, by default the two-sided
  Bonferroni threshold ``z_max = F^{-1}(1 - level / (2 n_tests))`` for the
  ``n_tests`` points and components of the observable (``level = 0.01``),
  with ``F`` the Student t distribution with ``n_seeds - 1`` degrees of
  freedom (the standard errors are estimated from ``n_seeds`` runs): a
  correct theory is then rejected with probability at most about ``level``.
  With one size the verdict uses that size's z-scores (no extrapolation).

The gap ``max |mean_N - theory|`` per size and its fitted exponent in ``N``
say how the disagreement shrinks with ``N``.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.stats import t as student_t

from lmech.checks import check_int, check_real
from lmech.config import resolve_callable
from lmech.result import Result, register_result

__all__ = ["ValidationReport", "Simulator", "register_simulator", "get_simulator", "compare",
           "extrapolate", "theory_values"]


@register_result("validation.ValidationReport")
class ValidationReport(Result):
    """A theory-versus-simulation comparison.

    Arrays: ``x`` (P,) the abscissa (``meta["x"]`` names it), ``sizes`` (S,),
    ``seeds`` (n,); for each observable ``o`` (``meta["observables"]``):
    ``o/mean`` and ``o/sem`` (S, P, ...), ``o/n`` (S, P) seeds used,
    ``o/theory`` (P, ...), ``o/z`` (S, P, ...), ``o/extrap``,
    ``o/extrap_err``, ``o/extrap_z``, ``o/extrap_chi2`` (P, ...), ``o/gap``
    (S,) and ``o/agree`` (P, ...) (bool).

    Scalars: ``agree`` (every observable agrees), ``agree_<o>``,
    ``max_abs_z_<o>`` (of the extrapolation), ``gap_exponent_<o>`` (slope of
    ``log gap`` against ``log N``; NaN with one size), ``z_max``, ``n_seeds``,
    ``n_sizes``.  ``success`` is True when every simulation ran; the
    verdict is in ``agree``.
    """

    @property
    def observables(self) -> list[str]:
        """Names of the compared observables."""
        return list(self.meta["observables"])

    def table(self, observable: str, component: tuple = ()) -> str:
        """A plain-text table of one observable (one component) against ``x``."""
        a = self.arrays
        if f"{observable}/mean" not in a:
            return f"{observable}: no simulation data ({self.message})"
        sl = (slice(None),) + tuple(component)
        x = a["x"]
        lines = [f"{observable}{list(component) if component else ''}: theory vs simulation "
                 f"(z_max = {self.z_max:.2f})",
                 f"{self.meta['x']:>10} {'theory':>12} " + " ".join(
                     f"{'N=' + str(int(n)):>22}" for n in a["sizes"]) + f" {'extrap':>22} {'z':>7}"]
        for p in range(x.size):
            th = a[f"{observable}/theory"][sl][p]
            row = f"{x[p]:10.4g} {th:12.6g} "
            for s in range(a["sizes"].size):
                m = a[f"{observable}/mean"][(s,) + sl][p]
                e = a[f"{observable}/sem"][(s,) + sl][p]
                row += f"{m:12.6g} +-{e:8.2g} "
            ex = a[f"{observable}/extrap"][sl][p]
            ee = a[f"{observable}/extrap_err"][sl][p]
            z = a[f"{observable}/extrap_z"][sl][p]
            row += f"{ex:12.6g} +-{ee:8.2g} {z:7.2f}"
            lines.append(row)
        return "\n".join(lines)


@dataclass(frozen=True)
class Simulator:
    """How to simulate a model class at finite size.

    Parameters
    ----------
    point : str
        Import string of the point function ``point(N, seed, *, model, **options)``
        returning a :class:`~lmech.result.Result` whose arrays hold the
        abscissa ``x`` and the observables on it.
    x : str
        Name of the abscissa array (``"t"``, ``"alpha"``).
    observables : tuple of str
        Observables compared by default.
    from_theory : str, optional
        Import string of ``f(theory) -> dict`` reading default simulator
        options (abscissa points, initial conditions) off a theory result.
    """

    point: str
    x: str
    observables: tuple
    from_theory: str | None = None


_SIMULATORS: dict[str, Simulator] = {}


def register_simulator(model_name: str, simulator: Simulator) -> Simulator:
    """Register the simulator of the model registered (``lmech.spec``) as ``model_name``."""
    _SIMULATORS[model_name] = simulator
    return simulator


def get_simulator(model) -> Simulator:
    """The simulator of ``model`` (an instance of a registered model class)."""
    name = getattr(type(model), "_spec_name", None)
    sim = _SIMULATORS.get(name)
    if sim is None:
        raise ValueError(f"model: no finite-N simulator is registered for {name or type(model).__name__}; "
                         f"known: {', '.join(sorted(_SIMULATORS)) or 'none'}")
    return sim


def theory_values(theory, x_name: str, observable: str, x) -> tuple[np.ndarray, str]:
    """Theory values of ``observable`` at the abscissa points ``x``.

    ``theory`` is a :class:`~lmech.result.Result` or a mapping holding arrays
    ``x_name`` (increasing) and ``observable`` (first axis along ``x_name``).
    Points present in the theory's abscissa (to 1e-12 relative) are taken
    exactly; others are interpolated linearly, and the returned note says so.
    """
    arrays = theory.arrays if isinstance(theory, Result) else theory
    if not isinstance(arrays, Mapping):
        raise ValueError(f"theory must be a Result or a mapping of arrays, got {type(theory).__name__}")
    if x_name not in arrays:
        raise ValueError(f"theory has no array {x_name!r} (the abscissa)")
    if observable not in arrays:
        raise ValueError(f"observables: the theory has no array {observable!r}; "
                         f"it has {', '.join(sorted(arrays))}")
    tx = np.asarray(arrays[x_name], dtype=float)
    ty = np.asarray(arrays[observable], dtype=float)
    if ty.shape[:1] != tx.shape:
        raise ValueError(f"theory {observable!r} has shape {ty.shape}, expected first axis {tx.shape}")
    x = np.asarray(x, dtype=float)
    out = np.empty((x.size,) + ty.shape[1:])
    exact = True
    flat = ty.reshape(tx.size, -1)
    for p, xp in enumerate(x):
        j = np.nonzero(np.abs(tx - xp) <= 1e-12 * max(1.0, abs(xp)))[0]
        if j.size:
            out[p] = ty[j[0]]
        else:
            if xp < tx[0] - 1e-12 * max(1.0, abs(tx[0])) or xp > tx[-1] * (1 + 1e-12) + 1e-12:
                raise ValueError(f"theory covers {x_name} in [{tx[0]}, {tx[-1]}]; "
                                 f"the simulation point {xp} lies outside")
            exact = False
            out[p] = np.array([np.interp(xp, tx, flat[:, c]) for c in range(flat.shape[1])]
                              ).reshape(ty.shape[1:])
    return out, ("exact" if exact else "linear interpolation of the theory between its points")


def extrapolate(sizes, mean, sem, power: float = 1.0):
    """Weighted least-squares fit ``mean_N = a + b N^(-power)`` over the sizes (first axis).

    Parameters
    ----------
    sizes : array_like (S,)
    mean, sem : ndarray (S, ...)
        Means and standard errors; the fit runs independently for every
        trailing index.  ``sem = 0`` everywhere (deterministic data) gives an
        unweighted fit with zero error.

    Returns
    -------
    a, sigma_a, chi2 : ndarray (...)
        Intercept (the ``N -> infinity`` value), its standard error
        propagated from ``sem`` and the fit's ``chi^2`` (NaN with fewer than
        three sizes).  With one size, ``a = mean`` and ``sigma_a = sem``.
    """
    sizes = np.asarray(sizes, dtype=float)
    mean = np.asarray(mean, dtype=float)
    sem = np.asarray(sem, dtype=float)
    S = sizes.size
    if S == 1:
        return mean[0].copy(), sem[0].copy(), np.full(mean.shape[1:], np.nan)
    u = sizes ** (-power)
    shape = mean.shape[1:]
    y = mean.reshape(S, -1)
    e = sem.reshape(S, -1)
    a = np.full(y.shape[1], np.nan)
    sa = np.full(y.shape[1], np.nan)
    chi2 = np.full(y.shape[1], np.nan)
    X = np.stack([np.ones(S), u], axis=1)
    for c in range(y.shape[1]):
        ok = np.isfinite(y[:, c]) & np.isfinite(e[:, c])
        if ok.sum() < 2:
            if ok.sum() == 1:
                a[c], sa[c] = y[ok, c][0], e[ok, c][0]
            continue
        Xc, yc, ec = X[ok], y[ok, c], e[ok, c]
        if np.all(ec == 0):
            coef, *_ = np.linalg.lstsq(Xc, yc, rcond=None)
            a[c], sa[c] = coef[0], 0.0
            continue
        # a standard error that vanishes at some sizes (values exact to rounding there) is
        # floored at 1e-12 of the data's scale; weights are normalised before the solve
        floor = max(1e-12 * float(np.max(np.abs(yc))), 1e-12 * float(np.max(ec)), 1e-290)
        ef = np.maximum(ec, floor)
        emin = float(np.min(ef))
        wn = (emin / ef) ** 2                     # weights 1/e^2, scaled by emin^2 (max 1)
        Ainv = np.linalg.pinv(Xc.T @ (wn[:, None] * Xc))
        coef = Ainv @ (Xc.T @ (wn * yc))
        a[c] = coef[0]
        sa[c] = math.sqrt(max(Ainv[0, 0], 0.0)) * emin
        if ok.sum() > 2:
            with np.errstate(invalid="ignore", over="ignore"):
                chi2[c] = float(np.sum(wn * ((yc - Xc @ coef) / emin) ** 2)) if emin > 0 else math.nan
    return a.reshape(shape), sa.reshape(shape), chi2.reshape(shape)


def _zscore(diff, sigma):
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / sigma
    z = np.where((diff == 0) & (sigma == 0), 0.0, z)
    return z


_OPTIONS = ("power", "level", "z_tol", "atol", "rtol", "sim_options", "progress",
            "archive", "name")


def compare(theory, model, *, sizes: Sequence[int], seeds=8, observables: Sequence[str] | None = None,
            executor=None, power: float = 1.0, level: float = 0.01, z_tol: float | None = None,
            atol: float = 1e-10, rtol: float = 0.0, sim_options: Mapping[str, Any] | None = None,
            theory_names: Mapping[str, str] | None = None,
            progress: bool = False, archive=None, name: str = "validation") -> ValidationReport:
    """Compare a theory result with finite-N simulations of the same model.

    Parameters
    ----------
    theory : Result or mapping
        The theory (e.g. an :class:`odes.Trajectory`): arrays holding the
        simulator's abscissa (``"t"``, ``"alpha"``) and the observables.
    model : registered model
        The model the theory solved; its simulator is looked up by class.
    sizes : sequence of int
        System sizes ``N`` (distinct, >= 1).
    seeds : int or sequence of int
        Seeds per size (``range(seeds)`` for an int); at least 2, for the
        standard errors.
    observables : sequence of str, optional
        Arrays to compare (default: the simulator's).
    executor : concurrent.futures.Executor, optional
        Runs the (size, seed) simulations (serial if None); anything
        :func:`lmech.sweep.sweep` accepts, Dask included.
    power : float
        Finite-size correction ``N^(-power)`` of the extrapolation (1: the
        O(1/N) corrections of means of self-averaging quantities).
    level : float
        Family-wise false-rejection probability of the default verdict.
    z_tol : float, optional
        Explicit threshold on ``|z|`` instead of the Bonferroni ``z_max``.
    atol, rtol : float
        Tolerance added in quadrature to the standard errors:
        ``sigma^2 = sem^2 + atol^2 + (rtol * theory)^2``.  The default
        ``atol = 1e-10`` only absorbs rounding in values that finite-N runs
        reproduce exactly (initial conditions).
    theory_names : mapping, optional
        Theory array compared with a simulated observable when the names
        differ, e.g. ``{"eg_test": "eg"}`` (test-set error against the
        theory's ``eg``).
    sim_options : mapping, optional
        Options of the simulator's point function (override those read off
        the theory, e.g. ``times``, ``n_test``).
    progress : bool
        Progress bar of the sweep.
    archive : path, optional
        Stream the raw per-(size, seed) sweep into this HDF5 archive
        (group ``name + "_runs"``), resumable.

    Returns
    -------
    ValidationReport
    """
    t_start = time.perf_counter()
    sim = get_simulator(model)
    if isinstance(sizes, (int, np.integer)):
        sizes = [sizes]
    sizes = [check_int(f"sizes[{i}]", n, low=1) for i, n in enumerate(sizes)]
    if not sizes or len(set(sizes)) != len(sizes):
        raise ValueError(f"sizes must be a non-empty list of distinct sizes, got {sizes!r}")
    sizes = sorted(sizes)
    if isinstance(seeds, (int, np.integer)):
        seeds = list(range(check_int("seeds", seeds, low=2)))
    else:
        seeds = [check_int(f"seeds[{i}]", s, low=0) for i, s in enumerate(seeds)]
        if len(seeds) < 2 or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must hold at least 2 distinct seeds, got {seeds!r}")
    power = check_real("power", power, low=0.0, low_open=True)
    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    if z_tol is not None:
        z_tol = check_real("z_tol", z_tol, low=0.0, low_open=True)
    atol = check_real("atol", atol, low=0.0)
    rtol = check_real("rtol", rtol, low=0.0)
    observables = list(sim.observables if observables is None else observables)
    if not observables or not all(isinstance(o, str) for o in observables):
        raise ValueError(f"observables must be a non-empty list of names, got {observables!r}")

    options = {}
    if sim.from_theory is not None:
        options.update(resolve_callable(sim.from_theory)(theory))
    options.update(dict(sim_options or {}))
    theory_names = dict(theory_names or {})
    tarrays = theory.arrays if isinstance(theory, Result) else theory
    if not isinstance(tarrays, Mapping):
        raise ValueError(f"theory must be a Result or a mapping of arrays, got {type(theory).__name__}")
    for o in observables:  # fail early on an observable the theory lacks
        if theory_names.get(o, o) not in tarrays:
            raise ValueError(f"observables: the theory has no array {theory_names.get(o, o)!r}")

    from lmech.sweep import sweep

    if executor is not None:
        import lmech
        lmech.warmup(("validation",))
    sres = sweep(sim.point, {"N": np.asarray(sizes, dtype=np.int64), "seed": np.asarray(seeds, dtype=np.int64)},
                 fixed={"model": model, **options}, executor=executor, keep_arrays=[sim.x] + observables,
                 progress=progress, archive=archive, name=name + "_runs")
    t_sim = time.perf_counter() - t_start
    ok = sres.arrays["converged"] & ~sres.arrays["failed"]
    messages = sorted({str(m) for m, good in zip(sres.arrays["message"].ravel(), ok.ravel())
                       if not good})
    if not ok.any():
        return ValidationReport(success=False, status=-1,
                                message="every simulation failed: " + "; ".join(messages[:3]),
                                model=model, options=_opts(sizes, seeds, power, level, z_tol, atol, rtol),
                                arrays={"sizes": np.asarray(sizes), "seeds": np.asarray(seeds)},
                                scalars={"agree": False}, meta={"x": sim.x, "observables": observables})
    xs_all = sres.arrays[sim.x]
    first = np.argwhere(ok)[0]
    x = np.asarray(xs_all[tuple(first)], dtype=float)

    arrays = {"x": x, "sizes": np.asarray(sizes, dtype=np.int64), "seeds": np.asarray(seeds, dtype=np.int64)}
    scalars: dict[str, Any] = {}
    notes = {}
    all_agree = True
    zmax_used = None
    for o in observables:
        data = np.array(sres.arrays[o], dtype=float)              # (S, n_seeds, P, ...)
        data[~ok] = np.nan
        if data.shape[2:3] != x.shape:
            raise ValueError(f"observables: simulated {o!r} has shape {data.shape[2:]}, "
                             f"not along {sim.x} of length {x.size}")
        th, note = theory_values(theory, sim.x, theory_names.get(o, o), x)
        notes[o] = note if o not in theory_names else f"{note}; compared with theory {theory_names[o]!r}"
        n = np.sum(np.isfinite(data), axis=1)                      # (S, P, ...)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN slices: failed runs
            mean = np.nanmean(data, axis=1)
            sd = np.nanstd(data, axis=1, ddof=1)
            sem = np.where(n >= 2, sd / np.sqrt(np.maximum(n, 1)), np.nan)
        floor2 = atol ** 2 + (rtol * th) ** 2
        z = _zscore(mean - th[None], np.sqrt(sem ** 2 + floor2[None]))
        a, sa, chi2 = extrapolate(sizes, mean, sem, power)
        za = _zscore(a - th, np.sqrt(sa ** 2 + floor2))
        n_tests = int(np.size(th))
        zmax = z_tol if z_tol is not None else float(student_t.isf(level / (2.0 * n_tests),
                                                                    len(seeds) - 1))
        zmax_used = zmax if zmax_used is None else max(zmax_used, zmax)
        agree_pts = np.abs(za) <= zmax                              # NaN compares False
        agree = bool(np.all(agree_pts))
        all_agree &= agree
        gap = np.array([np.nanmax(np.abs(mean[s] - th)) if np.isfinite(mean[s]).any() else np.nan
                        for s in range(len(sizes))])
        good = np.isfinite(gap) & (gap > 0)
        slope = (float(np.polyfit(np.log(np.asarray(sizes, float)[good]), np.log(gap[good]), 1)[0])
                 if good.sum() >= 2 else math.nan)
        arrays.update({f"{o}/mean": mean, f"{o}/sem": sem, f"{o}/n": n.reshape(n.shape[:2] + (-1,))[..., 0],
                       f"{o}/theory": th, f"{o}/z": z, f"{o}/extrap": a, f"{o}/extrap_err": sa,
                       f"{o}/extrap_z": za, f"{o}/extrap_chi2": chi2, f"{o}/gap": gap,
                       f"{o}/agree": agree_pts})
        scalars[f"agree_{o}"] = agree
        scalars[f"max_abs_z_{o}"] = float(np.nanmax(np.abs(za))) if np.isfinite(za).any() else math.nan
        scalars[f"gap_exponent_{o}"] = slope
    scalars.update(agree=all_agree, z_max=float(zmax_used), n_seeds=len(seeds), n_sizes=len(sizes))
    n_bad = int((~ok).sum())
    verdict = "theory and simulation AGREE" if all_agree else (
        "theory and simulation DISAGREE on " + ", ".join(o for o in observables if not scalars[f"agree_{o}"]))
    message = verdict + (f"; {n_bad} of {ok.size} simulations failed: " + "; ".join(messages[:3])
                         if n_bad else "")
    conv = {k: str(v) for k, v in getattr(model, "conventions", lambda: {})().items()} \
        if callable(getattr(model, "conventions", None)) else {}
    conv.update({
        "x": sim.x,
        "sem": "standard error over seeds, s/sqrt(n) with ddof=1",
        "z": "(mean - theory)/sqrt(sem^2 + atol^2 + (rtol*theory)^2)",
        "extrapolation": f"weighted least squares mean_N = a + b N^(-{power:g}), weights 1/sem^2",
        "verdict": (f"agree iff |z| of the extrapolation <= z_max at every point; z_max = "
                    + (f"{z_tol:g} (given)" if z_tol is not None else
                       f"Bonferroni two-sided at family-wise level {level:g}, Student t with "
                       f"{len(seeds) - 1} degrees of freedom")),
    })
    for o, note in notes.items():
        conv[f"theory_{o}"] = note
    timings = {"simulate": t_sim, "total": time.perf_counter() - t_start}
    point_name = sim.point if isinstance(sim.point, str) else \
        f"{getattr(sim.point, '__module__', '?')}:{getattr(sim.point, '__qualname__', '?')}"
    meta = {"x": sim.x, "observables": observables, "simulator": point_name,
            "theory_kind": getattr(theory, "kind", "mapping"),
            "sim_options": sorted(options)}
    return ValidationReport(success=n_bad == 0, status=0 if n_bad == 0 else 1, message=message,
                            n_iter=int(ok.sum()), residual=float(max(scalars[f"max_abs_z_{o}"]
                                                                     for o in observables)),
                            model=model, options=_opts(sizes, seeds, power, level, z_tol, atol, rtol),
                            conventions=conv, timings=timings, arrays=arrays, scalars=scalars,
                            meta=meta)


def _opts(sizes, seeds, power, level, z_tol, atol, rtol):
    return dict(sizes=tuple(sizes), seeds=tuple(seeds), power=power, level=level, z_tol=z_tol,
                atol=atol, rtol=rtol)

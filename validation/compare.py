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
  propagated from the ``sem``, with Welch--Satterthwaite degrees of freedom;
  ``chi^2`` of the fit with ``n_sizes - 2`` degrees of freedom) and its
  z-score ``(a - theory) / sigma_a``;
* a three-way verdict (agree is checked first).  *disagree*: some ``|z|`` of the extrapolation exceeds
  ``z_crit``, the two-sided Bonferroni threshold at family-wise level
  ``level`` over every point and component of every compared observable (a
  correct theory is rejected with probability at most about ``level``).
  *agree*: at every point the ``1 - 2 level`` confidence interval of the
  extrapolation lies within ``tol = tol_abs + tol_rel |theory|`` of the
  theory (two one-sided tests, an intersection-union test: a theory off by
  more than ``tol`` somewhere agrees with probability at most ``level``).
  *inconclusive*: neither; the report then gives the smallest deviation the
  data would have detected.  With one size the verdict uses that size's
  statistics (no extrapolation).

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
from scipy.stats import chi2 as chi2_dist
from scipy.stats import t as student_t

from lmech.checks import check_int, check_real
from lmech.config import resolve_callable
from lmech.fit import loglog_slope
from lmech.result import Result, register_result
from lmech.status import Status

__all__ = ["ValidationReport", "Simulator", "register_simulator", "get_simulator", "compare",
           "extrapolate", "theory_values"]


_PER_SIZE = ("mean", "sem", "n", "z")  # arrays (S, P, ...); "gap" is (S,); the rest (P, ...)
_REPORT_NAMES = {
    "mean": "mean over seeds of {o}", "sem": "standard error of the mean of {o}", "n": "seeds used for {o}",
    "theory": "theory value of {o}", "z": "z-score of the simulated {o} against the theory",
    "extrap": "1/N extrapolation of {o}", "extrap_err": "standard error of the extrapolation of {o}",
    "extrap_z": "z-score of the extrapolated {o}", "extrap_chi2": "chi^2 of the 1/N fit of {o}",
    "sigma": "total standard error of {o} used by the tests", "tol": "equivalence tolerance of {o}",
    "equiv_bound": "smallest tolerance the data prove for {o}",
    "mdd": "smallest deviation of {o} detected with probability 0.8",
    "rejected": "theory of {o} rejected", "agree": "{o} proved within tolerance",
    "fit_p": "p-value of the 1/N fit of {o}", "poor_fit": "1/N fit of {o} rejected",
    "gap": "largest |mean - theory| of {o} per size",
}


def _report_dims(arrays: dict, observables) -> dict:
    """netCDF dimensions of a report's arrays (``sizes``, ``x``), for xarray; arrays with
    component dimensions (matrix observables) are left unnamed."""
    dims = {"x": ["x"], "sizes": ["sizes"], "seeds": ["seeds"]}
    for o in observables:
        for part in _REPORT_NAMES:
            name = f"{o}/{part}"
            if name not in arrays:
                continue
            names = ["sizes"] if part == "gap" else (["sizes", "x"] if part in _PER_SIZE else ["x"])
            if arrays[name].ndim == len(names):
                dims[name] = names
    return dims


def _report_long_names(x_name: str, observables) -> dict:
    out = {"x": str(x_name), "sizes": "system size N", "seeds": "seeds of the simulations"}
    for o in observables:
        for part, text in _REPORT_NAMES.items():
            out[f"{o}/{part}"] = text.format(o=o)
    return out


@register_result("validation.ValidationReport")
class ValidationReport(Result):
    """A theory-versus-simulation comparison with a three-way verdict.

    Arrays: ``x`` (P,) the abscissa (``meta["x"]`` names it), ``sizes`` (S,),
    ``seeds`` (n,); for each observable ``o`` (``meta["observables"]``):
    ``o/mean`` and ``o/sem`` (S, P, ...), ``o/n`` (S, P) seeds used,
    ``o/theory`` (P, ...), ``o/z`` (S, P, ...), ``o/extrap``,
    ``o/extrap_err``, ``o/extrap_z``, ``o/extrap_chi2`` (P, ...), ``o/sigma``
    (P, ...) the total standard error the tests use, ``o/tol`` (P, ...) the
    equivalence tolerance, ``o/equiv_bound`` (P, ...) ``|extrap - theory| +
    t_equiv sigma`` (the smallest tolerance the data prove), ``o/mdd``
    (P, ...) the smallest deviation detected with probability ``power_mdd``,
    ``o/rejected`` and ``o/agree`` (P, ...) (bool: theory rejected; proved
    within tolerance), ``o/fit_p`` and ``o/poor_fit`` (P, ...) (chi^2
    p-value of the 1/N fit with ``S - 2`` dof, nan for fewer than three
    sizes; below ``level``: no agreement there) and ``o/gap`` (S,).
    Scalars also ``poor_fit_<o>`` (points with a rejected fit) and
    ``theory_err_unknown_<o>`` (the theory's estimate is nan: no agreement),
    ``nonfinite_<o>`` (non-finite values in runs that reported success: left
    out of the means, and no agreement).

    Scalars: ``verdict`` (``"agree"``, ``"disagree"`` or ``"inconclusive"``),
    ``agree`` (``verdict == "agree"``), and per observable ``verdict_<o>``,
    ``agree_<o>``, ``rejected_<o>``, ``max_abs_z_<o>`` (observed, of the
    extrapolation), ``z_crit_<o>`` (the rejection threshold on ``|z|``),
    ``t_equiv_<o>``, ``dof_<o>``, ``mdd_<o>`` (largest over the points of
    ``o/mdd``), ``tol_ratio_<o>`` (largest ``equiv_bound / tol``: agreement
    needs <= 1), ``gap_exponent_<o>`` (slope of ``log gap`` against
    ``log N``; NaN with one size); ``level``, ``n_tests``, ``n_seeds``,
    ``n_sizes``, ``theory_success``.  ``success`` is True when every
    simulation ran and the theory reported success; the verdict is in
    ``verdict``, and in ``status`` (:class:`lmech.Status`): ``CONVERGED``
    (agree), ``INCONCLUSIVE`` or ``DISAGREE``, and ``INCOMPLETE`` where some
    simulations failed and the verdict is not ``disagree``.  ``error_estimate[o]`` is the largest standard error of the
    extrapolated value of ``o`` over its points (Birge-scaled, without the
    theory's uncertainty).

    Reports written before the three-way verdict hold ``agree`` meaning "not
    rejected" and a ``z_max`` threshold; :attr:`verdict` reads them as
    ``"disagree"`` or ``"inconclusive"`` (agreement was never proved).
    """

    @classmethod
    def legacy_status(cls, code, success, message):
        """Reports before lmech.Status: 0 agree or inconclusive (the message's first word),
        1 disagree, 3 the theory failed."""
        if code == 0:
            return Status.INCONCLUSIVE if message.startswith("INCONCLUSIVE") else Status.CONVERGED
        return {1: Status.DISAGREE}.get(code, Status.FAILED)

    @property
    def observables(self) -> list[str]:
        """Names of the compared observables."""
        return list(self.meta["observables"])

    @property
    def verdict(self) -> str:
        """``"agree"``, ``"disagree"`` or ``"inconclusive"`` (old reports: no ``"agree"``)."""
        v = self.scalars.get("verdict")
        if v is not None:
            return str(v)
        return "inconclusive" if self.scalars.get("agree") else "disagree"

    def verdict_of(self, observable: str) -> str:
        """The verdict on one observable (old reports read as in :attr:`verdict`)."""
        v = self.scalars.get(f"verdict_{observable}")
        if v is not None:
            return str(v)
        return "inconclusive" if self.scalars.get(f"agree_{observable}") else "disagree"

    def table(self, observable: str, component: tuple = ()) -> str:
        """A plain-text table of one observable (one component) against ``x``, with the criteria."""
        a = self.arrays
        sc = self.scalars
        if f"{observable}/mean" not in a:
            return f"{observable}: no simulation data ({self.message})"
        sl = (slice(None),) + tuple(component)
        x = a["x"]
        new = f"{observable}/tol" in a
        name = f"{observable}{list(component) if component else ''}"
        if new:
            head = [f"{name}: theory vs simulation, verdict {self.verdict_of(observable).upper()}",
                    f"  z = (extrap - theory)/sigma; theory rejected where |z| > z_crit = "
                    f"{sc[f'z_crit_{observable}']:.2f} (two-sided, Bonferroni over {sc['n_tests']} tests, "
                    f"family-wise level {sc['level']:g}, Student t with {sc[f'dof_{observable}']:.3g} dof)",
                    f"  agree where bound = |extrap - theory| + {sc[f't_equiv_{observable}']:.2f} sigma "
                    f"<= tol at every point (equivalence test, TOST at level {sc['level']:g})",
                    f"  mdd: smallest deviation detected with probability {sc.get('power_mdd', 0.8):g}"]
        else:
            head = [f"{name}: theory vs simulation (old report: pass threshold |z| <= "
                    f"{sc.get('z_max', math.nan):.2f})"]
        cols = f"{self.meta['x']:>10} {'theory':>12} " + " ".join(
            f"{'N=' + str(int(n)):>22}" for n in a["sizes"]) + f" {'extrap':>22} {'z':>7}"
        if new:
            cols += f" {'tol':>9} {'bound':>9} {'mdd':>9}"
        lines = head + [cols]
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
            if new:
                row += " ".join(f" {a[f'{observable}/{k}'][sl][p]:9.2g}" for k in ("tol", "equiv_bound", "mdd"))
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


def extrapolate(sizes, mean, sem, power: float = 1.0, n=None):
    """Weighted least-squares fit ``mean_N = a + b N^(-power)`` over the sizes (first axis).

    Parameters
    ----------
    sizes : array_like (S,)
    mean, sem : ndarray (S, ...)
        Means and standard errors; the fit runs independently for every
        trailing index.  ``sem = 0`` everywhere (deterministic data) gives an
        unweighted fit with zero error.
    power : float
        Exponent of the finite-size correction.
    n : array_like (S, ...) or int, optional
        Number of runs behind each mean.  When given, the effective degrees
        of freedom of ``sigma_a`` are returned too.

    Returns
    -------
    a, sigma_a, chi2 : ndarray (...)
        Intercept (the ``N -> infinity`` value), its standard error
        propagated from ``sem`` and the fit's ``chi^2`` (NaN with fewer than
        three sizes).  With one size, ``a = mean`` and ``sigma_a = sem``.
    nu : ndarray (...)
        Only when ``n`` is given: the Welch--Satterthwaite degrees of freedom
        of ``sigma_a``.  ``a = sum_i c_i mean_i`` is linear in the means, so
        ``sigma_a^2 = sum_i c_i^2 sem_i^2`` and
        ``nu = sigma_a^4 / sum_i (c_i^2 sem_i^2)^2 / (n_i - 1)``
        (Satterthwaite 1946, Biometrics Bull. 2, 110, eq. 17); ``inf`` where
        ``sigma_a = 0``.
    """
    sizes = np.asarray(sizes, dtype=float)
    mean = np.asarray(mean, dtype=float)
    sem = np.asarray(sem, dtype=float)
    S = sizes.size
    shape = mean.shape[1:]
    y = mean.reshape(S, -1)
    e = sem.reshape(S, -1)
    nn = None if n is None else np.broadcast_to(np.asarray(n, dtype=float), mean.shape).reshape(S, -1)
    a = np.full(y.shape[1], np.nan)
    sa = np.full(y.shape[1], np.nan)
    chi2 = np.full(y.shape[1], np.nan)
    nu = np.full(y.shape[1], np.nan)
    u = sizes ** (-power)
    X = np.stack([np.ones(S), u], axis=1)

    def dof(c_coef, ec, nc):
        v = (c_coef * ec) ** 2
        tot = float(np.sum(v))
        if tot == 0.0:
            return math.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            den = float(np.sum(np.where(v > 0, v ** 2 / (nc - 1.0), 0.0)))
        return tot ** 2 / den if den > 0 else math.inf

    for c in range(y.shape[1]):
        ok = np.isfinite(y[:, c]) & np.isfinite(e[:, c])
        if ok.sum() < 2:
            if ok.sum() == 1:
                a[c], sa[c] = y[ok, c][0], e[ok, c][0]
                if nn is not None:
                    nu[c] = dof(np.ones(1), e[ok, c], nn[ok, c])
            continue
        Xc, yc, ec = X[ok], y[ok, c], e[ok, c]
        if np.all(ec == 0):
            coef, *_ = np.linalg.lstsq(Xc, yc, rcond=None)
            a[c], sa[c], nu[c] = coef[0], 0.0, math.inf
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
        if nn is not None:
            cc = (Ainv @ (Xc.T * wn))[0]          # a = sum_i cc_i y_i
            nu[c] = dof(cc, ec, nn[ok, c])
        if ok.sum() > 2:
            with np.errstate(invalid="ignore", over="ignore"):
                chi2[c] = float(np.sum(wn * ((yc - Xc @ coef) / emin) ** 2)) if emin > 0 else math.nan
    out = (a.reshape(shape), sa.reshape(shape), chi2.reshape(shape))
    return out if n is None else out + (nu.reshape(shape),)


def _zscore(diff, sigma):
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / sigma
    z = np.where((diff == 0) & (sigma == 0), 0.0, z)
    return z


_OPTIONS = ("power", "level", "z_tol", "atol", "rtol", "tol_abs", "tol_rel", "sim_options", "progress",
            "archive", "name")

#: default equivalence tolerance of every observable: ``tol = tol_abs + tol_rel |theory|`` with
#: ``tol_rel = 0.05`` and ``tol_abs = 1e-3`` times the observable's largest ``|theory|``
DEFAULT_TOL_REL = 0.05
DEFAULT_TOL_ABS_SCALE = 1e-3
POWER_MDD = 0.8


def _point_options(point):
    """Keyword options a simulator point function accepts (``None``: cannot tell).

    A point function that forwards ``**options`` names the function receiving
    them in its attribute ``options_of``.
    """
    import inspect

    names = set()
    for fn in (point, getattr(point, "options_of", None)):
        if fn is None:
            return None
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names - {"N", "d", "seed", "model"}
    return None


def _per_observable(name, value, observables, default):
    """``value`` (None, a float, or a mapping observable -> float) as {observable: float or None}."""
    if value is None:
        return {o: default for o in observables}
    if isinstance(value, Mapping):
        unknown = set(value) - set(observables)
        if unknown:
            raise ValueError(f"{name}: no compared observable {sorted(unknown)}; compared: {observables}")
        return {o: (check_real(f"{name}[{o!r}]", value[o], low=0.0) if o in value else default)
                for o in observables}
    v = check_real(name, value, low=0.0)
    return {o: v for o in observables}


def compare(theory, model, *, sizes: Sequence[int], seeds=8, observables: Sequence[str] | None = None,
            executor=None, power: float = 1.0, level: float = 0.01, z_tol: float | None = None,
            tol_abs=None, tol_rel=None, atol: float = 1e-10, rtol: float = 0.0,
            sim_options: Mapping[str, Any] | None = None,
            theory_names: Mapping[str, str] | None = None,
            progress: bool = False, archive=None, name: str = "validation") -> ValidationReport:
    """Compare a theory result with finite-N simulations of the same model: agree, disagree or inconclusive.

    For every observable, point and component the simulation is extrapolated
    to ``N -> infinity`` (``mean_N = a + b N^(-power)``, weighted least
    squares) and its distance ``d = a - theory`` is tested two ways, with
    ``sigma`` the standard error of ``a`` (scaled by ``sqrt(chi^2/(S-2))``
    when that exceeds 1, the Birge ratio of a poor fit, Birge 1932, Phys.
    Rev. 40, 207, with three sizes or more) combined in quadrature with the theory's own uncertainty
    (``atol``, ``rtol``, and ``theory.error_estimate`` when the theory
    carries one):

    * **rejection** (the theory is wrong): ``|z| = |d|/sigma > z_crit``, with
      ``z_crit`` the two-sided Bonferroni threshold at family-wise level
      ``level`` over all ``n_tests`` points and components of all compared
      observables, from the Student t distribution with the
      Welch--Satterthwaite degrees of freedom of ``sigma`` (the smallest over
      the observable's points).  A correct theory is rejected somewhere with
      probability at most about ``level``.
    * **equivalence** (the theory is right to within ``tol``): two one-sided
      tests (TOST; Schuirmann 1987, J. Pharmacokin. Biopharm. 15, 657) at
      level ``level``, i.e. ``|d| + t_equiv sigma <= tol`` with ``t_equiv``
      the one-sided ``1 - level`` Student t quantile, at *every* point.  An
      intersection-union test needs no multiplicity correction (Berger 1982,
      Technometrics 24, 295): a theory off by more than ``tol`` at some point
      is declared to agree with probability at most ``level``.

    Two guards keep *agree* honest.  The Birge-scaled ``sigma`` keeps the
    Welch--Satterthwaite degrees of freedom of the unscaled one, while the
    scale itself is estimated with only ``S - 2`` (one for three sizes), so
    a t quantile with tens of dof would understate a poorly fitted point's
    uncertainty.  Instead of widening every quantile to ``S - 2`` dof
    (``t_0.99`` = 31.8 at one dof, which would leave three sizes almost
    never able to agree), a point whose 1/N fit is rejected, ``chi^2``
    p-value (``S - 2`` dof) below ``level``, cannot pass the equivalence
    test: the finite-size model is refuted there, so no extrapolation is
    trusted (``<o>/fit_p``, ``<o>/poor_fit``, ``poor_fit_<o>``).  Between
    p = ``level`` and chi^2/(S-2) = 1 the Birge scale is still used with the
    Welch--Satterthwaite dof (mildly anti-conservative).  And a theory
    ``error_estimate`` that is nan (could not estimate) is not taken as
    exact: ``sigma`` then holds no theory term, and no point of that
    observable can agree (``theory_err_unknown_<o>``; the message says so).
    A theory without an estimate for an observable counts it as exact.

    The verdict on an observable is *agree* when every point passes the
    equivalence test (a deviation may be resolved and still lie within the
    stated tolerance; ``rejected_<o>`` says so), else *disagree* when some
    point rejects the theory, else *inconclusive*: the data neither prove
    nor refute it, and ``mdd_<o>`` says what they could have detected,
    ``(z_crit + t_0.8) sigma`` (detected with probability 0.8) at the worst
    point.  The overall verdict is *disagree* if any observable disagrees,
    *agree* if all agree, else *inconclusive*; a theory with
    ``success=False`` is never reported as agreeing.

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
        Family-wise false-rejection probability of the rejection test, and
        false-agreement probability of the equivalence test.
    z_tol : float, optional
        Explicit rejection threshold on ``|z|`` instead of ``z_crit``.
    tol_abs, tol_rel : float or mapping, optional
        Equivalence tolerance ``tol = tol_abs + tol_rel |theory|`` at every
        point, one value for all observables or ``{observable: value}``.
        Defaults: ``tol_rel = 0.05`` and ``tol_abs = 1e-3 max |theory|``
        (the observable's largest theory value over its points and
        components; the absolute part keeps components that pass through
        zero testable).  Choose them smaller than the deviations a wrong
        theory would show: a theory within the tolerance *agrees*.
    atol, rtol : float
        Uncertainty of the theory values, added in quadrature to the
        simulation's standard error: ``sigma^2 = sigma_a^2 + atol^2 +
        (rtol theory)^2 + err^2`` with ``err`` the theory's own
        ``error_estimate`` of the observable if it has one.  The default
        ``atol = 1e-10`` only absorbs rounding in values that finite-N runs
        reproduce exactly (initial conditions).
    theory_names : mapping, optional
        Theory array compared with a simulated observable when the names
        differ, e.g. ``{"eg_test": "eg"}`` (test-set error against the
        theory's ``eg``).
    sim_options : mapping, optional
        Options of the simulator's point function (override those read off
        the theory, e.g. ``times``, ``n_test``).  An option the point
        function (or the simulator it forwards to, its ``options_of``) does
        not take is a :class:`TypeError` before any simulation runs.
    progress : bool
        Progress bar of the sweep.
    archive : path, optional
        Stream the raw per-(size, seed) sweep into this HDF5 archive
        (group ``name + "_runs"``), resumable.

    Returns
    -------
    ValidationReport
        ``verdict`` is ``"agree"``, ``"disagree"`` or ``"inconclusive"``.
    """
    t_start = time.perf_counter()
    sim = get_simulator(model)
    if isinstance(sizes, (int, np.integer)):
        sizes = [sizes]
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Sequence, np.ndarray)):
        raise TypeError(f"sizes must be an int or a sequence of ints, got {type(sizes).__name__}")
    sizes = [check_int(f"sizes[{i}]", n, low=1) for i, n in enumerate(sizes)]
    if not sizes or len(set(sizes)) != len(sizes):
        raise ValueError(f"sizes must be a non-empty list of distinct sizes, got {sizes!r}")
    sizes = sorted(sizes)
    if isinstance(seeds, (int, np.integer)):
        seeds = list(range(check_int("seeds", seeds, low=2)))
    elif isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)):
        raise TypeError(f"seeds must be an int >= 2 or a sequence of distinct seeds, got {seeds!r}")
    else:
        seeds = [check_int(f"seeds[{i}]", s, low=0) for i, s in enumerate(seeds)]
        if len(seeds) < 2 or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must hold at least 2 distinct seeds, got {seeds!r}")
    power = check_real("power", power, low=0.0, low_open=True)
    level = check_real("level", level, low=0.0, high=0.5, low_open=True, high_open=True)
    if z_tol is not None:
        z_tol = check_real("z_tol", z_tol, low=0.0, low_open=True)
    atol = check_real("atol", atol, low=0.0)
    rtol = check_real("rtol", rtol, low=0.0)
    observables = list(sim.observables if observables is None else observables)
    if not observables or not all(isinstance(o, str) for o in observables):
        raise ValueError(f"observables must be a non-empty list of names, got {observables!r}")
    tabs = _per_observable("tol_abs", tol_abs, observables, None)
    trel = _per_observable("tol_rel", tol_rel, observables, DEFAULT_TOL_REL)

    if sim_options is not None and not isinstance(sim_options, Mapping):
        raise TypeError(f"sim_options must be a mapping of simulator options, got {type(sim_options).__name__}")
    if theory_names is not None and not isinstance(theory_names, Mapping):
        raise TypeError(f"theory_names must be a mapping observable -> theory array, "
                        f"got {type(theory_names).__name__}")
    theory_names = dict(theory_names or {})
    for o, tn in theory_names.items():
        if o not in observables:
            raise ValueError(f"theory_names: {o!r} is not a compared observable; compared: {observables}")
        if not isinstance(tn, str):
            raise ValueError(f"theory_names[{o!r}] must be the name of a theory array, got {tn!r}")
    tarrays = theory.arrays if isinstance(theory, Result) else theory
    if not isinstance(tarrays, Mapping):
        raise ValueError(f"theory must be a Result or a mapping of arrays, got {type(theory).__name__}")
    for o in observables:  # fail early on an observable the theory lacks
        if theory_names.get(o, o) not in tarrays:
            who = f"theory_names[{o!r}]" if o in theory_names else "observables"
            raise ValueError(f"{who}: the theory has no array {theory_names.get(o, o)!r}; "
                             f"it has {', '.join(sorted(tarrays))}")
    point = resolve_callable(sim.point) if isinstance(sim.point, str) else sim.point
    allowed = _point_options(point)
    if allowed is not None and sim_options:
        unknown = sorted(set(sim_options) - allowed)
        if unknown:
            raise TypeError(f"sim_options: unknown option(s) {', '.join(map(str, unknown))} of the "
                            f"{getattr(point, '__name__', 'point')} simulator; allowed: {', '.join(sorted(allowed))}")
    options = {}
    if sim.from_theory is not None:
        try:
            options.update(resolve_callable(sim.from_theory)(theory))
        except KeyError as exc:
            if not sim_options:
                raise ValueError(f"theory: no array {exc} to read the simulator options from "
                                 f"(give them in sim_options)") from None
    options.update(dict(sim_options or {}))
    theory_ok = bool(theory.success) if isinstance(theory, Result) else True
    theory_err = dict(theory.error_estimate) if isinstance(theory, Result) else {}
    opts = dict(sizes=tuple(sizes), seeds=tuple(seeds), power=power, level=level, z_tol=z_tol,
                atol=atol, rtol=rtol, tol_abs=dict(tabs),
                tol_rel=trel)

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
        return ValidationReport(success=False, status=Status.INCOMPLETE,
                                message="every simulation failed: " + "; ".join(messages[:3]),
                                model=model, options=opts,
                                arrays={"sizes": np.asarray(sizes), "seeds": np.asarray(seeds)},
                                scalars={"verdict": "inconclusive", "agree": False},
                                meta={"x": sim.x, "observables": observables})
    xs_all = sres.arrays[sim.x]
    first = np.argwhere(ok)[0]
    x = np.asarray(xs_all[tuple(first)], dtype=float)

    arrays = {"x": x, "sizes": np.asarray(sizes, dtype=np.int64), "seeds": np.asarray(seeds, dtype=np.int64)}
    scalars: dict[str, Any] = {}
    notes = {}
    stats = {}
    S = len(sizes)
    for o in observables:
        data = np.array(sres.arrays[o], dtype=float)              # (S, n_seeds, P, ...)
        data[~ok] = np.nan
        if data.shape[2:3] != x.shape:
            raise ValueError(f"observables: simulated {o!r} has shape {data.shape[2:]}, "
                             f"not along {sim.x} of length {x.size}")
        tname = theory_names.get(o, o)
        th, note = theory_values(theory, sim.x, tname, x)
        notes[o] = note if o not in theory_names else f"{note}; compared with theory {tname!r}"
        n = np.sum(np.isfinite(data), axis=1)                      # (S, P, ...)
        # a run that reports success but holds non-finite values is not dropped silently:
        # counted, noted, and no agreement is claimed for the observable
        nonfinite = int(np.sum(~np.isfinite(data[ok])))  # data is the stored array on the ok runs
        scalars[f"nonfinite_{o}"] = nonfinite
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN slices: failed runs
            mean = np.nanmean(data, axis=1)
            sd = np.nanstd(data, axis=1, ddof=1)
            sem = np.where(n >= 2, sd / np.sqrt(np.maximum(n, 1)), np.nan)
        terr = float(theory_err.get(tname, 0.0))
        terr_unknown = not math.isfinite(terr)       # "could not estimate": not exact, so no agree
        terr = terr if not terr_unknown else 0.0
        floor2 = atol ** 2 + (rtol * th) ** 2 + terr ** 2
        z = _zscore(mean - th[None], np.sqrt(sem ** 2 + floor2[None]))
        a, sa, chi2, nu = extrapolate(sizes, mean, sem, power, n=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            birge = np.where(np.isfinite(chi2) & (S > 2), np.sqrt(np.maximum(1.0, chi2 / max(S - 2, 1))), 1.0)
            sstat = sa * birge
            sigma = np.sqrt(sstat ** 2 + floor2)
            nu_eff = np.where(sstat > 0, nu * (sigma / np.where(sstat > 0, sstat, 1.0)) ** 4, math.inf)
        # goodness of the 1/N fit: the chi^2 p-value with S - 2 dof; below ``level`` the
        # finite-size model is rejected and the (Birge-scaled) extrapolation is not trusted
        fit_p = np.where(np.isfinite(chi2), chi2_dist.sf(np.where(np.isfinite(chi2), chi2, 0.0), max(S - 2, 1)),
                         np.nan) if S > 2 else np.full(np.shape(chi2), np.nan)
        finite_nu = nu_eff[np.isfinite(nu_eff) & (nu_eff > 0)]
        dof = float(np.min(finite_nu)) if finite_nu.size else math.inf
        scale = float(np.nanmax(np.abs(th))) if np.isfinite(th).any() else 0.0
        tabs_used = DEFAULT_TOL_ABS_SCALE * scale if tabs[o] is None else tabs[o]
        opts["tol_abs"][o] = float(tabs_used)              # the value used (the default resolved)
        tol = tabs_used + trel[o] * np.abs(th)
        stats[o] = dict(mean=mean, sem=sem, n=n, th=th, z=z, a=a, sa=sa, chi2=chi2, sigma=sigma,
                        sstat=sstat, dof=dof, tol=tol, fit_p=fit_p, terr_unknown=terr_unknown,
                        nonfinite=nonfinite)
    n_tests = int(sum(np.size(st["th"]) for st in stats.values()))
    verdicts = {}
    for o, st in stats.items():
        mean, th, sigma, dof = st["mean"], st["th"], st["sigma"], st["dof"]
        d = st["a"] - th
        za = _zscore(d, sigma)
        zcrit = z_tol if z_tol is not None else float(student_t.isf(level / (2.0 * n_tests), dof))
        t_eq = float(student_t.isf(level, dof))
        t_pow = float(student_t.isf(1.0 - POWER_MDD, dof))
        rejected_pts = np.abs(za) > zcrit                          # NaN compares False
        bound = np.abs(d) + t_eq * sigma
        poor_fit = st["fit_p"] < level                              # NaN compares False
        # TOST at every point; never where the 1/N fit is rejected or the theory's error is unknown
        # and never at any point of a failed theory (success=False): its values are not a result
        agree_pts = ((bound <= st["tol"]) & ~poor_fit & (not st["terr_unknown"]) & theory_ok
                     & (st["nonfinite"] == 0))  # NaN compares False
        mdd = (zcrit + t_pow) * sigma
        rejected = bool(np.any(rejected_pts))
        v = "agree" if bool(np.all(agree_pts)) else ("disagree" if rejected else "inconclusive")
        verdicts[o] = v
        gap = np.array([np.nanmax(np.abs(mean[s] - th)) if np.isfinite(mean[s]).any() else np.nan
                        for s in range(S)])
        good = np.isfinite(gap) & (gap > 0)
        slope = loglog_slope(np.asarray(sizes, float)[good], gap[good])[0] if good.sum() >= 2 else math.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(st["tol"] > 0, bound / st["tol"], np.where(bound > 0, np.inf, 0.0))
        n_arr = st["n"]
        arrays.update({f"{o}/mean": mean, f"{o}/sem": st["sem"],
                       f"{o}/n": n_arr.reshape(n_arr.shape[:2] + (-1,))[..., 0],
                       f"{o}/theory": th, f"{o}/z": st["z"], f"{o}/extrap": st["a"], f"{o}/extrap_err": st["sa"],
                       f"{o}/extrap_z": za, f"{o}/extrap_chi2": st["chi2"], f"{o}/sigma": sigma,
                       f"{o}/tol": st["tol"], f"{o}/equiv_bound": bound, f"{o}/mdd": mdd,
                       f"{o}/rejected": rejected_pts, f"{o}/agree": agree_pts, f"{o}/gap": gap,
                       f"{o}/fit_p": st["fit_p"], f"{o}/poor_fit": poor_fit})
        scalars.update({f"verdict_{o}": v, f"agree_{o}": v == "agree", f"rejected_{o}": rejected,
                        f"max_abs_z_{o}": float(np.nanmax(np.abs(za))) if np.isfinite(za).any() else math.nan,
                        f"z_crit_{o}": zcrit, f"t_equiv_{o}": t_eq, f"dof_{o}": dof,
                        f"mdd_{o}": float(np.nanmax(mdd)) if np.isfinite(mdd).any() else math.nan,
                        f"tol_ratio_{o}": float(np.nanmax(ratio)) if np.isfinite(ratio).any() else math.nan,
                        f"gap_exponent_{o}": slope, f"poor_fit_{o}": int(np.sum(poor_fit)),
                        f"theory_err_unknown_{o}": bool(st["terr_unknown"])})
    if any(v == "disagree" for v in verdicts.values()):
        verdict = "disagree"
    elif all(v == "agree" for v in verdicts.values()):
        verdict = "agree"
    else:
        verdict = "inconclusive"
    if verdict == "agree" and not theory_ok:
        verdict = "inconclusive"
    scalars.update(verdict=verdict, agree=verdict == "agree", level=level, n_tests=n_tests,
                   power_mdd=POWER_MDD, n_seeds=len(seeds), n_sizes=S, theory_success=theory_ok)
    n_bad = int((~ok).sum())

    def describe(o):
        v = verdicts[o]
        if v == "agree":
            extra = " (a deviation is resolved, but within the tolerance)" if scalars[f"rejected_{o}"] else ""
            return f"{o}: agree within tolerance{extra}"
        why = []
        if not theory_ok:
            why.append("the theory failed (success=False)")
        if scalars[f"theory_err_unknown_{o}"]:
            why.append(f"the theory's error estimate of {theory_names.get(o, o)!r} is nan (could not "
                       "estimate), so agreement cannot be claimed")
        if scalars[f"nonfinite_{o}"]:
            why.append(f"{scalars[f'nonfinite_{o}']} non-finite value(s) in runs that reported success "
                       "(left out of the means), so agreement cannot be claimed")
        if scalars[f"poor_fit_{o}"]:
            why.append(f"the 1/N fit is rejected (chi^2 p-value < {level:g}) at {scalars[f'poor_fit_{o}']} "
                       "point(s), so agreement cannot be claimed there")
        if v == "disagree":
            return (f"{o}: DISAGREE (max |z| = {scalars[f'max_abs_z_{o}']:.3g} > z_crit = "
                    f"{scalars[f'z_crit_{o}']:.3g})" + "".join("; " + w for w in why))
        return (f"{o}: inconclusive (not rejected, agreement not proved: bound/tol = "
                f"{scalars[f'tol_ratio_{o}']:.3g}; smallest detectable deviation {scalars[f'mdd_{o}']:.2g})"
                + "".join("; " + w for w in why))

    head = {"agree": "theory and simulation AGREE", "disagree": "theory and simulation DISAGREE",
            "inconclusive": "INCONCLUSIVE: the data neither prove nor refute the theory"}[verdict]
    message = head + ": " + "; ".join(describe(o) for o in observables)
    if not theory_ok:
        message += (f"; the theory reports success=False ({getattr(theory, 'message', '')}): "
                    "agreement is not claimed")
    if n_bad:
        message += f"; {n_bad} of {ok.size} simulations failed: " + "; ".join(messages[:3])
    conv = {k: str(v) for k, v in getattr(model, "conventions", lambda: {})().items()} \
        if callable(getattr(model, "conventions", None)) else {}
    conv.update({
        "x": sim.x,
        "sem": "standard error over seeds, s/sqrt(n) with ddof=1",
        "z": "(mean - theory)/sqrt(sem^2 + atol^2 + (rtol*theory)^2 + theory_err^2)",
        "extrapolation": f"weighted least squares mean_N = a + b N^(-{power:g}), weights 1/sem^2; "
                         "sigma scaled by the Birge ratio sqrt(chi2/(S-2)) when > 1",
        "rejection": ("|z| > z_crit; z_crit = " + (f"{z_tol:g} (given)" if z_tol is not None else
                      f"two-sided Bonferroni over {n_tests} tests at family-wise level {level:g}, "
                      "Student t with Welch-Satterthwaite degrees of freedom")),
        "equivalence": f"|extrap - theory| + t_(1-{level:g}) sigma <= tol at every point (TOST, "
                       "intersection-union); tol = tol_abs + tol_rel |theory|",
        "verdict": "agree if every point is equivalent; else disagree if some point is rejected; "
                   "else inconclusive; never agree when the theory reports success=False",
        "agree_guards": f"no point agrees where the 1/N fit's chi2 p-value (S-2 dof) < {level:g}, "
                        "nor where the theory's error estimate is nan (could not estimate)",
    })
    for o, note in notes.items():
        conv[f"theory_{o}"] = note
    timings = {"simulate": t_sim, "total": time.perf_counter() - t_start}
    point_name = sim.point if isinstance(sim.point, str) else \
        f"{getattr(sim.point, '__module__', '?')}:{getattr(sim.point, '__qualname__', '?')}"
    meta = {"x": sim.x, "observables": observables, "simulator": point_name,
            "theory_kind": getattr(theory, "kind", "mapping"),
            "sim_options": sorted(options), "dims": _report_dims(arrays, observables),
            "long_names": _report_long_names(sim.x, observables)}
    err = {o: (float(np.nanmax(st["sstat"])) if np.isfinite(st["sstat"]).any() else math.nan)
           for o, st in stats.items()}
    status = {"agree": Status.CONVERGED, "inconclusive": Status.INCONCLUSIVE, "disagree": Status.DISAGREE}[verdict]
    if n_bad and verdict != "disagree":  # some simulations failed: the verdict rests on the others
        status = Status.INCOMPLETE
    return ValidationReport(success=n_bad == 0 and theory_ok, status=status, message=message,
                            n_iter=int(ok.sum()), residual=float(max(scalars[f"max_abs_z_{o}"]
                                                                     for o in observables)),
                            model=model, options=opts,
                            conventions=conv, timings=timings, arrays=arrays, scalars=scalars,
                            meta=meta, error_estimate=err)

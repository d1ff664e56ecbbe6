"""Sweep kinds of the replica layer for ``lmech run`` and their plots.

``replica.bayes_optimal``
    Both branches of the Bayes-optimal state evolution at each point
    (uninformed and informed starts), the equilibrium one chosen by free
    entropy.  Parameters: ``alpha``, ``prior`` (gaussian, rademacher,
    gauss-bernoulli, spherical), ``rho``, ``channel`` (sign, label-flip,
    probit, linear, relu), ``delta``, ``eps``.  Observables: ``q_uninf``,
    ``q_inf``, ``eg_bayes_uninf``, ``eg_bayes_inf``, ``eg_gibbs_uninf``,
    ``eg_gibbs_inf``, ``phi_uninf``, ``phi_inf``, ``q``, ``eg_bayes``,
    ``eg_gibbs``, ``mi`` (equilibrium), ``branch`` (0 uninformed, 1 informed),
    ``converged_uninf``, ``converged_inf`` and (option ``thresholds``, on by
    default) ``alpha_c``, ``alpha_sp_uninf``, ``alpha_sp_inf`` from
    :func:`replica.transitions`, so the archive holds the transition lines;
    the plot marks the first-order transition and the spinodals.
``replica.erm``
    Convex ERM (square, logistic, hinge) with L2 penalty ``lam`` (``lam = 0``:
    max-margin / least-norm limits): parameters ``alpha``, ``loss``, ``lam``,
    ``channel`` (sign, label-flip, probit, linear), ``rho``, ``delta``,
    ``eps``; observables ``test_error``, ``test_error_noisy``, ``train_loss``,
    ``m``, ``q``, ``V`` and their conjugates.  Points are warm-started from the
    previous point of the same worker.  The 2-D ``(alpha, lam)`` plot draws
    the optimal-``lam`` line.
``replica.gcm``
    Ridge regression on power-law data (the Gaussian covariate model of
    :mod:`replica.gcm`; Cui et al., NeurIPS 2021): parameters ``alpha``, ``p``,
    ``a``, ``r``, ``noise``, ``lam``, ``reg_mode`` (fixed, optimal, decay),
    ``ell``; observables ``test_error`` (excess), ``reg``, ``n``, ``m``, ``q``,
    ``V``, ``kappa`` and the predicted slopes ``slope_pred``,
    ``slope_pred_noiseless``.  The 1-D plot is the log-log learning curve with
    the fitted slope beside the predicted ones; the 2-D ``(alpha, lam)`` plot the
    excess error with the best ``lam`` per ``alpha``.
``replica.gardner``
    Gardner volume with random labels: parameters ``alpha``, ``prior``
    (spherical, rademacher), ``margin``; observables ``q``, ``entropy``,
    ``sat`` and the capacity ``alpha_c`` (Gardner's formula or the zero of
    the binary RS entropy).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lmech.config import Param, SweepKind, register_kind, solver_options
from lmech.spec import Model, param, params_of

from .bayes import OPTIONS as BAYES_OPTIONS
from .bayes import BayesOptimalGLM, BayesOptimalResult, CONVENTIONS, solve_bayes, transitions
from .blocks import CHANNELS, PRIORS, get_channel, get_prior
from lmech.blocks.losses import Loss, get_loss

from .erm import ERM, OPTIONS as ERM_OPTIONS, ERMResult, solve_erm
from .gardner import OPTIONS as GARDNER_OPTIONS, GardnerResult, GardnerVolume, solve_gardner

__all__ = ["bayes_model", "bayes_point", "bayes_check", "bayes_plot", "BayesSpec", "erm_model", "GCMSpec",
           "gcm_point", "gcm_check", "gcm_plot",
           "erm_point", "erm_check", "erm_plot", "ERMSpec", "gardner_point", "gardner_check",
           "gardner_plot"]

_PRIOR_PARAMS = {"gaussian": ("rho",), "spherical": ("rho",), "gauss-bernoulli": ("rho",),
                 "sparse": ("rho",), "rademacher": (), "binary": ()}
_CHANNEL_PARAMS = {"sign": (), "label-flip": ("eps",), "probit": ("delta",), "linear": ("delta",),
                   "gaussian": ("delta",), "relu": ("delta",)}


_prior_choices = tuple(sorted(PRIORS))
_channel_choices = tuple(sorted(CHANNELS))


def _blocks(prior, channel, *, rho, delta, eps):
    """The prior and channel named by flat sweep parameters (each takes only its own)."""
    pkw = {k: v for k, v in {"rho": rho}.items() if k in _PRIOR_PARAMS.get(prior, ())}
    ckw = {k: v for k, v in {"delta": delta, "eps": eps}.items() if k in _CHANNEL_PARAMS.get(channel, ())}
    return get_prior(prior, **pkw), get_channel(channel, **ckw)


@dataclass(frozen=True)
class BayesSpec(Model):
    """A :class:`BayesOptimalGLM` as flat parameters: a prior and a channel by name, with theirs.

    The blocks validate their own parameters when :meth:`model` builds them
    (``rho`` of a Gauss-Bernoulli prior is a density in ``(0, 1]``).
    """

    prior: str = param("rademacher", choices=_prior_choices, help="teacher/student prior")
    rho: float = param(1.0, low=0.0, low_open=True,
                       help="prior second moment (gaussian, spherical) or density (gauss-bernoulli)")
    channel: str = param("sign", choices=_channel_choices, help="output channel")
    delta: float = param(0.1, low=0.0, low_open=True, help="noise variance (linear, probit, relu)")
    eps: float = param(0.1, low=0.0, high=0.5, high_open=True, help="label-flip probability (label-flip)")

    def check(self):
        self.model()

    def model(self) -> BayesOptimalGLM:
        return BayesOptimalGLM(*_blocks(self.prior, self.channel, rho=self.rho, delta=self.delta,
                                        eps=self.eps))


def bayes_model(**params) -> BayesOptimalGLM:
    """Build the :class:`BayesOptimalGLM` named by sweep parameters (see :class:`BayesSpec`)."""
    return BayesSpec(**params).model()


@lru_cache(maxsize=64)
def _thresholds(model, n_quad):
    """:func:`replica.transitions` once per model and worker process."""
    tr = transitions(model, n_quad=n_quad)
    keys = ("alpha_c", "alpha_sp_uninf", "alpha_sp_inf")
    return {k: tr.scalars[k] for k in keys}, {k: tr.error_estimate[k] for k in keys}


_BAYES_DOC = """Both branches of the state evolution at one ``alpha`` (see module docstring).

    With ``thresholds`` the scalars also hold ``alpha_c``, ``alpha_sp_uninf``
    and ``alpha_sp_inf`` of the model (from :func:`replica.transitions`,
    computed once per distinct model in each worker), so that the archive
    carries the transition lines.
    """


def _bayes_solve(model: BayesOptimalGLM, *, alpha, rtol, max_iter, n_quad,
                 thresholds) -> BayesOptimalResult:
    opts = dict(rtol=rtol, max_iter=max_iter, n_quad=n_quad)
    u = solve_bayes(model, alpha, init="uninformed", **opts)
    i = solve_bayes(model, alpha, init="informed", **opts)
    sc = {"alpha": float(alpha)}
    err = {}
    for tag, r in (("uninf", u), ("inf", i)):
        for k in ("q", "eg_bayes", "eg_gibbs", "phi", "mi"):
            sc[f"{k}_{tag}"] = r.scalars.get(k, math.nan) if r.success else math.nan
            err[f"{k}_{tag}"] = r.error_estimate.get(k, math.nan) if r.success else math.nan
        sc[f"converged_{tag}"] = bool(r.success)
    if u.success and i.success:
        eq = i if i.phi > u.phi + 1e-12 else u
        branch = 1 if eq is i and abs(i.q - u.q) > 1e-8 * model.rho else 0
    else:
        eq = u if u.success else i
        branch = 0 if u.success else 1
    for k in ("q", "eg_bayes", "eg_gibbs", "mi", "phi"):
        sc[k] = eq.scalars.get(k, math.nan)
        err[k] = eq.error_estimate.get(k, math.nan)
    sc["branch"] = branch
    if thresholds:
        th, th_err = _thresholds(model, n_quad)
        sc.update(th)
        err.update(th_err)
    ok = u.success and i.success
    msg = "both branches converged" if ok else f"uninformed: {u.message}; informed: {i.message}"
    return BayesOptimalResult(success=ok, status=i.status if u.success else u.status, message=msg,
                              n_iter=u.n_iter + i.n_iter, residual=max(u.residual, i.residual),
                              model=model, options=opts, conventions=CONVENTIONS,
                              timings={"solve": u.timings["solve"] + i.timings["solve"]}, scalars=sc,
                              error_estimate=err)


def _first_finite(values) -> float:
    x = np.asarray(values, float).ravel()
    x = x[np.isfinite(x)]
    return float(x[0]) if x.size else math.nan


def _stored_model(sweep_result, points):
    """The model stored with the first of the grid ``points`` that has one
    (:meth:`lmech.sweep.SweepResult.model_at`, format >= 1.2), else None."""
    model_at = getattr(sweep_result, "model_at", None)
    for p in points if model_at is not None else ():
        model = model_at(p)
        if model is not None:
            return model
    return None


def _fixed_model(sweep_result, points, **override):
    """The Bayes model at the grid ``points`` (which share every parameter but ``alpha``):
    the one stored with them (format >= 1.2), else rebuilt from the sweep's flat
    parameters with ``override`` (format 1.0 / 1.1 archives, which store no model)."""
    model = _stored_model(sweep_result, points)
    if model is not None:
        return model
    fixed = dict(sweep_result.meta.get("fixed", {}))
    fixed.update(override)
    keys = ("prior", "channel", "rho", "delta", "eps")
    return bayes_model(**{k: fixed[k] for k in keys if k in fixed})


def _outline(lw: float):
    """Path effects drawing a line over a black outline (white lines stay visible on white)."""
    from matplotlib import patheffects

    return [patheffects.Stroke(linewidth=lw + 1.6, foreground="k"), patheffects.Normal()]


def bayes_plot(sweep_result, ax):
    """Draw a ``replica.bayes_optimal`` sweep with its transition lines.

    One axis ``alpha``: Bayes errors of both branches (solid: equilibrium,
    dashed: metastable) with vertical lines at the first-order transition
    and the spinodals found by :func:`replica.transitions`.  Two axes
    (``alpha`` and one model parameter): the equilibrium Bayes error as a
    colour map, with the transition and spinodal lines computed by
    :func:`replica.transitions` for each value of the other parameter.
    """
    arr = sweep_result.arrays
    axes = list(sweep_result.meta["axes"])
    if axes == ["alpha"]:
        a = np.asarray(arr["alpha"], float)
        eu, ei = np.asarray(arr["eg_bayes_uninf"], float), np.asarray(arr["eg_bayes_inf"], float)
        pu, pi = np.asarray(arr["phi_uninf"], float), np.asarray(arr["phi_inf"], float)
        model = _fixed_model(sweep_result, range(a.size))
        qu, qi = np.asarray(arr["q_uninf"], float), np.asarray(arr["q_inf"], float)
        same = np.abs(qu - qi) <= 1e-8 * model.rho
        # where both starts reach the same fixed point it is one branch: call it
        # informed if it is (near-)perfect recovery, uninformed otherwise
        perfect = same & (qi >= (1.0 - 1e-6) * model.rho)
        u_eq = ~(pi > pu + 1e-12)
        eu_shown = np.where(perfect, np.nan, eu)
        ax.plot(a, np.where(u_eq, eu_shown, np.nan), "C0-", lw=2, label="uninformed branch (equilibrium)")
        ax.plot(a, np.where(~u_eq, eu_shown, np.nan), "C0--", lw=1, label="uninformed branch (metastable)")
        ax.plot(a, np.where(~u_eq | perfect, ei, np.nan), "C1-", lw=2, label="informed branch (equilibrium)")
        ax.plot(a, np.where(u_eq & ~same, ei, np.nan), "C1--", lw=1, label="informed branch (metastable)")
        if "alpha_c" in arr:  # thresholds archived by the point function
            th = {k: _first_finite(arr[k]) for k in ("alpha_c", "alpha_sp_uninf", "alpha_sp_inf")}
        else:
            th = transitions(model).scalars
        lines = [("alpha_c", "k", "-", "first-order transition"),
                 ("alpha_sp_uninf", "C3", ":", "spinodal (uninformed)"),
                 ("alpha_sp_inf", "C2", ":", "spinodal (informed)")]
        for key, col, ls, lab in lines:
            v = th[key]
            if math.isfinite(v) and v > 0.0:
                ax.axvline(v, color=col, ls=ls, lw=1, label=f"{lab} {v:.5f}")
        ax.set_xlabel(r"$\alpha = n/d$")
        ax.set_ylabel("Bayes-optimal generalization error")
        ax.legend(fontsize=7)
        return ax
    if len(axes) == 2 and "alpha" in axes:
        other = axes[1] if axes[0] == "alpha" else axes[0]
        a = np.asarray(arr["alpha"], float)
        o = np.asarray(arr[other], float)
        eg = np.asarray(arr["eg_bayes"], float)
        if axes[0] != "alpha":
            eg = eg.T
        mesh = ax.pcolormesh(a, o, eg.T, shading="auto")
        ax.figure.colorbar(mesh, ax=ax, label="Bayes error (equilibrium)")
        ac, asp, asi = [], [], []
        for j, v in enumerate(o):
            if "alpha_c" in arr:  # thresholds archived by the point function
                def row(key):
                    x = np.asarray(arr[key], float)
                    return _first_finite(x[:, j] if axes[0] == "alpha" else x[j, :])
                th = {k: row(k) for k in ("alpha_c", "alpha_sp_uninf", "alpha_sp_inf")}
            else:
                points = [(i, j) if axes[0] == "alpha" else (j, i) for i in range(a.size)]
                th = transitions(_fixed_model(sweep_result, points, **{other: float(v)})).scalars
            ac.append(th["alpha_c"])
            asp.append(th["alpha_sp_uninf"])
            asi.append(th["alpha_sp_inf"] if th["alpha_sp_inf"] > 0 else math.nan)
        # white lines with a black outline: visible on the colour map and in the (white) legend
        ax.plot(ac, o, "w-", lw=2, label="first-order transition", path_effects=_outline(2))
        ax.plot(asp, o, "w:", lw=1.5, label="spinodal (uninformed)", path_effects=_outline(1.5))
        if np.any(np.isfinite(asi)):
            ax.plot(asi, o, "w-.", lw=1, label="spinodal (informed)", path_effects=_outline(1))
        if len(o) > 2 and np.all(o > 0) and np.allclose(np.diff(np.log(o)), np.log(o[1] / o[0])):
            ax.set_yscale("log")  # a log-spaced axis
        ax.set_xlabel(r"$\alpha$")
        ax.set_ylabel(other)
        ax.legend(fontsize=7)
        return ax
    raise ValueError(f"replica.bayes_optimal plots 1-D alpha or 2-D (alpha, param) sweeps; axes {axes}")


BAYES = register_kind(SweepKind.from_model(
    BayesSpec,
    name="replica.bayes_optimal",
    build=BayesSpec.model,
    solve=_bayes_solve,
    extra_params={"alpha": Param(float, low=0.0, help="sample ratio n/d")},
    options={
        **solver_options(
            solve_bayes,
            rtol=BAYES_OPTIONS["rtol"],
            # a sweep crosses spinodals, where the iteration slows down: twice the solver's default
            max_iter=dataclasses.replace(BAYES_OPTIONS["max_iter"], default=20_000),
            n_quad=BAYES_OPTIONS["n_quad"]),
        "thresholds": Param(bool, default=True,
                            help="store alpha_c and the spinodals (replica.transitions) at every point"),
    },
    point="replica.kinds:bayes_point",
    check="replica.kinds:bayes_check",
    plot="replica.kinds:bayes_plot",
    point_doc=_BAYES_DOC,
    description=("Bayes-optimal GLM (Barbier et al. PNAS 2019): both state-evolution branches, "
                 "the equilibrium by free entropy; the plot marks the first-order transition "
                 "and spinodals located by replica.transitions."),
))
bayes_point, bayes_check = BAYES.point_function, BAYES.check_function


# ---------------------------------------------------------------------------
# replica.erm
# ---------------------------------------------------------------------------
_ERM_WARM: dict = {}
#: the model's declaration of the L2 strength, which the sweep calls ``lam``
_REG = params_of(ERM)["reg"]


@dataclass(frozen=True)
class ERMSpec(Model):
    """A :class:`replica.ERM` as flat parameters (Gaussian teacher prior of second moment ``rho``)."""

    loss: str = param("logistic", type=(str, Loss),
                      help="loss: a name of lmech.blocks.LOSSES, or a table {kind = ..., <parameters>}")
    lam: float = param(0.1, low=_REG.low, help=_REG.help)
    channel: str = param("sign", choices=("sign", "label-flip", "probit", "linear"),
                         help="teacher channel (linear needs a regression loss: square, huber, ...)")
    rho: float = param(1.0, low=0.0, low_open=True, help="teacher second moment")
    delta: float = param(0.1, low=0.0, help="noise variance (linear, probit)")
    eps: float = param(0.1, low=0.0, high=0.5, high_open=True, help="label-flip probability")

    def check(self):
        if isinstance(self.loss, str):
            get_loss(self.loss)   # ValueError "loss must be one of <lmech.blocks.LOSSES>"
        self.model()

    def model(self):
        prior, channel = _blocks("gaussian", self.channel, rho=self.rho, delta=self.delta, eps=self.eps)
        return ERM(self.loss, self.lam, prior, channel)


def erm_model(**params):
    """Build the :class:`replica.ERM` named by sweep parameters (see :class:`ERMSpec`)."""
    return ERMSpec(**params).model()


def _erm_solve(model, *, alpha, rtol, max_iter, n_quad) -> ERMResult:
    """ERM saddle point at one ``(alpha, lam)``.

    Warm-started from the last converged point of the same loss, teacher and
    channel in this worker process (the ERM fixed point is unique, so the
    start only changes the iteration count); a failed warm start is retried
    from the default start.
    """
    key = (model.loss, model.teacher_prior, model.channel)
    opts = dict(rtol=rtol, max_iter=max_iter, n_quad=n_quad)
    warm = _ERM_WARM.get(key)
    res = solve_erm(model, alpha, init=warm, **opts) if warm is not None else None
    if res is None or not res.success:
        res = solve_erm(model, alpha, **opts)
    if res.success:
        _ERM_WARM[key] = res
    return res


def erm_plot(sweep_result, ax):
    """Draw a ``replica.erm`` sweep.

    One axis: the test error (and training loss) against it (log scale for
    ``lam``).  Two axes ``alpha`` and ``lam``: the test error as a colour map
    over ``(alpha, log lam)`` with the line of the optimal ``lam`` at each
    ``alpha`` (refined between grid points by a parabola in ``log lam``).
    """
    arr = sweep_result.arrays
    axes = list(sweep_result.meta["axes"])
    if len(axes) == 1:
        x = np.asarray(arr[axes[0]], float)
        ax.plot(x, arr["test_error"], "C0-", label="test error")
        ax.plot(x, arr["train_loss"], "C1--", label="training loss")
        if axes[0] == "lam":
            ax.set_xscale("log")
        ax.set_xlabel(axes[0])
        ax.legend(fontsize=8)
        return ax
    if sorted(axes) == ["alpha", "lam"]:
        a = np.asarray(arr["alpha"], float)
        lam = np.asarray(arr["lam"], float)
        err = np.asarray(arr["test_error"], float)
        if axes[0] != "alpha":
            err = err.T
        mesh = ax.pcolormesh(a, lam, err.T, shading="auto")
        ax.figure.colorbar(mesh, ax=ax, label="test error")
        best = []
        ll = np.log(lam)
        for i in range(len(a)):
            row = err[i]
            if not np.any(np.isfinite(row)):
                best.append(np.nan)
                continue
            j = int(np.nanargmin(row))
            if 0 < j < len(lam) - 1 and np.all(np.isfinite(row[j - 1:j + 2])):
                c = np.polyfit(ll[j - 1:j + 2], row[j - 1:j + 2], 2)
                best.append(math.exp(-c[1] / (2 * c[0])) if c[0] > 0 else lam[j])
            else:
                best.append(lam[j])
        ax.plot(a, best, "w-", lw=2, label=r"optimal $\lambda$", path_effects=_outline(2))
        ax.set_yscale("log")
        ax.set_xlabel(r"$\alpha$")
        ax.set_ylabel(r"$\lambda$")
        ax.legend(fontsize=7)
        return ax
    raise ValueError(f"replica.erm plots 1-D sweeps or 2-D (alpha, lam) sweeps; axes {axes}")


ERM_KIND = register_kind(SweepKind.from_model(
    ERMSpec,
    name="replica.erm",
    build=ERMSpec.model,
    solve=_erm_solve,
    extra_params={"alpha": Param(float, low=0.0, low_open=True, help="sample ratio n/d")},
    options=solver_options(solve_erm, **{k: ERM_OPTIONS[k] for k in ("rtol", "max_iter", "n_quad")}),
    point="replica.kinds:erm_point",
    check="replica.kinds:erm_check",
    plot="replica.kinds:erm_plot",
    point_doc=_erm_solve.__doc__,
    description=("Convex ERM with L2 penalty on teacher-student data (Aubin et al. NeurIPS 2020): "
                 "test error, training loss, m, q, V; the 2-D plot marks the optimal lambda."),
))
erm_point, erm_check = ERM_KIND.point_function, ERM_KIND.check_function


# ---------------------------------------------------------------------------
# replica.gardner
# ---------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _capacity(model):
    from .gardner import capacity

    return capacity(model)


def _gardner_solve(model, *, alpha, rtol, n_quad) -> GardnerResult:
    """RS saddle point of the Gardner volume at ``alpha`` plus the capacity ``alpha_c(margin)``."""
    res = solve_gardner(model, alpha, rtol=rtol, n_quad=n_quad)
    sc = dict(res.scalars)
    sc["alpha_c"] = _capacity(model)
    return type(res)(success=res.success, status=res.status, message=res.message, n_iter=res.n_iter,
                     residual=res.residual, model=res.model, options=res.options,
                     conventions=res.conventions, timings=res.timings, scalars=sc,
                     error_estimate=res.error_estimate)


def gardner_plot(sweep_result, ax):
    """Draw a ``replica.gardner`` sweep: entropy vs ``alpha`` with the capacity marked,
    capacity vs ``margin``, or the entropy over ``(alpha, margin)`` with the capacity line."""
    arr = sweep_result.arrays
    axes = list(sweep_result.meta["axes"])
    if axes == ["alpha"]:
        ax.plot(arr["alpha"], arr["entropy"], "C0-", label="RS entropy")
        ac = _first_finite(arr["alpha_c"])
        ax.axvline(ac, color="k", lw=1, label=rf"capacity $\alpha_c$ = {ac:.6f}")
        ax.axhline(0.0, color="0.5", lw=0.5)
        ax.set_xlabel(r"$\alpha$")
        ax.set_ylabel("entropy per weight")
        ax.legend(fontsize=8)
        return ax
    if axes == ["margin"]:
        from .gardner import spherical_capacity

        k = np.asarray(arr["margin"], float)
        model = _stored_model(sweep_result, range(k.size))     # format >= 1.2; else the flat name
        prior = model.prior.name if model is not None else \
            sweep_result.meta.get("fixed", {}).get("prior", "spherical")
        ax.plot(k, arr["alpha_c"], "C0-", label=rf"capacity $\alpha_c(\kappa)$, {prior} weights")
        if prior != "spherical":
            ax.plot(k, [spherical_capacity(float(x)) for x in k], "C1--",
                    label="spherical weights (Gardner 1988)")
        ax.set_xlabel(r"margin $\kappa$")
        ax.set_ylabel(r"$\alpha_c$")
        ax.legend(fontsize=8)
        return ax
    if sorted(axes) == ["alpha", "margin"]:
        a = np.asarray(arr["alpha"], float)
        k = np.asarray(arr["margin"], float)
        s = np.asarray(arr["entropy"], float)
        ac = np.asarray(arr["alpha_c"], float)
        if axes[0] != "alpha":
            s, ac = s.T, ac.T
        s = np.where(np.isfinite(s), s, np.nan)
        mesh = ax.pcolormesh(a, k, s.T, shading="auto")
        ax.figure.colorbar(mesh, ax=ax, label="RS entropy")
        ax.plot([_first_finite(ac[:, j]) for j in range(len(k))], k, "w-", lw=2, label="capacity")
        ax.set_xlabel(r"$\alpha$")
        ax.set_ylabel(r"margin $\kappa$")
        ax.legend(fontsize=7)
        return ax
    raise ValueError(f"replica.gardner plots alpha, margin or (alpha, margin) sweeps; axes {axes}")


GARDNER = register_kind(SweepKind.from_model(
    GardnerVolume,
    name="replica.gardner",
    defaults={"prior": "spherical"},
    solve=_gardner_solve,
    extra_params={"alpha": Param(float, default=0.5, low=0.0, help="patterns per weight")},
    options=solver_options(solve_gardner, **{k: GARDNER_OPTIONS[k] for k in ("rtol", "n_quad")}),
    point="replica.kinds:gardner_point",
    check="replica.kinds:gardner_check",
    plot="replica.kinds:gardner_plot",
    point_doc=_gardner_solve.__doc__,
    description=("Gardner volume of the perceptron with random labels: RS entropy at alpha and "
                 "the capacity alpha_c(margin) (spherical: Gardner's formula; binary: zero entropy)."),
))
gardner_point, gardner_check = GARDNER.point_function, GARDNER.check_function


# ---------------------------------------------------------------------------
# replica.gcm: learning curves and (alpha, lambda) diagrams of power-law data
# ---------------------------------------------------------------------------
from lmech.spec import register_model  # noqa: E402

from .gcm import CONVENTIONS as GCM_CONVENTIONS, GCMResult, optimal_reg_gcm, power_law_model, rate_exponent  # noqa: E402
from .gcm.powerlaw import fit_slope  # noqa: E402
from .gcm.solve import solve_gcm  # noqa: E402


@register_model("replica.kinds.GCMSpec")
@dataclass(frozen=True)
class GCMSpec(Model):
    """Ridge regression on power-law data (Cui et al., NeurIPS 2021) as flat parameters.

    ``omega_k = k^-a``, teacher power ``k^-(1 + 2 a r)`` on ``k = 1..p``
    (:func:`replica.gcm.power_law_model`), label-noise variance ``noise``.  The
    ridge at sample ratio ``alpha`` (``n = alpha p``): ``reg_mode = "fixed"``
    uses ``lam``; ``"optimal"`` the optimal ridge at each point
    (:func:`replica.gcm.optimal_reg`); ``"decay"`` Cui et al.'s ``lambda_C = lam
    n^-ell``, i.e. ``lambda = alpha lam n^-ell`` in this package's convention.
    The sweep archive stores this spec (a few numbers) as each point's model.
    """

    p: int = param(10_000, low=1, high=10_000_000, help="number of modes (no matrix is built)")
    a: float = param(1.5, low=1.0, low_open=True, help="capacity: omega_k = k^-a")
    r: float = param(2.0 / 3.0, low=0.0, help="source (Cui et al.): teacher power k^-(1 + 2 a r)")
    noise: float = param(0.0, low=0.0, help="label-noise variance sigma^2 (Delta)")
    lam: float = param(0.0, low=0.0, help="ridge lambda (fixed), or the prefactor of lambda_C = lam n^-ell (decay)")
    reg_mode: str = param("fixed", choices=("fixed", "optimal", "decay"),
                          help="ridge at each point: fixed lam, optimal, or decaying as n^-ell")
    ell: float = param(1.0, low=0.0, help="decay exponent of the ridge (reg_mode = decay)")

    def model(self):
        return _gcm_model(self.p, self.a, self.r, self.noise)

    def reg_at(self, alpha):
        """The ridge ``lambda`` (this package's convention) at ``alpha`` for ``reg_mode`` fixed or decay."""
        if self.reg_mode == "decay":
            return alpha * self.lam * (alpha * self.p) ** -self.ell
        return self.lam

    def predicted_slopes(self):
        """``(slope, slope_noiseless)`` of Cui et al.'s table for this ridge schedule."""
        if self.reg_mode == "optimal":
            ell = "optimal"
        elif self.reg_mode == "decay":
            ell = self.ell
        else:
            ell = "ridgeless" if self.lam == 0.0 else 1.0
        noisy = rate_exponent(self.a, self.r, noisy=self.noise > 0.0, ell=ell)[0]
        clean = rate_exponent(self.a, self.r, noisy=False, ell=ell)[0]
        return noisy, clean


@lru_cache(maxsize=2)
def _gcm_model(p, a, r, noise):
    """The power-law GCM, built once per worker process and parameter set."""
    return power_law_model(p, a, r, noise=noise, reg=0.0)


_GCM_OBS = ("test_error", "test_error_noisy", "reg", "m", "q", "V", "kappa", "train_loss",
            "slope_pred", "slope_pred_noiseless", "n")


def _gcm_solve(spec: GCMSpec, *, alpha, rtol):
    """Ridge saddle point of the power-law GCM at ``alpha`` (``n = alpha p``), with the ridge of
    ``reg_mode`` and the predicted slopes of Cui et al. (``slope_pred``, and ``slope_pred_noiseless``
    for the same ridge schedule without noise).  The point's model is the flat spec."""
    base = spec.model()
    if spec.reg_mode == "optimal":
        res = optimal_reg_gcm(base, alpha, rtol=rtol)
    else:
        res = solve_gcm(base.with_(reg=float(spec.reg_at(alpha))), alpha, rtol=rtol)
    sc = {k: res.scalars.get(k, math.nan) for k in ("alpha", "reg", "m", "q", "V", "mhat", "qhat", "Vhat",
                                                     "test_error", "test_error_noisy", "train_loss", "kappa")}
    sc["n"] = float(alpha) * spec.p
    sc["slope_pred"], sc["slope_pred_noiseless"] = spec.predicted_slopes()
    return GCMResult(success=res.success, status=res.status, message=res.message, n_iter=res.n_iter,
                     residual=res.residual, model=spec, options=dict(res.options), conventions=GCM_CONVENTIONS,
                     timings=res.timings, scalars=sc, error_estimate=res.error_estimate)


def gcm_plot(sweep_result, ax):
    """Draw a ``replica.gcm`` sweep.

    One axis ``alpha``: the excess error against ``n`` on log-log axes, the
    slope fitted over the last decade (:func:`replica.gcm.fit_slope`, with its
    uncertainty) beside the predicted slope of Cui et al. (a line through the
    last point) and, for noisy data, the noiseless slope (a line through the
    first point: the crossover).  Two axes ``alpha`` and ``lam``: ``log10`` of
    the excess error over ``(n, lam)`` with the optimal-``lam`` line.
    """
    arr = sweep_result.arrays
    axes = list(sweep_result.meta["axes"])
    if axes == ["alpha"]:
        n = np.asarray(arr["n"], float)
        e = np.asarray(arr["test_error"], float)
        ax.loglog(n, e, "C0o-", ms=3, lw=1, label="excess error (replica)")
        fit = fit_slope(n, e, decades=1.0)
        pred = _first_finite(arr["slope_pred"])
        clean = _first_finite(arr["slope_pred_noiseless"])
        ok = np.isfinite(e) & (e > 0)
        if np.any(ok) and math.isfinite(pred):
            n1, e1 = n[ok][-1], e[ok][-1]
            ax.loglog(n[ok], e1 * (n[ok] / n1) ** pred, "k--", lw=1, label=f"predicted slope {pred:.4g}")
            if math.isfinite(clean) and clean != pred:
                n0, e0 = n[ok][0], e[ok][0]
                ax.loglog(n[ok], e0 * (n[ok] / n0) ** clean, "k:", lw=1,
                          label=f"noiseless slope {clean:.4g}")
        if math.isfinite(fit["slope"]):
            ax.plot([], [], " ", label=f"fitted slope (last decade) {fit['slope']:.4f} +- {fit['slope_err']:.4f}")
        ax.set_xlabel("n")
        ax.set_ylabel(r"excess error $\epsilon_g - \sigma^2$")
        ax.legend(fontsize=7)
        return ax
    if sorted(axes) == ["alpha", "lam"]:
        a = np.asarray(arr["alpha"], float)
        lam = np.asarray(arr["lam"], float)
        e = np.asarray(arr["test_error"], float)
        if axes[0] != "alpha":
            e = e.T
        n = np.asarray(arr["n"], float)
        n = n[:, 0] if n.ndim == 2 and axes[0] == "alpha" else (n[0, :] if n.ndim == 2 else n)
        with np.errstate(divide="ignore", invalid="ignore"):
            le = np.log10(np.where(e > 0, e, np.nan))
        mesh = ax.pcolormesh(n, lam, le.T, shading="auto")
        ax.figure.colorbar(mesh, ax=ax, label=r"$\log_{10}$ excess error")
        best = [lam[int(np.nanargmin(row))] if np.any(np.isfinite(row)) else np.nan for row in le]
        ax.plot(n, best, "w-", lw=2, label=r"best $\lambda$ on the grid")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n")
        ax.set_ylabel(r"$\lambda$")
        ax.legend(fontsize=7)
        return ax
    raise ValueError(f"replica.gcm plots 1-D alpha or 2-D (alpha, lam) sweeps; axes {axes}")


GCM_KIND = register_kind(SweepKind.from_model(
    GCMSpec,
    name="replica.gcm",
    solve=_gcm_solve,
    extra_params={"alpha": Param(float, low=0.0, low_open=True, help="sample ratio n/p")},
    options=solver_options(_gcm_solve,
                           rtol=Param(float, default=1e-10, low=0.0, low_open=True,
                                      help="tolerance on the error estimates")),
    observables=_GCM_OBS,
    point="replica.kinds:gcm_point",
    check="replica.kinds:gcm_check",
    plot="replica.kinds:gcm_plot",
    point_doc=_gcm_solve.__doc__,
    description=("Ridge regression on power-law data (Gaussian covariate model; Cui et al. NeurIPS 2021): "
                 "learning curves with fitted and predicted slopes, (alpha, lambda) diagrams."),
))
gcm_point, gcm_check = GCM_KIND.point_function, GCM_KIND.check_function

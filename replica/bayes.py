"""Bayes-optimal generalized linear models: state evolution, branches, transitions.

Implements the replica-symmetric formula of Barbier, Krzakala, Macris,
Miolane & Zdeborová, "Optimal errors and phase transitions in
high-dimensional generalized linear models", PNAS 116, 5451 (2019) (BKMMZ):
the free entropy

    Phi(q, r) = Psi_P0(r) + alpha Psi_out(q) - r q / 2          (BKMMZ eq. 13)

is extremised by the state-evolution fixed point

    r = qhat = 2 alpha dPsi_out/dq,   q = 2 dPsi_P0/dr,           (BKMMZ eq. 16)

and the equilibrium is the fixed point of largest ``Phi``.  The state
variable of the iteration is ``V = rho - q`` (the MMSE on the weights), so
that perfect recovery ``V = 0`` is represented without cancellation.

Observables (conventions of the layer: ``x ~ N(0, I_d)``, ``z = w.x/sqrt d``,
``m = q`` on the Bayes-optimal line): ``mmse = rho - q``; for classification
channels the Bayes error ``arccos(sqrt(q/rho))/pi`` and the Gibbs error
``arccos(q/rho)/pi`` (against the clean teacher label ``sign(z)``); for
regression channels the excess pre-activation errors ``rho - q`` (Bayes) and
``2 (rho - q)`` (Gibbs); the mutual information per weight
``I/d = -Phi + alpha E[log P_out(y|z)]``.

Branches: writing ``qhat = alpha h(q)`` with ``h = 2 dPsi_out/dq``, a fixed
point satisfies ``alpha = r(V) / h(rho - V)`` with ``r = mmse^{-1}``, so every
fixed point (stable or not) lies on the explicit curve ``V -> alpha(V)``.
Spinodals are the local extrema of that curve, located by bounded Brent
minimisation; first-order transitions are where two stable branches have
equal free entropy, located by Brent root-finding in ``alpha``.  This is
immune to the critical slowing down of the iteration near a spinodal.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from lmech.checks import check_choice, check_int, check_real
from lmech.result import Result, over_tolerance, register_result
from lmech.spec import Model, Param, check_option, param, register_model
from lmech.status import Status

from .blocks import N_QUAD, Channel, Prior, get_channel, get_prior, resolve_block
from .fixedpoint import iterate

__all__ = ["BayesOptimalGLM", "BayesOptimalResult", "TransitionResult", "solve_bayes",
           "alpha_of_mmse", "free_entropy_at", "transitions",
           "CONVENTIONS"]

CONVENTIONS = {
    "data": "x ~ N(0, I_d); pre-activation z = w.x / sqrt(d); alpha = n / d",
    "noise": "variance (Delta); label flips with probability eps",
    "classification_error": "against the clean teacher label sign(z): Bayes arccos(sqrt(q/rho))/pi, Gibbs arccos(q/rho)/pi",
    "regression_error": "excess pre-activation error rho + q - 2m (m = q): Bayes rho - q, Gibbs 2(rho - q)",
    "free_entropy": "Phi = Psi_P0(qhat) + alpha Psi_out(q) - q qhat / 2 per weight (BKMMZ 2019 eq. 13); nats",
    "mutual_information": "I/d = -Phi + alpha E log P_out(y|z), nats per weight",
}


@register_model("replica.BayesOptimalGLM")
@dataclass(frozen=True)
class BayesOptimalGLM(Model):
    """Teacher–student GLM at the Bayes-optimal point (BKMMZ 2019).

    Parameters
    ----------
    prior : Prior or str
        Prior of the teacher (and student) weights; a name is looked up with
        :func:`replica.get_prior`.
    channel : Channel or str
        Output channel ``P_out(y|z)``; a name goes to :func:`replica.get_channel`.
    """

    prior: Prior = param(None, type=(str, Prior), help="teacher/student prior (a replica prior "
                         "or its name; default gaussian)", spec=False)
    channel: Channel = param(None, type=(str, Channel), help="output channel P_out(y|z) (a replica "
                             "channel or its name; default sign)", spec=False)

    def check(self):
        if self.prior is None or isinstance(self.prior, str):
            object.__setattr__(self, "prior", resolve_block("prior", self.prior, get_prior, "gaussian"))
        if self.channel is None or isinstance(self.channel, str):
            object.__setattr__(self, "channel", resolve_block("channel", self.channel, get_channel, "sign"))
        if not isinstance(self.prior, Prior):
            raise ValueError(f"prior must be a replica prior, got {self.prior!r}")
        if not isinstance(self.channel, Channel):
            raise ValueError(f"channel must be a replica channel, got {self.channel!r}")
        if getattr(self.channel, "name", "") == "linear" and self.channel.delta == 0.0:
            raise ValueError("channel: the Bayes-optimal linear channel needs delta > 0 (a noiseless "
                             "real-valued output has no finite free entropy; use a small delta)")

    @property
    def rho(self) -> float:
        return float(self.prior.rho)

    @property
    def perfect_branch(self) -> bool:
        """Whether ``V = 0`` (perfect recovery) is a fixed point for every alpha.

        True for a discrete prior and a channel whose ``qhat`` diverges as
        ``V -> 0`` (sign, label flips): then ``r = inf`` and ``mmse = 0``.
        """
        return bool(self.prior.discrete and self.channel.sharp)


@register_result("replica.BayesOptimalResult")
class BayesOptimalResult(Result):
    """State-evolution fixed point of a :class:`BayesOptimalGLM` at one ``alpha``."""

    #: codes before lmech.Status
    LEGACY_STATUS = {-2: Status.INVALID_STATE, -3: Status.TOLERANCE}


@register_result("replica.TransitionResult")
class TransitionResult(Result):
    """Spinodals and first-order transitions of a :class:`BayesOptimalGLM` in ``alpha``."""


def _observables(model: BayesOptimalGLM, alpha, V, n):
    """Scalars of a fixed point with ``V = rho - q``."""
    rho = model.rho
    q = rho - V
    ch, pr = model.channel, model.prior
    if V <= 0.0:
        qhat = math.inf
        psi_out = ch.psi_out(rho, rho, 0.0, n)
        phi = pr.psi_minus(math.inf, n) + alpha * psi_out
    else:
        qhat = alpha * ch.qhat_unit(q, rho, V, n)
        phi = pr.psi_minus(qhat, n) + 0.5 * qhat * V + alpha * ch.psi_out(q, rho, V, n)
    mi = -phi + alpha * ch.mean_loglik(rho, n)
    if ch.classification:
        # the Bayes estimator has m = q (Nishimori), a Gibbs sample m = q and |w|^2 = rho
        eb = ch.test_error(q, q, rho)
        eg = ch.test_error(q, rho, rho)
    else:
        # ch.test_error(q, q, rho) = rho - q and ch.test_error(q, rho, rho) = 2 (rho - q), held
        # in V: q = rho - V has lost the digits of a small V
        eb = V
        eg = 2.0 * V
    return {"alpha": float(alpha), "q": q, "m": q, "V": V, "qhat": qhat, "mmse": V,
            "eg_bayes": eb, "eg_gibbs": eg, "phi": phi, "mi": mi}


def _as_V(model, init):
    rho = model.rho
    if isinstance(init, str):
        check_choice("init", init, ("uninformed", "informed"))
        return rho * (1.0 - 1e-6) if init == "uninformed" else rho * 1e-6
    if isinstance(init, Result):
        return float(init.scalars["V"])
    if isinstance(init, dict):
        if "V" in init:
            return check_real("init['V']", init["V"], low=0.0, high=rho)
        return rho - check_real("init['q']", init["q"], low=0.0, high=rho)
    return rho - check_real("init", init, low=0.0, high=rho)


_OPTIONS = ("init", "damping", "method", "rtol", "max_iter", "memory", "n_quad", "tol")

#: largest knob of the refinement (Gauss–Hermite rules stop at 300 nodes)
_N_MAX = 300


#: The numerical options of :func:`solve_bayes` with bounds, declared once: the solver checks
#: its arguments against them (:func:`lmech.spec.check_option`; ``n_quad`` also against the
#: model's own floor, :func:`_n_quad_min`) and the sweep kind ``replica.bayes_optimal`` takes
#: its schema from this table.
OPTIONS = {
    "rtol": Param(float, low=0.0, low_open=True, help="relative tolerance on V = rho - q"),
    "max_iter": Param(int, low=1, help="iterations per branch"),
    "memory": Param(int, low=0, high=50, help="Anderson memory"),
    "n_quad": Param(int, low=8, high=300,
                    help="Gauss-Hermite nodes (at least the blocks' own minimum)"),
    "tol": Param(float, low=0.0, low_open=True, help="requested accuracy of the error estimates"),
}


def _n_quad_min(model):
    """Smallest ``n_quad``: 8, or the blocks' ``n_min`` (64 for panel rules, so that the
    ``n`` vs ``2 n`` refinement of the error estimate really doubles the nodes per panel)."""
    return max(8, getattr(model.prior, "n_min", 2), getattr(model.channel, "n_min", 2))


def _check_n_quad(model, n_quad) -> int:
    """``n_quad`` checked against :data:`OPTIONS` and the model's floor :func:`_n_quad_min`."""
    n = check_option(OPTIONS, "n_quad", n_quad)
    low = _n_quad_min(model)
    if n < low:
        raise ValueError(f"n_quad must be an integer in [{low}, 300] for this prior and channel "
                         f"(their panel rules), got {n!r}")
    return n


#: main observables carrying an error estimate
_MAIN = ("q", "mmse", "phi", "mi", "eg_bayes", "eg_gibbs")


#: rounding floor of an evaluated observable, in units of max(1, |value|): 64 ulp bounds the
#: cancellation in the few O(1) terms summed into phi, mi and the Gardner entropy
ROUND = 64 * 2.220446049250313e-16


def _with_floor(err, scalars, relative=(), scale=None):
    """Add the rounding floor: ``ROUND |x|`` for the names in ``relative``, else
    ``ROUND max(1, |x|, scale[name])`` (``scale``: magnitude of the summed terms)."""
    out = {}
    for k, e in err.items():
        v = scalars.get(k, 0.0)
        v = abs(v) if isinstance(v, float) and math.isfinite(v) else 0.0
        sk = (scale or {}).get(k, 0.0)
        out[k] = e + ROUND * (v if k in relative else max(1.0, v, sk))
    return out


def solve_bayes(model: BayesOptimalGLM, alpha, *, init="uninformed", damping="adaptive",
                method="anderson", rtol=1e-10, max_iter=10_000, memory=3,
                n_quad=N_QUAD, tol=1e-8) -> BayesOptimalResult:
    """Solve the state evolution, refining the quadrature until the error estimate meets ``tol``.

    See :func:`_solve_bayes_n` for the iteration; this wrapper adds the
    error estimate (``error_estimate`` of the result, absolute errors of
    ``q``, ``mmse``, ``phi``, ``mi``, ``eg_bayes``, ``eg_gibbs``): with
    ``L`` the slope of the map ``V -> F(V)`` at the fixed point,

    ``err(V) = (|F_n(V) - V| + |F_2n(V) - F_n(V)|) / |1 - L|``

    (the distance to the fixed point of the exact map: the residual and the
    quadrature error of the map, ``F_2n`` evaluated with twice the
    nodes, divided by the contraction ``1 - L``), propagated to ``q`` and
    the test errors; ``phi`` and ``mi`` are stationary in ``V`` and take the
    change under refinement at fixed ``V`` plus ``|dphi/dV| err(V)``.
    If an estimate exceeds ``tol * max(1, |value|)``, the solve is repeated
    (warm-started) with ``n_quad`` doubled, up to 300; ``success`` requires
    every estimate within that tolerance.  Measured at the defaults on the
    built-in blocks (alpha in [0.5, 3]): ``q`` to 2e-11 and ``phi`` to 2e-9
    (the largest for Gauss–Bernoulli priors and ReLU channels at large
    signal-to-noise, where ``Psi`` cancels against ``r rho / 2``); close to a
    spinodal ``|1 - L|`` is small and the estimate of ``q`` grows accordingly.
    """
    tol = check_option(OPTIONS, "tol", tol)
    n = _check_n_quad(model, n_quad)
    res = _solve_bayes_n(model, alpha, init=init, damping=damping, method=method, rtol=rtol,
                         max_iter=max_iter, memory=memory, n_quad=n)
    t0 = time.perf_counter()
    while True:
        err = _error_estimate(model, res, n)
        bad = over_tolerance(err, res.scalars, tol)
        if not bad or not res.success or n >= _N_MAX:
            break
        n = min(2 * n, _N_MAX)
        res = _solve_bayes_n(model, alpha, init=res, damping=damping, method=method, rtol=rtol,
                             max_iter=max_iter, memory=memory, n_quad=n)
    success, status, message = res.success, res.status, res.message
    if success and bad:
        success, status = False, Status.TOLERANCE
        message = (f"error estimate of {', '.join(bad)} above tol = {tol:g} at n_quad = {n}; "
                   + message)
    options = dict(res.options, tol=tol, n_quad=n_quad, n_quad_used=n)
    timings = {"solve": res.timings["solve"] + time.perf_counter() - t0}
    return BayesOptimalResult(success=success, status=status, message=message, n_iter=res.n_iter,
                              residual=res.residual, model=model, options=options,
                              conventions=CONVENTIONS, timings=timings, scalars=res.scalars,
                              error_estimate=err)


def _error_estimate(model, res, n):
    """Absolute error estimates of the main observables of a fixed point (see :func:`solve_bayes`)."""
    sc = res.scalars
    if "V" not in sc or not math.isfinite(sc["V"]):
        return {k: math.nan for k in _MAIN}
    rho = model.rho
    alpha = sc["alpha"]
    V = sc["V"]
    # the refined rule: twice the nodes; at the cap, compare with a coarser rule
    # instead (an estimate of the coarser rule's error bounds the finer one's)
    m2 = 2 * n if 2 * n <= _N_MAX else (2 * n) // 3
    pr, ch = model.prior, model.channel
    if V <= 0.0:
        # perfect recovery: V = 0 exactly; only the free entropy carries quadrature
        o1 = _observables(model, alpha, 0.0, n)
        o2 = _observables(model, alpha, 0.0, m2)
        e = abs(o2["phi"] - o1["phi"])
        return _with_floor({"q": 0.0, "mmse": 0.0, "phi": e, "mi": abs(o2["mi"] - o1["mi"]),
                            "eg_bayes": 0.0, "eg_gibbs": 0.0}, sc,
                           relative=("q", "mmse", "eg_bayes", "eg_gibbs"))

    def F(v, m):
        return pr.mmse(alpha * ch.qhat_unit(rho - v, rho, v, m), m)

    f1 = F(V, n)
    f2 = F(V, m2) if m2 != n else f1
    L = sc.get("slope", math.nan)
    gap = abs(1.0 - L) if math.isfinite(L) else 0.0
    num = abs(f1 - V) + abs(f2 - f1)
    eV = num / gap if gap > 0.0 else (0.0 if num == 0.0 else math.inf)
    eV = min(eV, rho)
    o1 = _observables(model, alpha, V, n)
    o2 = _observables(model, alpha, V, m2) if m2 != n else o1
    lo = _observables(model, alpha, max(V - eV, 0.0), n) if eV > 0.0 else o1
    hi = _observables(model, alpha, min(V + eV, rho), n) if eV > 0.0 else o1
    err = {"q": eV, "mmse": eV}
    for k in ("eg_bayes", "eg_gibbs"):
        err[k] = max(abs(lo[k] - o1[k]), abs(hi[k] - o1[k]))
    for k in ("phi", "mi"):
        # phi along the curve qhat = alpha h(q) is stationary at a fixed point,
        # so the shift by err(V) enters at second order (the computed change)
        err[k] = abs(o2[k] - o1[k]) + max(abs(lo[k] - o1[k]), abs(hi[k] - o1[k]))
    # magnitudes of the terms summed into phi and mi (their rounding scale)
    qhat = sc["qhat"]
    t = abs(pr.psi_minus(qhat, n)) + abs(0.5 * qhat * V) + abs(alpha * ch.psi_out(rho - V, rho, V, n))
    scale = {"phi": t, "mi": t + abs(alpha * ch.mean_loglik(rho, n))}
    return _with_floor(err, sc, relative=("q", "mmse", "eg_bayes", "eg_gibbs"), scale=scale)


def _solve_bayes_n(model: BayesOptimalGLM, alpha, *, init="uninformed", damping="adaptive",
                   method="anderson", rtol=1e-10, max_iter=10_000, memory=3,
                   n_quad=N_QUAD) -> BayesOptimalResult:
    """Solve the state evolution of a Bayes-optimal GLM at sample ratio ``alpha``.

    Parameters
    ----------
    model : BayesOptimalGLM
    alpha : float
        Sample ratio ``n/d >= 0``.
    init : "uninformed", "informed", float q, dict {"q"| "V"} or a previous result
        Starting overlap: ``q = 1e-6 rho`` (uninformed), ``q = rho (1 - 1e-6)``
        (informed), or a warm start.
    damping : "adaptive" or float in (0, 1]
    method : "anderson" or "picard"
    rtol : float
        Relative tolerance on ``V = rho - q``: ``|F(V) - V| <= rtol max(V, F(V))``.
    max_iter : int
    memory : int
        Anderson history.
    n_quad : int
        Accuracy knob: Gauss–Hermite nodes of the smooth integrals, ``n_quad // 8``
        (or ``// 4``, ``// 6``) nodes per panel of the panel rules.  At least 8, and at
        least :data:`replica.blocks.N_PANEL_MIN` (64) with a panel-rule prior or channel
        (Rademacher, Gauss–Bernoulli, sign family, ReLU): below it the refinement
        ``2 n_quad`` would not double the nodes and could not estimate the error
        (``ValueError``).

    Returns
    -------
    BayesOptimalResult
        ``success`` False (with a message) if the iteration did not converge
        or ended outside ``0 <= q <= rho``.  A converged iteration is
        polished by one Newton step on ``F(V) - V`` (kept if it lowers the
        residual), so that the answer stays accurate near a spinodal where the
        iteration's contraction factor (scalar ``slope``) tends to 1.
    """
    alpha = check_real("alpha", alpha, low=0.0)
    rtol = check_option(OPTIONS, "rtol", rtol)
    max_iter = check_option(OPTIONS, "max_iter", max_iter)
    memory = check_option(OPTIONS, "memory", memory)
    n_quad = _check_n_quad(model, n_quad)
    check_choice("method", method, ("anderson", "picard"))
    if damping != "adaptive":
        damping = check_real("damping", damping, low=0.0, high=1.0, low_open=True)
    V0 = _as_V(model, init)
    rho = model.rho
    pr, ch = model.prior, model.channel
    t0 = time.perf_counter()

    def F(x):
        V = x[0]
        if V <= 0.0:
            # V = 0 is a fixed point iff qhat -> inf there (then r = inf, mmse = 0)
            return np.array([0.0]) if ch.sharp else np.array([math.nan])
        r = alpha * ch.qhat_unit(rho - V, rho, V, n_quad)
        return np.array([pr.mmse(r, n_quad)])

    out = iterate(F, np.array([V0]), valid=lambda x: 0.0 <= x[0] <= rho, rtol=rtol,
                  max_iter=max_iter, damping=damping, method=method, memory=memory,
                  floor=1e-300)
    V = float(out.x[0])
    success, message, status = out.success, out.message, out.status
    residual = out.residual
    # Newton polish: near a spinodal the map's slope L -> 1 and the distance to
    # the fixed point, ~ residual / |1 - L|, exceeds the residual; one Newton
    # step on G(V) = F(V) - V (slope by central differences) removes it
    if success and 0.0 < V < rho:
        h = 1e-6 * min(V, rho - V)
        L = (F(np.array([V + h]))[0] - F(np.array([V - h]))[0]) / (2.0 * h)
        g = F(np.array([V]))[0] - V
        if math.isfinite(L) and abs(1.0 - L) > 1e-12:
            Vn = V - g / (L - 1.0)
            if 0.0 < Vn < rho:
                gn = F(np.array([Vn]))[0] - Vn
                if abs(gn) < abs(g):
                    V = Vn
                    residual = abs(gn) / max(V, abs(gn + V), 1e-300)
    if not (0.0 <= V <= rho) or not math.isfinite(V):
        success, status = False, Status.INVALID_STATE
        message = f"impossible state V = rho - q = {V!r} outside [0, rho]; " + message
    scalars = _observables(model, alpha, V, n_quad) if math.isfinite(V) else {"alpha": alpha}
    # local slope L = dF/dV of the map: |L| < 1 is a stable (iteration-attracting)
    # fixed point; the distance to the fixed point is about residual / (1 - L)
    slope = math.nan
    if math.isfinite(V) and 0.0 < V < rho:
        h = 1e-6 * V
        slope = (F(np.array([V + h]))[0] - F(np.array([V - h]))[0]) / (2.0 * h)
    elif V == 0.0 and ch.sharp:
        slope = 0.0
    elif alpha == 0.0:
        slope = 0.0  # no data: qhat = 0 and F(V) = rho for every V
    elif V == rho:  # q = 0 to rounding (alpha tiny): one-sided difference inside [0, rho]
        h = 1e-6 * rho
        slope = (F(np.array([V]))[0] - F(np.array([V - h]))[0]) / h
    scalars["slope"] = slope
    scalars["stable"] = bool(abs(slope) < 1.0) if math.isfinite(slope) else False
    if success and not (scalars["qhat"] >= 0.0):
        success, status, message = False, Status.INVALID_STATE, f"impossible state qhat = {scalars['qhat']!r} < 0"
    options = {"init": init if isinstance(init, str) else "warm", "damping": damping,
               "method": method, "rtol": rtol, "max_iter": max_iter, "memory": memory,
               "n_quad": n_quad}
    return BayesOptimalResult(success=success, status=status, message=message, n_iter=out.n_iter,
                              residual=residual, model=model, options=options,
                              conventions=CONVENTIONS, timings={"solve": time.perf_counter() - t0},
                              scalars=scalars)


# ---------------------------------------------------------------------------
# branches and transitions
# ---------------------------------------------------------------------------
def _check_point(model, V, n_quad, where, v_open):
    if not isinstance(model, BayesOptimalGLM):
        raise TypeError(f"model: {where} needs a BayesOptimalGLM, got {type(model).__name__}")
    rho = model.rho
    check_real("V", V, low=0.0, high=rho, low_open=v_open)
    check_int("n_quad", n_quad, low=2, high=_N_MAX)
    return rho


def alpha_of_mmse(model: BayesOptimalGLM, V, n_quad=N_QUAD) -> float:
    """The ``alpha`` at which ``V = rho - q`` is a fixed point: ``r(V) / h(rho - V)``."""
    rho = _check_point(model, V, n_quad, "alpha_of_mmse", v_open=True)
    r = model.prior.r_of_mmse(V, n_quad)
    return r / model.channel.qhat_unit(rho - V, rho, V, n_quad)


def free_entropy_at(model: BayesOptimalGLM, V, n_quad=N_QUAD):
    """``(alpha, Phi)`` of the fixed point with ``V = rho - q`` (on any branch).

    ``V`` lies in ``[0, rho]``; at ``V = 0`` (perfect recovery) ``alpha`` is
    NaN (not determined by ``V``) and ``Phi`` is the prior's ``Psi(inf)``.
    """
    rho = _check_point(model, V, n_quad, "free_entropy_at", v_open=False)
    if V <= 0.0:
        return math.nan, model.prior.psi_minus(math.inf, n_quad)
    r = model.prior.r_of_mmse(V, n_quad)
    h = model.channel.qhat_unit(rho - V, rho, V, n_quad)
    a = r / h
    return a, model.prior.psi_minus(r, n_quad) + 0.5 * r * V + a * model.channel.psi_out(rho - V, rho, V, n_quad)


def _branch_segments(model, n_quad, n_grid, v_min):
    """Monotone pieces of ``V -> alpha(V)``, ordered by increasing ``q``."""
    rho = model.rho
    s = np.unique(np.concatenate([np.geomspace(v_min, 0.05, n_grid // 2),
                                  np.linspace(0.05, 1.0 - 1e-9, n_grid - n_grid // 2)]))[::-1]
    Vs = rho * s
    al = np.array([alpha_of_mmse(model, V, n_quad) for V in Vs])
    ok = np.isfinite(al)
    Vs, al = Vs[ok], al[ok]
    d = np.sign(np.diff(al))
    ext = [i for i in range(1, len(d)) if d[i] != d[i - 1] and d[i] != 0]
    return Vs, al, ext


_T_MAIN = ("alpha_sp_uninf", "alpha_sp_inf", "alpha_c", "q_uninf_c", "q_inf_c", "q_sp_uninf",
           "q_sp_inf")


def transitions(model: BayesOptimalGLM, *, xtol=1e-9, n_quad=N_QUAD, n_grid=240,
                v_min=1e-30, tol=1e-7) -> TransitionResult:
    """Spinodals and first-order transition, with error estimates by refinement.

    Runs :func:`_transitions_n` with ``n_quad`` and with twice the nodes
    (capped at 300) and reports the refined values; ``error_estimate`` of
    every threshold and overlap is the change under refinement plus
    ``xtol`` (the tolerance of the Brent searches).  ``success`` requires
    each estimate within ``tol * max(1, |value|)`` (NaN thresholds, absent
    for the model, are not checked).  Parameters as in :func:`_transitions_n`.
    """
    if not isinstance(model, BayesOptimalGLM):
        raise TypeError(f"model: transitions needs a BayesOptimalGLM, got {type(model).__name__}")
    tol = check_real("tol", tol, low=0.0, low_open=True)
    n = check_int("n_quad", n_quad, low=_n_quad_min(model), high=_N_MAX)
    xtol = check_real("xtol", xtol, low=0.0, low_open=True)
    n_grid = check_int("n_grid", n_grid, low=20, high=100_000)
    v_min = check_real("v_min", v_min, low=0.0, high=0.05, low_open=True, high_open=True)
    n2 = 2 * n if 2 * n <= _N_MAX else (2 * n) // 3
    t0 = time.perf_counter()
    coarse = _transitions_n(model, xtol=xtol, n_quad=n, n_grid=n_grid, v_min=v_min)
    fine = _transitions_n(model, xtol=xtol, n_quad=n2, n_grid=n_grid, v_min=v_min)
    err = {}
    for k in _T_MAIN:
        a, b = coarse.scalars[k], fine.scalars[k]
        if math.isnan(a) and math.isnan(b):
            err[k] = 0.0  # absent for this model, in both
        elif math.isfinite(a) and math.isfinite(b):
            err[k] = abs(b - a) + xtol + ROUND * max(1.0, abs(b))
        else:
            err[k] = math.inf
    bad = over_tolerance(err, fine.scalars, tol)
    success, msg = fine.success, fine.message
    if success and bad:
        success = False
        msg = f"error estimate of {', '.join(bad)} above tol = {tol:g}; " + msg
    return TransitionResult(success=success, status=fine.status if not fine.success else
                            (Status.TOLERANCE if bad else Status.CONVERGED), message=msg,
                            n_iter=fine.n_iter, model=model,
                            options=dict(fine.options, n_quad=n, n_quad_refined=n2, tol=tol),
                            conventions=CONVENTIONS, timings={"solve": time.perf_counter() - t0},
                            scalars=fine.scalars, arrays=fine.arrays, error_estimate=err)


def _transitions_n(model: BayesOptimalGLM, *, xtol=1e-9, n_quad=N_QUAD, n_grid=240,
                   v_min=1e-30) -> TransitionResult:
    """Locate spinodals and the first-order transition of a Bayes-optimal GLM in ``alpha``.

    Parameters
    ----------
    model : BayesOptimalGLM
    xtol : float
        Tolerance of the refinements: the extremum of ``alpha(V)`` is located
        in ``log V`` to ``xtol`` (so ``alpha_spinodal`` is exact to
        ``O(xtol**2)``), the transition to ``xtol`` in ``alpha``.
    n_grid : int
        Grid points in ``V`` used to bracket the extrema.
    v_min : float
        Smallest ``V / rho`` scanned.

    Returns
    -------
    TransitionResult
        scalars ``alpha_sp_uninf`` (largest alpha of the low-``q`` stable
        branch, where it disappears), ``alpha_sp_inf`` (smallest alpha of the
        high-``q`` stable branch; 0 if perfect recovery is a fixed point for
        every alpha), ``alpha_c`` (equal free entropy; NaN if no first-order
        transition), ``q_uninf_c``, ``q_inf_c`` (overlaps at the
        transition), ``q_sp_uninf``, ``q_sp_inf`` (overlaps at the spinodals); arrays ``curve_V``, ``curve_alpha``, ``curve_phi``
        (the whole fixed-point curve, stable and unstable parts).
    """
    xtol = check_real("xtol", xtol, low=0.0, low_open=True)
    n_grid = check_int("n_grid", n_grid, low=20, high=100_000)
    t0 = time.perf_counter()
    rho = model.rho
    Vs, al, ext = _branch_segments(model, n_quad, n_grid, v_min)
    extrema = []
    for i in ext:
        lo, hi = math.log(Vs[min(i + 1, len(Vs) - 1)]), math.log(Vs[max(i - 1, 0)])
        sgn = -1.0 if al[i] > al[i - 1] else 1.0  # maximum -> minimise -alpha
        res = minimize_scalar(lambda t: sgn * alpha_of_mmse(model, math.exp(t), n_quad),
                              bounds=(lo, hi), method="bounded",
                              options={"xatol": xtol, "maxiter": 500})
        extrema.append((math.exp(res.x), sgn * res.fun, "max" if sgn < 0 else "min"))
    a_sp_u = math.nan
    a_sp_i = math.nan
    a_c = math.nan
    q_u = q_i = math.nan
    msg = "no spinodal: a single stable branch (no first-order transition)"
    success = True
    maxima = [e for e in extrema if e[2] == "max"]
    minima = [e for e in extrema if e[2] == "min"]
    if maxima:
        V_sp, a_sp_u, _ = maxima[0]
        if minima:
            V_sp2, a_sp_i, _ = minima[-1]
            hi_lo, hi_hi = 0.0, V_sp2          # informed stable branch V in (0, V_sp2)
        elif model.perfect_branch:
            a_sp_i = 0.0
            V_sp2 = 0.0
        else:
            V_sp2 = None
            msg = (f"the uninformed branch ends at a spinodal but no informed branch was found "
                   f"down to V = {v_min:g} rho")
        # Phi on the uninformed (stable) branch at a given alpha
        def V_on(alpha, lo, hi):
            return brentq(lambda V: alpha_of_mmse(model, V, n_quad) - alpha, lo, hi, xtol=1e-15,
                          rtol=1e-14, maxiter=200)

        def dphi(alpha):
            Vu = V_on(alpha, V_sp, rho * (1.0 - 1e-12))
            phi_u = free_entropy_at(model, Vu, n_quad)[1]
            if V_sp2 == 0.0:
                phi_i = model.prior.psi_minus(math.inf, n_quad) + alpha * model.channel.mean_loglik(rho, n_quad)
            else:
                Vi = V_on(alpha, rho * v_min, V_sp2)
                phi_i = free_entropy_at(model, Vi, n_quad)[1]
            return phi_u - phi_i

        if V_sp2 is not None:
            lo = max(a_sp_i, 1e-8) if math.isfinite(a_sp_i) else 1e-8
            try:
                f_lo, f_hi = dphi(lo * (1 + 1e-9) if lo > 1e-8 else lo), dphi(a_sp_u * (1 - 1e-12))
                if f_lo > 0.0 > f_hi:
                    a_c = brentq(dphi, lo * (1 + 1e-9) if lo > 1e-8 else lo, a_sp_u * (1 - 1e-12),
                                 xtol=xtol, rtol=1e-15, maxiter=200)
                    q_u = rho - V_on(a_c, V_sp, rho * (1.0 - 1e-12))
                    q_i = rho if V_sp2 == 0.0 else rho - V_on(a_c, rho * v_min, V_sp2)
                    msg = "first-order transition located"
                else:
                    msg = "spinodal(s) found but no sign change of the free-entropy difference"
            except ValueError as exc:  # pragma: no cover - bracketing failures are data
                success, msg = False, f"transition search failed: {exc}"
    curve_phi = np.array([free_entropy_at(model, V, n_quad)[1] for V in Vs])
    q_sp_u = rho - maxima[0][0] if maxima else math.nan
    q_sp_i = (rho - minima[-1][0] if minima else (rho if maxima and model.perfect_branch else math.nan))
    scalars = {"alpha_sp_uninf": a_sp_u, "alpha_sp_inf": a_sp_i, "alpha_c": a_c,
               "q_uninf_c": q_u, "q_inf_c": q_i, "q_sp_uninf": q_sp_u, "q_sp_inf": q_sp_i,
               "xtol": xtol}
    return TransitionResult(success=success, status=Status.CONVERGED if success else Status.NO_SOLUTION,
                            message=msg, n_iter=len(Vs), model=model,
                            options={"xtol": xtol, "n_quad": n_quad, "n_grid": n_grid, "v_min": v_min},
                            conventions=CONVENTIONS, timings={"solve": time.perf_counter() - t0},
                            scalars=scalars,
                            arrays={"curve_V": Vs, "curve_alpha": al, "curve_phi": curve_phi})

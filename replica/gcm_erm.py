"""Convex ERM and Bayes-optimal estimation on the Gaussian covariate model: spectral saddle points.

The Gaussian covariate model (GCM) of Loureiro, Gerbelot, Cui, Goldt,
Krzakala, Mézard & Zdeborová, "Learning curves of generic features maps for
realistic datasets with a teacher-student model", NeurIPS 2021 (arXiv
2102.08127), in the spectral form pinned for the package (the student
covariance ``Omega`` diagonal in its eigenbasis):

* student features ``v_i ~ N(0, omega_i)``, independent, ``i = 1..p``;
* teacher pre-activation ``nu = (1/sqrt p) sum_i theta_i v_i + sqrt(rho_perp) xi``;
  the teacher's second moment is ``rho = rho_par + rho_perp`` with
  ``rho_par = (1/p) sum_i omega_i theta_i**2``;
* labels ``y ~ P(y | nu)`` (a channel of :mod:`replica.blocks`);
* estimator ``w_hat = argmin_w sum_mu l(y_mu, w.v_mu/sqrt p) + (lambda/2)|w|**2``,
  ``alpha = n/p``;
* overlaps ``m = (1/p) sum_i theta_i omega_i w_i``, ``q = (1/p) sum_i omega_i w_i**2``
  (``m = E[nu h]``, ``q = E[h**2]`` for ``h = w.v/sqrt p``).

Replica-symmetric equations (Loureiro et al. 2021, Theorem 1, with the
``l2`` penalty; derived here in this convention).  The channel side is the
one of isotropic ERM (Aubin et al., NeurIPS 2020, eq. 12) with the teacher
second moment ``rho`` (``rho_perp`` included): with ``omega = sqrt(q) xi``,
``omega0 = m xi/sqrt(q)``, ``V0 = rho - m**2/q``, ``Z0(y, omega0, V0) = E P(y |
omega0 + sqrt(V0) z)`` and ``f_out = (prox_{V l(y,.)}(omega) - omega)/V``,

    (G1)  mhat = alpha E_xi sum_y d_omega0 Z0 f_out
    (G2)  qhat = alpha E_xi sum_y Z0 f_out**2
    (G3)  Vhat = -alpha E_xi sum_y Z0 d_omega f_out

(:func:`replica.erm.channel_hats`, the same integrals and rules as
:func:`replica.erm.solve_erm`).  The prior side follows from the effective
scalar problem of mode ``i``, ``w_i = argmin (lambda + Vhat omega_i) w**2/2 -
(mhat omega_i theta_i + sqrt(qhat omega_i) g) w`` with ``g ~ N(0, 1)``:

    (G4)  V = (1/p) sum_i omega_i / (lambda + Vhat omega_i)
    (G5)  m = (1/p) sum_i mhat omega_i**2 theta_i**2 / (lambda + Vhat omega_i)
    (G6)  q = (1/p) sum_i [mhat**2 omega_i**3 theta_i**2 + qhat omega_i**2] / (lambda + Vhat omega_i)**2

(Loureiro et al. write them as traces, ``V = tr[Omega (lambda + Vhat
Omega)^-1]/p`` and ``m``, ``q`` through the cross-covariance ``Phi^T theta0``,
which is proportional to ``Omega theta`` in this convention: ``theta`` is the
regression of ``nu`` on ``v``; in Omega's eigenbasis the traces are these sums).  With ``omega_i = 1``,
``theta_i**2 = rho``, ``rho_perp = 0`` they are :func:`replica.erm.solve_erm`'s
``V = 1/(lambda + Vhat)``, ``m = rho mhat V``, ``q = (rho mhat**2 + qhat) V**2``.
Observables as :mod:`replica.erm`: the channel's
:meth:`~lmech.blocks.channels.Channel.test_error` at ``(m, q, rho)`` (for a
linear teacher the excess error ``rho + q - 2m``, which includes
``rho_perp``: no student feature sees it), the training loss
``E l(y, prox)`` and, for classification, the training error.

Rescaling ``omega -> c omega``, ``theta**2 -> theta**2/c``, ``lambda -> c
lambda`` leaves the teacher and the predictor (hence ``m, q, V`` and every
observable) unchanged; modes with equal ``omega`` are merged exactly.

Bayes-optimal estimation (:func:`solve_spectral_bayes`) is the matched case
with a Gaussian teacher ``theta_i ~ N(0, theta2_i)`` independently: see its
docstring.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np
from numba import njit

from lmech.checks import check_array, check_int, check_real
from lmech.status import Status
from lmech.warm import register_warmup

from .blocks import Channel, Gaussian, get_channel
from .erm import ERM, N_QUAD_MAX, channel_hats, error_keys, saddle_observables
from .fixedpoint import iterate

__all__ = ["solve_spectral", "solve_spectral_bayes"]

CONVENTIONS = {
    "data": "student features v_i ~ N(0, omega_i) in Omega's eigenbasis; h = w.v / sqrt(p); alpha = n / p",
    "teacher": "nu = (1/sqrt p) sum_i theta_i v_i + sqrt(rho_perp) xi; rho = (1/p) sum_i omega_i theta_i^2 "
               "+ rho_perp",
    "penalty": "(lambda / 2) |w|^2 added to the sum (not mean) of the losses",
    "overlaps": "m = (1/p) sum_i theta_i omega_i w_i, q = (1/p) sum_i omega_i w_i^2",
    "errors": "as replica.ERM: Channel.test_error(m, q, rho), rho including rho_perp",
}


# ---------------------------------------------------------------------------
# the spectrum: validated once, equal eigenvalues merged, the weights of the sums (G4)-(G6)
# ---------------------------------------------------------------------------
def _spectrum(omega, theta2, rho_perp):
    omega = check_array("omega", omega, ndim=1, min_size=1)
    theta2 = check_array("theta2", theta2, ndim=1, min_size=1)
    if theta2.shape != omega.shape:
        raise ValueError(f"theta2 must have the shape of omega {omega.shape}, got {theta2.shape}")
    if not np.all(omega > 0.0):
        raise ValueError(f"omega must lie in (0, inf) (student eigenvalues), got min {float(omega.min())!r}")
    if not np.all(theta2 >= 0.0):
        raise ValueError(f"theta2 must lie in [0, inf) (squared teacher projections), got min "
                         f"{float(theta2.min())!r}")
    rho_perp = check_real("rho_perp", rho_perp, low=0.0)
    if not math.isfinite(rho_perp):
        raise ValueError(f"rho_perp must lie in [0, inf), got {rho_perp!r}")
    p = omega.size
    d = np.diff(omega)
    if p > 1 and not (np.all(d > 0.0) or np.all(d < 0.0)):
        # merge equal eigenvalues exactly (a sort: only where the spectrum is not strictly monotone)
        u, inv = np.unique(omega, return_inverse=True)
        cnt = np.bincount(inv, minlength=u.size).astype(float)
        t2 = np.bincount(inv, weights=theta2, minlength=u.size)
    else:
        u, cnt, t2 = omega, np.ones(p), theta2
    rho_par = float(np.add.reduce(u * t2)) / p  # (not BLAS: its threads stall on a loaded machine)
    rho = rho_par + rho_perp
    if not rho > 0.0:
        raise ValueError("theta2, rho_perp: the teacher has zero power (rho = (1/p) sum omega theta2 + rho_perp "
                         "must be > 0)")
    return {"u": np.ascontiguousarray(u), "cnt": np.ascontiguousarray(cnt), "t2u": np.ascontiguousarray(t2 * u),
            "p": p, "p_eff": u.size, "rho_par": rho_par, "rho": rho, "rho_perp": rho_perp}


@njit(cache=True)
def _add(s, c, x):
    """Neumaier's compensated addition: ``(s, c) + x`` with the running correction ``c``."""
    t = s + x
    if abs(s) >= abs(x):
        c += (s - t) + x
    else:
        c += (x - t) + s
    return t, c


@njit(cache=True)
def spectral_sums(u, cnt, t2u, lam, vh):
    """``(1/p) sum`` of ``omega/D, theta2 omega**2/D, theta2 omega**3/D**2, omega**2/D**2``,
    ``D = lam + vh omega``: the sums of (G4)-(G6) in one pass over the distinct eigenvalues ``u``
    (multiplicities ``cnt``, ``t2u = u * sum theta2`` per eigenvalue; ``p = sum cnt``).

    Blocks of 64 terms summed directly, the block sums added with Neumaier's compensation, so
    that the relative error stays ~64 ulp (of the sum of magnitudes: all terms are positive)
    at any ``p`` (naive summation over 1e5 power-law modes loses 2e-13)."""
    n = u.shape[0]
    S = np.zeros(5)
    C = np.zeros(5)
    i = 0
    while i < n:
        e = min(i + 64, n)
        a0 = b0 = c0 = d0 = p0 = 0.0
        for j in range(i, e):
            x = u[j] / (lam + vh * u[j])
            bx = t2u[j] * x
            a0 += cnt[j] * x
            b0 += bx
            c0 += bx * x
            d0 += cnt[j] * x * x
            p0 += cnt[j]
        S[0], C[0] = _add(S[0], C[0], a0)
        S[1], C[1] = _add(S[1], C[1], b0)
        S[2], C[2] = _add(S[2], C[2], c0)
        S[3], C[3] = _add(S[3], C[3], d0)
        S[4], C[4] = _add(S[4], C[4], p0)
        i = e
    p = S[4] + C[4]
    return (S[0] + C[0]) / p, (S[1] + C[1]) / p, (S[2] + C[2]) / p, (S[3] + C[3]) / p


def _prior(sp, lam, mh, qh, vh):
    """``(m, q, V)`` of (G4)-(G6) from the hats: one pass over the (merged) modes."""
    s0, s1, s2, s3 = spectral_sums(sp["u"], sp["cnt"], sp["t2u"], lam, vh)
    return mh * s1, mh * mh * s2 + qh * s3, s0


@register_warmup("replica.gcm_erm")
def warmup():
    """Compile the spectral sums once."""
    one = np.ones(2)
    spectral_sums(one, one, one, 1.0, 1.0)


def _residual(x, fx):
    return float(np.max(np.abs(fx - x) / np.maximum(np.maximum(np.abs(x), np.abs(fx)), 1e-300)))


# ---------------------------------------------------------------------------
# Newton on the fixed point in the variables y = (atanh(m / sqrt(rho q)), log q, log V)
# ---------------------------------------------------------------------------
def _to_y(x, sr):
    """``(atanh(m/sqrt(rho q)), log q, log V)`` (``sr = sqrt(rho)``), or ``None`` outside the domain."""
    m, q, V = x
    if not (q > 0.0 and V > 0.0 and math.isfinite(q) and math.isfinite(V)):
        return None
    r = m / (sr * math.sqrt(q))
    if not (abs(r) < 1.0):
        return None
    return np.array([math.atanh(r), math.log(q), math.log(V)])


def _from_y(y, sr):
    q = math.exp(y[1])
    return np.array([math.tanh(y[0]) * sr * math.sqrt(q), q, math.exp(y[2])])


def _dy_dx(x, sr):
    """Jacobian ``d y / d x`` of :func:`_to_y` at ``x = (m, q, V)``."""
    m, q, V = x
    r = m / (sr * math.sqrt(q))
    c = 1.0 / (1.0 - r * r)
    return np.array([[c / (sr * math.sqrt(q)), -0.5 * r * c / q, 0.0],
                     [0.0, 1.0 / q, 0.0],
                     [0.0, 0.0, 1.0 / V]])


def _estimate(Fh, obs, x, n, sr, keys, rtol):
    """Error estimate of a converged ``x = F_n(x)`` and of its observables: :func:`replica.erm.refinement_error`'s
    rule, on the map in the variables ``y`` of :func:`_newton`.

    One Newton step for the refined map (``2 n`` nodes per panel) from
    ``y = T(x)``, ``dy = -J^-1 G_2n(y)``, gathers the quadrature error
    (``G_2n - G_n``) and the fixed-point residual (``G_n(y)``); the estimate of
    each observable is twice its move, ``2 |obs_2n(y) + (d obs/dy) dy -
    obs_n(y)|``, plus the rounding noise of the map (the deviation of ``G``
    from its linearisation under a perturbation of ``1e-11``, at least 256
    ulp) propagated through ``J^-1``, plus 4 ulp of the value.  ``J = dG/dy``
    and ``d obs/dy`` by forward differences with ``n`` nodes: in ``y`` the
    map is close to affine (where the map in ``(m, q, V)`` is strongly curved
    at small ``lambda``), and only ``O(1)`` relative accuracy of the move is
    needed.  ``ok`` when every estimate is within ``rtol (|obs| + sum_j |d
    obs/d x_j| |x_j|)`` (the image of a relative ``rtol`` on ``m, q, V``;
    absolute floor ``1e-15``), as :func:`replica.erm.solve_erm`.  Cost: five
    evaluations of the map with ``n`` nodes and one with ``2 n``.
    Returns ``(error_estimate, ok, info)`` as :func:`replica.erm.refinement_error`.
    """
    eps = np.finfo(float).eps
    d = len(keys)
    fail = ({k: math.nan for k in keys}, False, {"needed": math.nan, "refine": False})

    def ev(y, nn, with_obs=True):
        xv = _from_y(y, sr)
        fx, hats = Fh(xv, nn)
        if not np.all(np.isfinite(fx)):
            return None
        ty = _to_y(fx, sr)
        if ty is None:
            return None
        if not with_obs:
            return ty - y, None
        sc = obs(xv, hats, nn)
        return ty - y, np.array([sc[k] for k in keys], float)

    y = _to_y(np.asarray(x, float), sr)
    if y is None:
        return fail
    e0, e2 = ev(y, n), ev(y, 2 * n)
    if e0 is None or e2 is None:
        return fail
    (g0, ob0), (g2, ob2) = e0, e2
    J = np.empty((3, 3))
    Gy = np.empty((d, 3))
    for j in range(3):
        h = 1e-7 * max(1.0, abs(y[j]))
        yp = y.copy()
        yp[j] += h
        e = ev(yp, n)
        if e is None:
            yp[j] = y[j] - h
            h = -h
            e = ev(yp, n)
            if e is None:
                return fail
        J[:, j] = (e[0] - g0) / h
        Gy[:, j] = (e[1] - ob0) / h
    try:
        Ji = np.linalg.inv(J)
    except np.linalg.LinAlgError:
        return fail
    if not np.all(np.isfinite(Ji)):
        return fail
    dy = -Ji @ g2
    ref = ob2 + Gy @ dy
    # rounding noise of the map, measured along one perturbation
    dp = 1e-11 * np.maximum(1.0, np.abs(y)) * np.array([1.0, -1.0, 1.0])
    fnoise = np.full(3, 256.0 * eps)
    ep = ev(y + dp, n, with_obs=False)
    if ep is not None:
        fnoise = np.maximum(fnoise, np.abs(ep[0] - g0 - J @ dp))
    noise = np.abs(Gy) @ (np.abs(Ji) @ fnoise)
    est = 2.0 * np.abs(ref - ob0) + noise + 4.0 * eps * np.abs(ob0)
    Gx = Gy @ _dy_dx(x, sr)
    tol = np.maximum(rtol * (np.abs(ob0) + np.abs(Gx) @ np.abs(np.asarray(x, float))), 1e-15)
    err = {k: float(e) for k, e in zip(keys, est)}
    ok = bool(np.all(np.isfinite(est)) and np.all(est <= tol))
    needed = float(rtol * np.max(est / tol)) if np.all(np.isfinite(est)) else math.nan
    quad = 2.0 * np.abs(Gy @ (Ji @ (g2 - g0)))
    return err, ok, {"needed": needed, "refine": bool(np.any(quad > 0.1 * tol))}


def _newton(F, x0, rho, *, rtol, max_iter, accept=0.0):
    """Damped Newton on ``G(y) = T(F(T^-1 y)) - y`` with a forward-difference Jacobian.

    ``T(m, q, V) = (atanh(m/sqrt(rho q)), log q, log V)`` maps the domain
    ``|m| < sqrt(rho q)``, ``q, V > 0`` onto R^3, and in these variables the
    map is close to affine over decades of ``q`` and ``V`` (small ``lambda``,
    strongly anisotropic spectra), where a damped or Anderson iteration on
    ``(m, q, V)`` contracts by ``1 - O(lambda V)`` per step.  Backtracking on
    ``max |G|``.  Returns ``(x, fx, converged, n_iter, n_eval, message)`` with
    ``x = F(x_prev)`` the last map value (its residual is ``res(x_prev, fx)``).
    Where no descent is left with a fresh Jacobian and the residual is below
    ``accept``, the rounding floor of the map is reached: converged.
    """
    sr = math.sqrt(rho)
    ne = [0]

    T = lambda x: _to_y(x, sr)  # noqa: E731
    Ti = lambda y: _from_y(y, sr)  # noqa: E731

    def ev(y):
        """``(G(y), x, F(x))`` or ``None`` where the map leaves the domain."""
        x = Ti(y)
        if not np.all(np.isfinite(x)):
            return None
        ne[0] += 1
        fx = np.asarray(F(x), float)
        if not np.all(np.isfinite(fx)):
            return None
        ty = T(fx)
        if ty is None:
            return None
        return ty - y, x, fx

    y = T(np.asarray(x0, float))
    if y is None:
        return x0, x0, False, 0, 0, "the starting point is outside the domain |m| < sqrt(rho q), q, V > 0"
    cur = ev(y)
    if cur is None:
        return x0, x0, False, 0, ne[0], "the map left the domain at the starting point"
    def jacobian(y, g):
        J = np.empty((3, 3))
        for j in range(3):
            h = 1e-7 * max(1.0, abs(y[j]))
            yp = y.copy()
            yp[j] += h
            e = ev(yp)
            if e is None:
                yp[j] = y[j] - h
                h = -h
                e = ev(yp)
                if e is None:
                    return None
            J[:, j] = (e[0] - g) / h
        return J

    J, fresh = None, False
    for it in range(1, max_iter + 1):
        g, x, fx = cur
        res = _residual(x, fx)
        if res <= rtol:
            return fx, fx, True, it, ne[0], f"converged (relative residual {res:.2e})"
        if J is None:
            J = jacobian(y, g)
            if J is None:
                return x, fx, False, it, ne[0], "the map left its domain next to the iterate"
            fresh = True
        try:
            dy = np.linalg.solve(J, -g)
        except np.linalg.LinAlgError:
            dy = np.full(3, math.nan)
        if not np.all(np.isfinite(dy)):
            if fresh:
                return x, fx, False, it, ne[0], "singular Jacobian of the fixed-point equations"
            J = None
            continue
        # cap the step: at most a factor e^3 in q or V, 3 in atanh R, per iteration
        big = float(np.max(np.abs(dy)))
        if big > 3.0:
            dy *= 3.0 / big
        g0 = res  # merit: the relative fixed-point residual in (m, q, V)
        # a Broyden-updated Jacobian gets the full step only; a fresh one a backtracking search
        s = 1.0
        nxt = None
        while s >= (1.0 / 1024 if fresh else 1.0):
            e = ev(y + s * dy)
            if e is not None and _residual(e[1], e[2]) < (1.0 - 1e-4 * s) * g0:
                nxt = e
                break
            s *= 0.5
        if nxt is None:
            if fresh and res <= accept:
                # no descent left at the rounding floor of the map: converged as far as it can be
                return fx, fx, True, it, ne[0], f"converged to the rounding floor (relative residual {res:.2e})"
            if fresh:
                return x, fx, False, it, ne[0], f"Newton line search failed (relative residual {res:.2e})"
            J = None  # the secant model went stale: a new finite-difference Jacobian
            continue
        step = s * dy
        # good Broyden update of J (Broyden, Math. Comp. 19, 577 (1965)): J s = G(y + s) - G(y)
        J = J + np.outer(nxt[0] - g - J @ step, step) / float(step @ step)
        fresh = False
        y = y + step
        cur = nxt
    g, x, fx = cur
    res = _residual(x, fx)
    return x, fx, False, max_iter, ne[0], f"max_iter={max_iter} Newton steps reached (relative residual {res:.2e})"


def _default_init(sp, lam, alpha):
    rho = sp["rho"]
    vh = min(alpha, 1.0)
    V = spectral_sums(sp["u"], sp["cnt"], sp["t2u"], lam, vh)[0]
    return np.array([0.5 * rho, 0.5 * rho, V])


def _init_point(init, sp, lam, alpha):
    if init is None:
        return _default_init(sp, lam, alpha)
    if hasattr(init, "scalars") and not isinstance(init, Mapping):  # a previous lmech.Result
        init = init.scalars
    if not isinstance(init, Mapping):
        raise ValueError(f"init must be None, a mapping with keys m, q, V or a previous result, got {init!r}")
    missing = [k for k in ("m", "q", "V") if k not in init]
    if missing:
        raise ValueError(f"init: a mapping needs the keys m, q, V; missing {', '.join(missing)}")
    x0 = np.array([check_real("init['m']", init["m"]), check_real("init['q']", init["q"]),
                   check_real("init['V']", init["V"])])
    if not (np.all(np.isfinite(x0)) and x0[1] > 0.0 and x0[2] > 0.0 and x0[0] ** 2 < sp["rho"] * x0[1]):
        return _default_init(sp, lam, alpha)  # e.g. a failed previous point: start afresh
    return x0




def solve_spectral(omega, theta2, rho_perp, alpha, reg, loss, channel, *, rtol=1e-10, max_iter=100,
                   n_quad=12, init=None) -> dict:
    """Replica saddle point of convex ERM with L2 penalty on the Gaussian covariate model, in spectral form.

    Solves (G1)-(G6) of the module docstring (Loureiro et al., NeurIPS 2021,
    Theorem 1 with the ``l2`` penalty, in the package's spectral convention).

    Parameters
    ----------
    omega : array (p,)
        Student eigenvalues ``omega_i > 0``.
    theta2 : array (p,)
        Squared teacher projections ``theta_i**2 >= 0`` (teacher power of mode
        ``i``: ``omega_i theta_i**2 / p``).
    rho_perp : float
        Teacher power no student feature sees (``>= 0``); it acts as noise.
    alpha : float
        ``n / p > 0``.
    reg : float
        ``lambda > 0`` (penalty ``lambda |w|**2 / 2``).  ``lambda = 0``
        (interpolators, max-margin) is not handled here.
    loss : str or lmech.blocks.losses.Loss
        Any loss :class:`replica.ERM` accepts: square, logistic, hinge,
        squared hinge, Huber (a regression loss on a linear channel), a
        :class:`~lmech.blocks.losses.ProxLoss` or a
        :class:`~lmech.blocks.losses.Convex` loss (slow: NumPy prox).
    channel : str or Channel
        ``linear`` (with noise variance ``delta``), ``sign``, ``label-flip``,
        ``probit`` (a :mod:`replica.blocks` or :mod:`lmech.blocks.channels`
        channel, or its name).
    rtol : float
        Relative tolerance of the fixed point and of the error estimate.
    max_iter : int
        Newton steps allowed (each costs four evaluations of the channel
        integrals plus its line search); the Anderson fallback
        (:func:`replica.fixedpoint.iterate`) gets ``20 max_iter`` iterations.
    n_quad : int
        Gauss–Legendre nodes per panel of the channel integrals (doubled,
        up to ``replica.erm.N_QUAD_MAX``, until the error estimate meets ``rtol``).
    init : None, mapping with keys ``m, q, V``, or a previous result
        Starting point (warm start; a dict returned by this function, or an
        :class:`lmech.Result` whose scalars hold ``m, q, V``).  A state outside
        the domain (``m**2 < rho q``, ``q, V > 0``) falls back to the default.

    Returns
    -------
    dict
        ``m, q, V, mhat, qhat, Vhat, test_error, test_error_noisy,
        train_loss`` (and ``train_error`` for classification), ``rho``,
        ``rho_par``; ``error_estimate`` (dict of estimated absolute errors of
        ``m, q, V, test_error, train_loss`` [, ``train_error``]), ``status``
        (:class:`lmech.Status`), ``success``, ``n_iter`` (Newton steps plus
        fallback iterations), ``n_eval`` (evaluations of the map, error
        estimate excluded), ``residual`` (relative fixed-point increment at
        the returned state), ``message``, ``n_quad`` (the rule used),
        ``time`` (seconds), ``conventions``.

    Notes
    -----
    The fixed point is found by Newton's method in ``y = (atanh(m/sqrt(rho
    q)), log q, log V)`` (a forward-difference Jacobian, then good Broyden
    updates; a fresh Jacobian with backtracking where a secant step fails),
    iterated to ``rtol/100``; if Newton fails, by the same Newton along a
    continuation in ``lambda`` (from ``1e6 lambda`` down by factors of 10,
    shrunk where a stage fails), and then by Anderson-accelerated damped
    iteration (:func:`replica.fixedpoint.iterate`).  The error estimate is
    the rule of :func:`replica.erm.solve_erm` (one Newton step of the map
    with twice the nodes per panel from the converged state, gathering
    quadrature error and residual, plus the measured
    rounding noise of the map, the spectral sums included).  ``success``
    (``status = Status.CONVERGED``) requires every estimate within ``rtol``
    relative to the observable (and its sensitivity to ``(m, q, V)``,
    absolute floor ``1e-15``), so with the defaults a successful result is
    right to about ``1e-10`` relative in ``m, q, V``.  Failures are returned,
    not raised: ``Status.MAX_ITER``, ``DIVERGED`` (the map left its domain:
    no curvature left, ``lambda + Vhat omega -> 0``), ``TOLERANCE`` (the
    estimate stays above ``rtol`` at the finest rule).  Cost per map
    evaluation: one channel integral (``~0.1 ms`` hinge, ``~1 ms``
    logistic) plus one pass over the distinct eigenvalues.
    """
    t0 = time.perf_counter()
    sp = _spectrum(omega, theta2, rho_perp)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    reg = check_real("reg", reg, low=0.0, low_open=True)
    if not (math.isfinite(alpha) and math.isfinite(reg)):
        raise ValueError("alpha, reg must be finite")
    rtol = check_real("rtol", rtol, low=0.0, high=1.0, low_open=True, high_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    n_quad = check_int("n_quad", n_quad, low=4, high=N_QUAD_MAX)
    if isinstance(channel, str) or not isinstance(channel, Channel):
        try:
            channel = get_channel(channel)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"channel: {exc}") from None
    # the channel side of the GCM is the isotropic ERM's with the teacher second moment rho:
    # an ERM model carrying (loss, channel, rho) validates the pair and evaluates (G1)-(G3)
    twin = ERM(loss=loss, reg=reg, teacher_prior=Gaussian(rho=sp["rho"]), channel=channel)
    x0 = _init_point(init, sp, reg, alpha)
    rho = sp["rho"]
    keys = error_keys(twin)
    square_linear = twin.loss.name == "square" and not twin.classification

    umax = float(sp["u"].max())

    def Fh(x, n, lam=reg):
        hats = channel_hats(twin, alpha, x[0], x[1], x[2], n)
        if not (hats[2] > -lam / umax):  # lambda + Vhat omega_i <= 0 for some mode: no curvature left
            return np.full(3, math.nan), hats
        return np.array(_prior(sp, lam, *hats[:3])), hats

    def continuation(nn, rt):
        """Newton along lambda_k = reg * r^k down to reg (r = 10, shrunk to sqrt(r) where a stage
        fails), each stage warm-started from the previous one: for small lambda, where Newton
        from the default start creeps (the fixed point is decades away in q)."""
        lam, r = reg * 1e6, 10.0
        z = _default_init(sp, lam, alpha)
        n_it = n_ev = 0
        first = True
        while True:
            target = max(lam, reg)
            last = target == reg
            zz, fz, ok_z, it_z, ne_z, msg = _newton(lambda w: Fh(w, nn, target)[0], z, rho,
                                                   rtol=rt if last else 1e-6, max_iter=max_iter,
                                                   accept=rtol if last else 1e-5)
            n_it += it_z
            n_ev += ne_z
            if ok_z:
                if last:
                    return fz, True, n_it, n_ev, msg
                z, first = fz, False
                lam = target / r
            elif first:
                lam *= 10.0  # not even the first stage: start further up
                z = _default_init(sp, lam, alpha)
                if lam > reg * 1e12:
                    return zz, False, n_it, n_ev, msg
            else:
                lam = lam * r  # back to the last solved lambda...
                r = math.sqrt(r)
                lam /= r  # ...and a smaller step
                if r < 1.01:
                    return zz, False, n_it, n_ev, msg

    nq = n_quad
    n_iter = n_eval = 0
    rtol_it = 1e-2 * rtol
    x = x0
    while True:
        F = lambda z: Fh(z, nq)[0]  # noqa: E731
        xn, fx, ok_it, it, ne, message = _newton(F, x, rho, rtol=rtol_it, max_iter=max_iter, accept=rtol)
        n_iter += it
        n_eval += ne
        if not ok_it:
            # first fallback: continuation in lambda from 1e6 lambda down
            xc, okc, itc, nec, msgc = continuation(nq, rtol_it)
            n_iter += itc
            n_eval += nec
            if okc:
                xn, fx, ok_it = xc, xc, True
                message = f"Newton from the start failed; continuation in lambda {msgc}"
        if not ok_it:
            # last fallback: Anderson-accelerated damped iteration from the best point reached
            start = xn if (np.all(np.isfinite(xn)) and xn[1] > 0 and xn[2] > 0 and xn[0] ** 2 < rho * xn[1]) else x0

            def valid(z):
                return bool(np.all(np.isfinite(z))) and z[1] > 0.0 and z[2] > 0.0 and z[0] * z[0] <= rho * z[1]

            out = iterate(F, start, valid=valid, rtol=rtol_it, max_iter=20 * max_iter, newton=True)
            n_iter += out.n_iter
            n_eval += out.n_iter
            if not out.success:
                status = out.status
                x = out.x
                message = f"Newton: {message}; Anderson fallback: {out.message}"
                err = {k: math.nan for k in keys}
                break
            fx = out.x
            message = f"Newton failed ({message}); Anderson fallback {out.message}"
        x = fx
        err, ok, info = _estimate(Fh, lambda z, hats, nn: saddle_observables(twin, alpha, z[0], z[1], z[2], hats, nn),
                                  x, nq, math.sqrt(rho), keys, rtol)
        if ok:
            status = Status.CONVERGED
            break
        if info.get("refine") and 2 * nq <= N_QUAD_MAX and not square_linear:
            nq *= 2
        elif rtol_it > 1e-4 * rtol:
            rtol_it *= 1e-2
        else:
            status = Status.TOLERANCE
            message = (f"error estimate above rtol={rtol:g} with n_quad={nq} (it would meet rtol="
                       f"{info.get('needed', math.nan):.1e}): " + ", ".join(f"{k}={v:.1e}" for k, v in err.items()))
            break
    m, q, V = (float(v) for v in x)
    out = {"m": m, "q": q, "V": V}
    good = bool(np.all(np.isfinite(x))) and q > 0.0 and V > 0.0
    if good:
        hats = channel_hats(twin, alpha, m, q, V, nq)
        sc = saddle_observables(twin, alpha, m, q, V, hats, nq)
        fx = np.array(_prior(sp, reg, *hats[:3]))
        residual = _residual(x, fx) if np.all(np.isfinite(fx)) else math.nan
        out.update({k: float(v) for k, v in sc.items() if k not in ("alpha", "reg")})
    else:
        residual = math.nan
        if status == Status.CONVERGED:
            status = Status.INVALID_STATE
        for k in ("mhat", "qhat", "Vhat", "test_error", "train_loss"):
            out[k] = math.nan
    if status == Status.MAX_ITER and good and q > 1e8 * rho:
        message = "the norm of the estimator grows without bound (lambda too small?): " + message
    out.update({"alpha": alpha, "reg": reg, "rho": rho, "rho_par": sp["rho_par"], "rho_perp": sp["rho_perp"],
                "error_estimate": err, "status": Status(status), "success": status == Status.CONVERGED,
                "n_iter": n_iter, "n_eval": n_eval, "residual": residual, "message": message, "n_quad": nq,
                "p": sp["p"], "time": time.perf_counter() - t0, "conventions": CONVENTIONS})
    return out


# ---------------------------------------------------------------------------
# Bayes-optimal estimation on the GCM (matched Gaussian prior)
# ---------------------------------------------------------------------------
def solve_spectral_bayes(omega, theta2, rho_perp, alpha, channel, *, rtol=1e-10, max_iter=10_000,
                         n_quad=None, tol=1e-8) -> dict:
    """Bayes-optimal estimation on the GCM: teacher ``theta_i ~ N(0, theta2_i)`` independently, known.

    The statistician knows the spectrum, the prior variances ``theta2_i`` of
    the teacher's coordinates in the student eigenbasis, ``rho_perp`` and the
    channel, and computes the posterior mean of ``nu``.  The part of the
    teacher no student feature sees enters the likelihood as Gaussian noise of
    variance ``rho_perp`` on ``nu_par = (1/sqrt p) theta.v``; so the channel
    side is the isotropic one (Barbier et al., PNAS 116, 5451 (2019), eq. 16)
    at the teacher second moment ``rho = rho_par + rho_perp`` and overlap
    ``q = E[<nu> nu]``, and the Gaussian prior of mode ``i`` observed through
    ``B_i = qhat omega_i theta_i + sqrt(qhat omega_i) g`` gives the prior side
    (Nishimori: ``m = q``, ``mhat = qhat = Vhat``; the ``l2`` formulas (G4)-(G6)
    of the module docstring with ``lambda_i = 1/theta2_i`` per mode):

        (B1)  qhat = alpha E_xi int dy Z_out g_out**2     at (q, rho, V = rho - q)
        (B2)  V = rho - q = rho_perp + (1/p) sum_i omega_i theta2_i / (1 + qhat omega_i theta2_i)

    With ``omega_i = 1``, ``theta2_i = rho``, ``rho_perp = 0`` this is
    :class:`replica.BayesOptimalGLM` with a Gaussian prior of variance
    ``rho``; on a linear channel with noise ``Delta`` and constant
    ``theta2_i = s`` the posterior mean is ridge regression with ``lambda =
    Delta/s`` (:func:`solve_spectral` with the square loss reproduces it,
    with ``m = q``).  (A general teacher prior, or a teacher whose
    coordinates are correlated in the student eigenbasis, is not
    covered: the prior side would not be a sum of scalar Gaussian channels.)

    Solved as the scalar fixed point (B2) in ``V`` by
    :func:`replica.fixedpoint.iterate` from the uninformed point ``V = rho``.
    Error estimate (as :func:`replica.bayes.solve_bayes`): ``err(V) = (|F_n(V)
    - V| + |F_2n(V) - F_n(V)|) / |1 - L|`` with the slope ``L`` of the map,
    propagated to ``q`` and the test error; ``n_quad`` (default the channel's
    :data:`replica.blocks.N_QUAD`) doubles up to 300 until the estimate meets
    ``tol * max(1, |value|)``.

    Returns
    -------
    dict
        ``q, m (= q), V (= rho - q), qhat, test_error`` (the Bayes error:
        :meth:`Channel.test_error` at ``(q, q, rho)``), ``rho``, ``rho_par``,
        ``error_estimate`` (``q, V, test_error``), ``status``, ``success``,
        ``n_iter``, ``residual``, ``message``, ``n_quad``, ``time``.
    """
    from .blocks import N_QUAD

    t0 = time.perf_counter()
    sp = _spectrum(omega, theta2, rho_perp)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must lie in (0, inf), got {alpha!r}")
    rtol = check_real("rtol", rtol, low=0.0, high=1.0, low_open=True, high_open=True)
    tol = check_real("tol", tol, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    try:
        channel = get_channel(channel)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"channel: {exc}") from None
    n_min = max(8, getattr(channel, "n_min", 2))
    n = check_int("n_quad", N_QUAD if n_quad is None else n_quad, low=n_min, high=300)
    rho, rp = sp["rho"], sp["rho_perp"]
    # (B2): sum omega theta2 / (1 + qhat omega theta2) runs over the modes themselves (theta2 is
    # not summed per eigenvalue here: the prior variance differs between modes of equal omega)
    om = check_array("omega", omega, ndim=1)
    s = check_array("theta2", theta2, ndim=1)
    ws = om * s

    def F(v, nn):
        v = float(v)
        if not (0.0 < v <= rho):
            return math.nan
        qh = alpha * channel.qhat_unit(rho - v, rho, v, nn)
        return rp + float(np.add.reduce(ws / (1.0 + qh * ws))) / sp["p"]

    keys = ("q", "V", "test_error")
    while True:
        out = iterate(lambda x: np.array([F(x[0], n)]), np.array([rho]), valid=lambda x: 0.0 < x[0] <= rho,
                      rtol=1e-2 * rtol, max_iter=max_iter, damping="adaptive", method="anderson", memory=3)
        V = float(out.x[0])
        if not out.success:
            err = {k: math.nan for k in keys}
            status, message = out.status, out.message
            break
        h = 1e-6 * V
        L = (F(min(V + h, rho), n) - F(V - h, n)) / (min(V + h, rho) - V + h)
        f1, f2 = F(V, n), F(V, min(2 * n, 300) if n < 300 else 200)
        gap = abs(1.0 - L)
        eV = (abs(f1 - V) + abs(f2 - f1)) / gap if gap > 0.0 else math.inf
        eV += 64 * np.finfo(float).eps * V
        te = channel.test_error(rho - V, rho - V, rho)
        lo = channel.test_error(rho - V - eV, rho - V - eV, rho) if V + eV < rho else math.nan
        hi = channel.test_error(rho - V + eV, rho - V + eV, rho) if V - eV > 0 else math.nan
        err = {"q": eV, "V": eV, "test_error": max(abs(lo - te), abs(hi - te)) + 4 * np.finfo(float).eps * abs(te)}
        bad = [k for k, e in err.items() if not e <= tol * max(1.0, abs({"q": rho - V, "V": V, "test_error": te}[k]))]
        if not bad:
            status, message = Status.CONVERGED, out.message
            break
        if n >= 300:
            status = Status.TOLERANCE
            message = f"error estimate of {', '.join(bad)} above tol={tol:g} at n_quad={n}"
            break
        n = min(2 * n, 300)
    q = rho - V
    ok = math.isfinite(V) and 0.0 < V <= rho
    qh = alpha * channel.qhat_unit(q, rho, V, n) if ok else math.nan
    fV = F(V, n) if ok else math.nan
    return {"q": q, "m": q, "V": V, "qhat": qh, "test_error": channel.test_error(q, q, rho) if ok else math.nan,
            "rho": rho, "rho_par": sp["rho_par"], "rho_perp": rp, "alpha": alpha, "error_estimate": err,
            "status": Status(status), "success": status == Status.CONVERGED, "n_iter": out.n_iter,
            "residual": abs(fV - V) / V if ok else math.nan, "message": message, "n_quad": n,
            "time": time.perf_counter() - t0, "conventions": CONVENTIONS}

"""Fixed points of the committee-machine ODEs and their stability.

* :func:`jacobian` and :func:`spectrum`: the linearisation of the ODEs at a
  state (central differences of the Numba right-hand side, in the packed
  coordinates: upper triangle of ``Q``, ``R``, and ``v`` if trained).
* :func:`newton`: a general fixed point from a given state.
* :func:`symmetric_fixed_point`: the symmetric plateau of a realisable
  ``K = M`` machine with ``T = I`` (Saad & Solla, PRE 52, 4225 (1995),
  the symmetric phase), ``Q = (q - c) I + c 1 1^T``, ``R = (r - s) I + s 1 1^T``, on the
  ``"generic"`` branch (``q > c``) or the ``"degenerate"`` branch of identical
  students (``q = c``, ``r = s``), by continuation in the learning rate.
* :func:`perfect_learning`: the spectrum at ``Q = R = T``, ``v = v*`` (K = M):
  the asymptotic decay rate (``eg ~ exp(2 lambda_max t)``), the critical
  learning rate ``eta_c`` above which perfect learning is unstable and the
  learning rate of fastest asymptotic decay.
* :func:`noise_asymptote`: the fixed point near perfect learning with output
  noise and its generalisation error.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import scipy.linalg
from scipy.optimize import brentq, minimize_scalar, root

from lmech.checks import check_array, check_choice, check_int, check_psd, check_real
from lmech.result import Result, register_result
from lmech.status import Status

from .integrate import System, _initial, grad_eg, state_violation
from .model import CommitteeMachine

__all__ = ["FixedPoint", "jacobian", "spectrum", "newton", "symmetric_fixed_point",
           "perfect_learning", "critical_lr", "fastest_lr", "noise_asymptote", "symmetric_eg_small_lr",
           "eg_decay"]


@register_result("odes.FixedPoint")
class FixedPoint(Result):
    """A fixed point of the ODEs with its Jacobian spectrum.

    Arrays: ``Q``, ``R``, ``v``, ``T``, ``eigenvalues`` (complex, sorted by
    decreasing real part), ``jacobian``.  Scalars: ``eg``, ``lr``,
    ``lambda_max`` (largest real part), ``stable``; symmetric fixed points
    also ``q``, ``c``, ``r``, ``s``.
    """


def jacobian(model: CommitteeMachine, Q, R, *, T=None, v=None, h: float = 1e-6) -> np.ndarray:
    """Jacobian ``d f / d y`` of the ODEs at ``(Q, R, v)`` by central differences.

    Coordinates are the packed state of :class:`odes.System` (upper triangle
    of ``Q`` row by row, ``R`` row-major, then ``v`` if ``train_second``).
    The step ``h`` (in ``(0, 0.1]``) is relative to ``max(1, |y_j|)``; the truncation error is
    ``O(h^2)`` and the rounding error ``O(eps / h)``.  ``Q``, ``R`` are checked as the
    initial state of :func:`odes.integrate` (``[[Q, R], [R^T, T]]`` positive semidefinite).
    """
    system = System(model, T, v)
    h = check_real("h", h, low=0.0, low_open=True, high=0.1)
    Q, R = _initial(system, Q, R, names=("Q", "R"))
    y = system.pack(Q, R, system.v0)
    return _jac(system, y, h)


def _jac(system, y, h=1e-6):
    n = y.size
    J = np.empty((n, n))
    for j in range(n):
        dy = h * max(1.0, abs(y[j]))
        yp = y.copy()
        ym = y.copy()
        yp[j] += dy
        ym[j] -= dy
        J[:, j] = (system.f(0.0, yp) - system.f(0.0, ym)) / (2.0 * dy)
    return J


def _safe(fun, shape):
    """``fun`` returning NaNs (of ``shape``) where the right-hand side is undefined (a solver's
    iterate outside the physical states, where a Gaussian integral divides by zero), so that
    the solver reports a failure instead of raising."""
    def wrapped(*args):
        try:
            return fun(*args)
        except ZeroDivisionError:
            return np.full(shape, math.nan)
    return wrapped


def _eigs(J):
    ev = np.linalg.eigvals(J).astype(complex)  # complex always, so the dtype never depends on the state
    return ev[np.argsort(-ev.real, kind="stable")]


def spectrum(model: CommitteeMachine, Q, R, *, T=None, v=None) -> np.ndarray:
    """Eigenvalues of :func:`jacobian` sorted by decreasing real part (the arguments as there)."""
    return _eigs(jacobian(model, Q, R, T=T, v=v))


def _invariant_subspaces(J, members, lc, ctol):
    """Orthonormal bases of the right (columns) and left (rows) invariant subspaces of ``J``
    for the eigenvalues within ``max |members - lc| + ctol`` of ``lc``, from ordered complex
    Schur forms of ``J`` and ``J^H`` (backward stable, unlike powers of ``J - lc``).  Raises
    ``LinAlgError`` if the Schur forms select another number of eigenvalues."""
    m = len(members)
    radius = float(np.max(np.abs(np.asarray(members) - lc))) + ctol
    Jc = np.asarray(J, dtype=complex)
    _, Z, k = scipy.linalg.schur(Jc, output="complex", sort=lambda x: abs(x - lc) <= radius)
    _, Z2, k2 = scipy.linalg.schur(Jc.conj().T, output="complex",
                                   sort=lambda x: abs(x - np.conj(lc)) <= radius)
    if k != m or k2 != m:
        raise np.linalg.LinAlgError(f"ordered Schur form selected {k}, {k2} of {m} eigenvalues")
    return Z[:, :m], Z2[:, :m].conj().T


def _grad_hess_eg(system, y):
    """Gradient and Hessian of ``eg`` at ``y`` by central differences.

    Gradient step ``1e-6 max(1, |y_j|)`` (error ``O(h^2) + O(eps/h)``, about
    ``1e-10``); Hessian step ``1e-4 max(1, |y_j|)`` (about ``1e-8``).

    ``eg = (1/2) sum_{c,d} w_c w_d I2(C_cc, C_cd, C_dd)`` is a sum over pairs of fields, so
    ``d^2 eg / dy_j dy_k`` vanishes exactly unless the fields of ``y_j`` and ``y_k`` (``{i, k}``
    for ``Q_ik``, ``{i, K+m}`` for ``R_im``, ``{i}`` for ``v_i``) together number at most two
    (:func:`_hessian_pattern`): only those entries are differenced (``O(n L)`` instead of
    ``O(n^2)`` evaluations), the others are exact zeros.
    """
    n = y.size
    H = np.zeros((n, n))
    e0 = system.eg(y)
    g = grad_eg(system, y)
    hh = 1e-4 * np.maximum(1.0, np.abs(y))
    coupled = _hessian_pattern(system)
    for j in range(n):
        yp, ym = y.copy(), y.copy()
        yp[j] += hh[j]
        ym[j] -= hh[j]
        H[j, j] = (system.eg(yp) - 2.0 * e0 + system.eg(ym)) / hh[j] ** 2
        for k in np.nonzero(coupled[j, :j])[0]:
            d = np.zeros(n)
            d[j], d[k] = hh[j], hh[k]
            e = np.zeros(n)
            e[j], e[k] = hh[j], -hh[k]
            H[j, k] = H[k, j] = (system.eg(y + d) - system.eg(y + e) - system.eg(y - e)
                                 + system.eg(y - d)) / (4.0 * hh[j] * hh[k])
    return g, H


def _hessian_pattern(system) -> np.ndarray:
    """``(n, n)`` bool: which pairs of packed coordinates can share a term of ``eg`` (a pair of
    fields ``c, d`` whose ``C_cc, C_cd, C_dd, w_c, w_d`` contain both)."""
    K, M = system.K, system.M
    a, b = [], []
    for i in range(K):  # upper triangle of Q, row by row
        for k in range(i, K):
            a.append(i)
            b.append(k)
    for i in range(K):
        for m in range(M):
            a.append(i)
            b.append(K + m)
    if system.train_v:
        a.extend(range(K))
        b.extend(range(K))
    A, B = np.array(a), np.array(b)
    size = np.where(A == B, 1, 2)
    # fields of coordinate k outside the fields of coordinate j
    outside_a = (A[None, :] != A[:, None]) & (A[None, :] != B[:, None])
    outside_b = (B[None, :] != A[:, None]) & (B[None, :] != B[:, None]) & (B != A)[None, :]
    return (outside_a.astype(int) + outside_b.astype(int)) <= (2 - size)[:, None]


def _d2f(system, y, a, b, eps):
    """``D^2 f(y)[a, b]`` for real directions ``a``, ``b`` (4-point central difference)."""
    return (system.f(0.0, y + eps * (a + b)) - system.f(0.0, y + eps * (a - b))
            - system.f(0.0, y - eps * (a - b)) + system.f(0.0, y - eps * (a + b))) / (4.0 * eps * eps)


def _d2f_complex(system, y, u, v, eps):
    """``D^2 f(y)[u, v]`` for complex directions, by bilinearity."""
    ur, ui, vr, vi = u.real, u.imag, v.real, v.imag
    out = _d2f(system, y, ur, vr, eps).astype(complex)
    if np.any(ui) and np.any(vi):
        out -= _d2f(system, y, ui, vi, eps)
    if np.any(vi):
        out += 1j * _d2f(system, y, ur, vi, eps)
    if np.any(ui):
        out += 1j * _d2f(system, y, ui, vr, eps)
    return out


#: A mode counts as present in ``eg`` when its weight exceeds this fraction of the weight scale
#: (finite-difference errors are ~1e-8 of it; see :func:`eg_decay`).
_PRESENT_TOL = 1e-5


def eg_decay(system, y, J=None):
    """Asymptotic decay rate of ``eg(t) - eg(y*)`` near the fixed point ``y*``, from the linearisation.

    Near ``y*`` the state is ``y* + sum_k c_k exp(lambda_k t) u_k`` plus second-order terms
    (``u_k`` right eigenvectors of the Jacobian ``A``, ``c_k = w_k . delta y(0)`` with the left
    eigenvectors ``w_k``, ``w_j . u_k = delta_jk``), so with ``g = grad eg`` and
    ``H = hess eg`` at ``y*``::

        eg - eg* = sum_k c_k e^{lambda_k t} (g . u_k)
                 + sum_{j<=k} c_j c_k e^{(lambda_j + lambda_k) t} E_jk + O(|c|^3)
        E_jk     = u_j^T H u_k / 2 + g . (mu - A)^{-1} D^2f[u_j, u_k] / 2,   mu = lambda_j + lambda_k

    (the second term: the second-order response of the trajectory to the quadratic part of the
    flow, ``(mu - A)^{-1} = sum_m u_m w_m^T / (mu - lambda_m)``).  A mode with ``g . u_k != 0``
    decays at ``-Re lambda_k``; the quadratic part at ``-Re(lambda_j + lambda_k)`` for the
    pairs with ``E_jk != 0``.  The decay rate is the slowest of these, for a generic initial
    condition.  Twice the slowest eigenvalue is right only when no mode appears at first order
    (e.g. linear ``K = M = 1``: ``d(2 eg)/dt = -(2 eta - eta^2) 2 eg + eta^2 sigma^2``, whose
    rate ``2 eta - eta^2`` is that of a first-order mode, not ``2 eta``).  Third-order terms
    are not examined (their rates are at least ``3 |Re lambda_1|``), nor are neutral modes and
    pairs (``|lambda|`` or ``|Re(lambda_j + lambda_k)| <= 1e-8 (1 + |A|)``: zero eigenvalues
    along a manifold of fixed points, on which ``eg`` is constant).

    Returns ``(rate, order)`` with ``order`` 1 or 2 (``nan, 0`` when no mode is present).
    """
    if J is None:
        J = _jac(system, y)
    lam, Wl, U = scipy.linalg.eig(J, left=True, right=True)
    U = U / np.linalg.norm(U, axis=0)
    n = lam.size
    g, H = _grad_hess_eg(system, y)
    ysc = max(1.0, float(np.max(np.abs(y))))
    Jn = np.linalg.norm(J, 2)
    Hn = np.linalg.norm(H, 2)
    gu = g @ U
    # clusters of (numerically) equal eigenvalues.  At a crossing the Jacobian can be defective
    # (a Jordan block: eigenvalues split by ~sqrt of the finite-difference error, ~1e-5 |A|, and
    # nearly parallel eigenvectors that miss the generalised one), so clusters are 1e-4 |A| wide
    # and a cluster of m > 1 is represented by its generalised eigenspace, the null space of
    # (A - lambda)^m (the rate is the cluster's slowest, within 1e-4 |A| of the true one)
    ctol = 1e-4 * (1.0 + Jn)
    order = np.argsort(lam.real, kind="stable")
    clusters, cur = [], [int(order[0])]
    for i in order[1:]:
        if abs(lam[i] - lam[cur[-1]]) <= ctol:
            cur.append(int(i))
        else:
            clusters.append(cur)
            cur = [int(i)]
    clusters.append(cur)
    gscale = np.linalg.norm(g) + Hn * ysc + 1e-300
    present = []  # (lambda, g . P_c: the eg-weight of the cluster's spectral projector)
    rate1 = math.inf
    for c in clusters:
        m = len(c)
        lc = complex(np.mean(lam[c]))
        Uc = U[:, c]
        if m == 1:
            Sc = Uc
            Wc = Wl[:, c].conj().T
        elif np.linalg.svd(Uc, compute_uv=False)[-1] > 1e-3:
            # well-conditioned eigenvectors (a degenerate, not a defective, cluster: the
            # permutation symmetry of the students): orthonormal bases of the cluster's right and
            # left eigenspaces, the same spaces as the generalised ones below at O(n^2 m) cost
            Sc = np.linalg.qr(Uc)[0]
            Wc = np.linalg.qr(Wl[:, c])[0].conj().T
        else:
            Sc = Wc = None
            if m <= 8:
                # the null spaces of (A - lambda)^m: scaled by a power of two (exact: the same
                # singular vectors to the bit) so that the power cannot overflow; accepted only
                # with a clear gap below the m smallest singular values
                D = J - lc * np.eye(n)
                D = D / 2.0 ** math.ceil(math.log2(max(float(np.max(np.sum(np.abs(D), axis=1))), 1e-300)))
                Pm = np.linalg.matrix_power(D, m)
                if np.all(np.isfinite(Pm)):
                    try:
                        uu, sv, vh = np.linalg.svd(Pm)
                    except np.linalg.LinAlgError:
                        sv = None
                    if sv is not None and (m == n or sv[-m - 1] > 1e6 * max(sv[-m], 1e-300)):
                        Sc = vh[-m:].conj().T            # right generalised eigenspace
                        Wc = uu[:, -m:].conj().T         # left generalised eigenspace (rows)
            if Sc is None:
                # large or gapless clusters (m ~ K^2 equal eigenvalues at symmetric states of large
                # committees, where the power has no usable gap): ordered Schur forms
                try:
                    Sc, Wc = _invariant_subspaces(J, lam[c], lc, ctol)
                except (np.linalg.LinAlgError, ValueError):
                    Sc = np.linalg.qr(Uc)[0]
                    Wc = np.linalg.qr(Wl[:, c])[0].conj().T
        gS = g @ Sc
        if np.linalg.norm(gS) <= _PRESENT_TOL * gscale:
            continue
        live = [i for i in c if abs(lam[i]) > 1e-8 * (1.0 + Jn)]
        if not live:
            # neutral directions: a manifold of fixed points, on which eg is constant (a
            # projection of g here is eigenvector mixing with a nearby mode by rounding)
            continue
        rate1 = min(rate1, float(np.min(-lam[live].real)))
        form = gS @ np.linalg.pinv(Wc @ Sc) @ Wc  # g . P_c
        present.append((lc, form))
    # second order: pairs in increasing order of their rate, below rate1
    pairs = sorted(((-(lam[j].real + lam[k].real), j, k) for j in range(n) for k in range(j, n)),
                   key=lambda p: p[0])
    eps = 1e-4 * ysc
    rate2 = math.inf
    for r, j, k in pairs:
        if r >= rate1:
            break
        mu = lam[j] + lam[k]
        if abs(r) <= 1e-8 * (1.0 + Jn):
            # neutral directions (zero eigenvalues: a manifold of fixed points along which eg is
            # constant, e.g. linear K = M >= 2); eg at second order there is rounding only
            continue
        if any(abs(mu - lc) < 1e-6 * (1.0 + Jn) for lc, _ in present):
            # (near) resonance with a first-order mode: the pair decays within 1e-6 |J| of it,
            # so it cannot change the rate beyond that (and its weight is ill-conditioned)
            continue
        F = _d2f_complex(system, y, U[:, j], U[:, k], eps)
        # F is zero up to rounding ~ 1e-16 / eps^2 when the flow has no quadratic part there:
        # its natural scale is |J| / |y|
        fs = max(float(np.linalg.norm(F)), Jn / ysc)
        E = 0.5 * (U[:, j] @ H @ U[:, k])
        scale = 0.5 * Hn
        for lc, form in present:
            E += 0.5 * (form @ F) / (mu - lc)
            scale += 0.5 * float(np.linalg.norm(form)) * fs / max(abs(mu - lc), 1e-300)
        if abs(E) > _PRESENT_TOL * (scale + 1e-300):
            rate2 = r
            break
    rate = min(rate1, rate2)
    if not math.isfinite(rate):
        return math.nan, 0
    return rate, 1 if rate1 <= rate2 else 2


def _result(system, y, success, message, n_iter, residual, options, t0, extra, tol, rate_rtol,
            status=Status.MAX_ITER):
    """The :class:`FixedPoint` at ``y``, with ``success`` also requiring the error estimates of the
    state and ``eg`` within ``tol`` (times ``max(1, |y|)``) and that of ``decay_rate`` within
    ``rate_rtol * |decay_rate|`` (an estimate that could not be made fails).

    ``status`` is the caller's outcome when ``success`` is False on entry; otherwise
    :attr:`Status.CONVERGED`, or :attr:`Status.TOLERANCE` (an estimate above its tolerance),
    or :attr:`Status.NO_ESTIMATE` (the decay rate's error could not be estimated)."""
    if success:
        status = Status.CONVERGED
    Q, R, v = system.unpack(y)
    ysc = max(1.0, float(np.max(np.abs(y)))) if np.all(np.isfinite(y)) else math.inf
    try:
        if not math.isfinite(ysc):
            raise FloatingPointError("non-finite state")
        J = _jac(system, y)
        if not np.all(np.isfinite(J)):
            raise FloatingPointError("non-finite Jacobian")
        ev = _eigs(J)
        lam = float(ev[0].real)
        rate, order = eg_decay(system, y, J)
        # error estimates: the Newton correction J^{-1} f (first order in the residual) for the
        # state and eg; the change of the rate with the finite-difference step for the decay rate
        f = system.f(0.0, y)
        # least squares: the minimal-norm correction also where fixed points form a manifold
        dy = np.linalg.lstsq(J, f, rcond=1e-10)[0]
        g, _ = _grad_hess_eg(system, y)
        err_y = float(np.max(np.abs(dy))) + 1e-15 * ysc
        err_eg = float(np.sum(np.abs(g * dy))) + 1e-15 * max(1.0, abs(system.eg(y)))
        rate_b, _ = eg_decay(system, y, _jac(system, y, 1e-5))
        err_rate = abs(rate_b - rate) if math.isfinite(rate) else math.nan
        eg = system.eg(y)
    except (ZeroDivisionError, FloatingPointError, np.linalg.LinAlgError) as exc:
        # no linearisation at this state (the right-hand side is undefined or overflows there):
        # every derived quantity is "not found"
        n = y.size
        J = np.full((n, n), math.nan)
        ev = np.full(n, complex(math.nan, math.nan))
        lam = rate = err_y = err_eg = err_rate = math.nan
        order = 0
        try:
            eg = system.eg(y) if math.isfinite(ysc) else math.nan
        except ZeroDivisionError:
            eg = math.nan
        if success:
            success, status = False, Status.INVALID_STATE
        message = f"{message}; no linearisation at the answer ({type(exc).__name__}: {exc})"
    scalars = dict(eg=eg, lr=system.model.lr, lambda_max=lam, stable=bool(lam < 0.0),
                   decay_rate=rate, decay_order=int(order))
    scalars.update(extra or {})
    errors = dict(eg=err_eg, Q=err_y, R=err_y, decay_rate=err_rate)
    bad_state = state_violation(Q, R, system.T, eg) if math.isfinite(ysc) and math.isfinite(eg) else ""
    if (success or status in (Status.TOLERANCE, Status.NO_ESTIMATE)) and bad_state:
        # a root of the ODEs' right-hand side outside the physical states (e.g. the continuation
        # of the noisy fixed point above the critical learning rate)
        success, status = False, Status.INVALID_STATE
        message = f"not a physical state: {bad_state}"
    elif success and not max(err_y, err_eg) <= tol * ysc:
        success, status = False, Status.TOLERANCE if math.isfinite(max(err_y, err_eg)) else Status.NO_ESTIMATE
        message = f"error estimate of the state or eg {max(err_y, err_eg):.3g} above tol = {tol:.3g}"
    elif success and math.isfinite(rate) and not err_rate <= rate_rtol * abs(rate):
        success, status = False, Status.TOLERANCE if math.isfinite(err_rate) else Status.NO_ESTIMATE
        message = (f"error estimate of decay_rate {err_rate:.3g} above rate_rtol * |decay_rate| = "
                   f"{rate_rtol * abs(rate):.3g} (a crossing of two modes, or not estimated)")
    return FixedPoint(success=success, status=status, message=message, n_iter=n_iter,
                      residual=residual, model=system.model, options=options,
                      conventions=system.model.conventions(),
                      timings={"solve": time.perf_counter() - t0},
                      arrays=dict(Q=Q, R=R, v=v, T=system.T, eigenvalues=ev, jacobian=J),
                      scalars=scalars, error_estimate=errors)


def newton(model: CommitteeMachine, Q0, R0, *, T=None, v0=None, tol: float = 1e-12,
           max_iter: int = 200, rate_rtol: float = 1e-6) -> FixedPoint:
    """A fixed point ``f(Q, R, v) = 0`` from the state ``(Q0, R0, v0)``.

    Powell's hybrid method (:func:`scipy.optimize.root`, ``"hybr"``) with the
    finite-difference Jacobian.  ``residual`` is ``max |f|`` at the answer;
    ``success`` requires ``residual <= tol``, the error estimates of the state
    and ``eg`` (the Newton correction ``J^+ f``) within ``tol * max(1, |y|)``
    and that of ``decay_rate`` (its change with the Jacobian's difference
    step) within ``rate_rtol * |decay_rate|``.
    """
    t0 = time.perf_counter()
    system = System(model, T, v0)
    Q0, R0 = _initial(system, Q0, R0)
    tol = check_real("tol", tol, low=0.0, low_open=True)
    rate_rtol = check_real("rate_rtol", rate_rtol, low=0.0, low_open=True, allow_inf=True)
    max_iter = check_int("max_iter", max_iter, low=1, high=10 ** 6)
    y0 = system.pack(Q0, R0, system.v0)
    n = y0.size
    sol = root(_safe(lambda y: system.f(0.0, y), n), y0, jac=_safe(lambda y: _jac(system, y), (n, n)), method="hybr",
               options={"xtol": 1e-14, "maxfev": max_iter * (y0.size + 1)})
    res = float(np.max(np.abs(_safe(system.f, n)(0.0, sol.x))))
    finite = bool(np.all(np.isfinite(sol.x)) and math.isfinite(res))
    ok = finite and res <= tol
    msg = "converged" if ok else f"not converged: max|f| = {res:.3g} > tol ({sol.message})"
    return _result(system, sol.x, ok, msg, int(sol.nfev), res,
                   {"tol": tol, "max_iter": max_iter, "rate_rtol": rate_rtol}, t0, None, tol, rate_rtol,
                   Status.MAX_ITER if finite else Status.DIVERGED)


# ---------------------------------------------------------------------------
# symmetric fixed points
# ---------------------------------------------------------------------------
def _sym_state(K, q, c, r, s):
    Q = (q - c) * np.eye(K) + c * np.ones((K, K))
    R = (r - s) * np.eye(K) + s * np.ones((K, K))
    return Q, R


def _sym_residual(system, x):
    K = system.K
    Q, R = _sym_state(K, *x)
    dQ, dR, _ = system.unpack(system.f(0.0, system.pack(Q, R)))
    if K == 1:
        return np.array([dQ[0, 0], 0.0, dR[0, 0], 0.0])
    off = ~np.eye(K, dtype=bool)
    return np.array([np.mean(np.diag(dQ)), np.mean(dQ[off]), np.mean(np.diag(dR)), np.mean(dR[off])])


def symmetric_eg_small_lr(K: int) -> float:
    """``eg`` of the symmetric plateau as ``eta -> 0`` for erf, ``K = M``, ``T = I``, summed readout.

    ``q = c = 1/(2K-1)``, ``r = s = 1/sqrt(K(2K-1))`` and
    ``eg = (K/pi) (pi/6 - K asin(1/(2K)))`` (Saad & Solla 1995, the symmetric
    phase; value quoted in issue 3 and checked in the tests).
    """
    return K / math.pi * (math.pi / 6.0 - K * math.asin(1.0 / (2.0 * K)))


def _check_model(model):
    if not isinstance(model, CommitteeMachine):
        raise ValueError(f"model must be an odes.CommitteeMachine, got {type(model).__name__}")


def _check_symmetric(model):
    _check_model(model)
    if model.K != model.M:
        raise ValueError(f"M must equal K for a symmetric fixed point, got K={model.K}, M={model.M}")
    if model.train_second:
        raise ValueError("train_second must be False for the symmetric fixed point")
    if model.v_teacher is not None and len(set(model.v_teacher)) > 1:
        raise ValueError("v_teacher must be uniform for a symmetric fixed point")


def symmetric_fixed_point(model: CommitteeMachine, *, branch: str = "generic", steps: int = 20,
                          guess=None, tol: float = 1e-12, rate_rtol: float = 1e-6) -> FixedPoint:
    """The symmetric (unspecialised) fixed point: the plateau, with ``T = I``, ``v = v*``.

    Parameters
    ----------
    model : CommitteeMachine
        ``K = M``, first layer only, uniform ``v*``; any activation.
    branch : {"generic", "degenerate"}
        ``"degenerate"``: identical students, ``q = c``, ``r = s`` (a
        two-parameter ansatz).  ``"generic"``: ``q > c``, ``r = s``.
    steps : int
        Continuation steps in ``eta`` from ``lr / steps`` up to ``lr`` (the
        first step starts from the erf ``eta -> 0`` solution,
        ``q = c = 1/(2K-1)``, ``r = s = 1/sqrt(K(2K-1))``, or from ``guess``).
    guess : tuple (q, c, r, s), optional
        Starting point at the first continuation step.
    tol : float
        Tolerance on ``max |f|`` at the answer and on the error estimates of
        the state and ``eg`` (relative to ``max(1, |y|)``).
    rate_rtol : float
        Relative tolerance on the error estimate of ``decay_rate``.

    Returns
    -------
    FixedPoint
        With scalars ``q``, ``c``, ``r``, ``s`` and ``branch``; the
        eigenvalues are those of the full Jacobian (``stable`` says whether
        the plateau attracts in every direction, which it never does when
        escape is possible).
    """
    t0 = time.perf_counter()
    _check_symmetric(model)
    check_choice("branch", branch, ("generic", "degenerate"))
    tol = check_real("tol", tol, low=0.0, low_open=True)
    rate_rtol = check_real("rate_rtol", rate_rtol, low=0.0, low_open=True, allow_inf=True)
    steps = check_int("steps", steps, low=1, high=10_000)
    K = model.K
    if guess is None:
        q0 = 1.0 / (2 * K - 1)
        r0 = 1.0 / math.sqrt(K * (2 * K - 1))
        x = np.array([q0 + 0.05, q0 - 0.05, r0, r0]) if branch == "generic" and K > 1 else \
            np.array([q0, q0, r0, r0])
    else:
        x = check_array("guess", guess, finite=False)
        if x.shape != (4,):
            raise ValueError(f"guess must be (q, c, r, s), got {guess!r}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"guess must be finite, got {guess!r}")
    etas = model.lr * np.arange(1, steps + 1) / steps if model.lr > 0 else np.array([0.0])
    nfev = 0
    ok = True
    sol = None
    for eta in etas:
        system = System(dataclasses.replace(model, lr=float(eta)))
        if branch == "degenerate":
            def fun(z, system=system):
                r4 = _sym_residual(system, (z[0], z[0], z[1], z[1]))
                return np.array([r4[0], r4[2]])
            sol = root(_safe(fun, 2), [x[0], x[2]], method="hybr", options={"xtol": 1e-14})
            x = np.array([sol.x[0], sol.x[0], sol.x[1], sol.x[1]])
        else:
            def fun(z, system=system):
                r4 = _sym_residual(system, (z[0], z[1], z[2], z[2]))
                return np.array([r4[0], r4[1], r4[2] + r4[3]])
            sol = root(_safe(fun, 3), [x[0], x[1], x[2]], method="hybr", options={"xtol": 1e-14})
            x = np.array([sol.x[0], sol.x[1], sol.x[2], sol.x[2]])
        nfev += int(sol.nfev)
    system = System(model)
    res = float(np.max(np.abs(_safe(_sym_residual, 4)(system, x))))
    Q, R = _sym_state(K, *x)
    y = system.pack(Q, R)
    full = float(np.max(np.abs(_safe(system.f, y.size)(0.0, y))))
    finite = bool(np.all(np.isfinite(x)) and math.isfinite(full))
    ok = finite and full <= tol
    status = Status.MAX_ITER if finite else Status.DIVERGED
    if branch == "generic" and K > 1 and ok and not x[0] - x[1] > 1e-8:
        ok, status = False, Status.INVALID_STATE
        msg = "the generic-branch solve fell onto the degenerate branch (q = c)"
    else:
        msg = "converged" if ok else f"not converged: max|f| = {full:.3g} > tol"
    return _result(system, y, ok, msg, nfev, max(res, full),
                   {"branch": branch, "steps": steps, "tol": tol, "rate_rtol": rate_rtol}, t0,
                   dict(q=float(x[0]), c=float(x[1]), r=float(x[2]), s=float(x[3]), branch=branch),
                   tol, rate_rtol, status)


# ---------------------------------------------------------------------------
# perfect learning, eta_c, fastest decay, noise
# ---------------------------------------------------------------------------
def _perfect_state(model, T):
    _check_model(model)
    if model.K != model.M:
        raise ValueError(f"M must equal K for perfect learning, got K={model.K}, M={model.M}")
    T = np.eye(model.M) if T is None else check_psd("T", T, tol=1e-10)
    if T.shape != (model.M, model.M):
        raise ValueError(f"T must have shape ({model.M}, {model.M}), got {T.shape}")
    return T, T.copy(), T


def perfect_learning(model: CommitteeMachine, *, T=None, rate_rtol: float = 1e-6) -> FixedPoint:
    """Spectrum at perfect learning ``Q = R = T``, ``v = v*`` (``K = M``).

    ``decay_rate`` is the asymptotic rate of ``eg(t) ~ exp(-decay_rate t)``
    from the linearisation of ``eg`` at the fixed point (:func:`eg_decay`):
    ``-Re lambda`` of the slowest mode seen by ``eg`` at first order, or
    ``-2 Re lambda`` from the quadratic part when that is slower
    (``decay_order`` says which).  It is *not* ``-2 lambda_max`` in general.
    Perfect learning is a fixed point only without output noise (with noise,
    use :func:`noise_asymptote`, whose ``decay_rate`` is that of
    ``eg - eg_infinity``).  ``success`` requires ``max |f| <= 1e-12``, the
    error estimates of the state and ``eg`` within ``1e-12 max(1, |y|)`` and
    that of ``decay_rate`` within ``rate_rtol * |decay_rate|`` (it fails where
    two modes cross, e.g. ``K = M = 1`` erf at ``lr`` near 3.38).
    """
    t0 = time.perf_counter()
    rate_rtol = check_real("rate_rtol", rate_rtol, low=0.0, low_open=True, allow_inf=True)
    Q, R, T = _perfect_state(model, T)
    system = System(model, T, model.teacher_weights() * model.c_student / model.c_teacher)
    y = system.pack(Q, R, system.v0)
    res = float(np.max(np.abs(system.f(0.0, y))))
    ok = res <= 1e-12
    msg = "perfect learning" if ok else f"perfect learning is not a fixed point here (max|f| = {res:.3g})"
    return _result(system, y, ok, msg, 0, res, {"rate_rtol": rate_rtol}, t0, None, 1e-12, rate_rtol,
                   Status.NO_SOLUTION)


def _perfect_system(model, eta, T):
    m = dataclasses.replace(model, lr=float(eta), noise=0.0)
    Q, R, T = _perfect_state(m, T)
    system = System(m, T, m.teacher_weights() * m.c_student / m.c_teacher)
    return system, system.pack(Q, R, system.v0)


def _lam_max(model, eta, T):
    system, y = _perfect_system(model, eta, T)
    return float(_eigs(_jac(system, y))[0].real)


def _all_modes_decay(model, eta, T) -> bool:
    """Whether every eigenvalue of the Jacobian at perfect learning has a negative real part or
    is neutral (``|lambda| <= 1e-8 (1 + |A|)``, as in :func:`eg_decay`): then every mode present
    in ``eg`` decays and the decay rate is positive (a rate of ``eg`` with no mode present at
    all, ``nan``, is not told apart)."""
    system, y = _perfect_system(model, eta, T)
    J = _jac(system, y)
    if not np.all(np.isfinite(J)):
        return False
    ev = np.linalg.eigvals(J)
    neutral = np.abs(ev) <= 1e-8 * (1.0 + np.linalg.norm(J, 2))
    return bool(np.all((ev.real < 0.0) | neutral))


def _rate(model, eta, T):
    system, y = _perfect_system(model, eta, T)
    r, _ = eg_decay(system, y)
    return r if math.isfinite(r) else -math.inf


#: Modes with ``|lambda| <= NEUTRAL_RTOL (1 + |A|)`` count as neutral (:func:`eg_decay`): the rate
#: of ``eg`` is resolved no finer than that, hence ``eta_c`` no finer than that over ``d lambda/d eta``.
NEUTRAL_RTOL = 1e-8


def _rate_resolution(model, lo, hi, T) -> float:
    """The learning-rate resolution of the sign change of the decay rate in ``[lo, hi]``: the
    neutral band ``NEUTRAL_RTOL (1 + |A|)`` of :func:`eg_decay` over the slope of the largest
    real part of the spectrum across the bracket (``inf`` when it does not grow)."""
    ends = []
    for eta in (lo, hi):
        system, y = _perfect_system(model, eta, T)
        J = _jac(system, y)
        ev = np.linalg.eigvals(J)
        band = NEUTRAL_RTOL * (1.0 + np.linalg.norm(J, 2))
        live = ev.real[np.abs(ev) > band]
        ends.append((float(live.max()) if live.size else 0.0, band))
    slope = (ends[1][0] - ends[0][0]) / (hi - lo)
    return max(ends[0][1], ends[1][1]) / slope if slope > 0.0 else math.inf


def critical_lr(model: CommitteeMachine, *, T=None, eta_max: float = 100.0,
                xtol: float | None = None) -> float:
    """``eta_c``: the smallest ``eta > 0`` at which perfect learning turns unstable.

    The learning rate at which the asymptotic decay rate of ``eg`` at
    perfect learning (:func:`eg_decay`, without noise) changes sign: for an
    isolated fixed point, where the largest real part of the Jacobian
    spectrum crosses zero; where fixed points form a manifold (linear
    activations with ``K >= 2``, whose spectrum keeps zero eigenvalues
    along it), the neutral directions do not count.  Scans a geometric grid
    up to ``eta_max`` and polishes the first sign change with Brent's
    method; ``inf`` if none.  Linear ``K = M``: ``eta_c = 2 / K``.

    ``eta_max`` must lie in ``(1e-3, 1e6]`` (the grid starts at ``1e-3``; far above the
    right-hand side's differences lose their digits).  ``xtol`` is Brent's absolute
    tolerance (positive and finite); by default (None) the resolution of the objective
    itself: :func:`eg_decay` counts modes with ``|lambda| <= 1e-8 (1 + |A|)``
    (:data:`NEUTRAL_RTOL`) as neutral, so the sign change is located no better than that
    band over the slope ``d lambda_max / d eta`` across the bracket (two more Jacobians);
    a smaller ``xtol`` only adds iterations on a step of the objective (linear ``K = M =
    1``: ``|eta_c - 2| = 2.7e-8`` whatever ``xtol``).  The answer is within about that
    resolution of the true ``eta_c``.
    """
    _perfect_state(model, T)  # the model and T, checked before any work
    eta_max = check_real("eta_max", eta_max, low=1e-3, low_open=True, high=1e6)
    if xtol is not None:
        xtol = check_real("xtol", xtol, low=0.0, low_open=True)
    grid = np.geomspace(1e-3, eta_max, 60)
    prev = None
    for eta in grid:
        # where every mode decays the rate is positive: the spectrum alone says so, without
        # the eigenvectors, the Hessian and the second-order terms of the rate
        r = 1.0 if _all_modes_decay(model, eta, T) else _rate(model, eta, T)
        if r <= 0.0 and prev is not None:
            tol = xtol
            if tol is None:
                res = _rate_resolution(model, prev, eta, T)
                tol = min(res, 1e-3 * (eta - prev)) if math.isfinite(res) else 1e-12
                tol = max(tol, 4.0 * np.finfo(float).eps * eta)
            return float(brentq(lambda e: _rate(model, e, T), prev, eta, xtol=tol, rtol=1e-15))
        prev = eta if r > 0.0 else None
    return math.inf


def fastest_lr(model: CommitteeMachine, *, T=None, xtol: float = 1e-10) -> tuple[float, float]:
    """Learning rate of fastest asymptotic decay of ``eg`` at perfect learning, and that rate.

    Maximises the ``decay_rate`` of :func:`perfect_learning` (the corrected
    rule of :func:`eg_decay`, without noise) over ``(0, eta_c)``: a scan on
    64 points, then bounded Brent between the neighbours of the best one (the
    rate is the minimum of several smooth branches, so the maximum often sits
    on a crossing, where golden-section steps still converge).

    Returns
    -------
    (eta, rate) : tuple of float
    """
    _perfect_state(model, T)
    xtol = check_real("xtol", xtol, low=0.0, low_open=True)
    ec = critical_lr(model, T=T)
    hi = ec if math.isfinite(ec) else 100.0
    grid = np.linspace(0.0, hi, 65)[1:]
    vals = np.array([_rate(model, e, T) for e in grid])
    j = int(np.argmax(vals))
    lo_b = grid[j - 1] if j > 0 else 1e-6 * hi
    hi_b = grid[j + 1] if j + 1 < grid.size else hi
    r = minimize_scalar(lambda e: -_rate(model, e, T), bounds=(lo_b, hi_b), method="bounded",
                        options={"xatol": xtol * hi})
    if -r.fun < vals[j]:
        return float(grid[j]), float(vals[j])
    return float(r.x), float(-r.fun)


def noise_asymptote(model: CommitteeMachine, *, T=None, tol: float = 1e-13, rate_rtol: float = 1e-6) -> FixedPoint:
    """The fixed point near perfect learning with output noise (``K = M``).

    Newton from ``Q = R = T``; its ``eg`` is the asymptotic generalisation
    error of online SGD at constant learning rate with noise variance
    ``sigma^2`` (Saad & Solla 1995; Goldt et al. 2019).

    Where the fixed points form a manifold (linear ``K >= 2``: only the sum of the student
    vectors is pinned), Powell's method can land on a root of the right-hand side that is
    no physical state (``[[Q, R], [R^T, T]]`` not positive semidefinite; ``eg`` is right
    there, ``Q`` and ``R`` are not).  Then the ODEs are integrated from ``Q = R = T`` for 40
    decay times (the flow keeps the state physical, and ends within ``e^-40`` of the fixed
    point it reaches) and Newton polishes that state.  Above the critical learning rate
    the root found is often unphysical: ``success=False``, ``status=INVALID_STATE``.
    """
    Q, R, T = _perfect_state(model, T)
    first = newton(model, Q, R, T=T, tol=tol, rate_rtol=rate_rtol)
    if first.status != Status.INVALID_STATE:
        return first
    rate = first.decay_rate if math.isfinite(first.decay_rate) and first.decay_rate > 0 else -first.lambda_max
    if not (math.isfinite(rate) and rate > 0):
        return first
    t_end = min(40.0 / rate, 1e6)
    from .integrate import integrate  # noqa: PLC0415  (the module's function, shadowed in odes)

    traj = integrate(model, t_end, Q0=Q, R0=R, T=T, refine=False, tol=math.inf, t_eval=[t_end],
                     max_steps=1_000_000)
    if not traj.success:
        return first
    second = newton(model, traj.Q[-1], traj.R[-1], T=T, tol=tol, rate_rtol=rate_rtol)
    return second if second.success else first

"""Finite-d teacher-student GLM data, empirical risk minimisation and GAMP, matching :mod:`replica`.

Data in the conventions of :mod:`replica` (Aubin et al., NeurIPS 2020;
Barbier et al., PNAS 116, 5451 (2019)): ``x_mu ~ N(0, I_d)``, teacher
``w*`` drawn from the model's prior, pre-activations ``z_mu = w*.x_mu /
sqrt(d)``, labels from the channel (``sign``, label flips, probit, linear),
``n = round(alpha d)`` samples.

* :func:`simulate_erm` -- the minimiser of ``sum_mu l(y_mu, w.x_mu/sqrt d) +
  (lambda/2)|w|^2`` (:class:`replica.ERM`): the square loss by its closed form
  (a linear solve), the logistic loss (and any other loss of
  :mod:`lmech.blocks.losses` with a second derivative) by trust-region
  Newton-CG (scipy) to a gradient norm of ``1e-8`` relative, the hinge loss
  through its dual, a
  box-constrained concave quadratic programme solved by dual coordinate
  descent (Hsieh et al., ICML 2008; Numba kernel) to a projected-gradient
  violation of ``1e-7``.
* :func:`simulate_gamp` -- generalised approximate message passing for the
  Bayes-optimal GLM (:class:`replica.BayesOptimalGLM`), in the form of
  Rangan, ISIT 2011 (Algorithm 1) with the blocks' denoisers (the prior's
  ``denoise`` and the channel's ``gout``, :mod:`lmech.blocks`), run for
  ``n_iter`` iterations from the uninformed start.

Data are drawn with the blocks' samplers: ``prior.sample`` (teacher) and
``channel.sample`` (labels).

Observables at every ``alpha``: ``m = w.w*/d``, ``q = |w|^2/d``,
``test_error`` (the channel's :meth:`~lmech.blocks.channels.Channel.test_error`
at the empirical overlaps, ``rho = |w*|^2/d``: classification
``arccos(w.w*/(|w||w*|))/pi``, the exact probability of disagreeing with the
clean teacher label on a fresh input; regression ``rho + q - 2m = |w - w*|^2/d``), ``train_loss`` (ERM, mean loss without the
penalty), ``mse = |w - w*|^2/d`` (GAMP).
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.optimize import minimize

from lmech.blocks.losses import Hinge, Square
from lmech.checks import check_array, check_int, check_memory, check_real
from lmech.result import Result, register_result
from lmech.status import Status

from ._kernels import erm as _ke
from .compare import Simulator, register_simulator

__all__ = ["GLMRun", "simulate_erm", "simulate_gamp", "state_evolution",
           "replica_theory", "erm_point", "gamp_point"]


@register_result("validation.GLMRun")
class GLMRun(Result):
    """Finite-d ERM or GAMP estimates over a list of ``alpha``.

    Arrays: ``alpha`` (P,), ``m``, ``q``, ``test_error``, ``train_loss`` (ERM),
    ``mse`` (GAMP), ``mse_iter`` (P, n_iter) (GAMP: the error after every
    iteration; after convergence the fixed point's), ``converged`` (P,)
    (bool), ``iterations`` (P,).  Scalars:
    ``d``, ``seed``.

    ``error_estimate`` of ``m``, ``q``, ``test_error``, ``train_loss``,
    ``mse``: 0 for the square loss (closed-form minimiser: exact functions
    of the instance up to rounding), NaN for iterative fits and GAMP (the
    distance of the stopped iterate to the fixed point is not estimated).
    One instance has no Monte Carlo error of its own; the spread over
    instances is what :func:`validation.compare` measures.
    """


def _data(model_prior, channel, d, alpha, rng):
    n = max(1, int(round(alpha * d)))
    w_star = model_prior.sample(d, rng)
    X = rng.standard_normal((n, d))
    z = X @ w_star / math.sqrt(d)
    y = channel.sample(z, rng)
    return X, y, w_star


def _errors(w, w_star, channel):
    """``(m, q, test_error, mse)`` of the estimate ``w``: the channel's test error at the
    empirical overlaps (``rho = |w*|^2/d``, the exact error on fresh Gaussian inputs)."""
    d = w.size
    m = float(w @ w_star) / d
    q = float(w @ w) / d
    mse = float((w - w_star) @ (w - w_star)) / d
    return m, q, channel.test_error(m, q, float(w_star @ w_star) / d), mse


# -- ERM ---------------------------------------------------------------------------
def _fit_square(X, y, lam):
    n, d = X.shape
    A = X.T @ X / d + lam * np.eye(d)
    b = X.T @ y / math.sqrt(d)
    if lam == 0.0 and n < d:
        raise ValueError("reg: lambda = 0 with the square loss needs alpha >= 1")
    return np.linalg.solve(A, b), True, 1


def _fit_smooth(X, y, lam, loss, gtol):
    # Newton's method with a trust region and conjugate-gradient inner solves (scipy
    # trust-ncg) on sum_mu l(y_mu, h_mu) + lam |w|^2/2, h = X w / sqrt d, with the loss's
    # value, derivative and exact Hessian-vector products A^T diag(l'') A p + lam p
    # (lmech.blocks.losses; a loss with a piecewise l'' gets the generalised Hessian)
    n, d = X.shape
    A = X / math.sqrt(d)

    def f(w):
        h = A @ w
        val = float(np.sum(loss.value(y, h))) + 0.5 * lam * (w @ w)
        g = A.T @ loss.d1(y, h) + lam * w
        return val, g

    def hessp(w, p):
        return A.T @ (loss.d2(y, A @ w) * (A @ p)) + lam * p

    w = np.zeros(d)
    g0 = max(float(np.linalg.norm(f(w)[1])), 1.0)
    nit = 0
    for _ in range(5):   # trust-ncg may stop early near machine precision: restart from there
        res = minimize(f, w, jac=True, hessp=hessp, method="trust-ncg",
                       options={"gtol": 0.1 * gtol * g0, "maxiter": 500})
        w, nit = res.x, nit + int(res.nit)
        gn = float(np.linalg.norm(f(w)[1]))
        if gn <= gtol * g0:
            break
    return w, bool(gn <= gtol * g0), nit


def _fit_hinge(X, y, lam, gtol):
    # dual of min sum max(0, 1 - y w.x/sqrt d) + lam |w|^2/2:
    # max_{0 <= a <= 1} sum a - |A^T a|^2/(2 lam), w = A^T a / lam, A = diag(y) X / sqrt d,
    # by dual coordinate descent (Hsieh et al. 2008) to a projected-gradient violation 1e-7
    n, d = X.shape
    if lam <= 0.0:
        raise ValueError("reg: the hinge loss needs lambda > 0 (the max-margin limit is lambda -> 0)")
    A = np.ascontiguousarray(X * (y / math.sqrt(d))[:, None])
    a = np.zeros(n)
    u = np.zeros(d)
    tol = max(gtol, 1e-7)
    sweeps, viol = _ke.svm_dual_cd(A, float(lam), a, u, tol, 100_000)
    return u / lam, bool(viol < tol), int(sweeps)


def _alphas(alphas):
    alphas = check_array("alphas", alphas, finite=False).ravel()
    if alphas.size == 0 or np.any(~np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ValueError("alphas must be a non-empty list of positive finite sample ratios")
    return alphas


def _check_data_memory(d, alphas, where, copies):
    """The n x d data matrix (n = alpha d) and ``copies`` more of its size, before any work."""
    n = float(np.max(alphas)) * d
    check_memory("alphas", 8.0 * (1 + copies) * n * d,
                 f"{where} at d = {d}, alpha = {float(np.max(alphas)):.3g} (n x d = {n:.3g} x {d} data)")


def simulate_erm(model, d: int, alphas, *, seed: int = 0, gtol: float = 1e-8) -> GLMRun:
    """Empirical risk minimisation of a :class:`replica.ERM` model at dimension ``d``.

    Parameters
    ----------
    model : replica.ERM
        Loss (any of :mod:`lmech.blocks.losses` with a kernel), L2 strength ``reg``,
        teacher prior and channel.
    d : int
        Dimension.
    alphas : array_like
        Sample ratios ``n/d``; an independent data set is drawn for each.
    seed : int
        Seed of the :class:`numpy.random.Generator` (teacher, inputs, labels).
    gtol : float
        Logistic: the fit counts as converged when the gradient norm is below
        ``gtol`` times its value at ``w = 0``; hinge: tolerance on the largest
        projected dual gradient (at least ``1e-7``).

    Returns
    -------
    GLMRun
        ``success=False`` if a fit did not converge (its row is still reported).
    """
    import replica
    import replica.erm  # noqa: F401

    if not isinstance(model, replica.ERM):
        raise ValueError(f"model must be a replica.ERM, got {type(model).__name__}")
    d = check_int("d", d, low=1)
    seed = check_int("seed", seed, low=0)
    gtol = check_real("gtol", gtol, low=0.0, low_open=True)
    alphas = _alphas(alphas)
    _check_data_memory(d, alphas, "simulate_erm", copies=2)
    loss = model.loss
    if not isinstance(loss, (Square, Hinge)):
        loss.kernel_code("validation.simulate_erm")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    P = alphas.size
    out = {k: np.full(P, np.nan) for k in ("m", "q", "test_error", "train_loss", "mse")}
    conv = np.zeros(P, dtype=bool)
    iters = np.zeros(P, dtype=np.int64)
    for j, alpha in enumerate(alphas):
        X, y, w_star = _data(model.teacher_prior, model.channel, d, alpha, rng)
        if isinstance(loss, Square):
            w, ok, it = _fit_square(X, y, model.reg)
        elif isinstance(loss, Hinge):
            w, ok, it = _fit_hinge(X, y, model.reg, gtol)
        else:
            w, ok, it = _fit_smooth(X, y, model.reg, loss, gtol)
        h = X @ w / math.sqrt(d)
        tl = float(np.mean(loss.value(y, h)))
        m, q, err, mse = _errors(w, w_star, model.channel)
        out["m"][j], out["q"][j], out["test_error"][j], out["mse"][j] = m, q, err, mse
        out["train_loss"][j] = tl
        conv[j], iters[j] = ok, it
    success = bool(conv.all())
    msg = "every fit converged" if success else \
        f"fits did not converge at alpha = {alphas[~conv].tolist()}"
    return GLMRun(success=success, status=Status.CONVERGED if success else Status.MAX_ITER,
                  message=msg, n_iter=int(iters.sum()),
                  model=model, options={"d": d, "seed": seed, "gtol": gtol},
                  conventions=dict(replica.erm.CONVENTIONS,
                                   solver={"square": "closed form (linear solve)",
                                           "hinge": "dual coordinate descent (Numba)"}.get(
                                       loss.name, "trust-region Newton-CG (scipy) on the primal")),
                  timings={"total": time.perf_counter() - t0},
                  arrays=dict(alpha=alphas, converged=conv, iterations=iters, **out),
                  scalars={"d": d, "seed": seed},
                  error_estimate={k: (0.0 if isinstance(loss, Square) and success else math.nan)
                                  for k in out})


# -- GAMP --------------------------------------------------------------------------
def simulate_gamp(model, d: int, alphas, *, seed: int = 0, n_iter: int = 60, damping: float = 0.0,
                  tol: float = 1e-8) -> GLMRun:
    """GAMP for the Bayes-optimal GLM at dimension ``d`` (Rangan 2011, Algorithm 1).

    Iterates, with ``F = X / sqrt(d)`` and ``F2 = F**2``::

        V     = F2 v_hat,          omega = F w_hat - V g_old
        g, dg = channel.gout(y, omega, V)   (dg = d g / d omega)
        Sigma = 1 / (F2^T (-dg)),  r = w_hat + Sigma F^T g
        w_hat, v_hat = prior.denoise(r, Sigma)   (posterior mean and variance of w
                                                  given r = w + sqrt(Sigma) xi)

    from ``w_hat = 0``, ``v_hat = rho`` (uninformed), for ``n_iter`` iterations
    or until ``|w_hat_new - w_hat|^2 / d < tol``.

    Parameters
    ----------
    model : replica.BayesOptimalGLM
    d : int
    alphas : array_like
    seed : int
    n_iter : int
        Maximum iterations.
    damping : float
        Damping ``0 <= damping < 1`` of ``w_hat``, ``v_hat`` (0: none).
    tol : float
        Stopping tolerance on ``|Delta w_hat|^2 / d`` (``>= 0``).  ``success``
        requires convergence at every alpha (else ``Status.MAX_ITER``);
        ``tol = 0`` runs exactly ``n_iter`` iterations (``Status.STOPPED``,
        successful if the estimates stay finite), for following the iterates.
    """
    import replica
    import replica.erm  # noqa: F401

    if not isinstance(model, replica.BayesOptimalGLM):
        raise ValueError(f"model must be a replica.BayesOptimalGLM, got {type(model).__name__}")
    d = check_int("d", d, low=1)
    seed = check_int("seed", seed, low=0)
    n_iter = check_int("n_iter", n_iter, low=1, high=10**7)  # mse_iter holds P x n_iter values
    damping = check_real("damping", damping, low=0.0, high=1.0, high_open=True)
    tol = check_real("tol", tol, low=0.0)
    alphas = _alphas(alphas)
    _check_data_memory(d, alphas, "simulate_gamp", copies=3)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    P = alphas.size
    out = {k: np.full(P, np.nan) for k in ("m", "q", "test_error", "mse")}
    mse_iter = np.full((P, n_iter), np.nan)
    conv = np.zeros(P, dtype=bool)
    iters = np.zeros(P, dtype=np.int64)
    rho = model.rho
    for j, alpha in enumerate(alphas):
        X, y, w_star = _data(model.prior, model.channel, d, alpha, rng)
        F = X / math.sqrt(d)
        F2 = F * F
        what = np.zeros(d)
        vhat = np.full(d, rho)
        g = np.zeros(F.shape[0])
        for it in range(1, n_iter + 1):
            V = F2 @ vhat
            omega = F @ what - V * g
            g, dg = model.channel.gout(y, omega, V)         # dg = d g / d omega <= 0
            Sigma = 1.0 / np.maximum(F2.T @ -dg, 1e-300)
            r = what + Sigma * (F.T @ g)
            w_new, v_new = model.prior.denoise(r, Sigma)
            if damping:
                w_new = damping * what + (1.0 - damping) * w_new
                v_new = damping * vhat + (1.0 - damping) * v_new
            change = float(np.sum((w_new - what) ** 2)) / d
            what, vhat = w_new, v_new
            mse_iter[j, it - 1] = float(np.sum((what - w_star) ** 2)) / d
            if not np.all(np.isfinite(what)):
                break
            if change < tol:
                conv[j] = True
                mse_iter[j, it:] = mse_iter[j, it - 1]   # the fixed point: later iterates equal it
                break
        iters[j] = it
        m, q, err, mse = _errors(what, w_star, model.channel)
        out["m"][j], out["q"][j], out["test_error"][j], out["mse"][j] = m, q, err, mse
    finite = bool(np.all(np.isfinite(out["mse"])))
    if not finite:
        success, status, msg = False, Status.DIVERGED, "GAMP produced non-finite estimates"
    elif tol == 0.0:
        success, status = True, Status.STOPPED
        msg = f"GAMP ran the requested n_iter = {n_iter} iterations at every alpha (tol = 0: no stopping test)"
    elif conv.all():
        success, status = True, Status.CONVERGED
        msg = f"GAMP converged (|dw|^2/d < {tol:g}) at all {P} alphas"
    else:
        success, status = False, Status.MAX_ITER
        msg = (f"GAMP did not converge (|dw|^2/d < {tol:g}) within n_iter = {n_iter} at alpha = "
               f"{alphas[~conv].tolist()} (converged at {int(conv.sum())} of {P} alphas)")
    return GLMRun(success=success, status=status,
                  message=msg, n_iter=int(iters.sum()),
                  model=model, options={"d": d, "seed": seed, "n_iter": n_iter, "damping": damping,
                                        "tol": tol},
                  conventions={"algorithm": "GAMP, Rangan ISIT 2011 Algorithm 1, uninformed start",
                               "test_error": "arccos(w.w*/(|w||w*|))/pi of the posterior-mean estimate",
                               "mse": "|w_hat - w*|^2/d"},
                  timings={"total": time.perf_counter() - t0},
                  arrays=dict(alpha=alphas, converged=conv, iterations=iters, mse_iter=mse_iter, **out),
                  scalars={"d": d, "seed": seed}, error_estimate={k: math.nan for k in out})


def state_evolution(model, alphas, n_iter: int) -> np.ndarray:
    """State-evolution prediction of GAMP's mean squared error after each iteration.

    From the uninformed start ``q_0 = 0``: ``r_t = alpha qhat(q_t)``,
    ``mse_{t+1} = mmse(r_t)``, ``q_{t+1} = rho - mse_{t+1}`` (Rangan 2011;
    Barbier et al., PNAS 2019, eqs. (14)-(15)), with the channel's
    ``qhat_unit`` and the prior's ``mmse`` from :mod:`replica.blocks`.
    Returns ``mse`` of shape (len(alphas), n_iter).
    """
    alphas = np.asarray(alphas, dtype=float).ravel()
    n_iter = check_int("n_iter", n_iter, low=1, high=10**7)  # mse_iter holds P x n_iter values
    rho = model.rho
    out = np.empty((alphas.size, n_iter))
    for j, a in enumerate(alphas):
        q = 0.0
        for t in range(n_iter):
            r = a * model.channel.qhat_unit(q, rho)
            mse = model.prior.mmse(r)
            out[j, t] = mse
            q = rho - mse
    return out


# -- theory, point functions ---------------------------------------------------------
def replica_theory(model, alphas, **options) -> dict:
    """Saddle points of ``replica.solve(model, alpha)`` at every ``alpha``, as arrays for :func:`compare`.

    Returns ``{"alpha": ..., <scalar>: array}`` for every scalar the solver
    reports; for the Bayes-optimal GLM also ``mse`` (the MMSE ``rho - q``) and
    ``test_error`` (the Bayes error ``eg_bayes``).  Raises ValueError if a solve fails.
    """
    import replica
    import replica.erm  # noqa: F401

    alphas = np.asarray(alphas, dtype=float).ravel()
    rows = []
    for a in alphas:
        res = replica.solve(model, float(a), **options)
        if not res.success:
            raise ValueError(f"alphas: the replica solve failed at alpha = {a}: {res.message}")
        rows.append(dict(res.scalars))
    keys = [k for k in rows[0] if all(isinstance(r.get(k), (int, float)) for r in rows)]
    out = {"alpha": alphas}
    for k in keys:
        out[k] = np.array([float(r[k]) for r in rows])
    if isinstance(model, replica.BayesOptimalGLM):
        out["mse"] = out["mmse"] if "mmse" in out else model.rho - out["q"]
        if "eg_bayes" in out:
            out["test_error"] = out["eg_bayes"]
    return out


def erm_point(N, seed, *, model, alphas, **options):
    """Point function for :func:`validation.compare` (``N`` is the dimension ``d``)."""
    return simulate_erm(model, int(N), alphas, seed=int(seed), **options)


def gamp_point(N, seed, *, model, alphas, **options):
    """Point function for :func:`validation.compare` (``N`` is the dimension ``d``)."""
    return simulate_gamp(model, int(N), alphas, seed=int(seed), **options)


def alphas_from(theory) -> dict:
    """Default abscissa: the theory's ``alpha`` points."""
    a = theory.arrays if isinstance(theory, Result) else theory
    return {"alphas": np.asarray(a["alpha"], dtype=float)}


register_simulator("replica.ERM", Simulator(
    point="validation.erm:erm_point", x="alpha", observables=("test_error", "train_loss", "m", "q"),
    from_theory="validation.erm:alphas_from"))
register_simulator("replica.BayesOptimalGLM", Simulator(
    point="validation.erm:gamp_point", x="alpha", observables=("test_error", "mse"),
    from_theory="validation.erm:alphas_from"))

erm_point.options_of = simulate_erm      # the options compare() may pass (validation.compare)
gamp_point.options_of = simulate_gamp

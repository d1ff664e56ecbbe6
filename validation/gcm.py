"""Finite-p simulation of the Gaussian covariate model and of real random features, for :func:`validation.compare`.

Two simulators, in the convention of :mod:`replica.gcm` (the GCM, Loureiro et
al., NeurIPS 2021) and :mod:`replica.gcm_rf` (random features):

* :func:`simulate_gcm` -- **Gaussian data with the model's spectrum** (model
  :class:`replica.GaussianCovariateModel`): at ``p`` modes, ``n = round(alpha
  p)`` samples ``v_mu`` with independent coordinates ``v_i ~ N(0, omega_i)``
  (the eigenbasis of ``Omega``: the L2-penalised ERM is rotation equivariant,
  so no rotation is drawn), the teacher exactly as the convention writes it,
  ``nu = (1/sqrt p) sum_i theta_i v_i + sqrt(rho_perp) xi`` with ``theta_i =
  sqrt(theta2_i)``, ``xi ~ N(0, 1)``, labels ``y = channel.sample(nu)``.  The
  model's spectrum is used as is at ``p = model.p``; at another ``p`` it is
  resampled at the midpoint quantiles of its (sorted) modes, ``i_j =
  floor((j + 1/2) P / p)``, keeping the pairs ``(omega_i, theta2_i)`` and
  ``rho_perp``.  Observables are exact given the fit: ``m = (1/p) sum_i
  theta_i omega_i w_i``, ``q = (1/p) sum_i omega_i w_i^2``, ``test_error =
  channel.test_error(m, q, rho)`` (the population error of ``w`` on fresh
  Gaussian data).
* :func:`simulate_random_features` -- **a real nonlinear feature map** (model
  :class:`replica.RandomFeatures`): ``d = round(N / N_over_d)``, ``F`` an ``N x
  d`` matrix of i.i.d. ``N(0, 1)``, ``x ~ N(0, I_d)``, features ``v =
  sigma(F x / sqrt d)`` (the activation's own ``g``, no Gaussian
  equivalence), teacher ``nu = theta0.x / sqrt d`` with ``theta0`` uniform on
  the sphere ``|theta0|^2 = rho d``, ``n = round(alpha N)``.  Test
  observables on ``n_test`` fresh inputs: ``m = mean(nu h)``, ``q = mean(h^2)``,
  ``test_error``: regression ``rho + q - 2m`` (``E nu^2 = rho`` exactly, a
  control variate for ``mean((nu - h)^2)``), classification the fraction of
  fresh labels ``y = channel.sample(nu)`` with ``sign(h) != y``.  Comparing it
  with the GCM of :meth:`replica.RandomFeatures.gcm` tests Gaussian
  universality.

Gaussian universality, measured (N/d = 2, ``validation.compare`` over N = 200, 400, 800 with 10
seeds, 1/N extrapolation, family-wise level 0.01; 2026-12-05): the real feature map was rejected
nowhere.  Ridge (``lambda = 0.1``, label noise 0.1; tanh and ReLU): agreement at every ``n/N`` in
{0.5, 1, 2}; with 16 seeds the test error agrees within 0.02 + 5 % (proved, both activations).
Logistic (``lambda = 0.05``) and hinge (``lambda = 0.1``) on a sign teacher, tanh and ReLU: the
extrapolated test error within 3.5 % of the GCM (hinge, tanh: within 5 % proved).  The two largest
deviations of that survey went away with N up to 1600 and 16 seeds: logistic tanh at ``n/N = 2``
(-3.4 %, ``z = -2.4`` -> -0.1 %, ``z = -0.1``, agreement within 5 % proved) and ridge tanh at
``lambda = 1e-3``, ``n/N = 1.1`` near the interpolation peak (-6.5 %, ``z = -3.7`` -> +3 %,
``z = 1.0``).  Near the peak (``n/N`` in [0.9, 1.1], ``lambda = 1e-3``) the instance-to-instance
fluctuations are 5-10 % at these sizes, so agreement there is only "not rejected".  ReLU's ``mu0 !=
0`` (the mean direction dropped from the GCM) shows no effect at this resolution.  Theorems: Mei &
Montanari 2022 (ridge, inputs on the sphere), Hu & Lu, IEEE Trans. Inf. Theory 69, 1932 (2023)
(convex losses, odd activations).

Fits (``w`` minimises ``sum_mu loss(y_mu, w.v_mu / sqrt p) + (lambda/2)
|w|^2``): the square loss in closed form (a Cholesky solve on the smaller of
the ``p x p`` primal and ``n x n`` dual systems; ``lambda = 0`` the
minimum-norm least-squares solution), the logistic loss by trust-region
Newton-CG (scipy) and the hinge loss by dual coordinate descent (the fits
of :func:`validation.simulate_erm`).
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.linalg as sla

from lmech.blocks.channels import Linear as LinearChannel
from lmech.blocks.losses import Hinge, Square
from lmech.checks import check_int, check_memory, check_real
from lmech.result import Result, register_result
from lmech.status import Status

from .compare import Simulator, register_simulator
from .erm import _alphas, _check_data_memory, _fit_hinge, _fit_smooth, replica_theory

__all__ = ["GCMRun", "spectrum_at", "simulate_gcm", "simulate_random_features", "gcm_theory",
           "gcm_point", "rf_point", "fit_ridge"]


@register_result("validation.GCMRun")
class GCMRun(Result):
    """Finite-p ERM on GCM data or real random features over a list of ``alpha``.

    Arrays: ``alpha`` (P,), ``m``, ``q``, ``test_error``, ``train_loss`` (P,),
    ``converged`` (P,) (bool), ``iterations`` (P,).  Scalars: ``p`` (``N`` for
    random features), ``seed``; random features also ``d``, ``n_test``.

    ``error_estimate``: Gaussian data, 0 for the square loss (closed form,
    exact given the instance) and NaN for the iterative fits; random
    features, the largest Monte Carlo standard error of the test estimate
    over the ``alpha`` points (square loss), NaN otherwise.  The spread over
    instances is what :func:`validation.compare` measures.
    """


def spectrum_at(model, p: int):
    """``(omega, theta2, rho_perp)`` of a :class:`replica.GaussianCovariateModel` at ``p`` modes.

    The model's arrays at ``p = model.p``; otherwise its modes sorted by
    decreasing ``omega`` taken at the midpoint quantiles ``i_j = floor((j +
    1/2) P / p)``, ``j < p`` (pairs ``(omega, theta2)`` kept; ``rho_perp`` the
    model's).  This is a discretisation of the model's spectral law, right
    for spectra with a ``p``-independent limit (Marchenko–Pastur, random
    features, isotropic); a power law ``omega_k = k^-a`` is defined mode by
    mode and has no such limit (its top modes would be skipped): simulate it
    at ``p = model.p``.
    """
    p = check_int("p", p, low=1)
    omega, theta2, rho_perp = model.spectra()
    P = omega.size
    if p == P:
        return omega, theta2, rho_perp
    order = np.argsort(-omega, kind="stable")
    idx = order[((np.arange(p) + 0.5) * P / p).astype(np.int64)]
    return omega[idx], theta2[idx], rho_perp


def fit_ridge(X, y, lam):
    """Minimiser of ``sum_mu (y_mu - w.x_mu / sqrt p)^2 / 2 + (lam/2)|w|^2`` (``X`` is ``n x p``).

    Cholesky solve of ``(A^T A + lam) w = A^T y`` (``n >= p``) or ``w = A^T (A A^T
    + lam)^-1 y`` (``n < p``), ``A = X / sqrt p``; at ``lam = 0`` the
    minimum-norm least-squares solution (LAPACK ``gelsd``).
    """
    n, p = X.shape
    A = X / math.sqrt(p)
    if lam == 0.0:
        return sla.lstsq(A, y, lapack_driver="gelsd")[0]
    if n >= p:
        G = A.T @ A
        G[np.diag_indices(p)] += lam
        return sla.solve(G, A.T @ y, assume_a="pos")
    G = A @ A.T
    G[np.diag_indices(n)] += lam
    return A.T @ sla.solve(G, y, assume_a="pos")


def _fit(X, y, model, gtol):
    loss = model.loss
    if isinstance(loss, Square):
        return fit_ridge(X, y, model.reg), True, 1
    if isinstance(loss, Hinge):
        return _fit_hinge(X, y, model.reg, gtol)
    return _fit_smooth(X, y, model.reg, loss, gtol)


def _check_loss(model, where):
    if not isinstance(model.loss, (Square, Hinge)):
        model.loss.kernel_code(where)


def _solver_name(loss):
    return {"square": "closed form (Cholesky; lambda = 0: minimum-norm least squares)",
            "hinge": "dual coordinate descent (Numba)"}.get(loss.name, "trust-region Newton-CG (scipy)")


def simulate_gcm(model, p: int, alphas, *, seed: int = 0, gtol: float = 1e-8) -> GCMRun:
    """ERM on Gaussian data with the spectrum of a :class:`replica.GaussianCovariateModel` at ``p`` modes.

    Parameters
    ----------
    model : replica.GaussianCovariateModel
        Spectrum, loss, ridge ``reg`` and channel.
    p : int
        Number of modes (the spectrum is resampled by :func:`spectrum_at`).
    alphas : array_like
        Sample ratios ``n / p``; an independent data set at each.
    seed : int
        Seed of the :class:`numpy.random.Generator` (inputs, teacher noise, labels).
    gtol : float
        Tolerance of the iterative fits (see :func:`validation.simulate_erm`).

    Returns
    -------
    GCMRun
        ``success=False`` if a fit did not converge (its row is still reported).
    """
    import replica

    if not isinstance(model, replica.GaussianCovariateModel):
        raise ValueError(f"model must be a replica.GaussianCovariateModel, got {type(model).__name__}")
    p = check_int("p", p, low=1)
    seed = check_int("seed", seed, low=0)
    gtol = check_real("gtol", gtol, low=0.0, low_open=True)
    alphas = _alphas(alphas)
    _check_data_memory(p, alphas, "simulate_gcm", copies=2)
    _check_loss(model, "validation.simulate_gcm")
    t0 = time.perf_counter()
    omega, theta2, rho_perp = spectrum_at(model, p)
    sq = np.sqrt(omega)
    theta = np.sqrt(theta2)
    rho = float(np.mean(omega * theta2)) + rho_perp
    rng = np.random.default_rng(seed)
    P = alphas.size
    out = {k: np.full(P, np.nan) for k in ("m", "q", "test_error", "train_loss")}
    conv = np.zeros(P, dtype=bool)
    iters = np.zeros(P, dtype=np.int64)
    for j, alpha in enumerate(alphas):
        n = max(1, int(round(alpha * p)))
        X = rng.standard_normal((n, p)) * sq
        nu = X @ theta / math.sqrt(p)
        if rho_perp > 0.0:
            nu += math.sqrt(rho_perp) * rng.standard_normal(n)
        y = model.channel.sample(nu, rng)
        w, ok, it = _fit(X, y, model, gtol)
        h = X @ w / math.sqrt(p)
        m = float(np.mean(theta * omega * w))
        q = float(np.mean(omega * w * w))
        out["m"][j], out["q"][j] = m, q
        out["test_error"][j] = model.channel.test_error(m, q, rho)
        out["train_loss"][j] = float(np.mean(model.loss.value(y, h)))
        conv[j], iters[j] = ok, it
    success = bool(conv.all())
    msg = "every fit converged" if success else f"fits did not converge at alpha = {alphas[~conv].tolist()}"
    exact = isinstance(model.loss, Square) and success
    return GCMRun(success=success, status=Status.CONVERGED if success else Status.MAX_ITER, message=msg,
                  n_iter=int(iters.sum()), model=model, options={"p": p, "seed": seed, "gtol": gtol},
                  conventions={"data": "v_i ~ N(0, omega_i), independent (Omega's eigenbasis)",
                               "teacher": "nu = (1/sqrt p) sum_i sqrt(theta2_i) v_i + sqrt(rho_perp) xi",
                               "spectrum": "the model's at p = model.p, else its midpoint-quantile resampling",
                               "observables": "m, q exact population overlaps of the fit; test_error = "
                                              "channel.test_error(m, q, rho); train_loss the mean loss",
                               "solver": _solver_name(model.loss)},
                  timings={"total": time.perf_counter() - t0},
                  arrays=dict(alpha=alphas, converged=conv, iterations=iters, **out),
                  scalars={"p": p, "seed": seed, "rho": rho},
                  error_estimate={k: (0.0 if exact else math.nan) for k in out})


def simulate_random_features(model, N: int, alphas, *, seed: int = 0, gtol: float = 1e-8,
                             n_test: int | None = None) -> GCMRun:
    """ERM on real random features ``sigma(F x / sqrt d)`` (a :class:`replica.RandomFeatures` model).

    Parameters
    ----------
    model : replica.RandomFeatures
        Activation, ``N_over_d``, ``rho``, loss, ridge and channel.
    N : int
        Number of features (``d = max(1, round(N / N_over_d))``).
    alphas : array_like
        Sample ratios ``n / N``; an independent data set (and ``F``, teacher) at each.
    seed : int
        Seed of the generator.
    gtol : float
        Tolerance of the iterative fits.
    n_test : int, optional
        Fresh inputs for the test observables (default ``max(10000, 4 N)``),
        drawn in blocks of at most 4096.

    Returns
    -------
    GCMRun
        See the module docstring for the observables.
    """
    import replica

    if not isinstance(model, replica.RandomFeatures):
        raise ValueError(f"model must be a replica.RandomFeatures, got {type(model).__name__}")
    N = check_int("N", N, low=1)
    seed = check_int("seed", seed, low=0)
    gtol = check_real("gtol", gtol, low=0.0, low_open=True)
    n_test = max(10_000, 4 * N) if n_test is None else check_int("n_test", n_test, low=2)
    alphas = _alphas(alphas)
    d = max(1, int(round(N / model.N_over_d)))
    check_memory("alphas", 8.0 * (3 * float(np.max(alphas)) * N * N + N * d),
                 f"simulate_random_features at N = {N}, alpha = {float(np.max(alphas)):.3g}")
    _check_loss(model, "validation.simulate_random_features")
    t0 = time.perf_counter()
    act = model.activation
    rho = model.rho
    sqd = math.sqrt(d)
    rng = np.random.default_rng(seed)
    P = alphas.size
    out = {k: np.full(P, np.nan) for k in ("m", "q", "test_error", "train_loss")}
    sem = np.full(P, np.nan)
    conv = np.zeros(P, dtype=bool)
    iters = np.zeros(P, dtype=np.int64)

    regression = isinstance(model.channel, LinearChannel)

    def features(X, F):
        return act.g((X @ F.T) / sqd)

    for j, alpha in enumerate(alphas):
        n = max(1, int(round(alpha * N)))
        F = rng.standard_normal((N, d))
        theta0 = rng.standard_normal(d)
        theta0 *= math.sqrt(rho * d) / np.linalg.norm(theta0)
        X = rng.standard_normal((n, d))
        nu = X @ theta0 / sqd
        y = model.channel.sample(nu, rng)
        V = features(X, F)
        del X
        w, ok, it = _fit(V, y, model, gtol)
        h = V @ w / math.sqrt(N)
        out["train_loss"][j] = float(np.mean(model.loss.value(y, h)))
        del V
        # fresh inputs, in blocks
        s_nh = s_hh = 0.0
        terms = []
        done = 0
        while done < n_test:
            b = min(4096, n_test - done)
            Xt = rng.standard_normal((b, d))
            nut = Xt @ theta0 / sqd
            ht = features(Xt, F) @ w / math.sqrt(N)
            s_nh += float(nut @ ht)
            s_hh += float(ht @ ht)
            if regression:                       # mean + rho is the test error (E nu^2 = rho exactly)
                terms.append(ht * ht - 2.0 * nut * ht)
            else:
                yt = model.channel.sample(nut, rng)
                terms.append((np.where(ht > 0.0, 1.0, -1.0) != yt).astype(float))
            done += b
        m, q = s_nh / n_test, s_hh / n_test
        out["m"][j], out["q"][j] = m, q
        t = np.concatenate(terms)
        out["test_error"][j] = rho + q - 2.0 * m if regression else float(np.mean(t))
        sem[j] = float(np.std(t, ddof=1)) / math.sqrt(t.size)
        conv[j], iters[j] = ok, it
    success = bool(conv.all())
    msg = "every fit converged" if success else f"fits did not converge at alpha = {alphas[~conv].tolist()}"
    err = {k: math.nan for k in out}
    err["test_error"] = float(np.nanmax(sem))
    conv_ = dict(replica.RandomFeatures.conventions(model))
    conv_.update(features="the activation's own g (no Gaussian equivalence); F i.i.d. N(0, 1)",
                 teacher_draw="theta0 uniform on the sphere |theta0|^2 = rho d",
                 observables="on n_test fresh inputs: m = mean(nu h), q = mean(h^2); test_error: "
                             "regression rho + q - 2m, classification mean(sign(h) != y), y ~ channel(nu)",
                 solver=_solver_name(model.loss))
    return GCMRun(success=success, status=Status.CONVERGED if success else Status.MAX_ITER, message=msg,
                  n_iter=int(iters.sum()), model=model,
                  options={"N": N, "seed": seed, "gtol": gtol, "n_test": n_test},
                  conventions=conv_, timings={"total": time.perf_counter() - t0},
                  arrays=dict(alpha=alphas, converged=conv, iterations=iters, test_error_sem=sem, **out),
                  scalars={"p": N, "N": N, "d": d, "seed": seed, "n_test": n_test},
                  error_estimate=err)


def gcm_theory(model, alphas, **options) -> dict:
    """The replica prediction at every ``alpha`` for :func:`validation.compare`.

    ``model`` a :class:`replica.GaussianCovariateModel` or a
    :class:`replica.RandomFeatures` (its :meth:`~replica.RandomFeatures.gcm`);
    the saddle points of ``replica.solve`` packed by
    :func:`validation.erm.replica_theory` (``{"alpha": ..., "test_error": ...,
    "m": ..., "q": ..., "train_loss": ...}``).  Raises ValueError if a solve fails.
    """
    import replica

    if isinstance(model, replica.RandomFeatures):
        model = model.gcm()
    return replica_theory(model, alphas, **options)


def gcm_point(N, seed, *, model, alphas, **options):
    """Point function for :func:`validation.compare` (``N`` is the number of modes ``p``)."""
    return simulate_gcm(model, int(N), alphas, seed=int(seed), **options)


def rf_point(N, seed, *, model, alphas, **options):
    """Point function for :func:`validation.compare` (``N`` is the number of features)."""
    return simulate_random_features(model, int(N), alphas, seed=int(seed), **options)


register_simulator("replica.GaussianCovariateModel", Simulator(
    point="validation.gcm:gcm_point", x="alpha", observables=("test_error", "train_loss", "m", "q"),
    from_theory="validation.erm:alphas_from"))
register_simulator("replica.RandomFeatures", Simulator(
    point="validation.gcm:rf_point", x="alpha", observables=("test_error", "train_loss", "m", "q"),
    from_theory="validation.erm:alphas_from"))

gcm_point.options_of = simulate_gcm      # the options compare() may pass (validation.compare)
rf_point.options_of = simulate_random_features


# -- ``lmech validate`` kind: real random features against the GCM ----------------------
def _rf_theory(model, th):
    from lmech.config import ConfigError

    alphas = th["alphas"]
    if alphas[0] <= 0:
        raise ConfigError("theory.alphas", "sample ratios must be > 0")
    try:
        return gcm_theory(model, alphas), {"alphas": alphas}
    except (ValueError, NotImplementedError) as exc:
        raise ConfigError("theory.alphas", str(exc)) from None


def _register_kind():
    from lmech.config import Param

    from .config import KINDS, ValidationKind, _alphas_check, _times

    KINDS["validation.rf"] = ValidationKind(
        name="validation.rf", model="replica:RandomFeatures",
        theory={"alphas": _times},
        simulation={"gtol": Param(float, low=0.0, low_open=True, high=1e-2),
                    "n_test": Param(int, low=2, high=10**7)},
        required=("alphas",), make_theory=_rf_theory, check=_alphas_check,
        description="ERM on real random features sigma(F x/sqrt d) at finite N vs the Gaussian "
                    "covariate model of their Gaussian equivalent (replica.RandomFeatures)")


_register_kind()

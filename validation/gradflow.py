"""Exact finite-size gradient flows matching :mod:`dmft`: least squares and the p = 2 spherical model.

Both flows are linear (up to the spherical normalisation), so at finite size
they are solved *exactly* in the eigenbasis of one random matrix, with no
time-discretisation error: the only difference from the DMFT is the size.

* :func:`simulate_linreg` -- gradient flow on ridge least squares with iid
  Gaussian data, in the conventions of :class:`dmft.LinearRegressionGF`:
  ``beta(t) = (S + lambda)^{-1} (1 - e^{-(S+lambda) t}) X^T y / n`` with
  ``S = X^T X / n`` (the solution of ``d beta/dt = -grad L``,
  ``L = |y - X beta|^2/(2n) + lambda |beta|^2/2``, ``beta(0) = 0``).
* :func:`simulate_pspin2` -- zero-temperature gradient flow of the spherical
  2-spin model (:class:`dmft.SphericalPSpin` with ``p = 2``, ``T = 0``):
  ``H(s) = -(1/2) s^T J s`` with ``J`` a GOE matrix scaled so that
  ``E[H(s) H(s')] = N xi(s.s'/N)``, ``xi(q) = c q^2`` (``E J_ij^2 = 2c/N``
  off the diagonal, ``4c/N`` on it), and ``ds/dt = J s - mu s`` on the sphere
  ``|s|^2 = N``, solved by ``s(t) = sqrt(N) e^{J t} s0 / |e^{J t} s0|``
  (Cugliandolo & Dean, J. Phys. A 28, 4213 (1995), eq. (8)).
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from lmech.blocks import get_channel
from lmech.checks import check_array, check_int, check_real
from lmech.result import Result, register_result

from ._kernels import pspin as _kp
from .compare import Simulator, register_simulator

__all__ = ["FlowRun", "simulate_linreg", "simulate_glm", "simulate_pspin2", "simulate_pspin", "pspin_point", "simulate_rnn", "linreg_point",
           "pspin2_point", "rnn_point", "pspin_theory", "pspin_tensor_bytes"]


@register_result("validation.FlowRun")
class FlowRun(Result):
    """One exact finite-size gradient flow.

    Arrays: ``t`` (n,) and the model's observables on it, named as in
    :class:`dmft.DMFTResult` (least squares: ``error_t``, ``test_risk_t``,
    ``train_loss_t``, ``m``; p = 2 spin: ``C`` (n, n) at the recorded times,
    ``e``, ``mu``).  Scalars: ``N`` (or ``d``), ``seed``.

    ``error_estimate`` of every observable: 0 for the exact solutions
    (eigenbasis; the values are exact functions of the sampled instance, up
    to rounding), NaN for the integrated dynamics (the time-step error of
    the stochastic Heun scheme is not estimated within one run).  A single
    run has no Monte Carlo error of its own: the spread over instances is
    what :func:`validation.compare` measures.
    """


def flow_errors(names, exact: bool) -> dict:
    """``error_estimate`` of a :class:`FlowRun`: 0 for exact solutions, NaN (not estimated) else."""
    return {str(k): (0.0 if exact else math.nan) for k in names}


def _teacher_data(alpha, d, seed, norm2):
    """Gaussian data ``X`` (n x d, n = round(alpha d)) and a teacher with ``|b*|^2 = norm2``.

    Returns ``(rng, X, bstar)``; the generator is returned so that label noise is drawn
    from the same seeded stream, after ``X`` and ``b*``.
    """
    n = max(1, int(round(alpha * d)))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    bstar = rng.standard_normal(d)
    bstar *= math.sqrt(norm2) / np.linalg.norm(bstar)
    return rng, X, bstar


def _times(times):
    t = check_array("times", times, finite=False).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("times must be a non-empty, strictly increasing sequence of finite times >= 0")
    return t


def _grid_steps(times, dt):
    """``(t, steps)``: the checked recording times and their step indices ``t / dt``."""
    t = _times(times)
    k = t / dt
    if np.any(np.abs(k - np.rint(k)) > 1e-9 * np.maximum(1.0, k)):
        raise ValueError(f"times must be multiples of dt = {dt:g}")
    return t, np.rint(k).astype(np.int64)


def _lsq_flow(X, y, lam, T, t, rng):
    """``beta(t)`` (n_times, d) of gradient flow / Langevin dynamics on ``|y - X beta|^2/(2n) + lam|beta|^2/2``.

    Exact in the eigenbasis of ``S = X^T X/n``: without noise ``beta(t) = (S +
    lam)^{-1} (1 - e^{-(S+lam)t}) X^T y/n``; at temperature ``T`` every mode is
    an Ornstein-Uhlenbeck process ``d b_k = -(a_k b_k - c_k) dt + sqrt(2T/d) dW_k``
    sampled exactly between recording times.
    """
    n, d = X.shape
    S = X.T @ X / n
    s, U = np.linalg.eigh(S)
    s = np.clip(s, 0.0, None)            # rounding can make zero modes slightly negative
    bt = U.T @ (X.T @ y / n)             # X^T y / n in the eigenbasis
    a = s + lam
    pos = a > 0
    beta = np.zeros(d)                   # in the eigenbasis
    out = np.empty((t.size, d))
    t_prev = 0.0
    for j, tj in enumerate(t):
        dt = tj - t_prev
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if T == 0.0:
                f = np.where(pos, -np.expm1(-a * tj) / np.where(pos, a, 1.0), tj)
                beta = f * bt
            elif dt > 0:
                decay = np.exp(-a * dt)
                f = np.where(pos, -np.expm1(-a * dt) / np.where(pos, a, 1.0), dt)
                var = np.where(pos, -np.expm1(-2.0 * a * dt) / np.where(pos, 2.0 * a, 1.0), dt)
                beta = decay * beta + f * bt + np.sqrt(2.0 * T / d * var) * rng.standard_normal(d)
        t_prev = tj
        out[j] = U @ beta
    return out


def simulate_linreg(model, d: int, times, *, seed: int = 0) -> FlowRun:
    """Exact gradient flow (or Langevin dynamics) on least squares at finite ``d``.

    ``n = round(alpha d)`` samples; at ``model.temperature = T > 0`` the
    dynamics is ``d beta = -grad L dt + sqrt(2T/d) dW``, an Ornstein-Uhlenbeck
    process in the eigenbasis of ``X^T X/n``, sampled exactly at the
    recorded times (no time step).

    Parameters
    ----------
    model : dmft.LinearRegressionGF
        ``alpha = n/d``, label-noise variance, ridge, ``|beta*|^2``.
    d : int
        Dimension (``>= 1``; ``n = max(1, round(alpha d))``).
    times : array_like
        Increasing times of the flow (learning rate 1) at which to record.
    seed : int
        Seed of the :class:`numpy.random.Generator` drawing ``X``, the
        direction of ``beta*`` (uniform on the sphere of radius ``sqrt(signal)``)
        and the noise.

    Returns
    -------
    FlowRun
        ``error_t = |beta(t) - beta*|^2`` (the DMFT's ``C(t,t)``),
        ``test_risk_t = (error_t + noise)/2``, ``train_loss_t = |y - X
        beta(t)|^2/(2n)`` (without the ridge term) and ``m = beta*.(beta(t) -
        beta*)``, as in :func:`dmft.solve`.
    """
    import dmft

    if not isinstance(model, dmft.LinearRegressionGF):
        raise ValueError(f"model must be a dmft.LinearRegressionGF, got {type(model).__name__}")
    d = check_int("d", d, low=1)
    seed = check_int("seed", seed, low=0)
    t = _times(times)
    t0 = time.perf_counter()
    rng, X, bstar = _teacher_data(model.alpha, d, seed, model.signal)
    n = X.shape[0]
    y = X @ bstar + math.sqrt(model.noise) * rng.standard_normal(n)
    betas = _lsq_flow(X, y, model.ridge, float(getattr(model, "temperature", 0.0)), t, rng)
    diff = betas - bstar
    err = np.einsum("ij,ij->i", diff, diff)
    m = diff @ bstar
    r = y[None, :] - betas @ X.T
    train = np.einsum("ij,ij->i", r, r) / (2.0 * n)
    conv = dict(model.conventions())
    conv.update(beta_star="uniform direction, |beta*|^2 = signal exactly",
                solution="exact: eigendecomposition of X^T X/n (no time step); at temperature "
                         "T > 0, exact Ornstein-Uhlenbeck transitions of the eigenmodes")
    return FlowRun(success=True, message="exact solution", model=model,
                   options={"d": d, "n": n, "seed": seed}, conventions=conv,
                   timings={"total": time.perf_counter() - t0},
                   arrays={"t": t, "error_t": err, "test_risk_t": 0.5 * (err + model.noise),
                           "train_loss_t": train, "m": m},
                   scalars={"d": d, "n": n, "seed": seed, "error": float(err[-1])},
                   error_estimate=flow_errors(["error_t", "test_risk_t", "train_loss_t", "m"], exact=True))


def simulate_glm(model, d: int, times, *, seed: int = 0) -> FlowRun:
    """Exact gradient flow (or Langevin dynamics) on the square loss with GLM labels at finite ``d``.

    Data as in :class:`dmft.GLMDynamics`: ``x ~ N(0, I_d)``, ``y = f(x.beta*) +
    sqrt(noise) z`` with the *actual* teacher ``f`` (linear, sign, relu),
    ``|beta*|^2 = rho`` exactly; the flow is solved as in :func:`simulate_linreg`.
    This tests the DMFT's closure of the square loss by a linear-equivalent
    teacher (Stein's lemma) against the real non-Gaussian labels.

    Returns
    -------
    FlowRun
        ``M_t = beta.beta*``, ``Q_t = |beta|^2``, ``train_loss_t``,
        ``test_risk_t = E(y - x.beta)^2/2 = (E y^2 - 2 a M + Q)/2`` (exact for
        Gaussian inputs, ``a = E[f(h*) h*]/rho``), and for the sign teacher
        ``test_error_t = arccos(M/sqrt(Q rho))/pi``.
    """
    import dmft

    if not isinstance(model, dmft.GLMDynamics):
        raise ValueError(f"model must be a dmft.GLMDynamics, got {type(model).__name__}")
    if model.loss != "square":
        raise ValueError(f"loss must be 'square' for the exact flow, got {model.loss!r} "
                         "(use validation.glm.simulate_glm_dynamics)")
    if model.batch_fraction != 1.0:
        raise ValueError("batch_fraction must be 1 for the exact flow "
                         "(use validation.glm.simulate_glm_dynamics)")
    d = check_int("d", d, low=1)
    seed = check_int("seed", seed, low=0)
    t = _times(times)
    t0 = time.perf_counter()
    rng, X, bstar = _teacher_data(model.alpha, d, seed, model.rho)
    n = X.shape[0]
    h = X @ bstar
    f = get_channel(model.teacher).teacher_map(h)      # the clean teacher f(h*)
    y = f + math.sqrt(model.noise) * rng.standard_normal(n)
    betas = _lsq_flow(X, y, model.ridge, model.temperature, t, rng)
    M = betas @ bstar
    Q = np.einsum("ij,ij->i", betas, betas)
    r = y[None, :] - betas @ X.T
    arrays = {"t": t, "M_t": M, "Q_t": Q, "train_loss_t": np.einsum("ij,ij->i", r, r) / (2.0 * n),
              "test_risk_t": model.test_risk(M, Q)}
    if model.teacher == "sign":
        arrays["test_error_t"] = get_channel(model.teacher).test_error(M, Q, model.rho)
    conv = dict(model.conventions())
    conv.update(beta_star="uniform direction, |beta*|^2 = rho exactly",
                solution="exact: eigendecomposition of X^T X/n (no time step)")
    return FlowRun(success=True, message="exact solution", model=model,
                   options={"d": d, "n": n, "seed": seed}, conventions=conv,
                   timings={"total": time.perf_counter() - t0}, arrays=arrays,
                   scalars={"d": d, "n": n, "seed": seed, "Q": float(Q[-1])},
                   error_estimate=flow_errors([k for k in arrays if k != "t"], exact=True))


def simulate_pspin2(model, N: int, times, *, seed: int = 0) -> FlowRun:
    """Exact zero-temperature dynamics of the spherical 2-spin model at size ``N``.

    Parameters
    ----------
    model : dmft.SphericalPSpin
        ``p = 2``, ``T = 0``, no mixture; its ``convention`` fixes the scale
        of ``J`` (``E[H H'] = N c q^2``).
    N : int
        Number of spins (``>= 2``).
    times : array_like
        Increasing times at which to record.
    seed : int
        Seed of the generator drawing ``J`` (GOE) and ``s(0)`` (uniform on
        the sphere).

    Returns
    -------
    FlowRun
        ``C`` (n, n): ``C(t_i, t_j) = s(t_i).s(t_j)/N``; ``e`` (n,):
        ``H(s(t))/N``; ``mu`` (n,): the Lagrange multiplier ``s^T J s / N``.

    Notes
    -----
    In the eigenbasis ``J = sum_k lambda_k u_k u_k^T`` and with ``a_k =
    (u_k . s0)^2 / N``, ``C(t, t') = sum a_k e^{lambda_k (t+t')} /
    sqrt(Z(t) Z(t'))``, ``Z(t) = sum a_k e^{2 lambda_k t}``, and ``e(t) =
    -(1/2) sum a_k lambda_k e^{2 lambda_k t} / Z(t)``; exponents are shifted by
    the largest eigenvalue to avoid overflow.
    """
    import dmft

    if not isinstance(model, dmft.SphericalPSpin):
        raise ValueError(f"model must be a dmft.SphericalPSpin, got {type(model).__name__}")
    if model.p != 2 or not model.pure:
        raise ValueError(f"p must be 2 (pure) for the exact GOE dynamics, got p={model.p}")
    if model.T != 0.0:
        raise ValueError(f"T must be 0 for the exact GOE dynamics, got T={model.T}")
    N = check_int("N", N, low=2)
    seed = check_int("seed", seed, low=0)
    t = _times(times)
    t0 = time.perf_counter()
    c = float(model.xi_coefficients()[2])        # xi(q) = c q^2
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((N, N))
    J = (G + G.T) * math.sqrt(c / N)             # off-diagonal variance 2c/N, diagonal 4c/N
    lam, U = np.linalg.eigh(J)
    s0 = rng.standard_normal(N)
    s0 *= math.sqrt(N) / np.linalg.norm(s0)
    a = (U.T @ s0) ** 2 / N
    lmax = lam[-1]
    E = np.exp(np.outer(t, lam - lmax))          # e^{(lambda - lambda_max) t}, (n, N)
    Z = (E * E) @ a
    C = (E * a) @ E.T / np.sqrt(np.outer(Z, Z))
    mu = (E * E) @ (a * lam) / Z
    conv = dict(model.conventions())
    conv.update(J=f"GOE, E J_ij^2 = {2 * c:g}/N (i != j), {4 * c:g}/N (i = j); H = -(1/2) s^T J s",
                solution="exact: s(t) = sqrt(N) e^{Jt} s0/|e^{Jt} s0| (eigendecomposition of J)")
    return FlowRun(success=True, message="exact solution", model=model,
                   options={"N": N, "seed": seed}, conventions=conv,
                   timings={"total": time.perf_counter() - t0},
                   arrays={"t": t, "C": C, "e": -0.5 * mu, "mu": mu},
                   scalars={"N": N, "seed": seed, "energy": float(-0.5 * mu[-1]),
                            "lambda_max": float(lmax)},
                   error_estimate=flow_errors(["C", "e", "mu"], exact=True))


def pspin_tensor_bytes(degrees, N: int) -> int:
    """Peak memory (bytes) of the dense coupling tensors of :func:`_pspin_couplings` at size ``N``.

    The tensors of every degree (``N^k`` float64 each), the work vector of
    the contraction (``N^(kmax-1)``) and the iid ``G`` held while the
    largest tensor is symmetrised (``N^kmax``).
    """
    degrees = [int(k) for k in degrees]
    kmax = max(degrees)
    return 8 * (sum(N ** k for k in degrees) + N ** (kmax - 1) + N ** kmax)


def _pspin_couplings(model, N, rng, max_tensor_bytes):
    """Dense symmetric coupling tensors of every degree of ``xi`` (ascending), flattened into one array.

    For each degree ``k`` with ``c_k = xi_k != 0``: ``G`` has ``N^k`` iid standard
    normal entries (one per *ordered* index tuple) and ``H_k(s) = -sqrt(c_k /
    N^(k-1)) sum_{i_1..i_k} G_{i_1..i_k} s_{i_1} ... s_{i_k}``, whose covariance
    is exactly ``E[H_k(s) H_k(s')] = N c_k (s.s'/N)^k`` (no repeated-index
    correction).  It is stored as ``T = sqrt(c_k/N^(k-1)) sum_perm G^perm``
    (``k!`` times the symmetrised tensor), so that ``H_k = -(1/k!) T[s, .., s]``
    and ``-grad H_k = (1/(k-1)!) T[., s, .., s]``
    (:func:`validation._kernels.pspin.pspin_force_mix`).  For ``k = 2`` this is
    exactly the GOE matrix of :func:`simulate_pspin2`, ``J = (G + G^T) sqrt(c/N)``.
    """
    coef = np.asarray(model.xi_coefficients(), dtype=float)
    degrees = [k for k in range(2, coef.size) if coef[k] != 0.0]
    need = pspin_tensor_bytes(degrees, N)
    if need > max_tensor_bytes:
        raise ValueError(f"N: the dense coupling tensors (degrees {degrees}) need "
                         f"{need / 1e9:.3g} GB > max_tensor_bytes = {max_tensor_bytes / 1e9:.3g} GB; "
                         f"use a smaller N")
    offsets, parts, desc = [], [], []
    off = 0
    for k in degrees:
        c = float(coef[k])
        G = rng.standard_normal((N,) * k)
        T = np.zeros_like(G)
        for perm in itertools.permutations(range(k)):
            T += G.transpose(perm)
        del G
        T *= math.sqrt(c / N ** (k - 1))
        desc.append(f"H_{k} = -sqrt({c:g}/N^{k - 1}) sum over ordered {k}-tuples of iid N(0,1) G s..s")
        offsets.append(off)
        parts.append(T.ravel())
        off += T.size
    return (np.asarray(degrees, dtype=np.int64), np.asarray(offsets, dtype=np.int64),
            np.concatenate(parts), "; ".join(desc))


def simulate_pspin(model, N: int, times, *, seed: int = 0, dt: float = 0.01,
                   max_tensor_bytes: int = 2 * 1024 ** 3) -> FlowRun:
    """Langevin dynamics of the spherical p-spin (any ``p``, pure or mixed) at finite ``N``.

    ``ds/dt = -grad H - mu s + eta``, ``<eta eta> = 2T``, ``|s|^2 = N``, from
    ``s(0)`` uniform on the sphere (:class:`dmft.SphericalPSpin`; Crisanti &
    Sommers, Z. Phys. B 87, 341 (1992); Cugliandolo & Kurchan, PRL 71, 173
    (1993)).  With ``xi(q) = sum_k c_k q^k`` from the model's convention and
    mixture and ``q = s.s'/N``:

    * ``p = 2`` (pure): ``H = -(1/2) s^T J s`` with ``J`` as in
      :func:`simulate_pspin2`; the covariance is exactly
      ``E[H(s) H(s')] = N xi(q)``;
    * ``p = 3`` (pure): ``H = -sum_{i<j<k} J_ijk s_i s_j s_k`` over *distinct*
      indices with ``J_ijk ~ N(0, 6c/N^2)``, held as a dense symmetric tensor
      and integrated by :func:`validation._kernels.pspin.pspin_langevin`.  Its
      covariance is **not** exactly ``N xi(q)``: with ``a_i = s_i s'_i``,
      ``E[H H'] = (c/N^2) [(sum a)^3 - 3 (sum a)(sum a^2) + 2 sum a^3]
      = N c q^3 + O(1)``, exact only to relative order ``1/N`` (the
      repeated-index terms are missing).  This path is kept unchanged so that
      existing p = 3 results stay reproducible;
    * ``p >= 4`` or a mixture (any degrees, including 3 inside a mixture):
      one dense symmetric tensor per degree ``k`` built from iid entries over
      all *ordered* index tuples (:func:`_pspin_couplings`; ``8 N^k`` bytes
      each, all of them together at most ``max_tensor_bytes``), whose
      covariance is exactly ``E[H(s) H(s')] = N xi(q)``, and the contraction
      kernel :func:`validation._kernels.pspin.pspin_langevin_mix`.

    Projected Heun, step ``dt``, which must divide the recording times.

    Returns
    -------
    FlowRun
        ``C`` (n, n), ``e`` (n,) ``= H/N``.
    """
    import dmft

    if not isinstance(model, dmft.SphericalPSpin):
        raise ValueError(f"model must be a dmft.SphericalPSpin, got {type(model).__name__}")
    N = check_int("N", N, low=max(3, int(np.max(np.nonzero(model.xi_coefficients())[0]))))
    seed = check_int("seed", seed, low=0)
    dt = check_real("dt", dt, low=0.0, low_open=True)
    general = model.p > 3 or not model.pure
    if model.p == 3 and not general and 8 * N ** 3 > max_tensor_bytes:
        raise ValueError(f"N: the dense p = 3 tensor needs {8 * N ** 3 / 1e9:.2g} GB "
                         f"> max_tensor_bytes = {max_tensor_bytes / 1e9:.2g} GB")
    t, rec = _grid_steps(times, dt)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    if general:
        degrees, offsets, A, desc = _pspin_couplings(model, N, rng, max_tensor_bytes)
    else:
        c = float(model.xi_coefficients()[model.p])
        if model.p == 2:
            G = rng.standard_normal((N, N))
            A = np.ascontiguousarray(((G + G.T) * math.sqrt(c / N))[None])
            desc = f"GOE, E J_ij^2 = {2 * c:g}/N; H = -(1/2) s^T J s"
        else:
            n3 = N * (N - 1) * (N - 2) // 6
            J = rng.standard_normal(n3) * math.sqrt(6.0 * c) / N
            A = _kp.pspin3_tensor(J, N)
            desc = f"H = -sum_(i<j<k) J_ijk s_i s_j s_k, E J_ijk^2 = {6 * c:g}/N^2"
    s0 = rng.standard_normal(N)
    s0 *= math.sqrt(N) / np.linalg.norm(s0)
    n_steps = int(rec[-1])
    noise = rng.standard_normal((n_steps, N)) if model.T > 0 else np.zeros((n_steps, N))
    S = np.full((t.size, N), np.nan)
    E = np.full(t.size, np.nan)
    if general:
        _kp.pspin_langevin_mix(degrees, offsets, A, s0.copy(), float(dt), float(model.T), noise,
                               rec, S, E)
    else:
        _kp.pspin_langevin(int(model.p), A, s0.copy(), float(dt), float(model.T), noise, rec, S, E)
    C = S @ S.T / N
    ok = bool(np.all(np.isfinite(C)) and np.all(np.isfinite(E)))
    conv = dict(model.conventions())
    conv.update(J=desc, integrator=f"projected Heun on the sphere, dt = {dt:g}")
    return FlowRun(success=ok, message="integrated" if ok else "non-finite state", model=model,
                   options={"N": N, "seed": seed, "dt": dt, "max_tensor_bytes": max_tensor_bytes},
                   conventions=conv,
                   timings={"total": time.perf_counter() - t0},
                   arrays={"t": t, "C": C, "e": E},
                   scalars={"N": N, "seed": seed, "energy": float(E[-1])},
                   error_estimate=flow_errors(["C", "e"], exact=False))


def pspin_point(N, seed, *, model, times, method="auto", **options):
    """Point function for :func:`validation.compare`: the exact GOE solution for ``p = 2``
    at ``T = 0`` (``method="auto"`` or ``"exact"``), else Langevin (``"langevin"``)."""
    if method not in ("auto", "exact", "langevin"):
        raise ValueError(f"method must be 'auto', 'exact' or 'langevin', got {method!r}")
    if method == "exact" or (method == "auto" and model.p == 2 and model.T == 0.0 and not options):
        return simulate_pspin2(model, int(N), times, seed=int(seed))
    return simulate_pspin(model, int(N), times, seed=int(seed), **options)


def linreg_point(N, seed, *, model, times):
    """Point function for :func:`validation.compare` (``N`` is the dimension ``d``)."""
    return simulate_linreg(model, int(N), times, seed=int(seed))


def pspin2_point(N, seed, *, model, times):
    """Point function for :func:`validation.compare`."""
    return simulate_pspin2(model, int(N), times, seed=int(seed))


def times_from(theory) -> dict:
    """Default recording times: the theory's own grid (``t``)."""
    a = theory.arrays if isinstance(theory, Result) else theory
    return {"times": np.asarray(a["t"], dtype=float)}


def pspin_theory(result, times) -> dict:
    """DMFT arrays of :func:`dmft.solve` restricted to ``times`` (on its grid), for :func:`compare`.

    Returns ``{"t", "C" (n, n)}`` with ``C[i, j] = C(t_i, t_j)`` (the solver
    stores the lower triangle; it is mirrored), plus every one-time array of
    the result among ``e``, ``mu``, ``variance_t``.
    """
    t = np.asarray(result.arrays["t"], dtype=float)
    times = _times(times)
    idx = []
    for x in times:
        j = np.nonzero(np.abs(t - x) <= 1e-9 * max(1.0, abs(x)))[0]
        if not j.size:
            raise ValueError(f"times: {x} is not on the theory's grid (step {t[1] - t[0]:g})")
        idx.append(int(j[0]))
    idx = np.asarray(idx)
    C = np.asarray(result.arrays["C"])[np.ix_(idx, idx)]
    C = np.tril(C) + np.tril(C, -1).T         # symmetric from the lower triangle
    out = {"t": times, "C": C}
    for k in ("e", "mu", "variance_t"):
        if k in result.arrays:
            out[k] = np.asarray(result.arrays[k])[idx]
    return out


#: the activations of dmft.RandomRNN (``erf`` is ``erf(sqrt(pi) x / 2)``, slope 1 at 0)
def simulate_rnn(model, N: int, times, *, seed: int = 0, dt: float = 0.01) -> FlowRun:
    """The random recurrent network of :class:`dmft.RandomRNN` at size ``N``.

    ``dx/dt = -x + J phi(x) + eta``, ``J_ij ~ N(0, g^2/N)`` iid (Sompolinsky,
    Crisanti & Sommers, PRL 61, 259 (1988)), integrated by the stochastic Heun
    scheme (the explicit trapezoidal rule, second order without noise; weak
    order 2 with additive noise) with step ``dt``, which must divide the
    recording times.

    Returns
    -------
    FlowRun
        ``C`` (n, n) ``= x(t_i).x(t_j)/N`` and ``variance_t`` (n,) ``= |x(t)|^2/N``.
    """
    import dmft

    if not isinstance(model, dmft.RandomRNN):
        raise ValueError(f"model must be a dmft.RandomRNN, got {type(model).__name__}")
    N = check_int("N", N, low=1)
    seed = check_int("seed", seed, low=0)
    dt = check_real("dt", dt, low=0.0, low_open=True)
    t, steps = _grid_steps(times, dt)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    phi = model.activation.g  # the blocks table, as the theory uses it
    J = rng.standard_normal((N, N)) * (model.g / math.sqrt(N))
    x = math.sqrt(model.x0_var) * rng.standard_normal(N)
    amp = math.sqrt(model.noise * dt)
    X = np.empty((t.size, N))
    step = 0
    for j, target in enumerate(steps):
        while step < target:
            xi = amp * rng.standard_normal(N) if amp > 0 else 0.0
            f0 = -x + J @ phi(x)
            xp = x + dt * f0 + xi
            f1 = -xp + J @ phi(xp)
            x = x + 0.5 * dt * (f0 + f1) + xi
            step += 1
        X[j] = x
    C = X @ X.T / N
    conv = dict(model.conventions())
    conv.update(integrator=f"stochastic Heun, dt = {dt:g}")
    ok = bool(np.all(np.isfinite(C)))
    return FlowRun(success=ok, message="integrated" if ok else "non-finite state", model=model,
                   options={"N": N, "seed": seed, "dt": dt}, conventions=conv,
                   timings={"total": time.perf_counter() - t0},
                   arrays={"t": t, "C": C, "variance_t": np.diag(C).copy()},
                   scalars={"N": N, "seed": seed, "variance": float(C[-1, -1])},
                   error_estimate=flow_errors(["C", "variance_t"], exact=False))


def rnn_point(N, seed, *, model, times, **options):
    """Point function for :func:`validation.compare`."""
    return simulate_rnn(model, int(N), times, seed=int(seed), **options)


register_simulator("dmft.LinearRegressionGF", Simulator(
    point="validation.gradflow:linreg_point", x="t", observables=("error_t", "train_loss_t"),
    from_theory="validation.gradflow:times_from"))
register_simulator("dmft.SphericalPSpin", Simulator(
    point="validation.gradflow:pspin_point", x="t", observables=("C", "e"),
    from_theory="validation.gradflow:times_from"))
register_simulator("dmft.RandomRNN", Simulator(
    point="validation.gradflow:rnn_point", x="t", observables=("C", "variance_t"),
    from_theory="validation.gradflow:times_from"))

pspin_point.options_of = simulate_pspin  # the options compare() may pass (validation.compare)
rnn_point.options_of = simulate_rnn

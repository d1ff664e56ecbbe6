"""Finite-d gradient descent, Langevin dynamics and persistent SGD on a teacher–student GLM.

Matches :class:`dmft.GLMDynamics` (square, logistic or hinge loss): ``n =
round(alpha d)`` samples ``x_mu ~ N(0, I_d)``, ``|beta*|^2 = rho`` exactly,
labels ``y = f(x . beta*) + sqrt(noise) z`` (the same random stream as
:func:`validation.gradflow.simulate_glm`), ``beta(0) = 0``, and::

    d beta = -[(1/(b n)) X^T (s(t) * ell'(y, X beta)) + ridge beta] dt + sqrt(2 T / d) dW,

with ``s_mu(t) = 1`` for gradient flow (``b = 1``) and, for persistent SGD
(Mignacco, Krzakala, Urbani & Zdeborová, NeurIPS 2020), the two-state
Markov chain of :class:`dmft.GLMDynamics` (``1 -> 0`` at rate ``1/tau``,
``0 -> 1`` at rate ``b/((1-b) tau)``, ``s(0) ~ Bernoulli(b)``), sampled
exactly on the time grid ``t_k = k dt`` -- the same discrete-time process as
the sampled DMFT, whose selection variables are drawn with the same
transition probabilities.

Time stepping: the stochastic Heun scheme (explicit trapezoid) with step
``dt``: ``beta' = beta + dt F(beta, s_k) + sigma dW``, ``beta_{k+1} = beta +
dt/2 [F(beta, s_k) + F(beta', s_{k+1})] + sigma dW`` (second order for the
smooth losses without noise; the hinge's kink makes it first order; the
convergence in ``dt`` is checked by a test).

Observables (named as in :class:`dmft.DMFTResult`): ``M_t = beta.beta*``,
``Q_t = |beta|^2``, ``train_loss_t = (1/n) sum_mu ell(y_mu, x_mu.beta)`` over
all samples (no ridge), ``test_error_t = arccos(M/sqrt(Q rho))/pi`` (sign
teacher), ``test_risk_t`` (square loss) and ``train_error_t`` (logistic,
hinge: fraction of ``y h <= 0``).
"""

from __future__ import annotations

import math
import time

import numpy as np

from lmech.blocks import get_channel
from lmech.checks import check_choice, check_int, check_real

from ._kernels import glm as _kg
from .compare import Simulator, register_simulator
from .gradflow import FlowRun, _grid_steps, _teacher_data, flow_errors, simulate_glm

__all__ = ["simulate_glm_dynamics", "glm_point", "selection_probabilities", "selection_chain"]

def selection_probabilities(b: float, tau: float, dt: float) -> tuple[float, float]:
    """``(P(s'=1 | s=1), P(s'=1 | s=0))`` over one step ``dt`` of the persistent-SGD chain.

    Rates ``1/tau`` (1 -> 0) and ``b/((1-b) tau)`` (0 -> 1); relaxation rate
    ``1/((1-b) tau)``: ``p11 = b + (1-b) e^{-dt/((1-b) tau)}``, ``p01 = b (1 -
    e^{-dt/((1-b) tau)})``.
    """
    if b >= 1.0:
        return 1.0, 1.0
    e = math.exp(-dt / ((1.0 - b) * tau))
    return b + (1.0 - b) * e, b * (1.0 - e)


def selection_chain(b: float, tau: float, dt: float, n_chains: int, n_steps: int, *,
                    seed: int = 0) -> np.ndarray:
    """Paths of the persistent-SGD selection chain, as :func:`simulate_glm_dynamics` steps it.

    The two-state Markov chain of Mignacco, Krzakala, Urbani & Zdeborová
    (NeurIPS 2020: ``1 -> 0`` at rate ``1/tau``, ``0 -> 1`` at rate
    ``b/((1-b) tau)``) sampled exactly on the grid ``t_k = k dt``: ``s(0) ~
    Bernoulli(b)``, then each step applies the transition probabilities of
    :func:`selection_probabilities` with the same Numba kernel as the
    simulator (one uniform per chain and step).

    Parameters
    ----------
    b : float
        Batch fraction, ``0 < b <= 1`` (``b = 1``: every ``s = 1``).
    tau : float
        Persistence time, ``> 0``.
    dt : float
        Time step, ``> 0``.
    n_chains, n_steps : int
        Independent chains (``>= 1``) and steps (``>= 0``).
    seed : int
        Seed of the generator (``>= 0``).

    Returns
    -------
    ndarray (n_steps + 1, n_chains)
        ``s_mu(t_k)`` in {0, 1}.
    """
    b = check_real("b", b, low=0.0, high=1.0, low_open=True)
    tau = check_real("tau", tau, low=0.0, low_open=True)
    dt = check_real("dt", dt, low=0.0, low_open=True)
    n_chains = check_int("n_chains", n_chains, low=1)
    n_steps = check_int("n_steps", n_steps, low=0)
    seed = check_int("seed", seed, low=0)
    rng = np.random.default_rng(seed)
    p11, p01 = selection_probabilities(b, tau, dt)
    s = np.ones(n_chains) if b >= 1.0 else (rng.random(n_chains) < b).astype(np.float64)
    S = np.empty((n_steps + 1, n_chains))
    S[0] = s
    for k in range(n_steps):
        _kg.sgd_switch(s, rng.random(n_chains), p11, p01)
        S[k + 1] = s
    return S


def simulate_glm_dynamics(model, d: int, times, *, seed: int = 0, dt: float = 0.01) -> FlowRun:
    """Gradient descent / Langevin / persistent SGD on a GLM at dimension ``d`` (stochastic Heun).

    Parameters
    ----------
    model : dmft.GLMDynamics
        Loss, ``alpha``, ridge, teacher, noise, ``rho``, temperature,
        batch fraction and persistence.
    d : int
        Dimension (``n = max(1, round(alpha d))``).
    times : array_like
        Increasing recording times, multiples of ``dt``.
    seed : int
        Seed of the generator drawing ``X``, ``beta*``, label noise, then the
        selection chain and the Langevin noise.
    dt : float
        Time step.

    Returns
    -------
    FlowRun
        See the module docstring for the arrays.
    """
    import dmft

    if not isinstance(model, dmft.GLMDynamics):
        raise ValueError(f"model must be a dmft.GLMDynamics, got {type(model).__name__}")
    d = check_int("d", d, low=1)
    seed = check_int("seed", seed, low=0)
    dt = check_real("dt", dt, low=0.0, low_open=True)
    t, steps = _grid_steps(times, dt)
    t0 = time.perf_counter()
    rng, X, bstar = _teacher_data(model.alpha, d, seed, model.rho)
    n = X.shape[0]
    hstar = X @ bstar
    f = get_channel(model.teacher).teacher_map(hstar)      # the clean teacher f(h*)
    y = f + math.sqrt(model.noise) * rng.standard_normal(n) if model.noise > 0 else f
    y = np.ascontiguousarray(y, dtype=np.float64)
    b = model.batch_fraction
    binv = 1.0 / b
    p11, p01 = selection_probabilities(b, model.persistence, dt)
    s = np.ones(n) if b >= 1.0 else (rng.random(n) < b).astype(np.float64)
    lam = model.ridge
    amp = math.sqrt(2.0 * model.temperature * dt / d)
    from lmech.blocks.losses import get_loss   # (the loss table of every layer)

    loss = get_loss(model.loss)
    code, par = loss.kernel_code("the GLM simulator"), loss.par
    g = np.empty(n)
    ell = np.empty(n)

    def force(beta, s):
        h = X @ beta
        L = _kg.glm_loss_terms(code, par, y, h, s, binv, g, ell)
        return -(X.T @ g) / n - lam * beta, L, h

    beta = np.zeros(d)
    out = {key: np.empty(t.size) for key in ("M_t", "Q_t", "train_loss_t", "train_error_t")}
    F, L, h = force(beta, s)
    step = 0
    for j, target in enumerate(steps):
        while step < target:
            noise = amp * rng.standard_normal(d) if amp > 0 else 0.0
            if b < 1.0:
                s_new = s.copy()
                _kg.sgd_switch(s_new, rng.random(n), p11, p01)
            else:
                s_new = s
            bp = beta + dt * F + noise
            F1, _, _ = force(bp, s_new)
            beta = beta + 0.5 * dt * (F + F1) + noise
            s = s_new
            F, L, h = force(beta, s)
            step += 1
        # train loss over all samples (every s_mu = 1), without the ridge
        _kg.glm_loss_terms(code, par, y, h, np.ones(n), 1.0, g, ell)
        out["M_t"][j] = beta @ bstar
        out["Q_t"][j] = beta @ beta
        out["train_loss_t"][j] = float(ell.mean())
        out["train_error_t"][j] = float(np.mean(y * h <= 0.0))
    arrays = {"t": t, **out}
    M, Q = arrays["M_t"], arrays["Q_t"]
    if model.loss_block.regression:   # test risk of a regression loss; classification: train error
        arrays["test_risk_t"] = model.test_risk(M, Q)
        del arrays["train_error_t"]
    if model.teacher == "sign":
        arrays["test_error_t"] = get_channel(model.teacher).test_error(M, Q, model.rho)
    ok = bool(np.all(np.isfinite(Q)))
    conv = dict(model.conventions())
    conv.update(beta_star="uniform direction, |beta*|^2 = rho exactly",
                integrator=f"stochastic Heun (explicit trapezoid), dt = {dt:g}; selection "
                           "variables sampled exactly on the grid, s_k used at t_k")
    return FlowRun(success=ok, message="integrated" if ok else "non-finite state", model=model,
                   options={"d": d, "n": n, "seed": seed, "dt": dt}, conventions=conv,
                   timings={"total": time.perf_counter() - t0}, arrays=arrays,
                   scalars={"d": d, "n": n, "seed": seed, "Q": float(Q[-1])},
                   error_estimate=flow_errors([k for k in arrays if k != "t"], exact=False))


def glm_point(N, seed, *, model, times, method: str = "auto", dt: float | None = None):
    """Point function for :func:`validation.compare` (``N`` is the dimension ``d``).

    ``method="auto"``: the exact eigenbasis solution (:func:`simulate_glm`)
    for the square loss at full batch, else the Heun simulator;
    ``"exact"`` / ``"heun"`` force one.  ``dt`` is the Heun step (default
    0.01); the exact solution has no time step, so a ``dt`` given with
    ``method="exact"`` raises :class:`ValueError` naming ``dt`` (with
    ``"auto"`` it is used only when the Heun simulator runs).
    """
    method = check_choice("method", method, ("auto", "exact", "heun"))
    if method == "exact" and dt is not None:
        raise ValueError(f"dt: the exact eigenbasis solution (method='exact') has no time step; "
                         f"got dt={dt!r} (use method='heun' to integrate with a step)")
    if method == "exact" or (method == "auto" and model.closed):
        return simulate_glm(model, int(N), times, seed=int(seed))
    return simulate_glm_dynamics(model, int(N), times, seed=int(seed),
                                 dt=0.01 if dt is None else dt)


register_simulator("dmft.GLMDynamics", Simulator(
    point="validation.glm:glm_point", x="t", observables=("M_t", "Q_t", "train_loss_t"),
    from_theory="validation.gradflow:times_from"))

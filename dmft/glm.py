"""Teacher–student generalized linear model: gradient flow, Langevin dynamics and persistent SGD.

Model (:class:`GLMDynamics`): ``n = alpha d`` samples ``x_mu ~ N(0, I_d)``,
labels ``y = f(x . beta*) + sigma z`` from a teacher ``f`` (``"linear"``,
``"sign"`` -- the perceptron --, ``"relu"``), ``|beta*|^2 = rho``; gradient
flow (or Langevin dynamics at ``temperature``, or persistent SGD) on
``(1/n) sum_mu ell(y_mu, x_mu . beta) + ridge |beta|^2/2`` from ``beta =
0``, with the square loss ``ell = (y - h)^2/2``, the logistic loss ``log(1 +
e^{-y h})`` or the hinge ``max(0, 1 - y h)``.

For the square loss the dynamics is linear in ``y`` and the DMFT sample
process involves the labels only through second moments, so the effective
process is closed exactly (Agoritsas, Biroli, Urbani & Zamponi, J. Phys. A 51,
085002 (2018); Mignacco, Krzakala, Urbani & Zdeborová, NeurIPS 2020, with the
square loss): by Gaussian regression (Stein's lemma), ``y = a h* + eps'`` with
``h* = x . beta*``, ``a = E[f(h*) h*]/rho`` and ``eps'`` uncorrelated with
``h*`` and with every cavity field, of second moment
``sigma_eff^2 = E[y^2] - a^2 rho`` (the same reduction as Hastie, Montanari,
Rosset & Tibshirani, Ann. Stat. 50, 949 (2022), Sec. 5, for ridgeless
least squares).  The model is therefore solved as
:class:`dmft.LinearRegressionGF` with signal ``a^2 rho`` and noise
``sigma_eff^2`` (:meth:`GLMDynamics.linear_equivalent`), and the GLM
observables are read off its ``C`` (``|beta - a beta*|^2``) and ``m``::

    M(t) = beta . beta* = (m + a^2 rho)/a,     Q(t) = |beta|^2 = C + 2m + a^2 rho,
    test error (sign teacher, sigma = 0) = arccos(M / sqrt(Q rho)) / pi,
    test risk E(y - x.beta)^2/2 = (E y^2 - 2 a M + Q)/2.

Logistic and hinge losses, Langevin dynamics in the sampled process and
persistent SGD (``batch_fraction < 1``) are solved by Monte Carlo over
trajectories of the non-Gaussian effective process (:func:`solve_sampled`,
kernel :func:`dmft._kernels.glm_general_sampled`).  In ``theta = sqrt(d)
beta`` and with ``gamma = 1/alpha``, ``g = (s(t)/b) d ell/dh`` (the effective
process of Agoritsas et al. 2018 and of Mignacco et al. 2020, written here for
the teacher–student GLM; Celentano, Cheng & Montanari, arXiv:2112.07572, for
gradient flow)::

    d theta/dt = -ridge theta - int_0^t K(t,s) theta(s) ds - mu*(t) theta* + xi(t) + eta(t),
    h(t) = omega(t) - gamma int_0^t R(t,s) g(s) ds,
    <xi(t) xi(s)> = gamma E[g(t) g(s)],  <eta(t) eta(s)> = 2 T delta(t-s),
    (h*, omega) Gaussian, Cov = (<theta* theta*>, <theta* theta>, <theta theta>),
    K(t,s) = E[delta g(t)/delta omega(s)],  mu*(t) = E[d g(t)/d h*],
    d_t R(t,s) = -ridge R(t,s) - int_s^t K(t,u) R(u,s) du,   R(s,s) = 1,

``mu*`` from Stein's lemma, ``rho mu*(t) = E[h* g(t)] - int_0^t m(s) K(t,s)
ds`` (valid for the discontinuous sign teacher), and ``K`` averaged from
per-trajectory responses.  The persistent SGD (``batch_fraction = b < 1``)
replaces the loss by ``(1/(b n)) sum_mu s_mu(t) ell(y_mu, x_mu . beta)``
with selection variables ``s_mu(t) in {0, 1}``: a Markov chain with rate
``1/tau`` from 1 to 0 and ``b/((1-b) tau)`` from 0 to 1 (stationary
``P(s = 1) = b``, mean residence in the batch ``tau = persistence``), the
"stochastic gradient flow" of Mignacco et al. (2020), normalised by ``1/b`` so that the mean
gradient is the full-batch one; ``b = 1`` is gradient flow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import lmech
from lmech.checks import check_bool, check_choice, check_real

from .linreg import LinearRegressionGF

__all__ = ["GLMDynamics", "TEACHERS", "LOSSES", "teacher_moments", "loss", "loss_prox",
           "sgd_selection"]

TEACHERS = ("linear", "sign", "relu")
LOSSES = ("square", "logistic", "hinge")


def teacher_moments(teacher: str, rho: float, noise: float) -> tuple[float, float]:
    """``(a, E[y^2])`` for ``y = f(h*) + sigma z``, ``h* ~ N(0, rho)``.

    linear: ``a = 1``, ``E f^2 = rho``; sign: ``a = sqrt(2/(pi rho))``,
    ``E f^2 = 1``; relu: ``a = 1/2``, ``E f^2 = rho/2``.
    """
    check_choice("teacher", teacher, TEACHERS)
    if teacher == "linear":
        a, ef2 = 1.0, rho
    elif teacher == "sign":
        a, ef2 = math.sqrt(2.0 / (math.pi * rho)), 1.0
    else:
        a, ef2 = 0.5, 0.5 * rho
    return a, ef2 + noise


@lmech.register_model("dmft.GLMDynamics")
@dataclass(frozen=True)
class GLMDynamics(lmech.Model):
    """Gradient flow, Langevin dynamics and persistent SGD of a teacher–student GLM.

    Parameters
    ----------
    alpha : float
        ``n/d > 0``.
    loss : {"square", "logistic", "hinge"}
        Training loss ``ell(y, h)``: ``(y - h)^2/2``, ``log(1 + e^{-y h})``,
        ``max(0, 1 - y h)`` (hinge subgradient 0 at the kink ``y h = 1``);
        logistic and hinge need ``+-1`` labels: ``teacher = "sign"``,
        ``noise = 0``.
    ridge : float
        L2 penalty ``>= 0``.
    teacher : {"linear", "sign", "relu"}
        Teacher activation ``f``.
    noise : float
        Label-noise variance ``sigma^2 >= 0``.
    rho : float
        ``|beta*|^2 > 0``.
    temperature : float
        Langevin temperature ``>= 0``.
    batch_fraction : float
        ``b`` in ``(0, 1]``: fraction of samples in the persistent-SGD batch
        (1: gradient flow).
    persistence : float
        ``tau > 0``: mean time a sample stays in the batch (persistent SGD;
        unused at ``b = 1``).  Default 1 (of the order of the relaxation
        time of the flow at ``alpha ~ 1``).
    """

    alpha: float = lmech.param(2.0, low=0.0, low_open=True, help="samples per dimension n/d")
    loss: str = lmech.param("square", choices=LOSSES, help="training loss")
    ridge: float = lmech.param(0.0, low=0.0, help="ridge penalty")
    teacher: str = lmech.param("sign", choices=TEACHERS, help="teacher activation")
    noise: float = lmech.param(0.0, low=0.0, help="label-noise variance")
    rho: float = lmech.param(1.0, low=0.0, low_open=True, help="|beta*|^2")
    temperature: float = lmech.param(0.0, low=0.0, help="Langevin temperature")
    batch_fraction: float = lmech.param(1.0, low=0.0, high=1.0, low_open=True,
                                        help="persistent-SGD batch fraction b (1: gradient flow)")
    persistence: float = lmech.param(1.0, low=0.0, low_open=True,
                                     help="mean time tau a sample stays in the SGD batch")

    def check(self):
        if self.loss != "square":
            if self.teacher != "sign":
                raise ValueError(f"teacher must be 'sign' for the {self.loss} loss (labels +-1), "
                                 f"got {self.teacher!r}")
            if self.noise != 0.0:
                raise ValueError(f"noise must be 0 for the {self.loss} loss (labels +-1), "
                                 f"got {self.noise!r}")

    @property
    def closed(self) -> bool:
        """True when the exact Gaussian closure applies (square loss, full batch)."""
        return self.loss == "square" and self.batch_fraction == 1.0

    def teacher_moments(self) -> tuple[float, float]:
        """``(a, E[y^2])`` of the teacher (see :func:`teacher_moments`)."""
        return teacher_moments(self.teacher, self.rho, self.noise)

    def linear_equivalent(self) -> LinearRegressionGF:
        """The least-squares model with the same DMFT (signal ``a^2 rho``, noise ``E y^2 - a^2 rho``)."""
        a, ey2 = self.teacher_moments()
        return LinearRegressionGF(alpha=self.alpha, noise=max(ey2 - a * a * self.rho, 0.0),
                                  ridge=self.ridge, signal=a * a * self.rho,
                                  temperature=self.temperature)

    def observables(self, C, m) -> dict:
        """GLM observables from the linear-equivalent ``C(t,t)`` and ``m(t)`` (arrays)."""
        a, ey2 = self.teacher_moments()
        s = a * a * self.rho
        C = np.asarray(C, dtype=float)
        m = np.asarray(m, dtype=float)
        M = (m + s) / a
        Q = C + 2.0 * m + s
        out = {"M": M, "Q": Q, "test_risk": 0.5 * (ey2 - 2.0 * a * M + Q)}
        if self.teacher == "sign":
            with np.errstate(invalid="ignore", divide="ignore"):
                cosang = np.clip(M / np.sqrt(Q * self.rho), -1.0, 1.0)
            err = np.arccos(cosang) / math.pi
            err = np.where(Q > 0, err, 0.5)
            # label noise y = sign(h*) + sigma z is not a flip model: report the clean error
            out["test_error"] = err
        return out

    def conventions(self) -> dict:
        loss = {"square": "ell(y,h) = (y-h)^2/2",
                "logistic": "ell(y,h) = log(1 + exp(-y h)), y = sign(x.beta*)",
                "hinge": "ell(y,h) = max(0, 1 - y h), y = sign(x.beta*); subgradient 0 at y h = 1 "
                         "(the sampled process resolves the kink by the proximal operator)"}
        return {
            "data": "x ~ N(0, I_d), y = f(x.beta*) + sqrt(noise) z, |beta*|^2 = rho",
            "loss": "(1/n) sum_mu ell(y_mu, x_mu.beta) + ridge |beta|^2/2 from beta = 0; "
                    + loss[self.loss],
            "time": "gradient-flow time (learning rate 1)",
            "temperature": "d beta = -grad L dt + sqrt(2 T/d) dW (T = temperature)",
            "sgd": ("persistent SGD: L_t = (1/(b n)) sum_mu s_mu(t) ell + ridge |beta|^2/2, "
                    "s: 1->0 at rate 1/tau, 0->1 at rate b/((1-b) tau), P(s=1) = b, "
                    "sampled exactly on the time grid" if self.batch_fraction < 1.0 else
                    "full batch (gradient flow)"),
            "closure": ("square loss closed exactly via y = a h* + eps' (Stein), "
                        "solved as LinearRegressionGF(signal=a^2 rho, noise=E y^2 - a^2 rho)"
                        if self.closed else "none (non-Gaussian effective process: sampled)"),
            "M": "beta . beta*",
            "Q": "|beta|^2",
            "test_error": "P(sign(x.beta) != sign(x.beta*)) = arccos(M/sqrt(Q rho))/pi",
            "test_risk": "E (y - x.beta)^2 / 2",
            "train_loss": "(1/n) sum_mu ell(y_mu, x_mu.beta), all samples, without the ridge",
            "train_error": "(1/n) sum_mu [y_mu x_mu.beta <= 0] (logistic / hinge)",
        }


_F = {"linear": lambda h: h, "sign": np.sign, "relu": lambda h: np.maximum(h, 0.0)}


def solve_sampled(model: GLMDynamics, t_max: float, *, dt: float = 0.05, n_traj: int = 2000,
                  n_samples: int | None = None, n_replicas: int = 4, seed: int = 0,
                  tol_se: float = 0.01, n_pass: int = 2, max_iter: int = 50,
                  damping: float = 1.0, adaptive_damping: bool = True, resume=None):
    """Monte Carlo over trajectories of the GLM effective process.

    ``n_replicas`` independent replicas, each with ``n_traj`` parameter-side
    trajectories (``theta* ~ N(0, rho)``) and ``n_samples`` (default
    ``n_traj``) sample-side trajectories, coupled through Gaussian fields
    drawn from the empirical covariances of the other side with common random
    numbers (fixed for all iterations), marched causally one time slab at a
    time; each slab is iterated until its observables move by less than
    ``tol_se`` Monte Carlo standard errors in ``n_pass`` consecutive passes.
    Each pass is mixed, ``x <- x + w (G(x) - x)``, with the weight ``w``
    starting at ``damping`` (1: plain fixed-point iteration); with
    ``adaptive_damping``, ``w`` is halved (down to 1/64) whenever a pass's
    undamped residual grows, i.e. the slab's fixed-point map is not
    contracting, and the stopping rule is applied to the undamped residual
    so that a small ``w`` cannot fake convergence.  The final weight of each
    slab (smallest over replicas) is returned in ``damping_weight``.
    The labels are sampled from the actual teacher (``y = f(h*) + sigma z``),
    so the process is non-Gaussian.

    Square loss, ``T = 0``, ``b = 1``: the responses are deterministic and
    taken from the closure (:func:`dmft._kernels.glm_square_sampled`,
    trajectories of ``Delta = theta - a theta*``).  Any other case (logistic
    or hinge loss, Langevin noise, persistent SGD) runs
    :func:`dmft._kernels.glm_general_sampled`, which estimates the memory
    kernel ``K`` from per-trajectory responses (memory ``O(n^2 n_samples)``
    for ``n`` time points, time ``O(n^3 n_samples)``), the teacher term by
    Stein's lemma and the parameter-side response ``R`` from ``K``, with the
    end point of the sample-side memory solved by the proximal operator of
    the loss (which resolves the hinge's kink: a sample can stay on the
    margin ``y h = 1``).

    Random numbers: each replica draws from its own child of
    ``SeedSequence(seed)``, itself split into one stream per purpose
    (teacher and label noise, sample-side fields, parameter-side fields,
    Langevin increments, SGD selection), each filled row by row in time, so
    that the first rows do not depend on ``t_max``.  Hence ``resume``: a
    successful earlier result of the same model and options (any shorter
    ``t_max``) is continued from its stored per-replica state
    (``replica_state``: ``theta`` -- or ``Delta`` for the square kernel --,
    and for the general kernel the response rows ``replica_R``,
    ``replica_dR``): the history is regenerated in one pass, without
    iterating, and the continued run equals the uninterrupted one bit for
    bit.

    Returns a :class:`dmft.DMFTResult` with the replica averages ``M_t``,
    ``Q_t``, ``train_loss_t``, ``test_risk_t`` (square loss),
    ``test_error_t`` (sign teacher), ``train_error_t`` (logistic, hinge) and
    their standard errors ``*_se`` from the spread over replicas (the
    trajectories of one replica share their empirical kernels, so their own
    spread would underestimate the error).  ``error_estimate`` holds these
    standard errors at ``t_max`` for the final observables; it does not
    include the O(dt) time discretisation of the sampled process, and no
    tolerance is imposed on it (``success`` is about the slab iterations;
    choose ``n_traj``, ``n_replicas`` for the error bars needed).
    """
    import time

    from lmech.checks import check_int

    from .solve import DMFTResult, solve

    n_traj = check_int("n_traj", n_traj, low=10, high=10 ** 7)
    n_samples = n_traj if n_samples is None else check_int("n_samples", n_samples, low=10,
                                                            high=10 ** 7)
    n_replicas = check_int("n_replicas", n_replicas, low=2, high=1000)
    tol_se = check_real("tol_se", tol_se, low=0.0, low_open=True)
    n_pass = check_int("n_pass", n_pass, low=1, high=100)
    max_iter = check_int("max_iter", max_iter, low=2, high=10_000)
    if max_iter <= n_pass:
        raise ValueError(f"max_iter must exceed n_pass = {n_pass} (a slab needs n_pass good "
                         f"passes after its first), got {max_iter}")
    damping = check_real("damping", damping, low=0.0, high=1.0, low_open=True)
    adaptive_damping = check_bool("adaptive_damping", adaptive_damping)
    seed = check_int("seed", seed, low=0)
    dt = check_real("dt", dt, low=0.0, low_open=True)
    n = int(round(t_max / dt)) + 1
    if abs((n - 1) * dt - t_max) > 1e-9 * t_max:
        raise ValueError(f"dt must divide t_max, got t_max={t_max!r}, dt={dt!r}")
    if n < 3:
        raise ValueError(f"dt must give at least 2 steps, got t_max/dt = {t_max / dt!r}")
    general = not (model.loss == "square" and model.temperature == 0.0
                   and model.batch_fraction == 1.0)
    if general:
        mem = 8.0 * n * (n + 1) / 2 * n_samples
        if mem > 4e9:
            raise ValueError(f"n_samples: the per-trajectory responses need {mem / 1e9:.3g} GB "
                             f"(n = {n} time points); use fewer samples or time points")
    else:
        # deterministic responses (independent of the correlations for the square loss)
        lin = solve(model.linear_equivalent(), t_max, dt=dt, extrapolate=False)
        R = np.ascontiguousarray(lin.R)
        Rr = np.ascontiguousarray(lin.R_sample)
    options = {"method": "sampled", "dt": dt, "n_traj": n_traj, "n_samples": n_samples,
               "n_replicas": n_replicas, "seed": seed, "tol_se": tol_se, "n_pass": n_pass,
               "max_iter": max_iter, "damping": damping, "adaptive_damping": adaptive_damping}
    n0 = 0
    if resume is not None:
        n0 = _check_sampled_resume(resume, model, options, n)
    states = []
    reps = []
    iters = np.zeros(n, dtype=np.int64)
    done_all = True
    done_min = n
    t0 = time.perf_counter()
    seeds = np.random.SeedSequence(seed).spawn(n_replicas)
    for r, ss in enumerate(seeds):
        rngs = [np.random.default_rng(c) for c in ss.spawn(5)]
        st = None
        if resume is not None:
            st = {k: resume.arrays[k][r, :n0] for k in ("replica_state", "replica_iterations",
                                                        "replica_R", "replica_dR",
                                                        "replica_damping")
                  if k in resume.arrays}
            st = {k: v[:, :n0] if k in ("replica_R", "replica_dR") else v for k, v in st.items()}
        if general:
            rep, it, done, state = _one_replica_general(model, dt, n, n_traj, n_samples, rngs,
                                                        tol_se, n_pass, max_iter, damping,
                                                        adaptive_damping, st)
        else:
            Cd, md, l2, it, done, state = _one_replica(model, R, Rr, dt, n, n_traj, n_samples,
                                                       rngs, tol_se, n_pass, max_iter, damping,
                                                       adaptive_damping, st)
            obs = model.observables(Cd, md)
            rep = {"M_t": obs["M"], "Q_t": obs["Q"], "train_loss_t": 0.5 * l2,
                   "test_risk_t": obs["test_risk"]}
            if "test_error" in obs:
                rep["test_error_t"] = obs["test_error"]
        done_all &= done == n
        done_min = min(done_min, int(done))
        iters = np.maximum(iters, it)
        reps.append(rep)
        states.append(state)
    elapsed = time.perf_counter() - t0
    arrays = {"t": dt * np.arange(n), "iterations": iters}
    for key in states[0]:
        arrays[key] = np.array([st[key] for st in states])
    arrays["damping_weight"] = arrays["replica_damping"].min(axis=0)
    for key in reps[0]:
        stack = np.array([r[key] for r in reps])
        with np.errstate(over="ignore", invalid="ignore"):  # diverged rows become NaN below
            arrays[key] = stack.mean(axis=0)
            arrays[key.replace("_t", "") + "_se"] = (stack.std(axis=0, ddof=1)
                                                      / math.sqrt(n_replicas))
        # rows a replica never reached are not data
        arrays[key][done_min:] = np.nan
        arrays[key.replace("_t", "") + "_se"][done_min:] = np.nan
    unconverged = int(np.sum(iters[1:done_min] > max_iter))  # kernels mark them max_iter + 1
    finite = bool(np.all(np.isfinite(arrays["Q_t"])))
    success = done_all and unconverged == 0 and finite
    if success:
        msg = "every slab converged"
    elif not done_all:
        msg = f"non-finite values at t = {done_min * dt:.6g}; stopped"
    elif unconverged:
        msg = f"{unconverged} slabs did not converge in max_iter = {max_iter} passes"
    else:
        msg = "non-finite observables"
    scalars = {"t_max": t_max, "M": float(arrays["M_t"][-1]), "Q": float(arrays["Q_t"][-1]),
               "train_loss": float(arrays["train_loss_t"][-1]), "n_traj": n_traj,
               "n_samples": n_samples, "n_replicas": n_replicas,
               "seconds_per_slab": elapsed / max(n - 1, 1) / n_replicas,
               "damped_slabs": int(np.sum(arrays["damping_weight"][1:] < 1.0))}
    for key in ("test_error", "test_risk", "train_error"):
        if key + "_t" in arrays:
            scalars[key] = float(arrays[key + "_t"][-1])
    # Monte Carlo standard errors (independent replicas) of the final observables; the
    # O(dt) time discretisation of the sampled process is not included
    error_estimate = {key: float(arrays[key + "_se"][-1])
                      for key in ("M", "Q", "train_loss", "test_error", "test_risk",
                                  "train_error") if key + "_se" in arrays}
    conventions = model.conventions()
    if general:
        conventions["integrator"] = (
            "sampled effective process: causal marching, Heun slabs (diagonal mass implicit, "
            "additive noise sqrt(2 T dt)), sample-side memory end point by the proximal operator, "
            "per-trajectory responses, teacher term by Stein's lemma, common random numbers, "
            "adaptive damping of each slab's passes, stopping when the undamped residual is below "
            "tol_se standard errors; error bars from independent replicas")
        if model.loss == "hinge":
            conventions["integrator"] += (
                "; hinge: the derivative of the proximal step (1/c on its kink window of width "
                "c = dt/(2 alpha b)) is averaged over a window of the same width around each "
                "trajectory (a tent of unit mass, an O(dt) smoothing that keeps the slab "
                "iteration a continuous map)")
    else:
        conventions["integrator"] = ("sampled effective process: causal marching, Heun slabs, "
                                     "common random numbers, adaptive damping, stopping when the "
                                     "undamped residual is below tol_se standard errors; error "
                                     "bars from independent replicas")
    return DMFTResult(success=success, status=0 if success else -1, message=msg,
                      n_iter=int(iters.sum()), model=model,
                      options=options, conventions=conventions, timings={"solve": elapsed},
                      arrays=arrays, scalars=scalars, error_estimate=error_estimate,
                      meta={"method": "sampled", "kernel": "general" if general else "square",
                            "resumed_from": n0})


def _check_sampled_resume(resume, model, options, n):
    """Raise ValueError (naming ``resume``) unless ``resume`` can be continued; return its length."""
    from .solve import DMFTResult

    if not isinstance(resume, DMFTResult) or resume.meta.get("method") != "sampled":
        raise ValueError("resume must be a DMFTResult of method 'sampled'")
    if resume.model != model:
        raise ValueError(f"resume was computed for another model: {resume.model!r}")
    if not resume.success:
        raise ValueError("resume must be a successful run")
    for k, v in options.items():
        if resume.options.get(k) != v:
            raise ValueError(f"resume was computed with {k}={resume.options.get(k)!r}, not {v!r}")
    if "replica_state" not in resume.arrays:
        raise ValueError("resume holds no per-replica state (replica_state)")
    n0 = resume.arrays["replica_state"].shape[1]
    if not 2 <= n0 <= n:
        raise ValueError(f"resume has {n0} time points; need 2 <= points <= {n}")
    return n0


LOSS_CODES = {"square": 0, "logistic": 1, "hinge": 2}


def loss(name: str, y: float, h: float, derivative: int = 0) -> float:
    """The loss ``ell(y, h)`` of the sampled process, or its derivative in ``h``.

    Square ``(y - h)^2 / 2``, logistic ``log(1 + e^{-y h})`` (evaluated
    without overflow for any ``y h``), hinge ``max(0, 1 - y h)`` (its
    subgradient at the kink ``y h = 1`` is taken as 0, its second derivative
    as 0).  The kernels of :func:`solve_sampled` use exactly these values.

    Parameters
    ----------
    name : {"square", "logistic", "hinge"}
    y, h : float
        Label and pre-activation (finite).
    derivative : {0, 1, 2}
        Order of the derivative in ``h``.
    """
    check_choice("name", name, tuple(LOSS_CODES))
    y = check_real("y", y)
    h = check_real("h", h)
    if derivative not in (0, 1, 2):
        raise ValueError(f"derivative must be 0, 1 or 2, got {derivative!r}")
    from . import _kernels
    fn = (_kernels.loss_value, _kernels.loss_d1, _kernels.loss_d2)[derivative]
    return float(fn(LOSS_CODES[name], y, h))


def loss_prox(name: str, y: float, v: float, c: float) -> tuple[float, float]:
    """Proximal step of ``c ell(y, .)``: the ``h`` solving ``h + c ell'(y, h) = v``.

    Returns ``(h, dh/dv)``; square and hinge in closed form, logistic by
    Newton's method (see ``dmft._kernels.loss_prox``).  ``c > 0``.
    """
    check_choice("name", name, tuple(LOSS_CODES))
    y = check_real("y", y)
    v = check_real("v", v)
    c = check_real("c", c, low=0.0, low_open=True)
    from . import _kernels
    hp, dh = _kernels.loss_prox(LOSS_CODES[name], y, v, c)
    return float(hp), float(dh)


def sgd_selection(u, dt: float, tau: float, b: float) -> np.ndarray:
    """Persistent-SGD selection variables ``s(t_k)``, ``t_k = k dt``, from uniforms ``u``.

    The two-state Markov chain of Mignacco et al., NeurIPS 2020:
    ``1 -> 0`` at rate ``1/tau``, ``0 -> 1`` at rate ``b / ((1 - b) tau)``,
    stationary ``P(s = 1) = b``, sampled exactly on the grid.  ``u`` (shape
    ``(n, m)``, values in ``[0, 1)``) drives ``m`` independent chains; ``b =
    1`` gives ``s = 1`` (gradient flow).
    """
    u = np.ascontiguousarray(u, dtype=np.float64)
    if u.ndim != 2 or u.size == 0 or np.any(u < 0.0) or np.any(u >= 1.0):
        raise ValueError("u must be a non-empty 2-d array of values in [0, 1)")
    dt = check_real("dt", dt, low=0.0, low_open=True)
    tau = check_real("tau", tau, low=0.0, low_open=True)
    b = check_real("b", b, low=0.0, low_open=True, high=1.0)
    from . import _kernels
    out = np.zeros(u.shape)
    _kernels.sgd_selection(u, dt, tau, b, out)
    return out


def _one_replica_general(model, dt, n, n_traj, n_samples, rngs, tol_se, n_pass, max_iter,
                         damping=1.0, adaptive=True, state=None):
    """One replica of :func:`dmft._kernels.glm_general_sampled`.

    ``rngs``: the five generators (teacher and label noise, sample-side
    fields, parameter-side fields, Langevin increments, SGD selection);
    ``state``: the stored rows of a run to resume.  Returns ``(observables,
    iters, done, state)``.
    """
    from . import _kernels

    b = model.batch_fraction
    theta_star = math.sqrt(model.rho) * rngs[0].standard_normal(n_traj)
    zs = rngs[1].standard_normal((n + 1, n_samples))    # row 0 draws h*, row k+1 omega(t_k)
    zt = rngs[2].standard_normal((n, n_traj))            # xi(t_k)
    zw = (rngs[3].standard_normal((n, n_traj)) if model.temperature > 0.0
          else np.zeros((n, n_traj)))                    # Brownian increments
    S = np.ones((n, n_samples))
    if b < 1.0:
        _kernels.sgd_selection(rngs[4].random((n, n_samples)), dt, model.persistence, b, S)
    hstar = math.sqrt(float(np.mean(theta_star ** 2))) * zs[0]
    y = _F[model.teacher](hstar)
    if model.noise > 0.0:
        y = y + math.sqrt(model.noise) * rngs[0].standard_normal(n_samples)
    theta = np.zeros((n, n_traj))
    hs = np.zeros((n, n_samples))
    gs = np.zeros((n, n_samples))
    Kd = np.zeros((n, n))
    mus = np.zeros(n)
    R = np.zeros((n, n))
    dR = np.zeros((n, n))
    iters = np.zeros(n, dtype=np.int64)
    wmix = np.full(n, damping)
    start = 0
    if state is not None:
        start = state["replica_state"].shape[0]
        theta[:start] = state["replica_state"]
        R[:start, :start] = state["replica_R"]
        dR[:start, :start] = state["replica_dR"]
        iters[:start] = state["replica_iterations"]
        wmix[:start] = state["replica_damping"]
    par = np.array([1.0 / model.alpha, model.ridge, model.temperature, 1.0 / b])
    done = _kernels.glm_general_sampled(LOSS_CODES[model.loss], par, theta_star, zs, zt, zw, S,
                                        np.ascontiguousarray(y, dtype=np.float64), dt, n,
                                        tol_se, n_pass, max_iter, damping, adaptive, theta, hs,
                                        gs, Kd, mus, R, dR, iters, wmix, start)
    Q = (theta ** 2).mean(axis=1)
    M = (theta * theta_star).mean(axis=1)
    if model.loss == "square":
        train = 0.5 * ((y - hs) ** 2).mean(axis=1)
    elif model.loss == "logistic":
        train = np.logaddexp(0.0, -y * hs).mean(axis=1)
    else:
        train = np.maximum(0.0, 1.0 - y * hs).mean(axis=1)
    rep = {"M_t": M, "Q_t": Q, "train_loss_t": train}
    a, ey2 = model.teacher_moments()
    if model.loss == "square":
        rep["test_risk_t"] = 0.5 * (ey2 - 2.0 * a * M + Q)
    else:
        rep["train_error_t"] = (y * hs <= 0.0).mean(axis=1)
    if model.teacher == "sign":
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.clip(M / np.sqrt(Q * model.rho), -1.0, 1.0)
        rep["test_error_t"] = np.where(Q > 0, np.arccos(c) / math.pi, 0.5)
    state = {"replica_state": theta, "replica_R": R, "replica_dR": dR,
             "replica_iterations": iters, "replica_damping": wmix}
    return rep, iters, done, state


def _one_replica(model, R, Rr, dt, n, n_traj, n_samples, rngs, tol_se, n_pass, max_iter,
                 damping=1.0, adaptive=True, state=None):
    """One replica of :func:`dmft._kernels.glm_square_sampled` (streams as in the general case)."""
    from . import _kernels

    a, _ = model.teacher_moments()
    theta_star = math.sqrt(model.rho) * rngs[0].standard_normal(n_traj)
    zs = rngs[1].standard_normal((n + 1, n_samples))  # row 0 draws h*, row k+1 zeta(t_k)
    zt = rngs[2].standard_normal((n, n_traj))
    hstar = math.sqrt(float(np.mean(theta_star ** 2))) * zs[0]
    y = _F[model.teacher](hstar) + math.sqrt(model.noise) * rngs[0].standard_normal(n_samples)
    eps = y - a * hstar
    s_star = a * theta_star
    Delta = np.zeros((n, n_traj))
    ell = np.zeros((n, n_samples))
    iters = np.zeros(n, dtype=np.int64)
    wmix = np.full(n, damping)
    start = 0
    if state is not None:
        start = state["replica_state"].shape[0]
        Delta[:start] = state["replica_state"]
        iters[:start] = state["replica_iterations"]
        wmix[:start] = state["replica_damping"]
    done = _kernels.glm_square_sampled(np.array([1.0 / model.alpha, model.ridge]), R, Rr,
                                       theta_star, s_star, eps, zs, zt, dt, n, tol_se,
                                       n_pass, max_iter, damping, adaptive, Delta, ell, iters,
                                       wmix, start)
    state = {"replica_state": Delta, "replica_iterations": iters, "replica_damping": wmix}
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged run is reported, not warned
        moments = ((Delta ** 2).mean(axis=1), (Delta * s_star).mean(axis=1),
                   (ell ** 2).mean(axis=1))
    return (*moments, iters, done, state)

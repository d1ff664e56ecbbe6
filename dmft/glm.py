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
trajectories of the non-Gaussian effective process (``method="sampled"``,
:func:`dmft.sampled.solve_sampled`).  In ``theta = sqrt(d)
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
from lmech.blocks import get_channel
from lmech.blocks.losses import LOSSES as _BLOCK_LOSSES
from lmech.blocks.losses import Loss, Square, get_loss
from lmech.checks import check_choice, check_real

from .linreg import LinearRegressionGF

__all__ = ["GLMDynamics", "TEACHERS", "LOSSES", "teacher_moments", "loss", "loss_prox",
           "sgd_selection"]

TEACHERS = ("linear", "sign", "relu")
#: loss names: those of the :mod:`lmech.blocks.losses` table with a compiled kernel
LOSSES = tuple(k for k, c in _BLOCK_LOSSES.items() if c.code >= 0)


def teacher_moments(teacher: str, rho: float, noise: float) -> tuple[float, float]:
    """``(a, E[y^2])`` for ``y = f(h*) + sigma z``, ``h* ~ N(0, rho)``, ``sigma^2 = noise``.

    ``f`` and ``(a, E f^2)`` are those of the clean teacher of
    :func:`lmech.blocks.get_channel` (:meth:`lmech.blocks.channels.Channel.teacher_moments`):
    linear ``a = 1``, ``E f^2 = rho``; sign ``a = sqrt(2/(pi rho))``,
    ``E f^2 = 1``; relu ``a = 1/2``, ``E f^2 = rho/2``.  The additive label
    noise is this model's own (a Gaussian ``sigma z`` added to any teacher).
    """
    check_choice("teacher", teacher, TEACHERS)
    a, ef2 = get_channel(teacher).teacher_moments(rho)
    return a, ef2 + noise


@lmech.register_model("dmft.GLMDynamics")
@dataclass(frozen=True)
class GLMDynamics(lmech.Model):
    """Gradient flow, Langevin dynamics and persistent SGD of a teacher–student GLM.

    Parameters
    ----------
    alpha : float
        ``n/d > 0``.
    loss : str or lmech.blocks.losses.Loss
        Training loss ``ell(y, h)``: a name of :data:`LOSSES` (the
        :mod:`lmech.blocks.losses` table: ``square`` ``(y - h)^2/2``,
        ``logistic`` ``log(1 + e^{-y h})``, ``hinge`` ``max(0, 1 - y h)``
        (subgradient 0 at the kink ``y h = 1``), ``huber``, ...) or a loss
        object with its parameters (``Huber(delta=0.5)``; a loss equal to its
        defaults is stored by name).  Margin losses (all but the regression
        losses, ``Loss.regression``) need ``+-1`` labels: ``teacher =
        "sign"``, ``noise = 0``.
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
    loss: str = lmech.param("square", type=(str, Loss),
                            help="training loss: a name of lmech.blocks.LOSSES or a loss object")
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
        if isinstance(self.loss, Loss):
            self.loss.kernel_code("dmft.GLMDynamics")
            if self.loss == type(self.loss)():   # canonical form: a loss at its defaults by name
                object.__setattr__(self, "loss", self.loss.name)
        else:
            check_choice("loss", self.loss, LOSSES)
            object.__setattr__(self, "loss", get_loss(self.loss).name)   # aliases: "ridge" -> "square"
        if not self.loss_block.regression:
            if self.teacher != "sign":
                raise ValueError(f"teacher must be 'sign' for the {self.loss} loss (labels +-1), "
                                 f"got {self.teacher!r}")
            if self.noise != 0.0:
                raise ValueError(f"noise must be 0 for the {self.loss} loss (labels +-1), "
                                 f"got {self.noise!r}")

    @property
    def loss_block(self) -> Loss:
        """The loss as a :class:`lmech.blocks.losses.Loss` (``code``, ``par``, value, prox)."""
        return get_loss(self.loss)

    @property
    def closed(self) -> bool:
        """True when the exact Gaussian closure applies (square loss, full batch)."""
        return isinstance(self.loss_block, Square) and self.batch_fraction == 1.0

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
        a, _ = self.teacher_moments()
        s = a * a * self.rho
        C = np.asarray(C, dtype=float)
        m = np.asarray(m, dtype=float)
        M = (m + s) / a
        Q = C + 2.0 * m + s
        out = {"M": M, "Q": Q, "test_risk": self.test_risk(M, Q)}
        if self.teacher == "sign":
            # label noise y = sign(h*) + sigma z is not a flip model: report the clean error
            out["test_error"] = self.test_error(M, Q)
        return out

    def test_risk(self, M, Q):
        """``E (y - x.beta)^2 / 2 = (E y^2 - 2 a M + Q) / 2`` at ``(M, Q)`` (arrays):
        :meth:`lmech.blocks.channels.Channel.test_risk` of the teacher with this model's
        label noise."""
        return get_channel(self.teacher).test_risk(M, Q, self.rho, noise=self.noise)

    @property
    def erm_reg(self) -> float:
        """The L2 strength ``lambda`` of the same minimiser in :class:`replica.ERM`'s convention.

        This model's flow minimises ``(1/n) sum_mu ell(y_mu, x_mu.beta) + ridge |beta|^2 / 2``
        (the loss *averaged* over the ``n = alpha d`` samples, ``|beta|^2 = O(1)``);
        :class:`replica.ERM` minimises ``sum_mu ell(y_mu, w.x_mu / sqrt d) + lambda |w|^2 / 2``
        (the *sum*, ``|w|^2 = O(d)``).  With ``w = sqrt(d) beta`` the first, times ``n``, is
        ``sum_mu ell + (n ridge / d) |w|^2 / 2``: ``lambda = alpha * ridge``.  The
        long-time limit of gradient flow (``T = 0``, ``b = 1``, ``ridge > 0``) is the ERM
        minimiser of ``replica.ERM(loss=..., reg=model.erm_reg)``.
        """
        return self.alpha * self.ridge

    def test_error(self, M, Q):
        """``P(sign(x.beta) != sign(x.beta*))`` at ``(M, Q)`` (sign teacher; arrays):
        :meth:`lmech.blocks.channels.SignFamily.test_error`, ``arccos(M / sqrt(Q rho)) / pi``."""
        return get_channel(self.teacher).test_error(M, Q, self.rho)

    def conventions(self) -> dict:
        loss = {"square": "ell(y,h) = (y-h)^2/2",
                "logistic": "ell(y,h) = log(1 + exp(-y h)), y = sign(x.beta*)",
                "hinge": "ell(y,h) = max(0, 1 - y h), y = sign(x.beta*); subgradient 0 at y h = 1 "
                         "(the sampled process resolves the kink by the proximal operator)"}
        lb = self.loss_block
        text = loss.get(self.loss) if isinstance(self.loss, str) else None
        if text is None:
            text = f"ell = lmech.blocks.losses.{type(lb).__name__} {lb!r}"
        return {
            "data": "x ~ N(0, I_d), y = f(x.beta*) + sqrt(noise) z, |beta*|^2 = rho",
            "loss": "(1/n) sum_mu ell(y_mu, x_mu.beta) + ridge |beta|^2/2 from beta = 0; " + text,
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


#: loss name -> kernel code (the :mod:`lmech.blocks.losses` table)
LOSS_CODES = {k: _BLOCK_LOSSES[k].code for k in LOSSES}


def loss(name, y: float, h: float, derivative: int = 0) -> float:
    """The loss ``ell(y, h)`` of the sampled process, or its derivative in ``h``.

    Delegates to :func:`lmech.blocks.losses.get_loss` (``name``: a name of
    :data:`LOSSES` or a loss object): square ``(y - h)^2 / 2``, logistic
    ``log(1 + e^{-y h})`` (without overflow for any ``y h``), hinge
    ``max(0, 1 - y h)`` (subgradient at the kink ``y h = 1`` taken as 0,
    second derivative 0), ...  The kernels of
    :func:`dmft.sampled.solve_sampled` use exactly these values.

    Parameters
    ----------
    name : str or lmech.blocks.losses.Loss
    y, h : float
        Label and pre-activation (finite).
    derivative : {0, 1, 2}
        Order of the derivative in ``h``.
    """
    lo = _loss_named(name)
    y = check_real("y", y)
    h = check_real("h", h)
    if derivative not in (0, 1, 2):
        raise ValueError(f"derivative must be 0, 1 or 2, got {derivative!r}")
    return float((lo.value, lo.d1, lo.d2)[derivative](y, h))


def loss_prox(name, y: float, v: float, c: float) -> tuple[float, float]:
    """Proximal step of ``c ell(y, .)``: the ``h`` solving ``h + c ell'(y, h) = v``.

    Returns ``(h, dh/dv)`` from :meth:`lmech.blocks.losses.Loss.prox` (square,
    hinge and Huber in closed form, logistic by the monotone Newton iteration
    of its margin prox, to rounding).  ``c > 0``.
    """
    lo = _loss_named(name)
    y = check_real("y", y)
    v = check_real("v", v)
    c = check_real("c", c, low=0.0, low_open=True)
    hp, dh = lo.prox(y, v, c)
    return float(hp), float(dh)


def _loss_named(name) -> Loss:
    if not isinstance(name, Loss):
        check_choice("name", name, LOSSES)
    lo = get_loss(name)
    lo.kernel_code("dmft")
    return lo


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
    from ._kernels import sampled as _kernels
    out = np.zeros(u.shape)
    _kernels.sgd_selection(u, dt, tau, b, out)
    return out

"""What the PLRF sweep kinds of :mod:`odes.kinds` run and draw.

``odes.plrf_loss``: the risk of one model size at one compute budget (a grid
over ``d`` and ``flops`` draws the compute-optimal frontier: loss against flops
for every size, their envelope and its fitted exponent).

``odes.plrf_phase_diagram``: the compute-optimal exponents at one point of the
``(alpha, beta)`` plane (:func:`odes.plrf.frontier`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lmech.result import Result
from lmech.spec import Model, param
from lmech.status import Status

from .plrf import CONVENTIONS, PLRF, _slope, frontier, phase, predicted_exponents, risk_curve, spectrum

__all__ = ["PLRFView", "LossPoint", "FrontierOptions", "PhaseOptions", "PHASE_CODES", "loss_solve",
           "loss_plot", "phase_solve", "phase_plot", "envelope"]

#: integer codes of :func:`odes.plrf.phase` recorded by the phase-diagram kind
PHASE_CODES = {"": 0, "Ia": 1, "Ib": 2, "Ic": 3, "II": 4, "III": 5, "IV": 6}


@dataclass(frozen=True)
class PLRFView(Model):
    """A PLRF whose input dimension follows the model size: ``v = round(v_ratio d)``."""

    alpha: float = param(1.0, low=0.0, high=10.0, low_open=True, help="data exponent: sigma_j = j^(-2 alpha)")
    beta: float = param(0.7, low=-10.0, high=10.0, help="target exponent: b_j = j^(-beta)")
    d: int = param(256, low=2, help="number of random features")
    v_ratio: float = param(4.0, low=1.0, high=1e4, low_open=True, help="input dimension v = round(v_ratio d)")
    batch: int = param(1, low=1, help="SGD batch size B")
    lr_scale: float = param(0.5, low=0.0, high=4.0, low_open=True,
                            help="gamma = lr_scale * B / sum_j j^(-2 alpha)")

    def check(self):
        if round(self.v_ratio * self.d) <= self.d:
            raise ValueError(f"v_ratio must make v = round(v_ratio d) > d, got {self.v_ratio} at d={self.d}")

    def build(self) -> PLRF:
        return PLRF(alpha=self.alpha, beta=self.beta, d=self.d, v=int(round(self.v_ratio * self.d)),
                    batch=self.batch, lr_scale=self.lr_scale)


@dataclass(frozen=True)
class LossPoint(Model):
    """Sweep-only parameter of ``odes.plrf_loss``: the compute budget."""

    flops: float = param(1e6, low=0.0, low_open=True, help="compute budget f = B d t (t steps)")


@dataclass(frozen=True)
class LossOptions(Model):
    """Numerical options of ``odes.plrf_loss``."""

    rtol: float = param(1e-8, low=1e-12, high=1e-2, help="relative accuracy of the spectrum's integrals")


@dataclass(frozen=True)
class FrontierOptions(Model):
    """Sweep-only parameters of ``odes.plrf_phase_diagram``: the size grid of each frontier."""

    d_min: int = param(32, low=4, help="smallest model size")
    d_max: int = param(512, low=8, help="largest model size")
    sizes_per_octave: int = param(1, low=1, high=16, help="model sizes per factor 2")
    v_ratio: float = param(4.0, low=1.0, high=1e4, low_open=True, help="v = round(v_ratio d)")
    batch: int = param(1, low=1, help="SGD batch size B")
    lr_scale: float = param(0.5, low=0.0, high=4.0, low_open=True, help="gamma = lr_scale B / tr K")
    t_max: float = param(1e12, low=10.0, high=1e15, help="longest run (steps)")


@dataclass(frozen=True)
class PhaseOptions(Model):
    """Numerical options of ``odes.plrf_phase_diagram``."""

    rtol: float = param(1e-4, low=1e-12, high=1e-2, help="relative accuracy of the spectra")
    n_t: int = param(121, low=10, high=10000, help="log-spaced steps per risk curve")
    n_flops: int = param(61, low=10, high=10000, help="log-spaced budgets")


@lru_cache(maxsize=8)
def _spectrum(model: PLRF, rtol: float):
    return spectrum(model, rtol=rtol)


def loss_solve(model: PLRF, *, flops: float, rtol: float) -> Result:
    """The risk of ``model`` after ``t = flops / (B d)`` steps (rounded down; at least one)."""
    steps = math.floor(flops / (model.batch * model.d))
    if steps < 1:
        return Result(success=False, status=Status.INVALID_STATE, model=model,
                      message=f"budget {flops:.4g} is below one step of size d={model.d}",
                      scalars=dict(loss=math.nan, steps=0.0, d=float(model.d)), conventions=CONVENTIONS)
    spec = _spectrum(model, rtol)
    r = risk_curve(model, np.array([float(steps)]), spec=spec)
    loss = float(r.risk[0]) if "risk" in r.arrays else math.nan
    return Result(success=r.success, status=r.status, message=r.message, model=model,
                  conventions=CONVENTIONS, error_estimate={"loss": r.error_estimate.get("risk", math.nan)},
                  scalars=dict(loss=loss, steps=float(steps), d=float(model.d), p_star=spec.p_star,
                               kernel_norm=r.scalars.get("kernel_norm", math.nan), lr=r.lr))


def envelope(d, flops, loss):
    """Compute-optimal envelope of a ``(size, budget)`` grid of losses: ``min_d`` per budget,
    and the exponent of ``P* ~ f^-eta`` fitted where the best size is interior.

    Returns ``(p_opt, d_opt, interior, eta, eta_se)``.
    """
    loss = np.asarray(loss, dtype=float)
    p_opt = np.full(len(flops), np.nan)
    d_opt = np.full(len(flops), np.nan)
    interior = np.zeros(len(flops), bool)
    for j in range(len(flops)):
        col = loss[:, j]
        if np.all(np.isnan(col)):
            continue
        k = int(np.nanargmin(col))
        p_opt[j], d_opt[j] = col[k], d[k]
        interior[j] = 0 < k < len(d) - 1 and np.isfinite(col[k - 1]) and np.isfinite(col[k + 1])
    eta = se = math.nan
    if interior.sum() >= 3:
        lf = np.log(np.asarray(flops, float)[interior])
        slope, se = _slope(lf, np.log(p_opt[interior]))
        eta = -slope
    return p_opt, d_opt, interior, eta, se


def loss_plot(sweep_result, ax):
    """Loss against flops for every model size (log-log), the envelope and its fitted exponent."""
    arr = sweep_result.arrays
    axes = list(sweep_result.meta["axes"])
    if axes[:2] != ["d", "flops"]:
        raise ValueError("odes.plrf_loss draws a [grid] with axes d then flops")
    d = np.asarray(arr["d"], dtype=float)
    f = np.asarray(arr["flops"], dtype=float)
    loss = np.asarray(arr["loss"], dtype=float)
    while loss.ndim > 2:
        loss = loss[..., 0]
    import matplotlib.cm as cm

    colors = cm.viridis(np.linspace(0, 0.9, d.size))
    for i, di in enumerate(d):
        ax.loglog(f, loss[i], "-", color=colors[i], lw=1, label=f"d = {di:g}" if i in (0, d.size - 1) else None)
    p_opt, d_opt, interior, eta, se = envelope(d, f, loss)
    ax.loglog(f, p_opt, "k-", lw=2.5, alpha=0.35, label="envelope min_d P")
    if np.isfinite(eta):
        fi = f[interior]
        c = np.exp(np.mean(np.log(p_opt[interior]) + eta * np.log(fi)))
        ax.loglog(fi, c * fi ** -eta, "r--", lw=1.5,
                  label=f"fit f^(-{eta:.3f} +- {se:.3f})")
    model = sweep_result.model_at(0) if hasattr(sweep_result, "model_at") else None
    if model is not None:
        eta_th, _xi = predicted_exponents(model.alpha, model.beta)
        ttl = f"PLRF alpha={model.alpha:g}, beta={model.beta:g}: phase {phase(model.alpha, model.beta) or '-'}"
        if math.isfinite(eta_th):
            ttl += f", predicted eta = {eta_th:.3f}"
        ax.set_title(ttl, fontsize="small")
    ax.set_xlabel("flops f = B d t")
    ax.set_ylabel("risk P")
    ax.legend(fontsize="small")
    return ax


def phase_solve(model: PLRF, *, d_min, d_max, sizes_per_octave, v_ratio, batch, lr_scale, t_max,
                rtol, n_t, n_flops) -> Result:
    """The compute-optimal exponents at ``(model.alpha, model.beta)`` (:func:`odes.plrf.frontier`)."""
    if d_max <= d_min:
        raise ValueError(f"d_max must be > d_min, got {d_max} <= {d_min}")
    fr = frontier(model.alpha, model.beta, d_min=d_min, d_max=d_max, sizes_per_octave=sizes_per_octave,
                  v_ratio=v_ratio, batch=batch, lr_scale=lr_scale, t_max=t_max, n_t=n_t, n_flops=n_flops,
                  rtol=rtol)
    s = fr.scalars
    return Result(success=fr.success, status=fr.status, message=fr.message, model=model,
                  conventions=CONVENTIONS, timings=fr.timings,
                  error_estimate={"eta": s["eta_err"], "xi": s["xi_err"]},
                  scalars=dict(eta=s["eta"], eta_err=s["eta_err"], xi=s["xi"], xi_err=s["xi_err"],
                               eta_theory=s["eta_theory"], xi_theory=s["xi_theory"],
                               phase_code=PHASE_CODES[s["phase"]]))


def phase_plot(sweep_result, ax):
    """Heat map of the fitted loss exponent eta over (alpha, beta), with the phase boundaries."""
    arr = sweep_result.arrays
    axes = list(sweep_result.meta["axes"])
    if axes[:2] != ["alpha", "beta"]:
        raise ValueError("odes.plrf_phase_diagram draws a [grid] with axes alpha then beta")
    a = np.asarray(arr["alpha"], dtype=float)
    b = np.asarray(arr["beta"], dtype=float)
    eta = np.asarray(arr["eta"], dtype=float)
    while eta.ndim > 2:
        eta = eta[..., 0]
    im = ax.pcolormesh(a, b, eta.T, shading="auto", cmap="magma")
    ax.figure.colorbar(im, ax=ax, label="fitted eta: P*(f) ~ f^(-eta)")
    lo_a, hi_a, lo_b, hi_b = a.min(), a.max(), b.min(), b.max()
    kw = dict(color="c", lw=1)
    ax.plot([0.5, 0.5], [lo_b, hi_b], **kw)
    ax.plot([lo_a, hi_a], [0.5, 0.5], **kw)
    g = np.linspace(max(lo_a, 0.5), hi_a, 50)
    ax.plot(g, g, **kw)
    ax.plot([0.25, 0.25], [0.5, hi_b], **kw)
    g = np.linspace(lo_a, min(hi_a, 0.5), 50)
    ax.plot(g, 0.5 - g, **kw)
    for name, (x, y) in {"Ia": (0.75, 0.25), "II": (1.0, 0.7), "III": (0.7, 1.1), "Ib": (0.35, 0.35),
                         "Ic": (0.12, 0.8), "IV": (0.37, 0.8)}.items():
        if lo_a <= x <= hi_a and lo_b <= y <= hi_b:
            ax.text(x, y, name, color="c", ha="center", va="center", fontsize="small")
    if hi_a > lo_a:
        ax.set_xlim(lo_a, hi_a)
    if hi_b > lo_b:
        ax.set_ylim(lo_b, hi_b)
    ax.set_xlabel("alpha (data)")
    ax.set_ylabel("beta (target)")
    ax.set_title("PLRF compute-optimal loss exponent (Paquette et al. 2024)", fontsize="small")
    return ax

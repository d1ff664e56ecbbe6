"""Numba kernels of the replica layer: Gaussian integrals of priors and channels.

Every kernel is a pure function of float64 scalars and the Gauss–Hermite rule
``(z, w)`` for ``E`` over ``N(0, 1)`` (:func:`lmech.gauss.hermite`).  Notation
follows Barbier, Krzakala, Macris, Miolane & Zdeborová, PNAS 116, 5451 (2019)
(BKMMZ below): ``r = qhat`` is the signal-to-noise ratio of the scalar
Gaussian channel of the prior, ``q`` the overlap, ``V = rho - q``, ``Psi_out``
the channel free entropy.  The Python wrappers are in :mod:`replica.blocks`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lmech.blocks.losses import prox_margin
from lmech.special import H, Phi, log_H, log_Phi, mills, phi
from lmech.warm import register_warmup

_LOG2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# the quadrature rule of the layer (shared by every kernel whose integrand
# sharpens with a parameter): composite Gauss-Legendre on panels no wider than
# the smallest scale of the integrand, with edges pinned at kinks and steps,
# over the range where the Gaussian weight exceeds exp(-LIM**2/2) (1e-18 for
# LIM = 9).  The rule (xg, wg) on [-1, 1] is passed in; the error is estimated
# by refinement (the same panels with twice the nodes, compared in the solvers:
# ``error_estimate`` of replica.bayes, replica.gardner), which for integrands
# analytic on each panel overestimates the error of the finer rule by orders of
# magnitude.  Kernels build their edges with :func:`panel_edges` (sized by
# :func:`_n_edges`) from the scales and kinks of their integrand.
# ---------------------------------------------------------------------------
#: half-width, in standard deviations, of the integration range of Gaussian expectations
LIM = 9.0


@njit(cache=True)
def panel_edges(lo, hi, step, pins, out):
    """Panel edges on ``[lo, hi]``: a grid of spacing at most ``step`` through ``pins``.

    The points of ``pins`` inside ``(lo, hi)`` (kinks, steps, centres of
    sharp features) are edges; between consecutive pinned points the
    interval is cut into equal panels of width at most ``step``.  Writes the
    sorted edges into ``out`` and returns their number (``out`` must hold
    ``len(pins) + 2 + (hi - lo) / step + len(pins) + 2`` values).
    """
    m = 0
    tmp = np.empty(pins.shape[0] + 2)
    tmp[m] = lo
    m += 1
    for i in range(pins.shape[0]):
        if lo < pins[i] < hi:
            tmp[m] = pins[i]
            m += 1
    tmp[m] = hi
    m += 1
    tmp = np.sort(tmp[:m])
    k = 0
    for i in range(m - 1):
        a = tmp[i]
        b = tmp[i + 1]
        if b - a <= 0.0:
            continue
        npan = int(math.ceil((b - a) / step - 1e-12))
        if npan < 1:
            npan = 1
        for j in range(npan):
            out[k] = a + (b - a) * j / npan
            k += 1
    out[k] = tmp[m - 1]
    return k + 1


@njit(cache=True)
def _n_edges(lo, hi, step, npins):
    return int((hi - lo) / step) + 2 * npins + 4


@njit(cache=True)
def panel_nodes(edges, k, xg, wg, x, w):
    """Nodes and weights of the composite rule on the panels ``edges[:k]``.

    Maps the Gauss–Legendre rule ``(xg, wg)`` on ``[-1, 1]`` to each panel
    ``[edges[p], edges[p + 1]]`` (nodes ``c + h xg``, weights ``h wg``, with
    ``c``, ``h`` the panel's centre and half-width), skipping empty panels,
    and writes them in order into ``x`` and ``w`` (each at least
    ``(k - 1) len(xg)`` long).  Returns the number of nodes written.
    """
    m = 0
    for p in range(k - 1):
        a = edges[p]
        b = edges[p + 1]
        if b - a <= 0.0:
            continue
        h = 0.5 * (b - a)
        c = 0.5 * (a + b)
        for i in range(xg.shape[0]):
            x[m] = c + h * xg[i]
            w[m] = h * wg[i]
            m += 1
    return m


@njit(cache=True)
def even_sech_moments(s, xg, wg):
    """``(E sech(s z), E sech(s z)**2, E log1p(exp(-2 s |z|)))`` for ``z ~ N(0, 1)``, ``s >= 0``.

    The integrands are even; in ``t = s |z|`` they are
    ``2 phi(t / s) / s f(t)`` with ``f`` analytic in ``|Im t| < pi/2`` and
    decaying like ``exp(-t)`` or faster, so panels of width ``min(1, s)`` on
    ``[0, min(LIM s, 40)]`` resolve both the Gaussian (scale ``s``) and
    ``f`` (scale 1) for every ``s``; beyond ``t = 40``, ``f < 5e-18``.
    Sharp as ``s -> inf`` (width ``1/s`` in ``z``): this is the rule of
    the binary Gardner volume (``1 - E tanh**2``) and of the Rademacher mmse.
    """
    if s == 0.0:
        return 1.0, 1.0, math.log(2.0)
    hi = min(LIM * s, 40.0)
    step = min(1.0, s)
    pins = np.empty(0)
    edges = np.empty(_n_edges(0.0, hi, step, 0))
    k = panel_edges(0.0, hi, step, pins, edges)
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    norm = 2.0 / (s * math.sqrt(2.0 * math.pi))
    x = np.empty((k - 1) * xg.shape[0])
    w = np.empty_like(x)
    for j in range(panel_nodes(edges, k, xg, wg, x, w)):
        t = x[j]
        wt = norm * w[j] * math.exp(-0.5 * (t / s) ** 2)
        e = math.exp(-t)
        sech = 2.0 * e / (1.0 + e * e)
        s1 += wt * sech
        s2 += wt * sech * sech
        s3 += wt * math.log1p(e * e)
    return s1, s2, s3


# ---------------------------------------------------------------------------
# priors: scalar Gaussian channel B = r w* + sqrt(r) xi, A = r (BKMMZ eq. 14)
# ---------------------------------------------------------------------------
@njit(cache=True)
def rademacher_psi_minus(r, xg, wg):
    """``Psi_P0(r) - r rho / 2`` for ``P0 = (delta_1 + delta_-1)/2`` (rho = 1).

    ``Psi_P0(r) = -r/2 + E log cosh(x)``, ``x = r + sqrt(r) xi ~ N(r, r)``;
    written as ``-log 2 + E[2 max(-x, 0)] + E[log1p(exp(-2|x|))]``.  The
    first expectation is closed form, ``2 s (phi(s) - s H(s))`` with
    ``s = sqrt r``; the second is localised at ``|x| < 40`` with a kink at
    ``x = 0`` and is integrated in ``x`` on panels of width ``min(1, s)``
    pinned at 0, over ``[r - LIM s, r + LIM s]``.  ``(xg, wg)``: a
    Gauss-Legendre rule on ``[-1, 1]`` (nodes per panel).  Tends to ``-log 2``
    as ``r -> inf``.
    """
    if math.isinf(r):
        return -_LOG2
    if r <= 0.0:
        return 0.0
    s = math.sqrt(r)
    lin = 2.0 * s * (phi(s) - s * H(s))
    lo = max(r - LIM * s, -40.0)
    hi = min(r + LIM * s, 40.0)
    acc = 0.0
    if hi > lo:
        step = min(1.0, s)
        pins = np.zeros(1)
        edges = np.empty(_n_edges(lo, hi, step, 1))
        k = panel_edges(lo, hi, step, pins, edges)
        norm = 1.0 / (s * math.sqrt(2.0 * math.pi))
        xs = np.empty((k - 1) * xg.shape[0])
        ws = np.empty_like(xs)
        for j in range(panel_nodes(edges, k, xg, wg, xs, ws)):
            x = xs[j]
            acc += norm * ws[j] * math.exp(-0.5 * ((x - r) / s) ** 2) * math.log1p(
                math.exp(-2.0 * abs(x)))
    return -_LOG2 + lin + acc


@njit(cache=True)
def rademacher_mmse(r, xg, wg):
    """``rho - q = 1 - E tanh(r + sqrt(r) xi)``, to full relative accuracy.

    Exact identity (shift ``xi = zeta - sqrt r`` and symmetrise):
    ``mmse = exp(-r/2) E_zeta[sech(sqrt(r) zeta)]``, evaluated by
    :func:`even_sech_moments` (sharp at ``zeta = 0`` with width
    ``1/sqrt r``), which keeps full relative accuracy when the mmse is
    ``exp(-r/2)`` small.  ``(xg, wg)``: Gauss-Legendre rule on ``[-1, 1]``.
    """
    if math.isinf(r):
        return 0.0
    if r <= 0.0:
        return 1.0
    return math.exp(-0.5 * r) * even_sech_moments(math.sqrt(r), xg, wg)[0]


@njit(cache=True)
def _softplus(u):
    """``log(1 + exp(u))`` without overflow or loss for large ``|u|``."""
    return max(u, 0.0) + math.log1p(math.exp(-abs(u)))


@njit(cache=True)
def _gb_logz_direct(b, r, rho):
    """``log Z0(B, A=r) = log1p(rho expm1(y))``, ``y = B**2/(2(1+r)) - log(1+r)/2``.

    ``Z0 = 1 - rho + rho g`` with ``g = exp(y)`` the likelihood ratio of
    ``N(0, r + r**2)`` to ``N(0, r)``; full relative accuracy when ``log Z0``
    is small (``r -> 0``), log-sum-exp once ``g`` is large.
    """
    y = 0.5 * b * (b / (1.0 + r)) - 0.5 * math.log1p(r)
    if y < 30.0:
        return math.log1p(rho * math.expm1(y))
    return math.log(rho) + y + math.log1p(math.exp(math.log1p(-rho) - math.log(rho) - y))


@njit(cache=True)
def _gb_fv(b, r, rho):
    """Posterior variance of ``w`` given ``B`` (Gauss–Bernoulli prior)."""
    if rho >= 1.0:
        pi = 1.0
    else:
        # pi = sigmoid(l2 - l1), l2 - l1 = B^2/(2(1+r)) - a
        u = math.log1p(-rho) - math.log(rho) + 0.5 * math.log1p(r) - 0.5 * b * (b / (1.0 + r))
        pi = 1.0 / (1.0 + math.exp(u)) if u < 700.0 else 0.0
    return pi / (1.0 + r) + pi * (1.0 - pi) * (b / (1.0 + r)) ** 2


@njit(cache=True)
def _gb_switch(r, rho):
    """``(x0, d)``: real part and distance from the real axis of the nearest singularity in ``B``.

    ``Z0`` vanishes (and ``log Z0``, the posterior weight ``pi`` are singular)
    where ``B**2 = s + i c_k``, ``s = 2 (1+r) log((1-rho) sqrt(1+r) / rho)``,
    ``c_k = +-2 pi (2k+1) (1+r)``.  The nearest to the real axis is ``k = 0``;
    every singularity with real part ``x`` lies at least ``max(d, x - x0)``
    from it (``Re**2 - Im**2 = s``), so panels of width ``d`` at ``x0`` graded
    geometrically away from it resolve the switch of the posterior (for
    ``s >> c``: at ``B* = sqrt s`` over a width ``d ~ pi (1+r) / B*``).
    ``d = inf`` for ``rho = 1`` (``Z0`` has no zeros).
    """
    if rho >= 1.0:
        return 0.0, math.inf
    s = 2.0 * (1.0 + r) * (math.log1p(-rho) - math.log(rho) + 0.5 * math.log1p(r))
    c = 2.0 * math.pi * (1.0 + r)
    h = math.hypot(s, c)
    if s >= 0.0:
        x0 = math.sqrt(0.5 * (h + s))
        d = 0.5 * c / x0
    else:
        d = math.sqrt(0.5 * (h - s))
        x0 = 0.5 * c / d
    return x0, d


@njit(cache=True)
def _gb_component(sd, r, rho, shift, xg, wg):
    """``(E f_l, E f_v)`` for ``B ~ N(0, sd**2)`` by the layer's panel rule.

    ``f_l`` is ``log Z0 - l2`` (``shift``: ``softplus(l1 - l2)``,
    ``l1 = log(1-rho)``, ``l2 = log rho - log(1+r)/2 + B**2/(2(1+r))``) or
    ``log Z0`` (direct), ``f_v`` the posterior variance.  Panels no wider than
    ``sd`` on ``[0, 12 sd]``, graded geometrically (ratio 2, from width ``d``)
    on both sides of the singularity ``(x0, d)`` of :func:`_gb_switch`, so that
    every panel's nearest singularity lies at least about its own width away
    for every ``r, rho``.
    """
    hi = 12.0 * sd
    x0, d = _gb_switch(r, rho)
    pins = np.empty(2 * 64 + 1)
    m = 0
    if d < sd:
        pins[m] = x0
        m += 1
        f = d
        while f < hi and m < pins.shape[0] - 1:
            pins[m] = x0 - f
            pins[m + 1] = x0 + f
            m += 2
            f *= 2.0
    edges = np.empty(_n_edges(0.0, hi, sd, m))
    k = panel_edges(0.0, hi, sd, pins[:m], edges)
    a = math.log1p(-rho) - math.log(rho) + 0.5 * math.log1p(r) if rho < 1.0 else -math.inf
    s_l = 0.0
    s_v = 0.0
    norm = 1.0 / (sd * math.sqrt(2.0 * math.pi))
    xs = np.empty((k - 1) * xg.shape[0])
    ws = np.empty_like(xs)
    for j in range(panel_nodes(edges, k, xg, wg, xs, ws)):
        x = xs[j]
        dens = 2.0 * norm * math.exp(-0.5 * (x / sd) ** 2) * ws[j]
        if shift:
            s_l += dens * (_softplus(a - 0.5 * x * (x / (1.0 + r))) if rho < 1.0 else 0.0)
        else:
            s_l += dens * _gb_logz_direct(x, r, rho)
        s_v += dens * _gb_fv(x, r, rho)
    return s_l, s_v


@njit(cache=True)
def gauss_bernoulli_psi_mmse(r, rho, xg, wg):
    """``(Psi_P0(r) - r rho/2, rho - q)`` for the Gauss–Bernoulli prior of density ``rho``.

    ``B ~ N(0, r)`` with probability ``1 - rho`` (``w* = 0``) and
    ``B ~ N(0, r + r**2)`` with probability ``rho`` (``w* ~ N(0, 1)``);
    ``rho - q = E[posterior variance]`` (Nishimori).  ``(xg, wg)`` is a
    Gauss–Legendre rule on ``[-1, 1]``.

    ``Psi_P0 - r rho/2 = E log Z0 - r rho/2`` cancels two terms of size
    ``r rho/2`` as ``r`` grows; writing ``log Z0 = l2 + softplus(l1 - l2)``
    and integrating ``l2`` exactly (``E B**2 = r + rho r**2``) gives
    ``log rho - log(1+r)/2 + r (1-rho) / (2 (1+r)) + E softplus(l1 - l2)``,
    whose terms are ``O(log(r/rho))``.  The direct form is used when
    ``r rho / 2`` is the smaller of the two cancelling scales (small ``r``,
    where ``log Z0`` is evaluated as ``log1p(rho expm1(y))``).
    """
    if r <= 0.0:
        return 0.0, rho
    c0 = math.log(rho) - 0.5 * math.log1p(r) + 0.5 * r * (1.0 - rho) / (1.0 + r)
    shift = 0.5 * r * rho > abs(c0)
    l0, v0 = _gb_component(math.sqrt(r), r, rho, shift, xg, wg)
    l1, v1 = _gb_component(math.sqrt(r) * math.sqrt(1.0 + r), r, rho, shift, xg, wg)
    el = (1.0 - rho) * l0 + rho * l1
    psi = c0 + el if shift else el - 0.5 * r * rho
    return psi, (1.0 - rho) * v0 + rho * v1


# ---------------------------------------------------------------------------
# sign-family channels: P(y|z) = eps + (1 - 2 eps) Phi(y z / sqrt(Delta)), y = +-1
# (sign: Delta = eps = 0; probit: Delta > 0; label flips: eps > 0), so that
# Z_out(y, omega, V) = eps + (1 - 2 eps) Phi(y omega / sqrt(V + Delta)).
# Both integrals over xi are rewritten with phi(x) N(x; 0, s^2) =
# N(0; 0, 1 + s^2) N(x; 0, s^2 / (1 + s^2)) (analytic rescaling), which leaves
# a smooth integrand under a Gaussian of variance q / (rho + Delta) <= 1.
# ---------------------------------------------------------------------------
@njit(cache=True)
def _log1p_over(t):
    """``log1p(t) / t`` with the value 1 at ``t = 0``."""
    if abs(t) < 1e-8:
        return 1.0 - 0.5 * t + t * t / 3.0
    if t > 1e300:  # log(t)/t -> 0 (t = delta/eps with a subnormal eps overflows)
        return 0.0 if math.isinf(t) else math.log(t) / t
    return math.log1p(t) / t


@njit(cache=True)
def _sign_entropy_kernel(u, eps):
    """``(sum_y Z_y log Z_y - a0) / phi(u)``, ``Z_y = eps + (1-2eps) Phi(y u)``.

    ``a0 = eps log eps + (1-eps) log(1-eps)`` is the value at ``|u| -> inf``.
    Even in ``u``; with ``delta = (1-2eps) H(|u|)`` and ``rr = delta / phi(u)``
    it equals ``rr [log(eps+delta) - log(1-eps-delta) + L(delta/eps) - L(-delta/(1-eps))]``,
    ``L(t) = log1p(t)/t``, free of cancellation in the tails.
    """
    a = abs(u)
    c = 1.0 - 2.0 * eps
    rr = c / mills(-a)           # (1-2eps) H(a) / phi(a)
    if eps > 0.0:
        delta = c * H(a)
        t = math.log(eps + delta) - math.log1p(-eps - delta)
        t += _log1p_over(delta / eps) - _log1p_over(-delta / (1.0 - eps))
    else:
        delta = H(a)
        t = log_H(a) - math.log1p(-delta) - _log1p_over(-delta)
    return rr * t


@njit(cache=True)
def _sign_edges(su, eps, out):
    """Panel edges on ``[0, LIM]`` in ``xi`` for the (even) sign-family integrands.

    Unit panels; with label flips, ``Z_y`` switches from ``(1-2eps) Phi`` to
    ``eps`` where ``(1-2eps) H(a) = eps`` (``a ~ sqrt(2 log(1/eps))``), over
    a width ``1/a`` in ``u = su xi``: edges graded around ``xi* = a / su``.
    """
    pins = np.empty(2 * 40 + 1)
    m = 0
    if eps > 0.0 and su > 0.0:
        c = 1.0 - 2.0 * eps
        a = math.sqrt(2.0 * math.log(c / eps))
        for _ in range(4):
            t = c / (eps * max(a, 1.0) * math.sqrt(2.0 * math.pi))
            a = math.sqrt(2.0 * math.log(t)) if t > 1.0 else 0.0
        xs = a / su
        wd = 1.0 / (max(a, 1.0) * su)
        if xs < LIM:
            pins[m] = xs
            m += 1
            f = 0.125 * wd
            while f < 1.0 and m < pins.shape[0] - 1:
                pins[m] = xs - f
                pins[m + 1] = xs + f
                m += 2
                f *= 2.0
    return panel_edges(0.0, LIM, 1.0, pins[:m], out)


@njit(cache=True)
def sign_psi_out(q, V, rho, delta, eps, xg, wg):
    """Channel free entropy ``Psi_out(q) = E_xi sum_y Z_out log Z_out`` (BKMMZ eq. 15).

    ``q`` overlap, ``V = rho - q`` (passed separately to avoid cancellation),
    ``delta`` probit noise variance, ``eps`` label-flip probability.  The
    integrand is even in ``xi``: the layer's panel rule on ``[0, LIM]``
    (Gauss–Legendre ``(xg, wg)`` per panel, graded at the label-flip switch).
    """
    a0 = 0.0
    if eps > 0.0:
        a0 = eps * math.log(eps) + (1.0 - eps) * math.log1p(-eps)
    veff = V + delta
    tot = rho + delta
    if veff <= 0.0:
        return a0
    c = math.sqrt(veff / (2.0 * math.pi * tot))
    su = math.sqrt(max(q, 0.0) / tot)
    edges = np.empty(_n_edges(0.0, LIM, 1.0, 2 * 40 + 1))
    k = _sign_edges(su, eps, edges)
    s = 0.0
    xs = np.empty((k - 1) * xg.shape[0])
    ws = np.empty_like(xs)
    for j in range(panel_nodes(edges, k, xg, wg, xs, ws)):
        xi = xs[j]
        s += 2.0 * ws[j] * phi(xi) * _sign_entropy_kernel(su * xi, eps)
    return a0 + c * s


@njit(cache=True)
def sign_qhat_unit(q, V, rho, delta, eps, xg, wg):
    """``qhat / alpha = E_xi sum_y Z_out g_out**2`` (= 2 dPsi_out/dq), sign family.

    ``sum_y Z g**2 = (1-2eps)**2 phi(x)**2 / (V+Delta) * sum_y 1/Z_y(x)``; after
    the rescaling, ``phi(u)/Z_y(u) = mills(y u) / ((1-2eps) + eps/Phi(y u))``.
    Even in ``xi``: the panel rule of :func:`sign_psi_out`.
    """
    veff = V + delta
    tot = rho + delta
    if veff <= 0.0:
        return math.inf
    c = 1.0 - 2.0 * eps
    pref = c * c / veff * math.sqrt(veff / (2.0 * math.pi * tot))
    su = math.sqrt(max(q, 0.0) / tot)
    edges = np.empty(_n_edges(0.0, LIM, 1.0, 2 * 40 + 1))
    k = _sign_edges(su, eps, edges)
    s = 0.0
    xs = np.empty((k - 1) * xg.shape[0])
    ws = np.empty_like(xs)
    for j in range(panel_nodes(edges, k, xg, wg, xs, ws)):
        xi = xs[j]
        u = su * xi
        if eps > 0.0:
            t = mills(u) / (c + eps / Phi(u)) + mills(-u) / (c + eps / Phi(-u))
        else:
            t = (mills(u) + mills(-u)) / c
        s += 2.0 * ws[j] * phi(xi) * t
    return pref * s


# ---------------------------------------------------------------------------
# ReLU channel with Gaussian output noise: y = max(0, z) + sqrt(Delta) nu
# Z_out(y, omega, V) = H(omega/sqrt V) N(y; 0, Delta)
#                    + N(y; omega, V + Delta) Phi(mu / s),
# mu = (omega Delta + y V)/(V + Delta), s**2 = V Delta/(V + Delta).
# ---------------------------------------------------------------------------
@njit(cache=True)
def _relu_logz_g(y, om, V, delta):
    """``log Z_out`` and ``g_out = d log Z_out / d omega`` for the ReLU channel."""
    sv = math.sqrt(V)
    a = om / sv
    la = log_H(a) - 0.5 * y * y / delta - 0.5 * math.log(delta) - _LOG_SQRT_2PI
    vt = V + delta
    s = math.sqrt(V * delta / vt)
    mu = (om * delta + y * V) / vt
    lb = -0.5 * (y - om) ** 2 / vt - 0.5 * math.log(vt) - _LOG_SQRT_2PI + log_Phi(mu / s)
    mx = max(la, lb)
    ea = math.exp(la - mx)
    eb = math.exp(lb - mx)
    lz = mx + math.log(ea + eb)
    pa = ea / (ea + eb)
    ta = -mills(-a) / sv
    tb = (y - om) / vt + mills(mu / s) * delta / (vt * s)
    return lz, pa * ta + (1.0 - pa) * tb


@njit(cache=True)
def relu_integrals(q, V, delta, z, w, xg, wg, xi_g, xi_w):
    """``(Psi_out, qhat/alpha)`` for the ReLU channel.

    ``int dy Z log Z = H(a) E_nu[log Z(sqrt(Delta) nu)]
    + E_{y ~ N(omega, V+Delta)}[Phi(mu(y)/s) log Z(y)]`` and likewise for
    ``Z g**2``; ``omega = sqrt(q) xi``.  Inner ``y`` integrals by the
    Gauss–Hermite rule ``(z, w)`` for ``y ~ N(0, Delta)`` (smooth on the
    unit scale); ``y ~ N(omega, V + Delta)`` by the layer's panel rule
    (Gauss–Legendre ``(xi_g, xi_w)`` on panels of width 2 of ``[-LIM, LIM]``,
    graded around the step of ``Phi(mu/s)``, of width ``sqrt(Delta/V)``:
    sharp when ``V >> Delta``); the outer ``xi`` integral by composite
    Gauss–Legendre ``(xg, wg)`` panels of width 2 on ``[-10, 10]`` refined
    around ``xi = 0``, where ``H(omega/sqrt V)`` steps over a width
    ``sqrt(V/q)``.  Needs ``V > 0`` and ``Delta > 0``.
    """
    sq = math.sqrt(max(q, 0.0))
    sv = math.sqrt(V)
    vt = V + delta
    st = math.sqrt(vt)
    sd = math.sqrt(delta)
    s = math.sqrt(V * delta / vt)
    edges = np.empty(32)
    k = 0
    for jj in range(11):
        edges[k] = -10.0 + 2.0 * jj
        k += 1
    if sq > 0.0:
        wd = sv / sq
        for c in (0.0625, 0.25, 1.0, 4.0):
            e = c * wd
            if e < 10.0:
                edges[k] = e
                edges[k + 1] = -e
                k += 2
    ed = np.sort(edges[:k])
    psi = 0.0
    qh = 0.0
    n = z.shape[0]
    wu = math.sqrt(delta / V)
    pins = np.empty(2 * 64 + 1)
    uedges = np.empty(_n_edges(-LIM, LIM, 2.0, pins.shape[0]))
    ux = np.empty(uedges.shape[0] * xi_g.shape[0])
    uw = np.empty_like(ux)
    xs = np.empty((k - 1) * xg.shape[0])
    ws = np.empty_like(xs)
    for i in range(panel_nodes(ed, k, xg, wg, xs, ws)):
        xi = xs[i]
        wt = ws[i] * phi(xi)
        om = sq * xi
        ha = H(om / sv)
        p1 = 0.0
        g1 = 0.0
        p2 = 0.0
        g2 = 0.0
        for j in range(n):
            y = sd * z[j]
            lz, g = _relu_logz_g(y, om, V, delta)
            p1 += w[j] * lz
            g1 += w[j] * g * g
        # y = om + st u, u ~ N(0, 1): Phi(mu/s) steps at u* = -om sqrt(vt) / V over a
        # width sqrt(Delta / V) in u (sharp when V >> Delta): panels graded around u*
        ustar = -om * st / V
        pins[0] = ustar
        m = 1
        f = 0.0625 * wu
        while f < 2.0 and m < pins.shape[0] - 1:
            pins[m] = ustar - f
            pins[m + 1] = ustar + f
            m += 2
            f *= 2.0
        k2 = panel_edges(-LIM, LIM, 2.0, pins[:m], uedges)
        for j in range(panel_nodes(uedges, k2, xi_g, xi_w, ux, uw)):
            u = ux[j]
            wj = uw[j] * phi(u)
            y = om + st * u
            lz, g = _relu_logz_g(y, om, V, delta)
            f2 = Phi((om * delta + y * V) / vt / s)
            p2 += wj * f2 * lz
            g2 += wj * f2 * g * g
        psi += wt * (ha * p1 + p2)
        qh += wt * (ha * g1 + g2)
    return psi, qh


# ---------------------------------------------------------------------------
# Gardner volume: G(q) = E_xi log H(a), a = (kappa - sqrt(q) xi) / sqrt(1 - q)
# ---------------------------------------------------------------------------
@njit(cache=True)
def gardner_integrals(q, kappa, xg, wg):
    """``(G, E[M(a)**2])`` with ``G = E log H(a)`` and ``M(a) = phi(a)/H(a)``.

    ``dG/dq = -E[M**2] / (2 (1 - q))`` (Gaussian integration by parts), so
    the RS saddle points are ``q/(1-q) = alpha E[M**2]`` (spherical,
    Gardner 1988) and ``qhat = alpha E[M**2] / (1 - q)`` (binary).  The
    integrand switches from 0 to ``-a**2/2`` over a width
    ``wd = sqrt((1-q)/q)`` around ``xi0 = kappa / sqrt q``: composite
    Gauss–Legendre panels (unit panels on ``[-12, 12]`` plus edges at
    ``xi0 +- 2**k wd / 16`` up to unit distance, the layer's panel rule)
    resolve it for every ``q < 1``.
    """
    return gardner_integrals_v(q, 1.0 - q, kappa, xg, wg)


@njit(cache=True)
def gardner_integrals_v(q, v, kappa, xg, wg):
    """:func:`gardner_integrals` with ``v = 1 - q`` passed separately (no cancellation as ``q -> 1``)."""
    sq = math.sqrt(q)
    sv = math.sqrt(v)
    edges = np.empty(200)
    k = 0
    for j in range(25):
        edges[k] = -12.0 + j
        k += 1
    if q > 0.0:
        # geometric grading from 1/16 of the width of the switch up to the
        # unit panels: the log-type behaviour of log H(a) at large a is then
        # resolved at every distance from xi0, however small 1 - q is
        x0 = kappa / sq
        wd = sv / sq
        if -12.0 < x0 < 12.0:
            edges[k] = x0
            k += 1
        f = 0.0625 * wd
        while f < 2.0 and k < 196:
            for e in (x0 - f, x0 + f):
                if -12.0 < e < 12.0:
                    edges[k] = e
                    k += 1
            f *= 2.0
    ed = np.sort(edges[:k])
    g = 0.0
    m2 = 0.0
    xs = np.empty((k - 1) * xg.shape[0])
    ws = np.empty_like(xs)
    for j in range(panel_nodes(ed, k, xg, wg, xs, ws)):
        xi = xs[j]
        wt = ws[j] * phi(xi)
        a = (kappa - sq * xi) / sv
        g += wt * log_H(a)
        mm = mills(-a)
        m2 += wt * mm * mm
    return g, m2


# ---------------------------------------------------------------------------
# ERM on a sign-family teacher (y = +-1), L2 penalty: channel integrals
# (Aubin, Krzakala, Lu & Zdeborova, NeurIPS 2020, eqs. 11-12; Loureiro et al. 2021)
# The loss enters through the margin prox of lmech.blocks.losses (its code and
# parameters ``par``) and the margins ``pins`` where the prox is not smooth
# (:meth:`lmech.blocks.losses.Loss.kinks`).
# ---------------------------------------------------------------------------
@njit(cache=True)
def _erm_edges(q, m, V, V0, delta, pins, out):
    """Panel edges in xi on [-10, 10]: panels of width 2, the teacher step at 0 (width
    ``sqrt((V0 + Delta) q) / m``), the scales ``(1 + V)/sqrt(q)`` and
    ``1/sqrt(q)`` of the prox (at 2**j times each scale, j = -4..4, so that
    a Gaussian-like feature of width w never spans more than a factor 2 of
    panel width beyond its own scale: Phi(-16) ~ 1e-58), and the loss's
    ``pins`` (margins ``y omega`` where its prox is not smooth, e.g. the hinge
    kinks ``1``, ``1 - V``) at ``xi = +-pin / sqrt(q)``.  ``out`` must hold
    ``66 + 2 len(pins)`` values."""
    k = 0
    for j in range(11):
        out[k] = -10.0 + 2.0 * j
        k += 1
    sq = math.sqrt(q)
    w0 = math.sqrt((V0 + delta) * q) / max(abs(m), 1e-300)
    w1 = (1.0 + V) / sq
    w2 = 1.0 / sq
    for wd in (w0, w1, w2):
        for c in (0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0):
            e = c * wd
            if e < 10.0:
                out[k] = e
                out[k + 1] = -e
                k += 2
    for i in range(pins.shape[0]):
        e = pins[i] / sq
        if abs(e) < 10.0:
            out[k] = e
            out[k + 1] = -e
            k += 2
    out[k] = 0.0
    k += 1
    return k


@njit(cache=True)
def erm_sign_hats(loss, par, q, m, V, rho, delta, eps, xg, wg, pins):
    """``(mhat, qhat, Vhat, train_loss) / alpha`` for ERM on a sign-family teacher.

    ``loss``, ``par``: code and parameters of a :mod:`lmech.blocks.losses` loss,
    ``pins``: its :meth:`~lmech.blocks.losses.Loss.kinks` at ``V`` (panel edges).

    ``mhat = E_xi sum_y d_omega Z0(y, omega0, V0) f_out(y, omega, V)``,
    ``qhat = E sum_y Z0 f_out**2``, ``Vhat = -E sum_y Z0 d_omega f_out``,
    ``train_loss = E sum_y Z0 l(y, prox)``, with ``omega = sqrt(q) xi``,
    ``omega0 = m xi / sqrt(q)``, ``V0 = rho - m**2/q`` and
    ``Z0 = eps + (1 - 2 eps) Phi(y omega0 / sqrt(V0 + Delta))``
    (Aubin et al. 2020, eq. 12).  Composite Gauss–Legendre panels in ``xi``.
    """
    V0 = rho - m * m / q
    if V0 < 0.0:
        V0 = 0.0
    s0 = math.sqrt(V0 + delta)
    sq = math.sqrt(q)
    edges = np.empty(66 + 2 * pins.shape[0])
    k = _erm_edges(q, m, V, V0, delta, pins, edges)
    ed = np.sort(edges[:k])
    mh = 0.0
    qh = 0.0
    vh = 0.0
    tl = 0.0
    c = 1.0 - 2.0 * eps
    for p in range(k - 1):
        a = ed[p]
        b = ed[p + 1]
        if b - a <= 1e-15:
            continue
        h = 0.5 * (b - a)
        cm = 0.5 * (a + b)
        for i in range(xg.shape[0]):
            xi = cm + h * xg[i]
            W = h * wg[i] * phi(xi)
            om = sq * xi
            if s0 > 0.0:
                u = m * xi / sq / s0
                dz = c * phi(u) / s0
            else:
                u = math.inf if xi > 0.0 else (-math.inf if xi < 0.0 else 0.0)
                dz = 0.0
            for y in (1.0, -1.0):
                z0 = eps + c * Phi(y * u)
                t, l, l2 = prox_margin(loss, par, y * om, V)
                f = y * (t - y * om) / V
                if math.isinf(l2):
                    df = -1.0 / V
                else:
                    df = -l2 / (1.0 + V * l2)
                mh += W * y * dz * f
                qh += W * z0 * f * f
                vh -= W * z0 * df
                tl += W * z0 * l
    if s0 == 0.0 and m != 0.0:
        # deterministic teacher with V0 = 0: d_omega Z0 is a delta at xi = 0
        for y in (1.0, -1.0):
            t, l, l2 = prox_margin(loss, par, 0.0, V)
            mh += y * c * (sq / abs(m)) * phi(0.0) * y * t / V
    return mh, qh, vh, tl


@register_warmup("replica._kernels")
def warmup():
    """Compile every kernel of this module once on tiny inputs."""
    z = np.array([-1.0, 0.0, 1.0])
    w = np.array([1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0])
    rademacher_psi_minus(1.0, z, w)
    rademacher_mmse(1.0, z, w)
    even_sech_moments(2.0, z, w)
    gauss_bernoulli_psi_mmse(1.0, 0.5, z, w)
    sign_psi_out(0.5, 0.5, 1.0, 0.0, 0.0, z, w)
    sign_qhat_unit(0.5, 0.5, 1.0, 0.0, 0.1, z, w)
    relu_integrals(0.5, 0.5, 0.1, z, w, z, w, z, w)
    gardner_integrals(0.5, 0.0, z, w)
    gardner_integrals_v(0.5, 0.5, 0.0, z, w)
    par = np.zeros(1)
    for loss in (0, 1, 2):
        erm_sign_hats(loss, par, 0.5, 0.4, 1.0, 1.0, 0.0, 0.0, z, w, np.array([1.0, 0.5]))

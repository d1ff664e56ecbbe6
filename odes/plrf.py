"""Power-law random features (PLRF): deterministic equivalent and exact one-pass SGD risk.

The model of Paquette, Paquette, Xiao & Pennington, "4+3 phases of
compute-optimal neural scaling laws", NeurIPS 2024 (arXiv:2405.15074), Sec. 2:
data ``x in R^v`` with independent coordinates ``x_j ~ N(0, sigma_j)``,
``sigma_j = j^(-2 alpha)`` (``D = diag(sigma)``), target ``y = <x, b>`` with
``b_j = j^(-beta)``, model ``f(x) = <W^T x, theta>`` with ``W`` a ``v x d``
matrix of independent ``N(0, 1/d)`` entries, loss
``P(theta) = (1/2) E[(f(x) - y)^2]``, one-pass SGD on ``theta`` from
``theta_0 = 0`` with batch ``B`` and constant learning rate ``gamma``.

Reduction (exact).  The features ``z = W^T x ~ N(0, K)``, ``K = W^T D W``,
and the residual ``y - <z, theta*>`` of the best ``theta* = K^(-1) W^T D b``
is Gaussian and independent of ``z``: SGD on PLRF *is* one-pass SGD on least
squares with covariance ``K``, teacher ``theta*`` and label noise of variance
``2 P*``, ``P* = min P`` (the capacity term ``F_0`` of the paper).  For
Gaussian data the expected squared error per eigenmode of ``K``,
``c_i = E <u_i, theta - theta*>^2``, obeys the closed recursion (Isserlis)

    c_i(t+1) = [(1 - gamma l_i)^2 + gamma^2 l_i^2 / B] c_i(t)
               + (gamma^2 / B) l_i (sum_k l_k c_k(t) + 2 P*),

    P(t) = P* + (1/2) sum_k l_k c_k(t),                       c_i(0) = <u_i, theta*>^2,

so the risk depends on ``K`` only through two measures: the spectral measure
(eigenvalues ``l_i``) and the *forcing* measure ``sum_i l_i c_i(0) delta_{l_i}``
(the paper's ``rho`` weights times ``l``).

Deterministic equivalent.  With ``m(z)`` the solution of the paper's
fixed-point equation for the resolvent of ``K`` (arXiv:2405.15074, eq. (9):
``m = 1 - (1/d) sum_j sigma_j m / (sigma_j m - z)``), ``y = z/m`` inverts the
Silverstein--Choi map ``z = X(y) = y (1 - (1/d) sum_j sigma_j/(sigma_j - y))``
(Silverstein & Choi 1995, J. Multivariate Anal. 54, 295), and

* ``(1/d) tr (K - z)^(-1) ~ -1/y(z)``: counting density ``d Im y / (pi |y|^2)``;
* ``sum_i l_i c_i(0) / (l_i - z) ~ (1/z) sum_j sigma_j^2 b_j^2 (1/(sigma_j - y) - 1/(sigma_j + 1/kappa))``:
  forcing density ``(Im y / (pi x)) sum_j sigma_j^2 b_j^2 / |sigma_j - y|^2``;
* ``2 P* ~ sum_j sigma_j b_j^2 / (1 + kappa sigma_j)`` with ``d = sum_j kappa sigma_j/(1 + kappa sigma_j)``.

The support is found exactly: its edges are the critical values of ``X`` on
the real line (Silverstein & Choi, Thm 4.1/4.2).  Each interval
``(sigma_{j+1}, sigma_j)`` in which ``X`` increases gives a gap; the bands
between gaps hold an exact integer number of eigenvalues (one each for the
isolated top eigenvalues, the "pure point" part of the paper; the rest in
the bulk, the paper's "absolutely continuous" part).  Densities are integrated
band by band with adaptive composite Gauss--Legendre rules in a variable that
removes the square-root edges and follows the power-law scale
(``x = a (b/a)^((1 - cos pi t)/2)``), with ``y(x)`` by Newton from the edge
expansions and continuation.  The exact band counts, the exact trace
``sum_j sigma_j`` and the exact forcing total ``sum_j sigma_j b_j^2 - 2 P*``
are the quadrature's error checks.

The risk is then the recursion above on the quadrature nodes of the two
measures (a node carries a count weight and a forcing weight): it is the
recursion of :mod:`odes.linear_sgd` with real multiplicities (the counts), and is
solved there (:func:`odes.linear_sgd.risk_curve`, method ``"spectral"``) exactly
at any step count by diagonalising the symmetric diagonal-plus-rank-one
transfer matrix; the Volterra kernel norm ``sum_k (gamma^2/B) n_k l_k^2/(1 - a_k)``
below 1 is the stability condition.
"""

from __future__ import annotations

import bisect
import heapq
import math
import time
from dataclasses import dataclass

import numpy as np

from lmech.checks import check_array, check_int, check_real
from lmech.fit import linear_fit
from lmech.result import Result, register_result
from lmech.spec import Model, param, register_model
from lmech.status import Status

from . import _plrf_kernels as _k
from .linear_sgd import LinearSGD
from .linear_sgd import risk_curve as linear_risk_curve

__all__ = ["PLRF", "PLRFSpectrum", "PLRFRisk", "ComputeFrontier", "spectrum", "risk_curve", "stieltjes",
           "frontier", "phase", "predicted_exponents",
           "irreducible_risk", "learning_rate", "CONVENTIONS"]

#: The conventions every PLRF result records.
CONVENTIONS = {
    "data": "x_j ~ N(0, j^(-2 alpha)), j = 1..v; target y = <x, b>, b_j = j^(-beta)",
    "features": "W in R^(v x d), entries N(0, 1/d); f(x) = <W^T x, theta>; K = W^T D W",
    "loss": "P(theta) = (1/2) E[(f(x) - y)^2] (Paquette et al. 2024, eq. (2))",
    "time": "SGD steps t (each uses B fresh samples); theta_0 = 0",
    "lr": "theta <- theta - (gamma / B) sum_b z_b (<z_b, theta> - y_b); gamma = lr, or "
          "lr_scale * B / sum_j j^(-2 alpha) when lr = 0",
    "flops": "f = B d t (one sample costs d)",
}


@register_model("odes.PLRF")
@dataclass(frozen=True)
class PLRF(Model):
    """Power-law random features trained by one-pass SGD (Paquette et al. 2024, Sec. 2).

    Parameters
    ----------
    alpha : float
        Data complexity: ``sigma_j = j^(-2 alpha)``.
    beta : float
        Target complexity: ``b_j = j^(-beta)``.
    d : int
        Number of random features (parameters).
    v : int
        Input dimension (``v > d``: ``K`` is then invertible).
    batch : int
        SGD batch size ``B``.
    lr : float
        Learning rate ``gamma``; 0 (default) means ``lr_scale * B / tr K``.
    lr_scale : float
        With ``lr = 0``: ``gamma = lr_scale * B / sum_j sigma_j`` (``E tr K = sum_j
        sigma_j``), which puts the Volterra kernel norm near ``lr_scale / 2``.
    """

    alpha: float = param(1.0, low=0.0, high=10.0, low_open=True, help="data exponent: sigma_j = j^(-2 alpha)")
    beta: float = param(0.7, low=-10.0, high=10.0, help="target exponent: b_j = j^(-beta)")
    d: int = param(1000, low=2, help="number of random features")
    v: int = param(4000, low=3, help="input dimension (v > d)")
    batch: int = param(1, low=1, help="SGD batch size B")
    lr: float = param(0.0, low=0.0, help="learning rate gamma; 0: lr_scale * B / tr K")
    lr_scale: float = param(0.5, low=0.0, high=4.0, low_open=True,
                            help="gamma = lr_scale * B / sum_j j^(-2 alpha) when lr = 0")

    def check(self):
        if self.v <= self.d:
            raise ValueError(f"v must be > d (K = W^T D W invertible), got v={self.v}, d={self.d}")

    # -- population -------------------------------------------------------
    def sigma(self) -> np.ndarray:
        """Population eigenvalues ``j^(-2 alpha)``, ``j = 1..v`` (decreasing)."""
        return np.arange(1, self.v + 1, dtype=np.float64) ** (-2.0 * self.alpha)

    def b2(self) -> np.ndarray:
        """Squared target coefficients ``j^(-2 beta)``."""
        return np.arange(1, self.v + 1, dtype=np.float64) ** (-2.0 * self.beta)


def learning_rate(model: PLRF) -> float:
    """The learning rate ``gamma`` of ``model`` (``lr``, or ``lr_scale * B / sum_j sigma_j``)."""
    if model.lr > 0:
        return float(model.lr)
    return float(model.lr_scale * model.batch / model.sigma().sum())


def _kappa(sig: np.ndarray, d: float) -> float:
    """``kappa`` with ``sum_j kappa sigma_j / (1 + kappa sigma_j) = d`` (``v > d``): ``-1/y(0)``."""
    # h(log kappa) increasing from 0 to v; Newton in log kappa, bracketed
    lo, hi = -800.0, 800.0
    u = math.log(d / sig.sum())
    for _ in range(200):
        k = math.exp(u)
        r = k * sig / (1.0 + k * sig)
        h = r.sum() - d
        if h > 0:
            hi = u
        else:
            lo = u
        dh = (r * (1.0 - r)).sum()
        un = u - h / dh if dh > 0 else 0.5 * (lo + hi)
        if not (lo < un < hi):
            un = 0.5 * (lo + hi)
        if abs(un - u) < 1e-15 * max(1.0, abs(u)):
            u = un
            break
        u = un
    return math.exp(u)


def irreducible_risk(model: PLRF) -> float:
    """Deterministic equivalent of ``P* = min_theta P`` (the paper's ``F_0`` level).

    ``2 P* = sum_j sigma_j b_j^2 / (1 + kappa sigma_j)`` with
    ``d = sum_j kappa sigma_j / (1 + kappa sigma_j)``.
    """
    sig = model.sigma()
    kap = _kappa(sig, float(model.d))
    return 0.5 * float((sig * model.b2() / (1.0 + kap * sig)).sum())


def stieltjes(model: PLRF, z, *, tol: float = 1e-13) -> np.ndarray:
    """Deterministic equivalent of ``(1/d) tr (K - z)^(-1)`` at complex ``z`` off the support.

    ``-1/y(z)`` with ``X(y) = z``, ``Im y > 0`` for ``Im z > 0`` (conjugate
    below), found by Newton continued from ``|z|`` large, where ``y ~ z``.
    """
    zz = np.atleast_1d(np.asarray(z, dtype=np.complex128))
    if not np.all(np.isfinite(zz)):
        raise ValueError("z must be finite")
    if np.any(zz.imag == 0):
        raise ValueError("z must have a nonzero imaginary part")
    sig = model.sigma()
    d = float(model.d)
    cuts, P, _Q = _k.tail_tables(sig, model.b2())
    out = np.empty(zz.shape, dtype=np.complex128)
    for i, zi in enumerate(zz):
        w = zi if zi.imag > 0 else zi.conjugate()
        # continuation in the radius from |w| large (y ~ w) down to w
        scale = max(abs(w), 10.0 * sig.sum())
        path = [w * s for s in np.geomspace(scale / abs(w), 1.0, 40)] if scale > abs(w) else [w]
        y = complex(path[0])
        for p in path:
            y = _newton_z(p, y, sig, d, cuts, P, tol)
        s = -1.0 / y
        out[i] = s if zi.imag > 0 else s.conjugate()
    return out.reshape(np.shape(z)) if np.ndim(z) else out[0]


def _newton_z(z, y0, sig, d, cuts, P, tol):
    y = y0
    for _ in range(200):
        f, fp = _k.x_complex(y, sig, d, cuts, P)
        step = (f - z) / fp
        if abs(step) > 0.5 * abs(y):
            step *= 0.5 * abs(y) / abs(step)
        y = y - step
        if abs(step) <= tol * abs(y):
            break
    return y


# ---------------------------------------------------------------------------
# the spectrum: bands, quadrature nodes
# ---------------------------------------------------------------------------

_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


@register_result("odes.PLRFSpectrum")
class PLRFSpectrum(Result):
    """Deterministic equivalent of the spectral and forcing measures of ``K``.

    Arrays: ``x`` (n,) node positions (eigenvalues of ``K``), ``count`` (n,)
    eigenvalues per node (sums to ``d``), ``forcing`` (n,) forcing weights
    ``sum_i l_i <u_i, theta*>^2`` per node; ``edges`` (2 n_bands,) band
    edges ``[a_1, b_1, a_2, ...]`` (increasing), ``band_count`` (n_bands,)
    exact eigenvalues per band; ``band_of`` (n,) band index of each node.
    Scalars: ``p_star`` (the irreducible risk ``P*``), ``kappa``,
    ``trace`` (``sum_j sigma_j``), ``forcing_total`` (exact),
    ``n_bands``, ``n_isolated`` (bands holding one eigenvalue), ``x_min``,
    ``x_max``, ``n_eval`` (Newton solves).

    ``error_estimate``: ``count`` (largest error of a band's eigenvalue count,
    against its exact integer), ``forcing`` (of the forcing total, against
    its closed form), ``trace`` (of the first moment ``sum count x``, against
    ``sum_j sigma_j``), all absolute.
    """


class _Tracer:
    """``y(x)`` on the bands, by Newton from the nearest point already solved."""

    def __init__(self, sig, d, b2, tol):
        self.sig, self.d, self.b2, self.tol = sig, d, b2, tol
        self.cuts, self.P, self.Q = _k.tail_tables(sig, b2)
        self.n_eval = 0
        self.n_fail = 0

    def solve(self, x, guesses):
        best = None
        for g in guesses:
            y, _it, res = _k.solve_y(x, g, self.sig, self.d, self.cuts, self.P, self.tol, 60)
            self.n_eval += 1
            if res <= self.tol and y.imag > 1e-12 * abs(y):
                return y
            if best is None or res < best[1]:
                best = (y, res)
        return None

    def band(self, a, b, ya, yb, fa2, fb2, rtol, min_panels, max_nodes, count=None, below=0.0, total=None):
        """Adaptive composite 8-point Gauss--Legendre over one band.

        ``fa2 = X''(ya)``, ``fb2 = X''(yb)`` (edge expansions
        ``y = y_e + i sqrt(2 |x - e| / |X''|)``).  Returns nodes ``x``, count
        and forcing weights, the integrals' error estimate, success.
        """
        la, L = math.log(a), math.log(b / a)

        def xt(t):
            return np.exp(la + L * 0.5 * (1.0 - np.cos(np.pi * t)))

        def dxdt(t, x):
            return x * L * 0.5 * np.pi * np.sin(np.pi * t)

        known_x = []       # sorted
        known_y = []

        def nearest(x):
            if not known_x:
                return None
            i = bisect.bisect_left(known_x, x)
            if i == len(known_x) or (i > 0 and x - known_x[i - 1] < known_x[i] - x):
                i -= 1
            return known_y[i]

        def remember(x, y):
            i = bisect.bisect_left(known_x, x)
            known_x.insert(i, x)
            known_y.insert(i, y)

        def edge_guess(x):
            ga = ya + 1j * math.sqrt(2.0 * abs(x - a) / abs(fa2))
            gb = yb + 1j * math.sqrt(2.0 * abs(b - x) / abs(fb2))
            return (ga, gb) if abs(x - a) < abs(b - x) else (gb, ga)

        def solve_one(x):
            guesses = list(edge_guess(x))
            yn = nearest(x)
            if yn is not None:
                guesses.insert(0, yn)
            y = self.solve(x, guesses)
            if y is None:
                y = self._continue(x, known_x, known_y, a, b, ya, yb, fa2, fb2)
            return y

        def eval_panel(t0, t1):
            ts = t0 + (t1 - t0) * 0.5 * (_GL_X + 1.0)
            xs = xt(ts)
            w = (t1 - t0) * 0.5 * _GL_W * dxdt(ts, xs)
            yn = nearest(xs[0])
            if yn is None:
                yn = edge_guess(xs[0])[0]
            ys, fk, ff, bad = _k.solve_nodes(xs, yn, a, b, ya, yb, fa2, fb2, self.sig, self.d, self.b2,
                                             self.cuts, self.P, self.Q, self.tol)
            self.n_eval += xs.size
            for i, x in enumerate(xs):
                if not np.isfinite(fk[i]):
                    y = solve_one(x)
                    if y is None:
                        return None
                    ys[i] = y
                    fk[i], ff[i] = _k.band_values(y, x, self.sig, self.d, self.b2, self.cuts, self.Q)
                remember(float(x), ys[i])
            return xs, w * fk, w * ff

        def integrals(p):
            xs, ck, cf = p
            return np.array([ck.sum(), cf.sum(), (xs * ck).sum()])

        cum = {0.0: 0.0, 1.0: float(total) if total is not None else math.nan}

        def exact(t):
            # eigenvalues in [a, x(t)], from the closed-form counting function
            if t not in cum:
                x = float(xt(t))
                y = solve_one(x)
                if y is None:
                    return math.nan
                cum[t] = self.d * _k.count_below(y, x, self.sig, self.d, self.cuts, self.P) - below
            return cum[t]

        if count is not None and min_panels == 1:
            # a narrow band of known count: one 8-point rule, accepted when its count error
            # (the integrands are analytic in t) is within rtol/10
            one = eval_panel(0.0, 1.0)
            if one is None:
                return None
            val = integrals(one)
            rel = abs(val[0] - count) / count
            if rel <= 0.1 * rtol:
                return one[0], one[1], one[2], rel * np.abs(val), True
        panels = []   # heap of (-err, t0, t1, parent data, children data)
        edges = np.linspace(0.0, 1.0, min_panels + 1)
        ok = True
        for t0, t1 in zip(edges[:-1], edges[1:]):
            item = self._split(eval_panel, integrals, exact, t0, t1)
            if item is None:
                return None
            panels.append(item)
        total = sum(it[0] for it in panels)
        scale = np.abs(total) + 1e-300
        heap = [(-float(np.max(it[1] / scale)), k) for k, it in enumerate(panels)]
        heapq.heapify(heap)
        n_nodes = 16 * len(panels)
        while True:
            err = sum(it[1] for it in panels)
            if np.all(err <= rtol * scale):
                break
            if n_nodes + 16 > max_nodes:
                ok = False
                break
            _, k = heapq.heappop(heap)
            val, e, t0, t1, data = panels[k]
            tm = 0.5 * (t0 + t1)
            left = self._split(eval_panel, integrals, exact, t0, tm)
            right = self._split(eval_panel, integrals, exact, tm, t1)
            if left is None or right is None:
                return None
            panels[k] = left
            panels.append(right)
            heapq.heappush(heap, (-float(np.max(left[1] / scale)), k))
            heapq.heappush(heap, (-float(np.max(right[1] / scale)), len(panels) - 1))
            n_nodes += 16
        err = sum(it[1] for it in panels)
        xs = np.concatenate([np.concatenate([it[4][0][0], it[4][1][0]]) for it in panels])
        ck = np.concatenate([np.concatenate([it[4][0][1], it[4][1][1]]) for it in panels])
        cf = np.concatenate([np.concatenate([it[4][0][2], it[4][1][2]]) for it in panels])
        order = np.argsort(xs)
        return xs[order], ck[order], cf[order], err, ok

    @staticmethod
    def _split(eval_panel, integrals, exact, t0, t1):
        """One panel: 8 nodes on it and 8 on each half; value = the halves'; error = |difference|,
        and for the count at least its distance to the exact count (closed-form counting function)."""
        tm = 0.5 * (t0 + t1)
        whole = eval_panel(t0, t1)
        left = eval_panel(t0, tm)
        right = eval_panel(tm, t1)
        if whole is None or left is None or right is None:
            return None
        fine = integrals(left) + integrals(right)
        err = np.abs(fine - integrals(whole))
        ex = exact(t1) - exact(t0)
        if not math.isfinite(ex):
            return None
        err[0] = max(err[0], abs(fine[0] - ex))
        return fine, err, t0, t1, (left, right)

    def _continue(self, x, known_x, known_y, a, b, ya, yb, fa2, fb2):
        if known_x:
            j = int(np.argmin(np.abs(np.log(np.asarray(known_x) / x))))
            x0, y0 = known_x[j], known_y[j]
        else:
            near_a = abs(x - a) < abs(b - x)
            e, ye, f2 = (a, ya, fa2) if near_a else (b, yb, fb2)
            x0 = e + (x - e) * 1e-6
            y0 = ye + 1j * math.sqrt(2.0 * abs(x0 - e) / abs(f2))
        y = y0
        for s in np.geomspace(1e-3, 1.0, 24):
            xi = x0 * (x / x0) ** s
            y, _it, res = _k.solve_y(xi, y, self.sig, self.d, self.cuts, self.P, self.tol, 60)
            self.n_eval += 1
            if not (res <= self.tol and y.imag > 1e-12 * abs(y)):
                self.n_fail += 1
                return None
        return y


def _compress(xs, ck, cf, q):
    """``q``-node Gauss rule of the discrete counting measure ``(xs, ck)``; forcing weights
    at its nodes matching the forcing measure's moments ``0..q-1``."""
    return _k.compress(np.ascontiguousarray(xs), np.ascontiguousarray(ck), np.ascontiguousarray(cf), int(q))


def _represent(quad, band_nodes, bulk_nodes, bulk_group):
    """Nodes for the risk: per band of the top eigenvalues, a ``band_nodes * count``-node
    Gauss rule of its counting measure; in the bulk (band 0 when it holds more than one
    eigenvalue), a ``bulk_nodes``-node rule per group of width ``bulk_group`` in ``log x``.
    Forcing weights at each rule's nodes match the forcing measure's first moments."""
    x, c, f, bnd = quad["quad_x"], quad["quad_count"], quad["quad_forcing"], quad["quad_band"]
    xs, cs, fs, bs = [], [], [], []
    for k in np.unique(bnd):
        sel = bnd == k
        xk, ck, fk = x[sel], c[sel], f[sel]
        cnt = int(round(ck.sum()))
        if k == 0 and cnt > 1:
            lg = np.log(xk)
            grp = np.floor((lg - lg[0]) / bulk_group).astype(int)
            for gi in np.unique(grp):
                gs = grp == gi
                nx, nc, nf = _compress(xk[gs], ck[gs], fk[gs], bulk_nodes)
                xs.append(nx), cs.append(nc), fs.append(nf), bs.append(np.full(nx.size, k))
        else:
            nx, nc, nf = _compress(xk, ck, fk, band_nodes * max(cnt, 1))
            xs.append(nx), cs.append(nc), fs.append(nf), bs.append(np.full(nx.size, k))
    return np.concatenate(xs), np.concatenate(cs), np.concatenate(fs), np.concatenate(bs)


def spectrum(model: PLRF, *, rtol: float = 1e-8, band_nodes: int = 2, bulk_nodes: int = 4,
             bulk_group: float = 0.5, bulk_panels: int = 16,
             max_nodes: int = 20000, newton_tol: float = 1e-13) -> PLRFSpectrum:
    """Deterministic equivalent of the spectral and forcing measures of ``K = W^T D W``.

    Parameters
    ----------
    model : PLRF
    rtol : float
        Relative accuracy of each band's integrals (count, forcing, first
        moment): adaptive panels are split until the difference between
        one 8-point Gauss--Legendre rule and two on its halves, summed over
        the panels, is below ``rtol`` times the band's value.
    band_nodes : int
        Nodes kept per eigenvalue of the bands of the top eigenvalues (the
        Gauss rule of the band's counting measure, with forcing weights
        matching its first ``band_nodes`` forcing moments).  The bulk keeps
        is represented by ``bulk_nodes`` nodes per group of width ``bulk_group``
        in ``log x`` (Gauss rules of the group's counting measure).
    bulk_nodes : int
    bulk_group : float
    bulk_panels : int
        Initial panels of the bulk band.
    max_nodes : int
        Cap on the quadrature nodes per band (``success=False`` when reached).
    newton_tol : float
        Relative residual of ``X(y) = x`` at every node.

    Returns
    -------
    PLRFSpectrum
        ``success`` when every band converged and the error estimates lie
        within ``rtol`` times their values (count: times ``d``, the number of eigenvalues;
        ``status`` CONVERGED, or TOLERANCE / MAX_ITER).  The default
        ``rtol = 1e-8`` gives counts, trace and forcing total to about
        ``1e-9`` relative (tests check them against the exact values).
    """
    if not isinstance(model, PLRF):
        raise ValueError(f"model must be a PLRF, got {type(model).__name__}")
    rtol = check_real("rtol", rtol, low=1e-14, high=0.1)
    band_nodes = check_int("band_nodes", band_nodes, low=1, high=8)
    bulk_nodes = check_int("bulk_nodes", bulk_nodes, low=1, high=16)
    bulk_group = check_real("bulk_group", bulk_group, low=0.0, high=10.0, low_open=True)
    bulk_panels = check_int("bulk_panels", bulk_panels, low=1, high=4096)
    max_nodes = check_int("max_nodes", max_nodes, low=32)
    newton_tol = check_real("newton_tol", newton_tol, low=1e-15, high=1e-6)
    t_start = time.perf_counter()
    sig = model.sigma()
    b2 = model.b2()
    d = float(model.d)
    trace = float(sig.sum())
    kap = _kappa(sig, d)
    p_star = 0.5 * float((sig * b2 / (1.0 + kap * sig)).sum())
    forcing_total = float((sig * b2).sum()) - 2.0 * p_star

    # intervals (sigma_{j+1}, sigma_j) with j >= jmax hold no gap: 4 sigma_{j+1}^2/Delta_j^2 >= d
    j = np.arange(1, model.v, dtype=np.float64)
    ratio = ((j + 1.0) / j) ** (2.0 * model.alpha) - 1.0       # Delta_j / sigma_{j+1}
    nogap = 4.0 / ratio ** 2 >= d
    jmax = int(np.argmax(nogap)) if nogap.any() else model.v - 1
    tracer = _Tracer(sig, d, b2, newton_tol)
    cuts, P = tracer.cuts, tracer.P
    y_bot, y_top, gaps = _k.critical_points(sig, d, cuts, P, jmax, 1e-15)
    t_edges = time.perf_counter()

    # bands, from the bottom: [x(y_bot), x(y_l of the lowest gap)], ..., [x(y_r of the top gap), x(y_top)]
    gaps = gaps[::-1]                       # largest j (lowest x) first
    ylist = [y_bot]
    counts = []
    prev_j = model.d                        # eigenvalues above the bottom edge: d
    for jj, yl, yr in gaps:
        ylist += [yl, yr]
        counts.append(prev_j - int(jj))
        prev_j = int(jj)
    ylist.append(y_top)
    counts.append(prev_j)
    ys = np.array(ylist)
    xe = np.array([_k.x_real(y, sig, d, cuts, P)[0] for y in ys])
    f2 = np.array([_k.x_real(y, sig, d, cuts, P)[1] for y in ys])
    qx, qc, qf, qb = [], [], [], []
    band_err_count = 0.0
    err_f = 0.0
    err_m1 = 0.0
    ok = True
    failed = False
    for k, cnt in enumerate(counts):
        a, b = xe[2 * k], xe[2 * k + 1]
        ya, yb = ys[2 * k], ys[2 * k + 1]
        bulk = k == 0 and cnt > 1
        out = tracer.band(a, b, ya, yb, f2[2 * k], f2[2 * k + 1], rtol,
                          bulk_panels if bulk else 1, max_nodes, count=None if bulk else cnt,
                          below=float(sum(counts[:k])), total=float(cnt))
        if out is None:
            failed = True
            break
        xs, ck, cf, err, band_ok = out
        ok &= band_ok
        band_err_count = max(band_err_count, abs(ck.sum() - cnt) + err[0])
        err_f += err[1]
        err_m1 += err[2]
        qx.append(xs)
        qc.append(ck)
        qf.append(cf)
        qb.append(np.full(xs.size, k))
    t_end = time.perf_counter()
    if failed:
        return PLRFSpectrum(success=False, status=Status.NO_SOLUTION,
                            message=f"Newton for y(x) failed in band {k} of {len(counts)}",
                            model=model, options=dict(rtol=rtol, band_nodes=band_nodes),
                            conventions=CONVENTIONS, error_estimate={"count": math.nan,
                                                                    "forcing": math.nan, "trace": math.nan},
                            scalars=dict(p_star=p_star, kappa=kap, trace=trace,
                                         forcing_total=forcing_total))
    quad = dict(quad_x=np.concatenate(qx), quad_count=np.concatenate(qc),
                quad_forcing=np.concatenate(qf), quad_band=np.concatenate(qb))
    x, c, f, bo = _represent(quad, band_nodes, bulk_nodes, bulk_group)
    err_f = max(err_f, abs(f.sum() - forcing_total))
    err_m1 = max(err_m1, abs((x * c).sum() - trace))
    est = {"count": float(band_err_count), "forcing": float(err_f), "trace": float(err_m1)}
    within = (est["count"] <= rtol * d and est["forcing"] <= rtol * max(forcing_total, 1e-300)
              and est["trace"] <= rtol * trace)
    success = bool(ok and within)
    status = Status.CONVERGED if success else (Status.MAX_ITER if not ok else Status.TOLERANCE)
    n_iso = sum(1 for cnt in counts[1:] if cnt == 1) + (1 if len(counts) == 1 and counts[0] == 1 else 0)
    return PLRFSpectrum(
        success=success, status=status,
        message=(f"{len(counts)} bands ({n_iso} isolated eigenvalues), {x.size} nodes"
                 + ("" if success else "; " + ("max_nodes reached" if not ok else "estimates above rtol"))),
        n_iter=tracer.n_eval, residual=est["count"], model=model,
        options=dict(rtol=rtol, band_nodes=band_nodes, bulk_nodes=bulk_nodes, bulk_group=bulk_group,
                     bulk_panels=bulk_panels, max_nodes=max_nodes, newton_tol=newton_tol),
        conventions=CONVENTIONS,
        timings={"edges": t_edges - t_start, "bands": t_end - t_edges},
        arrays=dict(x=x, count=c, forcing=f, edges=xe, band_count=np.array(counts, dtype=np.int64),
                    band_of=bo, **quad),
        scalars=dict(p_star=p_star, kappa=kap, trace=trace, forcing_total=forcing_total,
                     n_bands=len(counts), n_isolated=n_iso, x_min=float(xe[0]), x_max=float(xe[-1]),
                     n_eval=tracer.n_eval),
        error_estimate=est)


# ---------------------------------------------------------------------------
# the risk
# ---------------------------------------------------------------------------

@register_result("odes.PLRFRisk")
class PLRFRisk(Result):
    """Expected risk of one-pass SGD on the deterministic equivalent of PLRF.

    Arrays: ``t`` (steps), ``risk`` ``P(t)`` (the paper's ``P``, with the 1/2),
    ``flops`` (``B d t``).  Scalars: ``lr`` (gamma), ``p_star``,
    ``risk_inf`` (``P*/(1 - kernel_norm)``), ``kernel_norm`` (the Volterra
    kernel norm; SGD is stable iff it is below 1), ``n_nodes``.
    ``error_estimate["risk"]``: the spectrum's forcing error plus the change
    of the curve on a finer representation (one node more per Gauss rule of
    :func:`spectrum`'s ``band_nodes`` and ``bulk_nodes``), absolute, largest
    over ``t``.
    """


def _risk_from_nodes(lam, cnt, frc, p_star, gamma, B, t, rtol=1e-8):
    """The exact expected risk ``P(t)`` on nodes (count weights ``cnt``, forcing weights ``frc``)
    by :func:`odes.linear_sgd.risk_curve` (method ``"spectral"``): returns ``P(t)`` (None if not
    solved), the Volterra kernel norm and the solver's result.

    The node recursion of the module docstring is :class:`odes.linear_sgd.LinearSGD`'s
    with eigenvalues ``l`` (the node positions), real multiplicities ``cnt``, per-eigenvector
    target ``w*^2 = frc / (l cnt)`` (so ``sum cnt l w*^2`` is the forcing), rate ``eta = gamma``
    (both multiply the batch-mean gradient of the halved square loss), batch ``B`` and label
    noise ``sigma^2 = 2 P*``; both risks carry the 1/2: ``P = (1/2)(sigma^2 + sum cnt l x)``.
    """
    tu, inv = np.unique(t, return_inverse=True)

    def solve(f, noise):
        sgd = LinearSGD(eigenvalues=lam, multiplicity=cnt, target=np.sqrt(f / (lam * cnt)), lr=gamma,
                        batch=int(B), noise=noise)
        return linear_risk_curve(sgd, tu, method="spectral", rtol=rtol)

    res = solve(np.maximum(frc, 0.0), 2.0 * p_star)
    knorm = res.kernel_norm
    if res.status == Status.DIVERGED:
        return None, knorm, res
    risk = res.risk
    if np.any(frc < 0):
        # a compressed rule may give a node a negative forcing weight (not a squared target): the
        # risk is linear in (forcing, noise) jointly, so its negative part is solved without noise
        # and subtracted
        neg = solve(np.maximum(-frc, 0.0), 0.0)
        risk = risk - neg.risk
        res.error_estimate["risk"] += neg.error_estimate["risk"]
    return risk[inv], knorm, res


def risk_curve(model: PLRF, t, *, spec: PLRFSpectrum | None = None, rtol: float = 1e-8,
               band_nodes: int = 2, bulk_nodes: int = 4, estimate_error: bool = True) -> PLRFRisk:
    """Exact expected risk ``P(t)`` of one-pass SGD on the deterministic equivalent.

    Parameters
    ----------
    model : PLRF
    t : array_like of int
        Steps (non-negative integers, any order; any size up to ``1e15``).
    rtol : float
        Tolerance of the curve, *absolute on the scale of the problem*: ``success``
        needs ``error_estimate["risk"] <= rtol * max(max risk asked for, P(0))``; a
        late-time risk far below ``P(0)`` is then known to a relative accuracy of
        only ``rtol P(0) / P(t)``.  Also the spectrum's tolerance when ``spec`` is
        not given.
    spec : PLRFSpectrum, optional
        A precomputed :func:`spectrum` of ``model`` (else computed with
        ``rtol``, ``band_nodes`` and ``bulk_nodes``).
    estimate_error : bool
        Compute ``error_estimate["risk"]`` (a second curve on a finer
        representation); ``success`` then requires it within ``rtol`` times the
        larger of the largest risk asked for and the initial risk ``P(0)``, and without a given ``spec`` the representation is refined
        (doubling ``band_nodes`` and ``bulk_nodes``, up to their largest values
        8 and 16) until it is.  False leaves it NaN (and ``success`` then follows the spectrum
        alone).

    Returns
    -------
    PLRFRisk
        ``success=False`` with status DIVERGED when the kernel norm is >= 1
        (SGD diverges), TOLERANCE when the error estimate stays above the
        tolerance, or the spectrum's status when it failed.
    """
    if not isinstance(model, PLRF):
        raise ValueError(f"model must be a PLRF, got {type(model).__name__}")
    tt = check_array("t", t, ndim=1, min_size=1)
    if np.any(tt < 0) or np.any(tt != np.round(tt)) or np.any(tt > 1e15):
        raise ValueError("t must hold integers in [0, 1e15] (SGD steps)")
    t0 = time.perf_counter()
    if spec is None:
        # refine the representation (twice the nodes per rule) until the curve's own error estimate
        # meets rtol relative to the largest risk
        band_nodes = check_int("band_nodes", band_nodes, low=1, high=8)
        bulk_nodes = check_int("bulk_nodes", bulk_nodes, low=1, high=16)
        while True:
            res = risk_curve(model, tt, spec=spectrum(model, rtol=rtol, band_nodes=band_nodes,
                                                       bulk_nodes=bulk_nodes),
                             rtol=rtol, estimate_error=estimate_error)
            if (res.success or res.status != Status.TOLERANCE or not estimate_error
                    or res.scalars.get("spectrum_success") is False or (band_nodes, bulk_nodes) == (8, 16)):
                return res
            band_nodes, bulk_nodes = min(2 * band_nodes, 8), min(2 * bulk_nodes, 16)
    elif spec.model != model:
        raise ValueError("spec: a spectrum of another model")
    gamma = learning_rate(model)
    B = float(model.batch)
    scal = dict(lr=gamma, p_star=spec.p_star, n_nodes=int(spec.x.size) if "x" in spec.arrays else 0)
    base = dict(model=model, options=dict(rtol=spec.options.get("rtol"), band_nodes=spec.options.get("band_nodes"),
                                          bulk_nodes=spec.options.get("bulk_nodes"),
                                          bulk_group=spec.options.get("bulk_group")),
                conventions=CONVENTIONS)
    scal["spectrum_success"] = bool(spec.success)
    if not spec.success and "x" not in spec.arrays:
        return PLRFRisk(success=False, status=spec.status, message="spectrum: " + spec.message,
                        scalars=scal, error_estimate={"risk": math.nan}, **base)
    risk, knorm, lin = _risk_from_nodes(spec.x, spec.count, spec.forcing, spec.p_star, gamma, B, tt)
    scal["kernel_norm"] = knorm
    if risk is None:
        why = (f"SGD diverges: Volterra kernel norm {knorm:.6g} >= 1 (lr {gamma:.6g})" if math.isfinite(knorm)
               else f"SGD diverges: lr {gamma:.6g} makes gamma l (1 + 1/B) >= 2 for the top eigenvalues")
        return PLRFRisk(success=False, status=Status.DIVERGED, message=why,
                        arrays=dict(t=tt, flops=B * model.d * tt), scalars=scal,
                        error_estimate={"risk": math.nan}, **base)
    # error: the change of the curve on a finer representation (one node more per rule)
    o = spec.options
    if estimate_error:
        fine = _represent({k: spec.arrays[k] for k in ("quad_x", "quad_count", "quad_forcing", "quad_band")},
                          o["band_nodes"] + 1, o["bulk_nodes"] + 1, o["bulk_group"])
        r1, _, _ = _risk_from_nodes(fine[0], fine[1], fine[2], spec.p_star, gamma, B, tt)
        err_nodes = float(np.max(np.abs(r1 - risk))) if r1 is not None else math.nan
    else:
        err_nodes = math.nan
    # plus the rounding bound of the closed-form solve
    err = spec.error_estimate.get("forcing", math.nan) / 2 + err_nodes + lin.error_estimate["risk"]
    scal["risk_inf"] = spec.p_star / (1.0 - knorm)
    # the tolerance is relative to the problem's scale: the larger of the risks asked for and the
    # initial risk P(0) (the spectrum's own tolerances are relative to the forcing total, 2 P(0))
    r0, _, _ = _risk_from_nodes(spec.x, spec.count, spec.forcing, spec.p_star, gamma, B, np.zeros(1))
    tol = rtol * max(float(np.max(np.abs(risk))), float(r0[0]))
    within = not estimate_error or err <= tol
    success = bool(spec.success) and within
    status = (Status.CONVERGED if success else spec.status if not spec.success else Status.TOLERANCE)
    why = ("" if success else "; spectrum: " + spec.message if not spec.success else
           f"; error estimate {err:.3g} above rtol * max(risk, P(0)) = {tol:.3g} (more band_nodes / bulk_nodes)")
    return PLRFRisk(success=success, status=status,
                    message="exact recursion on the deterministic equivalent" + why,
                    n_iter=spec.n_iter, residual=spec.residual,
                    timings={"spectrum": sum(spec.timings.values()), "risk": time.perf_counter() - t0},
                    arrays=dict(t=tt, risk=risk, flops=B * model.d * tt), scalars=scal,
                    error_estimate={"risk": err}, **base)


# ---------------------------------------------------------------------------
# compute-optimal frontier and the phase table
# ---------------------------------------------------------------------------

def phase(alpha: float, beta: float) -> str:
    """Phase of the (alpha, beta) plane of Paquette et al. 2024 (Sec. 3, Fig. 2a).

    Above the high-dimensional line (``2 alpha > 1``): ``"Ia"`` (``2 beta < 1``),
    ``"II"`` (``2 beta > 1``, ``beta < alpha``), ``"III"`` (``beta > alpha``).
    Below it: ``"Ib"`` (``2 beta < 1``, ``2(alpha + beta) > 1``), ``"Ic"``
    (``2 beta > 1``, ``alpha < 1/4``) and ``"IV"`` (``2 beta > 1``,
    ``1/4 < alpha < 1/2``; the paper splits it into IVa and IVb, a boundary not drawn here).  ``""`` where
    ``2(alpha + beta) <= 1`` (the target is not square-summable as ``v -> infinity``)
    or on a boundary.  Raises ValueError unless ``alpha > 0`` and ``beta`` are finite reals.
    """
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    beta = check_real("beta", beta)
    a2, b2 = 2 * alpha, 2 * beta
    if a2 + b2 <= 1 or a2 == 1 or b2 == 1 or alpha == beta:
        return ""
    if a2 > 1:
        if b2 < 1:
            return "Ia"
        return "II" if beta < alpha else "III"
    if b2 < 1:
        return "Ib"
    if alpha < 0.25:
        return "Ic"
    return "IV" if alpha != 0.25 else ""


def predicted_exponents(alpha: float, beta: float) -> tuple[float, float]:
    """Compute-optimal exponents ``(eta, xi)``: ``P*(f) ~ f^(-eta)``, ``d*(f) ~ f^xi``, above the
    high-dimensional line (``2 alpha > 1``; NaN below it).

    Derived here (the text of the paper's tables was not available when this
    was written) by balancing the terms of the loss decomposition of
    Paquette et al. 2024 (Sec. 3; ``r`` the steps, ``f = d r``):
    ``F_0 ~ d^(-2 alpha + max(0, 1 - 2 beta))`` (capacity),
    ``F_pp ~ r^(-(2 alpha + 2 beta - 1)/(2 alpha))`` (the top eigenvalues),
    ``F_ac ~ d^(-1) r^(-1 + 1/(2 alpha))`` for ``2 beta > 1`` (feature
    embedding), ``K_pp ~ r^(-2 + 1/(2 alpha))`` (SGD noise):

    * Ia, ``F_pp = F_0``: ``xi = 1/(2 alpha + 1)``, ``eta = (2 alpha + 2 beta - 1)/(2 alpha + 1)``;
    * II, ``F_pp = F_ac``: ``xi = beta/(alpha + beta)``, ``eta = (2 alpha + 2 beta - 1)/(2 (alpha + beta))``;
    * III, ``F_ac = K_pp``: ``xi = 1/2``, ``eta = 1 - 1/(4 alpha)``.

    Checks: the exponents are continuous across ``2 beta = 1`` and
    ``beta = alpha``; phase III's ``d* ~ f^(1/2)`` is the paper's universal
    regime and its ``eta = 0.643`` at ``alpha = 0.7`` the theoretical value
    the paper quotes against its measured 0.648 (Fig. 3); and the fitted
    slopes of :func:`frontier` agree (tests/test_odes_plrf.py).
    """
    ph = phase(alpha, beta)
    if ph == "Ia":
        return (2 * alpha + 2 * beta - 1) / (2 * alpha + 1), 1 / (2 * alpha + 1)
    if ph == "II":
        return (2 * alpha + 2 * beta - 1) / (2 * (alpha + beta)), beta / (alpha + beta)
    if ph == "III":
        return 1 - 1 / (4 * alpha), 0.5
    return math.nan, math.nan


@register_result("odes.ComputeFrontier")
class ComputeFrontier(Result):
    """The compute-optimal frontier of PLRF: ``min_d P_d(f / (B d))`` over model sizes.

    Arrays: ``d`` (S,) model sizes, ``t`` (T,) steps of the risk curves,
    ``risk`` (S, T) the risk curves, ``flops`` (F,) the budgets, ``loss``
    (S, F) ``P_d`` at each budget (NaN below one step), ``p_opt`` (F,)
    the envelope ``P*(f)``, ``d_opt`` (F,) ``d*(f)`` (parabolic
    interpolation of ``log P`` in ``log d`` around the best size),
    ``interior`` (F,) the best size is not an end of the size grid, ``fit``
    (F,) the budgets used in the fits.
    Scalars: ``eta``, ``eta_err``, ``xi``, ``xi_err`` (fitted exponents of
    ``P* ~ f^-eta``, ``d* ~ f^xi`` over the fit range, with their
    uncertainty: the standard error of the slope plus half the change of the
    slope between the two halves of the range), ``eta_theory``,
    ``xi_theory`` (:func:`predicted_exponents`), ``phase``
    (:func:`phase`), ``f_lo``, ``f_hi`` (fit range), ``lr``.
    """


def _slope(lx, ly):
    return linear_fit(lx, ly)[:2]     # (slope, standard error; NaN for 2 points)


def frontier(alpha: float, beta: float, *, d_min: int = 64, d_max: int = 4096, sizes_per_octave: int = 2,
             v_ratio: float = 4.0, batch: int = 1, lr_scale: float = 0.5, t_max: float = 1e12,
             n_t: int = 241, n_flops: int = 121, fit_decades: float | None = None,
             rtol: float = 1e-6) -> ComputeFrontier:
    """Compute-optimal frontier of PLRF: the envelope over model sizes of the risk at fixed flops.

    For each size ``d`` on a geometric grid (``v = v_ratio d``, batch ``B``,
    ``gamma = lr_scale B / tr K``) the exact expected risk :func:`risk_curve`
    is computed at log-spaced steps ``1 .. t_max``; at each budget
    ``f = B d t`` (Paquette et al. 2024, Sec. 1: flops ``= d x`` samples) the
    loss of each size is read off its curve (log-log interpolation), and
    ``P*(f) = min_d P_d``, ``d*(f)`` its minimiser.  The exponents are fitted
    over the budgets whose best size is interior to the grid (the last
    ``fit_decades`` decades of them when given).

    Returns
    -------
    ComputeFrontier
        ``success=False`` (status INCOMPLETE) when a spectrum or risk curve
        failed or fewer than four budgets have an interior optimum.
    """
    alpha = check_real("alpha", alpha, low=0.0, high=10.0, low_open=True)
    beta = check_real("beta", beta, low=-10.0, high=10.0)
    d_min = check_int("d_min", d_min, low=4)
    d_max = check_int("d_max", d_max, low=d_min + 1)
    sizes_per_octave = check_int("sizes_per_octave", sizes_per_octave, low=1, high=16)
    v_ratio = check_real("v_ratio", v_ratio, low=1.0, high=1e6, low_open=True)
    batch = check_int("batch", batch, low=1)
    t_max = check_real("t_max", t_max, low=10.0, high=1e15)
    n_t = check_int("n_t", n_t, low=10)
    n_flops = check_int("n_flops", n_flops, low=10)
    t0 = time.perf_counter()
    n_s = int(round(math.log2(d_max / d_min) * sizes_per_octave)) + 1
    ds = np.unique(np.round(np.geomspace(d_min, d_max, n_s)).astype(np.int64))
    tt = np.unique(np.round(np.geomspace(1.0, t_max, n_t)))
    risk = np.full((ds.size, tt.size), np.nan)
    ok = True
    msgs = []
    gamma = math.nan
    for i, d in enumerate(ds):
        m = PLRF(alpha=alpha, beta=beta, d=int(d), v=max(int(round(v_ratio * d)), int(d) + 1),
                 batch=batch, lr_scale=lr_scale)
        r = risk_curve(m, tt, rtol=rtol, estimate_error=False)
        if "risk" in r.arrays:
            risk[i] = r.risk
            gamma = r.lr
        if not r.success:
            ok = False
            msgs.append(f"d={d}: {r.message}")
    flops = np.geomspace(batch * ds[0], batch * ds[-1] * t_max, n_flops)
    loss = np.full((ds.size, flops.size), np.nan)
    lt = np.log(tt)
    for i, d in enumerate(ds):
        steps = flops / (batch * d)
        inside = (steps >= 1) & (steps <= t_max)
        loss[i, inside] = np.exp(np.interp(np.log(steps[inside]), lt, np.log(risk[i])))
    p_opt = np.full(flops.size, np.nan)
    d_opt = np.full(flops.size, np.nan)
    interior = np.zeros(flops.size, bool)
    lds = np.log(ds.astype(float))
    for j in range(flops.size):
        col = loss[:, j]
        if np.all(np.isnan(col)):
            continue
        k = int(np.nanargmin(col))
        p_opt[j] = col[k]
        d_opt[j] = ds[k]
        if 0 < k < ds.size - 1 and np.all(np.isfinite(col[k - 1:k + 2])):
            interior[j] = True
            y0, y1, y2 = np.log(col[k - 1:k + 2])
            x0, x1, x2 = lds[k - 1:k + 2]
            # parabola through the three points (log P against log d)
            den = (x0 - x1) * (x0 - x2) * (x1 - x2)
            A = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
            Bc = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den
            C = (x1 * x2 * (x1 - x2) * y0 + x2 * x0 * (x2 - x0) * y1 + x0 * x1 * (x0 - x1) * y2) / den
            if A > 0:
                xv = -Bc / (2 * A)
                if x0 <= xv <= x2:
                    d_opt[j] = math.exp(xv)
                    p_opt[j] = math.exp(C - Bc * Bc / (4 * A))
    fit = interior.copy()
    if fit.any() and fit_decades is not None:
        fmax = flops[fit].max()
        fit &= flops >= fmax / 10 ** fit_decades
    eta_th, xi_th = predicted_exponents(alpha, beta)
    scal = dict(phase=phase(alpha, beta), eta_theory=eta_th, xi_theory=xi_th, lr=gamma,
                eta=math.nan, eta_err=math.nan, xi=math.nan, xi_err=math.nan, f_lo=math.nan, f_hi=math.nan)
    if fit.sum() >= 4:
        lf = np.log(flops[fit])
        se, ee = _slope(lf, np.log(p_opt[fit]))
        sx, ex = _slope(lf, np.log(d_opt[fit]))
        h = fit.sum() // 2
        idx = np.nonzero(fit)[0]
        s1, _ = _slope(lf[:h], np.log(p_opt[idx[:h]]))
        s2, _ = _slope(lf[h:], np.log(p_opt[idx[h:]]))
        x1, _ = _slope(lf[:h], np.log(d_opt[idx[:h]]))
        x2, _ = _slope(lf[h:], np.log(d_opt[idx[h:]]))
        scal.update(eta=-se, eta_err=ee + abs(s1 - s2) / 2, xi=sx, xi_err=ex + abs(x1 - x2) / 2,
                    f_lo=float(flops[fit].min()), f_hi=float(flops[fit].max()))
    else:
        ok = False
        msgs.append("fewer than four budgets with an interior optimal size: widen d_min..d_max or t_max")
    return ComputeFrontier(
        success=ok, status=Status.CONVERGED if ok else Status.INCOMPLETE,
        message="; ".join(msgs) or f"{int(fit.sum())} budgets fitted",
        n_iter=int(ds.size), model=None,
        options=dict(alpha=alpha, beta=beta, d_min=d_min, d_max=d_max, sizes_per_octave=sizes_per_octave,
                     v_ratio=v_ratio, batch=batch, lr_scale=lr_scale, t_max=t_max, n_t=n_t,
                     n_flops=n_flops, fit_decades=fit_decades if fit_decades is not None else math.nan,
                     rtol=rtol),
        conventions=CONVENTIONS, timings={"total": time.perf_counter() - t0},
        arrays=dict(d=ds, t=tt, risk=risk, flops=flops, loss=loss, p_opt=p_opt, d_opt=d_opt,
                    interior=interior, fit=fit),
        scalars=scal)

"""Finite width and finite data: the dynamical model of neural scaling laws.

Model (:class:`RandomFeatureScaling`; Bordelon, Atanasov & Pehlevan, "A
Dynamical Model of Neural Scaling Laws", ICML 2024, arXiv:2402.01092, Sec. 2):
Gaussian teacher features ``psi(x)`` in ``R^M`` with covariance ``Lambda =
diag(lam_k)``, target ``y = w*.psi(x) + eps`` (``Var eps = noise``), a student
``f(x) = w . A psi(x) / sqrt(N)`` with a fixed Gaussian projection ``A`` (N x
M, iid N(0, 1) entries) and ``N`` trainable weights ``w``, trained from ``w =
0`` on ``P`` samples by gradient flow on ``|y - f|^2/(2P) + ridge |w|^2/2``
(or by gradient descent with step ``lr``: ``t = lr x steps``).  Power-law data
(the paper's convention): ``lam_k = k^-b`` and task power ``lam_k w*_k^2 =
k^-a``; any spectrum may be given as arrays.  The test loss is ``L(t) =
E_x (f(x) - y(x))^2`` (noise included), averaged over ``A`` and the data.

Method: one frequency-domain solve.  The paper's DMFT is time-translation
invariant: every response is a function of one time difference, a mode's
transfer function is ``H_k(z) = kappa(z) / (z (kappa(z) + lam_k))`` (its
``1/(i w + lam_k R_1 R_3)`` with ``z = i w``, ``R_1 R_3 = z/kappa``), and the
whole second-order structure (the correlation functions of the DMFT noise)
closes at each pair of frequencies.  Here it is solved in closed form: with
``zeta = z + ridge`` and ``rho(zeta)`` the root of::

    zeta = rho (1 - D(rho)/N) (1 - D(rho)/P),   D(rho) = sum_k lam_k / (lam_k + rho),   (1)

``kappa = rho (1 - D/N)`` and ``u(rho) = noise + sum_k lam_k w*_k^2 rho / (lam_k + rho)``,
the double Laplace transform of the two-time error correlation
``L(t1, t2) = E (f_t1 - y)(f_t2 - y)`` is::

    z1 z2 L(z1, z2) = [kappa(zeta1) u(rho(zeta2)) - kappa(zeta2) u(rho(zeta1))] / (z1 - z2).   (2)

Derivation (done here; the tests check every limit and the finite-size
simulations): conditional on ``A`` the student is least squares on the
``N``-dimensional Gaussian features ``phi = A psi / sqrt N`` with an
independent Gaussian residual of variance ``sigma_A^2``; the two-resolvent
deterministic equivalent of Gaussian least squares at two frequencies has the
factor ``1/(1 - df_2(kappa1, kappa2)/P) = (kappa1 - kappa2)/(z1 - z2)`` (the
divided difference of ``z(kappa)``), the bias and the residual combine by
partial fractions into ``[kappa1 u2 - kappa2 u1]/(kappa1 - kappa2)`` with
``u(kappa) = E y^2 - b^T (Sigma_phi + kappa)^-1 b``, and the average over
``A`` (a sketch, the same one-point equivalent with ``N`` in place of ``P``)
gives (1) and ``u``.  (1) is the linear-random-feature renormalised ridge
(S-transform of two Wishart factors); ``N, P -> infinity`` gives ``rho =
kappa = zeta`` and (2) becomes ``sum_k lam_k w*_k^2 / ((lam_k + z1)(lam_k +
z2))``, the population flow ``L(t) = sum_k lam_k w*_k^2 e^{-2 lam_k t}``.

``L(t) = (2 pi i)^-2 oint oint p(z1) p(z2) L(z1, z2) dz1 dz2`` with ``p(z) =
e^{z t}`` (flow) or ``(1 + lr z)^n`` (gradient descent): a double
trapezoidal rule on a parabolic Talbot-type contour (Weideman & Trefethen,
Math. Comp. 76, 1341 (2007)), in the variable ``u = log(1 + lr z)/lr`` for
gradient descent, converging geometrically in the number of nodes; the
quadrature error is estimated by a second, independent contour of higher
accuracy.  The cost is one root of (1) per node (``O(M)`` each) and ``O(K^2)``
per time: no two-time grid.  The test loss is a genuinely two-frequency
object (the two resolvents sandwich ``Lambda``, which does not commute with
the empirical kernel): it is not a single spectral integral of ``e^{-2 s t}``
unless ``Lambda`` is isotropic.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

import lmech
from lmech import Status
from lmech.checks import check_array
from lmech.fit import loglog_slope

from ._kernels import scaling as _ks
from .result import DMFTResult

__all__ = ["RandomFeatureScaling", "scaling_loss", "limit_loss", "spectral_edge", "paper_exponents",
           "compute_optimal", "fit_exponent"]


def _size(x):
    """0 means infinite: its inverse."""
    return 0.0 if x == 0 else 1.0 / x


@lmech.register_model("dmft.RandomFeatureScaling")
@dataclass(frozen=True)
class RandomFeatureScaling(lmech.Model):
    """Linear random features on power-law (or any) Gaussian data, trained on P samples.

    Parameters
    ----------
    N : float
        Trainable features (model size); 0 means infinite (``A^T A / N = I``).
    P : float
        Training samples; 0 means infinite (population gradient flow).
    a : float
        Task-power exponent, ``lam_k w*_k^2 = k^-a`` (``a > 1``: finite loss).
    b : float
        Spectral exponent, ``lam_k = k^-b``.
    M : int
        Teacher modes kept, ``k = 1..M``.
    ridge : float
        Weight decay on ``w`` (``|w|^2 ridge/2`` added to the training loss).
    noise : float
        Label-noise variance.
    lr : float
        0: gradient flow in time ``t``; > 0: gradient descent with this step,
        time ``t = lr x steps`` (``t`` must then be a multiple of ``lr``).
    eigenvalues, task_power : array, optional
        Any spectrum: ``lam_k`` and ``lam_k w*_k^2`` (both or neither; they
        replace ``a``, ``b``, ``M``).
    """

    N: float = lmech.param(0.0, low=0.0, help="features (model size); 0: infinite")
    P: float = lmech.param(0.0, low=0.0, help="training samples; 0: infinite")
    a: float = lmech.param(1.5, low=1.0, low_open=True, high=100.0,
                           help="task-power exponent: lam_k w*_k^2 = k^-a")
    b: float = lmech.param(1.25, low=0.0, low_open=True, high=100.0,
                           help="spectral exponent: lam_k = k^-b")
    M: int = lmech.param(10_000, low=1, high=100_000_000, help="teacher modes k = 1..M")
    ridge: float = lmech.param(0.0, low=0.0, help="weight decay on w")
    noise: float = lmech.param(0.0, low=0.0, help="label-noise variance")
    lr: float = lmech.param(0.0, low=0.0, help="0: gradient flow; > 0: gradient-descent step")
    eigenvalues: object = lmech.param(None, spec=False, help="lam_k (array; with task_power)")
    task_power: object = lmech.param(None, spec=False, help="lam_k w*_k^2 (array)")

    def check(self) -> None:
        if (self.eigenvalues is None) != (self.task_power is None):
            raise ValueError("eigenvalues and task_power must be given together (or neither)")
        if self.eigenvalues is not None:
            lam = check_array("eigenvalues", self.eigenvalues, ndim=1, min_size=1)
            pw = check_array("task_power", self.task_power, shape=(lam.size,))
            if np.any(lam <= 0):
                raise ValueError("eigenvalues must all be > 0")
            if np.any(pw < 0):
                raise ValueError("task_power must all be >= 0")
            object.__setattr__(self, "eigenvalues", lam)
            object.__setattr__(self, "task_power", pw)

    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lam_k, lam_k w*_k^2)``, float64 arrays."""
        if self.eigenvalues is not None:
            return self.eigenvalues, self.task_power
        k = np.arange(1, self.M + 1, dtype=float)
        return k ** -self.b, k ** -self.a

    @property
    def modes(self) -> int:
        return self.spectrum()[0].size

    def conventions(self) -> dict:
        return {
            "data": "psi ~ N(0, diag(lam_k)), y = w*.psi + eps, Var eps = noise",
            "spectrum": "lam_k = k^-b, task power lam_k w*_k^2 = k^-a (or the given arrays)",
            "model": "f(x) = w . A psi(x) / sqrt(N), A_ik ~ N(0, 1); N = 0: f = v.psi (infinite width)",
            "loss": "|y - f|^2/(2P) + ridge |w|^2/2 over P samples, from w = 0; P = 0: population",
            "time": "gradient-flow time t; gradient descent: t = lr x steps",
            "test_loss": "L(t) = E_x (f(x) - y(x))^2, label noise included, averaged over A and data",
        }


# ---------------------------------------------------------------------------------------------
# contours
# ---------------------------------------------------------------------------------------------
def _parabola(t_a, t_b, L):
    """``(mu, h, J)`` of the parabola ``u = mu (1 + i th)^2``, ``th = j h``, ``|j| <= J``,
    for every ``t`` in ``[t_a, t_b]`` to about ``e^-L`` (Weideman & Trefethen 2007, Sec. 3:
    discretisation ``e^{4 t mu - 2 pi/h}`` against the pole at ``th = i``, truncation
    ``e^{t mu (1 - th_max^2)}``).  ``x = t_b mu`` minimises the node count, capped so that
    the largest terms ``e^{2x}`` of the double sum leave rounding below ``1e-11``."""
    lam = t_b / t_a
    best = None
    for x in np.linspace(0.5, 6.0, 56):
        h = 2.0 * math.pi / (L + 4.0 * x)
        J = math.ceil(math.sqrt(1.0 + L * lam / x) / h)
        if best is None or J < best[2]:
            best = (x / t_b, h, J)
    return best


def _solve_nodes(zeta_half, lam, pw, invN, invP, rho0=None):
    out = np.zeros((zeta_half.size, 7), dtype=np.complex128)
    if rho0 is None:
        rho0 = _ks.edge_root(lam, invN, invP)
    count = _ks.continue_roots(np.ascontiguousarray(zeta_half, dtype=np.complex128), rho0, lam, pw,
                               invN, invP, out)
    return out, count


def _pairs(o, z, ridge, noise, lam, pw, invN, invP, rhoc, Q):
    """Fill ``Q`` (eq. (2) at every pair of nodes) from the node table ``o`` (n, 7).

    Pairs of nodes within a quarter of the distance from ``rhoc`` (the contour's real
    node) to the nearest pole ``-lam_k`` use the cancellation-free Taylor form
    (:func:`dmft._kernels.scaling.pair_matrix`), 40 terms: truncation below ``4^-40``.
    """
    cols = [np.ascontiguousarray(o[:, i]) for i in range(7)]
    rc = complex(rhoc)
    radius = 0.25 * float(np.min(np.abs(lam + rc)))
    s, t = _ks.moments(rc, lam, pw, 40)
    _ks.pair_matrix(z, z + ridge, cols[0], cols[1], cols[2] + noise, cols[3], cols[4], cols[5],
                    cols[6], invN, invP, rc, s, t, radius, Q)


def _block(model, ts, L, lam, pw, invN, invP, lr, rho0, single=False):
    """Loss at the times ``ts`` (one block) with one contour of accuracy about ``e^-L``.

    Returns ``(values, imag, count, message)``; ``values`` None on failure.
    """
    ridge, noise = model.ridge, model.noise
    t_a, t_b = float(ts[0]), float(ts[-1])
    mu, h, J = _parabola(t_a, t_b, L)
    th = h * np.arange(J + 1)
    u_half = mu * (1.0 + 1j * th) ** 2
    du_half = 2j * mu * (1.0 + 1j * th)
    if lr > 0:
        # gradient descent: u = log(1 + lr z)/lr, kept in the strip |Im u| < pi/lr
        if th[-1] * 2.0 * mu * lr >= math.pi:
            return None, 0.0, 0, "too few steps for the contour (strip |Im u| < pi/lr)"
        z_half = np.expm1(lr * u_half) / lr
        dz_half = np.exp(lr * u_half) * du_half
    else:
        z_half = u_half
        dz_half = du_half
    out, count = _solve_nodes(z_half + ridge, lam, pw, invN, invP, rho0)
    if count < 0:
        return None, 0.0, 0, f"no root of the renormalisation equation at contour node {-count - 1}"
    # full contour by conjugate symmetry: j = -J..J
    z = np.concatenate([np.conj(z_half[:0:-1]), z_half])
    dz = np.concatenate([-np.conj(dz_half[:0:-1]), dz_half])  # d z / d th flips with th -> -th
    u = np.concatenate([np.conj(u_half[:0:-1]), u_half])
    o = np.concatenate([np.conj(out[:0:-1]), out])
    n = z.size
    C = (h / (2j * math.pi)) * np.exp(np.outer(ts, u)) * dz
    if single:  # the training loss: one contour integral of u/kappa
        v = C @ ((o[:, 2] + noise) / o[:, 0])
    else:
        Q = np.empty((n, n), dtype=np.complex128)
        _pairs(o, z, ridge, noise, lam, pw, invN, invP, out[0, 4], Q)
        v = np.empty(ts.size, dtype=np.complex128)
        _ks.quadratic_forms(C, Q, v)
    vals = v.real.copy()
    imag = float(np.max(np.abs(v.imag)))
    if not np.all(np.isfinite(vals)):
        return None, imag, count, "non-finite contour sum"
    return vals, imag, count, ""


def _circle(model, n, L, lam, pw, invN, invP, lr, rho0, single=False):
    """Gradient descent at ``n`` steps on the circle ``|1 + lr z| = r`` (few steps).

    ``L_n = (2 pi i)^-2 oint oint w1^n w2^n L(z1, z2) dz1 dz2``, ``w = 1 + lr z``: the
    trapezoidal rule with ``K`` nodes on ``|w| = r = 1 + 1/(n+1)`` aliases Laurent
    coefficients of order ``K`` at infinity, of size ``r^-K`` (every singularity has
    ``|w| <= 1``): ``K = L (n + 1) + 2 (n + 1)``.  Returns ``(value, imag, count, message)``.
    """
    ridge, noise = model.ridge, model.noise
    r = 1.0 + 1.0 / (n + 1)
    K = int(math.ceil(L * (n + 1) + 2 * (n + 1)))
    K += K % 2
    phi = 2.0 * math.pi * np.arange(K // 2 + 1) / K
    w_half = r * np.exp(1j * phi)
    z_half = (w_half - 1.0) / lr
    out, count = _solve_nodes(z_half + ridge, lam, pw, invN, invP, rho0)
    if count < 0:
        return None, 0.0, 0, f"no root of the renormalisation equation at circle node {-count - 1}"
    w = np.concatenate([w_half, np.conj(w_half[-2:0:-1])])
    z = np.concatenate([z_half, np.conj(z_half[-2:0:-1])])
    o = np.concatenate([out, np.conj(out[-2:0:-1])])
    C = (w ** (n + 1) / (K * lr))[None, :]
    if single:
        v = C @ ((o[:, 2] + noise) / o[:, 0])
    else:
        Q = np.empty((K, K), dtype=np.complex128)
        _pairs(o, z, ridge, noise, lam, pw, invN, invP, out[0, 4], Q)
        v = np.empty(1, dtype=np.complex128)
        _ks.quadratic_forms(C, Q, v)
    if not np.isfinite(v[0]):
        return None, 0.0, count, "non-finite contour sum"
    return np.array([v[0].real]), abs(v[0].imag), count, ""


def _solve_block(model, tb, L, lam, pw, invN, invP, lr, rho0, single=False):
    """One block with the parabola; gradient descent with too few steps for it: each
    time alone, on the parabola or else on the circle."""
    res = _block(model, tb, L, lam, pw, invN, invP, lr, rho0, single)
    if res[0] is not None or lr == 0 or not res[3].startswith("too few steps"):
        return res
    vals, imag, count = np.empty(tb.size), 0.0, 0
    for i, t in enumerate(tb):
        v, im, c, m = _block(model, tb[i:i + 1], L, lam, pw, invN, invP, lr, rho0, single)
        if v is None and m.startswith("too few steps"):
            v, im, c, m = _circle(model, int(round(t / lr)), L, lam, pw, invN, invP, lr, rho0,
                                  single)
        if v is None:
            return None, imag, count, m
        vals[i] = v[0]
        imag = max(imag, im)
        count += c
    return vals, imag, count, ""


def _run_blocks(model, ts, zero, loss0, rtol, floor, max_refine, block_ratio, lam, pw, invN,
                invP, lr, rho0, status, msg, single):
    """Every block of times: two contours per block, refined until within tolerance."""
    loss = np.full(ts.size, np.nan)
    err = np.full(ts.size, np.nan)
    count_total, imag_max = 0, 0.0
    loss[zero] = loss0
    err[zero] = 0.0
    pos = np.nonzero(~zero)[0]
    blocks = []
    i = 0
    while i < pos.size:
        j = i
        while j + 1 < pos.size and ts[pos[j + 1]] <= block_ratio * ts[pos[i]]:
            j += 1
        blocks.append(pos[i:j + 1])
        i = j + 1
    L1 = max(20.0, math.log(10.0 / rtol))
    for idx in blocks if status == Status.CONVERGED else []:
        tb = ts[idx]
        La = L1
        for _ in range(max_refine + 1):
            va, ia, ca, ma = _solve_block(model, tb, La, lam, pw, invN, invP, lr, rho0, single)
            vb, ib, cb, mb = _solve_block(model, tb, La + 8.0, lam, pw, invN, invP, lr, rho0,
                                          single)
            count_total += ca + cb
            if va is None or vb is None:
                status, msg = Status.INVALID_STATE, (ma or mb)
                break
            imag_max = max(imag_max, ia, ib)
            loss[idx] = vb
            err[idx] = np.abs(vb - va)
            if np.all(err[idx] <= rtol * np.abs(vb) + floor):
                break
            La += 8.0
        if status != Status.CONVERGED:
            break
    if status == Status.CONVERGED and not np.all(np.isfinite(loss)):
        status, msg = Status.DIVERGED, "non-finite loss"
    if status == Status.CONVERGED and not np.all(err <= rtol * np.abs(loss) + floor):
        status = Status.TOLERANCE
        bad = np.nonzero(~(err <= rtol * np.abs(loss) + floor))[0]
        what = "training loss" if single else "loss"
        msg = (f"{what}: error estimate above rtol |L| + atol at {bad.size} time(s), first t = "
               f"{ts[bad[0]] / (2 if single else 1):.4g}: {err[bad[0]]:.3g} > "
               f"{rtol * abs(loss[bad[0]]) + floor:.3g}")
    return loss, err, status, msg, count_total, imag_max


def scaling_loss(model: RandomFeatureScaling, t, *, rtol: float = 1e-8, atol: float | None = None,
                 max_refine: int = 3, block_ratio: float = 4.0, train: bool = False) -> DMFTResult:
    """Test loss ``L(t)`` of :class:`RandomFeatureScaling` at the given times.

    Solves the frequency-domain DMFT (module docstring, eqs. (1)-(2)) and
    inverts the double Laplace transform on parabolic contours, one per block
    of times within a factor ``block_ratio``.  Each block is computed with two
    contours of target accuracy ``e^-L1`` and ``e^-L2`` (``L2 = L1 + 8``);
    the more accurate one is returned and ``|difference|`` is its error
    estimate.  Where that is above ``rtol |L|`` the pair moves up by 8
    (``max_refine`` times).

    Parameters
    ----------
    model : RandomFeatureScaling
    t : array_like
        Times in ``[0, 1e15]`` (gradient descent: multiples of ``lr``), strictly increasing;
        the ``t -> infinity`` limit is :func:`limit_loss`.
    rtol : float
        Relative tolerance on every ``L(t)``.
    atol : float, optional
        Absolute tolerance added to ``rtol |L(t)|``; default ``1e-12 L(0)``
        (about the rounding floor of the double sums, reached when ``L(t)``
        has fallen by eleven orders of magnitude).
    max_refine : int
        Refinements of the contour pair per block.
    block_ratio : float
        Largest ratio of times sharing one contour (> 1).
    train : bool
        Also the training loss ``(1/P) |y - f|^2`` (``ridge = 0``): the residual
        obeys ``dr/dt = -G r`` with ``G`` the P x P Gram matrix, so it is one
        spectral integral, ``L_train(t) = (2 pi i)^-1 oint e^{2 z t} u(rho)/kappa dz``
        (``(1/P) y^T (G + z)^-1 y = u/kappa``: the ``1/P tr (G+z)^-1 = 1/kappa``
        identity with the partial fractions of eq. (2)).

    Returns
    -------
    DMFTResult
        Arrays ``t``, ``loss``, ``loss_err`` (estimate per time; with
        ``train``, ``train_loss`` and ``train_loss_err``); scalars
        ``loss_final`` (at the last time), ``loss_inf`` (``t -> infinity``,
        :func:`limit_loss`) and ``loss_0`` (``t = 0``: ``sum lam w*^2 +
        noise``).  ``success`` iff every estimate is within ``rtol |L(t)| + atol``;
        ``error_estimate = {"loss": max |err|}``.  ``n_iter``: Newton solves
        of (1) (sub-steps included); ``residual``: largest ``|Im L|`` of the
        contour sums (zero in exact arithmetic).

    Notes
    -----
    The defaults guarantee ``|L - L_exact| <= 1e-8 |L| + 1e-12 L(0)`` when
    ``success`` (as estimated), for the deterministic equivalent (exact as
    ``N, P, M -> infinity`` at fixed ratios).  Gradient descent needs ``lr S < 1``
    with ``S`` the top of the spectrum of the empirical kernel
    (:func:`spectral_edge`; else ``status=INVALID_STATE`` with a message).
    Times with too few steps for the parabola to fit in ``|Im u| < pi/lr``
    are computed one by one on a circle ``|1 + lr z| = 1 + 1/(n+1)`` with
    ``O(L n)`` nodes.
    """
    if not isinstance(model, RandomFeatureScaling):
        raise ValueError(f"model must be a RandomFeatureScaling, got {type(model).__name__}")
    ts = check_array("t", t, ndim=1, min_size=1).copy() if np.ndim(t) else check_array("t", [t], ndim=1)
    if np.any(ts < 0) or np.any(np.diff(ts) <= 0):
        raise ValueError("t must be strictly increasing times >= 0")
    if np.any(ts > 1e15):
        raise ValueError("t must be <= 1e15 (the contours are not resolved beyond; the t -> infinity "
                         "limit is dmft.scaling.limit_loss)")
    if not (isinstance(rtol, float) and 1e-13 <= rtol < 1):
        raise ValueError(f"rtol must be a float in [1e-13, 1), got {rtol!r}")
    if atol is not None and not (isinstance(atol, (int, float)) and atol >= 0 and math.isfinite(atol)):
        raise ValueError(f"atol must be a finite float >= 0, got {atol!r}")
    if not (isinstance(max_refine, int) and 0 <= max_refine <= 10):
        raise ValueError(f"max_refine must be an int in [0, 10], got {max_refine!r}")
    if not (block_ratio > 1.0 and math.isfinite(block_ratio)):
        raise ValueError(f"block_ratio must be > 1, got {block_ratio!r}")
    if not isinstance(train, bool):
        raise ValueError(f"train must be a bool, got {train!r}")
    if train and model.ridge != 0:
        raise ValueError("train: the training loss is computed for ridge = 0 only")
    if train and model.P == 0:
        raise ValueError("train: the training loss needs a finite P (P = 0 is the population)")
    want_train = train
    lr = model.lr
    if lr > 0:
        steps = ts / lr
        if np.any(np.abs(steps - np.round(steps)) > 1e-9 * np.maximum(1.0, steps)):
            raise ValueError("t must be multiples of lr (t = lr x steps) for gradient descent")
    t0 = time.perf_counter()
    lam, pw = model.spectrum()
    invN, invP = _size(model.N), _size(model.P)
    loss0 = float(np.sum(pw) + model.noise)
    options = {"rtol": rtol, "atol": atol if atol is not None else 1e-12 * loss0,
               "max_refine": max_refine, "block_ratio": block_ratio}
    status, msg = Status.CONVERGED, ""
    if lr > 0:
        S = spectral_edge(model)
        if lr * (S + model.ridge) >= 1.0:
            status = Status.INVALID_STATE
            msg = (f"gradient descent with lr (S + ridge) = {lr * (S + model.ridge):.3g} >= 1 "
                   "is not handled (oscillating modes); take lr < 1/(S + ridge)")
    rho0 = _ks.edge_root(lam, invN, invP)
    floor = atol if atol is not None else 1e-12 * loss0
    zero = ts == 0
    loss, err, status, msg, count_total, imag_max = _run_blocks(
        model, ts, zero, loss0, rtol, floor, max_refine, block_ratio, lam, pw, invN, invP, lr,
        rho0, status, msg, single=False)
    train_l = train_err = None
    if want_train and status == Status.CONVERGED:
        # the training loss at t is the contour integral of u/kappa against e^{2 z t}
        # (gradient descent: 2n steps): the same machinery at the doubled times
        tr2, te2, status, msg, c2, i2 = _run_blocks(
            model, 2.0 * ts, zero, loss0, rtol, floor, max_refine, block_ratio, lam, pw, invN,
            invP, lr, rho0, status, msg, single=True)
        train_l, train_err = tr2, te2
        count_total += c2
        imag_max = max(imag_max, i2)
    try:
        linf = limit_loss(model)
    except ValueError:
        linf = math.nan
    success = status == Status.CONVERGED
    arrays = {"t": ts, "loss": loss, "loss_err": err}
    estimates = {"loss": float(np.nanmax(err)) if np.any(np.isfinite(err)) else math.nan}
    if want_train:
        if train_l is None:
            train_l = train_err = np.full(ts.size, np.nan)
        arrays.update(train_loss=train_l, train_loss_err=train_err)
        estimates["train_loss"] = (float(np.nanmax(train_err)) if np.any(np.isfinite(train_err))
                                   else math.nan)
    return DMFTResult(
        success=success, status=status, message=msg or status.message, n_iter=int(count_total),
        residual=float(imag_max), model=model, options=dict(options, train=train),
        conventions=model.conventions(), timings={"solve": time.perf_counter() - t0},
        arrays=arrays,
        scalars={"loss_final": float(loss[-1]), "loss_inf": float(linf), "loss_0": loss0},
        meta={"method": "frequency-domain (double Laplace inversion on parabolic contours)",
              "reference": "Bordelon, Atanasov & Pehlevan, ICML 2024, arXiv:2402.01092"},
        error_estimate=estimates)


def _diag(model, zeta):
    """The diagonal of (2) at real ``zeta >= 0``: ``kappa' u - kappa u'``."""
    lam, pw = model.spectrum()
    out, count = _solve_nodes(np.array([complex(zeta)]), lam, pw, _size(model.N), _size(model.P))
    if count < 0:
        raise ValueError("no root of the renormalisation equation on the real axis")
    kappa, dkappa, U, dU = (out[0, i].real for i in range(4))
    return dkappa * (U + model.noise) - kappa * dU


def limit_loss(model: RandomFeatureScaling) -> float:
    """``L(t -> infinity)``: the ridge (``ridge > 0``) or ridgeless random-feature regression.

    The final-value limit of (2): ``lim_{z1, z2 -> 0} z1 z2 L(z1, z2) =
    kappa'(zeta) u - kappa u'(zeta)`` at ``zeta = ridge`` (for ``ridge = 0``
    at the edge root ``D(rho_0) = min(N, P)``).  Ridgeless with ``N < P``:
    ``u(rho_0)/(1 - N/P)``; ``N = P`` finite and ``ridge = 0``: infinite
    (the interpolation peak); ``N = M`` or ``P = M`` exactly with ``ridge = 0``: NaN (a
    double root at ``rho = 0``, not resolved).
    """
    if not isinstance(model, RandomFeatureScaling):
        raise ValueError(f"model must be a RandomFeatureScaling, got {type(model).__name__}")
    if model.ridge == 0 and model.N != 0 and model.N == model.P and model.N <= model.modes:
        return math.inf
    return float(_diag(model, model.ridge))


def spectral_edge(model: RandomFeatureScaling) -> float:
    """Top ``S`` of the deterministic-equivalent spectrum of the kernel ``(A^T A/N)(Psi^T Psi/P)``.

    The largest real ``s`` where (1) has no real root at ``zeta = -s``:
    ``-S = max_{rho < -lam_1} rho (1 - D/N)(1 - D/P)``.
    """
    lam, _ = model.spectrum()
    invN, invP = _size(model.N), _size(model.P)
    lmax = float(lam.max())
    if invN == 0 and invP == 0:
        return lmax

    gap = lam - lmax  # lam + rho = (lam - lmax) - e^x, exact at the top eigenvalue

    def g(x):  # rho = -lmax - e^x
        rho = -lmax - math.exp(x)
        D = float(np.sum(lam / (gap - math.exp(x))))
        return rho * (1 - D * invN) * (1 - D * invP)

    xs = np.linspace(math.log(lmax) - 40, math.log(lmax) + 12, 521)
    vals = np.array([g(x) for x in xs])
    i = int(np.argmax(vals))
    lo, hi = xs[max(i - 1, 0)], xs[min(i + 1, xs.size - 1)]
    for _ in range(100):  # golden section
        m1 = hi - 0.618 * (hi - lo)
        m2 = lo + 0.618 * (hi - lo)
        if g(m1) > g(m2):
            hi = m2
        else:
            lo = m1
    return -g(0.5 * (lo + hi))


# ---------------------------------------------------------------------------------------------
# exponents and compute-optimal allocation
# ---------------------------------------------------------------------------------------------
def paper_exponents(a: float, b: float) -> dict:
    """The bottleneck and compute-optimal exponents stated by Bordelon, Atanasov & Pehlevan (2024).

    With ``lam_k = k^-b``, ``lam_k w*_k^2 = k^-a`` and ``m = min(a - 1, 2 b)``
    (Sec. 4 of arXiv:2402.01092, "power-law bottleneck scalings" and the
    compute-optimal allocation at ``C = N t``, ``P`` infinite): ``L ~
    t^-(a-1)/b`` (time), ``N^-m`` (model), ``P^-m`` (data), ``L*(C) ~
    C^-(a-1) m/(a-1+b m)`` with ``N* ~ C^(a-1)/(a-1+b m)`` and ``t* ~
    C^(b m)/(a-1+b m)``.

    Measured here (``tests/test_dmft_scaling.py``): for ``a - 1 < b`` every
    bottleneck exponent of the theory converges to these.  For ``a - 1 > b``
    the data bottleneck follows ``min(a - 1, 2b)``, but the model bottleneck
    of the theory (and of the exact finite-size simulation, checked at
    ``a = 4, b = 1.5``) is ``N^-min(a-1, b)``: at ``t, P = infinity`` the loss
    is ``u(rho_0) = sum_k lam_k w*_k^2 rho_0/(lam_k + rho_0)`` with ``rho_0 ~
    N^-b``, whose head ``rho_0 sum_k k^(b-a)`` converges when ``a - b > 1``.
    The ``"model"`` entry returned is the stated ``min(a - 1, 2b)``.
    """
    if not (a > 1 and b > 0):
        raise ValueError(f"a must be > 1 and b > 0, got a={a!r}, b={b!r}")
    m = min(a - 1.0, 2.0 * b)
    den = a - 1.0 + b * m
    return {"time": (a - 1.0) / b, "model": m, "data": m, "compute": (a - 1.0) * m / den,
            "N_opt": (a - 1.0) / den, "t_opt": b * m / den}


def fit_exponent(x, y) -> tuple[float, float]:
    """Least-squares slope of ``-log y`` against ``log x`` and its standard error.

    Raises ValueError unless ``x`` (at least 3 values) and ``y`` (same size) are positive.
    """
    x = check_array("x", x, ndim=1, min_size=3)
    y = check_array("y", y, ndim=1, shape=(x.size,))
    if not (np.all(x > 0.0) and np.all(y > 0.0)):
        raise ValueError("x, y must be > 0 (a power law is fitted on log-log axes)")
    slope, se, _ = loglog_slope(x, y)
    return -slope, se


def compute_optimal(model: RandomFeatureScaling, C, N_values, *, rtol: float = 1e-6) -> DMFTResult:
    """Compute-optimal frontier at compute ``C = N t``: ``min_N L(t = C/N, N)``.

    ``model`` fixes the data and ``P`` (``N`` is replaced by each of
    ``N_values``).  Returns a :class:`DMFTResult` with arrays ``C``,
    ``loss_opt``, ``N_opt``, ``t_opt`` (the best of ``N_values`` per budget)
    and ``loss`` (``len(N_values) x len(C)``, the envelope's curves), scalars
    ``exponent`` / ``exponent_se`` (fit of ``loss_opt`` against ``C``),
    ``N_exponent`` and the paper's ``paper_compute`` (:func:`paper_exponents`).
    ``success`` iff every solve succeeded.
    """
    Cs = check_array("C", C, ndim=1, min_size=3)
    Ns = check_array("N_values", N_values, ndim=1, min_size=2)
    if np.any(Cs <= 0) or np.any(np.diff(Cs) <= 0):
        raise ValueError("C must be strictly increasing and > 0")
    if np.any(Ns <= 0):
        raise ValueError("N_values must be > 0")
    t0 = time.perf_counter()
    loss = np.empty((Ns.size, Cs.size))
    ok, errs = True, 0.0
    for i, n in enumerate(Ns):
        m = dataclasses.replace(model, N=float(n))
        r = scaling_loss(m, Cs / n, rtol=rtol)
        ok &= r.success
        errs = max(errs, r.error_estimate["loss"])
        loss[i] = r.arrays["loss"]
    best = np.argmin(loss, axis=0)
    lopt = loss[best, np.arange(Cs.size)]
    nopt = Ns[best]
    e, se = fit_exponent(Cs, lopt)
    # slope of log N_opt against log C (fit_exponent returns minus the slope of log(1/N_opt))
    en, _ = fit_exponent(Cs, 1.0 / nopt) if np.unique(nopt).size > 1 else (math.nan, math.nan)
    scal = {"exponent": e, "exponent_se": se, "N_exponent": en}
    if model.eigenvalues is None:
        pe = paper_exponents(model.a, model.b)
        scal.update(paper_compute=pe["compute"], paper_N_opt=pe["N_opt"])
    return DMFTResult(success=bool(ok), status=Status.CONVERGED if ok else Status.TOLERANCE,
                      message="" if ok else "a loss-curve solve did not converge",
                      model=model, options={"rtol": rtol}, conventions=model.conventions(),
                      timings={"solve": time.perf_counter() - t0},
                      arrays={"C": Cs, "N_values": Ns, "loss": loss, "loss_opt": lopt,
                              "N_opt": nopt, "t_opt": Cs / nopt},
                      scalars=scal, error_estimate={"loss_opt": errs})

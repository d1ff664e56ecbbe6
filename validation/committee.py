"""Online SGD of the teacher-student soft committee machine at finite N.

:func:`simulate_committee` runs the stochastic process whose N -> infinity
limit the ODEs of :mod:`odes` describe (Saad & Solla, PRE 52, 4225 (1995);
Biehl & Schwarze, J. Phys. A 28, 643 (1995); Goldt et al., NeurIPS 2019), in
exactly the conventions of :class:`odes.CommitteeMachine`: readout
normalisation, ``erf(u/sqrt 2)``, learning rates ``eta/sqrt N`` on the
first-layer gradient and ``eta_v/N`` on the second, weight decay
``-(eta lambda/N) w``, output noise of variance ``sigma^2`` and time
``t = steps / N``.  Initial teacher and student weights are built with
*exactly* the requested overlaps ``Q0``, ``R0``, ``T``
(:func:`weights_with_overlaps`), so that the finite-N run starts where the
ODE does.
"""

from __future__ import annotations

import math
import time
import types
import warnings

import numpy as np

from lmech.checks import check_array, check_int, check_memory, check_psd, check_real
from lmech.result import Result, register_result
from lmech.status import Status

from ._kernels import committee as _kc
from .compare import Simulator, register_simulator

__all__ = ["SGDRun", "simulate_committee", "weights_with_overlaps", "committee_point",
           "committee_options_from", "compile_activation", "escape_time"]


@register_result("validation.SGDRun")
class SGDRun(Result):
    """One finite-N online-SGD run of the committee machine.

    Arrays: ``t`` (n,) times ``steps/N``; ``steps`` (n,); ``Q`` (n, K, K),
    ``R`` (n, K, M), ``v`` (n, K) (in the model's readout normalisation);
    ``eg`` (n,) the generalisation error evaluated analytically from
    ``Q, R, T, v`` (the ODE layer's own formula, :meth:`odes.System.eg`);
    ``eg_test`` (n,) the same error estimated on a held-out test set of
    ``n_test`` inputs (NaN if ``n_test == 0``); ``T`` (M, M) the teacher
    overlaps.  Scalars: ``N``, ``seed``, ``eg_final``, ``steps_per_second``.

    ``error_estimate["eg_test"]``: the largest Monte Carlo standard error of
    ``eg_test`` over the records, ``s / sqrt(n_test)`` of the per-input
    errors (NaN for ``n_test <= 1``, where it cannot be estimated).  ``Q``, ``R``, ``v``
    and ``eg`` are exact functions of the run's weights (no sampling error of
    their own); their spread over seeds is what :func:`validation.compare`
    measures.
    """

    #: codes before lmech.Status
    LEGACY_STATUS = {-2: Status.DIVERGED}


def weights_with_overlaps(C, N: int, rng: np.random.Generator) -> np.ndarray:
    """Vectors ``W`` (L, N) with ``W W^T / N = C`` exactly, in a uniformly random orientation.

    Parameters
    ----------
    C : array_like (L, L)
        Target Gram matrix (symmetric positive semidefinite), e.g.
        ``[[Q0, R0], [R0^T, T]]``.
    N : int
        Dimension, ``N >= L``.
    rng : numpy.random.Generator
        Source of the random orientation.

    Notes
    -----
    With ``C = A A^T`` (``A`` from the eigendecomposition, so singular ``C``
    is allowed) and ``O`` an ``N x L`` matrix with orthonormal columns (QR of
    a Gaussian matrix, signs fixed so that ``O`` is Haar distributed),
    ``W = sqrt(N) A O^T`` has ``W W^T / N = A A^T = C`` up to rounding.
    """
    C = check_psd("C", C, tol=1e-10)
    L = C.shape[0]
    N = check_int("N", N, low=max(L, 1))
    lam, U = np.linalg.eigh(C)
    A = U * np.sqrt(np.clip(lam, 0.0, None))
    G = rng.standard_normal((N, L))
    O, r = np.linalg.qr(G)
    O = O * np.sign(np.diag(r))
    return math.sqrt(N) * (A @ O.T)


def _initial_overlaps(model, Q0, R0, T, v0):
    K, M = model.K, model.M
    Q0 = check_psd("Q0", check_array("Q0", Q0, shape=(K, K)), tol=1e-10)
    if Q0.shape != (K, K):
        raise ValueError(f"Q0 must have shape ({K}, {K}), got {Q0.shape}")
    R0 = check_array("R0", R0, shape=(K, M))
    T = np.eye(M) if T is None else check_psd("T", check_array("T", T, shape=(M, M)), tol=1e-10)
    if T.shape != (M, M):
        raise ValueError(f"T must have shape ({M}, {M}), got {T.shape}")
    C = np.block([[Q0, R0], [R0.T, T]])
    lam = np.linalg.eigvalsh(C).min()
    if lam < -1e-10 * max(1.0, np.abs(C).max()):
        raise ValueError("R0 is inconsistent with Q0 and T: [[Q0, R0], [R0^T, T]] must be "
                         f"positive semidefinite (smallest eigenvalue {lam:.3g})")
    v0 = np.ones(K) if v0 is None else check_array("v0", v0, shape=(K,))
    return Q0, R0, T, v0, C


_COMPILED: dict = {}


def compile_activation(activation):
    """Numba first-class functions ``(g, g', has_dg)`` of an :class:`odes.Custom` activation.

    ``g`` (and ``dg`` if given) must be written so that Numba can compile them
    for a float64 scalar: plain Python/``math`` expressions, NumPy ufuncs
    (``np.tanh``), functions calling them, or functions already decorated with
    ``numba.njit``.  Each is compiled once into a ``cfunc`` of type
    ``float64(float64)`` and checked against the vectorised call that
    :mod:`odes` makes (``g(u)`` on an array) at 41 points of ``[-6, 6]``.
    Without ``dg``, the kernel uses the central difference of
    :meth:`odes.Custom.derivative` (``has_dg = False``; the returned ``g'`` is
    then a placeholder).

    Raises
    ------
    ValueError
        Naming ``activation`` if a callable is missing (a stored name) or Numba
        cannot compile it, or if its scalar values disagree with its vectorised
        ones.
    """
    key = (id(activation.g), id(activation.dg))
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is activation.g and hit[1] is activation.dg:
        return hit[2]
    if not activation.resolved:
        raise ValueError("activation: this odes.Custom holds stored names, not callables "
                         f"(g={activation.g!r}); pass the functions themselves to simulate")
    from numba import cfunc

    def build(name, f):
        orig = f
        if not isinstance(f, types.FunctionType):
            uf = f   # a ufunc, numba.vectorize ufunc or numba.njit dispatcher: called from a closure
            f = lambda u: uf(u)  # noqa: E731
        try:
            cf = cfunc("float64(float64)")(f)
        except Exception as exc:  # numba raises its own error types for untypable code
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            first = " ".join(lines[:2])[:300] if lines else type(exc).__name__
            raise ValueError(
                f"activation: {name} of the custom activation {activation.name!r} cannot be "
                "compiled by numba for a float64 scalar (the simulator needs "
                "numba-compilable g and dg: math/numpy scalar operations, ufuncs such as "
                f"np.tanh, or numba.njit functions); numba said: {first}") from None
        u = np.linspace(-6.0, 6.0, 41)
        try:  # the vectorised call the ODE layer makes; a scalar-only (njit) function per element
            ref = np.broadcast_to(np.asarray(orig(u), dtype=float), u.shape)
        except Exception:
            ref = np.array([orig(float(x)) for x in u], dtype=float)
        got = np.array([cf.ctypes(float(x)) for x in u])
        if not np.allclose(got, ref, rtol=1e-12, atol=1e-12 * max(1.0, float(np.nanmax(np.abs(ref))))):
            raise ValueError(f"activation: the numba-compiled {name} of {activation.name!r} "
                             "disagrees with its vectorised values on [-6, 6]")
        return cf

    g = build("g", activation.g)
    if activation.dg is None:
        out = (g, g, False)
    else:
        out = (g, build("dg", activation.dg), True)
    if len(_COMPILED) > 64:
        _COMPILED.clear()
    _COMPILED[key] = (activation.g, activation.dg, out)
    return out


def _times(times, N):
    t = check_array("times", times, finite=False).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("times must be a non-empty, strictly increasing sequence of finite times >= 0")
    if t[-1] * N > 2.0 ** 62:
        raise ValueError(f"times: the last time {t[-1]:.3g} is {t[-1] * N:.3g} SGD steps at N = {N}, "
                         f"beyond the 2**62 step counter")
    steps = np.rint(t * N).astype(np.int64)
    if np.any(np.diff(steps) <= 0):
        raise ValueError(f"times must be at least 1/N = {1.0 / N:.3g} apart (two fall on the same step)")
    return steps


def simulate_committee(model, N: int, times, *, Q0, R0, T=None, v0=None, seed: int = 0,
                       n_test: int = 1000, block_bytes: int = 1 << 20,
                       bound: float = 1e6, stop_below: float | None = None,
                       stop_after: float | None = None) -> SGDRun:
    """Online SGD of a :class:`odes.CommitteeMachine` at input dimension ``N``.

    Parameters
    ----------
    model : odes.CommitteeMachine
        The model (activation, learning rates, schedule, noise, weight decay,
        readout, second-layer training), exactly as the ODEs read it.  An
        :class:`odes.Custom` activation needs ``g`` (and ``dg``) compilable by
        Numba for a float64 scalar (:func:`compile_activation`); without ``dg``
        the same central difference as :meth:`odes.Custom.derivative` is used.
    N : int
        Input dimension, ``N >= K + M``.
    times : array_like
        Increasing times ``t = steps/N`` at which to record (rounded to the
        nearest step; ``t = 0`` records the initial condition).
    Q0 : array_like (K, K)
        Initial student-student overlaps ``w_i . w_k / N`` (realised exactly).
    R0 : array_like (K, M)
        Initial student-teacher overlaps ``w_i . w*_n / N`` (realised exactly).
    T : array_like (M, M), optional
        Teacher-teacher overlaps (default identity).
    v0 : array_like (K,), optional
        Initial second-layer weights (default ones), as in :func:`odes.integrate`.
    seed : int
        Seed of the :class:`numpy.random.Generator` drawing the initial
        orientation, the inputs, the noise and the test set.
    n_test : int
        Size of the held-out test set for ``eg_test`` (0: not computed).
    block_bytes : int
        Memory of one block of pre-drawn inputs (speed knob; results do not
        depend on it except through the order of random draws, which is fixed).
    bound : float
        A run whose order parameters exceed ``bound`` in absolute value, or
        become non-finite, stops with ``success=False`` (finite, ``> 0``).
    stop_below, stop_after : float, optional
        Stop (successfully) at the first recorded time ``t >= stop_after``
        (default 0) where ``eg < stop_below`` (e.g. the escape from a plateau,
        :func:`escape_time`, which uses the same ``t >= after``); later records
        stay NaN.  ``stop_after`` must be a finite time ``>= 0`` and is only
        accepted together with ``stop_below``.

    Before any work the memory of the run (weights, test set, one input
    block: ``8 N (4 (K + M) + n_test + rows)`` bytes) is compared with the
    memory available (``ValueError`` naming ``N`` above half of it), and a
    run of more than ``1e11`` operations (``t_max N`` steps of
    ``(K + M) N`` each) is announced by a :class:`UserWarning` stating its cost.

    Returns
    -------
    SGDRun
        The recorded order parameters, ``eg`` (from ``Q, R, T, v`` by the ODE
        layer's formula) and ``eg_test``.  ``status``: :attr:`lmech.Status.CONVERGED`
        (simulated to the last time), :attr:`~lmech.Status.STOPPED` (``stop_below``
        reached; ``success`` stays True) or :attr:`~lmech.Status.DIVERGED`
        (``bound`` exceeded or non-finite weights).  ``n_iter``: SGD steps taken.
    """
    import odes  # the theory layer whose conventions this simulator follows

    if not isinstance(model, odes.CommitteeMachine):
        raise ValueError(f"model must be an odes.CommitteeMachine, got {type(model).__name__}")
    custom = compile_activation(model.activation) if model.act_code < 0 else None
    fns = custom if custom is not None else (None, None, False)   # None: the built-in path
    K, M = model.K, model.M
    N = check_int("N", N, low=K + M)
    seed = check_int("seed", seed, low=0)
    n_test = check_int("n_test", n_test, low=0)
    block_bytes = check_int("block_bytes", block_bytes, low=8)
    bound = check_real("bound", bound, low=0.0, low_open=True)
    Q0, R0, T, v0, C = _initial_overlaps(model, Q0, R0, T, v0)
    steps = _times(times, N)
    # memory: student and teacher weights (and the temporaries of weights_with_overlaps), the
    # test set, one block of inputs
    rows = max(1, block_bytes // (8 * N))
    check_memory("N", 8.0 * N * (4 * (K + M) + n_test + rows),
                 f"simulate_committee at N = {N} with n_test = {n_test}")
    cost = float(steps[-1]) * (K + M) * N
    if cost > 1e11:
        warnings.warn(f"simulate_committee: {int(steps[-1]):.3g} SGD steps of O((K + M) N) = "
                      f"{(K + M) * N:.3g} operations each ({cost:.2g} in all): expect about "
                      f"{cost / 1e9:.2g} s or more (t_max = {steps[-1] / N:.3g}, N = {N})",
                      stacklevel=2)
    if stop_below is not None:
        stop_below = check_real("stop_below", stop_below)
        stop_after = 0.0 if stop_after is None else check_real("stop_after", stop_after, low=0.0)
    elif stop_after is not None:
        raise ValueError("stop_after is only used with stop_below (stop at the first record "
                         "t >= stop_after where eg < stop_below); give stop_below too")
    t_start = time.perf_counter()

    rng = np.random.default_rng(seed)
    W = weights_with_overlaps(C, N, rng)
    W = np.ascontiguousarray(W)              # rows: w_1..w_K, then w*_1..w*_M
    w, wt = W[:K], W[K:]                     # views: the kernel updates w in place
    v = np.array(v0, dtype=np.float64)
    system = odes.System(model, T, v0)
    args = system.args                       # the model in kernel form, shared with the ODEs
    vt = args.vt
    code = args.act
    c_k, c_m = args.c_k, args.c_m
    sigma = math.sqrt(model.noise)
    sqn = math.sqrt(N)
    if n_test:
        X_test = rng.standard_normal((n_test, N))
        y_test = _outputs(X_test @ wt.T / sqn, vt, code, fns, c_m)

    n = steps.size
    Qs = np.full((n, K, K), np.nan)
    Rs = np.full((n, K, M), np.nan)
    vs = np.full((n, K), np.nan)
    eg = np.full(n, np.nan)
    eg_test = np.full(n, np.nan)
    eg_test_sem = 0.0 if n_test > 1 else math.nan
    rows = max(1, block_bytes // (8 * N))
    buf = np.empty((rows, N))
    noise = np.zeros(rows)
    success, status, message = True, Status.CONVERGED, "simulated to the last requested time"
    step = 0
    t_sim = 0.0
    for j, target in enumerate(steps):
        t1 = time.perf_counter()
        while step < target:
            b = int(min(rows, target - step))
            X = buf[:b]
            rng.standard_normal(out=X)
            xi = noise[:b]
            if sigma > 0.0:
                rng.standard_normal(out=xi)
            _kc.committee_sgd(W, v, X, xi, step, args, *fns)
            step += b
        t_sim += time.perf_counter() - t1
        Q = w @ w.T / N
        R = w @ wt.T / N
        Qs[j], Rs[j], vs[j] = Q, R, v
        finite = bool(np.all(np.isfinite(Q)) and np.all(np.isfinite(v)))
        if not finite or max(np.abs(Q).max(), np.abs(v).max()) > bound:
            success, status = False, Status.DIVERGED
            message = (f"diverged: order parameters left |.| < {bound:g} or became non-finite "
                       f"at t={target / N:.6g} (learning rate above its critical value?)")
            Qs[j] = Rs[j] = vs[j] = np.nan
            break
        eg[j] = system.eg(system.pack(Q, R, v))
        if n_test:
            phi = _outputs(X_test @ w.T / sqn, v, code, fns, c_k)
            sq = 0.5 * (phi - y_test) ** 2
            eg_test[j] = float(np.mean(sq))
            if n_test > 1:
                eg_test_sem = max(eg_test_sem, float(np.std(sq, ddof=1)) / math.sqrt(n_test))
        if stop_below is not None and target / N >= stop_after and eg[j] < stop_below:
            status = Status.STOPPED
            message = f"stopped at t={target / N:.6g}: eg < stop_below = {stop_below:g}"
            break
    timings = {"simulate": t_sim, "total": time.perf_counter() - t_start}
    conv = dict(model.conventions())
    if custom is not None:
        conv["activation_kernel"] = (
            "custom g compiled by numba (cfunc float64(float64)); g' "
            + ("from dg" if custom[2] else "by the central difference of odes.Custom.derivative "
               "(step 1e-5 max(1, |u|))"))
    conv.update(eg_test=f"(1/2) mean over a fixed held-out set of n_test={n_test} inputs "
                        "of (student - teacher)^2, noise excluded",
                eg="from Q, R, T, v by the closed form of odes (odes.System.eg)",
                initial_condition="teacher and student weights with exactly Q0, R0, T "
                                  "(random orientation)")
    options = dict(N=N, seed=seed, n_test=n_test, block_bytes=block_bytes, bound=bound)
    if stop_below is not None:
        options.update(stop_below=float(stop_below), stop_after=float(stop_after))
    return SGDRun(success=success, status=status, message=message, n_iter=int(step),
                  model=model, options=options, conventions=conv, timings=timings,
                  arrays=dict(t=steps / N, steps=steps, Q=Qs, R=Rs, v=vs, eg=eg, eg_test=eg_test,
                              T=T),
                  scalars=dict(N=N, seed=seed,
                               eg_final=float(eg[np.isfinite(eg)][-1]) if np.any(np.isfinite(eg)) else math.nan,
                               steps_per_second=step / t_sim if t_sim > 0 else math.nan),
                  error_estimate={"eg_test": eg_test_sem})


def escape_time(run: SGDRun, level: float, after: float = 0.0) -> float:
    """Time at which the recorded ``eg`` falls below ``level``, at the first record ``t >= after`` below it.

    ``j`` is the first record with ``t_j >= after`` (the inequality of the
    ``stop_after`` rule of :func:`simulate_committee`) and ``eg_j < level``.
    When the previous record crosses, ``eg_{j-1} >= level > eg_j``, the time
    is linearly interpolated inside ``[t_{j-1}, t_j]`` (resolution: the
    recording step); otherwise (``j = 0``, or ``eg_{j-1}`` already below
    ``level`` or not finite) it is ``t_j``.  NaN if no such record.  With
    ``level`` half the ODE's plateau error this is the escape time of
    :func:`odes.integrate` (``t_escape``, ``escape_fraction = 0.5``).
    """
    t = np.asarray(run.t, dtype=float)
    eg = np.asarray(run.eg, dtype=float)
    idx = np.nonzero((t >= after) & (eg < level))[0]
    if idx.size == 0:
        return math.nan
    j = int(idx[0])
    if j == 0 or not (np.isfinite(eg[j - 1]) and eg[j - 1] >= level):
        return float(t[j])
    # eg[j-1] >= level > eg[j]: the denominator is positive and the result lies in [t[j-1], t[j])
    return float(t[j - 1] + (eg[j - 1] - level) * (t[j] - t[j - 1]) / (eg[j - 1] - eg[j]))


def _outputs(F, v, code, fns, c):
    return _kc.committee_outputs(np.ascontiguousarray(F), v, code, fns[0], c)


def committee_point(N, seed, *, model, times, Q0, R0, T=None, v0=None, n_test=0, **options):
    """Point function for :func:`lmech.sweep.sweep` (``N`` and ``seed`` swept)."""
    return simulate_committee(model, int(N), times, Q0=Q0, R0=R0, T=T, v0=v0, seed=int(seed),
                              n_test=int(n_test), **options)


def committee_options_from(theory) -> dict:
    """Simulator options read off an :class:`odes.Trajectory`: times and the initial condition."""
    a = theory.arrays if isinstance(theory, Result) else theory   # a Result or a mapping of arrays
    out = dict(times=np.asarray(a["t"], dtype=float), Q0=np.asarray(a["Q"][0]), R0=np.asarray(a["R"][0]))
    if "T" in a:
        out["T"] = np.asarray(a["T"])
    if "v" in a:
        out["v0"] = np.asarray(a["v"][0])
    return out


register_simulator("odes.CommitteeMachine", Simulator(
    point="validation.committee:committee_point", x="t", observables=("eg", "Q", "R"),
    from_theory="validation.committee:committee_options_from"))

committee_point.options_of = simulate_committee  # the options compare() may pass (validation.compare)

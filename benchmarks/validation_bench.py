"""Benchmark of the validation layer: online SGD of the committee machine.

Prints steps per second of :func:`validation.simulate_committee` at
N = 10^4, K = M = 2 (erf, eta = 0.5), and the ratio to the rate at which the
same machine merely draws the N standard Gaussian inputs of one step with
``numpy.random.Generator.standard_normal`` (issue 6 target: >= 50 percent).

Run: ``python benchmarks/validation_bench.py [--N 10000] [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import lmech
import odes
import validation


def draw_rate(N: int, seconds: float, rows: int) -> float:
    """Steps per second of merely drawing N Gaussians per step (block-wise, into a buffer)."""
    rng = np.random.default_rng(0)
    buf = np.empty((rows, N))
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        rng.standard_normal(out=buf)
        n += rows
    return n / (time.perf_counter() - t0)


def erf_by_hand():
    """``erf(u/sqrt 2)`` and its derivative as an :class:`odes.Custom` of numba ufuncs."""
    import math

    import numba
    c1, c2 = 1.0 / math.sqrt(2.0), math.sqrt(2.0 / math.pi)
    g = numba.vectorize(["float64(float64)"])(lambda u: math.erf(u * c1))
    dg = numba.vectorize(["float64(float64)"])(lambda u: c2 * math.exp(-0.5 * u * u))
    return odes.Custom(g=g, dg=dg, name="erf by hand")


def sgd_rate(N: int, seconds: float, activation="erf") -> float:
    """Steps per second of the simulator (inputs, noise-free labels, updates; no test set)."""
    model = odes.CommitteeMachine(K=2, M=2, activation=activation, lr=0.5)
    Q0 = np.diag([0.5, 0.5])
    R0 = 1e-3 * np.array([[1.0, 0.5], [0.2, 0.8]])
    probe = validation.simulate_committee(model, N, [0.0, 0.2], Q0=Q0, R0=R0, seed=0, n_test=0)
    t_run = max(0.2, seconds * probe.steps_per_second / N)
    res = validation.simulate_committee(model, N, [0.0, t_run], Q0=Q0, R0=R0, seed=1, n_test=0)
    return res.steps_per_second


def pspin_rate(N: int, p: int = 4) -> float:
    """Projected-Heun steps per second of :func:`validation.simulate_pspin` for the pure p-spin
    (two contractions of the dense ``N^p`` tensor per step), tensor construction excluded."""
    import dmft

    model = dmft.SphericalPSpin(p=p, T=0.5)
    times = [0.0, 0.5, 1.0]
    res = validation.simulate_pspin(model, N, times, seed=0, dt=0.01)   # includes building the tensor
    short = validation.simulate_pspin(model, N, [0.0, 0.01], seed=0, dt=0.01)
    return (100 - 1) / max(res.timings["total"] - short.timings["total"], 1e-9)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pspin-N", type=int, default=48)
    args = ap.parse_args(argv)
    lmech.warmup(("validation",))
    N = args.N
    rows = max(1, (1 << 20) // (8 * N))
    custom = erf_by_hand()
    sgd, draw, cus = [], [], []
    for _ in range(args.repeat):  # interleaved, to share the machine's load fairly
        draw.append(draw_rate(N, args.seconds, rows))
        sgd.append(sgd_rate(N, args.seconds))
        cus.append(sgd_rate(N, args.seconds, custom))
    s, d, c = max(sgd), max(draw), max(cus)
    print(f"committee-machine online SGD, N={N}, K=M=2, erf (best of {args.repeat})")
    print(f"  simulator            : {s:10.0f} steps/s")
    print(f"  drawing N Gaussians  : {d:10.0f} steps/s  (Generator.standard_normal, {rows} rows/call)")
    print(f"  ratio                : {100 * s / d:10.1f} %   (target >= 50 %)")
    print(f"  custom activation    : {c:10.0f} steps/s  (odes.Custom erf by hand, numba cfunc; "
          f"{100 * c / s:.1f} % of the built-in path)")
    Np = args.pspin_N
    rate = max(pspin_rate(Np) for _ in range(args.repeat))
    print(f"spherical 4-spin Langevin, N={Np} (dense N^4 tensor, {8 * Np ** 4 / 1e6:.0f} MB; best of {args.repeat})")
    print(f"  projected Heun       : {rate:10.1f} steps/s  ({2 * rate * Np ** 4 * 2 / 1e9:.2f} GFLOP/s "
          "in the two contractions per step)")


if __name__ == "__main__":
    main()

"""Benchmark of the odes layer (issue 3).

Prints, after Numba warm-up:

* the standard case (K = M = 2, erf(u/sqrt 2), eta = 0.5, Q0 = diag(0.5, 0.5),
  R0 = 1e-3 [[1, .5], [.2, .8]]) integrated to t = 1000 with the default
  DOP853 tolerances: wall time (best of 5), right-hand-side evaluations, and
  the half-plateau escape time against the converged value;
* the same with fixed-step Euler, dt = 0.01 (the scheme of published codes);
* the cost of one right-hand-side evaluation for K = M = 2, 5, 10, 20, 50;
* K = M = 20 to t = 1000: Q0 = 0.5 I, R0 = 1e-3 U (U uniform, seed 0),
  eta = 0.5, readout 1/sqrt(K) (with the summed readout eta = 0.5 lies above
  the critical rate at K = 20 and the student never learns; the cost is the
  same).

Targets: standard case <= 0.05 s, K = M = 20 <= 15 s.

Run: ``python benchmarks/odes_bench.py``.
"""

from __future__ import annotations

import time

import numpy as np

import odes

Q0 = np.diag([0.5, 0.5])
R0 = 1e-3 * np.array([[1.0, 0.5], [0.2, 0.8]])


def best_of(fn, repeat):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, out = wall, res
    return best, out


def main():
    t0 = time.perf_counter()
    odes._kernels.warmup()
    print(f"warm-up (compile or load from cache): {time.perf_counter() - t0:.2f} s")
    m = odes.CommitteeMachine(2, 2, lr=0.5)
    ref = odes.integrate(m, 1000.0, Q0=Q0, R0=R0, rtol=1e-13, atol=1e-15)
    print(f"converged reference (rtol 1e-13): t_half = {ref.t_escape:.6f}, plateau eg = "
          f"{ref.plateau_eg:.7f} at t = {ref.plateau_t:.1f}")

    for method in ("DOP853", "scipy-DOP853"):
        wall, r = best_of(lambda: odes.integrate(m, 1000.0, Q0=Q0, R0=R0, method=method), 5)
        print(f"standard case, {method} rtol=1e-10 atol=1e-14 (defaults), t = 0..1000: {wall * 1e3:.1f} ms "
              f"(integration {r.timings['solve'] * 1e3:.1f} ms, plateau/escape "
              f"{(r.timings['total'] - r.timings['solve']) * 1e3:.1f} ms), {r.nfev} rhs evaluations, "
              f"{r.n_steps} steps, t_half = {r.t_escape:.6f} (error {abs(r.t_escape - ref.t_escape):.1e})"
              + ("  [target <= 50 ms]" if method == "DOP853" else ""))

    wall, r = best_of(lambda: odes.integrate(m, 1000.0, Q0=Q0, R0=R0, method="euler", dt=0.01), 3)
    print(f"standard case, Euler dt=0.01: {wall * 1e3:.1f} ms, {r.nfev} rhs evaluations, "
          f"t_half = {r.t_escape:.4f} (published fixed-step value 272.860)")

    print("cost per right-hand-side evaluation (erf, per-pair precomputation, best of 5 batches):")
    for K in (2, 5, 10, 20, 50):
        s = odes.System(odes.CommitteeMachine(K, K, lr=0.5))
        rng = np.random.default_rng(0)
        y = s.pack(0.5 * np.eye(K), 1e-3 * rng.random((K, K)))
        s.f(0.0, y)
        n = max(3, int(20000 / K ** 3))
        dt = np.inf
        for _ in range(5):  # best of 5 batches: the machine may be shared
            t0 = time.perf_counter()
            for _ in range(n):
                s.f(0.0, y)
            dt = min(dt, (time.perf_counter() - t0) / n)
        n_i4 = K * (K + 1) // 2 * (2 * K) * (2 * K + 1) // 2
        print(f"  K = M = {K:2d}: {dt * 1e6:10.1f} us  ({n_i4} I4 integrals, "
              f"{dt / n_i4 * 1e9:.1f} ns each)")

    K = 20
    rng = np.random.default_rng(0)
    m20 = odes.CommitteeMachine(K, K, lr=0.5, readout="sqrt")
    wall, r = best_of(lambda: odes.integrate(m20, 1000.0, Q0=0.5 * np.eye(K), R0=1e-3 * rng.random((K, K))), 1)
    print(f"K = M = 20 (1/sqrt K readout), t = 0..1000, DOP853 defaults: {wall:.2f} s, "
          f"{r.nfev} rhs evaluations, eg: {r.eg0:.4g} -> {r.eg_final:.4g}  [target <= 15 s]")


if __name__ == "__main__":
    main()

"""Benchmark of the linear-SGD risk curves (odes.LinearSGD, issue 13 part 1).

Prints, after Numba warm-up:

* the speed target: power-law data (h_j = j^-2, w*_j = j^-0.5, d = 10^4 modes), eta = 0.5,
  B = 1, risk at 100 log-spaced step counts up to t = 10^8, by the block propagator at
  rtol = 1e-4 and 1e-6 (best of 3), blocks used and the carried error estimate;
* the check: the same model to t = 10^5 by the exact recursion (cost modes x steps) and the
  largest relative deviation of the propagator from it, against its own estimate;
* costs with momentum (3 x 3 per mode), weight decay (6 x 6) and a time-varying schedule;
* the stability threshold eta_c (kernel norm 1) of the model.

Target: 10^4 modes, t = 10^8, log-spaced outputs in <= 1 s.

Run: ``python benchmarks/odes_linear_bench.py``.
"""

from __future__ import annotations

import time

import numpy as np

import odes
from lmech.blocks.schedules import WarmupCosine


def best_of(fn, repeat=3):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    t0 = time.perf_counter()
    import lmech

    lmech.warmup(("lmech", "odes"))
    print(f"warm-up (compile or load from cache): {time.perf_counter() - t0:.2f} s")
    m = odes.LinearSGD.power_law(10_000, 1.0, 0.5, lr=0.5)
    t0 = time.perf_counter()
    thr = odes.stability_threshold(m)
    print(f"d = 10^4 power law (alpha = 1, beta = 0.5): eta_c = {thr:.6f} "
          f"({1e3 * (time.perf_counter() - t0):.1f} ms)")
    ts = odes.log_times(1e8, 100)
    for rtol in (1e-4, 1e-6):
        wall, r = best_of(lambda: odes.risk_curve(m, ts, rtol=rtol))
        print(f"t = 1e8, {ts.size} outputs, rtol = {rtol:g}: {wall:.3f} s, {r.n_iter} blocks, "
              f"status {r.status}, carried relative error <= {r.error_estimate['log_risk']:.2e}, "
              f"risk {r.risk[1]:.4g} -> {r.risk[-1]:.4g}  [target <= 1 s]")
    tc = odes.log_times(1e5, 60)
    wall, ref = best_of(lambda: odes.risk_curve(m, tc, method="recursion"), 1)
    print(f"exact recursion to t = 1e5 (10^9 mode-steps): {wall:.2f} s")
    for rtol in (1e-4, 1e-6, 1e-8):
        wall, r = best_of(lambda: odes.risk_curve(m, tc, rtol=rtol))
        dev = np.max(np.abs(r.risk - ref.risk) / ref.risk)
        ok = bool(np.all(np.abs(r.risk - ref.risk) <= r.risk_err))
        print(f"  propagator rtol = {rtol:g}: {wall:.3f} s, {r.n_iter} blocks, deviation {dev:.2e}, "
              f"estimate {r.error_estimate['log_risk']:.2e}, bound holds at every output: {ok}")
    cases = {
        "momentum 0.5 (eta 0.2)": m.with_lr(0.2).__class__(
            eigenvalues=m.eigenvalues, target=m.target, lr=0.2, momentum=0.5),
        "weight decay 1e-4": odes.LinearSGD(eigenvalues=m.eigenvalues, target=m.target, lr=0.5,
                                            weight_decay=1e-4),
        "warm-up + cosine (1e3, 1e6)": odes.LinearSGD(
            eigenvalues=m.eigenvalues, target=m.target, lr=0.5,
            schedule=WarmupCosine(warmup=1e3, total=1e6, final=0.01)),
    }
    t6 = odes.log_times(1e6, 60)
    for name, mc in cases.items():
        wall, r = best_of(lambda: odes.risk_curve(mc, t6, rtol=1e-4), 1)
        print(f"{name}, t = 1e6, rtol 1e-4: {wall:.2f} s, {r.n_iter} blocks, status {r.status}, "
              f"estimate {r.error_estimate['log_risk']:.2e}")


if __name__ == "__main__":
    main()

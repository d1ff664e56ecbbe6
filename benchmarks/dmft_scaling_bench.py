"""Benchmark of dmft.scaling: a loss curve L(t) of linear random features on power-law data.

Run ``python benchmarks/dmft_scaling_bench.py``.  Target (issue 13, part 3): one curve at
N = P = 1e4 with 100 log-spaced times in <= 1 s.  Prints, per case, the wall-clock seconds
(best of 3, after Numba warm-up), the Newton solves of the renormalisation equation, the
largest error estimate and the status; the case with M = 1e5 modes shows the linear cost in M.
"""

from __future__ import annotations

import time

import numpy as np

import lmech
from dmft.scaling import RandomFeatureScaling, scaling_loss


def case(label, model, t, repeat=3):
    scaling_loss(model, t[:3])  # warm caches of this process
    best, res = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = scaling_loss(model, t)
        best = min(best, time.perf_counter() - t0)
    print(f"{label:58s} {best:7.3f} s  {res.n_iter:5d} root solves  max err {res.error_estimate['loss']:.1e}"
          f"  {lmech.Status(res.status).name}  L(t_end) = {res.arrays['loss'][-1]:.6g}")
    return best


def main():
    lmech.warmup(("dmft",))
    t = np.geomspace(1.0, 1e6, 100)
    print("loss curve, 100 log-spaced times in [1, 1e6], a = 1.5, b = 1.25, rtol = 1e-8 (default)")
    case("N = P = 1e4, M = 1e4 modes (flow)  [target <= 1 s]",
         RandomFeatureScaling(N=1e4, P=1e4, M=10_000), t)
    case("N = 1e4, P = 2e4, M = 1e4 modes (flow)", RandomFeatureScaling(N=1e4, P=2e4, M=10_000), t)
    case("N = P = 1e4, M = 1e5 modes (flow)", RandomFeatureScaling(N=1e4, P=1e4, M=100_000), t)
    steps = np.unique(np.round(np.geomspace(1, 1e6, 100)))
    case(f"N = P = 1e4, M = 1e4, gradient descent lr = 0.5 ({steps.size} step counts)",
         RandomFeatureScaling(N=1e4, P=1e4, M=10_000, lr=0.5), 0.5 * steps)


if __name__ == "__main__":
    main()

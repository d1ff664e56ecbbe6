"""The slow corners of odes (issue 15): ReLU right-hand sides of large committees and the
critical learning rate of K = M = 20.

    python benchmarks/odes_corners.py [--critical]

Prints the cost of one right-hand side evaluation for ReLU and erf at K = M = 2..20 (best of
3 batches) against the cost model of ``odes.integrate`` (``I4_SECONDS`` per four-field
average), the time of one decay-rate evaluation at perfect learning (K = M = 20, erf) and, with
``--critical``, the wall time of ``odes.critical_lr`` at K = M = 20 (several minutes).
"""

import argparse
import importlib
import time

import numpy as np

import odes
from odes import fixed_points as fp

integ = importlib.import_module("odes.integrate")


def rhs_cost(act, K, repeat=3):
    s = odes.System(odes.CommitteeMachine(K, K, lr=0.5, activation=act))
    rng = np.random.default_rng(0)
    y = s.pack(0.5 * np.eye(K), 1e-3 * rng.random((K, K)))
    s.f(0.0, y)
    n = max(1, int(2e4 / (K ** 3 * (3000 if act == "relu" else 1))))
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            s.f(0.0, y)
        best = min(best, (time.perf_counter() - t0) / n)
    return best, integ.rhs_seconds(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--critical", action="store_true", help="also time critical_lr at K = M = 20")
    args = ap.parse_args()
    odes._kernels.warmup()
    print("one right-hand side evaluation (best of 3), against the cost model of odes.integrate:")
    for act in ("erf", "relu"):
        for K in (2, 5, 10, 20):
            t, model = rhs_cost(act, K)
            print(f"  {act:4s} K = M = {K:2d}: {t:10.3g} s   (model {model:.3g} s)")
    m = odes.CommitteeMachine(K=20, M=20, lr=0.5)
    t0 = time.perf_counter()
    r = fp.perfect_learning(fp.dataclasses.replace(m, lr=0.2))
    print(f"perfect_learning K = M = 20 erf, eta = 0.2: {time.perf_counter() - t0:.1f} s, "
          f"decay_rate {r.decay_rate:.6g}, lambda_max {r.lambda_max:.6g}")
    if args.critical:
        t0 = time.perf_counter()
        ec = fp.critical_lr(m)
        print(f"critical_lr K = M = 20 erf: eta_c = {ec:.10g} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

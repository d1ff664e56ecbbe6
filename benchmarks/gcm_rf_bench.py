"""Random features in the GCM: cost of the spectra, of Mei & Montanari's closed form, of the simulators.

    PYTHONPATH=$PWD python benchmarks/gcm_rf_bench.py
"""

import math
import os
import time

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import replica  # noqa: E402
import validation  # noqa: E402


def best(f, n=3):
    t = math.inf
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        t = min(t, time.perf_counter() - t0)
    return t


def main():
    print(f"random features in the GCM  (cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")
    mu0, mu1, mus = replica.RandomFeatures(activation="relu").coefficients()
    ref = replica.mei_montanari_risk(2.0, 1.5, 0.01, mu1, mus)["risk"]
    for p in (4096, 10**5, 10**6):
        t = best(lambda: replica.random_features("relu", 2.0, reg=0.015, n_modes=p), 1 if p > 10**5 else 3)
        m = replica.random_features("relu", 2.0, reg=0.015, n_modes=p)
        e = replica.solve(m, 0.75).test_error
        print(f"  spectra, p = {p:>8}: {t * 1e3:9.1f} ms   ridge test error {e:.12f}  (|rel. diff to MM| {abs(e - ref) / ref:.1e})")
    t = best(lambda: replica.mei_montanari_risk(2.0, 1.5, 0.01, mu1, mus), 20)
    print(f"  Mei-Montanari closed form: {t * 1e3:.2f} ms per point")
    rf = replica.RandomFeatures(activation="tanh", N_over_d=2.0, reg=0.1)
    for N in (400, 800):
        t = best(lambda: validation.simulate_random_features(rf, N, [1.0], seed=0), 2)
        t2 = best(lambda: validation.simulate_gcm(rf.gcm(), N, [1.0], seed=0), 2)
        print(f"  one point at alpha = 1, N = {N}: real tanh features {t:.2f} s (n_test = {max(10000, 4 * N)}),"
              f" Gaussian data {t2:.2f} s")


if __name__ == "__main__":
    main()

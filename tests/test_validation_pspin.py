"""Spherical p-spin at finite N for any p (and mixtures) against the DMFT of dmft (issue 6, item 2)."""

import math

import numpy as np
import pytest

import dmft
from validation import _kernels, compare, pspin_theory, simulate_pspin, simulate_pspin2
from validation.gradflow import _pspin_couplings


def _force(model, N, seed, s):
    degrees, offsets, T, _ = _pspin_couplings(model, N, np.random.default_rng(seed), 1 << 30)
    F = np.empty(N)
    kmax = int(degrees.max())
    H = _kernels.pspin_force_mix(degrees, offsets, T, s, F, np.empty(N ** (kmax - 1)))
    return H, F


@pytest.mark.parametrize("model", [dmft.SphericalPSpin(p=4, T=0.0),
                                   dmft.SphericalPSpin(p=5, T=0.0, convention="full"),
                                   dmft.SphericalPSpin(p=4, T=0.0, mixture=(0.5, 0.3))])
def test_energy_is_the_iid_tensor_contraction_and_force_is_minus_its_gradient(model):
    N = 6
    rng = np.random.default_rng(1)
    s = rng.standard_normal(N)
    H, F = _force(model, N, 3, s)
    # H(s) = -sum_k sqrt(c_k / N^(k-1)) sum over ordered k-tuples G s...s, G drawn in the same order
    g = np.random.default_rng(3)
    coef = model.xi_coefficients()
    Hd = 0.0
    for k in range(2, coef.size):
        if coef[k] == 0.0:
            continue
        G = g.standard_normal((N,) * k)
        v = G
        for _ in range(k):
            v = v @ s
        Hd -= math.sqrt(coef[k] / N ** (k - 1)) * v
    assert H == pytest.approx(Hd, rel=1e-12)
    # F = -grad H by central differences (H is a polynomial: the O(h^2) error is ~1e-9 here)
    h = 1e-5
    for i in range(N):
        e = np.zeros(N)
        e[i] = h
        d = -(_force(model, N, 3, s + e)[0] - _force(model, N, 3, s - e)[0]) / (2 * h)
        assert d == pytest.approx(F[i], rel=1e-7, abs=1e-9)


def test_covariance_is_exactly_n_xi_of_the_overlap():
    # E_J[H(s) H(s')] = N xi(s.s'/N) with no repeated-index correction, and E[H(s)^2] = N xi(1):
    # Monte Carlo over 4000 tensors at N = 5 (p = 4 + 0.5 q^2, 'half'), within 4 standard errors
    model = dmft.SphericalPSpin(p=4, T=0.0, mixture=(0.5,))
    N = 5
    rng = np.random.default_rng(0)
    s = rng.standard_normal(N)
    s *= math.sqrt(N) / np.linalg.norm(s)
    t = rng.standard_normal(N)
    t -= (t @ s) / N * s
    t *= math.sqrt(N) / np.linalg.norm(t)
    s2 = 0.7 * s + math.sqrt(1 - 0.49) * t          # q = s.s2/N = 0.7 on the sphere
    q = s @ s2 / N
    prods, squares = [], []
    for seed in range(4000):
        H1 = _force(model, N, seed, s)[0]
        H2 = _force(model, N, seed, s2)[0]
        prods.append(H1 * H2)
        squares.append(H1 * H1)
    for vals, target in ((prods, N * model.xi(q)), (squares, N * model.xi(1.0))):
        vals = np.asarray(vals)
        assert abs(vals.mean() - target) < 4 * vals.std(ddof=1) / math.sqrt(vals.size), (vals.mean(), target)


def test_general_kernel_reproduces_the_p3_and_p2_couplings():
    # degree 3: the general contraction on the p = 3 tensor of the existing path gives its force
    N = 7
    rng = np.random.default_rng(2)
    T3 = _kernels.pspin3_tensor(rng.standard_normal(N * (N - 1) * (N - 2) // 6), N)
    s = rng.standard_normal(N)
    F3, Fm = np.empty(N), np.empty(N)
    H3 = _kernels.pspin_force(3, T3, s, F3)
    Hm = _kernels.pspin_force_mix(np.array([3]), np.array([0]), T3.ravel(), s, Fm, np.empty(N * N))
    assert Hm == pytest.approx(H3, rel=1e-13) and np.allclose(Fm, F3, rtol=1e-13, atol=1e-14)
    # degree 2: the iid-tuple construction is exactly the GOE matrix of the exact p = 2 solver
    model = dmft.SphericalPSpin(p=2, T=0.0)
    _, _, T, _ = _pspin_couplings(model, N, np.random.default_rng(5), 1 << 20)
    G = np.random.default_rng(5).standard_normal((N, N))
    assert np.array_equal(T, ((G + G.T) * math.sqrt(0.5 / N)).ravel())


def test_p4_heun_is_second_order_at_zero_temperature():
    model = dmft.SphericalPSpin(p=4, T=0.0)
    ts = [0.0, 0.4, 0.8]
    ref = simulate_pspin(model, 16, ts, seed=2, dt=0.0025)
    errs = [np.abs(simulate_pspin(model, 16, ts, seed=2, dt=dt).C - ref.C).max() for dt in (0.04, 0.02)]
    assert errs[1] < 1e-3 and 3.0 < errs[0] / errs[1] < 5.0


@pytest.mark.parametrize("model", [dmft.SphericalPSpin(p=4, T=0.0), dmft.SphericalPSpin(p=4, T=0.8)])
def test_p4_agrees_with_dmft(model):
    # N = 32, 16 seeds, t <= 2 (uniform DMFT integrator, dt = 0.05; Heun dt = 0.01), one size:
    # the sampling error (~0.02-0.04 on e) dominates the O(1/N) corrections here
    theory = dmft.solve(model, 2.0, dt=0.05)
    ts = [0.0, 0.5, 1.0, 2.0]
    rep = compare(pspin_theory(theory, ts), model, sizes=[32], seeds=16,
                  sim_options={"times": ts, "dt": 0.01})
    assert rep.success and rep.verdict != "disagree", rep.message + "\n" + rep.table("e")


def test_p4_wrong_temperature_disagrees():
    wrong = dmft.solve(dmft.SphericalPSpin(p=4, T=0.0), 2.0, dt=0.05)
    ts = [0.0, 0.5, 1.0, 2.0]
    rep = compare(pspin_theory(wrong, ts), dmft.SphericalPSpin(p=4, T=0.8), sizes=[32], seeds=16,
                  sim_options={"times": ts, "dt": 0.01})
    assert rep.verdict == "disagree"


@pytest.mark.slow
def test_mixture_agrees_with_dmft():
    model = dmft.SphericalPSpin(p=4, T=0.5, mixture=(0.5,))       # xi = (q^4 + 0.5 q^2)/2
    theory = dmft.solve(model, 2.0, dt=0.05)
    ts = [0.0, 0.5, 1.0, 2.0]
    rep = compare(pspin_theory(theory, ts), model, sizes=[32, 48], seeds=16,
                  sim_options={"times": ts, "dt": 0.01})
    print(rep.table("e"))
    assert rep.verdict != "disagree", rep.message + "\n" + rep.table("e")


def test_pspin_general_input_errors():
    with pytest.raises(ValueError, match="N"):
        simulate_pspin(dmft.SphericalPSpin(p=4, T=0.0), 200, [0.0])          # 8 * 200^4 B > 2 GiB
    with pytest.raises(ValueError, match="N"):
        simulate_pspin(dmft.SphericalPSpin(p=5, T=0.0), 30, [0.0], max_tensor_bytes=10 ** 8)
    with pytest.raises(ValueError, match="N"):
        simulate_pspin(dmft.SphericalPSpin(p=5, T=0.0), 4, [0.0])
    with pytest.raises(ValueError, match="dt"):
        simulate_pspin(dmft.SphericalPSpin(p=4, T=0.0), 8, [0.0, 0.015], dt=0.01)
    with pytest.raises(ValueError, match="p"):
        simulate_pspin2(dmft.SphericalPSpin(p=4, T=0.0), 8, [0.0])

"""Spherical p-spin at finite N for any p (and mixtures) against the DMFT of dmft.

Cugliandolo & Kurchan, PRL 71, 173 (1993).
"""

import itertools
import math

import numpy as np
import pytest

import dmft
from validation import compare, pspin_theory, simulate_pspin, simulate_pspin2


def redrawn_instance(model, N, seed):
    """H(s0) and -grad H(s0) of the instance simulate_pspin draws, redrawn here from its documented
    construction: one generator seeded with ``seed``; for each degree k of xi (ascending, general
    path: p > 3 or a mixture) N^k iid normals G, H_k(s) = -sqrt(c_k/N^(k-1)) sum over ordered
    k-tuples G s..s; pure p = 2: J = (G + G^T) sqrt(c/N), H = -(1/2) s.J s; pure p = 3:
    H = -sum_{i<j<k} J_ijk s_i s_j s_k with E J^2 = 6c/N^2; then s0 ~ N(0, I) scaled to |s0|^2 = N."""
    rng = np.random.default_rng(seed)
    coef = model.xi_coefficients()
    terms = []                                     # (prefactor, full iid tensor of ordered tuples)
    if model.p > 3 or not model.pure:
        for k in range(2, coef.size):
            if coef[k] != 0.0:
                terms.append((math.sqrt(coef[k] / N ** (k - 1)), rng.standard_normal((N,) * k)))
    elif model.p == 2:
        G = rng.standard_normal((N, N))
        terms.append((0.5, (G + G.T) * math.sqrt(coef[2] / N)))
    else:
        J = np.zeros((N, N, N))
        for val, (i, j, k) in zip(rng.standard_normal(N * (N - 1) * (N - 2) // 6) * math.sqrt(6 * coef[3]) / N,
                                  itertools.combinations(range(N), 3)):
            J[i, j, k] = val
        terms.append((1.0, J))
    s0 = rng.standard_normal(N)
    s0 *= math.sqrt(N) / np.linalg.norm(s0)
    H, F = 0.0, np.zeros(N)
    for a, G in terms:
        v = G
        for _ in range(G.ndim):
            v = v @ s0
        H -= a * v
        for j in range(G.ndim):                    # d/ds of the contraction, slot by slot
            v = np.moveaxis(G, j, 0)
            for _ in range(G.ndim - 1):
                v = v @ s0
            F += a * v
    return H, F, s0


@pytest.mark.parametrize("model", [dmft.SphericalPSpin(p=4, T=0.0),
                                   dmft.SphericalPSpin(p=5, T=0.0, convention="full"),
                                   dmft.SphericalPSpin(p=4, T=0.0, mixture=(0.5, 0.3)),
                                   dmft.SphericalPSpin(p=3, T=0.0), dmft.SphericalPSpin(p=2, T=0.0)])
def test_energy_is_the_stated_contraction_and_the_flow_descends_its_gradient(model):
    N, seed = 6, 3
    H, F, s0 = redrawn_instance(model, N, seed)
    # e(0) = H(s0)/N, the independent contraction
    res = simulate_pspin(model, N, [0.0], seed=seed)
    assert res.e[0] * N == pytest.approx(H, rel=1e-12)
    # the force through the dynamics: at T = 0 the flow on the sphere, ds/dt = F - (F.s/N) s, gives
    # de/dt = -|F_perp|^2/N at t = 0.  One Heun step of h gives the difference quotient
    # e'(0) + O(h); Richardson over h and h/2 removes that, leaving O(h^2) ~ 1e-6 relative
    rate = -np.sum((F - (F @ s0) / N * s0) ** 2) / N
    h = 1e-3
    d = [(simulate_pspin(model, N, [0.0, hh], seed=seed, dt=hh).e[1] - res.e[0]) / hh for hh in (h, h / 2)]
    assert 2 * d[1] - d[0] == pytest.approx(rate, rel=1e-4)


def test_energy_variance_is_n_xi_of_one():
    # E_J[H(s)^2] = N xi(1) on the sphere, with no repeated-index correction (s0 is drawn
    # independently of the couplings): e(0) = H(s0)/N over 4000 instances at N = 5, p = 4 + 0.5 q^2
    model = dmft.SphericalPSpin(p=4, T=0.0, mixture=(0.5,))
    N = 5
    vals = np.array([(N * simulate_pspin(model, N, [0.0], seed=seed).e[0]) ** 2 for seed in range(4000)])
    assert abs(vals.mean() - N * model.xi(1.0)) < 4 * vals.std(ddof=1) / math.sqrt(vals.size)


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

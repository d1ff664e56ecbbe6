"""Power-law random features (odes.plrf): the deterministic equivalent against closed forms and
sampled matrices, the exact SGD risk against the recursion it solves and its limits, and the
compute-optimal exponents against Paquette, Paquette, Xiao & Pennington, NeurIPS 2024
(arXiv:2405.15074)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmech import Status
from odes.plrf import (PLRF, frontier, irreducible_risk, learning_rate, phase, predicted_exponents, risk_curve,
                       spectrum, stieltjes)


def _sampled(model, rng):
    """One draw of W: eigenvalues of K = W^T D W, forcing weights l_i <u_i, theta*>^2 and P*."""
    sig = model.sigma()
    b = np.arange(1, model.v + 1, dtype=float) ** -model.beta
    W = rng.standard_normal((model.v, model.d)) / math.sqrt(model.d)
    A = np.sqrt(sig)[:, None] * W
    K = A.T @ A
    lam, U = np.linalg.eigh(K)
    g = W.T @ (sig * b)
    th = np.linalg.solve(K, g)
    return lam, lam * (U.T @ th) ** 2, 0.5 * ((sig * b * b).sum() - th @ g)


def _recursion(lam, cnt, frc, p_star, gamma, B, steps):
    """Direct iteration of the per-mode recursion (module docstring of odes.plrf)."""
    E = frc / lam
    out = [p_star + 0.5 * (lam * E).sum()]
    a = (1 - gamma * lam) ** 2 + gamma ** 2 * lam ** 2 / B
    for _ in range(steps):
        E = a * E + (gamma ** 2 / B) * cnt * lam * ((lam * E).sum() + 2 * p_star)
        out.append(p_star + 0.5 * (lam * E).sum())
    return np.array(out)


@pytest.fixture(scope="module")
def spec300():
    return spectrum(PLRF(alpha=1.0, beta=0.7, d=300, v=1200))


@pytest.mark.parametrize("alpha, beta, d", [(1.0, 0.7, 300), (0.4, 0.3, 200), (1.6, 1.2, 250)])
def test_moments_of_the_deterministic_equivalent(alpha, beta, d):
    # Large-z expansion of -1/y(z), z = X(y): moments sum_i l_i^k of the deterministic measure are
    # d, T1 and T2 + T1^2/d (T_k = sum_j sigma_j^k); of the forcing measure, theta*^T K theta* =
    # b^T D b - 2 P* and theta*^T K^2 theta* = b^T D W W^T D b ~ sum_j sigma_j^2 b_j^2.
    m = PLRF(alpha=alpha, beta=beta, d=d, v=4 * d)
    s = spectrum(m)
    assert s.success, s.message
    sig, b2 = m.sigma(), m.b2()
    T1, T2 = sig.sum(), (sig ** 2).sum()
    assert s.count.sum() == pytest.approx(d, rel=1e-9)
    assert (s.count * s.x).sum() == pytest.approx(T1, rel=1e-9)
    assert (s.count * s.x ** 2).sum() == pytest.approx(T2 + T1 ** 2 / d, rel=1e-8)
    assert s.forcing.sum() == pytest.approx((sig * b2).sum() - 2 * irreducible_risk(m), rel=1e-9)
    assert (s.forcing * s.x).sum() == pytest.approx((sig ** 2 * b2).sum(), rel=1e-8)
    # the isolated top bands hold one eigenvalue each, the bulk the rest
    assert s.band_count.sum() == d and np.all(s.band_count[1:] == 1)


def test_stieltjes_two_ways(spec300):
    # the band quadrature (Newton on the real axis) against Newton continued from large |z|
    m = spec300.model
    for z in (0.02 + 0.01j, 1e-3 + 1e-4j, -0.01 + 1e-3j, 0.5 + 0.3j):
        quad = (spec300.quad_count / (spec300.quad_x - z)).sum() / m.d
        assert stieltjes(m, z) == pytest.approx(quad, rel=1e-7)


def test_against_sampled_matrices():
    # (1/d) tr (K - z)^-1 and P* over 24 draws of W at d = 300: the deterministic equivalent
    # within sampling error plus its O(1/d) relative accuracy
    m = PLRF(alpha=1.0, beta=0.7, d=300, v=1200)
    rng = np.random.default_rng(7)
    zs = np.array([0.01 + 0.01j, 1e-3 + 5e-4j, 0.1 + 0.05j, -1e-3 + 1e-4j])
    S, PS, M = [], [], []
    for _ in range(24):
        lam, _rho, ps = _sampled(m, rng)
        S.append([np.mean(1 / (lam - z)) for z in zs])
        PS.append(ps)
        M.append([lam.mean(), (lam ** 2).mean()])
    S, M = np.array(S), np.array(M)
    spec = spectrum(m)
    for k in (1, 2):
        th = (spec.count * spec.x ** k).sum() / m.d
        sem = M[:, k - 1].std(ddof=1) / math.sqrt(len(M))
        assert abs(M[:, k - 1].mean() - th) < 4 * math.hypot(sem, th / m.d)
    th = stieltjes(m, zs)
    for k in range(zs.size):
        for part in (np.real, np.imag):
            sem = part(S[:, k]).std(ddof=1) / math.sqrt(len(S))
            sd = math.hypot(sem, abs(th[k]) / m.d)
            assert abs(part(S[:, k]).mean() - part(th[k])) < 4 * sd
    sem = np.std(PS, ddof=1) / math.sqrt(len(PS))
    assert abs(np.mean(PS) - irreducible_risk(m)) < 4 * math.hypot(sem, irreducible_risk(m) / m.d)


def test_risk_curve_is_the_recursion(spec300):
    # the diagonalised (secular-equation) solution against direct iteration, on the same nodes
    m = spec300.model
    for B, scale in ((1, 0.5), (8, 0.1)):
        mb = PLRF(alpha=m.alpha, beta=m.beta, d=m.d, v=m.v, batch=B, lr_scale=scale)
        s = spectrum(mb, band_nodes=8, bulk_nodes=16)  # fine enough for success at rtol 1e-8
        steps = 2000
        direct = _recursion(s.x, s.count, s.forcing, s.p_star, learning_rate(mb), B, steps)
        t = np.array([0, 1, 2, 10, 100, 1000, 2000], dtype=float)
        r = risk_curve(mb, t, spec=s)
        assert r.success
        np.testing.assert_allclose(r.risk, direct[t.astype(int)], rtol=1e-10)


def test_risk_limits(spec300):
    m = spec300.model
    r = risk_curve(m, np.array([0.0, 1e15]), spec=spec300)
    # t = 0: theta = 0, P = E y^2 / 2 = sum_j sigma_j b_j^2 / 2
    assert r.risk[0] == pytest.approx(0.5 * (m.sigma() * m.b2()).sum(), rel=1e-9)
    # t -> infinity: P* / (1 - kernel norm) (the fixed point of the recursion, Sherman-Morrison)
    assert r.risk[1] == pytest.approx(r.p_star / (1 - r.kernel_norm), rel=1e-9)
    assert r.risk_inf == pytest.approx(r.risk[1], rel=1e-12)
    # kernel norm ~ lr_scale/2 for gamma = lr_scale B / tr K with small gamma l
    small = PLRF(alpha=1.0, beta=0.7, d=300, v=1200, lr_scale=0.01)
    assert risk_curve(small, np.array([1.0])).kernel_norm == pytest.approx(0.005, rel=0.02)


def test_large_batch_is_gradient_descent():
    # B -> infinity: no SGD noise, P(t) = P* + (1/2) sum rho (1 - gamma l)^(2t) (gradient descent)
    m = PLRF(alpha=1.0, beta=0.7, d=200, v=800, batch=10 ** 12, lr=0.5)
    s = spectrum(m)
    t = np.array([0.0, 3, 30, 300, 3000])
    r = risk_curve(m, t, spec=s)
    gd = s.p_star + 0.5 * (s.forcing[:, None] * (1 - 0.5 * s.x[:, None]) ** (2 * t)).sum(0)
    np.testing.assert_allclose(r.risk, gd, rtol=1e-9)


def test_divergence_is_reported():
    # kernel norm >= 1: one-pass SGD diverges; the risk is not returned as numbers
    m = PLRF(alpha=1.0, beta=0.7, d=200, v=800, lr_scale=3.0)
    r = risk_curve(m, np.array([1.0, 10.0]))
    assert not r.success and r.status == Status.DIVERGED and r.kernel_norm >= 1
    assert "risk" not in r.arrays


def test_risk_against_sampled_matrices():
    # the exact expected risk on the eigendecomposition of sampled K, averaged over draws of W,
    # against the deterministic equivalent (within sampling error plus O(1/d))
    m = PLRF(alpha=1.0, beta=0.7, d=200, v=800)
    rng = np.random.default_rng(3)
    t = np.array([1, 10, 100, 1000, 10000])
    gamma = learning_rate(m)
    runs = []
    for _ in range(16):
        lam, rho, ps = _sampled(m, rng)
        runs.append(_recursion(lam, np.ones_like(lam), rho, ps, gamma, 1, t[-1])[t])
    runs = np.array(runs)
    th = risk_curve(m, t).risk
    sem = runs.std(0, ddof=1) / math.sqrt(len(runs))
    assert np.all(np.abs(runs.mean(0) - th) < 4 * np.hypot(sem, th / m.d))


def test_phase_labels_and_exponents():
    # Paquette et al. 2024, Sec. 3 (Fig. 2a): the phases of the (alpha, beta) plane; the boundaries
    # 2 alpha = 1, 2 beta = 1, beta = alpha, alpha = 1/4 are the paper's (Ib: 2 beta < 1, 1/4 < alpha < 1/2,
    # 2 (alpha + beta) > 1; Ic: 2 beta > 1, alpha < 1/4, as stated in its propositions)
    assert [phase(*p) for p in [(0.7, 0.3), (1.0, 0.7), (0.7, 1.2), (0.4, 0.3), (0.2, 0.8), (0.4, 0.8),
                                (0.2, 0.2)]] == ["Ia", "II", "III", "Ib", "Ic", "IV", ""]
    # phase III: eta = 1 - 1/(4 alpha): the theoretical 0.643 the paper quotes at alpha = 0.7 (Fig. 3)
    assert predicted_exponents(0.7, 1.2)[0] == pytest.approx(0.643, abs=5e-4)
    assert predicted_exponents(0.7, 1.2)[1] == 0.5
    # the exponents are continuous across 2 beta = 1 (Ia | II) and beta = alpha (II | III)
    for a in (0.6, 1.0, 2.0):
        lo, hi = predicted_exponents(a, 0.5 - 1e-9), predicted_exponents(a, 0.5 + 1e-9)
        assert lo == pytest.approx(hi, abs=1e-8)
        lo, hi = predicted_exponents(a, a - 1e-9), predicted_exponents(a, a + 1e-9)
        assert lo == pytest.approx(hi, abs=1e-8)
    assert all(math.isnan(x) for x in predicted_exponents(0.4, 0.8))


@pytest.mark.slow
@pytest.mark.parametrize("alpha, beta, d_min, d_max", [(1.0, 0.7, 64, 4096), (1.5, 0.2, 64, 4096),
                                                       (0.7, 1.2, 256, 16384)])
def test_compute_optimal_exponents_against_the_paper(alpha, beta, d_min, d_max):
    # fitted slopes of the compute-optimal envelope (sizes d_min..d_max) within their uncertainty (3 sigma)
    # of the phase's exponents (derived from the loss decomposition of Paquette et al. 2024: see
    # odes.plrf.predicted_exponents).
    # Phase III converges slowly in d (at 64..4096 its xi is 0.557 +- 0.016 against 1/2): larger sizes.
    fr = frontier(alpha, beta, d_min=d_min, d_max=d_max, t_max=1e14)
    assert fr.success, fr.message
    assert abs(fr.eta - fr.eta_theory) < 3 * fr.eta_err
    assert abs(fr.xi - fr.xi_theory) < 3 * fr.xi_err


def test_frontier_small():
    # phase II at small sizes: the fitted loss exponent within 3 sigma of 0.706 (predicted_exponents)
    fr = frontier(1.0, 0.7, d_min=32, d_max=512, rtol=1e-4, n_t=121, n_flops=61)
    assert fr.success and fr.phase == "II"
    assert abs(fr.eta - fr.eta_theory) < 3 * fr.eta_err
    # the envelope is the minimum over the sizes at every budget
    loss = np.where(np.isnan(fr.loss), np.inf, fr.loss)
    assert np.all(fr.p_opt[fr.interior] <= loss.min(0)[fr.interior] * (1 + 1e-12))


def test_bad_input():
    with pytest.raises(ValueError, match="^v must be > d"):
        PLRF(d=100, v=100)
    with pytest.raises(ValueError, match="^alpha"):
        PLRF(alpha=0.0)
    with pytest.raises(ValueError, match="^rtol"):
        spectrum(PLRF(d=50, v=200), rtol=0.5)
    with pytest.raises(ValueError, match="^t must"):
        risk_curve(PLRF(d=50, v=200), np.array([-1.0]))
    with pytest.raises(ValueError, match="^d_max"):
        frontier(1.0, 0.5, d_min=64, d_max=32)
    with pytest.raises(ValueError, match="^z must"):
        stieltjes(PLRF(d=50, v=200), 0.3)
    with pytest.raises(ValueError, match="^alpha"):
        phase(float("nan"), 0.7)
    with pytest.raises(ValueError, match="^beta"):
        predicted_exponents(1.0, float("inf"))


@pytest.mark.parametrize("alpha, beta, d", [(1.5, 0.2, 256), (0.7, 1.2, 128)])
def test_risk_success_means_within_rtol_and_refinement_moves_it_less_than_the_estimate(alpha, beta, d):
    # success=True only with the estimate within rtol * max(risk, P(0)); a finer representation
    # (the largest: 8 band nodes, 16 bulk nodes) moves the curve by no more than that estimate
    from odes.plrf import spectrum

    model = PLRF(alpha=alpha, beta=beta, d=d, v=4 * d)
    t = np.array([0.0, 10.0, 1e3, 1e6])
    r = risk_curve(model, t)
    assert r.success
    assert r.error_estimate["risk"] <= 1e-8 * np.max(r.risk)  # t = 0 is among the times: P(0) = max risk
    assert r.options["band_nodes"] < 8  # so that the comparison below is with a finer representation
    fine = risk_curve(model, t, spec=spectrum(model, rtol=1e-8, band_nodes=8, bulk_nodes=16))
    assert np.max(np.abs(fine.risk - r.risk)) <= r.error_estimate["risk"]


def test_risk_matches_the_secular_solver_it_replaced():
    # P(t) recorded from the secular-equation solver, this repository before the merge (odes.plrf
    # with its own copy of the recursion; same default spectrum): the risk, now solved by
    # odes.linear_sgd on the nodes with real multiplicities, within the curve's own error estimate
    m = PLRF(alpha=1.0, beta=0.7, d=64, v=256)
    t = np.array([0.0, 10.0, 1e3, 1e6, 1e12])
    old = np.array([0.569331543556028, 0.05982739687954201, 0.00163558810015111, 0.00087246293953497,
                    0.00087246293953497])
    r = risk_curve(m, t)
    assert r.success
    assert np.max(np.abs(r.risk - old)) <= r.error_estimate["risk"]
    # batch 4: the second recorded case
    m = PLRF(alpha=1.2, beta=0.5, d=80, v=320, batch=4, lr_scale=0.2)
    old = np.array([5.6933168613419760e-01, 2.4220197694191543e-02, 6.0557666029861399e-04,
                    1.3337475485090855e-04, 1.3337471088945533e-04])
    r = risk_curve(m, t)
    assert r.success
    assert np.max(np.abs(r.risk - old)) <= r.error_estimate["risk"]

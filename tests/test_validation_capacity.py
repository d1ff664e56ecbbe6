"""Perceptron capacity at finite N against Cover's count and the replica capacity (issue 6, item 6)."""

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binomtest

import replica.gardner
from validation import _kernels
from validation.capacity import capacity_scan, cover_probability, feasible, simulate_capacity

SPHERICAL = replica.gardner.GardnerVolume(prior="spherical")
BINARY = replica.gardner.GardnerVolume(prior="rademacher")


def test_cover_probability_known_values():
    # n <= N: always separable; n = 2N: exactly 1/2 (Cover 1965); N = 1: 2^(1-n)
    assert cover_probability(10, 10) == 1.0
    assert cover_probability(10, 20) == pytest.approx(0.5, abs=1e-14)
    assert cover_probability(37, 74) == pytest.approx(0.5, abs=1e-14)
    assert cover_probability(1, 5) == pytest.approx(2.0 ** -4, rel=1e-13)
    # by hand: N = 2, n = 4: 2^-3 (C(3,0) + C(3,1)) = 1/2;  N = 3, n = 5: 2^-4 (1 + 4 + 6) = 11/16
    assert cover_probability(3, 5) == pytest.approx(11 / 16, rel=1e-13)


@pytest.mark.parametrize("N, n, kappa", [(6, 8, 0.0), (7, 6, 0.3), (5, 9, -0.2), (8, 7, 0.0)])
def test_binary_search_matches_brute_force(N, n, kappa):
    rng = np.random.default_rng(N * 100 + n)
    for _ in range(20):
        A = rng.standard_normal((n, N)) / math.sqrt(N)
        W = np.array(list(itertools.product([-1.0, 1.0], repeat=N)))
        brute = bool(np.any(np.all(A @ W.T >= kappa, axis=0)))
        assert (_kernels.binary_feasible(np.ascontiguousarray(A), kappa) > 0) == brute


def test_lp_decision_is_verified():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 10))
    w = rng.standard_normal(10)
    y = np.sign(X @ w)
    assert feasible(SPHERICAL, X, y)               # a teacher separates its own labels
    y2 = y.copy()
    y2[0] = -y2[0]
    X2 = np.vstack([X, X[:1]])                      # the same pattern with both labels
    assert not feasible(SPHERICAL, X2, np.concatenate([y, -y[:1]]))


def test_spherical_probability_matches_cover():
    # LP feasibility against Cover's exact finite-N probability, cell by cell (exact binomial
    # tests, Bonferroni at level 0.01) and in total
    alphas = np.linspace(1.4, 2.6, 7)
    seeds = 100
    rep = capacity_scan(SPHERICAL, sizes=[20, 40], alphas=alphas, seeds=seeds)
    assert rep.success
    cells = rep.p.size
    for p, pe in zip(rep.p.ravel(), rep.p_exact.ravel()):
        k = int(round(p * seeds))
        assert binomtest(k, seeds, min(max(pe, 1e-12), 1 - 1e-12)).pvalue > 0.01 / cells
    total = rep.p.sum() * seeds
    mean = rep.p_exact.sum() * seeds
    sd = math.sqrt(np.sum(seeds * rep.p_exact * (1 - rep.p_exact)))
    assert abs(total - mean) < 4 * sd
    assert rep.alpha_c == pytest.approx(2.0, rel=1e-12)


def test_binary_probability_crosses_near_krauth_mezard():
    rep = capacity_scan(BINARY, sizes=[10, 14, 18], alphas=np.linspace(0.5, 1.3, 9), seeds=40)
    assert rep.alpha_c == pytest.approx(0.833, abs=2e-3)     # Krauth & Mezard 1989
    # finite-N crossings lie within 0.15 of the RS capacity (they approach it slowly from above)
    assert np.all(np.abs(rep.crossing - rep.alpha_c) < 0.15), rep.crossing


def test_capacity_input_errors():
    with pytest.raises(ValueError, match="margin"):
        simulate_capacity(replica.gardner.GardnerVolume(prior="spherical", margin=0.5), 10, [1.0])
    with pytest.raises(ValueError, match="N"):
        simulate_capacity(BINARY, 40, [1.0])
    with pytest.raises(ValueError, match="alphas"):
        simulate_capacity(SPHERICAL, 10, [-1.0])
    with pytest.raises(ValueError, match="model"):
        simulate_capacity(replica.BayesOptimalGLM(), 10, [1.0])
    with pytest.raises(ValueError, match="alphas"):
        capacity_scan(SPHERICAL, sizes=[10], alphas=[2.0, 1.0], seeds=3)
    with pytest.raises(ValueError, match="sizes"):
        capacity_scan(BINARY, sizes=[30], alphas=[0.5, 1.0], seeds=3)


@pytest.mark.slow
def test_spherical_capacity_acceptance():
    # issue 6 acceptance: P(separable) crosses 1/2 near alpha = 2 and sharpens with N
    rep = capacity_scan(SPHERICAL, sizes=[25, 50, 100, 200], alphas=np.linspace(1.5, 2.5, 11), seeds=100)
    print(rep.message, rep.crossing, rep.width)
    assert abs(rep.crossing_largest - 2.0) < 4 * rep.crossing_err_largest + 0.02
    assert rep.sharpening and rep.width[-1] < 0.6 * rep.width[0]

"""Perceptron capacity at finite N against Cover's count and the replica capacity.

Cover, IEEE Trans. EC-14, 326 (1965); Gardner, J. Phys. A 21, 257 (1988).
"""

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize
from scipy.stats import binomtest, norm

import replica.gardner
from validation.capacity import (capacity_scan, cover_probability, feasible, max_stability,
                                 simulate_capacity)

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
    model = replica.gardner.GardnerVolume(prior="rademacher", margin=kappa)
    W = np.array(list(itertools.product([-1.0, 1.0], repeat=N)))
    for _ in range(20):
        X = rng.standard_normal((n, N))
        y = rng.choice([-1.0, 1.0], size=n)
        # storable: some w in {-1, 1}^N with y w.x / sqrt N >= kappa for every pattern
        brute = bool(np.any(np.all((X * y[:, None]) @ W.T / math.sqrt(N) >= kappa, axis=0)))
        assert feasible(model, X, y) == brute


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
    # the Monte Carlo error estimate of p is the largest binomial standard error; Cover's exact
    # probability is 1/2 at alpha = 2 (n = 2N), where sqrt(p(1 - p)/seeds) peaks at 0.05, and
    # p(1 - p) is flat there (within 1 % for |p - 1/2| <= 0.05, i.e. one standard error)
    assert rep.error_estimate["p"] == pytest.approx(
        np.max(np.sqrt(rep.p_exact * (1 - rep.p_exact) / seeds)), rel=0.02)
    assert rep.error_estimate["crossing"] == pytest.approx(np.nanmax(rep.crossing_err))


def test_binary_probability_crosses_near_krauth_mezard():
    rep = capacity_scan(BINARY, sizes=[10, 14, 18], alphas=np.linspace(0.5, 1.3, 9), seeds=40)
    assert rep.alpha_c == pytest.approx(0.833, abs=2e-3)     # Krauth & Mezard 1989
    # finite-N crossings lie within 0.15 of the RS capacity (they approach it slowly from above)
    assert np.all(np.abs(rep.crossing - rep.alpha_c) < 0.15), rep.crossing


def test_capacity_input_errors():
    with pytest.raises(ValueError, match="margin"):
        simulate_capacity(replica.gardner.GardnerVolume(prior="spherical", margin=-0.5), 10, [1.0])
    with pytest.raises(ValueError, match="margin"):
        capacity_scan(replica.gardner.GardnerVolume(prior="spherical", margin=-0.1), sizes=[10],
                      alphas=[1.0, 2.0], seeds=3)
    with pytest.raises(ValueError, match="margin"):
        feasible(replica.gardner.GardnerVolume(prior="spherical", margin=-0.1),
                 np.ones((3, 2)), np.ones(3))
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
    # P(separable) crosses 1/2 near alpha = 2 (Cover, IEEE Trans. EC-14, 326 (1965): exactly 1/2 at
    # P = 2N) and the crossing sharpens with N
    rep = capacity_scan(SPHERICAL, sizes=[25, 50, 100, 200], alphas=np.linspace(1.5, 2.5, 11), seeds=100)
    print(rep.message, rep.crossing, rep.width)
    assert abs(rep.crossing_largest - 2.0) < 4 * rep.crossing_err_largest + 0.02
    assert rep.sharpening and rep.width[-1] < 0.6 * rep.width[0]


# -- spherical perceptron at margin kappa > 0 ----------------------------------------------------
def _svm_margin(A):
    """Independent hard-margin SVM: min |w|^2 s.t. A w >= 1 by scipy's SLSQP; gamma* = 1/|w|."""
    n, N = A.shape
    w0 = np.linalg.lstsq(A, np.ones(n), rcond=None)[0] * 2.0
    res = minimize(lambda w: 0.5 * w @ w, w0, jac=lambda w: w, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda w: A @ w - 1.0, "jac": lambda w: A}],
                   options={"ftol": 1e-12, "maxiter": 1000})
    assert res.success and np.min(A @ res.x) > 1.0 - 1e-8
    return 1.0 / np.linalg.norm(res.x)


@pytest.mark.parametrize("seed", range(6))
def test_max_stability_brackets_the_svm_margin(seed):
    rng = np.random.default_rng(seed)
    N = 8
    n = 6 + seed           # alpha from 0.75 to 1.4: separable with high probability
    X = rng.standard_normal((n, N))
    y = rng.choice([-1.0, 1.0], n)
    lo, hi, w, sweeps = max_stability(X, y, tol=1e-11)
    assert lo <= hi and hi - lo <= 1e-10 * hi
    assert np.sum(w * w) == pytest.approx(N, rel=1e-12)
    assert np.min(y * (X @ w)) / math.sqrt(N) == pytest.approx(lo, rel=1e-12)   # lo: its witness
    gamma = _svm_margin(X * y[:, None])
    assert lo - 1e-6 <= gamma <= hi + 1e-6       # SLSQP to ftol 1e-12
    # decisions at kappa below, at and above gamma*
    for kappa, want in ((0.9 * gamma, True), (1.1 * gamma, False)):
        model = replica.gardner.GardnerVolume(prior="spherical", margin=kappa)
        assert feasible(model, X, y) is want


def test_non_separable_instance_is_infeasible_at_every_positive_margin():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 4))
    y = rng.choice([-1.0, 1.0], 12)
    X = np.vstack([X, X[:1]])                 # the same pattern with both labels
    y = np.concatenate([y, -y[:1]])
    assert not feasible(SPHERICAL, X, y)
    for kappa in (1e-3, 0.1, 1.0):
        assert feasible(replica.gardner.GardnerVolume(prior="spherical", margin=kappa), X, y) is False
    lo, hi, _, _ = max_stability(X, y, kappa=0.01)
    assert lo <= 0.0 and hi < 0.01           # certified: gamma* <= hi < kappa


def test_max_stability_agrees_with_the_lp_at_zero_margin():
    # the same samples decided by the LP (kappa = 0) and by the max-stability bracket: separable
    # instances reach a witness lo > 0; non-separable ones keep lo <= 0 while the weak-duality
    # bound hi falls towards 0 (it cannot certify gamma* <= 0 exactly, hence the LP at kappa = 0)
    rng = np.random.default_rng(11)
    N, n_sep, n_non = 20, 0, 0
    for alpha in (1.6, 2.0, 2.4):
        n = int(alpha * N)
        for _ in range(30):
            X = rng.standard_normal((n, N))
            y = rng.choice([-1.0, 1.0], n)
            lp = feasible(SPHERICAL, X, y)
            lo, hi, _, _ = max_stability(X, y, kappa=0.0, max_pass=200_000 if lp else 2000)
            if lp:
                n_sep += 1
                assert lo > 0.0
            else:
                n_non += 1
                assert lo <= 0.0 and hi < 0.02
    assert n_sep > 15 and n_non > 15


def _gardner_alpha_c(kappa):
    """Gardner, J. Phys. A 21, 257 (1988), the capacity (eq. 24 as cited in replica/gardner.py):
    1/alpha_c = int_{-kappa}^inf Dt (t + kappa)^2, by adaptive quadrature (not the closed form)."""
    return 1.0 / quad(lambda t: norm.pdf(t) * (t + kappa) ** 2, -kappa, np.inf, epsabs=1e-13)[0]


@pytest.mark.parametrize("kappa", [0.5, 1.0])
def test_spherical_margin_probability_crosses_near_gardner(kappa):
    # P(gamma* >= kappa) at N = 25 ... 200 (100 instances per point) crosses 1/2 within 4 standard
    # errors (+0.02 for the finite-size shift) of alpha_c(kappa) and sharpens with N.
    # Measured: kappa = 0.5 (alpha_c = 0.9612): crossings 0.969, 0.979, 0.948, 0.969 +- 0.011,
    # widths 0.43, 0.30, 0.25, 0.17; kappa = 1 (alpha_c = 0.5196): 0.518, 0.524, 0.521, 0.521 +- 0.007
    model = replica.gardner.GardnerVolume(prior="spherical", margin=kappa)
    ac = _gardner_alpha_c(kappa)
    rep = capacity_scan(model, sizes=[25, 50, 100, 200], alphas=ac * np.linspace(0.6, 1.4, 17),
                        seeds=100)
    assert rep.success and rep.n_undecided == 0
    assert rep.alpha_c == pytest.approx(ac, rel=1e-9)
    assert abs(rep.crossing_largest - ac) < 4 * rep.crossing_err_largest + 0.02, rep.crossing
    assert rep.sharpening and rep.width[-1] < 0.6 * rep.width[0], rep.width
    assert np.all(np.isnan(rep.p_exact))


# -- max-stability bracket: witness, bounds, undecided instances -------------------------------------
@pytest.mark.parametrize("max_pass", [3, 7, 20])
def test_max_stability_returns_the_witness_of_lo(max_pass):
    # lo is the best stability over the sweeps; the returned w must be the iterate that attained
    # it (before the fix w was the last iterate: N = 30, n = 28, seed 186 gave lo = 0.1948 but a
    # witness of stability 0.1758)
    N, n = 30, 28
    for seed in range(200):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, N))
        y = rng.choice([-1.0, 1.0], n)
        lo, hi, w, sweeps = max_stability(X, y, max_pass=max_pass)
        assert sweeps <= max_pass and lo <= hi
        assert np.sum(w * w) == pytest.approx(N, rel=1e-12)
        gamma_w = np.min(y * (X @ w)) / math.sqrt(N)
        assert gamma_w == pytest.approx(lo, rel=1e-12, abs=1e-14), (seed, lo, gamma_w)


def test_max_stability_checks_its_input():
    X = np.random.default_rng(0).standard_normal((5, 4))
    y = np.ones(5)
    for tol in (0.0, -1e-3, 1.0, math.nan):
        with pytest.raises(ValueError, match="tol"):
            max_stability(X, y, tol=tol)
    for max_pass in (0, -3, 2.5):
        with pytest.raises(ValueError, match="max_pass"):
            max_stability(X, y, max_pass=max_pass)
    with pytest.raises(ValueError, match="X"):
        max_stability(X.ravel(), y)
    with pytest.raises(ValueError, match="X"):
        max_stability(X[None], y)
    with pytest.raises(ValueError, match="y"):
        max_stability(X, np.ones(4))


def _margin_model():
    return replica.gardner.GardnerVolume(prior="spherical", margin=0.5)


def test_undecided_instances_make_the_run_unsuccessful():
    # at alpha_c(0.5) = 0.961 one sweep of dual coordinate descent cannot decide gamma* >= 0.5
    model = _margin_model()
    run = simulate_capacity(model, 40, [0.2, 0.96, 0.97], seed=1, max_pass=1)
    assert run.n_undecided > 0 and np.isnan(run.feasible).sum() == run.n_undecided
    assert not run.success and run.status != 0
    assert f"{run.n_undecided} of 3 instances undecided" in run.message
    full = simulate_capacity(model, 40, [0.2, 0.96, 0.97], seed=1)
    assert full.success and full.status == 0 and full.n_undecided == 0
    # the decided instances agree with the uncapped run
    ok = np.isfinite(run.feasible)
    assert np.array_equal(run.feasible[ok], full.feasible[ok])
    rep = capacity_scan(model, sizes=[20, 40], alphas=[0.9, 1.0], seeds=3, max_pass=1)
    assert rep.n_undecided > 0 and not rep.success and rep.status != 0
    assert f"{rep.n_undecided} instances undecided" in rep.message
    assert np.all(np.isfinite(rep.p) | np.isnan(rep.p))
    with pytest.raises(ValueError, match="max_pass"):
        simulate_capacity(model, 40, [1.0], max_pass=0)


def test_feasible_returns_none_when_not_certified(monkeypatch):
    import validation.capacity as cap

    model = _margin_model()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 20))
    y = rng.choice([-1.0, 1.0], 10)
    kappa = model.margin
    # a bracket claiming feasibility whose witness fails the floating-point recheck: undecided
    monkeypatch.setattr(cap, "max_stability",
                        lambda X, y, **kw: (kappa, 2 * kappa, -np.ones(X.shape[1]), 1))
    assert cap.feasible(model, X, y) is None
    # a tie: gamma* within 1e-12 of kappa, not certified either way
    w = np.ones(X.shape[1])
    monkeypatch.setattr(cap, "max_stability",
                        lambda X, y, **kw: (kappa * (1 - 1e-13), kappa * (1 + 1e-13), w, 1))
    assert cap.feasible(model, X, y) is None
    # a certified bound below kappa decides False
    monkeypatch.setattr(cap, "max_stability", lambda X, y, **kw: (0.1, 0.4, w, 1))
    assert cap.feasible(model, X, y) is False

"""dmft.scaling: the dynamical model of neural scaling laws (Bordelon, Atanasov & Pehlevan,
ICML 2024, arXiv:2402.01092) -- limits, independent closed forms and the stated exponents."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dmft
from dmft import (LinearRegressionGF, RandomFeatureScaling, limit_loss, mp_error, mp_train_loss,
                  scaling_loss)
from dmft.scaling import compute_optimal, fit_exponent, paper_exponents, spectral_edge
from lmech import Status


def _power(M, a, b):
    k = np.arange(1, M + 1, dtype=float)
    return k ** -b, k ** -a


# -- N, P -> infinity: population gradient flow ---------------------------------------------
@pytest.mark.parametrize("a,b", [(1.5, 1.25), (2.0, 0.8)])
def test_population_flow_closed_form(a, b):
    # N = P = infinity: L(t) = sum_k lam_k w*_k^2 e^{-2 lam_k t} (each mode decays at its own rate)
    m = RandomFeatureScaling(N=0, P=0, a=a, b=b, M=2000)
    t = np.concatenate([[0.0], np.geomspace(1e-2, 1e4, 25)])
    r = scaling_loss(m, t, rtol=1e-9)
    assert r.success and r.status == Status.CONVERGED
    lam, pw = m.spectrum()
    exact = np.array([np.sum(pw * np.exp(-2 * lam * s)) for s in t])
    # the guarantee: rtol |L| + atol, atol = 1e-12 L(0) by default
    assert np.all(np.abs(r.arrays["loss"] - exact) <= 1e-9 * exact + 1e-12 * exact[0])
    # the error estimate bounds the actual error, above the rounding floor atol = 1e-12 L(0)
    assert np.all(np.abs(r.arrays["loss"] - exact) <= r.arrays["loss_err"] + 1e-12 * exact[0])


def test_population_ridge_and_noise_closed_form():
    # N = P = infinity with weight decay r and noise s2: each mode relaxes to lam w*/(lam + r)
    # at rate lam + r, so L = sum_k lam_k w_k^2 (r + lam_k e^{-(lam_k + r) t})^2/(lam_k + r)^2 + s2
    r_, s2 = 0.05, 0.2
    m = RandomFeatureScaling(N=0, P=0, a=1.5, b=1.0, M=500, ridge=r_, noise=s2)
    t = np.geomspace(1e-1, 1e3, 12)
    res = scaling_loss(m, t)
    lam, pw = m.spectrum()
    exact = np.array([np.sum(pw * (r_ + lam * np.exp(-(lam + r_) * s)) ** 2 / (lam + r_) ** 2) + s2
                      for s in t])
    assert res.success
    assert np.all(np.abs(res.arrays["loss"] - exact) <= 1e-8 * exact)


def test_population_gradient_descent_closed_form():
    # discrete GD, N = P = infinity: L_n = sum_k lam_k w_k^2 (1 - lr lam_k)^(2n), few and many steps
    lr = 0.7
    m = RandomFeatureScaling(N=0, P=0, a=1.5, b=1.25, M=400, lr=lr)
    n = np.array([1, 2, 5, 12, 40, 150, 1000, 10_000])
    res = scaling_loss(m, lr * n)
    lam, pw = m.spectrum()
    exact = np.array([np.sum(pw * (1 - lr * lam) ** (2 * k)) for k in n])
    assert res.success
    assert np.all(np.abs(res.arrays["loss"] - exact) <= 1e-8 * exact)


def test_large_N_P_converge_to_population_at_rate_one_over_N():
    # early in training the finite-width/finite-data corrections are O(1/N + 1/P)
    # (Bordelon et al. 2024, Sec. 5: "early time ... 1/width"): the deviation halves with N = P doubled
    t = np.array([0.5, 2.0])
    pop = scaling_loss(RandomFeatureScaling(N=0, P=0, M=3000), t).arrays["loss"]
    dev = [scaling_loss(RandomFeatureScaling(N=n, P=n, M=3000), t).arrays["loss"] - pop
           for n in (2000, 4000, 8000)]
    order = np.log2(np.abs(dev[0] / dev[1])), np.log2(np.abs(dev[1] / dev[2]))
    for o in order:
        assert np.all(np.abs(o - 1.0) < 0.1)  # declared order 1 (1/N), fitted


# -- t -> infinity: ridge / ridgeless regression --------------------------------------------
def test_infinite_width_isotropic_matches_marchenko_pastur_at_all_times():
    # N = infinity, isotropic Lambda = I_M: least-squares gradient flow on P Gaussian samples,
    # whose exact risk is the Marchenko-Pastur average of dmft.linreg.mp_error (independent code)
    M, P, r2 = 400, 600, 1.3
    for ridge in (0.0, 0.1):
        m = RandomFeatureScaling(N=0, P=P, eigenvalues=np.ones(M), task_power=np.full(M, r2 / M),
                                 ridge=ridge)
        ref_model = LinearRegressionGF(alpha=P / M, signal=r2, ridge=ridge)
        t = np.array([0.3, 1.0, 3.0, 10.0, 100.0])
        res = scaling_loss(m, t)
        ref = np.array([mp_error(ref_model, s) for s in t])
        assert res.success
        assert np.all(np.abs(res.arrays["loss"] - ref) <= 1e-8 * ref + 1e-10)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(alpha=st.floats(0.3, 5.0), ridge=st.sampled_from([0.0, 1e-3, 0.3]),
       noise=st.floats(0.0, 1.0), t=st.floats(0.01, 1e4))
def test_infinite_width_isotropic_matches_marchenko_pastur_hypothesis(alpha, ridge, noise, t):
    # across P/M (both sides of the interpolation threshold), ridge, noise and time:
    # N = infinity, Lambda = I_M against the MP average of dmft.linreg.mp_error; the test loss
    # here includes the noise variance, |beta - beta*|^2 there does not
    M = 200
    P = alpha * M
    m = RandomFeatureScaling(N=0, P=P, eigenvalues=np.ones(M), task_power=np.full(M, 1.0 / M),
                             ridge=ridge, noise=noise)
    ref = mp_error(LinearRegressionGF(alpha=P / M, signal=1.0, ridge=ridge, noise=noise), t) + noise
    res = scaling_loss(m, [t])
    assert res.success
    assert abs(res.arrays["loss"][0] - ref) <= 1e-8 * ref + 1e-12 * res.scalars["loss_0"]


@pytest.mark.parametrize("alpha,noise", [(1.5, 0.0), (0.6, 0.2)])
def test_training_loss_matches_marchenko_pastur(alpha, noise):
    # N = infinity, Lambda = I_M: the training loss |y - X w|^2/P is twice dmft.linreg.mp_train_loss
    # (|y - X beta|^2/(2n)), an independent MP average, on both sides of P = M
    M = 300
    m = RandomFeatureScaling(N=0, P=alpha * M, eigenvalues=np.ones(M), task_power=np.full(M, 1.3 / M),
                             noise=noise)
    t = np.array([0.0, 0.3, 1.0, 3.0, 10.0, 100.0])
    res = scaling_loss(m, t, train=True)
    ref = np.array([2 * mp_train_loss(LinearRegressionGF(alpha=alpha, signal=1.3, noise=noise), s)
                    for s in t])
    assert res.success
    assert np.all(np.abs(res.arrays["train_loss"] - ref) <= 1e-8 * ref + 1e-12 * res.scalars["loss_0"])


def test_training_loss_gradient_descent_population_of_the_gram():
    # gradient descent, N = infinity, Lambda = I_M, no noise: the residual after n steps is
    # (1 - lr G)^n y with y = X w*, so L_train(n) = w*^T S (1 - lr S)^(2n) w* (S = X^T X/P) and, at
    # n = 1, E = |w*|^2 E_MP[s (1 - lr s)^2] = 1 - 2 lr (1 + g) + lr^2 (1 + 3g + g^2) with the
    # Marchenko-Pastur moments E s = 1, E s^2 = 1 + g, E s^3 = 1 + 3g + g^2 (g = M/P, |w*| = 1)
    M, P, lr = 200, 400, 0.2
    g = M / P
    m = RandomFeatureScaling(N=0, P=P, eigenvalues=np.ones(M), task_power=np.full(M, 1.0 / M), lr=lr)
    res = scaling_loss(m, [lr], train=True)
    expected = 1 - 2 * lr * (1 + g) + lr ** 2 * (1 + 3 * g + g ** 2)
    assert res.success
    assert res.arrays["train_loss"][0] == pytest.approx(expected, rel=1e-8)


def test_ridgeless_random_features_limit_is_ols_in_a_random_subspace():
    # Isotropic Lambda = I_M, N < P, ridge 0, no noise.  Conditional on A the student is OLS on N
    # Gaussian features; the part of w* outside the random N-dim row space of A (expected fraction
    # 1 - N/M) acts as independent Gaussian noise, and OLS with N < P inflates the noise by
    # 1/(1 - N/P) (E test error of OLS = s2 (1 + N/(P - N - 1)) for Gaussian designs, -> 1/(1 - N/P)).
    M, N, P, r2 = 500, 100, 300, 2.0
    m = RandomFeatureScaling(N=N, P=P, eigenvalues=np.ones(M), task_power=np.full(M, r2 / M))
    expected = r2 * (1 - N / M) / (1 - N / P)
    assert limit_loss(m) == pytest.approx(expected, rel=1e-10)
    # and the dynamics relax to it (the spectrum has a gap: exponential convergence)
    res = scaling_loss(m, np.array([1e3, 1e4]))
    assert res.success
    assert res.arrays["loss"][-1] == pytest.approx(expected, rel=1e-8)


def test_ridge_dynamics_relax_to_the_static_ridge_limit():
    # with weight decay the flow converges exponentially to the ridge estimator; the contour
    # inversion at large t and the final-value formula are two independent code paths
    m = RandomFeatureScaling(N=300, P=200, a=1.5, b=1.25, M=2000, ridge=1e-2, noise=0.05)
    res = scaling_loss(m, np.array([1e4, 1e5]))
    assert res.success
    assert res.arrays["loss"][-1] == pytest.approx(limit_loss(m), rel=1e-8)
    assert res.scalars["loss_inf"] == pytest.approx(limit_loss(m), rel=1e-14)


@pytest.mark.parametrize("kw", [dict(N=300, P=100), dict(N=100, P=300, ridge=1e-2, noise=0.1)])
def test_late_times_reach_the_final_value(kw):
    # kappa(0) > 0 (P < N ridgeless: the data-limited gap; or weight decay): at t = 1e9 the
    # transient is below e^{-1e5} and L(t) must equal the t -> infinity limit; the contour nodes
    # then crowd within 1/t of 0 while kappa stays O(1), the case the cancellation-free pairs handle
    m = RandomFeatureScaling(a=1.5, b=1.25, M=1000, **kw)
    res = scaling_loss(m, np.array([1e7, 1e9]))
    assert res.success
    assert np.all(np.abs(res.arrays["loss"] - limit_loss(m)) <= 1e-8 * limit_loss(m) + 1e-12 * res.scalars["loss_0"])


def test_interpolation_peak_is_infinite():
    assert limit_loss(RandomFeatureScaling(N=100, P=100, M=1000)) == math.inf


# -- exponents (Bordelon, Atanasov & Pehlevan 2024, Sec. 4) -----------------------------------
A_, B_ = 2.0, 1.5  # a - 1 = 1 < b: the regime where every stated bottleneck exponent is a - 1 or (a-1)/b


def _window_slopes(f, windows):
    out = []
    for lo in windows:
        x = np.geomspace(lo, 10 * lo, 5)
        out.append(fit_exponent(x, [f(v) for v in x])[0])
    return np.array(out)


@pytest.mark.parametrize("which", ["model", "data"])
def test_bottleneck_exponents_converge_to_the_stated_ones(which):
    # t -> infinity with one of N, P infinite: L ~ N^-(a-1) (model), P^-(a-1) (data).  The stated
    # exponents are asymptotic: the local slope over a decade must approach them as the decade moves
    # up (M = 10^6 modes keeps the truncation of the spectrum far above the decades used).
    lam, pw = _power(10 ** 6, A_, B_)
    e = paper_exponents(A_, B_)[which]

    def f(n):
        kw = {"N": n, "P": 0} if which == "model" else {"N": 0, "P": n}
        return limit_loss(RandomFeatureScaling(eigenvalues=lam, task_power=pw, **kw))

    s = _window_slopes(f, [10, 100])
    assert abs(s[1] - e) < abs(s[0] - e) / 3  # converging at least threefold per decade
    assert abs(s[1] - e) < 0.03 * e


def test_model_bottleneck_exponent_when_the_task_is_easy():
    # a - 1 > b: the theory's model bottleneck is N^-b, not the stated N^-min(a-1, 2b) (here 3):
    # u(rho_0) = sum_k k^-a rho_0/(k^-b + rho_0) = rho_0 sum_k k^(b-a) (1 + O(rho_0^((a-1-b)/b))),
    # rho_0 ~ N^-b from D(rho_0) = N; the relative corrections are O(N^-(a-1-b)) = O(N^-1.5) and
    # O(1/N) from the discreteness of D, below 1% at N >= 100.  (Exact finite-size training agrees:
    # the projection error of the simulation at a = 4, b = 1.5 falls as N^-1.6 for N = 100..400.)
    a, b = 4.0, 1.5
    lam, pw = _power(10 ** 6, a, b)
    x = np.geomspace(100, 1000, 5)
    s = fit_exponent(x, [limit_loss(RandomFeatureScaling(eigenvalues=lam, task_power=pw, N=n, P=0))
                         for n in x])[0]
    assert abs(s - b) < 0.03 * b
    assert abs(s - paper_exponents(a, b)["model"]) > 1.0


def test_time_exponent_at_large_width_and_data():
    # time bottleneck L ~ t^-(a-1)/b while t^(1/b) << N, P: slope over t in [10, 100] at N = P = 10^4
    # and 10^5 approaches (a-1)/b as N = P grows
    lam, pw = _power(2 * 10 ** 5, A_, B_)
    e = paper_exponents(A_, B_)["time"]
    s = []
    for n in (1e4, 1e5):
        r = scaling_loss(RandomFeatureScaling(eigenvalues=lam, task_power=pw, N=n, P=n),
                         np.geomspace(10, 100, 5))
        assert r.success
        s.append(fit_exponent(r.arrays["t"], r.arrays["loss"])[0])
    assert abs(s[1] - e) < abs(s[0] - e) / 3
    assert abs(s[1] - e) < 0.01 * e


@pytest.mark.slow
def test_compute_optimal_exponent():
    # L*(C) ~ C^-(a-1)/(1+b), N* ~ C^1/(1+b) at C = N t, P infinite (the compute-optimal rule)
    lam, pw = _power(2 * 10 ** 5, A_, B_)
    m = RandomFeatureScaling(eigenvalues=lam, task_power=pw, P=0)
    pe = paper_exponents(A_, B_)
    res = compute_optimal(m, np.geomspace(1e3, 1e6, 7), np.geomspace(10, 1e4, 31))
    assert res.success
    assert abs(res.scalars["exponent"] - pe["compute"]) < 0.05 * pe["compute"]
    assert abs(res.scalars["N_exponent"] - pe["N_opt"]) < 0.1 * pe["N_opt"]


def test_paper_exponents_table():
    # a - 1 < 2b: L*(C) ~ C^-(a-1)/(1+b), N* ~ C^1/(1+b), t* ~ C^b/(1+b)
    pe = paper_exponents(1.5, 1.25)
    assert pe["compute"] == pytest.approx(0.5 / 2.25)
    assert pe["N_opt"] == pytest.approx(1 / 2.25)
    assert pe["t_opt"] == pytest.approx(1.25 / 2.25)
    assert pe["time"] == pytest.approx(0.4)


def test_spectral_edge_marchenko_pastur():
    # N = infinity, isotropic: the kernel is a Wishart matrix, top edge (1 + sqrt(M/P))^2
    M, P = 300, 1200
    m = RandomFeatureScaling(N=0, P=P, eigenvalues=np.ones(M), task_power=np.ones(M) / M)
    assert spectral_edge(m) == pytest.approx((1 + math.sqrt(M / P)) ** 2, rel=1e-8)


# -- failure is data, bad input raises ------------------------------------------------------------
def test_gd_with_oscillating_modes_is_reported():
    m = RandomFeatureScaling(N=0, P=0, M=100, lr=1.5)
    res = scaling_loss(m, np.array([1.5, 3.0]))
    assert not res.success and res.status == Status.INVALID_STATE
    assert "lr" in res.message


@pytest.mark.parametrize("kw,match", [({"N": -1}, "^N"), ({"a": 1.0}, "^a"), ({"M": 0}, "^M"),
                                      ({"eigenvalues": [1.0]}, "task_power"),
                                      ({"eigenvalues": [1.0, -1], "task_power": [1, 1]}, "eigenvalues")])
def test_bad_model(kw, match):
    with pytest.raises(ValueError, match=match):
        RandomFeatureScaling(**kw)


def test_bad_options():
    m = RandomFeatureScaling(M=10)
    with pytest.raises(ValueError, match="^t must"):
        scaling_loss(m, [2.0, 1.0])
    with pytest.raises(ValueError, match="^rtol"):
        scaling_loss(m, [1.0], rtol=0.0)
    with pytest.raises(ValueError, match="multiples of lr"):
        scaling_loss(RandomFeatureScaling(M=10, lr=0.3), [1.0])
    with pytest.raises(TypeError):
        scaling_loss(m, [1.0], dt=0.1)
    with pytest.raises(ValueError, match="^train"):
        scaling_loss(RandomFeatureScaling(M=10, P=20, ridge=0.1), [1.0], train=True)
    with pytest.raises(ValueError, match="^x, y must be > 0"):
        fit_exponent([1.0, 2.0, 3.0], [1.0, -1.0, 0.5])


def test_exported():
    assert dmft.RandomFeatureScaling is RandomFeatureScaling
    assert dmft.scaling_loss is scaling_loss

"""Max-margin classifier (hinge loss, lambda = 0): Gardner's maximal-stability perceptron with a teacher.

References
----------
- M. Opper, W. Kinzel, J. Kleinz, R. Nehl, "On the ability of the optimal perceptron to
  generalise", J. Phys. A 23, L581 (1990): generalisation error of the maximally stable
  perceptron, epsilon ~ 0.5005 / alpha at large alpha.
- M. Opper, D. Haussler, "Generalization performance of Bayes optimal classification algorithm
  for learning a perceptron", Phys. Rev. Lett. 66, 2677 (1991): Bayes-optimal epsilon ~ 0.442 / alpha,
  Gibbs learning epsilon ~ 0.625 / alpha.
- A. Engel, C. Van den Broeck, *Statistical Mechanics of Learning* (CUP, 2001): Gibbs learning
  (ch. 2), maximal stability and the Bayes rule (ch. 3, "A choice of learning rules"), whose
  large-alpha coefficients 0.625, 0.5005 and 0.442 are those quoted above.  (Chapter numbers as
  recalled; the book's equation numbers could not be checked here: the test rests on the two
  papers' values and on the independent alpha -> inf limit derived below.)
"""

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import Phase, given, settings, strategies as st

import replica


def _mm(channel="sign"):
    return replica.ERM("hinge", 0.0, "gaussian", channel)


def _fit_coefficient(alphas, errors):
    """Least-squares fit of alpha * e(alpha) = c0 + c1/alpha + c2/alpha**2; returns c0."""
    a = np.asarray(alphas, float)
    y = a * np.asarray(errors, float)
    A = np.stack([np.ones_like(a), 1 / a, 1 / a ** 2], axis=1)
    return np.linalg.lstsq(A, y, rcond=None)[0][0]


ALPHAS = [200.0, 400.0, 800.0, 1600.0, 3200.0]


def test_max_margin_large_alpha_coefficient():
    res = [replica.solve(_mm(), a) for a in ALPHAS]
    assert all(r.success for r in res)
    c0 = _fit_coefficient(ALPHAS, [r.test_error for r in res])
    # published (Opper et al. 1990; Engel & Van den Broeck 2001): 0.5005, quoted to 4 digits
    assert abs(c0 - 0.5005) <= 5e-5
    # independent: as alpha -> inf the RS equations in the scaled variables x = alpha sin(theta),
    # k = kappa / sin(theta) become x g(k) = sqrt(pi/2) and 1 = 2 x phi(0) G3(k) / 3 with
    # g(k) = k Phi(k) + phi(k), G3(k) = (k^3 + 3k) Phi(k) + (k^2 + 2) phi(k); eliminating x gives
    # k^3 Phi(k) + (k^2 - 1) phi(k) = 0 and alpha * epsilon -> 1 / (sqrt(2 pi) g(k)).
    mp.mp.dps = 30
    Phi = lambda k: mp.ncdf(k)  # noqa: E731
    phi = lambda k: mp.npdf(k)  # noqa: E731
    k = mp.findroot(lambda k: k ** 3 * Phi(k) + (k * k - 1) * phi(k), 0.6)
    exact = float(1 / (mp.sqrt(2 * mp.pi) * (k * Phi(k) + phi(k))))
    assert abs(c0 - exact) <= 1e-7
    assert abs(res[-1].test_error * ALPHAS[-1] - exact) <= 2.0 / ALPHAS[-1] * 1e-2


def test_bayes_and_gibbs_large_alpha_coefficients():
    model = replica.BayesOptimalGLM(replica.Gaussian(1.0), replica.Sign())
    res = [replica.solve(model, a) for a in ALPHAS]
    assert all(r.success for r in res)
    # Opper & Haussler (1991): Bayes 0.442/alpha, Gibbs 0.625/alpha, quoted to 3 digits
    assert abs(_fit_coefficient(ALPHAS, [r.eg_bayes for r in res]) - 0.442) <= 5e-4
    assert abs(_fit_coefficient(ALPHAS, [r.eg_gibbs for r in res]) - 0.625) <= 5e-4
    # max-margin lies between them (Engel & Van den Broeck, ch. 3)
    mm = replica.solve(_mm(), ALPHAS[0])
    assert res[0].eg_bayes < mm.test_error < res[0].eg_gibbs


def _equations_mpmath(alpha, m, q, rho=1.0, delta=0.0, eps=0.0):
    """The lambda -> 0 hinge saddle point of Aubin et al. (NeurIPS 2020, eqs. 11-12) in the
    original variables (m, q) and xi ~ N(0, 1), integrated by mpmath: returns the residuals of
    m = rho (mhat V), q = rho (mhat V)^2 + qhat V^2 and the value lambda V = 1 - Vhat V.
    Prox at lambda = 0: t = 1 on y omega < 1, so f_out V = y (1 - y omega)_+."""
    mp.mp.dps = 30
    m, q = mp.mpf(m), mp.mpf(q)
    sq = mp.sqrt(q)
    s0 = mp.sqrt(rho - m * m / q + delta)
    c = 1 - 2 * mp.mpf(eps)
    u = lambda x: m * x / sq / s0  # noqa: E731
    z0 = lambda y, x: eps + c * mp.ncdf(y * u(x))  # noqa: E731
    pts = sorted({-mp.inf, -1 / sq, 0, 1 / sq, mp.inf} | {s * 4 * s0 * sq / abs(m) * f for s in (-1, 1)
                                                         for f in (0.25, 1)})
    mv = mp.quad(lambda x: mp.npdf(x) * c * mp.npdf(u(x)) / s0
                 * (max(0, 1 - sq * x) + max(0, 1 + sq * x)), pts)
    qv = mp.quad(lambda x: mp.npdf(x) * (z0(1, x) * max(0, 1 - sq * x) ** 2
                                         + z0(-1, x) * max(0, 1 + sq * x) ** 2), pts)
    vv = mp.quad(lambda x: mp.npdf(x) * (z0(1, x) * (1 if sq * x < 1 else 0)
                                         + z0(-1, x) * (1 if -sq * x < 1 else 0)), pts)
    mv, qv, vv = alpha * mv, alpha * qv, alpha * vv
    return float((rho * mv - m) / m), float((rho * mv * mv + qv - q) / q), float(1 - vv)


@pytest.mark.parametrize("alpha", [1.0, 5.0, 20.0, 50.0])
def test_max_margin_satisfies_the_saddle_point_equations_in_mpmath(alpha):
    # cold start at every alpha (alpha = 20 failed cold before the closed form)
    r = replica.solve(_mm(), alpha)
    assert r.success
    rm, rq, lamV = _equations_mpmath(alpha, r.m, r.q)
    assert abs(rm) <= 1e-12 and abs(rq) <= 1e-12
    assert lamV == pytest.approx(r.lambda_V, rel=1e-10)
    # and it is the lambda -> 0 limit of the regularised hinge (a different solver path)
    small = replica.solve(replica.ERM("hinge", 1e-7, "gaussian", "sign"), alpha) if alpha <= 5 else None
    if small is not None:
        assert small.success and small.test_error == pytest.approx(r.test_error, rel=1e-6)


@settings(max_examples=6, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
@given(alpha=st.floats(0.2, 300.0), noise=st.sampled_from(["sign", "flip", "probit"]),
       level=st.floats(0.01, 0.3))
def test_max_margin_gaussian_integrals_against_mpmath(alpha, noise, level):
    """Every solved state satisfies the equations integrated independently by mpmath, across
    alpha, label flips and probit noise; failures are only 'not separable' with kappa <= 0."""
    ch = {"sign": replica.Sign(), "flip": replica.LabelFlip(level), "probit": replica.Probit(level)}[noise]
    r = replica.solve(_mm(ch), alpha)
    delta, eps = (level, 0.0) if noise == "probit" else ((0.0, level) if noise == "flip" else (0.0, 0.0))
    if not r.success:
        # label flips and probit noise make the data non-separable above a threshold in alpha
        assert noise != "sign" and "not linearly separable" in r.message and r.margin <= 0.0
        return
    rm, rq, lamV = _equations_mpmath(alpha, r.m, r.q, delta=delta, eps=eps)
    assert abs(rm) <= 1e-11 and abs(rq) <= 1e-11
    assert abs(lamV - r.lambda_V) <= 1e-11 * max(1.0, abs(lamV)) + r.error_estimate["lambda_V"]


@pytest.mark.parametrize("alpha", [20.0, 70.0, 100.0, 1000.0])
def test_teacher_labelled_data_are_separable_at_any_alpha(alpha):
    # noiseless sign teacher: the training set is separable by the teacher itself
    r = replica.solve(_mm(), alpha)
    assert r.success and r.lambda_V > 0.0 and r.margin > 0.0
    # error estimate within the requested tolerance
    assert r.error_estimate["test_error"] <= 1e-10 * r.test_error


def test_warm_start_from_max_margin_result():
    r = replica.solve(_mm(), 5.0)
    reg = replica.solve(replica.ERM("hinge", 1e-3, "gaussian", "sign"), 5.0, init=r)
    # the warm start reaches the same saddle as the default (cold) start, to the solver's rtol
    cold = replica.solve(replica.ERM("hinge", 1e-3, "gaussian", "sign"), 5.0)
    assert reg.success and cold.success
    for k in ("m", "q", "V", "test_error"):
        assert reg.scalars[k] == pytest.approx(cold.scalars[k], rel=1e-8)


@pytest.mark.parametrize("alpha", [10.0, 30.0])
def test_small_lambda_hinge_equals_max_margin(alpha):
    # hinge at lambda = 1e-4 (V ~ 1e2): the prox regime t = omega' + V needs omega' < 1 - V, a
    # Gaussian tail below 1e-30 here, so the regularised RS solution is the max-margin one (scaled):
    # same m and q, and lambda V = 1 - V Vhat.  Two different solver routes (the iteration, with V
    # eliminated when the (m, q, V) iteration stalls, against the closed form in theta).
    mm = replica.solve(_mm(), alpha)
    h = replica.solve(replica.ERM("hinge", 1e-4, "gaussian", "sign"), alpha)
    assert mm.success and h.success, h.message
    tol = lambda k: mm.error_estimate[k] + h.error_estimate[k]  # noqa: E731
    assert abs(h.test_error - mm.test_error) <= tol("test_error")
    assert abs(h.q - mm.q) <= tol("q") and abs(h.m - mm.m) <= tol("m")
    assert h.V * 1e-4 == pytest.approx(mm.lambda_V, rel=1e-6)


def test_max_margin_n_iter_counts_brent_iterations(monkeypatch):
    # lmech.Status: n_iter is the number of passes of the solver's main loop, here Brent's
    # iterations on theta at the n_quad and 2 n_quad levels
    from scipy import optimize

    import replica.erm
    counts = []

    def brentq(*args, **kw):
        out = optimize.brentq(*args, **kw)
        if kw.get("full_output"):      # the solves that report their iterations
            counts.append(out[1].iterations)
        return out

    monkeypatch.setattr(replica.erm, "brentq", brentq)
    res = replica.solve(replica.ERM("hinge", 0.0), 3.0)
    assert res.success, res.message
    assert len(counts) == 2 and min(counts) > 0 and res.n_iter == sum(counts)

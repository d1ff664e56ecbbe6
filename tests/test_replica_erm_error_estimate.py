"""ERMResult.error_estimate: refining the computation moves every main observable by no more
than the solver's own estimate, and closed forms lie within it.

Refinement: four times the Gauss–Legendre nodes per panel and rtol = 1e-12, warm-started from
the default answer; rtol = 1e-12 is about the rounding floor of the channel sums (the max-margin route is bracketed and ignores the start)."""

import math

import pytest

import replica

CASES = [
    ("logistic", 0.1, "sign", 2.0),
    ("logistic", 1e-4, "sign", 2.0),            # V ~ 2e3: sharp prox
    ("logistic", 1e-3, "sign", 30.0),           # large alpha, small lambda
    ("logistic", 0.01, replica.LabelFlip(0.1), 10.0),
    ("hinge", 0.01, "sign", 5.0),
    ("hinge", 1e-3, replica.Probit(0.2), 3.0),
    ("square", 0.1, "sign", 1.0),
    ("square", 0.0, "sign", 0.5),               # least-norm interpolator (V = inf)
    ("square", 0.01, replica.Linear(0.3), 2.0),
    ("squared-hinge", 0.1, "sign", 2.0),
    ("hinge", 0.0, "sign", 30.0),               # max-margin
    ("hinge", 0.0, replica.LabelFlip(0.05), 2.0),
]


@pytest.mark.parametrize("loss, reg, channel, alpha", CASES)
def test_refinement_moves_the_answer_by_no_more_than_the_estimate(loss, reg, channel, alpha):
    model = replica.ERM(loss, reg, "gaussian", channel)
    r = replica.solve(model, alpha)
    assert r.success, r.message
    assert {"m", "q", "test_error", "train_loss"} <= set(r.error_estimate)
    n = min(4 * r.options["n_quad"], 200)
    fine = replica.solve(model, alpha, n_quad=n, rtol=1e-12, init=r)
    # converged (status -4 only says its own estimate is above the tiny rtol: rounding floor)
    assert fine.status in (0, -4), fine.message
    for k, est in r.error_estimate.items():
        assert math.isfinite(est)
        # the refined answer carries its own (rounding-limited) estimate: both are uncertain
        tol = est + fine.error_estimate.get(k, 0.0)
        assert abs(fine.scalars[k] - r.scalars[k]) <= tol, (k, fine.scalars[k], r.scalars[k], est)
    # success means the estimate is within the requested tolerance: rtol (|x| + |dx/dx| |x|) = 2 rtol |x|
    # for an order parameter x (solve_erm's documented criterion), rtol = 1e-10 by default
    for k in ("m", "q"):
        assert r.error_estimate[k] <= 2e-10 * abs(r.scalars[k])


@pytest.mark.parametrize("reg, alpha", [(0.01, 0.5), (0.1, 2.0), (1.0, 1.0)])
def test_ridge_error_estimate_covers_the_closed_form(reg, alpha):
    model = replica.ERM("square", reg, "gaussian", replica.Linear(0.2))
    r = replica.solve(model, alpha)
    cf = replica.ridge_closed_form(model, alpha)
    for k in ("m", "q", "V", "test_error"):
        assert abs(r.scalars[k] - cf[k]) <= r.error_estimate[k], k


def test_least_norm_error_estimate_covers_the_closed_form():
    # lambda = 0, alpha < 1, linear teacher: m = rho alpha, q = alpha rho + alpha Delta / (1 - alpha),
    # lambda V = 1 - alpha (ridge_closed_form docstring; Hastie et al., Ann. Stat. 50, 949 (2022))
    a, d = 0.4, 0.3
    r = replica.solve(replica.ERM("square", 0.0, "gaussian", replica.Linear(d)), a)
    assert r.success
    assert abs(r.m - a) <= r.error_estimate["m"]
    assert abs(r.q - (a + a * d / (1 - a))) <= r.error_estimate["q"]
    assert abs(r.lambda_V - (1 - a)) <= r.error_estimate["lambda_V"]

"""Error estimates of the replica solvers: refining the discretisation moves each answer by no
more than the solver's own ``error_estimate`` (quadrature refinement plus fixed-point residual)."""

import math

import pytest

import replica

# (model, alpha): every Gardner prior, Bayes-optimal models with closed-form, sign-family,
# discrete and sparse blocks, on both sides of the transitions
GARDNER = [("spherical", 0.0, 1.0), ("spherical", 1.0, 0.3), ("spherical", -0.5, 2.5),
           ("rademacher", 0.0, 0.5), ("rademacher", 0.0, 1.1), ("rademacher", 0.0, 1.27),
           ("rademacher", 1.0, 0.3), ("rademacher", -0.5, 2.0)]
BAYES = [("gaussian", "sign", 0.7), ("gaussian", "sign", 6.0), ("rademacher", "sign", 1.0),
         ("rademacher", "sign", 1.45), ("rademacher", replica.LabelFlip(0.05), 2.0),
         ("gaussian", replica.Probit(0.3), 2.0), (replica.GaussBernoulli(0.1), replica.Linear(1e-4), 0.3),
         ("gaussian", replica.ReLU(0.3), 1.0)]


def _ids(p):
    return "-".join(str(getattr(x, "name", x)) for x in p)


@pytest.mark.parametrize("case", GARDNER, ids=_ids)
def test_gardner_refinement_within_estimate(case):
    prior, kappa, alpha = case
    m = replica.GardnerVolume(prior, kappa)
    r = replica.solve(m, alpha)
    fine = replica.solve(m, alpha, n_quad=96, rtol=1e-15)
    assert r.success and set(r.error_estimate) == {"q", "entropy"}
    for k, err in r.error_estimate.items():
        assert math.isfinite(err) and err <= 1e-8 * max(1.0, abs(r.scalars[k]))  # default tol
        if math.isfinite(r.scalars[k]):
            assert abs(fine.scalars[k] - r.scalars[k]) <= err
        else:
            assert fine.scalars[k] == r.scalars[k]


@pytest.mark.parametrize("case", BAYES, ids=_ids)
def test_bayes_refinement_within_estimate(case):
    prior, channel, alpha = case
    m = replica.BayesOptimalGLM(prior, channel)
    r = replica.solve(m, alpha)
    assert r.success and set(r.error_estimate) == {"q", "mmse", "phi", "mi", "eg_bayes", "eg_gibbs"}
    n = r.options["n_quad_used"]
    fine = replica.solve(m, alpha, init=r, n_quad=min(2 * n, 300), rtol=1e-14)
    for k, err in r.error_estimate.items():
        assert math.isfinite(err) and err <= 1e-8 * max(1.0, abs(r.scalars[k]))
        assert abs(fine.scalars[k] - r.scalars[k]) <= err, k


@pytest.mark.parametrize("model", [replica.BayesOptimalGLM("rademacher", "sign"),
                                   pytest.param(replica.BayesOptimalGLM(replica.GaussBernoulli(0.1),
                                                                        replica.Linear(1e-4)),
                                                marks=pytest.mark.slow)],
                         ids=["rademacher-sign", "sparse-linear"])
def test_transitions_refinement_within_estimate(model):
    tr = replica.transitions(model)
    fine = replica.transitions(model, n_quad=192, xtol=1e-11)
    assert tr.success
    for k, err in tr.error_estimate.items():
        a, b = tr.scalars[k], fine.scalars[k]
        if math.isnan(a):
            assert math.isnan(b) and err == 0.0
        else:
            assert abs(b - a) <= err, k


def test_estimate_above_tol_is_a_failure_not_a_silent_answer():
    # a tolerance below the rounding floor cannot be met: success=False, the numbers kept
    m = replica.BayesOptimalGLM("rademacher", "label-flip")
    r = replica.solve(m, 1.0, tol=1e-30)
    assert not r.success and "error estimate" in r.message and math.isfinite(r.q)
    g = replica.solve(replica.GardnerVolume("rademacher", 0.0), 1.0, tol=1e-30)
    assert not g.success and "error estimate" in g.message
    with pytest.raises(ValueError, match="tol"):
        replica.solve(m, 1.0, tol=0.0)

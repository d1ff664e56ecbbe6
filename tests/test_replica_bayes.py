"""Bayes-optimal GLM state evolution, branches and transitions (replica.bayes)."""

import math

import numpy as np
import pytest

import lmech
import replica
from lmech.spec import from_spec, to_spec


@pytest.fixture(scope="module")
def rad_sign():
    return replica.BayesOptimalGLM("rademacher", "sign")


@pytest.fixture(scope="module")
def rad_transitions(rad_sign):
    return replica.transitions(rad_sign)


@pytest.mark.parametrize("alpha, ref", [(1.0, 0.2543729703), (2.0, 0.1745341856), (5.0, 0.0839351698)])
def test_gaussian_sign_bayes_error_reference(alpha, ref):
    # Gaussian prior, sign channel, Bayes error arccos(sqrt q)/pi; independent mpmath at 25 digits of
    # q = qh/(1+qh), qh = 2 alpha/(1-q) E_x[phi(s x)^2/H(s x)], s = sqrt(q/(1-q)) (Barbier et al., PNAS
    # 116, 5451 (2019), state evolution with the sign channel): 0.2543729703, 0.1745341856, 0.0839351698
    res = replica.solve(replica.BayesOptimalGLM("gaussian", "sign"), alpha)
    assert res.success and res.stable
    assert res.eg_bayes == pytest.approx(ref, abs=6e-9)
    assert res.eg_gibbs == pytest.approx(math.acos(res.q) / math.pi, rel=1e-14)


def test_gibbs_over_bayes_tends_to_sqrt2():
    # Opper & Haussler, PRL 66, 2677 (1991): eg_Gibbs / eg_Bayes -> sqrt 2 at large alpha
    m = replica.BayesOptimalGLM("gaussian", "sign")
    ratios = [replica.solve(m, a).eg_gibbs / replica.solve(m, a).eg_bayes for a in (50.0, 400.0)]
    assert abs(ratios[1] - math.sqrt(2)) < abs(ratios[0] - math.sqrt(2)) < 2e-3
    assert ratios[1] == pytest.approx(math.sqrt(2), abs=3e-4)


def test_gaussian_linear_closed_form_fixed_point():
    # Gaussian prior, linear channel: V = rho / (1 + alpha rho / (Delta + V)) (a quadratic)
    rho, delta, alpha = 1.5, 0.3, 1.7
    res = replica.solve(replica.BayesOptimalGLM(replica.Gaussian(rho), replica.Linear(delta)), alpha)
    # V^2 + V (Delta + alpha rho - rho) - rho Delta = 0
    b = delta + alpha * rho - rho
    V = 0.5 * (-b + math.sqrt(b * b + 4 * rho * delta))
    assert res.mmse == pytest.approx(V, rel=1e-10)


def test_mutual_information_gaussian_linear_vs_log_det():
    # I/d = (1/2d) E log det(I_n + (rho/Delta) F F^T / d), F with iid N(0,1) entries (finite d)
    rho, delta, alpha, d = 1.0, 0.5, 2.0, 400
    res = replica.solve(replica.BayesOptimalGLM(replica.Gaussian(rho), replica.Linear(delta)), alpha)
    rng = np.random.default_rng(0)
    vals = []
    for _ in range(3):
        F = rng.standard_normal((int(alpha * d), d))
        sign, logdet = np.linalg.slogdet(np.eye(d) + rho / delta * (F.T @ F) / d)
        vals.append(0.5 * logdet / d)
    assert res.mi == pytest.approx(np.mean(vals), abs=5e-3)


def test_free_entropy_envelope_identity():
    # stationarity: dPhi/dalpha = Psi_out(q) at the fixed point (envelope theorem)
    for model in (replica.BayesOptimalGLM("gaussian", "sign"),
                  replica.BayesOptimalGLM(replica.GaussBernoulli(0.4), replica.Probit(0.1)),
                  replica.BayesOptimalGLM("rademacher", replica.LabelFlip(0.05)),
                  replica.BayesOptimalGLM("gaussian", replica.ReLU(0.1))):
        a, h = 1.3, 1e-4
        fp, fm = replica.solve(model, a + h), replica.solve(model, a - h)
        mid = replica.solve(model, a)
        psi = model.channel.psi_out(mid.q, model.rho)
        assert (fp.phi - fm.phi) / (2 * h) == pytest.approx(psi, rel=1e-6)


def test_rademacher_sign_transition_and_spinodal(rad_transitions):
    tr = rad_transitions
    assert tr.success
    # Gyorgyi, PRA 41, 7097 (1990): first-order transition at alpha ~ 1.245
    assert tr.alpha_c == pytest.approx(1.245, abs=1e-3)
    # spinodal of the uninformed branch: Sompolinsky, Tishby & Seung, PRL 65, 1683 (1990): 1.493
    assert tr.alpha_sp_uninf == pytest.approx(1.493, abs=1e-3)
    assert tr.alpha_sp_inf == 0.0 and tr.q_inf_c == 1.0


def test_rademacher_thresholds_converge_in_quadrature(rad_transitions, rad_sign):
    # the stated tolerance 1e-5: two rules agree far below it
    fine = replica.transitions(rad_sign, n_quad=160)
    assert fine.alpha_c == pytest.approx(rad_transitions.alpha_c, abs=1e-7)
    assert fine.alpha_sp_uninf == pytest.approx(rad_transitions.alpha_sp_uninf, abs=1e-6)


def test_thresholds_agree_with_the_iteration(rad_transitions, rad_sign):
    tr = rad_transitions
    # at alpha_c the uninformed fixed point has the free entropy of perfect recovery (-log 2)
    res = replica.solve(rad_sign, tr.alpha_c)
    assert res.success and res.q == pytest.approx(tr.q_uninf_c, rel=1e-8)
    assert res.phi == pytest.approx(-math.log(2), abs=1e-9)
    inf = replica.solve(rad_sign, tr.alpha_c, init="informed")
    assert inf.success and inf.q == 1.0 and inf.phi == pytest.approx(-math.log(2), rel=1e-15)
    # just below the spinodal the uninformed iteration stays, just above it it leaves
    below = replica.solve(rad_sign, tr.alpha_sp_uninf - 1e-3)
    above = replica.solve(rad_sign, tr.alpha_sp_uninf + 1e-3)
    assert below.success and below.q < 0.95 and below.stable
    assert above.success and above.q == 1.0


def test_sparse_linear_first_order_transition():
    # Gauss-Bernoulli (rho = 0.1) prior, linear channel Delta = 1e-4: three branches
    m = replica.BayesOptimalGLM(replica.GaussBernoulli(0.1), replica.Linear(1e-4))
    tr = replica.transitions(m)
    assert tr.success and tr.alpha_sp_inf < tr.alpha_c < tr.alpha_sp_uninf
    u = replica.solve(m, tr.alpha_c)
    i = replica.solve(m, tr.alpha_c, init="informed")
    assert u.stable and i.stable and i.q > u.q + 0.02
    assert u.phi == pytest.approx(i.phi, abs=1e-9)


def test_no_transition_for_gaussian_sign():
    tr = replica.transitions(replica.BayesOptimalGLM("gaussian", "sign"))
    assert tr.success and math.isnan(tr.alpha_c) and math.isnan(tr.alpha_sp_uninf)


def test_continuation_both_directions(rad_sign):
    up = replica.continuation(rad_sign, np.linspace(0.5, 1.45, 8))
    assert all(r.success for r in up)
    qs = [r.q for r in up]
    assert np.all(np.diff(qs) > 0) and qs[-1] < 0.95
    down = replica.continuation(rad_sign, np.linspace(1.45, 0.5, 8), init="informed")
    assert all(r.success and r.q == 1.0 for r in down)
    cold = replica.solve(rad_sign, 1.45)
    assert up[-1].q == pytest.approx(cold.q, rel=1e-9)


def test_failure_is_data_and_options_are_checked(rad_sign):
    res = replica.solve(rad_sign, 1.2, max_iter=2)
    assert not res.success and "max_iter" in res.message and res.status == lmech.Status.MAX_ITER
    res = replica.solve(rad_sign, 1.2, method="picard", damping=0.5)
    assert res.success
    with pytest.raises(TypeError, match="atol"):
        replica.solve(rad_sign, 1.0, atol=1e-3)
    with pytest.raises(ValueError, match="alpha"):
        replica.solve(rad_sign, -1.0)
    with pytest.raises(ValueError, match="damping"):
        replica.solve(rad_sign, 1.0, damping=1.5)
    with pytest.raises(ValueError, match="init"):
        replica.solve(rad_sign, 1.0, init="sideways")
    with pytest.raises(ValueError, match="prior"):
        replica.BayesOptimalGLM("cauchy", "sign")


def test_model_spec_roundtrip(rad_sign):
    m = replica.BayesOptimalGLM(replica.GaussBernoulli(0.2), replica.LabelFlip(0.05))
    assert from_spec(to_spec(m)) == m
    assert from_spec(to_spec(rad_sign)) == rad_sign


def test_continuation_in_a_nested_parameter():
    m = replica.BayesOptimalGLM("rademacher", replica.LabelFlip(0.0))
    path = replica.continuation(m, [0.0, 0.02, 0.05], param="channel.eps", alpha=1.0)
    assert all(r.success for r in path)
    assert path[1].model.channel.eps == 0.02
    # label noise lowers the overlap on the uninformed branch
    assert path[0].q > path[1].q > path[2].q
    with pytest.raises(ValueError, match="param"):
        replica.continuation(m, [0.1], param="channel.nope", alpha=1.0)


def test_newton_polish_near_the_spinodal(rad_transitions, rad_sign):
    # 1e-4 below the spinodal the map contracts by ~0.99 per step; after the Newton polish
    # Picard and Anderson agree with the fixed-point curve alpha(V) to 1e-12
    from scipy.optimize import brentq

    tr = rad_transitions
    a = tr.alpha_sp_uninf - 1e-4
    Vsp = 1.0 - tr.q_sp_uninf
    V = brentq(lambda v: replica.alpha_of_mmse(rad_sign, v) - a, Vsp, 0.9, xtol=1e-15, rtol=1e-15)
    for method in ("picard", "anderson"):
        r = replica.solve(rad_sign, a, method=method)
        assert r.success and 0.95 < r.slope < 1.0
        assert r.V == pytest.approx(V, rel=1e-10)


def test_noiseless_linear_channel_rejected_for_bayes_optimal():
    with pytest.raises(ValueError, match="channel"):
        replica.BayesOptimalGLM("gaussian", replica.Linear(0.0))

"""Finite-d one-pass SGD against the exact expected risk of odes.LinearSGD (validation.compare).

The theory is exact at every finite d (Isserlis' theorem closes the second moments), so the
simulator runs at the model's own dimension and the mean over seeds must agree within its
error bars at every recorded time.
"""

import numpy as np
import pytest

import odes
import validation
from lmech.blocks.schedules import Piecewise, PowerLaw, WarmupCosine

TIMES = np.array([0, 1, 2, 5, 10, 30, 100, 300, 600.0])

CASES = {
    "sgd_batch1": dict(),
    "batch4_noise": dict(batch=4, noise=0.05),
    "momentum": dict(momentum=0.6),
    "wd_power_decay": dict(weight_decay=0.02, schedule=PowerLaw(t0=20.0, power=0.7)),
    "warmup_cosine_batch2": dict(batch=2, schedule=WarmupCosine(warmup=10.0, total=600.0)),
    "piecewise_momentum": dict(momentum=0.4, schedule=Piecewise(boundaries=(50.0,), values=(1.0, 0.2))),
}


def model(case, d=64, frac=0.4):
    """Power-law data (h_j = 1/j, w*_j = j^-0.3) at a fraction of the stability threshold."""
    m = odes.LinearSGD.power_law(d, 0.5, 0.3, lr=0.1, **CASES[case])
    return m.with_lr(frac * odes.stability_threshold(m))


@pytest.mark.parametrize("case", list(CASES))
def test_simulation_agrees_with_the_exact_risk_at_every_time(case):
    m = model(case)
    th = odes.risk_curve(m, TIMES, method="recursion")
    rep = validation.compare(th, m, sizes=[m.dimension], seeds=200, tol_rel=0.08)
    # no point rejects the theory at family-wise level 1%, and the 98% confidence interval of
    # the mean lies within 8% of the theory at every time
    assert rep.verdict == "agree", rep.message
    assert not rep.scalars["rejected_risk"]


def test_simulation_rejects_a_wrong_theory():
    # power of the check: the population-GD curve (B -> infinity) is not the batch-1 risk
    m = model("sgd_batch1")
    wrong = {"t": TIMES, "risk": odes.population_gd_risk(m, TIMES)}
    rep = validation.compare(wrong, m, sizes=[m.dimension], seeds=200, tol_rel=0.08)
    assert rep.verdict == "disagree"


def test_initial_risk_is_exact_and_size_is_the_model_dimension():
    m = odes.LinearSGD(eigenvalues=[1.0, 0.5], multiplicity=[3, 2], target=[1.0, -2.0], noise=0.1)
    r = validation.simulate_linear_sgd(m, [0, 3], seed=1)
    assert r.risk[0] == pytest.approx(m.initial_risk(), rel=1e-15)
    assert r.d == 5
    with pytest.raises(ValueError, match="sizes"):
        validation.linear_sgd.linear_sgd_point(7, 0, model=m, times=[0, 3])
    with pytest.raises(ValueError, match="times"):
        validation.simulate_linear_sgd(m, [3, 1])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["sgd_batch1", "momentum", "warmup_cosine_batch2"])
def test_large_d_simulation_agrees_with_the_fast_propagator(case):
    # d = 1000 modes, power-law data, the adaptive propagator as the theory (its error estimate
    # enters the comparison)
    m = model(case, d=1000)
    times = odes.log_times(3000, 12)
    th = odes.risk_curve(m, times, rtol=1e-6)
    assert th.success
    rep = validation.compare(th, m, sizes=[m.dimension], seeds=100, tol_rel=0.1)
    assert rep.verdict == "agree", rep.message

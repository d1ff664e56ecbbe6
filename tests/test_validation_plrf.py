"""Finite-d one-pass SGD on power-law random features (validation.plrf) against the exact risk of
the deterministic equivalent (odes.plrf.risk_curve), through validation.compare."""

from __future__ import annotations

import numpy as np
import pytest

from odes.plrf import PLRF, risk_curve
from validation import compare
from validation.plrf import simulate_plrf


def test_simulation_records_the_exact_initial_risk():
    # theta = 0: P = (1/2) |D^(1/2) b|^2 exactly, whatever W
    m = PLRF(alpha=1.0, beta=0.7, d=20, v=80)
    r = simulate_plrf(m, 20, [0, 5], seed=3)
    assert r.risk[0] == pytest.approx(0.5 * (m.sigma() * m.b2()).sum(), rel=1e-12)
    again = simulate_plrf(m, 20, [0, 5], seed=3)
    assert np.array_equal(r.risk, again.risk)   # reproducible from the seed


def test_plrf_sgd_agrees_with_theory_small():
    # d = 100, v = 400, batch 1: 32 draws of W and of the data; agreement within 30 % at late times,
    # where the spread over draws of W (the top eigenvalues of K fluctuate) dominates the error bars
    # (the deterministic equivalent is exact as d -> infinity; at d = 100 its error is O(1/d))
    m = PLRF(alpha=1.0, beta=0.7, d=100, v=400)
    t = np.array([1000.0, 3000.0])
    rep = compare(risk_curve(m, t), m, sizes=[100], seeds=32, tol_rel=0.3)
    assert rep.verdict == "agree", rep.message


def test_plrf_sgd_batch_agrees_with_theory_small():
    m = PLRF(alpha=1.2, beta=0.5, d=80, v=320, batch=4, lr_scale=0.2)
    t = np.array([100.0, 1000.0])
    rep = compare(risk_curve(m, t), m, sizes=[80], seeds=24, tol_rel=0.25)
    assert rep.verdict == "agree", rep.message


def test_simulator_bad_input():
    m = PLRF(alpha=1.0, beta=0.7, d=20, v=80)
    with pytest.raises(ValueError, match="^d must equal model.d"):
        simulate_plrf(m, 30, [1])
    with pytest.raises(ValueError, match="^times must"):
        simulate_plrf(m, 20, [5, 1])


@pytest.mark.slow
def test_plrf_sgd_agrees_with_theory_large():
    # d = 500, v = 1000, 32 runs to 10^4 steps at a small learning rate
    # (gamma = 0.1 / tr K, kernel norm ~0.05): agreement within 15 %.  Measured: z = -0.07 at
    # t = 1e3 and 1.75 at t = 1e4 (simulation 4.6 % above the theory, standard error 2.5 %): the
    # run-to-run spread over draws of W (about 15 % per run) limits what 32 seeds can prove.
    # (At lr_scale = 0.5 batch-1 runs fluctuate by about 40 %; 16 seeds gave z = 0.63, 0.19, -0.04.)
    m = PLRF(alpha=1.0, beta=0.7, d=500, v=1000, lr_scale=0.1)
    t = np.array([1000.0, 10000.0])
    rep = compare(risk_curve(m, t), m, sizes=[500], seeds=32, tol_rel=0.15)
    assert rep.verdict == "agree", rep.message

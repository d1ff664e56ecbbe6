"""Observed order of convergence of every deterministic dmft method against its declared one.

For each method of :data:`dmft.METHODS` with a declared order, a problem with
a known answer (an exact solution where there is one, else a much finer step)
is solved at a sequence of halving steps; the slope of ``log |X(h) - X_ref|``
against ``log h`` must round to the declared order (``|slope - order| <
0.5``: it tells order q from q - 1 and q + 1; the shape of diffrax's
``test_ode_order``).  Exact references: the spherical 2-spin
(:func:`dmft.pspin2_exact`; Cugliandolo & Dean, J. Phys. A 28, 4213 (1995))
and least-squares gradient flow (:func:`dmft.mp_error`, the Marchenko–Pastur
average).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import pytest

import dmft


class Case(NamedTuple):
    method: str
    extrapolated: bool      # the declared order is METHODS[method].extrapolated_order
    model: object
    t_max: float
    steps: tuple            # halving steps h
    options: Callable       # h -> options of dmft.solve
    observable: Callable    # result -> float
    reference: Callable     # () -> float


P2 = dmft.SphericalPSpin(p=2, T=0.5)
P3_PARA = dmft.SphericalPSpin(p=3, T=0.8)  # paramagnet: T > T_d = 0.612
LINREG = dmft.LinearRegressionGF(alpha=2.0, noise=0.1, ridge=0.05)


def _exact_energy(T, t):
    return lambda: float(dmft.pspin2_exact(T, [t]).energy[0])


def _stationary_ref(model, t_max):
    # a step 4 times finer than the finest, extrapolated (order 4: its error is below 1e-3
    # of the smallest error fitted)
    return lambda: float(dmft.solve(model, t_max, method="stationary", dt=0.0125).C_final)


FAST = {
    "uniform-pspin2": Case(
        "uniform", False, P2, 2.0, (0.1, 0.05, 0.025),
        lambda h: {"dt": h, "extrapolate": False, "rtol": 1.0},
        lambda r: r.energy, _exact_energy(0.5, 2.0)),
    "uniform-linreg": Case(
        "uniform", False, LINREG, 2.0, (0.1, 0.05, 0.025),
        lambda h: {"dt": h, "extrapolate": False, "rtol": 1.0},
        lambda r: r.error, lambda: dmft.mp_error(LINREG, 2.0)),
    "stationary-pspin3": Case(
        "stationary", False, P3_PARA, 4.0, (0.2, 0.1, 0.05),
        lambda h: {"dt": h, "extrapolate": False, "rtol": 1.0},
        lambda r: r.C_final, _stationary_ref(P3_PARA, 4.0)),
    "stationary-pspin3-extrapolated": Case(
        "stationary", True, P3_PARA, 4.0, (0.2, 0.1, 0.05),
        lambda h: {"dt": h, "rtol": 1.0},
        lambda r: r.C_final, _stationary_ref(P3_PARA, 4.0)),
    # one doubling: the step of both levels halves with dt0 and n_window doubled together
    "doubling-pspin2": Case(
        "doubling", False, P2, 6.4, (0.05, 0.025, 0.0125),
        lambda h: {"dt0": h, "n_window": int(round(3.2 / h)), "estimate": False},
        lambda r: r.energy, _exact_energy(0.5, 6.4)),
}

SLOW = {
    "uniform-rnn-erf": Case(
        "uniform", False, dmft.RandomRNN(g=2.0, phi="erf"), 4.0, (0.1, 0.05, 0.025),
        lambda h: {"dt": h, "extrapolate": False, "rtol": 1.0},
        lambda r: r.variance,
        lambda: float(dmft.solve(dmft.RandomRNN(g=2.0, phi="erf"), 4.0, dt=0.00625).variance)),
    "uniform-glm-square": Case(
        "uniform", False, dmft.GLMDynamics(alpha=1.5, teacher="relu", noise=0.1, ridge=0.05),
        3.0, (0.1, 0.05, 0.025),
        lambda h: {"dt": h, "extrapolate": False, "rtol": 1.0},
        lambda r: r.Q,
        lambda: float(dmft.solve(dmft.GLMDynamics(alpha=1.5, teacher="relu", noise=0.1,
                                                  ridge=0.05), 3.0, dt=0.00625).Q)),
    # two doublings (the asymptotic regime starts at smaller steps the more doublings there
    # are: dmft.doubling.ORDER)
    "doubling-pspin2-two-doublings": Case(
        "doubling", False, P2, 12.8, (0.025, 0.0125, 0.00625),
        lambda h: {"dt0": h, "n_window": int(round(3.2 / h)), "estimate": False},
        lambda r: r.energy, _exact_energy(0.5, 12.8)),
}


def _declared(case):
    entry = dmft.METHODS[case.method]
    return entry.extrapolated_order if case.extrapolated else entry.order


def _check_order(case):
    ref = case.reference()
    err = []
    for h in case.steps:
        res = dmft.solve(case.model, case.t_max, method=case.method, **case.options(h))
        assert np.isfinite(case.observable(res)), res.message
        err.append(abs(case.observable(res) - ref))
    slope = np.polyfit(np.log(case.steps), np.log(err), 1)[0]
    order = _declared(case)
    assert abs(slope - order) < 0.5, (case.method, err, slope, order)


def test_every_deterministic_method_has_an_order_case():
    declared = {name for name, m in dmft.METHODS.items() if m.order is not None}
    assert declared == {"uniform", "stationary", "doubling"}
    assert declared <= {c.method for c in FAST.values()}
    for name, m in dmft.METHODS.items():
        if m.extrapolated_order is not None:
            assert any(c.method == name and c.extrapolated for c in FAST.values()), name


@pytest.mark.parametrize("name", sorted(FAST))
def test_observed_order_matches_declared(name):
    _check_order(FAST[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_observed_order_matches_declared_larger(name):
    _check_order(SLOW[name])

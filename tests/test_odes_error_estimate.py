"""Error estimates of odes results: refining the discretisation moves the answer by no more than
the estimate the result reports (DESIGN.md, "Accuracy")."""

import numpy as np
import pytest

from lmech.status import Status

import odes
from odes import fixed_points as fp

STANDARD = odes.CommitteeMachine(K=2, M=2, activation="erf", lr=0.5)
INIT = dict(Q0=np.diag([0.5, 0.5]), R0=1e-3 * np.array([[1.0, 0.5], [0.2, 0.8]]))
TE = np.linspace(0.0, 400.0, 81)


def _reference(model, t_max, t_eval, **init):
    # the Numba DOP853 at tolerances 1000 times tighter than the default: its own error is far below
    # that of the runs under test
    ref = odes.integrate(model, t_max, t_eval=t_eval, rtol=1e-13, atol=1e-18, **init)
    assert ref.success
    return ref


@pytest.mark.parametrize("method, opts", [
    ("DOP853", {}),                                   # default: embedded estimate and refinement
    ("DOP853", {"refine": False}),                    # embedded estimate only, on the step grid
    ("DOP853", {"rtol": 1e-7, "refine": True}),
    ("scipy-DOP853", {"rtol": 1e-8, "refine": True}),
    ("RK45", {"rtol": 1e-7, "atol": 1e-12, "refine": True}),
    ("LSODA", {"rtol": 1e-8, "atol": 1e-12, "refine": True}),
])
def test_integrate_error_estimate_bounds_the_change_on_refinement(method, opts):
    """Through the plateau and the escape (K = M = 2, erf, eta = 0.5): every estimate is finite and
    at least the distance to a much tighter run, and not absurdly pessimistic (within 1e4 of it)."""
    te = None if opts.get("refine") is False else TE  # the embedded estimate holds on the step grid
    r = odes.integrate(STANDARD, 400.0, method=method, t_eval=te, tol=1.0, **opts, **INIT)
    if opts.get("refine") is False:
        # no estimate of the plateau or the escape without refinement: no success
        assert not r.success and r.status == Status.NO_ESTIMATE and "plateau_eg" in r.message and "t_escape" in r.message
    else:
        assert r.success
    ref = _reference(STANDARD, 400.0, r.t, **INIT)
    for name in ("eg", "Q", "R"):
        err = r.error_estimate[name]
        true = float(np.max(np.abs(getattr(ref, name) - getattr(r, name))))
        assert np.isfinite(err)
        assert true <= err
        assert err <= 1e4 * max(true, 1e-14)
    if opts.get("refine"):
        assert abs(ref.t_escape - r.t_escape) <= r.error_estimate["t_escape"]
        assert abs(ref.plateau_eg - r.plateau_eg) <= r.error_estimate["plateau_eg"]


def test_euler_error_estimate_from_halving_the_step():
    """Forward Euler (first order): twice the change on halving dt bounds the error against the
    converged solution."""
    m = odes.CommitteeMachine(2, 2, lr=0.5)
    te = np.linspace(0.0, 50.0, 11)
    r = odes.integrate(m, 50.0, method="euler", dt=0.05, t_eval=te, refine=True, tol=1.0, **INIT)
    ref = _reference(m, 50.0, te, **INIT)
    true = float(np.max(np.abs(ref.eg - r.eg)))
    assert true <= r.error_estimate["eg"] <= 10 * true


def test_success_requires_the_estimate_within_tol():
    """A loose run with a strict tol is reported as failed, with the estimate in the message."""
    r = odes.integrate(STANDARD, 400.0, rtol=1e-5, atol=1e-8, tol=1e-9, **INIT)
    assert not r.success and r.status == Status.TOLERANCE and "error estimate of eg" in r.message
    ok = odes.integrate(STANDARD, 400.0, **INIT)
    assert ok.success and ok.error_estimate["eg"] <= 1e-5 * np.max(ok.eg)


def test_default_readme_example_is_accurate():
    """README example: eg0, plateau_eg and t_escape of the default run agree with a refined run to
    the reported estimates, which are below 1e-4 relative (the digits the README shows)."""
    r = odes.integrate(STANDARD, 1000.0, refine=True, **INIT)
    assert r.success
    ref = odes.integrate(STANDARD, 1000.0, rtol=1e-13, atol=1e-18, **INIT)
    for name in ("plateau_eg", "t_escape"):
        assert abs(getattr(ref, name) - getattr(r, name)) <= r.error_estimate[name]
        assert r.error_estimate[name] <= 1e-4 * abs(getattr(r, name))


@pytest.mark.parametrize("solve", [
    lambda: fp.symmetric_fixed_point(STANDARD, branch="generic"),
    lambda: fp.symmetric_fixed_point(STANDARD, branch="degenerate"),
    lambda: fp.noise_asymptote(odes.CommitteeMachine(2, 2, lr=0.5, noise=1e-2)),
    lambda: fp.newton(odes.CommitteeMachine(1, 1, activation="linear", lr=0.5, noise=0.1), [[1.0]], [[0.9]]),
], ids=["generic", "degenerate", "noise", "newton"])
def test_fixed_point_error_estimate_bounds_a_newton_refinement(solve):
    """One more Newton solve from the answer, at a tolerance at the rounding level, moves eg, Q and
    R by no more than the estimates (Newton correction |J^-1 f| plus rounding)."""
    r = solve()
    assert r.success
    again = fp.newton(r.model, r.Q, r.R, T=r.T, tol=1e-14)
    for name in ("eg", "Q", "R"):
        assert np.isfinite(r.error_estimate[name])
        assert np.max(np.abs(np.asarray(getattr(again, name)) - getattr(r, name))) <= r.error_estimate[name]


def test_noise_asymptote_error_estimate_against_a_long_integration():
    """An independent computation: the eg of a long run to the noisy fixed point agrees with the
    fixed point within the sum of both reported estimates."""
    m = odes.CommitteeMachine(2, 2, lr=0.5, noise=1e-3)
    p = fp.noise_asymptote(m)
    r = odes.integrate(m, 3000.0, t_eval=[3000.0], rtol=1e-12, atol=1e-16, **INIT)
    assert abs(r.eg_final - p.eg) <= p.error_estimate["eg"] + r.error_estimate["eg"]


def test_custom_activation_error_estimate_includes_quadrature():
    """A Custom erf(u/sqrt 2) on a coarse Gauss-Hermite rule: the estimate covers the distance to
    the closed-form ODEs (the exact answer here), which the time discretisation alone does not."""
    from scipy.special import erf

    act = odes.Custom(lambda u: erf(u / np.sqrt(2)), lambda u: np.sqrt(2 / np.pi) * np.exp(-u * u / 2),
                      n_nodes=4)
    kw = dict(Q0=[[0.8]], R0=[[0.3]], t_eval=[0.0, 1.0, 2.0])
    r = odes.integrate(odes.CommitteeMachine(1, 1, activation=act, lr=0.5), 2.0, tol=1.0, **kw)
    exact = odes.integrate(odes.CommitteeMachine(1, 1, activation="erf", lr=0.5), 2.0, rtol=1e-13, **kw)
    true = float(np.max(np.abs(exact.eg - r.eg)))
    assert true > 1e-8  # the quadrature error dominates that of the time stepping
    assert true <= r.error_estimate["eg"]
    assert float(np.max(np.abs(exact.Q - r.Q))) <= r.error_estimate["Q"]


def test_custom_tanh_default_nodes_against_a_finer_rule():
    """A Custom tanh with the default refinement of the node count (K = M = 1, so every average is
    2-D and a 100-node rule is affordable and ~1e-10 accurate): the run agrees with the 100-node run
    within its error estimate, and the estimate is within tol."""
    tanh = odes.Custom(np.tanh, lambda u: 1.0 / np.cosh(u) ** 2)
    kw = dict(Q0=[[0.8]], R0=[[0.3]], t_eval=[0.0, 2.0, 5.0])
    r = odes.integrate(odes.CommitteeMachine(1, 1, activation=tanh, lr=0.5), 5.0, refine=True, **kw)
    fine = odes.integrate(odes.CommitteeMachine(1, 1, activation=odes.Custom(tanh.g, tanh.dg, n_nodes=100),
                                                lr=0.5), 5.0, rtol=1e-12, **kw)
    assert r.success and r.meta["n_nodes"] <= 60
    for name in ("eg", "Q", "R"):
        assert np.max(np.abs(getattr(fine, name) - getattr(r, name))) <= r.error_estimate[name]


@pytest.mark.parametrize("method, opts", [("euler", {"dt": 0.05}), ("RK45", {}),
                                          ("DOP853", {"plateau_window": (45.0, 50.0)})])
def test_no_success_without_an_estimate(method, opts):
    """refine=False: Euler and the scipy methods have no estimate of the time-integration error, so
    the run is no success and says what was not estimated; the default (refine on) estimates it."""
    m = odes.CommitteeMachine(2, 2, lr=0.5)
    kw = dict(method=method, t_eval=np.linspace(0.0, 50.0, 11), tol=1.0, **opts, **INIT)
    r = odes.integrate(m, 50.0, refine=False, **kw)
    if method == "DOP853":  # the embedded estimate of eg exists; no plateau in this window
        assert r.success and np.isfinite(r.error_estimate["eg"])
        return
    assert not r.success and r.status == Status.NO_ESTIMATE
    assert "not estimated" in r.message and "eg" in r.message
    d = odes.integrate(m, 50.0, **kw)
    assert d.success and np.isfinite(d.error_estimate["eg"])


def test_custom_tanh_loose_rtol_estimate_bounds_the_true_error():
    """Custom tanh (K = M = 1; scipy DOP853, the default method for Custom activations) at a loose
    rtol: the estimate includes the time-integration error (the default refinement), not only the
    quadrature error, so it bounds the distance to a tight run; at rtol = 1e-2 that distance exceeds
    tol * max eg, so the run must fail."""
    tanh = odes.Custom(np.tanh, lambda u: 1.0 / np.cosh(u) ** 2)
    m = odes.CommitteeMachine(1, 1, activation=tanh, lr=0.5)
    kw = dict(Q0=[[0.8]], R0=[[0.3]], t_eval=np.linspace(0.0, 30.0, 7))
    ref = odes.integrate(m, 30.0, rtol=1e-12, **kw)
    assert ref.success
    for rtol in (1e-2, 1e-4):
        r = odes.integrate(m, 30.0, rtol=rtol, atol=1e-8, tol=1e-4, **kw)
        true = float(np.max(np.abs(ref.eg - r.eg)))
        assert true <= r.error_estimate["eg"]
        if true > 1e-4 * float(np.max(r.eg)):
            assert not r.success


def test_fixed_point_success_requires_its_estimates_within_tol():
    """K = M = 1 erf at perfect learning: the two Jacobian eigenvalues cross near lr = 3.3798
    (eigenvector condition diverges there), so the decay rate's estimate (its change with the
    difference step) is large and must fail the default rate_rtol; away from the crossing it
    passes. A state tolerance below the Newton correction fails the symmetric fixed point."""
    crossing = fp.perfect_learning(odes.CommitteeMachine(1, 1, lr=3.37976))
    est = crossing.error_estimate["decay_rate"]
    assert est > 1e-6 * abs(crossing.decay_rate)
    assert not crossing.success and "decay_rate" in crossing.message
    loose = fp.perfect_learning(odes.CommitteeMachine(1, 1, lr=3.37976), rate_rtol=10 * est / abs(crossing.decay_rate))
    assert loose.success
    away = fp.perfect_learning(odes.CommitteeMachine(1, 1, lr=3.0))
    assert away.success and away.error_estimate["decay_rate"] <= 1e-6 * abs(away.decay_rate)
    ok = fp.symmetric_fixed_point(STANDARD)
    strict = fp.symmetric_fixed_point(STANDARD, tol=0.5 * ok.error_estimate["Q"])
    assert ok.success and not strict.success and "error estimate" in strict.message

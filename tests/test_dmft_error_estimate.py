"""Every dmft result carries an error estimate that refinement respects.

For each solver, halving the discretisation (time step; quadrature nodes for the
RNN stationary profile) moves the main observables by no more than the
solver's own ``error_estimate``; the sampled GLM agrees with the exact Gaussian
closure within its Monte Carlo standard errors; the uniform scheme's observed
order matches its declared order (2; Richardson-extrapolated: at least 3).
"""

import math

import numpy as np
import pytest

import dmft

CASES = [
    # (id, model, t_max, options of the coarse run, refined options, observables)
    ("pspin-uniform", dmft.SphericalPSpin(p=3, T=0.8), 4.0, {"dt": 0.2}, {"dt": 0.1},
     ("energy", "mu_final", "C_half")),
    ("pspin-uniform-single-grid", dmft.SphericalPSpin(p=3, T=0.8), 4.0,
     {"dt": 0.1, "extrapolate": False}, {"dt": 0.05, "extrapolate": False},
     ("energy", "mu_final", "C_half")),
    ("pspin-mixed-T0", dmft.SphericalPSpin(p=3, T=0.0, mixture=(0.5,)), 3.0, {"dt": 0.1},
     {"dt": 0.05}, ("energy", "mu_final", "C_half")),
    ("pspin-stationary", dmft.SphericalPSpin(p=3, T=0.8), 4.0,
     {"method": "stationary", "dt": 0.2}, {"method": "stationary", "dt": 0.1}, ("C_final",)),
    ("rnn-uniform-erf", dmft.RandomRNN(g=1.5, phi="erf", noise=0.1), 4.0, {"dt": 0.2},
     {"dt": 0.1}, ("variance", "C_half")),
    ("rnn-uniform-tanh-quadrature", dmft.RandomRNN(g=2.0, phi="tanh"), 4.0,
     {"dt": 0.2, "n_quad": 16}, {"dt": 0.1, "n_quad": 16}, ("variance", "C_half")),
    # a fixed Gauss-Hermite rule (closed_form=False; tanh's default is the bounded trapezoid
    # rule) loses accuracy as C(t,t) grows (tanh(sqrt(C) z) sharpens): at g = 3 the 16-node
    # answer is off by about 0.05 and its estimate must say so
    ("rnn-uniform-tanh-large-g-nodes", dmft.RandomRNN(g=3.0, phi="tanh"), 4.0,
     {"dt": 0.2, "n_quad": 16, "closed_form": False},
     {"dt": 0.2, "n_quad": 64, "closed_form": False}, ("variance", "C_half")),
    ("rnn-uniform-tanh-large-g", dmft.RandomRNN(g=3.0, phi="tanh"), 4.0,
     {"dt": 0.2}, {"dt": 0.1}, ("variance", "C_half")),
    ("rnn-stationary", dmft.RandomRNN(g=2.0, phi="tanh"), 5.0,
     {"method": "stationary", "dt": 0.1, "n_quad": 24},
     {"method": "stationary", "dt": 0.1, "n_quad": 96}, ("variance",)),
    # the closures have rates up to (1 + alpha^-1/2)^2 ~ 3: the Richardson estimate is
    # asymptotic, so these run at the default dt = 0.1 (at dt = 0.2 the extrapolated
    # values of the GLM still converge irregularly, successive changes 2.6e-6, 1.1e-6)
    ("linreg-uniform", dmft.LinearRegressionGF(alpha=0.8, noise=0.2, ridge=0.05), 4.0,
     {}, {"dt": 0.05}, ("error", "train_loss", "overlap_m")),
    ("linreg-langevin", dmft.LinearRegressionGF(alpha=2.0, temperature=0.1), 4.0,
     {}, {"dt": 0.05}, ("error", "train_loss")),
    ("glm-closed", dmft.GLMDynamics(alpha=2.0, teacher="sign"), 4.0, {},
     {"dt": 0.05}, ("M", "Q", "test_error", "train_loss")),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_refinement_moves_answer_by_at_most_the_estimate(case):
    _, model, t_max, coarse_opts, fine_opts, names = case
    coarse = dmft.solve(model, t_max, **coarse_opts)
    fine = dmft.solve(model, t_max, **fine_opts)
    for name in names:
        est = coarse.error_estimate[name]
        assert math.isfinite(est), name
        moved = abs(getattr(coarse, name) - getattr(fine, name))
        assert moved <= est, (name, moved, est)
        # the refined run is more accurate by the method's order: its estimate is smaller
        assert fine.error_estimate[name] <= est, name
    # the arrays' estimates (largest over the grid) bound their largest change on the
    # common grid when the step is halved
    if coarse_opts.get("dt") != fine_opts.get("dt"):
        for name, est in coarse.error_estimate.items():
            if name not in coarse.arrays:
                continue
            a, b = coarse.arrays[name], fine.arrays[name]
            b = b[::2] if b.ndim == 1 else b[::2, ::2]
            assert np.max(np.abs(a - b)) <= est, name
    # success means: every estimate within rtol * max(1, |value|)
    rtol = coarse.options.get("rtol", 1e-4)
    within = all(e <= rtol * max(1.0, abs(getattr(coarse, k)) if k in coarse.scalars
                                 else float(np.nanmax(np.abs(coarse.arrays[k]))))
                 for k, e in coarse.error_estimate.items())
    assert coarse.success == within


def test_sampled_glm_within_monte_carlo_errors_of_the_exact_closure():
    # the square-loss GLM at full batch has an exact Gaussian closure; the sampled process
    # must agree within its Monte Carlo standard errors (5 sigma) plus its closure estimate
    model = dmft.GLMDynamics(alpha=2.0, teacher="sign")
    exact = dmft.solve(model, 2.0, dt=0.05)
    sampled = dmft.solve(model, 2.0, dt=0.05, method="sampled", n_traj=800, n_replicas=6,
                         seed=3)
    assert sampled.success
    for name in ("M", "Q", "test_error", "train_loss"):
        se = sampled.error_estimate[name]
        assert se > 0.0
        assert se == pytest.approx(getattr(sampled, name + "_se")[-1])
        assert abs(sampled.scalars[name] - exact.scalars[name]) <= 5 * se + \
            exact.error_estimate[name], name


def _energies(dts, **kw):
    model = dmft.SphericalPSpin(p=3, T=0.8)
    return np.array([dmft.solve(model, 4.0, dt=dt, **kw).energy for dt in dts])


def _observed_order(dts, e):
    # differences between successive halvings shrink as dt^order
    d = np.abs(np.diff(e))
    return np.polyfit(np.log(dts[:-1]), np.log(d), 1)[0]


def test_uniform_order_matches_declared_order():
    dts = np.array([0.2, 0.1, 0.05, 0.025])
    p_raw = _observed_order(dts, _energies(dts, extrapolate=False))
    assert abs(p_raw - 2.0) < 0.15  # declared order of the Heun/trapezoid scheme
    dts = np.array([0.4, 0.2, 0.1, 0.05])
    p_ext = _observed_order(dts, _energies(dts))
    # Richardson: at least third order (the estimate assumes no order: it is the undivided
    # difference of the extrapolations at dt and 2 dt)
    assert p_ext > 3.0 - 0.15


def test_uniform_estimate_bounds_the_exact_error_at_the_default_dt():
    # 2-spin, T = 0.5, t = 10 at the default dt = 0.1: the error of the extrapolated energy
    # and mu against the Cugliandolo-Dean closed form (dmft.pspin2_exact) must not exceed
    # the solver's own estimate.  The extrapolated error changes sign between dt = 0.1 and
    # 0.025, so an estimate divided by 2^q - 1 (q = 3, the old rule) is below it here.
    m = dmft.SphericalPSpin(p=2, T=0.5)
    res = dmft.solve(m, 10.0, method="uniform")
    assert res.options["dt"] == 0.1  # the documented default
    ex = dmft.pspin2_exact(0.5, [10.0])
    assert abs(res.energy - ex.energy[-1]) <= res.error_estimate["energy"]
    assert abs(res.mu_final - ex.mu[-1]) <= res.error_estimate["mu_final"]


def test_uniform_memory_check_before_allocation():
    with pytest.raises(ValueError, match=r"t_max/dt.*method='doubling'"):
        dmft.solve(dmft.SphericalPSpin(p=3, T=0.5), 1e4, method="uniform")
    with pytest.raises(ValueError, match="t_max/dt"):
        dmft.solve(dmft.LinearRegressionGF(alpha=2.0), 1e4)


def test_too_few_steps_is_not_success():
    res = dmft.solve(dmft.SphericalPSpin(p=3, T=0.8), 0.3, dt=0.1)
    assert not res.success and "error estimate" in res.message
    assert math.isnan(res.error_estimate["energy"])


@pytest.mark.slow
def test_default_uniform_pspin_T08_t100_energy_to_1e4():
    # above T_d = sqrt(3/8) the 3-spin equilibrates to the paramagnet, whose energy is
    # -xi(1)/T = -1/(2T) (Cugliandolo & Kurchan, PRL 71, 173 (1993); FDT solution), reached
    # to far below 1e-6 by t = 100; the default uniform answer is good to 1e-4 and within
    # its own (conservative) estimate
    model = dmft.SphericalPSpin(p=3, T=0.8)
    res = dmft.solve(model, 100.0, method="uniform")
    exact = -1.0 / (2 * 0.8)
    assert abs(res.energy - exact) <= 1e-4
    assert abs(res.energy - exact) <= res.error_estimate["energy"]
    # the Lagrange multiplier of the paramagnet: mu = T + xi'(1)/T (FDT)
    assert abs(res.mu_final - (0.8 + 1.5 / 0.8)) <= res.error_estimate["mu_final"]


@pytest.mark.slow
def test_long_pspin_run_chooses_doubling():
    res = dmft.solve(dmft.SphericalPSpin(p=3, T=0.8), 60.0)
    assert res.options["method"] == "doubling"
    assert "automatically" in res.message and "automatic" in res.meta["method_choice"]


def test_automatic_method_follows_the_options():
    model = dmft.SphericalPSpin(p=3, T=0.8)
    # a doubling-only option selects the doubling integrator, and the result says so
    res = dmft.solve(model, 4.0, n_window=32)
    assert res.options["method"] == "doubling" and "automatically" in res.message
    # a uniform-only option keeps the uniform grid even for a long run; no note then
    res = dmft.solve(model, 60.0, dt=0.5, extrapolate=False, rtol=1.0)
    assert res.options["method"] == "uniform" and "automatically" not in res.message
    # an explicit method is never overridden
    res = dmft.solve(model, 4.0, method="uniform")
    assert res.options["method"] == "uniform" and "method_choice" not in res.meta

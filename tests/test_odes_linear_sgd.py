"""odes.LinearSGD: exact expected risk of one-pass SGD on Gaussian least squares.

References: Bordelon & Pehlevan, "Learning curves for SGD on structured features", ICLR 2022
(Eq. 5, the batch-1 second-moment recursion); Paquette, Paquette, Xiao & Pennington, "4+3
phases of compute-optimal neural scaling laws", NeurIPS 2024 (Eq. 10, the Volterra form and
its kernel-norm stability condition).
"""

import math

import numpy as np
import pytest

import odes
from lmech.blocks.schedules import FromCallable, Piecewise, PowerLaw, WarmupCosine
from lmech.status import Status


def iso(d, lr, batch=1, w=0.3, **kw):
    """H = I_d as one mode of multiplicity d."""
    return odes.LinearSGD(eigenvalues=[1.0], multiplicity=[d], target=[w], lr=lr, batch=batch, **kw)


# --------------------------------------------------------------------------- exact closed forms
@pytest.mark.parametrize("d, lr, batch", [(10, 0.05, 1), (50, 0.03, 1), (20, 0.1, 4)])
def test_isotropic_norm_contracts_by_the_isserlis_factor(d, lr, batch):
    # H = I_d: E||e_{t+1}||^2 = (1 - 2 eta + eta^2 (1 + (d + 1)/B)) E||e_t||^2, which for B = 1
    # is the textbook 1 - 2 eta + (d + 2) eta^2 (Isserlis: E[(x.e)^2 |x|^2] = (d + 2)|e|^2)
    m = iso(d, lr, batch)
    t = np.arange(0, 200, 7.0)
    rho = 1.0 - 2 * lr + lr * lr * (1.0 + (d + 1.0) / batch)
    exact = m.initial_risk() * rho ** t
    rec = odes.risk_curve(m, t, method="recursion")
    np.testing.assert_allclose(rec.risk, exact, rtol=1e-12)
    prop = odes.risk_curve(m, t)
    assert prop.success and prop.status == Status.CONVERGED
    assert np.all(np.abs(prop.risk - exact) <= prop.risk_err + 1e-300)
    assert np.all(prop.risk_err <= 1e-6 * exact)


@pytest.mark.parametrize("d, batch", [(1, 1), (10, 1), (100, 1), (30, 3)])
def test_isotropic_threshold_is_two_over_d_plus_two(d, batch):
    # rho(eta) = 1 at eta = 2 / (1 + (d + 1)/B): 2/(d + 2) for B = 1
    thr = odes.stability_threshold(iso(d, 0.01, batch))
    assert thr == pytest.approx(2.0 / (1.0 + (d + 1.0) / batch), rel=1e-12)


def test_divergence_is_detected_just_above_the_threshold_and_not_below():
    d = 20
    thr = 2.0 / (d + 2)
    above = odes.risk_curve(iso(d, 1.02 * thr), odes.log_times(1e5, 20), bound=1e6)
    below = odes.risk_curve(iso(d, 0.98 * thr), odes.log_times(1e3, 20))
    assert above.status == Status.DIVERGED and not above.success
    assert below.success and below.risk[-1] < below.risk[0]


def test_multiplicity_equals_repeated_modes():
    # a mode of multiplicity m is m identical eigenvectors: the same curve as the expanded spectrum
    h = np.array([1.0, 0.3, 0.05])
    w = np.array([0.5, -1.0, 2.0])
    mult = np.array([3, 1, 5])
    a = odes.LinearSGD(eigenvalues=h, target=w, multiplicity=mult, lr=0.2, batch=2, noise=0.1,
                       momentum=0.4, weight_decay=0.01)
    b = odes.LinearSGD(eigenvalues=np.repeat(h, mult), target=np.repeat(w, mult), lr=0.2, batch=2,
                       noise=0.1, momentum=0.4, weight_decay=0.01)
    t = np.array([0, 1, 5, 50, 300.0])
    np.testing.assert_allclose(odes.risk_curve(a, t, method="recursion").risk,
                               odes.risk_curve(b, t, method="recursion").risk, rtol=1e-13)


@pytest.mark.parametrize("method", ["recursion", "propagator", "spectral"])
def test_fractional_weights_equal_the_integer_multiplicity_they_add_up_to(method):
    # weights 2.5 and 2.5 on two copies of h = 0.3 are multiplicity 5 on one: the multiplicity
    # enters only linearly (R = sigma^2 + sum_j m_j h_j x_j), so the curves coincide
    w = np.array([0.5, -1.0, -1.0, 2.0])
    a = odes.LinearSGD(eigenvalues=[1.0, 0.3, 0.3, 0.05], target=w, multiplicity=[1.0, 2.5, 2.5, 3.0],
                       lr=0.2, batch=2, noise=0.1)
    b = odes.LinearSGD(eigenvalues=[1.0, 0.3, 0.05], target=w[[0, 1, 3]], multiplicity=[1, 5, 3],
                       lr=0.2, batch=2, noise=0.1)
    t = np.array([0, 1, 5, 50, 300.0])
    ra, rb = odes.risk_curve(a, t, method=method), odes.risk_curve(b, t, method=method)
    assert ra.success and rb.success
    np.testing.assert_allclose(ra.risk, rb.risk, rtol=1e-13)
    assert odes.kernel_norm(a) == pytest.approx(odes.kernel_norm(b), rel=1e-14)


@pytest.mark.parametrize("method", ["recursion", "propagator", "spectral"])
def test_isotropic_closed_form_holds_for_real_dimension(method):
    # H = I with weight d = 2.5, B = 1: E||e||^2 contracts by 1 - 2 eta + (d + 2) eta^2 per step
    # and the threshold is 2/(d + 2), real d (the Isserlis trace term is tr H = d)
    d, lr = 2.5, 0.1
    m = iso(d, lr)
    t = np.array([0, 1, 3, 30, 300.0])
    exact = m.initial_risk() * (1 - 2 * lr + (d + 2) * lr * lr) ** t
    r = odes.risk_curve(m, t, method=method)
    assert r.success
    np.testing.assert_allclose(r.risk, exact, rtol=1e-6 if method == "propagator" else 1e-12)
    assert odes.stability_threshold(m) == pytest.approx(2 / (d + 2), rel=1e-12)
    assert m.dimension == d


@pytest.mark.parametrize("batch, noise", [(1, 0.0), (4, 0.3)])
def test_spectral_closed_form_is_the_recursion(batch, noise):
    # the secular-equation solution against the step-by-step recursion (power-law spectrum, real
    # weights), and its long-time limit the fixed point sigma^2 / (1 - ||K||) (Sherman-Morrison)
    j = np.arange(1, 201, dtype=float)
    m = odes.LinearSGD(eigenvalues=j ** -1.4, target=j ** -0.6, multiplicity=1 + 0.37 * np.sin(j) ** 2,
                       lr=0.5 * batch / np.sum(j ** -1.4), batch=batch, noise=noise)
    t = np.array([0, 1, 2, 10, 100, 1000, 3000.0])
    s = odes.risk_curve(m, t, method="spectral")
    rec = odes.risk_curve(m, t, method="recursion")
    assert s.success and s.status == Status.CONVERGED
    np.testing.assert_allclose(s.risk, rec.risk, rtol=1e-11)
    assert np.all(s.risk_err < 1e-12 * s.risk[0])
    late = odes.risk_curve(m, [1e15], method="spectral")
    assert 2 * late.risk[0] == pytest.approx(noise / (1 - late.kernel_norm), rel=1e-9, abs=1e-14)


def test_spectral_reports_divergence_and_merges_equal_decay_rates():
    # kernel norm >= 1: DIVERGED, no numbers; two different eigenvalues with the same a_i (eps(h)
    # is symmetric about h = 1/(eta (1 + 1/B))) are one mode of the risk recursion: the closed
    # form still equals the step-by-step recursion
    big = iso(20, 1.02 * 2.0 / 22)
    r = odes.risk_curve(big, [0, 10], method="spectral")
    assert r.status == Status.DIVERGED and not r.success and np.all(np.isnan(r.risk))
    twin = odes.LinearSGD(eigenvalues=[0.3, 0.7, 0.1], target=[1.0, -0.5, 2.0], multiplicity=[0.1, 0.1, 0.4],
                          lr=1.0, noise=0.2)
    t = np.array([0, 1, 10, 100, 1000.0])
    r = odes.risk_curve(twin, t, method="spectral")
    assert r.success
    np.testing.assert_allclose(r.risk, odes.risk_curve(twin, t, method="recursion").risk, rtol=1e-12)


def test_general_spectrum_threshold_is_where_the_kernel_norm_reaches_one():
    m = odes.LinearSGD.power_law(300, 0.8, 0.6, lr=0.1, batch=3)
    thr = odes.stability_threshold(m)
    assert odes.kernel_norm(m, thr) == pytest.approx(1.0, abs=1e-9)
    # closed form of the norm without momentum: (eta^2/B) sum h^2 / (2 eta h - eta^2 h^2 (1 + 1/B))
    h = m.eigenvalues
    k = 0.7 * thr
    closed = k * k / 3 * np.sum(h * h / (2 * k * h - k * k * h * h * (1 + 1 / 3)))
    assert odes.kernel_norm(m, k) == pytest.approx(closed, rel=1e-13)
    t = odes.log_times(3e4, 15)
    assert odes.risk_curve(m.with_lr(1.05 * thr), t, method="recursion", bound=1e4).status == Status.DIVERGED
    ok = odes.risk_curve(m.with_lr(0.95 * thr), t, method="recursion")
    assert ok.success and ok.risk[-1] < ok.risk[0]


def test_momentum_threshold_from_the_same_kernel():
    # with heavy ball the per-mode map is 3 x 3; the exact recursion diverges across the same point
    m = odes.LinearSGD.power_law(100, 0.7, 0.5, lr=0.05, momentum=0.6)
    thr = odes.stability_threshold(m)
    t = odes.log_times(3e4, 15)
    assert odes.risk_curve(m.with_lr(1.05 * thr), t, method="recursion", bound=1e4).status == Status.DIVERGED
    assert odes.risk_curve(m.with_lr(0.95 * thr), t, method="recursion").success


@pytest.mark.parametrize("momentum, wd", [(0.0, 0.0), (0.0, 0.05), (0.5, 0.0), (0.5, 0.05)])
def test_large_batch_is_gradient_descent_on_the_population_loss(momentum, wd):
    # B -> infinity: the noise terms are O(1/B); the difference to the closed form shrinks as 1/B
    base = dict(eigenvalues=[1.0, 0.2, 0.01], target=[1.0, -0.5, 2.0], lr=0.3, momentum=momentum,
                weight_decay=wd, noise=0.2)
    t = np.array([0, 1, 3, 10, 40, 200.0])
    gd = odes.population_gd_risk(odes.LinearSGD(**base), t)
    diffs = []
    for B in (10 ** 4, 10 ** 5):
        r = odes.risk_curve(odes.LinearSGD(batch=B, **base), t, method="recursion").risk
        diffs.append(np.max(np.abs(r - gd)))
    assert diffs[0] / diffs[1] == pytest.approx(10.0, rel=0.01)
    assert diffs[1] < 1e-4 * gd[0]


# --------------------------------------------------------------------------- fast vs exact
CASES = {
    "constant": dict(),
    "batch8_noise": dict(batch=8, noise=0.01, lr=0.8),
    "power_decay": dict(schedule=PowerLaw(t0=100.0, power=0.5)),
    "warmup_cosine": dict(schedule=WarmupCosine(warmup=200.0, total=15000.0, final=0.05)),
    "piecewise": dict(schedule=Piecewise(boundaries=(300.0, 3000.0), values=(1.0, 0.3, 0.1))),
    "callable": dict(schedule=FromCallable(fn=lambda t: 1.0 / np.sqrt(1.0 + t / 50.0))),
    "momentum": dict(momentum=0.5, lr=0.2),
    "weight_decay": dict(weight_decay=1e-3, noise=0.02),
    "momentum_wd": dict(momentum=0.3, weight_decay=1e-3, lr=0.3),
}


@pytest.mark.parametrize("case", list(CASES))
def test_propagator_agrees_with_the_exact_recursion_within_its_estimate(case):
    kw = dict(lr=0.5)
    kw.update(CASES[case])
    m = odes.LinearSGD.power_law(120, 1.0, 0.7, **kw)
    t = odes.log_times(2e4, 30)
    rec = odes.risk_curve(m, t, method="recursion")
    prop = odes.risk_curve(m, t, rtol=1e-6)
    assert rec.success and prop.success, prop.message
    err = np.abs(prop.risk - rec.risk)
    assert np.all(err <= prop.risk_err), np.max(err / prop.risk_err)
    assert prop.error_estimate["log_risk"] <= 1e-6
    if "schedule" not in CASES[case]:
        # at a constant rate the cost is in blocks, not steps
        assert prop.n_iter < 0.2 * t[-1]


@pytest.mark.slow
@pytest.mark.parametrize("kw", [dict(), dict(batch=4, noise=1e-4), dict(momentum=0.5, lr=0.2)])
def test_propagator_at_scale_agrees_with_the_recursion_to_1e5_steps(kw):
    # 10^4 modes, 10^5 steps (10^9 mode-steps for the reference)
    m = odes.LinearSGD.power_law(10_000, 1.0, 0.5, **({"lr": 0.5} | kw))
    t = odes.log_times(1e5, 40)
    rec = odes.risk_curve(m, t, method="recursion")
    prop = odes.risk_curve(m, t)
    assert prop.success
    assert np.all(np.abs(prop.risk - rec.risk) <= prop.risk_err)
    assert prop.n_iter < 2000


def test_error_estimate_follows_the_tolerance():
    # the measured error shrinks with rtol, and the carried estimate bounds it at each
    m = odes.LinearSGD.power_law(200, 1.0, 0.8, lr=0.5)
    t = odes.log_times(3e4, 25)
    rec = odes.risk_curve(m, t, method="recursion").risk
    errs = []
    for rtol in (1e-4, 1e-6, 1e-8):
        p = odes.risk_curve(m, t, rtol=rtol)
        e = np.max(np.abs(p.risk - rec) / rec)
        assert e <= p.error_estimate["log_risk"] <= rtol
        errs.append(e)
    assert errs[0] > 10 * errs[1] > 100 * errs[2]


# --------------------------------------------------------------------------- continuous limit
def test_volterra_isotropic_closed_form():
    # continuous limit, H = I_d: dS/dt = (-2 eta + eta^2 d / B) S
    d, lr, B = 40, 0.01, 2
    m = iso(d, lr, B)
    t = odes.log_times(2e3, 20)
    v = odes.risk_curve(m, t, method="volterra", rtol=1e-6)
    exact = m.initial_risk() * np.exp((-2 * lr + lr * lr * d / B) * t)
    assert v.success
    assert np.all(np.abs(v.risk - exact) <= v.risk_err + 1e-15 * exact)
    assert v.error_estimate["log_risk"] <= 1e-6
    assert odes.stability_threshold(m, method="volterra") == pytest.approx(2.0 * B / d, rel=1e-12)


@pytest.mark.parametrize("batch, order", [(4, 1.0), (1, 2.0)])
def test_discrete_recursion_tends_to_the_volterra_limit(batch, order):
    # eta -> 0 at fixed eta t: the discrete curve approaches the continuous one.  Per step the
    # discrete decay a = 1 - 2 eta h + eta^2 h^2 (1 + 1/B) and e^{-2 eta h} = 1 - 2 eta h +
    # 2 eta^2 h^2 differ at O(eta^2) unless B = 1, where they agree to O(eta^3): over 1/eta steps
    # the gap is O(eta) for B > 1 and O(eta^2) at B = 1
    m0 = odes.LinearSGD.power_law(100, 0.8, 0.6, batch=batch, lr=0.1)
    lrs = (0.04, 0.02, 0.01)
    gaps = []
    for lr in lrs:
        m = m0.with_lr(lr)
        t = np.round(np.array([5.0, 20.0, 80.0]) / lr)
        a = odes.risk_curve(m, t, method="recursion").risk
        b = odes.risk_curve(m, t, method="volterra", rtol=1e-9).risk
        gaps.append(np.max(np.abs(a - b) / a))
    fitted = np.polyfit(np.log(lrs), np.log(gaps), 1)[0]
    assert fitted == pytest.approx(order, abs=0.1)


def test_heavy_ball_tends_to_the_volterra_limit_at_the_effective_rate():
    # heavy ball with fixed beta as eta -> 0 (eta t fixed): SGD at eta / (1 - beta), drift and
    # noise alike (each kick persists 1/(1 - beta) steps); the gap closes at first order in eta
    # once eta is small against 1 - beta (local order of the last halving)
    m0 = odes.LinearSGD.power_law(100, 0.8, 0.6, batch=2, lr=0.1, momentum=0.5)
    lrs = (0.005, 0.0025, 0.00125)
    gaps = []
    for lr in lrs:
        m = m0.with_lr(lr)
        t = np.round(np.array([5.0, 20.0, 80.0]) / lr)
        a = odes.risk_curve(m, t, method="recursion").risk
        b = odes.risk_curve(m, t, method="volterra", rtol=1e-9).risk
        gaps.append(np.max(np.abs(a - b) / a))
    assert gaps[0] > gaps[1] > gaps[2]
    assert math.log2(gaps[1] / gaps[2]) == pytest.approx(1.0, abs=0.1)


def test_volterra_weight_decay_fixed_point():
    # continuous limit, no noise in the data beyond sigma^2, weight decay: the mean tends to the ridge
    # solution -lam w*/(h + lam) per mode; the risk at long times to the deterministic ridge risk plus
    # the fluctuation floor. Without SGD noise (B large) the floor vanishes.
    h = np.array([1.0, 0.1])
    w = np.array([1.0, 2.0])
    lam = 0.05
    m = odes.LinearSGD(eigenvalues=h, target=w, lr=0.1, batch=10 ** 9, weight_decay=lam)
    v = odes.risk_curve(m, [0, 20000], method="volterra")
    ridge = 0.5 * np.sum(h * (lam * w / (h + lam)) ** 2)
    assert v.risk[-1] == pytest.approx(ridge, rel=1e-6)


# --------------------------------------------------------------------------- bad input
def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="eigenvalues"):
        odes.LinearSGD(eigenvalues=[1.0, 0.0])
    with pytest.raises(ValueError, match="target"):
        odes.LinearSGD(eigenvalues=[1.0, 0.5], target=[1.0])
    # multiplicities are weights > 0 (real weights are a spectral measure's masses)
    for bad in ([0.0], [-1.5], [np.inf], [np.nan]):
        with pytest.raises(ValueError, match="multiplicity"):
            odes.LinearSGD(eigenvalues=[1.0], multiplicity=bad)
    with pytest.raises(ValueError, match="momentum"):
        odes.LinearSGD(eigenvalues=[1.0], momentum=1.0)
    with pytest.raises(ValueError, match="batch"):
        odes.LinearSGD(eigenvalues=[1.0], batch=0)
    with pytest.raises(ValueError, match="spectral"):
        odes.risk_curve(odes.LinearSGD(eigenvalues=[1.0], momentum=0.5), [0, 5], method="spectral")
    m = odes.LinearSGD(eigenvalues=[1.0])
    with pytest.raises(ValueError, match="steps"):
        odes.risk_curve(m, [0, 5, 3])
    with pytest.raises(ValueError, match="method"):
        odes.risk_curve(m, [0, 5], method="euler")
    with pytest.raises(TypeError):
        odes.risk_curve(m, [0, 5], dt=0.1)


def test_result_records_conventions_and_archives(tmp_path):
    from lmech import archive

    m = odes.LinearSGD.power_law(20, 1.0, 0.5, lr=0.3)
    r = odes.risk_curve(m, odes.log_times(1e3, 10))
    assert r.conventions["time"].startswith("t = SGD steps")
    assert "(1/2)" in r.conventions["risk"]
    np.testing.assert_array_equal(r.samples, r.t * m.batch)
    archive.save(r, tmp_path / "r.h5", "curve")
    back = archive.load(tmp_path / "r.h5", "curve")
    np.testing.assert_array_equal(back.risk, r.risk)
    assert back.model == m


def test_sweep_kind_point_records_the_curve_and_the_threshold():
    from odes.kinds import linear_sgd_point, risk_times

    out = linear_sgd_point(spectrum="isotropic", d=20, lr=0.05, t_max=100.0, per_decade=2,
                           method="recursion")
    thr = 2.0 / 22.0
    assert out.scalars["lr_threshold"] == pytest.approx(thr, rel=1e-12)
    assert out.scalars["lr_ratio"] == pytest.approx(0.05 / thr, rel=1e-12)
    rho = 1 - 2 * 0.05 + 22 * 0.05 ** 2
    for t in risk_times(100.0, 2):
        assert out.scalars[f"risk_t{int(t)}"] == pytest.approx(0.5 * rho ** t, rel=1e-12)
    assert not out.scalars["diverged"]
    with pytest.raises(ValueError, match="spectrum"):
        linear_sgd_point(spectrum="flat", t_max=10.0)

"""Tests of validation.compare: statistics, extrapolation, verdict, on a synthetic simulator."""

import dataclasses
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2 as chi2_dist
from scipy.stats import t as student_t

import lmech
from lmech.result import Result
from lmech.status import Status
from lmech.spec import register_model
from validation import Simulator, ValidationReport, compare, extrapolate, register_simulator, theory_values


@register_model("validation.tests.GaussToy")
@dataclasses.dataclass(frozen=True)
class GaussToy:
    """Observable y(x) = a(x) + b / N + noise / sqrt(N): the simplest finite-size system."""

    b: float = 1.0
    noise: float = 0.5


def toy_point(N, seed, *, model, x):
    rng = np.random.default_rng([int(seed), int(N)])
    x = np.asarray(x, dtype=float)
    y = np.sin(x) + model.b / N + model.noise / math.sqrt(N) * rng.standard_normal(x.size)
    # a 2-component observable, the second exact at finite N
    yy = np.stack([y, np.cos(x)], axis=1)
    return Result(success=True, arrays={"x": x, "y": y, "yy": yy}, scalars={"N": int(N)})


register_simulator("validation.tests.GaussToy", Simulator(point=toy_point, x="x", observables=("y",)))

X = np.linspace(0.0, 2.0, 9)
THEORY = {"x": X, "y": np.sin(X), "yy": np.stack([np.sin(X), np.cos(X)], axis=1)}


def test_extrapolate_two_sizes_closed_form():
    # two sizes: a = (N2 y2 - N1 y1)/(N2 - N1), var a = (N2^2 s2^2 + N1^2 s1^2)/(N2 - N1)^2
    N1, N2 = 100.0, 300.0
    y = np.array([[1.3], [1.1]])
    s = np.array([[0.02], [0.01]])
    a, sa, chi2 = extrapolate([N1, N2], y, s, power=1.0)
    assert a[0] == pytest.approx((N2 * 1.1 - N1 * 1.3) / (N2 - N1), rel=1e-13)
    assert sa[0] == pytest.approx(math.sqrt(N2**2 * 0.01**2 + N1**2 * 0.02**2) / (N2 - N1), rel=1e-12)
    assert np.isnan(chi2[0])


@settings(max_examples=30, deadline=None)
@given(a=st.floats(-5, 5), b=st.floats(-50, 50), p=st.floats(0.5, 2.0))
def test_extrapolate_recovers_exact_law(a, b, p):
    sizes = np.array([50.0, 100.0, 200.0, 400.0])
    y = (a + b * sizes ** (-p))[:, None]
    s = np.full_like(y, 1e-3)
    ea, sa, chi2 = extrapolate(sizes, y, s, power=p)
    assert ea[0] == pytest.approx(a, abs=1e-9 * (1 + abs(b)))
    assert chi2[0] == pytest.approx(0.0, abs=1e-10)
    assert sa[0] > 0


def test_extrapolate_with_a_vanishing_standard_error():
    # exact values at one size (sem 0) and rounding-level sem at another: no singular solve
    a, sa, chi2 = extrapolate([100, 200], np.array([[1e-3], [1e-3]]), np.array([[0.0], [2e-19]]))
    assert a[0] == pytest.approx(1e-3, rel=1e-9) and sa[0] < 1e-14   # the floor: 1e-12 of the scale
    a, sa, chi2 = extrapolate([100, 200, 400], np.array([[0.0], [0.0], [0.0]]),
                              np.array([[0.0], [1e-300], [0.0]]))
    assert a[0] == 0.0 and np.isfinite(sa[0])


def test_extrapolate_error_matches_monte_carlo():
    # the propagated sigma_a is the spread of a over repeated noisy data sets
    rng = np.random.default_rng(1)
    sizes = np.array([100.0, 200.0, 400.0])
    s = np.array([0.03, 0.02, 0.01])
    reps = 4000
    y = 0.7 + 3.0 / sizes + s * rng.standard_normal((reps, 3))
    a, sa, chi2 = extrapolate(sizes, y.T, np.broadcast_to(s[:, None], (3, reps)))
    assert np.std(a) == pytest.approx(sa[0], rel=0.05)
    assert np.mean(a) == pytest.approx(0.7, abs=4 * sa[0] / math.sqrt(reps))
    # chi^2 with 1 degree of freedom has mean 1
    assert np.mean(chi2) == pytest.approx(1.0, abs=0.1)


def test_theory_values_exact_and_interpolated():
    th, note = theory_values(THEORY, "x", "y", X[2:5])
    assert note == "exact" and np.array_equal(th, np.sin(X[2:5]))
    th, note = theory_values(THEORY, "x", "yy", [0.1])
    assert "interpolation" in note
    assert th.shape == (1, 2)
    assert th[0, 0] == pytest.approx(np.sin(X[0]) + (np.sin(X[1]) - np.sin(X[0])) * 0.1 / X[1])
    with pytest.raises(ValueError, match="outside"):
        theory_values(THEORY, "x", "y", [3.0])
    with pytest.raises(ValueError, match="observables"):
        theory_values(THEORY, "x", "nope", [0.0])


def test_extrapolate_satterthwaite_dof_two_sizes_closed_form():
    # a = 1.5 y2 - 0.5 y1 (N1 = 100, N2 = 300): sigma_a^2 = v1 + v2 with v1 = 0.25 s1^2, v2 = 2.25 s2^2,
    # nu = (v1 + v2)^2 / (v1^2/(n1-1) + v2^2/(n2-1))  (Satterthwaite 1946, eq. 17)
    s1, s2, n1, n2 = 0.02, 0.01, 5, 9
    a, sa, chi2, nu = extrapolate([100, 300], np.array([[1.3], [1.1]]), np.array([[s1], [s2]]),
                                  n=np.array([[n1], [n2]]))
    v1, v2 = 0.25 * s1**2, 2.25 * s2**2
    assert nu[0] == pytest.approx((v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1)), rel=1e-12)
    # one size: the plain n - 1
    assert extrapolate([100], np.array([[1.0]]), np.array([[0.1]]), n=7)[3][0] == 6.0


def test_compare_agrees_with_correct_theory_and_extrapolates():
    # noise 0.01: sigma of the extrapolation ~ 1e-4, far inside the default tolerance 1e-3 + 0.05 |y|
    rep = compare(THEORY, GaussToy(b=5.0, noise=0.01), sizes=[100, 200, 400, 800], seeds=20,
                  observables=["y", "yy"], sim_options={"x": X})
    assert isinstance(rep, ValidationReport) and rep.success
    assert rep.verdict == "agree" and rep.agree and rep.agree_y and rep.agree_yy, rep.message
    assert "AGREE" in rep.message and rep.status == Status.CONVERGED
    assert rep.arrays["y/mean"].shape == (4, X.size)
    assert rep.arrays["yy/mean"].shape == (4, X.size, 2)
    # sem = noise/sqrt(N)/sqrt(20) up to the sampling error of a standard deviation
    ratio = rep.arrays["y/sem"] / (0.01 / np.sqrt([[100], [200], [400], [800]]) / math.sqrt(20))
    assert 0.6 < np.median(ratio) < 1.4
    # the bias b/N is removed by the extrapolation: largest-N mean is biased, the intercept is not
    bias = rep.arrays["y/mean"] - np.sin(X)
    assert np.all(bias[0] > 0.0) and np.mean(bias[0]) == pytest.approx(5.0 / 100, abs=0.0005)
    assert np.max(np.abs(rep.arrays["y/extrap_z"])) <= rep.z_crit_y
    # the default tolerance: 1e-3 max|theory| + 0.05 |theory|
    assert np.allclose(rep.arrays["y/tol"], 1e-3 * np.max(np.abs(np.sin(X))) + 0.05 * np.abs(np.sin(X)))
    assert np.all(rep.arrays["y/equiv_bound"] <= rep.arrays["y/tol"]) and rep.tol_ratio_y <= 1.0
    # the exactly-known second component has sem 0 (to rounding) and z ~ 0 (atol floor 1e-10)
    assert np.all(rep.arrays["yy/sem"][..., 1] < 1e-15)
    assert np.all(np.abs(rep.arrays["yy/z"][..., 1]) < 1e-5)
    # the gap shrinks like 1/N (bias-dominated: b/N is >= 70 standard errors at every size)
    assert rep.gap_exponent_y == pytest.approx(-1.0, abs=0.1)
    # Bonferroni over all 9 + 18 points of both observables
    assert rep.n_tests == 27 and "Bonferroni" in rep.conventions["rejection"]
    # error estimate: the extrapolation's standard error (Birge-scaled, >= the propagated one)
    assert rep.error_estimate["y"] == pytest.approx(np.max(rep.arrays["y/sigma"]), rel=1e-6)
    assert rep.error_estimate["y"] >= np.max(rep.arrays["y/extrap_err"])
    tab = rep.table("y")
    assert "N=100" in tab and "z_crit" in tab and "tol" in tab and "extrap" in rep.table("yy", (0,))


def test_compare_detects_wrong_theory():
    # 20 % off: outside the 5 % tolerance, and rejected (|z| ~ 20 / sigma)
    wrong = dict(THEORY, y=np.sin(X) * 1.2)
    rep = compare(wrong, GaussToy(), sizes=[100, 200, 400, 800], seeds=20, sim_options={"x": X})
    assert rep.success and rep.verdict == "disagree" and not rep.agree and not rep.agree_y
    assert "DISAGREE" in rep.message and rep.status == Status.DISAGREE
    assert rep.max_abs_z_y > rep.z_crit_y and rep.rejected_y


def test_compare_small_resolved_deviation_within_tolerance_agrees():
    # 1 % off with sigma ~ 1e-4: resolved (rejected), yet within the stated 5 % tolerance -> agree;
    # with a 0.1 % tolerance the same data disagree
    wrong = dict(THEORY, y=np.sin(X) * 1.01)
    kw = dict(sizes=[100, 200, 400, 800], seeds=20, sim_options={"x": X})
    rep = compare(wrong, GaussToy(noise=0.01), **kw)
    assert rep.verdict == "agree" and rep.rejected_y and "within the tolerance" in rep.message
    rep = compare(wrong, GaussToy(noise=0.01), tol_rel=0.001, tol_abs=1e-4, **kw)
    assert rep.verdict == "disagree"


def test_compare_too_little_data_is_inconclusive():
    # sigma of the extrapolation ~ 0.5/sqrt(100 * 3) * sqrt(5) ~ 0.06, far above the tolerance:
    # neither rejected nor proved; the smallest detectable deviation says how far off a theory
    # could be unnoticed: (z_crit + t_0.8) sigma
    rep = compare(THEORY, GaussToy(noise=0.5), sizes=[100, 200], seeds=3, sim_options={"x": X})
    assert rep.verdict == "inconclusive" and not rep.agree and "INCONCLUSIVE" in rep.message
    assert rep.status == Status.INCONCLUSIVE
    sig = rep.arrays["y/sigma"]
    assert np.allclose(rep.arrays["y/mdd"], (rep.z_crit_y + student_t.isf(0.2, rep.dof_y)) * sig)
    assert rep.mdd_y == pytest.approx(np.max(rep.arrays["y/mdd"]))
    assert rep.mdd_y > np.max(rep.arrays["y/tol"]) and rep.tol_ratio_y > 1.0


def test_compare_equivalence_test_false_agreement_rate_at_the_margin():
    # one point, one size: d/sigma is Student t with n - 1 dof, so a theory off by exactly tol agrees
    # with probability exactly `level` (TOST at the margin).  400 repetitions: Binomial(400, 0.1),
    # mean 40, sd 6; |count - 40| > 24 has probability < 1e-4
    x1 = np.array([1.0])
    off = {"x": x1, "y": np.sin(x1) + 0.01}
    agreed = 0
    for k in range(400):
        rep = compare(off, GaussToy(b=0.0, noise=0.2), sizes=[400], seeds=list(range(5 * k, 5 * k + 5)),
                      sim_options={"x": x1}, level=0.1, tol_abs=0.01, tol_rel=0.0)
        agreed += rep.verdict == "agree"
    assert abs(agreed - 40) <= 24


def test_compare_never_agrees_with_a_failed_theory():
    failed = Result(success=False, message="did not converge", arrays=dict(THEORY))
    rep = compare(failed, GaussToy(noise=0.01), sizes=[100, 200, 400, 800], seeds=20, sim_options={"x": X})
    assert rep.verdict == "inconclusive" and not rep.agree and not rep.success
    assert rep.status == Status.INCONCLUSIVE
    assert "success=False" in rep.message and rep.theory_success is False


def test_compare_uses_the_theory_error_estimate():
    # a theory carrying error_estimate 0.05 on y: sigma >= 0.05 everywhere, so the 1e-3-level data
    # can no longer prove agreement within the default tolerance near y = 0
    th = Result(success=True, arrays=dict(THEORY), error_estimate={"y": 0.05})
    rep = compare(th, GaussToy(noise=0.01), sizes=[100, 200], seeds=5, sim_options={"x": X})
    assert np.all(rep.arrays["y/sigma"] >= 0.05) and rep.verdict == "inconclusive"


def test_compare_nan_theory_error_estimate_cannot_agree():
    # "could not estimate" is not "exact": the data that prove agreement with an exact theory
    # (test_compare_agrees_with_correct_theory_and_extrapolates) cannot with a nan estimate
    kw = dict(sizes=[100, 200, 400, 800], seeds=20, sim_options={"x": X})
    exact = compare(Result(success=True, arrays=dict(THEORY), error_estimate={"y": 0.0}),
                    GaussToy(b=5.0, noise=0.01), **kw)
    assert exact.verdict == "agree" and not exact.theory_err_unknown_y
    rep = compare(Result(success=True, arrays=dict(THEORY), error_estimate={"y": math.nan}),
                  GaussToy(b=5.0, noise=0.01), **kw)
    assert rep.verdict == "inconclusive" and not rep.agree and rep.theory_err_unknown_y
    assert not np.any(rep.arrays["y/agree"]) and "could not estimate" in rep.message
    # the same statistics otherwise (sigma holds no theory term): a wrong theory is still rejected
    assert np.array_equal(rep.arrays["y/sigma"], exact.arrays["y/sigma"])
    wrong = Result(success=True, arrays=dict(THEORY, y=np.sin(X) * 1.2), error_estimate={"y": math.nan})
    rep = compare(wrong, GaussToy(b=5.0, noise=0.01), **kw)
    assert rep.verdict == "disagree" and "could not estimate" in rep.message


@register_model("validation.tests.SqrtToy")
@dataclasses.dataclass(frozen=True)
class SqrtToy:
    """Observable y(x) = sin x + c / sqrt(N) + noise / sqrt(N): a finite-size law that is not 1/N."""

    c: float = 0.01
    noise: float = 1e-4


def sqrt_toy_point(N, seed, *, model, x):
    rng = np.random.default_rng([int(seed), int(N)])
    x = np.asarray(x, dtype=float)
    y = np.sin(x) + model.c / math.sqrt(N) + model.noise / math.sqrt(N) * rng.standard_normal(x.size)
    return Result(success=True, arrays={"x": x, "y": y})


register_simulator("validation.tests.SqrtToy", Simulator(point=sqrt_toy_point, x="x", observables=("y",)))


def test_compare_refuses_agree_where_the_finite_size_fit_is_rejected():
    # c/sqrt(N) fitted as a + b/N over N = 100..800: residuals ~ 1e-4 against standard errors
    # ~ 1e-6, so chi^2 (2 dof) is huge and the Birge-scaled sigma (estimated from 2 dof) cannot be
    # trusted with Welch-Satterthwaite quantiles: no point may agree, whatever the tolerance
    kw = dict(sizes=[100, 200, 400, 800], seeds=10, sim_options={"x": X})
    rep = compare(THEORY, SqrtToy(), tol_rel=0.5, **kw)
    chi2 = rep.arrays["y/extrap_chi2"]
    assert np.allclose(rep.arrays["y/fit_p"], chi2_dist.sf(chi2, 2))   # S - 2 = 2 dof
    assert np.all(rep.arrays["y/poor_fit"]) and rep.poor_fit_y == X.size
    assert rep.verdict != "agree" and not np.any(rep.arrays["y/agree"])
    assert "1/N fit is rejected" in rep.message
    # the true law (power 1/2) fits (chi^2 ~ 2): agreement is proved, no point flagged
    rep = compare(THEORY, SqrtToy(), tol_rel=0.5, power=0.5, **kw)
    assert rep.verdict == "agree" and rep.poor_fit_y == 0, rep.message
    assert np.all(rep.arrays["y/fit_p"] > 0.0)


def test_compare_false_rejection_rate_is_controlled():
    # with a correct theory the family-wise rejection probability is about `level`
    rejected = 0
    for k in range(20):
        rep = compare(THEORY, GaussToy(b=0.0), sizes=[400, 800], seeds=list(range(10 * k, 10 * k + 10)),
                      sim_options={"x": X}, level=0.05)
        rejected += rep.verdict == "disagree"
    assert rejected <= 4   # P(Binomial(20, 0.05) > 4) < 0.003


def test_compare_single_size_uses_its_own_zscores():
    rep = compare(THEORY, GaussToy(b=0.0), sizes=[400], seeds=10, sim_options={"x": X})
    assert np.array_equal(rep.arrays["y/extrap"], rep.arrays["y/mean"][0])
    assert np.isnan(rep.gap_exponent_y)


def test_compare_process_pool_gives_identical_report():
    import validation.committee  # noqa: F401

    rep1 = compare(THEORY, GaussToy(), sizes=[100, 200], seeds=4, sim_options={"x": X})
    with ProcessPoolExecutor(2) as ex:
        # the toy point function lives in this test module: workers import it by reference
        rep2 = compare(THEORY, GaussToy(), sizes=[100, 200], seeds=4, sim_options={"x": X}, executor=ex)
    assert rep2.success
    for k in ("y/mean", "y/sem", "y/extrap"):
        assert np.array_equal(rep1.arrays[k], rep2.arrays[k])


def test_report_archive_round_trip(tmp_path):
    rep = compare(THEORY, GaussToy(), sizes=[100, 200], seeds=3, observables=["yy"], sim_options={"x": X})
    path = tmp_path / "rep.h5"
    lmech.archive.save(rep, path, "report")
    back = lmech.archive.load(path, "report")
    assert isinstance(back, ValidationReport)
    assert back.same_as(rep)


def test_compare_input_errors():
    with pytest.raises(ValueError, match="sizes"):
        compare(THEORY, GaussToy(), sizes=[100, 100], sim_options={"x": X})
    with pytest.raises(ValueError, match="sizes"):
        compare(THEORY, GaussToy(), sizes=[0, 100], sim_options={"x": X})
    with pytest.raises(ValueError, match="seeds"):
        compare(THEORY, GaussToy(), sizes=[100], seeds=1, sim_options={"x": X})
    with pytest.raises(ValueError, match="seeds"):
        compare(THEORY, GaussToy(), sizes=[100], seeds=[3, 3], sim_options={"x": X})
    with pytest.raises(ValueError, match="observables"):
        compare(THEORY, GaussToy(), sizes=[100], observables=["zz"], sim_options={"x": X})
    with pytest.raises(ValueError, match="level"):
        compare(THEORY, GaussToy(), sizes=[100], level=0.5, sim_options={"x": X})
    with pytest.raises(ValueError, match="tol_rel"):
        compare(THEORY, GaussToy(), sizes=[100], tol_rel=-0.1, sim_options={"x": X})
    with pytest.raises(ValueError, match="tol_abs"):
        compare(THEORY, GaussToy(), sizes=[100], tol_abs={"nope": 0.1}, sim_options={"x": X})
    with pytest.raises(ValueError, match="power"):
        compare(THEORY, GaussToy(), sizes=[100], power=0.0, sim_options={"x": X})
    with pytest.raises(ValueError, match="model"):
        compare(THEORY, object(), sizes=[100])
    with pytest.raises(ValueError, match="theory"):
        compare([1, 2], GaussToy(), sizes=[100], sim_options={"x": X})


@register_model("validation.tests.BrokenToy")
@dataclasses.dataclass(frozen=True)
class BrokenToy:
    """A model whose simulator raises at run time (a failing simulation)."""


def broken_point(N, seed, *, model, x):
    raise RuntimeError(f"simulation at N = {N} blew up")


register_simulator("validation.tests.BrokenToy", Simulator(point=broken_point, x="x", observables=("y",)))


def test_unknown_sim_options_are_refused_before_any_simulation():
    with pytest.raises(TypeError, match="sim_options.*bogus"):
        compare(THEORY, GaussToy(), sizes=[100], seeds=3, sim_options={"x": X, "bogus": 1})


def test_failed_simulations_are_reported_not_raised():
    rep = compare(THEORY, BrokenToy(), sizes=[100], seeds=3, sim_options={"x": X})
    assert not rep.success and "failed" in rep.message and not rep.agree and rep.verdict != "agree"
    assert "no simulation data" in rep.table("y")
    assert rep.status == Status.INCOMPLETE  # every simulation raised: no data to judge on


def test_compare_on_dask(dask_scheduler):
    distributed = pytest.importorskip("distributed")
    rep1 = compare(THEORY, GaussToy(), sizes=[100, 200], seeds=3, sim_options={"x": X})
    with distributed.Client(dask_scheduler) as client:
        # the toy point function is module-level in this test module: ship the module by value
        import sys
        client.upload_file(sys.modules[__name__].__file__)
        rep2 = compare(THEORY, GaussToy(), sizes=[100, 200], seeds=3, sim_options={"x": X},
                       executor=client.get_executor())
    assert rep2.success, rep2.message
    assert np.array_equal(rep1.arrays["y/mean"], rep2.arrays["y/mean"])


def test_reports_from_before_the_three_way_verdict_still_load(tmp_path):
    # format of earlier reports: ``agree`` meant "not rejected" at |z| <= z_max; no verdict scalar.
    # Such a report never proved agreement: it reads as inconclusive (or disagree)
    P = X.size
    arrays = {"x": X, "sizes": np.array([100, 200]), "seeds": np.arange(3),
              "y/mean": np.zeros((2, P)), "y/sem": np.ones((2, P)), "y/theory": np.sin(X),
              "y/z": np.zeros((2, P)), "y/extrap": np.zeros(P), "y/extrap_err": np.ones(P),
              "y/extrap_z": np.zeros(P), "y/extrap_chi2": np.full(P, np.nan), "y/gap": np.ones(2),
              "y/agree": np.ones(P, bool), "y/n": np.full((2, P), 3)}
    for agree, verdict in ((True, "inconclusive"), (False, "disagree")):
        old = ValidationReport(success=True, message="old", arrays=arrays,
                               scalars={"agree": agree, "agree_y": agree, "max_abs_z_y": 0.5,
                                        "gap_exponent_y": 0.0, "z_max": 3.5, "n_seeds": 3, "n_sizes": 2},
                               meta={"x": "x", "observables": ["y"]})
        path = tmp_path / f"old_{agree}.h5"
        lmech.archive.save(old, path, "report")
        back = lmech.archive.load(path, "report")
        assert back.same_as(old)
        assert back.verdict == verdict and back.verdict_of("y") == verdict
        assert "old report" in back.table("y") and "3.50" in back.table("y")


@register_model("validation.tests.NaNToy")
@dataclasses.dataclass(frozen=True)
class NaNToy:
    """The toy of GaussToy whose seed 0 returns a NaN at one point while reporting success."""

    b: float = 5.0
    noise: float = 0.01


def nan_toy_point(N, seed, *, model, x):
    res = toy_point(N, seed, model=GaussToy(b=model.b, noise=model.noise), x=x)
    y = np.array(res.arrays["y"])
    if seed == 0:
        y[1] = np.nan
    return Result(success=True, arrays={"x": res.arrays["x"], "y": y})


register_simulator("validation.tests.NaNToy", Simulator(point=nan_toy_point, x="x", observables=("y",)))


def test_non_finite_values_of_successful_runs_are_counted_and_forbid_agreement():
    # the same data as an agreeing comparison, except one NaN per size in runs reporting success:
    # counted (one per size), noted in the message, and agreement is no longer claimed
    kw = dict(sizes=[100, 200, 400, 800], seeds=20, sim_options={"x": X})
    good = compare(Result(success=True, arrays=dict(THEORY), error_estimate={"y": 0.0}), GaussToy(b=5.0, noise=0.01),
                   **kw)
    assert good.verdict == "agree" and good.nonfinite_y == 0
    rep = compare(Result(success=True, arrays=dict(THEORY), error_estimate={"y": 0.0}), NaNToy(), **kw)
    assert rep.nonfinite_y == 4
    assert rep.verdict == "inconclusive" and "non-finite value(s)" in rep.message

"""Tests of validation.compare: statistics, extrapolation, verdict, on a synthetic simulator."""

import dataclasses
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmech
from lmech.result import Result
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


def test_compare_agrees_with_correct_theory_and_extrapolates():
    rep = compare(THEORY, GaussToy(b=5.0, noise=0.1), sizes=[100, 200, 400, 800], seeds=20,
                  observables=["y", "yy"], sim_options={"x": X})
    assert isinstance(rep, ValidationReport) and rep.success
    assert rep.agree and rep.agree_y and rep.agree_yy, rep.message
    assert rep.arrays["y/mean"].shape == (4, X.size)
    assert rep.arrays["yy/mean"].shape == (4, X.size, 2)
    # sem = noise/sqrt(N)/sqrt(20) up to the sampling error of a standard deviation
    ratio = rep.arrays["y/sem"] / (0.1 / np.sqrt([[100], [200], [400], [800]]) / math.sqrt(20))
    assert 0.6 < np.median(ratio) < 1.4
    # the bias b/N is removed by the extrapolation: largest-N mean is biased, the intercept is not
    bias = rep.arrays["y/mean"] - np.sin(X)
    assert np.all(bias[0] > 0.0) and np.mean(bias[0]) == pytest.approx(5.0 / 100, abs=0.004)
    assert np.max(np.abs(rep.arrays["y/extrap_z"])) <= rep.z_max
    # the exactly-known second component has sem 0 (to rounding) and z ~ 0 (atol floor 1e-10)
    assert np.all(rep.arrays["yy/sem"][..., 1] < 1e-15)
    assert np.all(np.abs(rep.arrays["yy/z"][..., 1]) < 1e-5)
    # the gap shrinks like 1/N (bias-dominated: b/N is >= 7 standard errors at every size)
    assert -1.4 < rep.gap_exponent_y < -0.6
    assert "Bonferroni" in rep.conventions["verdict"]
    assert "N=100" in rep.table("y") and "extrap" in rep.table("yy", (0,))


def test_compare_detects_wrong_theory():
    wrong = dict(THEORY, y=np.sin(X) * 1.02)
    rep = compare(wrong, GaussToy(), sizes=[100, 200, 400, 800], seeds=20, sim_options={"x": X})
    assert rep.success and not rep.agree and not rep.agree_y
    assert "DISAGREE" in rep.message
    assert rep.max_abs_z_y > rep.z_max


def test_compare_false_rejection_rate_is_controlled():
    # with a correct theory the family-wise rejection probability is about `level`
    rejected = 0
    for k in range(20):
        rep = compare(THEORY, GaussToy(b=0.0), sizes=[400, 800], seeds=list(range(10 * k, 10 * k + 10)),
                      sim_options={"x": X}, level=0.05)
        rejected += not rep.agree
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
        compare(THEORY, GaussToy(), sizes=[100], level=1.5, sim_options={"x": X})
    with pytest.raises(ValueError, match="power"):
        compare(THEORY, GaussToy(), sizes=[100], power=0.0, sim_options={"x": X})
    with pytest.raises(ValueError, match="model"):
        compare(THEORY, object(), sizes=[100])
    with pytest.raises(ValueError, match="theory"):
        compare([1, 2], GaussToy(), sizes=[100], sim_options={"x": X})


def test_failed_simulations_are_reported_not_raised():
    rep = compare(THEORY, GaussToy(), sizes=[100], seeds=3, sim_options={"x": X, "bogus": 1})
    assert not rep.success and "failed" in rep.message and not rep.agree
    assert "no simulation data" in rep.table("y")


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

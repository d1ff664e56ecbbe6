"""Bad input to the public dmft API, table-driven: every call either raises
ValueError/TypeError naming the argument (or warns, before any work, that it would be
long: :class:`dmft.cost.CostWarning`, naming the argument), or returns an honest
result (``success`` only with finite main values).  Plus the mathematics behind the
refusals: the dynamical temperature of the p-spin, the Marchenko-Pastur limits, the
memory estimate."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import dmft
import lmech
from dmft.cost import CostWarning
from dmft.doubling import doubling_grid
from dmft.rnn import stationary_profile

NAN, INF = float("nan"), float("inf")
#: the bad values of the issue: NaN, inf, negative, zero, huge, wrong type (str,
#: complex), wrong shape, empty string
BAD = {"nan": NAN, "inf": INF, "neg": -1.0, "zero": 0, "huge": 1e300, "str": "abc",
       "complex": 1 + 2j, "shape": [1.0, 2.0], "empty": ""}
#: more of them for the slow run
MORE = {"-inf": -INF, "tiny": 1e-300, "neg_int": -3, "bool": True, "none": None,
        "ndarray": np.array([NAN]), "nested": [[1.0], [2.0, 3.0]], "float32_nan": np.float32(NAN),
        "big_float": 1.7e308, "int_beyond_float": 10**400}

P3 = dmft.SphericalPSpin(p=3, T=0.8)
GLM = dmft.GLMDynamics()
RNN = dmft.RandomRNN(g=1.5, phi="erf")
LIN = dmft.LinearRegressionGF()

#: (label, callable taking the keyword under test, the keyword's name, the base keywords)
#: the base call is cheap and valid; each case replaces one keyword with a bad value
CASES = [
    ("solve-uniform", lambda **k: dmft.solve(**k),
     dict(model=P3, t_max=1.0, method="uniform", dt=0.1),
     ("t_max", "method", "dt", "tol", "rtol_corrector", "max_corrector", "n_quad",
      "closed_form", "extrapolate", "rtol", "resume")),
    ("solve-uniform-rnn", lambda **k: dmft.solve(**k),
     dict(model=RNN, t_max=1.0, method="uniform", dt=0.1), ("n_quad", "closed_form")),
    ("solve-stationary", lambda **k: dmft.solve(**k),
     dict(model=P3, t_max=1.0, method="stationary", dt=0.1),
     ("t_max", "dt", "tol", "max_corrector", "extrapolate", "rtol", "n_quad")),
    ("solve-stationary-rnn", lambda **k: dmft.solve(**k),
     dict(model=dmft.RandomRNN(g=1.5, phi="tanh"), t_max=1.0, method="stationary", dt=0.1),
     ("n_quad", "rtol", "tol")),
    ("solve-doubling", lambda **k: dmft.solve(**k),
     dict(model=P3, t_max=2.0, method="doubling", n_window=32, dt0=0.05),
     ("t_max", "n_window", "dt0", "tol", "max_corrector", "n_copy", "fdt_split", "checkpoint",
      "resume", "rtol", "estimate")),
    ("solve-sampled", lambda **k: dmft.solve(**k),
     dict(model=GLM, t_max=0.4, method="sampled", dt=0.1, n_traj=20, n_replicas=2),
     ("t_max", "dt", "n_traj", "n_samples", "n_replicas", "seed", "tol_se", "n_pass",
      "max_iter", "damping", "adaptive_damping", "resume")),
    ("SphericalPSpin", dmft.SphericalPSpin, dict(), ("p", "T", "convention", "mixture")),
    ("LinearRegressionGF", dmft.LinearRegressionGF, dict(),
     ("alpha", "noise", "ridge", "signal", "temperature")),
    ("RandomRNN", dmft.RandomRNN, dict(), ("g", "phi", "noise", "x0_var")),
    ("GLMDynamics", dmft.GLMDynamics, dict(),
     ("alpha", "loss", "ridge", "teacher", "noise", "rho", "temperature", "batch_fraction",
      "persistence")),
    ("convert", dmft.convert, dict(source="half", target="full", T=0.5, t=1.0, energy=-0.5),
     ("source", "target", "T", "t", "energy")),
    ("dynamical_temperature", dmft.dynamical_temperature, dict(p=3, convention="half"),
     ("p", "convention")),
    ("equilibrium_energy", dmft.equilibrium_energy, dict(T=1.0, p=3), ("T", "p", "convention")),
    ("threshold_energy", dmft.threshold_energy, dict(p=3), ("p", "convention")),
    ("aging_plateau", dmft.aging_plateau, dict(T=0.5, p=3), ("T", "p", "convention")),
    ("aging_fdr", dmft.aging_fdr, dict(T=0.5, p=3), ("T", "p", "convention")),
    ("aging_energy", dmft.aging_energy, dict(T=0.5, p=3), ("T", "p", "convention")),
    ("mp_error", dmft.mp_error, dict(model=LIN, t=1.0), ("model", "t")),
    ("mp_train_loss", dmft.mp_train_loss, dict(model=LIN, t=1.0), ("model", "t")),
    ("stationary_variance", dmft.stationary_variance, dict(model=dmft.RandomRNN(g=1.5)),
     ("model", "n_quad")),
    ("doubling_grid", doubling_grid, dict(t_max=100.0, n_window=64, dt0=0.05),
     ("t_max", "n_window", "dt0")),
    ("stationary_profile", stationary_profile, dict(model=dmft.RandomRNN(g=1.5), tau_max=2.0,
                                                    n_points=20, n_quad=16),
     ("model", "tau_max", "n_points", "n_quad", "rtol", "delta_min")),
    ("pspin2_exact", dmft.pspin2_exact, dict(T=0.5, times=[0.5, 1.0]),
     ("T", "times", "convention", "correlation", "tol")),
]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    # a path-like bad value (checkpoint="abc") writes its archive here, not in the checkout
    monkeypatch.chdir(tmp_path)


def _finite(x) -> bool:
    try:
        return bool(np.all(np.isfinite(np.asarray(x, dtype=float))))
    except (TypeError, ValueError):
        return True  # not a number (a string, a model): nothing to check


def _check_outcome(fn, kwargs, name):
    """The contract: a refusal naming ``name``, or an honest result."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CostWarning)  # a long run is stated before any work
        try:
            out = fn(**kwargs)
        except (ValueError, TypeError, CostWarning) as e:
            assert name in str(e), f"{name}={kwargs[name]!r}: message does not name it: {e}"
            return
    if isinstance(out, dmft.DMFTResult):
        if out.success:
            assert all(_finite(v) for v in out.scalars.values()), out.scalars
            assert all(_finite(v) for v in out.error_estimate.values()), out.error_estimate
        else:
            assert out.status < 0 or out.message, "a failed result must say why"
    elif isinstance(out, (float, int)):
        assert math.isfinite(out), f"{name}={kwargs[name]!r} returned {out!r}"
    elif isinstance(out, tuple):  # doubling_grid, stationary_profile
        assert all(_finite(v) for v in out), out
    elif isinstance(out, dict):
        assert all(_finite(v) for v in out.values()), out
    elif hasattr(out, "energy"):  # Pspin2Exact
        assert _finite(out.energy) and _finite(out.mu)


def _cases(values):
    for label, fn, base, names in CASES:
        for name in names:
            for vname, v in values.items():
                yield pytest.param(fn, base, name, v, id=f"{label}-{name}-{vname}")


@pytest.mark.parametrize("fn,base,name,value", list(_cases(BAD)))
def test_bad_value_is_refused_or_honest(fn, base, name, value):
    _check_outcome(fn, {**base, name: value}, name)


@pytest.mark.slow
@pytest.mark.parametrize("fn,base,name,value", list(_cases(MORE)))
def test_more_bad_values_are_refused_or_honest(fn, base, name, value):
    _check_outcome(fn, {**base, name: value}, name)


# -- memory and work, estimated before any allocation -------------------------------------
def test_memory_refused_up_front_naming_the_parameters():
    # 1e6 / 0.05 = 2e7 steps: the two-time arrays would need ~ 4e7 GiB (the issue's
    # MemoryError of 2.84 PiB came from the allocation itself)
    with pytest.raises(ValueError, match=r"t_max/dt.*GiB"):
        dmft.solve(dmft.SphericalPSpin(p=3, T=0.3), 1e6, dt=0.05)
    with pytest.raises(ValueError, match=r"n_traj.*GiB"):
        dmft.solve(GLM, 10.0, method="sampled", n_traj=10 ** 7)
    with pytest.raises(ValueError, match="t_max"):  # beyond 2^1000 doublings
        dmft.solve(P3, 1e300, method="doubling", dt0=1e-300)


def test_window_memory_is_checked_against_what_is_available(monkeypatch):
    # ten (N+1)^2 float64 arrays (window state and output) and the uniform start: 1.3 GiB at
    # N = 4096, more than lmech.checks.MEMORY_FRACTION = 0.5 of 1 GiB
    import lmech.checks
    monkeypatch.setattr(lmech.checks, "available_memory", lambda: 2 ** 30)
    with pytest.raises(ValueError, match=r"n_window = 4096.*1\.3[0-9]* GiB"):
        dmft.solve(P3, 1e4, method="doubling", n_window=4096)
    # and the uniform grid: 2 arrays of (2n-1)^2 + 3 n^2 + (n/2)^2 points at n = 3001, 0.97 GiB
    with pytest.raises(ValueError, match=r"t_max/dt = 300.0/0.1.*GiB"):
        dmft.solve(P3, 300.0, dt=0.1)


@pytest.mark.parametrize("call", [
    # O(n^3) uniform grid, 6000-point finest level
    lambda: dmft.solve(P3, 300.0, dt=0.1),
    # 33 doublings of a 4096-point window
    lambda: dmft.solve(P3, 1e12, method="doubling", n_window=4096),
    # 1e6 lags of the one-time solver (O(n^2): hours; 0.1 GiB, within any machine's memory rule;
    # 1e8 lags need 10 GiB, refused where half the available memory is less)
    lambda: dmft.solve(P3, 1e4, method="stationary", dt=0.01),
])
def test_long_runs_are_announced_before_any_work(call):
    # the warning comes first: made an error, it stops the call before the run starts
    with warnings.catch_warnings():
        warnings.simplefilter("error", CostWarning)
        with pytest.raises(CostWarning, match="expected to take about"):
            call()


# -- options a method does not use, values out of range -----------------------------------
def test_options_are_checked_for_every_model():
    # n_quad is an RNN option: refused for the p-spin (it used to be ignored, n_quad=1 too)
    for nq in (1, 48):
        with pytest.raises(TypeError, match="n_quad.*SphericalPSpin"):
            dmft.solve(P3, 5.0, method="stationary", n_quad=nq)
    with pytest.raises(TypeError, match="tol.*RandomRNN"):
        dmft.solve(RNN, 5.0, method="stationary", tol=1e-8)
    with pytest.raises(TypeError, match="closed_form"):
        dmft.solve(P3, 1.0, closed_form=False)
    # the method's own function checks the value whatever the model
    from dmft.stationary import solve_stationary
    with pytest.raises(ValueError, match="n_quad"):
        solve_stationary(P3, 5.0, n_quad=1)
    with pytest.raises(ValueError, match="model"):
        dmft.solve(LIN, 2.0, method="doubling")
    with pytest.raises(ValueError, match="n_window must be even"):
        dmft.solve(P3, 2.0, method="doubling", n_window=34 + 1)
    with pytest.raises(ValueError, match="checkpoint"):
        dmft.solve(P3, 2.0, method="doubling", n_window=32, checkpoint="")


# -- the paramagnetic ansatz below T_d ---------------------------------------------------
def test_dynamical_temperature_closed_form():
    # T_d^2 = p (p-2)^(p-2) / (2 (p-1)^(p-1)) for xi = q^p/2: 3/8 at p = 3 (Crisanti,
    # Horner & Sommers, Z. Phys. B 92, 257 (1993); Cugliandolo & Kurchan, PRL 71, 173
    # (1993)), reached at the plateau q_d = (p-2)/(p-1)
    from dmft.stationary import paramagnet_plateau
    for p in (3, 4, 5):
        Td = math.sqrt(p * (p - 2) ** (p - 2) / (2 * (p - 1) ** (p - 1)))
        assert dmft.dynamical_temperature(p) == pytest.approx(Td, rel=1e-14)
        got, q = paramagnet_plateau(dmft.SphericalPSpin(p=p, T=1.0))
        assert got == pytest.approx(Td, rel=1e-12) and q == 0.0
    assert math.sqrt(3 / 8) == pytest.approx(dmft.dynamical_temperature(3), rel=1e-15)
    # p = 2: the critical temperature sqrt(2 c) = 1 (q -> 0 edge of the maximum)
    assert paramagnet_plateau(dmft.SphericalPSpin(p=2, T=0.5))[0] == pytest.approx(1.0)


def test_stationary_below_td_fails_and_says_why():
    # p = 3, T = 0.3 < T_d = sqrt(3/8): the FDT solution keeps a plateau q, the largest
    # root of T^2 = (3/2) q (1 - q), i.e. q = (1 + sqrt(1 - 8 T^2 / 3)) / 2
    T = 0.3
    q = 0.5 * (1 + math.sqrt(1 - 8 * T * T / 3))
    res = dmft.solve(dmft.SphericalPSpin(p=3, T=T), 20.0, method="stationary")
    assert not res.success and res.status == lmech.Status.NO_SOLUTION
    assert "T_d" in res.message and "long-time" in res.message
    assert res.plateau_q == pytest.approx(q, rel=1e-10)
    assert res.T_d == pytest.approx(math.sqrt(3 / 8), rel=1e-14)
    # the integrated correlation does sit on that plateau
    assert res.C_final == pytest.approx(q, abs=1e-3)
    # just above T_d the paramagnet is the long-time state and the run is not refused
    Td = math.sqrt(3 / 8)
    above = dmft.solve(dmft.SphericalPSpin(p=3, T=1.02 * Td), 2.0, method="stationary")
    assert above.success and "T_d" not in above.message
    below = dmft.solve(dmft.SphericalPSpin(p=3, T=0.98 * Td), 2.0, method="stationary")
    assert not below.success and "T_d" in below.message


# -- Marchenko-Pastur integrals at extreme alpha ----------------------------------------
@pytest.mark.parametrize("alpha", [1e308, 1e100, 1e32])
def test_mp_error_large_alpha_limit(alpha):
    # alpha -> infinity: X^T X / n -> I, so beta(t) = (1 - e^{-(1+l) t}) beta* / (1 + l) and
    # the error is r^2 (k/(1+l) - 1)^2, k = 1 - e^{-(1+l) t} (was 0.0 for alpha >= 1e32)
    for ridge in (0.0, 0.3):
        m = dmft.LinearRegressionGF(alpha=alpha, ridge=ridge, signal=2.0)
        k = -math.expm1(-(1 + ridge) * 1.5)
        assert dmft.mp_error(m, 1.5) == pytest.approx(2.0 * (k / (1 + ridge) - 1) ** 2,
                                                        rel=1e-10)
    m = dmft.LinearRegressionGF(alpha=alpha, noise=0.2, signal=2.0)
    # training loss (1/2)[sigma^2 (1 - gamma) + r^2 e^{-2t}]
    assert dmft.mp_train_loss(m, 1.5) == pytest.approx(0.5 * (0.2 + 2.0 * math.exp(-3.0)),
                                                       rel=1e-10)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 4.0])
def test_mp_error_against_mpmath(alpha):
    # an independent integral over the Marchenko-Pastur density in s (mpmath, tanh-sinh)
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    m = dmft.LinearRegressionGF(alpha=alpha, noise=0.3, ridge=0.1, signal=1.0)
    g, lam, t = 1 / alpha, 0.1, 2.0
    lo, hi = (1 - mpmath.sqrt(g)) ** 2, (1 + mpmath.sqrt(g)) ** 2

    def f(s):
        k = 1 - mpmath.exp(-(s + lam) * t)
        return (s * k / (s + lam) - 1) ** 2 + 0.3 * g * s * k ** 2 / (s + lam) ** 2

    dens = lambda s: mpmath.sqrt((hi - s) * (s - lo)) / (2 * mpmath.pi * g * s)  # noqa: E731
    ref = mpmath.quad(lambda s: f(s) * dens(s), [lo, 1, hi]) + max(0, 1 - 1 / g) * f(0)
    assert dmft.mp_error(m, t) == pytest.approx(float(ref), rel=1e-9, abs=1e-12)


def test_stiff_least_squares_says_why():
    # alpha = 1e-100: rates ~ 1/alpha, the explicit scheme diverges at any practical dt
    res = dmft.solve(dmft.LinearRegressionGF(alpha=1e-100), 1.0)
    assert not res.success and "stiff" in res.message

"""Bad input to the public API of ``odes``: every call refuses with a ``ValueError`` or
``TypeError`` naming the argument, or returns an honest result.

A table of every public function x every argument x a set of bad values (NaN, inf,
negative, zero, huge, wrong type, complex, wrong shape, ragged list, empty string).
"Honest" means: a :class:`lmech.Result` whose ``success=True`` comes with the status
``CONVERGED`` or ``STOPPED``, finite arrays and main scalars and a physical state (the
covariance ``[[Q, R], [R^T, T]]`` of student and teacher fields positive semidefinite and
``eg >= 0``, checked here by its own eigenvalues); ``success=False`` with a non-empty
message and a failure status; a float that is finite or ``inf`` where documented
(:func:`odes.critical_lr`: no critical rate below ``eta_max``).
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmech.result import Result
from lmech.status import Status

import odes
from odes import fixed_points as fp

M1 = odes.CommitteeMachine(K=1, M=1, lr=0.5)
M2 = odes.CommitteeMachine(K=2, M=2, lr=0.5)
Q0 = np.diag([0.5, 0.5])
R0 = 1e-3 * np.array([[1.0, 0.5], [0.2, 0.8]])

#: Bad values for every argument (the "huge" one: 1e300)
BAD = {
    "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "neg": -1.0, "zero": 0.0, "huge": 1e300,
    "str": "abc", "empty": "", "complex": 1j, "ragged": [[1.0, 2.0], [3.0]], "none": None,
    "shape": np.ones((3, 3)), "bool": True, "int_beyond_float": 10**400,
}

# (function, valid keyword arguments, arguments to break); positional arguments of the API
# are passed by keyword through small wrappers so that one table covers them
CASES = {
    "integrate": (lambda **kw: odes.integrate(**kw),
                  dict(model=M2, t_max=5.0, Q0=Q0, R0=R0),
                  ["model", "t_max", "Q0", "R0", "T", "v0", "method", "rtol", "atol", "t_eval",
                   "max_step", "plateau_window", "plateau_measure", "escape_fraction",
                   "escape_after", "eg_tol", "bound", "max_steps", "tol", "refine"]),
    "integrate_euler": (lambda **kw: odes.integrate(method="euler", **kw),
                        dict(model=M2, t_max=5.0, Q0=Q0, R0=R0, dt=0.05),
                        ["dt", "t_max"]),
    "jacobian": (lambda **kw: fp.jacobian(**kw), dict(model=M2, Q=Q0, R=R0),
                 ["model", "Q", "R", "T", "v", "h"]),
    "spectrum": (lambda **kw: fp.spectrum(**kw), dict(model=M2, Q=Q0, R=R0),
                 ["model", "Q", "R", "T", "v"]),
    "newton": (lambda **kw: fp.newton(**kw), dict(model=M1, Q0=[[1.0]], R0=[[0.9]]),
               ["model", "Q0", "R0", "T", "v0", "tol", "max_iter", "rate_rtol"]),
    "symmetric_fixed_point": (lambda **kw: fp.symmetric_fixed_point(**kw),
                              dict(model=M2, steps=2),
                              ["model", "branch", "steps", "guess", "tol", "rate_rtol"]),
    "perfect_learning": (lambda **kw: fp.perfect_learning(**kw), dict(model=M1),
                         ["model", "T", "rate_rtol"]),
    "noise_asymptote": (lambda **kw: fp.noise_asymptote(**kw),
                        dict(model=odes.CommitteeMachine(K=1, M=1, lr=0.5, noise=0.01)),
                        ["model", "T", "tol", "rate_rtol"]),
    "critical_lr": (lambda **kw: fp.critical_lr(**kw),
                    dict(model=odes.CommitteeMachine(K=1, M=1, activation="linear"), eta_max=3.0),
                    ["model", "T", "eta_max", "xtol"]),
    "fastest_lr": (lambda **kw: fp.fastest_lr(**kw),
                   dict(model=odes.CommitteeMachine(K=1, M=1, activation="linear")),
                   ["model", "T", "xtol"]),
    "I2": (lambda **kw: odes.I2(**kw), dict(activation="erf", C=np.eye(2)), ["activation", "C"]),
    "I3": (lambda **kw: odes.I3(**kw), dict(activation="relu", C=np.eye(3)), ["activation", "C"]),
    "J2": (lambda **kw: odes.J2(**kw), dict(activation="erf", C=np.eye(2)), ["activation", "C"]),
    "I4": (lambda **kw: odes.I4(**kw), dict(activation="relu", C=np.eye(4)),
           ["activation", "C", "labels", "quad_nodes"]),
    "gauss_expect": (lambda **kw: odes.gauss_expect(**kw),
                     dict(funcs=[np.tanh, np.tanh], cov=np.eye(2), n_nodes=10),
                     ["funcs", "cov", "n_nodes"]),
}

#: Arguments whose name in messages differs from the keyword (the model's own checks)
ALIASES = {"model": ("model", "CommitteeMachine"), "activation": ("activation",)}


def _finite(x):
    x = np.asarray(x)
    return x.dtype.kind in "biufc" and bool(np.all(np.isfinite(x)))


def _physical(Q, R, T, eg):
    """Eigenvalues of the (student, teacher) covariance and eg, within rounding."""
    Q = np.reshape(Q, (-1,) + np.shape(Q)[-2:])
    R = np.reshape(R, (-1,) + np.shape(R)[-2:])
    for q, r in zip(Q, R):
        C = np.block([[q, r], [r.T, T]])
        if np.linalg.eigvalsh(C).min() < -1e-8 * max(1.0, np.abs(C).max()):
            return False
    return bool(np.min(eg) >= -1e-8 * max(1.0, float(np.max(np.abs(eg)))))


def assert_honest(out):
    """The result is honest (see the module docstring)."""
    if isinstance(out, Result):
        assert isinstance(out.success, bool)
        if not out.success:
            assert out.message and out.status != Status.CONVERGED, out
            return
        assert out.status in (Status.CONVERGED, Status.STOPPED), out
        arrays = out.arrays
        for k in ("Q", "R", "v", "eg", "t", "T"):
            if k in arrays:
                assert _finite(arrays[k]), (k, out)
        for k in ("eg", "eg0", "eg_final", "t_final", "lambda_max"):
            if k in out.scalars:
                assert math.isfinite(out.scalars[k]), (k, out)
        eg = arrays["eg"] if "eg" in arrays else out.scalars["eg"]
        assert _physical(arrays["Q"], arrays["R"], arrays["T"], eg), out
    elif isinstance(out, tuple):  # fastest_lr
        for x in out:
            assert math.isfinite(x), out
    elif isinstance(out, np.ndarray):  # jacobian, spectrum
        assert _finite(out)
    else:
        assert isinstance(out, float) and not math.isnan(out), out


def call_checked(fun, kwargs, arg):
    """``fun(**kwargs)``: refused naming ``arg``, or honest."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fun(**kwargs)
    except (ValueError, TypeError) as exc:
        names = ALIASES.get(arg, (arg,))
        msg = str(exc)
        assert any(n in msg for n in names), f"{arg}: message does not name it: {msg!r}"
        assert "\n" not in msg.strip() or arg in msg.splitlines()[0]
        return None
    assert_honest(out)
    return out


TABLE = [(fname, arg, bad) for fname, (_, _, args) in CASES.items() for arg in args for bad in BAD]


@pytest.mark.parametrize("fname, arg, bad", TABLE, ids=[f"{f}-{a}-{b}" for f, a, b in TABLE])
def test_bad_argument_is_refused_by_name_or_answered_honestly(fname, arg, bad):
    fun, base, _ = CASES[fname]
    kwargs = dict(base)
    kwargs[arg] = BAD[bad]
    call_checked(fun, kwargs, arg)


MODEL_FIELDS = ["K", "M", "activation", "lr", "train_second", "lr_v", "v_teacher", "noise",
                "weight_decay", "schedule_t0", "schedule_power", "readout", "quad_nodes"]


@pytest.mark.parametrize("field", MODEL_FIELDS)
@pytest.mark.parametrize("bad", sorted(BAD))
def test_model_fields_refused_by_name(field, bad):
    """The model validates every field (``v_teacher`` in its ``check()``): a bad value
    raises naming it, or builds a model that integrates honestly."""
    kw = dict(K=2, M=2)
    kw[field] = BAD[bad]
    try:
        m = odes.CommitteeMachine(**kw)
    except (ValueError, TypeError) as exc:
        assert field in str(exc), str(exc)
        return
    # accepted (e.g. lr = 0, noise = 1e300 as a variance, lr_v = None): an honest answer
    call_checked(lambda **k: odes.integrate(m, 5.0, Q0=Q0, R0=R0, **k), {}, field)


def test_v_teacher_messages():
    with pytest.raises(ValueError, match="v_teacher must be real"):
        odes.CommitteeMachine(K=2, M=2, v_teacher=[1j, 1.0])
    with pytest.raises(ValueError, match="v_teacher must be an array of real numbers of a regular"):
        odes.CommitteeMachine(K=2, M=2, v_teacher=[[1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="v_teacher must have length M=2"):
        odes.CommitteeMachine(K=2, M=2, v_teacher=[1.0, 2.0, 3.0])


# -- the specific failures of the first report, each against its mathematics ---------------
def test_loose_tolerances_give_no_impossible_state():
    """rtol = atol = 0.1 takes eg below 0 (eg = (1/2) E[(student - teacher)^2] >= 0): reported as
    INVALID_STATE, also when no accuracy is asked (tol = inf)."""
    for rtol in (0.1, 1.0):
        r = odes.integrate(M2, 100.0, Q0=Q0, R0=R0, rtol=rtol, atol=0.1, tol=math.inf)
        assert not r.success and r.status == Status.INVALID_STATE
        assert "eg =" in r.message or "positive semidefinite" in r.message


def test_default_runs_stay_physical():
    """The state check passes on default runs of every built-in activation (its tolerance is
    1e-8, the runs' violations are rounding, below 1e-9)."""
    for act in ("erf", "relu", "linear", "quadratic"):
        lr = 0.1 if act == "quadratic" else 0.5
        r = odes.integrate(odes.CommitteeMachine(K=2, M=2, lr=lr, activation=act), 200.0, Q0=Q0, R0=R0)
        assert r.success, (act, r.message)
        assert _physical(r.Q, r.R, r.T, r.eg)


def test_plateau_entry_when_the_run_starts_below_the_band():
    """Linear K = M = 2 at eta = 1 = eta_c / 2 decays from the start; the plateau entry (first t with
    eg < plateau_eg / escape_fraction) is the start itself or not found, never a crash.  Likewise
    K = 20, M = 1."""
    r = odes.integrate(odes.CommitteeMachine(K=2, M=2, lr=1.0, activation="linear"), 100.0, Q0=Q0, R0=R0)
    assert r.status in (Status.CONVERGED, Status.TOLERANCE, Status.NO_ESTIMATE)
    assert math.isnan(r.t_plateau_enter) or r.t_plateau_enter >= 0.0
    r = odes.integrate(odes.CommitteeMachine(K=20, M=1, lr=0.5), 100.0, Q0=0.5 * np.eye(20),
                       R0=1e-3 * np.ones((20, 1)))
    assert_honest(r)
    if math.isfinite(r.t_plateau_enter):
        # the definition: eg at the entry is the band's edge (or the run starts inside it)
        e = odes.integrate(odes.CommitteeMachine(K=20, M=1, lr=0.5), 100.0, Q0=0.5 * np.eye(20),
                           R0=1e-3 * np.ones((20, 1)), t_eval=[r.t_plateau_enter] if r.t_plateau_enter > 0 else None)
        assert e.eg[-1] <= r.plateau_eg / 0.5 * (1 + 1e-8) or r.t_plateau_enter == 0.0


def test_extreme_learning_rate_fails_without_crash():
    r = odes.integrate(odes.CommitteeMachine(K=2, M=2, lr=1e200), 10.0, Q0=Q0, R0=R0)
    assert not r.success and r.status in (Status.DIVERGED, Status.MAX_ITER) and r.message


def test_custom_activation_returning_nan_is_refused_before_work():
    bad = odes.CommitteeMachine(K=2, M=2, activation=odes.Custom(lambda u: np.full_like(u, np.nan)))
    with pytest.raises(ValueError, match="activation: g returned non-finite"):
        odes.integrate(bad, 10.0, Q0=Q0, R0=R0)
    with pytest.raises(ValueError, match="activation"):
        odes.I2(bad.activation, np.eye(2))
    cplx = odes.Custom(lambda u: u + 1j)
    with pytest.raises(ValueError, match="activation: g must map"):
        odes.I2(cplx, np.eye(2))


def test_newton_options_and_negative_definite_jacobian():
    with pytest.raises(ValueError, match=r"max_iter must be an integer in \[1"):
        fp.newton(M2, Q0, R0, max_iter=0)
    with pytest.raises(ValueError, match="max_iter must be an integer"):
        fp.newton(M2, Q0, R0, max_iter=2.5)
    with pytest.raises(ValueError, match="Q must be positive semidefinite"):
        fp.jacobian(M2, -np.eye(2), R0)
    with pytest.raises(ValueError, match=r"Q must have shape \(2, 2\)"):
        fp.jacobian(M2, np.eye(3), R0)


def test_critical_lr_names_its_options():
    for bad in (-1.0, 0.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="eta_max"):
            fp.critical_lr(M2, eta_max=bad)
    for bad in (math.nan, "a", 0.0):
        with pytest.raises(ValueError, match="xtol"):
            fp.critical_lr(M2, xtol=bad)


def test_noise_asymptote_above_critical_rate_is_not_a_success():
    """Linear K = M = 1 with noise: the root of the right-hand side is Q* = 1 + eta^2 sigma^2 /
    (2 eta - eta^2), R* = 1; above eta_c = 2 the root has Q* < 1 = R*^2 / T (no network has it),
    and eg = (Q - 2R + T)/2 < 0 there."""
    for eta in (2.5, 3.0):
        r = fp.noise_asymptote(odes.CommitteeMachine(K=1, M=1, activation="linear", lr=eta, noise=0.1))
        assert not r.success and r.status == Status.INVALID_STATE
        assert r.Q[0, 0] == pytest.approx(1 + eta ** 2 * 0.1 / (2 * eta - eta ** 2), rel=1e-10)
    # below eta_c the same formula, a physical state, and a success
    r = fp.noise_asymptote(odes.CommitteeMachine(K=1, M=1, activation="linear", lr=1.5, noise=0.1))
    assert r.success and r.Q[0, 0] == pytest.approx(1 + 2.25 * 0.1 / (3 - 2.25), rel=1e-10)


def test_noise_asymptote_on_a_manifold_is_physical():
    """Linear K = M = 2: only the sum of the student vectors is pinned, so the fixed points form a
    manifold.  The flow from Q = R = T = I moves every student vector by the same e, with
    |e|^2/N = eps and eg = (1/2)|sum_k w_k - sum_m w*_m|^2/N = 2 eps = (1/2) K eta sigma^2 / (2 - K eta)
    (the perceptron of u = sum_k w_k at rate K eta), so Q = I + eps 1 1^T, R = I."""
    eta, s2 = 0.5, 1e-3
    r = fp.noise_asymptote(odes.CommitteeMachine(K=2, M=2, activation="linear", lr=eta, noise=s2))
    assert r.success
    eps = 0.25 * 2 * eta * s2 / (2 - 2 * eta)
    np.testing.assert_allclose(r.Q, np.eye(2) + eps, atol=1e-10)
    np.testing.assert_allclose(r.R, np.eye(2), atol=1e-10)


def test_large_euler_request_is_refused_before_work():
    with pytest.raises(ValueError, match="dt = .*Euler steps"):
        odes.integrate(M2, 1e4, Q0=Q0, R0=R0, method="euler", dt=1e-6, t_eval=[0.0, 1e4])


def test_long_euler_run_states_its_cost(monkeypatch):
    """A run of more than WARN_STEPS steps is timed on a short run first and its expected duration
    stated when above WARN_SECONDS (here lowered to 0 so that the warning shows on a short run)."""
    import importlib

    mod = importlib.import_module("odes.integrate")
    monkeypatch.setattr(mod, "WARN_STEPS", 10)
    monkeypatch.setattr(mod, "WARN_SECONDS", 0.0)
    with pytest.warns(UserWarning, match="Euler steps .* expected to take about"):
        odes.integrate(M2, 1.0, Q0=Q0, R0=R0, method="euler", dt=0.01, refine=False)


# -- a larger random search --------------------------------------------------------------------
_any_bad = st.sampled_from(sorted(BAD)).map(BAD.get) | st.floats(allow_nan=True, allow_infinity=True) \
    | st.integers(-10 ** 6, 10 ** 6) | st.text(max_size=3) \
    | st.lists(st.floats(-2, 2), max_size=5)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fname=st.sampled_from(sorted(CASES)), data=st.data())
def test_random_bad_arguments(fname, data):
    fun, base, args = CASES[fname]
    arg = data.draw(st.sampled_from(args))
    kwargs = dict(base)
    kwargs[arg] = data.draw(_any_bad)
    call_checked(fun, kwargs, arg)


def test_state_too_large_is_refused_before_work(monkeypatch):
    """The DOP853 stepper keeps 256 rows of 9 state vectors from its start: 8 * 256 * (9 n + 1)
    bytes for a state of n = K(K+1)/2 + K M = 40 order parameters at K = M = 5 (737 KiB);
    with 1 MiB available (half of it allowed) the run is refused naming the model's sizes."""
    import lmech.checks

    monkeypatch.setattr(lmech.checks, "available_memory", lambda: 2 ** 20)
    m = odes.CommitteeMachine(K=5, M=5)
    with pytest.raises(ValueError, match="model: K = 5, M = 5 gives a state of 40 order parameters"):
        odes.integrate(m, 10.0, Q0=0.5 * np.eye(5), R0=np.zeros((5, 5)))


def test_expensive_right_hand_side_states_its_cost(monkeypatch):
    """The expected cost of one evaluation is the number of four-field averages,
    K(K+1)/2 * L(L+1)/2 (3 * 10 = 30 at K = M = 2), times the seconds per average; with that
    set to 1 s the run states 30 s per evaluation before it starts (ReLU K = M = 20 states
    210 * 820 * 1.3e-5 = 2.24 s the same way)."""
    import importlib

    mod = importlib.import_module("odes.integrate")
    monkeypatch.setitem(mod.I4_SECONDS, 0, 1.0)  # erf
    with pytest.warns(UserWarning, match=r"K = 2, M = 2 \(erf\) is expected to take about 30 s"):
        odes.integrate(M2, 1.0, Q0=Q0, R0=R0, refine=False)


def test_check_array_names_the_argument():
    """lmech.checks.check_array, the shared checker of array arguments: what NumPy would fail on
    or silently mangle (complex -> real part dropped, True -> 1.0) is refused by name."""
    from lmech.checks import check_array

    np.testing.assert_array_equal(check_array("x", [[1, 2], [3, 4]], shape=(2, None)), [[1.0, 2.0], [3.0, 4.0]])
    for bad, what in (("abc", "an array of real numbers"), ("", "an array of real numbers"),
                      (None, "an array of real numbers"), ([[1.0], [1.0, 2.0]], "an array of real numbers of a regular shape"),
                      ([1.0, 2j], "real, got complex"), ([True, False], "an array of real numbers"),
                      ([1.0, "a"], "an array of real numbers"), ([1.0, math.nan], "finite")):
        with pytest.raises(ValueError, match=f"^x must be {what}"):
            check_array("x", bad)
    with pytest.raises(ValueError, match=r"x must have shape \(3,\)"):
        check_array("x", [1.0, 2.0], shape=(3,))
    with pytest.raises(ValueError, match=r"x must have 2 dimension"):
        check_array("x", [1.0, 2.0], ndim=2)


@pytest.mark.slow
def test_perfect_learning_of_a_large_committee_above_eta_c():
    """K = M = 20 erf at eta = 1 (above eta_c = 0.2675 of this committee): the spectrum has clusters
    of up to 380 equal eigenvalues (the students' permutation symmetry), whose generalised
    eigenspaces once overflowed ((J - lambda)^380) and crashed the SVD.  Above eta_c perfect learning
    is unstable: lambda_max > 0 and eg grows, decay_rate < 0."""
    r = fp.perfect_learning(odes.CommitteeMachine(K=20, M=20, lr=1.0))
    assert r.lambda_max > 0 and not r.stable
    assert r.decay_rate < 0

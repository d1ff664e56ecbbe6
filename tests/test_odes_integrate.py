"""Integration of the committee-machine ODEs: reference values, identities, independent solutions."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm
from scipy.special import erf

import lmech
import odes
from lmech.blocks.schedules import Constant, PowerLaw
from lmech.spec import from_spec, to_spec
from lmech.status import Status

Q0 = np.diag([0.5, 0.5])
R0 = 1e-3 * np.array([[1.0, 0.5], [0.2, 0.8]])
STANDARD = odes.CommitteeMachine(K=2, M=2, activation="erf", lr=0.5)


@pytest.fixture(scope="module")
def standard():
    return odes.integrate(STANDARD, 1000.0, Q0=Q0, R0=R0, rtol=1e-12, atol=1e-14)


def test_standard_case_reference_values(standard):
    """Reference values of the standard case (Saad & Solla, PRE 52, 4225 (1995) setting): eg(0) is the
    closed form, the plateau and t_half come from the independent integration of
    test_standard_case_against_an_independent_saad_solla_integration (same values to the digits shown)."""
    r = standard
    assert r.success and r.status == Status.CONVERGED
    assert r.eg0 == pytest.approx(0.5487613, abs=5e-8)
    assert r.eg[0] == r.eg0
    assert r.plateau_eg == pytest.approx(0.0147644, abs=5e-8)
    assert abs(r.plateau_t - 148) < 2.0
    assert r.t_escape == pytest.approx(272.837, abs=1e-3)
    assert r.conventions["activation"] == "erf(u/sqrt(2))"
    assert r.conventions["time"] == "t = steps/N"
    assert r.nfev > 0 and r.n_steps > 0
    assert r.Q.shape == (r.t.size, 2, 2) and r.R.shape == (r.t.size, 2, 2) and r.v.shape == (r.t.size, 2)
    # late decay: local rate of log eg approaches 2 lambda_max = -0.044185 from above
    te = np.array([450.0, 550.0])
    late = odes.integrate(STANDARD, 550.0, Q0=Q0, R0=R0, rtol=1e-12, atol=1e-15, t_eval=te)
    rate = -np.diff(np.log(late.eg))[0] / 100.0
    assert 0.0438 < rate < 0.044185


def test_default_tolerances_meet_the_escape_time_target(standard):
    r = odes.integrate(STANDARD, 1000.0, Q0=Q0, R0=R0)
    assert r.t_escape == pytest.approx(272.837, abs=1e-3)
    assert abs(r.t_escape - standard.t_escape) < 1e-4


def test_euler_reproduces_fixed_step_codes():
    """Fixed-step Euler, dt = 0.01, gives t_half = 272.860 (the independent Euler loop of
    test_independent_euler_gives_the_same_fixed_step_escape_time); first order in dt."""
    r = odes.integrate(STANDARD, 400.0, Q0=Q0, R0=R0, method="euler", dt=0.01)
    assert r.t_escape == pytest.approx(272.860, abs=1e-3)
    assert r.options["method"] == "euler"
    ref = odes.integrate(STANDARD, 50.0, Q0=Q0, R0=R0, rtol=1e-12, atol=1e-14, t_eval=[50.0])
    errs = []
    for dt in (0.04, 0.02, 0.01):
        e = odes.integrate(STANDARD, 50.0, Q0=Q0, R0=R0, method="euler", dt=dt, t_eval=[50.0])
        errs.append(abs(e.eg[-1] - ref.eg[-1]))
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.05)
    assert errs[1] / errs[2] == pytest.approx(2.0, rel=0.05)


def test_outputs_exactly_at_requested_times():
    te = np.geomspace(0.1, 300.0, 25)
    te = np.concatenate([[0.0], te])
    r = odes.integrate(STANDARD, 300.0, Q0=Q0, R0=R0, t_eval=te)
    np.testing.assert_array_equal(r.t, te)
    np.testing.assert_array_equal(r.Q[0], Q0)
    for k in (7, 20):
        s = odes.integrate(STANDARD, float(te[k]), Q0=Q0, R0=R0, t_eval=[float(te[k])])
        np.testing.assert_allclose(r.Q[k], s.Q[-1], rtol=0, atol=1e-8)
        np.testing.assert_allclose(r.R[k], s.R[-1], rtol=0, atol=1e-8)


def _linear_rhs(y, K, M, T, vt, v, eta, s2, wd):
    """Independent right-hand side for linear g: the student is ``(sum_k v_k w_k) . x / sqrt N``."""
    nq = K * (K + 1) // 2
    iu = np.triu_indices(K)
    Q = np.zeros((K, K))
    Q[iu] = y[:nq]
    Q = Q + np.triu(Q, 1).T
    R = y[nq:].reshape(K, M)
    d_lam = R @ vt - Q @ v          # E[Delta lambda_k]
    d_nu = T @ vt - R.T @ v         # E[Delta nu_n]
    d2 = vt @ T @ vt - 2 * v @ R @ vt + v @ Q @ v
    dQ = eta * (np.outer(v, d_lam) + np.outer(d_lam, v)) + eta ** 2 * np.outer(v, v) * (d2 + s2) - 2 * eta * wd * Q
    dR = eta * np.outer(v, d_nu) - eta * wd * R
    return np.concatenate([dQ[iu], dR.ravel()])


@settings(max_examples=5, deadline=None)
@given(K=st.integers(1, 3), M=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_linear_activation_vs_matrix_exponential(K, M, seed):
    """For linear g the ODEs are affine: integrate them exactly with expm and compare."""
    rng = np.random.default_rng(seed)
    vt = rng.uniform(0.5, 1.5, M)
    v = rng.uniform(0.5, 1.5, K)
    A = rng.normal(size=(K + M, K + M + 2))
    C = A @ A.T / (K + M + 2)
    T, Q, R = C[K:, K:], C[:K, :K], C[:K, K:]
    eta, s2, wd = 0.3 / (K * M), 0.05, 0.1
    model = odes.CommitteeMachine(K, M, activation="linear", lr=eta, v_teacher=tuple(vt), noise=s2,
                                  weight_decay=wd)
    sysm = odes.System(model, T, v)
    y0 = sysm.pack(Q, R)
    n = y0.size
    b = _linear_rhs(np.zeros(n), K, M, T, vt, v, eta, s2, wd)
    Amat = np.stack([_linear_rhs(np.eye(n)[j], K, M, T, vt, v, eta, s2, wd) - b for j in range(n)], axis=1)
    aug = np.zeros((n + 1, n + 1))
    aug[:n, :n] = Amat
    aug[:n, n] = b
    t = 3.0
    exact = (expm(aug * t) @ np.concatenate([y0, [1.0]]))[:n]
    r = odes.integrate(model, t, Q0=Q, R0=R, T=T, v0=v, t_eval=[t])
    np.testing.assert_allclose(sysm.pack(r.Q[-1], r.R[-1]), exact, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("act", ["erf", "relu", "linear", "quadratic"])
@pytest.mark.parametrize("readout", ["sum", "mean", "sqrt"])
def test_second_layer_is_gradient_flow_on_eg(act, readout):
    """Without noise, dv/dt = -eta_v d eg/dv (the v-update is SGD on the population loss)."""
    K, M = 3, 2
    rng = np.random.default_rng(3)
    A = rng.normal(size=(K + M, K + M))
    C = A @ A.T / (K + M) + 0.1 * np.eye(K + M)
    T, Q, R = C[K:, K:], C[:K, :K], C[:K, K:]
    v = rng.normal(size=K)
    model = odes.CommitteeMachine(K, M, activation=act, lr=0.2, train_second=True, lr_v=0.7,
                                  v_teacher=(1.0, -0.5), readout=readout)
    sysm = odes.System(model, T, v)
    y = sysm.pack(Q, R, v)
    _, _, dv = sysm.unpack(sysm.f(0.0, y))
    grad = np.empty(K)
    for i in range(K):
        h = 1e-6
        vp, vm = v.copy(), v.copy()
        vp[i] += h
        vm[i] -= h
        grad[i] = (sysm.eg(sysm.pack(Q, R, vp)) - sysm.eg(sysm.pack(Q, R, vm))) / (2 * h)
    np.testing.assert_allclose(dv, -0.7 * grad, rtol=1e-7, atol=1e-9)


def test_erf_right_hand_side_equals_the_one_integral_at_a_time_formula_large():
    test_erf_right_hand_side_equals_the_one_integral_at_a_time_formula.hypothesis.inner_test(seed=5, K=6, M=5)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), K=st.integers(1, 4), M=st.integers(1, 4))
def test_erf_right_hand_side_equals_the_one_integral_at_a_time_formula(seed, K, M):
    """The per-pair precomputed erf right-hand side of odes.System equals the ODEs assembled here
    integral by integral from the public odes.I3 / odes.I4 (Saad & Solla 1995 with second-layer
    weights: w_i += (eta/N) v_i g'(x_i) (sum_n v*_n g(y_n) - sum_j v_j g(x_j)) xi)."""
    rng = np.random.default_rng(seed)
    L = K + M
    A = rng.normal(size=(L, L + 1))
    C = A @ A.T / L
    Q, R, T = C[:K, :K], C[:K, K:], C[K:, K:]
    v, vt = rng.uniform(0.5, 1.5, K), rng.uniform(0.5, 1.5, M)
    eta = 0.3
    sysm = odes.System(odes.CommitteeMachine(K, M, activation="erf", lr=eta, v_teacher=tuple(vt)), T, v)
    dQ, dR, _ = sysm.unpack(sysm.f(0.0, sysm.pack(Q, R)))
    s = np.concatenate([-v, vt])                    # signed weights of the error signal
    sub = lambda *ix: C[np.ix_(ix, ix)]  # noqa: E731
    e3 = lambda i, u: sum(s[z] * odes.I3("erf", sub(i, u, z)) for z in range(L))  # noqa: E731
    for i in range(K):
        for n in range(M):
            assert dR[i, n] == pytest.approx(eta * v[i] * e3(i, K + n), rel=1e-12, abs=1e-14)
        for k in range(i, K):
            quad = sum(s[a] * s[b] * odes.I4("erf", sub(i, k, a, b)) for a in range(L) for b in range(L))
            ref = eta * (v[i] * e3(i, k) + v[k] * e3(k, i)) + eta ** 2 * v[i] * v[k] * quad
            assert dQ[i, k] == pytest.approx(ref, rel=1e-12, abs=1e-14)


def test_custom_activation_path_matches_closed_form():
    """A Custom erf(u/sqrt 2) integrated by Gauss-Hermite gives the closed-form ODEs.

    The Gauss-Hermite error of the right-hand side falls (faster than) geometrically with the node
    count (erf is entire); the integrated Custom run agrees with the closed-form run within the sum
    of the two runs' own error estimates (the Custom one includes its quadrature error).
    """
    g = lambda u: erf(u / math.sqrt(2.0))  # noqa: E731
    ref = odes.System(odes.CommitteeMachine(2, 1, activation="erf", lr=0.5, noise=0.1))
    y = ref.pack(Q0, R0[:, :1])
    errs = []
    for n in (8, 14, 20):
        s = odes.System(odes.CommitteeMachine(2, 1, activation=odes.Custom(g, n_nodes=n), lr=0.5, noise=0.1))
        errs.append(np.abs(s.f(0.0, y) - ref.f(0.0, y)).max())
    assert errs[0] > 10 * errs[1] > 100 * errs[2]
    custom = odes.CommitteeMachine(1, 1, activation=odes.Custom(g, n_nodes=20), lr=0.5)
    kw = dict(Q0=[[0.5]], R0=[[0.01]], t_eval=[0.0, 0.3], rtol=1e-7, atol=1e-9)
    a = odes.integrate(custom, 0.3, **kw)
    b = odes.integrate(odes.CommitteeMachine(1, 1, lr=0.5), 0.3, **kw)
    assert a.success and b.success
    for name in ("eg", "Q"):
        diff = float(np.max(np.abs(getattr(a, name) - getattr(b, name))))
        assert diff <= a.error_estimate[name] + b.error_estimate[name]


def test_schedule_rescales_the_learning_rate():
    m = odes.CommitteeMachine(2, 2, lr=0.5, schedule_t0=10.0, schedule_power=0.5, noise=0.01)
    sysm = odes.System(m)
    y = sysm.pack(Q0, R0)
    t = 30.0
    eta = 0.5 * (1 + t / 10.0) ** -0.5
    ref = odes.System(odes.CommitteeMachine(2, 2, lr=eta, noise=0.01)).f(0.0, y)
    np.testing.assert_allclose(sysm.f(t, y), ref, rtol=1e-14)


def test_linear_machine_under_a_power_law_schedule_has_its_closed_form():
    # K = M = 1, g(u) = u, v = v* = 1, T = 1: the ODEs (Saad & Solla, PRE 52, 4225 (1995), with
    # I3 = C_23, I4 = C_34, J2 = 1) reduce to dR/dt = eta (1 - R) and, for D = Q - 2R + 1 = 2 eg,
    # dD/dt = (eta^2 - 2 eta) D.  With eta(t) = lr (1 + t/t0)^(-1/2):
    # int eta = 2 lr t0 (sqrt(1 + t/t0) - 1), int eta^2 = lr^2 t0 log(1 + t/t0).
    lr, t0 = 0.6, 2.0
    m = odes.CommitteeMachine(1, 1, activation="linear", lr=lr, schedule_t0=t0, schedule_power=0.5)
    assert m.schedule == PowerLaw(t0=t0, power=0.5)
    te = np.linspace(0.0, 40.0, 9)
    r = odes.integrate(m, 40.0, Q0=[[0.8]], R0=[[0.1]], t_eval=te)
    assert r.success
    i1 = 2.0 * lr * t0 * (np.sqrt(1.0 + te / t0) - 1.0)
    i2 = lr ** 2 * t0 * np.log1p(te / t0)
    R_err = np.max(np.abs(r.R[:, 0, 0] - (1.0 - 0.9 * np.exp(-i1))))
    eg0 = 0.5 * (0.8 - 0.2 + 1.0)
    # eg = (Q - 2R + 1)/2 cancels O(1) terms: its error is absolute, at the state's accuracy
    eg_err = np.max(np.abs(r.eg - eg0 * np.exp(-2.0 * i1 + i2)))
    assert R_err <= min(r.error_estimate["R"], 1e-10)
    assert eg_err <= min(r.error_estimate["eg"], 1e-10)


def test_kernel_args_reject_bad_shapes():
    m = odes.CommitteeMachine(2, 3)
    with pytest.raises(ValueError, match="^T must"):
        m.kernel_args(T=np.eye(2))
    with pytest.raises(ValueError, match="^v0 must"):
        m.kernel_args(v0=np.ones(3))
    assert m.schedule == Constant()


def test_relu_trajectory_runs_and_learns():
    m = odes.CommitteeMachine(2, 2, activation="relu", lr=0.5)
    r = odes.integrate(m, 200.0, Q0=Q0, R0=R0, rtol=1e-8, atol=1e-10)
    assert r.success
    assert r.eg0 > 0.1 and r.eg_final < 1e-3 * r.eg0


def test_divergence_is_reported_not_nan():
    """Linear K = M = 1: dQ has the factor (1 - eta)^2 ... diverges for eta > 2."""
    m = odes.CommitteeMachine(1, 1, activation="linear", lr=3.0)
    for kw in (dict(), dict(method="euler", dt=0.01)):
        r = odes.integrate(m, 100.0, Q0=[[0.5]], R0=[[0.1]], **kw)
        assert not r.success and r.status == Status.DIVERGED
        assert "diverged" in r.message
        assert np.all(np.isfinite(r.Q)) and np.all(np.isfinite(r.eg))


def test_convergence_tolerance_stops_the_run():
    r = odes.integrate(STANDARD, 1000.0, Q0=Q0, R0=R0, eg_tol=1e-6)
    assert r.success and r.status == Status.STOPPED
    assert r.t_converged < 1000.0 and r.t_final == pytest.approx(r.t_converged)
    assert r.eg[-1] == pytest.approx(1e-6, rel=1e-6)


def test_spec_round_trip_and_registration():
    m = odes.CommitteeMachine(3, 2, activation="relu", lr=0.1, train_second=True, lr_v=0.2,
                              v_teacher=(1.0, 2.0), noise=0.1, readout="mean")
    assert from_spec(to_spec(m)) == m
    assert lmech.result.result_class("odes.Trajectory") is odes.Trajectory


def test_invalid_model_parameters():
    with pytest.raises(ValueError, match="K"):
        odes.CommitteeMachine(0, 2)
    with pytest.raises(ValueError, match="M"):
        odes.CommitteeMachine(2, 0)
    with pytest.raises(ValueError, match="lr"):
        odes.CommitteeMachine(2, 2, lr=-0.1)
    with pytest.raises(ValueError, match="lr_v"):
        odes.CommitteeMachine(2, 2, lr_v=-0.1)
    with pytest.raises(ValueError, match="noise"):
        odes.CommitteeMachine(2, 2, noise=-1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        odes.CommitteeMachine(2, 2, weight_decay=-1.0)
    with pytest.raises(ValueError, match="activation"):
        odes.CommitteeMachine(2, 2, activation="tanh")
    with pytest.raises(ValueError, match="readout"):
        odes.CommitteeMachine(2, 2, readout="max")
    with pytest.raises(ValueError, match="v_teacher"):
        odes.CommitteeMachine(2, 2, v_teacher=(1.0,))
    with pytest.raises(ValueError, match="schedule_t0"):
        odes.CommitteeMachine(2, 2, schedule_t0=0.0)


def test_invalid_integrate_inputs():
    with pytest.raises(ValueError, match="T"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, T=np.ones((2, 3)))
    with pytest.raises(ValueError, match="T"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, T=[[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="Q0"):
        odes.integrate(STANDARD, 1.0, Q0=np.eye(3), R0=R0)
    with pytest.raises(ValueError, match="Q0"):
        odes.integrate(STANDARD, 1.0, Q0=-np.eye(2), R0=R0)
    with pytest.raises(ValueError, match="R0"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="R0"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=2 * np.eye(2))
    with pytest.raises(ValueError, match="v0"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, v0=[1.0])
    with pytest.raises(ValueError, match="t_max"):
        odes.integrate(STANDARD, -1.0, Q0=Q0, R0=R0)
    with pytest.raises(ValueError, match="method"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, method="rk4")
    with pytest.raises(ValueError, match="dt"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, method="euler")
    with pytest.raises(ValueError, match="t_eval"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, t_eval=[0.5, 0.2])
    with pytest.raises(ValueError, match="plateau_window"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, plateau_window=(5.0, 1.0))
    with pytest.raises(ValueError, match="plateau_measure"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, plateau_measure="log")
    with pytest.raises(ValueError, match="escape_fraction"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, escape_fraction=1.5)
    with pytest.raises(ValueError, match="eg_tol"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, eg_tol=-1.0)
    with pytest.raises(ValueError, match="rtol"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, rtol=0.0)
    with pytest.raises(ValueError, match="dt"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, method="euler", dt=0.3)
    with pytest.raises(ValueError, match="model"):
        odes.integrate("erf", 1.0, Q0=Q0, R0=R0)
    with pytest.raises(TypeError):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, tolerance=1e-3)


def _drift_mc(act, C, K, M, v, vt, cK, cM, eta, eta_v, s2, wd, n=1_000_000, seed=7):
    """Drift of the order parameters written directly from the SGD update, averaged by Monte Carlo.

    w_i += (eta/sqrt N)(v_i/c_K) g'(lam_i) Delta x - (eta wd/N) w_i, v_i += (eta_v/N)(1/c_K) g(lam_i) Delta,
    Delta = phi*(x) - phi(x) + sigma zeta; N -> infinity (so |x|^2/N = 1)."""
    g, dg = {"erf": (lambda u: erf(u / math.sqrt(2)), lambda u: math.sqrt(2 / math.pi) * np.exp(-u * u / 2)),
             "relu": (lambda u: np.maximum(u, 0.0), lambda u: (u > 0).astype(float))}[act]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, K + M)) @ np.linalg.cholesky(C).T
    lam, nu = x[:, :K], x[:, K:]
    delta = g(nu) @ vt / cM - g(lam) @ v / cK
    a = dg(lam) * (v / cK) * delta[:, None]          # (n, K): v_i g'(lam_i) Delta / c_K
    Q, R = C[:K, :K], C[:K, K:]
    b = dg(lam) * (v / cK)
    sR = eta * a[:, :, None] * nu[:, None, :]
    sQ1 = a[:, :, None] * lam[:, None, :]
    sQ = eta * (sQ1 + sQ1.transpose(0, 2, 1)) + eta ** 2 * b[:, :, None] * b[:, None, :] * (delta ** 2 + s2)[:, None, None]
    sv = eta_v / cK * g(lam) * delta[:, None]

    def mean_se(s):
        return s.mean(0), s.std(0) / math.sqrt(n)

    (mQ, eQ), (mR, eR), (mv, ev) = mean_se(sQ), mean_se(sR), mean_se(sv)
    return (mQ - 2 * eta * wd * Q, eQ), (mR - eta * wd * R, eR), (mv, ev)


@pytest.mark.parametrize("act", ["erf", "relu"])
@pytest.mark.parametrize("readout", ["sum", "sqrt"])
def test_rhs_vs_monte_carlo_of_the_sgd_update(act, readout):
    """The assembled right-hand side against the expected SGD increment, sampled directly."""
    K, M = 3, 2
    rng = np.random.default_rng(11)
    A = rng.normal(size=(K + M, K + M))
    C = A @ A.T / (K + M) + 0.2 * np.eye(K + M)
    v = rng.uniform(0.5, 1.5, K)
    vt = np.array([1.2, -0.7])
    model = odes.CommitteeMachine(K, M, activation=act, lr=0.7, train_second=True, lr_v=0.3,
                                  v_teacher=tuple(vt), noise=0.2, weight_decay=0.05, readout=readout)
    s = odes.System(model, C[K:, K:], v)
    dQ, dR, dv = s.unpack(s.f(0.0, s.pack(C[:K, :K], C[:K, K:], v)))
    # unpack returns dv/dt for the model's own v (c_K times the rate of the packed effective v)
    (mQ, eQ), (mR, eR), (mv, ev) = _drift_mc(act, C, K, M, v, vt, s.cK, s.cM, 0.7, 0.3, 0.2, 0.05,
                                             n=400_000)
    for x, m, e in ((dQ, mQ, eQ), (dR, mR, eR), (dv, mv, ev)):
        assert np.all(np.abs(x - m) < 5 * e + 1e-12), (x, m, e)


def test_trajectory_archive_round_trip(tmp_path):
    archive = pytest.importorskip("lmech.archive")
    r = odes.integrate(STANDARD, 300.0, Q0=Q0, R0=R0)
    path = tmp_path / "traj.h5"
    archive.save(r, path, "standard")
    back = archive.load(path, "standard")
    assert isinstance(back, odes.Trajectory)
    assert back.same_as(r)
    assert back.model == STANDARD


def test_erf_weights_growing_above_the_critical_rate_are_reported_with_a_bound():
    """erf saturates, so far above eta_c the weights grow (Q ~ t) while eg stays bounded:
    no NaN ever appears, and a bound turns the growth into a reported divergence."""
    m = odes.CommitteeMachine(2, 2, lr=20.0)
    free = odes.integrate(m, 1000.0, Q0=Q0, R0=R0)
    assert free.success and free.max_abs_order_parameter > 1000.0
    r = odes.integrate(m, 1000.0, Q0=Q0, R0=R0, bound=500.0)
    assert not r.success and r.status == Status.DIVERGED and "diverged" in r.message
    assert r.t_final < 1000.0 and np.all(np.isfinite(r.eg))


@pytest.mark.parametrize("act", ["erf", "relu"])
def test_numba_dop853_matches_scipy_dop853(act):
    """The Numba stepper runs the same method as scipy's DOP853: same steps up to details of
    the first step, the same solution within the tolerance, the same dense output."""
    m = odes.CommitteeMachine(2, 2, activation=act, lr=0.5, noise=0.01, train_second=True)
    te = np.linspace(0.0, 300.0, 61)
    kw = dict(Q0=Q0, R0=R0, rtol=1e-10, atol=1e-12, t_eval=te)
    a = odes.integrate(m, 300.0, method="DOP853", **kw)
    b = odes.integrate(m, 300.0, method="scipy-DOP853", **kw)
    assert a.success and b.success
    assert abs(a.n_steps - b.n_steps) <= 0.05 * b.n_steps + 3
    assert a.n_rejected >= 0 and b.n_rejected == -1
    np.testing.assert_allclose(a.Q, b.Q, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.v, b.v, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.eg, b.eg, rtol=1e-6, atol=1e-10)


def test_numba_dop853_error_follows_the_tolerance():
    """Global error at fixed t against rtol: DOP853's error scales like the tolerance, and the
    dense output between steps is as accurate as the steps themselves."""
    ref = odes.integrate(STANDARD, 60.0, Q0=Q0, R0=R0, rtol=1e-13, atol=1e-15, t_eval=[37.3, 60.0])
    errs = []
    for rtol in (1e-6, 1e-8):
        r = odes.integrate(STANDARD, 60.0, Q0=Q0, R0=R0, rtol=rtol, atol=rtol * 1e-2, t_eval=[37.3, 60.0])
        errs.append(np.abs(r.Q - ref.Q).max())
    assert errs[1] < errs[0] / 20
    assert errs[1] < 1e-7


def test_step_limit_reports_failure_instead_of_hanging():
    r = odes.integrate(STANDARD, 1000.0, Q0=Q0, R0=R0, max_steps=50)
    assert not r.success and r.status == Status.MAX_ITER and "max_steps" in r.message
    assert r.t_final < 1000.0 and np.all(np.isfinite(r.eg))
    with pytest.raises(ValueError, match="max_steps"):
        odes.integrate(STANDARD, 1.0, Q0=Q0, R0=R0, max_steps=0)


def test_euler_overflow_keeps_only_finite_states():
    """Linear K = M = 1 at eta = 50 with Euler overflows to inf/NaN: reported, arrays finite."""
    m = odes.CommitteeMachine(1, 1, activation="linear", lr=50.0)
    r = odes.integrate(m, 1000.0, Q0=[[0.5]], R0=[[0.1]], method="euler", dt=0.5, bound=math.inf)
    assert not r.success and r.status == Status.DIVERGED
    assert r.Q.size > 0 and np.all(np.isfinite(r.Q)) and np.all(np.isfinite(r.eg))


def test_dop853_overflow_without_bound_is_a_divergence():
    m = odes.CommitteeMachine(1, 1, activation="linear", lr=50.0)
    r = odes.integrate(m, 1000.0, Q0=[[0.5]], R0=[[0.1]], bound=math.inf)
    assert not r.success and r.status == Status.DIVERGED and "diverged" in r.message
    assert np.all(np.isfinite(r.Q)) and np.all(np.isfinite(r.eg))


@pytest.mark.slow
def test_large_committee_numba_and_scipy_steppers_agree():
    """K = M = 10 to t = 300: the Numba DOP853 and scipy's DOP853 give the same trajectory."""
    K = 10
    rng = np.random.default_rng(0)
    m = odes.CommitteeMachine(K, K, lr=0.5, readout="sqrt")
    kw = dict(Q0=0.5 * np.eye(K), R0=1e-3 * rng.random((K, K)), t_eval=np.linspace(0, 300, 31))
    a = odes.integrate(m, 300.0, method="DOP853", **kw)
    b = odes.integrate(m, 300.0, method="scipy-DOP853", **kw)
    np.testing.assert_allclose(a.Q, b.Q, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.eg, b.eg, rtol=1e-7, atol=1e-10)


def test_custom_activation_results_load_from_archives(tmp_path):
    """Archives hold a callable by name only: the result loads, the loaded model cannot integrate."""
    archive = pytest.importorskip("lmech.archive")
    m = odes.CommitteeMachine(1, 1, activation=odes.Custom(np.tanh, n_nodes=8, name="tanh"))
    r = odes.integrate(m, 0.5, Q0=[[0.5]], R0=[[0.1]], t_eval=[0.0, 0.5])
    archive.save(r, tmp_path / "c.h5", "c")
    with pytest.warns(UserWarning):
        back = archive.load(tmp_path / "c.h5", "c")
    np.testing.assert_array_equal(back.Q, r.Q)
    assert back.model.activation.g == "numpy.tanh" and not back.model.activation.resolved
    with pytest.raises(ValueError, match="activation"):
        odes.integrate(back.model, 0.5, Q0=[[0.5]], R0=[[0.1]])


def test_relu_converges_to_perfect_learning_at_the_jacobian_rate():
    """ReLU near perfect learning (nearly singular covariances, the hard case of the Stein
    reduction): the distance to Q = R = T = I decays at the slowest Jacobian eigenvalue, and the
    default tolerances get there in a bounded number of steps."""
    from odes import fixed_points as fp

    m = odes.CommitteeMachine(2, 2, activation="relu", lr=0.5)
    lam = fp.perfect_learning(m).eigenvalues[0].real
    te = np.array([250.0, 300.0])
    r = odes.integrate(m, 300.0, Q0=Q0, R0=R0, t_eval=te)
    assert r.success and r.options["atol"] == 1e-12
    s = odes.System(m)
    ystar = s.pack(np.eye(2), np.eye(2))
    d = [np.linalg.norm(s.pack(Q, R) - ystar) for Q, R in zip(r.Q, r.R)]
    assert -math.log(d[1] / d[0]) / 50.0 == pytest.approx(-lam, rel=1e-3)


# -- an independent implementation of the standard case ------------------------------------------
# Saad & Solla, PRE 52, 4225 (1995): g(u) = erf(u/sqrt 2), summed readout, teacher weights 1,
# w_i += (eta/N) g'(x_i) (sum_n g(y_n) - sum_j g(x_j)) xi, time t = steps/N.  Written out here from
# the paper's closed forms (Gaussian averages over fields with covariance C, 1-based as in the paper):
#   I3 = (2/pi) (C23 (1 + C11) - C12 C13) / ((1 + C11) sqrt(L3)),  L3 = (1 + C11)(1 + C33) - C13^2,
#   I4 = (4/pi^2) asin(L0 / sqrt(L1 L2)) / sqrt(L4),  L4 = (1 + C11)(1 + C22) - C12^2, and
#   L0, L1, L2 as in the paper; eg = (1/pi) [sum asin(Q/..) + sum asin(T/..) - 2 sum asin(R/..)].
# Nothing of odes is used: plain numpy, integrated by scipy's DOP853 or by a plain Euler loop.
def _ss_I3(C):
    l3 = (1 + C[0, 0]) * (1 + C[2, 2]) - C[0, 2] ** 2
    return 2 / math.pi * (C[1, 2] * (1 + C[0, 0]) - C[0, 1] * C[0, 2]) / ((1 + C[0, 0]) * math.sqrt(l3))


def _ss_I4(C):
    l4 = (1 + C[0, 0]) * (1 + C[1, 1]) - C[0, 1] ** 2
    l0 = (l4 * C[2, 3] - C[1, 2] * C[1, 3] * (1 + C[0, 0]) - C[0, 2] * C[0, 3] * (1 + C[1, 1])
          + C[0, 1] * C[0, 2] * C[1, 3] + C[0, 1] * C[0, 3] * C[1, 2])
    l1, l2 = (l4 * (1 + C[a, a]) - C[1, a] ** 2 * (1 + C[0, 0]) - C[0, a] ** 2 * (1 + C[1, 1])
              + 2 * C[0, 1] * C[0, a] * C[1, a] for a in (2, 3))
    return 4 / math.pi ** 2 * math.asin(l0 / math.sqrt(l1 * l2)) / math.sqrt(l4)


def _ss_eg(Q, R, T):
    f = lambda A, a, b: np.arcsin(A / np.sqrt(np.outer(1 + a, 1 + b))).sum()  # noqa: E731
    return (f(Q, np.diag(Q), np.diag(Q)) + f(T, np.diag(T), np.diag(T)) - 2 * f(R, np.diag(Q), np.diag(T))) / math.pi


def _ss_unpack(y):
    Q = np.array([[y[0], y[1]], [y[1], y[2]]])
    return Q, y[3:].reshape(2, 2)


def _ss_rhs(t, y, eta=0.5, T=np.eye(2)):
    Q, R = _ss_unpack(y)
    C = np.block([[Q, R], [R.T, T]])          # fields x_1, x_2 (student), y_1, y_2 (teacher)
    sign = [-1, -1, 1, 1]                     # the error signal is sum g(y) - sum g(x)
    e3 = lambda i, u: sum(sign[z] * _ss_I3(C[np.ix_([i, u, z], [i, u, z])]) for z in range(4))  # noqa: E731
    dR = eta * np.array([[e3(i, 2 + n) for n in range(2)] for i in range(2)])
    dQ = np.zeros(3)
    for m, (i, k) in enumerate([(0, 0), (0, 1), (1, 1)]):
        quad = sum(sign[a] * sign[b] * _ss_I4(C[np.ix_([i, k, a, b], [i, k, a, b])])
                   for a in range(4) for b in range(4))
        dQ[m] = eta * (e3(i, k) + e3(k, i)) + eta ** 2 * quad
    return np.concatenate([dQ, dR.ravel()])


def _ss_escape(t, eg):
    """Plateau (eg at the minimum of |d eg/dt| on 20 <= t <= 250) and the first t > 10 below half of it."""
    on = (t >= 20) & (t <= 250)
    k = np.argmin(np.abs(np.gradient(eg, t))[on])
    plateau = eg[on][k]
    j = np.flatnonzero((t > 10) & (eg < plateau / 2))[0]
    return plateau, t[j - 1] + (t[j] - t[j - 1]) * (eg[j - 1] - plateau / 2) / (eg[j - 1] - eg[j])


def test_standard_case_against_an_independent_saad_solla_integration(standard):
    from scipy.integrate import solve_ivp
    from scipy.optimize import brentq, minimize_scalar

    y0 = np.concatenate([[0.5, 0.0, 0.5], R0.ravel()])
    assert standard.eg0 == pytest.approx(_ss_eg(*_ss_unpack(y0), np.eye(2)), abs=1e-14)
    assert _ss_eg(*_ss_unpack(y0), np.eye(2)) == pytest.approx(0.5487613, abs=5e-8)
    sol = solve_ivp(_ss_rhs, (0.0, 300.0), y0, method="DOP853", rtol=1e-11, atol=1e-13, dense_output=True)
    eg = lambda t: _ss_eg(*_ss_unpack(sol.sol(t)), np.eye(2))  # noqa: E731
    for x in (10.0, 148.0, 272.0):
        i = np.argmin(np.abs(standard.t - x))
        assert standard.eg[i] == pytest.approx(eg(standard.t[i]), rel=1e-8)
    # plateau: minimum of |d eg/dt| (central difference, h = 0.01) on the window
    slope = lambda t: abs(eg(t + 0.01) - eg(t - 0.01)) / 0.02  # noqa: E731
    t_p = minimize_scalar(slope, bounds=(20.0, 250.0), method="bounded", options={"xatol": 1e-4}).x
    plateau = eg(t_p)
    grid = np.arange(250.0, 300.0, 0.1)
    j = np.flatnonzero(np.array([eg(x) for x in grid]) < plateau / 2)[0]
    t_half = brentq(lambda x: eg(x) - plateau / 2, grid[j - 1], grid[j], xtol=1e-10)
    assert plateau == pytest.approx(0.0147644, abs=5e-8) and t_half == pytest.approx(272.837, abs=1e-3)
    # |d eg/dt| is flat at its minimum (it changes by ~1e-9 per unit t^2 around 2.5e-6), so its
    # location is ill-conditioned: t within 0.05 moves the plateau value by ~1e-7 of its 7 digits
    assert abs(standard.plateau_t - t_p) < 0.05
    assert standard.plateau_eg == pytest.approx(eg(standard.plateau_t), abs=1e-10)
    assert standard.plateau_eg == pytest.approx(plateau, abs=5e-8)
    # the escape time for the library's own plateau value, from the independent trajectory
    t_lib = brentq(lambda x: eg(x) - standard.plateau_eg / 2, grid[j - 1] - 0.1, grid[j], xtol=1e-10)
    assert standard.t_escape == pytest.approx(t_lib, abs=1e-6)


def test_fixed_points_and_spectrum_against_the_independent_right_hand_side():
    """The symmetric fixed points of K = M = 2, eta = 0.5 (roots of _ss_rhs in Q = [[q, c], [c, q]],
    R = [[r, s], [s, r]] by scipy) and the slowest eigenvalue of its central-difference Jacobian at
    perfect learning, against odes.fixed_points."""
    from scipy.optimize import root

    from odes import fixed_points as fp

    pack = lambda q, c, r, s: np.array([q, c, q, r, s, s, r])  # noqa: E731
    for branch, x0 in (("generic", [0.35, 0.3, 0.4, 0.4]), ("degenerate", [0.33, 0.33, 0.4, 0.4])):
        sol = root(lambda x: _ss_rhs(0.0, pack(*x))[[0, 1, 3, 4]], x0, tol=1e-14)
        assert np.abs(_ss_rhs(0.0, pack(*sol.x))).max() < 1e-13
        eg = _ss_eg(*_ss_unpack(pack(*sol.x)), np.eye(2))
        ref = fp.symmetric_fixed_point(STANDARD, branch=branch)
        assert (ref.q, ref.c, ref.r, ref.s) == pytest.approx(tuple(sol.x), abs=1e-10)
        assert ref.eg == pytest.approx(eg, abs=1e-12)
        assert eg == pytest.approx({"generic": 0.0146448, "degenerate": 0.0146770}[branch], abs=5e-8)
    y, h = pack(1.0, 0.0, 1.0, 0.0), 1e-6
    J = np.array([(_ss_rhs(0.0, y + h * e) - _ss_rhs(0.0, y - h * e)) / (2 * h) for e in np.eye(7)]).T
    lam = np.max(np.linalg.eigvals(J).real)
    assert lam == pytest.approx(-0.0220924, abs=5e-8)
    # central differences of a smooth RHS: O(h^2) ~ 1e-12, rounding ~1e-16/h = 1e-10
    assert fp.perfect_learning(STANDARD).eigenvalues[0].real == pytest.approx(lam, abs=1e-9)


@pytest.mark.slow
def test_independent_euler_gives_the_same_fixed_step_escape_time():
    y = np.concatenate([[0.5, 0.0, 0.5], R0.ravel()])
    dt, n = 0.01, 30000
    eg = np.empty(n + 1)
    for s in range(n + 1):
        eg[s] = _ss_eg(*_ss_unpack(y), np.eye(2))
        y = y + dt * _ss_rhs(0.0, y)
    _, t_half = _ss_escape(dt * np.arange(n + 1), eg)
    assert t_half == pytest.approx(272.860, abs=1e-3)
    r = odes.integrate(STANDARD, 300.0, Q0=Q0, R0=R0, method="euler", dt=dt)
    assert r.t_escape == pytest.approx(t_half, abs=1e-6)

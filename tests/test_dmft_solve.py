"""Tests of dmft.solve: options, failure as data, result registration."""

import numpy as np
import pytest

import dmft
import lmech
from lmech.result import result_class


def test_result_registered_and_conventions_recorded():
    res = dmft.solve(dmft.SphericalPSpin(p=3, T=1.0), 1.0, dt=0.1)
    assert result_class("dmft.DMFTResult") is dmft.DMFTResult
    assert isinstance(res, lmech.Result) and res.kind == "dmft.DMFTResult"
    assert "hamiltonian" in res.conventions and "q^3" in res.conventions["hamiltonian"]
    assert res.options["dt"] == 0.1 and res.options["method"] == "uniform"
    assert res.t.shape == (11,) and res.C.shape == (11, 11)
    assert np.allclose(res.C, res.C.T)
    assert np.all(np.triu(res.R, 1) == 0) and np.all(np.diag(res.R) == 1)
    assert set(res.scalars) >= {"energy", "max_constraint_residual", "t_max"}


def test_unknown_option_and_bad_values():
    m = dmft.SphericalPSpin(p=3, T=1.0)
    with pytest.raises(TypeError, match="stepsize"):
        dmft.solve(m, 1.0, stepsize=0.1)
    with pytest.raises(ValueError, match="method"):
        dmft.solve(m, 1.0, method="rk4")
    with pytest.raises(ValueError, match="t_max"):
        dmft.solve(m, -1.0)
    with pytest.raises(ValueError, match="dt"):
        dmft.solve(m, 1.0, dt=0.3)
    with pytest.raises(ValueError, match="dt"):
        dmft.solve(m, 1.0, dt=0.0)
    with pytest.raises(ValueError, match="tol"):
        dmft.solve(m, 1.0, tol=-1.0)
    with pytest.raises(ValueError, match="max_corrector"):
        dmft.solve(m, 1.0, max_corrector=0)
    with pytest.raises(ValueError, match="model"):
        dmft.solve("pspin", 1.0)
    with pytest.raises(ValueError, match="stationary"):
        dmft.solve(dmft.LinearRegressionGF(), 1.0, method="stationary")


def test_divergence_is_reported_not_raised():
    # linear activation with g > 1 and a huge step: the explicit predictor blows up
    res = dmft.solve(dmft.RandomRNN(g=50.0, phi="linear"), 40.0, dt=2.0, max_corrector=3)
    assert not res.success
    assert res.status < 0 and res.message


def test_corrector_nonconvergence_is_reported():
    res = dmft.solve(dmft.SphericalPSpin(p=3, T=0.5), 2.0, dt=0.2, tol=1e-16, max_corrector=1)
    assert not res.success and "corrector" in res.message
    assert res.status == lmech.Status.MAX_ITER


def test_corrector_stopping_rule():
    # stopping the corrector at 1e-3 of the predictor-corrector difference changes the
    # result far below the discretisation error, with fewer evaluations per step
    m = dmft.SphericalPSpin(p=3, T=0.5)
    full = dmft.solve(m, 10.0, dt=0.05, rtol_corrector=0.0, extrapolate=False)
    fast = dmft.solve(m, 10.0, dt=0.05, extrapolate=False)
    half = dmft.solve(m, 10.0, dt=0.025, extrapolate=False)
    assert abs(full.energy - fast.energy) < 1e-3 * abs(full.energy - half.energy)
    assert fast.iterations[1:].mean() < full.iterations[1:].mean()
    with pytest.raises(ValueError, match="rtol_corrector"):
        dmft.solve(m, 1.0, rtol_corrector=0.9)


@pytest.mark.parametrize("model,opts", [
    # resumable runs are single-grid (extrapolate=False); rtol matches their dt = 0.1
    (dmft.SphericalPSpin(p=3, T=0.6), {"extrapolate": False, "rtol": 0.05}),
    (dmft.RandomRNN(g=1.5, phi="erf", noise=0.1), {"extrapolate": False, "rtol": 0.05}),
    (dmft.LinearRegressionGF(alpha=0.8, noise=0.2, ridge=0.05),
     {"extrapolate": False, "rtol": 0.05}),
])
def test_resume_reproduces_uninterrupted_run(tmp_path, model, opts):
    from lmech import archive

    full = dmft.solve(model, 4.0, dt=0.1, **opts)
    part = dmft.solve(model, 2.0, dt=0.1, **opts)
    archive.save(part, tmp_path / "ckpt.h5", "part")  # checkpoint ...
    back = archive.load(tmp_path / "ckpt.h5", "part")
    cont = dmft.solve(model, 4.0, dt=0.1, resume=back, **opts)  # ... and resume
    assert cont.success
    for name, arr in full.arrays.items():
        assert np.array_equal(arr, cont.arrays[name], equal_nan=True), name


def test_resume_validation():
    m = dmft.SphericalPSpin(p=3, T=0.6)
    part = dmft.solve(m, 1.0, dt=0.1, extrapolate=False, rtol=0.05)
    assert part.success
    with pytest.raises(ValueError, match="extrapolate=False"):
        dmft.solve(m, 2.0, dt=0.1, resume=part, rtol=0.05)
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(dmft.SphericalPSpin(p=3, T=0.7), 2.0, dt=0.1, resume=part,
                   extrapolate=False, rtol=0.05)
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(m, 2.0, dt=0.05, resume=part, extrapolate=False, rtol=0.05)
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(m, 0.5, dt=0.1, resume=part, extrapolate=False, rtol=0.05)
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(m, 2.0, dt=0.1, resume="part.h5")


def test_status_says_why():
    m = dmft.SphericalPSpin(p=3, T=0.8)
    ok = dmft.solve(m, 2.0, dt=0.05)
    assert ok.success and ok.status == lmech.Status.CONVERGED
    # the same run held to a tolerance below its own error estimate
    tight = dmft.solve(m, 2.0, dt=0.05, rtol=1e-12)
    assert not tight.success and tight.status == lmech.Status.TOLERANCE
    assert min(tight.error_estimate.values()) > 1e-12
    # too few steps for the 2 dt level: integrated, but no estimate
    short = dmft.solve(m, 0.2, dt=0.1)
    assert not short.success and short.status == lmech.Status.NO_ESTIMATE
    unverified = dmft.solve(m, 4.0, method="doubling", n_window=32, estimate=False)
    assert not unverified.success and unverified.status == lmech.Status.NO_ESTIMATE
    st = dmft.solve(m, 5.0, method="stationary", max_corrector=1)
    assert st.status == lmech.Status.MAX_ITER


@pytest.mark.parametrize("method,good", [("uniform", {}), ("stationary", {}),
                                         ("doubling", {"n_window": 32}), ("sampled", {})])
def test_unknown_option_names_option_and_method(method, good):
    model = dmft.GLMDynamics() if method == "sampled" else dmft.SphericalPSpin(p=3, T=0.8)
    with pytest.raises(TypeError, match=f"method='{method}'.*unknown option.*bogus_step"):
        dmft.solve(model, 1.0, method=method, bogus_step=0.1, **good)
    # every option a method takes is a keyword of its function, default in the signature
    import inspect
    sig = inspect.signature(dmft.METHODS[method].solve)
    opts = [p for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert opts and all(p.default is not p.empty for p in opts)

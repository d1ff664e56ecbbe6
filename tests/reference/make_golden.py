"""Write the golden archives of tests/reference/ (one per result kind, one per sweep kind).

Run ONLY when the archive format changes on purpose: the files pin what an
archive written by a past version holds, and tests/test_golden_archives.py
checks that the current code still loads them to the bit.  Regenerating them
after an accidental change would hide the very break they exist to catch.
Add new files (a new result kind, a new format version) rather than replace
old ones, so that every format version ever written keeps a reader test.

Usage, from the repository root::

    PYTHONPATH=$PWD python tests/reference/make_golden.py [--only KIND ...] [--tag TAG]

``--tag v1_2`` appends ``_v1_2`` to the file names: how a new format version
gets its own files beside the old ones (``--only`` then names what to write).

Each ``<name>.h5`` gets a ``<name>.json`` beside it with what the test checks:
the kind, the model spec (:func:`lmech.spec.to_spec`), the scalars, and for
every array its dtype, shape, SHA-256 of its bytes and (for reading) its values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TAG = ""  # file-name suffix (--tag)


def _value(x):
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)  # "nan", "inf", "-inf": JSON has no such numbers
    if isinstance(x, complex):
        return [_value(x.real), _value(x.imag)]
    return x


def array_record(arr: np.ndarray) -> dict:
    """dtype, shape, SHA-256 of the bytes and the values of one array."""
    arr = np.ascontiguousarray(arr)
    vals = arr.tolist()

    def walk(v):
        return [walk(u) for u in v] if isinstance(v, list) else _value(v)

    return {"dtype": arr.dtype.str, "shape": list(arr.shape),
            "sha256": hashlib.sha256(arr.tobytes()).hexdigest(), "values": walk(vals)}


def expected_record(res) -> dict:
    """What tests/test_golden_archives.py checks of one loaded result."""
    from lmech.spec import to_spec

    return {
        "kind": res.kind,
        "success": res.success,
        "status": res.status,
        "message": res.message,
        "n_iter": res.n_iter,
        "residual": _value(res.residual),
        "model": to_spec(res.model),
        "scalars": {k: _value(v) for k, v in res.scalars.items()},
        "error_estimate": {k: _value(v) for k, v in res.error_estimate.items()},
        "arrays": {k: array_record(v) for k, v in res.arrays.items()},
    }


# -- one small, fast, deterministic result per registered result kind ------------
def lmech_result():
    from lmech.testing import erf_overlap

    return erf_overlap(1.0, 0.5, n=8)


def odes_trajectory():
    import odes

    m = odes.CommitteeMachine(K=2, M=2, activation="erf", lr=0.5)
    return odes.integrate(m, 2.0, Q0=np.diag([0.5, 0.5]), R0=1e-3 * np.array([[1.0, 0.5], [0.2, 0.8]]),
                          t_eval=[0.0, 1.0, 2.0])


def odes_fixed_point():
    import odes

    return odes.perfect_learning(odes.CommitteeMachine(K=2, M=2, activation="erf", lr=0.5))


def odes_risk_curve():
    import odes

    m = odes.LinearSGD(eigenvalues=[1.0, 0.25, 0.0625], target=[1.0, 0.5, 0.25], lr=0.5, batch=2,
                       noise=0.01)
    return odes.risk_curve(m, [0, 1, 10, 100], method="recursion")


def dmft_result():
    import dmft

    return dmft.solve(dmft.SphericalPSpin(p=3, T=1.0), 0.4, dt=0.1)


def replica_bayes():
    import replica

    return replica.solve(replica.BayesOptimalGLM("gaussian", "sign"), 1.0)


def replica_transitions():
    import replica

    return replica.transitions(replica.BayesOptimalGLM("rademacher", "sign"), n_grid=24)


def replica_erm():
    import replica

    return replica.solve(replica.ERM("square", 0.3, "gaussian", "sign"), 1.0)


def replica_gardner():
    import replica

    return replica.solve(replica.gardner.GardnerVolume(prior="spherical"), 0.5)


def replica_gcm():
    import numpy as np

    import replica

    k = np.arange(1, 21.0)
    return replica.solve(replica.GaussianCovariateModel(omega=k ** -1.5, theta2=k ** -0.5, reg=0.01,
                                                        channel=replica.get_channel("linear", delta=0.1)), 0.5)


def replica_learning_curve():
    import numpy as np

    import replica

    return replica.learning_curve(replica.power_law_model(200, 1.5, 2 / 3, noise=0.0, reg=0.0),
                                  np.logspace(-2, -1, 8), a=1.5, r=2 / 3)


def validation_report():
    import dmft
    import validation

    model = dmft.LinearRegressionGF(alpha=2.0, noise=0.25, ridge=0.0)
    theory = dmft.solve(model, 0.5, dt=0.05)
    return validation.compare(theory, model, sizes=[20, 40], seeds=3, observables=["error_t"],
                              sim_options={"times": theory.t[::5]})


def validation_sgd():
    import odes
    import validation

    m = odes.CommitteeMachine(K=2, M=2, activation="erf", lr=0.5)
    return validation.simulate_committee(m, 20, [0.0, 0.5, 1.0], Q0=np.diag([0.5, 0.5]),
                                         R0=1e-3 * np.array([[1.0, 0.5], [0.2, 0.8]]), seed=7, n_test=0)


def validation_capacity_run():
    import replica
    import validation

    return validation.simulate_capacity(replica.gardner.GardnerVolume(prior="spherical"), 10, [1.0, 2.0])


def validation_capacity_report():
    import replica
    import validation

    return validation.capacity_scan(replica.gardner.GardnerVolume(prior="spherical"), sizes=[10, 14],
                                    alphas=[1.0, 2.0, 3.0], seeds=3)


def validation_glm_run():
    import replica
    import validation

    return validation.simulate_erm(replica.ERM("square", 0.3, "gaussian", "sign"), 20, [1.0, 2.0], seed=1)


def validation_flow_run():
    import dmft
    import validation

    return validation.simulate_linreg(dmft.LinearRegressionGF(alpha=2.0, noise=0.25), 20, [0.0, 0.5, 1.0],
                                      seed=2)


def validation_scaling_run():
    import dmft
    from validation.scaling import simulate_scaling

    return simulate_scaling(dmft.RandomFeatureScaling(N=10, P=15, M=20), [0.0, 1.0, 10.0], seed=2)


def validation_gcm_run():
    import replica
    import validation

    rf = replica.RandomFeatures(activation="tanh", N_over_d=2.0, reg=0.1, n_modes=64)
    return validation.simulate_random_features(rf, 20, [1.0, 2.0], seed=1, n_test=200)


def odes_plrf_spectrum():
    from odes.plrf import PLRF, spectrum

    return spectrum(PLRF(alpha=1.0, beta=0.7, d=20, v=80), rtol=1e-6)


def odes_plrf_risk():
    from odes.plrf import PLRF, risk_curve

    return risk_curve(PLRF(alpha=1.0, beta=0.7, d=20, v=80), np.array([0.0, 10.0, 1000.0]), rtol=1e-6)


def odes_plrf_frontier():
    from odes.plrf import frontier

    return frontier(1.0, 0.7, d_min=16, d_max=64, rtol=1e-4, n_t=31, n_flops=21, t_max=1e8)


def validation_plrf_run():
    from odes.plrf import PLRF
    from validation.plrf import simulate_plrf

    return simulate_plrf(PLRF(alpha=1.0, beta=0.7, d=10, v=40), 10, [0, 5, 20], seed=1)


RESULTS = {
    "lmech.Result": ("result_lmech_Result", lmech_result),
    "odes.PLRFSpectrum": ("result_odes_PLRFSpectrum", odes_plrf_spectrum),
    "odes.PLRFRisk": ("result_odes_PLRFRisk", odes_plrf_risk),
    "odes.ComputeFrontier": ("result_odes_ComputeFrontier", odes_plrf_frontier),
    "validation.PLRFRun": ("result_validation_PLRFRun", validation_plrf_run),
    "odes.Trajectory": ("result_odes_Trajectory", odes_trajectory),
    "odes.FixedPoint": ("result_odes_FixedPoint", odes_fixed_point),
    "odes.RiskCurve": ("result_odes_RiskCurve", odes_risk_curve),
    "dmft.DMFTResult": ("result_dmft_DMFTResult", dmft_result),
    "replica.BayesOptimalResult": ("result_replica_BayesOptimalResult", replica_bayes),
    "replica.TransitionResult": ("result_replica_TransitionResult", replica_transitions),
    "replica.ERMResult": ("result_replica_ERMResult", replica_erm),
    "replica.GardnerResult": ("result_replica_GardnerResult", replica_gardner),
    "replica.GCMResult": ("result_replica_GCMResult", replica_gcm),
    "replica.LearningCurveResult": ("result_replica_LearningCurveResult", replica_learning_curve),
    "validation.ValidationReport": ("result_validation_ValidationReport", validation_report),
    "validation.SGDRun": ("result_validation_SGDRun", validation_sgd),
    "validation.CapacityRun": ("result_validation_CapacityRun", validation_capacity_run),
    "validation.CapacityReport": ("result_validation_CapacityReport", validation_capacity_report),
    "validation.GLMRun": ("result_validation_GLMRun", validation_glm_run),
    "validation.FlowRun": ("result_validation_FlowRun", validation_flow_run),
    "validation.ScalingRun": ("result_validation_ScalingRun", validation_scaling_run),
    "validation.GCMRun": ("result_validation_GCMRun", validation_gcm_run),
}

# -- one small sweep per registered sweep kind, run as `lmech run` runs it ----------
SWEEPS = {
    "lmech.erf_overlap": """
kind = "lmech.erf_overlap"
title = "golden"
[model]
a = 1.0
fail_above = 0.4  # the last point raises: a failed point in the archive
[grid]
c = [0.2, 0.3, 0.5]
[options]
n = 8
""",
    "odes.phase_diagram": """
kind = "odes.phase_diagram"
[model]
K = 2
M = 2
t_max = 20.0
[grid]
lr = [0.5, 1.0]
""",
    "odes.plrf_loss": """
kind = "odes.plrf_loss"
[model]
alpha = 1.0
beta = 0.7
[grid]
d = [16, 32]
flops = [10.0, 1000.0]
[options]
rtol = 1e-6
""",
    "odes.plrf_phase_diagram": """
kind = "odes.plrf_phase_diagram"
[model]
d_min = 16
d_max = 64
t_max = 1e8
[grid]
alpha = [0.8, 1.2]
beta = [0.7]
[options]
n_t = 31
n_flops = 21
""",
    "odes.linear_sgd": """
kind = "odes.linear_sgd"
[model]
d = 50
t_max = 100.0
per_decade = 2
[grid]
lr = [0.3, 2.0]
[options]
method = "recursion"
""",
    "dmft.pspin": """
kind = "dmft.pspin"
[model]
p = 3
t_max = 0.4
[grid]
T = [1.0, 2.0]
[options]
dt = 0.1
""",
    "dmft.linreg": """
kind = "dmft.linreg"
[model]
t_max = 0.5
[grid]
alpha = [0.5, 2.0]
[options]
dt = 0.1
""",
    "dmft.rnn": """
kind = "dmft.rnn"
[model]
t_max = 0.5
[grid]
g = [0.5, 1.5]
[options]
dt = 0.1
""",
    "dmft.glm": """
kind = "dmft.glm"
[model]
loss = "square"
teacher = "linear"
t_max = 0.5
[grid]
alpha = [2.0, 3.0]
[options]
dt = 0.1
""",
    "dmft.scaling": """
kind = "dmft.scaling"
[model]
M = 200
P = 50.0
t_max = 10.0
[grid]
N = [20.0, 100.0]
""",
    "replica.bayes_optimal": """
kind = "replica.bayes_optimal"
[model]
prior = "gaussian"
channel = "sign"
[grid]
alpha = [0.5, 1.0]
[options]
thresholds = false
""",
    "replica.erm": """
kind = "replica.erm"
[model]
loss = "square"
channel = "sign"
[grid]
alpha = [0.5, 1.0]
lam = [0.1, 1.0]
""",
    "replica.gcm": """
kind = "replica.gcm"
[model]
p = 200
noise = 0.01
[grid]
alpha = [0.05, 0.5]
lam = [0.001, 0.1]
""",
    "replica.gardner": """
kind = "replica.gardner"
[grid]
alpha = [0.5, 1.0]
""",
    "validation.capacity": """
kind = "validation.capacity"
[model]
N = 10
[grid]
alpha = [1.0, 3.0]
[options]
seeds = 3
""",
    "validation.committee_sgd": """
kind = "validation.committee_sgd"
[model]
N = 20
t = 1.0
[grid]
lr = [0.5, 1.0]
[options]
seeds = 2
""",
}


def write_result_golden(kind: str, stem: str, fn) -> None:
    from lmech import archive

    res = fn()
    stem += TAG
    if res.kind != kind:
        raise RuntimeError(f"{fn.__name__} returned a {res.kind}, expected {kind}")
    path = HERE / f"{stem}.h5"
    path.unlink(missing_ok=True)
    archive.save(res, path, "result")
    _write_expected(path, "result")


def write_sweep_golden(kind: str, text: str) -> None:
    from lmech.cli import main

    stem = f"sweep_{kind.replace('.', '_')}{TAG}"
    path = HERE / f"{stem}.h5"
    path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / f"{stem}.toml"
        cfg.write_text(text.lstrip())
        rc = main(["run", str(cfg), "-o", str(path), "--quiet"])
    if rc != 0:
        raise RuntimeError(f"lmech run {kind} exited with {rc}")
    _write_expected(path, "sweep")


def _write_expected(path: Path, name: str) -> None:
    import h5py

    from lmech import archive
    from lmech.spec import to_spec

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = archive.load(path, name)
    with h5py.File(path, "r") as f:
        version = str(f.attrs["format_version"])
    rec = {"file": path.name, "name": name, "format_version": version, **expected_record(res)}
    if res.kind == "lmech.Sweep":
        rec["meta"] = {k: res.meta[k] for k in ("axes", "mode", "function", "sweep_kind", "observables")}
        if "model_index" in res.arrays:  # format >= 1.2: each point's model spec
            rec["models"] = [to_spec(res.model_at(i)) for i in range(res.arrays["model_index"].size)]
    path.with_suffix(".json").write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(f"{path.name}: {res.kind}, {path.stat().st_size} bytes")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", help="result or sweep kinds to write (default: all)")
    p.add_argument("--tag", default="", help="suffix of the file names (a new format version: v1_2)")
    args = p.parse_args(argv)
    global TAG
    TAG = f"_{args.tag}" if args.tag else ""
    import dmft  # noqa: F401
    import odes  # noqa: F401
    import replica  # noqa: F401
    import validation  # noqa: F401
    import validation.scaling  # noqa: F401
    from lmech.config import kinds
    from lmech.result import result_kinds

    missing = set(result_kinds()) - set(RESULTS) - {"lmech.Sweep"}
    missing |= set(kinds()) - set(SWEEPS)
    if missing:
        print(f"no golden recipe for {sorted(missing)}: add one", file=sys.stderr)
        return 1
    only = set(args.only or [])
    for kind, (stem, fn) in RESULTS.items():
        if not only or kind in only:
            write_result_golden(kind, stem, fn)
    for kind, text in SWEEPS.items():
        if not only or kind in only:
            write_sweep_golden(kind, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

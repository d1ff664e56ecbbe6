"""Sweep kinds of the replica layer and the demo config."""

import math
import tomllib

import numpy as np

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import replica  # noqa: E402,F401
from lmech.config import get_kind, parse_config  # noqa: E402
from lmech.sweep import sweep  # noqa: E402
from replica.demo import CONFIG  # noqa: E402
from replica.kinds import bayes_check, bayes_point  # noqa: E402


def _rademacher_sign_uninformed_q(alpha, q0):
    """Uninformed fixed point of the Rademacher-prior sign-channel state evolution, in mpmath.

    BKMMZ (PNAS 116, 5451 (2019)) eq. 16 written out for these blocks:
    ``qhat = (alpha / V) E_xi[phi(w)**2 / (Phi(w) Phi(-w))]``, ``w = sqrt(q / V) xi``,
    ``V = 1 - q``, and ``q = E_xi tanh(qhat + sqrt(qhat) xi)``; solved by the secant
    method from ``q0`` at 30 digits, independently of the library's quadrature.
    """
    import mpmath as mp

    mp.mp.dps = 30

    def qhat(q):
        s = mp.sqrt(q / (1 - q))
        f = lambda x: mp.npdf(x) * mp.npdf(s * x) ** 2 / (mp.ncdf(s * x) * mp.ncdf(-s * x))  # noqa: E731
        return alpha / (1 - q) * mp.quad(f, [-mp.inf, 0, mp.inf])

    def q_of(r):
        sr = mp.sqrt(r)
        return mp.quad(lambda x: mp.npdf(x) * mp.tanh(r + sr * x), [-mp.inf, -sr, 0, mp.inf])

    return float(mp.findroot(lambda q: q_of(qhat(q)) - q, mp.mpf(q0), tol=1e-25))


def test_point_has_both_branches():
    res = bayes_point(alpha=1.3, prior="rademacher", channel="sign")
    assert res.success
    # informed branch: perfect recovery; uninformed branch: the mpmath fixed point
    assert res.q_inf == 1.0
    ref = _rademacher_sign_uninformed_q(1.3, res.q_uninf)
    # within the solver's own error estimate, which meets the default tol = 1e-8
    assert abs(res.q_uninf - ref) <= res.error_estimate["q_uninf"] <= 1e-8
    # past alpha_c ~ 1.245 the informed branch is the equilibrium
    assert res.branch == 1 and res.eg_bayes == 0.0
    res = bayes_point(alpha=1.0, prior="rademacher", channel="sign")
    assert res.branch == 0 and res.eg_bayes == pytest.approx(res.eg_bayes_uninf)


def test_check_names_parameter():
    with pytest.raises(ValueError, match="rho"):
        bayes_check(alpha=1.0, prior="gauss-bernoulli", rho=2.0)
    with pytest.raises(ValueError, match="alpha"):
        bayes_check(alpha=-1.0)
    bayes_check(alpha=1.0, prior="gaussian", channel="probit", delta=0.3)


def test_demo_config_parses():
    cfg = parse_config(tomllib.loads(CONFIG), CONFIG)
    assert cfg.kind.name == "replica.bayes_optimal"
    assert set(cfg.grid) == {"alpha", "eps"} and len(cfg.all_points()) == 39 * 13


def test_1d_plot_marks_transition(tmp_path):
    res = sweep("replica.kinds:bayes_point", {"alpha": [0.5, 1.3, 2.0]},
                fixed={"prior": "rademacher", "channel": "sign"}, archive=tmp_path / "s.h5")
    assert bool(res.arrays["converged"].all())
    fig, ax = plt.subplots()
    get_kind("replica.bayes_optimal")
    from replica.kinds import bayes_plot
    bayes_plot(res, ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(l.startswith("first-order transition 1.24") for l in labels)
    assert any(l.startswith("spinodal (uninformed) 1.49") for l in labels)
    plt.close(fig)


def test_two_dimensional_plot_draws_transition_line(tmp_path):
    res = sweep("replica.kinds:bayes_point", {"alpha": [0.8, 1.6], "eps": [0.0, 0.02]},
                fixed={"prior": "rademacher", "channel": "label-flip"}, archive=tmp_path / "s2.h5")
    fig, ax = plt.subplots()
    from replica.kinds import bayes_plot
    bayes_plot(res, ax)
    line = [l for l in ax.get_lines() if l.get_label() == "first-order transition"][0]
    xs = line.get_xdata()
    assert xs[0] == pytest.approx(1.2447, abs=1e-3)  # eps = 0: Gyorgyi's transition
    assert math.isfinite(xs[1]) and xs[1] > xs[0]    # label noise delays it
    # the thresholds are archived at every point (constant along alpha)
    ac = np.asarray(res.arrays["alpha_c"])
    assert np.allclose(ac[:, 0], xs[0], rtol=1e-12) and np.allclose(ac[:, 1], xs[1], rtol=1e-12)
    plt.close(fig)


def test_erm_point_check_and_plots(tmp_path):
    from replica.kinds import erm_check, erm_plot, erm_point

    r = erm_point(alpha=1.0, loss="logistic", lam=0.1)
    assert r.success and r.test_error == pytest.approx(0.25586427, abs=6e-9)
    # warm start from the last point does not change the answer
    r2 = erm_point(alpha=1.0, loss="logistic", lam=0.1)
    assert r2.test_error == pytest.approx(r.test_error, abs=1e-9)
    with pytest.raises(ValueError, match="lam|reg"):
        erm_check(alpha=1.0, lam=-1.0)
    with pytest.raises(ValueError, match="loss"):
        erm_check(alpha=1.0, loss="hinge", channel="linear")
    res = sweep("replica.kinds:erm_point", {"alpha": [0.5, 1.0, 2.0], "lam": [0.01, 0.1, 1.0]},
                fixed={"loss": "logistic"}, archive=tmp_path / "e.h5")
    assert bool(res.arrays["converged"].all())
    fig, ax = plt.subplots()
    erm_plot(res, ax)
    best = [l for l in ax.get_lines() if l.get_label() == r"optimal $\lambda$"][0].get_ydata()
    # the optimal lambda decreases with alpha for the noiseless sign teacher
    assert np.all(np.diff(best) <= 0)
    plt.close(fig)


def test_examples_parse():
    import pathlib

    for path in sorted(pathlib.Path(__file__).parent.parent.glob("examples/replica_*.toml")):
        text = path.read_text()
        parse_config(tomllib.loads(text), text)


def test_results_roundtrip_through_archive(tmp_path):
    import lmech.archive as archive

    results = [replica.solve(replica.BayesOptimalGLM("rademacher", "sign"), 1.6, init="informed"),
               replica.transitions(replica.BayesOptimalGLM("rademacher", "sign")),
               replica.solve(replica.ERM("hinge", 0.0, "gaussian", "sign"), 2.0),
               replica.solve(replica.GardnerVolume("spherical", 0.5), 1.0)]
    path = tmp_path / "r.h5"
    for i, r in enumerate(results):
        archive.save(r, path, f"r{i}")
        back = archive.load(path, f"r{i}")
        assert type(back) is type(r) and back.same_as(r)

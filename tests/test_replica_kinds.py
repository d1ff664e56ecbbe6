"""Sweep kinds of the replica layer and the demo config."""

import math
import pathlib
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


def gyorgyi_uninformed_q(alpha):
    """Uninformed fixed point of the Bayes-optimal binary perceptron (Rademacher prior, sign channel),
    by mpmath at 20 digits: q = E_z tanh(qh + sqrt(qh) z) with
    qh = 2 alpha/(1-q) E_x[phi(s x)^2 / H(s x)], s = sqrt(q/(1-q)), phi the normal density, H its tail
    (Gyorgyi, PRA 41, 7097 (1990); the state evolution of Barbier et al., PNAS 116, 5451 (2019))."""
    mp = pytest.importorskip("mpmath")
    with mp.workdps(20):
        phi = lambda x: mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)  # noqa: E731
        tail = lambda x: mp.erfc(x / mp.sqrt(2)) / 2  # noqa: E731
        gauss = lambda f: mp.quad(lambda z: phi(z) * f(z), [-mp.inf, -5, 0, 5, mp.inf])  # noqa: E731

        def update(q):
            s = mp.sqrt(q / (1 - q))
            qh = 2 * alpha / (1 - q) * gauss(lambda x: phi(s * x) ** 2 / tail(s * x))
            return gauss(lambda z: mp.tanh(qh + mp.sqrt(qh) * z))

        q = mp.mpf(0)
        for _ in range(30):  # plain iteration from q = 0 selects the uninformed branch
            q = update(q)
        return float(mp.findroot(lambda x: x - update(x), q))


def logistic_erm_test_error(alpha, lam):
    """Test error arccos(m/sqrt q)/pi of ridge-regularised logistic regression on a sign teacher with
    Gaussian prior (rho = 1), from the RS equations written out here (Aubin, Krzakala, Lu &
    Zdeborova, NeurIPS 2020: the l2 prior and a proximal output channel):
    m = mh/(lam + vh), q = (mh^2 + qh)/(lam + vh)^2, V = 1/(lam + vh);  with w = sqrt(q) x,
    w0 = m x/sqrt(q), V0 = 1 - m^2/q, p = prox of V log(1 + exp(-y p)) at w, f = (p - w)/V:
    mh = alpha E sum_y dZ0 f, qh = alpha E sum_y Z0 f^2, vh = -alpha E sum_y Z0 df/dw, Z0 = H(-y w0/sqrt V0).
    Plain numpy, 600-node Gauss-Legendre on |x| <= 11, damped iteration to 1e-14."""
    from scipy.special import erfc, expit

    x, w = np.polynomial.legendre.leggauss(600)
    x, w = 11 * x, 11 * w * np.exp(-(11 * x) ** 2 / 2) / math.sqrt(2 * math.pi)

    def prox(y, om, V):
        p = om.copy()
        for _ in range(100):
            dp = (p - om - V * y * expit(-y * p)) / (1 + V * expit(p) * expit(-p))
            p -= dp
            if np.max(np.abs(dp) / (1 + np.abs(p))) < 1e-15:
                return p
        raise RuntimeError("prox did not converge")

    m, q, V = 0.5, 0.6, 1.0
    for _ in range(2000):
        om, om0, V0 = math.sqrt(q) * x, m / math.sqrt(q) * x, 1 - m * m / q
        mh = qh = vh = 0.0
        for y in (1.0, -1.0):
            p = prox(y, om, V)
            f, df = (p - om) / V, (1 / (1 + V * expit(p) * expit(-p)) - 1) / V
            z0 = 0.5 * erfc(-y * om0 / math.sqrt(2 * V0))
            dz0 = y * np.exp(-om0 ** 2 / (2 * V0)) / math.sqrt(2 * math.pi * V0)
            mh, qh, vh = mh + alpha * w @ (dz0 * f), qh + alpha * w @ (z0 * f * f), vh - alpha * w @ (z0 * df)
        new = (mh / (lam + vh), (mh * mh + qh) / (lam + vh) ** 2, 1 / (lam + vh))
        if max(abs(a - b) for a, b in zip(new, (m, q, V))) < 1e-14:
            return math.acos(new[0] / math.sqrt(new[1])) / math.pi
        m, q, V = [(a + b) / 2 for a, b in zip(new, (m, q, V))]
    raise RuntimeError("no convergence")


def test_point_has_both_branches():
    res = bayes_point(alpha=1.3, prior="rademacher", channel="sign")
    assert res.success
    assert res.q_inf == 1.0
    # uninformed branch against an independent mpmath solution of the state evolution,
    # within the solver's own error estimate, which meets the default tol = 1e-8
    assert abs(res.q_uninf - gyorgyi_uninformed_q(1.3)) <= res.error_estimate["q_uninf"] <= 1e-8
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
    # independent solution of the RS equations: 0.255864266947
    assert r.success and r.test_error == pytest.approx(logistic_erm_test_error(1.0, 0.1), abs=1e-10)
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


EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"
# what each example config must produce: kind, fixed parameters, options, grid axes as written out
EXAMPLE_SPECS = {
    "replica_binary_perceptron.toml": (
        "replica.bayes_optimal", {"prior": "rademacher", "channel": "sign"}, {},
        {"alpha": np.linspace(0.1, 2.5, 49)}),
    "replica_gardner_capacity.toml": (
        "replica.gardner", {"prior": "rademacher", "alpha": 0.5}, {},
        {"margin": np.linspace(-0.5, 1.5, 21)}),
    "replica_logistic_diagram.toml": (
        "replica.erm", {"loss": "logistic", "channel": "sign"}, {"rtol": 1e-10},
        {"alpha": np.linspace(0.2, 5.0, 25), "lam": np.geomspace(1e-4, 10.0, 21)}),
    "replica_gcm_crossover.toml": (
        "replica.gcm", {"p": 1_000_000, "a": 1.5, "r": 2 / 3, "noise": 1e-5, "reg_mode": "optimal"},
        {"rtol": 1e-10}, {"alpha": np.geomspace(1e-5, 0.1, 41)}),
    "replica_sparse_regression.toml": (
        "replica.bayes_optimal", {"prior": "gauss-bernoulli", "rho": 0.1, "channel": "linear"}, {},
        {"alpha": np.linspace(0.05, 0.4, 36), "delta": np.geomspace(1e-5, 1e-3, 9)}),
}


def test_every_replica_example_is_specified():
    assert {p.name for p in EXAMPLES.glob("replica_*.toml")} == set(EXAMPLE_SPECS)


@pytest.mark.parametrize("name", sorted(EXAMPLE_SPECS))
def test_examples_parse_to_the_stated_sweep(name):
    kind, fixed, options, grid = EXAMPLE_SPECS[name]
    text = (EXAMPLES / name).read_text()
    cfg = parse_config(tomllib.loads(text), text)
    assert cfg.kind.name == kind
    assert {k: cfg.fixed[k] for k in fixed} == fixed
    assert {k: cfg.options[k] for k in options} == options
    assert list(cfg.grid) == list(grid)
    for axis, values in grid.items():
        np.testing.assert_allclose(cfg.grid[axis], values, rtol=1e-14)
    assert len(cfg.all_points()) == math.prod(len(v) for v in grid.values())


def test_example_models_are_the_stated_models():
    """The model each example's first point builds equals the model written out by hand."""
    from replica.kinds import bayes_model, erm_model

    def first(name):
        text = (EXAMPLES / name).read_text()
        pt = parse_config(tomllib.loads(text), text).all_points()[0]
        return {k: v for k, v in pt.items() if k not in ("alpha",)}

    binary = bayes_model(**first("replica_binary_perceptron.toml"))
    assert binary == replica.BayesOptimalGLM("rademacher", "sign")
    sparse = bayes_model(**first("replica_sparse_regression.toml"))
    assert sparse == replica.BayesOptimalGLM(replica.get_prior("gauss-bernoulli", rho=0.1),
                                            replica.get_channel("linear", delta=1e-5))
    logistic = first("replica_logistic_diagram.toml")
    assert erm_model(**logistic) == replica.ERM("logistic", 1e-4, "gaussian", "sign")


def test_example_points_reproduce_known_values():
    """One point of each kind's example, against a published or exact value."""
    from replica.kinds import gardner_point

    text = (EXAMPLES / "replica_gardner_capacity.toml").read_text()
    cfg = parse_config(tomllib.loads(text), text)
    pt = [p for p in cfg.all_points() if p["margin"] == 0.0][0]
    # binary perceptron at zero margin: alpha_c = 0.833 where the RS entropy vanishes
    # (Krauth & Mezard, J. Phys. France 50, 3057 (1989), abstract)
    assert gardner_point(**pt).alpha_c == pytest.approx(0.833, abs=5e-4)
    text = (EXAMPLES / "replica_binary_perceptron.toml").read_text()
    last = parse_config(tomllib.loads(text), text).all_points()[-1]
    # alpha = 2.5 lies past the spinodal 1.493 of the uninformed branch (Sompolinsky, Tishby & Seung,
    # PRL 65, 1683 (1990)): both branches reach perfect recovery, q = 1 and zero Bayes error
    res = bayes_point(**last, thresholds=False)
    assert res.q == 1.0 and res.eg_bayes == 0.0


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


def test_erm_config_fixes_a_loss_given_as_a_table(tmp_path):
    """``loss = {kind = "huber", delta = 1.0}`` in [model] is the Huber block, run and archived as such.

    The sweep must compute what ``replica.solve`` computes for ``ERM(Huber(1.0), ...)``: the first
    point from the default start, the second warm-started from the first (the kind's documented
    warm start, i.e. ``init=`` the previous converged result), both bit for bit; the warm start
    moves the answer only within the solver's own error estimate.
    """
    import lmech.archive as archive
    from lmech.blocks.losses import Huber
    from lmech.config import ConfigError
    from replica.blocks import get_prior
    from replica.kinds import erm_plot

    data = {"kind": "replica.erm", "model": {"loss": {"kind": "huber", "delta": 1.0}, "rho": 0.9},
            "grid": {"alpha": [0.5, 2.0]}}
    cfg = parse_config(data)
    assert cfg.fixed["loss"] == Huber(delta=1.0)
    path = tmp_path / "huber.h5"
    sweep(cfg.kind.point, cfg.grid, fixed={**cfg.fixed, **cfg.options}, archive=path)
    back = archive.load(path, "sweep")
    assert back.meta["fixed"]["loss"] == Huber(delta=1.0)   # the fixed block's spec, reloaded

    model = replica.ERM(loss=Huber(1.0), reg=0.1, teacher_prior=get_prior("gaussian", rho=0.9),
                        channel="sign")
    names = ("test_error", "train_loss", "m", "q", "V")
    previous = None
    for i, alpha in enumerate([0.5, 2.0]):
        assert back.model_at(i) == model and back.model_at(i).loss == Huber(delta=1.0)
        ref = replica.solve(model, alpha, **cfg.options, **({} if previous is None else {"init": previous}))
        assert ref.success
        for k in names:
            assert back.arrays[k][i] == ref.scalars[k], (i, k)
        cold = replica.solve(model, alpha, **cfg.options)
        for k in ("test_error", "m", "q", "V"):
            assert abs(back.arrays[k][i] - cold.scalars[k]) <= 2 * cold.error_estimate[k], (i, k)
        previous = ref
    fig, ax = plt.subplots()
    erm_plot(back, ax)          # the reloaded archive plots
    assert len(ax.get_lines()) == 2
    plt.close(fig)

    with pytest.raises(ConfigError, match=r"^model\.loss\.delta: must lie in"):
        parse_config({**data, "model": {"loss": {"kind": "huber", "delta": -1.0}}})
    with pytest.raises(ConfigError, match=r"^model\.loss\.delt: unknown parameter"):
        parse_config({**data, "model": {"loss": {"kind": "huber", "delt": 1.0}}})
    with pytest.raises(ConfigError, match=r"^grid\.loss\[1\]: a loss table .* cannot be swept"):
        parse_config({**data, "model": {}, "grid": {"alpha": [1.0], "loss": ["square", {"kind": "huber"}]}})
    with pytest.raises(ConfigError, match=r"^points\[0\]\.loss: a loss table .* cannot be swept"):
        parse_config({"kind": "replica.erm", "points": [{"alpha": 1.0, "loss": {"kind": "huber"}}]})

"""The lmech run sweep kinds of the validation layer: points, checks, plots, example configs, CLI."""

import math
from pathlib import Path

import numpy as np
import pytest

import odes
import replica.gardner
from lmech import archive
from lmech.cli import main
from lmech.config import ConfigError, get_kind, load_config, parse_config, resolve_callable
from validation.capacity import cover_probability
from validation.kinds import (capacity_check, capacity_plot, capacity_point, committee_check,
                              committee_plot, committee_point)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# spherical capacity at margin 0.5: 1/alpha_c = (1 + k^2) Phi(k) + k phi(k) (Gardner, J. Phys. A 21,
# 257 (1988), eq. 24), = 0.9612050528
GARDNER_05 = 1 / (1.25 * 0.5 * math.erfc(-0.5 / math.sqrt(2)) + 0.5 * math.exp(-0.125) / math.sqrt(2 * math.pi))


@pytest.mark.parametrize("name", ["validation.capacity", "validation.committee_sgd"])
def test_kinds_are_registered_with_importable_callables(name):
    kind = get_kind(name)
    points = {"validation.capacity": capacity_point, "validation.committee_sgd": committee_point}
    assert kind.name == name and resolve_callable(kind.point) is points[name]
    for f in (kind.point, kind.check, kind.plot):
        assert callable(resolve_callable(f))


def test_capacity_point_against_cover():
    # spherical, kappa = 0: the fraction over 200 instances against Cover's exact probability
    r = capacity_point(alpha=2.0, N=20, seeds=200)
    assert r.success and r.n_decided == 200 and r.n == 40
    assert r.p_exact == pytest.approx(cover_probability(20, 40), abs=1e-15) == pytest.approx(0.5, abs=1e-14)
    assert abs(r.p - r.p_exact) < 4 * math.sqrt(0.25 / 200)
    assert r.sem == pytest.approx(math.sqrt(r.p * (1 - r.p) / 199))
    assert r.alpha_c == pytest.approx(2.0, rel=1e-12)
    # far below and above the capacity at a margin: storable / not storable
    lo = capacity_point(alpha=0.3, N=60, kappa=0.5, seeds=10)
    hi = capacity_point(alpha=2.0, N=60, kappa=0.5, seeds=10)
    assert lo.p == 1.0 and hi.p == 0.0 and lo.sem == 0.0
    assert lo.alpha_c == pytest.approx(GARDNER_05, rel=1e-9) and math.isnan(lo.p_exact)
    # binary weights: exhaustive search, Krauth-Mezard capacity 0.833 (Krauth & Mezard, J. Phys. France
    # 50, 3057 (1989), abstract; stated to three digits)
    b = capacity_point(alpha=0.5, N=12, prior="rademacher", seeds=5)
    assert b.alpha_c == pytest.approx(0.833, abs=5e-4) and b.n_decided == 5


def test_capacity_check_names_the_parameter():
    with pytest.raises(ValueError, match="kappa"):
        capacity_check(kappa=-0.2)
    with pytest.raises(ValueError, match="alpha"):
        capacity_check(alpha=0.0)
    with pytest.raises(ValueError, match="N"):
        capacity_check(N=40, prior="rademacher")
    with pytest.raises(ValueError, match="prior"):
        capacity_check(prior="ising")
    with pytest.raises(ValueError, match="seeds"):
        capacity_point(seeds=1)
    capacity_check(kappa=-0.2, prior="rademacher", N=10)      # binary weights take any margin


def test_committee_point_against_the_odes():
    # N = 400, 24 seeds: standard error ~6e-4, a tenth of the ODE's eg difference between
    # lr = 0.5 and 0.55 at t = 4 (5.6e-3); at N = 200 with 12 seeds (1.7e-3) the wrong-lr check
    # below had an expected |z| of only 3.3 and passed or failed with the seeds
    r = committee_point(N=400, lr=0.5, t=4.0, seeds=24, n_test=500)
    assert r.success and r.n_ok == 24
    Q0 = 0.5 * np.eye(2)
    R0 = 1e-3 * np.random.default_rng(0).random((2, 2))     # odes.kinds.initial_state
    ode = odes.integrate(odes.CommitteeMachine(2, 2, lr=0.5), 4.0, Q0=Q0, R0=R0, t_eval=[0.0, 4.0])
    assert r.eg_ode == pytest.approx(ode.eg[-1], rel=1e-12)
    assert r.z == pytest.approx((r.eg_sim - r.eg_ode) / r.eg_sem)
    assert abs(r.z) < 4.0
    assert abs(r.eg_test_sim - r.eg_sim) < 5 * math.hypot(r.eg_test_sem, r.eg_sem) + 0.05 * r.eg_sim
    # a point whose ODE is off (learning rate 10 % higher than simulated) has a large |z|
    w = committee_point(N=400, lr=0.55, t=4.0, seeds=2)
    assert abs((r.eg_sim - w.eg_ode) / r.eg_sem) > 4.0


def test_committee_check_names_the_parameter():
    with pytest.raises(ValueError, match="N"):
        committee_check(N=3)
    with pytest.raises(ValueError, match="lr"):
        committee_check(lr=-1.0)
    with pytest.raises(ValueError, match="r0"):
        committee_check(r0=2.0)
    with pytest.raises(ValueError, match="t"):
        committee_check(t=0.0)
    with pytest.raises(ValueError, match="activation"):
        committee_check(activation="tanh")
    with pytest.raises(ValueError, match="seeds"):
        committee_point(seeds=1)


@pytest.mark.parametrize("name, kind, n", [("validation_capacity_margin.toml", "validation.capacity", 27),
                                           ("validation_committee_sweep.toml", "validation.committee_sgd", 12)])
def test_example_configs_parse_and_bad_configs_fail_before_work(name, kind, n):
    cfg = load_config(EXAMPLES / name)
    assert cfg.kind.name == kind and len(cfg.all_points()) == n
    with pytest.raises(ConfigError, match="kappa"):
        parse_config({"kind": "validation.capacity", "grid": {"kappa": [0.0, -0.5]}})
    with pytest.raises(ConfigError, match="N"):
        parse_config({"kind": "validation.capacity", "model": {"prior": "rademacher"}, "grid": {"N": [10, 30]}})
    with pytest.raises(ConfigError, match="N"):
        parse_config({"kind": "validation.committee_sgd", "grid": {"N": [2, 100]}})
    with pytest.raises(ConfigError, match="seeds"):
        parse_config({"kind": "validation.committee_sgd", "grid": {"N": [100]}, "options": {"seeds": 1}})


def _run(tmp_path, text):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    out = tmp_path / "out.h5"
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 0
    return out


def test_capacity_through_lmech_run_show_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = _run(tmp_path, """
kind = "validation.capacity"
[model]
kappa = 0.5
[grid]
alpha = [0.3, 1.0, 2.0]
N = [20, 40]
[options]
seeds = 20
""")
    res = archive.load(out, "sweep")
    assert res.arrays["p"].shape == (3, 2)
    assert np.all(res.arrays["p"][0] == 1.0) and np.all(res.arrays["p"][-1] == 0.0)
    assert np.allclose(res.arrays["alpha_c"], GARDNER_05, rtol=1e-9)
    assert np.all(res.arrays["sem"] >= 0)
    assert main(["show", str(out)]) == 0
    png = tmp_path / "cap.png"
    assert main(["plot", str(out), "-o", str(png)]) == 0 and png.stat().st_size > 0


def test_committee_through_lmech_run_and_plot(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = _run(tmp_path, """
kind = "validation.committee_sgd"
[model]
t = 2.0
[grid]
N = [50, 100]
lr = [0.5]
[options]
seeds = 4
""")
    res = archive.load(out, "sweep")
    for k in ("eg_sim", "eg_sem", "eg_ode", "z"):
        assert res.arrays[k].shape == (2, 1) and np.all(np.isfinite(res.arrays[k])), k
    assert np.all(res.arrays["n_ok"] == 4)
    fig, ax = plt.subplots()
    committee_plot(res, ax)
    assert len(ax.lines) >= 1
    plt.close(fig)
    fig, ax = plt.subplots()
    from lmech.sweep import sweep
    cap = sweep("validation.kinds:capacity_point", {"N": [10, 20], "alpha": [1.0, 3.0]}, fixed={"seeds": 4})
    capacity_plot(cap, ax)
    assert ax.get_xlabel() == "alpha"
    plt.close(fig)


def test_capacity_point_with_undecided_instances_is_not_success():
    # one sweep of the max-stability search at alpha_c(0.5) = 0.961 cannot decide every instance
    r = capacity_point(alpha=0.96, N=40, kappa=0.5, seeds=6, max_pass=1)
    assert r.n_undecided > 0 and r.n_decided + r.n_undecided == 6
    assert not r.success and r.status != 0
    assert f"{r.n_undecided} of 6 instances undecided" in r.message
    ok = capacity_point(alpha=0.96, N=40, kappa=0.5, seeds=6)
    assert ok.success and ok.n_undecided == 0


def test_grid_points_draw_independent_seeds():
    # each grid point's instances come from a SeedSequence of (seed0, hash of its parameters):
    # points at different alpha or kappa share no seeds (before: seed0 + j everywhere, so points at
    # different kappa decided the very same instances), and the same point repeats exactly
    from validation.kinds import point_seeds

    base = dict(alpha=1.0, N=40, kappa=0.0, prior="spherical")
    s0 = point_seeds(0, 50, **base)
    assert s0.shape == (50,) and np.unique(s0).size == 50
    assert np.array_equal(s0, point_seeds(0, 50, **dict(base)))
    assert np.array_equal(point_seeds(0, 50, N=np.int64(40), alpha=1.0, kappa=0.0, prior="spherical"), s0)
    others = [point_seeds(0, 50, **{**base, "alpha": 1.5}), point_seeds(0, 50, **{**base, "kappa": 0.5}),
              point_seeds(0, 50, **{**base, "N": 41}), point_seeds(0, 50, **{**base, "prior": "rademacher"}),
              point_seeds(1, 50, **base)]
    for o in others:
        assert np.intersect1d(o, s0).size == 0
    # the first 10 of 50 are the 10 of a shorter run (more seeds extend a point's sample)
    assert np.array_equal(point_seeds(0, 10, **base), s0[:10])
    # the point function uses them and records the design
    from validation.capacity import simulate_capacity
    a = capacity_point(alpha=0.8, N=30, kappa=0.2, seeds=4, seed0=5)
    assert a.success and "SeedSequence" in a.conventions["seeds"] and a.options["seed0"] == 5
    sd = point_seeds(5, 4, alpha=0.8, N=30, kappa=0.2, prior="spherical")
    model = replica.gardner.GardnerVolume(prior="spherical", margin=0.2)
    want = np.mean([simulate_capacity(model, 30, [0.8], seed=int(x)).feasible[0] for x in sd])
    assert a.p == want


def test_committee_point_takes_seed0():
    r0 = committee_point(N=50, lr=0.5, t=0.5, seeds=3)
    r1 = committee_point(N=50, lr=0.5, t=0.5, seeds=3, seed0=1)
    assert r0.options["seed0"] == 0 and r1.options["seed0"] == 1
    assert r0.eg_sim != r1.eg_sim
    assert r0.eg_sim == committee_point(N=50, lr=0.5, t=0.5, seeds=3).eg_sim
    with pytest.raises(ValueError, match="seed0"):
        committee_point(N=50, t=0.5, seeds=3, seed0=-1)


def test_sweeps_of_the_kinds_record_error_estimates():
    from lmech.sweep import sweep

    # capacity: p_err is the binomial sem; at alpha = 1 (n = N) Cover's formula gives P = 1 exactly
    # (Cover 1965, IEEE Trans. EC-14, 326: C(N, N) = 2^N), so p = 1, sem = 0, and the Agresti-Coull
    # standard error with k = 6 stands in: p~ = 8/10, sqrt(0.8 * 0.2 / 10)
    cap = sweep("validation.kinds:capacity_point", {"N": [10, 20], "alpha": [1.0, 2.0]}, fixed={"seeds": 6})
    p, sem, p_err = (np.asarray(cap.arrays[k], dtype=float) for k in ("p", "sem", "p_err"))
    assert np.all(p[:, 0] == 1.0) and np.allclose(p_err[:, 0], math.sqrt(0.8 * 0.2 / 10))
    interior = (p > 0) & (p < 1)
    assert np.array_equal(p_err[interior], sem[interior])
    assert cap.error_estimate["p"] == pytest.approx(np.max(p_err))
    # committee: eg_sim_err is the standard error over seeds, eg_ode_err the ODE solver's estimate
    com = sweep("validation.kinds:committee_point", {"N": [50, 80]}, fixed={"t": 0.5, "seeds": 3})
    assert np.array_equal(com.arrays["eg_sim_err"], com.arrays["eg_sem"])
    assert np.all(np.isfinite(com.arrays["eg_ode_err"]))
    assert com.error_estimate["eg_sim"] == pytest.approx(np.max(com.arrays["eg_sem"]))

"""Tests of the time-doubling integrator dmft.solve(method="doubling") (dmft/doubling.py)."""

import math
from pathlib import Path

import numpy as np
import pytest

import dmft
import lmech
from dmft.doubling import doubling_grid


P2_T05 = dmft.SphericalPSpin(p=2, T=0.5)
P3_T05 = dmft.SphericalPSpin(p=3, T=0.5)
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def uniform_e50():
    """e(50) of p=3, T=0.5 from the uniform grid, Richardson-extrapolated from dt = 0.1, 0.05."""
    ea = dmft.solve(P3_T05, 50.0, dt=0.1, method="uniform").energy
    eb = dmft.solve(P3_T05, 50.0, dt=0.05, method="uniform").energy
    return (4 * eb - ea) / 3, abs(eb - ea) / 3


def test_grid_lands_on_t_max():
    for t_max, N, dt0 in ((50.0, 128, 0.05), (1e4, 256, 0.05), (3.0, 64, 0.05), (7.3, 16, 0.1)):
        K, m, h0 = doubling_grid(t_max, N, dt0)
        assert N // 2 < m <= N and h0 <= dt0 * (1 + 1e-12)
        assert m * h0 * 2 ** K == pytest.approx(t_max, rel=1e-13)
    res = dmft.solve(P3_T05, 50.0, method="doubling", n_window=64, estimate=False)
    # without an estimate the run is not verified: nan estimates and success False
    assert not res.success and "not verified" in res.message
    assert res.t[-1] == pytest.approx(50.0)
    assert set(res.error_estimate) == {"energy", "mu"}
    assert all(np.isnan(v) for v in res.error_estimate.values())
    assert res.t_all[-1] == pytest.approx(50.0) and np.all(np.diff(res.t_all) > 0)
    assert len(res.t_all) == len(res.e) == len(res.mu) == res.n_rows
    assert res.C.shape == (len(res.t), len(res.t)) and np.allclose(np.diag(res.C), 1.0)


def test_before_doubling_second_order_against_exact_p2():
    # no coarsening (t_max = m dt0 with m = N): the first half-window comes from the uniform
    # start, the second half (t in (2.5, 5]) from the implicit BDF2 rows of the doubling
    # scheme, both second order in h (BDF2; parabolic interval averages, eq. D4).  Error of
    # e(5) against the exact 2-spin solution (Cugliandolo & Dean 1995, dmft.pspin2_exact)
    hs = np.array([0.05, 0.025, 0.0125])
    exact = dmft.pspin2_exact(0.5, [5.0]).energy[0]
    errs = []
    for h in hs:
        n = int(round(5.0 / h))
        res = dmft.solve(P2_T05, 5.0, method="doubling", n_window=n, dt0=h, estimate=False)
        assert res.n_doublings == 0 and res.h_final == pytest.approx(h)
        assert res.n_rows - (n // 2 + 1) >= n // 2 - 1  # half the rows are BDF2 rows
        errs.append(abs(res.energy - exact))
    order = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert order > 1.8, (errs, order)  # declared order 2 (at least)


def test_p2_against_exact_within_estimate():
    # across three doublings (h: 0.05 -> 0.4) the final energy and mu are within the
    # solver's own error estimate of the exact values (dmft.pspin2_exact)
    res = dmft.solve(P2_T05, 100.0, method="doubling", rtol=1e-3)
    ex = dmft.pspin2_exact(0.5, [100.0])
    assert res.n_doublings == 3
    assert abs(res.energy - ex.energy[0]) <= res.error_estimate["energy"]
    assert abs(res.mu_final - ex.mu[0]) <= res.error_estimate["mu"]
    # success says whether the estimates are within rtol (the run is the same)
    assert res.success == (res.error_estimate["energy"] <= 1e-3 and
                           res.error_estimate["mu"] <= 1e-3 * max(1, abs(res.mu_final)))
    tight = dmft.solve(P2_T05, 100.0, method="doubling", rtol=1e-6)
    assert not tight.success and "rtol" in tight.message and tight.energy == res.energy


def test_estimate_sees_the_initial_step():
    # a coarse initial step (dt0 = 0.5; the uniform start and first levels run at it): halving
    # dt0 moves e(100) by no more than the estimate of the coarse run, which includes the
    # change of its smallest window's run under dt0/2, and the exact value (Cugliandolo &
    # Dean 1995, dmft.pspin2_exact) is within it
    exact = dmft.pspin2_exact(0.5, [100.0]).energy[0]
    for dt0 in (1.0, 0.5):
        coarse = dmft.solve(P2_T05, 100.0, method="doubling", n_window=128, dt0=dt0)
        fine = dmft.solve(P2_T05, 100.0, method="doubling", n_window=128, dt0=dt0 / 2,
                          estimate=False)
        est = coarse.error_estimate["energy"]
        assert abs(coarse.energy - fine.energy) <= est
        assert abs(coarse.energy - exact) <= est
        assert coarse.error_dt0_energy > 0.0
        assert est == pytest.approx(coarse.error_window_energy + coarse.error_dt0_energy)


def test_energy_below_its_asymptote_is_not_success():
    # p = 3, T = 0.3 < T_d: the energy approaches the asymptotic aging energy e_inf from above
    # (Cugliandolo & Kurchan, PRL 71, 173 (1993)).  A window of 128 points crosses it near t
    # = 6e4 (a discretisation error that a larger window removes: N = 512 stays above it to t
    # = 1e6), so e(1e5) is off by at least e_inf - e: not success, and any finite estimate is
    # at least that
    m = dmft.SphericalPSpin(p=3, T=0.3)
    e_inf = m.aging_energy()
    res = dmft.solve(m, 1e5, method="doubling", n_window=128)
    assert res.energy < e_inf
    assert not res.success and "approaches from above" in res.message
    assert "energy_floor" in res.conventions
    est = res.error_estimate["energy"]
    assert not est < e_inf - res.energy  # nan (no estimate) or at least the distance
    # above T_d the floor is the paramagnetic energy -xi(1)/T, and an estimate below the
    # distance to it is raised: |e - e_exact| >= e_floor - e whenever e < e_floor
    para = dmft.solve(dmft.SphericalPSpin(p=3, T=0.8), 100.0, method="doubling", n_window=512)
    assert para.error_estimate["energy"] >= -0.625 - para.energy


@pytest.mark.slow
def test_low_temperature_long_run_converges_from_above():
    # the same at t = 1e6: e(1e6) for N = 128, 256, 512 is -1.00230, -0.999433 and -0.999367
    # (e_inf = -0.999386): the crossing is a discretisation error that vanishes as N grows
    m = dmft.SphericalPSpin(p=3, T=0.3)
    e_inf = m.aging_energy()
    runs = [dmft.solve(m, 1e6, method="doubling", n_window=N, estimate=False) for N in (256, 512)]
    assert runs[0].energy < e_inf < runs[1].energy
    assert np.all(runs[1].e[runs[1].t_all > 100.0] > e_inf)


def test_window_refinement_first_order_at_fixed_n_copy():
    # at fixed n_copy the copies next to the diagonal (eq. D11a) are last solved at lags
    # n_copy h ~ n_copy t / N: first order in 1/N (declared), against the exact solution
    exact = dmft.pspin2_exact(0.5, [100.0]).energy[0]
    Ns = np.array([64, 128, 256])
    errs = [abs(dmft.solve(P2_T05, 100.0, method="doubling", n_window=N, n_copy=2,
                           estimate=False).energy - exact) for N in Ns]
    order = -np.polyfit(np.log(Ns), np.log(errs), 1)[0]
    assert order > 0.75, (errs, order)


def test_across_doublings_matches_uniform(uniform_e50):
    # three doublings (h: 0.05 -> 0.4) against the extrapolated uniform e(50)
    # independent computation: the uniform grid, Richardson-extrapolated (its remainder is
    # bounded by the Richardson correction |e(dt/2) - e(dt)|/3 itself)
    e_rich, bound = uniform_e50
    res = dmft.solve(P3_T05, 50.0, method="doubling", n_window=256, dt0=0.05)
    assert res.n_doublings >= 2
    assert abs(res.energy - e_rich) <= res.error_estimate["energy"] + bound


def test_p2_zero_temperature_long_times():
    # Cugliandolo-Dean closed form up to t = 1e3 (the uniform grid would need 2e4 steps);
    # T = 0 uses the plain form (D9)
    res = dmft.solve(dmft.SphericalPSpin(p=2, T=0.0), 1000.0, method="doubling", n_window=256)
    assert res.options["fdt_split"] is False
    ex = dmft.pspin2_exact(0.0, res.t, correlation=True)
    assert abs(res.energy - ex.energy[-1]) <= res.error_estimate["energy"]
    assert abs(res.mu_final - ex.mu[-1]) <= res.error_estimate["mu"]
    # C on the final window converges with the window (no estimate is returned for C)
    err = np.max(np.abs(res.C - ex.C))
    small = dmft.solve(dmft.SphericalPSpin(p=2, T=0.0), 1000.0, method="doubling", n_window=128,
                       estimate=False)
    assert err < np.max(np.abs(small.C - dmft.pspin2_exact(0.0, small.t, correlation=True).C))


def test_p3_above_td_equilibrates_within_estimate():
    # T = 0.8 > T_d: at t = 400 the system is in equilibrium (paramagnet), e = -xi(1)/T
    # = -0.625 (Cugliandolo & Kurchan, PRL 71, 173 (1993)) to exponentially small terms
    m = dmft.SphericalPSpin(p=3, T=0.8)
    res = dmft.solve(m, 400.0, method="doubling")
    assert abs(res.energy + 0.625) <= res.error_estimate["energy"]
    # at t = 100 too (the two-level estimate of before, 5.4e-6, was below the error 5.9e-6)
    res = dmft.solve(m, 100.0, method="doubling")
    assert res.success and abs(res.energy + 0.625) <= res.error_estimate["energy"]


def test_aging_fluctuation_dissipation_relation_follows_cugliandolo_kurchan():
    # Below T_d the asymptotic solution (Cugliandolo & Kurchan, PRL 71, 173 (1993)) has FDT
    # for C > q, T chi = 1 - C, and a second straight line of slope -x for C < q:
    #     T chi(t, t') = (1 - q) + x (q - C(t, t')),   q = 0.63882, x = 0.56538 at T = 0.5.
    # It is a t -> infinity limit: on the last row (t' from 0 to t) the distance to it must
    # shrink from t = 1e2 to t = 1e3, for T chi at C = q, for the line over 0.1 < C < 0.5 and
    # for the interval-by-interval slope (median over the same range)
    q, x = dmft.aging_plateau(0.5), dmft.aging_fdr(0.5)
    dev = []
    for t in (1e2, 1e3):
        res = dmft.solve(P3_T05, t, method="doubling", estimate=False)
        assert res.message.startswith("integrated to t_max")
        C, Tchi = res.C[-1], 0.5 * res.chi[-1]
        assert np.all(np.diff(C) > 0)
        sel = (C > 0.1) & (C < 0.5)
        assert sel.sum() > 50
        X = res.fdt_ratio_last
        dev.append([abs(np.interp(q, C, Tchi) - (1.0 - q)),
                    np.max(np.abs(Tchi[sel] - ((1.0 - q) + x * (q - C[sel])))),
                    abs(np.median(X[:-1][sel[:-1]]) - x)])
        # next to the diagonal (C > q) the dynamics is in quasi-equilibrium: the ratio on
        # the last two intervals is the FDT value 1, not the aging value x
        assert np.all(np.abs(X[-3:-1] - 1.0) < np.abs(X[-3:-1] - x))
    assert np.all(np.array(dev[1]) < np.array(dev[0])), dev


@pytest.mark.slow
def test_p2_against_exact_to_1e4():
    # the late-time drift (energy rising between t ~ 400 and 1e3, 1e-3 off at 1e4 with
    # the old memory quadrature) is gone: against the exact solution over the whole
    # history after the start, and the final values within the error estimate
    res = dmft.solve(P2_T05, 1e4, method="doubling", n_window=256)
    late = res.t_all > 20.0
    ex = dmft.pspin2_exact(0.5, res.t_all[late])
    err = np.abs(res.e[late] - ex.energy)
    assert abs(res.energy - ex.energy[-1]) <= res.error_estimate["energy"]
    assert abs(res.mu_final - ex.mu[-1]) <= res.error_estimate["mu"]
    # and the history: nowhere worse than the final estimate
    assert np.max(err) <= res.error_estimate["energy"]


@pytest.mark.slow
def test_p3_aging_to_1e4_refinement_within_estimate():
    # refining the window moves e(1e4) by no more than the estimate of the coarser run
    res = dmft.solve(P3_T05, 1e4, method="doubling", n_window=256)
    big = dmft.solve(P3_T05, 1e4, method="doubling", n_window=512, n_copy=2)
    assert abs(res.energy - big.energy) <= res.error_estimate["energy"]
    # above the asymptotic aging energy (approached from above, Cugliandolo & Kurchan 1993)
    assert res.energy > P3_T05.aging_energy() and big.energy > P3_T05.aging_energy()
    # plateau: C(t_w + tau, t_w) for tau << t_w lies above q (the weak-ergodicity-breaking
    # scenario of Cugliandolo & Kurchan: C decays to q from above on the fast scale)
    n = len(res.t) - 1
    row = res.C[n, n - 5:n - 1]
    assert np.all(np.diff(row) > 0) and np.all(row > P3_T05.aging_plateau())


def test_p3_moderate_times_refinement_within_estimate():
    res = dmft.solve(P3_T05, 1000.0, method="doubling", n_window=128)
    finer = dmft.solve(P3_T05, 1000.0, method="doubling", n_window=256, estimate=False)
    assert abs(finer.energy - res.energy) <= res.error_estimate["energy"]
    assert res.energy > P3_T05.aging_energy()


def test_result_round_trips_through_archive(tmp_path):
    res = dmft.solve(P3_T05, 20.0, method="doubling", n_window=32)
    path = tmp_path / "d.h5"
    lmech.archive.save(res, path, "run")
    back = lmech.archive.load(path, "run")
    assert back.meta["method"] == "doubling"
    assert np.array_equal(back.C, res.C) and np.array_equal(back.e, res.e)
    assert back.options == res.options and back.conventions["grid"] == res.conventions["grid"]


@pytest.mark.parametrize("opts,name", [({"n_window": 65}, "n_window"), ({"n_window": 8}, "n_window"),
                                        ({"dt0": 0.0}, "dt0"), ({"dt0": -1.0}, "dt0"),
                                        ({"tol": 0.0}, "tol"), ({"max_corrector": 0}, "max_corrector"),
                                        ({"n_copy": 1}, "n_copy"),
                                        ({"n_window": 256, "n_copy": 5}, "n_copy"),
                                        ({"checkpoint": 12345}, "checkpoint"),
                                        ({"rtol": 0.0}, "rtol"), ({"estimate": "yes"}, "estimate"),
                                        ({"n_window": 30}, "n_window")])
def test_invalid_options(opts, name):
    with pytest.raises(ValueError, match=name):
        dmft.solve(P3_T05, 10.0, method="doubling", **opts)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="t_max"):
        dmft.solve(P3_T05, 0.0, method="doubling")
    with pytest.raises(ValueError, match="SphericalPSpin"):
        dmft.solve(dmft.RandomRNN(g=1.5), 10.0, method="doubling")
    with pytest.raises(TypeError, match="dt"):
        dmft.solve(P3_T05, 10.0, method="doubling", dt=0.1)


def test_pspin_kind_doubling_point_and_cli(tmp_path):
    from lmech.cli import main

    # the kind's tol = 0, max_corrector = 0 mean the doubling solver's defaults
    pt = dmft.kinds.pspin_point(p=3, T=0.5, t_max=50.0, method="doubling", n_window=64)
    direct = dmft.solve(P3_T05, 50.0, method="doubling", n_window=64)
    assert pt.success == direct.success and pt.energy == direct.energy
    assert pt.energy_reference == pytest.approx(P3_T05.aging_energy())
    assert "C" not in pt.arrays and "e" in pt.arrays
    cfg = tmp_path / "aging.toml"
    text = (EXAMPLES_DIR / "dmft_pspin_aging.toml").read_text()
    text = text.replace("t_max = 1000.0", "t_max = 20.0").replace("n_window = 256", "n_window = 32")
    cfg.write_text(text)
    out = tmp_path / "aging.h5"
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 0
    sw = lmech.archive.load(out, "sweep")
    assert sw.shape == (4,)
    e = sw.arrays["energy"]
    assert np.all(np.isfinite(e)) and np.all(e > sw.arrays["energy_reference"])


def test_mixture_against_uniform():
    # mixed 3+4-spin, xi = (q^3 + 0.3 q^4)/2, through the same coefficient array
    m = dmft.SphericalPSpin(p=3, T=0.6, mixture=(0.0, 0.0, 0.3))
    ea = dmft.solve(m, 20.0, dt=0.1, method="uniform").energy
    eb = dmft.solve(m, 20.0, dt=0.05, method="uniform").energy
    rich = (4 * eb - ea) / 3
    res = dmft.solve(m, 20.0, method="doubling", n_window=256)
    assert res.n_doublings >= 1
    # Richardson's remainder bounded by its correction |eb - ea|/3
    assert abs(res.energy - rich) <= res.error_estimate["energy"] + abs(eb - ea) / 3


def test_convention_converter_maps_the_discrete_scheme():
    # full convention at T_f on t' = t/sqrt2 is the half convention at T_f/sqrt2
    # on t (dmft.pspin.convert); the grids map onto each other, so the doubling
    # runs agree to the corrector tolerance
    full = dmft.SphericalPSpin(p=3, T=0.9, convention="full")
    half = full.converted("half")
    rh = dmft.solve(half, 100.0, method="doubling", n_window=64, dt0=0.05)
    rf = dmft.solve(full, 100.0 / math.sqrt(2), method="doubling", n_window=64,
                    dt0=0.05 / math.sqrt(2))
    assert rf.n_doublings == rh.n_doublings >= 3
    conv = dmft.pspin.convert(source="half", target="full", energy=rh.energy, t=rh.t[-1])
    assert conv["t"] == pytest.approx(rf.t[-1], rel=1e-12)
    assert rf.energy == pytest.approx(conv["energy"], abs=1e-9)
    assert np.max(np.abs(rf.C - rh.C)) < 1e-8


def test_p2_low_temperature_plain_form():
    # p = 2, T = 0.05: "auto" picks the plain form (D9); against the exact solution
    m = dmft.SphericalPSpin(p=2, T=0.05)
    res = dmft.solve(m, 1000.0, method="doubling", n_window=256)
    assert res.options["fdt_split"] is False
    ex = dmft.pspin2_exact(0.05, [1000.0])
    assert abs(res.energy - ex.energy[0]) <= res.error_estimate["energy"]
    assert np.max(np.abs(res.C)) <= 1.0 + 1e-9


def test_unstable_split_is_reported_not_returned():
    # the split (D3) divides by T: at T = 0.01 it blows up, and the solver says so
    res = dmft.solve(dmft.SphericalPSpin(p=2, T=0.01), 1000.0, method="doubling",
                     n_window=128, fdt_split=True)
    assert not res.success and "|C(t,t')| > 1" in res.message
    assert res.t_all[-1] < 1000.0
    with pytest.raises(ValueError, match="fdt_split"):
        dmft.solve(dmft.SphericalPSpin(p=2, T=0.0), 10.0, method="doubling", fdt_split=True)
    with pytest.raises(ValueError, match="fdt_split"):
        dmft.solve(P3_T05, 10.0, method="doubling", fdt_split="yes")


def test_checkpoint_and_resume_reproduce_the_run(tmp_path):
    from dmft.doubling import CHECKPOINT_NAME, ArchiveCheckpoint

    kw = dict(method="doubling", n_window=32, dt0=0.05, estimate=False)
    full = dmft.solve(P3_T05, 400.0, **kw)
    assert full.message.startswith("integrated to t_max") and full.n_doublings >= 5
    # the checkpoint a run leaves behind is its state after the last doubling, with the
    # rows of the final window still to compute: resuming from it must reproduce the run
    # (public behaviour only: the checkpoint is what the run handed to its backend, here
    # the default one, an HDF5 archive)
    store = ArchiveCheckpoint(tmp_path / "ck.h5")
    dmft.solve(P3_T05, 400.0, checkpoint=store, **kw)
    ck = store.load(CHECKPOINT_NAME)
    assert ck.meta["checkpoint_level"] == full.n_doublings - 1 and not ck.success
    assert ck.status == lmech.Status.INCOMPLETE
    res = dmft.solve(P3_T05, 400.0, resume=ck, checkpoint=store, **kw)
    assert res.message.startswith("integrated to t_max")
    assert np.array_equal(res.C, full.C) and np.array_equal(res.chi, full.chi)
    assert np.array_equal(res.e, full.e) and np.array_equal(res.t_all, full.t_all)
    assert store.load(CHECKPOINT_NAME).meta["checkpoint_level"] == full.n_doublings - 1
    # a path is the default backend on that file
    path = tmp_path / "ck2.h5"
    dmft.solve(P3_T05, 400.0, checkpoint=path, **kw)
    assert np.array_equal(lmech.archive.load(path, CHECKPOINT_NAME).arrays["state_C"],
                          ck.arrays["state_C"])
    # the checkpointed window is really used (not recomputed): perturbing it moves the result
    ck.arrays["state_C"][10, :9] *= 1.001
    ck.arrays["state_C"][:9, 10] *= 1.001
    moved = dmft.solve(P3_T05, 400.0, resume=ck, **kw)
    assert moved.energy != full.energy
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(P3_T05, 800.0, resume=ck, **kw)
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(P3_T05, 400.0, resume=ck, method="doubling", n_window=64, dt0=0.05)
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(P3_T05, 400.0, resume=full, **kw)


def test_checkpoints_go_through_the_injected_backend(tmp_path, monkeypatch):
    # the solver hands every checkpoint to its backend and does no file I/O itself: with a
    # backend that keeps them in memory no file appears, the state after each doubling is
    # saved, in order, and the run resumes from any of them exactly
    from dmft.doubling import CHECKPOINT_NAME

    class Recorder:
        def __init__(self):
            self.saved = []

        def save(self, name, result):
            self.saved.append((name, result))

        def load(self, name):
            return next(r for n, r in reversed(self.saved) if n == name)

    monkeypatch.chdir(tmp_path)
    kw = dict(method="doubling", n_window=32, dt0=0.05, estimate=False)
    full = dmft.solve(P3_T05, 400.0, **kw)
    rec = Recorder()
    again = dmft.solve(P3_T05, 400.0, checkpoint=rec, **kw)
    assert list(tmp_path.iterdir()) == []
    assert np.array_equal(again.e, full.e)
    assert [n for n, _ in rec.saved] == [CHECKPOINT_NAME] * full.n_doublings
    assert [r.meta["checkpoint_level"] for _, r in rec.saved] == list(range(full.n_doublings))
    res = dmft.solve(P3_T05, 400.0, resume=rec.saved[1][1], **kw)
    assert np.array_equal(res.C, full.C) and np.array_equal(res.e, full.e)


def test_auto_split_choice_and_p2_half_critical_temperature():
    # the 2-spin at T = 0.5 = T_c/2 takes the split (threshold 0.1 sqrt(xi''(1)) = 0.1);
    # e(1e3) against the exact solution within the estimate
    res = dmft.solve(P2_T05, 1000.0, method="doubling", n_window=128)
    assert res.options["fdt_split"] is True
    assert abs(res.energy - dmft.pspin2_exact(0.5, [1000.0]).energy[0]) <= \
        res.error_estimate["energy"]
    assert dmft.solve(dmft.SphericalPSpin(p=2, T=0.1), 5.0, method="doubling", n_window=64,
                      estimate=False).options["fdt_split"] is True
    assert dmft.solve(dmft.SphericalPSpin(p=2, T=0.09), 5.0, method="doubling", n_window=64,
                      estimate=False).options["fdt_split"] is False
    # models with a term of degree >= 3 switch at T = 0.06 sqrt(xi''(1)) (0.1039 for p = 3)
    assert dmft.solve(dmft.SphericalPSpin(p=3, T=0.11), 5.0, method="doubling",
                      n_window=64, estimate=False).options["fdt_split"] is True
    assert dmft.solve(dmft.SphericalPSpin(p=3, T=0.1), 5.0, method="doubling",
                      n_window=64, estimate=False).options["fdt_split"] is False
    # 5-spin at T = 0.2 takes the split; it approaches e_inf from above (CK 1993)
    m5 = dmft.SphericalPSpin(p=5, T=0.2)
    r5 = dmft.solve(m5, 1000.0, method="doubling", n_window=128, estimate=False)
    assert r5.options["fdt_split"] is True and r5.message.startswith("integrated to t_max")
    assert r5.energy > m5.aging_energy()

"""Sweeps: grids, failures, resume after SIGKILL, and equality across executors."""

import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import lmech
from lmech import archive
from lmech.result import Result
from lmech.sweep import SweepResult, sweep

POINT = "lmech.testing:erf_overlap"
GRID = {"a": [0.5, 1.0, 2.0], "c": list(np.linspace(-0.9, 0.9, 7))}
FIXED = {"n": 30, "tol": 1e-9, "fail_above": 0.8}


def same_content(a: SweepResult, b: SweepResult):
    """Every array bit for bit, except ``seconds`` (wall time differs run to run)."""
    assert set(a.arrays) == set(b.arrays)
    for k in a.arrays:
        if k == "seconds":
            continue
        x, y = a.arrays[k], b.arrays[k]
        assert x.dtype == y.dtype and x.shape == y.shape, k
        if x.dtype.kind == "U":
            assert (x == y).all(), k
        else:
            assert x.tobytes() == y.tobytes(), k
    for key in ("success", "status", "message", "n_iter", "scalars"):
        assert getattr(a, key) == getattr(b, key), key
    assert {k: v for k, v in a.meta.items()} == {k: v for k, v in b.meta.items()}


def test_grid_is_a_cartesian_product_in_c_order():
    res = sweep(POINT, GRID, fixed=FIXED)
    assert res.shape == (3, 7)
    pts = res.points()
    assert pts[1] == {**FIXED, "a": 0.5, "c": GRID["c"][1]}
    exact = res.arrays["exact"]
    for i, a in enumerate(GRID["a"]):
        for j, c in enumerate(GRID["c"]):
            if c <= 0.8:
                assert exact[i, j] == 2 / math.pi * math.asin(2 * a * a * c / (1 + 2 * a * a))


def test_failures_and_non_convergence_are_recorded_not_raised():
    res = sweep(POINT, GRID, fixed=FIXED)
    failed = res.arrays["failed"]
    assert failed[:, -1].all() and not failed[:, :-1].any()  # c = 0.9 > fail_above raises
    assert all(m.startswith("RuntimeError: c = 0.9") for m in res.arrays["message"][:, -1])
    assert np.isnan(res.arrays["value"][:, -1]).all()
    # n = 30 nodes are not enough for tol = 1e-9 at the steepest slope: not converged, kept
    unconv = res.arrays["done"] & ~res.arrays["converged"] & ~failed
    assert unconv.any()
    assert np.all(res.arrays["error"][unconv] > 1e-9)
    assert np.all(res.arrays["error"][res.arrays["converged"]] <= 1e-9)
    assert np.all(res.arrays["status"][unconv] == lmech.Status.TOLERANCE)
    assert np.all(res.arrays["status"][res.arrays["converged"]] == lmech.Status.CONVERGED)
    assert res.n_failed == 3 and res.n_unconverged == int(unconv.sum())
    # each point's error estimate becomes the grid observable value_err
    done = res.arrays["done"] & ~failed
    np.testing.assert_array_equal(res.arrays["value_err"][done], res.arrays["error"][done])
    assert res.error_estimate["value"] == res.arrays["error"][res.arrays["converged"]].max()
    assert not res.success and res.status == lmech.Status.INCOMPLETE
    assert "3 failed with an exception" in res.message


def _half_estimated(x):
    """A point whose error estimate is known only for x >= 0."""
    return lmech.Result(success=True, scalars={"y": x * x},
                        error_estimate={"y": 0.0 if x >= 0 else math.nan})


def test_a_point_without_an_estimate_makes_the_sweep_estimate_nan():
    res = sweep(_half_estimated, {"x": [0.0, 1.0]})
    assert res.error_estimate["y"] == 0.0
    res = sweep(_half_estimated, {"x": [-1.0, 1.0]})
    assert math.isnan(res.error_estimate["y"])


def test_explicit_points_and_dict_returning_functions():
    def f(x, y, scale=1.0):
        return {"s": scale * (x + y), "p": x * y}

    res = sweep(f, points=[{"x": 1.0, "y": 2.0}, {"x": 3.0, "y": -1.0}], fixed={"scale": 2.0})
    assert res.axes == ["point"]
    assert np.array_equal(res.arrays["s"], [6.0, 4.0])
    assert np.array_equal(res.arrays["x"], [1.0, 3.0])
    assert res.success


def test_keep_arrays_stores_fixed_shape_arrays_on_the_grid():
    def f(k):
        return Result(success=True, arrays={"curve": np.arange(4.0) * k}, scalars={"k2": k * k})

    res = sweep(f, {"k": [1.0, 2.0]}, keep_arrays=["curve"])
    assert res.arrays["curve"].shape == (2, 4)
    assert np.array_equal(res.arrays["curve"][1], np.arange(4.0) * 2)


def test_resume_skips_finished_points(tmp_path):
    calls = []

    def f(x):
        calls.append(x)
        if len(calls) == 3:
            raise KeyboardInterrupt  # an interruption part-way
        return {"y": x * x}

    path = tmp_path / "s.h5"
    with pytest.raises(KeyboardInterrupt):
        sweep(f, {"x": [1.0, 2.0, 3.0, 4.0]}, archive=path)
    part = archive.load(path, "sweep")
    assert part.arrays["done"].tolist() == [True, True, False, False]
    assert part.status == lmech.Status.INCOMPLETE
    calls.clear()

    def g(x):
        calls.append(x)
        return {"y": x * x}

    g.__module__, g.__qualname__ = f.__module__, f.__qualname__  # same function identity
    res = sweep(g, {"x": [1.0, 2.0, 3.0, 4.0]}, archive=path, resume=True)
    assert calls == [3.0, 4.0]
    assert res.success and np.array_equal(res.arrays["y"], [1.0, 4.0, 9.0, 16.0])
    with pytest.raises(ValueError, match="pass resume=True"):
        sweep(g, {"x": [1.0, 2.0, 3.0, 4.0]}, archive=path)
    with pytest.raises(ValueError, match="axes values differ"):
        sweep(g, {"x": [1.0, 2.0, 3.0, 5.0]}, archive=path, resume=True)
    with pytest.raises(ValueError, match="fixed differ"):
        sweep(g, {"x": [1.0, 2.0, 3.0, 4.0]}, fixed={"k": 1}, archive=path, resume=True)
    with pytest.raises(ValueError, match="function differ"):
        sweep(POINT, {"x": [1.0, 2.0, 3.0, 4.0]}, archive=path, resume=True)


def test_retry_failed_reruns_only_the_failures(tmp_path):
    path = tmp_path / "s.h5"
    first = sweep(POINT, GRID, fixed=FIXED, archive=path)
    assert first.n_failed == 3
    again = sweep(POINT, GRID, fixed=FIXED, archive=path, resume=True)
    same_content(first, again)  # nothing recomputed: failures are finished points


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="exactly one of grid"):
        sweep(POINT)
    with pytest.raises(ValueError, match="grid axis 'a'"):
        sweep(POINT, {"a": []})
    with pytest.raises(ValueError, match="also in fixed"):
        sweep(POINT, {"a": [1.0]}, fixed={"a": 2.0})
    with pytest.raises(ValueError, match="same parameter names"):
        sweep(POINT, points=[{"a": 1.0}, {"c": 2.0}])


def test_process_pool_gives_the_same_archive_as_serial(tmp_path):
    serial = sweep(POINT, GRID, fixed=FIXED, archive=tmp_path / "serial.h5")
    with ProcessPoolExecutor(2) as ex:
        pooled = sweep(POINT, GRID, fixed=FIXED, archive=tmp_path / "pool.h5", executor=ex,
                       max_in_flight=3)
    same_content(serial, pooled)
    same_content(archive.load(tmp_path / "serial.h5", "sweep"), archive.load(tmp_path / "pool.h5", "sweep"))


def test_dask_gives_the_same_archive_as_serial(tmp_path, dask_scheduler):
    from distributed import Client

    serial = sweep(POINT, GRID, fixed=FIXED, archive=tmp_path / "serial.h5")
    with Client(dask_scheduler) as client:
        distributed_res = sweep(POINT, GRID, fixed=FIXED, archive=tmp_path / "dask.h5",
                                executor=client.get_executor())
    same_content(serial, distributed_res)
    same_content(archive.load(tmp_path / "serial.h5", "sweep"), archive.load(tmp_path / "dask.h5", "sweep"))


# 39 points x 0.08 s: the uninterrupted run takes over 3 s after its imports, so every kill
# moment drawn in [0.8, 2.5] s falls inside the first run (at 0.03 s per point an idle
# machine could finish before a late kill, and the test then had nothing to resume)
KILL_FIXED = {"n": 30, "tol": 1e-9, "fail_above": 0.8, "sleep": 0.08}
KILL_SCRIPT = textwrap.dedent(f"""
    import sys
    import numpy as np
    import lmech
    lmech.sweep("lmech.testing:erf_overlap", {{"a": [0.5, 1.0, 2.0], "c": list(np.linspace(-0.9, 0.9, 13))}},
                fixed={KILL_FIXED!r},
                archive=sys.argv[1], resume=True, checkpoint_seconds=0.0)
""")
KILL_GRID = {"a": [0.5, 1.0, 2.0], "c": list(np.linspace(-0.9, 0.9, 13))}


# the kill moments are pseudo-random but reproducible: one seed in the default suite, more when slow
KILL_SEEDS = [20261205, pytest.param(7, marks=pytest.mark.slow), pytest.param(314159, marks=pytest.mark.slow)]


@pytest.mark.parametrize("seed", KILL_SEEDS)
def test_sigkill_at_a_random_moment_then_resume_equals_an_uninterrupted_run(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "killed.h5"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    kills = 0
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(path)])
        time.sleep(rng.uniform(0.8, 2.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        if path.exists():
            part = archive.load(path, "sweep")  # readable after every kill
            assert isinstance(part, SweepResult), f"seed {seed}"
    assert kills >= 1, f"seed {seed}: the run finished before any kill; slow it down"
    resumed = sweep(POINT, KILL_GRID, fixed=KILL_FIXED, archive=path, resume=True)
    reference = sweep(POINT, KILL_GRID, fixed=KILL_FIXED, archive=tmp_path / "ref.h5")
    same_content(resumed, reference)
    same_content(archive.load(path, "sweep"), archive.load(tmp_path / "ref.h5", "sweep"))
    assert not list(tmp_path.glob(".killed.h5.*.tmp"))  # stale copies of killed writes cleaned


def test_progress_bar_is_off_by_default(capsys):
    sweep(POINT, {"a": [1.0]}, fixed=FIXED)
    assert capsys.readouterr().err == ""
    sweep(POINT, {"a": [1.0]}, fixed=FIXED, progress=True)
    assert "1/1" in capsys.readouterr().err


def test_progress_redirected_to_a_file_is_sparse_plain_lines(capsys):
    # not a terminal (pytest captures stderr): no carriage returns, a header line and one line
    # per 10 % of the points, each with the count, the percentage, the elapsed time and an ETA
    sweep(POINT, {"a": np.linspace(0.5, 1.5, 20).tolist()}, fixed=FIXED, progress=True, title="t")
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.strip().splitlines()
    assert lines[0] == "t: 20 of 20 points to compute"
    assert [ln.split(": ", 1)[1].split(" points")[0] for ln in lines[1:]] == [f"{k}/20" for k in range(2, 21, 2)]
    assert all("ETA" in ln and "elapsed" in ln for ln in lines[1:])
    assert lines[-1].startswith("t: 20/20 points (100 %)")


def test_lmech_sweep_runs_a_point_and_matches_the_closed_form():
    # through the top-level name: E[erf(a u) erf(a v)] = (2/pi) asin(2 a^2 c / (1 + 2 a^2))
    # (Saad & Solla, PRE 52, 4225 (1995), eq. A3 with unit variances); a = 1, c = 0.5 gives (2/pi) asin(1/3)
    res = lmech.sweep(POINT, {"a": [1.0], "c": [0.5]}, fixed={"n": 40, "tol": 1e-12})
    assert res.arrays["converged"].all()
    assert res.arrays["value"][0, 0] == pytest.approx(2 / math.pi * math.asin(1 / 3), abs=1e-12)


def test_sweep_archives_open_in_xarray_with_named_dimensions(tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    path = tmp_path / "s.h5"
    res = sweep(POINT, GRID, fixed=FIXED, archive=path)
    with xr.open_dataset(path, group="sweep", engine="h5netcdf") as ds:
        assert ds["value"].dims == ("a", "c")
        assert np.array_equal(ds["a"].values, GRID["a"])
        np.testing.assert_array_equal(ds["value"].values, res.arrays["value"])
        assert ds["done"].dtype == bool and bool(ds["done"].all())


GARDNER = "replica.kinds:gardner_point"


def test_each_point_stores_its_model_and_a_reload_rebuilds_it_exactly(tmp_path):
    import replica

    path = tmp_path / "g.h5"
    grid = {"alpha": [0.5, 1.0, 1.5], "margin": [0.0, 0.5]}
    res = sweep(GARDNER, grid, archive=path)
    # alpha is the sample ratio, not a model field: one distinct model per margin
    assert res.arrays["model_index"].tolist() == [[0, 1]] * 3
    assert len(res.arrays["model_specs"]) == 2
    back = archive.load(path, "sweep")
    for r in (res, back):
        for i, alpha in enumerate(grid["alpha"]):
            for j, margin in enumerate(grid["margin"]):
                want = replica.GardnerVolume(prior="spherical", margin=margin)
                assert r.model_at((i, j)) == want
                assert r.model_at(2 * i + j) == want  # flat C-order index
                # the stored model is the one the solver used: solving it again gives the archived numbers
                assert replica.solve(r.model_at((i, j)), alpha).q == r.arrays["q"][i, j]
    with pytest.raises(IndexError, match="index"):
        res.model_at(6)


def test_points_without_a_model_store_none():
    res = sweep(GARDNER, points=[{"alpha": 0.5}, {"alpha": -1.0}])  # the second raises ValueError
    assert res.arrays["failed"].tolist() == [False, True]
    assert res.model_at(0) is not None and res.model_at(1) is None
    plain = sweep(POINT, {"c": [0.1, 0.2]}, fixed={"a": 1.0})  # a Result without a model
    assert plain.arrays["model_index"].tolist() == [-1, -1] and plain.model_at(0) is None


def test_models_survive_resume_and_process_pools(tmp_path):
    grid = {"alpha": [0.5, 1.0], "margin": [0.0, 0.5]}
    serial = sweep(GARDNER, grid, archive=tmp_path / "a.h5")
    with ProcessPoolExecutor(2) as ex:
        pooled = sweep(GARDNER, grid, archive=tmp_path / "b.h5", executor=ex)
    same_content(serial, pooled)
    again = sweep(GARDNER, grid, archive=tmp_path / "a.h5", resume=True)  # nothing recomputed
    same_content(serial, again)
    assert again.model_at((1, 1)) == serial.model_at((1, 1))


def test_a_format_1_1_sweep_loads_and_resumes_into_the_current_layout(tmp_path):
    import shutil

    import h5py

    old = tmp_path / "old.h5"
    shutil.copyfile(os.path.join(os.path.dirname(__file__), "reference", "sweep_lmech_erf_overlap.h5"), old)
    with h5py.File(old, "r") as f:
        assert f.attrs["format_version"] == "1.1"
    stored = archive.load(old, "sweep")
    assert "model_index" not in stored.arrays and stored.model_at(0) is None
    m = stored.meta
    res = sweep(m["function"], {a: stored.arrays[a] for a in m["axes"]}, fixed=m["fixed"], archive=old,
                resume=True, kind=m["sweep_kind"], title=m["title"])
    with h5py.File(old, "r") as f:
        assert f.attrs["format_version"] == archive.FORMAT_VERSION
    for k, v in stored.arrays.items():  # finished points are kept, not recomputed
        assert v.tobytes() == res.arrays[k].tobytes(), k
    assert res.arrays["model_index"].tolist() == [-1, -1, -1]


def test_overwrite_starts_a_new_sweep_in_place_of_the_stored_one(tmp_path):
    path = tmp_path / "s.h5"
    sweep(POINT, {"a": [1.0, 2.0]}, fixed=FIXED, archive=path)
    with pytest.raises(ValueError, match="overwrite=True"):
        sweep(POINT, {"a": [1.0, 2.0]}, fixed=FIXED, archive=path)
    new = sweep(POINT, {"a": [0.5, 1.0, 1.5]}, fixed=FIXED, archive=path, overwrite=True)
    assert new.shape == (3,) and archive.load(path, "sweep").shape == (3,)
    with pytest.raises(ValueError, match="exclude each other"):
        sweep(POINT, {"a": [1.0]}, fixed=FIXED, archive=path, overwrite=True, resume=True)

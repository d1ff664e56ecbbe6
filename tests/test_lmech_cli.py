"""The lmech command line: runs, summaries, figures, and every config error path."""

import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import lmech
from lmech import archive
from lmech.cli import main

GOOD = textwrap.dedent("""
    kind = "lmech.erf_overlap"
    title = "erf overlap"
    [model]
    a = 1.0
    [grid]
    c = {start = -0.5, stop = 0.5, num = 5}
    [options]
    n = 60
""")


def write(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert lmech.__version__ in capsys.readouterr().out


def test_run_show_plot(tmp_path, capsys):
    cfg = write(tmp_path, GOOD)
    out = tmp_path / "out.h5"
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 0
    res = archive.load(out, "sweep")
    assert res.success and res.shape == (5,)
    assert np.allclose(res.arrays["value"], res.arrays["exact"], atol=1e-12, rtol=0)
    with h5py.File(out, "r") as f:
        assert f["provenance"].attrs["config"] == GOOD  # the resolved config text is kept
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "lmech.erf_overlap" in shown and "5/5 points done" in shown and "axis c: 5 values" in shown
    pytest.importorskip("matplotlib")
    png = tmp_path / "fig.png"
    assert main(["plot", str(out), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_with_workers_and_resume(tmp_path, capsys):
    cfg = write(tmp_path, GOOD)
    out = tmp_path / "out.h5"
    assert main(["run", str(cfg), "-o", str(out), "--workers", "2", "--quiet"]) == 0
    first = archive.load(out, "sweep")
    assert main(["run", str(cfg), "-o", str(out), "--resume", "--quiet"]) == 0
    again = archive.load(out, "sweep")
    assert np.array_equal(first.arrays["value"], again.arrays["value"])
    assert np.array_equal(first.arrays["seconds"], again.arrays["seconds"])  # nothing recomputed


def test_run_on_a_dask_scheduler(tmp_path, dask_scheduler):
    cfg = write(tmp_path, GOOD)
    out = tmp_path / "out.h5"
    assert main(["run", str(cfg), "-o", str(out), "--scheduler", dask_scheduler, "--quiet"]) == 0
    assert archive.load(out, "sweep").success


ERRORS = [
    ("unknown top-level key", "bogus = 1\n" + GOOD, "bogus: unknown key"),
    ("unknown model key", GOOD.replace("a = 1.0", "a = 1.0\nb = 2"), "model.b: unknown parameter"),
    ("wrong type", GOOD.replace("a = 1.0", 'a = "one"'), "model.a: expected float"),
    ("out of range", GOOD.replace("a = 1.0", "a = -1.0"), r"model.a: must lie in \[0.0, 100.0\]"),
    ("grid value out of range", GOOD.replace("stop = 0.5", "stop = 1.5"), r"grid.c\[4\]: must lie in"),
    ("unknown option", GOOD.replace("n = 60", "n = 60\nrtol = 1e-3"), "options.rtol: unknown option"),
    ("option wrong type", GOOD.replace("n = 60", "n = 6.5"), "options.n: expected int"),
    ("option out of range", GOOD.replace("n = 60", "n = 0"), r"options.n: must lie in \[1, 300\]"),
    ("missing kind", GOOD.replace('kind = "lmech.erf_overlap"', ""), "kind: missing"),
    ("unknown kind", GOOD.replace("lmech.erf_overlap", "replica.nope"), "kind: unknown kind 'replica.nope'"),
    ("no grid", GOOD.split("[grid]")[0], "grid: missing"),
    ("grid key missing num", GOOD.replace(", num = 5", ""), "grid.c.num: missing"),
    ("unknown grid key", GOOD.replace("num = 5", "num = 5, step = 2"), "grid.c.step: unknown key"),
    ("grid axis also fixed", GOOD.replace("a = 1.0", "a = 1.0\nc = 0.1"), "grid.c: is also fixed"),
    ("bad run key", GOOD + "\n[run]\nworkerz = 2\n", "run.workerz: unknown key"),
    ("run workers type", GOOD + "\n[run]\nworkers = 0\n", r"run.workers: must lie in \[1, inf\]"),
    ("invalid toml", "kind = \n", "config: invalid TOML"),
    ("model not a table", 'kind = "lmech.erf_overlap"\nmodel = 3\n[grid]\nc = [0.1]\n', "model: expected a table"),
    ("inf in a grid", GOOD.replace("c = {start = -0.5, stop = 0.5, num = 5}", "c = [0.1, inf]"),
     r"grid.c\[1\]: must be finite"),
    ("too many points", GOOD.replace("a = 1.0\n", "").replace(
        "c = {start = -0.5, stop = 0.5, num = 5}",
        "a = {start = 0.1, stop = 2.0, num = 1000000}\nc = {start = -0.5, stop = 0.5, num = 1000000}"),
     r"grid: a \(1000000\) x c \(1000000\) = 1,000,000,000,000 points exceed the limit"),
]


@pytest.mark.parametrize("label,text,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_config_errors_exit_2_naming_the_key_without_writing(tmp_path, capsys, label, text, message):
    cfg = write(tmp_path, text)
    out = tmp_path / "out.h5"
    assert main(["run", str(cfg), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    import re

    assert re.search(message, err), err
    assert "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob("*.h5"))


def test_missing_config_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "config: file not found" in capsys.readouterr().err


def test_existing_output_needs_resume(tmp_path, capsys):
    cfg = write(tmp_path, GOOD)
    out = tmp_path / "out.h5"
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 0
    before = out.read_bytes()
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 2
    assert "--output" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["run", str(cfg), "-o", str(tmp_path / "new.h5"), "--resume"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["run", str(cfg), "-o", str(tmp_path / "w.h5"), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_show_and_plot_errors(tmp_path, capsys):
    assert main(["show", str(tmp_path / "none.h5")]) == 2
    assert "archive: file not found" in capsys.readouterr().err
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    assert main(["show", str(foreign)]) == 2
    assert "not an lmech archive" in capsys.readouterr().err
    assert main(["plot", str(foreign)]) == 2
    capsys.readouterr()
    lone = tmp_path / "lone.h5"
    archive.save(lmech.Result(success=True), lone, "r")
    assert main(["plot", str(lone)]) == 2  # a single result with nothing to draw
    assert "holds no 1-D numeric array" in capsys.readouterr().err
    archive.save(lmech.Result(success=True), lone, "r2")
    assert main(["plot", str(lone)]) == 2  # two results: which one?
    assert "--name" in capsys.readouterr().err


def test_console_script_reports_config_errors_without_traceback(tmp_path):
    cfg = write(tmp_path, GOOD.replace("a = 1.0", "a = 1e9"))
    proc = subprocess.run([sys.executable, "-m", "lmech", "run", str(cfg)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("lmech: config error: model.a: must lie in")
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.h5"))


def test_kinds_lists_the_registered_kinds(capsys):
    assert main(["kinds"]) == 0
    assert "lmech.erf_overlap" in capsys.readouterr().out


def test_demo_draws_a_replica_phase_diagram_with_its_transition(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo.h5"
    assert main(["demo", "-o", str(out), "--workers", "1", "--quiet"]) == 0
    res = archive.load(out, "sweep")
    assert res.success
    assert res.meta["sweep_kind"].startswith("replica.")
    png = tmp_path / "demo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "figure:" in capsys.readouterr().out


def test_param_named_picks_the_longest_parameter_a_message_starts_with():
    from lmech.config import param_named

    names = ("alpha", "alpha_max", "T")
    assert param_named("alpha_max must be > alpha, got 1", names) == "alpha_max"
    assert param_named("alpha: must be > 0", names) == "alpha"
    assert param_named("T must be >= 0, got -1", names) == "T"
    assert param_named("Temperature must be >= 0", names) is None
    assert param_named("", names) is None


# -- bad paths: each refused before any work, in one line, with exit status 2 --------------
# (tmp_path holds a regular file FILE, a directory DIR, a good sweep archive good.h5 and the
# config c.toml; "{t}" is tmp_path)
BAD_PATHS = [
    ("output a directory", ["run", "{t}/c.toml", "-o", "{t}/DIR"], r"--output: .*DIR is a directory"),
    ("output under a file", ["run", "{t}/c.toml", "-o", "{t}/FILE/out.h5"],
     r"--output: cannot write .*FILE/out.h5: .*FILE is not a directory"),
    ("output deep under a file", ["run", "{t}/c.toml", "-o", "{t}/FILE/a/b/out.h5"],
     r"--output: cannot write .*: .*FILE is not a directory"),
    ("output where no file can be made", ["run", "{t}/c.toml", "-o", "/proc/lmech-test/out.h5"],
     r"--output: cannot write /proc/lmech-test/out.h5: cannot create files in /proc"),
    ("output from the config a directory", ["run", "{t}/c_out.toml"], r"--output: .*DIR is a directory"),
    ("output not an archive", ["run", "{t}/c.toml", "-o", "{t}/FILE"],
     r"--output: .*FILE exists and is not a readable lmech archive \(.*not a readable HDF5 file"),
    ("plot under a file", ["run", "{t}/c.toml", "-o", "{t}/out.h5", "--plot", "{t}/FILE/fig.png"],
     r"--plot: cannot write .*FILE/fig.png: .*FILE is not a directory"),
    ("plot a directory", ["run", "{t}/c.toml", "-o", "{t}/out.h5", "--plot", "{t}/DIR"],
     r"--plot: .*DIR is a directory"),
    ("plot format unknown", ["run", "{t}/c.toml", "-o", "{t}/out.h5", "--plot", "{t}/fig.nope"],
     r"--plot: matplotlib cannot draw '.nope' files; use one of .*\.png"),
    ("plot over the archive", ["run", "{t}/c.toml", "-o", "{t}/out.png", "--plot", "{t}/out.png"],
     r"--plot: .*out.png is the output archive"),
    ("show a directory", ["show", "{t}/DIR"], r"archive: .*DIR is a directory, not an archive file"),
    ("show a missing file", ["show", "{t}/none.h5"], r"archive: file not found: .*none.h5"),
    ("show a file that is not HDF5", ["show", "{t}/FILE"], r"archive: .*FILE is not a readable HDF5 file"),
    ("plot a directory archive", ["plot", "{t}/DIR"], r"archive: .*DIR is a directory"),
    ("plot output under a file", ["plot", "{t}/good.h5", "-o", "{t}/FILE/fig.png"],
     r"--output: cannot write .*: .*FILE is not a directory"),
    ("demo output under a file", ["demo", "-o", "{t}/FILE/demo.h5"], r"--output: cannot write .*FILE is not a directory"),
    ("demo figure a directory", ["demo", "-o", "{t}/demo.h5", "--png", "{t}/DIR"], r"--png: .*DIR is a directory"),
    ("validate output a directory", ["validate", "{t}/c.toml", "-o", "{t}/DIR"], r"--output: .*DIR is a directory"),
    ("validate figure under a file", ["validate", "{t}/c.toml", "--png", "{t}/FILE/v.png"],
     r"--png: cannot write .*FILE is not a directory"),
]


def point_value(c):
    return {"value": c}


@pytest.mark.parametrize("label,argv,message", BAD_PATHS, ids=[b[0] for b in BAD_PATHS])
def test_bad_paths_exit_2_in_one_line_before_any_work(tmp_path, capsys, monkeypatch, label, argv, message):
    import re

    if "/proc" in " ".join(argv) and not sys.platform.startswith("linux"):
        pytest.skip("/proc is Linux's")
    if "--plot" in argv or "--png" in argv or argv[0] == "plot":
        pytest.importorskip("matplotlib")
    (tmp_path / "FILE").write_text("not an archive\n")
    (tmp_path / "DIR").mkdir()
    write(tmp_path, GOOD)
    write(tmp_path, GOOD + f'\n[run]\noutput = "{tmp_path / "DIR"}"\n', "c_out.toml")
    from lmech.sweep import sweep

    sweep(point_value, {"c": [0.1, 0.2]}, archive=tmp_path / "good.h5")
    before = sorted(p.name for p in tmp_path.rglob("*"))

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the paths were checked")

    monkeypatch.setattr(sys.modules["lmech.sweep"], "sweep", no_work)
    monkeypatch.setattr(sys.modules["lmech.warm"], "warmup", no_work)
    assert main([a.format(t=tmp_path) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert re.search(message, err), err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written, no lock left


def test_an_error_text_with_a_newline_is_printed_on_one_line(tmp_path, capsys):
    """h5py's messages hold newlines (e.g. a read error of a directory); the CLI prints one line."""
    from lmech.archive import ArchiveError

    assert str(ArchiveError("a\nb,\n  c")) == "a b, c"
    assert main(["show", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


# -- re-runs, validation configs through `lmech run`, kinds, missing optional dependencies ----------

def test_overwrite_replaces_an_existing_archive_and_excludes_resume(tmp_path, capsys):
    cfg = write(tmp_path, GOOD)
    out = tmp_path / "out.h5"
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 0
    other = write(tmp_path, GOOD.replace("num = 5", "num = 3"), "other.toml")
    assert main(["run", str(other), "-o", str(out), "--quiet", "--overwrite"]) == 0
    assert archive.load(out, "sweep").shape == (3,)  # a new sweep, not the old one continued
    with pytest.raises(SystemExit) as e:
        main(["run", str(cfg), "-o", str(out), "--overwrite", "--resume"])
    assert e.value.code == 2


TINY_DEMO = GOOD.replace("num = 5", "num = 3")


@pytest.fixture
def tiny_demo(tmp_path, monkeypatch):
    """``lmech demo`` with a three-point config (a module on sys.path holds it)."""
    (tmp_path / "tinydemo_cfg.py").write_text(f"CONFIG = {TINY_DEMO!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("lmech.cli.DEMO_CONFIG", "tinydemo_cfg:CONFIG")
    return tmp_path


def test_demo_twice_in_the_same_folder_replaces_its_own_archive(tiny_demo, capsys):
    out = tiny_demo / "demo.h5"
    argv = ["demo", "-o", str(out), "--workers", "1", "--quiet", "--no-plot"]
    assert main(argv) == 0
    assert main(argv) == 0
    assert "replacing" in capsys.readouterr().err
    assert archive.load(out, "sweep").arrays["done"].all()
    assert not (tiny_demo / "demo.png").exists()  # --no-plot


def test_demo_refuses_an_archive_that_is_not_its_own(tiny_demo, capsys):
    other = write(tiny_demo, GOOD, "other.toml")
    out = tiny_demo / "demo.h5"
    assert main(["run", str(other), "-o", str(out), "--quiet"]) == 0
    before = out.read_bytes()
    assert main(["demo", "-o", str(out), "--quiet", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "not the demo's" in err and "--overwrite" in err and out.read_bytes() == before


VALIDATION = textwrap.dedent("""
    kind = "validation.linreg"
    [model]
    alpha = 2.0
    noise = 0.25
    [theory]
    t_max = 1.0
    [compare]
    sizes = [50, 100]
    seeds = 2
    observables = ["test_risk_t"]
""")


def test_run_on_a_validation_config_runs_it_as_validate_and_says_so(tmp_path, capsys):
    cfg = write(tmp_path, VALIDATION, "v.toml")
    out = tmp_path / "v.h5"
    code = main(["run", str(cfg), "-o", str(out), "--quiet"])
    assert code in (0, 1, 3)  # the verdict's exit status (agree, disagree, inconclusive)
    assert "is a validation config; running it as `lmech validate" in capsys.readouterr().err
    assert "validation" in archive.ls(out)
    assert main(["run", str(cfg), "-o", str(out), "--resume"]) == 2
    assert "--resume: " in capsys.readouterr().err


def test_kinds_lists_validation_kinds_with_their_keys_and_one_kind_by_name(capsys):
    assert main(["kinds"]) == 0
    out = capsys.readouterr().out
    assert "Validation kinds" in out and "validation.linreg" in out and "validation.committee" in out
    assert main(["kinds", "erf_overlap"]) == 0
    one = capsys.readouterr().out
    assert "lmech.erf_overlap" in one and "validation.linreg" not in one
    assert main(["kinds", "no_such_kind"]) == 2
    assert "name: no kind 'no_such_kind'" in capsys.readouterr().err


def test_missing_matplotlib_one_message_and_the_archive_is_still_written(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    cfg = write(tmp_path, GOOD)
    out = tmp_path / "out.h5"
    assert main(["run", str(cfg), "-o", str(out), "--quiet", "--plot", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert 'drawing needs matplotlib, an optional dependency: pip install ".[plot]"' in err
    assert not out.exists()  # an explicit figure request is refused before any work
    assert main(["plot", str(out)]) == 2
    capsys.readouterr()
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 0
    assert main(["plot", str(out)]) == 2
    assert 'drawing needs matplotlib, an optional dependency: pip install ".[plot]"' in capsys.readouterr().err


def test_help_names_examples_and_kinds(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "lmech kinds" in out and "examples/" in out


def _open_every_group_in_xarray(path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    groups = list(archive.ls(path))
    with h5py.File(path, "r") as f:  # and the per-observable subgroups of reports
        groups += [f"{g}/{s}" for g in list(groups) for s in f[g] if isinstance(f[g][s], h5py.Group)]
    opened = {}
    for g in groups:
        with xr.open_dataset(path, engine="h5netcdf", group=g, phony_dims="sort") as ds:
            for name, var in ds.variables.items():
                assert var.attrs.get("long_name"), f"{g}/{name} has no long_name"
                if var.dtype.kind == "f" and name != "seconds":
                    assert var.attrs.get("units") == "1", f"{g}/{name}"
            opened[g] = dict(ds.sizes)
    return opened


def test_every_archive_kind_opens_in_xarray_with_long_names_and_units(tmp_path, capsys):
    cfg = write(tmp_path, GOOD)
    out = tmp_path / "sweep.h5"
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 0
    archive.save(lmech.testing.erf_overlap(a=1.0, c=0.3, n=40), out, "single")
    sizes = _open_every_group_in_xarray(out)
    assert sizes["sweep"]["c"] == 5
    with h5py.File(out, "r") as f:  # the axis is labelled by the kind's help text
        assert f["sweep/c"].attrs["long_name"].endswith("(c)")
    vcfg = write(tmp_path, VALIDATION, "v.toml")
    vout = tmp_path / "v.h5"
    main(["validate", str(vcfg), "-o", str(vout), "--quiet", "--no-plot"])
    sizes = _open_every_group_in_xarray(vout)
    assert sizes["validation/test_risk_t"] == {"sizes": 2, "x": 3}  # (N, t) labelled dimensions
    assert sizes["validation_runs"]["N"] == 2 and sizes["validation_runs"]["seed"] == 2


def test_plot_draws_single_results_and_any_observable_with_symbols_in_the_labels(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import matplotlib.image

    cfg = write(tmp_path, GOOD)
    out = tmp_path / "out.h5"
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 0
    for ext in ("png", "pdf", "svg"):
        fig = tmp_path / f"f.{ext}"
        assert main(["plot", str(out), "-y", "exact", "-o", str(fig)]) == 0
        assert fig.stat().st_size > 0
    assert matplotlib.image.imread(tmp_path / "f.png").shape[1] >= 1500  # 300 dpi
    assert main(["plot", str(out), "-y", "nope"]) == 2
    assert "--observable: the sweep has no observable 'nope'" in capsys.readouterr().err
    assert main(["plot", str(out), "--x", "nope"]) == 2
    assert "--x: 'nope' is not an axis" in capsys.readouterr().err
    single = tmp_path / "single.h5"
    archive.save(lmech.Result(success=True, arrays={"t": np.linspace(0, 1, 5), "eg": np.exp(-np.arange(5.0))}),
                 single, "traj")
    assert main(["plot", str(single), "-o", str(tmp_path / "s.png")]) == 0


def test_axis_labels_carry_symbol_and_meaning():
    from lmech.config import get_kind
    from lmech.plotstyle import axis_label

    kind = get_kind("odes.phase_diagram")
    assert axis_label("lr", kind) == "$\\eta$, " + kind.params["lr"].help
    assert axis_label("eps") == "$\\epsilon$, label-flip probability"
    assert axis_label("unknown_name") == "unknown_name"

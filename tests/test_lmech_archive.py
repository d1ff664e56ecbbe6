"""Archives: exact round trips, provenance, versions, unknown kinds, no code execution."""

import dataclasses
import json
import math
import sys
import warnings

import h5py
import numpy as np
import pytest

import lmech
from lmech import archive
from lmech.archive import ArchiveError
from lmech.result import Result, result_kinds
from lmech.spec import register_model


@register_model("lmech.TestBlock")
@dataclasses.dataclass(frozen=True)
class Block:
    name: str = "rademacher"
    rho: float = 1.0


@register_model("lmech.TestModel")
@dataclasses.dataclass(frozen=True)
class Model:
    K: int = 2
    eta: float = 0.1 + 0.2  # a float whose repr needs all 17 digits
    prior: Block = Block()
    T: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(2))
    shape: tuple = (1, (2, 3.5))
    flag: bool = True

    def __eq__(self, other):
        return (isinstance(other, Model) and self.K == other.K and self.eta == other.eta
                and self.prior == other.prior and np.array_equal(self.T, other.T)
                and self.T.dtype == other.T.dtype and self.shape == other.shape
                and self.flag == other.flag)


def rich_fields():
    rng = np.random.default_rng(0)
    big = rng.standard_normal((300, 300))  # compressed and chunked on disk
    return {
        "success": False, "status": 3, "message": "did not converge: résidu 1e-3", "n_iter": 17,
        "residual": 1.2345678901234567e-3, "model": Model(),
        "options": {"rtol": 1e-10, "method": "anderson", "damping": (0.5, 0.9), "max_iter": 10_000},
        "conventions": {"time": "steps/N", "activation": "erf(u/sqrt 2)"},
        "timings": {"solve": 0.125},
        "arrays": {"Q": np.eye(3) * np.pi, "t": np.logspace(-3, 3, 7), "C": big,
                   "mask": np.array([True, False]), "idx": np.arange(5, dtype=np.int32),
                   "f32": np.linspace(0, 1, 4, dtype=np.float32), "withnan": np.array([np.nan, np.inf, -0.0]),
                   "branch/informed/m": np.array([0.1, 0.2]), "labels": np.array(["a", "bé"]),
                   "scalar0d": np.array(2.5), "z": np.array([1 + 2j])},
        "scalars": {"eg": 0.1 + 0.2, "k": 3, "flag": True, "name": "informed", "none": None,
                    "nan": math.nan, "c": 1 - 1j},
        "meta": {"notes": ["x", 1, 2.5], "nested": {"a": (1, 2)}},
        "error_estimate": {"eg": 3.25e-9, "Q": math.nan},
    }


def build(cls):
    return cls(**rich_fields())


def all_kinds():
    lmech.warmup()  # imports every layer, so their kinds register
    return sorted(result_kinds())


@pytest.mark.parametrize("kind", all_kinds())
def test_every_registered_kind_round_trips_exactly(kind, tmp_path):
    cls = result_kinds()[kind]
    res = build(cls)
    path = tmp_path / "a.h5"
    archive.save(res, path, "r")
    back = archive.load(path, "r")
    assert type(back) is cls
    assert back.same_as(res)
    assert back.model == res.model
    assert back.options == res.options and type(back.options["damping"]) is tuple
    assert back.meta == res.meta
    assert back.arrays["C"].tobytes() == res.arrays["C"].tobytes()


def test_layout_is_self_describing(tmp_path):
    path = tmp_path / "a.h5"
    archive.save(build(Result), path, "first")
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "lmech"
        assert f.attrs["format_version"] == archive.FORMAT_VERSION
        assert f.attrs["package_version"] == lmech.__version__
        prov = f["provenance"].attrs
        for key in ("python", "numpy", "scipy", "numba", "h5py", "command_line", "git_commit"):
            assert key in prov
        g = f["first"]
        assert g.attrs["kind"] == "lmech.Result"
        assert g.attrs["model.K"] == 2 and g.attrs["model.prior.rho"] == 1.0
        assert g.attrs["convention.time"] == "steps/N"
        spec = json.loads(g.attrs["spec"])
        assert spec["model"]["__type__"] == "lmech.TestModel"
        assert g["C"].compression == "gzip" and g["C"].chunks is not None
        assert isinstance(g["branch/informed/m"], h5py.Dataset)
    assert archive.ls(path) == {"first": "lmech.Result"}


def test_several_results_and_overwrite(tmp_path):
    path = tmp_path / "a.h5"
    r1 = Result(success=True, scalars={"x": 1.0})
    r2 = Result(success=True, scalars={"x": 2.0})
    archive.save(r1, path, "one")
    archive.save(r2, path, "two")
    assert archive.ls(path) == {"one": "lmech.Result", "two": "lmech.Result"}
    with pytest.raises(ValueError, match="already holds 'one'"):
        archive.save(r2, path, "one")
    archive.save(r2, path, "one", overwrite=True)
    assert archive.load(path, "one").x == 2.0
    with pytest.raises(KeyError, match="name one of"):
        archive.load(path)
    with pytest.raises(KeyError, match="no result 'three'"):
        archive.load(path, "three")
    with pytest.raises(ValueError, match="name must be"):
        archive.save(r1, path, "provenance")


def test_atomic_writes_keep_ordinary_file_permissions(tmp_path):
    import os
    import stat

    path = tmp_path / "a.h5"
    archive.save(Result(success=True), path, "r")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    os.chmod(path, 0o640)
    archive.save(Result(success=True), path, "s")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_failed_write_leaves_the_previous_archive(tmp_path):
    path = tmp_path / "a.h5"
    archive.save(Result(success=True, scalars={"x": 1.0}), path, "one")
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with archive.updating(path) as f:
            f.create_group("half")
            raise RuntimeError("killed mid-write")
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unregistered_result_class_is_refused(tmp_path):
    class Loose(Result):
        pass

    Loose.kind = "lmech.Result"  # claims a kind it is not registered under
    with pytest.raises(TypeError, match="not registered"):
        archive.save(Loose(success=True), tmp_path / "a.h5", "r")


def test_unknown_kind_loads_as_plain_group_with_warning(tmp_path):
    path = tmp_path / "a.h5"
    archive.save(Result(success=True, arrays={"x": np.arange(3.0)}), path, "r")
    with h5py.File(path, "r+") as f:
        f["r"].attrs["kind"] = "replica.SomethingFromTheFuture"
    with pytest.warns(UserWarning, match="unknown result kind"):
        out = archive.load(path, "r")
    assert out["kind"] == "replica.SomethingFromTheFuture"
    assert np.array_equal(out["arrays"]["x"], np.arange(3.0))


def test_newer_major_version_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "a.h5"
    archive.save(Result(success=True), path, "r")
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = "1.7"
    assert archive.load(path, "r").success  # a newer minor version still reads
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = "2.0"
    with pytest.raises(ArchiveError, match="format_version 2.0, newer than this package reads"):
        archive.load(path, "r")
    with pytest.raises(ArchiveError, match="newer"):
        archive.save(Result(success=True), path, "s")


def test_foreign_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ArchiveError, match="not an lmech archive"):
        archive.load(path, "x")
    with pytest.raises(ArchiveError, match="not an lmech archive"):
        archive.save(Result(success=True), path, "r")


def test_crafted_archive_cannot_execute_code(tmp_path, monkeypatch):
    """Kinds, model types and callables named in a file are never imported or called."""
    marker = tmp_path / "pwned"
    evil_dir = tmp_path / "evil"
    evil_dir.mkdir()
    (evil_dir / "evil_mod_lmech.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "class Thing:\n    def __init__(self, *a, **k):\n"
        f"        open({str(marker)!r}, 'w').write('called')\n")
    monkeypatch.syspath_prepend(str(evil_dir))
    path = tmp_path / "a.h5"
    archive.save(Result(success=True), path, "r")
    import pickle

    payload = pickle.dumps(print)  # a pickle stored as opaque bytes must stay bytes
    spec = {"model": {"__type__": "evil_mod_lmech.Thing", "fields": {}},
            "options": {"hook": {"__callable__": "evil_mod_lmech.Thing"}},
            "conventions": {}, "timings": {}, "scalars": {},
            "meta": {"__type__": "os.system", "fields": {"command": "touch " + str(marker)}}}
    with h5py.File(path, "r+") as f:
        g = f["r"]
        g.attrs["spec"] = json.dumps(spec)
        g.create_dataset("blob", data=np.void(payload))
        g2 = f.create_group("evil")
        g2.attrs["kind"] = "evil_mod_lmech.Thing"
    # opaque data is refused, never unpickled
    with pytest.raises(archive.ArchiveError, match="'blob'.*neither numbers nor strings"):
        archive.load(path, "r")
    assert not marker.exists()
    with h5py.File(path, "r+") as f:
        del f["r"]["blob"]
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        res = archive.load(path, "r")
        other = archive.load(path, "evil")
    assert not marker.exists()
    assert "evil_mod_lmech" not in sys.modules
    assert isinstance(res.model, dict) and res.model["__type__"] == "evil_mod_lmech.Thing"
    assert res.options["hook"] == "evil_mod_lmech.Thing"
    assert isinstance(other, dict)


def test_library_code_never_imports_pickle():
    import pathlib

    root = pathlib.Path(lmech.__file__).parent.parent
    for pkg in ("lmech", "odes", "dmft", "replica", "validation"):
        for py in (root / pkg).rglob("*.py"):
            text = py.read_text()
            assert "import pickle" not in text and "allow_pickle=True" not in text, py


def test_format_1_0_archive_without_error_estimate_loads_with_an_empty_one(tmp_path):
    """error_estimate is new in format 1.1: a 1.0 group (no such key) still loads."""
    res = build(Result)
    path = tmp_path / "old.h5"
    archive.save(res, path, "r")
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = "1.0"
        spec = json.loads(f["r"].attrs["spec"])
        del spec["error_estimate"]
        f["r"].attrs["spec"] = json.dumps(spec)
    back = archive.load(path, "r")
    assert back.error_estimate == {}
    assert np.array_equal(back.Q, res.Q)


def test_status_round_trips_in_the_shared_vocabulary(tmp_path):
    # a group written now carries status_vocabulary: its status loads as written, untranslated;
    # the same group with the attribute removed is read as pre-vocabulary (legacy) codes
    import h5py

    from lmech import Result, Status

    res = Result(success=False, status=Status.TOLERANCE, message="estimate above tol", n_iter=3,
                 residual=1e-3)
    path = tmp_path / "s.h5"
    archive.save(res, path, "r")
    back = archive.load(path, "r")
    assert back.status == Status.TOLERANCE and "legacy_status" not in back.meta
    with h5py.File(path, "a") as f:
        del f["r"].attrs["status_vocabulary"]
    old = archive.load(path, "r")
    assert old.meta["legacy_status"] == Status.TOLERANCE
    assert old.status == Status.FAILED  # a base Result's old failure codes named no cause

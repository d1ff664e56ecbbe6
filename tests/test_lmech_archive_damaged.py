"""Damaged archives: every failure to read is an ArchiveError naming the group and the attribute.

A good archive (one result with a model, arrays and error estimates, and one
sweep whose points store their models) is written here, then damaged one way
at a time, as a disk, a crash, a hand edit or a hostile file would: attributes
of the wrong type or missing, a spec that is not JSON, nested beyond any model,
naming fields no model has or values out of range, datasets of strings where
numbers belong, observables off the grid.  Each damaged copy must make
:func:`lmech.archive.load` raise :class:`~lmech.archive.ArchiveError` whose
message names the group and the attribute or dataset (also ``exc.group`` and
``exc.item``), and ``lmech show`` print one line on stderr, nothing on
stdout, and exit with status 2.
"""

import json
import shutil
import warnings

import h5py
import numpy as np
import pytest

from lmech import archive
from lmech.archive import ArchiveError
from lmech.blocks.priors import Gaussian
from lmech.cli import main
from lmech.result import Result
from lmech.sweep import sweep


def point(x):
    """A sweep point that solved a model: its spec is stored with the point."""
    return Result(success=True, model=Gaussian(rho=x), scalars={"eg": x * x},
                  error_estimate={"eg": 0.0})


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.h5"
    res = Result(success=True, status=0, message="converged", n_iter=12, residual=1e-12,
                 model=Gaussian(rho=0.5), options={"tol": 1e-10},
                 conventions={"time": "steps/N"}, timings={"solve": 0.01},
                 arrays={"t": np.linspace(0.0, 1.0, 4), "Q": np.eye(2), "labels": np.array(["a", "bc"])},
                 scalars={"eg": 0.25, "name": "informed"}, meta={"dims": {"eg_t": ["t"]}},
                 error_estimate={"eg": 1e-9})
    archive.save(res, path, "r")
    sweep(point, {"x": [0.5, 1.0, 2.0]}, archive=path, name="s")
    return path


def set_attr(group, key, value):
    def damage(f):
        f[group].attrs[key] = value
    return damage


def del_attr(group, key):
    def damage(f):
        del f[group].attrs[key]
    return damage


def edit_spec(group, edit):
    def damage(f):
        spec = json.loads(f[group].attrs["spec"])
        edit(spec)
        f[group].attrs["spec"] = json.dumps(spec)
    return damage


def replace_dataset(group, name, data, **attrs):
    def damage(f):
        del f[group][name]
        ds = f[group].create_dataset(name, data=data)
        for k, v in attrs.items():
            ds.attrs[k] = v
    return damage


def nested(depth):
    spec = {"__type__": "lmech.priors.Gaussian", "fields": {"rho": 1.0}}
    for _ in range(depth):
        spec = {"a": spec}
    return spec


def set_in(keys, value):
    def edit(spec):
        d = spec
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return edit


strings = np.array([b"x", b"yy"], dtype=object)

# label, group, the attribute or dataset named, the damage
DAMAGES = [
    ("success a string", "/r", "success", set_attr("r", "success", "yes")),
    ("success an integer", "/r", "success", set_attr("r", "success", np.int64(1))),
    ("success missing", "/r", "success", del_attr("r", "success")),
    ("status a string", "/r", "status", set_attr("r", "status", "0")),
    ("status a float", "/r", "status", set_attr("r", "status", 0.5)),
    ("message a number", "/r", "message", set_attr("r", "message", 3)),
    ("n_iter a float", "/r", "n_iter", set_attr("r", "n_iter", 2.5)),
    ("residual a string", "/r", "residual", set_attr("r", "residual", "small")),
    ("kind a number", "/r", "kind", set_attr("r", "kind", 7)),
    ("kind missing", "/r", "kind", del_attr("r", "kind")),
    ("spec missing", "/r", "spec", del_attr("r", "spec")),
    ("spec a number", "/r", "spec", set_attr("r", "spec", 1.5)),
    ("spec not JSON", "/r", "spec", set_attr("r", "spec", '{"model": ')),
    ("spec a JSON list", "/r", "spec", set_attr("r", "spec", "[1, 2]")),
    ("spec nested past the JSON parser", "/r", "spec", set_attr("r", "spec", "[" * 100_000 + "]" * 100_000)),
    ("model nested past MAX_SPEC_DEPTH", "/r", "spec", edit_spec("r", set_in(["model"], nested(200)))),
    ("spec without model", "/r", "spec", edit_spec("r", lambda s: s.pop("model"))),
    ("model field unknown", "/r", "spec", edit_spec("r", set_in(["model", "fields", "bogus"], 1))),
    ("model field out of range", "/r", "spec", edit_spec("r", set_in(["model", "fields", "rho"], -1.0))),
    ("model fields not a mapping", "/r", "spec", edit_spec("r", set_in(["model", "fields"], [1]))),
    ("array spec of object dtype", "/r", "spec",
     edit_spec("r", set_in(["options", "tol"], {"__ndarray__": [1], "dtype": "|O", "shape": [1]}))),
    ("array spec of a wrong shape", "/r", "spec",
     edit_spec("r", set_in(["options", "tol"], {"__ndarray__": [1.0, 2.0], "dtype": "<f8", "shape": [3]}))),
    ("complex spec of three parts", "/r", "spec", edit_spec("r", set_in(["scalars", "eg"], {"__complex__": [1, 2, 3]}))),
    ("options a list", "/r", "spec", edit_spec("r", set_in(["options"], [1, 2]))),
    ("timing a string", "/r", "spec", edit_spec("r", set_in(["timings", "solve"], "fast"))),
    ("convention a number", "/r", "spec", edit_spec("r", set_in(["conventions", "time"], 3))),
    ("scalar a list", "/r", "spec", edit_spec("r", set_in(["scalars", "eg"], [1, 2]))),
    ("error estimate a string", "/r", "spec", edit_spec("r", set_in(["error_estimate", "eg"], "tiny"))),
    ("meta a number", "/r", "spec", edit_spec("r", set_in(["meta"], 5))),
    ("Q a dataset of strings", "/r", "Q", replace_dataset("r", "Q", strings, )),
    ("strings longer than their dtype", "/r", "labels", replace_dataset("r", "labels", strings, lmech_dtype="<U1")),
    ("strings of a bogus dtype", "/r", "labels", replace_dataset("r", "labels", strings, lmech_dtype="f8")),
    ("array off its dimension", "/r", "eg_t",
     lambda f: f["r"].create_dataset("eg_t", data=np.zeros(3))),
    ("sweep observable of the wrong length", "/s", "eg", replace_dataset("s", "eg", np.zeros(2))),
    ("sweep observable of strings", "/s", "eg", replace_dataset("s", "eg", np.array([b"a", b"b", b"c"], dtype=object),
                                                                lmech_dtype="<U1")),
    ("sweep bookkeeping of the wrong dtype", "/s", "done", replace_dataset("s", "done", np.ones(3))),
    ("sweep bookkeeping missing", "/s", "converged", lambda f: f["s"].__delitem__("converged")),
    ("sweep axis missing", "/s", "x", lambda f: f["s"].__delitem__("x")),
    ("sweep axis empty", "/s", "x", replace_dataset("s", "x", np.zeros(0))),
    ("sweep model index out of range", "/s", "model_index", replace_dataset("s", "model_index", np.array([0, 1, 7]))),
    ("sweep model spec not JSON", "/s", "model_specs",
     replace_dataset("s", "model_specs", np.array([b"{", b"{", b"{"], dtype=object), lmech_dtype="<U1")),
    ("sweep meta axes not a list", "/s", "spec", edit_spec("s", set_in(["meta", "axes"], "x"))),
    ("sweep meta mode unknown", "/s", "spec", edit_spec("s", set_in(["meta", "mode"], "spiral"))),
    ("format_version unreadable", "/", "format_version", set_attr("/", "format_version", "one.two")),
    ("format_version a number", "/", "format_version", set_attr("/", "format_version", 1.2)),
]


def damaged_copy(good, tmp_path, damage):
    path = tmp_path / "damaged.h5"
    shutil.copyfile(good, path)
    with h5py.File(path, "r+") as f:
        damage(f)
    return path


def test_the_good_archive_loads_and_shows(good, capsys):
    r = archive.load(good, "r")
    assert r.model == Gaussian(rho=0.5) and r.success is True
    s = archive.load(good, "s")
    assert np.array_equal(s.arrays["eg"], np.array([0.25, 1.0, 4.0]))
    assert [s.model_at(i) for i in range(3)] == [Gaussian(rho=x) for x in (0.5, 1.0, 2.0)]
    assert main(["show", str(good)]) == 0


@pytest.mark.parametrize("label,group,item,damage", DAMAGES, ids=[d[0] for d in DAMAGES])
def test_every_damage_is_an_archive_error_naming_group_and_item(good, tmp_path, capsys, label, group, item,
                                                                damage):
    path = damaged_copy(good, tmp_path, damage)
    name = None if group == "/" else group[1:]
    with pytest.raises(ArchiveError) as info:
        archive.load(path, name or "r")
    msg = str(info.value)
    assert "\n" not in msg
    assert f"{item!r}" in msg, msg
    assert info.value.item == item
    assert info.value.group == group
    if group != "/":
        assert f"group {group!r}" in msg, msg
        assert str(path) in msg

    assert main(["show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("lmech: error: archive: ") and f"{item!r}" in err, err


def test_a_truncated_file_is_an_archive_error(good, tmp_path, capsys):
    path = tmp_path / "cut.h5"
    path.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ArchiveError, match="not a readable HDF5 file"):
        archive.load(path, "r")
    assert main(["show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1


def test_a_directory_is_an_archive_error_not_an_hdf5_message(tmp_path, capsys):
    with pytest.raises(ArchiveError, match="is a directory"):
        archive.load(tmp_path, "r")
    assert main(["show", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == f"lmech: error: archive: {tmp_path} is a directory, not an archive file"


# -- hypothesis: any value in any attribute, any JSON in any spec entry -------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

attr_values = st.one_of(
    st.text(st.characters(blacklist_characters="\x00"), max_size=8), st.booleans(), st.integers(-2**63, 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-5, 5), min_size=1, max_size=3).map(np.array),
    st.lists(st.floats(allow_nan=True), min_size=1, max_size=3).map(np.array),
    st.binary(min_size=1, max_size=8).map(np.bytes_),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["__type__", "fields", "__ndarray__", "dtype", "shape", "__tuple__", "__complex__",
                         "__dict__", "__callable__", "rho", "axes", "mode", "x"]), inner, max_size=3),
    max_leaves=12)
CORE = {"success": bool, "status": int, "message": str, "n_iter": int, "residual": float}


def check_loads_or_names(path, group, items):
    """Loading either works or raises an ArchiveError naming the group and one of ``items``."""
    try:
        return archive.load(path, group)
    except ArchiveError as exc:
        assert exc.group == f"/{group}" and exc.item in items, str(exc)
        assert f"{exc.item!r}" in str(exc) and "\n" not in str(exc)
        return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(CORE) + ["kind", "spec"]), value=attr_values)
def test_any_value_in_any_attribute_loads_with_its_type_or_is_named(good, tmp_path, key, value):
    path = damaged_copy(good, tmp_path, set_attr("r", key, value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a kind renamed to an unknown one loads as a plain group, warning
        res = check_loads_or_names(path, "r", {key})
    if res is not None and key in CORE:
        got = getattr(res, key)
        assert type(got) is CORE[key]
        want = value.item() if isinstance(value, np.generic) else value
        if key == "residual":
            want = float(want)  # an integer residual is read as the float it is
        assert got == want or (got != got and want != want)  # the stored value, nan included


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry=st.sampled_from(["model", "options", "conventions", "timings", "scalars", "meta",
                              "error_estimate"]),
       group=st.sampled_from(["r", "s"]), value=json_values)
def test_any_json_in_any_spec_entry_loads_or_is_named(good, tmp_path, entry, group, value):
    path = damaged_copy(good, tmp_path, edit_spec(group, set_in([entry], value)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown model type or a callable's name loads with a warning
        check_loads_or_names(path, group, {"spec", "x", "eg", "eg_err", "done", "converged", "failed",
                                           "status", "n_iter", "residual", "seconds", "message",
                                           "model_index", "model_specs"})


# -- forged string dtypes and opaque datasets: refused, never loaded as data --------------------
def _forge(group, name, data, **attrs):
    def damage(f):
        del f[group][name]
        ds = f[group].create_dataset(name, data=data)
        for k, v in attrs.items():
            ds.attrs[k] = v
    return damage


FORGED = [
    # numbers replaced by strings with a lmech_dtype forged on them: the spec lists no such string array
    ("Q strings with a forged lmech_dtype", "/r", "Q",
     _forge("r", "Q", np.array([b"1.0", b"2.0"], dtype=h5py.string_dtype()), lmech_dtype="<U3")),
    ("t strings with a forged lmech_dtype", "/r", "t",
     _forge("r", "t", np.array([b"a"] * 4, dtype=h5py.string_dtype()), lmech_dtype="<U1")),
    # a string array whose dtype is forged to a huge length (4 GB a string: 4 TB to allocate)
    ("labels of a forged huge dtype", "/r", "labels",
     _forge("r", "labels", np.array([b"a"] * 1000, dtype=h5py.string_dtype()), lmech_dtype="<U1000000000")),
    # opaque bytes, a compound, an enum-free bytes void: neither numbers nor strings
    ("Q opaque bytes", "/r", "Q", _forge("r", "Q", np.void(b"\x80\x04K\x01."))),
    ("Q a compound", "/r", "Q", _forge("r", "Q", np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")]))),
    ("an extra opaque dataset", "/r", "blob",
     lambda f: f["r"].create_dataset("blob", data=np.void(b"\x00\x01\x02"))),
]


@pytest.mark.parametrize("label,group,item,damage", FORGED, ids=[d[0] for d in FORGED])
def test_forged_strings_and_opaque_data_are_archive_errors(good, tmp_path, capsys, label, group, item,
                                                           damage):
    path = damaged_copy(good, tmp_path, damage)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ArchiveError) as info:
            archive.load(path, group[1:])
    assert info.value.item == item and info.value.group == group
    assert f"{item!r}" in str(info.value) and "\n" not in str(info.value)
    assert main(["show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1


def test_a_nul_character_is_saved_escaped_and_the_message_exactly(tmp_path):
    # HDF5 strings cannot hold NUL: before, saving raised h5py's "VLEN strings do not support
    # embedded NULLs"; now attributes and string datasets hold the text \x00, the spec the value
    path = tmp_path / "nul.h5"
    res = Result(success=False, status=-7, message="ValueError: bad byte \x00 in input",
                 scalars={"s": "a\x00b"}, options={"o": "x\x00"}, conventions={"c": "\x00"},
                 arrays={"labels": np.array(["a\x00b", "c"])})
    archive.save(res, path, "r")
    back = archive.load(path, "r")
    assert back.message == res.message
    assert back.scalars == res.scalars and back.options == res.options
    assert back.conventions == res.conventions
    assert back.arrays["labels"].tolist() == ["a\\x00b", "c"]
    with h5py.File(path, "r") as f:
        assert f["r"].attrs["message"] == "ValueError: bad byte \\x00 in input"

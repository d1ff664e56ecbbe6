"""One writer at a time: a second writer is refused naming the holder, and never touches its copy.

A subprocess opens an archive for writing (:func:`lmech.archive.updating`) and
stays in the middle of the write until told to finish.  Meanwhile this process
tries to save, to sweep and to ``lmech run`` into the same archive: each must
stop before any work with :class:`~lmech.archive.ArchiveBusyError` (exit 2 and
one line from the CLI) naming the holder's process id and host, leaving the
holder's temporary copy in place, so that the holder completes its write.
A lock whose holder was killed is stale and is taken over.
"""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lmech import archive
from lmech.archive import ArchiveBusyError
from lmech.cli import main
from lmech.result import Result
from lmech.sweep import sweep

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process handling")

HOLDER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from lmech import archive
    from lmech.result import Result

    path, ready, go = sys.argv[1:4]
    with archive.updating(path) as f:
        from lmech.archive import write_result
        write_result(f.create_group("first"), Result(success=True, arrays={"x": np.arange(3.0)}))
        open(ready, "w").write(f.filename)  # mid-write: the temporary copy is open
        t0 = time.time()
        while not os.path.exists(go):
            if time.time() - t0 > 120:
                sys.exit(3)
            time.sleep(0.02)
""")

FORKED_HOLDER = textwrap.dedent("""
    import os, sys, time
    from lmech import archive

    path, ready = sys.argv[1:3]
    with archive.lock(path):
        child = os.fork()  # like a worker process forked by a writer: it shares the lock
        if child == 0:
            time.sleep(120)
            os._exit(0)
        open(ready, "w").write(str(child))
        time.sleep(120)
""")

CONFIG = textwrap.dedent("""
    kind = "lmech.erf_overlap"
    [model]
    a = 1.0
    [grid]
    c = [0.1, 0.2]
""")


def wait_for(path, proc, seconds=120):
    t0 = time.time()
    while not os.path.exists(path) or not open(path).read():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < seconds, "the holder never started"
        time.sleep(0.02)
    return open(path).read()


def env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


calls = []


def counted(x):
    calls.append(x)
    return {"y": x}


def test_a_second_writer_is_refused_naming_the_holder_and_leaves_its_copy(tmp_path, capsys):
    path = tmp_path / "a.h5"
    ready, go = tmp_path / "ready", tmp_path / "go"
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    proc = subprocess.Popen([sys.executable, str(script), str(path), str(ready), str(go)], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        tmp = wait_for(ready, proc)
        assert os.path.exists(tmp)
        host = socket.gethostname()

        with pytest.raises(ArchiveBusyError) as info:
            archive.save(Result(success=True), path, "second")
        assert (info.value.pid, info.value.host) == (proc.pid, host)
        assert f"process {proc.pid} on host {host}" in str(info.value)

        with pytest.raises(ArchiveBusyError, match=f"process {proc.pid} "):
            sweep(counted, {"x": [1.0, 2.0]}, archive=path)
        assert calls == []  # refused before any point ran

        cfg = tmp_path / "c.toml"
        cfg.write_text(CONFIG)
        assert main(["run", str(cfg), "-o", str(path), "--quiet"]) == 2
        out, err = capsys.readouterr()
        assert len(err.splitlines()) == 1 and f"process {proc.pid} on host {host}" in err, err

        assert os.path.exists(tmp)  # the holder's temporary copy was not touched
        go.write_text("")
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert np.array_equal(archive.load(path, "first").arrays["x"], np.arange(3.0))
    assert not os.path.exists(tmp)
    assert not (tmp_path / ".a.h5.lock").exists()  # released
    archive.save(Result(success=True), path, "second")  # and the next writer proceeds
    assert set(archive.ls(path)) == {"first", "second"}


def test_a_killed_holder_leaves_a_stale_lock_that_is_taken_over(tmp_path):
    """The holder is killed while a process it forked still has the lock file open:
    its process id is dead on this host, so the lock is stale."""
    path = tmp_path / "a.h5"
    archive.save(Result(success=True), path, "first")
    ready = tmp_path / "ready"
    script = tmp_path / "holder.py"
    script.write_text(FORKED_HOLDER)
    proc = subprocess.Popen([sys.executable, str(script), str(path), str(ready)], env=env())
    child = None
    try:
        child = int(wait_for(ready, proc))
        with pytest.raises(ArchiveBusyError):  # alive: refused
            archive.save(Result(success=True), path, "second")
        stale_copy = tmp_path / ".a.h5.abcd1234.tmp"  # what a killed writer leaves
        stale_copy.write_bytes(b"partial")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        archive.save(Result(success=True), path, "second")  # dead: taken over
        assert set(archive.ls(path)) == {"first", "second"}
        assert not stale_copy.exists()
        assert not (tmp_path / ".a.h5.lock").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if child is not None:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_lock_file_left_by_a_dead_process_does_not_block(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "a.h5"
    lock = tmp_path / ".a.h5.lock"
    lock.write_text(f'{{"pid": {dead.pid}, "host": "{socket.gethostname()}"}}\n')
    other = tmp_path / ".a.h5.x.h5.abcd1234.tmp"  # another archive's copy (a.h5.x.h5): kept
    other.write_bytes(b"")
    archive.save(Result(success=True), path, "r")
    assert archive.load(path, "r").success
    assert not lock.exists() and other.exists()


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    path = tmp_path / "a.h5"
    with archive.lock(path):
        archive.save(Result(success=True), path, "one")
        res = sweep(counted, {"x": [3.0]}, archive=path, name="s")
        assert (tmp_path / ".a.h5.lock").exists()
    assert res.success and not (tmp_path / ".a.h5.lock").exists()
    assert set(archive.ls(path)) == {"one", "s"}

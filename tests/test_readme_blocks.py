"""Every Python code block of README.md runs on its own, in an empty folder, twice in a row.

A new user copies one block at a time and re-runs it: each block must be
standalone (its own imports) and idempotent (a second run in the same folder
works: archives it writes are replaced or resumed, never refused).
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks():
    text = (ROOT / "README.md").read_text()
    out = []
    for k, m in enumerate(BLOCK.finditer(text)):
        line = text.count("\n", 0, m.start()) + 1
        out.append(pytest.param(m.group(1), id=f"line{line}"))
    return out


def test_the_readme_has_python_blocks():
    assert len(_blocks()) >= 5


@pytest.mark.slow
@pytest.mark.parametrize("code", _blocks())
def test_readme_block_runs_standalone_twice(code, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "MPLBACKEND": "Agg"}
    script = tmp_path / "block.py"
    script.write_text(code)
    for attempt in (1, 2):
        # its own session, so that a timeout also ends the worker processes a block starts
        proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=3600)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        assert proc.returncode == 0, f"run {attempt}:\n{err[-3000:]}"

"""Build hook: record the source commit in the built package (read by lmech.archive.provenance).

Everything else about the package is declared in setup.cfg.
"""

import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def _source_commit() -> str:
    try:
        rev = subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        if rev.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return rev.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


class BuildPyWithCommit(build_py):
    def run(self):
        super().run()
        commit = _source_commit()
        if commit and not self.dry_run:
            with open(os.path.join(self.build_lib, "lmech", "SOURCE_COMMIT"), "w") as fh:
                fh.write(commit + "\n")


setup(cmdclass={"build_py": BuildPyWithCommit})

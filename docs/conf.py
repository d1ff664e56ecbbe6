"""Sphinx configuration of the learning-mechanics documentation.

Build: ``python -m sphinx -W -b html docs docs/_build`` (``pip install ".[docs]"``).
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import lmech  # noqa: E402

project = "learning-mechanics"
author = "the learning-mechanics developers"
release = lmech.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
suppress_warnings = ["ref.citation", "ref.footnote"]
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "statistical-physics solvers for the theory of high-dimensional learning"}

"""Numba kernels of :mod:`validation.glm`: GLM gradient flow, Langevin dynamics and
persistent SGD (loss terms of any :mod:`lmech.blocks.losses` loss with a code,
the persistent-SGD selection chain).

Pure functions of float64 arrays and scalars (no globals, no Python objects, no
``fastmath``); random numbers are pre-drawn by the Python wrapper from a
:class:`numpy.random.Generator` and passed in, so a run is reproducible from its
seed alone.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from lmech.blocks.losses import HINGE, LOGISTIC, SQUARE, loss_d1, loss_value
from lmech.warm import register_warmup


@njit(cache=True)
def glm_loss_terms(loss, par, y, h, s, binv, g, ell):
    """Per-sample ``g = (s/b) d ell/dh`` and ``ell(y, h)`` (all samples), in place.

    ``loss``, ``par``: code and parameters of a :mod:`lmech.blocks.losses`
    loss (square ``(y-h)^2/2``; logistic ``log(1 + e^{-y h})``; hinge
    ``max(0, 1 - y h)`` with subgradient 0 at the kink ``y h = 1``; ...).
    Returns the mean loss.
    """
    n = y.shape[0]
    tot = 0.0
    for mu in range(n):
        v = loss_value(loss, par, y[mu], h[mu])
        g[mu] = s[mu] * binv * loss_d1(loss, par, y[mu], h[mu])
        ell[mu] = v
        tot += v
    return tot / n


@njit(cache=True)
def sgd_switch(s, u, p11, p01):
    """One exact step of the persistent-SGD selection chain: ``s' = [u < p11]`` if ``s = 1``, else ``[u < p01]``."""
    for mu in range(s.shape[0]):
        p = p11 if s[mu] == 1.0 else p01
        s[mu] = 1.0 if u[mu] < p else 0.0


@register_warmup("validation._kernels.glm")
def warmup():
    """Compile the GLM-dynamics kernels once on tiny inputs."""
    y = np.array([1.0, -1.0, 1.0])
    h = np.array([0.3, 0.2, 1.0])
    s = np.ones(3)
    for loss in (SQUARE, LOGISTIC, HINGE):
        glm_loss_terms(loss, np.zeros(1), y, h, s, 1.0, np.empty(3), np.empty(3))
    sgd_switch(s, np.full(3, 0.5), 0.9, 0.1)

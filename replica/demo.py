"""The configuration run by ``lmech demo``: the replica phase diagram of the binary perceptron.

Bayes-optimal learning of a Rademacher (binary) teacher through a sign
channel whose labels are flipped with probability ``eps``: the equilibrium
Bayes error on the ``(alpha, eps)`` plane (39 x 13 points, both
state-evolution branches at each), with the first-order transition line to
perfect generalization and the spinodal line of the uninformed branch, both
located by :func:`replica.transitions` for each ``eps`` when the plot is
drawn.  At ``eps = 0`` they start at Györgyi's ``alpha_c ~ 1.245`` (PRA 41,
7097 (1990)) and the spinodal ``~ 1.493``.  About 5 s on 2 cores.

The 1-D version (both branches, metastable parts dashed) is
``examples/replica_binary_perceptron.toml``.

Config keys (``lmech run`` format, see :mod:`lmech.config`):

``kind``
    ``"replica.bayes_optimal"`` (see :mod:`replica.kinds`).
``[model]``
    ``prior`` (gaussian, rademacher, gauss-bernoulli, spherical), ``rho``,
    ``channel`` (sign, label-flip, probit, linear, relu), ``delta``, ``eps``.
``[grid]``
    ``alpha = {start, stop, num}`` (a second axis, e.g. ``eps`` or ``delta``,
    gives a 2-D diagram with the transition line).
``[options]``
    ``rtol`` (relative tolerance on ``V = rho - q``), ``max_iter``, ``n_quad``.
``[run]``
    ``output`` (archive), ``workers``.
"""

CONFIG = """\
kind = "replica.bayes_optimal"
title = "Bayes-optimal binary perceptron with label flips: phase diagram"

[model]
prior = "rademacher"
channel = "label-flip"

[grid]
alpha = {start = 0.2, stop = 4.0, num = 39}
eps = {start = 0.0, stop = 0.12, num = 13}

[options]
rtol = 1e-10
n_quad = 96

[run]
output = "lmech-demo.h5"
"""

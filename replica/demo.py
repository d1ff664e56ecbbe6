"""The configuration run by ``lmech demo``: the replica phase diagram of the binary perceptron.

Bayes-optimal learning of a Rademacher (binary) teacher through a sign
channel, ``alpha = n/d`` from 0.1 to 2.5: Bayes error of the uninformed
(poor-generalization) and informed (perfect-generalization) branches, with the
first-order transition (Györgyi, PRA 41, 7097 (1990): ``alpha_c ~ 1.245``)
and the spinodal of the uninformed branch (``~ 1.493``), both located by
:func:`replica.transitions` when the plot is drawn.

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
title = "Bayes-optimal binary perceptron (Rademacher prior, sign channel)"

[model]
prior = "rademacher"
channel = "sign"

[grid]
alpha = {start = 0.1, stop = 2.5, num = 49}

[options]
rtol = 1e-10
n_quad = 96

[run]
output = "lmech-demo.h5"
"""

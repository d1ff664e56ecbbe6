"""Numba kernels of the :mod:`dmft` layer, one module per method: pure functions of
float64 arrays and scalars, ``@njit(cache=True)``, behind the validating wrappers of
the method modules.

* :mod:`.uniform` -- the generic uniform-grid predictor-corrector
  (``method="uniform"``; also the start of ``"doubling"``);
* :mod:`.stationary` -- the one-time p-spin paramagnet (``"stationary"``);
* :mod:`.sampled` -- the sampled GLM effective process (``"sampled"``);
* :mod:`.doubling` -- the time-doubling p-spin integrator (``"doubling"``);
* :mod:`.common` -- the mixture polynomial ``xi`` and the RNN activations.

Each module registers its own warm-up (:func:`lmech.warmup`).
"""

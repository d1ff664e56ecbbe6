"""Numba kernels of the :mod:`validation` layer, one module per simulator: pure
functions of float64 arrays and scalars, ``@njit(cache=True)``, no globals, no
``fastmath``, behind the validating wrappers of the simulator modules.  Random
numbers are pre-drawn by the wrappers from a :class:`numpy.random.Generator` and
passed in as arrays, so a run is reproducible from its seed alone.

* :mod:`.committee` -- online SGD of the soft committee machine
  (:mod:`validation.committee`);
* :mod:`.erm` -- dual coordinate descent of the L2-penalised hinge loss
  (:mod:`validation.erm`);
* :mod:`.capacity` -- maximal stability and exhaustive binary feasibility
  (:mod:`validation.capacity`);
* :mod:`.pspin` -- Langevin dynamics of the spherical (mixed) p-spin
  (:mod:`validation.gradflow`);
* :mod:`.glm` -- GLM Langevin / persistent-SGD loss terms
  (:mod:`validation.glm`);
* :mod:`.common` -- the deterministic dot product they share.

Activations and losses are the Numba tables of :mod:`lmech.blocks`.  Each
simulator module registers its own warm-up (:func:`lmech.warmup`).
"""

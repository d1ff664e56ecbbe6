"""``dmft.solve``: integrate a model's DMFT equations with one of the :data:`METHODS`.

Contract for implementers
-------------------------
A **model** is a frozen, validated dataclass of physical parameters only
(:class:`dmft.SphericalPSpin`, :class:`dmft.LinearRegressionGF`,
:class:`dmft.RandomRNN`, :class:`dmft.GLMDynamics`).  It provides
``conventions()`` (a dict of strings stating its normalisations, copied into
every result) and the model-specific pieces a method reads from it: the
mixture coefficients ``xi_coefficients()`` of the p-spin, the activation name
and gains of the RNN, the Gaussian equivalent ``linear_equivalent()`` and the
observables ``observables(C, m)`` of the GLM.  It holds no numerical options
and does no integration.

A **method** is a function ``solve_<name>(model, t_max, *, option=default,
...) -> DMFTResult`` in its own module (:mod:`dmft.uniform`,
:mod:`dmft.stationary`, :mod:`dmft.sampled`, :mod:`dmft.doubling`), with its
Numba kernels in its own module of :mod:`dmft._kernels`.  It must

* take every numerical option as a keyword argument with its default in the
  signature (:func:`solve` rejects any other option with a TypeError naming
  the option and the method, before any work);
* validate ``t_max``, its options and the model's type, raising ValueError
  that names the parameter and its allowed range before any work;
* return a :class:`DMFTResult`, never raise, for a run that fails
  (non-finite values, a corrector that does not converge, an error estimate
  above tolerance): ``success=False`` with ``status``, ``message``;
* import :class:`DMFTResult` from :mod:`dmft.result`, never this module
  (no module of :mod:`dmft` but ``__init__`` and the sweep kinds import
  :mod:`dmft.solve`);
* declare its order of convergence in the step (``ORDER`` in its module,
  ``None`` for a Monte Carlo method), recorded in :data:`METHODS` and checked by
  ``tests/test_dmft_order.py``.

A **result** (:class:`dmft.result.DMFTResult`) holds ``success``, ``status``
(a :class:`lmech.Status`), ``message``, ``n_iter`` and ``residual`` (meaning
as in :mod:`lmech.status`, each method's docstring names its counters), the
model and the options actually used (``options["method"]`` included), the
``conventions``, ``timings``, the arrays (``t`` or ``tau`` and the two-time or
one-time observables), final-time ``scalars`` (what a sweep stores),
``error_estimate`` (the estimated absolute error of each main observable;
``success`` requires every estimate within the method's ``rtol``, where it has
one) and ``meta["method"]``.

Methods
-------
``"uniform"`` (:func:`dmft.uniform.solve_uniform`)
    Second-order predictor–corrector on a uniform grid with trapezoid memory
    integrals; Richardson-extrapolated from ``dt/2`` and ``dt`` with an error
    estimate from ``2 dt`` by default.  Every model (the GLM with the square
    loss at full batch only).  Cost ``O(n^3)``, memory ``O(n^2)``.
``"stationary"`` (:func:`dmft.stationary.solve_stationary`)
    One-time solver of the time-translation-invariant state: the p-spin
    paramagnet (``T > 0``, assuming FDT) and the chaotic RNN
    (Sompolinsky–Crisanti–Sommers).
``"sampled"`` (:func:`dmft.sampled.solve_sampled`)
    Monte Carlo over trajectories of the GLM effective process (every loss of :mod:`lmech.blocks.losses` with a kernel,
    Langevin noise, persistent SGD).
``"doubling"`` (:func:`dmft.doubling.solve_doubling`)
    Time-doubling (Kim–Latz type) integrator of the spherical p-spin with a
    fixed window of points, for long and aging runs; checkpoints through an
    injected backend.
"""

from __future__ import annotations

import inspect
from typing import Callable, NamedTuple

from lmech.checks import check_choice, check_options

from . import doubling, sampled, stationary, uniform
from .glm import GLMDynamics
from .linreg import LinearRegressionGF
from .pspin import SphericalPSpin
from .result import DMFTResult
from .rnn import RandomRNN

__all__ = ["solve", "METHODS", "Method", "AUTO_DOUBLING_T_MAX"]


class Method(NamedTuple):
    """An entry of :data:`METHODS`."""

    #: ``solve_<name>(model, t_max, *, options...) -> DMFTResult``
    solve: Callable[..., DMFTResult]
    #: models it accepts
    models: tuple
    #: order of convergence of its integrator in the step (``extrapolate=False`` where
    #: the method extrapolates); None for a Monte Carlo method
    order: int | None
    #: order of the Richardson-extrapolated output (the default), where it is a single
    #: power of the step; None otherwise
    extrapolated_order: int | None
    #: options that only some of its models use: name -> those models (:func:`solve`
    #: refuses the option for any other model with a TypeError)
    model_options: dict = {}


#: The methods of :func:`solve`, by name, with their declared orders (checked by
#: ``tests/test_dmft_order.py``).
METHODS = {
    "uniform": Method(uniform.solve_uniform,
                      (SphericalPSpin, RandomRNN, LinearRegressionGF, GLMDynamics),
                      uniform.ORDER, uniform.ORDER_EXTRAPOLATED,
                      {"n_quad": (RandomRNN,), "closed_form": (RandomRNN,)}),
    "stationary": Method(stationary.solve_stationary, (SphericalPSpin, RandomRNN),
                         stationary.ORDER, stationary.ORDER_EXTRAPOLATED,
                         {"n_quad": (RandomRNN,), "tol": (SphericalPSpin,),
                          "max_corrector": (SphericalPSpin,), "extrapolate": (SphericalPSpin,)}),
    "sampled": Method(sampled.solve_sampled, (GLMDynamics,), sampled.ORDER, None),
    "doubling": Method(doubling.solve_doubling, (SphericalPSpin,), doubling.ORDER, None),
}

#: With ``method="auto"``, a :class:`SphericalPSpin` run longer than this goes to
#: ``"doubling"`` (the uniform grid costs O((t_max/dt)^3)).
AUTO_DOUBLING_T_MAX = 50.0

#: Options that keep ``method="auto"`` on the uniform grid: those of
#: :func:`dmft.uniform.solve_uniform` that ``"doubling"`` does not share in meaning
#: (``tol`` and ``max_corrector`` are common to both).
_UNIFORM_ONLY = frozenset({"dt", "rtol_corrector", "n_quad", "closed_form", "extrapolate",
                           "rtol", "resume"})


def _options_of(name: str) -> tuple[str, ...]:
    """The keyword options of method ``name`` (its signature after ``model, t_max``)."""
    sig = inspect.signature(METHODS[name].solve)
    return tuple(p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY)


def solve(model, t_max, method: str = "auto", **options) -> DMFTResult:
    """Solve the DMFT equations of ``model`` on ``[0, t_max]``.

    Parameters
    ----------
    model : SphericalPSpin, LinearRegressionGF, RandomRNN or GLMDynamics
    t_max : float
        Final time (``> 0``); for ``"stationary"`` the largest lag.
    method : {"auto", "uniform", "stationary", "sampled", "doubling"}, optional
        The entry of :data:`METHODS`.  ``"auto"`` (default) chooses
        ``"doubling"`` for a :class:`SphericalPSpin` when no option of the
        uniform grid other than ``tol`` and ``max_corrector`` is given
        (``dt``, ``extrapolate``, ``rtol``, ``rtol_corrector``, ``n_quad``,
        ``closed_form``, ``resume``) and either ``t_max > 50``
        (:data:`AUTO_DOUBLING_T_MAX`) or an option that only ``"doubling"``
        has is given (``n_window``, ``dt0``, ...); in every other case
        (including every other model: a :class:`GLMDynamics` without a
        Gaussian closure is refused by ``"uniform"``, naming the parameter)
        it chooses ``"uniform"``.  An automatic ``"doubling"`` is recorded in
        ``result.meta["method_choice"]`` and stated in the message.
    **options
        The keyword options of the method's function, with the defaults of
        its signature: :func:`dmft.uniform.solve_uniform`,
        :func:`dmft.stationary.solve_stationary`,
        :func:`dmft.sampled.solve_sampled`,
        :func:`dmft.doubling.solve_doubling`.

    Returns
    -------
    DMFTResult
        See the contract in this module's docstring; ``options["method"]``
        is the method used.

    Raises
    ------
    TypeError
        For an option the method does not take, or one it uses only for other
        models (``Method.model_options``: ``n_quad`` of the RNN, ...), naming
        the option and the method.
    ValueError
        On invalid input (naming the parameter), before any work; also when
        the run's memory, estimated up front, would not fit (naming the
        parameters that set it: ``t_max``/``dt``, ``n_window``, ``n_traj``).

    Warns
    -----
    dmft.cost.CostWarning
        When the run is expected to take longer than
        :data:`dmft.cost.SLOW_SECONDS` (the message states the estimate).
    """
    auto = method == "auto"
    if auto:
        method = _auto_method(model, t_max, options)
    else:
        method = check_choice("method", method, tuple(METHODS))
    check_options(options, _options_of(method), f"dmft.solve(method={method!r})")
    entry = METHODS[method]
    if not isinstance(model, entry.models):
        raise ValueError(f"model: method {method!r} takes "
                         f"{', '.join(c.__name__ for c in entry.models)}; got "
                         f"{type(model).__name__}")
    for name, owners in entry.model_options.items():
        if name in options and not isinstance(model, owners):
            raise TypeError(f"dmft.solve(method={method!r}): option {name} does not apply to "
                            f"{type(model).__name__} (only to "
                            f"{', '.join(c.__name__ for c in owners)})")
    res = METHODS[method].solve(model, t_max, **options)
    if auto and method == "doubling":
        why = (f"t_max > {AUTO_DOUBLING_T_MAX:g}" if t_max > AUTO_DOUBLING_T_MAX
               else "doubling options given")
        _note_auto(res, "doubling", why)
    return res


def _auto_method(model, t_max, options):
    """The method chosen by ``method="auto"`` (see :func:`solve`)."""
    doubling_only = set(_options_of("doubling")) - set(_options_of("uniform"))
    if not isinstance(model, SphericalPSpin) or _UNIFORM_ONLY & set(options):
        return "uniform"
    if doubling_only & set(options):
        return "doubling"
    if isinstance(t_max, (int, float)) and t_max > AUTO_DOUBLING_T_MAX:
        return "doubling"
    return "uniform"


def _note_auto(res, method, why):
    res.options["method"] = method
    res.meta["method_choice"] = f"automatic: {method!r} ({why})"
    res.__dict__["message"] = f"{res.message} [method {method!r} chosen automatically: {why}]"

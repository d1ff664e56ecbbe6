"""One vocabulary of solver outcomes: :class:`Status`.

Every :class:`lmech.result.Result` carries ``status`` (an int, archived as
such) and ``success``.  ``status`` is one of the members of :class:`Status`.
For a solver, ``success`` is True only with :attr:`Status.CONVERGED` and
:attr:`Status.STOPPED` (an event ended the run before its horizon, as asked).
A comparison report (:mod:`validation`) answers a different question: its
``success`` says every simulation ran and the theory converged, and its status
is the verdict (``CONVERGED`` for agree, ``INCONCLUSIVE``, ``DISAGREE``).

The two bookkeeping fields mean the same thing in every layer:

``n_iter``
    The number of passes of the solver's main loop: iterations of a
    fixed-point or Newton solve, accepted steps of a time integrator,
    simulation steps (or runs) of a simulator.  Each result's docstring names
    which.
``residual``
    The size of what the solver drives to zero, in the solver's own norm
    (fixed-point increment, equation residual, corrector increment), at the
    returned state; ``nan`` where no equation is solved (a plain simulation).
    A comparison report (:mod:`validation`) stores its largest ``|z|`` there.
    It is not the error of the answer: that is ``error_estimate``.

Archives written before this vocabulary (result groups without the attribute
``status_vocabulary``) held each solver's own codes; :func:`legacy_status`
translates them on load with the table each result kind declares
(``Result.LEGACY_STATUS``), and the loaded result keeps the original code in
``meta["legacy_status"]``.
"""

from __future__ import annotations

import enum

__all__ = ["Status", "VOCABULARY", "legacy_status"]

#: the value of a result group's ``status_vocabulary`` attribute written with this vocabulary
VOCABULARY = 1


class Status(enum.IntEnum):
    """Outcome of a solve.  Non-negative values are not failures of the solver
    (``INCOMPLETE``, ``INCONCLUSIVE`` and ``DISAGREE`` report on the *answer*
    of a sweep or a comparison); negative values are failures."""

    #: converged: every error estimate within the requested tolerance
    CONVERGED = 0
    #: stopped by a requested event before the horizon (e.g. ``eg_tol`` reached)
    STOPPED = 1
    #: a sweep or batch with points missing or undecided
    INCOMPLETE = 2
    #: a comparison without the power to decide
    INCONCLUSIVE = 3
    #: a comparison whose confidence interval lies outside the tolerance
    DISAGREE = 4
    #: the iteration or step budget ran out before convergence
    MAX_ITER = -1
    #: the state blew up (non-finite values or an order parameter beyond its bound)
    DIVERGED = -2
    #: the state left its domain (a negative variance, a non-PSD covariance, m^2 > rho q)
    INVALID_STATE = -3
    #: converged, but an error estimate is above the requested tolerance
    TOLERANCE = -4
    #: the error of a main observable could not be estimated
    NO_ESTIMATE = -5
    #: no solution exists for this model (e.g. max-margin on non-separable data)
    NO_SOLUTION = -6
    #: the computation raised an exception (a sweep point; the message holds it)
    RAISED = -7
    #: the worker process running the computation died
    WORKER_DIED = -8
    #: failed, with a code written before this vocabulary that names no cause (see the message)
    FAILED = -9

    @property
    def message(self) -> str:
        """One line saying what the status means."""
        return _MESSAGES[self]

    @property
    def failed(self) -> bool:
        """True for the solver failures (negative values)."""
        return self.value < 0


_MESSAGES = {
    Status.CONVERGED: "converged to the requested tolerance",
    Status.STOPPED: "stopped by a requested event before the horizon",
    Status.INCOMPLETE: "some points are missing or undecided",
    Status.DISAGREE: "theory and simulation disagree beyond the tolerance",
    Status.INCONCLUSIVE: "the comparison lacks the power to decide",
    Status.MAX_ITER: "the iteration or step budget ran out",
    Status.DIVERGED: "the state diverged (non-finite values or beyond its bound)",
    Status.INVALID_STATE: "the state left its domain (negative variance, non-PSD covariance)",
    Status.TOLERANCE: "an error estimate is above the requested tolerance",
    Status.NO_ESTIMATE: "the error of a main observable could not be estimated",
    Status.NO_SOLUTION: "no solution exists for this model",
    Status.RAISED: "the computation raised an exception",
    Status.WORKER_DIED: "the worker process running the computation died",
    Status.FAILED: "failed (a code from before the shared vocabulary; the message says why)",
}


def legacy_status(code: int, success: bool, table: dict | None = None) -> Status:
    """The :class:`Status` of a code written before the shared vocabulary.

    ``table`` maps the kind's old codes to members (its ``LEGACY_STATUS``);
    otherwise a successful result is :attr:`Status.CONVERGED` and a failed one
    :attr:`Status.FAILED` (the old codes named no cause that can be trusted).
    """
    if table and code in table:
        return Status(table[code])
    return Status.CONVERGED if success else Status.FAILED

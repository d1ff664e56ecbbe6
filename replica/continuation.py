"""``replica.continuation``: follow a branch of saddle points, each solve warm-started from the last.

Generic over the replica models: it calls the dispatcher :func:`replica.solve`,
so it lives beside it and no model module imports the dispatcher.
"""

from __future__ import annotations

import dataclasses

from .solve import solve

__all__ = ["continuation"]


def continuation(model, values, *, param="alpha", init="uninformed", solver=None, **options):
    """Follow a branch along ``values`` of ``param``, each solve warm-started from the last.

    ``values`` may run in either direction (increasing alpha follows the
    uninformed branch to its spinodal; decreasing from an informed start
    follows the informed one down).  ``param`` is ``"alpha"`` or a model
    field, dotted for nested blocks (``"reg"`` for ERM, ``"channel.eps"``,
    ``"prior.rho"``), replaced with :func:`dataclasses.replace`; then
    ``alpha=`` must be given.  Returns the list of results; a failed
    solve does not stop the continuation but restarts the next from ``init``.
    """

    def replaced(obj, path, v):
        head, _, rest = path.partition(".")
        if not dataclasses.is_dataclass(obj) or head not in {f.name for f in dataclasses.fields(obj)}:
            raise ValueError(f"param must be 'alpha' or a (dotted) field of the model, got {param!r}")
        new = replaced(getattr(obj, head), rest, v) if rest else v
        return dataclasses.replace(obj, **{head: new})

    out = []
    state = init
    fixed = dict(options)
    alpha = fixed.pop("alpha", None)
    if param != "alpha":
        if alpha is None:
            raise ValueError("alpha: give alpha=... when continuing in a model parameter")
        replaced(model, param, values[0])  # validate the name before any work
    for v in values:
        if param == "alpha":
            res = solve(model, v, init=state, **fixed)
        else:
            res = solve(replaced(model, param, v), alpha, init=state, **fixed)
        out.append(res)
        state = res if res.success else init
    return out

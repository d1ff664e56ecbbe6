"""One house style for every figure ``lmech`` draws, and axis labels with symbols and meaning.

:data:`STYLE` is a matplotlib rc dictionary (used through :func:`style`):
serif text at sizes readable in a two-column paper, the Okabe–Ito
colour-blind-safe cycle, light frames, legends on an opaque box, 300 dpi
raster output (PDF and SVG by file extension stay vector).

:func:`axis_label` turns a parameter or observable name into
``"symbol, meaning"`` (``"$\\eta$, learning rate"``): the symbol from
:data:`SYMBOLS`, the meaning from the parameter's declared help text
(:func:`lmech.spec.param`) when the sweep kind is known.
"""

from __future__ import annotations

import contextlib

__all__ = ["STYLE", "SYMBOLS", "MEANINGS", "axis_label", "style", "relabel"]

#: Okabe & Ito (2008) colour-blind-safe palette (black last: kept for reference lines)
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.figsize": (6.4, 4.4),
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 11,
    "legend.fontsize": 8,
    "legend.framealpha": 0.92,
    "legend.facecolor": "white",
    "legend.edgecolor": "0.6",
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.prop_cycle": __import__("cycler").cycler(color=OKABE_ITO),
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.6,
    "lines.markersize": 5,
    "errorbar.capsize": 2.5,
    "mathtext.fontset": "cm",
}

#: symbols of the names the layers use (LaTeX for matplotlib's mathtext)
SYMBOLS = {
    "alpha": r"$\alpha$", "lr": r"$\eta$", "eta": r"$\eta$", "eps": r"$\epsilon$", "T": r"$T$",
    "temperature": r"$T$", "g": r"$g$", "kappa": r"$\kappa$", "margin": r"$\kappa$", "r0": r"$r_0$",
    "q0": r"$q_0$", "reg": r"$\lambda$", "ridge": r"$\lambda$", "delta": r"$\Delta$", "noise": r"$\sigma^2$",
    "rho": r"$\rho$", "K": r"$K$", "M": r"$M$", "N": r"$N$", "p": r"$p$", "t": r"$t$", "t_max": r"$t_{\max}$",
    "beta": r"$\beta$", "weight_decay": r"$\gamma$", "eg": r"$\epsilon_g$", "energy": r"$e$",
    "energy_reference": r"$e_{\mathrm{ref}}$", "test_error": r"$\epsilon_g$", "train_loss": r"$\ell_{\mathrm{train}}$",
    "q": r"$q$", "m": r"$m$", "V": r"$V$", "t_escape": r"$t_{\mathrm{esc}}$",
    "plateau_length": r"$\tau_{\mathrm{plateau}}$", "eg_bayes": r"$\epsilon_g^{\mathrm{Bayes}}$",
    "mse": "MSE", "test_risk": r"$\mathcal{R}$", "seed": "seed",
}

#: meanings of observables (parameters take theirs from the kind's help text)
MEANINGS = {
    "eg": "generalisation error", "energy": "energy per spin", "energy_reference": "reference energy",
    "test_error": "test error", "train_loss": "training loss", "t_escape": "plateau escape time",
    "plateau_length": "plateau length", "eg_bayes": "Bayes-optimal error", "test_risk": "test risk",
    "q": "student self-overlap", "m": "teacher-student overlap", "alpha": "samples per dimension n/d",
    "lr": "learning rate", "eps": "label-flip probability", "N": "system size",
}


def _help(kind, name: str) -> str:
    if kind is None:
        return ""
    for table in (getattr(kind, "params", {}), getattr(kind, "options", {})):
        p = table.get(name)
        if p is not None and getattr(p, "help", ""):
            return p.help
    return ""


def axis_label(name: str, kind=None) -> str:
    """``"symbol, meaning"`` for ``name``: e.g. ``axis_label("lr")`` is ``"$\\eta$, learning rate"``.

    The meaning is the kind's declared help text when ``kind`` (a
    :class:`lmech.config.SweepKind`) declares ``name``, else :data:`MEANINGS`;
    an unknown name is returned as it is.
    """
    meaning = _help(kind, name) or MEANINGS.get(name, "")
    sym = SYMBOLS.get(name)
    if sym and meaning:
        return f"{sym}, {meaning}"
    if sym:
        return sym
    return f"{name}, {meaning}" if meaning else name


def relabel(fig, kind=None, names=()) -> None:
    """Replace axis and colour-bar labels that are bare names (``"lr"``) by :func:`axis_label`.

    Only labels equal to one of ``names`` or to a key of :data:`SYMBOLS` are
    touched; labels a plot wrote itself stay as they are.
    """
    known = set(names) | set(SYMBOLS)
    for ax in fig.axes:
        for get, set_ in ((ax.get_xlabel, ax.set_xlabel), (ax.get_ylabel, ax.set_ylabel)):
            text = get()
            if text in known:
                set_(axis_label(text, kind))


@contextlib.contextmanager
def style():
    """``with style(): ...`` draws in the house style (:data:`STYLE`)."""
    import matplotlib.pyplot as plt

    with plt.style.context(STYLE):
        yield

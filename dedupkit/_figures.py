"""What every dedupkit figure shares: the colours (Okabe-Ito) and how a figure or Axes is made when none is given.

Used by :mod:`dedupkit.plotting`, :mod:`dedupkit._galleries` and :mod:`dedupkit.explain`.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

__all__ = ["DIFFERENT", "DUPLICATE", "FOUND", "KEEP", "RANDOM", "THRESHOLD", "UNLABELLED", "axes_or_new", "bits_text",
           "figure_or_new"]

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
DUPLICATE, DIFFERENT, UNLABELLED, FOUND = "#0072B2", "#D55E00", "#999999", "#56B4E9"
RANDOM, THRESHOLD, KEEP = "#333333", "#009E73", "#009E73"


def bits_text(n: int) -> str:
    """``"1 bit"``, ``"5 bits"``."""
    return f"{n} bit" if n == 1 else f"{n} bits"


def axes_or_new(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax``, or the Axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # noqa: PLC0415 - pyplot (a backend) only when a figure is made here

    return plt.figure(figsize=figsize, layout="constrained").add_subplot()


def figure_or_new(fig: Figure | SubFigure | None, figsize: tuple[float, float]) -> Figure | SubFigure:
    """``fig``, or a new figure of ``figsize`` inches."""
    if fig is not None:
        return fig
    import matplotlib.pyplot as plt  # noqa: PLC0415 - pyplot (a backend) only when a figure is made here

    return plt.figure(figsize=figsize, layout="constrained")

"""Galleries of pictures: pairs side by side, groups in rows (each in one Axes of a Figure or SubFigure).

Reached as ``dedupkit.plotting.plot_pair_gallery`` and
``dedupkit.plotting.plot_group_gallery``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle

from ._figures import DIFFERENT, KEEP, THRESHOLD, bits_text, figure_or_new
from .thumbnails import mosaic, prefetch

__all__ = ["plot_group_gallery", "plot_pair_gallery"]


def short_names(paths: Sequence[str]) -> dict[str, str]:
    """Short display names: paths relative to their common folder, long ones cut in the middle."""
    paths = [str(p) for p in paths]
    if not paths:
        return {}
    try:
        common = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    except ValueError:  # different drives
        common = ""
    names = {}
    for path in paths:
        name = os.path.relpath(os.path.abspath(path), common) if common else path
        names[path] = name if len(name) <= 30 else name[:13] + "\u2026" + name[-16:]
    return names


def _image_axes(ax: Axes, image: np.ndarray, centres: Sequence[float], labels: Sequence[str]) -> None:
    ax.imshow(image, interpolation="antialiased")
    ax.set_xticks(centres, labels, fontsize="small")
    ax.set_yticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_pair_gallery(
    pairs: pd.DataFrame,
    *,
    threshold: int | None = None,
    ncols: int = 3,
    size: int = 160,
    title: str | None = None,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Pairs side by side: both thumbnails, both file names, the distance.

    Parameters
    ----------
    pairs
        The pairs to show, in order (``path_a``, ``path_b``, ``distance``;
        ``duplicate`` when known). Keep it short: one Axes per pair.
    threshold
        Say for each pair whether it is within the threshold (green) or not (red).
    ncols
        Pairs per row.
    size
        Thumbnail size in pixels.
    title
        Title above the gallery.
    fig
        A Figure or SubFigure to draw on; default: a new figure sized to fit.

    Returns
    -------
    matplotlib.figure.Figure or SubFigure
        One Axes (with one image) per pair, titled with its distance.
    """
    n = len(pairs)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = figure_or_new(fig, (3.9 * ncols, 2.3 * max(nrows, 1) + 0.5))
    if title:
        fig.suptitle(title)
    if n == 0:
        fig.text(0.5, 0.5, "no pairs to show", ha="center", va="center")
        return fig
    prefetch(pd.concat([pairs["path_a"], pairs["path_b"]]).astype(str), size=size)
    names = short_names(pd.concat([pairs["path_a"], pairs["path_b"]]).astype(str).tolist())
    gap = size // 12
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, row in zip(axes, pairs.itertuples(index=False)):
        a, b = str(row.path_a), str(row.path_b)
        image, _ = mosaic([a, b], size=size, gap=gap)
        _image_axes(ax, image, [size / 2, 1.5 * size + gap], [names[a], names[b]])
        text, colour = f"distance {bits_text(row.distance)}", "black"
        if threshold is not None:
            inside = row.distance <= threshold
            text += (" \u2264 " if inside else " > ") + str(threshold)
            colour = THRESHOLD if inside else DIFFERENT
        duplicate = getattr(row, "duplicate", None)
        if duplicate is not None and not pd.isna(duplicate):
            text += " \u00b7 same picture" if duplicate else " \u00b7 different"
        ax.set_title(text, color=colour, fontsize="medium")
    return fig


def plot_group_gallery(
    groups: pd.DataFrame,
    *,
    by: str = "size",
    max_groups: int = 5,
    max_members: int = 6,
    size: int = 140,
    title: str | None = None,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Duplicate groups, one row each, the kept file framed in green.

    Parameters
    ----------
    groups
        A group table from :func:`dedupkit.find_groups`.
    by
        Which groups to show: ``"size"`` (the largest first) or
        ``"diameter"`` (the widest first: the most different members, where
        a chain of small steps may have joined unlike pictures).
    max_groups
        Rows to draw.
    max_members
        Thumbnails per row; the rest are counted in the row's title.
    size
        Thumbnail size in pixels.
    title
        Title above the gallery; default says what is shown.
    fig
        A Figure or SubFigure to draw on; default: a new figure sized to fit.

    Returns
    -------
    matplotlib.figure.Figure or SubFigure
        One Axes (one image, one green frame on the kept file) per group.
    """
    if by not in ("size", "diameter"):
        raise ValueError(f"by must be 'size' or 'diameter', got {by!r}")
    heads = groups.drop_duplicates("group").sort_values([by, "group"], ascending=[False, True])
    chosen = heads["group"].head(max_groups).tolist()
    shown = groups[groups["group"].isin(chosen)].groupby("group", sort=False).head(max_members)
    columns = int(shown.groupby("group").size().max()) if len(shown) else 1
    fig = figure_or_new(fig, (max(2.0 * columns + 0.5, 7.0), 2.1 * max(len(chosen), 1) + 0.5))
    fig.suptitle(title or f"The {len(chosen)} {'largest' if by == 'size' else 'widest'} of "
                          f"{len(heads)} duplicate groups (green frame: the file kept)")
    if not chosen:
        fig.text(0.5, 0.5, "no duplicate groups", ha="center", va="center")
        return fig
    prefetch(shown["path"].astype(str), size=size)
    names = short_names(shown["path"].astype(str).tolist())
    gap = size // 12
    full = columns * (size + gap) - gap  # every row drawn at the same scale
    for ax, group in zip(np.atleast_1d(fig.subplots(len(chosen), 1)).ravel(), chosen):
        members = groups[groups["group"] == group]
        first = shown[shown["group"] == group]
        paths = first["path"].astype(str).tolist()
        image, boxes = mosaic(paths, size=size, gap=gap)
        above = (size - image.shape[0]) // 2
        image = np.pad(image, ((above, size - image.shape[0] - above), (0, full - image.shape[1]), (0, 0)),
                       constant_values=255)
        boxes = [(left, top + above, width, height) for left, top, width, height in boxes]
        labels = [("keep: " if keep else "") + names[p] for p, keep in zip(paths, first["keep"])]
        _image_axes(ax, image, [i * (size + gap) + size / 2 for i in range(len(paths))], labels)
        for (left, top, width, height), keep, tick in zip(boxes, first["keep"], ax.get_xticklabels()):
            if keep:
                ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False,
                                       edgecolor=KEEP, linewidth=4))
                tick.set_color(KEEP)
                tick.set_fontweight("bold")
        more = len(members) - len(first)
        ax.set_title(f"group {group}: {len(members)} files, diameter {bits_text(int(members['diameter'].iloc[0]))}"
                     + (f" ({more} more not shown)" if more else ""), fontsize="medium", loc="left")
    return fig

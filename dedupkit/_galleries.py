"""Galleries of pictures: pairs side by side, groups in rows (each in one Axes of a Figure or SubFigure).

Reached as ``dedupkit.plotting.plot_pair_gallery`` and
``dedupkit.plotting.plot_group_gallery``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle

from ._figures import DIFFERENT, KEEP, THRESHOLD, bits_text, figure_or_new
from ._keys import is_elsewhere, locate
from .loading import ImageLoadError
from .opener import image_file
from .thumbnails import mosaic, prefetch

__all__ = ["plot_group_gallery", "plot_pair_gallery"]

_CHAR_WIDTH = 0.68  # a wide character of the default sans-serif font, in ems: labels measured not to overlap
_PER_ROW = 8  # thumbnails per row when a gallery shows every member of a group


def _located(paths: Sequence[str], root: str | os.PathLike | None) -> dict[str, str]:
    """Where each file of a table is (under ``root`` when relative); warns once when some cannot be found."""
    where = {p: locate(root, p) for p in dict.fromkeys(paths)}
    missing = []
    for found in where.values():
        try:
            target = image_file(found, fetch=False)  # a file's path, a URL or shard member, a row of an open table
        except ImageLoadError:
            target = None
        if target is None or isinstance(target, str) and not is_elsewhere(target) and not os.path.exists(target):
            missing.append(found)
    if missing:
        hint = ("pass root= (the folder the table's paths are relative to)" if root is None and any(
            not os.path.isabs(p) for p in missing) else "were they moved or deleted?")
        warnings.warn(f"{len(missing)} of {len(where)} files in this gallery cannot be read and are drawn as grey "
                      f"tiles (first: {missing[0]}): {hint}", UserWarning, stacklevel=3)
    return where


def _relative(paths: Sequence[str]) -> dict[str, str]:
    """Display names: paths relative to their common folder."""
    paths = [str(p) for p in paths]
    if not paths:
        return {}
    try:
        common = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    except ValueError:  # different drives
        common = ""
    return {path: os.path.relpath(os.path.abspath(path), common) if common else path for path in paths}


def short_names(paths: Sequence[str]) -> dict[str, str]:
    """Short display names on one line: relative paths (:func:`_relative`), long ones cut in the middle."""
    return {path: _middle(name, 30) for path, name in _relative(paths).items()}


def _chars(inches: float) -> int:
    """How many characters of a ``small`` tick label fit in ``inches`` (a label's share of the row)."""
    from matplotlib.font_manager import FontProperties  # noqa: PLC0415

    points = FontProperties(size="small").get_size_in_points()
    return max(8, int(inches * 72 / (points * _CHAR_WIDTH)))


def _inches(fig: Figure | SubFigure) -> float:
    """The width of a figure or sub-figure, in inches."""
    return float(fig.bbox.width / fig.figure.dpi)


def _caption(name: str, width: int, lines: int = 3) -> str:
    """A relative path wrapped at its slashes into at most ``lines`` lines of ``width`` characters.

    The file name takes the last lines, wrapped rather than cut (after a
    ``-``, ``_``, ``.`` or space where it can), so that names that differ only
    in the middle (``Mate-Cold-no-logo.png``, ``Mate-Warm-no-logo.png``) still
    read apart under their pictures; a name longer than its lines is cut in
    the middle. The folders fill the lines above (at least one line when there
    are folders), the deepest kept, and folders that do not fit become ``…/``.
    """
    *folders, file = name.replace(os.sep, "/").split("/")
    out = _wrap(file, width, lines - 1 if folders else lines)
    room = lines - len(out)  # lines left for the folders
    above: list[str] = []
    line = ""
    for folder in reversed(folders):
        part = _middle(folder, width - 1) + "/"
        if len(part) + len(line) <= width:
            line = part + line
            continue
        if len(above) == room - 1:  # no line left: say that folders are missing
            line = ("\u2026/" + line) if len(line) + 2 <= width else _middle("\u2026/" + line, width)
            break
        if line:
            above.insert(0, line)
        line = part
    if line:
        above.insert(0, line)
    return "\n".join([*above, *out][-lines:])


def _wrap(text: str, width: int, lines: int) -> list[str]:
    """``text`` in at most ``lines`` lines of ``width`` characters, broken after a separator where one is near the
    end of a line; cut in the middle first when it cannot fit."""
    if len(text) <= width:
        return [text]
    text = _middle(text, width * lines)
    out, rest = [], text
    while len(rest) > width:
        cut = max(rest.rfind(mark, 0, width) for mark in "-_. ") + 1
        cut = cut if cut > width // 2 else width
        out.append(rest[:cut])
        rest = rest[cut:]
    out.append(rest)
    if len(out) > lines:  # short lines at the separators: plain lines of ``width`` always fit
        out = [text[k : k + width] for k in range(0, len(text), width)]
    return out


def _middle(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters (an ellipsis marks the cut)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "\u2026" + text[len(text) - (width - 1 - head):]


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
    root: str | os.PathLike | None = None,
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
    root
        The folder that relative paths in ``pairs`` are relative to (the
        folder ``dedupkit find`` scanned, for its CSVs); default: the
        working directory.
        A file that cannot be read is a grey tile, and a warning says how many.
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
    where = _located(pd.concat([pairs["path_a"], pairs["path_b"]]).astype(str).tolist(), root)
    prefetch(list(where.values()), size=size)
    names = _relative(list(where))
    width = _chars(_inches(fig) * 0.8 / (2 * ncols))  # two labels per pair, margins between pairs
    names = {path: _caption(name, width) for path, name in names.items()}
    gap = size // 12
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, row in zip(axes, pairs.itertuples(index=False)):
        a, b = str(row.path_a), str(row.path_b)
        image, _ = mosaic([where[a], where[b]], size=size, gap=gap)
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
    max_members: int | None = 6,
    size: int = 140,
    title: str | None = None,
    root: str | os.PathLike | None = None,
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
        Groups to draw.
    max_members
        Thumbnails per group; a group with more ends in a "+N more" tile, and
        its title says how to see them all. ``None``: every member, 8 to a
        row (e.g. ``plot_group_gallery(groups[groups.group == 7],
        max_members=None)`` for one large group).
    size
        Thumbnail size in pixels.
    title
        Title above the gallery; default says what is shown.
    root
        The folder that relative paths in ``groups`` are relative to (the
        folder ``dedupkit find`` scanned, for its CSVs); default: the
        working directory. A file that cannot be read is a grey
        tile, and a warning says how many.
    fig
        A Figure or SubFigure to draw on; default: a new figure sized to fit.

    Returns
    -------
    matplotlib.figure.Figure or SubFigure
        One Axes per row of thumbnails (one per group unless ``max_members``
        is ``None``), the group's title on its first; one green frame on the
        kept file. Each file is named by its path relative to the files'
        common folder, wrapped at its slashes to fit under its thumbnail.
    """
    if by not in ("size", "diameter"):
        raise ValueError(f"by must be 'size' or 'diameter', got {by!r}")
    if max_members is not None and (isinstance(max_members, bool) or not isinstance(max_members, (int, np.integer))
                                    or max_members < 1):
        raise ValueError(f"max_members must be a whole number >= 1 or None, got {max_members!r}")
    heads = groups.drop_duplicates("group").sort_values([by, "group"], ascending=[False, True])
    chosen = heads["group"].head(max_groups).tolist()
    members_of = {g: groups[groups["group"] == g] for g in chosen}
    rows = []  # (group, the row's members, first row of its group, files left out)
    for g in chosen:
        members = members_of[g]
        if max_members is None:
            rows += [(g, members.iloc[i:i + _PER_ROW], i == 0, 0) for i in range(0, len(members), _PER_ROW)]
        else:
            rows.append((g, members.head(max_members), True, max(len(members) - max_members, 0)))
    columns = max((len(r[1]) + (1 if r[3] else 0) for r in rows), default=1)
    fig = figure_or_new(fig, (max(2.0 * columns + 0.5, 7.0), 2.7 * max(len(rows), 1) + 0.6))
    fig.suptitle(title or f"The {len(chosen)} {'largest' if by == 'size' else 'widest'} of "
                          f"{len(heads)} duplicate groups (green frame: the file kept)")
    if not chosen:
        fig.text(0.5, 0.5, "no duplicate groups", ha="center", va="center")
        return fig
    shown = pd.concat([r[1] for r in rows])
    where = _located(shown["path"].astype(str).tolist(), root)
    prefetch(list(where.values()), size=size)
    width = _chars((_inches(fig) - 0.5) * 0.92 / columns)
    names = {path: _caption(name, width) for path, name in _relative(shown["path"].astype(str).tolist()).items()}
    gap = size // 12
    full = columns * (size + gap) - gap  # every row drawn at the same scale
    for ax, (group, first, opening, more) in zip(np.atleast_1d(fig.subplots(len(rows), 1)).ravel(), rows):
        members = members_of[group]
        paths = first["path"].astype(str).tolist()
        image, boxes = mosaic([where[p] for p in paths], size=size, gap=gap)
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
        if more:  # in the next slot: how many more, on a grey tile
            ax.text(len(paths) * (size + gap) + size / 2, size / 2, f"+{more} more", ha="center", va="center",
                    fontsize="large", color="#444444",
                    bbox={"boxstyle": "round,pad=0.8", "facecolor": "#eeeeee", "edgecolor": "#999999"})
        if opening:
            hint = f" (+{more} more: max_members=None shows them all)" if more else ""
            ax.set_title(f"group {group}: {len(members)} files, diameter "
                         f"{bits_text(int(members['diameter'].iloc[0]))}{hint}", fontsize="medium", loc="left")
    return fig

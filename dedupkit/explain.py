"""Explain a verdict: the two pictures side by side, the feature matches that agree, the overlap.

:func:`plot_match` draws what :func:`dedupkit.verify.verify_features`
decided for one pair: A on the left, B on the right, each inlier match of
the fitted model joined by a line, the part of A that B shows boxed on A and
the part of B that shows A boxed on B, titled with
:func:`dedupkit.verify.relation` ("B is a 70% crop of A, turned 4°
clockwise") or the reason the pair was rejected. :func:`plot_match_gallery`
draws several pairs of a pair table, one row each.

Like :mod:`dedupkit.plotting` this module imports matplotlib, so the package
imports it only on first use (``dedupkit.explain``); nothing here calls
``plt.show()``.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import ConnectionPatch, Polygon, Rectangle
from matplotlib.patheffects import Normal, Stroke

from ._checks import check_int
from ._figures import DIFFERENT, THRESHOLD, figure_or_new
from ._galleries import short_names
from .thumbnails import placeholder, thumbnail
from .verify import MIN_INLIERS, Match, relation, verify_features

__all__ = ["plot_match", "plot_match_gallery"]

# Okabe-Ito: yellow lines and sky-blue boxes stand out on most photos (a dark edge does the rest)
LINE, BOX, FRAME = "#F0E442", "#56B4E9", "#E69F00"
_SHADE = "#f2f2f2"
_EDGE = [Stroke(linewidth=3.2, foreground="black", alpha=0.6), Normal()]
_THIN_EDGE = [Stroke(linewidth=2.2, foreground="black", alpha=0.35), Normal()]


def _verify(path_a: str, path_b: str) -> tuple[Match, tuple[int, int] | None, tuple[int, int] | None]:
    """The verdict with its inlier points, and both pictures' full (upright) sizes; a file that cannot be read is
    a rejected pair that says so."""
    from .features import extract_features  # noqa: PLC0415 - needs OpenCV
    from .loading import ImageLoadError  # noqa: PLC0415

    features = []
    for path in (path_a, path_b):
        try:
            features.append(extract_features(path))
        except ImageLoadError as exc:
            return Match(False, reason=f"cannot read {exc.path}: {exc.reason}"), None, None
    a, b = features
    return verify_features(a, b, points=True), a.size, b.size


def _upright_size(path: str) -> tuple[int, int] | None:
    """The full picture's (width, height) as displayed, without decoding it; ``None`` if it cannot be opened."""
    from .loading import ImageLoadError, open_image  # noqa: PLC0415
    from .orientations import turned_a_quarter  # noqa: PLC0415

    try:
        image = open_image(path)
    except ImageLoadError:
        return None
    try:
        width, height = image.size
        if turned_a_quarter(image):
            width, height = height, width
        return width, height
    except Exception:  # noqa: BLE001 - a figure must draw whatever one file does
        return None
    finally:
        image.close()


def _chosen(n: int, most: int | None) -> np.ndarray:
    """Which of ``n`` matches to draw: all, or ``most`` of them spread over the list (the same ones every time)."""
    if most is None or n <= most:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=most, replace=False))


def _show(ax, path: str, size: tuple[int, int] | None, thumb: int) -> tuple[int, int]:
    """Draw ``path``'s thumbnail stretched over its full-pixel extent, so the axes' data units are full pixels."""
    image = thumbnail(path, size=thumb)
    if size is None:  # unreadable: the grey square, one pixel per thumbnail pixel
        image = placeholder(thumb)
        size = (thumb, thumb)
    width, height = size
    ax.imshow(image, extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="antialiased")
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    return size


def _frame_outline(transform: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The corners of a ``size`` picture's frame mapped by a 2x3 map (full pixels)."""
    w, h = size
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    return corners @ transform[:, :2].T + transform[:, 2]


def _any_inside(points: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether a corner of ``points`` lies inside a ``size`` picture (full pixels)."""
    w, h = size
    return bool(((points[:, 0] > 0) & (points[:, 0] < w - 1) & (points[:, 1] > 0) & (points[:, 1] < h - 1)).any())


def _turned(match: Match) -> bool:
    """Turned by other than a multiple of 90°: the other picture's frame is then no upright box."""
    if match.transform is None or math.isnan(match.rotation):
        return False
    off = abs(match.rotation) % 90
    return min(off, 90 - off) >= 0.5


def _details(match: Match, drawn: int | None, note: str | None) -> str:
    if match.matches == 0 and match.inliers == 0 and match.reason.startswith("cannot read"):
        text = "no features to match"
    elif match.same and match.matches == 0 and match.inliers == 0:  # verify_pairs' fast path
        text = f"the whole pictures agree {match.similarity:.0%} after alignment (no features matched)"
    else:
        text = f"{match.inliers} of {match.matches} feature matches agree on one geometry"
        if not match.same and match.transform is None:
            text += f" ({MIN_INLIERS} needed)"
        if drawn is None:
            text += " (not drawn: pass a Match from verify_features(..., points=True))"
        elif drawn < match.inliers:
            text += f", {drawn} drawn"
        if not math.isnan(match.similarity):
            text += f"; the pixels agree {match.similarity:.0%} after alignment"
    return text + (f" \u00b7 {note}" if note else "")


def plot_match(
    path_a: str | os.PathLike,
    path_b: str | os.PathLike,
    *,
    match: Match | None = None,
    max_lines: int | None = 60,
    size: int = 480,
    title: str | None = None,
    note: str | None = None,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Two pictures side by side with the feature matches that agree joined by lines, and the overlap boxed.

    Parameters
    ----------
    path_a, path_b
        The two image files.
    match
        The verdict to draw; default: :func:`dedupkit.verify.verify_features`
        on the two files, with its inlier points. A ``Match`` made without
        ``points=True`` draws the boxes but no lines.
    max_lines
        Draw at most this many of the inlier matches (the same ones every
        time), so that the pictures stay visible; ``None``: all of them.
    size
        Longest side of each picture as drawn, in pixels of the thumbnail.
    title
        The figure's title; default: :func:`dedupkit.verify.relation` of the
        match (green when the same picture, vermilion when not).
    note
        Appended to the line of details under the pictures (e.g. the hash distance).
    fig
        A Figure or SubFigure to draw on; default: a new figure sized to fit.

    Returns
    -------
    matplotlib.figure.Figure or SubFigure
        Two Axes, A then B, each in its own picture's full pixels (so the
        boxes' coordinates are :attr:`Match.box_a` and :attr:`Match.box_b`);
        one :class:`~matplotlib.patches.ConnectionPatch` per match drawn,
        among the figure's ``artists``; one
        :class:`~matplotlib.patches.Rectangle` per box (and a dashed one on A
        round :attr:`Match.overlay_box`, when there is one); when B is turned by
        other than a multiple of 90°, each picture's frame mapped onto the
        other as a dashed :class:`~matplotlib.patches.Polygon`.

    Examples
    --------
    >>> fig = plot_match("data/sample/china_temple.jpg", "data/sample/china_temple__crop_4pct.jpg")  # doctest: +SKIP
    >>> fig.get_suptitle()  # doctest: +SKIP
    'B is a 92% crop of A'
    """
    path_a, path_b = os.fspath(path_a), os.fspath(path_b)
    if match is not None and not isinstance(match, Match):
        raise TypeError(f"match must be a dedupkit.verify.Match (from verify_features), got {type(match).__name__}")
    max_lines = check_int(max_lines, "max_lines", low=0, none=True)
    if match is None:
        match, size_a, size_b = _verify(path_a, path_b)
    else:
        size_a, size_b = _upright_size(path_a), _upright_size(path_b)
    shape_a, shape_b = size_a or (size, size), size_b or (size, size)
    ratios = [shape_a[0] / shape_a[1], shape_b[0] / shape_b[1]]  # both drawn at the same height
    high = min(5.0, 10.4 / max(sum(ratios), 0.5))  # the pictures' height, inches: 10.4 wide at most
    fig = figure_or_new(fig, (max(7.0, high * sum(ratios) + 0.6), high + 1.5))
    ax_a, ax_b = fig.subplots(1, 2, width_ratios=ratios)
    names = short_names([path_a, path_b])
    for ax, path, known, letter in ((ax_a, path_a, size_a, "A"), (ax_b, path_b, size_b, "B")):
        shown = _show(ax, path, known, size)
        dims = f" ({shown[0]}\u00d7{shown[1]})" if known else " (cannot be read)"
        ax.set_title(f"{letter}: {names[path]}{dims}", fontsize="medium")

    legend_a, legend_b = [], []
    for ax, box, words, share, legend in (
            (ax_a, match.box_a, "the part of A that B shows", f"{match.coverage_a:.0%} of A", legend_a),
            (ax_b, match.box_b, "the part of B that shows A", f"{match.coverage_b:.0%} of B", legend_b)):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=BOX, linewidth=2.2,
                               path_effects=_EDGE, label=words, zorder=3))
        legend.append(f"blue box: {words} ({share})")
    if match.overlay_box is not None:
        x0, y0, x1, y1 = match.overlay_box
        ax_a.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=DIFFERENT, linewidth=1.8,
                                 linestyle="--", path_effects=_THIN_EDGE, label="the patch that differs", zorder=3))
        legend_a.append("dashed: the patch that differs")
    if _turned(match) and size_a and size_b:
        outline_b = _frame_outline(_inverse(match.transform), size_b)  # B's frame on A
        outline_a = _frame_outline(match.transform, size_a)  # A's frame on B
        for ax, outline, words, legend, inside in ((ax_a, outline_b, "B's frame", legend_a, size_a),
                                                   (ax_b, outline_a, "A's frame", legend_b, size_b)):
            if not _any_inside(outline, inside):  # the frame is all around this picture: nothing to see
                continue
            ax.add_patch(Polygon(outline, closed=True, fill=False, edgecolor=FRAME, linewidth=1.6, linestyle="--",
                                 path_effects=_THIN_EDGE, label=words, zorder=3))
            legend.append(f"dashed: {words}")
    ax_a.set_xlabel("; ".join(legend_a), fontsize="small")
    ax_b.set_xlabel("; ".join(legend_b), fontsize="small")

    drawn = None
    if match.points_a is not None and match.points_b is not None:
        which = _chosen(len(match.points_a), max_lines)
        drawn = len(which)
        for (xa, ya), (xb, yb) in zip(match.points_a[which], match.points_b[which]):
            fig.add_artist(ConnectionPatch(xyA=(xa, ya), xyB=(xb, yb), coordsA="data", coordsB="data",
                                           axesA=ax_a, axesB=ax_b, color=LINE, linewidth=1.0, alpha=0.9,
                                           path_effects=_THIN_EDGE, in_layout=False, zorder=4))
        for ax, points in ((ax_a, match.points_a[which]), (ax_b, match.points_b[which])):
            ax.plot(points[:, 0], points[:, 1], "o", markersize=2.5, color=LINE, markeredgecolor="black",
                    markeredgewidth=0.4, zorder=5)
    fig.suptitle(title if title is not None else relation(match), color=THRESHOLD if match.same else DIFFERENT,
                 fontsize="large", fontweight="bold")
    fig.supxlabel(_details(match, drawn, note), fontsize="small")
    return fig


def _inverse(transform: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine map."""
    return np.linalg.inv(np.vstack([transform, [0.0, 0.0, 1.0]]))[:2]


def plot_match_gallery(
    pairs: pd.DataFrame,
    *,
    n: int = 6,
    max_lines: int | None = 40,
    size: int = 320,
    title: str | None = None,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Several pairs, one row each, drawn by :func:`plot_match` (each pair verified again, with its points).

    Parameters
    ----------
    pairs
        A pair table (``path_a``, ``path_b``; ``distance`` is said in each
        row's details when present), e.g. from :func:`dedupkit.find_duplicates`.
        The first ``n`` rows are drawn, in order.
    n
        Rows to draw.
    max_lines, size
        As for :func:`plot_match`, per row.
    title
        Title above the gallery.
    fig
        A Figure or SubFigure to draw on; default: a new figure sized to fit.

    Returns
    -------
    matplotlib.figure.Figure or SubFigure
        One SubFigure per pair (in ``fig.subfigs``), each with the two Axes,
        lines and boxes of :func:`plot_match`, titled with its relation. When
        the table's ``verified`` disagrees with the verdict drawn, the row says so.

    Raises
    ------
    TypeError
        ``pairs`` is not a DataFrame.
    ValueError
        ``pairs`` lacks ``path_a``/``path_b``, or ``n`` is not a whole number >= 0.
    """
    if not isinstance(pairs, pd.DataFrame):
        raise TypeError(f"pairs must be a DataFrame with path_a and path_b columns, got {type(pairs).__name__}")
    missing = {"path_a", "path_b"} - set(pairs.columns)
    if missing:
        raise ValueError(f"the pair table needs 'path_a' and 'path_b' columns; missing {sorted(missing)}")
    n = check_int(n, "n", low=0)
    shown = pairs.head(int(n))
    fig = figure_or_new(fig, (11.0, 3.9 * max(len(shown), 1) + (0.5 if title else 0.0)))
    if title:
        fig.suptitle(title, fontsize="x-large", fontweight="bold")
    if shown.empty:
        fig.text(0.5, 0.5, "no pairs to show", ha="center", va="center")
        return fig
    rows = np.atleast_1d(fig.subfigures(len(shown), 1))
    for i, (row, pair) in enumerate(zip(rows, shown.itertuples(index=False))):
        if i % 2:
            row.set_facecolor(_SHADE)  # rows told apart at a glance
        match, _, _ = _verify(str(pair.path_a), str(pair.path_b))
        notes = []
        distance = getattr(pair, "distance", None)
        if distance is not None and not pd.isna(distance) and distance >= 0:
            notes.append(f"hash distance {int(distance)}")
        table_says = getattr(pair, "verified", None)
        if table_says is not None and not pd.isna(table_says) and bool(table_says) != match.same:
            notes.append(f"the table says {'verified' if table_says else 'rejected'}")  # e.g. found mirrored first
        plot_match(str(pair.path_a), str(pair.path_b), match=match, max_lines=max_lines, size=size,
                   note=" \u00b7 ".join(notes) or None, fig=row)
    return fig

"""Figures for looking at a dataset and choosing a threshold.

Charts draw on a given matplotlib ``Axes`` (or make one) and return it;
galleries, which need one Axes per pair or group, draw on a given ``Figure``
or ``SubFigure`` (or make one) and return it. Nothing here calls
``plt.show()``: the caller (a notebook) shows or saves the figure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from .thresholds import pairs_near_threshold, threshold_summary
from .thumbnails import mosaic, prefetch

__all__ = [
    "plot_distances",
    "plot_formats",
    "plot_group_gallery",
    "plot_image_sizes",
    "plot_pair_gallery",
    "plot_precision_recall",
    "plot_threshold",
]

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
DUPLICATE, DIFFERENT, UNLABELLED, FOUND = "#0072B2", "#D55E00", "#999999", "#56B4E9"
RANDOM, THRESHOLD, KEEP = "#333333", "#009E73", "#009E73"


def _bits(n: int) -> str:
    return f"{n} bit" if n == 1 else f"{n} bits"


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # noqa: PLC0415 - pyplot (a backend) only when a figure is made here

    return plt.figure(figsize=figsize, layout="constrained").add_subplot()


def _figure(fig: Figure | SubFigure | None, figsize: tuple[float, float]) -> Figure | SubFigure:
    if fig is not None:
        return fig
    import matplotlib.pyplot as plt  # noqa: PLC0415 - pyplot (a backend) only when a figure is made here

    return plt.figure(figsize=figsize, layout="constrained")


def plot_distances(
    pairs: pd.DataFrame,
    *,
    threshold: int | None = None,
    random: np.ndarray | None = None,
    max_distance: int | None = None,
    n_bits: int = 64,
    true_pairs: pd.DataFrame | None = None,
    log: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Histogram of Hamming distances: the found pairs, and random pairs for contrast.

    Parameters
    ----------
    pairs
        Pairs up to some bound (``path_a``, ``path_b``, ``distance``). With a
        ``duplicate`` column (:func:`dedupkit.pair_truth`), true duplicates and
        different pictures are drawn in two colours (unlabelled in grey).
    threshold
        Draw the cut: a vertical line between ``threshold`` and
        ``threshold + 1`` (pairs at ``threshold`` are duplicates).
    random
        Distances of random pairs (:func:`dedupkit.random_distances`), drawn
        as an outline: where unrelated pictures fall.
    max_distance
        The bound the pairs were searched up to, said in the legend;
        default: their largest distance.
    n_bits
        Hash length, for the axis label.
    true_pairs
        Every true duplicate pair (:func:`dedupkit.evaluate.true_pairs`): drawn
        as the "same picture" bars at any distance, so that copies beyond
        ``max_distance`` show instead of hiding past the search bound.
    log
        Logarithmic count axis, so a few duplicates show next to thousands
        of random pairs.
    ax
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per pair category drawn, bars one per distance.
    """
    ax = _axes(ax, (9, 4.2))
    distances = pairs["distance"].to_numpy(np.int64)
    everywhere = true_pairs["distance"].to_numpy(np.int64) if true_pairs is not None else np.zeros(0, np.int64)
    top = max([n_bits // 2, *distances, *everywhere, *(random if random is not None else [])]) + 1
    bins = np.arange(top + 1) - 0.5
    bound = int(distances.max()) if max_distance is None and len(distances) else max_distance
    within = f"within {bound} bits" if bound is not None else "found"
    if "duplicate" in pairs.columns or true_pairs is not None:
        label = pairs["duplicate"].astype("boolean") if "duplicate" in pairs.columns else pd.Series(
            pd.NA, index=pairs.index, dtype="boolean")
        same, known = label.to_numpy(bool, na_value=False), label.notna().to_numpy(bool)
        found_same = (everywhere, f"same picture (truth): all {len(everywhere):,} pairs, at any distance") if (
            true_pairs is not None) else (distances[same], f"same picture (truth), {within}")
        series = [(*found_same, DUPLICATE),
                  (distances[known & ~same], f"different pictures (truth), {within}", DIFFERENT),
                  (distances[~known & ~same], f"not in the truth, {within}", UNLABELLED)]
        series = [s for s in series if len(s[0]) or s[2] != UNLABELLED]
    else:
        series = [(distances, f"pairs {within}", FOUND)]
    bottom = np.zeros(len(bins) - 1)
    highest = 1
    for values, label_text, colour in series:
        counts = np.histogram(values, bins)[0]
        ax.bar(bins[:-1] + 0.5, counts, width=0.85, bottom=bottom, color=colour, label=label_text)
        bottom += counts
    highest = max(highest, bottom.max(initial=0))
    if random is not None and len(random):
        counts = np.histogram(random, bins)[0]
        highest = max(highest, counts.max())
        ax.stairs(counts, bins, color=RANDOM, linewidth=1.4,
                  label=f"{len(random):,} pairs of any two images (for contrast)")
    if threshold is not None:
        ax.axvline(threshold + 0.5, color=THRESHOLD, linewidth=2, linestyle="--",
                   label=f"threshold: duplicate if distance \u2264 {threshold}")
    if log:  # symlog: linear from 0 to 1, so a single pair still shows
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylim(0, highest * 12)  # headroom for the legend
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
    else:
        ax.set_ylim(0, highest * 1.6)
    ax.set_xlim(-1, top + 0.5)
    ax.set_xlabel(f"Hamming distance between the two hashes (bits of {n_bits})")
    ax.set_ylabel("pairs of images" + (" (log scale)" if log else ""))
    ax.set_title("How far apart are the pictures' hashes?")
    ax.legend(loc="upper left", fontsize="small", framealpha=1.0, edgecolor="none")  # opaque: the cut may pass under it
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_precision_recall(curve: pd.DataFrame, *, threshold: int | None = None, ax: Axes | None = None) -> Axes:
    """Precision, recall and F1 against the threshold, the chosen one marked.

    Parameters
    ----------
    curve
        A table from :func:`dedupkit.precision_recall`.
    threshold
        Mark this threshold with a vertical line and its values in the legend.
    ax
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        Three lines (precision, recall, F1), plus the threshold line.
    """
    ax = _axes(ax, (8, 4))
    x = curve["threshold"].to_numpy()
    for column, name, colour, style in (("precision", "precision", DIFFERENT, "-"),
                                        ("recall", "recall", DUPLICATE, "-"),
                                        ("f1", "F1", RANDOM, ":")):
        ax.plot(x, curve[column].to_numpy(float), style, color=colour, linewidth=2, label=name,
                drawstyle="steps-mid")
    if threshold is not None:
        row = curve[curve["threshold"] == threshold]
        values = "" if row.empty else (f": precision {row['precision'].iloc[0]:.2f}, "
                                       f"recall {row['recall'].iloc[0]:.2f}, F1 {row['f1'].iloc[0]:.2f}")
        ax.axvline(threshold, color=THRESHOLD, linewidth=2, linestyle="--", label=f"threshold {threshold}{values}")
    positives = curve.attrs.get("positives")
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlim(x.min() - 0.5, x.max() + 0.5)
    ax.set_xlabel("threshold: largest Hamming distance counted as a duplicate (bits)")
    ax.set_ylabel("fraction of pairs")
    ax.set_title("Precision and recall against the ground truth"
                 + (f" ({positives} duplicate pairs)" if positives is not None else ""))
    ax.legend(loc="best", fontsize="small", framealpha=1.0)  # where the curves are not
    ax.grid(alpha=0.3)
    return ax


def _names(paths: Sequence[str]) -> dict[str, str]:
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
    fig = _figure(fig, (3.9 * ncols, 2.3 * max(nrows, 1) + 0.5))
    if title:
        fig.suptitle(title)
    if n == 0:
        fig.text(0.5, 0.5, "no pairs to show", ha="center", va="center")
        return fig
    prefetch(pd.concat([pairs["path_a"], pairs["path_b"]]).astype(str), size=size)
    names = _names(pd.concat([pairs["path_a"], pairs["path_b"]]).astype(str).tolist())
    gap = size // 12
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, row in zip(axes, pairs.itertuples(index=False)):
        a, b = str(row.path_a), str(row.path_b)
        image, _ = mosaic([a, b], size=size, gap=gap)
        _image_axes(ax, image, [size / 2, 1.5 * size + gap], [names[a], names[b]])
        text, colour = f"distance {_bits(row.distance)}", "black"
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
    fig = _figure(fig, (max(2.0 * columns + 0.5, 7.0), 2.1 * max(len(chosen), 1) + 0.5))
    fig.suptitle(title or f"The {len(chosen)} {'largest' if by == 'size' else 'widest'} of "
                          f"{len(heads)} duplicate groups (green frame: the file kept)")
    if not chosen:
        fig.text(0.5, 0.5, "no duplicate groups", ha="center", va="center")
        return fig
    prefetch(shown["path"].astype(str), size=size)
    names = _names(shown["path"].astype(str).tolist())
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
        ax.set_title(f"group {group}: {len(members)} files, diameter {_bits(int(members['diameter'].iloc[0]))}"
                     + (f" ({more} more not shown)" if more else ""), fontsize="medium", loc="left")
    return fig


def plot_threshold(
    pairs: pd.DataFrame,
    threshold: int,
    *,
    random: np.ndarray | None = None,
    n_edge: int = 3,
    size: int = 140,
    fig: Figure | None = None,
) -> Figure:
    """What a threshold does, in one figure: the cut on the distribution, the counts, the edge.

    The top shows :func:`plot_distances` with the cut; the title gives the
    pairs, groups and files to remove (:func:`dedupkit.threshold_summary`);
    below, :func:`plot_pair_gallery` of the ``n_edge`` pairs just inside and
    just outside the threshold (:func:`dedupkit.pairs_near_threshold`).

    Returns
    -------
    matplotlib.figure.Figure
        With two sub-figures: the distribution, and the gallery.
    """
    near = pairs_near_threshold(pairs, threshold, n=n_edge)
    rows = -(-len(near) // 3) if len(near) else 1
    fig = _figure(fig, (11.7, 4.2 + 2.3 * rows + 0.6))
    top, bottom = fig.subfigures(2, 1, height_ratios=[4.2, 2.3 * rows + 0.6])
    plot_distances(pairs, threshold=threshold, random=random, ax=top.subplots())
    counts = threshold_summary(pairs, threshold)
    fig.suptitle(f"Threshold {threshold}: {counts['pairs']} pairs, {counts['groups']} groups, "
                 f"{counts['to_remove']} files to remove", fontsize="x-large", fontweight="bold")
    plot_pair_gallery(near, threshold=threshold, ncols=3, size=size, fig=bottom,
                      title=f"The pairs just inside and just outside distance {threshold}")
    return fig


def plot_formats(hashes: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Number of files per image format, and of files that could not be read.

    Returns
    -------
    matplotlib.axes.Axes
        One horizontal bar per format (most common on top), the unreadable
        files as a last bar in red.
    """
    ax = _axes(ax, (6, 3))
    readable = hashes["error"].isna() if "error" in hashes.columns else pd.Series(True, index=hashes.index)
    counts = hashes.loc[readable, "format"].fillna("unknown").value_counts()
    labels, values, colours = list(counts.index), list(counts.to_numpy()), [FOUND] * len(counts)
    if (~readable).any():
        labels.append("could not be read")
        values.append(int((~readable).sum()))
        colours.append(DIFFERENT)
    positions = np.arange(len(labels))[::-1]
    bars = ax.barh(positions, values, color=colours)
    ax.bar_label(bars, padding=3)
    ax.set_yticks(positions, labels)
    ax.set_xlabel("files")
    ax.set_title(f"{len(hashes)} files by format")
    ax.margins(x=0.15)
    return ax


def plot_image_sizes(hashes: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Width against height of every readable image, one colour per format.

    Returns
    -------
    matplotlib.axes.Axes
        One scatter collection per format.
    """
    ax = _axes(ax, (5, 4))
    readable = hashes.dropna(subset=["width", "height"])
    for fmt, rows in readable.groupby(readable["format"].fillna("unknown")):
        ax.scatter(rows["width"].astype(float), rows["height"].astype(float), label=f"{fmt} ({len(rows)})",
                   alpha=0.8, s=30)
    ax.set_xlabel("width (pixels)")
    ax.set_ylabel("height (pixels)")
    ax.set_title(f"Sizes of the {len(readable)} readable images")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="small", title="format")
    ax.grid(alpha=0.3)
    return ax

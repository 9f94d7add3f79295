"""Figures for looking at a dataset and choosing a threshold.

Charts draw on a given matplotlib ``Axes`` (or make one) and return it;
galleries, which need one Axes per pair or group, draw on a given ``Figure``
or ``SubFigure`` (or make one) and return it. Nothing here calls
``plt.show()``: the caller (a notebook) shows or saves the figure.

The charts are here; the galleries of pictures are :mod:`dedupkit._galleries`
(``plot_pair_gallery``, ``plot_group_gallery``, also reached from here), and
the colours and figure helpers both use :mod:`dedupkit._figures`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ._figures import DIFFERENT, DUPLICATE, FOUND, RANDOM, THRESHOLD, UNLABELLED, axes_or_new, figure_or_new
from ._galleries import plot_group_gallery, plot_pair_gallery
from .thresholds import pairs_near_threshold, threshold_summary

__all__ = [
    "plot_distances",
    "plot_formats",
    "plot_group_gallery",
    "plot_image_sizes",
    "plot_pair_gallery",
    "plot_precision_recall",
    "plot_threshold",
]

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
    ax = axes_or_new(ax, (9, 4.2))
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
    ax = axes_or_new(ax, (8, 4))
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
    fig = figure_or_new(fig, (11.7, 4.2 + 2.3 * rows + 0.6))
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
    ax = axes_or_new(ax, (6, 3))
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
    ax = axes_or_new(ax, (5, 4))
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

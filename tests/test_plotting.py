"""dedupkit.plotting: what each figure draws (bars, lines, images, frames, labels), on an Agg canvas."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.patches import Rectangle, StepPatch  # noqa: E402
from PIL import Image  # noqa: E402

from dedupkit import evaluate, plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Six small pictures of different shapes and colours, and one file that is not an image."""
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h) in enumerate([(120, 80), (80, 120), (100, 100), (150, 60), (90, 90), (60, 90)]):
        path = root / f"picture_{i}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    broken = root / "broken.jpg"
    broken.write_text("not an image")
    return paths + [str(broken)]


def _pairs(rows, duplicate=None):
    pairs = pd.DataFrame(rows, columns=["path_a", "path_b", "distance"])
    if duplicate is not None:
        pairs["duplicate"] = pd.array(duplicate, dtype="boolean")
    return pairs


def _bar_containers(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def test_distances_stack_duplicates_and_different_pictures():
    pairs = _pairs([("a", "b", 0), ("c", "d", 0), ("e", "f", 3), ("g", "h", 14), ("i", "j", 14)],
                   duplicate=[True, True, True, False, False])
    random = np.array([30, 31, 31, 32, 40])
    ax = plotting.plot_distances(pairs, threshold=8, random=random, max_distance=16)

    same, different = _bar_containers(ax)
    assert same.get_label().startswith("same picture") and different.get_label().startswith("different")
    heights = np.array([bar.get_height() for bar in same])
    assert heights[0] == 2 and heights[3] == 1 and heights.sum() == 3
    assert sum(bar.get_height() for bar in different) == 2
    assert different[14].get_y() == same[14].get_height() + 0  # stacked on top of the duplicates
    (steps,) = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert steps.get_data().values.sum() == len(random)
    (line,) = ax.lines
    assert line.get_xdata()[0] == 8.5  # between 8 (inside) and 9 (outside)
    assert "8" in line.get_label()
    assert ax.get_title() and "Hamming distance" in ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 4


def test_distances_without_truth_is_one_colour_and_unlabelled_pairs_get_a_third():
    ax = plotting.plot_distances(_pairs([("a", "b", 1), ("c", "d", 2)]), log=False)
    (found,) = _bar_containers(ax)
    assert sum(bar.get_height() for bar in found) == 2
    assert not ax.lines and ax.get_yscale() == "linear"
    ax = plotting.plot_distances(_pairs([("a", "b", 1), ("c", "d", 2)], duplicate=[True, None]))
    assert [c.get_label().split(" (")[0].split(",")[0] for c in _bar_containers(ax)] == [
        "same picture", "different pictures", "not in the truth"]


def test_distances_draw_on_the_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    assert plotting.plot_distances(_pairs([("a", "b", 1)]), ax=right) is right
    assert not left.has_data()


def test_precision_recall_lines_follow_the_curve():
    pairs = _pairs([("a", "b", 1), ("c", "d", 3), ("a", "c", 5)])
    truth = pd.DataFrame({"file": list("abcd"), "group": ["x", "x", "y", "y"]})
    curve = evaluate.precision_recall(pairs, truth, max_threshold=6)
    ax = plotting.plot_precision_recall(curve, threshold=3)

    precision, recall, f1, cut = ax.lines
    np.testing.assert_array_equal(precision.get_xdata(), np.arange(7))
    np.testing.assert_allclose(precision.get_ydata(), curve["precision"], equal_nan=True)
    np.testing.assert_allclose(recall.get_ydata(), [0, .5, .5, 1, 1, 1, 1])
    np.testing.assert_allclose(f1.get_ydata(), curve["f1"])
    assert cut.get_xdata()[0] == 3
    assert "precision 1.00, recall 1.00" in cut.get_label()
    assert "2 duplicate pairs" in ax.get_title()
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None


def test_pair_gallery_one_image_per_pair_with_names_and_distances(pictures):
    pairs = _pairs([(pictures[0], pictures[1], 2), (pictures[2], pictures[3], 9), (pictures[4], pictures[6], 12)],
                   duplicate=[True, False, None])
    fig = plotting.plot_pair_gallery(pairs, threshold=9, ncols=2, size=64, title="Edge")

    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 3 and all(len(ax.images) == 1 for ax in shown)
    assert len(fig.axes) == 4  # 2 x 2 grid, the last one hidden
    titles = [ax.get_title() for ax in shown]
    assert titles == ["distance 2 bits \u2264 9 \u00b7 same picture", "distance 9 bits \u2264 9 \u00b7 different",
                      "distance 12 bits > 9"]
    assert [t.get_text() for t in shown[0].get_xticklabels()] == ["picture_0.png", "picture_1.png"]
    assert shown[2].get_xticklabels()[1].get_text() == "broken.jpg"  # drawn as a grey square, not an error
    assert shown[0].title.get_color() != shown[2].title.get_color()  # inside and outside differ
    assert shown[0].images[0].get_array().shape == (64, 64 * 2 + 64 // 12, 3)
    assert fig.get_suptitle() == "Edge"


def test_pair_gallery_without_pairs_says_so():
    fig = plotting.plot_pair_gallery(_pairs([]))
    assert not fig.axes and "no pairs" in fig.texts[0].get_text()


def test_group_gallery_frames_the_kept_file(pictures):
    groups = pd.DataFrame({
        "group": [0, 0, 0, 1, 1, 2, 2],
        "path": [pictures[0], pictures[1], pictures[2], pictures[3], pictures[4], pictures[5], pictures[6]],
        "keep": [True, False, False, True, False, True, False],
        "size": [3, 3, 3, 2, 2, 2, 2],
        "diameter": [4, 4, 4, 9, 9, 1, 1],
    })
    fig = plotting.plot_group_gallery(groups, max_members=2, size=48)

    assert len(fig.axes) == 3 and all(len(ax.images) == 1 for ax in fig.axes)
    assert [ax.get_title(loc="left") for ax in fig.axes] == [
        "group 0: 3 files, diameter 4 bits (+1 more: max_members=None shows them all)",
        "group 1: 2 files, diameter 9 bits",
        "group 2: 2 files, diameter 1 bit"]
    for ax in fig.axes:
        (frame,) = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert frame.get_x() < 48  # around the first thumbnail, the kept one
        assert ax.get_xticklabels()[0].get_text().startswith("keep: ")
    assert "3 largest of 3" in fig.get_suptitle()

    widest = plotting.plot_group_gallery(groups, by="diameter", max_groups=2, size=48)
    assert [ax.get_title(loc="left").split(":")[0] for ax in widest.axes] == ["group 1", "group 0"]
    with pytest.raises(ValueError, match="by must be"):
        plotting.plot_group_gallery(groups, by="name")



def _label_boxes(fig):
    """Each Axes' tick labels as (left, right, bottom, top) in pixels, once drawn."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [[label.get_window_extent(renderer).extents for label in ax.get_xticklabels() if label.get_text()]
            for ax in fig.axes if ax.get_visible()]


@pytest.fixture(scope="module")
def deep_folder(tmp_path_factory, pictures):
    """Copies of the pictures deep in sub-folders with long names, as scraped datasets have them."""
    root = tmp_path_factory.mktemp("deep")
    paths = []
    for i, source in enumerate(pictures[:6]):
        folder = root / f"collection_{i}_holidays_in_the_mountains" / "2021-07-summer" / f"camera_roll_{i}"
        folder.mkdir(parents=True)
        path = folder / f"IMG_2021_07_{i:02d}_a_very_long_file_name_from_a_phone.png"
        shutil.copy(source, path)
        paths.append(str(path))
    return paths


def test_gallery_captions_of_deep_paths_fit_under_their_pictures(deep_folder):
    groups = pd.DataFrame({"group": [0] * 6, "path": deep_folder, "keep": [True] + [False] * 5, "size": 6,
                           "diameter": 3})
    fig = plotting.plot_group_gallery(groups, size=64)
    (boxes,) = _label_boxes(fig)
    assert len(boxes) == 6
    for (_, right, _, _), (left, _, _, _) in zip(boxes, boxes[1:]):
        assert right < left  # no caption runs into the next
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    for label, path in zip(labels, deep_folder):
        assert label.splitlines()[-1][-10:] == Path(path).name[-10:]  # the end of the file name is always there
        assert 2 <= len(label.splitlines()) <= 3  # folders above the name
    pairs = _pairs([(deep_folder[0], deep_folder[1], 2), (deep_folder[2], deep_folder[3], 3),
                    (deep_folder[4], deep_folder[5], 4)])
    gallery = plotting.plot_pair_gallery(pairs, ncols=3, size=64)
    rows = _label_boxes(gallery)
    # the pairs sit side by side in one row
    everything = sorted((tuple(box) for row in rows for box in row), key=lambda b: b[0])
    assert len(everything) == 6
    for (_, right, _, _), (left, _, _, _) in zip(everything, everything[1:]):
        assert right < left


def test_a_large_group_says_how_many_more_and_shows_them_all_on_request(pictures, tmp_path):
    paths = []
    for i in range(96):
        path = tmp_path / f"copy_{i:03d}.png"
        shutil.copy(pictures[i % 6], path)
        paths.append(str(path))
    groups = pd.DataFrame({"group": [7] * 96, "path": paths, "keep": [True] + [False] * 95, "size": 96,
                           "diameter": 12})
    fig = plotting.plot_group_gallery(groups, by="diameter", size=32)
    (ax,) = fig.axes
    assert len(ax.get_xticklabels()) == 6
    assert [t.get_text() for t in ax.texts] == ["+90 more"]
    assert "(+90 more: max_members=None shows them all)" in ax.get_title(loc="left")
    every = plotting.plot_group_gallery(groups, max_members=None, size=32)
    shown = [Path(t.get_text().splitlines()[-1].removeprefix("keep: ")).name
             for ax in every.axes for t in ax.get_xticklabels()]
    assert shown == [Path(p).name for p in paths]  # all 96, in order, 8 to a row
    assert len(every.axes) == 12 and not any(ax.texts for ax in every.axes)
    assert every.axes[0].get_title(loc="left") == "group 7: 96 files, diameter 12 bits"
    with pytest.raises(ValueError, match="max_members"):
        plotting.plot_group_gallery(groups, max_members=0)

def test_threshold_figure_counts_the_cut_and_shows_the_edge(pictures):
    p = pictures
    pairs = _pairs([(p[0], p[1], 1), (p[1], p[2], 4), (p[3], p[4], 7), (p[4], p[5], 12), (p[0], p[5], 15)])
    fig = plotting.plot_threshold(pairs, 7, n_edge=2, size=48)

    assert fig.get_suptitle() == "Threshold 7: 3 pairs, 2 groups, 2 files to remove"  # p2 is p1's copy, not p0's
    top, bottom = fig.subfigs
    (distribution,) = top.axes
    assert distribution.lines[0].get_xdata()[0] == 7.5
    gallery = [ax for ax in bottom.axes if ax.get_visible()]
    assert [ax.get_title() for ax in gallery] == ["distance 4 bits \u2264 7", "distance 7 bits \u2264 7",
                                                  "distance 12 bits > 7", "distance 15 bits > 7"]


def test_formats_and_sizes():
    hashes = pd.DataFrame({
        "path": list("abcdef"), "hash": ["00"] * 5 + [None],
        "width": pd.array([10, 20, 30, 40, 50, None], "Int64"), "height": pd.array([5, 5, 5, 5, 5, None], "Int64"),
        "format": ["JPEG", "JPEG", "JPEG", "PNG", "WEBP", None], "error": [None] * 5 + ["empty file"],
    })
    ax = plotting.plot_formats(hashes)
    bars = ax.patches
    assert [b.get_width() for b in bars] == [3, 1, 1, 1]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["JPEG", "PNG", "WEBP", "could not be read"]
    assert bars[0].get_y() > bars[-1].get_y()  # the most common format on top
    assert ax.get_title() == "6 files by format"

    ax = plotting.plot_image_sizes(hashes)
    assert [len(c.get_offsets()) for c in ax.collections] == [3, 1, 1]
    assert ax.get_xlabel() == "width (pixels)" and "5 readable" in ax.get_title()


def test_true_pairs_show_at_any_distance_not_only_within_the_search_bound():
    import dedupkit
    from dedupkit.plotting import plot_distances

    hashes = pd.DataFrame({"path": ["a", "b", "c", "d"], "hash": ["0000", "0003", "ffff", "00ff"]})
    truth = pd.DataFrame({"file": ["a", "b", "c", "d"], "group": ["x", "x", "x", "y"]})
    every = dedupkit.true_pairs(hashes, truth)
    assert every["distance"].tolist() == [2, 14, 16] and every["duplicate"].all()  # a-b, b-c, a-c
    found = dedupkit.pair_truth(dedupkit.find_pairs(hashes, max_distance=8), truth)  # only a-b, and a-d (8)
    ax = plot_distances(found, max_distance=8, n_bits=16, true_pairs=every)
    same = ax.containers[0]
    assert "all 3 pairs" in same.get_label()
    heights = {round(p.get_x() + p.get_width() / 2): p.get_height() for p in same.patches if p.get_height()}
    assert heights == {2: 1, 14: 1, 16: 1}  # the two copies past the bound are drawn
    without = plot_distances(found, max_distance=8, n_bits=16)
    assert sum(p.get_height() for p in without.containers[0].patches) == 1


def test_galleries_of_relative_paths_find_their_files_under_root_and_warn_when_they_cannot(pictures, tmp_path,
                                                                                          monkeypatch):
    """A groups CSV from ``dedupkit find`` holds paths relative to the scanned folder: drawn from another working
    directory they were grey tiles without a word (seen in a new user's notebook). ``root=`` finds them, and a
    gallery that cannot read some files says how many and what to do."""
    folder = os.path.dirname(pictures[0])
    names = [os.path.basename(p) for p in pictures[:3]]
    groups = pd.DataFrame({"group": [0, 0, 0], "path": names, "keep": [True, False, False], "size": 3,
                           "diameter": 4})
    pairs = _pairs([(names[0], names[1], 2)])
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match=r"3 of 3 files .* grey tiles .* pass root="):
        grey = plotting.plot_group_gallery(groups, size=48)
    with pytest.warns(UserWarning, match=r"2 of 2 files"):
        plotting.plot_pair_gallery(pairs, size=48)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drawn = plotting.plot_group_gallery(groups, size=48, root=folder)
        plotting.plot_pair_gallery(pairs, size=48, root=folder)
    pixels = drawn.axes[0].images[0].get_array()
    assert pixels.std() > grey.axes[0].images[0].get_array().std() + 10  # random pictures, not grey squares
    assert [t.get_text() for t in drawn.axes[0].get_xticklabels()] == ["keep: " + names[0], *names[1:]]


def test_names_that_differ_in_the_middle_read_apart_under_their_pictures(pictures, tmp_path):
    """MATE ships Ubuntu-Mate-Cold-no-logo.png beside Ubuntu-Mate-Warm-no-logo.png: a caption cut in the middle
    (Ubuntu-Ma…-logo.png) showed two different files under one name."""
    paths = []
    for tone, source in (("Cold", pictures[0]), ("Warm", pictures[1])):
        (tmp_path / "desktop").mkdir(exist_ok=True)
        path = tmp_path / "desktop" / f"Ubuntu-Mate-{tone}-no-logo.png"
        shutil.copy(source, path)
        paths.append(str(path))
    gallery = plotting.plot_pair_gallery(_pairs([(paths[0], paths[1], 7)]), ncols=3, size=64)
    labels = [t.get_text() for ax in gallery.axes for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) == 2 and labels[0] != labels[1]
    for label, tone in zip(labels, ("Cold", "Warm")):  # the whole name, wrapped (desktop/ is their common folder)
        assert len(label.splitlines()) > 1 and "".join(label.splitlines()) == f"Ubuntu-Mate-{tone}-no-logo.png"
    (boxes,) = _label_boxes(gallery)
    assert boxes[0][1] < boxes[1][0]  # side by side, not running into each other

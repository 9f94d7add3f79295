"""dedupkit.explain: what a match figure draws (two pictures, a line per inlier, the overlap boxes, the verdict)."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import ConnectionPatch, Polygon, Rectangle  # noqa: E402
from PIL import Image  # noqa: E402

from dedupkit import explain  # noqa: E402
from dedupkit.features import extract_features  # noqa: E402
from dedupkit.plotting import DIFFERENT, THRESHOLD  # noqa: E402
from dedupkit.verify import MIN_INLIERS, relation, verify_features  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def crop_pair(sample_dir):
    """The sample's 4% crop: a verified pair, and its verdict with points."""
    a, b = sample_dir / "china_temple.jpg", sample_dir / "china_temple__crop_4pct.jpg"
    return str(a), str(b), verify_features(extract_features(a), extract_features(b), points=True)


@pytest.fixture(scope="module")
def edited(sample_dir, tmp_path_factory):
    """Two framings of one photo that only overlap, and a 7-degree turn of its middle."""
    root = tmp_path_factory.mktemp("explain")
    picos = Image.open(sample_dir / "picosdeeuropa.jpg").convert("RGB")  # 800x600
    picos.crop((0, 0, 520, 600)).save(root / "left.jpg", quality=92)
    picos.crop((280, 0, 800, 600)).save(root / "right.jpg", quality=92)
    turned = picos.rotate(7, resample=Image.Resampling.BICUBIC).crop((120, 90, 680, 510))
    turned.save(root / "turned.jpg", quality=92)
    return {"original": str(sample_dir / "picosdeeuropa.jpg"), **{p.stem: str(p) for p in root.glob("*.jpg")}}


def _lines(fig) -> list[ConnectionPatch]:
    return [a for a in fig.artists if isinstance(a, ConnectionPatch)]


def _boxes(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _xywh(box):
    x0, y0, x1, y1 = box
    return pytest.approx((x0, y0, x1 - x0, y1 - y0), abs=1e-6)


def test_a_verified_crop_draws_its_inliers_boxes_and_relation(crop_pair):
    path_a, path_b, m = crop_pair
    assert m.same and m.inliers > 100
    fig = explain.plot_match(path_a, path_b, max_lines=None)

    ax_a, ax_b = fig.axes
    assert len(ax_a.images) == len(ax_b.images) == 1
    lines = _lines(fig)
    assert len(lines) == m.inliers  # every inlier, each joining A's point to B's
    assert np.array([line.xy1 for line in lines]) == pytest.approx(m.points_a)
    assert np.array([line.xy2 for line in lines]) == pytest.approx(m.points_b)
    assert {line.axesA for line in lines} == {ax_a} and {line.axesB for line in lines} == {ax_b}
    (box_a,), (box_b,) = _boxes(ax_a), _boxes(ax_b)
    assert (box_a.get_x(), box_a.get_y(), box_a.get_width(), box_a.get_height()) == _xywh(m.box_a)
    assert (box_b.get_x(), box_b.get_y(), box_b.get_width(), box_b.get_height()) == _xywh(m.box_b)
    assert not [p for ax in fig.axes for p in ax.patches if isinstance(p, Polygon) and not isinstance(p, Rectangle)]
    assert fig.get_suptitle() == relation(m) == "B is a 92% crop of A"
    assert to_hex(fig._suptitle.get_color()) == THRESHOLD.lower()
    # each Axes is in its own picture's full pixels: the image spans A's 640x427, B's 614x409
    assert ax_a.images[0].get_extent() == [-0.5, 639.5, 426.5, -0.5]
    assert ax_b.images[0].get_extent() == [-0.5, 613.5, 408.5, -0.5]
    assert ax_a.get_title() == "A: china_temple.jpg (640\u00d7427)"
    assert "(92% of A)" in ax_a.get_xlabel() and "(100% of B)" in ax_b.get_xlabel()
    assert fig.get_supxlabel().startswith(f"{m.inliers} of {m.matches} feature matches agree")


def test_lines_are_capped_but_the_count_is_said(crop_pair):
    path_a, path_b, m = crop_pair
    fig = explain.plot_match(path_a, path_b, max_lines=25)
    assert len(_lines(fig)) == 25
    assert f"{m.inliers} of {m.matches} feature matches agree on one geometry, 25 drawn" in fig.get_supxlabel()
    again = explain.plot_match(path_a, path_b, max_lines=25)  # the same 25, every time
    assert [line.xy1 for line in _lines(again)] == [line.xy1 for line in _lines(fig)]


def test_a_rejected_sample_pair_says_why(sample_dir):
    a, b = sample_dir / "retina.jpg", sample_dir / "rocket.jpg"  # 16 bits of dHash apart, different pictures
    m = verify_features(extract_features(a), extract_features(b), points=True)
    fig = explain.plot_match(a, b, note="hash distance 16")

    assert not m.same and fig.get_suptitle() == relation(m) == "not the same picture: no consistent geometry"
    assert to_hex(fig._suptitle.get_color()) == DIFFERENT.lower()
    assert len(fig.axes) == 2 and len(_lines(fig)) == m.inliers < MIN_INLIERS
    assert not _boxes(fig.axes[0]) and not _boxes(fig.axes[1])  # no model, no overlap
    assert fig.get_supxlabel() == (f"{m.inliers} of {m.matches} feature matches agree on one geometry "
                                   f"({MIN_INLIERS} needed) \u00b7 hash distance 16")


def test_a_partial_overlap_is_rejected_with_its_overlap_boxed(edited):
    fig = explain.plot_match(edited["left"], edited["right"], max_lines=None)
    m = verify_features(extract_features(edited["left"]), extract_features(edited["right"]), points=True)

    assert fig.get_suptitle() == "not the same picture: partial overlap (neither picture contains the other)"
    assert len(_lines(fig)) == m.inliers > MIN_INLIERS
    (box_a,), (box_b,) = _boxes(fig.axes[0]), _boxes(fig.axes[1])
    assert box_a.get_x() == pytest.approx(280, abs=8) and box_a.get_width() == pytest.approx(240, abs=12)
    assert box_b.get_x() == pytest.approx(0, abs=8) and box_b.get_width() == pytest.approx(240, abs=12)


def test_a_turned_crop_shows_b_frame_on_a(edited):
    fig = explain.plot_match(edited["original"], edited["turned"])
    ax_a, ax_b = fig.axes
    assert fig.get_suptitle().startswith("B is a 49% crop of A") and "turned 7\u00b0 counter-clockwise" in (
        fig.get_suptitle())
    (outline,) = [p for p in ax_a.patches if type(p) is Polygon]  # B's turned frame on A
    assert not [p for p in ax_b.patches if type(p) is Polygon]  # A's frame is all around B: not drawn
    corners = outline.get_xy()[:4]
    assert corners[:, 0].min() == pytest.approx(88, abs=25) and corners[:, 0].max() == pytest.approx(712, abs=25)
    assert "dashed: B's frame" in ax_a.get_xlabel() and "dashed" not in ax_b.get_xlabel()


def test_a_given_match_without_points_draws_boxes_only(crop_pair):
    path_a, path_b, m = crop_pair
    fig = explain.plot_match(path_a, path_b, match=m._replace(points_a=None, points_b=None), title="look")
    assert not _lines(fig) and len(_boxes(fig.axes[0])) == 1
    assert fig.get_suptitle() == "look" and "not drawn" in fig.get_supxlabel()


def test_an_unreadable_file_is_a_rejected_pair(sample_dir):
    fig = explain.plot_match(sample_dir / "coffee.jpg", sample_dir / "bad" / "truncated.jpg")
    assert fig.get_suptitle().startswith("not the same picture: cannot read ")
    assert "truncated.jpg" in fig.get_suptitle() and not _lines(fig)
    assert fig.axes[1].get_title() == "B: bad/truncated.jpg (cannot be read)"


def test_plot_match_draws_on_a_given_subfigure(crop_pair):
    path_a, path_b, m = crop_pair
    fig = plt.figure(figsize=(10, 8))
    top, bottom = fig.subfigures(2, 1)
    assert explain.plot_match(path_a, path_b, match=m, fig=bottom) is bottom
    assert len(bottom.axes) == 2 and not top.axes and len(_lines(bottom)) == 60


def test_bad_arguments_are_refused(crop_pair):
    path_a, path_b, m = crop_pair
    with pytest.raises(TypeError, match="Match"):
        explain.plot_match(path_a, path_b, match={"same": True})
    with pytest.raises(ValueError, match="max_lines"):
        explain.plot_match(path_a, path_b, match=m, max_lines=-1)
    with pytest.raises(TypeError, match="DataFrame"):
        explain.plot_match_gallery([(path_a, path_b)])
    with pytest.raises(ValueError, match="path_b"):
        explain.plot_match_gallery(pd.DataFrame({"path_a": [path_a]}))
    with pytest.raises(ValueError, match="n must be"):
        explain.plot_match_gallery(pd.DataFrame({"path_a": [path_a], "path_b": [path_b]}), n=-2)


def test_gallery_one_row_per_pair(sample_dir):
    s = str(sample_dir)
    pairs = pd.DataFrame({"path_a": [f"{s}/coffee.jpg", f"{s}/retina.jpg", f"{s}/sunset.jpg"],
                          "path_b": [f"{s}/coffee__half_size.jpg", f"{s}/rocket.jpg", f"{s}/sunset__brighter.jpg"],
                          "distance": [0, 16, 2], "verified": [True, True, True]})  # the second is no copy
    fig = explain.plot_match_gallery(pairs, n=2, max_lines=10, size=160, title="Near the threshold")

    assert len(fig.subfigs) == 2 and len(fig.axes) == 4  # two rows of A and B; the third pair not drawn
    first, second = fig.subfigs
    assert first.get_suptitle() == "B is A at 50% size"
    assert second.get_suptitle() == "not the same picture: no consistent geometry"
    assert len(_lines(first)) == 10 and first.get_supxlabel().endswith("\u00b7 hash distance 0")
    assert second.get_supxlabel().endswith("\u00b7 hash distance 16 \u00b7 the table says verified")
    assert "the table says" not in first.get_supxlabel()
    assert fig.get_suptitle() == "Near the threshold"


def test_gallery_without_pairs_says_so():
    fig = explain.plot_match_gallery(pd.DataFrame({"path_a": [], "path_b": []}))
    assert not fig.axes and "no pairs" in fig.texts[0].get_text()


def test_the_package_imports_explain_only_on_first_use():
    code = ("import sys, dedupkit; assert 'matplotlib' not in sys.modules; "
            "assert callable(dedupkit.explain.plot_match) and callable(dedupkit.explain.plot_match_gallery)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_pair_verified_without_features_says_so(sample_dir):
    """verify_features without points takes the fast path for a half-size copy: no lines, and the caption says
    the whole pictures were compared."""
    path_a, path_b = sample_dir / "coffee.jpg", sample_dir / "coffee__half_size.jpg"
    m = verify_features(extract_features(path_a), extract_features(path_b))
    assert m.same and m.inliers == 0 and m.matches == 0
    fig = explain.plot_match(path_a, path_b, match=m)
    assert not _lines(fig)
    assert fig.get_supxlabel() == f"the whole pictures agree {m.similarity:.0%} after alignment (no features matched)"


def test_a_logo_laid_over_the_copy_is_boxed_dashed_on_a(crop_pair):
    path_a, path_b, m = crop_pair
    assert m.overlay_box is None
    fig = explain.plot_match(path_a, path_b, match=m._replace(overlay=0.01, overlay_box=(10.0, 20.0, 60.0, 50.0)))
    dashed = [r for r in _boxes(fig.axes[0]) if r.get_linestyle() == "--"]
    assert len(dashed) == 1 and (dashed[0].get_x(), dashed[0].get_y()) == (10.0, 20.0)
    assert to_hex(dashed[0].get_edgecolor()) == to_hex(DIFFERENT)
    assert "one patch laid over it" in fig.get_suptitle() and "patch that differs" in fig.axes[0].get_xlabel()
    assert not [r for r in _boxes(fig.axes[1]) if r.get_linestyle() == "--"]

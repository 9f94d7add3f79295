"""dedupkit.edits: each edit family makes what it says; benchmarks are reproducible."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps

from dedupkit.edits import DEFAULT_EDITS, Edit, apply_edit, edit_table, make_benchmark

EDITS = {e.name: e for e in DEFAULT_EDITS}


@pytest.fixture(scope="module")
def small_photo(photo) -> Image.Image:
    """A real photo shrunk to 120 x 80 (landscape), so every edit is quick."""
    return photo.resize((120, 80))


def _edit(image: Image.Image, name: str):
    return apply_edit(image, EDITS[name], seed=1, key="p")


@pytest.mark.parametrize(
    ("name", "size"),
    [("resize_50", (60, 40)), ("thumbnail_160", (120, 80)), ("stretch_120", (144, 80)),
     ("crop_2pct", (118, 78)), ("crop_5pct", (114, 76)), ("crop_15pct", (102, 68)), ("crop_30pct", (84, 56)),
     ("border_white", (132, 92)), ("letterbox_black", (120, 120)), ("pad_16x9_white", (142, 80)),
     ("caption", (120, 90)), ("screenshot", (120, 80)), ("screenshot_bar", (120, 84)),
     ("rotate_90", (80, 120)), ("rotate_270", (80, 120)), ("mirror", (120, 80)), ("png", (120, 80))],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_edit_sizes(small_photo, name, size):
    assert _edit(small_photo, name).image.size == size


def test_dihedral_edits_move_pixels_as_named(small_photo):
    original = np.asarray(small_photo)
    assert np.array_equal(np.asarray(_edit(small_photo, "mirror").image), original[:, ::-1])
    assert np.array_equal(np.asarray(_edit(small_photo, "flip").image), original[::-1])
    assert np.array_equal(np.asarray(_edit(small_photo, "rotate_180").image), original[::-1, ::-1])
    assert np.array_equal(np.asarray(_edit(small_photo, "rotate_90").image), np.rot90(original))  # counter-clockwise


def test_small_rotation_is_cropped_inside_the_turned_picture(small_photo):
    turned = _edit(small_photo, "rotate_m3").image
    assert turned.width < small_photo.width and turned.height < small_photo.height
    corners = np.asarray(turned)[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.max() > 0  # no black triangles left in the corners


@pytest.mark.parametrize("tag", [2, 3, 6, 8])
def test_exif_orientation_copy_is_upright_in_a_viewer(tmp_path, small_photo, tag):
    edited = apply_edit(small_photo, Edit(f"exif_{tag}", "exif_orientation", "mild", {"tag": tag}))
    path = tmp_path / "x.jpg"
    edited.image.save(path, **edited.save_options)
    with Image.open(path) as stored:
        assert stored.getexif()[0x0112] == tag
        assert stored.size == ((80, 120) if tag in (6, 8) else (120, 80))
        shown = np.asarray(ImageOps.exif_transpose(stored).convert("RGB"), dtype=np.int16)
    assert shown.shape == (80, 120, 3)
    assert np.abs(shown - np.asarray(small_photo, dtype=np.int16)).mean() < 6  # only JPEG loss


def test_colour_edits(small_photo):
    assert _edit(small_photo, "grey").image.mode == "L"
    mean = np.asarray(small_photo, dtype=float).mean()
    assert np.asarray(_edit(small_photo, "brighter_130").image, dtype=float).mean() > mean + 5
    assert np.asarray(_edit(small_photo, "darker_75").image, dtype=float).mean() < mean - 5
    assert np.asarray(_edit(small_photo, "gamma_060").image, dtype=float).mean() > mean  # gamma < 1 lightens
    spread = np.asarray(small_photo, dtype=float).std()
    assert np.asarray(_edit(small_photo, "contrast_70").image, dtype=float).std() < spread


def test_frames_are_plain_around_the_picture(small_photo):
    bordered = np.asarray(_edit(small_photo, "border_white").image)
    assert (bordered[:6] == 255).all() and (bordered[:, -6:] == 255).all()
    boxed = np.asarray(_edit(small_photo, "letterbox_black").image)
    assert (boxed[:20] == 0).all() and (boxed[-20:] == 0).all()
    assert np.array_equal(boxed[20:100], np.asarray(small_photo))
    captioned = np.asarray(_edit(small_photo, "caption").image)
    assert np.array_equal(captioned[:80], np.asarray(small_photo))
    assert (captioned[80:] < 128).any()  # the caption's dark text on the white bar


def test_recompression_and_watermark_formats(small_photo):
    assert _edit(small_photo, "webp_q25")[1:] == ("webp", {"quality": 25})
    assert _edit(small_photo, "jpeg_q15")[1:] == ("jpg", {"quality": 15})
    assert _edit(small_photo, "screenshot").ext == "png"
    marked = np.asarray(_edit(small_photo, "watermark").image, dtype=np.int16)
    assert 0 < (np.abs(marked - np.asarray(small_photo, dtype=np.int16)).max(axis=2) > 10).mean() < 0.3


def test_random_choices_depend_only_on_seed_key_and_edit(small_photo):
    crop = EDITS["crop_15pct"]
    first = apply_edit(small_photo, crop, seed=3, key="a").image
    assert np.array_equal(np.asarray(first), np.asarray(apply_edit(small_photo, crop, seed=3, key="a").image))
    others = [apply_edit(small_photo, crop, seed=s, key=k).image for s, k in [(4, "a"), (3, "b"), (5, "c")]]
    assert any(not np.array_equal(np.asarray(first), np.asarray(o)) for o in others)


def test_bad_edits_are_refused(small_photo):
    with pytest.raises(ValueError, match="unknown edit family"):
        Edit("x", "sepia", "mild")
    with pytest.raises(ValueError, match="'__'"):
        Edit("a__b", "grey", "mild")
    with pytest.raises(TypeError, match="must be an Edit"):
        apply_edit(small_photo, "grey")


def test_make_benchmark_writes_truth_and_is_reproducible(tmp_path, originals):
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in originals[:4]:
        Image.open(path).convert("RGB").resize((96, 64)).save(photos / path.name)
    edits = [EDITS[n] for n in ("resize_50", "exif_6", "screenshot", "mirror")]
    truth = make_benchmark(photos, tmp_path / "a", edits=edits, distractors=1, seed=7)
    again = make_benchmark(photos, tmp_path / "b", edits=edits, distractors=1, seed=7)
    assert list(truth.columns) == ["file", "group", "edit"]
    assert len(truth) == 4 + 3 * 4  # 4 originals, 3 of them edited 4 ways, one distractor
    assert (truth.groupby("group").size().sort_values().tolist()) == [1, 5, 5, 5]
    assert pd.read_csv(tmp_path / "a" / "truth.csv").equals(truth)
    assert truth.equals(again)
    for name in truth["file"]:
        digest = [hashlib.sha256((tmp_path / d / name).read_bytes()).hexdigest() for d in ("a", "b")]
        assert digest[0] == digest[1], name
    assert set(truth["file"]) | {"truth.csv"} == {p.name for p in (tmp_path / "a").iterdir()}
    with pytest.raises(ValueError, match="distractors"):
        make_benchmark(photos, tmp_path / "c", edits=edits, distractors=9)


def test_edit_table_lists_every_default_edit():
    table = edit_table()
    assert table["edit"].tolist() == [e.name for e in DEFAULT_EDITS]
    assert set(table["category"]) == {"mild", "frame", "dihedral", "hard"}
    assert table.set_index("edit").loc["exif_6", "family"] == "exif_orientation"


def test_a_sample_of_a_large_folder(tmp_path, originals):
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in originals[:5]:
        Image.open(path).convert("RGB").resize((48, 32)).save(photos / path.name)
    edits = [EDITS["grey"]]
    truth = make_benchmark(photos, tmp_path / "out", edits=edits, distractors=0, max_photos=3, seed=1)
    assert truth["group"].nunique() == 3 and len(truth) == 6
    again = make_benchmark(photos, tmp_path / "again", edits=edits, distractors=0, max_photos=3, seed=1)
    assert truth.equals(again)
    with pytest.raises(ValueError, match="max_photos"):
        make_benchmark(photos, tmp_path / "bad", edits=edits, max_photos=0)


def test_python_m_dedupkit_edits(tmp_path, originals, capsys):
    from dedupkit.edits import main

    photos = tmp_path / "photos"
    photos.mkdir()
    for path in originals[:2]:
        Image.open(path).convert("RGB").resize((48, 32)).save(photos / path.name)
    assert main([str(photos), str(tmp_path / "bench"), "--distractors", "0"]) == 0
    assert "truth.csv" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "bench" / "truth.csv")) == 2 * (1 + len(DEFAULT_EDITS))


def test_make_benchmark_decodes_one_photo_at_a_time(tmp_path, originals, caplog):
    """At each photo, the decoded pictures alive are that photo's (and the last edit of the one before), not all."""
    import gc
    import logging

    photos = tmp_path / "photos"
    photos.mkdir()
    for path in originals[:6]:
        Image.open(path).convert("RGB").resize((64, 48)).save(photos / path.name)
    alive = []

    class Count(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("benchmark photo"):
                alive.append(sum(isinstance(o, Image.Image) for o in gc.get_objects()))

    handler = Count(logging.DEBUG)
    logger = logging.getLogger("dedupkit.edits")
    logger.addHandler(handler)
    before = sum(isinstance(o, Image.Image) for o in gc.get_objects())
    try:
        with caplog.at_level(logging.DEBUG, logger="dedupkit.edits"):
            truth = make_benchmark(photos, tmp_path / "out", edits=[EDITS["grey"], EDITS["mirror"]], distractors=0)
    finally:
        logger.removeHandler(handler)
    assert truth["group"].nunique() == 6 and len(alive) == 6
    assert max(alive) - before <= 3, alive  # holding every photo would be 6 and growing


def test_an_unreadable_photo_is_left_out_of_the_benchmark(tmp_path, originals, caplog):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(originals[0]).convert("RGB").resize((48, 32)).save(photos / "good.jpg")
    (photos / "bad.jpg").write_text("not an image\n")
    truth = make_benchmark(photos, tmp_path / "out", edits=[EDITS["grey"]], distractors=0)
    assert truth["group"].tolist() == ["good", "good"]
    assert "bad.jpg" in caplog.text
    (photos / "good.jpg").unlink()
    with pytest.raises(ValueError, match="no readable photos"):
        make_benchmark(photos, tmp_path / "none", edits=[EDITS["grey"]], distractors=0)

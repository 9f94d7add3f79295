"""benchmarks/bench_edits.py: the benchmark's randomised edits do what they record."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_edits", REPO / "benchmarks" / "bench_edits.py")
be = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bench_edits", be)
_spec.loader.exec_module(be)


@pytest.fixture(scope="module")
def im(photo) -> Image.Image:
    """A real sample photo at a modest size (the edits are size-independent)."""
    out = photo.copy()
    out.thumbnail((480, 480))
    return out


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_crop_box_matches_pixels(im, seed):
    ed = be.edit_crop(im, be.rng_for(seed, "photo", "crop", 0))
    left, top, right, bottom = ed.params["box"]
    assert ed.image.size == (right - left, bottom - top)
    assert np.array_equal(np.asarray(ed.image), np.asarray(im.crop((left, top, right, bottom))))
    for kept, side in zip(ed.params["kept"], im.size):
        assert 0.5 - 1 / side <= kept <= 0.95 + 1 / side


def test_crop_parameters_vary_with_seed_and_repeat_with_it(im):
    boxes = {tuple(be.edit_crop(im, be.rng_for(s, "p", "crop", 0)).params["box"]) for s in range(8)}
    assert len(boxes) >= 6
    again = be.edit_crop(im, be.rng_for(3, "p", "crop", 0)).params["box"]
    assert again == be.edit_crop(im, be.rng_for(3, "p", "crop", 0)).params["box"]


@pytest.mark.parametrize("where", ["above", "below"])
def test_caption_bar_of_recorded_height(im, where):
    for seed in range(4):
        ed = be.edit_frame(im, be.rng_for(seed, where), edit=f"caption_{where}")
        bar = ed.params["bar_height"]
        w, h = im.size
        assert ed.image.size == (w, h + bar)
        assert 0.08 * h - 1 <= bar <= 0.25 * h + 1
        x0, y0, x1, y1 = ed.params["photo_box"]
        assert np.array_equal(np.asarray(ed.image.crop((x0, y0, x1, y1))), np.asarray(im))
        strip = np.asarray(ed.image)[:bar] if where == "above" else np.asarray(ed.image)[h:]
        colour = np.array(ed.params["colour"])
        # Mostly the bar's colour, with some text drawn on it.
        share = (np.abs(strip.astype(int) - colour).sum(axis=2) == 0).mean()
        assert 0.5 < share < 1.0


@pytest.mark.parametrize("edit", be.FRAME_EDITS)
def test_frames_keep_the_photo_at_the_recorded_box(im, edit):
    ed = be.edit_frame(im, be.rng_for(1, edit), edit=edit, other=im.rotate(90))
    x0, y0, x1, y1 = ed.params["photo_box"]
    inner = ed.image.crop((x0, y0, x1, y1))
    ref = im.resize(inner.size) if inner.size != im.size else im
    assert np.abs(_grey(inner) - _grey(ref)).mean() < 3
    assert ed.image.width * ed.image.height > im.width * im.height


def test_exif_orientation_looks_upright(im):
    from PIL import ImageOps

    ed = be.edit_mild(im, be.rng_for(0, "exif"), edit="exif_orientation")
    buf = io.BytesIO()
    ed.save(buf)
    back = Image.open(io.BytesIO(buf.getvalue()))
    assert back.getexif()[0x0112] == ed.params["orientation"]
    upright = ImageOps.exif_transpose(back)
    assert upright.size == im.size
    assert np.abs(_grey(upright) - _grey(im)).mean() < 4


@pytest.mark.parametrize("seed", range(4))
def test_turn_angle_in_range(im, seed):
    ed = be.edit_turn(im, be.rng_for(seed, "turn"))
    assert 4 <= abs(ed.params["angle"]) <= 10
    if ed.params["mode"] == "expand":
        assert ed.image.width > im.width and ed.image.height > im.height
    else:
        assert ed.image.width < im.width and ed.image.height < im.height


def test_make_edits_families_and_distinct_mild_edits(im):
    copies = be.make_edits(im, 0, "sample-photo", fonts=be.find_fonts())
    families = [f for f, _, _ in copies]
    assert {f: families.count(f) for f in be.FAMILIES} == be.COPIES
    mild = [ed.edit for f, _, ed in copies if f == "mild"]
    assert len(set(mild)) == 3
    for _, _, ed in copies:
        json.dumps(ed.params)  # plain JSON, as the truth table stores it
        assert be.encoded_size(ed) > 0
    again = be.make_edits(im, 0, "sample-photo", fonts=be.find_fonts())
    assert [ed.params for *_, ed in again] == [ed.params for *_, ed in copies]
    other = be.make_edits(im, 1, "sample-photo", fonts=be.find_fonts())
    assert [ed.params for *_, ed in other] != [ed.params for *_, ed in copies]


def test_dihedral_is_a_pure_pixel_transform(im):
    ed = be.edit_dihedral(im, be.rng_for(5, "d"))
    back = ed.image.transpose(be.DIHEDRAL[ed.edit])
    if ed.edit in ("rot90", "rot270"):
        back = back.transpose(be.DIHEDRAL["rot180"])
    assert np.array_equal(np.asarray(back), np.asarray(im))


def test_upscale_enlarges_by_the_recorded_factor_with_a_drawn_filter_and_format(im):
    drawn = [be.edit_mild(im, be.rng_for(seed, "upscale"), edit="upscale") for seed in range(24)]
    for ed in drawn:
        s = ed.params["scale"]
        assert 1.2 <= s <= 2.5
        assert ed.image.size == (round(im.width * s), round(im.height * s))
        assert ed.format == ed.params["format"] and ed.params["filter"] in be.UPSCALE_FILTERS
        back = ed.image.resize(im.size, Image.Resampling.LANCZOS)
        assert np.abs(_grey(back) - _grey(im)).mean() < 4  # the same picture, only larger
    assert {ed.params["filter"] for ed in drawn} == set(be.UPSCALE_FILTERS)
    assert {ed.format for ed in drawn} == {"JPEG", "PNG"}

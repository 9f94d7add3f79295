"""Crop candidates: the true pairs of hard edits are proposed, the cap holds, bad files are skipped."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw, ImageFont, ImageOps

from dedupkit import crop_candidates, extract_all
from dedupkit.features import Features


def _crop(im: Image.Image, keep_w: float, keep_h: float, corner: tuple[float, float]) -> Image.Image:
    w, h = round(im.width * keep_w), round(im.height * keep_h)
    left, top = round((im.width - w) * corner[0]), round((im.height - h) * corner[1])
    return im.crop((left, top, left + w, top + h))


def _caption(im: Image.Image) -> Image.Image:
    bar = round(im.height * 0.2)
    canvas = Image.new("RGB", (im.width, im.height + bar), (20, 20, 20))
    canvas.paste(im, (0, 0))
    ImageDraw.Draw(canvas).text((bar // 3, im.height + bar // 2), "Our trip, day 3: look at this view!",
                                fill=(240, 240, 240), font=ImageFont.load_default(size=bar // 3), anchor="lm")
    return canvas


def _turn(im: Image.Image, degrees: float) -> Image.Image:
    turned = im.rotate(degrees, resample=Image.Resampling.BICUBIC)
    theta = np.radians(abs(degrees))
    scale = 1 / (np.cos(theta) + max(im.width / im.height, im.height / im.width) * np.sin(theta))
    w, h = int(im.width * scale), int(im.height * scale)
    left, top = (im.width - w) // 2, (im.height - h) // 2
    return turned.crop((left, top, left + w, top + h))


def _screenshot(im: Image.Image, seed: int) -> Image.Image:
    """The picture at 60% on a busy screen: coloured boxes and lines of text."""
    rng = random.Random(seed)
    screen = Image.new("RGB", (round(im.width * 1.2), round(im.height * 1.1)), (230, 230, 235))
    draw = ImageDraw.Draw(screen)
    for _ in range(30):
        x, y = rng.randrange(screen.width), rng.randrange(screen.height)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle((x, y, x + rng.randrange(20, 120), y + rng.randrange(8, 40)), fill=colour)
    for row in range(0, screen.height, 18):
        draw.text((rng.randrange(20), row), "File  Edit  View  Help  Settings", fill=(30, 30, 30))
    picture = im.resize((round(im.width * 0.6), round(im.height * 0.6)), Image.Resampling.LANCZOS)
    screen.paste(picture, (round(im.width * 0.35), round(im.height * 0.3)))
    return screen


@pytest.fixture(scope="module")
def hard_dir(tmp_path_factory, originals):
    """Ten sample photos, hard edits of three of them, and a broken file."""
    root = tmp_path_factory.mktemp("hard")
    for path in originals[:10]:
        shutil.copy(path, root / path.name)
    pairs = []
    edits = {
        "crop_corner": lambda im: _crop(im, 0.55, 0.6, (0.0, 1.0)),
        "crop_random": lambda im: _crop(im, 0.7, 0.9, (0.3, 0.8)),
        "caption": _caption,
        "turn": lambda im: _turn(im, 7.0),
    }
    for number, path in enumerate((originals[0], originals[4], originals[8])):
        edits["screenshot"] = lambda im, seed=number: _screenshot(im, seed)
        image = Image.open(path).convert("RGB")
        for name, edit in edits.items():
            out = root / f"{path.stem}__{name}.jpg"
            edit(image).save(out, quality=90)
            pairs.append((str(root / path.name), str(out)))
    (root / "broken.jpg").write_bytes(originals[1].read_bytes()[:300])
    return root, pairs


def _files(root) -> list[str]:
    return sorted(str(p) for p in root.glob("*.jpg"))


def _found(table: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(table["path_a"].astype(str), table["path_b"].astype(str)))


@pytest.fixture(scope="module")
def found(hard_dir):
    root, _ = hard_dir
    return crop_candidates(_files(root), workers=1)


def test_true_pairs_of_crops_captions_turns_and_screenshots_are_proposed(hard_dir, found):
    _, pairs = hard_dir
    got = _found(found)
    missing = [pair for pair in pairs if tuple(sorted(pair)) not in got]
    assert not missing, f"not proposed: {missing}"
    assert (found["path_a"] < found["path_b"]).all()
    assert found["votes"].is_monotonic_decreasing
    assert list(found.columns) == ["path_a", "path_b", "votes", "mirrored"]


def test_unreadable_file_is_skipped(hard_dir, found, caplog):
    root, _ = hard_dir
    assert str(root / "broken.jpg") in found.attrs["skipped"]
    assert str(root / "broken.jpg") not in set(found["path_a"]) | set(found["path_b"])
    assert any("broken.jpg" in r.getMessage() for r in caplog.records) or found.attrs["skipped"]


def test_result_does_not_depend_on_file_order(hard_dir, found):
    root, _ = hard_dir
    files = _files(root)
    random.Random(7).shuffle(files)
    again = crop_candidates(files, workers=2)
    pd.testing.assert_frame_equal(again, found)


def test_features_mapping_gives_the_same_pairs(hard_dir, found):
    root, _ = hard_dir
    features = extract_all(_files(root), workers=2)
    assert str(root / "broken.jpg") not in features
    assert all(isinstance(f, Features) for f in features.values())
    pd.testing.assert_frame_equal(crop_candidates(features), found)


@pytest.mark.parametrize("per_image", [1, 2, 4])
def test_each_image_proposes_at_most_per_image_partners(hard_dir, per_image):
    root, _ = hard_dir
    table = crop_candidates(_files(root), per_image=per_image, min_votes=1)
    n = table.attrs["n_images"]
    assert 0 < len(table) <= n * per_image
    # every pair is among the per_image strongest of one of its two images
    ranks: dict = {}
    both = pd.concat([table.rename(columns={"path_a": "x", "path_b": "y"}),
                      table.rename(columns={"path_b": "x", "path_a": "y"})])
    for x, rows in both.groupby("x"):
        ordered = rows.sort_values(["votes", "y"], ascending=[False, True])
        for rank, y in enumerate(ordered["y"]):
            ranks.setdefault(tuple(sorted((x, y))), []).append(rank)
    assert all(min(r) < per_image for r in ranks.values())


def test_more_votes_required_gives_fewer_pairs(hard_dir, found):
    root, _ = hard_dir
    strict = crop_candidates(_files(root), min_votes=40)
    assert (strict["votes"] >= 40).all()
    assert _found(strict) <= _found(found)
    assert len(strict) < len(found)


def test_mirrored_crop_is_found_with_mirror(tmp_path, originals):
    for path in originals[10:16]:
        shutil.copy(path, tmp_path / path.name)
    image = Image.open(originals[12]).convert("RGB")
    copy = tmp_path / "mirrored_crop.jpg"
    _crop(ImageOps.mirror(image), 0.7, 0.75, (0.5, 0.5)).save(copy, quality=90)
    pair = tuple(sorted((str(tmp_path / originals[12].name), str(copy))))
    plain = crop_candidates(_files(tmp_path))
    mirrored = crop_candidates(_files(tmp_path), mirror=True)
    assert pair in _found(mirrored)
    row = mirrored[_found_list_mask(mirrored, pair)]
    assert bool(row["mirrored"].iloc[0])
    assert pair not in _found(plain) or int(plain[_found_list_mask(plain, pair)]["votes"].iloc[0]) < int(
        row["votes"].iloc[0])


def _found_list_mask(table, pair):
    return (table["path_a"].astype(str) == pair[0]) & (table["path_b"].astype(str) == pair[1])


def test_bad_arguments():
    with pytest.raises(ValueError, match="per_image"):
        crop_candidates([], per_image=0)
    with pytest.raises(ValueError, match="min_votes"):
        crop_candidates([], min_votes=0)
    with pytest.raises(TypeError, match="single path"):
        crop_candidates("data/sample")
    with pytest.raises(TypeError, match="Features"):
        crop_candidates({"a.jpg": "not features"})


def test_fewer_than_two_images_gives_an_empty_table(originals):
    table = crop_candidates([str(originals[0])])
    assert len(table) == 0
    assert list(table.columns) == ["path_a", "path_b", "votes", "mirrored"]

"""The kept file is the original, not the edit: each keep rule on real files, and the bundled sample end to end."""

from __future__ import annotations

import itertools
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps

import dedupkit
from dedupkit import file_facts, find_duplicates, find_groups, hash_images
from dedupkit.keep import KEEP_RULES, keep_order


def _kept(folder, crops: bool = False, **options) -> tuple[list[str], pd.DataFrame]:
    hashes = hash_images(folder, progress=False)
    pairs = find_duplicates(hashes, progress=False, workers=1, crops=crops)
    groups = find_groups(pairs, hashes, progress=False, **options)
    return sorted(os.path.basename(p) for p in groups.loc[groups["keep"], "path"]), groups


def test_every_group_of_the_sample_keeps_its_original(sample_dir):
    truth = pd.read_csv(sample_dir / "truth.csv")
    is_original = truth["edit"] == "original"
    originals = dict(zip(truth.loc[is_original, "group"], truth.loc[is_original, "file"]))
    group_of = dict(zip(truth["file"], truth["group"]))
    _, groups = _kept(sample_dir)
    centres = groups[groups["keep"]]
    assert len(centres) >= 11  # the sample's edited copies that verification finds
    for path, reason in zip(centres["path"], centres["keep_reason"]):
        name = os.path.basename(path)
        assert name == originals[group_of[name]], f"{name} kept ({reason})"
        assert reason  # every kept file says why


@pytest.fixture
def photo(sample_dir):
    return Image.open(sample_dir / "picosdeeuropa.jpg").convert("RGB")


def test_a_crop_and_a_framed_copy_lose_to_the_original_whatever_their_names(tmp_path, photo):
    photo.save(tmp_path / "zz_original_with_a_long_name.jpg", quality=90)
    w, h = photo.size
    photo.crop((0, 0, int(w * 0.7), int(h * 0.7))).save(tmp_path / "a.jpg", quality=90)  # a corner crop
    ImageOps.expand(photo, border=80, fill=(255, 255, 255)).save(tmp_path / "b.jpg", quality=90)  # more pixels
    kept, groups = _kept(tmp_path, crops=True)
    assert kept == ["zz_original_with_a_long_name.jpg"]
    reasons = dict(zip(groups["path"].map(os.path.basename), groups["keep_reason"]))
    assert "crop" in reasons["a.jpg"] and "frame" in reasons["b.jpg"]


def test_a_crop_of_a_picture_on_black_loses_to_it_and_a_framed_copy_too(tmp_path, sample_dir):
    """A retina on its black surround: the crop cuts away mostly black, which is plain but is not a frame.

    It was taken for one (its plain share 0.44, over the rule's 0.4) and the
    crop was kept; the picture goes on across the crop's edge, while it
    stops at an added frame.
    """
    retina = Image.open(sample_dir / "retina.jpg").convert("RGB")
    retina.save(tmp_path / "retina.jpg", quality=92)
    w, h = retina.size
    retina.crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(tmp_path / "retina_crop.jpg", quality=75)
    ImageOps.expand(retina, border=w // 12, fill=(255, 255, 255)).save(tmp_path / "retina_border.png")
    kept, groups = _kept(tmp_path)
    assert kept == ["retina.jpg"]
    reasons = dict(zip(groups["path"].map(os.path.basename), groups["keep_reason"]))
    assert "crop" in reasons["retina_crop.jpg"] and "frame" in reasons["retina_border.png"]


def test_colour_wins_over_greyscale_and_quality_over_a_lossy_copy(tmp_path, photo):
    photo.save(tmp_path / "colour_original.jpg", quality=92)
    photo.convert("L").save(tmp_path / "g.jpg", quality=92)
    kept, groups = _kept(tmp_path)
    assert kept == ["colour_original.jpg"] and "greyscale" in groups.loc[groups["keep"], "keep_reason"].iloc[0]
    for f in tmp_path.iterdir():
        f.unlink()
    photo.save(tmp_path / "good_quality.jpg", quality=95)
    photo.save(tmp_path / "q.jpg", quality=30)
    assert _kept(tmp_path)[0] == ["good_quality.jpg"]


def test_a_png_resave_of_a_jpeg_loses_to_the_jpeg_but_a_png_original_wins(tmp_path, photo):
    photo.save(tmp_path / "the_jpeg_original.jpg", quality=97)  # so high that the JPEG's traces are faint
    Image.open(tmp_path / "the_jpeg_original.jpg").save(tmp_path / "p.png")
    kept, groups = _kept(tmp_path)
    assert kept == ["the_jpeg_original.jpg"]
    assert "re-save" in groups.loc[groups["keep"], "keep_reason"].iloc[0]
    for f in tmp_path.iterdir():
        f.unlink()
    photo.resize((400, 300)).save(tmp_path / "the_png_original.png")
    Image.open(tmp_path / "the_png_original.png").save(tmp_path / "j.jpg", quality=90)
    assert _kept(tmp_path)[0] == ["the_png_original.png"]


def test_decoded_jpeg_is_seen_in_a_png_and_not_in_a_drawing(tmp_path, photo):
    photo.save(tmp_path / "x.jpg", quality=80)
    Image.open(tmp_path / "x.jpg").save(tmp_path / "resaved.png")
    drawing = Image.linear_gradient("L").resize((300, 200)).convert("RGB")
    drawing.paste((200, 30, 30), (40, 40, 120, 160))
    drawing.save(tmp_path / "drawing.png")
    facts = file_facts([tmp_path / "resaved.png", tmp_path / "drawing.png", tmp_path / "x.jpg"]).set_index("path")
    assert facts["decoded_jpeg"].tolist() == [True, False, False]
    assert facts["lossless"].tolist() == [True, True, False]
    assert facts.loc[str(tmp_path / "x.jpg"), "quality"] == pytest.approx(80, abs=1)


def test_names_that_mark_a_copy_and_the_older_file(tmp_path, photo):
    photo.save(tmp_path / "photo.jpg", quality=90)
    shutil.copyfile(tmp_path / "photo.jpg", tmp_path / "photo (1).jpg")
    os.utime(tmp_path / "photo.jpg", (2_000_000_000, 2_000_000_000))  # the original is the newer file here
    facts = file_facts([tmp_path / "photo (1).jpg", tmp_path / "photo.jpg"])
    assert keep_order(facts).tolist() == [1, 0]  # copy_name comes before older
    assert keep_order(facts, rules=["older"]).tolist() == [0, 1]
    shutil.copyfile(tmp_path / "photo.jpg", tmp_path / "another_name_entirely.jpg")
    os.utime(tmp_path / "another_name_entirely.jpg", (1_000_000_000, 1_000_000_000))
    facts = file_facts([tmp_path / "photo.jpg", tmp_path / "another_name_entirely.jpg"])
    assert keep_order(facts).tolist() == [1, 0]  # the older, though its path is longer


def test_camera_metadata_wins_and_an_orientation_tag_alone_does_not(tmp_path, photo):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS 5D"
    photo.save(tmp_path / "from_the_camera.jpg", quality=90, exif=exif)
    turned = Image.Exif()
    turned[0x0112] = 1
    photo.save(tmp_path / "c.jpg", quality=90, exif=turned)
    facts = file_facts([tmp_path / "c.jpg", tmp_path / "from_the_camera.jpg"])
    assert facts["camera"].tolist() == [False, True]
    assert keep_order(facts).tolist() == [1, 0]


def test_a_still_image_wins_over_an_animation(tmp_path, photo):
    small = photo.resize((200, 150))
    small.save(tmp_path / "the_still.png")
    small.save(tmp_path / "a.gif", save_all=True, append_images=[small.rotate(1)], duration=100)
    facts = file_facts([tmp_path / "a.gif", tmp_path / "the_still.png"])
    assert facts["animated"].tolist() == [True, False]
    assert keep_order(facts, rules=["still"]).tolist() == [1, 0]


def test_an_animation_of_a_photo_loses_to_the_photo_whatever_its_bytes(tmp_path, photo):
    """An animated GIF's bytes hold every frame: per pixel they say nothing of its quality (seen on real photos:
    a three-frame GIF of a JPEG was kept as "higher quality" in 21 of 22 pairs)."""
    small = photo.resize((320, 240))
    small.save(tmp_path / "photo.jpg", quality=85)
    frames = [small, small.point(lambda v: min(255, v + 12)), small.point(lambda v: max(0, v - 12))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=300, loop=0)
    facts = file_facts([tmp_path / "a.gif", tmp_path / "photo.jpg"])
    gif, jpeg = facts.itertuples(index=False)
    assert gif.bytes / gif.picture_pixels > 1.5 * jpeg.bytes / jpeg.picture_pixels  # what fooled the rule
    assert keep_order(facts, rules=[r for r in KEEP_RULES if r not in ("path", "older")]).tolist() == [1, 0]


def test_a_png_resave_is_never_kept_over_the_jpeg_it_holds_whatever_else_is_in_the_group(tmp_path, photo):
    """A lossless re-save is that JPEG's copy against every member, not only against that JPEG: else a third
    copy that ties with the JPEG makes a cycle, and the order the files come in picks the PNG (seen on real
    photos: the PNG kept in 6 of 23 groups)."""
    picture = photo.resize((320, 240))
    picture.save(tmp_path / "original.jpg", quality=98)  # so fine that the PNG shows no JPEG blocks
    with Image.open(tmp_path / "original.jpg") as decoded:
        decoded.save(tmp_path / "original_resaved.png")
    picture.save(tmp_path / "b.jpg", quality=95)  # ties with the original (quality), wins on path order
    names = ["original_resaved.png", "original.jpg", "b.jpg"]
    for order in itertools.permutations(names):
        facts = file_facts([tmp_path / name for name in order])
        assert facts["lossless"].sum() == 1 and not facts["decoded_jpeg"].any()
        rank = keep_order(facts, rules=[r for r in KEEP_RULES if r != "copy_name"])
        assert [name for name, r in sorted(zip(order, rank), key=lambda x: x[1])] == [
            "b.jpg", "original.jpg", "original_resaved.png"], order


def test_reference_files_are_always_kept_and_others_never_kept_over_them(tmp_path, photo):
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    photo.resize((400, 300)).save(tmp_path / "train" / "small.jpg", quality=90)
    photo.resize((200, 150)).save(tmp_path / "train" / "smaller.jpg", quality=90)
    photo.save(tmp_path / "test" / "big.jpg", quality=90)
    kept, groups = _kept(tmp_path, reference=tmp_path / "train")
    assert kept == ["small.jpg", "smaller.jpg"]  # both under the reference folder; the bigger test copy is not kept
    assert groups.loc[~groups["keep"], "path"].map(os.path.basename).tolist() == ["big.jpg"]
    assert set(groups.loc[groups["keep"], "keep_reason"]) == {"under a reference folder"}
    # without the reference folder the biggest copy is kept
    assert _kept(tmp_path)[0] == ["big.jpg"]


def test_unknown_rules_and_bad_facts_are_refused(tmp_path, photo):
    facts = pd.DataFrame({"path": ["a", "b"]})
    with pytest.raises(ValueError, match="unknown keep rules.*'biggest'"):
        keep_order(facts, rules=["biggest"])
    with pytest.raises(ValueError, match="unknown keep rules"):
        keep_order(facts, rules="pixels")
    with pytest.raises(ValueError, match="'path' column"):
        find_groups(pd.DataFrame({"path_a": ["a"], "path_b": ["b"]}), facts=pd.DataFrame({"x": [1]}))
    assert set(KEEP_RULES) >= {"reference", "content", "colour", "pixels", "lossless", "quality", "path"}
    assert dedupkit.KEEP_RULES == KEEP_RULES


def test_unreadable_files_have_an_error_and_tie(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    facts = file_facts([tmp_path / "broken.jpg", tmp_path / "missing.jpg"])
    assert facts["error"].notna().all()
    assert keep_order(facts, rules=["pixels", "quality"]).tolist() in ([0, 1], [1, 0])


def test_the_cli_keeps_reference_files_and_says_why(tmp_path, photo):
    import subprocess
    import sys

    (tmp_path / "photos" / "train").mkdir(parents=True)
    (tmp_path / "photos" / "test").mkdir()
    photo.resize((200, 150)).save(tmp_path / "photos" / "train" / "small.jpg", quality=90)
    photo.save(tmp_path / "photos" / "test" / "big.jpg", quality=90)
    run = [sys.executable, "-m", "dedupkit", "find", str(tmp_path / "photos"), "-o", str(tmp_path / "p.csv"),
           "--groups", str(tmp_path / "g.csv")]
    subprocess.run(run, check=True, capture_output=True)
    plain = pd.read_csv(tmp_path / "g.csv")
    assert plain.loc[plain["keep"], "path"].tolist() == ["test/big.jpg"]
    assert plain.loc[plain["keep"], "keep_reason"].tolist() == ["more pixels of the picture"]
    subprocess.run([*run, "--reference", str(tmp_path / "photos" / "train")], check=True, capture_output=True)
    ref = pd.read_csv(tmp_path / "g.csv")
    assert ref.loc[ref["keep"], "path"].tolist() == ["train/small.jpg"]
    assert ref.loc[~ref["keep"], "path"].tolist() == ["test/big.jpg"]
    assert ref.loc[ref["keep"], "keep_reason"].tolist() == ["under a reference folder"]
    bad = subprocess.run([*run, "--reference", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert bad.returncode == 2 and "nowhere" in bad.stderr


def _pair_kept(first, second) -> tuple[str, str, pd.DataFrame]:
    """The kept file of two copies, why, and their facts (the group of one verified-free pair)."""
    facts = file_facts([first, second])
    groups = find_groups(pd.DataFrame({"path_a": [str(first)], "path_b": [str(second)]}), facts=facts)
    kept = groups.loc[groups["keep"]]
    return os.path.basename(kept["path"].iloc[0]), kept["keep_reason"].iloc[0], facts.set_index("path")


UPSCALES = [(1.25, "BILINEAR", "JPEG"), (1.5, "BICUBIC", "PNG"), (1.5, "LANCZOS", "JPEG"), (2.0, "BILINEAR", "PNG"),
            (2.0, "BICUBIC", "JPEG"), (2.5, "LANCZOS", "PNG")]


@pytest.mark.parametrize(("factor", "resample", "fmt"), UPSCALES, ids=[f"{f}x-{r.lower()}-{m.lower()}"
                                                                       for f, r, m in UPSCALES])
def test_an_upscaled_copy_is_not_more_pixels_and_loses_to_its_original(tmp_path, photo, factor, resample, fmt):
    """An upscaled copy has factor² the pixels and no more detail: it must not win by "more pixels" (seen on real
    photos: a 1.5x copy kept in every group it was in). Then the next rules decide: a PNG enlargement of a JPEG is
    that JPEG's copy (not "less lossy"), and a JPEG one, here as good, loses to the older original."""
    original, copy = tmp_path / "zz_the_original_photo.jpg", tmp_path / f"up.{fmt.lower()}"
    photo.save(original, quality=90)
    with Image.open(original) as decoded:
        size = (round(decoded.width * factor), round(decoded.height * factor))
        decoded.convert("RGB").resize(size, getattr(Image.Resampling, resample)).save(copy, fmt, quality=90)
    os.utime(original, (1_000_000_000, 1_000_000_000))
    os.utime(copy, (2_000_000_000, 2_000_000_000))
    kept, why, facts = _pair_kept(copy, original)
    assert facts.loc[str(copy), "picture_pixels"] > 1.5 * facts.loc[str(original), "picture_pixels"]
    assert facts.loc[str(copy), "detail_pixels"] < 1.1 * facts.loc[str(original), "detail_pixels"]
    assert kept == original.name, why
    assert why == ("older file" if fmt == "JPEG" else "less lossy (the other is lossy, or a lossless re-save of a "
                   "lossy file)")


@pytest.mark.parametrize("name", ["picosdeeuropa.jpg", "tulips.jpg", "coffee.jpg"])
@pytest.mark.parametrize("factor", [0.5, 0.8, 0.95])
def test_a_larger_original_still_wins_over_its_downscaled_copy_by_more_pixels(tmp_path, sample_dir, name, factor):
    """The detail measure does not take "more pixels" from a real original: its downscaled copy holds less
    detail, and loses on pixels though every later rule would keep it (older, shorter name, same quality); a copy
    less than 1.15 times smaller is not checked (at 0.95 the measure cannot tell; seen on bench-data: small crops
    and stretches tied with their originals)."""
    original, copy = tmp_path / "zz_the_original_photo.jpg", tmp_path / "a.jpg"
    picture = Image.open(sample_dir / name).convert("RGB")
    picture.save(original, quality=90)
    picture.resize((round(picture.width * factor), round(picture.height * factor)),
                   Image.Resampling.LANCZOS).save(copy, quality=90)
    os.utime(original, (2_000_000_000, 2_000_000_000))
    os.utime(copy, (1_000_000_000, 1_000_000_000))
    kept, why, facts = _pair_kept(copy, original)
    if factor < 0.9:
        assert facts.loc[str(original), "detail_pixels"] > 1.1 * facts.loc[str(copy), "detail_pixels"]
    assert (kept, why) == (original.name, "more pixels of the picture")


def test_detail_is_measured_at_full_resolution_and_is_missing_where_there_is_none(tmp_path, photo):
    """An enlarged copy's detail scale grows with its factor; a flat picture, or an unreadable file, has none."""
    from dedupkit.keep import _detail_scale, _detail_shares

    grey = np.asarray(photo.convert("L"), np.float32)
    sharp = _detail_scale(_detail_shares(grey))
    for factor in (1.5, 2.5):
        enlarged = photo.convert("L").resize((round(photo.width * factor), round(photo.height * factor)),
                                             Image.Resampling.LANCZOS)
        assert _detail_scale(_detail_shares(np.asarray(enlarged, np.float32))) > 0.8 * factor * sharp
    assert _detail_shares(np.full((300, 400), 128, np.float32)) is None  # no detail above the noise
    assert _detail_shares(grey[:20, :20]) is None  # too small to tell
    Image.new("RGB", (300, 200), (90, 120, 150)).save(tmp_path / "flat.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    facts = file_facts([tmp_path / "flat.png", tmp_path / "broken.jpg"])
    assert facts["detail_pixels"].isna().all()


def test_the_file_that_beats_the_most_is_kept_when_ties_do_not_chain(tmp_path, photo):
    """Qualities 98 and 94 are equal (within 5 points), 94 and 90 too, yet 98 beats 90: sorting by the pairwise
    comparison alone let the order of the files keep a copy (seen on real photos: an upscaled copy at quality 90
    kept through an EXIF-rotated one at 95 that tied with the original at 98)."""
    picture = photo.resize((320, 240))
    names = {"zz_the_original_photo.jpg": 98, "b.jpg": 94, "a.jpg": 90}
    for name, quality in names.items():
        picture.save(tmp_path / name, quality=quality)
        os.utime(tmp_path / name, (1_000_000_000, 1_000_000_000))
    for order in itertools.permutations(names):
        facts = file_facts([tmp_path / name for name in order])
        rank = keep_order(facts)
        assert order[int(np.argmin(rank))] == "zz_the_original_photo.jpg", order


def test_detail_is_measured_only_for_copies_apart_in_size_and_decides_as_when_measured_first(tmp_path, photo):
    """``find_groups`` reads the facts without the full-resolution detail measure and measures it only where a
    rule needs it (copies at least 1.15x apart per side): the same files are kept, for the same reasons, as with
    every file measured first, and a same-size copy is never decoded at full size (seen: 45 ms a photo, 9.5 s of a
    23 s scan of 230 photos)."""
    from dedupkit.keep import KEEP_RULES, _Judge

    original, same, up = tmp_path / "zz_original.jpg", tmp_path / "same.jpg", tmp_path / "up.jpg"
    photo.save(original, quality=95)
    photo.save(same, quality=60)
    photo.resize((photo.width * 3 // 2, photo.height * 3 // 2), Image.Resampling.BICUBIC).save(up, quality=95)
    for i, f in enumerate((original, same, up)):
        os.utime(f, (1_000_000_000 * (1 + i), 1_000_000_000 * (1 + i)))
    pairs = pd.DataFrame({"path_a": [str(original), str(up)], "path_b": [str(same), str(original)]})
    lazy = find_groups(pairs)
    eager = find_groups(pairs, facts=file_facts([original, same, up]))
    columns = ["path", "keep", "keep_reason"]
    pd.testing.assert_frame_equal(lazy[columns].sort_values("path", ignore_index=True),
                                  eager[columns].sort_values("path", ignore_index=True))
    assert lazy.loc[lazy["keep"], "path"].tolist() == [str(original)], lazy[columns]

    quick = file_facts([original, same], detail=False)
    assert quick["detail_pixels"].isna().all()
    judge = _Judge(quick, KEEP_RULES, measure_detail=True)
    judge.rank(np.zeros(2, np.int64))
    assert all(pd.isna(r["detail_pixels"]) for r in judge.records)  # same size: nothing measured
    judge = _Judge(file_facts([original, up], detail=False), KEEP_RULES, measure_detail=True)
    judge.rank(np.zeros(2, np.int64))
    measured = file_facts([original, up]).set_index("path")["detail_pixels"]
    assert [r["detail_pixels"] for r in judge.records] == pytest.approx(measured.tolist(), rel=1e-6)

"""Images load the way a person sees them; every bad file becomes a clear error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dedupkit import ImageLoadError, hash_file, load_image
from dedupkit.loading import LOAD_ERROR_KINDS, TRANSIENT_KINDS, decode_image


def test_exif_orientation_is_applied(tmp_path, photo):
    stored = photo.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    stored.save(path, quality=95, exif=exif)
    decoded = decode_image(path)
    assert decoded.image.size == photo.size
    assert (decoded.width, decoded.height) == photo.size
    difference = np.abs(np.asarray(decoded.image, float) - np.asarray(photo, float)).mean()
    assert difference < 6  # same picture, upright (only JPEG noise differs)
    upright = _save(tmp_path / "upright.jpg", photo, quality=95)
    assert _bits_apart(hash_file(path)["hash"], hash_file(upright)["hash"]) <= 2


def _bits_apart(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _save(path, image, **options):
    image.save(path, **options)
    return path


def test_alpha_is_composited_onto_white(tmp_path):
    image = Image.new("RGBA", (20, 10), (0, 0, 0, 0))  # fully transparent black
    image.paste((0, 0, 0, 255), (0, 0, 10, 10))  # left half opaque black
    loaded = load_image(_save(tmp_path / "alpha.png", image))
    pixels = np.asarray(loaded)
    assert loaded.mode == "RGB"
    assert (pixels[:, :10] == 0).all() and (pixels[:, 10:] == 255).all()


def test_palette_with_transparency_and_la(tmp_path):
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.info["transparency"] = 0
    loaded = load_image(_save(tmp_path / "palette.png", palette, transparency=0))
    assert np.asarray(loaded).min() == 255  # transparent everywhere -> white
    la = Image.new("LA", (4, 4), (0, 0))
    assert np.asarray(load_image(_save(tmp_path / "la.png", la))).min() == 255


def test_cmyk_and_bilevel(tmp_path):
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red
    loaded = load_image(_save(tmp_path / "cmyk.jpg", cmyk, quality=95))
    r, g, b = np.asarray(loaded).reshape(-1, 3).mean(axis=0)
    assert loaded.mode == "RGB" and r > 200 and g < 60 and b < 60
    assert load_image(_save(tmp_path / "bw.png", Image.new("1", (8, 8), 1))).mode == "L"


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (16, 1))
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    pixels = np.asarray(load_image(path))
    assert pixels.dtype == np.uint8
    assert pixels[0, 0] == 0 and pixels[0, -1] == 255 and 100 < pixels[0, 32] < 160


def test_animated_gif_hashes_its_first_frame(tmp_path, photo):
    frames = [photo.convert("P"), Image.new("RGB", photo.size, "white").convert("P")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(path).n_frames == 2
    first = hash_file(path, exact=True)["hash"]
    assert first == hash_file(_save(tmp_path / "first.gif", frames[0]), exact=True)["hash"]
    assert first != "0000000000000000"


@pytest.mark.parametrize("fmt, ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif"),
                                      ("TIFF", "tif"), ("BMP", "bmp"), ("HEIF", "heic"), ("AVIF", "avif")])
def test_formats_are_read(tmp_path, photo, fmt, ext):
    path = _save(tmp_path / f"photo.{ext}", photo, format=fmt)
    row = hash_file(path)
    assert row["error"] is None, row["error"]
    assert row["format"] == fmt and (row["width"], row["height"]) == photo.size
    reference = hash_file(_save(tmp_path / "ref.png", photo))["hash"]
    assert _bits_apart(row["hash"], reference) <= 6


def test_tiny_image_hashes(tmp_path):
    row = hash_file(_save(tmp_path / "one.png", Image.new("RGB", (1, 1), "red")))
    assert row["error"] is None and row["width"] == 1 and len(row["hash"]) == 16


def _corrupt_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[200:260] = bytes(60)  # zero a stretch of the compressed pixel data
    return bytes(data)


BAD_FILES = {  # how to make it, words of the message, the error's kind
    "empty": (lambda p, good: p.write_bytes(b""), "empty file", "empty"),
    "text": (lambda p, good: p.write_text("hello\n"), "not an image", "not_an_image"),
    "truncated": (lambda p, good: p.write_bytes(good[: len(good) // 3]), "truncated", "truncated"),
    "corrupt-png-data": (lambda p, good: p.write_bytes(_corrupt_png()), "corrupt", "corrupt"),
    "folder": (lambda p, good: p.mkdir(), "folder", "folder"),
    "dangling-link": (lambda p, good: p.symlink_to(p.parent / "missing.jpg"), "broken symbolic link", "broken_link"),
    "missing": (lambda p, good: None, "file not found", "missing"),
    "under-a-file": (lambda p, good: p.parent.write_text("x"), "cannot read the file",
                     "unreadable"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_raise_a_clear_error_and_hash_file_records_it(tmp_path, originals, name):
    make, words, kind = BAD_FILES[name]
    path = tmp_path / f"{name}.jpg" if name != "under-a-file" else tmp_path / "a_file" / "photo.jpg"
    make(path, originals[0].read_bytes())
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(path) in str(info.value)
    assert info.value.kind == kind and kind in LOAD_ERROR_KINDS
    row = hash_file(path)
    assert row["hash"] is None and words in row["error"], row["error"]
    assert row["error_kind"] == kind


def test_an_error_kind_is_one_of_the_known_kinds():
    assert TRANSIENT_KINDS < set(LOAD_ERROR_KINDS)
    with pytest.raises(ValueError, match="kind must be one of missing, broken_link"):
        ImageLoadError("x.jpg", "odd", kind="odd")


def test_pixel_limit_guards_against_decompression_bombs(tmp_path, photo):
    path = _save(tmp_path / "photo.png", photo)
    with pytest.raises(ImageLoadError, match="over the limit of 1,000") as info:
        load_image(path, max_pixels=1000)
    assert info.value.kind == "too_large"
    assert "max_pixels" in hash_file(path, max_pixels=1000)["error"]


def test_real_bomb_header_is_refused_without_decoding(tmp_path):
    buffer = io.BytesIO()
    Image.new("1", (20000, 12000)).save(buffer, "PNG")  # 240 Mpx, a few kB on disk
    path = tmp_path / "bomb.png"
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 100_000
    row = hash_file(path)
    assert row["hash"] is None and row["error"].endswith("it has 240,000,000 pixels, over the limit of 178,956,970")
    # dedupkit's own limit is the one quoted, not Pillow's (which refused to open the file)
    error = hash_file(path, max_pixels=50_000_000)["error"]
    assert error == "image too large to open safely: it has 240,000,000 pixels, over the limit of 50,000,000"


def test_a_white_drawing_on_transparency_is_shown_on_black(tmp_path):
    """A white glyph on a transparent background (MATE ships wallpapers so) vanished on white: every such image was
    blank, hashed alike and matched nothing. White that hides the alpha channel's shape gives way to black."""
    from PIL import ImageDraw

    hashes = []
    for name, draw in (("ring", lambda d: d.ellipse([20, 20, 100, 100], outline=(255, 255, 255, 255), width=8)),
                       ("bars", lambda d: [d.rectangle([x, 10, x + 10, 110], fill=(255, 255, 255, 200))
                                           for x in (15, 55, 95)])):
        glyph = Image.new("RGBA", (120, 120), (255, 255, 255, 0))  # white, and transparent
        draw(ImageDraw.Draw(glyph))
        loaded = np.asarray(load_image(_save(tmp_path / f"{name}.png", glyph)).convert("L"))
        assert loaded.min() == 0 and loaded.max() >= 200  # drawn light on black, not white on white
        hashes.append(hash_file(tmp_path / f"{name}.png")["hash"])
    assert _bits_apart(*hashes) > 16  # two different glyphs, no longer two blank squares
    dark = Image.new("RGBA", (120, 120), (0, 0, 0, 0))  # a dark drawing is shown on white, as before
    ImageDraw.Draw(dark).ellipse([20, 20, 100, 100], outline=(40, 40, 40, 255), width=8)
    loaded = np.asarray(load_image(_save(tmp_path / "dark.png", dark)).convert("L"))
    assert loaded[0, 0] == 255 and loaded.min() == 40

"""Make the near-duplicates, bad files and ground truth of ``data/sample``.

Run from the repository root: ``python data/make_sample.py``. Seeded and
deterministic; its output is committed, so nobody needs to run it.

Each edited copy is named ``<original>__<edit>.<ext>`` and belongs to the group
of its original in ``truth.csv`` (``file,group,edit``). Mirrored, rotated and
heavily cropped copies are true duplicates that a 64-bit dHash is not expected
to catch: they keep the measured recall honest.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

SAMPLE = Path(__file__).resolve().parent / "sample"
SEED = 20261125


def resized(im: Image.Image) -> Image.Image:
    return im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)


def brightened(im: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(im).enhance(1.25)


def cropped(im: Image.Image, fraction: float) -> Image.Image:
    dx, dy = round(im.width * fraction / 2), round(im.height * fraction / 2)
    return im.crop((dx, dy, im.width - dx, im.height - dy))


def watermarked(im: Image.Image) -> Image.Image:
    out = im.copy()
    draw = ImageDraw.Draw(out)
    draw.text((im.width // 20, im.height - im.height // 8), "(c) dedupkit sample", fill=(255, 255, 255))
    return out


def noisy(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(im, dtype=np.int16) + rng.normal(0, 8, size=(im.height, im.width, 3)).round().astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def exif_rotated(im: Image.Image) -> tuple[Image.Image, Image.Exif]:
    """Pixels stored rotated, with the EXIF tag that tells a viewer to turn them back."""
    stored = im.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    return stored, exif


def main() -> None:
    rng = np.random.default_rng(SEED)
    rows: list[tuple[str, str, str]] = []
    originals = sorted(p for p in SAMPLE.glob("*.jpg") if "__" not in p.stem)
    for path in originals:
        rows.append((path.name, path.stem, "original"))

    def save(stem: str, edit: str, image: Image.Image, ext: str = "jpg", **options) -> None:
        name = f"{stem}__{edit}.{ext}"
        image.save(SAMPLE / name, **options)
        rows.append((name, stem, edit))

    def open_rgb(stem: str) -> Image.Image:
        return Image.open(SAMPLE / f"{stem}.jpg").convert("RGB")

    # copies a 64-bit dHash should find
    save("coffee", "half_size", resized(open_rgb("coffee")), quality=90)
    save("astronaut", "jpeg_q20", open_rgb("astronaut"), quality=20)
    save("sunset", "brighter", brightened(open_rgb("sunset")), quality=90)
    save("china_temple", "crop_4pct", cropped(open_rgb("china_temple"), 0.04), quality=90)
    save("chelsea_cat", "greyscale", ImageOps.grayscale(open_rgb("chelsea_cat")), quality=90)
    save("life_river", "watermark", watermarked(open_rgb("life_river")), quality=90)
    save("dandelions", "noise", noisy(open_rgb("dandelions"), rng), quality=90)
    save("tulips", "png", open_rgb("tulips"), ext="png")
    save("blossom", "webp", open_rgb("blossom"), ext="webp", quality=70)
    stored, exif = exif_rotated(open_rgb("grace_hopper"))
    save("grace_hopper", "exif_rotated", stored, quality=90, exif=exif)
    transparent = open_rgb("coins").convert("RGBA")
    transparent.putalpha(255)
    save("coins", "rgba_png", transparent, ext="png")
    # true duplicates a 64-bit dHash is not expected to find
    save("friends_dogs", "mirrored", ImageOps.mirror(open_rgb("friends_dogs")), quality=90)
    save("rocket", "rotated_90", open_rgb("rocket").transpose(Image.Transpose.ROTATE_90), quality=90)
    save("picosdeeuropa", "crop_30pct", cropped(open_rgb("picosdeeuropa"), 0.30), quality=90)

    # files that are not readable images: each must become an error row
    bad = SAMPLE / "bad"
    bad.mkdir(exist_ok=True)
    whole = io.BytesIO()
    open_rgb("brick").save(whole, "JPEG", quality=90)
    (bad / "truncated.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 3])
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "notes.jpg").write_text("This is a text file with an image's name.\n")

    with open(SAMPLE / "truth.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "group", "edit"])
        writer.writerows(sorted(rows))


if __name__ == "__main__":
    main()

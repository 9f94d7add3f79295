"""The edit families of a calibration benchmark: how each kind of edit changes a picture.

Each family is a function ``(image, rng, **params)`` returning the edited
image, or an :class:`Edited` when it also decides how the file is written
(format, quality, EXIF). :data:`FAMILIES` names them; :mod:`dedupkit.edits`
holds the named, parameterised edits made of them and writes benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from .orientations import EXIF_ORIENTATION, EXIF_STORED, TRANSPOSES

__all__ = ["FAMILIES", "Edited"]


class Edited(NamedTuple):
    """An edited picture and how to write it."""

    image: Image.Image
    ext: str = "jpg"  # file ending, without the dot
    save_options: dict = {}  # noqa: RUF012 - never mutated


def _resize(im: Image.Image, rng: np.random.Generator, *, scale: float) -> Image.Image:
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.LANCZOS)


def _thumbnail(im: Image.Image, rng: np.random.Generator, *, max_side: int) -> Image.Image:
    out = im.copy()
    out.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return out


def _recompress(im: Image.Image, rng: np.random.Generator, *, fmt: str, quality: int | None = None) -> Edited:
    options = {} if quality is None else {"quality": quality}
    return Edited(im, fmt, options)


def _brightness(im: Image.Image, rng: np.random.Generator, *, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(im).enhance(factor)


def _contrast(im: Image.Image, rng: np.random.Generator, *, factor: float) -> Image.Image:
    return ImageEnhance.Contrast(im).enhance(factor)


def _gamma(im: Image.Image, rng: np.random.Generator, *, gamma: float) -> Image.Image:
    table = [round(255 * (v / 255) ** gamma) for v in range(256)]
    return im.point(table * len(im.getbands()))


def _grey(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.grayscale(im)


def _blur(im: Image.Image, rng: np.random.Generator, *, radius: float) -> Image.Image:
    return im.filter(ImageFilter.GaussianBlur(radius))


def _noise(im: Image.Image, rng: np.random.Generator, *, sigma: float) -> Image.Image:
    pixels = np.asarray(im, dtype=np.float32)
    noisy = pixels + rng.normal(0.0, sigma, size=pixels.shape)
    return Image.fromarray(np.clip(noisy.round(), 0, 255).astype(np.uint8), mode=im.mode)


def _sharpen(im: Image.Image, rng: np.random.Generator, *, radius: float, percent: int) -> Image.Image:
    return im.filter(ImageFilter.UnsharpMask(radius=radius, percent=percent, threshold=0))


def _stretch(im: Image.Image, rng: np.random.Generator, *, aspect: float) -> Image.Image:
    return im.resize((max(1, round(im.width * aspect)), im.height), Image.Resampling.LANCZOS)


def _rotate(im: Image.Image, rng: np.random.Generator, *, degrees: float) -> Image.Image:
    """Turn by a few degrees and crop the largest upright rectangle of the same shape (a "straighten")."""
    turned = im.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False)
    theta = np.radians(abs(degrees))
    ratio = max(im.width / im.height, im.height / im.width)
    scale = 1.0 / (np.cos(theta) + ratio * np.sin(theta))
    w, h = int(im.width * scale), int(im.height * scale)
    left, top = (im.width - w) // 2, (im.height - h) // 2
    return turned.crop((left, top, left + w, top + h))


def _transpose(im: Image.Image, rng: np.random.Generator, *, how: str) -> Image.Image:
    return im.transpose(TRANSPOSES[how])


def _exif_orientation(im: Image.Image, rng: np.random.Generator, *, tag: int) -> Edited:
    """Pixels stored turned, with the EXIF orientation tag that makes a viewer show them upright."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = tag
    return Edited(im.transpose(EXIF_STORED[tag]), "jpg", {"quality": 92, "exif": exif})


def _crop(im: Image.Image, rng: np.random.Generator, *, fraction: float) -> Image.Image:
    """Cut ``fraction`` of the width and of the height, split at random between the two sides."""
    w, h = max(1, round(im.width * (1 - fraction))), max(1, round(im.height * (1 - fraction)))
    left = int(rng.integers(0, im.width - w + 1))
    top = int(rng.integers(0, im.height - h + 1))
    return im.crop((left, top, left + w, top + h))


def _border(im: Image.Image, rng: np.random.Generator, *, width: float, colour: tuple[int, int, int]) -> Image.Image:
    """A frame ``width`` times the longer side, all round."""
    return ImageOps.expand(im, border=max(1, round(width * max(im.size))), fill=_fill(im, colour))


def _pad(im: Image.Image, rng: np.random.Generator, *, aspect: float, colour: tuple[int, int, int]) -> Image.Image:
    """Letterbox or pillarbox onto a canvas of width/height ``aspect``, centred."""
    if im.width / im.height > aspect:
        size = (im.width, round(im.width / aspect))
    else:
        size = (round(im.height * aspect), im.height)
    canvas = Image.new(im.mode, size, _fill(im, colour))
    canvas.paste(im, ((size[0] - im.width) // 2, (size[1] - im.height) // 2))
    return canvas


_CAPTIONS = ("Summer holidays 2019", "Look at this!", "Photo of the day", "Our trip, day 3", "Best view ever")


def _caption(im: Image.Image, rng: np.random.Generator, *, height: float, colour: tuple[int, int, int]) -> Image.Image:
    """A plain bar ``height`` times the picture's height under it, with a line of text."""
    bar = max(8, round(im.height * height))
    canvas = Image.new(im.mode, (im.width, im.height + bar), _fill(im, colour))
    canvas.paste(im, (0, 0))
    text_colour = tuple(255 - c for c in colour)
    draw = ImageDraw.Draw(canvas)
    font = _font(round(bar * 0.45))
    text = _CAPTIONS[int(rng.integers(len(_CAPTIONS)))]
    draw.text((round(bar * 0.4), im.height + bar // 2), text, fill=_fill(im, text_colour), font=font, anchor="lm")
    return canvas


def _watermark(im: Image.Image, rng: np.random.Generator, *, size: float, opacity: float) -> Image.Image:
    """Half-transparent white text, ``size`` times the picture's height, somewhere in its lower half."""
    base = im.convert("RGBA")
    layer = Image.new("RGBA", base.size, (255, 255, 255, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(max(6, round(im.height * size)))
    text = "© dedupkit photo"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = int(rng.integers(0, max(1, im.width - (right - left))))
    y = int(rng.integers(im.height // 2, max(im.height // 2 + 1, im.height - (bottom - top))))
    draw.text((x, y), text, fill=(255, 255, 255, round(255 * opacity)), font=font)
    out = Image.alpha_composite(base, layer).convert("RGB")
    return out.convert(im.mode) if im.mode == "L" else out


def _screenshot(
    im: Image.Image, rng: np.random.Generator, *, scale: float, colour: tuple[int, int, int], bar: bool
) -> Edited:
    """The picture shrunk by ``scale``, somewhere on a plain screen the original's size, saved as PNG.

    With ``bar``, a darker title bar (5% of the height) runs across the top.
    """
    picture = _resize(im, rng, scale=scale)
    title = round(im.height * 0.05) if bar else 0
    canvas = Image.new(im.mode, (im.width, im.height + title), _fill(im, colour))
    if bar:
        ImageDraw.Draw(canvas).rectangle((0, 0, im.width, title - 1), fill=_fill(im, tuple(c // 4 for c in colour)))
    left = int(rng.integers(0, im.width - picture.width + 1))
    top = title + int(rng.integers(0, im.height - picture.height + 1))
    canvas.paste(picture, (left, top))
    return Edited(canvas, "png", {})


def _fill(im: Image.Image, colour: tuple[int, int, int]) -> int | tuple[int, int, int]:
    return round(0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]) if im.mode == "L" else colour


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: a fixed small font
        return ImageFont.load_default()


#: Each family by name: ``(image, rng, **params) -> Image | Edited``.
FAMILIES: dict[str, Callable[..., Image.Image | Edited]] = {
    "resize": _resize,
    "thumbnail": _thumbnail,
    "recompress": _recompress,
    "brightness": _brightness,
    "contrast": _contrast,
    "gamma": _gamma,
    "grey": _grey,
    "blur": _blur,
    "noise": _noise,
    "sharpen": _sharpen,
    "stretch": _stretch,
    "small_rotation": _rotate,
    "dihedral": _transpose,
    "exif_orientation": _exif_orientation,
    "crop": _crop,
    "border": _border,
    "padding": _pad,
    "caption": _caption,
    "watermark": _watermark,
    "screenshot": _screenshot,
}

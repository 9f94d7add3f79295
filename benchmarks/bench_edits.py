"""Randomised edits for the verification benchmark (``benchmarks/bench_data.py``).

Each family function takes an upright RGB photo and a seeded
``numpy.random.Generator`` and returns an :class:`Edited`: the edited pixels,
how to save them (format, quality, EXIF) and the drawn parameters. The same
generator state always gives the same edit, so the data set is reproducible.

Families (see the README section "Verification benchmark data"):

- ``mild``: resize (a downscale), recompress, colour, blur/noise/sharpen,
  stretch, watermark, a crop of at most 5% per side, an EXIF orientation tag,
  a turn of at most 3°.
  Also ``upscale`` (1.2-2.5x, bilinear, bicubic or Lanczos, saved as JPEG
  or PNG), asked for by name only (``benchmarks/bench_keep_upscale.py``): it
  is not drawn for bench-data yet, so that the published accuracy tables
  stay reproducible; drawing it needs EDITS_VERSION bumped and the tables
  measured again.
- ``frame``: borders, padding, letterbox, caption bars, the photo in a
  screenshot on a plain or a busy UI-like background.
- ``crop``: keeps 50-95% of each side, at the centre, a corner or anywhere.
- ``turn``: a rotation of 4-10° either way, expanded or cropped to fill.
- ``dihedral``: a mirror or a 90/180/270° turn of the pixels.
- ``combo``: resize + crop (10-30% of each side removed) + recompress, maybe text.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

FAMILIES = ("mild", "frame", "crop", "turn", "dihedral", "combo")
COPIES = {"mild": 3, "frame": 2, "crop": 2, "turn": 1, "dihedral": 1, "combo": 1}
# drawn for bench-data (this tuple and its order are the data set: a change needs EDITS_VERSION bumped)
MILD_EDITS = (
    "resize", "jpeg", "webp", "png", "brightness", "contrast", "gamma", "saturation",
    "greyscale", "blur", "noise", "sharpen", "stretch", "watermark_text",
    "watermark_logo", "crop_small", "exif_orientation", "tilt",
)
UPSCALE_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
                   "lanczos": Image.Resampling.LANCZOS}
FRAME_EDITS = (
    "border", "padding", "letterbox", "caption_above", "caption_below",
    "screenshot_plain", "screenshot_busy",
)
WORDS = (
    "holiday", "summer", "2023", "photo", "Copyright", "shared", "IMG", "view", "best",
    "evening", "family", "trip", "download", "free", "wallpaper", "sale", "new", "look",
    "dedup", "Sunday", "beach", "city", "morning", "club", "©", "news", "today",
)


@dataclass
class Edited:
    """An edited copy: pixels, how to save them, and what was drawn.

    ``params`` holds plain JSON values only; for crops ``box`` is
    ``[left, top, right, bottom]`` in the pixels of the photo given to the edit.
    """

    image: Image.Image
    edit: str
    params: dict = field(default_factory=dict)
    format: str = "JPEG"
    quality: int = 92
    exif: bytes | None = None

    @property
    def suffix(self) -> str:
        return {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[self.format]

    def save(self, path: str | Path) -> None:
        """Write the copy; JPEG and WebP at ``quality``, PNG lossless."""
        kwargs: dict = {}
        if self.format in ("JPEG", "WEBP"):
            kwargs["quality"] = int(self.quality)
        if self.exif is not None:
            kwargs["exif"] = self.exif
        self.image.save(path, self.format, **kwargs)


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """A generator seeded by a hash of ``seed`` and ``keys`` (stable across runs)."""
    text = "|".join([str(seed), *map(str, keys)])
    digest = hashlib.sha256(text.encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def find_fonts(root: str = "/usr/share/fonts") -> list[str]:
    """TrueType fonts under ``root`` (sorted, so the draw is reproducible)."""
    return sorted(str(p) for p in Path(root).rglob("*.ttf"))


def _font(fonts: list[str], rng: np.random.Generator, size: int) -> ImageFont.ImageFont:
    size = max(8, int(size))
    if fonts:
        try:
            return ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def _font_name(font) -> str:
    path = getattr(font, "path", None)
    return Path(path).name if isinstance(path, (str, Path)) else "pil-default"


def _words(rng: np.random.Generator, low: int = 1, high: int = 4) -> str:
    n = int(rng.integers(low, high + 1))
    return " ".join(WORDS[int(i)] for i in rng.integers(len(WORDS), size=n))


def _colour(rng: np.random.Generator, kind: str | None = None) -> tuple[int, int, int]:
    kind = kind or str(rng.choice(["black", "white", "grey", "random"]))
    if kind == "black":
        return (0, 0, 0)
    if kind == "white":
        return (255, 255, 255)
    if kind == "grey":
        v = int(rng.integers(60, 200))
        return (v, v, v)
    return tuple(int(v) for v in rng.integers(0, 256, size=3))


def _uniform(rng: np.random.Generator, low: float, high: float, nd: int = 3) -> float:
    return round(float(rng.uniform(low, high)), nd)


# ---------------------------------------------------------------- mild
def _resize(im: Image.Image, scale_x: float, scale_y: float | None = None) -> Image.Image:
    scale_y = scale_x if scale_y is None else scale_y
    w, h = im.size
    size = (max(16, round(w * scale_x)), max(16, round(h * scale_y)))
    return im.resize(size, Image.Resampling.LANCZOS)


def _overlay_text(im: Image.Image, rng, fonts, *, height_frac: tuple[float, float]) -> dict:
    """Draw semi-transparent text somewhere on ``im`` (in place); return its params."""
    w, h = im.size
    text = _words(rng, 1, 3)
    size = max(10, int(h * _uniform(rng, *height_frac)))
    font = _font(fonts, rng, size)
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left, bottom - top
    x = int(rng.integers(0, max(1, w - tw)))
    y = int(rng.integers(0, max(1, h - th)))
    alpha = int(rng.integers(90, 200))
    colour = _colour(rng, str(rng.choice(["white", "black", "random"])))
    draw.text((x - left, y - top), text, font=font, fill=(*colour, alpha))
    im.paste(Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB"))
    return {"text": text, "xy": [x, y], "size": size, "alpha": alpha,
            "font": _font_name(font)}


def _logo(rng: np.random.Generator, size: int) -> Image.Image:
    """A small RGBA logo: a ring or a rounded square with a letter-like bar."""
    logo = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    colour = (*_colour(rng, "random"), 255)
    width = max(2, size // 8)
    if rng.random() < 0.5:
        draw.ellipse([width, width, size - width, size - width], outline=colour, width=width)
        draw.rectangle([size * 0.45, size * 0.25, size * 0.55, size * 0.75], fill=colour)
    else:
        draw.rounded_rectangle([0, 0, size - 1, size - 1], radius=size // 5, fill=colour)
        draw.polygon([(size * 0.3, size * 0.25), (size * 0.75, size * 0.5),
                      (size * 0.3, size * 0.75)], fill=(255, 255, 255, 255))
    return logo


def edit_mild(im: Image.Image, rng: np.random.Generator, *, fonts: list[str] = (),
              edit: str | None = None) -> Edited:
    """One mild edit; ``edit`` names the sub-edit, else one is drawn."""
    edit = edit or str(rng.choice(MILD_EDITS))
    w, h = im.size
    out, params, fmt, quality, exif = im, {}, "JPEG", 92, None
    if edit == "resize":
        s = _uniform(rng, 0.3, 0.9)
        out, params = _resize(im, s), {"scale": s}
    elif edit == "upscale":
        s = _uniform(rng, 1.2, 2.5)
        name = str(rng.choice(list(UPSCALE_FILTERS)))
        out = im.resize((round(w * s), round(h * s)), UPSCALE_FILTERS[name])
        fmt = str(rng.choice(["JPEG", "PNG"]))
        quality = int(rng.integers(75, 96)) if fmt == "JPEG" else quality
        params = {"scale": s, "filter": name, "format": fmt, **({"quality": quality} if fmt == "JPEG" else {})}
    elif edit == "jpeg":
        quality = int(rng.integers(20, 91))
        params = {"quality": quality}
    elif edit == "webp":
        fmt, quality = "WEBP", int(rng.integers(30, 91))
        params = {"quality": quality}
    elif edit == "png":
        fmt = "PNG"
    elif edit in ("brightness", "contrast", "saturation"):
        f = _uniform(rng, 0.6, 0.85) if rng.random() < 0.5 else _uniform(rng, 1.15, 1.5)
        if edit == "saturation":
            f = _uniform(rng, 0.0, 0.6) if rng.random() < 0.5 else _uniform(rng, 1.3, 2.0)
        enhancer = {"brightness": ImageEnhance.Brightness, "contrast": ImageEnhance.Contrast,
                    "saturation": ImageEnhance.Color}[edit]
        out, params = enhancer(im).enhance(f), {"factor": f}
    elif edit == "gamma":
        g = _uniform(rng, 0.55, 0.8) if rng.random() < 0.5 else _uniform(rng, 1.25, 1.8)
        lut = [min(255, round(255 * (i / 255) ** g)) for i in range(256)] * 3
        out, params = im.point(lut), {"gamma": g}
    elif edit == "greyscale":
        out = ImageOps.grayscale(im).convert("RGB")
    elif edit == "blur":
        r = _uniform(rng, 0.6, 2.5) * max(w, h) / 1000
        out, params = im.filter(ImageFilter.GaussianBlur(r)), {"radius": round(r, 3)}
    elif edit == "noise":
        sigma = _uniform(rng, 4, 16)
        noise = rng.normal(0, sigma, size=(h, w, 3))
        out = Image.fromarray(np.clip(np.asarray(im, float) + noise, 0, 255).astype(np.uint8))
        params = {"sigma": sigma}
    elif edit == "sharpen":
        r, pct = _uniform(rng, 1, 4), int(rng.integers(80, 250))
        out = im.filter(ImageFilter.UnsharpMask(radius=r, percent=pct, threshold=2))
        params = {"radius": r, "percent": pct}
    elif edit == "stretch":
        a = _uniform(rng, 0.85, 0.95) if rng.random() < 0.5 else _uniform(rng, 1.05, 1.15)
        out, params = _resize(im, a, 1.0), {"aspect": a}
    elif edit == "watermark_text":
        out = im.copy()
        params = _overlay_text(out, rng, list(fonts), height_frac=(0.03, 0.08))
    elif edit == "watermark_logo":
        size = max(16, int(min(w, h) * _uniform(rng, 0.06, 0.15)))
        logo = _logo(rng, size)
        alpha = _uniform(rng, 0.3, 0.7, 2)
        logo.putalpha(logo.getchannel("A").point(lambda a: int(a * alpha)))
        x, y = int(rng.integers(0, w - size)), int(rng.integers(0, h - size))
        base = im.convert("RGBA")
        base.alpha_composite(logo, (x, y))
        out, params = base.convert("RGB"), {"xy": [x, y], "size": size, "alpha": alpha}
    elif edit == "crop_small":
        fr = [_uniform(rng, 0.0, 0.05) for _ in range(4)]
        box = [round(w * fr[0]), round(h * fr[1]), w - round(w * fr[2]), h - round(h * fr[3])]
        out, params = im.crop(box), {"box": box}
    elif edit == "exif_orientation":
        tag = int(rng.choice([3, 6, 8]))
        # Pixels stored turned so that a viewer applying the tag shows them upright.
        stored = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
                  8: Image.Transpose.ROTATE_270}[tag]
        out = im.transpose(stored)
        ex = Image.Exif()
        ex[0x0112] = tag
        exif, params = ex.tobytes(), {"orientation": tag}
    elif edit == "tilt":
        angle = _uniform(rng, 0.5, 3.0) * (1 if rng.random() < 0.5 else -1)
        out, params = _turn(im, angle, bool(rng.random() < 0.5), rng)
    else:
        raise ValueError(f"unknown mild edit {edit!r}; expected one of {MILD_EDITS}")
    return Edited(out, edit, params, fmt, quality, exif)


# ---------------------------------------------------------------- turn
def _inscribed(w: int, h: int, angle_deg: float) -> tuple[int, int]:
    """Largest axis-aligned rectangle inside a w x h rectangle turned by angle."""
    a = math.radians(abs(angle_deg))
    sin, cos = math.sin(a), math.cos(a)
    long_, short = max(w, h), min(w, h)
    if short <= 2 * sin * cos * long_ or abs(sin - cos) < 1e-10:
        x = 0.5 * short
        wr, hr = (x / sin, x / cos) if w >= h else (x / cos, x / sin)
    else:
        cos2 = cos * cos - sin * sin
        wr, hr = (w * cos - h * sin) / cos2, (h * cos - w * sin) / cos2
    return int(wr), int(hr)


def _turn(im: Image.Image, angle: float, expand: bool, rng) -> tuple[Image.Image, dict]:
    if expand:
        fill = _colour(rng, str(rng.choice(["black", "white", "grey"])))
        out = im.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
        return out, {"angle": angle, "mode": "expand", "fill": list(fill)}
    turned = im.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    wr, hr = _inscribed(im.width, im.height, angle)
    cx, cy = turned.width / 2, turned.height / 2
    box = [round(cx - wr / 2), round(cy - hr / 2), round(cx + wr / 2), round(cy + hr / 2)]
    return turned.crop(box), {"angle": angle, "mode": "crop"}


def edit_turn(im: Image.Image, rng: np.random.Generator, **_) -> Edited:
    """A rotation by 4-10° either way (counter-clockwise positive)."""
    angle = _uniform(rng, 4, 10, 2) * (1 if rng.random() < 0.5 else -1)
    expand = bool(rng.random() < 0.5)
    out, params = _turn(im, angle, expand, rng)
    return Edited(out, "turn_expand" if expand else "turn_crop", params)


# ---------------------------------------------------------------- dihedral
DIHEDRAL = {
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT, "flip": Image.Transpose.FLIP_TOP_BOTTOM,
    "rot90": Image.Transpose.ROTATE_90, "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270, "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}


def edit_dihedral(im: Image.Image, rng: np.random.Generator, **_) -> Edited:
    """A mirror or a 90/180/270° turn of the pixels (no EXIF tag)."""
    name = str(rng.choice(list(DIHEDRAL)))
    return Edited(im.transpose(DIHEDRAL[name]), name, {})


# ---------------------------------------------------------------- crop
def crop_box(w: int, h: int, rng: np.random.Generator, keep: tuple[float, float],
             where: str) -> list[int]:
    """A crop box keeping a drawn fraction of each side, placed at ``where``.

    ``where`` is ``centre``, ``corner`` (one of four, drawn) or ``random``.
    """
    fw, fh = _uniform(rng, *keep), _uniform(rng, *keep)
    cw, ch = max(8, round(w * fw)), max(8, round(h * fh))
    if where == "centre":
        x, y = (w - cw) // 2, (h - ch) // 2
    elif where == "corner":
        x = 0 if rng.random() < 0.5 else w - cw
        y = 0 if rng.random() < 0.5 else h - ch
    else:
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return [x, y, x + cw, y + ch]


def edit_crop(im: Image.Image, rng: np.random.Generator, **_) -> Edited:
    """Keeps 50-95% of each side (drawn independently) at the centre, a corner or anywhere."""
    where = str(rng.choice(["centre", "corner", "random"]))
    box = crop_box(im.width, im.height, rng, (0.5, 0.95), where)
    kept = [round((box[2] - box[0]) / im.width, 3), round((box[3] - box[1]) / im.height, 3)]
    return Edited(im.crop(box), f"crop_{where}", {"box": box, "kept": kept})


# ---------------------------------------------------------------- combo
def edit_combo(im: Image.Image, rng: np.random.Generator, *, fonts: list[str] = (), **_) -> Edited:
    """Crop (10-30% of each side removed) + resize + recompress, maybe a small text."""
    w, h = im.size
    cut_x, cut_y = _uniform(rng, 0.1, 0.3), _uniform(rng, 0.1, 0.3)
    left, top = round(w * cut_x * rng.random()), round(h * cut_y * rng.random())
    box = [left, top, left + round(w * (1 - cut_x)), top + round(h * (1 - cut_y))]
    out = im.crop(box)
    scale = _uniform(rng, 0.4, 0.9)
    out = _resize(out, scale)
    params: dict = {"box": box, "scale": scale}
    if rng.random() < 0.5:
        params["text"] = _overlay_text(out, rng, list(fonts), height_frac=(0.03, 0.06))
    fmt = "WEBP" if rng.random() < 0.25 else "JPEG"
    quality = int(rng.integers(30, 86))
    params.update(format=fmt, quality=quality)
    return Edited(out, "combo_text" if "text" in params else "combo", params, fmt, quality)


# ---------------------------------------------------------------- frame
def _caption(im: Image.Image, rng, fonts, where: str) -> tuple[Image.Image, dict]:
    w, h = im.size
    frac = _uniform(rng, 0.08, 0.25)
    bar_h = max(12, round(h * frac))
    kind = str(rng.choice(["white", "black", "random"]))
    bg = _colour(rng, kind)
    fg = (0, 0, 0) if sum(bg) > 380 else (255, 255, 255)
    canvas = Image.new("RGB", (w, h + bar_h), bg)
    y_photo, y_bar = (bar_h, 0) if where == "above" else (0, h)
    canvas.paste(im, (0, y_photo))
    draw = ImageDraw.Draw(canvas)
    lines = int(rng.integers(1, 3))
    size = max(10, int(bar_h / (lines + 1.2)))
    font = _font(list(fonts), rng, size)
    texts = [_words(rng, 2, 6) for _ in range(lines)]
    for i, text in enumerate(texts):
        draw.text((int(w * 0.03), y_bar + int(bar_h * 0.15) + i * int(size * 1.15)), text,
                  font=font, fill=fg)
    return canvas, {"bar_height": bar_h, "bar_frac": round(bar_h / h, 3), "where": where,
                    "colour": list(bg), "lines": texts,
                    "font": _font_name(font),
                    "photo_box": [0, y_photo, w, y_photo + h]}


def _busy_background(size: tuple[int, int], rng, fonts, other: Image.Image | None) -> Image.Image:
    """A UI-like canvas: title bar, side panel, text lines, buttons, a small other image."""
    W, H = size
    theme = str(rng.choice(["light", "dark"]))
    base = (240, 240, 240) if theme == "light" else (40, 42, 48)
    ink = (30, 30, 30) if theme == "light" else (220, 220, 220)
    canvas = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(canvas)
    accent = _colour(rng, "random")
    bar = max(14, H // 18)
    draw.rectangle([0, 0, W, bar], fill=accent)
    font = _font(list(fonts), rng, bar * 0.6)
    draw.text((bar // 2, bar * 0.15), _words(rng, 2, 4), font=font, fill=(255, 255, 255))
    panel_w = int(W * _uniform(rng, 0.12, 0.22))
    panel = tuple(max(0, c - 18) for c in base) if theme == "light" else tuple(c + 18 for c in base)
    draw.rectangle([0, bar, panel_w, H], fill=panel)
    small = _font(list(fonts), rng, max(9, H // 45))
    for y in range(bar + 10, H - 10, max(12, H // 30)):
        draw.text((8, y), _words(rng, 1, 2), font=small, fill=ink)
    for y in range(bar + 10, H - 10, max(12, H // 28)):
        if rng.random() < 0.7:
            x0 = panel_w + int(rng.integers(5, 40))
            draw.line([x0, y, x0 + int(rng.integers(W // 8, W // 2)), y], fill=ink,
                      width=max(1, H // 200))
    for _ in range(int(rng.integers(2, 6))):
        bw, bh = int(W * 0.09), max(10, H // 25)
        x, y = int(rng.integers(panel_w, W - bw)), int(rng.integers(bar, H - bh))
        draw.rounded_rectangle([x, y, x + bw, y + bh], radius=bh // 3,
                               fill=_colour(rng, "random"), outline=ink)
    if other is not None:
        side = max(24, int(min(W, H) * _uniform(rng, 0.12, 0.25)))
        thumb = other.copy()
        thumb.thumbnail((side, side))
        x = int(rng.integers(panel_w, max(panel_w + 1, W - thumb.width)))
        y = int(rng.integers(bar, max(bar + 1, H - thumb.height)))
        canvas.paste(thumb, (x, y))
    return canvas


def edit_frame(im: Image.Image, rng: np.random.Generator, *, fonts: list[str] = (),
               other: Image.Image | None = None, edit: str | None = None) -> Edited:
    """Borders, padding, letterbox, caption bars or a screenshot around the photo.

    ``other`` is a second, unrelated picture shown small on the busy background.
    ``params['photo_box']`` is where the photo's pixels are in the output.
    """
    edit = edit or str(rng.choice(FRAME_EDITS))
    w, h = im.size
    if edit in ("border", "padding", "letterbox"):
        colour = _colour(rng)
        if edit == "border":
            f = _uniform(rng, 0.02, 0.25)
            sides = [round(f * w), round(f * h), round(f * w), round(f * h)]
        elif edit == "padding":
            sides = [round(_uniform(rng, 0.02, 0.25) * (w if i % 2 == 0 else h)) for i in range(4)]
        else:
            f = _uniform(rng, 0.04, 0.5)  # total bar size, split between two sides
            horizontal = bool(rng.random() < 0.5)
            if horizontal:
                bar = round(h * f / 2)
                sides = [0, bar, 0, bar]
            else:
                bar = round(w * f / 2)
                sides = [bar, 0, bar, 0]
        left, top, right, bottom = sides
        canvas = Image.new("RGB", (w + left + right, h + top + bottom), colour)
        canvas.paste(im, (left, top))
        params = {"sides": sides, "colour": list(colour), "photo_box": [left, top, left + w, top + h]}
        return Edited(canvas, edit, params)
    if edit in ("caption_above", "caption_below"):
        out, params = _caption(im, rng, fonts, edit.split("_")[1])
        return Edited(out, edit, params)
    if edit in ("screenshot_plain", "screenshot_busy"):
        fx, fy = _uniform(rng, 0.4, 0.85), _uniform(rng, 0.4, 0.85)
        scale = _uniform(rng, 0.6, 1.0)
        photo = _resize(im, scale) if scale < 0.999 else im
        pw, ph = photo.size
        W, H = round(pw / fx), round(ph / fy)
        if edit == "screenshot_plain":
            canvas = Image.new("RGB", (W, H), _colour(rng))
        else:
            canvas = _busy_background((W, H), rng, fonts, other)
        x, y = int(rng.integers(0, W - pw + 1)), int(rng.integers(0, H - ph + 1))
        canvas.paste(photo, (x, y))
        if rng.random() < 0.5:  # a thin window outline
            ImageDraw.Draw(canvas).rectangle([x - 1, y - 1, x + pw, y + ph], outline=(90, 90, 90))
        params = {"photo_frac": [fx, fy], "scale": scale, "photo_box": [x, y, x + pw, y + ph]}
        return Edited(canvas, edit, params, "PNG" if rng.random() < 0.5 else "JPEG")
    raise ValueError(f"unknown frame edit {edit!r}; expected one of {FRAME_EDITS}")


EDITORS = {"mild": edit_mild, "frame": edit_frame, "crop": edit_crop, "turn": edit_turn,
           "dihedral": edit_dihedral, "combo": edit_combo}


def make_edits(im: Image.Image, seed: int, photo: str, *, fonts: list[str] = (),
               other: Image.Image | None = None) -> list[tuple[str, int, Edited]]:
    """All edited copies of one photo: ``(family, index, Edited)`` per copy.

    The mild copies of one photo use different sub-edits; every copy's generator
    comes from a hash of ``(seed, photo, family, index)``.
    """
    out = []
    for family in FAMILIES:
        used: set[str] = set()
        for i in range(COPIES[family]):
            rng = rng_for(seed, photo, family, i)
            kwargs: dict = {"fonts": fonts}
            if family == "frame":
                kwargs["other"] = other
            if family in ("mild", "frame"):
                pool = MILD_EDITS if family == "mild" else FRAME_EDITS
                kwargs["edit"] = str(rng.choice([e for e in pool if e not in used]))
            edited = EDITORS[family](im, rng, **kwargs)
            used.add(edited.edit)
            out.append((family, i, edited))
    return out


def encoded_size(edited: Edited) -> int:
    """Bytes the copy takes once saved (handy in tests)."""
    buf = io.BytesIO()
    edited.save(buf)
    return buf.tell()

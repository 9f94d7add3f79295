"""Open an image file the way a person sees it, or say clearly why not.

Every failure is raised as :class:`ImageLoadError` with a message that names
the file and, where there is one, the fix. :func:`dedupkit.hash_images` turns
these into the ``error`` column of its table, so one bad file never stops a
scan.
"""

from __future__ import annotations

import functools
import io
import os
import re
import stat
import warnings
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .load_errors import LOAD_ERROR_KINDS, TRANSIENT_KINDS, ImageLoadError
from .orientations import EXIF_ORIENTATION as _ORIENTATION  # keep.py imports it from here too
from .orientations import EXIF_STORED, turned_a_quarter

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "LOAD_ERROR_KINDS",
    "TRANSIENT_KINDS",
    "Decoded",
    "ImageLoadError",
    "decode_image",
    "load_image",
    "open_image",
]

#: The largest image (in pixels) opened by default. Pillow itself refuses
#: anything above twice its ``MAX_IMAGE_PIXELS`` (178,956,970), so this is the
#: highest limit that works without touching Pillow's global setting.
DEFAULT_MAX_PIXELS = 2 * 89_478_485

#: File name endings scanned by default (lower case, with the dot).
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".tif", ".tiff",
        ".bmp", ".dib", ".heic", ".heif", ".avif", ".ppm", ".pgm", ".pbm", ".tga", ".ico",
    }
)


@functools.cache
def _register_heif() -> None:
    """Teach Pillow HEIC/HEIF and AVIF, once per process, when the first image is opened (not at import)."""
    import pillow_heif  # noqa: PLC0415 - a declared dependency; its wheel ships libheif

    pillow_heif.register_heif_opener()


def open_image(
    path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, data: bytes | None = None
) -> Image.Image:
    """Open an image lazily (header only) after checking the file and its size.

    Parameters
    ----------
    path
        The image file, or the key of an image elsewhere: a URL
        (``s3://bucket/a.jpg``), a tar shard member (``shards/0.tar/a.jpg``)
        or a table row being read from, read whole into memory
        (:func:`dedupkit.opener.image_file`).
    max_pixels
        Refuse images with more pixels than this (a decompression-bomb guard).
    data
        The image's bytes, already read; ``path`` then only names it.

    Returns
    -------
    PIL.Image.Image
        The opened, not yet decoded, image (first frame of an animation).

    Raises
    ------
    ImageLoadError
        The file is missing, unreadable, empty, not an image, or too large.
    """
    _register_heif()
    if data is None:
        from .opener import image_file  # noqa: PLC0415 - fsspec and tables only when a key is not a local file

        target = image_file(path)  # the file, or the bytes of a URL, a shard member or a table row
        if isinstance(target, str):
            path = target
        else:
            data = target
    if data is not None:
        if not len(data):
            raise ImageLoadError(path, "empty file (0 bytes)", kind="empty")
        return _open_checked(path, io.BytesIO(data), max_pixels)
    path = os.fspath(path)
    try:
        found = os.stat(path)  # one system call says whether it is there, a folder, and empty
    except FileNotFoundError:
        if os.path.islink(path):  # the link itself is there: not a passing state of the machine
            raise ImageLoadError(path, f"broken symbolic link: its target {os.readlink(path)} is not found",
                                 kind="broken_link") from None
        raise ImageLoadError(path, "file not found", kind="missing") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied: the file cannot be read", kind="permission") from None
    except OSError as exc:
        raise ImageLoadError(path, f"cannot read the file ({exc.strerror or exc})", kind="unreadable") from None
    if stat.S_ISDIR(found.st_mode):
        raise ImageLoadError(path, "is a folder, not an image file", kind="folder")
    if found.st_size == 0:
        raise ImageLoadError(path, "empty file (0 bytes)", kind="empty")
    return _open_checked(path, path, max_pixels)


def _open_checked(path: str | os.PathLike, source, max_pixels: int) -> Image.Image:
    """``Image.open(source)`` (a path or a file object), refusing what is not an image or too large."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source)
    except PermissionError:
        raise ImageLoadError(path, "permission denied: the file cannot be read", kind="permission") from None
    except UnidentifiedImageError:
        raise ImageLoadError(path, "not an image, or in a format Pillow cannot read", kind="not_an_image") from None
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, _bomb_reason(exc, max_pixels), kind="too_large") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(path, f"corrupt image header ({exc})", kind="corrupt") from None
    pixels = image.width * image.height
    if pixels > max_pixels:
        image.close()
        raise ImageLoadError(
            path,
            f"image has {pixels:,} pixels ({image.width}x{image.height}), over the limit of "
            f"{max_pixels:,}; raise max_pixels if you trust this file",
            kind="too_large",
        )
    return image


def _bomb_reason(exc: Image.DecompressionBombError, max_pixels: int) -> str:
    """Why an image that Pillow refused to open is refused, in dedupkit's terms (``max_pixels``)."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = int(found.group(1)) if found else None
    size = f"{pixels:,} pixels" if pixels is not None else "more pixels than Pillow opens"
    if pixels is None or pixels > max_pixels:
        return f"image too large to open safely: it has {size}, over the limit of {max_pixels:,}"
    # only when max_pixels was raised above what Pillow opens (a setting of the whole process)
    return (f"image too large to open safely: it has {size}, within max_pixels ({max_pixels:,}), but Pillow "
            f"opens at most {2 * (Image.MAX_IMAGE_PIXELS or 0):,} (PIL.Image.MAX_IMAGE_PIXELS x 2)")


_BLANK_SPREAD = 16  # grey levels: composited onto white, a picture spanning fewer shows next to nothing
_SHAPE_SPREAD = 64  # ... while its alpha spans at least this many: there is a shape, drawn light


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """Composite an image with transparency onto white, as a viewer shows it.

    A light drawing on a transparent background (a white glyph or icon, the
    white overlays that desktop themes ship as wallpapers) would vanish on
    white, and every such image would look, and hash, alike. When white hides
    the shape the alpha channel draws (the composite spans fewer than 16 grey
    levels, the alpha at least 64), it is composited onto black instead.
    """
    rgba = image.convert("RGBA")
    on_white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    low, high = on_white.convert("L").getextrema()
    if high - low < _BLANK_SPREAD:
        alpha_low, alpha_high = rgba.getchannel("A").getextrema()
        if alpha_high - alpha_low >= _SHAPE_SPREAD:
            return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB")
    return on_white


def _to_8bit(image: Image.Image) -> Image.Image:
    """Scale 16-bit and 32-bit greyscale down to 8 bits instead of clipping."""
    array = np.asarray(image)
    if image.mode == "F":
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        scaled = (array - low) / ((high - low) or 1.0) * 255.0
        return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")
    array = array.astype(np.int64)
    # 16-bit data is stored in "I;16" or "I"; anything above 16 bits is rare.
    shift = 8 if array.max(initial=0) < 65536 else 24
    return Image.fromarray(np.clip(array >> shift, 0, 255).astype(np.uint8), "L")


def normalize_mode(image: Image.Image) -> Image.Image:
    """Return an ``RGB`` or ``L`` image that looks like ``image`` on screen.

    Alpha is composited onto white (onto black when white would hide a light
    drawing: :func:`_flatten_alpha`); palette, CMYK, bilevel, 16-bit and float
    images are converted.
    """
    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in image.info
    ) or (mode in ("L", "RGB") and "transparency" in image.info)
    if has_alpha:
        return _flatten_alpha(image)
    if mode.startswith("I") or mode == "F":
        return _to_8bit(image)
    if mode == "1":
        return image.convert("L")
    return image.convert("RGB")


class Decoded(NamedTuple):
    """A decoded image with the facts about its file that a hash table keeps."""

    image: Image.Image
    width: int  # as displayed (EXIF orientation applied), full resolution
    height: int
    format: str | None


def decode_image(
    path: str | os.PathLike,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: int | None = None,
    data: bytes | None = None,
) -> Decoded:
    """Like :func:`load_image`, also returning the full size and the file format (``data``: see :func:`open_image`)."""
    image = open_image(path, max_pixels=max_pixels, data=data)
    fmt = image.format
    width, height = image.size
    try:
        if turned_a_quarter(image):
            width, height = height, width
        if draft_size is not None and fmt in ("JPEG", "MPO"):
            image.draft("L", (draft_size, draft_size))
        image.load()
        if image.getexif().get(_ORIENTATION, 1) not in EXIF_STORED and getattr(image, "fp", None) is None:
            decoded, image = image, None  # upright, and the file closed by load(): no copy to make, nothing to close
            return Decoded(normalize_mode(decoded), width, height, fmt)
        upright = ImageOps.exif_transpose(image)  # a copy, transposed if needed
        return Decoded(normalize_mode(upright), width, height, fmt)
    except OSError as exc:
        message = str(exc)
        if "truncated" in message or "broken data stream" in message:  # Pillow's words: no exception class says it
            kind = "truncated" if "truncated" in message else "corrupt"
            raise ImageLoadError(path, f"truncated or corrupt image data ({message})", kind=kind) from None
        raise ImageLoadError(path, f"cannot decode the image ({message})", kind="corrupt") from None
    except Image.DecompressionBombError as exc:  # pragma: no cover - caught at open
        raise ImageLoadError(path, f"image too large to decode safely ({exc})", kind="too_large") from None
    except (SyntaxError, ValueError, IndexError, EOFError, TypeError, MemoryError) as exc:
        raise ImageLoadError(path, f"corrupt image ({type(exc).__name__}: {exc})", kind="corrupt") from None
    finally:
        if image is not None:
            image.close()


def load_image(
    path: str | os.PathLike,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: int | None = None,
) -> Image.Image:
    """Decode an image as a person sees it: upright, flattened, 8-bit RGB or L.

    Parameters
    ----------
    path
        The image file.
    max_pixels
        Refuse images with more pixels than this (decompression-bomb guard).
    draft_size
        If given, a JPEG may be decoded at a reduced scale (1/2 to 1/8, by
        libjpeg's DCT scaling) and in greyscale, as long as both sides stay at
        least this many pixels. Much faster; the result is only for hashing.

    Returns
    -------
    PIL.Image.Image
        A decoded ``RGB`` or ``L`` image with EXIF orientation applied. An
        animation gives its first frame.

    Raises
    ------
    ImageLoadError
        The file cannot be opened or decoded; the message says why.

    Examples
    --------
    >>> image = load_image("data/sample/coffee.jpg")  # doctest: +SKIP
    >>> image.mode, image.size  # doctest: +SKIP
    ('RGB', (600, 400))
    """
    return decode_image(path, max_pixels=max_pixels, draft_size=draft_size).image

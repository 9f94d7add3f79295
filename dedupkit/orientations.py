"""The 8 orientations of a picture and the EXIF tag that records one: one owner for both meanings.

Orientations are named as PIL's transposes: ``"rotate_90"`` turns
**counter-clockwise** by 90°, ``"mirror"`` swaps left and right, ``"flip"``
swaps top and bottom, ``"transpose"`` mirrors along the main diagonal and
``"transverse"`` along the other one. Together with ``"identity"`` they are the
dihedral group of the square: :func:`dedupkit.hashing.dihedral_hex` hashes an
image in each, the dihedral searches report which one maps a pair, and
:mod:`dedupkit.edits` makes benchmark copies with them.
"""

from __future__ import annotations

from PIL import Image

__all__ = ["EXIF_ORIENTATION", "EXIF_STORED", "INVERSE", "ORIENTATIONS", "TRANSPOSES", "turned_a_quarter"]

#: Each orientation and the PIL transpose that makes it (``None``: the picture as it is).
TRANSPOSES: dict[str, Image.Transpose | None] = {
    "identity": None,
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
    "flip": Image.Transpose.FLIP_TOP_BOTTOM,
    "rotate_180": Image.Transpose.ROTATE_180,
    "rotate_90": Image.Transpose.ROTATE_90,
    "rotate_270": Image.Transpose.ROTATE_270,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}

#: The 8 orientations, in the order of the hashes in a ``hash_dihedral`` value.
ORIENTATIONS: tuple[str, ...] = tuple(TRANSPOSES)

#: For each orientation (by position in :data:`ORIENTATIONS`), the position of the one that undoes it.
INVERSE: tuple[int, ...] = tuple(
    ORIENTATIONS.index({"rotate_90": "rotate_270", "rotate_270": "rotate_90"}.get(name, name)) for name in ORIENTATIONS
)

#: The EXIF tag (274) that says how a viewer must turn the stored pixels to show the picture upright.
EXIF_ORIENTATION = 0x0112

#: For each EXIF orientation value but 1, the transpose that turns an upright picture into the pixels a camera
#: stores with that value: the inverse of what a viewer applies (value 6: stored turned counter-clockwise, shown
#: after a clockwise quarter turn).
EXIF_STORED: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def turned_a_quarter(image: Image.Image) -> bool:
    """Whether an opened image's EXIF orientation turns it by 90° when shown (width and height swap).

    Examples
    --------
    >>> from PIL import Image
    >>> turned_a_quarter(Image.new("L", (4, 2)))
    False
    """
    return image.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8)

"""Perceptual hashes of one decoded image, and how hashes are stored.

The bits are imagehash's own: each method calls the matching imagehash function
on the decoded image, so for the same pixels dedupkit and imagehash agree
exactly. A hash is kept as a hex string (imagehash's ``str(hash)``) in tables
and as packed bytes (``numpy.uint8``, most significant bit first) for search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import imagehash
import numpy as np
from PIL import Image

from ._checks import check_int
from .defaults import METHODS
from .orientations import TRANSPOSES

__all__ = [
    "METHODS",
    "check_method",
    "codes_to_hex",
    "dihedral_hex",
    "hamming",
    "hash_bits",
    "hash_hex",
    "hex_to_codes",
]

_FUNCTIONS: dict[str, Callable[..., imagehash.ImageHash]] = {
    "dhash": imagehash.dhash,
    "dhash_vertical": imagehash.dhash_vertical,
    "phash": imagehash.phash,
    "ahash": imagehash.average_hash,
    "whash": imagehash.whash,
}

if tuple(_FUNCTIONS) != METHODS:  # pragma: no cover - a method added in one place only
    raise ImportError(f"dedupkit.defaults.METHODS {METHODS} and the hash functions {tuple(_FUNCTIONS)} differ")


def check_method(method: str, hash_size: int) -> None:
    """Raise a clear error for an unknown method or an unusable hash size.

    Raises
    ------
    TypeError
        ``method`` is not a string or ``hash_size`` not an integer.
    ValueError
        The method is unknown, or the hash size does not give a whole number
        of bytes (``hash_size**2`` must be a multiple of 8), or is not a power
        of two for ``whash``.
    """
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    if method not in _FUNCTIONS:
        raise ValueError(f"Hash method {method!r} is not supported. Must be one of: {', '.join(METHODS)}")
    check_int(hash_size, "hash_size", low=4)
    if (hash_size * hash_size) % 8:
        raise ValueError(
            f"hash_size must be at least 4 and give a whole number of bytes "
            f"(8 -> 64 bits, 16 -> 256 bits), got {hash_size}"
        )
    if method == "whash" and hash_size & (hash_size - 1):
        raise ValueError(f"whash needs a power-of-two hash_size (8, 16, 32), got {hash_size}")


def hash_bits(image: Image.Image, *, method: str = "dhash", hash_size: int = 8) -> np.ndarray:
    """Compute a perceptual hash of a decoded image.

    Parameters
    ----------
    image
        A decoded image (any mode imagehash accepts; dedupkit passes RGB or L).
    method
        One of ``"dhash"`` (default), ``"dhash_vertical"``, ``"phash"``,
        ``"ahash"``, ``"whash"``.
    hash_size
        Side of the bit grid: 8 gives 64 bits, 16 gives 256 bits.

    Returns
    -------
    numpy.ndarray
        Boolean array of ``hash_size * hash_size`` bits, row-major, exactly as
        ``imagehash.<method>(image, hash_size).hash.flatten()``.

    Examples
    --------
    >>> from PIL import Image
    >>> hash_bits(Image.new("L", (32, 32)), hash_size=8).shape
    (64,)
    """
    check_method(method, hash_size)
    return np.asarray(_FUNCTIONS[method](image, hash_size=int(hash_size)).hash, dtype=bool).ravel()


def hash_hex(image: Image.Image, *, method: str = "dhash", hash_size: int = 8) -> str:
    """Like :func:`hash_bits`, as imagehash's hex string (``str(imagehash.dhash(image))``)."""
    return np.packbits(hash_bits(image, method=method, hash_size=hash_size)).tobytes().hex()


def dihedral_hex(image: Image.Image, *, method: str = "dhash", hash_size: int = 8) -> str:
    """The hashes of the 8 orientations of an image, as one hex string.

    Parameters
    ----------
    image
        A decoded image.
    method, hash_size
        As for :func:`hash_bits`.

    Returns
    -------
    str
        The 8 hex hashes of :data:`dedupkit.orientations.ORIENTATIONS`, in
        that order, joined: the first is the image's own hash.

    Examples
    --------
    >>> from PIL import Image
    >>> len(dihedral_hex(Image.effect_noise((40, 30), 50)))
    128
    """
    bits = [hash_bits(image if how is None else image.transpose(how), method=method, hash_size=hash_size)
            for how in TRANSPOSES.values()]
    return np.packbits(np.concatenate(bits)).tobytes().hex()


def hex_to_codes(hashes: Iterable[str]) -> np.ndarray:
    """Pack hex hash strings into a ``(n, n_bytes)`` ``uint8`` array for faiss.

    Raises
    ------
    ValueError
        A value is not a hex string, or the hashes differ in length.
    """
    hashes = list(hashes)
    if not hashes:
        return np.zeros((0, 8), dtype=np.uint8)
    lengths = {len(h) if isinstance(h, str) else -1 for h in hashes}
    if -1 in lengths:
        bad = next(h for h in hashes if not isinstance(h, str))
        raise ValueError(f"hashes must be hex strings, got {bad!r}")
    if len(lengths) > 1:
        raise ValueError(
            f"all hashes must have the same length, got lengths {sorted(lengths)} "
            "(mixing hash sizes or methods?)"
        )
    length = lengths.pop()
    if length == 0 or length % 2:
        raise ValueError(f"a hash must have an even, non-zero number of hex digits, got {length}")
    try:
        raw = bytes.fromhex("".join(hashes))
    except ValueError:
        bad = next(h for h in hashes if not _is_hex(h))
        raise ValueError(f"not a hex hash: {bad!r}") from None
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(hashes), length // 2).copy()


def _is_hex(value: str) -> bool:
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return len(value) % 2 == 0


def codes_to_hex(codes: np.ndarray) -> list[str]:
    """Inverse of :func:`hex_to_codes`."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    return [row.tobytes().hex() for row in codes]


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance between packed codes, broadcasting over leading axes.

    Parameters
    ----------
    a, b
        ``uint8`` arrays whose last axis is the packed bytes of a hash.

    Returns
    -------
    numpy.ndarray
        Number of differing bits (``int64``).
    """
    xor = np.bitwise_xor(np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8))
    return _POPCOUNT[xor].sum(axis=-1, dtype=np.int64)

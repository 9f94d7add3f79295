"""Find mirrored and turned copies: search with the 8 orientations of each image.

A perceptual hash changes completely when a picture is mirrored or turned by
90°. With ``dihedral=True``, :func:`dedupkit.hash_images` also hashes the 8
orientations of each image (the dihedral group: turns by 0/90/180/270° and
their mirror images) into a ``hash_dihedral`` column. Each orientation of a
query is then searched against the upright hashes of the others, and the best
orientation is reported: ``orientation`` is what turns ``path_a`` into
``path_b``.

Orientations are named as PIL's transposes: ``"rotate_90"`` turns
**counter-clockwise** by 90°, ``"mirror"`` swaps left and right, ``"flip"``
swaps top and bottom, ``"transpose"`` mirrors along the main diagonal and
``"transverse"`` along the other one.
"""

from __future__ import annotations

import faiss
import numpy as np
import pandas as pd
from PIL import Image

from .hashing import hash_bits, hex_to_codes
from .index import HashIndex
from .search import _hash_column, check_max_distance, faiss_radius
from .tables import check_same_settings

__all__ = ["ORIENTATIONS", "dihedral_hex", "find_pairs_dihedral", "search_dihedral"]

_TRANSPOSES: dict[str, Image.Transpose | None] = {
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
ORIENTATIONS: tuple[str, ...] = tuple(_TRANSPOSES)

_INVERSE = np.array([ORIENTATIONS.index({"rotate_90": "rotate_270", "rotate_270": "rotate_90"}.get(o, o))
                     for o in ORIENTATIONS])


def dihedral_hex(image: Image.Image, *, method: str = "dhash", hash_size: int = 8) -> str:
    """The hashes of the 8 orientations of an image, as one hex string.

    Parameters
    ----------
    image
        A decoded image.
    method, hash_size
        As for :func:`dedupkit.hash_bits`.

    Returns
    -------
    str
        The 8 hex hashes of :data:`ORIENTATIONS`, in that order, joined: the
        first is the image's own hash.

    Examples
    --------
    >>> from PIL import Image
    >>> len(dihedral_hex(Image.effect_noise((40, 30), 50)))
    128
    """
    bits = [hash_bits(image if how is None else image.transpose(how), method=method, hash_size=hash_size)
            for how in _TRANSPOSES.values()]
    return np.packbits(np.concatenate(bits)).tobytes().hex()


def _dihedral_codes(hashes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paths, upright codes ``(n, b)`` and all-orientation codes ``(n, 8, b)`` of the rows with a hash."""
    if "hash_dihedral" not in hashes.columns:
        raise ValueError("the hash table has no 'hash_dihedral' column; "
                         "make it with hash_images(..., dihedral=True)")
    usable = hashes[hashes["hash_dihedral"].notna()]
    paths, codes = _hash_column(usable)
    if len(paths) != len(usable):
        raise ValueError("every row with a 'hash_dihedral' needs its 'hash' too")
    n_bytes = codes.shape[1] if len(codes) else 8
    flat = hex_to_codes(usable["hash_dihedral"].astype(str).tolist()) if len(usable) else np.zeros((0, 8 * n_bytes))
    if flat.shape[1] != 8 * n_bytes:
        raise ValueError(f"'hash_dihedral' values must hold 8 hashes of {n_bytes * 8} bits; "
                         f"got {flat.shape[1] * 8} bits")
    return paths, codes, flat.reshape(len(flat), 8, n_bytes).astype(np.uint8)


def _best_orientation(query: np.ndarray, orientation: np.ndarray, match: np.ndarray,
                      distance: np.ndarray) -> np.ndarray:
    """Row numbers keeping, for each (query, match), the nearest orientation (upright first on ties)."""
    order = np.lexsort((orientation, distance, match, query))
    q, m = query[order], match[order]
    first = np.ones(len(order), bool)
    first[1:] = (q[1:] != q[:-1]) | (m[1:] != m[:-1])
    return order[first]


def find_pairs_dihedral(hashes: pd.DataFrame, *, max_distance: int = 10) -> pd.DataFrame:
    """Like :func:`dedupkit.find_pairs`, also finding mirrored and turned copies.

    Every orientation of every image is searched against the upright hashes
    of all images; a pair is kept at its smallest distance over the 8
    orientations. It costs about 8 times the search of ``find_pairs`` (and
    8 hashes per image when hashing), and lets in somewhat more unrelated
    pairs at the same threshold.

    Parameters
    ----------
    hashes
        A hash table with a ``hash_dihedral`` column, from
        ``hash_images(..., dihedral=True)``.
    max_distance
        Largest Hamming distance that counts as a duplicate, inclusive.

    Returns
    -------
    pandas.DataFrame
        ``path_a``, ``path_b``, ``distance`` and ``orientation``: the one of
        :data:`ORIENTATIONS` that turns ``path_a`` into (a near-copy of)
        ``path_b``; ``"identity"`` for ordinary duplicates.

    Raises
    ------
    ValueError
        The table has no ``hash_dihedral`` column, or ``max_distance`` is out
        of range.

    Examples
    --------
    >>> hashes = hash_images("photos/", dihedral=True)  # doctest: +SKIP
    >>> find_pairs_dihedral(hashes, max_distance=10)  # doctest: +SKIP
           path_a          path_b  distance orientation
    0  photos/a.jpg  photos/a_mirrored.jpg   2      mirror
    """
    paths, codes, turned = _dihedral_codes(hashes)
    n, n_bytes = codes.shape[0], turned.shape[2]
    max_distance = check_max_distance(max_distance, n_bytes * 8)
    if n == 0:
        return pd.DataFrame({"path_a": pd.array([], "string"), "path_b": pd.array([], "string"),
                             "distance": np.zeros(0, np.int64), "orientation": pd.array([], "string")})
    index = faiss.IndexBinaryFlat(n_bytes * 8)
    index.add(codes)
    lims, dist, labels = index.range_search(turned.reshape(n * 8, n_bytes), faiss_radius(max_distance))
    row = np.repeat(np.arange(n * 8), np.diff(lims).astype(np.int64))
    query, orientation = row // 8, row % 8
    match, dist = labels.astype(np.int64), dist.astype(np.int64)
    other = query != match
    query, orientation, match, dist = query[other], orientation[other], match[other], dist[other]
    # "match looks like query turned by k": for the pair (query, match) that is k, for (match, query)
    # its inverse. Pair tables list each pair once, with path_a < path_b, at its best orientation.
    swap = paths[query] > paths[match]
    a, b = np.where(swap, match, query), np.where(swap, query, match)
    orientation = np.where(swap, _INVERSE[orientation], orientation)
    keep = _best_orientation(a, orientation, b, dist)
    pairs = pd.DataFrame({
        "path_a": pd.array(paths[a[keep]], dtype="string"),
        "path_b": pd.array(paths[b[keep]], dtype="string"),
        "distance": dist[keep],
        "orientation": pd.array(np.asarray(ORIENTATIONS, dtype=object)[orientation[keep]], dtype="string"),
    })
    return pairs.sort_values(["distance", "path_a", "path_b"], ignore_index=True)


def search_dihedral(
    index: HashIndex,
    hashes: pd.DataFrame,
    *,
    max_distance: int = 10,
) -> pd.DataFrame:
    """Like :meth:`dedupkit.HashIndex.search`, also finding mirrored and turned copies.

    Parameters
    ----------
    index
        The reference hashes (upright, as usual).
    hashes
        Query hash table with a ``hash_dihedral`` column
        (``hash_images(..., dihedral=True)``), hashed like the index (a table
        that says it was made otherwise is refused).
    max_distance
        Largest Hamming distance kept, inclusive.

    Returns
    -------
    pandas.DataFrame
        ``query``, ``match``, ``distance`` and ``orientation``: the one of
        :data:`ORIENTATIONS` that turns the query into the stored match.
        Sorted by query, distance, match.
    """
    check_same_settings(index.settings, hashes, what="the index")
    paths, _, turned = _dihedral_codes(hashes)
    n, n_bytes = turned.shape[0], turned.shape[2]
    labels = [str(i) for i in range(n * 8)]
    found = index.search_codes(labels, turned.reshape(n * 8, n_bytes), max_distance=max_distance)
    row = found["query"].astype(int).to_numpy()
    query, orientation = row // 8, row % 8
    match_keys, match = np.unique(found["match"].astype(str).to_numpy(), return_inverse=True)
    dist = found["distance"].to_numpy(np.int64)
    keep = _best_orientation(query, orientation, match.ravel(), dist)
    result = pd.DataFrame({
        "query": pd.array(paths[query[keep]], dtype="string"),
        "match": pd.array(match_keys[match.ravel()[keep]], dtype="string"),
        "distance": dist[keep],
        "orientation": pd.array(np.asarray(ORIENTATIONS, dtype=object)[orientation[keep]], dtype="string"),
    })
    return result.sort_values(["query", "distance", "match"], ignore_index=True)

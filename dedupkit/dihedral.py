"""Find mirrored and turned copies: search with the 8 orientations of each image.

A perceptual hash changes completely when a picture is mirrored or turned by
90°. With ``dihedral=True``, :func:`dedupkit.hash_images` also hashes the 8
orientations of each image (:func:`dedupkit.hashing.dihedral_hex`; the
orientations and their names are :mod:`dedupkit.orientations`) into a
``hash_dihedral`` column. Each orientation of a query is then searched against
the upright hashes of the others, and the best orientation is reported:
``orientation`` is what turns ``path_a`` into ``path_b``.

The search goes through :func:`dedupkit.find_pairs`' own machinery: identical
rows are collapsed first (:mod:`dedupkit.codejoin`), faiss is queried in batches, the compiled
multi-index join takes large sets, and ``max_pairs`` bounds the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .codejoin import (
    ValuePairs,
    check_max_distance,
    check_search_method,
    choose_method,
    flat_index,
    range_search,
    unique_rows,
)
from .hashing import hex_to_codes
from .index import HashIndex
from .orientations import INVERSE, ORIENTATIONS
from .search import DEFAULT_MAX_PAIRS, pair_frame, path_ranks, row_pairs
from .tables import check_same_settings, hash_codes

__all__ = ["ORIENTATIONS", "find_pairs_dihedral", "search_dihedral"]

_INVERSE = np.asarray(INVERSE, dtype=np.int64)
_NAMES = np.asarray(ORIENTATIONS, dtype=object)


def _dihedral_codes(hashes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paths, upright codes ``(n, b)`` and all-orientation codes ``(n, 8, b)`` of the rows with a hash."""
    if "hash_dihedral" not in hashes.columns:
        raise ValueError("the hash table has no 'hash_dihedral' column; "
                         "make it with hash_images(..., dihedral=True)")
    usable = hashes[hashes["hash_dihedral"].notna()]
    paths, codes = hash_codes(usable)
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


def find_pairs_dihedral(
    hashes: pd.DataFrame,
    *,
    max_distance: int = 10,
    method: str = "auto",
    max_pairs: int | None = DEFAULT_MAX_PAIRS,
) -> pd.DataFrame:
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
    method
        ``"auto"`` (default), ``"faiss"`` or ``"mih"``, as for
        :func:`dedupkit.find_pairs`.
    max_pairs
        As for :func:`dedupkit.find_pairs`: past this many rows a
        :class:`dedupkit.TooManyPairsWarning` is given and the condensed table
        (the same groups) is returned; files whose 8 hashes are all identical
        count as one value there.

    Returns
    -------
    pandas.DataFrame
        ``path_a``, ``path_b``, ``distance`` and ``orientation``: the one of
        :data:`ORIENTATIONS` that turns ``path_a`` into (a near-copy of)
        ``path_b``; ``"identity"`` for ordinary duplicates.

    Raises
    ------
    ValueError
        The table has no ``hash_dihedral`` column, ``max_distance`` is out
        of range, or ``method`` or ``max_pairs`` is not one dedupkit knows.

    Examples
    --------
    >>> hashes = hash_images("photos/", dihedral=True)  # doctest: +SKIP
    >>> find_pairs_dihedral(hashes, max_distance=10)  # doctest: +SKIP
           path_a          path_b  distance orientation
    0  photos/a.jpg  photos/a_mirrored.jpg   2      mirror
    """
    paths, codes, turned = _dihedral_codes(hashes)
    max_distance = check_max_distance(max_distance, turned.shape[2] * 8)
    method = check_search_method(method)
    found, orientation = _dihedral_value_pairs(turned, paths, max_distance, method)
    ranks = path_ranks(paths)
    i, j, dist, source = row_pairs(found, ranks, max_distance=max_distance, max_pairs=max_pairs)
    k = np.zeros(len(source), np.int64)  # two rows of one value: identity
    k[source >= 0] = orientation[source[source >= 0]]
    return pair_frame(paths, ranks, i, j, dist, swapped={"orientation": (_NAMES[k], _NAMES[_INVERSE[k]])})


def _dihedral_value_pairs(
    turned: np.ndarray, paths: np.ndarray, max_distance: int, method: str
) -> tuple[ValuePairs, np.ndarray]:
    """Pairs of distinct ``hash_dihedral`` values within ``max_distance`` at their best orientation.

    Returns the pairs (``first`` turned by ``orientation`` is near ``second``)
    and the orientation of each, as positions in :data:`ORIENTATIONS`.
    """
    n, _, n_bytes = turned.shape
    values, inverse, counts = unique_rows(turned.reshape(n, 8 * n_bytes))
    m = len(values)
    turned_values = values.reshape(m, 8, n_bytes)
    upright = np.ascontiguousarray(turned_values[:, 0])
    if method == "auto":
        method = choose_method(8 * m, n_bytes * 8, max_distance, n_compared=8.0 * m * m)
    if m < 2:
        query = match = dist = orientation = np.zeros(0, np.int64)
    elif method == "faiss":
        row, match, dist = range_search(flat_index(upright), turned_values.reshape(8 * m, n_bytes), max_distance)
        query, orientation = row // 8, row % 8
    else:  # one multi-index join over the upright codes and the 7 turned ones; keep upright-to-other pairs
        from .multiindex import pack_words, self_join  # noqa: PLC0415 - numba only for large sets

        others = turned_values[:, 1:].reshape(7 * m, n_bytes)
        a, b, dist = self_join(pack_words(np.concatenate([upright, others])), max_distance, n_bits=n_bytes * 8)
        a, b = np.minimum(a, b), np.maximum(a, b)
        keep = a < m
        a, b, dist = a[keep], b[keep], dist[keep]
        turned_side = b >= m
        query = np.where(turned_side, (b - m) // 7, b)
        orientation = np.where(turned_side, (b - m) % 7 + 1, 0)
        match = a
    # "match looks like query turned by k": for the pair (query, match) that is k, for (match, query) its
    # inverse. Each pair of values once, first before second by their first path, at its best orientation.
    other = query != match
    query, match, dist, orientation = query[other], match[other], dist[other], orientation[other]
    first_rank = np.full(m, len(paths), np.int64)
    np.minimum.at(first_rank, inverse, path_ranks(paths))
    swap = first_rank[query] > first_rank[match]
    first, second = np.where(swap, match, query), np.where(swap, query, match)
    orientation = np.where(swap, _INVERSE[orientation], orientation)
    keep = _best_orientation(first, orientation, second, dist)
    found = ValuePairs(upright, inverse, counts, first[keep].astype(np.int64), second[keep].astype(np.int64),
                       dist[keep].astype(np.int64))
    return found, orientation[keep].astype(np.int64)


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

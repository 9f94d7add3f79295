"""Exact Hamming-distance search over hash tables: the pairs of files within a distance, as a table.

:func:`find_pairs` finds the pairs of distinct hash values with the join of
:mod:`dedupkit.codejoin` (identical hashes collapsed, faiss for small sets, the
compiled multi-index join for large ones; exact), then turns them into pairs of
paths: all of them, or a condensed table with the same groups past
``max_pairs``. :class:`dedupkit.HashIndex` searches a stored set with faiss.
``max_distance`` is inclusive, as everywhere in dedupkit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._checks import check_int
from .codejoin import ValuePairs, check_max_distance, expand_pairs, value_pairs_from_codes
from .hashing import codes_to_hex
from .tables import hash_codes

__all__ = [
    "DEFAULT_MAX_PAIRS",
    "TooManyPairsWarning",
    "find_pairs",
    "find_value_pairs",
    "pair_frame",
    "path_ranks",
    "row_pairs",
]

PAIR_COLUMNS = ("path_a", "path_b", "distance")
DEFAULT_MAX_PAIRS = 10_000_000


class TooManyPairsWarning(UserWarning):
    """:func:`find_pairs` returned the condensed table: all pairs would be more than ``max_pairs`` rows."""


def _condensed_pairs(
    found: ValuePairs, ranks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each value pair once, between the values' first rows (by ``ranks``), and every other row to its first.

    The fourth array says which value pair each row pair stands for (``-1``: a row and its value's first row).
    """
    by_value = np.lexsort((ranks, found.inverse))  # rows by value, then rank
    starts = np.concatenate([[0], np.cumsum(found.counts)[:-1]])
    first_row = by_value[starts]
    others = np.flatnonzero(first_row[found.inverse] != np.arange(len(found.inverse)))
    i = np.concatenate([first_row[found.first], first_row[found.inverse[others]]])
    j = np.concatenate([first_row[found.second], others])
    d = np.concatenate([found.distance, np.zeros(len(others), np.int64)])
    source = np.concatenate([np.arange(len(found.first)), np.full(len(others), -1)]).astype(np.int64)
    return i, j, d, source


def row_pairs(
    found: ValuePairs, ranks: np.ndarray, *, max_distance: int, max_pairs: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The row pairs that value pairs stand for: all of them, or the condensed table past ``max_pairs``.

    Parameters
    ----------
    found
        Pairs of distinct values, and the rows holding each.
    ranks
        Each row's rank in path order (the condensed table pairs each value's first row).
    max_distance
        The distance the pairs were searched at (for the warning).
    max_pairs
        As for :func:`find_pairs`.

    Returns
    -------
    i, j, distance, source
        ``int64`` arrays: two rows, their distance, and the value pair (index
        into ``found.first``) each row pair comes from, ``-1`` for two rows of
        one value.

    Warns
    -----
    TooManyPairsWarning
        There are more than ``max_pairs`` row pairs: the condensed table is returned.
    """
    total = found.n_row_pairs
    if max_pairs is None or total <= max_pairs:
        return expand_pairs(found)
    condensed = _condensed_pairs(found, ranks)
    warnings.warn(
        f"{total:,} pairs within distance {max_distance} is more than max_pairs={max_pairs:,}: "
        f"returning the condensed table of {len(condensed[0]):,} rows (each pair of distinct hash values once, "
        f"between the first path of each, and every other file with an identical hash paired with "
        f"that first path at distance 0). find_groups gives the same groups from it; "
        f"find_value_pairs gives the counts.",
        TooManyPairsWarning,
        stacklevel=3,
    )
    return condensed


def find_pairs(
    hashes: pd.DataFrame,
    *,
    max_distance: int = 10,
    method: str = "auto",
    max_pairs: int | None = DEFAULT_MAX_PAIRS,
) -> pd.DataFrame:
    """Find every pair of images whose hashes differ in at most ``max_distance`` bits.

    Exact: the same pairs as comparing every hash with every other.

    Parameters
    ----------
    hashes
        A hash table with at least ``path`` and ``hash`` (hex) columns, as made
        by :func:`dedupkit.hash_images` or read back from CSV/Parquet. Rows
        without a hash (or with an ``error``) are left out.
    max_distance
        Largest Hamming distance that counts as a duplicate, **inclusive**.
        About 10 of 64 bits is a good start for dHash.
    method
        ``"auto"`` (default), ``"faiss"`` or ``"mih"``: how pairs of distinct
        hash values are found (see :func:`value_pairs_from_codes`). All are
        exact; ``"auto"`` uses faiss's flat index below 50,000 distinct hashes
        and the compiled multi-index join above (a million 64-bit hashes
        within distance 10 in about two seconds on two cores).
    max_pairs
        Most rows to return in full (default ten million; ``None``: no limit).
        ``k`` copies of one hash alone make ``k (k - 1) / 2`` pairs, so a few
        thousand blank images can make the full table too big for memory. If
        there are more pairs than this, a :class:`TooManyPairsWarning` is
        given and the **condensed** table is returned instead: each pair of
        distinct hash values once (between the first path of each value, in
        alphabetical order), and every other file with the same hash as a
        first path paired with it at distance 0. It has the same connected
        components, so :func:`dedupkit.find_groups` gives the same groups,
        and the same largest distance per group. :func:`find_value_pairs`
        gives the pairs of values with their counts.

    Returns
    -------
    pandas.DataFrame
        ``path_a``, ``path_b`` (``path_a < path_b``), ``distance``; each
        unordered pair once, sorted by distance, then paths.

    Raises
    ------
    ValueError
        Missing columns, hashes of different lengths, a bad hex string, rows
        hashed differently (the settings columns disagree, e.g. two tables
        concatenated), ``max_distance`` outside ``0..n_bits``, an unknown
        ``method``, or a negative ``max_pairs``.

    Notes
    -----
    To tune the threshold, compute the pairs once at the largest distance of
    interest and filter: ``pairs[pairs.distance <= t]`` is exactly
    ``find_pairs(hashes, max_distance=t)`` (filtering a condensed table gives
    the condensed table at ``t``).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg"],
    ...                       "hash": ["ffff0000ffff0000", "ffff0000ffff0001", "0000ffff0000ffff"]})
    >>> find_pairs(table, max_distance=1)
      path_a path_b  distance
    0  a.jpg  b.jpg         1
    """
    paths, codes = hash_codes(hashes)
    max_pairs = check_int(max_pairs, "max_pairs", low=0, none=True)
    found = value_pairs_from_codes(codes, max_distance=max_distance, method=method)
    ranks = path_ranks(paths)
    i, j, dist, _ = row_pairs(found, ranks, max_distance=max_distance, max_pairs=max_pairs)
    return pair_frame(paths, ranks, i, j, dist)


def find_value_pairs(hashes: pd.DataFrame, *, max_distance: int = 10, method: str = "auto") -> pd.DataFrame:
    """Pairs of distinct hash values within ``max_distance``, with how many files hold each.

    The compact form of :func:`find_pairs` for data with large clusters: its
    size grows with the number of distinct hashes, not with the square of a
    cluster. A hash held by several files also gets a row of its own
    (``hash_a == hash_b``, distance 0).

    Parameters
    ----------
    hashes
        A hash table with ``path`` and ``hash`` columns (as for :func:`find_pairs`).
    max_distance
        Largest Hamming distance kept, inclusive.
    method
        ``"auto"``, ``"faiss"`` or ``"mih"`` (see :func:`value_pairs_from_codes`).

    Returns
    -------
    pandas.DataFrame
        ``hash_a``, ``hash_b`` (hex, ``hash_a <= hash_b``), ``distance``,
        ``count_a``, ``count_b`` (files with each hash); sorted by distance,
        then hashes. The file pairs a row stands for are
        ``count_a * count_b``, or ``count_a * (count_a - 1) / 2`` when
        ``hash_a == hash_b``.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"path": ["a", "b", "c"], "hash": ["00000000000000ff"] * 2 + ["00000000000000fe"]})
    >>> find_value_pairs(table, max_distance=1)
                 hash_a            hash_b  distance  count_a  count_b
    0  00000000000000ff  00000000000000ff         0        2        2
    1  00000000000000fe  00000000000000ff         1        1        2
    """
    _, codes = hash_codes(hashes)
    check_max_distance(max_distance, codes.shape[1] * 8)
    found = value_pairs_from_codes(codes, max_distance=max_distance, method=method)
    repeated = np.flatnonzero(found.counts > 1)
    first = np.concatenate([repeated, found.first])
    second = np.concatenate([repeated, found.second])
    hexes = np.asarray(codes_to_hex(found.values), dtype=object) if len(found.values) else np.zeros(0, object)
    a, b = hexes[first], hexes[second]
    swap = a > b
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    table = pd.DataFrame({
        "hash_a": pd.array(hexes[first], dtype="string"),
        "hash_b": pd.array(hexes[second], dtype="string"),
        "distance": np.concatenate([np.zeros(len(repeated), np.int64), found.distance]),
        "count_a": found.counts[first],
        "count_b": found.counts[second],
    })
    return table.sort_values(["distance", "hash_a", "hash_b"], ignore_index=True)


def path_ranks(paths: np.ndarray) -> np.ndarray:
    """The rank of each path in alphabetical (code point) order, as ``int64``."""
    try:  # Arrow sorts UTF-8 bytes, which is code point order, much faster than numpy on objects
        order = pc.sort_indices(pa.array(paths, pa.string())).to_numpy().astype(np.int64)
    except (pa.ArrowException, UnicodeError):  # e.g. undecodable file names (lone surrogates)
        order = np.argsort(paths, kind="stable")
    ranks = np.empty(len(paths), np.int64)
    ranks[order] = np.arange(len(paths))
    return ranks


_path_ranks = path_ranks  # the old name, still imported by groups.py


def pair_frame(
    paths: np.ndarray,
    ranks: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    distance: np.ndarray,
    *,
    swapped: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """Build a pair table of rows ``i``, ``j`` with ``path_a < path_b``, sorted by distance then paths.

    ``swapped`` adds columns whose value depends on the pair's direction:
    ``{name: (values, values_if_swapped)}``, one of each per pair.
    """
    i, j, distance = (np.asarray(x, dtype=np.int64) for x in (i, j, distance))
    swap = ranks[i] > ranks[j]
    first, second = np.where(swap, j, i), np.where(swap, i, j)
    order = np.lexsort((ranks[second], ranks[first], distance))
    first, second = first[order], second[order]
    names = pd.array(paths, dtype="string")
    table = pd.DataFrame({"path_a": names.take(first), "path_b": names.take(second), "distance": distance[order]})
    for name, (values, if_swapped) in (swapped or {}).items():
        table[name] = pd.array(np.where(swap, if_swapped, values)[order], dtype="string")
    return table

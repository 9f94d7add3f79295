"""Exact Hamming-distance search over hash tables.

A self-join (:func:`find_pairs`) first collapses identical hashes, then finds
the pairs of distinct values with faiss's flat binary index for small sets or
dedupkit's compiled multi-index join (:mod:`dedupkit.multiindex`) for large
ones; both are exact. :class:`HashIndex` searches a stored set with faiss.

``max_distance`` is inclusive everywhere in dedupkit: a pair at exactly
``max_distance`` bits is found. faiss's binary range search keeps only
``distance < radius``; :func:`faiss_radius` is the one place that converts.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import faiss
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._checks import check_int
from ._mih_plan import plan_blocks
from .hashing import codes_to_hex
from .tables import hash_codes

__all__ = [
    "SEARCH_METHODS",
    "TooManyPairsWarning",
    "ValuePairs",
    "check_max_distance",
    "faiss_radius",
    "find_pairs",
    "find_value_pairs",
    "pairs_from_codes",
    "value_pairs_from_codes",
]

PAIR_COLUMNS = ("path_a", "path_b", "distance")
#: The ``method`` choices of :func:`find_pairs`.
SEARCH_METHODS = ("auto", "faiss", "mih")
_QUERY_BATCH = 4096  # queries per faiss call, so results of a batch stay small
# "auto" uses faiss below this many distinct hashes: loading the compiled
# kernels costs about a second once per process, faiss needs 0.5 s for 50,000.
_MIH_FROM = 50_000
# faiss IndexBinaryFlat, ns per (ordered) pair and 64-bit word on one core, measured
# here; used to compare with the multi-index plan's estimate.
_FAISS_NS = (0.37, 0.18)  # first word, each further word
DEFAULT_MAX_PAIRS = 10_000_000


class TooManyPairsWarning(UserWarning):
    """:func:`find_pairs` returned the condensed table: all pairs would be more than ``max_pairs`` rows."""


class ValuePairs(NamedTuple):
    """Pairs between distinct hash values, and which rows hold each value.

    Attributes
    ----------
    values
        ``(n_values, n_bytes)`` ``uint8``: each distinct code once.
    inverse
        ``int64``, one per row of the input: the index of its value.
    counts
        ``int64``, one per value: how many rows hold it.
    first, second, distance
        ``int64`` arrays, one entry per pair of distinct values within the
        distance (``first < second``, indexes into ``values``).
    """

    values: np.ndarray
    inverse: np.ndarray
    counts: np.ndarray
    first: np.ndarray
    second: np.ndarray
    distance: np.ndarray

    @property
    def n_row_pairs(self) -> int:
        """Pairs of rows these stand for: ``count_a * count_b`` per value pair, plus pairs of identical rows."""
        counts = self.counts
        between = int(np.dot(counts[self.first], counts[self.second])) if len(self.first) else 0
        return between + int((counts * (counts - 1) // 2).sum())


def check_max_distance(max_distance: int, n_bits: int) -> int:
    """Validate an inclusive Hamming threshold and return it as an ``int``.

    Raises
    ------
    TypeError
        ``max_distance`` is not an integer.
    ValueError
        ``max_distance`` is negative or above the number of bits.
    """
    return check_int(max_distance, "max_distance", low=0, high=n_bits, unit="bits (the hash length)")


def faiss_radius(max_distance: int) -> int:
    """The faiss ``range_search`` radius that finds distances ``<= max_distance``.

    faiss keeps results with ``distance < radius``; dedupkit's threshold is
    inclusive, so the radius is one more.
    """
    return int(max_distance) + 1


def range_search(
    index: faiss.IndexBinary, queries: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every stored code of a faiss binary ``index`` within ``max_distance`` (inclusive) of each query.

    Queries go to faiss in batches, so the results of one call stay small.

    Returns
    -------
    query, label, distance
        ``int64`` arrays: the row of ``queries``, the stored code's label and
        their distance; in faiss's order.
    """
    radius = faiss_radius(max_distance)
    found = []
    for start in range(0, len(queries), _QUERY_BATCH):
        lims, distances, labels = index.range_search(queries[start : start + _QUERY_BATCH], radius)
        query = np.repeat(np.arange(start, start + len(lims) - 1), np.diff(lims).astype(np.int64))
        found.append((query, labels.astype(np.int64), distances.astype(np.int64)))
    if not found:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return tuple(np.concatenate(part) for part in zip(*found, strict=True))


def flat_index(codes: np.ndarray) -> faiss.IndexBinaryFlat:
    """A faiss flat binary index holding ``(n, n_bytes)`` ``uint8`` codes, labelled ``0..n-1``."""
    index = faiss.IndexBinaryFlat(codes.shape[1] * 8)
    if len(codes):
        index.add(np.ascontiguousarray(codes, dtype=np.uint8))
    return index


def _self_range_search(codes: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of distinct rows within ``max_distance``, by faiss flat search."""
    query, label, distance = range_search(flat_index(codes), codes, max_distance)
    keep = label > query
    return query[keep], label[keep], distance[keep]


def _expand_pairs(found: ValuePairs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Turn pairs of distinct hash values into pairs of rows (all members of each).

    The fourth array says which value pair each row pair comes from (``-1``: two rows of one value).
    """
    u, v, d, counts = found.first, found.second, found.distance, found.counts
    order = np.argsort(found.inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # pairs between members of two different hash values
    cu, cv = counts[u], counts[v]
    sizes = cu * cv
    which = np.repeat(np.arange(len(u)), sizes)
    offset = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    a = [order[starts[u][which] + offset // cv[which]]]
    b = [order[starts[v][which] + offset % cv[which]]]
    dist = [d[which]]
    source = [which]
    # pairs within one hash value (distance 0), grouped by how many share it
    for count in np.unique(counts[counts > 1]):
        values = np.flatnonzero(counts == count)
        i, j = np.triu_indices(count, k=1)
        members = order[starts[values][:, None] + np.arange(count)]  # (values, count)
        a.append(members[:, i].ravel())
        b.append(members[:, j].ravel())
        dist.append(np.zeros(len(values) * len(i), np.int64))
        source.append(np.full(len(values) * len(i), -1, np.int64))
    return np.concatenate(a), np.concatenate(b), np.concatenate(dist), np.concatenate(source)


def check_search_method(method: str) -> str:
    if method not in SEARCH_METHODS:
        raise ValueError(f"method must be one of {list(SEARCH_METHODS)}, got {method!r}")
    return method


def unique_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of ``codes``, the value index of each row, and each value's count."""
    n, n_bytes = codes.shape
    if n_bytes == 8:  # one machine word: a plain integer sort
        keys, inverse, counts = np.unique(codes.view(np.uint64).ravel(), return_inverse=True, return_counts=True)
        values = keys.view(np.uint8).reshape(-1, 8)
    else:
        keys, inverse, counts = np.unique(codes.view(np.dtype((np.void, n_bytes))).ravel(),
                                          return_inverse=True, return_counts=True)
        values = np.frombuffer(keys.tobytes(), np.uint8).reshape(-1, n_bytes)
    return np.ascontiguousarray(values), inverse.ravel().astype(np.int64), counts.astype(np.int64)


def choose_method(n_values: int, n_bits: int, max_distance: int, *, n_compared: float | None = None) -> str:
    """``"faiss"`` for small sets, else whichever of faiss and the multi-index plan is estimated faster.

    ``n_values`` codes go into the multi-index join; faiss compares
    ``n_compared`` pairs of codes (``n_values ** 2`` for a self-join).
    """
    if n_values < _MIH_FROM:
        return "faiss"

    words = -(-n_bits // 64)
    compared = float(n_values) ** 2 if n_compared is None else float(n_compared)
    faiss_ns = (_FAISS_NS[0] + _FAISS_NS[1] * (words - 1)) * compared
    return "mih" if plan_blocks(n_values, n_bits, max_distance).cost < faiss_ns else "faiss"


def value_pairs_from_codes(codes: np.ndarray, *, max_distance: int = 10, method: str = "auto") -> ValuePairs:
    """Collapse identical codes, then find every pair of distinct values within ``max_distance``.

    The output grows with the number of distinct values, not with the square
    of a cluster of identical hashes; :func:`pairs_from_codes` expands it to rows.

    Parameters
    ----------
    codes
        ``(n, n_bytes)`` ``uint8`` packed hashes.
    max_distance
        Largest Hamming distance kept (inclusive).
    method
        ``"auto"`` (default): faiss's flat index below 50,000 distinct values
        (or when the estimate says so), dedupkit's multi-index join above;
        ``"faiss"``: always faiss ``IndexBinaryFlat.range_search``;
        ``"mih"``: always the compiled multi-index join
        (:func:`dedupkit.multiindex.self_join`). All are exact.

    Returns
    -------
    ValuePairs
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D uint8 array, got shape {codes.shape}")
    n_bits = codes.shape[1] * 8
    max_distance = check_max_distance(max_distance, n_bits)
    method = check_search_method(method)
    values, inverse, counts = unique_rows(codes)
    if method == "auto":
        method = choose_method(len(values), n_bits, max_distance)
    if len(values) < 2 or max_distance == 0:
        u = v = d = np.zeros(0, np.int64)
    elif method == "faiss":
        u, v, d = _self_range_search(values, max_distance)
    else:
        from .multiindex import pack_words, self_join  # noqa: PLC0415 - numba only for large sets

        u, v, d = self_join(pack_words(values), max_distance, n_bits=n_bits)
    return ValuePairs(values, inverse, counts, u, v, d)


def pairs_from_codes(
    codes: np.ndarray, *, max_distance: int = 10, method: str = "auto"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs of rows of ``codes`` within ``max_distance`` bits (inclusive).

    Every pair of rows, so ``k`` identical codes give ``k (k - 1) / 2`` pairs;
    :func:`value_pairs_from_codes` is the compact form.

    Parameters
    ----------
    codes
        ``(n, n_bytes)`` ``uint8`` packed hashes.
    max_distance
        Largest Hamming distance kept (inclusive).
    method
        ``"auto"``, ``"faiss"`` or ``"mih"``, as in :func:`value_pairs_from_codes`.

    Returns
    -------
    i, j, distance
        ``int64`` arrays with ``i < j``, unordered.
    """
    i, j, dist, _ = _expand_pairs(value_pairs_from_codes(codes, max_distance=max_distance, method=method))
    return np.minimum(i, j), np.maximum(i, j), dist


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
        return _expand_pairs(found)
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

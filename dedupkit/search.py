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

import json
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import faiss
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .hashing import check_method, codes_to_hex, hex_to_codes

__all__ = [
    "SEARCH_METHODS",
    "HashIndex",
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
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)):
        raise TypeError(f"max_distance must be an integer number of bits, got {max_distance!r}")
    if not 0 <= max_distance <= n_bits:
        raise ValueError(f"max_distance must be between 0 and {n_bits} (the hash length), got {max_distance}")
    return int(max_distance)


def faiss_radius(max_distance: int) -> int:
    """The faiss ``range_search`` radius that finds distances ``<= max_distance``.

    faiss keeps results with ``distance < radius``; dedupkit's threshold is
    inclusive, so the radius is one more.
    """
    return int(max_distance) + 1


def _hash_column(hashes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return the paths and packed codes of the rows that have a hash."""
    if not isinstance(hashes, pd.DataFrame):
        raise TypeError(f"expected a DataFrame with 'path' and 'hash' columns, got {type(hashes).__name__}")
    missing = {"path", "hash"} - set(hashes.columns)
    if missing:
        raise ValueError(
            f"the hash table needs 'path' and 'hash' columns; missing {sorted(missing)} "
            f"(columns are {list(hashes.columns)})"
        )
    valid = hashes["hash"].notna().to_numpy().copy()
    if "error" in hashes.columns:
        valid &= hashes["error"].isna().to_numpy()
    paths = hashes["path"].astype(str).to_numpy()[valid]
    codes = hex_to_codes(hashes["hash"].astype(str).to_numpy()[valid]) if valid.any() else np.zeros((0, 8), np.uint8)
    return paths, codes


def _self_range_search(codes: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of distinct rows within ``max_distance``, by faiss flat search."""
    n, n_bytes = codes.shape
    index = faiss.IndexBinaryFlat(n_bytes * 8)
    index.add(codes)
    radius = faiss_radius(max_distance)
    firsts, seconds, dists = [], [], []
    for start in range(0, n, _QUERY_BATCH):
        lims, distances, labels = index.range_search(codes[start : start + _QUERY_BATCH], radius)
        query = np.repeat(np.arange(start, start + len(lims) - 1), np.diff(lims).astype(np.int64))
        keep = labels > query
        firsts.append(query[keep])
        seconds.append(labels[keep])
        dists.append(distances[keep])
    if not firsts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return (np.concatenate(firsts).astype(np.int64), np.concatenate(seconds).astype(np.int64),
            np.concatenate(dists).astype(np.int64))


def _expand_pairs(
    u: np.ndarray, v: np.ndarray, d: np.ndarray, inverse: np.ndarray, n_unique: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn pairs of distinct hash values into pairs of rows (all members of each)."""
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=n_unique)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # pairs between members of two different hash values
    cu, cv = counts[u], counts[v]
    sizes = cu * cv
    which = np.repeat(np.arange(len(u)), sizes)
    offset = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    a = [order[starts[u][which] + offset // cv[which]]]
    b = [order[starts[v][which] + offset % cv[which]]]
    dist = [d[which]]
    # pairs within one hash value (distance 0), grouped by how many share it
    for count in np.unique(counts[counts > 1]):
        values = np.flatnonzero(counts == count)
        i, j = np.triu_indices(count, k=1)
        members = order[starts[values][:, None] + np.arange(count)]  # (values, count)
        a.append(members[:, i].ravel())
        b.append(members[:, j].ravel())
        dist.append(np.zeros(len(values) * len(i), np.int64))
    return np.concatenate(a), np.concatenate(b), np.concatenate(dist)


def _check_method(method: str) -> str:
    if method not in SEARCH_METHODS:
        raise ValueError(f"method must be one of {list(SEARCH_METHODS)}, got {method!r}")
    return method


def _unique_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _choose_method(n_values: int, n_bits: int, max_distance: int) -> str:
    """``"faiss"`` for small sets, else whichever of faiss and the multi-index plan is estimated faster."""
    if n_values < _MIH_FROM:
        return "faiss"
    from .multiindex import plan_blocks

    words = -(-n_bits // 64)
    faiss_ns = (_FAISS_NS[0] + _FAISS_NS[1] * (words - 1)) * float(n_values) ** 2
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
    method = _check_method(method)
    values, inverse, counts = _unique_rows(codes)
    if method == "auto":
        method = _choose_method(len(values), n_bits, max_distance)
    if len(values) < 2 or max_distance == 0:
        u = v = d = np.zeros(0, np.int64)
    elif method == "faiss":
        u, v, d = _self_range_search(values, max_distance)
    else:
        from .multiindex import pack_words, self_join

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
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D uint8 array, got shape {codes.shape}")
    max_distance = check_max_distance(max_distance, codes.shape[1] * 8)
    _check_method(method)
    if len(codes) < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    found = value_pairs_from_codes(codes, max_distance=max_distance, method=method)
    i, j, dist = _expand_pairs(found.first, found.second, found.distance, found.inverse, len(found.values))
    return np.minimum(i, j), np.maximum(i, j), dist


def _condensed_pairs(found: ValuePairs, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each value pair once, between the values' first rows (by ``ranks``), and every other row to its first."""
    by_value = np.lexsort((ranks, found.inverse))  # rows by value, then rank
    starts = np.concatenate([[0], np.cumsum(found.counts)[:-1]])
    first_row = by_value[starts]
    others = np.flatnonzero(first_row[found.inverse] != np.arange(len(found.inverse)))
    i = np.concatenate([first_row[found.first], first_row[found.inverse[others]]])
    j = np.concatenate([first_row[found.second], others])
    d = np.concatenate([found.distance, np.zeros(len(others), np.int64)])
    return i, j, d


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
        Missing columns, hashes of different lengths, a bad hex string,
        ``max_distance`` outside ``0..n_bits``, an unknown ``method``, or a
        negative ``max_pairs``.

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
    paths, codes = _hash_column(hashes)
    n_bits = codes.shape[1] * 8
    check_max_distance(max_distance, n_bits)
    _check_method(method)
    if max_pairs is not None and (
        isinstance(max_pairs, bool) or not isinstance(max_pairs, (int, np.integer)) or max_pairs < 0
    ):
        raise ValueError(f"max_pairs must be a non-negative integer or None, got {max_pairs!r}")
    ranks = _path_ranks(paths)
    if len(codes) < 2:
        empty = np.zeros(0, np.int64)
        return _pair_frame(paths, ranks, empty, empty, empty)
    found = value_pairs_from_codes(codes, max_distance=max_distance, method=method)
    total = found.n_row_pairs
    if max_pairs is None or total <= max_pairs:
        i, j, dist = _expand_pairs(found.first, found.second, found.distance, found.inverse, len(found.values))
    else:
        i, j, dist = _condensed_pairs(found, ranks)
        warnings.warn(
            f"{total:,} pairs within distance {max_distance} is more than max_pairs={max_pairs:,}: "
            f"returning the condensed table of {len(i):,} rows (each pair of distinct hash values once, "
            f"between the first path of each, and every other file with an identical hash paired with "
            f"that first path at distance 0). find_groups gives the same groups from it; "
            f"find_value_pairs gives the counts.",
            TooManyPairsWarning,
            stacklevel=2,
        )
    return _pair_frame(paths, ranks, i, j, dist)


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
    _, codes = _hash_column(hashes)
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


def _path_ranks(paths: np.ndarray) -> np.ndarray:
    """The rank of each path in alphabetical (code point) order, as ``int64``."""
    try:  # Arrow sorts UTF-8 bytes, which is code point order, much faster than numpy on objects
        order = pc.sort_indices(pa.array(paths, pa.string())).to_numpy().astype(np.int64)
    except (pa.ArrowException, UnicodeError):  # e.g. undecodable file names (lone surrogates)
        order = np.argsort(paths, kind="stable")
    ranks = np.empty(len(paths), np.int64)
    ranks[order] = np.arange(len(paths))
    return ranks


def _pair_frame(
    paths: np.ndarray, ranks: np.ndarray, i: np.ndarray, j: np.ndarray, distance: np.ndarray
) -> pd.DataFrame:
    """Build a pair table of rows ``i``, ``j`` with ``path_a < path_b``, sorted by distance then paths."""
    i, j, distance = (np.asarray(x, dtype=np.int64) for x in (i, j, distance))
    swap = ranks[i] > ranks[j]
    first, second = np.where(swap, j, i), np.where(swap, i, j)
    order = np.lexsort((ranks[second], ranks[first], distance))
    first, second = first[order], second[order]
    names = pd.array(paths, dtype="string")
    return pd.DataFrame({"path_a": names.take(first), "path_b": names.take(second), "distance": distance[order]})


class HashIndex:
    """A searchable set of hashes: a reference archive to check new images against.

    Each hash has a key (a path, or any id string). Backed by a faiss
    ``IndexBinaryFlat``: exact search, one popcount per stored hash.

    Parameters
    ----------
    method, hash_size
        How the stored hashes were made; images given to :meth:`search_images`
        are hashed the same way.

    Examples
    --------
    >>> index = HashIndex.from_hashes(hash_images("train/"))  # doctest: +SKIP
    >>> leaks = index.search(hash_images("test/"), max_distance=10)  # doctest: +SKIP
    >>> index.save("train.index.parquet")  # doctest: +SKIP
    """

    def __init__(self, *, method: str = "dhash", hash_size: int = 8):
        check_method(method, hash_size)
        self.method = method
        self.hash_size = int(hash_size)
        self._index = faiss.IndexBinaryFlat(self.n_bits)
        self._keys = np.zeros(0, dtype=object)

    @property
    def n_bits(self) -> int:
        """Bits per hash."""
        return self.hash_size * self.hash_size

    @property
    def keys(self) -> np.ndarray:
        """The keys (paths or ids) of the stored hashes, in insertion order."""
        return self._keys.copy()

    def codes(self) -> np.ndarray:
        """The stored hashes as packed ``uint8`` codes, in the order of :attr:`keys`."""
        if not len(self):
            return np.zeros((0, self.n_bits // 8), np.uint8)
        return self._index.reconstruct_n(0, len(self))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __repr__(self) -> str:
        return f"HashIndex(method={self.method!r}, hash_size={self.hash_size}, size={len(self)})"

    @classmethod
    def from_hashes(cls, hashes: pd.DataFrame, *, method: str | None = None, hash_size: int | None = None) -> HashIndex:
        """Build an index from a hash table (``path`` and ``hash`` columns).

        ``method`` and ``hash_size`` default to the table's ``attrs`` (set by
        :func:`dedupkit.hash_images`), then to dHash with the table's hash length.
        """
        paths, codes = _hash_column(hashes)
        method = method or hashes.attrs.get("method", "dhash")
        if hash_size is None:
            hash_size = hashes.attrs.get("hash_size") or (int(np.sqrt(codes.shape[1] * 8)) if len(codes) else 8)
        index = cls(method=method, hash_size=hash_size)
        index.add_codes(paths, codes)
        return index

    def add(self, hashes: pd.DataFrame) -> None:
        """Add the rows of a hash table that have a hash, keyed by ``path``."""
        paths, codes = _hash_column(hashes)
        self.add_codes(paths, codes)

    def add_codes(self, keys: Sequence[str], codes: np.ndarray) -> None:
        """Add packed codes (``(n, n_bits/8)`` ``uint8``) under the given keys."""
        codes = self._check_codes(codes)
        keys = np.asarray(list(keys), dtype=object)
        if len(keys) != len(codes):
            raise ValueError(f"got {len(keys)} keys for {len(codes)} codes")
        if len(codes):
            self._index.add(codes)
            self._keys = np.concatenate([self._keys, keys])

    def remove(self, keys: Iterable[str]) -> int:
        """Remove every stored hash with one of these keys; return how many."""
        drop = np.flatnonzero(np.isin(self._keys, np.asarray(list(keys), dtype=object)))
        if len(drop):
            self._index.remove_ids(faiss.IDSelectorBatch(drop.astype(np.int64)))
            self._keys = np.delete(self._keys, drop)
        return len(drop)

    def _check_codes(self, codes: np.ndarray) -> np.ndarray:
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or (len(codes) and codes.shape[1] * 8 != self.n_bits):
            raise ValueError(
                f"this index holds {self.n_bits}-bit hashes ({self.method}, hash_size={self.hash_size}); "
                f"got codes of shape {codes.shape}"
            )
        return codes.reshape(len(codes), self.n_bits // 8)

    def search(
        self,
        hashes: pd.DataFrame | Sequence[str],
        *,
        max_distance: int | None = 10,
        k: int | None = None,
    ) -> pd.DataFrame:
        """Find stored hashes near each query hash.

        Parameters
        ----------
        hashes
            A hash table (``path``, ``hash``) or a sequence of hex strings.
        max_distance
            Keep matches within this many bits (inclusive). With ``k``,
            ``None`` keeps the ``k`` nearest whatever their distance.
        k
            Return at most the ``k`` nearest matches per query instead of all
            within the radius.

        Returns
        -------
        pandas.DataFrame
            ``query`` (the query's path, or its hex), ``match`` (stored key),
            ``distance``; sorted by query, distance, match.
        """
        if isinstance(hashes, pd.DataFrame):
            queries, codes = _hash_column(hashes)
        else:
            queries = np.asarray(list(hashes), dtype=object)
            codes = hex_to_codes(queries) if len(queries) else np.zeros((0, self.n_bits // 8), np.uint8)
        return self.search_codes(queries, codes, max_distance=max_distance, k=k)

    def search_codes(
        self, queries: Sequence[str], codes: np.ndarray, *, max_distance: int | None = 10, k: int | None = None
    ) -> pd.DataFrame:
        """Like :meth:`search`, for packed codes labelled by ``queries``."""
        queries = np.asarray(list(queries), dtype=object)
        q_idx, match, dist = self.search_arrays(codes, max_distance=max_distance, k=k)
        result = pd.DataFrame(
            {"query": pd.array(queries[q_idx], dtype="string"),
             "match": pd.array(match, dtype="string"),
             "distance": dist}
        )
        return result.sort_values(["query", "distance", "match"], ignore_index=True)

    def search_arrays(
        self, codes: np.ndarray, *, max_distance: int | None = 10, k: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like :meth:`search_codes`, as plain arrays: no table is built (for one query, fast).

        Returns
        -------
        query, match, distance
            The row of ``codes`` each result answers (``int64``), the stored
            key (object array) and the distance (``int64``); in faiss's order.
        """
        codes = self._check_codes(codes)
        if max_distance is None and k is None:
            raise ValueError("give max_distance, k, or both")
        if max_distance is not None:
            max_distance = check_max_distance(max_distance, self.n_bits)
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"k must be a positive integer, got {k!r}")
        empty = np.zeros(0, np.int64)
        if not (len(self) and len(codes)):
            return empty, self._keys[empty], empty
        if k is not None:
            distances, labels = self._index.search(codes, int(min(k, len(self))))
            rows = np.repeat(np.arange(len(codes)), labels.shape[1])
            keep = labels.ravel() >= 0
            if max_distance is not None:
                keep &= distances.ravel() <= max_distance
            q_idx, match, dist = rows[keep], labels.ravel()[keep], distances.ravel()[keep]
        else:
            lims, dist, match = self._index.range_search(codes, faiss_radius(max_distance))
            q_idx = np.repeat(np.arange(len(codes)), np.diff(lims).astype(np.int64))
        return q_idx.astype(np.int64), self._keys[match.astype(np.int64)], dist.astype(np.int64)

    def search_images(
        self,
        source: str | os.PathLike | Iterable[str | os.PathLike],
        *,
        max_distance: int | None = 10,
        k: int | None = None,
        **hash_options,
    ) -> pd.DataFrame:
        """Hash images (a folder or files) the index's way and search for each.

        Files that cannot be hashed are left out of the result; hash them with
        :func:`dedupkit.hash_images` first to see why.
        """
        from .scan import hash_images

        hashes = hash_images(source, method=self.method, hash_size=self.hash_size, **hash_options)
        return self.search(hashes, max_distance=max_distance, k=k)

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to a Parquet file (keys, hex hashes, method, size), atomically."""
        path = Path(path)
        codes = self.codes()
        table = pa.table({"key": pa.array(self._keys.tolist(), pa.string()),
                          "hash": pa.array([row.tobytes().hex() for row in codes], pa.string())})
        meta = {"format": "dedupkit.HashIndex", "version": 1, "method": self.method, "hash_size": self.hash_size}
        table = table.replace_schema_metadata({"dedupkit": json.dumps(meta)})
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> HashIndex:
        """Read an index written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            No such file.
        ValueError
            The file is not a dedupkit index.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such index file")
        try:
            table = pq.read_table(path)
            meta = json.loads(table.schema.metadata[b"dedupkit"])
        except Exception as exc:  # noqa: BLE001 - any failure means "not our file"
            raise ValueError(f"{path}: not a dedupkit index file ({exc})") from None
        index = cls(method=meta["method"], hash_size=meta["hash_size"])
        keys = table.column("key").to_pylist()
        hexes = table.column("hash").to_pylist()
        index.add_codes(keys, hex_to_codes(hexes) if hexes else np.zeros((0, index.n_bits // 8), np.uint8))
        return index

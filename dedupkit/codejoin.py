"""The exact Hamming self-join of packed codes: every pair of distinct values within a distance.

Identical codes are collapsed first (:class:`ValuePairs` keeps which rows hold
each value), then the pairs of distinct values are found with faiss's flat
binary index for small sets or dedupkit's compiled multi-index join
(:mod:`dedupkit.multiindex`) for large ones; both are exact.
:func:`dedupkit.find_pairs` (:mod:`dedupkit.search`) turns them into tables of
paths, and the dihedral search (:mod:`dedupkit.dihedral`) uses the same parts.

``max_distance`` is inclusive everywhere in dedupkit: a pair at exactly
``max_distance`` bits is found. faiss's binary range search keeps only
``distance < radius``; :func:`faiss_radius` is the one place that converts.
"""

from __future__ import annotations

from typing import NamedTuple

import faiss
import numpy as np

from ._checks import check_int
from ._mih_plan import plan_blocks

__all__ = [
    "SEARCH_METHODS",
    "ValuePairs",
    "check_max_distance",
    "check_search_method",
    "choose_method",
    "expand_pairs",
    "faiss_radius",
    "flat_index",
    "pairs_from_codes",
    "range_search",
    "unique_rows",
    "value_pairs_from_codes",
]

#: The ``method`` choices of :func:`value_pairs_from_codes` and :func:`dedupkit.find_pairs`.
SEARCH_METHODS = ("auto", "faiss", "mih")
_QUERY_BATCH = 4096  # queries per faiss call, so results of a batch stay small
# "auto" uses faiss below this many distinct hashes: loading the compiled
# kernels costs about a second once per process, faiss needs 0.5 s for 50,000.
_MIH_FROM = 50_000
# faiss IndexBinaryFlat, ns per (ordered) pair and 64-bit word on one core, measured
# here; used to compare with the multi-index plan's estimate.
_FAISS_NS = (0.37, 0.18)  # first word, each further word


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


def expand_pairs(found: ValuePairs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
    i, j, dist, _ = expand_pairs(value_pairs_from_codes(codes, max_distance=max_distance, method=method))
    return np.minimum(i, j), np.maximum(i, j), dist

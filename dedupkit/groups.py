"""Duplicate groups that never chain: the file kept and the files directly paired with it.

Connected components of the pair graph chain: A~B, B~C, C~D put A and D in
one group however different they are. A group here is a *star*: its kept
file at the centre and files each directly paired with it, so no member is
more than one link from the file kept (and, for hash pairs, no two members
are more than twice the threshold apart).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .hashing import hamming, hex_to_codes
from .search import _path_ranks

__all__ = ["GROUP_COLUMNS", "find_groups"]

#: The columns of a group table, in order.
GROUP_COLUMNS = ("group", "path", "keep", "size", "diameter", "link_distance")

_EXACT_DIAMETER_UP_TO = 5000  # members; larger groups get the diameter of their found pairs
_COMPILE_FROM = 2_000_000  # links (both ways); below, the star loop runs as plain Python: faster than loading numba


def find_groups(pairs: pd.DataFrame, hashes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Group duplicates around the file kept: every other member is directly paired with it.

    Parameters
    ----------
    pairs
        A pair table (``path_a``, ``path_b``, ``distance``) from
        :func:`dedupkit.find_pairs`, possibly filtered, or its condensed form.
        If it has a ``verified`` column (from a verifier), only rows where it
        is true link two files; rows where it is missing (not verified) are
        ignored, and the two files of a row where it is false are never put
        in one group.
    hashes
        The hash table the pairs came from. With it, the kept file is chosen by
        size and the diameter is computed from the hashes; without it, the
        shortest path is kept and the diameter is the largest pair distance.

    Returns
    -------
    pandas.DataFrame
        One row per file in a group (:data:`GROUP_COLUMNS`): ``group`` (0 is
        the largest group), ``path``, ``keep`` (exactly one ``True`` per
        group: the group's centre), ``size`` (files in the group, at least
        2), ``diameter`` (largest Hamming distance between two members: at
        most twice the threshold, and above it when two members are each a
        copy of the kept file but not of each other) and ``link_distance``
        (the distance of the pair that links the file to the kept file, 0 for
        the kept file itself; a group's weakest link is its largest
        ``link_distance``). The kept file comes first in each group.

    Notes
    -----
    A group is a star, never a chain: files are taken in the order of the
    keep rule (below); a file not yet in a group becomes the centre of a new
    one and takes every file it is paired with that is in no group yet,
    nearest first, skipping a file that a verifier called different from one
    already taken. So the kept file is the centre, and every file marked
    ``keep=False`` is directly paired with (verified against) the file kept
    instead of it. A file whose every match went into another group (the far
    end of a chain) is in no group. Centres taken by most matches instead
    keep a few more files in groups (668 against 661 of 673 on 27 photos with
    30 edits each, at 10 bits) but pick hubs that look like several pictures:
    at 14 bits they put 1,222 pairs of different pictures in one group, the
    kept file's order 1. Without a ``verified`` column, files
    with identical hashes (a pair at distance 0) count as one, so the
    condensed table of :func:`dedupkit.find_pairs` gives the same groups as
    the full one. Without a ``distance`` column, distances come from
    ``hashes`` (0 without them).

    The kept file is the one with the most pixels, then the largest file, then
    the shortest path, then the first in alphabetical order.

    Examples
    --------
    >>> chain = pd.DataFrame({"path_a": ["a", "b", "c"], "path_b": ["b", "c", "d"], "distance": [3, 2, 4]})
    >>> find_groups(chain)  # a is kept with b; c is not a's copy, so it is kept with d
       group path   keep  size  diameter  link_distance
    0      0    a   True     2         3              0
    1      0    b  False     2         3              3
    2      1    c   True     2         4              0
    3      1    d  False     2         4              4
    >>> groups = find_groups(find_pairs(hashes), hashes)  # doctest: +SKIP
    >>> to_delete = groups.loc[~groups.keep, "path"]  # doctest: +SKIP
    """
    missing = {"path_a", "path_b"} - set(pairs.columns)
    if missing:
        raise ValueError(f"the pair table needs 'path_a' and 'path_b' columns; missing {sorted(missing)}")
    if len(pairs) == 0:
        return _empty()
    paths, a, b = _index_paths(pairs)
    n = len(paths)
    links, negative = _link_masks(pairs)
    links &= a != b
    codes = _codes_of(paths, hashes) if hashes is not None else None
    distance = _distances(pairs, a, b, links, codes)
    la, lb, ld = a[links], b[links], distance[links]
    if len(la) == 0:
        return _empty()

    _, component = connected_components(_graph(la, lb, n), directed=False)
    table = _add_keep_order(pd.DataFrame({"path": paths, "component": component, "file": np.arange(n)}), hashes)
    rank = table["rank"].to_numpy(np.int64)

    # files with identical hashes (a link at distance 0) are one node, unless a verifier decides pairs
    if "verified" in pairs.columns or not (ld == 0).any():
        node = np.arange(n)
    else:
        zero = ld == 0
        _, node = connected_components(_graph(la[zero], lb[zero], n), directed=False)
    n_nodes = int(node.max()) + 1
    node_rank = np.full(n_nodes, np.iinfo(np.int64).max)
    np.minimum.at(node_rank, node, rank)
    sa, sb, sd = node[la], node[lb], ld
    sa, sb, sd = sa[sa != sb], sb[sa != sb], sd[sa != sb]  # links inside one node are implied
    na, nb = node[a[negative]], node[b[negative]]  # pairs that must not share a group
    na, nb = na[na != nb], nb[na != nb]

    # centres in the order of the keep rule: each group is its kept file and the files paired with it
    order = np.argsort(node_rank, kind="stable")
    ends, others, dist = np.r_[sa, sb], np.r_[sb, sa], np.r_[sd, sd]
    by_edge = _edge_order(ends, dist, node_rank[others])  # each node's neighbours, nearest first
    indptr = np.r_[0, np.cumsum(np.bincount(ends, minlength=n_nodes))]
    neg_ends, neg_others = np.r_[na, nb], np.r_[nb, na]
    by_neg = np.argsort(neg_ends, kind="stable")
    neg_indptr = np.r_[0, np.cumsum(np.bincount(neg_ends, minlength=n_nodes))]
    star = _star_function(len(ends))
    centre_of, link = star(order, indptr, others[by_edge], dist[by_edge], neg_indptr, neg_others[by_neg])

    # back to files: each file's group is its node's centre; the centre file is that node's best-ranked file
    file_centre = centre_of[node]
    members = np.bincount(file_centre, minlength=n_nodes)
    table["component"] = file_centre  # the group, numbered below
    table["size"] = members[file_centre].astype(np.int64)
    table["link_distance"] = link[node].astype(np.int64)
    table = table[table["size"] > 1]
    heads = table.sort_values("rank").drop_duplicates("component")
    heads = heads.sort_values(["size", "file"], ascending=[False, True])  # files are numbered by path
    table["group"] = table["component"].map(dict(zip(heads["component"], range(len(heads)))))
    table = table.sort_values(["group", "rank"], ignore_index=True)
    table["keep"] = ~table["group"].duplicated()
    table["diameter"] = _pair_diameters(table, pairs, n, a, b)
    if hashes is not None:
        _exact_diameters(table, *codes)
    table["path"] = table["path"].astype("string")
    return table[list(GROUP_COLUMNS)]


def _index_paths(pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct paths in sorted order, and each end of each pair as an index into them."""
    # Arrow's dictionary encoding, then a sort of the distinct paths only (np.unique sorts all ends)
    ends = pd.concat([pairs["path_a"], pairs["path_b"]], ignore_index=True)
    try:
        ends = ends.astype("string[pyarrow]")
    except (TypeError, ValueError, UnicodeError):  # e.g. undecodable file names (lone surrogates)
        ends = ends.astype(str)
    inverse, distinct = pd.factorize(ends)
    distinct = np.asarray(distinct, dtype=object)
    position = _path_ranks(distinct)
    paths = np.empty(len(distinct), dtype=object)
    paths[position] = distinct
    inverse = position[inverse]
    return paths, inverse[: len(pairs)], inverse[len(pairs):]


def _link_masks(pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows that link two files, and rows a verifier called different (never in one group)."""
    if "verified" not in pairs.columns:
        return np.ones(len(pairs), bool), np.zeros(len(pairs), bool)
    verified = pairs["verified"]
    if verified.dtype == object:
        verified = verified.map(lambda v: v if isinstance(v, (bool, np.bool_)) else pd.NA)
    verified = verified.astype("boolean")
    negative = verified.eq(False).fillna(False).to_numpy(bool)
    links = verified.eq(True).fillna(False).to_numpy(bool)
    if (links & negative).any():  # pragma: no cover - a value cannot be both
        links &= ~negative
    return links, negative


def _distances(pairs: pd.DataFrame, a: np.ndarray, b: np.ndarray, rows: np.ndarray,
               codes: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Each row's distance: the ``distance`` column, else from the hashes (for ``rows``), else 0."""
    if "distance" in pairs.columns:
        return pairs["distance"].fillna(0).to_numpy(np.int64)
    distance = np.zeros(len(pairs), np.int64)
    if codes is not None:
        packed, known = codes
        both = rows & known[a] & known[b]
        distance[both] = hamming(packed[a[both]], packed[b[both]])
    return distance


def _codes_of(paths: np.ndarray, hashes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Packed hash codes for ``paths`` (zeros where unknown), and which are known."""
    lookup = hashes.dropna(subset=["hash"]).drop_duplicates("path")
    lookup = pd.Series(lookup["hash"].astype(str).to_numpy(), index=lookup["path"].astype(str).to_numpy())
    found = lookup.reindex(paths).to_numpy(dtype=object)
    known = pd.notna(found)
    if not known.any():
        return np.zeros((len(paths), 1), np.uint8), known
    codes = np.zeros((len(paths), len(found[known][0]) // 2), np.uint8)
    codes[known] = hex_to_codes(found[known])
    return codes, known


def _graph(a: np.ndarray, b: np.ndarray, n: int) -> coo_matrix:
    return coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))


def _edge_order(ends: np.ndarray, dist: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The order of edges by end, then distance, then the other end's rank (one int64 sort when it fits)."""
    if not len(ends):
        return np.zeros(0, np.int64)
    n_rank, n_dist = int(rank.max()) + 1, int(dist.max()) + 1
    if dist.min() >= 0 and (int(ends.max()) + 1) * n_dist * n_rank < 2**62:
        return np.argsort((ends * n_dist + dist) * n_rank + rank)
    return np.lexsort((rank, dist, ends))


def _stars(order, indptr, neighbours, distances, neg_indptr, negatives):
    """The greedy star loop (plain Python on arrays; compiled by numba for large graphs).

    ``order``: the nodes, best centre first. ``indptr``/``neighbours``/
    ``distances``: each node's links, nearest first (CSR). ``neg_indptr``/
    ``negatives``: each node's files called different. Returns each node's
    centre and its distance to it.
    """
    n = len(order)
    centre = np.full(n, -1, np.int64)
    link = np.zeros(n, np.int64)
    blocked = np.full(n, -1, np.int64)  # == c: called different from a file in c's star
    for c in order:
        if centre[c] >= 0:
            continue
        centre[c] = c
        for k in range(neg_indptr[c], neg_indptr[c + 1]):
            blocked[negatives[k]] = c
        for k in range(indptr[c], indptr[c + 1]):
            v = neighbours[k]
            if centre[v] >= 0 or blocked[v] == c:
                continue
            centre[v] = c
            link[v] = distances[k]
            for kk in range(neg_indptr[v], neg_indptr[v + 1]):
                blocked[negatives[kk]] = c
    return centre, link


@cache
def _compiled_stars():
    import numba  # noqa: PLC0415 - compiled only for large graphs

    return numba.njit(cache=True)(_stars)


def _star_function(n_links: int):
    return _compiled_stars() if n_links >= _COMPILE_FROM else _stars


def _pair_diameters(table: pd.DataFrame, pairs: pd.DataFrame, n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each row's group diameter from the pair table: its largest distance between two members."""
    if "distance" not in pairs.columns or table.empty:
        return np.zeros(len(table), np.int64)
    group_of = np.full(n, -1, np.int64)
    group_of[table["file"].to_numpy(np.int64)] = table["group"].to_numpy(np.int64)
    inside = (group_of[a] >= 0) & (group_of[a] == group_of[b])
    distance = pairs["distance"].fillna(0).to_numpy(np.int64)[inside]
    diameter = np.zeros(int(table["group"].max()) + 1, np.int64)
    np.maximum.at(diameter, group_of[a[inside]], distance)
    return diameter[table["group"].to_numpy(np.int64)]


def _add_keep_order(table: pd.DataFrame, hashes: pd.DataFrame | None) -> pd.DataFrame:
    """Add a ``rank`` column: 0 for the file to keep in its component, by the keep rule."""
    table = table.copy()
    table["pixels"] = 0
    table["bytes"] = 0
    if hashes is not None:
        info = hashes.assign(path=hashes["path"].astype(str)).drop_duplicates("path").set_index("path")
        width = info["width"].reindex(table["path"]) if "width" in info else None
        height = info["height"].reindex(table["path"]) if "height" in info else None
        if width is not None and height is not None:
            table["pixels"] = (width.astype("Float64") * height.astype("Float64")).fillna(0).to_numpy(float)
        if "bytes" in info:
            table["bytes"] = info["bytes"].reindex(table["path"]).astype("Float64").fillna(0).to_numpy(float)
    table["length"] = table["path"].str.len()
    order = table.sort_values(
        ["component", "pixels", "bytes", "length", "path"], ascending=[True, False, False, True, True]
    )
    table["rank"] = 0
    table.loc[order.index, "rank"] = np.arange(len(order))
    return table


def _exact_diameters(table: pd.DataFrame, codes: np.ndarray, known: np.ndarray) -> None:
    """Replace each group's diameter by the largest distance between any two member hashes.

    ``table`` is sorted by group, so each group's rows are contiguous; ``codes``
    and ``known`` are the hashes by file number (:func:`_codes_of`). Small
    groups are done all at once, one size at a time; larger ones one by one.
    """
    files = table["file"].to_numpy(np.int64)
    groups = table["group"].to_numpy()
    if len(groups) == 0:
        return
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, len(groups)])
    complete = np.logical_and.reduceat(known[files], starts)
    eligible = complete & (sizes <= _EXACT_DIAMETER_UP_TO)
    if not eligible.any():
        return
    codes = codes[files]
    diameters = table["diameter"].to_numpy(np.int64)[starts].copy()
    for size in np.unique(sizes[eligible]):
        chosen = np.flatnonzero(eligible & (sizes == size))
        if size <= 256:  # every pair of every group of this size, a batch of groups at a time
            first, second = np.triu_indices(size, k=1)
            batch = max(1, 2_000_000 // max(1, len(first)))
            for lo in range(0, len(chosen), batch):
                group_starts = starts[chosen[lo:lo + batch], None]
                distances = hamming(codes[group_starts + first], codes[group_starts + second])
                diameters[chosen[lo:lo + batch]] = distances.max(axis=1) if len(first) else 0
            continue
        for g in chosen:
            unique = np.unique(codes[starts[g]:starts[g] + size], axis=0)
            diameters[g] = max((int(hamming(unique[i], unique[i + 1:]).max()) for i in range(len(unique) - 1)),
                               default=0)
    table["diameter"] = np.repeat(diameters, sizes)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {"group": pd.Series(dtype=np.int64), "path": pd.Series(dtype="string"), "keep": pd.Series(dtype=bool),
         "size": pd.Series(dtype=np.int64), "diameter": pd.Series(dtype=np.int64),
         "link_distance": pd.Series(dtype=np.int64)}
    )

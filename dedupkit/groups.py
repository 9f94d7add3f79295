"""Duplicate groups: connected components of the pair graph, one file kept per group."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .hashing import hamming, hex_to_codes

__all__ = ["GROUP_COLUMNS", "find_groups"]

#: The columns of a group table, in order.
GROUP_COLUMNS = ("group", "path", "keep", "size", "diameter")

_EXACT_DIAMETER_UP_TO = 5000  # members; larger groups get the diameter of their found pairs


def find_groups(pairs: pd.DataFrame, hashes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Group duplicates: files linked by a chain of pairs form one group.

    Parameters
    ----------
    pairs
        A pair table (``path_a``, ``path_b``, ``distance``) from
        :func:`dedupkit.find_pairs`, possibly filtered.
    hashes
        The hash table the pairs came from. With it, the kept file is chosen by
        size and the diameter is computed from the hashes; without it, the
        shortest path is kept and the diameter is the largest pair distance.

    Returns
    -------
    pandas.DataFrame
        ``group`` (0 is the largest group), ``path``, ``keep`` (exactly one
        ``True`` per group), ``size`` (files in the group) and ``diameter``
        (largest Hamming distance between two members: a diameter well above
        the threshold means a chain of small steps joined unlike pictures).
        One row per file that has at least one pair; the kept file first.

    Notes
    -----
    The kept file is the one with the most pixels, then the largest file, then
    the shortest path, then the first in alphabetical order.

    Examples
    --------
    >>> groups = find_groups(find_pairs(hashes), hashes)  # doctest: +SKIP
    >>> to_delete = groups.loc[~groups.keep, "path"]  # doctest: +SKIP
    """
    missing = {"path_a", "path_b"} - set(pairs.columns)
    if missing:
        raise ValueError(f"the pair table needs 'path_a' and 'path_b' columns; missing {sorted(missing)}")
    if len(pairs) == 0:
        return _empty()
    # the distinct paths in sorted order, and each end of each pair as an index into them
    # (hash-based factorize, then a sort of the distinct paths only: np.unique sorts all ends)
    ends, distinct = pd.factorize(
        np.concatenate([pairs["path_a"].astype(str).to_numpy(), pairs["path_b"].astype(str).to_numpy()])
    )
    distinct = np.asarray(distinct, dtype=object)
    order = np.argsort(distinct, kind="stable")
    paths = distinct[order]
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    inverse = position[ends]
    n = len(paths)
    a, b = inverse[: len(pairs)], inverse[len(pairs):]
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)

    table = pd.DataFrame({"path": paths, "component": labels})
    table["size"] = table.groupby("component")["path"].transform("size").astype(np.int64)
    table = _add_keep_order(table, hashes)
    # groups numbered by size (largest first), then by their kept file's path
    heads = table.sort_values("rank").drop_duplicates("component")
    heads = heads.sort_values(["size", "path"], ascending=[False, True])
    table["group"] = table["component"].map(dict(zip(heads["component"], range(len(heads)))))
    table = table.sort_values(["group", "rank", "path"], ignore_index=True)
    table["keep"] = ~table["group"].duplicated()
    if "distance" in pairs.columns:
        pair_group = table.set_index("path")["group"].reindex(paths[a]).to_numpy()
        diameter = pd.Series(pairs["distance"].to_numpy(np.int64)).groupby(pair_group).max()
    else:
        diameter = pd.Series(np.zeros(table["group"].nunique(), np.int64))
    table["diameter"] = table["group"].map(diameter).astype(np.int64)
    if hashes is not None:
        _exact_diameters(table, hashes)
    table["path"] = table["path"].astype("string")
    return table[list(GROUP_COLUMNS)]


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


def _exact_diameters(table: pd.DataFrame, hashes: pd.DataFrame) -> None:
    """Replace each group's diameter by the largest distance between any two member hashes.

    ``table`` is sorted by group, so each group's rows are contiguous. Small
    groups are done all at once, one size at a time; larger ones one by one.
    """
    lookup = hashes.dropna(subset=["hash"]).drop_duplicates("path")
    lookup = pd.Series(lookup["hash"].astype(str).to_numpy(), index=lookup["path"].astype(str).to_numpy())
    member_hash = lookup.reindex(table["path"].astype(str).to_numpy()).to_numpy(dtype=object)
    groups = table["group"].to_numpy()
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, len(groups)])
    complete = np.logical_and.reduceat(pd.notna(member_hash), starts)
    eligible = complete & (sizes <= _EXACT_DIAMETER_UP_TO)
    if not eligible.any():
        return
    rows = np.repeat(eligible, sizes)
    codes = np.zeros((len(groups), len(member_hash[rows][0]) // 2), np.uint8)
    codes[rows] = hex_to_codes(member_hash[rows])
    diameters = table["diameter"].to_numpy(np.int64)[starts].copy()
    for size in np.unique(sizes[eligible]):
        chosen = np.flatnonzero(eligible & (sizes == size))
        if size <= 64:  # every pair of every group of this size, a batch of groups at a time
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
         "size": pd.Series(dtype=np.int64), "diameter": pd.Series(dtype=np.int64)}
    )

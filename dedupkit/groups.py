"""Duplicate groups that never chain: the file kept and the files directly paired with it.

Connected components of the pair graph chain: A~B, B~C, C~D put A and D in
one group however different they are. A group here is a *star*: its kept
file at the centre and files each directly paired with it, so no member is
more than one link from the file kept (and, for hash pairs, no two members
are more than twice the threshold apart).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd

from .decisions import apply_decisions, kept_apart, read_decisions
from .hashing import hamming, hex_to_codes
from .keep import FACT_COLUMNS, KEEP_RULES, _Judge, file_facts
from .search import _path_ranks

__all__ = ["GROUP_COLUMNS", "find_groups"]

#: The columns of a group table, in order.
GROUP_COLUMNS = ("group", "path", "keep", "size", "diameter", "link_distance", "keep_reason")

_EXACT_DIAMETER_UP_TO = 5000  # members; larger groups get the diameter of their found pairs
_COMPILE_FROM = 2_000_000  # links (both ways); below, the star loop runs as plain Python: faster than loading numba


def find_groups(
    pairs: pd.DataFrame,
    hashes: pd.DataFrame | None = None,
    *,
    facts: pd.DataFrame | None = None,
    read_files: bool = True,
    rules: Sequence[str] = KEEP_RULES,
    reference: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    prefer: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    progress: bool | None = None,
    decisions: pd.DataFrame | str | os.PathLike | None = None,
) -> pd.DataFrame:
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
        The hash table the pairs came from. With it, the diameter is computed
        from the hashes (without it: the largest pair distance), and its
        ``width``, ``height`` and ``bytes`` stand in for files whose facts
        cannot be read.
    facts
        What the keep rules look at, per file (:func:`dedupkit.file_facts`);
        default: read from the files in a group (with ``read_files``).
    read_files
        Read the facts from the files when ``facts`` is not given. With
        ``False``, only the hash table's sizes and the paths decide.
    rules
        The keep rules in the order they decide (:data:`dedupkit.KEEP_RULES`,
        documented in :mod:`dedupkit.keep`).
    reference
        Folders whose files are always kept (``keep=True`` even when not the
        centre) and never offered for removal: e.g. a training set when
        checking a test set against it.
    prefer
        Folders whose files are preferred (the ``prefer`` rule), earlier first.
    progress
        Show a progress bar while reading facts; default: for more than 200 files.
    decisions
        Review decisions (:func:`dedupkit.read_decisions`, or a
        ``decisions.csv``): files marked "not a duplicate" of each other are
        never put in one group, and each file's latest keep/remove decision
        sets its ``keep`` (:func:`dedupkit.apply_decisions`, which adds the
        ``decision`` and ``decided`` columns).

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
        ``link_distance``), and ``keep_reason``: for the kept file, the rule
        that put it before the group's next best file, and for every other
        file, the rule that put the kept file before it (``"under a
        reference folder"`` for a file kept as a reference). The kept file
        comes first in each group.

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

    The kept file is the best by the keep rules (:mod:`dedupkit.keep`): the
    original rather than an edit, by what the verifier saw of the pair (one is
    a crop of the other, or the other's picture in a frame) and by each file's
    facts (colour over greyscale, more picture pixels, lossless over lossy
    over a lossless re-save of a lossy file, higher quality, still over
    animated, camera metadata, a name that does not mark a copy, preferred
    folders, the older file, the shorter path).

    Examples
    --------
    >>> chain = pd.DataFrame({"path_a": ["a", "b", "c"], "path_b": ["b", "c", "d"], "distance": [3, 2, 4]})
    >>> find_groups(chain)  # a is kept with b; c is not a's copy, so it is kept with d
       group path   keep  size  diameter  link_distance keep_reason
    0      0    a   True     2         3              0  path order
    1      0    b  False     2         3              3  path order
    2      1    c   True     2         4              0  path order
    3      1    d  False     2         4              4  path order
    >>> groups = find_groups(find_pairs(hashes), hashes)  # doctest: +SKIP
    >>> to_delete = groups.loc[~groups.keep, "path"]  # doctest: +SKIP
    """
    missing = {"path_a", "path_b"} - set(pairs.columns)
    if missing:
        raise ValueError(f"the pair table needs 'path_a' and 'path_b' columns; missing {sorted(missing)}")
    if len(pairs) == 0:
        return _empty() if decisions is None else apply_decisions(_empty(), decisions)
    paths, a, b = _index_paths(pairs)
    n = len(paths)
    links, negative = _link_masks(pairs)
    links &= a != b
    if decisions is not None:
        decisions = decisions if isinstance(decisions, pd.DataFrame) else read_decisions(decisions)
        apart_a, apart_b = kept_apart(paths, decisions)
        if len(apart_a):
            apart = set(zip(apart_a.tolist(), apart_b.tolist()))
            apart |= {(j, i) for i, j in apart}
            links &= ~np.fromiter(((i, j) in apart for i, j in zip(a.tolist(), b.tolist())), bool, len(a))
    else:
        apart_a = apart_b = np.zeros(0, np.int64)
    codes = _codes_of(paths, hashes) if hashes is not None else None
    distance = _distances(pairs, a, b, links, codes)
    la, lb, ld = a[links], b[links], distance[links]
    if len(la) == 0:
        return _empty() if decisions is None else apply_decisions(_empty(), decisions)

    from scipy.sparse.csgraph import connected_components  # noqa: PLC0415 - scipy.sparse costs 0.2 s to import

    _, component = connected_components(_graph(la, lb, n), directed=False)
    table = pd.DataFrame({"path": paths, "component": component, "file": np.arange(n)})
    lazy = facts is None and read_files and not (hashes is not None and hashes.attrs.get("images"))
    judge = _Judge(_facts_for(paths, hashes, facts, read_files, progress, detail=not lazy), rules, reference,
                   prefer, relations=_relations(pairs, a, b), measure_detail=lazy)
    rank = judge.rank(component)
    table["rank"] = rank

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
    na, nb = node[np.r_[a[negative], apart_a]], node[np.r_[b[negative], apart_b]]  # never in one group
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
    centre = ~table["group"].duplicated()
    table["keep"] = centre | judge.under_reference()[table["file"].to_numpy()]
    table["keep_reason"] = _reasons(table, centre.to_numpy(), judge)
    table["diameter"] = _pair_diameters(table, pairs, n, a, b)
    if hashes is not None:
        _exact_diameters(table, *codes)
    table["path"] = table["path"].astype("string")
    table["keep_reason"] = table["keep_reason"].astype("string")
    table = table[list(GROUP_COLUMNS)]
    return table if decisions is None else apply_decisions(table, decisions)


def _facts_for(paths: np.ndarray, hashes: pd.DataFrame | None, facts: pd.DataFrame | None, read_files: bool,
               progress: bool | None, *, detail: bool = True) -> pd.DataFrame:
    """The keep rules' facts for ``paths``, in order: given, read, or from the hash table's columns."""
    if facts is not None:
        if "path" not in facts.columns:
            raise ValueError(f"facts need a 'path' column (as from file_facts); columns are {list(facts.columns)}")
        table = facts.assign(path=facts["path"].astype(str)).drop_duplicates("path").set_index("path")
        table = table.reindex(list(paths))
    elif read_files:
        from .bytes_table import rows_of  # noqa: PLC0415 - a table's keys open from its bytes

        with rows_of(hashes, paths, required=False) if hashes is not None else contextlib.nullcontext():
            table = file_facts(list(paths), progress=progress, detail=detail).set_index("path")
    else:
        table = pd.DataFrame(index=pd.Index(list(paths), name="path"), columns=list(FACT_COLUMNS[1:]))
    table = table.reset_index()
    if hashes is not None:  # sizes from the hash table where the file could not be read
        info = hashes.assign(path=hashes["path"].astype(str)).drop_duplicates("path").set_index("path")
        for column in ("width", "height", "bytes"):
            if column in info:
                known = pd.to_numeric(table[column], errors="coerce") if column in table else np.nan
                given = info[column].reindex(table["path"]).astype("Float64").to_numpy(float, na_value=np.nan)
                table[column] = pd.Series(known, index=table.index, dtype=float).fillna(
                    pd.Series(given, index=table.index))
        missing = table["picture_pixels"].isna() if "picture_pixels" in table else True
        table.loc[missing, "picture_pixels"] = pd.to_numeric(table["width"], errors="coerce") * pd.to_numeric(
            table["height"], errors="coerce")
    return table


def _relations(pairs: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> dict:
    """What the verifier saw of each verified pair, by file positions (for the ``content`` and ``pixels`` rules)."""
    needed = ("verified", "coverage_a", "coverage_b", "scale", "frame_a", "frame_b")
    if not all(c in pairs.columns for c in needed):
        return {}
    verified = pairs["verified"].fillna(False).to_numpy(bool)
    values = [pairs[c].to_numpy(np.float64, na_value=np.nan) for c in needed[1:]]
    return {(int(a[k]), int(b[k])): tuple(float(v[k]) for v in values) for k in np.flatnonzero(verified)
            if a[k] != b[k]}


def _reasons(table: pd.DataFrame, centre: np.ndarray, judge: _Judge) -> list[str]:
    """Each member's ``keep_reason``: why the kept file was put before it (for the kept file: before the next)."""
    files = table["file"].to_numpy()
    groups = table["group"].to_numpy()
    reference = judge.under_reference()
    out = []
    head_row = np.maximum.accumulate(np.where(centre, np.arange(len(files)), 0))  # each row's group centre
    for k, file in enumerate(files):
        head = files[head_row[k]]
        if reference[file]:
            out.append("under a reference folder")
        elif centre[k]:
            nxt = k + 1 if k + 1 < len(files) and groups[k + 1] == groups[k] else None
            out.append(judge.decide(head, files[nxt])[1] if nxt is not None else "")
        else:
            out.append(judge.decide(head, file)[1])
    return out


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


def _graph(a: np.ndarray, b: np.ndarray, n: int):
    """The pair graph as a sparse matrix (scipy.sparse.coo_matrix)."""
    from scipy.sparse import coo_matrix  # noqa: PLC0415

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
         "link_distance": pd.Series(dtype=np.int64), "keep_reason": pd.Series(dtype="string")}
    )

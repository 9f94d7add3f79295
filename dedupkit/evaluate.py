"""How good is a threshold against a ground truth: precision, recall, and which edits are found.

(Looking at a threshold without a truth: :mod:`dedupkit.thresholds`.)

Ground truth is a table ``file,group`` (extra columns, e.g. ``edit``, are kept):
files in the same ``group`` are copies of one picture. ``file`` is relative to
the image folder; pass that folder as ``root`` so hash-table paths can be
matched against it.

Counting is **pairwise**. The files evaluated are those both in the truth and
hashed without error. The positives are all unordered pairs of evaluated files
that share a group (a group of ``k`` files gives ``k*(k-1)/2``). At threshold
``t`` a found pair is predicted a duplicate when its distance is ``<= t``
(inclusive, as everywhere in dedupkit); it is a true positive when both files
share a group, a false positive otherwise. Pairs with a file outside the truth
count neither way.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ._checks import check_int, check_real
from .hashing import hamming
from .tables import hash_codes, relative_path

__all__ = [
    "pair_truth",
    "precision_recall",
    "read_truth",
    "recall_by_edit",
    "recommend_threshold",
    "true_pairs",
]

def read_truth(source: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """Read a ground-truth table: which files are copies of the same picture.

    Parameters
    ----------
    source
        A CSV file or a DataFrame with columns ``file`` (path relative to the
        image folder) and ``group`` (any label); other columns are kept.

    Returns
    -------
    pandas.DataFrame
        ``file`` (``/``-separated, as a string), ``group`` (string) and any
        extra columns, one row per file.

    Raises
    ------
    FileNotFoundError
        No such CSV file.
    ValueError
        A column is missing, a value is empty, or a file is listed twice.

    Examples
    --------
    >>> read_truth(pd.DataFrame({"file": ["a.jpg", "b.jpg"], "group": ["x", "x"]}))
        file group
    0  a.jpg     x
    1  b.jpg     x
    """
    name = "the truth table"
    if isinstance(source, pd.DataFrame):
        truth = source.copy()
    elif isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if not Path(source).is_file():
            raise FileNotFoundError(f"{name}: no such truth file")
        truth = pd.read_csv(source, dtype={"file": "string", "group": "string"})
    else:
        raise TypeError(f"expected a CSV path or a DataFrame, got {type(source).__name__}")
    missing = {"file", "group"} - set(truth.columns)
    if missing:
        raise ValueError(f"{name} needs 'file' and 'group' columns; missing {sorted(missing)} "
                         f"(columns are {list(truth.columns)})")
    if truth[["file", "group"]].isna().any().any():
        raise ValueError(f"{name} has empty 'file' or 'group' values")
    truth["file"] = [_key(f) for f in truth["file"]]
    truth["file"] = truth["file"].astype("string")
    truth["group"] = truth["group"].astype(str).astype("string")
    repeated = truth["file"][truth["file"].duplicated()]
    if len(repeated):
        raise ValueError(f"{name} lists files more than once: {sorted(set(repeated))[:5]}")
    return truth.reset_index(drop=True)


def _key(path: str, root: str | os.PathLike | None = None) -> str:
    """The truth-table spelling of a path: relative to ``root``, ``/``-separated."""
    if root is not None:
        return relative_path(path, root)
    return str(PurePosixPath(*Path(os.fspath(path)).parts))


def _group_of(paths: pd.Series, truth: pd.DataFrame, root) -> pd.Series:
    """The truth group of each path (missing when the file is not in the truth)."""
    lookup = truth.set_index("file")["group"]
    unique, inverse = np.unique(paths.astype(str).to_numpy(), return_inverse=True)
    groups = lookup.reindex([_key(p, root) for p in unique]).to_numpy()
    return pd.Series(groups[inverse.ravel()], index=paths.index, dtype="string")


def pair_truth(
    pairs: pd.DataFrame, truth: pd.DataFrame, *, root: str | os.PathLike | None = None
) -> pd.DataFrame:
    """Label each pair as a true duplicate or not, by the ground truth.

    Parameters
    ----------
    pairs
        A pair table (``path_a``, ``path_b``, ``distance``).
    truth
        A table from :func:`read_truth`.
    root
        The image folder the truth's ``file`` paths are relative to. Without
        it, pair paths are compared with ``file`` as they are.

    Returns
    -------
    pandas.DataFrame
        A copy of ``pairs`` with a ``duplicate`` column (nullable boolean):
        ``True`` when both files share a group, ``False`` when they are in
        different groups, missing when either file is not in the truth.

    Raises
    ------
    ValueError
        ``pairs`` lacks ``path_a``/``path_b``, or not one path of the pairs is
        in the truth (usually a missing or wrong ``root``).
    """
    missing = {"path_a", "path_b"} - set(pairs.columns)
    if missing:
        raise ValueError(f"the pair table needs 'path_a' and 'path_b' columns; missing {sorted(missing)}")
    truth = read_truth(truth)
    group_a = _group_of(pairs["path_a"], truth, root)
    group_b = _group_of(pairs["path_b"], truth, root)
    if len(pairs) and group_a.isna().all() and group_b.isna().all():
        example = _key(str(pairs["path_a"].iloc[0]), root)
        raise ValueError(f"no file of the pairs is in the truth (e.g. {example!r} is not among "
                         f"{truth['file'].head(3).tolist()}...); pass root= the image folder")
    labelled = pairs.copy()
    labelled["duplicate"] = (group_a == group_b).astype("boolean")
    return labelled


def true_pairs(hashes: pd.DataFrame, truth: pd.DataFrame, *, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every true duplicate pair of hashed files, at whatever distance: the copies a search bound can hide.

    Parameters
    ----------
    hashes
        A hash table (``path``, ``hash``); rows without a hash are left out.
    truth
        A table from :func:`read_truth`.
    root
        The image folder the truth's ``file`` paths are relative to.

    Returns
    -------
    pandas.DataFrame
        ``path_a``, ``path_b`` (as in ``hashes``), ``distance`` and
        ``duplicate`` (all ``True``): one row per unordered pair of files in
        one truth group, nearest first.

    Examples
    --------
    >>> hashes = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg"], "hash": ["00", "0f", "ff"]})
    >>> truth = pd.DataFrame({"file": ["a.jpg", "b.jpg", "c.jpg"], "group": ["x", "y", "x"]})
    >>> true_pairs(hashes, truth)
      path_a path_b  distance  duplicate
    0  a.jpg  c.jpg         8       True
    """
    paths, codes = hash_codes(hashes)
    group = _group_of(pd.Series(paths), read_truth(truth), root).to_numpy()
    rows = []
    for members in pd.Series(np.arange(len(paths))).groupby(group, dropna=True).indices.values():
        members = np.asarray(members)
        i, j = np.triu_indices(len(members), k=1)
        a, b = members[i], members[j]
        rows.append(pd.DataFrame({"path_a": paths[a], "path_b": paths[b], "distance": hamming(codes[a], codes[b])}))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        {"path_a": pd.Series(dtype=str), "path_b": pd.Series(dtype=str), "distance": pd.Series(dtype=np.int64)})
    out = out.sort_values(["distance", "path_a", "path_b"], ignore_index=True)
    out["duplicate"] = pd.array([True] * len(out), dtype="boolean")
    return out


def precision_recall(
    pairs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    hashes: pd.DataFrame | None = None,
    root: str | os.PathLike | None = None,
    max_threshold: int | None = None,
) -> pd.DataFrame:
    """Precision, recall and F1 at every threshold from 0 to ``max_threshold``.

    Counting is pairwise; see the module docstring.

    Parameters
    ----------
    pairs
        A pair table with ``distance``. It must hold *every* pair up to
        ``max_threshold`` (e.g. ``find_pairs(hashes, max_distance=m)`` gives a
        valid curve up to ``m``).
    truth
        A table from :func:`read_truth`.
    hashes
        The hash table the pairs came from: the positives are then counted
        among the files hashed without error only. Without it, among every
        file in the truth.
    root
        The image folder the truth's paths are relative to.
    max_threshold
        Last threshold of the curve; default: the largest distance in
        ``pairs`` (0 when there are none).

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold``, ``tp``, ``fp``, ``fn``,
        ``precision`` (missing where no pair is predicted), ``recall``
        (missing when there are no positives) and ``f1`` =
        ``2tp / (2tp + fp + fn)``. ``attrs`` holds ``positives`` (duplicate
        pairs in the truth), ``files`` (files evaluated) and ``ignored_pairs``
        (pairs with a file outside the truth).

    Raises
    ------
    ValueError
        Missing columns, ``max_threshold`` negative, or no file of ``hashes``
        in the truth.

    Examples
    --------
    >>> pairs = pd.DataFrame({"path_a": ["a.jpg", "a.jpg"], "path_b": ["b.jpg", "c.jpg"], "distance": [1, 3]})
    >>> truth = pd.DataFrame({"file": ["a.jpg", "b.jpg", "c.jpg"], "group": ["x", "x", "y"]})
    >>> precision_recall(pairs, truth)[["threshold", "tp", "fp", "precision", "recall"]]
       threshold  tp  fp  precision  recall
    0          0   0   0        NaN     0.0
    1          1   1   0        1.0     1.0
    2          2   1   0        1.0     1.0
    3          3   1   1        0.5     1.0
    """
    if "distance" not in pairs.columns:
        raise ValueError("the pair table needs a 'distance' column")
    truth = read_truth(truth)
    if hashes is not None:
        hashed, _ = hash_codes(hashes)
        present = {_key(p, root) for p in hashed}
        truth = truth[truth["file"].isin(present)]
        if truth.empty:
            raise ValueError("no hashed file is in the truth; pass root= the image folder the truth is relative to")
    sizes = truth["group"].value_counts().to_numpy(np.int64)
    positives = int((sizes * (sizes - 1) // 2).sum())

    labelled = pair_truth(pairs, truth, root=root) if len(pairs) else pairs.assign(duplicate=pd.array([], "boolean"))
    known = labelled["duplicate"].notna().to_numpy()
    distance = labelled["distance"].to_numpy(np.int64)[known]
    duplicate = labelled["duplicate"].to_numpy(bool, na_value=False)[known]
    if max_threshold is None:
        max_threshold = int(labelled["distance"].max()) if len(labelled) else 0
    max_threshold = check_int(max_threshold, "max_threshold", low=0, unit="bits")

    bins = np.arange(int(max_threshold) + 2)  # bin t holds distance t; beyond max is dropped
    tp = np.cumsum(np.histogram(distance[duplicate], bins)[0]).astype(np.int64)
    fp = np.cumsum(np.histogram(distance[~duplicate], bins)[0]).astype(np.int64)
    fn = positives - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(positives > 0, tp / max(positives, 1), np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    curve = pd.DataFrame({"threshold": bins[:-1], "tp": tp, "fp": fp, "fn": fn,
                          "precision": precision, "recall": recall, "f1": f1})
    curve.attrs.update(positives=positives, files=len(truth), ignored_pairs=int((~known).sum()))
    return curve


def recommend_threshold(curve: pd.DataFrame, *, min_precision: float | None = None) -> int:
    """Pick a threshold from a precision/recall curve.

    Parameters
    ----------
    curve
        A table from :func:`precision_recall`.
    min_precision
        ``None`` (default): the threshold with the best F1. A number in
        ``(0, 1]``: the threshold with the highest recall among those whose
        precision is at least this.

    Returns
    -------
    int
        The threshold. Several thresholds often do equally well (no labelled
        pair has a distance between them); of the first such run of
        consecutive thresholds the **middle** one is returned (rounded down),
        as far as possible from both the last duplicate caught and the first
        non-duplicate let in.

    Notes
    -----
    "The smallest threshold reaching the precision" is not used: precision
    is usually highest at the smallest thresholds, so that would be 0 and
    miss most duplicates. What a user asking for 99% precision wants is the
    most duplicates found while keeping 99% precision.

    Raises
    ------
    ValueError
        The curve is empty or has no F1, ``min_precision`` is outside
        ``(0, 1]``, or no threshold reaches it.

    Examples
    --------
    >>> curve = pd.DataFrame({"threshold": [0, 1, 2, 3, 4], "precision": [1, 1, 1, 1, .5],
    ...                       "recall": [.5, 1, 1, 1, 1], "f1": [.67, 1, 1, 1, .67]})
    >>> recommend_threshold(curve)
    2
    """
    missing = {"threshold", "precision", "recall", "f1"} - set(curve.columns)
    if missing:
        raise ValueError(f"the curve needs columns {sorted(missing)}; make it with precision_recall()")
    thresholds = curve["threshold"].to_numpy(np.int64)
    if min_precision is None:
        score = curve["f1"].to_numpy(float)
        if np.isnan(score).all():
            raise ValueError("the curve has no F1 value (no positives and no pairs?)")
    else:
        min_precision = check_real(min_precision, "min_precision", low=0, high=1, low_open=True)
        precision = curve["precision"].to_numpy(float)
        meets = precision >= min_precision - 1e-12
        if not meets.any():
            raise ValueError(f"no threshold reaches precision {min_precision}; "
                             f"the best is {np.nanmax(precision) if not np.isnan(precision).all() else 'undefined'}")
        recall = np.nan_to_num(curve["recall"].to_numpy(float), nan=0.0)  # no positives: all equal
        score = np.where(meets, recall, np.nan)
    best = np.flatnonzero(score == np.nanmax(score))
    breaks = np.flatnonzero(np.diff(best) > 1)
    run = best[: breaks[0] + 1] if len(breaks) else best  # the first run of consecutive thresholds
    return int(thresholds[run[(len(run) - 1) // 2]])


def recall_by_edit(
    pairs: pd.DataFrame,
    truth: pd.DataFrame,
    threshold: int,
    *,
    root: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """How many edited copies of each edit are found next to their own original.

    A copy counts as found when its pair with the original of its group is
    within ``threshold`` (inclusive). This is the per-copy recall of a
    benchmark made by :func:`dedupkit.make_benchmark`, not the pairwise recall
    of :func:`precision_recall` (which also counts e.g. a mirror with a crop).

    Parameters
    ----------
    pairs
        A pair table with ``distance``, found with at least ``threshold``.
    truth
        A table with ``file``, ``group`` and ``edit`` columns, where each
        group's original has ``edit == "original"`` (a ``truth.csv`` written
        by :func:`dedupkit.make_benchmark`).
    threshold
        Largest distance that counts as a duplicate (inclusive).
    root
        The image folder the truth's paths are relative to.

    Returns
    -------
    pandas.DataFrame
        One row per edit, in the order of the truth, indexed by ``edit``:
        ``copies``, ``found`` and ``recall`` (``found / copies``). Copies of a
        group without an original are left out.

    Raises
    ------
    ValueError
        ``threshold`` is not a whole number >= 0, or the truth has no ``edit``
        column.

    Examples
    --------
    >>> truth = pd.DataFrame({"file": ["a.jpg", "a__grey.jpg", "a__crop.jpg"], "group": ["a"] * 3,
    ...                       "edit": ["original", "grey", "crop"]})
    >>> pairs = pd.DataFrame({"path_a": ["a.jpg", "a.jpg"], "path_b": ["a__grey.jpg", "a__crop.jpg"],
    ...                       "distance": [2, 12]})
    >>> recall_by_edit(pairs, truth, 10)["recall"].to_dict()
    {'grey': 1.0, 'crop': 0.0}
    """
    threshold = check_int(threshold, "threshold", low=0, unit="bits")
    truth = read_truth(truth)
    if "edit" not in truth.columns:
        raise ValueError(f"the truth needs an 'edit' column (columns are {list(truth.columns)}); "
                         "make it with make_benchmark()")
    original = truth[truth["edit"] == "original"].drop_duplicates("group").set_index("group")["file"]
    copies = truth[(truth["edit"] != "original") & truth["group"].isin(original.index)]
    within = pairs[pairs["distance"] <= threshold]
    near = {frozenset((_key(a, root), _key(b, root))) for a, b in zip(within["path_a"], within["path_b"])}
    found = [frozenset((f, original[g])) in near for f, g in zip(copies["file"], copies["group"])]
    table = pd.DataFrame({"edit": copies["edit"].astype(str).to_numpy(), "found": found})
    table = table.groupby("edit", sort=False)["found"].agg(copies="size", found="sum")
    table["found"] = table["found"].astype(np.int64)
    table["recall"] = table["found"] / table["copies"]
    return table

"""Looking at a threshold without a ground truth: what it keeps, what lies just either side, and the
distances of unrelated pictures for contrast (notebook 2's numbers).

(Against a ground truth: :mod:`dedupkit.evaluate`.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import check_int
from .groups import find_groups
from .hashing import hamming
from .tables import hash_codes

__all__ = ["pairs_near_threshold", "random_distances", "threshold_summary"]


def random_distances(hashes: pd.DataFrame, *, n: int = 2000, seed: int = 0) -> np.ndarray:
    """Hamming distances of random pairs of distinct files, for contrast with the found pairs.

    Parameters
    ----------
    hashes
        A hash table; rows without a hash are left out.
    n
        Number of pairs. When the table has at most ``n`` pairs in all,
        every pair is returned (exact).
    seed
        Seed of the random draw, so a notebook shows the same picture twice.

    Returns
    -------
    numpy.ndarray
        ``int64`` distances, one per pair.
    """
    n = check_int(n, "n", low=0)
    _, codes = hash_codes(hashes)
    m = len(codes)
    if m < 2:
        return np.zeros(0, np.int64)
    if m * (m - 1) // 2 <= n:
        i, j = np.triu_indices(m, k=1)
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, m, n)
        j = (i + rng.integers(1, m, n)) % m  # never i itself
    return hamming(codes[i], codes[j])


def threshold_summary(pairs: pd.DataFrame, threshold: int) -> dict[str, int]:
    """What a threshold does: how many pairs, groups and files it marks.

    Parameters
    ----------
    pairs
        A pair table with ``distance`` (found with at least this threshold).
    threshold
        Largest distance that counts as a duplicate (inclusive).

    Returns
    -------
    dict
        ``threshold``, ``pairs`` (pairs within it), ``groups`` (duplicate
        groups), ``files`` (files in a group) and ``to_remove`` (files in a
        group other than the one kept: ``files - groups``).

    Examples
    --------
    >>> pairs = pd.DataFrame({"path_a": ["a", "b", "x"], "path_b": ["b", "c", "y"], "distance": [1, 2, 9]})
    >>> threshold_summary(pairs, 2)  # a keeps b; c is b's copy, not a's (groups never chain)
    {'threshold': 2, 'pairs': 2, 'groups': 1, 'files': 2, 'to_remove': 1}
    """
    threshold = check_int(threshold, "threshold", low=0, unit="bits")
    within = pairs[pairs["distance"] <= threshold]
    groups = find_groups(within)
    n_groups = int(groups["group"].nunique())
    return {"threshold": int(threshold), "pairs": len(within), "groups": n_groups,
            "files": len(groups), "to_remove": len(groups) - n_groups}


def pairs_near_threshold(pairs: pd.DataFrame, threshold: int, *, n: int = 4) -> pd.DataFrame:
    """The pairs just inside and just outside a threshold: where duplicates stop.

    Parameters
    ----------
    pairs
        A pair table with ``distance``, found up to beyond ``threshold``.
    threshold
        The threshold (inclusive).
    n
        Pairs on each side.

    Returns
    -------
    pandas.DataFrame
        Up to ``n`` pairs with the largest distances ``<= threshold`` and up
        to ``n`` with the smallest distances ``> threshold``, sorted by
        distance, with a boolean ``inside`` column.
    """
    threshold = check_int(threshold, "threshold", low=0, unit="bits")
    n = check_int(n, "n", low=0)
    ordered = pairs.sort_values(["distance", "path_a", "path_b"], kind="stable")
    inside = ordered[ordered["distance"] <= threshold].tail(n)
    outside = ordered[ordered["distance"] > threshold].head(n)
    near = pd.concat([inside.assign(inside=True), outside.assign(inside=False)])
    return near.reset_index(drop=True)

"""Verified duplicate pairs: hash candidates (and crop candidates), each checked by local features.

The hash search alone answers "which hashes are close"; this module answers
"which files show the same picture". Candidates come from the hashes at a
looser threshold than a hash-only search could afford (and, with
``dihedral=True``, from the eight orientations; with ``crops=True``, from an
index of local descriptors), and :func:`dedupkit.verify.verify_pairs` keeps
the pairs whose local features agree on a geometric model and whose pixels
agree after alignment.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .defaults import CANDIDATE_DISTANCE, HASH_ONLY_DISTANCE
from .search import find_pairs

__all__ = ["CANDIDATE_DISTANCE", "HASH_ONLY_DISTANCE", "find_duplicates"]

logger = logging.getLogger(__name__)



def _scaled(distance: int, hashes: pd.DataFrame) -> int:
    """A 64-bit threshold scaled to the table's hash length (read from the hashes themselves)."""
    present = hashes["hash"].dropna() if "hash" in hashes.columns else ()
    n_bits = 4 * len(str(present.iloc[0])) if len(present) else 64
    return int(round(distance * n_bits / 64))


def find_duplicates(
    hashes: pd.DataFrame,
    *,
    max_distance: int | None = None,
    verify: bool = True,
    crops: bool = False,
    dihedral: bool = False,
    workers: int | None = None,
    progress: bool | None = None,
    keep_rejected: bool = False,
) -> pd.DataFrame:
    """Pairs of files that show the same picture.

    Parameters
    ----------
    hashes
        A hash table from :func:`dedupkit.hash_images` (with ``dihedral=True``
        for ``dihedral``). Its paths must still point at the files when
        ``verify`` is on. Hashes of a Parquet table fetch the candidates'
        images from it (:mod:`dedupkit.bytes_table`; with ``crops``, every
        image's bytes are held at once); hashes of a table in memory need
        ``with dedupkit.table_images(table, ...)`` around the call.
    max_distance
        Largest hash distance (inclusive) of a candidate pair. Default:
        :data:`CANDIDATE_DISTANCE` with verification, :data:`HASH_ONLY_DISTANCE`
        without (both for 64-bit hashes, scaled for longer ones).
    verify
        Check each candidate by local features, a geometric model and the
        pixels after alignment (:func:`dedupkit.verify.verify_pairs`).
        ``False`` gives the hash-only answer of :func:`dedupkit.find_pairs`.
    crops
        Also propose pairs that share many local descriptors
        (:func:`dedupkit.candidates.crop_candidates`): crops keeping 50-95% of
        each side, caption bars, screenshots, larger turns. Costs a feature
        extraction per image. Needs ``verify``.
    dihedral
        Also propose mirrored and 90/180/270-degree turned copies (the table
        needs a ``hash_dihedral`` column).
    workers, progress
        Threads for verification and crop candidates; progress bars.
    keep_rejected
        Also return the candidates the verifier rejected (``verified`` False,
        with its ``reason``), e.g. to look at them.

    Returns
    -------
    pandas.DataFrame
        ``path_a``, ``path_b``, ``distance`` (hash distance; -1 for a pair
        proposed by crop candidates only), ``orientation`` with ``dihedral``,
        ``source`` (``"hash"``, ``"crop"`` or ``"hash+crop"``), and with
        ``verify`` the verifier's columns: ``verified``, ``inliers``,
        ``scale``, ``rotation``, ``mirrored``, ``coverage_a``, ``coverage_b``,
        ``similarity``, ``reason``. Sorted by ``path_a``, ``path_b``.

    Raises
    ------
    ValueError
        ``crops`` without ``verify``; ``dihedral`` on a table without a
        ``hash_dihedral`` column; ``max_distance`` out of range.

    Examples
    --------
    >>> hashes = dedupkit.hash_images("data/sample")  # doctest: +SKIP
    >>> pairs = dedupkit.find_duplicates(hashes)  # doctest: +SKIP
    >>> pairs[["path_a", "path_b", "scale", "coverage_b"]]  # doctest: +SKIP
    """
    if crops and not verify:
        raise ValueError("crops=True proposes pairs that only the verifier can confirm: use it with verify=True")
    if max_distance is None:
        max_distance = _scaled(CANDIDATE_DISTANCE if verify else HASH_ONLY_DISTANCE, hashes)
    if dihedral:
        from .dihedral import find_pairs_dihedral  # noqa: PLC0415

        candidates = find_pairs_dihedral(hashes, max_distance=max_distance)
    else:
        candidates = find_pairs(hashes, max_distance=max_distance)
    candidates = candidates.assign(source="hash")
    if not verify:
        return candidates
    features = None
    readable = hashes.loc[hashes["error"].isna(), "path"].astype(str).tolist()
    opened = readable if crops else pd.unique(candidates[["path_a", "path_b"]].astype(str).to_numpy().ravel())
    from .bytes_table import rows_of  # noqa: PLC0415 - a table's keys open from its bytes

    with rows_of(hashes, opened):  # a no-op for files
        if crops:
            from .candidates import crop_candidates  # noqa: PLC0415 - needs OpenCV and faiss

            found = crop_candidates(readable, workers=workers, progress=progress)
            if isinstance(found, tuple):  # (pairs, features)
                found, features = found
            candidates = _union(candidates, found[["path_a", "path_b"]])
        from .verify import verify_pairs  # noqa: PLC0415 - needs OpenCV

        checked = verify_pairs(candidates, features=features, workers=workers, progress=progress)
    if not keep_rejected:
        checked = checked[checked["verified"]]
    return checked.sort_values(["path_a", "path_b"], ignore_index=True)


def _union(hash_pairs: pd.DataFrame, crop_pairs: pd.DataFrame) -> pd.DataFrame:
    """Hash candidates and crop candidates, one row per unordered pair."""
    crop = crop_pairs.copy()
    swap = crop["path_a"].astype(str) > crop["path_b"].astype(str)
    crop.loc[swap, ["path_a", "path_b"]] = crop.loc[swap, ["path_b", "path_a"]].to_numpy()
    crop = crop.drop_duplicates(["path_a", "path_b"])
    hashed = hash_pairs.copy()
    key = pd.MultiIndex.from_frame(hashed[["path_a", "path_b"]].astype(str))
    crop_key = pd.MultiIndex.from_frame(crop[["path_a", "path_b"]].astype(str))
    both = key.isin(crop_key)
    hashed.loc[both, "source"] = "hash+crop"
    extra = crop[~crop_key.isin(key)].assign(distance=-1, source="crop")
    if "orientation" in hashed.columns:
        extra = extra.assign(orientation="identity")
    out = pd.concat([hashed, extra[list(hashed.columns)]], ignore_index=True)
    out["distance"] = out["distance"].astype(np.int64)
    return out

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

from ._checks import check_int
from .defaults import CANDIDATE_DISTANCE, HASH_ONLY_DISTANCE
from .search import find_pairs

__all__ = ["CANDIDATE_DISTANCE", "HASH_ONLY_DISTANCE", "find_duplicates"]

logger = logging.getLogger(__name__)

_VERIFY_IMAGES = 256  # a table's rows held at once while verifying (find_duplicates' batch_size)



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
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Pairs of files that show the same picture.

    Parameters
    ----------
    hashes
        A hash table from :func:`dedupkit.hash_images` (with ``dihedral=True``
        for ``dihedral``). Its paths must still point at the files when
        ``verify`` is on. Hashes of a Parquet table read the images from it
        in batches (:mod:`dedupkit.bytes_table`: with ``crops``, one pass over
        the table for the features; then the candidates' rows, ``batch_size``
        images at a time), so memory does not grow with the table; hashes of
        a table in memory need ``with dedupkit.table_images(table, ...)``
        around the call.
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
    batch_size
        Rows of a Parquet table held at once (see ``hashes``); default 256.
        Not used for files.

    Returns
    -------
    pandas.DataFrame
        ``path_a``, ``path_b``, ``distance`` (hash distance; -1 for a pair
        proposed by crop candidates only), ``orientation`` with ``dihedral``,
        ``source`` (``"hash"``, ``"crop"`` or ``"hash+crop"``), and with
        ``verify`` the verifier's columns: ``verified``, ``inliers``,
        ``scale``, ``rotation``, ``mirrored``, ``coverage_a``, ``coverage_b``,
        ``frame_a``, ``frame_b``, ``similarity``, ``overlay``, ``reason``.
        Sorted by ``path_a``, ``path_b``.

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
    batch_size = check_int(batch_size, "batch_size", low=1, none=True)
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
    readable = hashes.loc[hashes["error"].isna(), "path"].astype(str).tolist()
    from .bytes_table import image_batches, rows_of  # noqa: PLC0415 - a table's keys open from its bytes

    stream = image_batches(hashes, readable, batch_size=batch_size)  # None unless hashes of a table file
    if stream is not None:  # its rows streamed once for the crop features, then read again in batches to verify
        if crops:
            from .candidates import crop_candidates  # noqa: PLC0415 - needs OpenCV and faiss

            found = crop_candidates(readable, images=stream, workers=workers, progress=progress)
            candidates = _union(candidates, found[["path_a", "path_b"]])
        checked = _verify_in_batches(hashes, candidates, batch_size or _VERIFY_IMAGES, workers, progress)
    else:
        opened = readable if crops else pd.unique(candidates[["path_a", "path_b"]].astype(str).to_numpy().ravel())
        with rows_of(hashes, opened):  # a no-op for files
            if crops:
                from .candidates import crop_candidates  # noqa: PLC0415 - needs OpenCV and faiss

                found = crop_candidates(readable, workers=workers, progress=progress)
                candidates = _union(candidates, found[["path_a", "path_b"]])
            from .verify import verify_pairs  # noqa: PLC0415 - needs OpenCV

            checked = verify_pairs(candidates, workers=workers, progress=progress)
    if not keep_rejected:
        checked = checked[checked["verified"]]
    return checked.sort_values(["path_a", "path_b"], ignore_index=True)


def _verify_in_batches(hashes: pd.DataFrame, candidates: pd.DataFrame, images: int, workers, progress
                       ) -> pd.DataFrame:
    """Verify the pairs of a table's rows a few at a time: the rows of at most ``images`` keys read per batch.

    Pairs are taken in order of their keys, each batch's rows fetched in one
    pass over the table (:func:`dedupkit.bytes_table.rows_of`) and let go
    after it, so memory holds one batch's bytes and features, whatever the
    table's size.
    """
    from .bytes_table import rows_of  # noqa: PLC0415
    from .verify import verify_pairs  # noqa: PLC0415 - needs OpenCV

    pairs = candidates.sort_values(["path_a", "path_b"], ignore_index=True)
    a, b = pairs["path_a"].astype(str).tolist(), pairs["path_b"].astype(str).tolist()
    bounds, held, start = [], set(), 0
    for row, keys in enumerate(zip(a, b)):
        if held and len(held | set(keys)) > images:
            bounds.append((start, row))
            held, start = set(), row
        held.update(keys)
    bounds.append((start, len(pairs)))
    checked = []
    for first, stop in bounds:
        batch = pairs.iloc[first:stop]
        with rows_of(hashes, set(a[first:stop]) | set(b[first:stop])):
            checked.append(verify_pairs(batch, workers=workers, progress=progress if len(bounds) == 1 else False))
    return pd.concat(checked, ignore_index=True)


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

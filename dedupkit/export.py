"""The output folder: what the notebooks decide, written down for the next step and for people.

``hashes.parquet``
    The hash table of one image folder (:func:`save_hashes`), with the folder,
    method and hash size in its metadata.
``threshold.json``
    The chosen threshold and how it was chosen (:func:`save_threshold`).
``duplicates.csv``, ``groups.csv``
    The result (:func:`export_duplicates`): pairs ``path_a,path_b,distance``
    and groups ``group,path,keep,size,diameter``, paths relative to the image
    folder, the same files as ``dedupkit find`` writes.

Nothing here deletes, moves or changes an image: only these files are written.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import pandas as pd

from .groups import GROUP_COLUMNS
from .scan import hash_images, list_images
from .search import PAIR_COLUMNS

__all__ = ["export_duplicates", "hashes_for", "load_threshold", "save_hashes", "save_threshold"]

logger = logging.getLogger(__name__)

HASHES_FILE = "hashes.parquet"
THRESHOLD_FILE = "threshold.json"


def save_hashes(hashes: pd.DataFrame, output_dir: str | os.PathLike, *, image_dir: str | os.PathLike) -> Path:
    """Write a hash table to ``output_dir/hashes.parquet``.

    Parameters
    ----------
    hashes
        A table from :func:`dedupkit.hash_images`.
    output_dir
        The output folder (made if missing).
    image_dir
        The folder that was hashed; stored (absolute) so :func:`hashes_for`
        can tell which folder the table belongs to.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = _output(output_dir) / HASHES_FILE
    table = hashes.copy()
    table.attrs = {**hashes.attrs, "image_dir": os.path.abspath(image_dir)}
    tmp = path.with_name(path.name + ".tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def hashes_for(
    image_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    method: str | None = None,
    hash_size: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """The hash table of a folder: read from the output folder if it is up to date, else made and saved.

    ``output_dir/hashes.parquet`` is used when it was made from the same
    folder, with the same method and hash size, and lists the same files as
    the folder holds now; otherwise the folder is hashed and the file
    replaced.

    Parameters
    ----------
    image_dir
        The image folder.
    output_dir
        The output folder.
    method, hash_size
        How to hash; default: as in the saved table, else dHash with 64 bits.
    progress
        Progress bar while hashing (see :func:`dedupkit.hash_images`).

    Returns
    -------
    pandas.DataFrame
        The hash table; its paths are ``image_dir`` joined with each file's
        path, so they open from the current folder.
    """
    saved = Path(output_dir) / HASHES_FILE
    image_dir = os.path.abspath(image_dir)
    if saved.is_file():
        table = pd.read_parquet(saved)
        same = (table.attrs.get("image_dir") == image_dir
                and method in (None, table.attrs.get("method"))
                and hash_size in (None, table.attrs.get("hash_size"))
                and sorted(list_images(image_dir)[0]) == sorted(table["path"].astype(str)))
        if same:
            logger.info("using the hash table in %s", saved)
            return table
    hashes = hash_images(image_dir, method=method or "dhash", hash_size=hash_size or 8, progress=progress)
    save_hashes(hashes, output_dir, image_dir=image_dir)
    return hashes


def save_threshold(output_dir: str | os.PathLike, threshold: int, **details) -> Path:
    """Write the chosen threshold to ``output_dir/threshold.json``.

    Parameters
    ----------
    output_dir
        The output folder (made if missing).
    threshold
        Largest Hamming distance that counts as a duplicate (inclusive).
    **details
        Anything worth recording with it (JSON-serialisable): the method,
        the precision and recall measured, who chose it and how.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError(f"threshold must be a whole number of bits >= 0, got {threshold!r}")
    path = _output(output_dir) / THRESHOLD_FILE
    details = {key: None if isinstance(value, float) and math.isnan(value) else value  # JSON has no NaN
               for key, value in details.items()}
    path.write_text(json.dumps({"threshold": threshold, **details}, indent=2, default=_plain) + "\n")
    return path


def load_threshold(output_dir: str | os.PathLike) -> dict:
    """Read ``output_dir/threshold.json``: a dict with at least ``threshold``.

    Raises
    ------
    FileNotFoundError
        No threshold saved there yet (run the threshold notebook, or pass one).
    """
    path = Path(output_dir) / THRESHOLD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no threshold saved; run notebooks/02_tune_threshold.ipynb "
                                f"or set threshold in the parameters")
    return json.loads(path.read_text())


def export_duplicates(
    pairs: pd.DataFrame,
    groups: pd.DataFrame,
    output_dir: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
) -> dict[str, Path]:
    """Write ``duplicates.csv`` (the pairs) and ``groups.csv`` (the groups) into a folder.

    Parameters
    ----------
    pairs
        A pair table (:func:`dedupkit.find_pairs`), already cut at the threshold.
    groups
        A group table (:func:`dedupkit.find_groups`) of those pairs.
    output_dir
        The output folder (made if missing).
    root
        Write paths relative to this folder (the image folder), like
        ``dedupkit find``; default: as they are.

    Returns
    -------
    dict
        ``{"duplicates": path, "groups": path}``, the files written.

    Examples
    --------
    >>> export_duplicates(pairs, groups, "out", root="data/sample")  # doctest: +SKIP
    {'duplicates': PosixPath('out/duplicates.csv'), 'groups': PosixPath('out/groups.csv')}
    """
    folder = _output(output_dir)
    written = {}
    for name, table, columns, path_columns in (("duplicates", pairs, PAIR_COLUMNS, ("path_a", "path_b")),
                                               ("groups", groups, GROUP_COLUMNS, ("path",))):
        missing = set(columns) - set(table.columns)
        if missing:
            raise ValueError(f"the {name} table needs columns {list(columns)}; missing {sorted(missing)}")
        table = table.loc[:, list(columns)].copy()
        if root is not None:
            for column in path_columns:
                table[column] = [os.path.relpath(os.path.abspath(p), os.path.abspath(root)) for p in table[column]]
        written[name] = folder / f"{name}.csv"
        table.to_csv(written[name], index=False)
    return written


def _output(output_dir: str | os.PathLike) -> Path:
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _plain(value):
    """JSON for numpy scalars."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")

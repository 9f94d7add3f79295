"""The output folder: what the notebooks decide, written down for the next step and for people.

``hashes.parquet``
    The hash table of one image folder (:func:`save_hashes`), saying how it
    was made (:mod:`dedupkit.tables`), with the folder in its metadata.
``.dedupkit-cache.parquet``
    The hash cache behind it (:mod:`dedupkit.cache`): :func:`hashes_for`
    hashes again only the files that are new or changed since.
``threshold.json``
    The chosen threshold and how it was chosen (:func:`save_threshold`).
``duplicates.csv``, ``groups.csv``
    The result (:func:`export_duplicates`): pairs ``path_a,path_b,distance,...``
    (:func:`write_pairs`) and groups ``group,path,keep,size,diameter,link_distance``
    (:func:`write_groups`), paths relative to the image folder: the same
    files, by the same functions, as ``dedupkit find`` writes.

Nothing here deletes, moves or changes an image: only these files are written.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import pandas as pd

from ._checks import check_int
from ._keys import is_url
from .cache import DEFAULT_CACHE_NAME
from .groups import GROUP_COLUMNS
from .plan import with_file_facts
from .scan import hash_images
from .search import PAIR_COLUMNS
from .tables import hash_settings, read_hashes, relative_paths, write_table

__all__ = [
    "export_duplicates",
    "hashes_for",
    "load_threshold",
    "save_hashes",
    "save_threshold",
    "write_groups",
    "write_pairs",
]

logger = logging.getLogger(__name__)

HASHES_FILE = "hashes.parquet"
THRESHOLD_FILE = "threshold.json"


def save_hashes(hashes: pd.DataFrame, output_dir: str | os.PathLike, *, image_dir: str | os.PathLike) -> Path:
    """Write a hash table to ``output_dir/hashes.parquet``, atomically.

    Parameters
    ----------
    hashes
        A table from :func:`dedupkit.hash_images` (it says how it was made).
    output_dir
        The output folder (made if missing).
    image_dir
        The folder (or URL) that was hashed; stored (absolute) so :func:`hashes_for`
        can tell which folder the table belongs to.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    hash_settings(hashes)  # a table that does not say how it was made is not handed on
    table = hashes.copy()
    where = os.fspath(image_dir) if is_url(image_dir) else os.path.abspath(image_dir)
    table.attrs = {**hashes.attrs, "image_dir": where}
    return write_table(table, _output(output_dir) / HASHES_FILE)


def hashes_for(
    image_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    method: str | None = None,
    hash_size: int | None = None,
    trim: bool | None = None,
    exact: bool | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """The hash table of a folder as it is now, hashing only what is new or changed, saved to the output folder.

    The folder is listed again and every file checked against the hash cache
    in ``output_dir`` (:mod:`dedupkit.cache`: same path, size and modification
    time, same settings); new and changed files are hashed, removed ones
    dropped, and the table is saved as ``output_dir/hashes.parquet``
    (:func:`save_hashes`). So a photo edited in place gets its new hash.

    Parameters
    ----------
    image_dir
        The image folder, or a URL (:func:`dedupkit.hash_images`: objects are
        then known to the cache by URL, size and ETag); or a local Parquet
        file or folder of Parquet files of image bytes (column ``image``, rows
        keyed by number: :mod:`dedupkit.bytes_table`), hashed again only when
        one of its files has changed (size or modification time).
    output_dir
        The output folder (made if missing).
    method, hash_size, trim, exact
        How to hash (see :func:`dedupkit.hash_images`). If none is given: as
        the saved table of the same folder was made (by notebook 1), else
        dedupkit's defaults.
    progress
        Progress bar while hashing (see :func:`dedupkit.hash_images`).

    Returns
    -------
    pandas.DataFrame
        The hash table; its paths are ``image_dir`` joined with each file's
        path, so they open from the current folder. ``attrs["hashed"]`` and
        ``attrs["cached"]`` say how many rows were hashed now and how many
        came from the cache.
    """
    folder = _output(output_dir)
    image_dir = os.fspath(image_dir) if is_url(image_dir) else os.path.abspath(image_dir)
    settings = {"method": method, "hash_size": hash_size, "trim": trim, "exact": exact}
    saved = folder / HASHES_FILE
    if all(value is None for value in settings.values()) and saved.is_file():
        previous = read_hashes(saved)
        stated = hash_settings(previous, required=False)
        if stated is not None and previous.attrs.get("image_dir") == image_dir:
            settings = stated
            logger.info("hashing %s as %s says: %s", image_dir, saved, stated)
    given = {name: value for name, value in settings.items() if value is not None}
    from .bytes_table import is_table_source, table_stamp  # noqa: PLC0415

    if is_table_source(image_dir):  # a Parquet table: hashed again only when one of its files has changed
        stamp = None if is_url(image_dir) else table_stamp(image_dir)  # a table behind a URL: hashed each time
        if stamp is not None and saved.is_file():
            previous = read_hashes(saved)
            made = hash_settings(previous, required=False) or {}
            if (previous.attrs.get("image_dir") == image_dir and previous.attrs.get("table_stamp") == stamp
                    and all(made.get(name) == value for name, value in given.items())):
                previous.attrs.update(hashed=0, cached=len(previous))
                return previous
        hashes = hash_images(image_dir, **given, progress=progress)
        if stamp is not None:
            hashes.attrs["table_stamp"] = stamp
    else:
        hashes = hash_images(image_dir, **given, progress=progress, cache=folder / DEFAULT_CACHE_NAME)
    save_hashes(hashes, folder, image_dir=image_dir)
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
    threshold = check_int(threshold, "threshold", low=0, unit="bits")
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


def write_pairs(pairs: pd.DataFrame, path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> Path:
    """Write a pair table (CSV or Parquet, by the name's ending), atomically: the one writer of pair files.

    Parameters
    ----------
    pairs
        A pair table (:func:`dedupkit.find_pairs`, :func:`dedupkit.find_duplicates`):
        ``path_a``, ``path_b``, ``distance`` first, then any other columns it
        has (``orientation``, ``source``, the verifier's), as they are.
    path
        The file; its folder must exist.
    root
        Write the paths relative to this folder (the image folder), as
        ``dedupkit find`` does; default: as they are.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        A column is missing, or ``path`` cannot be written
        (:func:`dedupkit.tables.check_output_path`).
    """
    return write_table(_result(pairs, "pairs", PAIR_COLUMNS, ("path_a", "path_b"), root), path)


def write_groups(groups: pd.DataFrame, path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> Path:
    """Write a group table (:func:`dedupkit.find_groups`) like :func:`write_pairs`: the one writer of group files."""
    return write_table(_result(groups, "groups", GROUP_COLUMNS, ("path",), root), path)


def _result(table: pd.DataFrame, name: str, columns: tuple[str, ...], path_columns: tuple[str, ...],
            root: str | os.PathLike | None) -> pd.DataFrame:
    """The table as written: its own columns first, paths relative to ``root``."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"the {name} table must be a DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"the {name} table needs columns {list(columns)}; missing {missing}")
    table = table.loc[:, [*columns, *(c for c in table.columns if c not in columns)]]
    return table if root is None else relative_paths(table, root, columns=path_columns)


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
        A pair table (:func:`dedupkit.find_pairs`, :func:`dedupkit.find_duplicates`),
        already cut at the threshold.
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
        ``{"duplicates": path, "groups": path}``, the files written
        (:func:`write_pairs`, :func:`write_groups`). Both tables are checked
        before either file is written. The groups carry each file's
        ``bytes``, ``mtime_ns`` and ``sha256`` as now, so that
        ``dedupkit apply`` skips a file changed since.

    Examples
    --------
    >>> export_duplicates(pairs, groups, "out", root="data/sample")  # doctest: +SKIP
    {'duplicates': PosixPath('out/duplicates.csv'), 'groups': PosixPath('out/groups.csv')}
    """
    pairs = _result(pairs, "duplicates", PAIR_COLUMNS, ("path_a", "path_b"), root)
    if not {"bytes", "mtime_ns", "sha256"} <= set(groups.columns):  # what `dedupkit apply` checks
        groups = with_file_facts(groups)
    groups = _result(groups, "groups", GROUP_COLUMNS, ("path",), root)
    folder = _output(output_dir)
    return {"duplicates": write_pairs(pairs, folder / "duplicates.csv"),
            "groups": write_groups(groups, folder / "groups.csv")}


def _output(output_dir: str | os.PathLike) -> Path:
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _plain(value):
    """JSON for numpy scalars."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")

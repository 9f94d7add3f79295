"""Tables on disk: a hash table that says how it was made, CSV or Parquet by name, written atomically.

A hash table carries its **settings**, the options that decide its bits, in
four columns with the same value on every row (:data:`SETTINGS_COLUMNS`)::

    path,hash,width,height,format,bytes,error,method,hash_size,trim,exact
    coffee.jpg,f3e96933160b1b36,600,400,JPEG,64474,,dhash,8,True,False

Columns rather than a comment line, a sidecar file or ``DataFrame.attrs``:
they are read by plain ``pd.read_csv`` and by a spreadsheet, survive CSV and
Parquet alike, stay with every row that is filtered, sorted or copied out, and
a table concatenated from two differently made ones shows it (the columns then
hold two values, which :func:`hash_settings` refuses). A table without them (a
hand-made one, or one written by dedupkit 0.1) does not say how it was made:
:func:`read_hashes` and :meth:`dedupkit.HashIndex.from_hashes` then need the
settings stated, and never guess.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ._keys import SHARD_SUFFIXES
from .hashing import check_method, hex_to_codes

__all__ = [
    "HASH_COLUMNS",
    "SETTINGS_COLUMNS",
    "TABLE_FORMATS",
    "check_output_path",
    "hash_codes",
    "hash_settings",
    "read_hashes",
    "relative_paths",
    "resolve_trim",
    "with_hash_settings",
    "write_table",
]

#: The columns of a hash table's row, in order (then ``hash_dihedral``, if hashed so, then the settings).
HASH_COLUMNS = ("path", "hash", "width", "height", "format", "bytes", "error")
#: The columns that say how a hash table was made: the same value on every row.
SETTINGS_COLUMNS = ("method", "hash_size", "trim", "exact")
#: File formats of tables, by name ending.
TABLE_FORMATS = {".csv": "csv", ".parquet": "parquet"}

_STRING_COLUMNS = ("path", "hash", "hash_dihedral", "format", "error")
_INT_COLUMNS = ("width", "height", "bytes")


def resolve_trim(trim: bool | None, exact: bool) -> bool:
    """Whether borders are trimmed: ``trim`` if given, else on, except with ``exact=True`` (imagehash's bits)."""
    return (not exact) if trim is None else bool(trim)


def checked_settings(method: object, hash_size: object, trim: object, exact: object, *, source: str) -> dict:
    """The settings as plain Python values; a TypeError or ValueError naming ``source`` if impossible."""
    if isinstance(hash_size, (np.integer, float, np.floating)) and float(hash_size).is_integer():
        hash_size = int(hash_size)
    try:
        check_method(method, hash_size)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{source}: {exc}") from None
    flags = {}
    for name, value in (("trim", trim), ("exact", exact)):
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):  # as a spreadsheet may save it
            value = value.strip().lower() == "true"
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{source}: {name} must be True or False, got {value!r}")
        flags[name] = bool(value)
    return {"method": method, "hash_size": int(hash_size), **flags}


def describe(settings: Mapping[str, object]) -> str:
    """The settings in words, for messages: ``"phash, hash_size 8, trim on, exact off"``."""
    return (f"{settings['method']}, hash_size {settings['hash_size']}, trim {'on' if settings['trim'] else 'off'}, "
            f"exact {'on' if settings['exact'] else 'off'}")


def hash_settings(hashes: pd.DataFrame, *, required: bool = True) -> dict | None:
    """How a hash table was made: its ``method``, ``hash_size``, ``trim`` and ``exact`` columns.

    Parameters
    ----------
    hashes
        A hash table (:func:`dedupkit.hash_images`, :func:`read_hashes`, or
        ``pd.read_csv`` of a table dedupkit wrote).
    required
        Raise if the table does not say (no settings columns, or no rows);
        with ``False``, return ``None`` then.

    Returns
    -------
    dict or None
        ``{"method": str, "hash_size": int, "trim": bool, "exact": bool}``.

    Raises
    ------
    TypeError
        ``hashes`` is not a DataFrame.
    ValueError
        The table mixes settings (rows made differently), has only some of the
        columns, has empty or impossible values, or (with ``required``) does
        not say how it was made.

    Examples
    --------
    >>> hash_settings(hash_images("data/sample", method="phash"))  # doctest: +SKIP
    {'method': 'phash', 'hash_size': 8, 'trim': True, 'exact': False}
    """
    if not isinstance(hashes, pd.DataFrame):
        raise TypeError(f"expected a hash table (DataFrame), got {type(hashes).__name__}")
    present = [c for c in SETTINGS_COLUMNS if c in hashes.columns]
    if present and len(present) < len(SETTINGS_COLUMNS):
        missing = [c for c in SETTINGS_COLUMNS if c not in present]
        raise ValueError(f"the hash table has settings columns {present} but not {missing}: "
                         f"a table says how it was made with all of {list(SETTINGS_COLUMNS)}")
    if not present or not len(hashes):
        if required:
            why = "has no rows" if present else f"has no {'/'.join(SETTINGS_COLUMNS)} columns"
            raise ValueError(f"the hash table does not say how it was hashed (it {why}; made by hand or by "
                             f"dedupkit 0.1?). State it: {_HOW_TO_STATE}")
        return None
    values = {}
    for column in SETTINGS_COLUMNS:
        counts = hashes[column].value_counts(dropna=False, sort=True)
        counts = counts[counts > 0]  # a categorical column lists unused categories too
        if len(counts) > 1 or counts.index.isna().any():
            seen = ", ".join(f"{'(empty)' if pd.isna(v) else v} ({n} rows)" for v, n in counts.items())
            raise ValueError(f"the hash table mixes hashes made differently: {column} is {seen}. "
                             "Hash all the images the same way (one hash_images call) before comparing them")
        values[column] = counts.index[0]
    try:
        return checked_settings(**values, source="the hash table's settings")
    except TypeError as exc:  # a value of the wrong kind in a table is a wrong value
        raise ValueError(str(exc)) from None


_HOW_TO_STATE = ("dedupkit.read_hashes(path, method=..., hash_size=..., trim=..., exact=...) for a file, "
                 "dedupkit.with_hash_settings(table, ...) for a table (dedupkit's defaults: method='dhash', "
                 "hash_size=8, trim=True, exact=False), or hash the images again")


def with_hash_settings(
    hashes: pd.DataFrame, *, method: str, hash_size: int, trim: bool, exact: bool
) -> pd.DataFrame:
    """A copy of ``hashes`` that says how it was made: the settings columns set on every row.

    For a table that does not say (hand-made, or written by dedupkit 0.1)
    when you know how it was hashed. A table that already says otherwise is
    refused: relabelling would not change its bits.

    Parameters
    ----------
    hashes
        A hash table (``path``, ``hash``, ...).
    method, hash_size, trim, exact
        As given to :func:`dedupkit.hash_images` (``trim`` resolved: True or
        False).

    Raises
    ------
    ValueError
        Impossible settings, or the table already states other ones.
    """
    settings = checked_settings(method, hash_size, trim, exact, source="with_hash_settings")
    stated = hash_settings(hashes, required=False)
    if stated is not None and stated != settings:
        raise ValueError(f"the hash table says it was made with {describe(stated)}, not {describe(settings)}; "
                         "its bits are those of its settings: hash the images again to change them")
    table = hashes.copy()
    n = len(table)
    table["method"] = pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[settings["method"]])
    table["hash_size"] = np.full(n, settings["hash_size"], np.int64)
    table["trim"] = np.full(n, settings["trim"], bool)
    table["exact"] = np.full(n, settings["exact"], bool)
    return table


def check_same_settings(expected: Mapping[str, object], hashes: pd.DataFrame, *, what: str) -> None:
    """Refuse a table that says it was made otherwise than ``expected`` (a table that does not say passes)."""
    stated = hash_settings(hashes, required=False)
    if stated is not None and stated != dict(expected):
        raise ValueError(f"{what} holds {describe(expected)} hashes, but the table was made with "
                         f"{describe(stated)}: hashes made differently cannot be compared; "
                         "hash both the same way")


def hash_codes(hashes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The paths and packed codes of a hash table's rows that have a hash (and no ``error``).

    A table that says how it was made must say one thing: rows hashed
    differently (two tables concatenated) are refused, not compared.

    Returns
    -------
    paths, codes
        An object array of paths and the ``(n, n_bytes)`` ``uint8`` codes
        (:func:`dedupkit.hex_to_codes`) of the same rows.

    Raises
    ------
    TypeError
        ``hashes`` is not a DataFrame.
    ValueError
        A ``path`` or ``hash`` column is missing, the rows were hashed
        differently, or a hash is not a hex string of the table's length.
    """
    if not isinstance(hashes, pd.DataFrame):
        raise TypeError(f"expected a DataFrame with 'path' and 'hash' columns, got {type(hashes).__name__}")
    missing = {"path", "hash"} - set(hashes.columns)
    if missing:
        raise ValueError(
            f"the hash table needs 'path' and 'hash' columns; missing {sorted(missing)} "
            f"(columns are {list(hashes.columns)})"
        )
    hash_settings(hashes, required=False)  # raises on mixed settings
    valid = hashes["hash"].notna().to_numpy().copy()
    if "error" in hashes.columns:
        valid &= hashes["error"].isna().to_numpy()
    paths = hashes["path"].astype(str).to_numpy()[valid]
    codes = hex_to_codes(hashes["hash"].astype(str).to_numpy()[valid]) if valid.any() else np.zeros((0, 8), np.uint8)
    return paths, codes


def typed(table: pd.DataFrame) -> pd.DataFrame:
    """A hash table with dedupkit's column types: text as ``string``, counts as ``Int64``, settings compact."""
    table = table.copy()
    for column in _STRING_COLUMNS:
        if column in table.columns:
            table[column] = table[column].astype("string")
    for column in _INT_COLUMNS:
        if column in table.columns:
            table[column] = table[column].astype("Int64")
    if all(c in table.columns for c in SETTINGS_COLUMNS) and len(table):
        table = with_hash_settings(table, **hash_settings(table))
    return table


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ValueError(f"{path}: cannot tell the table format from the name; "
                         f"end it with {' or '.join(TABLE_FORMATS)}")
    return TABLE_FORMATS[suffix]


def read_hashes(
    path: str | os.PathLike,
    *,
    method: str | None = None,
    hash_size: int | None = None,
    trim: bool | None = None,
    exact: bool | None = None,
) -> pd.DataFrame:
    """Read a hash table written by dedupkit (CSV or Parquet, by the name's ending), checking how it was made.

    Parameters
    ----------
    path
        A ``.csv`` or ``.parquet`` file (``dedupkit hash -o``, ``find
        --hashes``, :func:`dedupkit.save_hashes`, or ``to_csv`` of a table).
    method, hash_size, trim, exact
        For a table that does not say how it was made (dedupkit 0.1 wrote
        none): all four, as they were given when it was hashed. For a table
        that says, any given must agree with it.

    Returns
    -------
    pandas.DataFrame
        The table, with the column types of :func:`dedupkit.hash_images`; hex
        hashes stay text (never read as numbers).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a table dedupkit can read, mixed settings, settings that disagree
        with those given, or a table that does not say and settings not given.

    Examples
    --------
    >>> hashes = read_hashes("out/hashes.csv")  # doctest: +SKIP
    >>> old = read_hashes("old.csv", method="phash", hash_size=8, trim=True, exact=False)  # doctest: +SKIP
    """
    path = Path(path)
    fmt = _format(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such hash table")
    try:
        if fmt == "csv":
            text = dict.fromkeys(_STRING_COLUMNS, "string")
            table = pd.read_csv(path, dtype=text, keep_default_na=False, na_values=[""])
        else:
            table = pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path}: not a table dedupkit can read ({exc})") from None
    if not {"path", "hash"} <= set(table.columns):
        raise ValueError(f"{path}: a hash table needs 'path' and 'hash' columns; the columns are {list(table.columns)}")
    given = {"method": method, "hash_size": hash_size, "trim": trim, "exact": exact}
    try:
        stated = hash_settings(table, required=False)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if stated is None and not all(c in table.columns for c in SETTINGS_COLUMNS):
        missing = [name for name, value in given.items() if value is None]
        if missing:
            raise ValueError(f"{path} does not say how it was hashed (no {'/'.join(SETTINGS_COLUMNS)} columns: "
                             f"written by hand or by dedupkit 0.1). If you know, pass {', '.join(missing)} "
                             f"(dedupkit's defaults: method='dhash', hash_size=8, trim=True, exact=False); "
                             "or hash the images again")
        table = with_hash_settings(table, **given)
    elif stated is not None:
        wrong = {name: value for name, value in given.items() if value is not None and value != stated[name]}
        if wrong:
            raise ValueError(f"{path} was hashed with {describe(stated)}, not with "
                             + ", ".join(f"{name}={value!r}" for name, value in wrong.items()))
    return typed(table)


def check_output_path(path: str | os.PathLike) -> Path:
    """Check that a table can be written at ``path`` before any work is done; return it as a Path.

    Raises
    ------
    ValueError
        ``path`` is a folder, its name does not end in ``.csv`` or
        ``.parquet``, or its folder does not exist (it is never made).
    PermissionError
        Its folder cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name in it, e.g. {path / 'table.csv'}")
    _format(path)
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{path}: the folder {folder} does not exist; create it first (mkdir -p {folder})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: the folder {folder} cannot be written")
    return path


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as CSV or Parquet (by the name's ending), atomically: all of it or nothing.

    The table goes to a temporary file beside ``path`` that is then renamed
    over it, so a failure (a full disk, Ctrl-C) leaves any earlier file as it
    was and no half-written one. CSV has no index column; Parquet keeps the
    column types and ``table.attrs``.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError, PermissionError
        See :func:`check_output_path`.
    OSError
        The file could not be written.
    """
    path = check_output_path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        if _format(path) == "csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
    return path


def relative_path(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """``path`` relative to the folder ``root``, ``/``-separated (as tables and truth files spell paths).

    A URL, or anything under a URL or tar shards, is written whole: it is where the image is.
    """
    if "://" in os.fspath(path) or "://" in os.fspath(root) or os.fspath(root).lower().endswith(SHARD_SUFFIXES):
        return os.fspath(path)
    relative = os.path.relpath(os.path.abspath(os.fspath(path)), os.path.abspath(os.fspath(root)))
    return str(PurePosixPath(*Path(relative).parts))


def relative_paths(
    paths: pd.DataFrame | Iterable[str | os.PathLike],
    root: str | os.PathLike,
    *,
    columns: Sequence[str] = ("path",),
) -> pd.DataFrame | list[str]:
    """Paths written relative to a folder, as the command line and the exported files show them.

    Parameters
    ----------
    paths
        A table (the paths in its ``columns`` are rewritten, in a copy) or
        an iterable of paths.
    root
        The folder they are made relative to (usually the image folder). The
        keys of a table of image bytes (``root`` a Parquet file, or a hash
        table with ``attrs["images"]``) are left as they are.
    columns
        The path columns of a table: ``("path",)`` for hash and group tables,
        ``("path_a", "path_b")`` for pairs.

    Returns
    -------
    pandas.DataFrame or list of str
        The table with relative paths, or the list of relative paths.

    Examples
    --------
    >>> relative_paths(["data/sample/coffee.jpg", "data/sample/bad/empty.jpg"], "data/sample")
    ['coffee.jpg', 'bad/empty.jpg']
    """
    if os.path.isfile(root) or (isinstance(paths, pd.DataFrame) and paths.attrs.get("images")):
        return paths.copy() if isinstance(paths, pd.DataFrame) else [str(p) for p in paths]  # a table's keys
    if not isinstance(paths, pd.DataFrame):
        return [relative_path(p, root) for p in paths]
    missing = [c for c in columns if c not in paths.columns]
    if missing:
        raise ValueError(f"the table has no column {missing}; its columns are {list(paths.columns)}")
    table = paths.copy()
    for column in columns:
        values = table[column]
        rewritten = [p if pd.isna(p) else relative_path(p, root) for p in values]
        table[column] = pd.Series(rewritten, index=table.index, dtype=values.dtype)
    return table

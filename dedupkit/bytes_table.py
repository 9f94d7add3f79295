"""Images kept as bytes in a table: a pandas or Arrow table, a Parquet file or dataset, a Hugging Face dataset.

The image column holds encoded images (``binary``), or Hugging Face's
``{"bytes": ..., "path": ...}`` structs (the layout ``datasets`` writes for an
``Image`` feature); the struct's ``bytes`` are read, never through
``datasets``' own decoding, or, when they are null, the file its ``path``
names (``datasets`` keeps local image files so until it embeds them). Each
row is keyed by the table's key column (as a string, in the hash table's
``path`` column) or, without one, by its row number (0, 1, ... in the order
the dataset is read; always unique, and a row is fetched again by it). A
struct's ``path`` is not used as the key: Hugging Face sets it to the original
file name, which may be missing or repeated. A ``datasets.Dataset`` with an
indices mapping (after ``select``, ``shuffle`` or ``filter``) is read through
``flatten_indices`` of its two columns (``datasets`` may write them to its
cache once); the dataset as loaded is read in place.

:func:`hash_table` reads the key and image columns only, ``batch_size`` rows
at a time (a Parquet dataset of any size is never held in memory); a process
pool gets the bytes of a few rows per task, never the table. A row that is
null, empty or not a readable image gets an error row. :class:`TableImages`
fetches the bytes of given keys again (a filter on the key column), so that
verification, thumbnails and reports open table keys like files
(:mod:`dedupkit.opener`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ._keys import is_url
from ._workers import process_pool
from .imagerow import hash_file
from .loading import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS
from .opener import _SOURCES, reading_images
from .sources import filesystem as url_filesystem
from .sources import local_path, remember_storage_options
from .tables import HASH_COLUMNS, resolve_trim, typed, with_hash_settings

__all__ = ["DEFAULT_BATCH_SIZE", "TableImages", "hash_table", "is_table_source", "rows_of", "table_images",
           "table_stamp"]

logger = logging.getLogger(__name__)

#: Rows read at once: with photos of ~200 KB, about 50 MB per batch.
DEFAULT_BATCH_SIZE = 256
_CHUNK = 32  # rows per task sent to a worker process
_SERIAL_BELOW = 64  # rows; below this starting processes costs more than it saves
_PROGRESS_FROM = 200


def is_table_source(source: object) -> bool:
    """Whether ``source`` is a table of image bytes rather than a folder, a file or a list of files.

    A pandas ``DataFrame``, an Arrow ``Table``, ``RecordBatch`` or
    ``pyarrow.dataset.Dataset``, a Hugging Face ``datasets.Dataset``, a path or
    URL ending in ``.parquet``, or a folder holding ``.parquet`` files and no
    image files (hidden files aside).
    """
    if isinstance(source, pd.DataFrame) or type(source).__module__.startswith("datasets"):
        return True
    if type(source).__module__.startswith("pyarrow"):
        import pyarrow as pa  # noqa: PLC0415
        import pyarrow.dataset as pads  # noqa: PLC0415

        return isinstance(source, (pa.Table, pa.RecordBatch, pads.Dataset))
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = os.fspath(source)
    if path.lower().rstrip("/").endswith(".parquet"):
        return True
    if not os.path.isdir(path):
        return False
    found_parquet = False
    for _, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            ending = os.path.splitext(name)[1].lower()
            if ending in IMAGE_EXTENSIONS:
                return False
            found_parquet = found_parquet or ending == ".parquet"
    return found_parquet


def table_stamp(source: str | os.PathLike) -> str:
    """The name, size and modification time of each Parquet file of a local table, as one string.

    Two stamps are equal while no file of the table has changed (what
    :func:`dedupkit.hashes_for` checks before hashing a table again).
    """
    root = Path(source)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*.parquet") if _visible(p, root))
    return ";".join(f"{p.relative_to(root) if p != root else p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                    for p in files)


def _visible(path: Path, root: Path) -> bool:
    """No part of ``path`` under ``root`` starts with '.' or '_' (the files Arrow's dataset discovery reads)."""
    return not any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def _is_hf_dataset(source: object) -> bool:
    return type(source).__module__.startswith("datasets") and hasattr(getattr(source, "data", None), "table")


def _dataset(source: Any, column: str, key: str | None, storage_options: dict | None = None):
    """A ``pyarrow.dataset.Dataset`` over ``source`` (nothing is read yet) and a description for messages.

    Raises ValueError or TypeError, naming the table, when ``column`` or ``key`` is missing or of the wrong kind.
    """
    dataset, name = _open_dataset(source, column, key, storage_options)
    _check_columns(dataset, name, column, key)
    return dataset, name


def _open_dataset(source: Any, column: str, key: str | None, storage_options: dict | None):
    import pyarrow as pa  # noqa: PLC0415 - a dependency, but only needed here
    import pyarrow.dataset as pads  # noqa: PLC0415

    if isinstance(source, pads.Dataset):
        return source, "the dataset"
    if isinstance(source, pd.DataFrame):  # only the two columns are converted
        _check_names(list(source.columns), "the DataFrame", column, key)
        wanted = source[[column] if key is None else [key, column]]
        try:
            return pads.dataset(pa.Table.from_pandas(wanted, preserve_index=False)), "the DataFrame"
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise TypeError(f"the DataFrame: column {column!r} (or key {key!r}) cannot be read as image bytes "
                            f"({exc}); expected bytes or {{'bytes', 'path'}} dicts") from None
    if isinstance(source, (pa.Table, pa.RecordBatch)):
        return pads.dataset(source), f"the Arrow {type(source).__name__}"
    if _is_hf_dataset(source):  # its Arrow table, as stored: no decoding by datasets' Image feature
        if getattr(source, "_indices", None) is not None:  # select/shuffle/filter: the rows it names, in its order
            source = source.select_columns([column] if key is None else [key, column]).flatten_indices()
        table = source.data.table
        return pads.dataset(table), "the Hugging Face dataset"
    if type(source).__name__ in ("DatasetDict", "IterableDatasetDict"):
        raise TypeError(f"a {type(source).__name__} holds several splits: hash one, e.g. "
                        f"dataset[{next(iter(source), 'train')!r}]")
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"expected a table of image bytes (pandas DataFrame, Arrow table, Parquet path or "
                        f"Hugging Face Dataset), got {type(source).__name__}")
    path = os.fspath(source)
    filesystem = None
    if is_url(path) and local_path(path) is None:  # the options given, else those remembered for its bucket
        filesystem, path = url_filesystem(path, storage_options)
    else:
        path = local_path(path) or path
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such Parquet file or folder")
    try:
        return pads.dataset(path, format="parquet", filesystem=filesystem), os.fspath(source)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ValueError(f"{os.fspath(source)}: cannot be read as Parquet ({exc})") from None


def _check_names(names: list, name: str, column: str, key: str | None) -> None:
    for what, wanted in (("image", column), ("key", key)):
        if wanted is not None and wanted not in names:
            raise ValueError(f"{name} has no {what} column {wanted!r}; its columns are {list(names)} "
                             f"(name the {what} column with {what if what == 'key' else 'column'}=)")


def _check_columns(dataset, name: str, column: str, key: str | None) -> None:
    import pyarrow as pa  # noqa: PLC0415

    schema = dataset.schema
    _check_names(schema.names, name, column, key)
    kind = schema.field(column).type
    if pa.types.is_struct(kind):
        if kind.get_field_index("bytes") < 0:
            raise TypeError(f"{name}: column {column!r} holds structs without a 'bytes' field ({kind}); "
                            "expected image bytes or Hugging Face's {'bytes', 'path'} structs")
    elif not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind)):
        raise TypeError(f"{name}: column {column!r} holds {kind}, not image bytes; expected binary or "
                        "Hugging Face's {'bytes', 'path'} structs (name the image column with column=)")


def _blobs(array) -> list[bytes | Path | None]:
    """The image bytes of each row of an Arrow array (binary, or structs with a 'bytes' field).

    A struct whose bytes are null but whose ``path`` is set gives that path
    (as a :class:`~pathlib.Path`): ``datasets`` keeps local image files so
    until a dataset is saved with its images embedded.
    """
    import pyarrow as pa  # noqa: PLC0415

    if not pa.types.is_struct(array.type):
        return array.to_pylist()
    null = array.is_null().to_pylist()
    blobs = [None if missing else data for missing, data in zip(null, array.field("bytes").to_pylist())]
    if array.type.get_field_index("path") >= 0 and any(b is None for b in blobs):
        paths = array.field("path").to_pylist()
        blobs = [Path(p) if b is None and p and not missing else b for b, p, missing in zip(blobs, paths, null)]
    return blobs


def _batches(dataset, column: str, key: str | None, batch_size: int) -> Iterator[tuple[list[str], list]]:
    """(keys, image bytes) of ``batch_size`` rows at a time, in the dataset's order."""
    columns = [column] if key is None else [key, column]
    start = 0
    for batch in _record_batches(dataset, columns, batch_size):
        if key is None:
            keys = [str(i) for i in range(start, start + batch.num_rows)]
        else:
            keys = [f"<null key, row {start + i}>" if k is None else str(k)
                    for i, k in enumerate(batch.column(key).to_pylist())]
        start += batch.num_rows
        yield keys, _blobs(batch.column(column))


def _pieces(dataset) -> Iterator[tuple[Any, int, dict]]:
    """The dataset in pieces read one at a time: (piece, its rows, scan options), a Parquet row group each.

    Arrow's scanner reads ahead on threads of its own, and more than it is
    asked to while the batches are slow to use (as hashing is): with its
    defaults, memory grew with the file (measured in
    ``tests/test_bytes_table.py``). One row group at a time, not pre-buffered,
    holds a row group and a batch, whatever the dataset's size.
    """
    import pyarrow.dataset as pads  # noqa: PLC0415

    if not isinstance(dataset, pads.FileSystemDataset):  # in memory already
        yield dataset, dataset.count_rows(), {}
        return
    options = {"fragment_scan_options": pads.ParquetFragmentScanOptions(pre_buffer=False), "use_threads": False}
    for fragment in dataset.get_fragments():
        for group in fragment.row_groups:
            yield fragment.subset(row_group_ids=[group.id]), group.num_rows, options


def _record_batches(dataset, columns: list[str], batch_size: int):
    """The dataset's rows, ``batch_size`` at a time, one piece (row group) after another."""
    for piece, _, options in _pieces(dataset):
        yield from piece.to_batches(columns=columns, batch_size=batch_size, batch_readahead=0, **options)


def hash_rows(keys: Sequence[str], blobs: Sequence[bytes | Path | None], options: dict) -> list[dict]:
    """Hash rows of image bytes into rows of the hash table (as :func:`dedupkit.hash_file`); never raises."""
    rows = []
    for key, blob in zip(keys, blobs):
        if isinstance(blob, Path):  # the row names a file: hashed as a file, keyed as the row
            row = hash_file(blob, **options)
            row["path"] = key
            if row["error"] is not None:
                row["error"] = f"{blob} (named by this row): {row['error']}"
        elif blob is None or len(blob) == 0:
            row = dict.fromkeys(HASH_COLUMNS)
            row["path"] = key
            row["bytes"] = 0 if blob is not None else None
            row["error"] = "no image in this row (the image column is null)" if blob is None else \
                "empty image (0 bytes)"
        else:  # the row's own bytes: a repeated key hashes its own
            row = hash_file(key, data=blob, **options)
        rows.append(row)
    return rows


def hash_table(
    source: Any,
    *,
    column: str = "image",
    key: str | None = None,
    method: str = "dhash",
    hash_size: int = 8,
    workers: int | None = None,
    executor: Executor | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    exact: bool = False,
    trim: bool | None = None,
    dihedral: bool = False,
    progress: bool | None = None,
    chunk_size: int | None = None,
    batch_size: int | None = None,
    storage_options: dict | None = None,
) -> pd.DataFrame:
    """Hash the images held as bytes in a table's column, ``batch_size`` rows at a time.

    Called by :func:`dedupkit.hash_images` for a table source; the options
    are its options.

    Parameters
    ----------
    source
        A pandas ``DataFrame``, an Arrow ``Table`` or ``RecordBatch``, a
        ``pyarrow.dataset.Dataset``, a Hugging Face ``datasets.Dataset`` (its
        Arrow table), or the path of a Parquet file or of a folder of Parquet
        files, local or behind a URL (``storage_options`` go to its fsspec
        filesystem, and are remembered for the bucket:
        :func:`dedupkit.sources.remember_storage_options`, so its rows open
        again later).
    column
        The column of image bytes, or of ``{"bytes", "path"}`` structs.
    key
        The column that names each row (e.g. ``"id"``); ``None``: the row number.
    batch_size
        Rows read at once (default :data:`DEFAULT_BATCH_SIZE`); memory grows
        with it, not with the table.
    chunk_size
        Rows per task sent to a worker process (default 32).

    Returns
    -------
    pandas.DataFrame
        The hash table of :func:`dedupkit.hash_images`, one row per table row
        in the table's order, the key (as a string) in ``path``, ``bytes`` the
        size of the encoded image. ``attrs["images"]`` says where the bytes
        are (``source``: the Parquet path, or ``None`` for a table in memory;
        ``column``, ``key``), so that :func:`dedupkit.find_duplicates` can
        fetch them again to verify pairs.

    Raises
    ------
    ValueError
        No such column; ``batch_size`` or ``chunk_size`` below 1.
    TypeError
        The column does not hold bytes or ``{"bytes", "path"}`` structs.
    FileNotFoundError
        No such Parquet file or folder.

    Examples
    --------
    >>> import pandas as pd
    >>> from PIL import Image
    >>> import io
    >>> png = io.BytesIO()
    >>> Image.new("RGB", (64, 48), "white").save(png, "PNG")
    >>> table = pd.DataFrame({"id": ["a7", "b3"], "image": [png.getvalue(), b"not an image"]})
    >>> hash_table(table, key="id", workers=1)[["path", "width", "format", "error"]]
      path  width format                                            error
    0   a7     64    PNG                                             <NA>
    1   b3   <NA>   <NA>  not an image, or in a format Pillow cannot read
    """
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if isinstance(source, str) and is_url(source):
        remember_storage_options(source, storage_options)
    dataset, name = _dataset(source, column, key, storage_options)
    trim = resolve_trim(trim, exact)
    options = {"method": method, "hash_size": hash_size, "max_pixels": max_pixels, "exact": exact,
               "trim": trim, "dihedral": dihedral}
    total = dataset.count_rows()
    show = progress if progress is not None else total > _PROGRESS_FROM
    n_workers = workers or os.cpu_count() or 1
    batches = _batches(dataset, column, key, batch_size or DEFAULT_BATCH_SIZE)
    rows: list[dict] = []
    with tqdm(total=total, desc="hashing", unit="img", disable=not show) as bar:
        if executor is None and (n_workers == 1 or total < _SERIAL_BELOW):
            for keys, blobs in batches:
                for start in range(0, len(keys), _CHUNK):
                    rows.extend(hash_rows(keys[start : start + _CHUNK], blobs[start : start + _CHUNK], options))
                    bar.update(len(keys[start : start + _CHUNK]))
        elif executor is not None:
            rows = _run(executor, batches, options, chunk_size or _CHUNK, n_workers, bar)
        else:
            with process_pool(n_workers) as pool:
                rows = _run(pool, batches, options, chunk_size or _CHUNK, n_workers, bar)
    columns = [*HASH_COLUMNS, "hash_dihedral"] if dihedral else list(HASH_COLUMNS)
    table = typed(pd.DataFrame.from_records(rows, columns=columns))
    table = with_hash_settings(table, method=method, hash_size=int(hash_size), trim=trim, exact=bool(exact))
    repeated = table["path"].duplicated()
    if key is not None and repeated.any():
        logger.warning("%s: %d rows repeat a key of column %r (e.g. %s): their images open as the first row's "
                       "when pairs are verified; give a unique key column, or key=None for row numbers",
                       name, int(repeated.sum()), key, table.loc[repeated, "path"].iloc[0])
    table.attrs.update(skipped=[], hashed=len(table), cached=0,
                       images={"source": _where(source), "column": column, "key": key})
    return table


def _where(source: Any) -> str | None:
    """Where a table's bytes can be read again: an absolute path or a URL; ``None`` for a table in memory."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = os.fspath(source)
    if "://" in path and not path.startswith("file://"):
        return path
    return os.path.abspath(path.removeprefix("file://"))


def _run(executor: Executor, batches: Iterable[tuple[list[str], list]], options: dict, chunk_size: int,
         n_workers: int, bar) -> list[dict]:
    """Rows hashed by ``executor``, a few chunks of bytes in flight at a time; in the table's order."""
    done: dict[int, list[dict]] = {}
    pending: dict[Future, int] = {}
    limit = 2 * n_workers  # chunks in flight: memory stays bounded, every worker stays busy
    n_chunks = 0
    try:
        for keys, blobs in batches:
            for start in range(0, len(keys), chunk_size):
                while len(pending) >= limit:
                    _collect(pending, done, bar, wait(pending, return_when=FIRST_COMPLETED).done)
                future = executor.submit(hash_rows, keys[start : start + chunk_size],
                                         blobs[start : start + chunk_size], options)
                pending[future] = n_chunks
                n_chunks += 1
        while pending:
            _collect(pending, done, bar, wait(pending, return_when=FIRST_COMPLETED).done)
    finally:
        for future in pending:
            future.cancel()
    return [row for i in range(n_chunks) for row in done[i]]


def _collect(pending: dict, done: dict, bar, finished: Iterable[Future]) -> None:
    for future in finished:
        rows = future.result()
        done[pending.pop(future)] = rows
        bar.update(len(rows))


class TableImages:
    """The image bytes of a table's rows, by key: fetched when asked for, then kept.

    An image source for :func:`dedupkit.opener.reading_images`: ``get(key)``
    gives a row's bytes (``None`` for a null image). Rows are fetched by a
    filter on the key column (or by row number), many keys in one pass
    (:meth:`fetch`); only the rows asked for are kept.

    Parameters
    ----------
    source, column, key, storage_options
        As for :func:`hash_table`.
    lazy
        Fetch a key asked for that was not fetched yet (a pass over the key
        column). ``False``: only the keys given to :meth:`fetch` are held,
        others are not this table's (no pass per key of another table).
    """

    def __init__(self, source: Any, *, column: str = "image", key: str | None = None,
                 storage_options: dict | None = None, lazy: bool = True):
        self.dataset, self.name = _dataset(source, column, key, storage_options)
        self.column, self.key, self.lazy = column, key, lazy
        self._bytes: dict[str, bytes | None] = {}
        self._absent: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        """The bytes of the row ``key`` (``None`` if its image is null), or ``default`` if no row has that key."""
        key = str(key)
        if self.lazy and key not in self._bytes and key not in self._absent:
            self.fetch([key])
        return self._bytes.get(key, default)

    def fetch(self, keys: Iterable[str]) -> None:
        """Read the rows of ``keys`` not yet read, in one pass over the table."""
        import pyarrow as pa  # noqa: PLC0415
        import pyarrow.compute as pc  # noqa: PLC0415

        wanted = [str(k) for k in dict.fromkeys(keys) if str(k) not in self._bytes and str(k) not in self._absent]
        if not wanted:
            return
        if self.key is None:  # row numbers: only the row groups that hold them are read
            numbers = sorted({int(k) for k in wanted if k.isdigit()})
            start = 0
            for piece, n_rows, options in _pieces(self.dataset):
                inside = [i - start for i in numbers if start <= i < start + n_rows]
                if inside:
                    found = piece.to_table(columns=[self.column], **options).take(pa.array(inside, pa.int64()))
                    blobs = _blobs(found.column(self.column).combine_chunks())
                    self._bytes.update(zip((str(start + i) for i in inside), blobs))
                start += n_rows
        else:  # the key column of every row group; the images of those holding a key asked for
            kind = self.dataset.schema.field(self.key).type
            values = []
            for k in wanted:
                with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    values.append(pa.scalar(k).cast(kind).as_py())
            values = pa.array(values, kind)
            for piece, _, options in _pieces(self.dataset) if len(values) else ():
                keys = piece.to_table(columns=[self.key], **options).column(self.key)
                mask = pc.is_in(keys, value_set=values)
                if not pc.any(mask).as_py():
                    continue
                found = piece.to_table(columns=[self.key, self.column], **options).filter(mask)
                keys_found = [str(k) for k in found.column(self.key).to_pylist()]
                for k, blob in zip(keys_found, _blobs(found.column(self.column).combine_chunks())):
                    self._bytes.setdefault(k, blob)  # a repeated key: its first row
        self._absent.update(k for k in wanted if k not in self._bytes)


@contextlib.contextmanager
def table_images(source: Any, *, column: str = "image", key: str | None = None, keys: Iterable[str] | None = None,
                 storage_options: dict | None = None, lazy: bool = True) -> Iterator[TableImages]:
    """Open the keys of a table of image bytes like files while the ``with`` block runs.

    Parameters
    ----------
    source, column, key, storage_options
        As for :func:`hash_table` (the same table the hashes came from).
    keys
        Keys to fetch at once, in one pass (others are fetched when opened,
        unless ``lazy=False``).
    lazy
        See :class:`TableImages`.

    Examples
    --------
    >>> hashes = dedupkit.hash_images(frame, column="image", key="id")  # doctest: +SKIP
    >>> with table_images(frame, column="image", key="id"):  # doctest: +SKIP
    ...     pairs = dedupkit.find_duplicates(hashes)
    """
    images = TableImages(source, column=column, key=key, storage_options=storage_options, lazy=lazy)
    if keys is not None:
        images.fetch(keys)
    with reading_images(images):
        yield images


def image_batches(hashes: pd.DataFrame, keys: Iterable[str], *, batch_size: int | None = None
                  ) -> Iterator[tuple[list[str], list]] | None:
    """The image bytes of the rows of ``keys``, ``batch_size`` rows at a time, in one pass over the table.

    For hashes made from a table file or URL (``None`` for files, and for a
    table in memory, whose bytes are in memory already): yields ``(keys,
    blobs)`` as :func:`hash_table` reads them, only rows whose key is in
    ``keys``, so that at most one batch's bytes are held at once.
    """
    spec = hashes.attrs.get("images")
    if not spec or spec.get("source") is None:
        return None
    wanted = {str(k) for k in keys}
    dataset, _ = _dataset(spec["source"], spec["column"], spec["key"])

    def batches() -> Iterator[tuple[list[str], list]]:
        for batch_keys, blobs in _batches(dataset, spec["column"], spec["key"], batch_size or DEFAULT_BATCH_SIZE):
            chosen = [(k, b) for k, b in zip(batch_keys, blobs) if k in wanted]
            if chosen:
                yield [k for k, _ in chosen], [b for _, b in chosen]

    return batches()


def rows_of(hashes: pd.DataFrame, keys: Iterable[str], *, required: bool = True) -> contextlib.AbstractContextManager:
    """A context in which the keys of a hash table made from a table open (a no-op for files).

    ``keys`` are fetched at once, in one pass over the table, and no other
    key is looked for in it (so that two tables opened together do not each
    search the other's keys).

    Raises
    ------
    ValueError
        With ``required``: ``hashes`` came from a table in memory and no
        :func:`table_images` is open.
    """
    spec = hashes.attrs.get("images")
    if not spec:
        return contextlib.nullcontext()
    if spec.get("source") is None:
        if required and not _SOURCES:
            raise ValueError(
                "these hashes came from a table in memory, whose images dedupkit cannot open again by key: "
                f"wrap the call in `with dedupkit.table_images(table, column={spec['column']!r}, "
                f"key={spec['key']!r}):`, or pass verify=False")
        return contextlib.nullcontext()
    return table_images(spec["source"], column=spec["column"], key=spec["key"], keys=keys, lazy=False)

"""Hash every image in a folder (or a list of files) into one table.

One row per file, always: a file that cannot be hashed keeps its row, with the
reason in ``error``, and the scan goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from functools import partial
from pathlib import Path

import imagehash
import pandas as pd
from tqdm.auto import tqdm

from ._checks import check_int
from ._keys import is_shard_pattern, is_url, split_member
from ._workers import process_pool
from .cache import HashCache, resolve_cache_path
from .fastpath import _lanczos
from .hashing import check_method
from .imagerow import error_row, hash_file
from .loading import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, ImageLoadError
from .tables import HASH_COLUMNS, resolve_trim, typed, with_hash_settings

__all__ = ["HASH_COLUMNS", "hash_images", "list_images"]

logger = logging.getLogger(__name__)

_PROGRESS_FROM = 200  # files; below this the bar is off unless asked for
_SERIAL_BELOW = 64  # files; below this starting processes costs more than it saves
_CHUNK = 64  # files per task at most, by default
# Part of every cache key: bump when hash_file's output changes for the same file and options. Which LANCZOS weights
# (compiled or numpy's, equal within 1e-12) is part of it: on a flat picture pHash's bits are ties that such a
# difference decides (27 of 4000 bench-data files; dHash's margin keeps its bits).
_HASHER_VERSION = f"3/{'numpy' if _lanczos is None else 'c'}/imagehash-{getattr(imagehash, '__version__', '?')}"


def list_images(
    source: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    extensions: Iterable[str] | None = None,
) -> tuple[list[str], list[str]]:
    """Find the image files under a folder, or take a list of files as given.

    Parameters
    ----------
    source
        A folder (searched recursively, hidden files and folders skipped), a
        single file, or an iterable of file paths (kept as they are, whatever
        their extension).
    extensions
        File endings to take from a folder, e.g. ``[".jpg", ".png"]``;
        default :data:`dedupkit.loading.IMAGE_EXTENSIONS`. ``["*"]`` takes all.

    Returns
    -------
    files, skipped
        Sorted paths to hash, and sorted paths left out by their extension.

    Raises
    ------
    FileNotFoundError
        ``source`` is a path that does not exist.
    """
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        if root.is_file():
            return [str(root)], []
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such folder or file")
        wanted = _normalize_extensions(extensions)
        files, skipped = [], []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.startswith("."):
                    continue
                path = os.path.join(dirpath, name)
                if wanted is None or os.path.splitext(name)[1].lower() in wanted:
                    files.append(path)
                else:
                    skipped.append(path)
        return sorted(files), sorted(skipped)
    if isinstance(source, pd.Series):
        source = source.tolist()
    files = [os.fspath(p) for p in source]
    return sorted(files), []


def _normalize_extensions(extensions: Iterable[str] | None) -> frozenset[str] | None:
    if extensions is None:
        return IMAGE_EXTENSIONS
    if isinstance(extensions, str):
        extensions = [extensions]
    ext = {e.lower() if e.startswith(".") or e == "*" else "." + e.lower() for e in extensions}
    return None if "*" in ext else frozenset(ext)


def _hash_chunk(paths: Sequence[str], options: dict) -> list[dict]:
    return [hash_file(p, **options) for p in paths]


def _hash_objects(urls: Sequence[str], options: dict, storage_options: dict | None = None) -> list[dict]:
    """Hash a chunk of URLs (and files, shard members), reading them a few at a time (this runs on the worker).

    Members of one tar shard are taken in one pass over the shard.
    """
    from .sources import read_objects  # noqa: PLC0415

    by_shard: dict[str, set[str]] = {}
    others = []
    for key in urls:
        shard = split_member(key)[0]
        if shard is None:
            others.append(key)
        else:
            by_shard.setdefault(shard, set()).add(key)
    rows = []
    for url, data in read_objects(others, storage_options=storage_options):
        rows.append(error_row(url, data) if isinstance(data, ImageLoadError) else hash_file(url, data=data, **options))
    for shard, wanted in by_shard.items():
        rows.extend(_hash_members(shard, wanted, options, storage_options))
    return rows


def _hash_members(shard: str, wanted: set[str], options: dict, storage_options: dict | None) -> list[dict]:
    """Hash the ``wanted`` member keys of one shard, streaming it once; a member not in it is an error row."""
    from .shards import iter_members  # noqa: PLC0415

    rows, left = [], set(wanted)
    for key, data in iter_members(shard, storage_options=storage_options):
        if isinstance(data, ImageLoadError):  # the shard cannot be read (further): every member left says so
            rows.extend(error_row(k, ImageLoadError(k, data.reason, kind=data.kind)) for k in sorted(left))
            return rows
        if key in left:
            left.discard(key)
            rows.append(hash_file(key, data=data, **options))
            if not left:
                return rows
    rows.extend(error_row(k, ImageLoadError(k, f"no such member in the tar shard {shard}", kind="missing"))
                for k in sorted(left))
    return rows


def _hash_shards(shards: Sequence[str], options: dict, storage_options: dict | None = None,
                 extensions: frozenset[str] | None = None) -> list[dict]:
    """Hash every image member of some tar shards, each streamed once (this runs on the worker)."""
    from .shards import iter_members  # noqa: PLC0415

    rows = []
    for shard in shards:
        for key, data in iter_members(shard, extensions=extensions, storage_options=storage_options):
            if isinstance(data, ImageLoadError):
                rows.append(error_row(key, data))
            elif data is not None:
                rows.append(hash_file(key, data=data, **options))
    return rows


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def hash_images(
    source: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    method: str = "dhash",
    hash_size: int = 8,
    workers: int | None = None,
    executor: Executor | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    exact: bool = False,
    trim: bool | None = None,
    dihedral: bool = False,
    extensions: Iterable[str] | None = None,
    progress: bool | None = None,
    chunk_size: int | None = None,
    cache: str | os.PathLike | bool | None = None,
    storage_options: Mapping | None = None,
    column: str | None = None,
    key: str | None = None,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Hash all images in a folder (recursively), in a list of files, or in a table of image bytes.

    Parameters
    ----------
    source
        A folder, one file, or an iterable of file paths; or the same behind
        any fsspec URL: a bucket or prefix (``"s3://bucket/train/"``,
        ``gs://``, ``az://``, an ``https://`` index page, ``file://``),
        listed as a folder is, each object read once into memory
        (:mod:`dedupkit.sources`); or tar shards, local or behind a URL, with
        shell braces (``"shards/{00000..00099}.tar"``), each streamed once,
        a row per image member keyed ``shard.tar/member``
        (:mod:`dedupkit.shards`).
        Or a table whose ``column`` holds image bytes or Hugging Face's
        ``{"bytes", "path"}`` structs: a pandas ``DataFrame``, an Arrow table,
        a Hugging Face ``datasets.Dataset``, a ``.parquet`` file or a folder of
        Parquet files, local or behind a URL (:mod:`dedupkit.bytes_table`; read
        ``batch_size`` rows at a time).
    method
        ``"dhash"`` (default), ``"dhash_vertical"``, ``"phash"``, ``"ahash"``
        or ``"whash"``.
    hash_size
        8 for 64-bit hashes (default), 16 for 256-bit hashes.
    workers
        Processes to use; ``None`` uses every core, ``1`` works in this process.
    executor
        Any :class:`concurrent.futures.Executor` to run the work instead of a
        local process pool, e.g. ``distributed.Client(...).get_executor()`` to
        hash on a Dask cluster. Only keys travel: each worker reads its own
        objects or shards from a URL (no shared file system needed) and sends
        back about 100 bytes per image; local files must be at the same paths
        on every worker.
    max_pixels
        Images with more pixels get an error row instead of being decoded
        (decompression-bomb guard).
    exact
        Decode JPEGs at full resolution so hashes are bit-identical to
        imagehash on the full image (slower). See :func:`hash_file`.
    trim
        Cut plain borders, padding, letterbox bars, a plain canvas around the
        picture and caption bars before hashing (:func:`dedupkit.trim.trim_borders`),
        so that framed copies hash like the picture. Photos without such a
        frame are hashed as they are. Default (``None``): on, except with
        ``exact=True``, which then gives imagehash's bits for the whole image.
        Measured on 38 kinds of edits it costs no precision and finds 95-100%
        of framed copies instead of about 28% (``benchmarks/README.md``).
    dihedral
        Also hash the 8 orientations of each image (turns and mirror images)
        into a ``hash_dihedral`` column, for
        :func:`dedupkit.find_pairs_dihedral` and :func:`dedupkit.search_dihedral`.
    extensions
        File endings taken from a folder; default: common image formats.
        Files left out are listed in ``result.attrs["skipped"]``.
    progress
        Show a progress bar; default: only for more than 200 files.
    chunk_size
        Files per task sent to a worker; also how often the cache is written.
        Default: 64, or fewer for a small scan, so that each local worker gets
        at least 16 tasks and all finish at about the same time. On a cluster
        a few hundred spares the scheduler.
    cache
        Keep hashes in a Parquet file so that the next scan hashes only new or
        changed files (see :mod:`dedupkit.cache`; an object behind a URL is
        known by its URL, size and ETag or version, a tar shard's member by
        the shard's size and modification time or ETag and its name, and an
        unchanged shard is not read again). ``None`` (default) or
        ``False``: no cache. ``True``: ``.dedupkit-cache.parquet`` in the
        scanned folder. A path: that file (or that folder's
        ``.dedupkit-cache.parquet``). A file is taken from the cache when its
        path, size and modification time and all hashing options match. Each
        finished chunk is saved at once, so an interrupted scan resumes where
        it stopped. If the cache cannot be written, the scan goes on without it
        (with a warning). Not for tables.
    storage_options
        For a URL (a table's too): passed to its fsspec filesystem (credentials,
        ``{"endpoint_url": ...}`` in ``client_kwargs`` for S3, ``anon=True``);
        by default the filesystem reads its environment variables. Remembered
        in this process for later reads of the same bucket (thumbnails,
        verification) and sent to the workers with the keys.
    column
        A table's column of image bytes; default ``"image"``. Giving it makes
        ``source`` a table.
    key
        A table's column that names each row (e.g. ``"id"``), kept in ``path``;
        default: the row number (0, 1, ...).
    batch_size
        A table's rows read at once (default 256): memory grows with it, not
        with the table.

    Returns
    -------
    pandas.DataFrame
        One row per file, sorted by path, with columns ``path``, ``hash`` (hex
        string, missing on error), ``width``, ``height`` (as displayed),
        ``format``, ``bytes`` and ``error`` (missing when the file was hashed).
        With ``dihedral=True``, also ``hash_dihedral`` (the 8 orientations'
        hashes, joined). Then how the table was made, the same on every row
        (:mod:`dedupkit.tables`): ``method``, ``hash_size``, ``trim`` (resolved:
        True or False) and ``exact``; they go wherever the table is saved, and
        tables or indexes made otherwise refuse to be compared with it.
        ``attrs`` holds ``skipped``, ``hashed`` (files hashed by this call)
        and ``cached`` (rows taken from the cache).
        For a table: one row per table row, in the table's order, its key in
        ``path``; ``attrs["images"]`` says where the bytes are
        (:func:`dedupkit.bytes_table.hash_table`).

    Raises
    ------
    FileNotFoundError
        ``source`` is a folder, file, bucket or prefix that does not exist.
    PermissionError
        Listing a URL was refused (the message says which credentials are read).
    ValueError
        Unknown ``method``, bad ``hash_size`` or ``workers``.

    Examples
    --------
    >>> hashes = hash_images("data/sample")  # doctest: +SKIP
    >>> hashes[hashes.error.notna()]  # the files that could not be read  # doctest: +SKIP
    >>> hashes = hash_images("s3://bucket/train/", storage_options={"anon": True})  # doctest: +SKIP
    >>> hashes = hash_images("shards/{00000..00099}.tar")  # doctest: +SKIP
    >>> hashes = hash_images("train.parquet", column="image", key="id")  # doctest: +SKIP
    """
    check_method(method, hash_size)
    workers = check_int(workers, "workers", low=1, none=True)
    chunk_size = check_int(chunk_size, "chunk_size", low=1, none=True)
    from .bytes_table import hash_table, is_table_source  # noqa: PLC0415 - tables of image bytes

    if column is not None or key is not None or is_table_source(source):
        if cache not in (None, False):
            raise ValueError("cache= keeps the hashes of files by path, size and time; a table's rows have no "
                             "such stamp: drop cache= for a table source")
        return hash_table(source, column=column or "image", key=key, method=method, hash_size=hash_size,
                          workers=workers, executor=executor, max_pixels=max_pixels, exact=exact, trim=trim,
                          dihedral=dihedral, progress=progress, chunk_size=chunk_size, batch_size=batch_size,
                          storage_options=storage_options)
    source, files, skipped, states, task = _plan(source, extensions, storage_options, cache)
    if skipped:
        logger.info("skipped %d files that are not images by their extension", len(skipped))
    trim = resolve_trim(trim, exact)
    options = {"method": method, "hash_size": hash_size, "max_pixels": max_pixels, "exact": exact,
               "trim": trim, "dihedral": dihedral}
    cache_path = resolve_cache_path(cache, source)
    store = HashCache(cache_path, {**options, "hasher": _HASHER_VERSION}) if cache_path is not None else None
    rows: list[dict] = []
    to_hash = files
    shards = task.func is _hash_shards if isinstance(task, partial) else False
    if store is not None:
        rows, to_hash = store.lookup_shards(files, states=states) if shards else store.lookup(files, states=states)
    cached = len(rows)
    show = progress if progress is not None else len(to_hash) > _PROGRESS_FROM
    bar = tqdm(total=len(to_hash), desc="hashing", unit="shard" if shards else "img", disable=not show)
    finished = False
    chunks = None
    try:
        n_workers = workers or os.cpu_count() or 1
        size = chunk_size or (1 if shards else _auto_chunk(len(to_hash), n_workers))
        if executor is None and (n_workers == 1 or len(to_hash) < (2 if shards else _SERIAL_BELOW)):
            chunks = _run_here(task, to_hash, options, chunk_size or (1 if shards else _CHUNK), bar)
        elif executor is not None:
            chunks = _run(executor, task, to_hash, options, size, bar)
        else:
            pool = process_pool(n_workers)
            chunks = _run(pool, task, to_hash, options, size, bar, owned=True)
        for chunk_rows in chunks:
            rows.extend(chunk_rows)
            if store is not None:
                store.record(chunk_rows)
        finished = True
    finally:
        if chunks is not None:
            chunks.close()  # cancels what is left and stops a pool of our own
        bar.close()
        if store is not None:
            store.close(compact=finished)  # an interrupted scan keeps its journal for the next one
    table = _to_frame(rows, dihedral=dihedral)
    table = with_hash_settings(table, method=method, hash_size=int(hash_size), trim=trim, exact=bool(exact))
    table.attrs.update(skipped=skipped, hashed=len(to_hash), cached=cached)
    return table


def _auto_chunk(n_files: int, n_workers: int) -> int:
    """64 files per task, or fewer so that every worker gets 16 tasks (they finish together)."""
    return max(1, min(_CHUNK, n_files // (16 * n_workers)))


def _plan(source, extensions, storage_options, cache):
    """What to hash and how: ``(source, keys, skipped, states, task)``, by the kind of source.

    ``states`` is what a cache knows each key by (``None``: local files, looked
    up on disk); ``task(keys, options)`` hashes a chunk of keys on a worker.
    """
    from . import sources  # noqa: PLC0415 - fsspec, braceexpand: only for URLs and shards

    if sources.is_url(source) and sources.local_path(source) is not None:
        source = sources.local_path(source)  # file://: a local folder, cached by modification time
    if isinstance(source, str) and sources.is_url(source):
        sources.remember_storage_options(source, storage_options)
    if is_shard_pattern(source):
        from .shards import expand_shards  # noqa: PLC0415

        task = partial(_hash_shards, storage_options=storage_options, extensions=_normalize_extensions(extensions))
        shards = expand_shards(source)
        states = _shard_states(shards, storage_options) if cache not in (None, False) else {}
        return source, shards, [], states, task
    if isinstance(source, str) and sources.is_url(source):
        files, skipped, states = sources.list_objects(
            source, extensions=_normalize_extensions(extensions), storage_options=storage_options)
        return source, files, skipped, states, partial(_hash_objects, storage_options=storage_options)
    files, skipped = list_images(source, extensions=extensions)
    if any(sources.is_url(f) or split_member(f)[0] is not None for f in files):  # URLs or shard members
        for url in {f for f in files if sources.is_url(f)}:
            sources.remember_storage_options(url, storage_options)
        states = _list_states(files, storage_options) if cache not in (None, False) else {}
        return source, files, skipped, states, partial(_hash_objects, storage_options=storage_options)
    return source, files, skipped, None, _hash_chunk




def _shard_states(shards: Sequence[str], storage_options) -> dict:
    """``(size, version)`` of each shard, for the cache (a stat, or one metadata request, per shard)."""
    from .shards import shard_state  # noqa: PLC0415

    return {shard: shard_state(shard, storage_options=storage_options) for shard in shards}


def _list_states(keys: Sequence[str], storage_options) -> dict:
    """``(size, version)`` of the URLs and shard members of a list, for the cache (local files: looked up later)."""
    from .sources import object_states  # noqa: PLC0415

    states = object_states([k for k in keys if is_url(k)], storage_options=storage_options)
    members = {key: shard for key in keys if (shard := split_member(key)[0]) is not None}
    shards = _shard_states(sorted(set(members.values())), storage_options)
    for key, shard in members.items():
        if shards[shard] is not None:
            states[key] = shards[shard]
    return states


def _run_here(task, files: list[str], options: dict, chunk_size: int, bar) -> Iterator[list[dict]]:
    for chunk in _chunks(files, chunk_size):
        if task is not _hash_chunk:
            chunk_rows = task(chunk, options)
            bar.update(len(chunk))
            yield chunk_rows
            continue
        chunk_rows = []
        for path in chunk:
            chunk_rows.append(hash_file(path, **options))
            bar.update()
        yield chunk_rows


def _run(executor: Executor, task, files: list[str], options: dict, chunk_size: int, bar,
         owned: bool = False) -> Iterator[list[dict]]:
    futures = {}
    try:
        for chunk in _chunks(files, chunk_size):
            futures[executor.submit(task, chunk, options)] = len(chunk)
        for future in as_completed(futures):  # the table is sorted at the end
            chunk_rows = future.result()
            bar.update(futures[future])
            yield chunk_rows
    finally:
        for future in futures:
            future.cancel()
        if owned:
            executor.shutdown(wait=True, cancel_futures=True)


def _to_frame(rows: list[dict], *, dihedral: bool = False) -> pd.DataFrame:
    columns = [*HASH_COLUMNS, "hash_dihedral"] if dihedral else list(HASH_COLUMNS)
    table = typed(pd.DataFrame.from_records(rows, columns=columns))
    return table.sort_values("path", ignore_index=True)

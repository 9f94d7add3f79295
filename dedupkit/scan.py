"""Hash every image in a folder (or a list of files) into one table.

One row per file, always: a file that cannot be hashed keeps its row, with the
reason in ``error``, and the scan goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path

import imagehash
import pandas as pd
from tqdm.auto import tqdm

from ._checks import check_int
from .cache import HashCache, resolve_cache_path
from .fastpath import fast_draft_size, fast_hash_hex, prepare, reduce_like_jpeg
from .hashing import check_method, dihedral_hex, hash_hex
from .loading import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, ImageLoadError, decode_image
from .tables import HASH_COLUMNS, resolve_trim, typed, with_hash_settings
from .trim import trim_borders, trim_box

__all__ = ["HASH_COLUMNS", "hash_file", "hash_images", "list_images"]

logger = logging.getLogger(__name__)

_PROGRESS_FROM = 200  # files; below this the bar is off unless asked for
_SERIAL_BELOW = 64  # files; below this starting processes costs more than it saves
_CHUNK = 64  # files per task at most, by default
# Part of every cache key: bump when hash_file's output changes for the same file and options.
_HASHER_VERSION = f"2/imagehash-{getattr(imagehash, '__version__', '?')}"


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


def hash_file(
    path: str | os.PathLike,
    *,
    method: str = "dhash",
    hash_size: int = 8,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    exact: bool = False,
    trim: bool | None = None,
    dihedral: bool = False,
) -> dict:
    """Hash one file into a row of the hash table; never raises for a bad file.

    Parameters
    ----------
    path
        The image file.
    method, hash_size
        See :func:`dedupkit.hash_images`.
    max_pixels
        Decompression-bomb guard: larger images get an error row.
    exact
        Decode at full resolution, so the hash is bit-identical to imagehash on
        the fully decoded image. By default (the fast path) JPEGs are decoded
        in greyscale at a reduced scale (libjpeg DCT scaling, 1/2 to 1/8),
        keeping at least 12 pixels per hash cell, and any other image is
        brought to the same grey working image by box means
        (:func:`dedupkit.fastpath.reduce_like_jpeg`), so that a JPEG and a PNG
        of its pixels hash alike (the same bits for 96% of photos, never more
        than 1 bit apart without a frame, ``tests/test_identical_pixels.py``);
        then shrunk by the same LANCZOS filter as imagehash's, kept in floating
        point, and ``whash`` works on a square of at most 16 pixels per cell
        instead of imagehash's image-size-dependent one
        (:mod:`dedupkit.fastpath`). That is 4-7x faster per core for photos
        of 1080p and up, and on average within about half a bit (of 64) of the
        exact hash, rarely more than 2 (``benchmarks/README.md``; up to 7 on
        flat textures, where imagehash's own rounding decides).
    trim, dihedral
        See :func:`dedupkit.hash_images`.

    Returns
    -------
    dict
        One row with the keys of :data:`HASH_COLUMNS`; a file that cannot be
        read also has ``error_kind`` (the :class:`ImageLoadError` ``kind``).
    """
    path = os.fspath(path)
    row = dict.fromkeys(HASH_COLUMNS)
    row["path"] = path
    try:
        row["bytes"] = os.stat(path).st_size
    except OSError:
        pass
    try:
        draft = None if exact else fast_draft_size(hash_size)
        decoded = decode_image(path, max_pixels=max_pixels, draft_size=draft)
        image = decoded.image
        if not exact and image.size == (decoded.width, decoded.height):  # not scaled by libjpeg: scale alike
            image = reduce_like_jpeg(image, draft)
        scale = max(decoded.width, decoded.height) / max(image.size)  # full size / working size
        if exact or dihedral:
            image = trim_borders(image) if resolve_trim(trim, exact) else image
        if exact:
            row["hash"] = hash_hex(image, method=method, hash_size=hash_size)
        elif dihedral:  # the 8 turns of one image that imagehash shrinks (see dedupkit.fastpath)
            image = prepare(image, method, hash_size, scale=scale, square_only=True)
            row["hash"] = hash_hex(image, method=method, hash_size=hash_size)
        else:  # shrink as imagehash would, cheaper; a frame cut to a fraction of a pixel (see dedupkit.fastpath)
            box = trim_box(image, subpixel=True) if resolve_trim(trim, exact) else None
            row["hash"] = fast_hash_hex(image, method, hash_size, scale=scale, box=box)
        if dihedral:
            row["hash_dihedral"] = dihedral_hex(image, method=method, hash_size=hash_size)
        row["width"], row["height"], row["format"] = decoded.width, decoded.height, decoded.format
    except ImageLoadError as exc:
        row["error"], row["error_kind"] = exc.reason, exc.kind
    except Exception as exc:  # noqa: BLE001 - one odd file must not end a scan
        logger.warning("unexpected error hashing %s", path, exc_info=True)
        row["error"] = f"unexpected error ({type(exc).__name__}: {exc})"
    return row


def _hash_chunk(paths: Sequence[str], options: dict) -> list[dict]:
    return [hash_file(p, **options) for p in paths]


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
) -> pd.DataFrame:
    """Hash all images in a folder (recursively) or in a list of files.

    Parameters
    ----------
    source
        A folder, one file, or an iterable of file paths.
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
        hash on a Dask cluster (every worker must see the files at the same
        paths; the table comes back to this process).
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
        changed files (see :mod:`dedupkit.cache`). ``None`` (default) or
        ``False``: no cache. ``True``: ``.dedupkit-cache.parquet`` in the
        scanned folder. A path: that file (or that folder's
        ``.dedupkit-cache.parquet``). A file is taken from the cache when its
        path, size and modification time and all hashing options match. Each
        finished chunk is saved at once, so an interrupted scan resumes where
        it stopped. If the cache cannot be written, the scan goes on without it
        (with a warning).

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

    Raises
    ------
    FileNotFoundError
        ``source`` is a folder or file that does not exist.
    ValueError
        Unknown ``method``, bad ``hash_size`` or ``workers``.

    Examples
    --------
    >>> hashes = hash_images("data/sample")  # doctest: +SKIP
    >>> hashes[hashes.error.notna()]  # the files that could not be read  # doctest: +SKIP
    """
    check_method(method, hash_size)
    workers = check_int(workers, "workers", low=1, none=True)
    chunk_size = check_int(chunk_size, "chunk_size", low=1, none=True)
    files, skipped = list_images(source, extensions=extensions)
    if skipped:
        logger.info("skipped %d files that are not images by their extension", len(skipped))
    trim = resolve_trim(trim, exact)
    options = {"method": method, "hash_size": hash_size, "max_pixels": max_pixels, "exact": exact,
               "trim": trim, "dihedral": dihedral}
    cache_path = resolve_cache_path(cache, source)
    store = HashCache(cache_path, {**options, "hasher": _HASHER_VERSION}) if cache_path is not None else None
    rows: list[dict] = []
    to_hash = files
    if store is not None:
        rows, to_hash = store.lookup(files)
    cached = len(rows)
    show = progress if progress is not None else len(to_hash) > _PROGRESS_FROM
    bar = tqdm(total=len(to_hash), desc="hashing", unit="img", disable=not show)
    finished = False
    chunks = None
    try:
        n_workers = workers or os.cpu_count() or 1
        if executor is None and (n_workers == 1 or len(to_hash) < _SERIAL_BELOW):
            chunks = _run_here(to_hash, options, chunk_size or _CHUNK, bar)
        elif executor is not None:
            chunks = _run(executor, to_hash, options, chunk_size or _auto_chunk(len(to_hash), n_workers), bar)
        else:
            pool = ProcessPoolExecutor(max_workers=n_workers)
            chunks = _run(pool, to_hash, options, chunk_size or _auto_chunk(len(to_hash), n_workers), bar,
                          owned=True)
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


def _run_here(files: list[str], options: dict, chunk_size: int, bar) -> Iterator[list[dict]]:
    for chunk in _chunks(files, chunk_size):
        chunk_rows = []
        for path in chunk:
            chunk_rows.append(hash_file(path, **options))
            bar.update()
        yield chunk_rows


def _run(executor: Executor, files: list[str], options: dict, chunk_size: int, bar,
         owned: bool = False) -> Iterator[list[dict]]:
    futures = []
    try:
        futures.extend(executor.submit(_hash_chunk, chunk, options) for chunk in _chunks(files, chunk_size))
        for future in as_completed(futures):  # the table is sorted at the end
            chunk_rows = future.result()
            bar.update(len(chunk_rows))
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

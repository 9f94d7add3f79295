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

import pandas as pd
from tqdm.auto import tqdm

from .dihedral import dihedral_hex
from .hashing import check_method, hash_hex
from .loading import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, ImageLoadError, decode_image
from .trim import trim_borders

__all__ = ["HASH_COLUMNS", "hash_file", "hash_images", "list_images"]

logger = logging.getLogger(__name__)

#: The columns of a hash table, in order.
HASH_COLUMNS = ("path", "hash", "width", "height", "format", "bytes", "error")

_PROGRESS_FROM = 200  # files; below this the bar is off unless asked for
_SERIAL_BELOW = 64  # files; below this starting processes costs more than it saves


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
    trim: bool = False,
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
        the fully decoded image. By default JPEGs are decoded at a reduced scale
        (libjpeg DCT scaling), several times faster and almost always within a
        bit or two of the exact hash.
    trim, dihedral
        See :func:`dedupkit.hash_images`.

    Returns
    -------
    dict
        One row with the keys of :data:`HASH_COLUMNS`.
    """
    path = os.fspath(path)
    row = dict.fromkeys(HASH_COLUMNS)
    row["path"] = path
    try:
        row["bytes"] = os.stat(path).st_size
    except OSError:
        pass
    try:
        decoded = decode_image(
            path, max_pixels=max_pixels, draft_size=None if exact else max(64, 8 * hash_size)
        )
        image = trim_borders(decoded.image) if trim else decoded.image
        row["hash"] = hash_hex(image, method=method, hash_size=hash_size)
        if dihedral:
            row["hash_dihedral"] = dihedral_hex(image, method=method, hash_size=hash_size)
        row["width"], row["height"], row["format"] = decoded.width, decoded.height, decoded.format
    except ImageLoadError as exc:
        row["error"] = exc.reason
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
    trim: bool = False,
    dihedral: bool = False,
    extensions: Iterable[str] | None = None,
    progress: bool | None = None,
    chunk_size: int = 64,
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
        Any :class:`concurrent.futures.Executor` (e.g. a Dask client's
        ``get_executor()``) to run the work instead of a local process pool.
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
        frame are hashed as they are.
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
        Files per task sent to a worker.

    Returns
    -------
    pandas.DataFrame
        One row per file, sorted by path, with columns ``path``, ``hash`` (hex
        string, missing on error), ``width``, ``height`` (as displayed),
        ``format``, ``bytes`` and ``error`` (missing when the file was hashed).
        ``attrs`` holds ``method``, ``hash_size`` and ``skipped``.

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
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    files, skipped = list_images(source, extensions=extensions)
    if skipped:
        logger.info("skipped %d files that are not images by their extension", len(skipped))
    options = {"method": method, "hash_size": hash_size, "max_pixels": max_pixels, "exact": exact,
               "trim": trim, "dihedral": dihedral}
    show = progress if progress is not None else len(files) > _PROGRESS_FROM
    bar = tqdm(total=len(files), desc="hashing", unit="img", disable=not show)
    rows: list[dict] = []
    try:
        n_workers = workers or os.cpu_count() or 1
        if executor is None and (n_workers == 1 or len(files) < _SERIAL_BELOW):
            for path in files:
                rows.append(hash_file(path, **options))
                bar.update()
        elif executor is not None:
            rows.extend(_run(executor, files, options, chunk_size, bar))
        else:
            with ProcessPoolExecutor(max_workers=n_workers) as pool:
                rows.extend(_run(pool, files, options, chunk_size, bar))
    finally:
        bar.close()
    table = _to_frame(rows, dihedral=dihedral)
    table.attrs.update(method=method, hash_size=hash_size, skipped=skipped, trim=trim)
    return table


def _run(executor: Executor, files: list[str], options: dict, chunk_size: int, bar) -> Iterator[dict]:
    futures = [executor.submit(_hash_chunk, chunk, options) for chunk in _chunks(files, chunk_size)]
    try:
        for future in as_completed(futures):  # the table is sorted at the end
            chunk_rows = future.result()
            bar.update(len(chunk_rows))
            yield from chunk_rows
    finally:
        for future in futures:
            future.cancel()


def _to_frame(rows: list[dict], *, dihedral: bool = False) -> pd.DataFrame:
    columns = [*HASH_COLUMNS, "hash_dihedral"] if dihedral else list(HASH_COLUMNS)
    table = pd.DataFrame.from_records(rows, columns=columns)
    if dihedral:
        table["hash_dihedral"] = table["hash_dihedral"].astype("string")
    for column in ("width", "height", "bytes"):
        table[column] = table[column].astype("Int64")
    for column in ("path", "hash", "format", "error"):
        table[column] = table[column].astype("string")
    return table.sort_values("path", ignore_index=True)

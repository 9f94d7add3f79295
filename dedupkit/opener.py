"""Where an image named by a key is read from: a file, or the bytes of a table row.

Every image dedupkit opens by its key (to hash it, verify a pair, draw a
thumbnail, explain a match, pick the file to keep) is opened by
:func:`dedupkit.loading.open_image`, which asks :func:`image_file` what to
read. A key is a file path, unless a source of image bytes is being read
from (:func:`reading_images`): then a key that source holds opens from its
bytes. Sources are :class:`dict`-like (``get(key, default)``): a plain
``{key: bytes}`` mapping, or :class:`dedupkit.bytes_table.TableImages` (the rows
of a Parquet dataset or an in-memory table, fetched by a filter on the key
column).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from .loading import ImageLoadError

__all__ = ["image_file", "reading_images"]


class ImageSource(Protocol):
    """Anything with ``get(key, default)`` giving an image's bytes, a file path, or ``None`` for a row without one."""

    def get(self, key: str, default: Any = None) -> Any: ...


_SOURCES: list[ImageSource] = []  # being read from, the latest last; shared by threads (each process has its own)
_THREAD = threading.local()  # sources of this thread only (its .sources), looked at first
_ABSENT = object()


@contextlib.contextmanager
def reading_images(source: ImageSource, *, this_thread: bool = False) -> Iterator[ImageSource]:
    """Open the keys ``source`` holds from their bytes while the ``with`` block runs.

    Parameters
    ----------
    source
        ``{key: bytes}``, or any object with ``get(key, default)``: e.g.
        :func:`dedupkit.bytes_table.table_images` for a table of image bytes.
    this_thread
        Only for this thread (and before any source of all threads): two
        threads hashing rows with the same key each open their own bytes.
        By default every thread opens them (verification works on threads).

    Examples
    --------
    >>> from dedupkit.loading import ImageLoadError, load_image
    >>> with reading_images({"row-7": b""}):
    ...     load_image("row-7")
    Traceback (most recent call last):
    ...
    dedupkit.loading.ImageLoadError: row-7: empty image (0 bytes)
    """
    if this_thread and not hasattr(_THREAD, "sources"):
        _THREAD.sources = []
    sources = _THREAD.sources if this_thread else _SOURCES
    sources.append(source)
    try:
        yield source
    finally:
        sources.remove(source)  # by identity: other threads' sources stay


def image_file(path: str | os.PathLike) -> str | os.PathLike | io.BytesIO:
    """What to read for the image named ``path``: the file itself, or a key's bytes.

    Parameters
    ----------
    path
        A file path, or a key of a source being read from (:func:`reading_images`).

    Returns
    -------
    str, os.PathLike or io.BytesIO
        ``path`` unchanged when no source holds it; otherwise the key's bytes
        (the source read latest wins), or the file its row names.

    Raises
    ------
    ImageLoadError
        A source holds the key, but its row has no image (null) or an empty one.
    """
    local = getattr(_THREAD, "sources", ())
    if not _SOURCES and not local:
        return path
    key = os.fspath(path)
    for source in [*reversed(local), *reversed(list(_SOURCES))]:
        data = source.get(key, _ABSENT)
        if data is _ABSENT:
            continue
        if data is None:
            raise ImageLoadError(key, "no image in this row (the image column is null)")
        if isinstance(data, (str, os.PathLike)):  # the row names a file (a Hugging Face struct without bytes)
            return data
        if len(data) == 0:
            raise ImageLoadError(key, "empty image (0 bytes)")
        return io.BytesIO(data)
    return path

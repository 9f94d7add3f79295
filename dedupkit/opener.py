"""Where the image a key names is read from: a file, a URL, a tar shard member, or a table row's bytes.

A **key** is what a hash table's ``path`` column holds. Every image dedupkit
opens by its key (to hash it, verify a pair, draw a thumbnail, explain a
match, pick the file to keep) is opened by
:func:`dedupkit.loading.open_image`, which asks :func:`image_file` what to
read. A key is, in this order of precedence:

- a key held by a source of image bytes being read from
  (:func:`reading_images`): that row's bytes, or the file (or URL) its row
  names. Sources are :class:`dict`-like (``get(key, default)``): a plain
  ``{key: bytes}`` mapping, or :class:`dedupkit.bytes_table.TableImages` (the
  rows of a Parquet dataset or an in-memory table, fetched by a filter on the
  key column);
- a member of a tar shard, ``shards/00001.tar/cat/0001.jpg``: streamed from its
  shard (:func:`dedupkit.shards.read_member`);
- a URL (``s3://bucket/a.jpg``): read whole into memory, with retries
  (:func:`dedupkit.sources.read_object`); a ``file://`` URL is its local path;
- anything else: a local file path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from ._keys import is_url, split_member
from .load_errors import ImageLoadError
from .shards import read_member
from .sources import local_path, read_object

__all__ = ["image_file", "reading_images"]


class ImageSource(Protocol):
    """Anything with ``get(key, default)`` giving an image's bytes, a file path, or ``None`` for a row without one."""

    def get(self, key: str, default: Any = None) -> Any: ...


_SOURCES: list[ImageSource] = []  # being read from, the latest last; shared by threads (each process has its own)
_ABSENT = object()


@contextlib.contextmanager
def reading_images(source: ImageSource) -> Iterator[ImageSource]:
    """Open the keys ``source`` holds from their bytes while the ``with`` block runs (in every thread).

    Parameters
    ----------
    source
        ``{key: bytes}``, or any object with ``get(key, default)``: e.g.
        :func:`dedupkit.bytes_table.table_images` for a table of image bytes.

    Examples
    --------
    >>> from dedupkit.loading import load_image
    >>> with reading_images({"row-7": b""}):
    ...     load_image("row-7")
    Traceback (most recent call last):
    ...
    dedupkit.load_errors.ImageLoadError: row-7: empty image (0 bytes)
    """
    _SOURCES.append(source)
    try:
        yield source
    finally:
        _SOURCES.remove(source)  # by identity: other sources stay


def image_file(
    key: str | os.PathLike, *, fetch: bool = True, storage_options: Mapping | None = None
) -> str | bytes:
    """What to read for the image named ``key``: a local file's path, or the image's bytes.

    Parameters
    ----------
    key
        A file path, a URL, a tar shard member or a key of a source being read
        from (see the module docstring).
    fetch
        Read a URL's or a shard member's bytes. ``False`` returns such a key
        as it is: where an image is, without reading it.
    storage_options
        For a URL or a shard behind one (default: those remembered for its
        bucket, :func:`dedupkit.sources.remember_storage_options`).

    Returns
    -------
    str or bytes
        A local path (``key`` itself, the path of a ``file://`` URL, or the
        file a table row names), or the image's bytes (a table row's, a URL's,
        a shard member's).

    Raises
    ------
    ImageLoadError
        A source holds the key but its row has no image (null) or an empty
        one; or a URL or shard member cannot be read (missing, refused, kept
        failing).
    """
    key = os.fspath(key)
    for source in reversed(list(_SOURCES)):  # the source read latest wins
        data = source.get(key, _ABSENT)
        if data is _ABSENT:
            continue
        if data is None:
            raise ImageLoadError(key, "no image in this row (the image column is null)", kind="empty")
        if isinstance(data, (str, os.PathLike)):  # the row names a file (a Hugging Face struct without bytes)
            key = os.fspath(data)
            break
        if len(data) == 0:
            raise ImageLoadError(key, "empty image (0 bytes)", kind="empty")
        return data
    shard, member = split_member(key)
    if shard is not None:
        return read_member(shard, member, storage_options=storage_options) if fetch else key
    if is_url(key):
        local = local_path(key)
        if local is not None:
            return local
        return read_object(key, storage_options=storage_options) if fetch else key
    return key

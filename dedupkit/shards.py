"""Images inside tar shards (WebDataset's layout), local or behind a URL.

``hash_images("shards/{00000..00099}.tar")`` expands the braces as a shell
does (:func:`expand_shards`), then reads each shard once, front to back
(:func:`tarfile.open` in stream mode, so an object store serves it as one
sequential download). Each image member becomes a row whose key is
``<shard>/<member>``, e.g. ``shards/00007.tar/cats/0001.jpg``;
:func:`read_member` opens such a key again (for thumbnails, the report and
pair verification) by streaming its shard up to that member.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator, Mapping

from ._keys import SHARD_SUFFIXES, is_shard_pattern, is_url, split_member
from .load_errors import ImageLoadError
from .sources import filesystem, local_path, object_version

__all__ = ["SHARD_SUFFIXES", "expand_shards", "is_shard_pattern", "iter_members", "read_member", "shard_state",
           "split_member"]

def expand_shards(pattern: str) -> list[str]:
    """The shards a pattern names, braces expanded as a shell does, in order.

    Examples
    --------
    >>> expand_shards("shards/{00000..00002}.tar")
    ['shards/00000.tar', 'shards/00001.tar', 'shards/00002.tar']
    >>> expand_shards("s3://bucket/{train,test}-0.tar")
    ['s3://bucket/train-0.tar', 's3://bucket/test-0.tar']
    """
    from braceexpand import braceexpand  # noqa: PLC0415

    return list(dict.fromkeys(braceexpand(pattern)))


def shard_state(shard: str, *, storage_options: Mapping | None = None) -> tuple[int, str] | None:
    """``(size, version)`` by which the hash cache knows a shard unchanged, or ``None`` if it cannot be asked.

    A local shard: its size and modification time (nanoseconds); behind a URL:
    its size and ETag (or version id, generation), one metadata request.
    """
    path = local_path(shard) if is_url(shard) else shard
    try:
        if path is not None:
            st = os.stat(path)
            return st.st_size, f"mtime_ns:{st.st_mtime_ns}"
        fs, inner = filesystem(shard, storage_options)
        fs.invalidate_cache(inner)  # a listing kept from before would hide a rewritten shard
        info = fs.info(inner)
    except Exception:  # noqa: BLE001 - missing, refused, offline: the scan reports it when it reads the shard
        return None
    return int(info.get("size") or 0), object_version(info)


def _open(shard: str, storage_options: Mapping | None):
    path = local_path(shard) if is_url(shard) else shard
    if path is not None:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller's with
    fs, inner = filesystem(shard, storage_options)
    return fs.open(inner, "rb", block_size=8 * 2**20, cache_type="readahead")


def iter_members(
    shard: str, *, extensions: frozenset[str] | None = None, storage_options: Mapping | None = None
) -> Iterator[tuple[str, bytes | ImageLoadError | None]]:
    """Stream a shard once, yielding ``(key, bytes)`` per image member.

    A member left out by ``extensions`` gives ``(key, None)`` (hidden members,
    folders and links give nothing). A shard that cannot be opened, or breaks
    off part way, gives ``(shard, ImageLoadError)`` and ends.
    """
    try:
        handle = _open(shard, storage_options)
    except FileNotFoundError:
        yield shard, ImageLoadError(shard, "tar shard not found", kind="missing")
        return
    except PermissionError as exc:
        yield shard, ImageLoadError(shard, f"permission denied: the tar shard cannot be read ({exc})",
                                    kind="permission")
        return
    except Exception as exc:  # noqa: BLE001 - any backend's error becomes the shard's row
        yield shard, ImageLoadError(shard, f"cannot open the tar shard ({type(exc).__name__}: {exc})",
                                    kind="unreadable")
        return
    read = 0
    try:
        with handle, tarfile.open(fileobj=handle, mode="r|*") as archive:
            for member in archive:
                if not member.isfile() or any(p.startswith(".") for p in member.name.split("/")):
                    continue
                key = f"{shard}/{member.name}"
                if extensions is not None and os.path.splitext(member.name)[1].lower() not in extensions:
                    yield key, None
                    continue
                data = archive.extractfile(member).read()
                read += 1
                yield key, data
    except (tarfile.TarError, OSError, EOFError) as exc:
        where = f"after {read} images" if read else "at its start"
        yield shard, ImageLoadError(shard, f"corrupt or truncated tar shard, unreadable {where} ({exc})",
                                    kind="truncated")
    except Exception as exc:  # noqa: BLE001 - a network error part way
        yield shard, ImageLoadError(shard, f"reading the tar shard failed after {read} images "
                                           f"({type(exc).__name__}: {exc})", kind="unreadable")


def read_member(shard: str, member: str, *, storage_options: Mapping | None = None) -> bytes:
    """The bytes of one member of a shard (the shard is streamed up to it).

    Raises
    ------
    ImageLoadError
        The shard cannot be read or has no such member.
    """
    key = f"{shard}/{member}"
    for found, data in iter_members(shard, storage_options=storage_options):
        if isinstance(data, ImageLoadError):
            raise ImageLoadError(key, data.reason, kind=data.kind)
        if found == key:
            return data
    raise ImageLoadError(key, f"no member {member!r} in the tar shard {shard}", kind="missing")

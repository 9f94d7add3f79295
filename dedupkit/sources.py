"""Images behind a URL: list a bucket or folder, read an object's bytes with retries.

Any `fsspec <https://filesystem-spec.readthedocs.io>`_ URL is accepted where a
folder is (``s3://``, ``gs://``, ``az://``, ``http(s)://`` index pages,
``file://``): the filesystem's own package (``s3fs``, ``gcsfs``, ``adlfs``)
must be installed, and ``storage_options`` (credentials, ``endpoint_url``,
``anon=True``) are handed to it unchanged; without them it reads the usual
environment variables and config files (``AWS_ACCESS_KEY_ID``, ...).

An object is read whole into memory, once (:func:`read_object`): the decoder
then works on those bytes (a JPEG at reduced scale, as a local file), and no
step downloads it again. A read that fails for a passing reason (a timeout, a
dropped connection, a 5xx or "slow down" answer) is tried again after a
growing pause; a missing object, a refused permission or a read that keeps
failing becomes an :class:`dedupkit.ImageLoadError` naming the URL, which a
scan turns into an error row.

A URL is one kind of **key** (what a hash table's ``path`` column holds);
:mod:`dedupkit.opener` opens any key (a file, a URL, a tar shard member, a
table row), so thumbnails, the report and pair verification load images from
wherever they were hashed.

Storage options given to :func:`dedupkit.hash_images` are remembered for that
bucket (or host) in this process, so reading the same URLs back later
(verification, thumbnails, the report) uses the same credentials.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

from ._keys import is_url
from .load_errors import ImageLoadError

__all__ = ["is_url", "list_objects", "object_states", "read_object", "read_objects", "remember_storage_options"]

logger = logging.getLogger(__name__)

#: Attempts per object (the first one included) for a read that fails for a passing reason.
ATTEMPTS = 3
BACKOFF = 0.25  # seconds before the second attempt; doubled for each next one
IO_THREADS = 16  # objects read at once per worker process (reads wait on the network, not the CPU)

_LOCAL_PROTOCOLS = ("file", "local")
_remembered: dict[str, dict] = {}  # "s3://bucket" -> storage options given for it in this process


def local_path(url: str) -> str | None:
    """The local path of a ``file://`` URL, or ``None`` for any other URL."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in _LOCAL_PROTOCOLS:
        return None
    from fsspec.implementations.local import LocalFileSystem  # noqa: PLC0415 - fsspec only where URLs are used

    return LocalFileSystem._strip_protocol(url)


def _scope(url: str) -> str:
    """``scheme://bucket`` (or host) of a URL: what remembered storage options apply to."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.lower()}://{rest.split('/', 1)[0]}"


def remember_storage_options(url: str, storage_options: Mapping | None) -> None:
    """Use ``storage_options`` for every later read of the bucket (or host) of ``url`` in this process."""
    if storage_options:
        _remembered[_scope(url)] = dict(storage_options)


def _options(url: str, storage_options: Mapping | None) -> dict:
    if storage_options is not None:
        return dict(storage_options)
    return dict(_remembered.get(_scope(url), {}))


def filesystem(url: str, storage_options: Mapping | None = None):
    """The fsspec filesystem and the path within it for ``url``."""
    from fsspec.core import url_to_fs  # noqa: PLC0415

    try:
        return url_to_fs(url, **_options(url, storage_options))
    except ImportError as exc:  # s3fs, gcsfs, adlfs, aiohttp: installed apart
        raise ImportError(f"{url}: reading this kind of URL needs a package that is not installed ({exc})") from None


def list_objects(
    url: str,
    *,
    extensions: frozenset[str] | None,
    storage_options: Mapping | None = None,
) -> tuple[list[str], list[str], dict[str, tuple[int, str]]]:
    """The image objects under a URL, as a folder is listed.

    Parameters
    ----------
    url
        A prefix ("folder") or one object.
    extensions
        Lower-case endings to take (with the dot), ``None`` for all.
    storage_options
        Passed to the filesystem.

    Returns
    -------
    urls, skipped, states
        Sorted URLs to hash, sorted URLs left out by their extension, and the
        ``(size, version)`` of each URL to hash (version: ETag, version id or
        generation, else the modification time), by which a cache knows it.

    Raises
    ------
    FileNotFoundError
        Nothing is found at ``url``.
    PermissionError
        The listing is refused (wrong or missing credentials).
    """
    fs, root = filesystem(url, storage_options)
    try:
        try:
            found = fs.find(root, detail=True)
            if not found and fs.isfile(root):
                found = {root: fs.info(root)}
        except Exception as exc:  # noqa: BLE001 - adlfs says 403 with its own HttpResponseError
            if _is_refusal(exc) and not isinstance(exc, PermissionError):
                raise PermissionError(_first_line(exc)) from exc
            raise
    except PermissionError as exc:
        raise PermissionError(
            f"{url}: listing refused ({exc}); check the credentials (storage_options key/secret or token, "
            "or the environment variables such as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        ) from None
    except FileNotFoundError:
        found = {}
    if not found:
        raise FileNotFoundError(f"{url}: no such bucket, folder or object (or nothing in it)")
    prefix = root.rstrip("/") + "/"
    urls, skipped, states = [], [], {}
    for name, info in found.items():
        if info.get("type", "file") != "file":
            continue
        relative = name[len(prefix):] if name.startswith(prefix) else name.rsplit("/", 1)[-1]
        if any(part.startswith(".") for part in relative.split("/")):
            continue  # hidden, as in a folder
        full = _url_of(fs, name, url)
        if extensions is None or os.path.splitext(name)[1].lower() in extensions:
            urls.append(full)
            states[full] = (int(info.get("size") or 0), object_version(info))
        else:
            skipped.append(full)
    return sorted(urls), sorted(skipped), states


def _url_of(fs, name: str, given: str) -> str:
    """The URL of a listed object, in the scheme the user gave (``az://`` stays ``az://``, not ``abfs://``)."""
    if "://" in name:  # http(s) listings give whole URLs
        return name
    scheme = given.split("://", 1)[0]
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return f"{scheme}://{name}" if scheme in protocols else fs.unstrip_protocol(name)


def object_states(urls: Iterable[str], *, storage_options: Mapping | None = None) -> dict[str, tuple[int, str]]:
    """``(size, version)`` of each of some URLs (as :func:`list_objects` gives them), by listing their folders.

    One listing per distinct parent folder, not a request per object. A URL
    whose folder cannot be listed or that is not in it is left out (a scan
    then hashes it and does not cache its row).
    """
    by_folder: dict[str, list[str]] = {}
    for url in urls:
        if is_url(url) and local_path(url) is None:
            by_folder.setdefault(url.rsplit("/", 1)[0], []).append(url)
    states: dict[str, tuple[int, str]] = {}
    for folder, wanted in by_folder.items():
        try:
            fs, root = filesystem(folder, storage_options)
            fs.invalidate_cache(root)  # a listing kept from before would hide a rewritten object
            found = {_url_of(fs, info["name"], folder): info for info in fs.ls(root, detail=True)}
        except Exception as exc:  # noqa: BLE001 - not listable: those objects are hashed, not cached
            logger.debug("cannot list %s for the cache: %r", folder, exc)
            continue
        for url in wanted:
            info = found.get(url)
            if info is not None and info.get("type", "file") == "file":
                states[url] = (int(info.get("size") or 0), object_version(info))
    return states


def object_version(info: Mapping) -> str:
    """What changes when an object is rewritten: its version id, ETag or generation, else its modification time."""
    for name in ("VersionId", "version_id", "ETag", "etag", "generation", "md5Hash", "content_md5"):
        value = info.get(name)
        if value:
            return str(value).strip('"')
    for name in ("LastModified", "last_modified", "mtime", "updated", "created"):
        if info.get(name) is not None:
            return f"mtime:{info[name]}"
    return ""


def read_object(url: str, *, storage_options: Mapping | None = None) -> bytes:
    """The whole content of an object behind a URL, or of a local file (a path or a ``file://`` URL).

    A URL is read with up to :data:`ATTEMPTS` attempts, pausing
    ``BACKOFF * 2**n`` seconds after the n-th failure, for timeouts, dropped
    connections and server errors; a missing object or a refused permission
    is not tried again.

    Raises
    ------
    ImageLoadError
        The object is missing, may not be read, or kept failing; the message
        says which and why.
    """
    if not is_url(url) or local_path(url) is not None:
        path = local_path(url) or url
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            raise ImageLoadError(url, "file not found", kind="missing") from None
        except PermissionError:
            raise ImageLoadError(url, "permission denied: the file cannot be read", kind="permission") from None
        except OSError as exc:
            raise ImageLoadError(url, f"cannot read the file ({exc.strerror or exc})", kind="unreadable") from None
    return _with_retries(url, _cat_whole, storage_options)


def _cat_whole(fs, path: str) -> bytes:
    """One object in one request: s3fs would first ask its size (a HEAD) to split a large one into ranges."""
    if _splits_reads(type(fs)):
        return fs.cat_file(path, max_concurrency=1)
    return fs.cat_file(path)


@functools.cache
def _splits_reads(kind: type) -> bool:
    read = getattr(kind, "_cat_file", None) or kind.cat_file
    return "max_concurrency" in inspect.signature(read).parameters


def _with_retries(url: str, read, storage_options: Mapping | None):
    """``read(fs, path)`` for ``url``, tried again after a pause when it fails for a passing reason."""
    last = None
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        try:
            fs, path = filesystem(url, storage_options)
            return read(fs, path)
        except Exception as exc:  # noqa: BLE001 - timeouts, connections, 5xx: each backend raises its own
            last = _lasting_error(url, exc, attempt)
    raise _gave_up(url, last)


def _lasting_error(url: str, exc: Exception, attempt: int) -> Exception:
    """Raise the :class:`ImageLoadError` for a failure that trying again will not mend; else return ``exc``."""
    if isinstance(exc, FileNotFoundError):
        raise ImageLoadError(url, "object not found", kind="missing") from None
    if _is_refusal(exc):
        raise ImageLoadError(
            url, f"permission denied: the object cannot be read ({_first_line(exc)}); check the credentials "
            "(storage_options, or the environment variables such as AWS_SECRET_ACCESS_KEY)",
            kind="permission") from None
    if isinstance(exc, IsADirectoryError):
        raise ImageLoadError(url, "is a folder, not an image", kind="folder") from None
    if isinstance(exc, ImportError):
        raise ImageLoadError(url, str(exc), kind="unreadable") from None
    logger.debug("reading %s failed (attempt %d of %d): %r", url, attempt + 1, ATTEMPTS, exc)
    return exc


def _gave_up(url: str, last: BaseException | None) -> ImageLoadError:
    if _is_timeout(last):
        reason = f"timed out reading the object ({ATTEMPTS} attempts: {_describe(last)})"
    else:
        reason = f"cannot read the object after {ATTEMPTS} attempts ({_describe(last)})"
    return ImageLoadError(url, reason, kind="unreadable")  # timeouts, dropped connections: transient


def _is_refusal(exc: BaseException) -> bool:
    """A refused request: ``PermissionError``, or an HTTP 401/403 in a backend's own error (adlfs, gcsfs)."""
    if isinstance(exc, PermissionError):
        return True
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None) or getattr(exc, "code", None)
    return status in (401, 403)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_timeout(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _describe(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_objects(
    urls: Iterable[str], *, storage_options: Mapping | None = None, threads: int | None = None
) -> Iterator[tuple[str, bytes | ImageLoadError]]:
    """Read many objects at once (``threads`` at a time), yielding ``(url, bytes or error)`` in the given order.

    URLs of one asynchronous filesystem (s3fs, gcsfs, adlfs, http) are read by
    one batch of coroutines on fsspec's event loop, at most ``threads`` at
    once: one hand-over between threads per batch, not one per object, and
    one filesystem looked up per batch. The bytes of the first objects are
    yielded while the later ones are still being read. Anything else (local
    files, synchronous filesystems, URLs of several kinds) is read by a pool
    of threads.
    """
    urls = list(urls)
    limit = max(1, min(threads or IO_THREADS, len(urls) or 1))
    fs = _common_async_filesystem(urls, storage_options)
    if fs is not None:
        yield from _read_batch(fs, urls, limit)
        return

    def read(url: str) -> bytes | ImageLoadError:
        try:
            return read_object(url, storage_options=storage_options)
        except ImageLoadError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=limit) as pool:
        yield from zip(urls, pool.map(read, urls))


def _common_async_filesystem(urls: list[str], storage_options: Mapping | None):
    """The one asynchronous fsspec filesystem all ``urls`` are read with, else ``None``."""
    if not urls or not all(is_url(u) and local_path(u) is None for u in urls):
        return None
    scopes = {_scope(u) for u in urls}
    try:
        systems = {id(fs): fs for fs in (filesystem(scope + "/", storage_options)[0] for scope in scopes)}
    except Exception:  # noqa: BLE001 - a missing package or bad options: each URL then reports it itself
        return None
    if len(systems) != 1:
        return None
    fs = next(iter(systems.values()))
    return fs if getattr(fs, "async_impl", False) and getattr(fs, "loop", None) is not None else None


def _read_batch(fs, urls: list[str], limit: int) -> Iterator[tuple[str, bytes | ImageLoadError]]:
    """Read ``urls`` with coroutines on ``fs``'s loop, ``limit`` at once; yield them in order as they arrive."""
    import asyncio  # noqa: PLC0415
    from concurrent.futures import Future  # noqa: PLC0415

    results: list[Future] = [Future() for _ in urls]
    split = _splits_reads(type(fs))

    async def one(index: int, url: str, gate: asyncio.Semaphore) -> None:
        path = fs._strip_protocol(url)
        last = None
        async with gate:
            for attempt in range(ATTEMPTS):
                if attempt:
                    await asyncio.sleep(BACKOFF * 2 ** (attempt - 1))
                try:
                    data = await (fs._cat_file(path, max_concurrency=1) if split else fs._cat_file(path))
                    results[index].set_result(data)
                    return
                except Exception as exc:  # noqa: BLE001 - sorted out by _lasting_error
                    try:
                        last = _lasting_error(url, exc, attempt)
                    except ImageLoadError as error:
                        results[index].set_result(error)
                        return
        results[index].set_result(_gave_up(url, last))

    async def everything() -> None:
        gate = asyncio.Semaphore(limit)
        try:
            await asyncio.gather(*(one(i, u, gate) for i, u in enumerate(urls)))
        except BaseException as exc:  # cancelled, or a bug: nobody may wait forever
            for future in results:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
            raise

    driver = asyncio.run_coroutine_threadsafe(everything(), fs.loop)
    try:
        for url, future in zip(urls, results):
            yield url, future.result()
    finally:
        driver.cancel()  # the caller stopped early: the reads left are dropped

"""Turn an uploaded file into :class:`~dedupkit.service.schemas.ImageFacts`, or a clear 4xx."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from typing import BinaryIO

from fastapi import HTTPException

from ..scan import hash_file
from .schemas import ImageFacts
from .settings import Settings

__all__ = ["hash_upload"]

_CHUNK = 1 << 20
#: Images decoded at once, whatever the number of request threads: decoding is
#: CPU-bound, and this bounds memory to about cores x max_pixels x 4 bytes.
_DECODING = threading.BoundedSemaphore(os.cpu_count() or 1)


def hash_upload(file: BinaryIO, name: str | None, settings: Settings) -> ImageFacts:
    """Hash an uploaded file the way ``dedupkit hash`` hashes a file on disk.

    The bytes are copied in chunks to a temporary file (the library opens
    images by path), hashed with SHA-256 on the way, and the file is hashed
    with :func:`dedupkit.hash_file` under the pixel limit. (The size limit
    was enforced while the request body was read: :mod:`.limits`.)

    Raises
    ------
    fastapi.HTTPException
        422 when the file is empty, not an image, truncated or over
        ``settings.max_pixels``, with the library's reason.
    """
    name = name or "upload"
    digest = hashlib.sha256()
    size = 0
    handle, path = tempfile.mkstemp(prefix="dedupkit-upload-")
    try:
        with os.fdopen(handle, "wb") as copy:
            while chunk := file.read(_CHUNK):
                size += len(chunk)
                digest.update(chunk)
                copy.write(chunk)
        with _DECODING:
            row = hash_file(path, method=settings.method, hash_size=settings.hash_size,
                            max_pixels=settings.max_pixels)
    finally:
        os.unlink(path)
    if row["error"] is not None:
        raise HTTPException(422, f"{name}: {row['error']}")
    return ImageFacts(name=name, sha256=digest.hexdigest(), hash=row["hash"], width=row["width"],
                      height=row["height"], bytes=size)

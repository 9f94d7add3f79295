"""Turn an uploaded file into :class:`~dedupkit.service.records.ImageFacts` (and local features), or a clear 4xx."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from typing import BinaryIO, NamedTuple

from fastapi import HTTPException

from ..features import Features, extract_features
from ..imagerow import hash_file
from ..loading import ImageLoadError
from .records import ImageFacts
from .settings import Settings

__all__ = ["Upload", "read_upload"]

_CHUNK = 1 << 20
#: Images decoded at once, whatever the number of request threads: decoding is
#: CPU-bound, and this bounds memory to about cores x max_pixels x 4 bytes.
_DECODING = threading.BoundedSemaphore(os.cpu_count() or 1)


class Upload(NamedTuple):
    """What was read from one uploaded file."""

    facts: ImageFacts
    features: Features | None  # when asked for


def read_upload(file: BinaryIO, name: str | None, settings: Settings, *, features: bool = False) -> Upload:
    """Hash an uploaded file the way ``dedupkit hash`` hashes a file on disk, and extract its features.

    The bytes are copied in chunks to a temporary file (the library opens
    images by path), hashed with SHA-256 on the way, and the file is hashed
    with :func:`dedupkit.hash_file` under the pixel limit. (The size limit
    was enforced while the request body was read: :mod:`.limits`.) With
    ``features``, its local features come from the same file
    (:func:`dedupkit.features.extract_features`, default parameters).

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
            found = None
            if features and row["error"] is None:
                try:
                    found = extract_features(path, max_pixels=settings.max_pixels)
                except ImageLoadError as exc:  # pragma: no cover - it was just hashed
                    raise HTTPException(422, f"{name}: {exc.reason}") from None
    finally:
        os.unlink(path)
    if row["error"] is not None:
        raise HTTPException(422, f"{name}: {row['error']}")
    facts = ImageFacts(name=name, sha256=digest.hexdigest(), hash=row["hash"], width=row["width"],
                       height=row["height"], bytes=size)
    return Upload(facts, found)

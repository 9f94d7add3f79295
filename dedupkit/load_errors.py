"""What can be wrong with an image: :class:`ImageLoadError` and its kinds.

Raised by :mod:`dedupkit.loading` for a file, and by :mod:`dedupkit.sources`,
:mod:`dedupkit.shards` and :mod:`dedupkit.opener` for an image behind a URL, in
a tar shard or in a table row; :func:`dedupkit.hash_images` turns it into the
``error`` column of its table. Also reached as ``dedupkit.loading.ImageLoadError``.
"""

from __future__ import annotations

import os

__all__ = ["LOAD_ERROR_KINDS", "TRANSIENT_KINDS", "ImageLoadError"]

#: What can be wrong with an image file: the ``kind`` of an :class:`ImageLoadError`.
LOAD_ERROR_KINDS = (
    "missing",  # no such file
    "broken_link",  # a symbolic link whose target is gone
    "permission",  # the file is there but may not be read
    "unreadable",  # the system could not read it (an I/O error)
    "folder",  # a folder where a file was expected
    "empty",  # 0 bytes
    "not_an_image",  # no format Pillow knows
    "too_large",  # more pixels than max_pixels (a decompression-bomb guard)
    "corrupt",  # a broken header or undecodable data
    "truncated",  # the data ends early
)

#: The kinds that may read next time without the file changing (a mount back, a permission granted): a cache
#: does not remember them.
TRANSIENT_KINDS = frozenset({"missing", "permission", "unreadable"})


class ImageLoadError(Exception):
    """An image file that cannot be read; ``str(error)`` is a sentence for a person.

    Attributes
    ----------
    path
        The file.
    kind
        What is wrong, one of :data:`LOAD_ERROR_KINDS` (for a program: the
        message is for a person and may change).
    reason
        The sentence, without the path.
    """

    def __init__(self, path: str | os.PathLike, reason: str, *, kind: str):
        if kind not in LOAD_ERROR_KINDS:
            raise ValueError(f"kind must be one of {', '.join(LOAD_ERROR_KINDS)}, got {kind!r}")
        self.path = str(path)
        self.reason = reason
        self.kind = kind
        super().__init__(f"{self.path}: {reason}")

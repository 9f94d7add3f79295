"""What a key in a hash table's ``path`` column names: a local file, a URL, or a member of a tar shard.

Plain string tests, importing nothing heavy (the command line parses its
arguments with them before the library is loaded).
"""

from __future__ import annotations

import os
import re

SHARD_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_MEMBER = re.compile(r"^(.*?\.(?:tar|tar\.gz|tgz))/(.+)$")


def is_url(source: object) -> bool:
    """Whether ``source`` is a URL (``scheme://...``) rather than a local path."""
    return isinstance(source, str) and bool(_URL.match(source))


def is_shard_pattern(source: object) -> bool:
    """Whether ``source`` names tar shards: a path or URL ending in ``.tar`` (``.tar.gz``, ``.tgz``), not a folder."""
    if not isinstance(source, str) or not source.lower().endswith(SHARD_SUFFIXES):
        return False
    return is_url(source) or not os.path.isdir(source)


def split_member(key: object) -> tuple[str | None, str | None]:
    """``(shard, member)`` of a key ``<shard>.tar/<member>``, or ``(None, None)`` for any other key."""
    if not isinstance(key, str):
        return None, None
    found = _MEMBER.match(key)
    if found is None:
        return None, None
    shard = found.group(1)
    if not is_url(shard) and not os.path.isfile(shard):
        return None, None  # a folder whose name ends in .tar
    return shard, found.group(2)


def is_elsewhere(key: object) -> bool:
    """Whether a key names an image that is not a local file: a URL (``file://`` aside) or a tar shard member."""
    if is_url(key):
        return not str(key).lower().startswith(("file://", "local://"))
    return split_member(key)[0] is not None


def locate(root: str | os.PathLike | None, key: str | os.PathLike) -> str:
    """Where a table's key is: a URL, a shard member or an absolute path as it is, else under ``root``."""
    key = os.fspath(key)
    if root is None or is_url(key) or os.path.isabs(key) or split_member(key)[0] is not None:
        return key
    return os.path.join(os.fspath(root), key)

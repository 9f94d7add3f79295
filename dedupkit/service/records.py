"""The service store's own records: what it takes (:class:`ImageFacts`) and returns (the others).

Plain values, independent of the API's pydantic schemas (:mod:`.schemas`),
which the routers build from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from ..features import Features

__all__ = ["Found", "ImageFacts", "ImageRecord", "MatchRecord"]


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What is known about an image once it is hashed: what :meth:`ImageStore.add` stores."""

    name: str  # the file name it came with
    sha256: str  # of its bytes, hex
    hash: str  # perceptual hash, hex, made with the store's method and hash size
    width: int  # as displayed (EXIF orientation applied)
    height: int
    bytes: int  # size of the file


@dataclass(frozen=True, slots=True)
class ImageRecord(ImageFacts):
    """A stored image: its facts, its id (never reused) and how and when it was stored."""

    id: int
    method: str
    hash_size: int
    created: datetime  # UTC


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """A stored image near a query."""

    id: int
    name: str
    distance: int  # Hamming distance in bits
    exact: bool  # the same bytes as the query (same sha256)


class Found(NamedTuple):
    """What a search found."""

    matches: list[MatchRecord]  # nearest first, then by id
    truncated: bool  # more matches than the limit
    exact_duplicate: bool  # a stored image has exactly the query's bytes
    features: Mapping[int, Features] | None = None  # of the matches that have them, when asked for

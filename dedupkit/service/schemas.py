"""The pydantic models the service stores and answers with."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "AddResponse",
    "AddedImage",
    "ErrorResponse",
    "Health",
    "ImageFacts",
    "ImagePage",
    "Match",
    "SearchResponse",
    "Stats",
    "StoredImage",
]


class ImageFacts(BaseModel):
    """What is known about an uploaded image once it is hashed."""

    name: str = Field(description="the uploaded file name")
    sha256: str = Field(description="SHA-256 of the uploaded bytes, hex")
    hash: str = Field(description="perceptual hash, hex (as imagehash prints it)")
    width: int = Field(description="width as displayed (EXIF orientation applied)")
    height: int = Field(description="height as displayed")
    bytes: int = Field(description="size of the upload in bytes")


class StoredImage(ImageFacts):
    """An image kept in the database."""

    id: int
    method: str
    hash_size: int
    created: datetime


class Match(BaseModel):
    """A stored image near a query."""

    id: int
    name: str
    distance: int = Field(description="Hamming distance in bits")
    exact: bool = Field(description="the same bytes as the query (same sha256)")


class AddedImage(StoredImage):
    """One uploaded image: stored, with what was stored before it that is near."""

    exact_duplicate: bool = Field(description="a byte-for-byte copy was already stored")
    matches: list[Match] = Field(description="stored images within max_distance, nearest first")
    matches_truncated: bool = Field(description="more matches than max_matches were found")


class AddResponse(BaseModel):
    max_distance: int
    images: list[AddedImage]


class SearchResponse(BaseModel):
    hash: str
    sha256: str | None = Field(description="of the uploaded file; null for a hash query")
    max_distance: int | None
    k: int | None
    exact_duplicate: bool
    matches: list[Match]
    matches_truncated: bool


class ImagePage(BaseModel):
    items: list[StoredImage]
    total: int
    offset: int
    limit: int


class Stats(BaseModel):
    count: int = Field(description="stored images")
    method: str
    hash_size: int
    n_bits: int
    index: str = Field(description="kind of the in-memory search index")
    max_distance: int = Field(description="default threshold")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ErrorResponse(BaseModel):
    detail: str

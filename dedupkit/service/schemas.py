"""The pydantic models the service answers with (the store has its own records: :mod:`.store`).

The models read a record's attributes (``from_attributes``), so a router
turns a store record into its schema with ``Model.model_validate(record)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AddResponse",
    "AddedImage",
    "ErrorResponse",
    "Health",
    "ImagePage",
    "Match",
    "SearchResponse",
    "Stats",
    "StoredImage",
    "VerifiedMatch",
    "VerifiedSearchResponse",
]


class StoredImage(BaseModel):
    """An image kept in the database."""

    model_config = ConfigDict(from_attributes=True)

    name: str = Field(description="the uploaded file name")
    sha256: str = Field(description="SHA-256 of the uploaded bytes, hex")
    hash: str = Field(description="perceptual hash, hex (as imagehash prints it)")
    width: int = Field(description="width as displayed (EXIF orientation applied)")
    height: int = Field(description="height as displayed")
    bytes: int = Field(description="size of the upload in bytes")
    id: int
    method: str
    hash_size: int
    created: datetime


class Match(BaseModel):
    """A stored image near a query."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    distance: int = Field(description="Hamming distance in bits")
    exact: bool = Field(description="the same bytes as the query (same sha256)")


class VerifiedMatch(Match):
    """A stored image near the query, checked by local features (``POST /search?verify=true``)."""

    verified: bool | None = Field(
        description="true: the same picture, confirmed by local features, a geometric model and the pixels "
                    "(matches the check rejected are left out); null: not checked, see reason")
    reason: str | None = Field(description="why not checked, when verified is null")
    relation: str | None = Field(description="how the query relates to the stored image, in one line, e.g. "
                                             "'The query is the stored image at 50% size'")
    scale: float | None = Field(description="size of the query's picture over the stored one's, in full-image "
                                            "pixels (0.5: the query is half size)")
    rotation: float | None = Field(description="counter-clockwise turn of the query's picture, degrees, in "
                                               "(-180, 180] (after the mirror, when mirrored)")
    mirrored: bool | None = Field(description="the query shows the stored picture mirrored")
    coverage_query: float | None = Field(description="share of the query's area that shows the stored picture "
                                                     "(< 1: a frame, caption or screen around it)")
    coverage_stored: float | None = Field(description="share of the stored image's area that the query shows "
                                                      "(< 1: the query is a crop)")
    similarity: float | None = Field(description="agreement of the pixels after alignment and a tone curve, 0 to 1")
    overlay: float | None = Field(description="above 0 when the query is the stored picture but for one patch laid "
                                             "over it (a logo or text): the patch's share of the stored picture")
    overlay_box: list[float] | None = Field(description="that patch, [x0, y0, x1, y1] in the stored image's full "
                                                        "pixels; null when there is none")
    inliers: int | None = Field(description="local feature matches consistent with the geometric model "
                                                "(0 when the pictures were verified whole, without features)")


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


class VerifiedSearchResponse(SearchResponse):
    """The answer to ``POST /search?verify=true``: only the hash matches that the verifier confirmed."""

    max_distance: int = Field(description="hash threshold of the candidates (default with verify: 16 bits of 64)")
    candidates: int = Field(description="hash matches checked (at most the server's max_matches)")
    rejected: int = Field(description="hash matches that are not the same picture, left out of matches")
    matches: list[VerifiedMatch] = Field(description="confirmed matches, and those that could not be checked "
                                                     "(verified null), nearest hash first")


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
    index: str = Field(description="kind of the in-memory search index (dedupkit.HashIndex: exact search)")
    with_features: int = Field(description="stored images with local features, which verify=true can check")
    max_distance: int = Field(description="default threshold")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ErrorResponse(BaseModel):
    detail: str = Field(description="what went wrong, in one line")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="a 422 from the parameter checks: what was wrong, field by field (FastAPI's list)")

"""``/search``: the check of ``POST /images`` for one file or hash, storing nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile

from ..dependencies import check_distance, get_settings, get_store
from ..schemas import ErrorResponse, SearchResponse
from ..settings import Settings
from ..store import ImageStore
from ..uploads import hash_upload

router = APIRouter(tags=["search"])


@router.post(
    "/search",
    response_model=SearchResponse,
    responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
    summary="Find stored near-duplicates of a file or a hash",
)
def search(
    store: Annotated[ImageStore, Depends(get_store)],
    settings: Annotated[Settings, Depends(get_settings)],
    file: Annotated[UploadFile | None, File(description="an image")] = None,
    hash_hex: Annotated[str | None, Form(alias="hash", description="or a hash, hex, made the server's way")] = None,
    max_distance: Annotated[int | None, Query(description="Hamming threshold, inclusive (default: the server's, "
                                                          "or none when k is given)")] = None,
    k: Annotated[int | None, Query(ge=1, description="return the k nearest instead of all within a radius")] = None,
) -> SearchResponse:
    """Give either ``file`` or ``hash``. With ``k`` and no ``max_distance``, the ``k`` nearest are
    returned however far; with both, the ``k`` nearest within ``max_distance``."""
    if (file is None) == (hash_hex is None):
        raise HTTPException(422, "give either a file (multipart field 'file') or a hex hash (field 'hash'), not "
                            + ("both" if file is not None else "neither"))
    distance = None if k is not None and max_distance is None else check_distance(max_distance, settings)
    if file is not None:
        facts = hash_upload(file.file, file.filename, settings)
        query, sha256 = facts.hash, facts.sha256
    else:
        query, sha256 = hash_hex.strip().lower(), None
    try:
        found = store.search(query, sha256=sha256, max_distance=distance, k=k, limit=settings.max_matches)
    except ValueError as exc:  # a bad hex hash: the store's message says what it expected
        raise HTTPException(422, str(exc)) from None
    return SearchResponse(hash=query, sha256=sha256, max_distance=distance, k=k, matches=found.matches,
                          matches_truncated=found.truncated, exact_duplicate=found.exact_duplicate)

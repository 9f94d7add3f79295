"""``/search``: the check of ``POST /images`` for one file or hash, storing nothing; optionally verified."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile

from ...duplicates import CANDIDATE_DISTANCE
from ..dependencies import check_distance, get_settings, get_store
from ..schemas import ErrorResponse, SearchResponse, VerifiedSearchResponse
from ..settings import Settings
from ..store import ImageStore
from ..uploads import read_upload
from ..verifying import verify_matches

router = APIRouter(tags=["search"])

_VERIFY = ("check each hash match by local features against the stored image's, and answer only the confirmed "
           "ones, with how they relate (needs a file; the threshold defaults to 16 bits of 64)")


@router.post(
    "/search",
    response_model=VerifiedSearchResponse | SearchResponse,
    responses={400: {"model": ErrorResponse, "description": "the body is not multipart/form-data"},
               413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
    summary="Find stored near-duplicates of a file or a hash",
)
def search(
    store: Annotated[ImageStore, Depends(get_store)],
    settings: Annotated[Settings, Depends(get_settings)],
    file: Annotated[UploadFile | None, File(description="an image")] = None,
    hash_hex: Annotated[str | None, Form(alias="hash", description="or a hash, hex, made the server's way")] = None,
    max_distance: Annotated[int | None, Query(
        description="Hamming threshold, inclusive (default: the server's, or none when k is given; "
                    "16 bits of 64 with verify)")] = None,
    k: Annotated[int | None, Query(ge=1, description="return the k nearest instead of all within a radius")] = None,
    verify: Annotated[bool | None, Query(description=_VERIFY)] = None,
    verify_form: Annotated[bool | None, Form(alias="verify", description="or as a form field")] = None,
) -> VerifiedSearchResponse | SearchResponse:
    """Give either ``file`` or ``hash``. With ``k`` and no ``max_distance``, the ``k`` nearest are
    returned however far; with both, the ``k`` nearest within ``max_distance``.

    With ``verify=true`` (a query parameter or a form field) each hash match is
    checked by local features, a geometric model and the pixels after
    alignment, against the features stored with the image: only the same
    picture is answered, with its scale, turn, mirror, coverage of each image,
    similarity and, for a copy with a logo or text laid over it, that patch
    (``overlay``: its share; ``overlay_box``: where, in the stored image's
    pixels). The hash threshold is then looser by default (16 bits of
    64; ``k`` alone does not lift it). Images stored before the server kept
    features are answered with ``verified: null`` and the reason.
    """
    if (file is None) == (hash_hex is None):
        raise HTTPException(422, "give either a file (multipart field 'file') or a hex hash (field 'hash'), not "
                            + ("both" if file is not None else "neither"))
    if verify is not None and verify_form is not None and verify != verify_form:
        raise HTTPException(422, f"verify given twice with different values (query {str(verify).lower()}, "
                            f"form {str(verify_form).lower()}): give it once")
    verifying = bool(verify or verify_form)
    if verifying and file is None:
        raise HTTPException(422, "verify=true needs the image (multipart field 'file'): a hash alone has no local "
                            "features to check the stored images against; send the file, or drop verify")
    if verifying:
        default = round(CANDIDATE_DISTANCE * settings.n_bits / 64)
        distance = default if max_distance is None else check_distance(max_distance, settings)
    else:
        distance = None if k is not None and max_distance is None else check_distance(max_distance, settings)
    if file is not None:
        facts, features = read_upload(file.file, file.filename, settings, features=verifying)
        query, sha256 = facts.hash, facts.sha256
    else:
        query, sha256, features = hash_hex.lower(), None, None
    try:
        found = store.search(query, sha256=sha256, max_distance=distance, k=k, limit=settings.max_matches,
                             features=verifying)
    except ValueError as exc:  # a bad hex hash: the store's message says what it expected
        raise HTTPException(422, str(exc)) from None
    if not verifying:
        return SearchResponse(hash=query, sha256=sha256, max_distance=distance, k=k, matches=found.matches,
                              matches_truncated=found.truncated, exact_duplicate=found.exact_duplicate)
    matches, rejected = verify_matches(features, found)
    return VerifiedSearchResponse(hash=query, sha256=sha256, max_distance=distance, k=k, matches=matches,
                                  matches_truncated=found.truncated, exact_duplicate=found.exact_duplicate,
                                  candidates=len(found.matches), rejected=rejected)

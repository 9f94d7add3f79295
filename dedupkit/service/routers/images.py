"""``/images``: add uploaded images (each checked against what is stored), read and delete them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Response, UploadFile

from ..dependencies import check_distance, get_settings, get_store
from ..schemas import AddedImage, AddResponse, ErrorResponse, ImagePage, StoredImage
from ..settings import Settings
from ..store import MAX_INTEGER, ImageStore
from ..uploads import read_upload

router = APIRouter(prefix="/images", tags=["images"])

_NOT_FOUND = {404: {"model": ErrorResponse, "description": "no image with this id"}}
#: Ids are SQLite row ids, 1 to 2**63 - 1: an integer outside is not an id at all (422, like ``abc``); an id
#: in range that no image has is 404.
ImageId = Annotated[int, Path(ge=1, le=MAX_INTEGER, description="the image's id (1 to 2**63 - 1)")]


@router.post(
    "",
    status_code=201,
    response_model=AddResponse,
    responses={400: {"model": ErrorResponse, "description": "the body is not multipart/form-data"},
               413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
    summary="Add images; answer each with the stored near-duplicates",
)
def add_images(
    files: Annotated[list[UploadFile], File(description="one or more images (repeat the field)")],
    store: Annotated[ImageStore, Depends(get_store)],
    settings: Annotated[Settings, Depends(get_settings)],
    max_distance: Annotated[
        int | None, Query(description="Hamming threshold, inclusive (default: the server's)")
    ] = None,
) -> AddResponse:
    """Hash each file, find the stored images near it, and store it with its local features
    (which ``POST /search?verify=true`` checks queries against; unless the server's
    ``store_features`` is off).

    The files of one request are stored together or not at all: one bad file
    is answered with a 4xx and nothing is stored. Each file is compared with
    everything stored before it, including the earlier files of the request.
    """
    distance = check_distance(max_distance, settings)
    uploads = [read_upload(upload.file, upload.filename, settings, features=settings.store_features)
               for upload in files]
    added = store.add([u.facts for u in uploads], features=[u.features for u in uploads], max_distance=distance,
                      limit=settings.max_matches)
    return AddResponse(
        max_distance=distance,
        images=[AddedImage(**asdict(stored), matches=found.matches, matches_truncated=found.truncated,
                           exact_duplicate=found.exact_duplicate) for stored, found in added],
    )


@router.get("", response_model=ImagePage, summary="List stored images, oldest first")
def list_images(
    store: Annotated[ImageStore, Depends(get_store)],
    offset: Annotated[int, Query(ge=0, le=MAX_INTEGER, description="images to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="images per page")] = 100,
) -> ImagePage:
    items, total = store.list(offset=offset, limit=limit)
    return ImagePage(items=items, total=total, offset=offset, limit=limit)


@router.get("/{image_id}", response_model=StoredImage, responses=_NOT_FOUND, summary="One stored image")
def get_image(image_id: ImageId, store: Annotated[ImageStore, Depends(get_store)]) -> StoredImage:
    image = store.get(image_id)
    if image is None:
        raise HTTPException(404, f"no image with id {image_id}")
    return StoredImage.model_validate(image)


@router.delete("/{image_id}", status_code=204, responses=_NOT_FOUND,
               summary="Delete an image; it stops matching at once")
def delete_image(image_id: ImageId, store: Annotated[ImageStore, Depends(get_store)]) -> Response:
    if not store.delete(image_id):
        raise HTTPException(404, f"no image with id {image_id}")
    return Response(status_code=204)

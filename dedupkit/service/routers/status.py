"""``/health`` (open to all, for load balancers) and ``/stats``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ..dependencies import get_settings, get_store
from ..schemas import Health, Stats
from ..settings import Settings
from ..store import ImageStore

health_router = APIRouter(tags=["status"])
router = APIRouter(tags=["status"])


@health_router.get("/health", response_model=Health, summary="Is the server up (no token needed)")
async def health() -> Health:
    return Health()


@router.get("/stats", response_model=Stats, summary="What is stored, and how it is hashed")
def stats(
    store: Annotated[ImageStore, Depends(get_store)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Stats:
    return Stats(count=len(store), method=store.method, hash_size=store.hash_size, n_bits=store.hash_size**2,
                 index=store.index_kind, with_features=store.with_features, max_distance=settings.max_distance)

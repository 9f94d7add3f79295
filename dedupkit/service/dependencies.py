"""What the routers need from the app: settings, the store, the token check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..codejoin import check_max_distance
from .settings import Settings
from .store import ImageStore

__all__ = ["check_distance", "get_settings", "get_store", "require_token"]

_bearer = HTTPBearer(auto_error=False, description="the server's DEDUPKIT_TOKEN, when one is set")


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


async def get_store(request: Request) -> ImageStore:
    """The store opened in the app's lifespan (tests may override this dependency)."""
    return request.app.state.store


async def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through if no token is set, or it carries ``Authorization: Bearer <token>``."""
    if settings.token is None:
        return
    if credentials is None:
        raise HTTPException(401, "missing token: send the header 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    expected = settings.token.get_secret_value().encode()
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def check_distance(max_distance: int | None, settings: Settings) -> int:
    """The request's ``max_distance``, or the default; 422 if out of range."""
    if max_distance is None:
        return settings.max_distance
    try:
        return check_max_distance(max_distance, settings.n_bits)
    except (TypeError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from None

"""The FastAPI application: :func:`create_app` wires settings, store, routers, limits, errors and docs.

The API docs at ``/docs`` (Swagger UI) and ``/redoc`` load their scripts and
styles from the ``fastapi-offline`` package, served under
``/static-offline-docs``: they work without internet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from .. import __version__
from .dependencies import get_settings, get_store, require_token
from .limits import BodySizeLimit
from .openapi import openapi_document
from .routers import images, search, status
from .schemas import ErrorResponse
from .settings import Settings
from .store import ImageStore

__all__ = ["create_app", "get_settings", "get_store"]

DESCRIPTION = """\
Upload images and learn at once whether a near-duplicate is already stored.

Each image is hashed with a perceptual hash (dHash by default) and compared by
Hamming distance with every stored hash (exact search, faiss). SQLite is the
source of truth; an answered upload is on disk, with its local features (ORB).
`POST /search` with `verify=true` checks each hash match by those features, a
geometric model and the pixels, and answers only the same picture, with how
the query relates to it (scale, turn, mirror, crop or frame). When the server
has a token, every endpoint but `/health` needs `Authorization: Bearer <token>`.
"""


def create_app(settings: Settings | None = None, *, store: ImageStore | None = None) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        Default: read from ``DEDUPKIT_*`` environment variables.
    store
        An already opened store to serve (``dedupkit serve`` opens it first to
        report a bad database before starting); by default the lifespan opens
        ``settings.db``. Either way it is closed when the app shuts down.

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn, or test it with ``fastapi.testclient.TestClient``.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if store is None:
            opened = ImageStore(settings.db, method=settings.method, hash_size=settings.hash_size)
        else:
            opened = store
        app.state.store = opened
        try:
            yield
        finally:
            opened.close()

    app = FastAPIOffline(title="dedupkit", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.openapi = partial(openapi_document, app, n_bits=settings.n_bits)
    app.state.settings = settings
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    guarded = [Depends(require_token)]
    unauthorized = {401: {"model": ErrorResponse, "description": "no token, or a wrong one (when the server has one)"}}
    app.include_router(status.health_router)
    app.include_router(status.router, dependencies=guarded, responses=unauthorized)
    app.include_router(images.router, dependencies=guarded, responses=unauthorized)
    app.include_router(search.router, dependencies=guarded, responses=unauthorized)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    return app


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's answer, but a 405's ``Allow`` lists the methods of every route at the path, not of the first."""
    if exc.status_code == 405:
        methods = {method for route in request.app.routes if isinstance(route, Route)
                   and route.matches(request.scope)[0] != Match.NONE for method in route.methods or ()}
        exc = StarletteHTTPException(405, exc.detail, headers={**(exc.headers or {}),
                                                             "Allow": ", ".join(sorted(methods))})
    return await http_exception_handler(request, exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with a one-line ``detail`` for people, and FastAPI's ``errors`` list for programs."""
    errors = jsonable_encoder(exc.errors())
    parts = []
    for error in errors:
        where, *field = [str(part) for part in error.get("loc", ())] or ["request"]
        parts.append(f"{'.'.join(field) or where} ({where}): {error.get('msg', 'invalid')}")
    return JSONResponse({"detail": "; ".join(parts), "errors": errors}, status_code=422)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """500 as JSON too; Starlette re-raises the exception afterwards, so the server logs it."""
    return JSONResponse({"detail": "internal server error; the server log has the details"}, status_code=500)

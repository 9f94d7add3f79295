"""Refuse a request body over the size limit without reading it into memory."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit"]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once more bytes came than allowed; FastAPI answers it as JSON."""

    def __init__(self, limit: int, received: int | None = None):
        size = "" if received is None else f" {received:,} bytes,"
        super().__init__(
            413,
            f"upload too large:{size} over the limit of {limit:,} bytes for one request "
            "(all files together; DEDUPKIT_MAX_UPLOAD_BYTES)",
        )


class BodySizeLimit:
    """ASGI middleware: a request body may have at most ``max_bytes`` bytes.

    A ``Content-Length`` over the limit is answered with 413 at once, before a
    byte of the body is read. Otherwise the bytes are counted as the app reads
    them, and reading stops with 413 at the first chunk past the limit (chunked
    uploads, or a client that sends more than it announced).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = Headers(scope=scope).get("content-length", "")
        if announced.isdigit() and int(announced) > self.max_bytes:
            error = BodyTooLarge(self.max_bytes, int(announced))
            await JSONResponse({"detail": error.detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as error:  # read outside a route (FastAPI answers it inside one)
            if started:
                raise
            await JSONResponse({"detail": error.detail}, status_code=413)(scope, receive, send)

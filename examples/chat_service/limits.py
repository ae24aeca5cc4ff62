"""A request body limit for the example service: 413 instead of reading a body of any size.

Neither uvicorn nor FastAPI bounds a request body: a JSON route reads the whole body before it
validates it, so one client announcing `Content-Length: 1073741824` made the service hold every
byte it sent (300 MB sent: resident memory from 58 to 367 MB, and no answer). The id-monitor
layer itself reads at most `http.max_body_bytes` and lets the request go on (it monitors, it does
not refuse), so the limit belongs to the service, in front of everything else:

- a request whose `Content-Length` passes `max_bytes` is answered 413 at once, its body unread;
- a body without a length (chunked) is counted as the app reads it: past `max_bytes` the app is
  told the client left (`http.disconnect`), the client gets 413, and whatever the app still
  tries to send is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1 << 20


async def _too_large(send: Send, max_bytes: int) -> None:
    body = f'{{"detail":"request body larger than {max_bytes} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: request bodies up to `max_bytes`, 413 beyond (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await _too_large(send, self.max_bytes)
                return
        received = 0
        started = refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await _too_large(send, self.max_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the client already has its 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

"""Refuse what no client of this API sends, before any of it is read or routed.

Every request body here is a few hundred bytes (an operator's name and note), yet the framework would read
and parse 30 MB in full; headers are capped for the same reason. A path that smuggles a `/` or `..` in
percent-encoding names no resource, and is answered 404 rather than redirected somewhere else.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SMUGGLED = re.compile(rb"%2f|%5c|%2e%2e|(^|/)\.\.?(/|$)", re.IGNORECASE)


class RequestLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_header_bytes: int) -> None:
        self._app = app
        self._max_body = max_body_bytes
        self._max_headers = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await _problem(send, *refusal)
            return
        refused = started = False
        seen = 0

        async def counted_receive() -> Message:
            # The framework turns any error raised while it reads a body into its own 400, so the refusal is
            # sent from here and the app is told the client has gone; what it answers then is dropped.
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self._max_body and not refused:
                refused = True
                if not started:
                    await _problem(send, *self._too_large())
            return {"type": "http.disconnect"} if refused else message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self._app(scope, counted_receive, guarded_send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if sum(len(name) + len(value) for name, value in headers) > self._max_headers:
            return 431, "HeadersTooLarge", f"request headers are limited to {self._max_headers} bytes"
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        if _SMUGGLED.search(raw_path.split(b"?", 1)[0]):
            return 404, "NotFound", "no such resource"
        length = dict(headers).get(b"content-length")
        if length is not None and not length.isdigit():
            return 400, "MalformedRequest", "Content-Length is not a number"
        if length is not None and int(length) > self._max_body:
            return self._too_large()
        return None

    def _too_large(self) -> tuple[int, str, str]:
        return 413, "RequestTooLarge", f"request bodies are limited to {self._max_body} bytes"


async def _problem(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""A stand-in for Supabase's hosted PostgREST at the HTTP boundary: it records every request exactly."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakePostgrest:
    answers: list[tuple[int, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def answer(self, status: int, body: Any) -> None:
        self.answers.append((status, body))

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        self.seen.append(
            Seen(
                method=request.method,
                path=request.url.path,
                query=list(request.query_params.multi_items()),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=json.loads(raw) if raw else None,
            )
        )
        status, body = self.answers.pop(0) if self.answers else (200, [])
        return JSONResponse(body, status_code=status)

    def serve(self) -> tuple[str, uvicorn.Server, threading.Thread]:
        app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PATCH", "DELETE"])]
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread

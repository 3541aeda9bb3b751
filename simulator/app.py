"""The simulator's HTTP face: the Alpaca Broker API subset under /v1, the control plane under /_sim."""

from __future__ import annotations

import asyncio
import base64
import os
import pickle
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.clock import SimClock
from simulator.engine import BrokerEngine
from simulator.faults import FaultBook
from simulator.model import BrokerApiError

Handler = Callable[["Simulator", Request], Awaitable[Any]]


@dataclass
class Simulator:
    """Everything one simulated broker holds; one per server."""

    engine: BrokerEngine = field(default_factory=BrokerEngine)
    clock: SimClock = field(default_factory=SimClock)
    faults: FaultBook = field(default_factory=FaultBook)
    api_key: str | None = None
    api_secret: str | None = None
    requests: Counter[str] = field(default_factory=Counter)
    state_file: Path | None = None

    changed: bool = False

    async def tick(self) -> datetime:
        now = await self.clock.now()
        self.changed = self.engine.advance_to(now) or self.changed
        return now

    def persist(self, request_changed: bool) -> None:
        """Write the whole broker to the state file (atomically) after anything changed it, so a restarted
        simulator carries on."""
        self.changed = self.changed or request_changed
        if self.state_file is None or not self.changed:
            return
        self.changed = False
        temporary = self.state_file.with_suffix(".tmp")
        with temporary.open("wb") as out:
            pickle.dump({"engine": self.engine, "clock": self.clock.snapshot()}, out)
        os.replace(temporary, self.state_file)

    @classmethod
    def load(cls, state_file: Path, **options: Any) -> Simulator:
        if not state_file.exists():
            return cls(state_file=state_file, **options)
        with state_file.open("rb") as source:
            saved = pickle.load(source)  # our own file, written by persist()
        return cls(
            engine=saved["engine"], clock=SimClock.restore(saved["clock"]), state_file=state_file, **options
        )


def error_response(status: int, message: str, code: int | None = None, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "1"} if status == 429 else None
    body = {"code": code if code is not None else status * 100000, "message": message, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def _authorised(sim: Simulator, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return False
    if sim.api_key is None:
        return True
    try:
        key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    return key == sim.api_key and secret == sim.api_secret


def _as_response(result: Any, status: int) -> Response:
    if result is None:
        return Response(status_code=204)
    return JSONResponse(result, status_code=status)


def alpaca_route(method: str, path: str, handler: Handler, status: int = 200) -> Route:
    """Wrap a handler with what every Alpaca call goes through: auth, the clock, faults, error bodies."""
    label = f"{method} {path}"

    async def endpoint(request: Request) -> Response:
        sim: Simulator = request.app.state.sim
        account_id = request.path_params.get("account_id")
        response = await _serve(sim, request, label, account_id, handler, status)
        sim.requests[f"{label} {response.status_code}"] += 1
        sim.persist(request_changed=request.method != "GET")
        return response

    return Route(path, endpoint, methods=[method])


async def _serve(
    sim: Simulator, request: Request, label: str, account_id: str | None, handler: Handler, status: int
) -> Response:
    if not _authorised(sim, request):
        return error_response(401, "request is not authorized", code=40110000)
    method = label.split(" ", 1)[0]
    fault = sim.faults.pick(method, label.split(" ", 1)[1], account_id)
    if fault is not None and fault.kind == "error":
        return error_response(fault.status, f"simulated fault on {label}")
    if fault is not None and fault.kind in ("latency", "timeout"):
        await asyncio.sleep(fault.latency_seconds)
        if fault.kind == "timeout":
            return error_response(fault.status, f"simulated timeout on {label}")
    await sim.tick()
    try:
        response = _as_response(await handler(sim, request), status)
    except BrokerApiError as exc:
        response = error_response(exc.status, exc.message, exc.code, **exc.extra)
    if fault is not None and fault.kind == "lost_response":
        # The work is done and recorded; the caller never hears about it.
        await asyncio.sleep(fault.latency_seconds)
        return error_response(fault.status, f"simulated lost response on {label}")
    return response


def build_app(sim: Simulator | None = None) -> Starlette:
    from simulator import control_routes, v1_routes

    app = Starlette(routes=[*v1_routes.routes(), *control_routes.routes()])
    app.state.sim = sim or Simulator()
    return app

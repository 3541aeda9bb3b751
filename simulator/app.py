"""The simulator's HTTP face: the Alpaca Broker API subset under /v1, the control plane under /_sim."""

from __future__ import annotations

import asyncio
import base64
import heapq
import json
import os
import pickle
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.clock import SimClock
from simulator.engine import BrokerEngine
from simulator.faults import FaultBook, FaultRule
from simulator.model import BrokerApiError, UnknownAccount
from simulator.rate_limit import RateBook

Handler = Callable[["Simulator", Request], Awaitable[Any]]


@dataclass(order=True)
class LateRequest:
    """A request the broker has received but will only process at `due` (broker clock)."""

    due: datetime
    seq: int
    process: Callable[[], Awaitable[None]] = field(compare=False)


@dataclass
class Simulator:
    """Everything one simulated broker holds; one per server."""

    engine: BrokerEngine = field(default_factory=BrokerEngine)
    clock: SimClock = field(default_factory=SimClock)
    faults: FaultBook = field(default_factory=FaultBook)
    api_key: str | None = None
    api_secret: str | None = None
    requests: Counter[str] = field(default_factory=Counter)
    # Each Alpaca call with the broker's time: when a caller looked at an account, for latency measurements.
    request_log: deque[tuple[str, str, str | None, int]] = field(
        default_factory=lambda: deque(maxlen=200_000)
    )
    state_file: Path | None = None

    changed: bool = False
    late: list[LateRequest] = field(default_factory=list)
    rates: RateBook = field(default_factory=RateBook)
    open_streams: Counter[str] = field(default_factory=Counter)

    async def tick(self) -> datetime:
        """Bring the broker up to its clock: scheduled events and queued late requests, each at its time."""
        now = await self.clock.now()
        while self.late and self.late[0].due <= now:
            queued = heapq.heappop(self.late)
            self.engine.advance_to(queued.due)
            await queued.process()
            self.changed = True
        self.changed = self.engine.advance_to(now) or self.changed
        return now

    def queue_late(self, due: datetime, process: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self.late, LateRequest(due, self.engine.next_seq(), process))

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


def credential(request: Request) -> str:
    """The API key a request is made with (its budget's owner); the raw header if it cannot be read."""
    header = request.headers.get("authorization", "")
    try:
        return base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")[0]
    except ValueError:
        return header


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
    if isinstance(result, Response):  # an event stream
        return result
    if result is None:
        return Response(status_code=204)
    return JSONResponse(result, status_code=status)


def alpaca_route(method: str, path: str, handler: Handler, status: int = 200) -> Route:
    """Wrap a handler with what every Alpaca call goes through: auth, the clock, faults, error bodies."""
    label = f"{method} {path}"

    async def endpoint(request: Request) -> Response:
        sim: Simulator = request.app.state.sim
        account_id = request.path_params.get("account_id")
        config = sim.engine.config
        verdict = sim.rates.take(
            credential(request), config.rate_limit_per_minute, config.rate_limit_window_seconds, time.time()
        )
        if verdict.allowed:
            response = await _serve(sim, request, label, account_id, handler, status)
        else:
            response = error_response(429, "rate limit exceeded", 42910000)
        response.headers.update(verdict.headers())
        sim.requests[f"{label} {response.status_code}"] += 1
        if sim.engine.now is not None:  # a request refused before the broker's clock was read has no time
            sim.request_log.append((sim.engine.now.isoformat(), label, account_id, response.status_code))
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
    if fault is not None:
        # Read the body before any wait: a caller that hangs up meanwhile must not make the request vanish.
        await request.body()
    if fault is not None and fault.kind == "late":
        return await _serve_late(sim, request, label, handler, status, fault)
    if fault is not None and fault.kind in ("latency", "timeout"):
        await asyncio.sleep(fault.latency_seconds)
        if fault.kind == "timeout":
            return error_response(fault.status, f"simulated timeout on {label}")
    await sim.tick()
    response = await _handle(sim, request, handler, status)
    if fault is not None and fault.kind == "malformed":
        return _malformed(response, fault)
    if fault is not None and fault.kind == "held":
        await asyncio.sleep(fault.latency_seconds)  # the work is done; the answer is on its way
        return response
    if fault is not None and fault.kind == "lost_response":
        # The work is done and recorded; the caller never hears about it.
        await asyncio.sleep(fault.latency_seconds)
        return error_response(fault.status, f"simulated lost response on {label}")
    return response


def _malformed(real: Response, fault: FaultRule) -> Response:
    """The work is done; the answer is what the rule says instead."""
    if fault.body is not None:
        if isinstance(fault.body, str):
            return Response(fault.body, status_code=fault.status, media_type="text/html")
        return JSONResponse(fault.body, status_code=fault.status)
    answer = json.loads(bytes(real.body)) if real.body else {}
    items = answer if isinstance(answer, list) else [answer]
    for item in items:
        for key, value in (fault.patch or {}).items():
            if value is None:
                item.pop(key, None)
            else:
                item[key] = value
    return JSONResponse(answer, status_code=fault.status)


async def _handle(sim: Simulator, request: Request, handler: Handler, status: int) -> Response:
    try:
        return _as_response(await handler(sim, request), status)
    except UnknownAccount as exc:
        if sim.engine.config.unknown_account_status == 401:
            return error_response(401, "request is not authorized", code=40110000)
        return error_response(exc.status, exc.message, exc.code)
    except BrokerApiError as exc:
        return error_response(exc.status, exc.message, exc.code, **exc.extra)


async def _serve_late(
    sim: Simulator, request: Request, label: str, handler: Handler, status: int, fault: FaultRule
) -> Response:
    """Queue the request for `latency_seconds` of broker time; answer when it is done, or give up first."""
    answered: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    async def process() -> None:
        response = await _handle(sim, request, handler, status)
        if not answered.done():
            answered.set_result(response)

    arrived = await sim.tick()
    sim.queue_late(arrived + timedelta(seconds=fault.latency_seconds), process)
    try:
        return await asyncio.wait_for(asyncio.shield(answered), timeout=fault.latency_seconds)
    except TimeoutError:
        await sim.tick()
        if answered.done():
            return answered.result()
        return error_response(fault.status, f"simulated late processing on {label}: the request is queued")


def build_app(sim: Simulator | None = None) -> Starlette:
    from simulator import control_routes, event_routes, v1_routes

    app = Starlette(routes=[*v1_routes.routes(), *event_routes.routes(), *control_routes.routes()])
    app.state.sim = sim or Simulator()
    return app

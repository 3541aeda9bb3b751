"""The Broker API's event streams (Server-Sent Events): history from a cursor, then live events, heartbeats.

Alpaca's rules: `since` is needed for `until`, `since_id` for `until_id`, `since_ulid` for `until_ulid`, and
only one kind of since may be given; with no since there is no history, only what happens from now on; the
stream ends (200) once its until is reached. Cursors here are inclusive at both ends. A date `since` starts
at that day's midnight UTC and a date `until` ends at the next one. A stream looks at the broker every
`event_poll_seconds`, so time-driven changes happen while a client only listens.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from simulator import wire
from simulator.app import Simulator, alpaca_route, credential
from simulator.events import BrokerEvent, rfc3339, ulid, ulid_time
from simulator.model import BrokerApiError, Order

PATHS = {
    "transfers": "/v1/events/transfers/status",
    "accounts": "/v1/events/accounts/status",
    "trades": "/v1/events/trades",
    "journals": "/v1/events/journals/status",
    "funding": "/v2/events/funding/status",
}


def _refuse(message: str) -> BrokerApiError:
    return BrokerApiError(400, message, code=40010000)


def _moment(raw: str, name: str, end_of_day: bool) -> datetime:
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else start
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _refuse(f"{name} must be a date (YYYY-MM-DD) or an RFC 3339 time, got {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _integer(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise _refuse(f"{name} must be an integer, got {raw!r}") from None


def _ulid(raw: str, name: str) -> str:
    try:
        ulid_time(raw)
    except ValueError:
        raise _refuse(f"{name} must be a ULID, got {raw!r}") from None
    return raw.upper()


@dataclass(frozen=True)
class Cursor:
    since: datetime | None = None
    until: datetime | None = None
    since_id: int | None = None
    until_id: int | None = None
    since_ulid: str | None = None
    until_ulid: str | None = None

    @classmethod
    def parse(cls, params: QueryParams) -> Cursor:
        given = {k: v for k, v in params.items() if v != ""}
        for kind in ("", "_id", "_ulid"):
            if f"until{kind}" in given and f"since{kind}" not in given:
                raise _refuse(f"since{kind} is required when until{kind} is given")
        if sum(f"since{kind}" in given for kind in ("", "_id", "_ulid")) > 1:
            raise _refuse("since, since_id and since_ulid cannot be used at the same time")
        return cls(
            since=_moment(given["since"], "since", False) if "since" in given else None,
            until=_moment(given["until"], "until", True) if "until" in given else None,
            since_id=_integer(given["since_id"], "since_id") if "since_id" in given else None,
            until_id=_integer(given["until_id"], "until_id") if "until_id" in given else None,
            since_ulid=_ulid(given["since_ulid"], "since_ulid") if "since_ulid" in given else None,
            until_ulid=_ulid(given["until_ulid"], "until_ulid") if "until_ulid" in given else None,
        )

    def start(self, sim: Simulator, stream: str) -> tuple[list[BrokerEvent], int]:
        """The history to send first, and the id of the first live event after it."""
        log = sim.engine.events
        if self.since_id is not None:
            return [], self.since_id  # the live loop reads on from the id itself
        live_from = log.next_id(stream)
        if self.since is not None:
            return log.since_time(stream, self.since), live_from
        if self.since_ulid is not None:
            return log.since_ulid(stream, self.since_ulid), live_from
        return [], live_from

    def beyond(self, event: BrokerEvent) -> bool:
        """Past the until: the stream ends before it."""
        if self.until_id is not None:
            return event.event_id > self.until_id
        if self.until is not None:
            return event.at > self.until
        return self.until_ulid is not None and event.event_ulid > self.until_ulid

    def over(self, now: datetime, next_id: int) -> bool:
        """Nothing more can come before the until."""
        if self.until_id is not None:
            return next_id > self.until_id
        if self.until is not None:
            return now > self.until
        return self.until_ulid is not None and now > ulid_time(self.until_ulid)


def _data(body: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def _render(event: BrokerEvent) -> bytes:
    body = event.wire()
    if isinstance(body.get("order"), Order):
        body["order"] = wire.order(body["order"])
    return _data(body)


class Connection:
    """One client's stream: sends events through whatever stream faults are due on it."""

    def __init__(self, sim: Simulator, stream: str) -> None:
        self.sim, self.stream = sim, stream
        self.sent = 0
        self._held: BrokerEvent | None = None
        self._skipping = 0

    def _due(self, *kinds: str) -> Any:
        fault = self.sim.faults.stream_fault(self.stream, self.sent, *kinds)
        if fault is not None:
            fault.fired += 1
        return fault

    async def interrupted(self) -> bool:
        """True if the connection is to end now; a silence is waited out here."""
        if self._due("drop") is not None:
            return True
        silence = self._due("silence")
        if silence is not None:
            await asyncio.sleep(silence.seconds)
        return False

    def send(self, event: BrokerEvent) -> list[bytes]:
        out: list[bytes] = []
        if self._skipping:
            self._skipping -= 1
            return out
        if (slow := self._due("slow_reader")) is not None:
            self._skipping = slow.dropped - 1
            return [f": you are reading too slowly, dropped {slow.dropped} messages\n\n".encode()]
        if self._held is None and self._due("reorder") is not None:
            self._held = event
            return out
        if self._due("unknown_event") is not None:
            out.append(self._unknown(event.at))
        copies = 2 if self._due("duplicate") is not None else 1
        out += [_render(event)] * copies
        self.sent += 1
        if self._held is not None:
            out.append(_render(self._held))
            self._held = None
            self.sent += 1
        return out

    def _unknown(self, at: datetime) -> bytes:
        tail = random.Random(f"unknown:{self.sent}").getrandbits(80)
        return _data(
            {"at": rfc3339(at), "event_ulid": ulid(at, tail), "event_type": "simulated_unknown_kind"}
        )


async def _follow(sim: Simulator, stream: str, cursor: Cursor, who: str) -> AsyncIterator[bytes]:
    config = sim.engine.config
    connection = Connection(sim, stream)
    try:
        now = await sim.tick()
        sim.engine.events.forget_before(now - timedelta(days=config.event_history_days))
        history, next_id = cursor.start(sim, stream)
        beat = time.monotonic()
        while True:
            for event in history:
                if cursor.beyond(event) or await connection.interrupted():
                    return
                for chunk in connection.send(event):
                    yield chunk
            if cursor.over(now, next_id) or await connection.interrupted():
                return
            if time.monotonic() - beat >= config.event_heartbeat_seconds:
                beat = time.monotonic()
                yield b":heartbeat\n\n"
            await asyncio.sleep(config.event_poll_seconds)
            now = await sim.tick()
            sim.persist(request_changed=False)
            history = sim.engine.events.from_id(stream, next_id)
            next_id = history[-1].event_id + 1 if history else next_id
    finally:
        sim.open_streams[who] -= 1


def _handler(stream: str) -> Any:
    async def open_stream(sim: Simulator, request: Request) -> StreamingResponse:
        cursor = Cursor.parse(request.query_params)
        who = credential(request)
        if sim.open_streams[who] >= sim.engine.config.event_max_connections:
            raise BrokerApiError(429, "Too many requests", code=42910000)
        sim.open_streams[who] += 1
        headers = {"Cache-Control": "no-cache", "Connection": "keep-alive"}
        return StreamingResponse(
            _follow(sim, stream, cursor, who), media_type="text/event-stream", headers=headers
        )

    return open_stream


def routes() -> list[Route]:
    return [alpaca_route("GET", path, _handler(stream)) for stream, path in PATHS.items()]

"""The broker event listener: follows the Broker API's event streams and wakes the closures they concern.

It decides nothing. A wake only makes a closure read broker truth now instead of at its next poll, so an
event handled twice costs one extra read, a missed one at most a poll interval, and several listeners at
once are harmless. Delivery is at least once and ordered per account only, and ULIDs of one millisecond are
not ordered, so a stream is resumed `overlap` before its cursor and the events seen in that window are
remembered with the cursor: a restart neither misses nor repeats one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from temporalio.common import MetricMeter

from adapters.alpaca.event_stream import StreamSource
from closure.errors import BrokerStreamInterrupted
from closure.phases import TRANSFER_TERMINAL
from runtime.settings import ListenerSettings

log = logging.getLogger("account_closure.listener")

Wake = Callable[[str, str], Awaitable[bool]]  # (account id, what changed) -> a closure heard it
WakeAll = Callable[[str], Awaitable[int]]  # (why) -> how many closures heard it
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid_floor(at: datetime) -> str:
    """The smallest ULID of `at`'s millisecond: a `since_ulid` that misses nothing made from then on."""
    value = int(at.timestamp() * 1000) << 80
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class StreamCursor(BaseModel):
    at: datetime | None = Field(default=None, description="Broker time of the newest event handled")
    recent: dict[str, datetime] = Field(
        default_factory=dict, description="Events handled within the overlap of `at`, by key"
    )

    def remember(self, key: str, at: datetime, overlap: timedelta) -> None:
        self.at = max(self.at, at) if self.at else at
        self.recent[key] = at
        horizon = self.at - overlap
        self.recent = {k: seen for k, seen in self.recent.items() if seen >= horizon}


class CursorBook:
    """Every stream's cursor in one JSON file, replaced atomically after each event handled."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cursors: dict[str, StreamCursor] = {}
        if path.exists():
            try:
                saved = json.loads(path.read_text())
                self.cursors = {name: StreamCursor.model_validate(c) for name, c in saved.items()}
            except (ValueError, ValidationError) as exc:  # a cursor lost is polling speed, not a crash
                log.error("listener cursor file %s unreadable (%s): starting from now", path, exc)

    def __getitem__(self, stream: str) -> StreamCursor:
        return self.cursors.setdefault(stream, StreamCursor())

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w") as out:
            json.dump({name: c.model_dump(mode="json") for name, c in self.cursors.items()}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)


def _at(event: dict[str, Any]) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(event["at"]))
    except (KeyError, ValueError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _key(event: dict[str, Any]) -> str | None:
    key = event.get("event_ulid") or event.get("event_id")
    return str(key) if key not in (None, "") else None


def moves_a_closure(stream: str, event: dict[str, Any]) -> bool:
    """A transfer moving from one in-flight status to another changes nothing a closure does or says, so it
    wakes nobody (the next look reads it anyway); a transfer appearing, finishing, failing or coming back does."""
    transfer = stream == "transfers" or (stream == "funding" and event.get("entity_type") == "Transfer")
    if not transfer:
        return True
    before, after = (str(event.get(k) or "").upper() for k in ("status_from", "status_to"))
    return not before or after in TRANSFER_TERMINAL or before in TRANSFER_TERMINAL


def what_changed(stream: str, event: dict[str, Any]) -> str | None:
    """A wake's reason in words, or None for an event kind this listener does not know."""
    change = f"{event.get('status_from') or '(new)'} -> {event.get('status_to')}"
    if stream == "transfers" and event.get("transfer_id") and event.get("status_to"):
        return f"transfer {event['transfer_id']} {change}"
    if stream == "funding" and event.get("entity_type") in ("Transfer", "BankRelationship"):
        return f"{event['entity_type']} {event.get('entity_id')} {change}"
    if stream == "accounts" and event.get("status_to"):
        return f"account {change}"
    if stream == "trades" and event.get("event") and isinstance(event.get("order"), dict):
        return f"order {event['order'].get('id')} {event['event']}"
    if stream == "journals" and event.get("journal_id") and event.get("status_to"):
        return f"journal {event['journal_id']} {change}"
    return None


class EventListener:
    def __init__(
        self,
        settings: ListenerSettings,
        source: StreamSource,
        wake: Wake,
        wake_all: WakeAll,
        meter: MetricMeter | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.wake = wake
        self.wake_all = wake_all
        self.cursors = CursorBook(settings.cursor_file)
        # handled, duplicate, unknown, quiet, unreadable, woken, reconnect
        self.counts: Counter[str] = Counter()
        self.lag: dict[str, timedelta] = {}  # now minus the newest event's time, per stream
        self._events = (
            meter.create_counter("closure_listener_events", "Listener events by outcome") if meter else None
        )
        self._lag_gauge = (
            meter.create_gauge_float(
                "closure_listener_lag_seconds", "Now minus the newest event's time", unit="s"
            )
            if meter
            else None
        )

    def _count(self, outcome: str, stream: str, value: int = 1) -> None:
        self.counts[outcome] += value
        if self._events is not None and value:
            self._events.add(value, {"outcome": outcome, "stream": stream})

    def _lag(self, stream: str, at: datetime) -> None:
        self.lag[stream] = datetime.now(UTC) - at
        if self._lag_gauge is not None:
            self._lag_gauge.set(self.lag[stream].total_seconds(), {"stream": stream})

    async def run(self) -> None:
        await asyncio.gather(*(self.follow(stream) for stream in self.settings.streams))

    async def follow(self, stream: str) -> None:
        """Forever: read from the cursor, handle each event, reconnect with backoff when the stream stops."""
        await self._wake_all_if_cursor_too_old(stream)
        delay = self.settings.reconnect_min_seconds
        while True:
            try:
                async for event in self.source.events(stream, self._since(stream)):
                    await self.handle(stream, event)
                    delay = self.settings.reconnect_min_seconds
            except (BrokerStreamInterrupted, ConnectionError) as exc:
                self._count("reconnect", stream)
                lost = isinstance(exc, BrokerStreamInterrupted) and exc.lost
                log.warning(
                    "%s; reconnecting in %.1f s from the cursor%s", exc, delay, " (lost events)" * lost
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.reconnect_max_seconds)

    def _since(self, stream: str) -> str | None:
        cursor = self.cursors[stream]
        return ulid_floor(cursor.at - self.settings.overlap) if cursor.at else None

    async def _wake_all_if_cursor_too_old(self, stream: str) -> None:
        cursor = self.cursors[stream]
        if cursor.at and datetime.now(UTC) - cursor.at > self.settings.broker_keeps:
            woken = await self.wake_all(f"the {stream} stream's cursor is older than the broker keeps events")
            log.warning(
                "%s cursor from %s is older than the broker keeps: woke %d closures", stream, cursor.at, woken
            )
            self._count("woke_all", stream)

    async def handle(self, stream: str, event: dict[str, Any]) -> None:
        key, at = _key(event), _at(event)
        if key is None or at is None:
            self._count("unreadable", stream)
            log.warning("%s stream: an event without an id or a time, skipped: %.200s", stream, event)
            return
        cursor = self.cursors[stream]
        if key in cursor.recent:
            self._count("duplicate", stream)
            return
        reason = what_changed(stream, event)
        if reason is None:
            self._count("unknown", stream)
            log.info("%s stream: an event of a kind not followed, skipped: %.200s", stream, event)
        elif not moves_a_closure(stream, event):
            self._count("quiet", stream)
            log.info("%s event %s (%s): in flight still, nobody woken", stream, key, reason)
        else:
            accounts = await self._accounts(stream, event)
            woken = [account_id for account_id in accounts if await self.wake(account_id, reason)]
            self._count("woken", stream, len(woken))
            log.info("%s event %s (%s): woke %s", stream, key, reason, ",".join(woken) or "no closure")
        self._count("handled", stream)
        cursor.remember(key, at, self.settings.overlap)
        self.cursors.save()
        self._lag(stream, at)

    async def _accounts(self, stream: str, event: dict[str, Any]) -> list[str]:
        if stream == "journals":  # a journal event names the journal only
            return await self.source.journal_accounts(str(event["journal_id"]))
        return [str(event["account_id"])] if event.get("account_id") else []

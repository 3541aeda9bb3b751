"""The broker's event log: every status change, kept in order per stream for the SSE routes to serve.

Alpaca numbers each stream's events with an integer `event_id` (being retired) and a ULID `event_ulid`. A ULID
is sortable by its millisecond only: within one millisecond its random tail orders events at random, which is
why a listener must resume from a little before its cursor and deduplicate. The log keeps what the broker
keeps (`SimConfig.event_history_days` of broker time); a cursor older than that finds the oldest kept
event, and nothing says what was lost before it.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STREAMS = ("transfers", "accounts", "trades", "journals", "funding")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ulid(at: datetime, tail: int) -> str:
    """A ULID: 48 bits of Unix milliseconds, then 80 bits of `tail`, in Crockford base32."""
    value = (int(at.timestamp() * 1000) << 80) | (tail & ((1 << 80) - 1))
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def ulid_time(text: str) -> datetime:
    """The millisecond a ULID was made in; ValueError for anything that is not one."""
    if len(text) != 26 or any(c not in _CROCKFORD for c in text.upper()):
        raise ValueError(f"not a ULID: {text!r}")
    value = 0
    for char in text.upper():
        value = value * 32 + _CROCKFORD.index(char)
    return datetime.fromtimestamp((value >> 80) / 1000, UTC)


@dataclass(frozen=True)
class BrokerEvent:
    stream: str
    event_id: int
    event_ulid: str
    at: datetime
    account_id: str | None
    fields: dict[str, Any]

    def wire(self) -> dict[str, Any]:
        """The event as the stream sends it (the v2 funding stream numbers events by ULID only)."""
        at = rfc3339(self.at)
        numbered: dict[str, Any] = {
            "event_id": self.event_ulid if self.stream == "funding" else self.event_id
        }
        base = {"account_id": self.account_id} if self.account_id is not None else {}
        return {**base, "at": at, **numbered, "event_ulid": self.event_ulid, **self.fields}


@dataclass
class EventLog:
    """Every stream's events in the order they happened, oldest first, integer ids without gaps."""

    _events: dict[str, list[BrokerEvent]] = field(default_factory=lambda: {s: [] for s in STREAMS})
    _issued: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STREAMS, 0))

    def publish(self, stream: str, at: datetime, account_id: str | None, **fields: Any) -> BrokerEvent:
        self._issued[stream] += 1
        number = self._issued[stream]
        tail = random.Random(f"{stream}:{number}").getrandbits(80)  # reproducible, and no kinder than random
        event = BrokerEvent(stream, number, ulid(at, tail), at, account_id, fields)
        self._events[stream].append(event)
        return event

    def next_id(self, stream: str) -> int:
        return self._issued[stream] + 1

    def forget_before(self, horizon: datetime) -> None:
        """Drop what the broker no longer keeps."""
        for stream, events in self._events.items():
            kept = bisect.bisect_left(events, horizon, key=lambda e: e.at)
            if kept:
                self._events[stream] = events[kept:]

    def from_id(self, stream: str, first_id: int) -> list[BrokerEvent]:
        events = self._events[stream]  # bisected in place: no list is built per poll
        return events[bisect.bisect_left(events, first_id, key=lambda e: e.event_id) :]

    def since_time(self, stream: str, since: datetime) -> list[BrokerEvent]:
        return [e for e in self._events[stream] if e.at >= since]

    def since_ulid(self, stream: str, since: str) -> list[BrokerEvent]:
        """In ULID order, as the broker sorts by it: events of one millisecond may come out of log order."""
        return sorted((e for e in self._events[stream] if e.event_ulid >= since), key=lambda e: e.event_ulid)

    def all(self, stream: str) -> Iterable[BrokerEvent]:
        return iter(self._events[stream])

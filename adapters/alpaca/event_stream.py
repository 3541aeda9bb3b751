"""The Broker API's event streams, read as raw Server-Sent Events.

alpaca-py's `get_*_events` have no timeout, skip heartbeats (so silence cannot be told from a quiet day),
never check the status and drop `since_ulid`; so the streams are read here with httpx: a read timeout longer
than the heartbeat, comments kept, and every way a stream stops translated into `BrokerStreamInterrupted`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from alpaca.common.enums import BaseURL

from closure.errors import BrokerStreamInterrupted
from runtime.settings import AlpacaSettings

PATHS = {
    "transfers": "/v1/events/transfers/status",
    "accounts": "/v1/events/accounts/status",
    "trades": "/v1/events/trades",
    "journals": "/v1/events/journals/status",
    "funding": "/v2/events/funding/status",
}
SLOW_READER = "you are reading too slowly"


@dataclass(frozen=True)
class StreamSource:
    base_url: str
    auth: tuple[str, str]
    heartbeat_timeout: float
    connect_timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: AlpacaSettings, heartbeat_timeout: float) -> StreamSource:
        default = BaseURL.BROKER_SANDBOX if settings.sandbox else BaseURL.BROKER_PRODUCTION
        return cls(
            base_url=(settings.base_url or default.value).rstrip("/"),
            auth=(settings.api_key.get_secret_value(), settings.secret_key.get_secret_value()),
            heartbeat_timeout=heartbeat_timeout,
            connect_timeout=settings.request_timeout_seconds,
        )

    def _client(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(self.connect_timeout, read=self.heartbeat_timeout)
        return httpx.AsyncClient(base_url=self.base_url, auth=self.auth, timeout=timeout)

    async def events(self, stream: str, since_ulid: str | None) -> AsyncIterator[dict[str, Any]]:
        """Each event as the broker sent it, until the stream stops, which always raises."""
        params = {"since_ulid": since_ulid} if since_ulid else {}
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        try:
            async with (
                self._client() as client,
                client.stream("GET", PATHS[stream], params=params, headers=headers) as response,
            ):
                if response.status_code != 200:
                    body = (await response.aread())[:200].decode(errors="replace")
                    raise BrokerStreamInterrupted(f"{stream} stream refused: {response.status_code} {body}")
                async for line in response.aiter_lines():
                    event = _event(stream, line)
                    if event is not None:
                        yield event
        except httpx.ReadTimeout:
            raise BrokerStreamInterrupted(
                f"{stream} stream silent for {self.heartbeat_timeout:g} s, heartbeats included"
            ) from None
        except httpx.HTTPError as exc:
            raise BrokerStreamInterrupted(f"{stream} stream dropped: {type(exc).__name__}") from None
        raise BrokerStreamInterrupted(f"{stream} stream ended by the broker")

    async def journal_accounts(self, journal_id: str) -> list[str]:
        """The accounts a journal moved money between (journal events do not name them)."""
        try:
            async with self._client() as client:
                response = await client.get(f"/v1/journals/{journal_id}")
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BrokerStreamInterrupted(f"journal {journal_id} unreadable: {type(exc).__name__}") from None
        return [str(body[key]) for key in ("from_account", "to_account") if body.get(key)]


def _event(stream: str, line: str) -> dict[str, Any] | None:
    if line.startswith(":"):
        if SLOW_READER in line:
            raise BrokerStreamInterrupted(f"{stream} stream dropped events:{line[1:]}", lost=True)
        return None  # a heartbeat; the read timeout is what watches for silence
    if not line.startswith("data:"):
        return None
    try:
        event = json.loads(line[len("data:") :])
    except json.JSONDecodeError:
        return {"unreadable": line[:200]}
    return event if isinstance(event, dict) else {"unreadable": line[:200]}

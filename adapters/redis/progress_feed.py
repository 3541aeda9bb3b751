"""The API's live progress: one Redis subscription per process, fanned out to every stream that follows a closure.

A subscription per stream would hold a Redis connection per browser tab (300 tabs, 300 connections) and
leave its clean-up to a task that is already being cancelled. Here a stream holds only an in-memory queue;
the one connection subscribes to a closure's channel while anyone follows it and unsubscribes after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis
import redis.asyncio as aioredis

from adapters.redis.keys import channel

log = logging.getLogger("account_closure.api")
BACKLOG = 16  # progress messages are whole snapshots: a slow reader loses only ones a newer one replaces
POLL = 1.0


class ProgressFeed:
    def __init__(self, client: aioredis.Redis) -> None:
        self._pubsub = client.pubsub()
        self._followers: dict[str, set[asyncio.Queue[bytes]]] = {}
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def follow(self, account_id: str) -> AsyncIterator[asyncio.Queue[bytes]]:
        """A queue of the closure's progress messages (raw JSON) from now until the block ends."""
        name = channel(account_id)
        queue: asyncio.Queue[bytes] = asyncio.Queue(BACKLOG)
        async with self._lock:
            if name not in self._followers:
                await self._pubsub.subscribe(name)
                self._followers[name] = set()
            self._followers[name].add(queue)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="progress-feed")
        try:
            yield queue
        finally:
            # A dropped stream arrives here cancelled; the bookkeeping must still run to the end.
            await asyncio.shield(self._leave(name, queue))

    async def _leave(self, name: str, queue: asyncio.Queue[bytes]) -> None:
        async with self._lock:
            followers = self._followers.get(name, set())
            followers.discard(queue)
            if followers:
                return
            self._followers.pop(name, None)
            try:
                await self._pubsub.unsubscribe(name)
            except (redis.RedisError, OSError) as exc:  # resubscribed on reconnect only if still followed
                log.warning("progress feed: unsubscribe failed: %s", type(exc).__name__)

    def following(self) -> int:
        return sum(len(queues) for queues in self._followers.values())

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL)
            except (redis.RedisError, OSError) as exc:
                # The connection resubscribes every followed channel when it comes back.
                log.warning("progress feed: Redis %s; reconnecting", type(exc).__name__)
                await asyncio.sleep(POLL)
                continue
            if message is None or message.get("type") != "message":
                continue
            name = (
                message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            )
            for queue in list(self._followers.get(name, ())):
                _offer(queue, message["data"])

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()


def _offer(queue: asyncio.Queue[bytes], data: bytes) -> None:
    if queue.full():
        queue.get_nowait()  # the oldest snapshot goes; the newest always gets through
    queue.put_nowait(data)

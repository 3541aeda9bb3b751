"""Initiations per user per window: shared in Redis across API processes when it is configured."""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta

import redis
import redis.asyncio as aioredis

from adapters.redis.keys import initiate_count_key

log = logging.getLogger("account_closure.api")


class InitiateLimiter:
    def __init__(self, limit: int, window: timedelta, client: aioredis.Redis | None) -> None:
        self._limit = limit
        self._window = max(1, math.ceil(window.total_seconds()))
        self._client = client
        self._local: dict[str, tuple[int, int]] = {}

    async def retry_after(self, user_id: str) -> int | None:
        """Count one initiation; the seconds to wait if the user is over the limit, else None."""
        bucket = int(time.time()) // self._window
        if self._client is not None:
            try:
                return await self._shared(user_id, bucket)
            except (redis.RedisError, OSError) as exc:
                # The limiter must not take the API down with Redis; this process counts alone meanwhile.
                log.warning("rate limit counted in this process: Redis %s", type(exc).__name__)
        seen_bucket, count = self._local.get(user_id, (bucket, 0))
        count = count + 1 if seen_bucket == bucket else 1
        self._local[user_id] = (bucket, count)  # one event loop: no lock needed
        return self._wait(bucket) if count > self._limit else None

    async def _shared(self, user_id: str, bucket: int) -> int | None:
        assert self._client is not None
        key = initiate_count_key(user_id, bucket)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._window * 2)
            count = int((await pipe.execute())[0])
        return self._wait(bucket) if count > self._limit else None

    def _wait(self, bucket: int) -> int:
        return max(1, (bucket + 1) * self._window - int(time.time()))

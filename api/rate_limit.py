"""Initiations per user per window: shared in Redis across API processes when it is configured."""

from __future__ import annotations

import math
import threading
import time
from datetime import timedelta

import redis

from adapters.redis.keys import initiate_count_key


class InitiateLimiter:
    def __init__(self, limit: int, window: timedelta, client: redis.Redis | None) -> None:
        self._limit = limit
        self._window = max(1, math.ceil(window.total_seconds()))
        self._client = client
        self._local: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def retry_after(self, user_id: str) -> int | None:
        """Count one initiation; the seconds to wait if the user is over the limit, else None."""
        bucket = int(time.time()) // self._window
        if self._client is not None:
            try:
                return self._shared(user_id, bucket)
            except redis.RedisError:
                pass  # the limiter must not take the API down with Redis; fall back to this process
        with self._lock:
            seen_bucket, count = self._local.get(user_id, (bucket, 0))
            count = count + 1 if seen_bucket == bucket else 1
            self._local[user_id] = (bucket, count)
        return self._wait(bucket) if count > self._limit else None

    def _shared(self, user_id: str, bucket: int) -> int | None:
        assert self._client is not None
        key = initiate_count_key(user_id, bucket)
        pipe = self._client.pipeline()
        pipe.incr(key)
        pipe.expire(key, self._window * 2)
        count = int(pipe.execute()[0])
        return self._wait(bucket) if count > self._limit else None

    def _wait(self, bucket: int) -> int:
        return max(1, (bucket + 1) * self._window - int(time.time()))

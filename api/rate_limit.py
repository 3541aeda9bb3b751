"""Sliding-window rate limits, shared in Redis across API processes when it is configured.

Each limit counts requests per subject (a user, an operator, a client address) in fixed buckets one window
long, and judges a request by the current bucket plus the previous one weighted by how much of it still lies
inside the window: a burst at a bucket boundary cannot pass twice the limit, as a plain fixed window lets it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import redis
import redis.asyncio as aioredis

from adapters.redis.keys import rate_count_key
from api.errors import ApiError
from runtime.settings import ApiSettings

log = logging.getLogger("account_closure.api")
ALONE_FOR = 5.0  # seconds a process counts alone after Redis failed it


@dataclass
class RedisOutage:
    """Shared by every limit of a process: one failed count is enough for all of them to count alone, so a
    hung Redis costs a request one timeout, not one per limit."""

    until: float = 0.0

    def ongoing(self, now: float) -> bool:
        return now < self.until

    def began(self, now: float) -> None:
        self.until = now + ALONE_FOR


# Judge, then count only what is let through: a refused request must not push its own Retry-After back.
_ADMIT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[1]) + current + 1 > tonumber(ARGV[2]) then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, current, previous}
"""


class RateLimit:
    def __init__(
        self,
        name: str,
        limit: int,
        window: timedelta,
        client: aioredis.Redis | None,
        clock: Callable[[], float] = time.time,
        outage: RedisOutage | None = None,
    ) -> None:
        self.name = name
        self._clock = clock
        self.limit = limit
        self._window = max(1, math.ceil(window.total_seconds()))
        self._client = client
        self._script = client.register_script(_ADMIT) if client is not None else None
        self._local: dict[tuple[str, int], int] = {}
        self._local_bucket = 0
        self._outage = outage or RedisOutage()

    async def retry_after(self, subject: str) -> int | None:
        """Admit one request and count it; or refuse it, uncounted, with the whole seconds to wait."""
        now = self._clock()
        bucket = int(now) // self._window
        into = (now - bucket * self._window) / self._window  # the share of this bucket gone by
        judged: tuple[bool, int, int] | None = None
        if self._script is not None and not self._outage.ongoing(now):
            try:
                judged = await self._shared(subject, bucket, 1 - into)
            except (redis.RedisError, OSError) as exc:
                # The limit must not take the API down with Redis: this process counts alone for a while,
                # rather than make every request wait out a hung Redis once per limit.
                self._outage.began(now)
                log.warning("rate limit %s counted in this process: Redis %s", self.name, type(exc).__name__)
        if judged is None:
            judged = self._here(subject, bucket, 1 - into)
        admitted, current, previous = judged
        return None if admitted else self._wait(into, current, previous)

    async def _shared(self, subject: str, bucket: int, weight: float) -> tuple[bool, int, int]:
        assert self._script is not None
        keys = [rate_count_key(self.name, subject, bucket), rate_count_key(self.name, subject, bucket - 1)]
        admitted, current, previous = await self._script(
            keys=keys, args=[repr(weight), self.limit, self._window * 2]
        )
        return bool(admitted), int(current), int(previous)

    def _here(self, subject: str, bucket: int, weight: float) -> tuple[bool, int, int]:
        if bucket != self._local_bucket:  # one event loop: no lock needed
            self._local = {k: v for k, v in self._local.items() if k[1] >= bucket - 1}
            self._local_bucket = bucket
        current = self._local.get((subject, bucket), 0)
        previous = self._local.get((subject, bucket - 1), 0)
        if previous * weight + current + 1 > self.limit:
            return False, current, previous
        self._local[(subject, bucket)] = current + 1
        return True, current + 1, previous

    def _wait(self, into: float, current: int, previous: int) -> int:
        """When previous * (1 - share gone) + current + 1 first fits in the limit again."""
        if current + 1 > self.limit:  # only the next bucket, weighing this one down, makes room
            clear = 2 - (self.limit - 1) / current
        else:  # the previous bucket's weight must fall far enough
            clear = 1 - (self.limit - current - 1) / previous
        return max(1, math.ceil((clear - into) * self._window))


@dataclass(frozen=True)
class Throttle:
    """Every limit the API applies: per client address on every route, signed in or not, then per user
    or operator once the credential is known, and initiations per user on top."""

    address: RateLimit
    user: RateLimit
    initiate: RateLimit

    @classmethod
    def of(cls, settings: ApiSettings, client: aioredis.Redis | None) -> Throttle:
        window, outage = settings.request_window, RedisOutage()
        return cls(
            address=RateLimit("address", settings.address_request_limit, window, client, outage=outage),
            user=RateLimit("user", settings.user_request_limit, window, client, outage=outage),
            initiate=RateLimit(
                "initiate", settings.initiate_limit, settings.initiate_window, client, outage=outage
            ),
        )

    async def admit(self, limit: RateLimit, subject: str) -> None:
        wait = await limit.retry_after(subject)
        if wait is not None:
            raise ApiError(
                429,
                "TooManyRequests" if limit is not self.initiate else "TooManyInitiations",
                f"over the {limit.name} limit of {limit.limit} a window; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )

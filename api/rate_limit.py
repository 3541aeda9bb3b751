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
# Several limits of one request are judged in one call, in order, each admitted one counted, stopping at
# the first refusal: the same outcome as one call per limit, for one round trip. (The keys of one call
# differ in subject, so a Redis Cluster would need them under one hash tag; the API runs on one Redis.)
_ADMIT = """
local judged = {}
for i = 1, #KEYS / 2 do
  local now_key, before_key = KEYS[2 * i - 1], KEYS[2 * i]
  local current = tonumber(redis.call('GET', now_key) or '0')
  local previous = tonumber(redis.call('GET', before_key) or '0')
  if previous * tonumber(ARGV[3 * i - 2]) + current + 1 > tonumber(ARGV[3 * i - 1]) then
    judged[i] = {0, current, previous}
    return judged
  end
  current = redis.call('INCR', now_key)
  redis.call('EXPIRE', now_key, ARGV[3 * i])
  judged[i] = {1, current, previous}
end
return judged
"""


@dataclass(frozen=True)
class _Moment:
    """Where a request falls in a limit's buckets: the current one and the share of it gone by."""

    bucket: int
    into: float


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
        self.clock = clock
        self.limit = limit
        self._window = max(1, math.ceil(window.total_seconds()))
        self._client = client
        self.script = client.register_script(_ADMIT) if client is not None else None
        self._local: dict[tuple[str, int], int] = {}
        self._local_bucket = 0
        self.outage = outage or RedisOutage()

    async def retry_after(self, subject: str) -> int | None:
        """Admit one request and count it; or refuse it, uncounted, with the whole seconds to wait."""
        refused = await judge([(self, subject)])
        return None if refused is None else refused[1]

    def moment(self) -> _Moment:
        now = self.clock()
        bucket = int(now) // self._window
        return _Moment(bucket, (now - bucket * self._window) / self._window)

    def shared_keys(self, subject: str, at: _Moment) -> list[str]:
        return [
            rate_count_key(self.name, subject, at.bucket),
            rate_count_key(self.name, subject, at.bucket - 1),
        ]

    def shared_args(self, at: _Moment) -> list[str | int]:
        return [repr(1 - at.into), self.limit, self._window * 2]

    def here(self, subject: str, at: _Moment) -> tuple[bool, int, int]:
        """The same judgement counted in this process alone."""
        bucket, weight = at.bucket, 1 - at.into
        if bucket != self._local_bucket:  # one event loop: no lock needed
            self._local = {k: v for k, v in self._local.items() if k[1] >= bucket - 1}
            self._local_bucket = bucket
        current = self._local.get((subject, bucket), 0)
        previous = self._local.get((subject, bucket - 1), 0)
        if previous * weight + current + 1 > self.limit:
            return False, current, previous
        self._local[(subject, bucket)] = current + 1
        return True, current + 1, previous

    def wait(self, at: _Moment, current: int, previous: int) -> int:
        """When previous * (1 - share gone) + current + 1 first fits in the limit again."""
        if current + 1 > self.limit:  # only the next bucket, weighing this one down, makes room
            clear = 2 - (self.limit - 1) / current
        else:  # the previous bucket's weight must fall far enough
            clear = 1 - (self.limit - current - 1) / previous
        return max(1, math.ceil((clear - at.into) * self._window))


Check = tuple[RateLimit, str]  # a limit and the subject it counts (an address, a user)


async def judge(checks: list[Check]) -> tuple[RateLimit, int] | None:
    """Admit a request under every limit in order, or name the first that refuses it and the seconds to
    wait; limits before a refusal count the request, as they would have one call at a time. Limits that
    share a Redis client are judged in one round trip."""
    moments = [limit.moment() for limit, _ in checks]
    first = checks[0][0]
    judged: list[tuple[bool, int, int]] | None = None
    now = first.clock()
    if first.script is not None and not first.outage.ongoing(now):
        try:
            judged = await _shared(checks, moments)
        except (redis.RedisError, OSError) as exc:
            # The limit must not take the API down with Redis: this process counts alone for a while,
            # rather than make every request wait out a hung Redis once per limit.
            first.outage.began(now)
            log.warning("rate limit %s counted in this process: Redis %s", first.name, type(exc).__name__)
    if judged is None:
        judged = _here(checks, moments)
    for (limit, _), at, (admitted, current, previous) in zip(checks, moments, judged, strict=False):
        if not admitted:
            return limit, limit.wait(at, current, previous)
    return None


async def _shared(checks: list[Check], moments: list[_Moment]) -> list[tuple[bool, int, int]]:
    script = checks[0][0].script
    assert script is not None
    keys = [
        key
        for (limit, subject), at in zip(checks, moments, strict=True)
        for key in limit.shared_keys(subject, at)
    ]
    args = [arg for (limit, _), at in zip(checks, moments, strict=True) for arg in limit.shared_args(at)]
    answer = await script(keys=keys, args=args)
    return [(bool(admitted), int(current), int(previous)) for admitted, current, previous in answer]


def _here(checks: list[Check], moments: list[_Moment]) -> list[tuple[bool, int, int]]:
    judged = []
    for (limit, subject), at in zip(checks, moments, strict=True):
        judged.append(limit.here(subject, at))
        if not judged[-1][0]:
            break
    return judged


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
        await self.admit_all((limit, subject))

    async def admit_all(self, *checks: Check) -> None:
        """Refuse the request with a 429 and its Retry-After unless every limit admits it (in order)."""
        refused = await judge(list(checks))
        if refused is not None:
            limit, wait = refused
            raise ApiError(
                429,
                "TooManyRequests" if limit is not self.initiate else "TooManyInitiations",
                f"over the {limit.name} limit of {limit.limit} a window; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )

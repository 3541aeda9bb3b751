"""The broker's rate limit: a budget of calls per minute for each credential, told on every response.

Alpaca's Broker API allows 1,000 calls a minute and says so in `X-RateLimit-Limit`, `X-RateLimit-Remaining`
and `X-RateLimit-Reset` (epoch seconds) on every answer; beyond it, 429. The budget is counted in real
time, whatever the broker's clock does, because that is how the real one counts.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

LOG_LENGTH = 10_000


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    limit: int
    remaining: int
    reset: float  # epoch seconds when the window's budget is whole again
    now: float

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.reset - self.now)))
        return headers


@dataclass
class RateBook:
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)  # credential -> (window start, used)
    refused: int = 0
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LENGTH))

    def take(self, credential: str, limit: int, window_seconds: float, now: float) -> RateVerdict:
        start = now // window_seconds * window_seconds
        window, used = self.windows.get(credential, (start, 0))
        if window != start:
            used = 0
        verdict = RateVerdict(used < limit, limit, max(limit - used - 1, 0), start + window_seconds, now)
        if verdict.allowed:
            self.windows[credential] = (start, used + 1)
        else:
            self.refused += 1
        self.log.append(
            {"credential": credential, "at": now, "allowed": verdict.allowed, "reset": verdict.reset}
        )
        return verdict

"""The simulator's clock: frozen and moved by hand, running (at any rate), or following Temporal's test server.

Following the time-skipping test server makes T+1 settlement and ACH delays line up with workflow timers
that the server skips over: when a test's workflow sleeps 24 h, the broker sees 24 h pass as well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from google.protobuf.empty_pb2 import Empty
from temporalio.service import ConnectConfig, ServiceClient

ClockMode = Literal["manual", "running", "follow_temporal"]


class ClockError(ValueError):
    """A clock change that would break the simulation (time never runs backwards)."""


@dataclass
class _Anchor:
    sim: datetime
    source: float  # monotonic seconds, or temporal seconds since the epoch


class SimClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._mode: ClockMode = "manual"
        self._anchor = _Anchor(start or datetime.now(UTC), 0.0)
        self._rate = 1.0
        self._temporal_target: str | None = None
        self._temporal: ServiceClient | None = None
        self._last = self._anchor.sim

    @property
    def mode(self) -> ClockMode:
        return self._mode

    def describe(self) -> dict[str, object]:
        return {"mode": self._mode, "rate": self._rate, "follow_temporal": self._temporal_target}

    async def now(self) -> datetime:
        if self._mode == "manual":
            current = self._anchor.sim
        elif self._mode == "running":
            elapsed = (time.monotonic() - self._anchor.source) * self._rate
            current = self._anchor.sim + timedelta(seconds=elapsed)
        else:
            elapsed = await self._temporal_seconds() - self._anchor.source
            current = self._anchor.sim + timedelta(seconds=elapsed)
        # Never hand out an earlier time than before, whatever the source does.
        self._last = max(self._last, current)
        return self._last

    async def set(self, now: datetime) -> None:
        self._require_forward(now)
        await self._reanchor(now)

    def rewind(self, now: datetime) -> None:
        """Start over at an earlier time; only for a broker that has recorded nothing yet."""
        if now.tzinfo is None:
            raise ClockError("times must carry a UTC offset")
        self._mode, self._rate = "manual", 1.0
        self._anchor = _Anchor(now, 0.0)
        self._last = now

    async def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ClockError("advance_seconds must not be negative")
        target = await self.now() + timedelta(seconds=seconds)
        await self._reanchor(target)
        return target

    async def run(self, rate: float, now: datetime | None = None) -> None:
        if rate <= 0:
            raise ClockError("rate must be positive")
        start = now or await self.now()
        self._require_forward(start)
        self._mode, self._rate = "running", rate
        self._anchor = _Anchor(start, time.monotonic())
        self._last = start

    async def follow_temporal(self, target: str, now: datetime | None = None) -> None:
        start = now or await self.now()
        self._require_forward(start)
        if target != self._temporal_target:
            self._temporal = await ServiceClient.connect(ConnectConfig(target_host=target))
            self._temporal_target = target
        self._mode, self._rate = "follow_temporal", 1.0
        self._anchor = _Anchor(start, await self._temporal_seconds())
        self._last = start

    def snapshot(self) -> dict[str, object]:
        """What survives a restart: a following clock resumes as a running one at rate 1."""
        running = self._mode != "manual"
        if self._mode == "running":
            now = self._anchor.sim + timedelta(seconds=(time.monotonic() - self._anchor.source) * self._rate)
        else:
            now = self._last
        return {"running": running, "rate": self._rate, "now": max(now, self._last), "wall": time.time()}

    @classmethod
    def restore(cls, snapshot: dict[str, object]) -> SimClock:
        now = snapshot["now"]
        assert isinstance(now, datetime)
        clock = cls(now)
        rate = float(snapshot["rate"])  # type: ignore[arg-type]
        if snapshot["running"]:
            # Time went on while the simulator was down, as it does at a real broker.
            down = max(time.time() - float(snapshot["wall"]), 0.0)  # type: ignore[arg-type]
            start = now + timedelta(seconds=down * rate)
            clock._mode, clock._rate = "running", rate
            clock._anchor = _Anchor(start, time.monotonic())
            clock._last = start
        return clock

    async def _reanchor(self, at: datetime) -> None:
        """Keep the mode, but make `at` the current time."""
        if self._mode == "running":
            self._anchor = _Anchor(at, time.monotonic())
        elif self._mode == "follow_temporal":
            self._anchor = _Anchor(at, await self._temporal_seconds())
        else:
            self._anchor = _Anchor(at, 0.0)
        self._last = at

    def _require_forward(self, target: datetime) -> None:
        if target.tzinfo is None:
            raise ClockError("times must carry a UTC offset")
        if target < self._last:
            raise ClockError(
                f"the clock cannot go back from {self._last.isoformat()} to {target.isoformat()}"
            )

    async def _temporal_seconds(self) -> float:
        assert self._temporal is not None
        response = await self._temporal.test_service.get_current_time(Empty())
        return float(response.time.seconds) + response.time.nanos / 1e9

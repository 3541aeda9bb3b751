"""The progress-mirror activity: one write of the legacy Redis keys and the progress model."""

from __future__ import annotations

from temporalio import activity

from adapters.redis.mirror import MirrorResult, MirrorWrite, ProgressMirror


class MirrorActivities:
    def __init__(self, mirror: ProgressMirror | None) -> None:
        self._mirror = mirror

    @activity.defn(name="mirror.publish")
    def publish(self, write: MirrorWrite) -> MirrorResult:
        if self._mirror is None:
            return MirrorResult(written=False, reason="the mirror is off (no REDIS_URL)")
        return self._mirror.write(write)

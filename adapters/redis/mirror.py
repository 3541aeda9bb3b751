"""The Redis progress mirror: the legacy keys the frontend already reads, plus the full progress model.

A one-way mirror of the workflow's state; nothing reads it back to decide anything. Every write carries
the workflow's monotonic sequence and is applied by one Lua script, so an older write that arrives late
never overwrites a newer one; each write refreshes the TTL and publishes on the account's channel.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
import redis.asyncio as aioredis
from pydantic import BaseModel

from adapters.redis.keys import (
    LEGACY_TRANSFER_STATUS,
    channel,
    closure_state_key,
    progress_key,
    sequence_key,
    withdrawal_state_key,
)
from closure.errors import MirrorUnavailable
from closure.phases import ClosurePhase
from closure.progress import ClosureProgress

WITHDRAWAL_PHASES = {
    ClosurePhase.WITHDRAWAL,
    ClosurePhase.WITHDRAWAL_24HR_WAIT,
    ClosurePhase.TRANSFER_COMPLETION,
    ClosurePhase.FINAL_CLOSURE,
    ClosurePhase.COMPLETED,
}


class MirrorWrite(BaseModel):
    progress: ClosureProgress

    @property
    def account_id(self) -> str:
        return self.progress.account_id

    @property
    def sequence(self) -> int:
        return self.progress.sequence


class MirrorResult(BaseModel):
    written: bool
    reason: str


def dumps(value: Any) -> str:
    """JSON whose amounts are exact decimal numbers (`50000.00`), as the legacy readers expect numbers."""
    marks: dict[str, str] = {}

    def encode(item: Any) -> Any:
        if isinstance(item, Decimal):
            mark = f"@@{uuid.uuid4().hex}@@"
            marks[mark] = format(item, "f")
            return mark
        if isinstance(item, datetime):
            return item.isoformat()
        if isinstance(item, dict):
            return {k: encode(v) for k, v in item.items()}
        if isinstance(item, list):
            return [encode(v) for v in item]
        return item

    text = json.dumps(encode(value))
    for mark, number in marks.items():
        text = text.replace(f'"{mark}"', number)
    return text


def _process_status(progress: ClosureProgress) -> str:
    if progress.phase == ClosurePhase.WITHDRAWAL_24HR_WAIT:
        return "scheduled_for_resume"
    if progress.phase in (ClosurePhase.COMPLETED, ClosurePhase.CANCELLED, ClosurePhase.NEEDS_ATTENTION):
        return progress.phase.value
    return "running"


def closure_state(write: MirrorWrite) -> dict[str, Any]:
    """`closure_state:{account_id}` in the legacy shape (plus what the legacy scenario added on the way)."""
    p = write.progress
    return {
        "user_id": p.user_id,
        "account_id": write.account_id,
        "ach_relationship_id": p.ach_relationship_id,
        "confirmation_number": p.confirmation_number,
        "phase": p.phase.value,
        "initiated_at": p.started_at,
        "updated_at": p.history[-1].at if p.history else p.started_at,
        "next_action_time": p.next_action_at,
        "process_status": _process_status(p),
        "needs_attention_reason": p.attention.reason if p.attention else None,
        "sequence": write.sequence,
    }


def withdrawal_state(write: MirrorWrite) -> dict[str, Any] | None:
    """`withdrawal_state:{account_id}` once the withdrawal has started, as the legacy scheduler wrote it."""
    p = write.progress
    started = next((h.at for h in p.history if h.phase == ClosurePhase.WITHDRAWAL), None)
    if started is None:
        return None
    waiting = p.phase == ClosurePhase.WITHDRAWAL_24HR_WAIT
    return {
        "phase": p.phase.value if p.phase in WITHDRAWAL_PHASES else ClosurePhase.WITHDRAWAL.value,
        "ach_relationship_id": p.ach_relationship_id,
        "daily_limit": p.daily_transfer_limit,
        "started_at": started,
        "transfers_completed": [
            {
                "amount": t.amount,
                "transfer_id": t.transfer_id,
                "initiated_at": t.initiated_at,
                "status": LEGACY_TRANSFER_STATUS.get(t.status, "pending"),
            }
            for t in p.transfers
        ],
        "next_transfer_date": p.next_action_at if waiting else None,
        "waiting_for_next_transfer": waiting,
        "sequence": write.sequence,
    }


_WRITE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local incoming = tonumber(ARGV[1])
if incoming < current or (incoming == current and redis.call('EXISTS', KEYS[2]) == 1) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[2])
end
redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[2])
redis.call('PUBLISH', ARGV[6], ARGV[5])
return 1
"""


class ProgressMirror:
    def __init__(self, client: redis.Redis, ttl: timedelta) -> None:
        self._client = client
        self._ttl = int(ttl.total_seconds())
        self._script = client.register_script(_WRITE)

    @classmethod
    def from_url(cls, url: str, ttl: timedelta) -> ProgressMirror:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), ttl)

    def write(self, write: MirrorWrite) -> MirrorResult:
        account = write.account_id
        withdrawal = withdrawal_state(write)
        progress = write.progress.model_copy(update={"mirrored_at": datetime.now(UTC)}).model_dump_json()
        try:
            applied = self._script(
                keys=[
                    sequence_key(account),
                    closure_state_key(account),
                    withdrawal_state_key(account),
                    progress_key(account),
                ],
                args=[
                    write.sequence,
                    self._ttl,
                    dumps(closure_state(write)),
                    dumps(withdrawal) if withdrawal is not None else "",
                    progress,
                    channel(account),
                ],
            )
        except redis.RedisError as exc:
            raise MirrorUnavailable(f"Redis: {type(exc).__name__}: {exc}") from exc
        if applied:
            return MirrorResult(written=True, reason=f"sequence {write.sequence}")
        return MirrorResult(
            written=False, reason=f"sequence {write.sequence} is not newer than what Redis has"
        )

    def read_progress(self, account_id: str) -> ClosureProgress | None:
        raw = self._client.get(progress_key(account_id))
        return ClosureProgress.model_validate_json(raw) if raw else None


class ProgressReader:
    """The API's side of the mirror: reads on the shared asyncio client, never blocking the event loop."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def read_progress(self, account_id: str) -> ClosureProgress | None:
        try:
            raw = await self._client.get(progress_key(account_id))
        except (redis.RedisError, OSError) as exc:  # a timeout is a RedisError, a refused socket an OSError
            raise MirrorUnavailable(f"Redis: {type(exc).__name__}: {exc}") from exc
        return ClosureProgress.model_validate_json(raw) if raw else None

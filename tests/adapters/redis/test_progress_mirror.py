"""The Redis mirror against a real Redis: legacy shapes at each phase, newest write wins, TTLs, never blocking."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import redis
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from adapters.redis.keys import closure_state_key, progress_key, withdrawal_state_key
from adapters.redis.mirror import MirrorWrite, ProgressMirror
from closure.phases import ClosurePhase
from closure.progress import ClosureProgress
from simulator.server import SimulatorServer
from tests.support import ClosureLab, closure_lab, ny, progress_snapshot

# The legacy document's examples, field by field.
LEGACY_CLOSURE_STATE = {
    "user_id", "account_id", "ach_relationship_id", "confirmation_number", "phase", "initiated_at", "updated_at"
}  # fmt: skip
LEGACY_WITHDRAWAL_STATE = {
    "phase", "ach_relationship_id", "daily_limit", "started_at", "transfers_completed", "next_transfer_date",
    "waiting_for_next_transfer",
}  # fmt: skip
LEGACY_TRANSFER = {"amount", "transfer_id", "initiated_at", "status"}


def _json(client: redis.Redis, key: str) -> dict[str, Any] | None:
    raw = client.get(key)
    return json.loads(raw) if raw else None


async def _mirrored(
    lab: ClosureLab, handle: WorkflowHandle[Any, Any], client: redis.Redis
) -> ClosureProgress:
    """The progress once Redis has caught up with it (writes run beside the closure)."""
    for _ in range(200):
        progress = await lab.progress(handle)
        stored = _json(client, progress_key(progress.account_id))
        if stored and stored["sequence"] >= progress.sequence:
            return progress
        await lab.env.sleep(timedelta(seconds=1))
    raise AssertionError("the mirror never caught up")


def _in(phase: ClosurePhase) -> Callable[[ClosureProgress], bool]:
    return lambda progress: progress.phase == phase


async def test_legacy_keys_match_the_legacy_shapes_at_each_phase(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 4, 11, 9, 45), redis_url=redis_url) as lab:
        lab.broker.set_prices({"DIA": Decimal("400.00")})
        account = lab.broker.funded_account(Decimal("100000.00"))
        lab.broker.buy(account, "DIA", Decimal("50"))
        lab.broker.advance((ny(2025, 4, 11, 18, 0) - lab.broker.now()).total_seconds())  # Friday evening
        lab.follow_temporal()
        started = await lab.start(account)
        aid = account.account_id
        seen: dict[ClosurePhase, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}
        for phase in (ClosurePhase.LIQUIDATION, ClosurePhase.SETTLEMENT, ClosurePhase.WITHDRAWAL_24HR_WAIT):
            await lab.until(started.handle, _in(phase), step=timedelta(minutes=20))
            await _mirrored(lab, started.handle, client)
            seen[phase] = (_json(client, closure_state_key(aid)), _json(client, withdrawal_state_key(aid)))
        progress = await lab.finish(started)
        await lab.terminate_leftovers()
        final = _json(client, closure_state_key(aid))

        for phase, (closure_state, _) in seen.items():
            assert closure_state is not None
            assert closure_state.keys() >= LEGACY_CLOSURE_STATE
            assert closure_state["phase"] == phase.value
            assert closure_state["account_id"] == aid
            assert closure_state["confirmation_number"] == started.confirmation_number
            assert closure_state["user_id"] == progress.user_id
            assert closure_state["ach_relationship_id"] == account.relationship_id
        assert seen[ClosurePhase.LIQUIDATION][1] is None  # as in the legacy design: written once withdrawing
        waiting = seen[ClosurePhase.WITHDRAWAL_24HR_WAIT][1]
        assert waiting is not None
        assert waiting.keys() >= LEGACY_WITHDRAWAL_STATE
        assert waiting["daily_limit"] == 50000.0  # a JSON number, as the legacy readers expect
        assert waiting["waiting_for_next_transfer"] is True
        assert waiting["next_transfer_date"] is not None
        [first] = waiting["transfers_completed"]
        assert first.keys() >= LEGACY_TRANSFER
        assert first["amount"] == 50000.0
        assert seen[ClosurePhase.WITHDRAWAL_24HR_WAIT][0]["process_status"] == "scheduled_for_resume"  # type: ignore[index]
        assert final is not None
        assert final["phase"] == "completed"
        done = _json(client, withdrawal_state_key(aid))
        assert done is not None
        assert [t["status"] for t in done["transfers_completed"]] == ["completed", "completed"]
        assert 6 * 86400 < client.ttl(closure_state_key(aid)) <= 7 * 86400
        assert 6 * 86400 < client.ttl(progress_key(aid)) <= 7 * 86400


def _write(sequence: int, phase: ClosurePhase) -> MirrorWrite:
    return MirrorWrite(progress=progress_snapshot("acct-1", phase, sequence))


def test_an_older_write_never_overwrites_a_newer_one(redis_url: str) -> None:
    mirror = ProgressMirror.from_url(redis_url, timedelta(days=7))
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe("closure_progress:acct-1")
    assert mirror.write(_write(5, ClosurePhase.WITHDRAWAL)).written
    late = mirror.write(_write(4, ClosurePhase.SETTLEMENT))  # delivered after 5
    assert not late.written
    stored = _json(client, closure_state_key("acct-1"))
    assert stored is not None
    assert (stored["phase"], stored["sequence"]) == ("withdrawal", 5)
    assert not mirror.write(_write(5, ClosurePhase.WITHDRAWAL)).written  # a replayed write changes nothing
    assert mirror.write(_write(6, ClosurePhase.TRANSFER_COMPLETION)).written
    messages = []
    while (message := pubsub.get_message(timeout=1)) is not None:
        if message["type"] == "message":
            messages.append(json.loads(message["data"])["sequence"])
    assert messages == [5, 6]


async def test_a_dead_redis_never_blocks_or_fails_a_closure(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(
        env, sim, executor, seed_at=ny(2025, 4, 14, 7, 0), redis_url="redis://127.0.0.1:1/0"
    ) as lab:
        account = lab.broker.funded_account(Decimal("20000.00"))
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))

        assert progress.phase == ClosurePhase.COMPLETED
        failures = [a for a in progress.alerts if a.kind == "side_effect_failed"]
        assert failures, "a mirror that keeps failing is reported to ops"
        assert all("Redis" in a.message for a in failures)
        lab.assert_invariants(account.account_id, progress)

"""Waits whose end the broker's calendar predicts sleep until it; polls are kept for what the broker times.

The legacy $150,000 closure on the time-skipping server with production durations: the proceeds settle at
T+1 08:00 New York time, so the withdrawal starts then rather than at the next 2-hourly poll; while no
transfer is in flight the 24 h spacing wait looks at nothing; with the event listener's rarer fallback
polls (and no listener running) the closure still completes, later, by polling alone.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from closure.progress import ClosureProgress
from simulator.server import SimulatorServer
from tests.support import amounts, closure_lab, ny


async def activity_counts(handle: WorkflowHandle[Any, Any]) -> Counter[str]:
    counts: Counter[str] = Counter()
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            counts[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
    return counts


def entered(progress: ClosureProgress, phase: ClosurePhase) -> list[datetime | None]:
    return [change.broker_at for change in progress.history if change.phase == phase]


async def test_settlement_is_acted_on_at_its_expected_hour_and_idle_waits_do_not_poll(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 3, 10, 9, 45)) as lab:
        lab.broker.set_prices({"VOO": Decimal("500.00")})
        account = lab.broker.funded_account(Decimal("150000.00"))
        lab.broker.buy(account, "VOO", Decimal("200"))  # $100,000 in shares, sold by the closure
        lab.broker.advance((ny(2025, 3, 10, 13, 0) - lab.broker.now()).total_seconds())
        lab.follow_temporal()
        started = await lab.start(account)
        progress = await lab.finish(started)
        counts = await activity_counts(started.handle)

    assert progress.phase == ClosurePhase.COMPLETED
    assert sum(amounts(lab, account.account_id)) == progress.amount_completed
    [withdrawal_began, *_] = entered(progress, ClosurePhase.WITHDRAWAL)
    # Sold Monday 13:00; settled Tuesday 08:00. A 2-hourly poll from the sale would have looked at 09:0x.
    assert withdrawal_began is not None
    assert ny(2025, 3, 11, 8, 0) <= withdrawal_began <= ny(2025, 3, 11, 8, 5), withdrawal_began
    assert counts["broker.inspect_account"] <= 6, counts  # 15 at 2-hourly settlement polls
    # Three plans to send, one to find nothing left, and only the looks made while a transfer was in flight.
    assert counts["broker.plan_withdrawal"] <= 12, counts  # 28 at 2-hourly polls through the 24 h waits
    lab.assert_invariants(account.account_id, progress)


async def test_with_rare_fallback_polls_and_no_listener_the_closure_still_completes(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    policy = ClosurePolicy(event_poll_interval=timedelta(hours=12))
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 1, 6, 7, 0), policy=policy) as lab:
        account = lab.broker.funded_account(Decimal("150000.00"))
        lab.follow_temporal()
        started = await lab.start(account)
        progress = await lab.finish(started)
        counts = await activity_counts(started.handle)

    assert progress.phase == ClosurePhase.COMPLETED
    assert progress.amount_completed == Decimal("150000.00")
    looks = counts["broker.plan_withdrawal"] + counts["broker.review_transfers"]
    assert looks <= 16, counts  # 19 at the 2-hourly status polls
    lab.assert_invariants(account.account_id, progress)

"""The reconciliation sweep's Temporal Schedule: created once per deployment, steered by operators."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)

from ops.actions import OperationRefused, refused_when_missing
from ops.sweep import SWEEP_WORKFLOW_ID, ReconciliationSweep, SweepInput

SWEEP_SCHEDULE_ID = "reconciliation-sweep"
T = TypeVar("T")


class SweepSchedule(BaseModel):
    schedule_id: str
    every: timedelta
    paused: bool
    note: str
    next_runs: list[str]
    recent_runs: list[str]


async def create(client: Client, task_queue: str, every: timedelta) -> SweepSchedule:
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ReconciliationSweep.run, SweepInput(), id=SWEEP_WORKFLOW_ID, task_queue=task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A sweep still running when the next is due has the floor: two at once would alert twice.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note="created by `closure schedule create`"),
    )
    try:
        await client.create_schedule(SWEEP_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        raise OperationRefused(
            f"the schedule {SWEEP_SCHEDULE_ID} already exists: see `closure schedule describe`"
        ) from None
    return await describe(client)


async def describe(client: Client) -> SweepSchedule:
    description = await _call(_handle(client).describe())
    intervals = description.schedule.spec.intervals
    info = description.info
    return SweepSchedule(
        schedule_id=SWEEP_SCHEDULE_ID,
        every=intervals[0].every if intervals else timedelta(0),
        paused=description.schedule.state.paused,
        note=description.schedule.state.note or "",
        next_runs=[t.isoformat() for t in info.next_action_times[:3]],
        recent_runs=[a.started_at.isoformat() for a in info.recent_actions[-3:]],
    )


async def pause(client: Client, note: str) -> SweepSchedule:
    await _call(_handle(client).pause(note=note))
    return await describe(client)


async def unpause(client: Client, note: str) -> SweepSchedule:
    await _call(_handle(client).unpause(note=note))
    return await describe(client)


async def trigger(client: Client) -> SweepSchedule:
    # ALLOW_ALL: an operator asking for a sweep now gets one, even beside a scheduled one.
    await _call(_handle(client).trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL))
    return await describe(client)


def _handle(client: Client) -> ScheduleHandle:
    return client.get_schedule_handle(SWEEP_SCHEDULE_ID)


async def _call(work: Awaitable[T]) -> T:
    return await refused_when_missing(
        work, f"no schedule {SWEEP_SCHEDULE_ID}: create it with `closure schedule create`"
    )

"""A closure's shape, taken from its history, and a workflow that does nothing but repeat it.

The shape is what the closure asked Temporal for, workflow task by workflow task: the activities (with the
results they returned), local activities, timers, patches and search attribute updates, and which of them
each task waited for. `ShapeWorkflow` issues the same commands in the same tasks and an activity that hands
back the recorded result stands in for every activity, so a run of it costs the worker what the SDK, the
server round trips and the payloads cost, and none of the closure's own decisions or broker calls: the
baseline the worker's CPU per closure is set against (`bench.worker_cpu`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.history.v1 import HistoryEvent
from temporalio.common import RawValue, SearchAttributeKey, SearchAttributeUpdate
from temporalio.converter import DataConverter
from temporalio.exceptions import ActivityError, ApplicationError

TIMEOUT = timedelta(minutes=5)


@dataclass
class Command:
    kind: str  # activity, local_activity, timer, cancel_timer, patch, upsert
    key: str  # the scheduling event's id, so a later task can wait for it or cancel it
    name: str = ""
    result: str = ""  # the activity's recorded result, as its payload's JSON
    failed: bool = False
    seconds: float = 0.0
    fields: dict[str, str] = field(default_factory=dict)  # an upsert's search attributes, as JSON


@dataclass
class Step:
    """One workflow task: the commands it issued, then what resolved before the next task began."""

    commands: list[Command] = field(default_factory=list)
    awaits: list[str] = field(default_factory=list)


@dataclass
class Shape:
    steps: list[Step] = field(default_factory=list)


class _Reader:
    """Payloads as JSON text, through the client's codec (histories are sealed, docs/security.md)."""

    def __init__(self, converter: DataConverter) -> None:
        self._converter = converter

    async def json(self, payloads: Payloads | None) -> str:
        if payloads is None or not payloads.payloads:
            return "null"
        payload = payloads.payloads[0]
        if self._converter.payload_codec is not None:  # it leaves payloads it did not seal as they are
            [payload] = await self._converter.payload_codec.decode([payload])
        return payload.data.decode()


async def _commands(event: HistoryEvent, read: _Reader) -> list[Command]:
    key = str(event.event_id)
    if event.HasField("activity_task_scheduled_event_attributes"):
        return [Command("activity", key, event.activity_task_scheduled_event_attributes.activity_type.name)]
    if event.HasField("timer_started_event_attributes"):
        timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        return [Command("timer", key, seconds=timeout.total_seconds())]
    if event.HasField("timer_canceled_event_attributes"):
        return [Command("cancel_timer", str(event.timer_canceled_event_attributes.started_event_id))]
    if event.HasField("marker_recorded_event_attributes"):
        details = event.marker_recorded_event_attributes.details
        if event.marker_recorded_event_attributes.marker_name == "core_patch":
            return [Command("patch", key, json.loads(await read.json(details["patch-data"]))["id"])]
        about = json.loads(await read.json(details["data"]))
        result = await read.json(details["result"]) if "result" in details else "null"
        return [Command("local_activity", key, about["activity_type"], result)]
    if event.HasField("upsert_workflow_search_attributes_event_attributes"):
        indexed = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        fields = {
            name: payload.data.decode()
            for name, payload in indexed.items()
            if name != "TemporalChangeVersion"  # the SDK's own, set by the patch itself
        }
        return [Command("upsert", key, fields=fields)] if fields else []
    return []


async def shape_of(events: Sequence[HistoryEvent], converter: DataConverter) -> Shape:
    read = _Reader(converter)
    shape = Shape()
    step: Step | None = None
    by_key: dict[str, Command] = {}
    for event in events:
        if event.HasField("workflow_task_completed_event_attributes"):
            step = Step()
            shape.steps.append(step)
            continue
        if step is None:
            continue
        commands = await _commands(event, read)
        if commands:
            step.commands.extend(commands)
            by_key.update((c.key, c) for c in commands if c.kind == "activity")
            continue
        resolved = await _resolved(event, read)
        if resolved is not None:
            key, result, failed = resolved
            if key in by_key:
                by_key[key].result, by_key[key].failed = result, failed
            step.awaits.append(key)
    return shape


async def _resolved(event: HistoryEvent, read: _Reader) -> tuple[str, str, bool] | None:
    if event.HasField("activity_task_completed_event_attributes"):
        done = event.activity_task_completed_event_attributes
        return str(done.scheduled_event_id), await read.json(done.result), False
    if event.HasField("activity_task_failed_event_attributes"):
        return str(event.activity_task_failed_event_attributes.scheduled_event_id), "null", True
    if event.HasField("timer_fired_event_attributes"):
        return str(event.timer_fired_event_attributes.started_event_id), "", False
    return None


@activity.defn(dynamic=True)
async def recorded(args: Sequence[RawValue]) -> Any:
    """Every activity of the shape: hands back the result the closure's activity returned, or fails."""
    result, failed = activity.payload_converter().from_payloads([a.payload for a in args])
    if failed:
        raise ApplicationError("recorded failure", non_retryable=True)
    return result


@workflow.defn(sandboxed=True)
class ShapeWorkflow:
    @workflow.run
    async def run(self, shape: Shape) -> int:
        pending: dict[str, Any] = {}
        for step in shape.steps:
            for command in step.commands:
                await self._issue(command, pending)
            for key in step.awaits:
                if key in pending:
                    # A recorded failure goes on, as the closure went on after it.
                    with contextlib.suppress(ActivityError):
                        await pending.pop(key)
        return len(shape.steps)

    async def _issue(self, command: Command, pending: dict[str, Any]) -> None:
        if command.kind == "activity":
            pending[command.key] = workflow.start_activity(
                command.name, args=[command.result, command.failed], start_to_close_timeout=TIMEOUT
            )
        elif command.kind == "local_activity":
            await workflow.execute_local_activity(
                command.name, args=[command.result, False], start_to_close_timeout=TIMEOUT
            )
        elif command.kind == "timer":
            pending[command.key] = asyncio.ensure_future(asyncio.sleep(command.seconds))
        elif command.kind == "cancel_timer" and command.key in pending:
            pending.pop(command.key).cancel()
        elif command.kind == "patch":
            workflow.patched(command.name)
        elif command.kind == "upsert":
            workflow.upsert_search_attributes([_update(n, v) for n, v in command.fields.items()])


def _update(name: str, text: str) -> SearchAttributeUpdate[Any]:
    value = json.loads(text)
    if isinstance(value, bool):
        return SearchAttributeKey.for_bool(name).value_set(value)
    return SearchAttributeKey.for_keyword(name).value_set(value)

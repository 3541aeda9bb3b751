"""The worker-CPU bench's baseline is a faithful copy: the shape repeats what the closure asked Temporal for.

`make bench-cpu` sets a closure's worker CPU against `ShapeWorkflow` repeating its shape; the comparison
means something only if the shape issues the same activities, timers and markers in the same tasks.
"""

from __future__ import annotations

from collections import Counter

from temporalio.api.history.v1 import HistoryEvent

from bench.worker_cpu import measure_with_histories

COMMANDS = {
    "activity_task_scheduled_event_attributes",
    "timer_started_event_attributes",
    "marker_recorded_event_attributes",
    "upsert_workflow_search_attributes_event_attributes",
    "workflow_task_completed_event_attributes",
}


def _commands(events: list[HistoryEvent]) -> Counter[str]:
    return Counter(kind for kind in (e.WhichOneof("attributes") for e in events) if kind in COMMANDS)


def _activities(events: list[HistoryEvent]) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.WhichOneof("attributes") == "activity_task_scheduled_event_attributes"
    ]


async def test_the_shape_of_a_closure_repeats_its_commands_task_by_task() -> None:
    figures, closure, shape = await measure_with_histories(1)

    commands, copied = _commands(closure), _commands(shape)
    # Which task a command lands in can shift when a local activity finishes a moment later (a loaded
    # machine): the commands are the same, the task count within two.
    tasks = "workflow_task_completed_event_attributes"
    assert abs(copied.pop(tasks) - commands.pop(tasks)) <= 2
    assert copied == commands
    assert _activities(shape) == _activities(closure)
    assert abs(len(shape) - len(closure)) <= 2 * 3, (len(shape), len(closure))  # three events a task
    assert figures.closure_ms > figures.activity_ms > 0
    assert figures.shape_ms > 0

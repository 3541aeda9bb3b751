"""Closure metrics, on the same Prometheus endpoint as the Temporal SDK's own (the worker's Runtime).

Workflow metrics go through `workflow.metric_meter()`, so a replay never counts twice; amounts are whole
cents, so no float ever carries money.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio import activity, workflow


def _workflow_counter(name: str, description: str, value: int = 1, **labels: str) -> None:
    workflow.metric_meter().create_counter(name, description).add(value, labels or None)


def closure_started() -> None:
    _workflow_counter("closure_started", "Closures started (continue-as-new not counted)")


def closure_ended(phase: str) -> None:
    _workflow_counter("closure_ended", "Closures that ended, by final phase", phase=phase)


def needs_attention(error_type: str) -> None:
    _workflow_counter(
        "closure_needs_attention", "Times a closure parked for an operator", error_type=error_type
    )


def transfer_status(status: str) -> None:
    _workflow_counter("closure_transfers", "Closure transfers seen in each status", status=status)


def withdrawn(amount: Decimal) -> None:
    _workflow_counter("closure_withdrawn_cents", "Dollars sent by closures, in cents", int(amount * 100))


_MINUTE_MS = 60_000
# Phases last from minutes (a sale at the open) to weeks (a closure parked for ops): the SDK's default
# buckets stop at 10 s, where every real value would land in +Inf.
PHASE_DURATION_BUCKETS_MS = [
    m * _MINUTE_MS
    for m in (
        1,
        5,
        15,
        30,
        60,
        3 * 60,
        6 * 60,
        12 * 60,
        24 * 60,
        2 * 1440,
        3 * 1440,
        5 * 1440,
        7 * 1440,
        14 * 1440,
        28 * 1440,
    )
]
HISTOGRAM_BUCKETS = {"closure_phase_duration": [float(b) for b in PHASE_DURATION_BUCKETS_MS]}


def phase_duration(phase: str, duration: timedelta) -> None:
    histogram = workflow.metric_meter().create_histogram_timedelta(
        "closure_phase_duration", "Time spent in each phase", unit="ms"
    )
    histogram.record(duration, {"phase": phase})


def broker_call(endpoint: str, outcome: str) -> None:
    """Counted only inside an activity (the API also calls the broker, outside Temporal)."""
    if not activity.in_activity():
        return
    meter = activity.metric_meter()
    meter.create_counter("closure_broker_calls", "Broker API calls by endpoint").add(
        1, {"endpoint": endpoint}
    )
    if outcome != "ok":
        meter.create_counter("closure_broker_errors", "Broker API errors by endpoint and kind").add(
            1, {"endpoint": endpoint, "kind": outcome}
        )

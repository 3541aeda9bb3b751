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

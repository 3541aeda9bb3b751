"""Workflow tasks that keep failing: counted, exported as a metric, and alerted to ops from the worker.

A workflow task that raises (a bug, a state the code cannot handle) is retried by Temporal for ever, and the
workflow itself can do nothing about it: it cannot reach `needs_attention`, send an alert or even advance
its phase. So the worker watches the SDK's own report of each failed activation (the log record it tags
`WorkflowTaskFailure`), and once a run has failed `alert_after` times in this process it alerts ops.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio.common import MetricMeter

SDK_LOGGER = "temporalio.worker._workflow_instance"
log = logging.getLogger("account_closure.task_failures")


@dataclass(frozen=True)
class TaskFailure:
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    failures: int
    error: str


class WorkflowTaskFailureWatch(logging.Handler):
    def __init__(
        self,
        task_queues: set[str],
        alert: Callable[[TaskFailure], None],
        meter: MetricMeter | None = None,
        alert_after: int = 3,
    ) -> None:
        super().__init__(level=logging.WARNING)
        self._queues = task_queues
        self._alert = alert
        self._alert_after = alert_after
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._counter = (
            meter.create_counter(
                "closure_workflow_task_failures",
                "Workflow task failures seen by this worker (a closure that cannot move at all)",
            )
            if meter is not None
            else None
        )

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "__temporal_error_identifier", None) != "WorkflowTaskFailure":
            return
        details: dict[str, Any] = dict(getattr(record, "temporal_workflow", None) or {})
        if details.get("task_queue") not in self._queues:
            return
        key = (str(details.get("workflow_id")), str(details.get("run_id")))
        with self._lock:
            self._counts[key] += 1
            failures = self._counts[key]
        workflow_type = str(details.get("workflow_type"))
        if self._counter is not None:
            self._counter.add(1, {"workflow_type": workflow_type})
        if failures != self._alert_after:
            return
        error = record.exc_info[1] if record.exc_info else None
        failure = TaskFailure(
            workflow_id=key[0],
            run_id=key[1],
            workflow_type=workflow_type,
            task_queue=str(details.get("task_queue")),
            failures=failures,
            error=f"{type(error).__name__}: {error}" if error else record.getMessage(),
        )
        log.error(
            "workflow task of %s keeps failing (%d times): %s", failure.workflow_id, failures, failure.error
        )
        # Never block the thread running workflow activations on a mail provider.
        threading.Thread(target=self._send, args=(failure,), name="task-failure-alert", daemon=True).start()

    def _send(self, failure: TaskFailure) -> None:
        try:
            self._alert(failure)
        except Exception:
            log.exception("could not alert ops about %s", failure.workflow_id)

    def install(self) -> WorkflowTaskFailureWatch:
        logging.getLogger(SDK_LOGGER).addHandler(self)
        return self

    def uninstall(self) -> None:
        logging.getLogger(SDK_LOGGER).removeHandler(self)

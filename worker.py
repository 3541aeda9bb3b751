"""The worker: runs AccountClosureWorkflow, the reconciliation sweep and their activities against the
Temporal named in settings.

`python -m worker` (or the `account-closure-worker` script). With `CLOSURE_WORKER__BROKER_TASK_QUEUE` set,
broker activities run on their own task queue, rate-limited by the Temporal server across every worker so
Alpaca's limit is never exceeded. Prometheus metrics (`CLOSURE_WORKER__METRICS_ADDRESS`) carry the SDK's and
the closure's own; `/healthz` (`CLOSURE_WORKER__HEALTH_ADDRESS`) answers for orchestrators. SIGTERM or SIGINT
stops it gracefully: no new tasks, running activities finish, and Temporal hands anything unfinished to
another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.alerts import AlertActivities
from activities.emails import EmailActivities
from activities.errors_interceptor import TypedErrorsInterceptor
from activities.wiring import ActivityGroups, build_activities
from ops.operations import Operations
from ops.sweep import ReconciliationSweep, SweepActivities
from runtime.command_line import service_command_line
from runtime.logs import configure_logging
from runtime.metrics import HISTOGRAM_BUCKETS
from runtime.settings import Settings, settings_error
from runtime.task_failures import TaskFailure, WorkflowTaskFailureWatch
from runtime.temporal import TemporalUnreachable, connect
from runtime.tracing import TracingUnavailable, configure_tracing
from workflows.account_closure import AccountClosureWorkflow
from workflows.alerts import task_failure_email

log = logging.getLogger("account_closure.worker")
CALLS_PER_BROKER_ACTIVITY = 7  # the most Alpaca calls one broker activity makes (close_account: 7)


def _worker(
    client: Client,
    settings: Settings,
    executor: ThreadPoolExecutor,
    task_queue: str,
    activities: Sequence[Callable[..., Any]],
    workflows: Sequence[type] = (),
    activities_per_second: float | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        activity_executor=executor,
        max_concurrent_activities=settings.worker.activity_threads,
        max_cached_workflows=settings.worker.max_cached_workflows,
        max_task_queue_activities_per_second=activities_per_second,
        interceptors=[TypedErrorsInterceptor()],
        graceful_shutdown_timeout=timedelta(seconds=30),
        deployment_config=deployment_config(settings),
    )


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """Worker Versioning when a build id is set (docs/deployment.md says how a new build takes over).

    Closures live for days, so they auto-upgrade: a running closure moves to the current build at its next
    workflow task, and every change to its command sequence goes behind `workflow.patched()` (replay tests in
    tests/workflows/histories prove it). Pinning would keep each build's workers up until its closures end.
    """
    build_id = settings.worker.build_id
    if build_id is None:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=settings.worker.deployment_name, build_id=build_id),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


def build_workers(
    client: Client,
    settings: Settings,
    executor: ThreadPoolExecutor,
    task_queue: str | None = None,
    extra_activities: Sequence[Callable[..., Any]] = (),
    workflows: Sequence[type] = (AccountClosureWorkflow,),
) -> list[Worker]:
    groups = build_activities(settings)
    queue = task_queue or settings.temporal.task_queue
    watch_task_failures(client, queue, groups.email, groups.alerts)
    sweep = SweepActivities(Operations.from_settings(settings, client))
    side_effects = [*groups.side_effects(), sweep.find_stuck, *extra_activities]
    workflows = [*workflows, ReconciliationSweep]
    if settings.worker.broker_task_queue is None:
        everything = [*groups.broker.all(), *side_effects]
        return [_worker(client, settings, executor, queue, everything, workflows)]
    return [
        _worker(client, settings, executor, queue, side_effects, workflows),
        build_broker_worker(client, settings, executor, groups),
    ]


def build_broker_worker(
    client: Client, settings: Settings, executor: ThreadPoolExecutor, groups: ActivityGroups | None = None
) -> Worker:
    """The broker activities alone, on `worker.broker_task_queue`, paced to the broker's rate limit."""
    queue = settings.worker.broker_task_queue
    if queue is None:
        raise ValueError("a broker worker needs CLOSURE_WORKER__BROKER_TASK_QUEUE")
    broker = (groups or build_activities(settings)).broker
    rate = settings.worker.broker_calls_per_minute / 60 / CALLS_PER_BROKER_ACTIVITY
    return _worker(client, settings, executor, queue, broker.all(), activities_per_second=rate)


def watch_task_failures(
    client: Client, task_queue: str, email: EmailActivities, alerts: AlertActivities
) -> WorkflowTaskFailureWatch:
    """Alert ops (and count) when a closure's workflow task keeps failing on this worker's task queue."""

    def alert(failure: TaskFailure) -> None:
        request = task_failure_email(failure, datetime.now(UTC))
        alerts.send_webhook(request)
        email.send_ops_alert(request)

    runtime = client.service_client.config.runtime or Runtime.default()
    return WorkflowTaskFailureWatch({task_queue}, alert, meter=runtime.metric_meter).install()


def build_worker(
    client: Client,
    settings: Settings,
    executor: ThreadPoolExecutor,
    task_queue: str | None = None,
    extra_activities: Sequence[Callable[..., Any]] = (),
    workflows: Sequence[type] = (AccountClosureWorkflow,),
) -> Worker:
    """One worker for everything (tests, small deployments)."""
    [worker] = build_workers(
        client, settings.model_copy(update={"worker": settings.worker.model_copy(update={"broker_task_queue": None})}),
        executor, task_queue, extra_activities, workflows,
    )  # fmt: skip
    return worker


async def _health(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: Client) -> None:
    await reader.readuntil(b"\r\n\r\n")
    try:
        healthy = await asyncio.wait_for(client.service_client.check_health(), timeout=5)
    except Exception:
        healthy = False
    body = b'{"status":"ok"}' if healthy else b'{"status":"temporal unreachable"}'
    status = b"200 OK" if healthy else b"503 Service Unavailable"
    writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: ")
    writer.write(str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    writer.close()


async def serve_health(address: str, client: Client) -> asyncio.Server:
    host, _, port = address.rpartition(":")
    return await asyncio.start_server(lambda r, w: _health(r, w, client), host or "127.0.0.1", int(port))


def runtime_for(settings: Settings) -> Runtime | None:
    if settings.worker.metrics_address is None:
        return None
    telemetry = TelemetryConfig(
        metrics=PrometheusConfig(
            bind_address=settings.worker.metrics_address, histogram_bucket_overrides=HISTOGRAM_BUCKETS
        ),
        global_tags={"service": "account-closure"},
    )
    return Runtime(telemetry=telemetry)


RETRY_CAP_SECONDS = 30.0


async def connected(settings: Settings, stop: asyncio.Event) -> Client | None:
    """Temporal, once it answers: a worker started before it (or while it restarts) waits, saying so once
    per attempt, instead of dying; None when told to stop first."""
    runtime = runtime_for(settings)  # once: it binds the metrics port
    if settings.worker.tracing:
        configure_tracing("account-closure-worker")
    pause, attempt = 1.0, 1
    while not stop.is_set():
        try:
            return await connect(settings.temporal, runtime=runtime, tracing=settings.worker.tracing)
        except TemporalUnreachable as exc:
            log.warning("%s (attempt %d; trying again in %.0f s)", exc, attempt, pause)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause, attempt = min(pause * 2, RETRY_CAP_SECONDS), attempt + 1
    return None


async def main() -> None:
    settings = Settings()
    if settings.worker.json_logs:
        configure_logging(settings)
    if not settings.temporal.codec_keys:
        log.warning("payloads travel to Temporal in the clear: set CLOSURE_TEMPORAL__CODEC_KEYS")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await connected(settings, stop)
    if client is None:
        return
    health = (
        await serve_health(settings.worker.health_address, client) if settings.worker.health_address else None
    )
    with ThreadPoolExecutor(max_workers=settings.worker.activity_threads) as executor:
        workers = build_workers(client, settings, executor)
        log.info("worker polling %s", [w.task_queue for w in workers])
        runs = [asyncio.create_task(w.run()) for w in workers]
        await stop.wait()
        log.info("shutting down: finishing running activities")
        await asyncio.gather(*(w.shutdown() for w in workers))
        await asyncio.gather(*runs, return_exceptions=True)
    if health is not None:
        health.close()
    await asyncio.sleep(0.5)  # let the Rust core's threads settle before the interpreter exits


def run() -> None:
    service_command_line(
        "account-closure-worker",
        "Run the closure workflow and its activities on the configured Temporal task queue, until SIGTERM.",
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(main())
    except ValidationError as exc:  # one line an operator can act on, not a traceback
        sys.exit(f"worker: invalid settings: {settings_error(exc)}")
    except TracingUnavailable as exc:
        sys.exit(f"worker: {exc}")


if __name__ == "__main__":
    run()

"""The worker: runs AccountClosureWorkflow and its activities against the Temporal named in settings.

`python worker.py` (or the `account-closure-worker` script). Stops gracefully on SIGTERM or SIGINT: it takes
no new tasks, lets running activities finish, and Temporal hands anything unfinished to another worker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from activities.errors_interceptor import TypedErrorsInterceptor
from activities.wiring import build_activities
from closure.settings import Settings
from closure.temporal_client import connect
from workflows.account_closure import AccountClosureWorkflow

log = logging.getLogger("account_closure.worker")


def build_worker(
    client: Client,
    settings: Settings,
    executor: ThreadPoolExecutor,
    task_queue: str | None = None,
    extra_activities: Sequence[object] = (),
) -> Worker:
    groups = build_activities(settings)
    return Worker(
        client,
        task_queue=task_queue or settings.temporal.task_queue,
        workflows=[AccountClosureWorkflow],
        activities=[*groups.all(), *extra_activities],  # type: ignore[list-item]
        activity_executor=executor,
        max_concurrent_activities=settings.worker.activity_threads,
        interceptors=[TypedErrorsInterceptor()],
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def main() -> None:
    settings = Settings()
    client = await connect(settings.temporal)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=settings.worker.activity_threads) as executor:
        worker = build_worker(client, settings, executor)
        log.info("worker polling %s on %s", settings.temporal.task_queue, settings.temporal.address)
        async with worker:
            await stop.wait()
            log.info("shutting down: finishing running activities")
    await asyncio.sleep(0.5)  # let the Rust core's threads settle before the interpreter exits


def run() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main())


if __name__ == "__main__":
    run()

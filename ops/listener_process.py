"""`account-closure-listener`: the event listener as its own process, waking closures through Temporal."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode

from adapters.alpaca.event_stream import StreamSource
from closure.confirmation import workflow_id_for
from closure.progress import WakeSignal
from ops.listener import EventListener, Wake, WakeAll
from runtime.command_line import service_command_line
from runtime.logs import configure_logging
from runtime.settings import Settings, settings_error
from runtime.temporal import connect
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import ALL_CLOSURES

log = logging.getLogger("account_closure.listener")


def temporal_wake(client: Client) -> Wake:
    async def wake(account_id: str, reason: str) -> bool:
        handle = client.get_workflow_handle(workflow_id_for(account_id))
        try:
            await handle.signal(AccountClosureWorkflow.wake, WakeSignal(reason=reason))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False  # no closure for this account, or it has ended
            # Not handled: the stream is read again from the cursor once Temporal answers.
            raise ConnectionError(f"Temporal did not take the wake for {account_id}: {exc.message}") from exc
        return True

    return wake


def temporal_wake_all(client: Client) -> WakeAll:
    async def wake_all(reason: str) -> int:
        woken = 0
        async for execution in client.list_workflows(ALL_CLOSURES + ' AND ExecutionStatus = "Running"'):
            handle = client.get_workflow_handle(execution.id)
            try:
                await handle.signal(AccountClosureWorkflow.wake, WakeSignal(reason=reason))
                woken += 1
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise ConnectionError(f"Temporal did not take a wake: {exc.message}") from exc
        return woken

    return wake_all


async def main(settings: Settings) -> None:
    if settings.listener.json_logs:
        configure_logging(settings)
    runtime = None
    if settings.listener.metrics_address:
        prometheus = PrometheusConfig(bind_address=settings.listener.metrics_address)
        runtime = Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    try:
        client = await connect(settings.temporal, runtime=runtime)
    except RuntimeError as exc:
        address, cause = settings.temporal.address, str(exc).split(": ", 1)[-1][:120]
        sys.exit(f"listener: cannot reach Temporal at {address} (set CLOSURE_TEMPORAL__ADDRESS): {cause}")
    source = StreamSource.from_settings(settings.alpaca, settings.listener.heartbeat_timeout_seconds)
    meter = runtime.metric_meter if runtime is not None else None
    listener = EventListener(
        settings.listener, source, temporal_wake(client), temporal_wake_all(client), meter
    )
    log.info("listener following %s from %s", settings.listener.streams, source.base_url)
    following = asyncio.create_task(listener.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.wait([following, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    following.cancel()


def run() -> None:
    service_command_line(
        "account-closure-listener",
        "Follow the Broker API's event streams and wake the closures they concern (cursor in "
        "CLOSURE_LISTENER__CURSOR_FILE).",
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings()
    except ValidationError as exc:  # one line an operator can act on, not a traceback
        sys.exit(f"listener: invalid settings: {settings_error(exc)}")
    asyncio.run(main(settings))


if __name__ == "__main__":
    run()

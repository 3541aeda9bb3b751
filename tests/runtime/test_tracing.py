"""With tracing on, a closure started through the API is one trace: the request, the start, the workflow and
its activities, exported over OTLP/HTTP by the API and the worker processes to a collector."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from temporalio.testing import WorkflowEnvironment

from api.tokens import user_token
from simulator.server import SimulatorServer
from tests.api.stack import JWT_SECRET, api_stack
from tests.support import ny

SCALE = 3600.0


@dataclass
class Span:
    service: str
    name: str
    trace_id: str


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver: what the exporters send to OTEL_EXPORTER_OTLP_ENDPOINT."""

    url: str
    spans: list[Span] = field(default_factory=list)


@pytest.fixture
def collector() -> Iterator[Collector]:
    received = Collector(url="")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        received.spans.append(
                            Span(attributes["service.name"], span.name, span.trace_id.hex())
                        )
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()


async def test_a_closure_started_through_the_api_is_one_trace(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, tmp_path: Path, collector: Collector
) -> None:
    address = dev_env.client.service_client.config.target_host
    tracing = {
        "CLOSURE_WORKER__TRACING": "true",
        "CLOSURE_API__TRACING": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export within a fifth of a second, not the default five
    }
    with api_stack(address, sim.url, tmp_path, None, time_scale=SCALE, extra=tracing) as stack:
        stack.broker.set_clock(ny(2025, 4, 14, 9, 45))
        account = stack.broker.funded_account(Decimal("1000.00"))
        stack.broker.run_clock(SCALE)
        token = user_token(JWT_SECRET, stack.customer(account))
        with stack.client(token=token) as client:
            assert client.post(f"/api/account-closure/initiate/{account.account_id}").status_code == 202

        def traced() -> set[str]:
            return {s.name for s in collector.spans}

        for _ in range(600):  # until the worker has exported a withdrawal's activity
            if "RunActivity:broker.create_withdrawal" in traced():
                break
            await asyncio.sleep(0.2)

    [initiate] = [
        s
        for s in collector.spans
        if s.service == "account-closure-api" and s.name == "POST /api/account-closure/initiate/{account_id}"
    ]
    trace = [s for s in collector.spans if s.trace_id == initiate.trace_id]
    names = {s.name for s in trace}
    assert {s.service for s in trace} == {"account-closure-api", "account-closure-worker"}, names
    assert "StartWorkflow:AccountClosureWorkflow" in names, names
    assert "RunWorkflow:AccountClosureWorkflow" in names, names
    assert "RunActivity:broker.create_withdrawal" in names, names

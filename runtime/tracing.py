"""OpenTelemetry traces for the worker and the API, exported over OTLP/HTTP as the standard OTEL_* say.

Off unless `worker.tracing` / `api.tracing` is set; then the `otel` extra must be installed
(`pip install 'account-closure[otel]'`). The endpoint, headers, service name and resource come from the
standard variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES); a closure's spans (its start, its workflow, each activity) share one trace.
"""

from __future__ import annotations

import os
from typing import Any

MISSING = "tracing needs the OpenTelemetry extra: pip install 'account-closure[otel]'"


class TracingUnavailable(RuntimeError):
    """Tracing is switched on but its libraries are not installed."""


def configure_tracing(service: str) -> None:
    """Install an OTLP exporting tracer provider for this process (once; later calls keep the first)."""
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable(MISSING) from exc
    os.environ.setdefault("OTEL_SERVICE_NAME", service)
    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def temporal_interceptors() -> list[Any]:
    """Spans for starts, workflows and activities, linked across the client, the server and the worker."""
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError as exc:
        raise TracingUnavailable(MISSING) from exc
    return [TracingInterceptor()]


def instrument_api(app: Any) -> None:
    """A span for every API request, the parent of the closure's start when a request starts one."""
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError as exc:
        raise TracingUnavailable(MISSING) from exc
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz")

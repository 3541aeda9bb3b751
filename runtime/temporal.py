"""Connecting to Temporal from settings: the local dev server, a cluster (mTLS) or Temporal Cloud (API key)."""

from __future__ import annotations

import re

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from runtime.codec import data_converter
from runtime.settings import TemporalSettings
from runtime.tracing import temporal_interceptors


def _tls(settings: TemporalSettings) -> TLSConfig | bool:
    if settings.tls_client_cert_path and settings.tls_client_key_path:
        return TLSConfig(
            client_cert=settings.tls_client_cert_path.read_bytes(),
            client_private_key=settings.tls_client_key_path.read_bytes(),
            server_root_ca_cert=settings.tls_server_root_ca_path.read_bytes()
            if settings.tls_server_root_ca_path
            else None,
        )
    return settings.tls or settings.api_key is not None


class TemporalUnreachable(RuntimeError):
    """No connection to Temporal: the message names the address tried and the setting that moves it."""

    def __init__(self, settings: TemporalSettings, cause: str) -> None:
        super().__init__(
            f"cannot reach Temporal at {settings.address} (namespace {settings.namespace}): {cause}; "
            "set CLOSURE_TEMPORAL__ADDRESS to where its frontend listens"
        )
        self.address = settings.address


async def connect(
    settings: TemporalSettings, runtime: Runtime | None = None, tracing: bool = False
) -> Client:
    """Every client and worker uses the pydantic converter, so Decimal money travels as exact strings, and
    seals payloads with the configured codec keys (runtime.codec)."""
    try:
        return await Client.connect(
            settings.address,
            namespace=settings.namespace,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            tls=_tls(settings),
            data_converter=data_converter(settings),
            runtime=runtime,
            interceptors=temporal_interceptors() if tracing else [],
        )
    except RuntimeError as exc:
        if "connect" not in str(exc).lower():
            raise
        raise TemporalUnreachable(settings, _cause(str(exc))) from exc


def _cause(error: str) -> str:
    """The transport's own words, without the Rust error's nesting: 'Connection refused', 'dns error'..."""
    found = re.search(r'message: \\?"([^"\\]+)', error) or re.search(r'ConnectError\(\\?"([^"\\]+)', error)
    return found.group(1) if found else error.rsplit(":", 1)[-1].strip()[:200]

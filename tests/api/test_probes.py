"""The API's probes: alive while it serves, ready while Temporal answers, whatever Redis (a mirror) does."""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi.testclient import TestClient
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from runtime.settings import RecordsSettings, Settings, TemporalSettings


def _closed() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def _probe(settings: Settings, path: str) -> tuple[int, dict[str, str]]:
    with TestClient(create_app(settings), base_url="http://api") as client:
        answer = client.get(path)
        return answer.status_code, answer.json()


def test_a_lost_redis_leaves_the_api_ready_though_not_healthy(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = Settings(
        temporal=TemporalSettings(address=dev_env.client.service_client.config.target_host),
        records=RecordsSettings(sqlite_path=tmp_path / "closure.db"),
        redis_url=f"redis://{_closed()}/0",
    )
    assert _probe(settings, "/readyz") == (200, {"status": "ok", "temporal": "ok", "redis": "unreachable"})
    assert _probe(settings, "/healthz")[0] == 503
    assert _probe(settings, "/livez") == (200, {"status": "ok"})


def test_without_temporal_the_api_is_alive_but_not_ready(tmp_path: Path) -> None:
    settings = Settings(
        temporal=TemporalSettings(address=_closed()),
        records=RecordsSettings(sqlite_path=tmp_path / "closure.db"),
        redis_url=None,
    )
    assert _probe(settings, "/readyz") == (
        503,
        {"status": "degraded", "temporal": "unreachable", "redis": "disabled"},
    )
    assert _probe(settings, "/livez") == (200, {"status": "ok"})

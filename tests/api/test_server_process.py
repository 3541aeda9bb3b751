"""The app as a server process runs it: what `served_app` does that an app made per test does not."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from devtools.localstack import LocalStack, free_port
from tests.api.test_auth import _settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # what a test froze must not stay out of the collector's reach for the rest of the run


def test_a_server_process_freezes_what_is_alive_once_it_is_up(tmp_path: Path, unfrozen: None) -> None:
    with TestClient(create_app(_settings(tmp_path), freeze_heap=True), base_url="http://api") as client:
        frozen = gc.get_freeze_count()
        assert client.get("/healthz").status_code in (200, 503)
    assert frozen > 10_000, "the app's long-lived objects are kept out of every collection"


def test_an_app_made_per_test_leaves_the_collector_alone(tmp_path: Path, unfrozen: None) -> None:
    with TestClient(create_app(_settings(tmp_path)), base_url="http://api"):
        assert gc.get_freeze_count() == 0


def test_the_server_process_logs_json_lines(tmp_path: Path) -> None:
    """`uvicorn --factory api.main:served_app`, as make dev and the image run it: its own lines are JSON."""
    env = {
        "CLOSURE_TEMPORAL__ADDRESS": f"127.0.0.1:{free_port(0)}",  # nothing there: the API logs why it 503s
        "CLOSURE_RECORDS__SQLITE_PATH": str(tmp_path / "closure.db"),
        "CLOSURE_API__ADMIN_TOKEN": "server-process-token",
    }
    with LocalStack(tmp_path / "logs") as stack:
        url = stack.api(free_port(0), env)
        refused = httpx.get(
            f"{url}/api/admin/closures", headers={"Authorization": "Bearer server-process-token"}, timeout=30
        )
    assert refused.status_code == 503
    lines = [json.loads(line) for line in (tmp_path / "logs" / "api.log").read_text().splitlines() if line]
    [warning] = [line for line in lines if line.get("logger") == "account_closure.api"]
    assert warning["level"] == "WARNING"
    assert warning["message"].startswith("Temporal unreachable: cannot reach Temporal at 127.0.0.1:")
    assert "server-process-token" not in (tmp_path / "logs" / "api.log").read_text()

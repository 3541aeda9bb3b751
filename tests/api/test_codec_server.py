"""The codec server opens sealed payloads for operators, and only for them."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from temporalio.testing import WorkflowEnvironment

from api.codec_server import create_codec_app
from closure.policy import ClosurePolicy
from runtime.settings import TemporalSettings
from tests.api.test_auth import ADMIN, ALICE, _settings, _token
from tests.conftest import CODEC_KEYS, binary
from workflows.client import start_closure

# Minted as the module is read, so they must outlive the tests that run before these in a whole suite.
LATER = int(time.time()) + 6 * 3600
VIEWER = _token("user-vera", email="vera@firm.example", app_metadata={"closure_role": "viewer"}, exp=LATER)
OPERATOR = _token(
    "user-otto", email="otto@firm.example", app_metadata={"closure_role": "operator"}, exp=LATER
)
UI = "http://localhost:8233"
PLAIN = {
    "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
    "data": base64.b64encode(b'"4321"').decode(),
}


@pytest.fixture
def codec(tmp_path: Path) -> Iterator[httpx.Client]:
    settings = _settings(tmp_path)
    settings.temporal = TemporalSettings.model_validate({"codec_keys": CODEC_KEYS})
    with TestClient(create_codec_app(settings), base_url="http://codec") as client:
        yield client


def _call(
    client: httpx.Client, path: str, token: str | None, payloads: list[dict[str, Any]]
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(path, headers={**headers, "X-Namespace": "default"}, json={"payloads": payloads})


def test_an_operator_seals_and_a_viewer_opens(codec: httpx.Client) -> None:
    sealed = _call(codec, "/encode", OPERATOR, [PLAIN])
    assert sealed.status_code == 200, sealed.text
    [payload] = sealed.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"binary/encrypted"
    assert b"4321" not in base64.b64decode(payload["data"])
    opened = _call(codec, "/decode", VIEWER, [payload])
    assert opened.status_code == 200, opened.text
    assert opened.json()["payloads"] == [PLAIN]


@pytest.mark.parametrize(
    ("path", "token", "status"),
    [
        ("/decode", None, 401),
        ("/decode", "forged", 401),
        ("/decode", _token(ALICE), 403),  # a customer's own sign-in
        ("/encode", VIEWER, 403),  # a viewer may look, not write
        ("/decode", ADMIN, 200),  # the automation credential
    ],
)
def test_who_may_open_and_seal(codec: httpx.Client, path: str, token: str | None, status: int) -> None:
    assert _call(codec, path, token, [PLAIN]).status_code == status


def test_a_payload_sealed_with_an_unknown_key_is_a_clear_422(codec: httpx.Client) -> None:
    stranger = {
        "metadata": {
            "encoding": base64.b64encode(b"binary/encrypted").decode(),
            "encryption-key-id": base64.b64encode(b"retired-2024").decode(),
        },
        "data": base64.b64encode(b"x" * 40).decode(),
    }
    response = _call(codec, "/decode", VIEWER, [stranger])
    assert response.status_code == 422
    assert "retired-2024" in response.json()["message"]


def test_malformed_bodies_are_400(codec: httpx.Client) -> None:
    response = codec.post("/decode", headers={"Authorization": f"Bearer {VIEWER}"}, content=b"{nope")
    assert response.status_code == 400


def test_the_temporal_ui_may_call_it_and_other_origins_may_not(codec: httpx.Client) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-namespace",
    }
    allowed = codec.options("/decode", headers={"Origin": UI, **preflight})
    foreign = codec.options("/decode", headers={"Origin": "https://evil.example", **preflight})
    assert allowed.headers.get("access-control-allow-origin") == UI
    assert "access-control-allow-origin" not in foreign.headers


@pytest.fixture
def codec_url(tmp_path: Path) -> Iterator[str]:
    settings = _settings(tmp_path)
    settings.temporal = TemporalSettings.model_validate({"codec_keys": CODEC_KEYS})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_codec_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=5)


async def test_the_temporal_cli_shows_a_closure_in_the_clear_only_through_the_codec(
    dev_env: WorkflowEnvironment, codec_url: str
) -> None:
    account_id = f"codec-{uuid.uuid4()}"
    user_id = f"user-{uuid.uuid4()}"
    started = await start_closure(
        dev_env.client,
        account_id,
        task_queue=f"nobody-{uuid.uuid4()}",
        policy=ClosurePolicy(),
        user_id=user_id,
    )
    show = [
        binary("temporal"), "workflow", "show", "--workflow-id", started.workflow_id, "--output", "json",
        "--address", dev_env.client.service_client.config.target_host,
    ]  # fmt: skip
    try:
        sealed = await _started_input(show)
        opened = await _started_input(
            [*show, "--codec-endpoint", codec_url, "--codec-auth", f"Bearer {ADMIN}"]
        )
    finally:
        await started.handle.terminate(reason="test finished")
    assert sealed[0] == b"binary/encrypted"
    assert user_id.encode() not in sealed[1]
    assert opened[0] == b"json/plain"
    assert user_id.encode() in opened[1]


async def _started_input(command: list[str]) -> tuple[bytes, bytes]:
    """The encoding and the bytes of the closure's input, as `temporal workflow show` prints them."""
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0
    first = json.loads(out)["events"][0]["workflowExecutionStartedEventAttributes"]
    [payload] = first["input"]["payloads"]
    return base64.b64decode(payload["metadata"]["encoding"]), base64.b64decode(payload["data"])

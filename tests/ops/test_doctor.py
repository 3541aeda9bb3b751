"""`closure doctor`: each configured dependency tried, each answer in words, exit 1 when one failed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from ops.cli import app
from simulator.server import SimulatorServer


def _closed_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def _doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, str]]]:
    result = CliRunner().invoke(app, ["--json", "doctor"], env=env)
    return result.exit_code, {f["check"]: f for f in json.loads(result.output)}


def test_a_healthy_deployment_passes_every_check(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, redis_url: str, tmp_path: Path
) -> None:
    code, found = _doctor(
        {
            "CLOSURE_TEMPORAL__ADDRESS": dev_env.client.service_client.config.target_host,
            "CLOSURE_ALPACA__BASE_URL": sim.url,
            "CLOSURE_RECORDS__SQLITE_PATH": str(tmp_path / "closure.db"),
            "CLOSURE_EMAIL__OUTBOX_DIR": str(tmp_path / "outbox"),
            "CLOSURE_REDIS_URL": redis_url,
        }
    )
    assert code == 0, found
    assert {name: f["verdict"] for name, f in found.items()} == {
        "temporal": "ok",
        "payload encryption": "ok",
        "broker": "ok",
        "user records": "ok",
        "redis mirror": "ok",
        "email": "ok",
        "ops webhook": "ok",
    }
    assert "search attributes registered" in found["temporal"]["detail"]
    assert "authenticated" in found["broker"]["detail"]


def test_what_is_wrong_is_said_in_words(tmp_path: Path) -> None:
    temporal, broker = _closed_address(), _closed_address()
    code, found = _doctor(
        {
            "CLOSURE_TEMPORAL__ADDRESS": temporal,
            "CLOSURE_ALPACA__BASE_URL": f"http://{broker}",
            "CLOSURE_ALPACA__REQUEST_TIMEOUT_SECONDS": "2",
            "CLOSURE_RECORDS__SQLITE_PATH": str(tmp_path / "closure.db"),
            "CLOSURE_EMAIL__OUTBOX_DIR": str(tmp_path / "outbox"),
            "CLOSURE_REDIS_URL": f"redis://{_closed_address()}/0",
        }
    )
    assert code == 1
    assert found["temporal"]["verdict"] == "failed"
    assert f"cannot reach Temporal at {temporal}" in found["temporal"]["detail"]
    assert "CLOSURE_TEMPORAL__ADDRESS" in found["temporal"]["detail"]
    assert found["broker"]["verdict"] == "failed"
    assert found["redis mirror"]["verdict"] == "failed"
    assert found["user records"]["verdict"] == "ok", "one failure does not hide the other answers"

"""Temporal unreachable: the CLI says where it looked and which setting moves it; the worker waits for it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once the socket is closed


def _environment(address: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSURE_WORKER__")}
    return {**env, "CLOSURE_TEMPORAL__ADDRESS": address}


def test_the_cli_names_the_address_and_the_setting_in_one_line(tmp_path: Path) -> None:
    address = _closed_port()
    done = subprocess.run(
        [str(BIN / "closure"), "status", "acct-1", "--json"],
        env=_environment(address),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error.startswith(f"cannot reach Temporal at {address} (namespace default): Connection refused")
    assert "CLOSURE_TEMPORAL__ADDRESS" in error
    assert "tonic" not in error
    assert "Traceback" not in done.stderr


def test_the_worker_keeps_trying_with_a_line_per_attempt_and_stops_cleanly(tmp_path: Path) -> None:
    address = _closed_port()
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [str(BIN / "account-closure-worker")],
            env=_environment(address),
            cwd=tmp_path,
            stdout=out,
            stderr=out,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "attempt 3" not in log.read_text():
                assert worker.poll() is None, log.read_text()
                time.sleep(0.2)
            assert worker.poll() is None, "the worker waits for Temporal instead of dying"
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=15)
    text = log.read_text()
    attempts = [line for line in text.splitlines() if "cannot reach Temporal" in line]
    assert len(attempts) >= 3, text
    assert all(address in line and "CLOSURE_TEMPORAL__ADDRESS" in line for line in attempts), text
    assert "Traceback" not in text
    assert code == 0

"""A worker killed while SES holds its request: the retry on another worker does not send a second copy."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from temporalio.testing import WorkflowEnvironment

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.adapters.email.moto_ses import MotoSes
from tests.support import ny
from workflows.client import start_closure

SEND_PATH = "/v2/email/outbound-emails"


class SlowSes:
    """In front of moto: holds the first send until told to let it through (the worker is dead by then)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.holding = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == SEND_PATH and not proxy.holding.is_set():
                    proxy.holding.set()
                    proxy.release.wait(timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = requests.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=30
                )
                try:
                    self.send_response(answer.status_code)
                    for name, value in answer.headers.items():
                        if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker that asked is gone; SES did the work all the same

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()


@pytest.fixture
def slow_ses(ses: MotoSes) -> Iterator[SlowSes]:
    proxy = SlowSes(ses.url)
    yield proxy
    proxy.close()


def _worker(env_vars: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker"],
            env={**os.environ, **env_vars},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_a_worker_killed_mid_send_does_not_duplicate_the_email(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, ses: MotoSes, slow_ses: SlowSes, tmp_path: Path
) -> None:
    # The real dev server: an activity on a dead worker times out and is retried elsewhere, as in production.
    env = dev_env
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 3, 4, 10, 0))
    account = broker.open_account()  # an empty account: an initiation and a completion email
    records = SqliteRecords(tmp_path / "closure.db")
    records.upsert(UserRecord(user_id="u-1", alpaca_account_id=account.account_id, email=account.email))
    broker.run_clock(1.0)
    settings_env = {
        "CLOSURE_TEMPORAL__ADDRESS": env.client.service_client.config.target_host,
        "CLOSURE_TEMPORAL__TASK_QUEUE": f"kill-{tmp_path.name}",
        "CLOSURE_ALPACA__BASE_URL": sim.url,
        "CLOSURE_RECORDS__SQLITE_PATH": str(records.path),
        "CLOSURE_EMAIL__BACKEND": "ses",
        "CLOSURE_EMAIL__SES_ENDPOINT_URL": slow_ses.url,
    }
    first = _worker(settings_env, tmp_path / "worker-1.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        policy = ClosurePolicy(notification_retry_budget=ClosurePolicy().notification_retry_budget)
        started = await start_closure(
            env.client,
            account.account_id,
            task_queue=settings_env["CLOSURE_TEMPORAL__TASK_QUEUE"],
            policy=policy,
        )
        assert await asyncio.to_thread(slow_ses.holding.wait, 60), "the initiation email never reached SES"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        slow_ses.release.set()  # SES now takes the email the dead worker sent
        second = _worker(settings_env, tmp_path / "worker-2.log")
        progress = await asyncio.wait_for(started.handle.result(), timeout=240)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)

    assert progress.phase == ClosurePhase.COMPLETED
    keys = sorted(s.key.rsplit(":email:", 1)[1] for s in ses.sent())
    assert keys == ["completion", "initiation", "ops_alert:1"], keys
    customer = [s for s in ses.sent() if s.to == [account.email]]
    assert len(customer) == 2, "one initiation and one completion email, even though the send was retried"
    # The retry found the dead worker's claim and did not send again; ops is told to check the provider.
    assert "email_outcome_unknown" in [a.kind for a in progress.alerts]

"""The real stack for API tests: the dev server, a worker process, the API process, the simulator, Redis."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from api.tokens import user_token
from devtools.localstack import LocalStack
from simulator.scenarios import ScenarioBuilder, SeededAccount

JWT_SECRET = "test-jwt-secret-with-enough-length-for-hs256"
ADMIN_TOKEN = "test-admin-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ApiStack:
    url: str
    broker: ScenarioBuilder
    records: SqliteRecords
    outbox: Path
    processes: LocalStack | None = None

    def restart_api(self) -> None:
        """Kill the API process (every open stream drops), then start it again where it was."""
        assert self.processes is not None
        self.processes.kill("api")
        self.processes.restart("api", port=int(self.url.rsplit(":", 1)[1]))

    def customer(self, seeded: SeededAccount, user_id: str | None = None) -> str:
        user = user_id or f"user-{seeded.account_id[:8]}"
        self.records.upsert(
            UserRecord(
                user_id=user,
                alpaca_account_id=seeded.account_id,
                email=seeded.email,
                first_name=seeded.given_name,
                last_name=seeded.family_name,
            )
        )
        return user

    def client(self, user_id: str | None = None, token: str | None = None) -> httpx.Client:
        headers = {}
        if token or user_id:
            headers["Authorization"] = f"Bearer {token or user_token(JWT_SECRET, user_id or '')}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)


@contextmanager
def api_stack(
    temporal_address: str,
    sim_url: str,
    workdir: Path,
    redis_url: str | None,
    time_scale: float = 1.0,
    extra: dict[str, str] | None = None,
) -> Iterator[ApiStack]:
    environment = {
        "CLOSURE_TEMPORAL__ADDRESS": temporal_address,
        "CLOSURE_TEMPORAL__TASK_QUEUE": f"api-{uuid.uuid4()}",
        "CLOSURE_ALPACA__BASE_URL": sim_url,
        "CLOSURE_RECORDS__SQLITE_PATH": str(workdir / "closure.db"),
        "CLOSURE_EMAIL__OUTBOX_DIR": str(workdir / "outbox"),
        "CLOSURE_API__SUPABASE_JWT_SECRET": JWT_SECRET,
        "CLOSURE_API__ADMIN_TOKEN": ADMIN_TOKEN,
        "CLOSURE_API__INITIATE_LIMIT": "1000",
        # One test client is one address and a few users sending hundreds of requests; the limits have
        # their own tests (test_throttle).
        "CLOSURE_API__ADDRESS_REQUEST_LIMIT": "1000000",
        "CLOSURE_API__USER_REQUEST_LIMIT": "1000000",
        "CLOSURE_TIME_SCALE": str(time_scale),
    }
    if redis_url:
        environment["CLOSURE_REDIS_URL"] = redis_url
    environment.update(extra or {})
    with LocalStack(workdir / "logs") as stack:
        stack.worker(environment)
        url = stack.api(free_port(), environment)
        yield ApiStack(
            url, ScenarioBuilder(sim_url), SqliteRecords(workdir / "closure.db"), workdir / "outbox", stack
        )

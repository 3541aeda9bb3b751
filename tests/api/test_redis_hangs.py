"""A Redis that accepts connections and never answers costs the API a bounded wait, never its event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from api.main import create_app, shared_redis
from api.rate_limit import RateLimit, Throttle
from closure.phases import ClosurePhase
from runtime.settings import ApiSettings, Settings
from simulator.server import SimulatorServer
from tests.support import closure_lab, ny

ADMIN = "operator-token"


@contextmanager
def hanging_redis() -> Iterator[str]:
    """A TCP server that reads whatever it is sent and never writes a byte back."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


async def _max_stall(work: asyncio.Future[httpx.Response] | asyncio.Task[httpx.Response]) -> float:
    """The longest the event loop went without running a 10 ms ticker while `work` ran."""
    stall, last = 0.0, time.monotonic()
    while not work.done():
        await asyncio.sleep(0.01)
        now = time.monotonic()
        stall, last = max(stall, now - last), now
    return stall


async def test_progress_is_served_from_the_workflow_while_redis_hangs(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 7, 19, 0)) as lab:  # Friday evening
        account = lab.broker.funded_account(Decimal("1000.00"))
        lab.follow_temporal()
        started = await lab.start(account)
        with hanging_redis() as url:
            settings = lab.settings.model_copy(
                update={"redis_url": url, "api": ApiSettings(admin_token=SecretStr(ADMIN))}
            )
            app = create_app(settings, temporal=lab.env.client)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://api",
                headers={"Authorization": f"Bearer {ADMIN}"},
                timeout=10,
            ) as api:
                began = time.monotonic()
                request = asyncio.ensure_future(api.get(f"/api/admin/closures/{account.account_id}"))
                stall = await _max_stall(request)
                answer = await request
                took = time.monotonic() - began

                health = await api.get("/healthz")
            await app.state.redis.aclose()

        assert answer.status_code == 200, answer.text
        assert answer.json()["source"] == "workflow"
        assert answer.json()["phase"] != ClosurePhase.NEEDS_ATTENTION
        assert took < 2, f"the mirror read must give up after its timeout, not wait {took:.1f} s"
        assert stall < 0.25, f"the event loop stalled {stall:.2f} s on Redis"
        assert health.status_code == 503
        assert health.json()["redis"] == "unreachable"
        await lab.finish(started)


@pytest.mark.parametrize("limit", [1, 9])
async def test_the_rate_limit_counts_in_the_process_while_redis_hangs(limit: int) -> None:
    with hanging_redis() as url:
        settings = Settings(redis_url=url, api=ApiSettings(redis_timeout=timedelta(milliseconds=200)))
        client = shared_redis(settings)
        assert client is not None
        limiter = RateLimit("initiate", limit, timedelta(minutes=1), client)
        began = time.monotonic()
        waits = [await limiter.retry_after("user-1") for _ in range(limit + 1)]
        took = time.monotonic() - began
        await client.aclose()

    assert waits[:limit] == [None] * limit
    over = waits[limit]
    assert over is not None
    assert over > 0
    assert took < 0.2 * 2 + 0.3, f"one timeout, then the process counts alone; not {took:.1f} s in all"


async def test_every_limit_of_a_request_shares_one_timeout_while_redis_hangs() -> None:
    with hanging_redis() as url:
        settings = Settings(redis_url=url, api=ApiSettings(redis_timeout=timedelta(milliseconds=200)))
        client = shared_redis(settings)
        assert client is not None
        throttle = Throttle.of(settings.api, client)
        began = time.monotonic()
        for limit, subject in (
            (throttle.address, "10.0.0.1"),
            (throttle.user, "user:u1"),
            (throttle.initiate, "u1"),
        ):
            await throttle.admit(limit, subject)
        took = time.monotonic() - began
        await client.aclose()
    assert took < 0.2 + 0.15, f"one timeout for all three limits, not {took:.2f} s"

"""Held progress streams cost the API no Redis connection each, and a dropped one frees what it held."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from adapters.redis.mirror import MirrorWrite, ProgressMirror
from api.tokens import user_token
from closure.phases import ClosurePhase
from devtools.localstack import LocalStack
from tests.api.stack import JWT_SECRET, free_port
from tests.support import progress_snapshot

STREAM_DB = 13  # this module's own Redis database: its connections are counted by it
ACCOUNT = "5c1f0000-0000-4000-8000-00000000c0de"
USER = "user-streams"
STREAMS = 60


@dataclass
class StreamingApi:
    port: int
    pid: int
    mirror: ProgressMirror
    redis: redis.Redis

    def open_stream(self) -> socket.socket:
        """A stream as a browser holds it: the request sent, the first event read, the socket kept open."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        token = user_token(JWT_SECRET, USER)
        sock.sendall(
            f"GET /api/account-closure/progress/{ACCOUNT}/stream HTTP/1.1\r\nHost: api\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        _read_until(sock, b"event: progress")
        return sock

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def redis_connections(self) -> int:
        return sum(1 for c in self.redis.client_list() if int(c["db"]) == STREAM_DB)

    def publish(self, sequence: int, phase: ClosurePhase = ClosurePhase.WITHDRAWAL_24HR_WAIT) -> None:
        self.mirror.write(MirrorWrite(progress=progress_snapshot(ACCOUNT, phase, sequence, USER)))


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the stream ended before {marker!r}: {seen[-300:]!r}")
        seen += chunk
    return seen


def _settled(measure: Callable[[], int], at_most: int, within: float) -> int:
    deadline = time.monotonic() + within
    while (value := measure()) > at_most and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


@pytest.fixture
def api(tmp_path: Path, redis_url: str) -> Iterator[StreamingApi]:
    url = redis_url.rsplit("/", 1)[0] + f"/{STREAM_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    SqliteRecords(tmp_path / "closure.db").upsert(UserRecord(user_id=USER, alpaca_account_id=ACCOUNT))
    mirror = ProgressMirror.from_url(url, timedelta(days=1))
    mirror.write(MirrorWrite(progress=progress_snapshot(ACCOUNT, ClosurePhase.WITHDRAWAL_24HR_WAIT, 1, USER)))
    environment = {
        "CLOSURE_TEMPORAL__ADDRESS": "127.0.0.1:1",  # the fresh mirror answers; Temporal is never asked
        "CLOSURE_RECORDS__SQLITE_PATH": str(tmp_path / "closure.db"),
        "CLOSURE_API__SUPABASE_JWT_SECRET": JWT_SECRET,
        "CLOSURE_API__STREAM_HEARTBEAT": "PT1S",
        "CLOSURE_REDIS_URL": url,
    }
    port = free_port()
    with LocalStack(tmp_path / "logs") as stack:
        stack.api(port, environment)
        pid = stack.processes[-1][1].pid
        yield StreamingApi(port, pid, mirror, redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/0"))
    client.flushdb()


def test_held_streams_share_one_redis_connection_and_a_drop_frees_everything(api: StreamingApi) -> None:
    api.open_stream().close()  # warm: the shared client and its pool exist from here on
    base_connections, base_descriptors = api.redis_connections(), api.descriptors()

    held = [api.open_stream() for _ in range(STREAMS)]
    held_connections = api.redis_connections()
    api.publish(2)
    for sock in held:
        assert b'"sequence":2' in _read_until(sock, b'"sequence":2')  # every stream hears the change
    assert held_connections <= base_connections + 2, "each stream opened its own Redis connection"

    for sock in held:
        sock.close()
    connections = _settled(api.redis_connections, base_connections + 1, within=5)
    descriptors = _settled(api.descriptors, base_descriptors + 3, within=5)
    assert connections <= base_connections + 1, f"{connections - base_connections} Redis connections left"
    assert descriptors <= base_descriptors + 3, f"{descriptors - base_descriptors} descriptors left"

    after = api.open_stream()  # the shared subscription still serves new streams after the drops
    api.publish(3, ClosurePhase.COMPLETED)
    assert b"completed" in _read_until(after, b'"sequence":3')
    after.close()

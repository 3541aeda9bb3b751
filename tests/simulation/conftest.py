"""The seeded runs get a time-skipping server of their own.

Fifty closures with production durations leave the in-memory test server holding every history; sharing it
slowed the workflow tests that run after them until they timed out. A module-scoped server is shut down,
and its memory freed, before the next module starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.conftest import time_skipping_server


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as environment:
        yield environment

"""The app as a server process runs it: what `served_app` does that an app made per test does not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.test_auth import _settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # what a test froze must not stay out of the collector's reach for the rest of the run


def test_a_server_process_freezes_what_is_alive_once_it_is_up(tmp_path: Path, unfrozen: None) -> None:
    with TestClient(create_app(_settings(tmp_path), freeze_heap=True), base_url="http://api") as client:
        frozen = gc.get_freeze_count()
        assert client.get("/healthz").status_code in (200, 503)
    assert frozen > 10_000, "the app's long-lived objects are kept out of every collection"


def test_an_app_made_per_test_leaves_the_collector_alone(tmp_path: Path, unfrozen: None) -> None:
    with TestClient(create_app(_settings(tmp_path)), base_url="http://api"):
        assert gc.get_freeze_count() == 0

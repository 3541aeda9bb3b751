"""Requests no client sends are refused before they are read or routed: huge bodies and headers, smuggled paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.test_auth import ADMIN, _settings, _token

RETRY = "/api/admin/closures/0b7d2a1e-0000-4000-8000-00000000a11c/retry"
OPERATOR = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    with TestClient(create_app(_settings(tmp_path)), base_url="http://api", follow_redirects=False) as client:
        yield client


def test_a_30_mb_body_is_refused_with_413_unread(api: httpx.Client) -> None:
    response = api.post(RETRY, content=b" " * (30 * 1024 * 1024), headers=OPERATOR)
    assert response.status_code == 413
    assert response.json()["code"] == "RequestTooLarge"


def test_a_streamed_body_without_a_length_is_cut_off_at_the_cap(api: httpx.Client) -> None:
    chunks = (b" " * 65536 for _ in range(64))  # 4 MiB, chunked: no Content-Length to judge by
    response = api.post(RETRY, content=chunks, headers=OPERATOR)
    assert response.status_code == 413
    assert response.json()["code"] == "RequestTooLarge"


def test_an_ordinary_operator_body_still_passes_the_cap(api: httpx.Client) -> None:
    response = api.post(RETRY, json={"operator": "ops@example.com", "note": "bank fixed"}, headers=OPERATOR)
    assert response.status_code not in (413, 431), response.text


def test_headers_past_the_cap_are_refused_with_431(api: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {_token()}", "X-Padding": "a" * 20_000}
    response = api.get("/api/account-closure/data", headers=headers)
    assert response.status_code == 431
    assert response.json()["code"] == "HeadersTooLarge"


@pytest.mark.parametrize(
    "path",
    [
        "/api/account-closure/progress/..%2F",
        "/api/account-closure/progress/..%2Fdata",
        "/api/account-closure/progress/%2e%2e/data",
        "/api/account-closure/data/",
    ],
)
def test_smuggled_paths_and_trailing_slashes_are_404_never_a_redirect(api: httpx.Client, path: str) -> None:
    response = api.get(path, headers={"Authorization": f"Bearer {_token()}"})
    assert response.status_code == 404, (response.status_code, response.headers.get("location"))
    assert response.json()["code"] == "NotFound"

"""Operators are people with roles: the matrix route by route, where the role is read, and who is recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from api.auth import TokenVerifier
from api.main import create_app
from closure.operators import Actor, AuditEntry, AuditOutcome, OperatorRole
from tests.api.test_auth import ADMIN, ALICE, ALICE_ACCOUNT, _settings, _token

VERA, OTTO = "vera@firm.example", "otto@firm.example"
# Minted when a test runs, not when the module is read: a suite can take longer than a token lives.
CREDENTIALS: dict[str, Callable[[], str | None]] = {
    "none": lambda: None,
    "customer": lambda: _token(ALICE),
    "viewer": lambda: _token("user-vera", email=VERA, app_metadata={"closure_role": "viewer"}),
    "operator": lambda: _token("user-otto", email=OTTO, app_metadata={"closure_role": "operator"}),
    "automation": lambda: ADMIN,
}
ROUTES = {
    "list": ("GET", "/api/admin/closures"),
    "detail": ("GET", f"/api/admin/closures/{ALICE_ACCOUNT}"),
    "audit": ("GET", f"/api/admin/closures/{ALICE_ACCOUNT}/audit"),
    "retry": ("POST", f"/api/admin/closures/{ALICE_ACCOUNT}/retry"),
    "cancel": ("POST", f"/api/admin/closures/{ALICE_ACCOUNT}/cancel"),
}
# What each credential gets from each route. Temporal is not running here, so a route that lets the caller in
# answers 503 when it needs Temporal; the audit trail lives beside the user records and answers 200.
MATRIX = {
    "none": dict.fromkeys(ROUTES, 401),
    "customer": dict.fromkeys(ROUTES, 403),
    "viewer": {"list": 503, "detail": 503, "audit": 200, "retry": 403, "cancel": 403},
    "operator": {"list": 503, "detail": 503, "audit": 200, "retry": 503, "cancel": 503},
    "automation": {"list": 503, "detail": 503, "audit": 200, "retry": 503, "cancel": 503},
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    settings = _settings(tmp_path)
    SqliteRecords(settings.records.sqlite_path).upsert(
        UserRecord(user_id=ALICE, alpaca_account_id=ALICE_ACCOUNT)
    )
    with TestClient(create_app(settings), base_url="http://api") as client:
        yield client


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("route", ROUTES)
def test_the_role_matrix(api: httpx.Client, credential: str, route: str) -> None:
    token = CREDENTIALS[credential]()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = api.request(*ROUTES[route], headers=headers, json={"reason": "matrix"})
    assert response.status_code == MATRIX[credential][route], response.text
    if response.status_code == 403:
        assert response.json()["code"] == ("RoleNotAllowed" if credential == "viewer" else "NotAnOperator")


def test_a_role_the_user_wrote_into_their_own_metadata_is_ignored(api: httpx.Client) -> None:
    forged = _token(ALICE, user_metadata={"closure_role": "operator"})  # user_metadata is the user's to edit
    response = api.get("/api/admin/closures", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 403
    assert response.json()["code"] == "NotAnOperator"


def test_an_unknown_role_is_no_role(api: httpx.Client) -> None:
    token = _token("user-x", app_metadata={"closure_role": "admin"})
    response = api.get("/api/admin/closures", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_an_operator_token_must_still_be_a_valid_sign_in(api: httpx.Client) -> None:
    expired = _token("user-otto", app_metadata={"closure_role": "operator"}, exp=1)
    response = api.get("/api/admin/closures", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401


def test_the_audit_route_shows_the_trail_oldest_first(api: httpx.Client, tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path / "closure.db")
    otto = Actor(name=OTTO, subject="cli:otto", role=OperatorRole.OPERATOR, via="cli")
    for n, outcome in enumerate((AuditOutcome.DRY_RUN, AuditOutcome.DONE)):
        at = datetime(2025, 3, 4, 10, n, tzinfo=UTC)
        records.append_audit(AuditEntry.of(at, ALICE_ACCOUNT, otto, "cancel", n == 0, "asked", outcome, "ok"))
    response = api.get(
        f"/api/admin/closures/{ALICE_ACCOUNT}/audit",
        headers={"Authorization": f"Bearer {CREDENTIALS['viewer']()}"},
    )
    assert response.status_code == 200
    entries = response.json()["entries"]
    assert [(e["actor"], e["action"], e["dry_run"], e["outcome"]) for e in entries] == [
        (OTTO, "cancel", True, "dry_run"),
        (OTTO, "cancel", False, "done"),
    ]


def test_an_operator_is_named_by_email_and_identified_by_the_user_id(tmp_path: Path) -> None:
    verifier = TokenVerifier(_settings(tmp_path).api)
    actor = verifier.operator(str(CREDENTIALS["operator"]()))
    assert (actor.name, actor.subject, actor.role, actor.via) == (
        OTTO,
        "user-otto",
        OperatorRole.OPERATOR,
        "api",
    )

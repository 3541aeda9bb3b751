"""Initiation preconditions with the broker, and the operator endpoints, on the real stack."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from adapters.records import closed, pending_closure
from simulator.server import SimulatorServer
from tests.api.stack import ApiStack, api_stack
from tests.support import ny


async def test_initiate_refuses_with_a_precise_reason_and_moves_nothing(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, tmp_path: Path
) -> None:
    address = dev_env.client.service_client.config.target_host
    with api_stack(address, sim.url, tmp_path, redis_url=None) as stack:
        stack.broker.set_clock(ny(2025, 4, 15, 10, 0))
        no_bank = stack.broker.funded_account(Decimal("900.00"))
        assert no_bank.relationship_id
        stack.broker.broker.delete_ach_relationship_for_account(no_bank.account_id, no_bank.relationship_id)
        frozen = stack.broker.funded_account(Decimal("100.00"), given_name="Frozen")
        stack.broker.control("PATCH", f"/accounts/{frozen.account_id}", {"status": "ACCOUNT_UPDATED"})
        blocked = stack.broker.funded_account(Decimal("100.00"), given_name="Blocked")
        stack.broker.control("PATCH", f"/accounts/{blocked.account_id}", {"transfers_blocked": True})
        gone = stack.broker.funded_account(Decimal("100.00"), given_name="Gone")
        cases = {
            no_bank.account_id: (422, "NoApprovedAchRelationship"),
            frozen.account_id: (422, "AccountNotActive"),
            blocked.account_id: (422, "AccountBlocked"),
            gone.account_id: (409, "AccountAlreadyClosed"),
        }
        users = {account.account_id: stack.customer(account) for account in (no_bank, frozen, blocked, gone)}
        stack.records.apply(gone.account_id, pending_closure(datetime.now(UTC)))
        stack.records.apply(gone.account_id, closed(datetime.now(UTC)))
        for account_id, (status, code) in cases.items():
            with stack.client(users[account_id]) as client:
                response = client.post(f"/api/account-closure/initiate/{account_id}")
            assert (response.status_code, response.json()["code"]) == (status, code), response.text
            assert response.json()["message"]
            record = stack.records.by_account(account_id)
            assert record is not None
            assert record.status == ("closed" if account_id == gone.account_id else "active"), "nothing moved"
        assert "$900.00" in _message(stack, users[no_bank.account_id], no_bank.account_id)
        with stack.client() as anonymous:
            assert anonymous.get("/healthz").json() == {"status": "ok", "temporal": "ok", "redis": "disabled"}


def _message(stack: ApiStack, user: str, account_id: str) -> str:
    with stack.client(user) as client:
        return str(client.post(f"/api/account-closure/initiate/{account_id}").json()["message"])


async def test_operators_list_inspect_retry_and_cancel(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, tmp_path: Path
) -> None:
    address = dev_env.client.service_client.config.target_host
    with api_stack(address, sim.url, tmp_path, redis_url=None) as stack:
        stack.broker.set_clock(ny(2025, 4, 18, 9, 45))  # Good Friday: the market is shut all day
        waiting = stack.broker.funded_account(Decimal("4000.00"))
        stack.broker.control("POST", "/prices", {"QQQ": "400.00"})
        stack.broker.buy(waiting, "QQQ", Decimal("5"))  # an open order until Monday: liquidation waits
        stack.broker.run_clock(1.0)
        user = stack.customer(waiting)
        with stack.client(user) as client:
            assert client.post(f"/api/account-closure/initiate/{waiting.account_id}").status_code == 202

        with stack.admin() as admin:
            for _ in range(80):
                listed = admin.get("/api/admin/closures", params={"phase": "liquidation"}).json()["closures"]
                if any(c["account_id"] == waiting.account_id for c in listed):
                    break
                await asyncio.sleep(0.25)
            assert [c["account_id"] for c in listed if c["account_id"] == waiting.account_id] == [
                waiting.account_id
            ]
            assert admin.get("/api/admin/closures", params={"phase": "nonsense"}).status_code == 422
            detail = admin.get(f"/api/admin/closures/{waiting.account_id}")
            assert detail.status_code == 200
            assert detail.json()["phase"] == "liquidation"
            refused = admin.post(
                f"/api/admin/closures/{waiting.account_id}/retry", json={"operator": "ops@x"}
            )
            assert refused.status_code == 409
            assert "not waiting for an operator" in refused.json()["message"]
            cancelled = admin.post(
                f"/api/admin/closures/{waiting.account_id}/cancel",
                json={"operator": "ops@x", "reason": "asked"},
            )
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["phase"] == "cancelled"
            assert (
                admin.post("/api/admin/closures/unknown-account/retry", json={"operator": "o"}).status_code
                == 404
            )
            trail = admin.get(f"/api/admin/closures/{waiting.account_id}/audit").json()["entries"]
        assert [(e["action"], e["actor"], e["via"], e["outcome"]) for e in trail] == [
            ("retry", "automation for ops@x", "api:automation", "refused"),
            ("cancel", "automation for ops@x", "api:automation", "done"),
        ]
        assert trail[1]["reason"] == "asked"
        record = stack.records.by_account(waiting.account_id)
        assert record is not None
        assert record.status == "active"  # a cancelled closure gives the customer their account back

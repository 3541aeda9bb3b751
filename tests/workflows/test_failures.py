"""When the broker refuses, fails, or loses an answer: nothing sent twice, nothing lost, nothing silent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.progress import RetryRequest
from simulator.scenarios import SeededAccount
from simulator.server import SimulatorServer
from tests.support import amounts, closure_lab, ny
from workflows.account_closure import AccountClosureWorkflow

TRANSFERS = "POST /v1/accounts/{account_id}/transfers"


@pytest.mark.parametrize(
    ("status", "when"),
    [("REJECTED", "QUEUED"), ("REJECTED", "APPROVED"), ("EXPIRED", "PENDING")],
    ids=["rejected-before-clearing", "rejected-after-approval", "expired"],
)
async def test_failed_second_transfer_waits_for_ops_and_a_retry_completes_it(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, status: str, when: str
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("150000.00"))
        lab.broker.faults(
            [],
            [
                {
                    "status": status,
                    "nth": 2,
                    "when": when,  # a transfer the broker accepted, even approved, can still be rejected
                    "account_id": account.account_id,
                    "reason": "R01 insufficient",
                }
            ],
        )
        lab.follow_temporal()
        started = await lab.start(account)
        parked = await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)

        assert parked.attention is not None
        assert parked.attention.error_type == "TransferFailed"
        assert status in parked.attention.reason
        assert "R01 insufficient" in parked.attention.reason
        assert [a.kind for a in parked.alerts] == ["needs_attention"]
        assert parked.amount_withdrawn == Decimal("50000.00")  # the rejected $50,000 came back

        result = await started.handle.execute_update(
            AccountClosureWorkflow.retry, RetryRequest(operator="ops@example.com", note="bank fixed")
        )
        assert result.accepted
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        assert [t.status for t in progress.transfers] == ["COMPLETE", status, "COMPLETE", "COMPLETE"]
        assert progress.amount_completed == Decimal("150000.00")
        lab.assert_invariants(account.account_id, progress)


async def test_lost_create_response_is_adopted_not_duplicated(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0), request_timeout=1.0) as lab:
        account = lab.broker.funded_account(Decimal("120000.00"))
        # The broker creates the second transfer, then the answer never arrives (the client times out).
        lab.broker.faults(
            [{"route": TRANSFERS, "kind": "lost_response", "skip": 1, "count": 1, "latency_seconds": 2}]
        )
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))

        assert progress.phase == ClosurePhase.COMPLETED
        assert amounts(lab, account.account_id) == [
            Decimal("50000.00"),
            Decimal("50000.00"),
            Decimal("20000.00"),
        ]
        assert [t.adopted for t in progress.transfers] == [False, True, False]
        faults = lab.broker.control("GET", "/faults")["rules"]
        assert faults[0]["hits"] == 1
        lab.assert_invariants(account.account_id, progress)


CLOSURE_ROUTES = [
    "GET /v1/trading/accounts/{account_id}/account",
    "GET /v1/trading/accounts/{account_id}/positions",
    "GET /v1/trading/accounts/{account_id}/orders",
    "DELETE /v1/trading/accounts/{account_id}/orders",
    "DELETE /v1/trading/accounts/{account_id}/positions",
    "GET /v1/accounts/{account_id}/ach_relationships",
    "GET /v1/accounts/{account_id}/transfers",
    TRANSFERS,
    "GET /v1/accounts/{account_id}",
    "POST /v1/accounts/{account_id}/actions/close",
    "GET /v1/clock",
    "GET /v1/calendar",
]


async def test_5xx_429_and_timeouts_on_every_endpoint_are_retried(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 9, 45), request_timeout=1.0) as lab:
        account = lab.broker.funded_account(Decimal("60000.00"))
        lab.broker.buy(account, "SPY", Decimal("10"))
        rules = []
        for route in CLOSURE_ROUTES:
            rules += [
                {"route": route, "kind": "error", "status": 503, "count": 1},
                {"route": route, "kind": "error", "status": 429, "count": 1},
                {"route": route, "kind": "timeout", "latency_seconds": 1.5, "count": 1},
            ]
        rules.append({"route": "*", "kind": "error", "status": 502, "rate": 0.05})
        lab.broker.control("POST", "/faults", {"rules": rules, "seed": 11})
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))

        assert progress.phase == ClosurePhase.COMPLETED
        fired = {
            (r["route"], r["status"], r["kind"]): r["hits"]
            for r in lab.broker.control("GET", "/faults")["rules"]
        }
        unfired = [key for key, hits in fired.items() if key[0] != "*" and hits != 1]
        assert not unfired, f"faults that never reached the closure: {unfired}"
        lab.assert_invariants(account.account_id, progress)


async def test_no_approved_bank_stops_before_anything_moves(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 9, 45)) as lab:
        account = lab.broker.funded_account(Decimal("10000.00"))
        lab.broker.buy(account, "QQQ", Decimal("5"))
        assert account.relationship_id
        lab.broker.broker.delete_ach_relationship_for_account(account.account_id, account.relationship_id)
        lab.follow_temporal()
        started = await lab.start(account)
        parked = await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)

        assert parked.attention is not None
        assert parked.attention.error_type == "NoApprovedAchRelationship"
        assert "no APPROVED ACH relationship" in parked.attention.reason
        kinds = [e["kind"] for e in lab.ledger(account.account_id)["entries"]]
        assert kinds == ["deposit", "buy"], "nothing may be sold or sent without a bank to send it to"
        positions = lab.broker.positions(account.account_id)
        assert [(p.symbol, p.qty) for p in positions] == [("QQQ", "5")]


@pytest.mark.parametrize("answer", [401, 404])
async def test_an_account_the_broker_does_not_know_parks_as_not_found_not_as_bad_credentials(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, answer: int
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 10, 0)) as lab:
        lab.broker.configure(unknown_account_status=answer)
        ghost = SeededAccount("0000dead-0000-0000-0000-000000000000", None, "ghost@example.com", "G", "Host")
        lab.follow_temporal()
        started = await lab.start(ghost)
        parked = await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)

        assert parked.attention is not None
        assert parked.attention.error_type == "AccountNotFound", parked.attention.reason
        assert str(answer) in parked.attention.reason


async def test_an_answer_the_closure_cannot_read_parks_it_with_the_reason_and_a_retry_carries_on(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("1000.00"))
        # The account's cash goes missing from one answer: read as zero, the closure would close a funded account.
        lab.broker.faults(
            [
                {
                    "route": "GET /v1/trading/accounts/{account_id}/account",
                    "kind": "malformed",
                    "patch": {"cash": None},
                    "count": 1,
                }
            ]
        )
        lab.follow_temporal()
        started = await lab.start(account)
        parked = await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)

        assert parked.attention is not None
        assert parked.attention.error_type == "BrokerResponseInvalid"
        assert "has no cash" in parked.attention.reason
        assert lab.ledger(account.account_id)["status"] == "ACTIVE"
        await started.handle.execute_update(
            AccountClosureWorkflow.retry, RetryRequest(operator="ops@example.com", note="broker fixed")
        )
        progress = await lab.finish(started)
        assert progress.phase == ClosurePhase.COMPLETED
        assert amounts(lab, account.account_id) == [Decimal("1000.00")]
        lab.assert_invariants(account.account_id, progress)

"""`closure resume` and `closure import-legacy` finish stuck closures: no duplicate, the 24 h spacing kept."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import cast

import redis
from alpaca.broker.enums import TransferDirection, TransferTiming
from alpaca.broker.models import Transfer
from alpaca.broker.requests import CreateACHTransferRequest
from temporalio.testing import WorkflowEnvironment

from adapters.records import pending_closure
from closure.operators import AuditOutcome
from closure.phases import ClosurePhase
from closure.progress import ClosureProgress
from simulator.scenarios import SeededAccount
from simulator.server import SimulatorServer
from tests.support import ClosureLab, amounts, closure_lab, transfer_times
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import StartedClosure


async def _account_with_an_earlier_transfer(
    lab: ClosureLab, env: WorkflowEnvironment
) -> tuple[SeededAccount, Transfer]:
    """$120,000, of which the legacy process sent $50,000 three hours ago before dying."""
    now = await env.get_current_time()
    lab.broker.set_clock(now - timedelta(hours=6))
    account = lab.broker.funded_account(Decimal("120000.00"))
    lab.broker.advance(3600 * 3 - 60 * 135 - 1)  # to three hours ago
    assert account.relationship_id
    legacy = cast(
        Transfer,
        lab.broker.broker.create_transfer_for_account(
            account.account_id,
            CreateACHTransferRequest(
                amount="50000.00",
                direction=TransferDirection.OUTGOING,
                timing=TransferTiming.IMMEDIATE,
                relationship_id=account.relationship_id,
            ),
        ),
    )
    lab.register_customer(account)
    lab.records.apply(account.account_id, pending_closure(legacy.created_at - timedelta(minutes=5)))
    lab.follow_temporal(await env.get_current_time())  # the broker's clock is Temporal's from here on
    return account, legacy


async def _finish(lab: ClosureLab, account: SeededAccount) -> ClosureProgress:
    """The CLI started this one, so skip time by hand (only handles this test started skip it on their own)."""
    handle = lab.env.client.get_workflow_handle_for(
        AccountClosureWorkflow.run, f"account-closure-{account.account_id}"
    )
    lab.started.append(StartedClosure(handle.id, "", "", handle))
    return await lab.until(
        handle, lambda p: p.phase.is_terminal, step=timedelta(hours=1), limit=timedelta(days=10)
    )


def _spaced_24h(times: list[datetime]) -> None:
    for earlier, later in pairwise(times):
        assert timedelta(hours=24) <= later - earlier < timedelta(hours=24, minutes=1), times


async def test_resume_finishes_a_pending_closure_from_broker_truth(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=datetime(2025, 1, 1).astimezone()) as lab:
        account, legacy = await _account_with_an_earlier_transfer(lab, env)

        dry = await asyncio.to_thread(lab.cli, "resume", account.account_id, "--dry-run")
        assert dry.exit_code == 0, dry.stdout
        assert "would start" in dry.stdout
        [plan] = json.loads(
            (await asyncio.to_thread(lab.cli, "--json", "resume", account.account_id, "--dry-run")).stdout
        )
        assert "owning 1 earlier transfer(s): $50,000.00" in plan["detail"]
        assert await _no_workflow(lab, account)
        done = await asyncio.to_thread(lab.cli, "--json", "resume", account.account_id)
        assert json.loads(done.stdout)[0]["action"] == "started"
        progress = await _finish(lab, account)

        assert progress.phase == ClosurePhase.COMPLETED
        assert amounts(lab, account.account_id) == [
            Decimal("50000.00"),
            Decimal("50000.00"),
            Decimal("20000.00"),
        ]
        assert progress.transfers[0].transfer_id == str(legacy.id)
        _spaced_24h(transfer_times(lab, account.account_id))
        lab.assert_invariants(account.account_id, progress)
        trail = lab.records.audit_of(account.account_id)
        assert [(e.action, e.via, e.outcome) for e in trail] == [
            ("resume", "cli", AuditOutcome.DRY_RUN),
            ("resume", "cli", AuditOutcome.DRY_RUN),
            ("resume", "cli", AuditOutcome.DONE),
        ]


async def test_import_legacy_keeps_the_confirmation_number_and_the_transfers(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, redis_url: str
) -> None:
    async with closure_lab(
        env, sim, executor, seed_at=datetime(2025, 1, 1).astimezone(), redis_url=redis_url
    ) as lab:
        account, legacy = await _account_with_an_earlier_transfer(lab, env)
        client = redis.Redis.from_url(redis_url)
        started = (legacy.created_at - timedelta(minutes=5)).replace(tzinfo=None).isoformat()
        client.set(
            f"closure_state:{account.account_id}",
            json.dumps({"user_id": f"user-{account.account_id[:8]}", "account_id": account.account_id,
                        "ach_relationship_id": account.relationship_id, "confirmation_number": "CLA-OLD00-SYSTM",
                        "phase": "withdrawal_24hr_wait", "initiated_at": started, "updated_at": started}),
        )  # fmt: skip
        client.set(
            f"withdrawal_state:{account.account_id}",
            json.dumps({"phase": "withdrawal", "daily_limit": 50000.0, "started_at": started,
                        "transfers_completed": [{"amount": 50000.0, "transfer_id": str(legacy.id),
                                                 "initiated_at": legacy.created_at.isoformat(), "status": "pending"}],
                        "next_transfer_date": None, "waiting_for_next_transfer": True}),
        )  # fmt: skip

        dry = await asyncio.to_thread(lab.cli, "--json", "import-legacy", "--dry-run")
        [plan] = json.loads(dry.stdout)
        assert plan["action"] == "would import"
        assert "owning 1 earlier transfer(s): $50,000.00" in plan["detail"]
        assert await _no_workflow(lab, account)
        done = await asyncio.to_thread(lab.cli, "--json", "import-legacy")
        assert json.loads(done.stdout)[0]["action"] == "imported"
        progress = await _finish(lab, account)

        assert progress.phase == ClosurePhase.COMPLETED
        assert progress.confirmation_number == "CLA-OLD00-SYSTM"
        assert progress.transfers[0].transfer_id == str(legacy.id)
        assert amounts(lab, account.account_id) == [
            Decimal("50000.00"),
            Decimal("50000.00"),
            Decimal("20000.00"),
        ]
        _spaced_24h(transfer_times(lab, account.account_id))
        lab.assert_invariants(account.account_id, progress)
        again = await asyncio.to_thread(lab.cli, "--json", "import-legacy")
        assert json.loads(again.stdout) == [], "the mirror replaced the legacy keys: nothing left to import"
        trail = lab.records.audit_of(account.account_id)
        assert [(e.action, e.outcome) for e in trail] == [
            ("import-legacy", AuditOutcome.DRY_RUN),
            ("import-legacy", AuditOutcome.DONE),
        ]


async def _no_workflow(lab: ClosureLab, account: SeededAccount) -> bool:
    result = await asyncio.to_thread(lab.cli, "--json", "status", account.account_id)
    return result.exit_code == 1 and "no closure" in result.stdout

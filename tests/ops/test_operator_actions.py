"""An operator's dry run and the real action agree, because the workflow's own rule judges both; a refusal
reaches the operator as one line, from the CLI and from the admin API alike."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from closure.operators import AuditOutcome
from closure.phases import ClosurePhase
from closure.progress import CancelRequest, ClosureProgress
from runtime.settings import ApiSettings
from simulator.server import SimulatorServer
from tests.conftest import time_skipping_server
from tests.support import ClosureLab, closure_lab, ny


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A server of their own: a test that pauses time skipping by hand must not leave the shared one paused."""
    async with time_skipping_server() as environment:
        yield environment


TRANSFERS = "POST /v1/accounts/{account_id}/transfers"
ADMIN = "operator-token"
MONEY_MOVING = "transfer 1 of $30,000.00 is being sent to the bank"
OTTO = "otto@firm.example"


async def test_dry_run_and_real_cancel_agree_while_the_first_transfer_is_being_sent(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    # The create hangs at the broker for a while: the chunk is pending, nothing is withdrawn yet, and money
    # may already be moving. Cancelling now could strand a transfer the broker goes on to make.
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0), request_timeout=30) as lab:
        account = lab.broker.funded_account(Decimal("30000.00"))
        lab.broker.faults([{"route": TRANSFERS, "kind": "latency", "count": 1, "latency_seconds": 20}])
        lab.follow_temporal()
        started = await lab.start(account)
        sending = await _while_the_create_hangs(lab, started.handle)
        assert sending.amount_withdrawn == Decimal("0")
        account_id = account.account_id

        cancel = ("cancel", account_id, "--reason", "asked", "--operator", OTTO)
        dry = await asyncio.to_thread(lab.cli, *cancel, "--dry-run")
        real = await asyncio.to_thread(lab.cli, *cancel)
        for result in (dry, real):
            assert result.exit_code == 1, result.output
            assert result.exception is None or isinstance(result.exception, SystemExit)
            assert "Traceback" not in result.output
            assert MONEY_MOVING in " ".join(result.output.split())

        settings = lab.settings.model_copy(update={"api": ApiSettings(admin_token=SecretStr(ADMIN))})
        app = create_app(settings, temporal=lab.env.client)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api",
            headers={"Authorization": f"Bearer {ADMIN}"},
        ) as admin:
            path = f"/api/admin/closures/{account_id}/cancel"
            answers = [
                await admin.post(path, json={"operator": "ops@example.com", "dry_run": dry_run})
                for dry_run in (True, False)
            ]
            trail = (await admin.get(f"/api/admin/closures/{account_id}/audit")).json()["entries"]
        for answer in answers:
            assert answer.status_code == 409, answer.text
            assert answer.json()["code"] == "OperatorActionRefused"
            assert MONEY_MOVING in answer.json()["message"]

        # Every attempt is on the record, the refused ones and the dry runs too, through either door.
        assert [(e["actor"], e["via"], e["dry_run"], e["outcome"]) for e in trail] == [
            (OTTO, "cli", True, "refused"),
            (OTTO, "cli", False, "refused"),
            ("automation for ops@example.com", "api:automation", True, "refused"),
            ("automation for ops@example.com", "api:automation", False, "refused"),
        ]
        assert all(e["action"] == "cancel" and MONEY_MOVING in e["detail"] for e in trail)
        assert {e["actor_id"] for e in trail} == {f"cli:{getpass.getuser()}", "automation"}
        cli_trail = await asyncio.to_thread(lab.cli, "--json", "audit", account_id)
        assert [e["outcome"] for e in json.loads(cli_trail.output)] == ["refused"] * 4
        assert lab.broker.control("GET", "/faults")["rules"][0]["hits"] == 1, "the slow create happened"
        progress = await lab.finish(started)
        assert progress.phase == ClosurePhase.COMPLETED  # the refused cancels changed nothing
        lab.assert_invariants(account_id, progress)


async def _while_the_create_hangs(lab: ClosureLab, handle: WorkflowHandle[Any, Any]) -> ClosureProgress:
    """Polled in real time: skipping time here would let the slow create finish before anyone looks."""
    for _ in range(100):
        progress = await lab.progress(handle)
        if progress.step.startswith("Sending transfer 1") and progress.transfers == []:
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"the closure never began sending; it is {progress.phase}: {progress.step}")


async def test_a_cancel_the_closure_accepts_is_a_would_cancel_then_done(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 7, 9, 45)) as lab:
        account = lab.broker.funded_account(Decimal("20000.00"))
        lab.broker.buy(account, "IWM", Decimal("12"))
        lab.broker.advance((ny(2025, 2, 7, 19, 0) - lab.broker.now()).total_seconds())  # Friday evening
        lab.follow_temporal()
        started = await lab.start(account)
        await lab.until(
            started.handle, lambda p: "Market closed" in p.step, step=lab.policy.liquidation_poll_interval
        )

        dry = await asyncio.to_thread(lab.cli, "--json", "cancel", account.account_id, "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert '"would cancel"' in dry.output
        real = await asyncio.to_thread(
            lab.cli, "--json", "cancel", account.account_id, "--reason", "asked", "--operator", OTTO
        )
        assert real.exit_code == 0, real.output
        assert '"cancelled"' in real.output
        assert (await lab.progress(started.handle)).phase == ClosurePhase.CANCELLED

        trail = lab.records.audit_of(account.account_id)
        assert [(e.action, e.dry_run, e.outcome, e.reason) for e in trail] == [
            ("cancel", True, AuditOutcome.DRY_RUN, "cancelled by an operator"),
            ("cancel", False, AuditOutcome.DONE, "asked"),
        ]
        assert trail[1].actor == OTTO
        assert trail[0].actor, "without --operator the login name acts"
        # The update's own input names the operator and the reason: what the Temporal UI shows.
        inputs = [
            event.workflow_execution_update_accepted_event_attributes.accepted_request.input.args
            async for event in started.handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
        [sealed] = inputs
        [request] = await lab.env.client.data_converter.decode(sealed.payloads, [CancelRequest])
        assert request == CancelRequest(requested_by=OTTO, reason="asked")


async def test_a_retry_from_the_cli_is_recorded_with_its_note(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("30000.00"))
        rejected = {"status": "REJECTED", "nth": 1, "when": "QUEUED", "account_id": account.account_id}
        lab.broker.faults([], [{**rejected, "reason": "R01 insufficient"}])
        lab.follow_temporal()
        started = await lab.start(account)
        await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)

        retry = ("--json", "retry", account.account_id, "--note", "bank fixed", "--operator", OTTO)
        dry = await asyncio.to_thread(lab.cli, *retry, "--dry-run")
        assert '"would retry"' in dry.output, dry.output
        done = await asyncio.to_thread(lab.cli, *retry)
        assert '"retried"' in done.output, done.output
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        trail = lab.records.audit_of(account.account_id)
        assert [(e.actor, e.action, e.dry_run, e.outcome, e.reason) for e in trail] == [
            (OTTO, "retry", True, AuditOutcome.DRY_RUN, "bank fixed"),
            (OTTO, "retry", False, AuditOutcome.DONE, "bank fixed"),
        ]
        lab.assert_invariants(account.account_id, progress)

"""`closure find-stuck` finds each kind of stuck closure, on the real dev server."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
from temporalio.testing import WorkflowEnvironment

from adapters.email.senders import slug
from adapters.records import pending_closure
from closure.phases import ClosurePhase
from simulator.server import SimulatorServer
from tests.ops.broken_closure import BrokenClosureWorkflow
from tests.support import ClosureLab, closure_lab, ny
from worker import build_worker
from workflows.client import start_closure


async def test_find_stuck_finds_every_kind(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, redis_url: str
) -> None:
    async with closure_lab(dev_env, sim, executor, seed_at=ny(2025, 5, 9, 9, 45), redis_url=redis_url) as lab:
        # 1. pending_closure in the user records, but no workflow (the legacy process died)
        orphan = lab.broker.funded_account(Decimal("1000.00"), given_name="Orphan")
        lab.register_customer(orphan)
        lab.records.apply(orphan.account_id, pending_closure(datetime.now(UTC)))
        # 2. a closure waiting for an operator (no approved bank)
        parked = lab.broker.funded_account(Decimal("1000.00"), given_name="Parked")
        assert parked.relationship_id
        lab.broker.broker.delete_ach_relationship_for_account(parked.account_id, parked.relationship_id)
        # 3. legacy Redis state with no workflow
        legacy = lab.broker.funded_account(Decimal("1000.00"), given_name="Legacy")
        client = redis.Redis.from_url(redis_url)
        client.set(
            f"closure_state:{legacy.account_id}",
            json.dumps({"user_id": "u-legacy", "account_id": legacy.account_id, "phase": "withdrawal",
                        "confirmation_number": "CLA-LEGAC-Y0001", "initiated_at": "2025-05-08T14:00:00"}),
        )  # fmt: skip
        # 4. a closure whose broker state disagrees: an operator closed the account by hand at the broker
        manual = lab.broker.funded_account(Decimal("1000.00"), given_name="Manual")
        lab.broker.buy(manual, "DIA", Decimal("1"))
        lab.broker.advance((ny(2025, 5, 9, 19, 0) - lab.broker.now()).total_seconds())  # Friday evening
        lab.broker.run_clock(1.0)
        waiting = await lab.start(manual)
        stranded = await lab.start(parked)
        await lab.until(stranded.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION, step=_short())
        await lab.until(waiting.handle, lambda p: "Market closed" in p.step, step=_short())
        lab.broker.control("PATCH", f"/accounts/{manual.account_id}", {"status": "ACCOUNT_CLOSED"})
        ours = {orphan.account_id, parked.account_id, legacy.account_id, manual.account_id}
        for _ in range(40):  # visibility is eventually consistent
            result = await asyncio.to_thread(lab.cli, "--json", "find-stuck")
            reported = [
                s for s in json.loads(result.stdout) if s["account_id"] in ours
            ]  # others' tests run here too
            found = {(s["kind"], s["account_id"]) for s in reported}
            if len(found) >= 4:
                break
            await asyncio.sleep(0.25)

        assert result.exit_code == 0, result.stdout
        assert found == {
            ("pending_without_workflow", orphan.account_id),
            ("needs_attention", parked.account_id),
            ("legacy_without_workflow", legacy.account_id),
            ("broker_disagrees", manual.account_id),
        }
        details = {s["kind"]: s["detail"] for s in reported}
        assert "no APPROVED ACH relationship" in details["needs_attention"]
        assert "ACCOUNT_CLOSED" in details["broker_disagrees"]
        human = await asyncio.to_thread(lab.cli, "find-stuck")
        assert orphan.account_id in human.stdout
        assert "pending_without_workflow" in human.stdout


def _short() -> timedelta:
    return timedelta(seconds=1)


async def test_a_closure_whose_workflow_task_keeps_failing_is_found_and_alerted_within_minutes(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(dev_env, sim, executor, seed_at=ny(2025, 5, 12, 9, 45)) as lab:
        account = lab.broker.funded_account(Decimal("1000.00"), given_name="Broken")
        user = lab.register_customer(account)
        broken_queue = f"{lab.task_queue}-broken"
        began = time.monotonic()
        worker = build_worker(
            dev_env.client, lab.settings, executor, task_queue=broken_queue, workflows=[BrokenClosureWorkflow]
        )
        async with worker:
            lab.started.append(
                await start_closure(
                    dev_env.client,
                    account.account_id,
                    task_queue=broken_queue,
                    policy=lab.policy,
                    user_id=user.user_id,
                )
            )
            failing = await _until_found(lab, account.account_id, "workflow_task_failing", began)
            found_after = time.monotonic() - began
            alert = await _ops_email(lab, "workflow_task_failing")

        assert failing is not None, "find-stuck never listed the closure whose tasks fail"
        assert "RuntimeError" in failing["detail"]
        assert "a bug in the deployed workflow code" in failing["detail"]
        assert found_after < 120, f"found after {found_after:.0f} s"
        text = (lab.settings.email.outbox_dir / f"{slug(alert['message_key'])}.txt").read_text()
        assert account.account_id in text
        assert "a bug in the deployed workflow code" in text


async def _until_found(lab: ClosureLab, account_id: str, kind: str, began: float) -> dict[str, str] | None:
    while time.monotonic() - began < 180:
        result = await asyncio.to_thread(lab.cli, "--json", "find-stuck")
        assert result.exit_code == 0, result.stdout
        for finding in json.loads(result.stdout):
            if finding["account_id"] == account_id and finding["kind"] == kind:
                return dict(finding)
        await asyncio.sleep(1)
    return None


async def _ops_email(lab: ClosureLab, alert: str) -> dict[str, Any]:
    for _ in range(40):
        found = [a for a in lab.outbox() if alert in a["message_key"]]
        if found:
            [one] = found
            return one
        await asyncio.sleep(0.5)
    raise AssertionError(f"no {alert} ops email in the outbox")

"""A user-records outage outlasting the retry budget is retried by the closure itself, like a broker outage."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from simulator.server import SimulatorServer
from tests.support import closure_lab, ny
from workflows.client import start_closure


async def test_records_outage_longer_than_the_budget_is_retried_without_an_operator(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    policy = ClosurePolicy(broker_retry_budget=timedelta(minutes=10), attention_auto_retry=timedelta(hours=1))
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0), policy=policy) as lab:
        account = lab.broker.funded_account(Decimal("30000.00"))
        user = lab.register_customer(account)
        database = lab.settings.records.sqlite_path
        saved = database.with_suffix(".saved")
        database.rename(saved)
        database.mkdir()  # the database cannot be opened: every records call fails as unreachable
        lab.follow_temporal()
        started = await start_closure(
            lab.env.client, account.account_id, task_queue=lab.task_queue, policy=policy, user_id=user.user_id
        )
        lab.started.append(started)

        parked = await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)
        assert parked.attention is not None
        assert parked.attention.error_type == "UserRecordsUnavailable"
        assert parked.attention.auto_retry_at is not None, "an infrastructure outage must retry by itself"
        assert parked.attention.auto_retry_at - parked.attention.since == policy.attention_auto_retry

        database.rmdir()
        shutil.move(saved, database)
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        assert [h.phase for h in progress.history].count(ClosurePhase.NEEDS_ATTENTION) == 1
        record = lab.records.by_account(account.account_id)
        assert record is not None
        assert record.status == "closed"
        lab.assert_invariants(account.account_id, progress)

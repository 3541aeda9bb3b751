"""The reconciliation sweep: the stuck-finder on a Temporal Schedule, alerting ops once per finding.

It replaces the legacy hourly cron. Each run finds what `find-stuck` finds and alerts ops for what the
previous run had not found (Temporal hands a scheduled run the last completed run's result), so a finding
that persists stays quiet. The alert's message key is the finding itself (kind, account, detail), and the
email ledger sends a key once: a retried run, or the same finding found again later, never alerts twice; a
finding whose detail changes (another amount, another status) is a new one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.emails import EmailActivities
    from closure.confirmation import workflow_id_for
    from closure.email_facts import OpsAlertFacts, OpsEmail
    from ops.operations import Operations
    from ops.stuck import StuckClosure, StuckKind, find_stuck

SWEEP_WORKFLOW_ID = "reconciliation-sweep"

WHAT_TO_DO: dict[StuckKind, list[str]] = {
    "pending_without_workflow": ["Start or resume the closure: `closure resume ACCOUNT`."],
    "needs_attention": [
        "Read the reason with `closure status ACCOUNT`, fix it, then `closure retry ACCOUNT`."
    ],
    "legacy_without_workflow": ["Import it: `closure import-legacy ACCOUNT`."],
    "broker_disagrees": ["Compare `closure status ACCOUNT` with the broker; wake the closure or retry it."],
    "money_after_close": [
        "Money reached the closed account: find its source (a return, a dividend) and send it to the customer "
        "by hand, outside the closure."
    ],
    "workflow_task_failing": [
        "A code or history problem: see the runbook's section on failing workflow tasks."
    ],
    "check_failed": ["The sweep could not check this closure; look at it with `closure status ACCOUNT`."],
}


class SweepInput(BaseModel):
    """No options yet: the model keeps the workflow's signature stable as some are added."""


class Finding(BaseModel):
    key: str
    kind: StuckKind
    account_id: str
    detail: str

    @classmethod
    def of(cls, stuck: StuckClosure) -> Finding:
        digest = hashlib.sha256(f"{stuck.kind}|{stuck.account_id}|{stuck.detail}".encode()).hexdigest()[:16]
        return cls(key=f"sweep:{stuck.kind}:{stuck.account_id}:{digest}", **stuck.model_dump())


class SweepResult(BaseModel):
    findings: list[Finding] = Field(default_factory=list)
    alerted: list[str] = Field(default_factory=list, description="Keys alerted by this run.")


class SweepActivities:
    def __init__(self, ops: Operations) -> None:
        self._ops = ops

    @activity.defn(name="sweep.find_stuck")
    async def find_stuck(self) -> list[Finding]:
        return [Finding.of(s) for s in await find_stuck(self._ops)]


def alert_for(finding: Finding, now: datetime) -> OpsEmail:
    facts = OpsAlertFacts(
        account_id=finding.account_id,
        workflow_id=workflow_id_for(finding.account_id),
        confirmation_number="-",
        phase="sweep",
        alert=finding.kind,
        reason=finding.detail,
        since=now,
        what_to_do=WHAT_TO_DO[finding.kind],
    )
    return OpsEmail(message_key=finding.key, facts=facts)


@workflow.defn(name="ReconciliationSweep")
class ReconciliationSweep:
    @workflow.run
    async def run(self, request: SweepInput) -> SweepResult:
        found: list[Finding] = await workflow.execute_activity_method(
            SweepActivities.find_stuck,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        before = (
            workflow.get_last_completion_result(SweepResult)
            if workflow.has_last_completion_result()
            else None
        )
        known = {f.key for f in before.findings} if before else set()
        alerted = []
        for finding in (f for f in found if f.key not in known):
            sent = await workflow.execute_activity_method(
                EmailActivities.send_ops_alert,
                alert_for(finding, workflow.now().astimezone(UTC)),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
            if sent.status != "duplicate":  # the email ledger had it: alerted by an earlier sweep
                alerted.append(finding.key)
        return SweepResult(findings=found, alerted=alerted)

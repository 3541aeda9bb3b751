"""What an ops alert email says: the facts of the closure and what an operator can do about it."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from closure.confirmation import WORKFLOW_ID_PREFIX
    from closure.email_facts import OpsAlertFacts, OpsEmail
    from closure.progress import ClosureProgress, OpsAlert
    from runtime.task_failures import TaskFailure


def _what_to_do(progress: ClosureProgress, alert: OpsAlert) -> list[str]:
    wid = progress.workflow_id
    if alert.kind == "needs_attention":
        return [
            "Read the reason above and fix its cause at the broker or with the customer.",
            f"Then retry: temporal workflow update execute --workflow-id {wid} --name retry "
            """--input '{"operator": "<you>"}'""",
            "Or, if no money has moved yet, cancel with the `cancel` update (it refuses once money has moved).",
            "Nothing is lost while the closure waits; a transient cause is retried on its own.",
        ]
    if alert.kind == "settlement_slow":
        return [
            "Ask the broker why the sale proceeds have not settled.",
            "No action is needed if settlement is merely slow: the closure keeps waiting and continues by itself.",
        ]
    return [
        f"Check the workflow in the Temporal UI: {wid}.",
        "The closure itself carries on; this alert is about a side effect (email, user record or mirror).",
    ]


def task_failure_email(failure: TaskFailure, at: datetime) -> OpsEmail:
    """Sent by the worker, not the workflow: a workflow whose tasks fail cannot send anything itself."""
    wid = failure.workflow_id
    return OpsEmail(
        message_key=f"{wid}:email:ops_alert:workflow_task_failing:{failure.run_id}",
        facts=OpsAlertFacts(
            account_id=wid.removeprefix(WORKFLOW_ID_PREFIX),
            workflow_id=wid,
            confirmation_number="(unknown: the closure cannot run)",
            phase="unknown",
            alert="workflow_task_failing",
            reason=f"its workflow task failed {failure.failures} times: {failure.error}",
            since=at,
            what_to_do=[
                "The closure cannot move, alert or reach needs_attention until this is fixed: nothing is lost, "
                "it resumes where it stopped once its code runs again.",
                f"Read the failure: temporal workflow describe --workflow-id {wid} (and `closure find-stuck`).",
                "Fix and deploy the worker (behind workflow.patched() if it changes commands), or reset the "
                "workflow to an earlier task if its state is wrong.",
            ],
        ),
    )


def ops_email(progress: ClosureProgress, alert: OpsAlert, number: int) -> OpsEmail:
    return OpsEmail(
        message_key=f"{progress.workflow_id}:email:ops_alert:{number}",
        facts=OpsAlertFacts(
            account_id=progress.account_id,
            workflow_id=progress.workflow_id,
            confirmation_number=progress.confirmation_number,
            phase=(progress.attention.resume_phase if progress.attention else progress.phase).value,
            alert=alert.kind,
            reason=alert.message,
            since=alert.at,
            what_to_do=_what_to_do(progress, alert),
        ),
    )

"""Every operator action leaves a trace in three places: the workflow update's own input (who and why, in the
Temporal UI), a structured log line, and an append-only row in `closure_audit` beside the user records.

The CLI and the admin API both act through `Operations`, which runs each action through `audited`; there is
no path to retry, cancel, resume or import that skips it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime

from adapters.records import AuditTrail
from closure.operators import Actor, AuditEntry, AuditOutcome
from ops.actions import Action, ClosureUnreachable, OperationRefused

log = logging.getLogger("account_closure.audit")


async def audited(
    trail: AuditTrail,
    actor: Actor,
    action: str,
    account_id: str,
    reason: str,
    dry_run: bool,
    work: Awaitable[Action],
) -> Action:
    """Carry out `work` and record how it ended, refusals and failures included (then re-raised)."""
    try:
        done = await work
    except ClosureUnreachable as exc:
        await record(trail, actor, action, account_id, dry_run, reason, AuditOutcome.FAILED, str(exc))
        raise
    except OperationRefused as exc:
        await record(trail, actor, action, account_id, dry_run, reason, AuditOutcome.REFUSED, str(exc))
        raise
    except Exception as exc:
        await record(
            trail, actor, action, account_id, dry_run, reason, AuditOutcome.FAILED, type(exc).__name__
        )
        raise
    await record(trail, actor, action, account_id, dry_run, reason, outcome_of(done, dry_run), done.detail)
    return done


def outcome_of(done: Action, dry_run: bool) -> AuditOutcome:
    if done.done:
        return AuditOutcome.DONE
    return AuditOutcome.DRY_RUN if dry_run else AuditOutcome.NOTHING_TO_DO


async def record(
    trail: AuditTrail,
    actor: Actor,
    action: str,
    account_id: str,
    dry_run: bool,
    reason: str,
    outcome: AuditOutcome,
    detail: str,
) -> AuditEntry:
    entry = AuditEntry.of(datetime.now(UTC), account_id, actor, action, dry_run, reason, outcome, detail)
    fields = {f"audit_{key}": value for key, value in entry.model_dump(mode="json").items()}
    log.info("operator %s %s %s: %s", actor.name, action, account_id, outcome.value, extra=fields)
    try:
        await asyncio.to_thread(trail.append_audit, entry)
    except Exception as exc:
        # The action has happened and cannot be undone for want of a row; the log line above keeps it, and
        # this one says the table is missing it, for whoever reconciles the two.
        log.error("audit entry not written (%s): %s", type(exc).__name__, exc, extra=fields)
    return entry

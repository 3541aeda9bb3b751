"""How an operator action ends is recorded, whatever the ending, in the trail and in a structured log line."""

from __future__ import annotations

import logging

import pytest

from closure.errors import UserRecordsUnavailable
from closure.operators import Actor, AuditEntry, AuditOutcome, OperatorRole
from ops.actions import Action, ClosureNotFound, ClosureUnreachable
from ops.audit import audited

VERA = Actor(name="vera@firm.example", subject="user-vera", role=OperatorRole.OPERATOR, via="api")


class Trail:
    def __init__(self, broken: bool = False) -> None:
        self.entries: list[AuditEntry] = []
        self.broken = broken

    def append_audit(self, entry: AuditEntry) -> None:
        if self.broken:
            raise UserRecordsUnavailable("closure_audit: Supabase unreachable (ConnectError)")
        self.entries.append(entry)

    def audit_of(self, account_id: str) -> list[AuditEntry]:
        return [e for e in self.entries if e.account_id == account_id]


async def _done() -> Action:
    return Action(account_id="acct-1", action="retried", detail="now withdrawal", done=True)


async def _refused() -> Action:
    raise ClosureNotFound("no closure for account acct-1")


async def _unreachable() -> Action:
    raise ClosureUnreachable("closure acct-1 did not answer (UNAVAILABLE): is a worker up?")


async def test_a_done_action_is_recorded_with_who_what_and_why(caplog: pytest.LogCaptureFixture) -> None:
    trail = Trail()
    with caplog.at_level(logging.INFO, logger="account_closure.audit"):
        await audited(trail, VERA, "retry", "acct-1", "bank fixed", False, _done())
    [entry] = trail.entries
    assert (entry.actor, entry.via, entry.action, entry.reason, entry.outcome) == (
        "vera@firm.example",
        "api",
        "retry",
        "bank fixed",
        AuditOutcome.DONE,
    )
    [line] = caplog.records
    assert line.__dict__["audit_actor"] == "vera@firm.example"
    assert line.__dict__["audit_actor_id"] == "user-vera"
    assert line.__dict__["audit_outcome"] == "done"
    assert line.__dict__["audit_account_id"] == "acct-1"


@pytest.mark.parametrize(
    ("work", "outcome", "error"),
    [
        (_refused, AuditOutcome.REFUSED, ClosureNotFound),
        (_unreachable, AuditOutcome.FAILED, ClosureUnreachable),
    ],
)
async def test_a_refused_or_failed_action_is_recorded_and_still_raised(
    work: object, outcome: AuditOutcome, error: type[Exception]
) -> None:
    trail = Trail()
    with pytest.raises(error):
        await audited(trail, VERA, "cancel", "acct-1", "asked", True, work())  # type: ignore[operator]
    [entry] = trail.entries
    assert (entry.outcome, entry.dry_run) == (outcome, True)
    assert "acct-1" in entry.detail


async def test_an_unwritable_trail_loses_the_row_not_the_action_or_the_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="account_closure.audit"):
        done = await audited(Trail(broken=True), VERA, "retry", "acct-1", "", False, _done())
    assert done.done
    error = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error, "the missing row is itself reported"
    assert error[0].__dict__["audit_actor"] == "vera@firm.example"

"""Who operates closures, what each role may do, and the audit entry every operator action leaves.

Operators are people: each acts under their own name, from a Supabase operator token at the API or from the
CLI (whose users already hold Temporal credentials). The shared automation token remains for jobs and is
recorded as `automation`. The role decides what a credential may do, here and nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field


class OperatorRole(StrEnum):
    VIEWER = "viewer"  # may look: list closures, read one, read its audit trail
    OPERATOR = "operator"  # may also act: retry, cancel, resume, import


class Capability(StrEnum):
    VIEW = "view"
    ACT = "act"


GRANTS: dict[OperatorRole, frozenset[Capability]] = {
    OperatorRole.VIEWER: frozenset({Capability.VIEW}),
    OperatorRole.OPERATOR: frozenset({Capability.VIEW, Capability.ACT}),
}


class Actor(BaseModel):
    """Who is acting, with what role, through which door (`api`, `api:automation`, `cli`).

    `name` is for people (an email, as the sign-in has it); `subject` is the stable id beside it (the Supabase
    user id, `automation`, `cli:<login>`), which the logs keep whole where they mask the email.
    """

    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=200)
    role: OperatorRole
    via: str

    def may(self, capability: Capability) -> bool:
        return capability in GRANTS[self.role]


AUTOMATION = "automation"


class AuditOutcome(StrEnum):
    DONE = "done"
    DRY_RUN = "dry_run"  # looked at what would happen; nothing changed
    NOTHING_TO_DO = "nothing_to_do"
    REFUSED = "refused"  # the closure, or the operator rules, said no
    FAILED = "failed"  # could not be carried out (Temporal or a worker out of reach)


class AuditEntry(BaseModel):
    """One operator action: who, when, what, on which closure, why, and how it ended. Append-only."""

    at: AwareDatetime
    account_id: str
    actor: str
    actor_id: str
    role: OperatorRole
    via: str
    action: str
    dry_run: bool = False
    reason: str = ""
    outcome: AuditOutcome
    detail: str = ""

    @classmethod
    def of(
        cls,
        at: datetime,
        account_id: str,
        actor: Actor,
        action: str,
        dry_run: bool,
        reason: str,
        outcome: AuditOutcome,
        detail: str,
    ) -> AuditEntry:
        return cls(
            at=at,
            account_id=account_id,
            actor=actor.name,
            actor_id=actor.subject,
            role=actor.role,
            via=actor.via,
            action=action,
            dry_run=dry_run,
            reason=reason,
            outcome=outcome,
            detail=detail[:1000],
        )

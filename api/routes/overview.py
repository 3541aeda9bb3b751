"""The operations dashboard's first screen: closures per phase, and the queue waiting for an operator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter
from temporalio.client import Client
from temporalio.service import RPCError

from api.closures import ClosureDesk, temporal_unavailable
from api.deps import DeskDep, Viewer
from api.errors import ApiError, problem
from api.models import ClosureOverview, ProgressPublic, WaitingClosure
from closure.phases import ClosurePhase
from workflows.client import ClosureSummary, closure_query, list_closures

router = APIRouter(prefix="/api/admin", tags=["operators"], responses={429: problem("Too many requests")})
QUEUE_LIMIT = 200


@router.get(
    "/overview",
    response_model=ClosureOverview,
    responses={
        401: problem("No, or an invalid, credential"),
        403: problem("Not an operator"),
        503: problem("Temporal is unreachable"),
    },
)
async def overview(_: Viewer, desk: DeskDep) -> ClosureOverview:
    client = await desk.connected()
    try:
        counts, waiting = await asyncio.gather(_counts(client), _queue(client, desk))
    except RPCError as exc:
        raise temporal_unavailable(exc) from exc
    return ClosureOverview(counts=counts, needs_attention=waiting)


async def _counts(client: Client) -> dict[str, int]:
    phases = list(ClosurePhase)
    found = await asyncio.gather(*(client.count_workflows(closure_query(phase)) for phase in phases))
    return {phase.value: count.count for phase, count in zip(phases, found, strict=True)}


async def _queue(client: Client, desk: ClosureDesk) -> list[WaitingClosure]:
    """Each waiting closure with its reason (from its progress: the mirror, or the workflow itself)."""
    listed = await list_closures(client, closure_query(ClosurePhase.NEEDS_ATTENTION), limit=QUEUE_LIMIT)
    now = datetime.now(UTC)
    waiting = []
    found = await asyncio.gather(*(_progress_of(desk, c) for c in listed if c.account_id))
    for summary, progress in found:
        if progress is None:  # no answer (no worker polls its queue): listed all the same, with why
            waiting.append(_unanswered(summary, now))
            continue
        if progress.attention is None:
            continue  # resumed since it was listed
        attention = progress.attention
        waiting.append(
            WaitingClosure(
                account_id=progress.account_id,
                confirmation_number=progress.confirmation_number,
                reason=attention.reason,
                error_type=attention.error_type,
                since=attention.since,
                waited_seconds=max(0.0, (now - attention.since).total_seconds()),
                auto_retry_at=attention.auto_retry_at,
            )
        )
    return sorted(waiting, key=lambda w: w.since)


async def _progress_of(
    desk: ClosureDesk, summary: ClosureSummary
) -> tuple[ClosureSummary, ProgressPublic | None]:
    try:
        return summary, await desk.progress(str(summary.account_id))
    except ApiError:
        return summary, None


def _unanswered(summary: ClosureSummary, now: datetime) -> WaitingClosure:
    since = summary.started_at or now
    return WaitingClosure(
        account_id=str(summary.account_id),
        confirmation_number="",
        reason="its progress could not be read: no worker answered the query (see closure find-stuck)",
        error_type="Unknown",
        since=since,
        waited_seconds=max(0.0, (now - since).total_seconds()),
        auto_retry_at=None,
    )

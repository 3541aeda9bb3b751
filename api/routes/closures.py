"""The customer's routes: initiate, progress (and its live stream), and the current user's closure."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

import redis
from fastapi import APIRouter, Path, Query, status
from fastapi.responses import StreamingResponse

from adapters.redis.progress_feed import ProgressFeed
from api.closures import ClosureDesk
from api.deps import CurrentUser, DeskDep, FeedDep
from api.errors import BROKER_READ, Responses, not_found, problem
from api.models import (
    AccountClosurePublic,
    ClosureDataPublic,
    ClosurePreviewPublic,
    ClosureStartedPublic,
    CustomerStatusPublic,
    ProgressPublic,
)
from closure.customer_view import customer_status

log = logging.getLogger("account_closure.api")
router = APIRouter(
    prefix="/api/account-closure",
    tags=["account closure"],
    responses={
        429: problem("Too many requests"),
        400: problem("Malformed request"),
        422: problem("Invalid request or precondition"),
    },
)
AccountId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$", description="The Alpaca account id")
REFUSALS: Responses = {
    401: problem("No, or an invalid, access token"),
    404: problem("No such account for this user"),
}


@router.post(
    "/initiate/{account_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ClosureStartedPublic,
    responses={
        **REFUSALS,
        409: problem("Already closed"),
        422: problem("A precondition failed (not ACTIVE, blocked, no approved bank)"),
        429: problem("Too many initiations"),
        503: problem("The broker or Temporal is unreachable"),
    },
)
async def initiate(user: CurrentUser, desk: DeskDep, account_id: str = AccountId) -> ClosureStartedPublic:
    """Start closing the account, or return the closure already under way (same confirmation number)."""
    return await desk.initiate(user, account_id)


@router.get("/progress/{account_id}", response_model=ProgressPublic, responses=REFUSALS)
async def progress(user: CurrentUser, desk: DeskDep, account_id: str = AccountId) -> ProgressPublic:
    await desk.owns(user, account_id)
    found = await desk.progress(account_id)
    if found is None:
        raise not_found(account_id)
    return found


@router.get("/status/{account_id}", response_model=CustomerStatusPublic, responses=REFUSALS)
async def customer_status_of(
    user: CurrentUser, desk: DeskDep, account_id: str = AccountId
) -> CustomerStatusPublic:
    """The closure in the customer's words: steps, money sent, each transfer and when it should arrive."""
    await desk.owns(user, account_id)
    found = await desk.progress(account_id)
    if found is None:
        raise not_found(account_id)
    return _customer(found)


@router.get(
    "/preview/{account_id}",
    response_model=ClosurePreviewPublic,
    responses={**REFUSALS, **BROKER_READ},
)
async def preview(user: CurrentUser, desk: DeskDep, account_id: str = AccountId) -> ClosurePreviewPublic:
    """What closing would do now (what is sold, what is sent where, the estimate), before anything starts."""
    return await desk.preview(user, account_id)


def _customer(progress: ProgressPublic) -> CustomerStatusPublic:
    return CustomerStatusPublic(**customer_status(progress, datetime.now(UTC)).model_dump())


@router.get(
    "/progress/{account_id}/stream",
    response_class=StreamingResponse,
    responses={**REFUSALS, 200: {"content": {"text/event-stream": {}}, "description": "Progress events"}},
)
async def progress_stream(
    user: CurrentUser,
    desk: DeskDep,
    feed: FeedDep,
    account_id: str = AccountId,
    view: Annotated[
        Literal["progress", "customer"],
        Query(description="`customer`: each event carries the status page's view (event `status`)"),
    ] = "progress",
) -> StreamingResponse:
    """Server-Sent Events: the progress now, then every change, until the closure ends."""
    await desk.owns(user, account_id)
    first = await desk.progress(account_id)
    if first is None:
        raise not_found(account_id)
    return StreamingResponse(
        _events(desk, feed, account_id, first, _event if view == "progress" else _status_event),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


HEARTBEAT = ": heartbeat\n\n"
Sighting = ProgressPublic | str  # a progress seen, or a line that only keeps the connection alive


async def _events(
    desk: ClosureDesk,
    feed: ProgressFeed | None,
    account_id: str,
    first: ProgressPublic,
    event: Callable[[ProgressPublic], str],
) -> AsyncIterator[str]:
    """The progress now, then each newer one, until the closure ends; every change is sent once."""
    last = first.sequence
    yield event(first)
    if first.phase.is_terminal:
        return
    async for seen in _sightings(desk, feed, account_id):
        if isinstance(seen, str):
            yield seen
            continue
        if seen.sequence > last:
            last = seen.sequence
            yield event(seen)
        if seen.phase.is_terminal:
            return


async def _sightings(
    desk: ClosureDesk, feed: ProgressFeed | None, account_id: str
) -> AsyncIterator[Sighting]:
    heartbeat = desk.settings.api.stream_heartbeat.total_seconds()
    if feed is not None:
        try:
            async with feed.follow(account_id) as queue:
                async for seen in _fed(desk, queue, account_id, heartbeat):
                    yield seen
            return
        except (redis.RedisError, OSError) as exc:  # only subscribing raises: the feed reconnects by itself
            log.warning("progress stream polls: Redis %s", type(exc).__name__)
    async for seen in _polled(desk, account_id, heartbeat):
        yield seen


async def _fed(
    desk: ClosureDesk, queue: asyncio.Queue[bytes], account_id: str, heartbeat: float
) -> AsyncIterator[Sighting]:
    """What the feed hears; at each heartbeat the mirror is read as well, so a change published while this
    stream was subscribing, or while Redis reconnected, still arrives."""
    while True:
        try:
            data = await asyncio.wait_for(queue.get(), heartbeat)
        except TimeoutError:
            yield HEARTBEAT
            mirrored = await desk.mirrored(account_id)
            if mirrored is not None:
                yield ProgressPublic(**mirrored.model_dump(), source="mirror")
            continue
        yield ProgressPublic(**json.loads(data), source="mirror")


async def _polled(desk: ClosureDesk, account_id: str, heartbeat: float) -> AsyncIterator[Sighting]:
    """Without Redis the workflow itself is asked, now and then."""
    while True:
        await asyncio.sleep(min(heartbeat, 2.0))
        current = await desk.progress(account_id)
        if current is None:
            return
        yield current


def _event(progress: ProgressPublic) -> str:
    return f"id: {progress.sequence}\nevent: progress\ndata: {progress.model_dump_json()}\n\n"


def _status_event(progress: ProgressPublic) -> str:
    return f"id: {progress.sequence}\nevent: status\ndata: {_customer(progress).model_dump_json()}\n\n"


@router.get(
    "/data", response_model=ClosureDataPublic, responses={401: problem("No, or an invalid, access token")}
)
async def data(user: CurrentUser, desk: DeskDep) -> ClosureDataPublic:
    """The current user's accounts and, for each, its closure (or none)."""
    accounts = []
    for record in await desk.records_of(user):
        closure = await desk.progress(record.alpaca_account_id)
        accounts.append(
            AccountClosurePublic(
                account_id=record.alpaca_account_id, record_status=record.status, closure=closure
            )
        )
    return ClosureDataPublic(user_id=user, accounts=accounts)

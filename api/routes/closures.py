"""The customer's routes: initiate, progress (and its live stream), and the current user's closure."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from fastapi import APIRouter, Path, status
from fastapi.responses import StreamingResponse

from adapters.redis.keys import channel
from api.closures import ClosureDesk
from api.deps import CurrentUser, DeskDep, RedisDep
from api.errors import Responses, not_found, problem
from api.models import AccountClosurePublic, ClosureDataPublic, ClosureStartedPublic, ProgressPublic

router = APIRouter(
    prefix="/api/account-closure",
    tags=["account closure"],
    responses={400: problem("Malformed request"), 422: problem("Invalid request or precondition")},
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
    await desk.owned(user, account_id)
    found = await desk.progress(account_id)
    if found is None:
        raise not_found(account_id)
    return found


@router.get(
    "/progress/{account_id}/stream",
    response_class=StreamingResponse,
    responses={**REFUSALS, 200: {"content": {"text/event-stream": {}}, "description": "Progress events"}},
)
async def progress_stream(
    user: CurrentUser, desk: DeskDep, redis_client: RedisDep, account_id: str = AccountId
) -> StreamingResponse:
    """Server-Sent Events: the progress now, then every change, until the closure ends."""
    await desk.owned(user, account_id)
    first = await desk.progress(account_id)
    if first is None:
        raise not_found(account_id)
    return StreamingResponse(
        _events(desk, redis_client, account_id, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    desk: ClosureDesk, client: aioredis.Redis | None, account_id: str, first: ProgressPublic
) -> AsyncIterator[str]:
    heartbeat = desk.settings.api.stream_heartbeat.total_seconds()
    last = first.sequence
    yield _event(first)
    if first.phase.is_terminal:
        return
    if client is None:
        async for update in _polled(desk, account_id, last, heartbeat):
            yield update
        return
    pubsub = client.pubsub()
    await pubsub.subscribe(channel(account_id))
    try:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=heartbeat)
            if message is None:
                yield ": heartbeat\n\n"
                continue
            current = ProgressPublic(**json.loads(message["data"]), source="mirror")
            if current.sequence > last:
                last = current.sequence
                yield _event(current)
            if current.phase.is_terminal:
                return
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # back to the shared pool


async def _polled(desk: ClosureDesk, account_id: str, last: int, interval: float) -> AsyncIterator[str]:
    """Without Redis the workflow itself is asked, now and then."""
    while True:
        await asyncio.sleep(min(interval, 2.0))
        current = await desk.progress(account_id)
        if current is None:
            return
        if current.sequence > last:
            last = current.sequence
            yield _event(current)
        if current.phase.is_terminal:
            return


def _event(progress: ProgressPublic) -> str:
    return f"id: {progress.sequence}\nevent: progress\ndata: {progress.model_dump_json()}\n\n"


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

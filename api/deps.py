"""FastAPI dependencies: the settings, the closure desk, the current user, the operator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from adapters.redis.progress_feed import ProgressFeed
from api.auth import TokenVerifier, automation, unauthorized
from api.closures import ClosureDesk
from api.errors import ApiError
from api.rate_limit import Check, Throttle
from closure.operators import Actor, Capability
from ops.operations import Operations
from runtime.settings import Settings

bearer = HTTPBearer(
    auto_error=False, description="A Supabase access token (users) or the admin token (operators)"
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_desk(request: Request) -> ClosureDesk:
    desk: ClosureDesk = request.app.state.desk
    return desk


async def get_redis(request: Request) -> aioredis.Redis | None:
    """The app's one asyncio Redis client (None without REDIS_URL)."""
    client: aioredis.Redis | None = request.app.state.redis
    return client


async def get_feed(request: Request) -> ProgressFeed | None:
    """The app's one progress subscription, shared by every stream (None without REDIS_URL)."""
    feed: ProgressFeed | None = request.app.state.feed
    return feed


async def get_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.verifier
    return verifier


SettingsDep = Annotated[Settings, Depends(get_settings)]
DeskDep = Annotated[ClosureDesk, Depends(get_desk)]
RedisDep = Annotated[aioredis.Redis | None, Depends(get_redis)]
FeedDep = Annotated[ProgressFeed | None, Depends(get_feed)]


async def get_throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.throttle
    return throttle


ThrottleDep = Annotated[Throttle, Depends(get_throttle)]


def _address(request: Request, throttle: Throttle) -> Check:
    """Every route but health counts against its caller's address first, before any credential is read,
    so probing with bad tokens or other users' account ids is throttled as well."""
    return throttle.address, request.client.host if request.client else "unknown"


async def current_user(
    request: Request,
    credentials: Credentials,
    verifier: Annotated[TokenVerifier, Depends(get_verifier)],
    throttle: ThrottleDep,
) -> str:
    address = _address(request, throttle)
    token = credentials.credentials if credentials is not None else None
    user = verifier.known_user(token) if token is not None else None
    if user is not None:  # a token verified before: both limits in one round trip
        await throttle.admit_all(address, (throttle.user, f"user:{user}"))
        return user
    await throttle.admit_all(address)
    if token is None:
        raise unauthorized("an access token is required")
    user = await run_in_threadpool(verifier.user_id, token)  # a JWKS fetch blocks
    await throttle.admit(throttle.user, f"user:{user}")
    return user


def operator_with(capability: Capability) -> Callable[..., Awaitable[Actor]]:
    """The acting operator, refused unless their role grants `capability` (closure.operators.GRANTS)."""

    async def acting(
        request: Request,
        credentials: Credentials,
        settings: SettingsDep,
        verifier: Annotated[TokenVerifier, Depends(get_verifier)],
        throttle: ThrottleDep,
    ) -> Actor:
        address = _address(request, throttle)
        actor = automation(settings.api, credentials.credentials) if credentials is not None else None
        if actor is not None:  # a constant-time comparison, not a verification: both limits at once
            await throttle.admit_all(address, (throttle.user, f"operator:{actor.name}"))
        else:
            await throttle.admit_all(address)
            if credentials is None:
                raise unauthorized("an operator credential is required")
            actor = await run_in_threadpool(verifier.operator, credentials.credentials)
            await throttle.admit(throttle.user, f"operator:{actor.name}")
        if not actor.may(capability):
            raise ApiError(403, "RoleNotAllowed", f"the {actor.role.value} role may not {capability.value}")
        return actor

    return acting


async def get_operations(desk: DeskDep) -> Operations:
    """The operator's actions, as the CLI has them; legacy import stays a CLI job (no Redis client here)."""
    client = await desk.connected()
    return Operations(
        settings=desk.settings, client=client, records=desk.records, broker=desk.broker, redis=None
    )


OperationsDep = Annotated[Operations, Depends(get_operations)]
CurrentUser = Annotated[str, Depends(current_user)]
Viewer = Annotated[Actor, Depends(operator_with(Capability.VIEW))]
Operator = Annotated[Actor, Depends(operator_with(Capability.ACT))]

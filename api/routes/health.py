"""Probes, with no secrets and no addresses: `/livez` (the process serves), `/readyz` (it can do its work: Temporal
answers; Redis is a mirror only, so its loss never makes the API unready) and `/healthz` (both, in full)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import DeskDep, RedisDep
from api.models import Health, Liveness

router = APIRouter(tags=["health"])


async def _temporal_ok(desk: DeskDep) -> bool:
    try:
        client = await asyncio.wait_for(desk.temporal(), timeout=5)
        return await asyncio.wait_for(client.service_client.check_health(), timeout=5)
    except Exception:
        return False


async def _redis_state(client: aioredis.Redis | None) -> str:
    if client is None:
        return "disabled"
    try:
        return "ok" if await client.ping() else "unreachable"
    except Exception:
        return "unreachable"


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "Degraded"}})
async def healthz(desk: DeskDep, redis_client: RedisDep) -> JSONResponse:
    temporal = "ok" if await _temporal_ok(desk) else "unreachable"
    redis_state = await _redis_state(redis_client)
    healthy = temporal == "ok" and redis_state != "unreachable"
    body = Health.model_validate(
        {"status": "ok" if healthy else "degraded", "temporal": temporal, "redis": redis_state}
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


@router.get("/livez", response_model=Liveness)
async def livez() -> Liveness:
    """For a liveness probe: restart the process only when it no longer answers at all."""
    return Liveness()


@router.get("/readyz", response_model=Health, responses={503: {"model": Health, "description": "Not ready"}})
async def readyz(desk: DeskDep, redis_client: RedisDep) -> JSONResponse:
    """For a readiness probe: Temporal must answer; without Redis, progress is read from the workflows."""
    temporal = "ok" if await _temporal_ok(desk) else "unreachable"
    body = Health.model_validate(
        {
            "status": "ok" if temporal == "ok" else "degraded",
            "temporal": temporal,
            "redis": await _redis_state(redis_client),
        }
    )
    return JSONResponse(body.model_dump(), status_code=200 if temporal == "ok" else 503)

"""`closure doctor`: every dependency the settings name, tried once, each answer in words.

Nothing is changed and nothing is sent: a read from each (Temporal's namespace and search attributes, the
broker's clock, a user record, Redis's PING, the email backend's account or folder).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import urlsplit

import redis
from pydantic import BaseModel
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

from adapters.alpaca.broker import AlpacaBroker
from adapters.alpaca.connection import BrokerConnection
from adapters.records.from_settings import records_from
from closure.search_attributes import CLI_TYPES
from runtime.settings import Settings
from runtime.temporal import connect

Verdict = Literal["ok", "warning", "failed"]


class Finding(BaseModel):
    check: str
    verdict: Verdict
    detail: str


async def examine(settings: Settings) -> list[Finding]:
    checks: list[tuple[str, Callable[[Settings], Awaitable[Finding]]]] = [
        ("temporal", _temporal),
        ("payload encryption", _codec),
        ("broker", _in_thread(_broker)),
        ("user records", _in_thread(_records)),
        ("redis mirror", _in_thread(_redis)),
        ("email", _in_thread(_email)),
        ("ops webhook", _webhook),
    ]
    findings = []
    for name, check in checks:
        try:
            findings.append(await check(settings))
        except Exception as exc:
            findings.append(Finding(check=name, verdict="failed", detail=_words(exc)))
    return findings


def _words(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]


def _in_thread(check: Callable[[Settings], Finding]) -> Callable[[Settings], Awaitable[Finding]]:
    async def run(settings: Settings) -> Finding:
        return await asyncio.to_thread(check, settings)

    return run


async def _temporal(settings: Settings) -> Finding:
    temporal = settings.temporal
    client = await connect(temporal)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=temporal.namespace)
    )
    missing = sorted(set(CLI_TYPES) - set(listed.custom_attributes))
    where = f"{temporal.address}, namespace {temporal.namespace}, task queue {temporal.task_queue}"
    if missing:
        create = " ".join(f"--name {n} --type {CLI_TYPES[n]}" for n in missing)
        return Finding(
            check="temporal",
            verdict="failed",
            detail=f"{where}: search attribute(s) {', '.join(missing)} missing; closures cannot start until "
            f"they exist: temporal operator search-attribute create {create}",
        )
    return Finding(check="temporal", verdict="ok", detail=f"{where}; search attributes registered")


async def _codec(settings: Settings) -> Finding:
    keys = settings.temporal.codec_keys
    if not keys:
        return Finding(
            check="payload encryption",
            verdict="warning",
            detail="off: payloads reach Temporal in the clear; set CLOSURE_TEMPORAL__CODEC_KEYS",
        )
    return Finding(
        check="payload encryption",
        verdict="ok",
        detail=f"{len(keys)} key(s), sealing with {settings.temporal.codec_key_id or 'the newest'}",
    )


def _broker(settings: Settings) -> Finding:
    where = settings.alpaca.base_url or ("Alpaca sandbox" if settings.alpaca.sandbox else "Alpaca live")
    try:
        clock = AlpacaBroker(BrokerConnection(settings.alpaca)).clock()
    except Exception as exc:
        return Finding(
            check="broker",
            verdict="failed",
            detail=f"{where}: {_words(exc)}; CLOSURE_ALPACA__BASE_URL, _API_KEY and _SECRET_KEY set it",
        )
    market = "open" if clock.is_open else f"closed until {clock.next_open:%Y-%m-%d %H:%M %Z}"
    return Finding(check="broker", verdict="ok", detail=f"{where}: authenticated; the market is {market}")


def _records(settings: Settings) -> Finding:
    records_from(settings).by_account("closure-doctor-check")
    where = (
        settings.records.supabase_url
        if settings.records.backend == "supabase"
        else f"SQLite {settings.records.sqlite_path}"
    )
    return Finding(check="user records", verdict="ok", detail=f"{where}: readable")


def _redis(settings: Settings) -> Finding:
    if not settings.redis_url:
        return Finding(
            check="redis mirror", verdict="ok", detail="off (no REDIS_URL): progress comes from Temporal"
        )
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    finally:
        client.close()
    return Finding(check="redis mirror", verdict="ok", detail="PING answered")


def _email(settings: Settings) -> Finding:
    email = settings.email
    if email.backend == "ses":
        import boto3

        account = boto3.client("sesv2", region_name=email.ses_region, endpoint_url=email.ses_endpoint_url)
        sending = account.get_account().get("SendingEnabled")
        verdict: Verdict = "ok" if sending else "failed"
        return Finding(
            check="email", verdict=verdict, detail=f"SES {email.ses_region}: sending enabled: {sending}"
        )
    folder = email.outbox_dir
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        return Finding(check="email", verdict="failed", detail=f"outbox {folder} is not writable")
    return Finding(check="email", verdict="ok", detail=f"outbox folder {folder} (nothing is mailed)")


async def _webhook(settings: Settings) -> Finding:
    alerts = settings.alerts
    if not alerts.webhook_url:
        return Finding(check="ops webhook", verdict="ok", detail="off: ops alerts go by email only")
    return Finding(
        check="ops webhook",
        verdict="ok",
        detail=f"{alerts.webhook_format} to {urlsplit(alerts.webhook_url.get_secret_value()).netloc} "
        "(not sent: it would alert ops)",
    )

"""The unmodified alpaca-py `BrokerClient`, made safe for money movement, and its errors translated.

alpaca-py retries 429 and 504 on every method, POST included, which could create a second withdrawal; and it
sets no request timeout, so a hung socket would hang an activity forever. Both are fixed here, once:
Temporal owns retries, and every request carries a timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import requests
from alpaca.broker import BrokerClient
from alpaca.common.exceptions import APIError
from pydantic import ValidationError
from urllib3.exceptions import NewConnectionError

from closure.errors import (
    AccountNotFound,
    BrokerAuthFailed,
    BrokerRequestRefused,
    BrokerResponseInvalid,
    BrokerUnavailable,
    ClosureError,
)
from runtime import metrics
from runtime.settings import AlpacaSettings

T = TypeVar("T")
MAX_RETRY_AFTER_SECONDS = 120.0  # the longest a 429's advice is taken for one wait


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def build_broker_client(settings: AlpacaSettings) -> BrokerClient:
    client = BrokerClient(
        settings.api_key.get_secret_value(),
        settings.secret_key.get_secret_value(),
        sandbox=settings.sandbox,
        url_override=(settings.base_url or "").rstrip("/") or None,
    )
    client._retry = 0  # Temporal retries, with backoff and a budget; alpaca-py must never re-send a POST
    client._session = _TimeoutSession(settings.request_timeout_seconds)
    return client


class BrokerConnection:
    """One BrokerClient per thread: requests sessions are not meant to be shared across threads."""

    def __init__(self, settings: AlpacaSettings) -> None:
        self._settings = settings
        self._local = threading.local()

    @property
    def client(self) -> BrokerClient:
        client: BrokerClient | None = getattr(self._local, "client", None)
        if client is None:
            client = build_broker_client(self._settings)
            self._local.client = client
        return client

    def call(self, what: str, fn: Callable[[BrokerClient], T]) -> T:
        """Run one broker call, translating every third-party error into ours, and count it."""
        try:
            result = fn(self.client)
        except ClosureError as exc:
            metrics.broker_call(what, type(exc).__name__)
            raise
        except Exception as exc:
            error = _translate(what, exc)
            metrics.broker_call(what, type(error).__name__)
            raise error from exc
        metrics.broker_call(what, "ok")
        return result


def _never_sent(exc: requests.RequestException) -> bool:
    """True only when no connection was made, so the broker cannot have seen the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _translate(what: str, exc: Exception) -> Exception:
    if isinstance(exc, APIError):
        return translate_api_error(what, exc)
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return BrokerUnavailable(
            f"{what}: broker unreachable ({type(exc).__name__})", processed_maybe=not _never_sent(exc)
        )
    if isinstance(exc, requests.JSONDecodeError):  # a success status with a body that is not JSON
        return BrokerResponseInvalid(f"{what}: the broker's answer is not JSON ({exc})")
    if isinstance(exc, requests.RequestException):
        return BrokerUnavailable(f"{what}: request failed ({type(exc).__name__}: {exc})")
    if isinstance(exc, ValidationError):
        return BrokerResponseInvalid(f"{what}: unexpected broker response: {exc.errors()[:3]}")
    return exc


def _broker_message(exc: APIError) -> str:
    # alpaca-py's .message parses the body as JSON and raises on an HTML error page from a proxy.
    try:
        body = json.loads(str(exc))
    except ValueError:
        return str(exc)[:200]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)


def _retry_after(exc: APIError) -> timedelta | None:
    """When the broker said to come back: Retry-After, else X-RateLimit-Reset (epoch seconds), capped."""
    headers = getattr(exc.response, "headers", None) or {}
    try:
        if (after := headers.get("Retry-After")) is not None:
            seconds = float(after)
        elif (reset := headers.get("X-RateLimit-Reset")) is not None:
            seconds = float(reset) - time.time()
        else:
            return None
    except ValueError:
        return None
    return timedelta(seconds=min(max(seconds, 0.5), MAX_RETRY_AFTER_SECONDS))


def translate_api_error(what: str, exc: APIError) -> ClosureError:
    status = exc.status_code or 0
    message = f"{what}: broker answered {status}: {_broker_message(exc)}"
    if status == 429:  # the rate limiter turned it away: certainly not processed
        return BrokerUnavailable(message, processed_maybe=False, retry_after=_retry_after(exc))
    if status == 408 or status >= 500:
        return BrokerUnavailable(message)
    if status == 401:
        return BrokerAuthFailed(message)
    if status == 404:
        return AccountNotFound(message)
    return BrokerRequestRefused(message)

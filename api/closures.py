"""The API's work, kept out of the routes: who owns what, the preconditions, where progress is read from."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from adapters.alpaca.broker import AlpacaBroker
from adapters.records import CLOSED, ClosureRecords, UserRecord, pending_closure
from adapters.redis.mirror import ProgressReader
from api.errors import ApiError, not_found
from api.models import ClosurePreviewPublic, ClosureStartedPublic, ProgressPublic
from api.rate_limit import Throttle
from closure.broker_types import AccountView
from closure.confirmation import workflow_id_for
from closure.eligibility import ineligibility
from closure.errors import (
    AccountAlreadyClosed,
    AccountNotFound,
    ClosureError,
    MirrorUnavailable,
    UserRecordsUnavailable,
)
from closure.estimate import estimate
from closure.operators import AuditEntry
from closure.progress import ClosureProgress
from runtime.settings import Settings
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import start_closure

T = TypeVar("T")
OWNER_TTL = 60.0  # seconds
OWNERS_KEPT = 10_000
log = logging.getLogger("account_closure.api")


def temporal_unavailable(exc: Exception) -> ApiError:
    log.warning("Temporal unreachable: %s", exc)  # details for operators; the caller gets no addresses
    return ApiError(503, "TemporalUnavailable", "the workflow service is unreachable; try again shortly")


class ClosureDesk:
    def __init__(
        self,
        settings: Settings,
        temporal: Callable[[], Awaitable[Client]],
        records: ClosureRecords,
        mirror: ProgressReader | None,
        broker: AlpacaBroker,
        throttle: Throttle,
    ) -> None:
        self.settings = settings
        self.temporal = temporal
        self.records = records
        self._mirror = mirror
        self.broker = broker
        self._throttle = throttle
        self._owners: dict[tuple[str, str], float] = {}  # (user, account) -> when its ownership was read

    async def _blocking(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await run_in_threadpool(fn, *args)
        except UserRecordsUnavailable as exc:
            raise ApiError(503, "UserRecordsUnavailable", str(exc)) from exc

    async def owned(self, user_id: str, account_id: str) -> UserRecord:
        record = await self._blocking(self.records.by_account, account_id)
        if record is None or record.user_id != user_id:
            raise not_found(account_id)
        return record

    async def owns(self, user_id: str, account_id: str) -> None:
        """`owned` for the read routes: an owner seen within `OWNER_TTL` is not looked up again (a page
        following a closure asks every few seconds, and the owner of an account does not change)."""
        key = (user_id, account_id)
        seen = self._owners.get(key)
        if seen is not None and time.monotonic() - seen < OWNER_TTL:
            return
        await self.owned(user_id, account_id)
        if len(self._owners) >= OWNERS_KEPT:
            self._owners.clear()
        self._owners[key] = time.monotonic()

    async def records_of(self, user_id: str) -> list[UserRecord]:
        return await self._blocking(self.records.by_user, user_id)

    async def audit_of(self, account_id: str) -> list[AuditEntry]:
        return await self._blocking(self.records.audit_of, account_id)

    async def connected(self) -> Client:
        try:
            return await self.temporal()
        except RuntimeError as exc:
            raise temporal_unavailable(exc) from exc

    async def handle(self, account_id: str) -> WorkflowHandle[AccountClosureWorkflow, ClosureProgress]:
        client = await self.connected()
        return client.get_workflow_handle_for(AccountClosureWorkflow.run, workflow_id_for(account_id))

    # --- initiation -----------------------------------------------------------------------------------------

    async def initiate(self, user_id: str, account_id: str) -> ClosureStartedPublic:
        await self._throttle.admit(self._throttle.initiate, user_id)  # before ownership: probes count too
        record = await self.owned(user_id, account_id)
        running = await self._is_running(account_id)
        if not running:
            if record.status == CLOSED:
                raise ApiError(409, "AccountAlreadyClosed", f"account {account_id} is already closed")
            refusal = ineligibility(await self._inspect(account_id))
            if refusal is not None:
                status = 409 if isinstance(refusal, AccountAlreadyClosed) else 422
                raise ApiError(status, type(refusal).__name__, str(refusal))
            await self._blocking(self.records.apply, account_id, pending_closure(datetime.now(UTC)))
        try:
            client = await self.temporal()
            started = await start_closure(
                client,
                account_id,
                task_queue=self.settings.temporal.task_queue,
                policy=self.settings.closure_policy(),
                user_id=user_id,
            )
        except (RPCError, RuntimeError) as exc:
            raise temporal_unavailable(exc) from exc
        return ClosureStartedPublic(
            account_id=account_id,
            workflow_id=started.workflow_id,
            confirmation_number=started.confirmation_number,
            already_started=running,
            progress_url=f"/api/account-closure/progress/{account_id}",
        )

    async def preview(self, user_id: str, account_id: str) -> ClosurePreviewPublic:
        """What closing would do now: the same preconditions and estimate the closure itself starts from."""
        await self.owned(user_id, account_id)
        view = await self._inspect(account_id)
        refusal = ineligibility(view)
        policy = self.settings.closure_policy()
        relationship = view.approved_relationship
        return ClosurePreviewPublic(
            account_id=account_id,
            eligible=refusal is None,
            refusal=str(refusal) if refusal is not None else None,
            cash=view.cash,
            positions=len(view.positions),
            open_orders=view.open_orders,
            bank_last4=relationship.account_last4 if relationship else None,
            daily_limit=policy.daily_transfer_limit,
            estimate=estimate(view, policy, view.clock.now.date()) if refusal is None else None,
        )

    async def broker_state(self, account_id: str) -> AccountView:
        return await self._inspect(account_id)

    async def _is_running(self, account_id: str) -> bool:
        handle = await self.handle(account_id)
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise temporal_unavailable(exc) from exc
        return description.status == WorkflowExecutionStatus.RUNNING

    async def _inspect(self, account_id: str) -> AccountView:
        try:
            uuid.UUID(account_id)  # Alpaca's ids are UUIDs; alpaca-py refuses anything else with a ValueError
        except ValueError as exc:
            raise ApiError(
                422, "BrokerAccountNotFound", f"{account_id} is not an Alpaca account id (a UUID)"
            ) from exc
        try:
            return await run_in_threadpool(self.broker.inspect_account, account_id)
        except AccountNotFound as exc:
            raise ApiError(
                422, "BrokerAccountNotFound", f"the broker does not know account {account_id}"
            ) from exc
        except ClosureError as exc:
            if exc.retryable:
                raise ApiError(503, "BrokerUnavailable", str(exc)) from exc
            raise ApiError(502, "BrokerError", str(exc)) from exc

    # --- progress -------------------------------------------------------------------------------------------

    def _fresh(self, progress: ClosureProgress) -> bool:
        now = datetime.now(UTC)
        if progress.phase.is_terminal:
            return True
        if progress.mirrored_at and now - progress.mirrored_at < self.settings.api.mirror_max_age:
            return True
        # In a known wait nothing changes until the wait ends (a signal would have been mirrored).
        return progress.next_action_at is not None and progress.next_action_at > now

    async def mirrored(self, account_id: str) -> ClosureProgress | None:
        if self._mirror is None:
            return None
        try:
            return await self._mirror.read_progress(account_id)
        except MirrorUnavailable as exc:  # a broken mirror only means asking the workflow instead
            log.warning("progress mirror unreadable: %s", exc)
            return None

    async def progress(self, account_id: str) -> ProgressPublic | None:
        """Progress from the mirror when it is fresh, from the workflow otherwise; None when there is none."""
        mirrored = await self.mirrored(account_id)
        if mirrored is not None and self._fresh(mirrored):
            return ProgressPublic(**mirrored.model_dump(), source="mirror")
        handle = await self.handle(account_id)
        try:
            queried = await handle.query(AccountClosureWorkflow.progress, rpc_timeout=timedelta(seconds=10))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            if mirrored is not None:
                return ProgressPublic(**mirrored.model_dump(), source="mirror")
            raise temporal_unavailable(exc) from exc
        return ProgressPublic(**queried.model_dump(), source="workflow")

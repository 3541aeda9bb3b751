"""User-record activities: Supabase's `user_onboarding` status follows the closure."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity

from adapters.records import UserRecords, attention, closed, pending_closure, reopened


class AccountAt(BaseModel):
    account_id: str
    at: datetime


class AttentionFlag(BaseModel):
    account_id: str
    needs_attention: bool


class UserRecordActivities:
    def __init__(self, users: UserRecords) -> None:
        self._users = users

    @activity.defn(name="users.mark_pending_closure")
    def mark_pending_closure(self, request: AccountAt) -> str:
        return self._users.apply(request.account_id, pending_closure(request.at)).status

    @activity.defn(name="users.mark_closed")
    def mark_closed(self, request: AccountAt) -> str:
        return self._users.apply(request.account_id, closed(request.at)).status

    @activity.defn(name="users.reopen")
    def reopen(self, account_id: str) -> str:
        return self._users.apply(account_id, reopened()).status

    @activity.defn(name="users.set_attention")
    def set_attention(self, request: AttentionFlag) -> bool:
        return self._users.apply(
            request.account_id, attention(request.needs_attention)
        ).account_closure_needs_attention

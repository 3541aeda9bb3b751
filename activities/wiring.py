"""Build every activity group from settings, once per worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from activities.alpaca_client import BrokerConnection
from activities.broker import BrokerActivities
from activities.emails import EmailActivities
from activities.mirror import MirrorActivities
from activities.user_records import UserRecordActivities
from closure.emails.render import Brand
from closure.emails.senders import EmailBackend, EmailDispatcher, OutboxBackend, SesBackend
from closure.mirror import ProgressMirror
from closure.records.sqlite import SqliteRecords
from closure.records.supabase import SupabaseRecords
from closure.settings import Settings


@dataclass
class ActivityGroups:
    broker: BrokerActivities
    users: UserRecordActivities
    email: EmailActivities
    mirror: MirrorActivities

    def all(self) -> list[Callable[..., Any]]:
        return [*self.broker.all(), *self.side_effects()]

    def side_effects(self) -> list[Callable[..., Any]]:
        """Everything that is not a broker call: user records, emails, the mirror."""
        return [
            self.users.mark_pending_closure,
            self.users.mark_closed,
            self.users.reopen,
            self.users.set_attention,
            self.email.send_customer,
            self.email.send_ops_alert,
            self.mirror.publish,
        ]


def records_from(settings: Settings) -> SqliteRecords | SupabaseRecords:
    if settings.records.backend == "supabase":
        if not settings.records.supabase_url or settings.records.supabase_service_role_key is None:
            raise ValueError("CLOSURE_RECORDS__SUPABASE_URL and ..._SUPABASE_SERVICE_ROLE_KEY are required")
        return SupabaseRecords(
            settings.records.supabase_url, settings.records.supabase_service_role_key.get_secret_value()
        )
    return SqliteRecords(settings.records.sqlite_path)


def email_backend_from(settings: Settings) -> EmailBackend:
    if settings.email.backend == "ses":
        client = boto3.client(
            "sesv2", region_name=settings.email.ses_region, endpoint_url=settings.email.ses_endpoint_url
        )
        return SesBackend(client, settings.email.ses_configuration_set)
    return OutboxBackend(settings.email.outbox_dir)


def build_activities(settings: Settings) -> ActivityGroups:
    records = records_from(settings)
    brand = Brand(settings.email.brand_name, settings.email.support_email, settings.email.app_url)
    dispatcher = EmailDispatcher(records, email_backend_from(settings))
    mirror = ProgressMirror.from_url(settings.redis_url, settings.mirror_ttl) if settings.redis_url else None
    return ActivityGroups(
        broker=BrokerActivities(BrokerConnection(settings.alpaca)),
        users=UserRecordActivities(records),
        email=EmailActivities(
            dispatcher, records, brand, settings.email.sender, settings.email.ops_recipients
        ),
        mirror=MirrorActivities(mirror),
    )

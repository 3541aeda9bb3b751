"""Build every activity group from settings, once per worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from activities.alerts import AlertActivities
from activities.broker import BrokerActivities
from activities.emails import EmailActivities
from activities.mirror import MirrorActivities
from activities.user_records import UserRecordActivities
from adapters.alpaca.broker import AlpacaBroker
from adapters.alpaca.connection import BrokerConnection
from adapters.email.from_settings import email_backend_from
from adapters.email.render import Brand
from adapters.email.senders import EmailDispatcher
from adapters.records.from_settings import records_from
from adapters.redis.mirror import ProgressMirror
from adapters.webhook.alerts import WebhookAlerts
from runtime.settings import Settings


@dataclass
class ActivityGroups:
    broker: BrokerActivities
    users: UserRecordActivities
    email: EmailActivities
    mirror: MirrorActivities
    alerts: AlertActivities

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
            self.alerts.send_webhook,
            self.mirror.publish,
        ]


def build_activities(settings: Settings) -> ActivityGroups:
    records = records_from(settings)
    brand = Brand(settings.email.brand_name, settings.email.support_email, settings.email.app_url)
    dispatcher = EmailDispatcher(records, email_backend_from(settings))
    mirror = ProgressMirror.from_url(settings.redis_url, settings.mirror_ttl) if settings.redis_url else None
    return ActivityGroups(
        broker=BrokerActivities(AlpacaBroker(BrokerConnection(settings.alpaca))),
        users=UserRecordActivities(records),
        email=EmailActivities(
            dispatcher, records, brand, settings.email.sender, settings.email.ops_recipients
        ),
        mirror=MirrorActivities(mirror),
        alerts=AlertActivities(webhook_from(settings)),
    )


def webhook_from(settings: Settings) -> WebhookAlerts:
    alerts = settings.alerts
    return WebhookAlerts(
        alerts.webhook_url.get_secret_value() if alerts.webhook_url else None,
        alerts.webhook_format,
        alerts.webhook_secret.get_secret_value() if alerts.webhook_secret else None,
        alerts.webhook_attempts,
        alerts.dead_letter_path,
    )

"""The ops-alert webhook activity: a thin wrapper over adapters.webhook (it never raises: see there)."""

from __future__ import annotations

import logging

from temporalio import activity

from adapters.webhook.alerts import WebhookAlerts, WebhookDelivery
from closure.email_facts import OpsEmail

log = logging.getLogger("account_closure.alerts")  # also called outside an activity (the task-failure watch)


class AlertActivities:
    def __init__(self, webhook: WebhookAlerts) -> None:
        self._webhook = webhook

    @activity.defn(name="alerts.send_webhook")
    def send_webhook(self, request: OpsEmail) -> WebhookDelivery:
        delivery = self._webhook.deliver(request)
        if delivery.status == "dead_lettered":
            log.warning(
                "ops alert %s not delivered after %d tries (%s): in the dead-letter log",
                request.message_key,
                delivery.attempts,
                delivery.detail,
            )
        return delivery

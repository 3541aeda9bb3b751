"""The configured email backend: SES in production, an outbox directory locally."""

from __future__ import annotations

import boto3

from adapters.email.senders import EmailBackend, OutboxBackend, SesBackend
from runtime.settings import Settings


def email_backend_from(settings: Settings) -> EmailBackend:
    if settings.email.backend == "ses":
        client = boto3.client(
            "sesv2", region_name=settings.email.ses_region, endpoint_url=settings.email.ses_endpoint_url
        )
        return SesBackend(client, settings.email.ses_configuration_set)
    return OutboxBackend(settings.email.outbox_dir)

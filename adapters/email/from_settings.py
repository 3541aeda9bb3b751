"""The configured email backend: SES in production, an outbox directory locally."""

from __future__ import annotations

from adapters.email.senders import EmailBackend, OutboxBackend
from runtime.settings import Settings


def email_backend_from(settings: Settings) -> EmailBackend:
    if settings.email.backend == "ses":
        try:  # boto3 comes with the `ses` extra: an image without it still runs the outbox backend
            import boto3

            from adapters.email.ses import SesBackend
        except ImportError as exc:
            raise ValueError(
                "CLOSURE_EMAIL__BACKEND=ses needs boto3: pip install 'account-closure[ses]'"
            ) from exc
        client = boto3.client(
            "sesv2", region_name=settings.email.ses_region, endpoint_url=settings.email.ses_endpoint_url
        )
        return SesBackend(client, settings.email.ses_configuration_set)
    return OutboxBackend(settings.email.outbox_dir)

"""AWS SES (v2 API) through boto3, the production email backend (the `ses` extra installs boto3)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from adapters.email.senders import OutgoingEmail, slug
from closure.errors import EmailOutcomeUnknown, EmailRejected, EmailUndelivered

_FINAL_SES_CODES = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccountSendingPausedException",
    "NotFoundException",
    "BadRequestException",
}


class SesBackend:
    """AWS SES (v2 API) through boto3: a MIME message, optional configuration set, the key as a tag."""

    def __init__(self, client: Any, configuration_set: str | None = None) -> None:
        self._client = client
        self._configuration_set = configuration_set

    def deliver(self, email: OutgoingEmail) -> str:
        # Raw MIME, so the HTML and the plain-text alternative travel exactly as rendered.
        request: dict[str, Any] = {
            "FromEmailAddress": email.sender,
            "Destination": {"ToAddresses": list(email.to)},
            "Content": {"Raw": {"Data": email.mime().as_bytes()}},
            "EmailTags": [{"Name": "message_key", "Value": slug(email.message_key)[:256]}],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            response = self._client.send_email(**request)
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise EmailUndelivered(f"SES unreachable: {exc}") from exc
        except ReadTimeoutError as exc:
            raise EmailOutcomeUnknown(f"SES did not answer: {exc}") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = f"SES refused {email.kind} ({code}): {exc.response.get('Error', {}).get('Message', '')}"
            if code in _FINAL_SES_CODES:
                raise EmailRejected(message) from exc
            raise EmailUndelivered(message) from exc
        return str(response["MessageId"])

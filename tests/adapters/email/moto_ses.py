"""moto's SES in server mode: a real HTTP endpoint that boto3 talks to, and a way to read what it sent."""

from __future__ import annotations

import email
import socket
from dataclasses import dataclass
from email.message import Message

import boto3
import requests
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends

REGION = "us-east-1"
SENDER_DOMAIN = "example.com"


@dataclass
class SentEmail:
    to: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def key(self) -> str:
        return str(self.message["X-Closure-Message-Key"])

    def part(self, subtype: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode(part.get_content_charset() or "utf-8")
        raise AssertionError(f"no text/{subtype} part")


class MotoSes:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoSes:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        client = boto3.client(
            "sesv2",
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_email_identity(EmailIdentity=SENDER_DOMAIN)

    def sent(self) -> list[SentEmail]:
        backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
        # moto lists a raw message's recipients from both the request and the To header
        return [
            SentEmail(sorted(set(m.destinations)), email.message_from_string(m.raw_data))
            for m in backend.sent_messages
        ]

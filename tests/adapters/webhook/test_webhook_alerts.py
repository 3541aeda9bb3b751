"""Ops alerts to a real local webhook receiver: Slack's shape or signed JSON, a retry, the dead-letter log."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from adapters.webhook.alerts import WebhookAlerts
from closure.email_facts import OpsAlertFacts, OpsEmail
from tests.adapters.webhook.receiver import webhook_receiver

ALERT = OpsEmail(
    message_key="account-closure-acct-1:email:ops_alert:1",
    facts=OpsAlertFacts(
        account_id="acct-1",
        workflow_id="account-closure-acct-1",
        confirmation_number="CLA-AAAAA-BBBBB",
        phase="needs_attention",
        alert="needs_attention",
        reason="transfer tr-1 REJECTED: R02 account closed",
        since=datetime(2026, 12, 4, 15, 0, tzinfo=UTC),
        what_to_do=["Ask the customer to link a working bank account", "closure retry acct-1"],
    ),
)


def _alerts(
    url: str, tmp_path: Path, body_format: Literal["slack", "json"] = "slack", secret: str | None = None
) -> WebhookAlerts:
    return WebhookAlerts(
        url, body_format, secret, attempts=3, dead_letter=tmp_path / "dead.jsonl", pause=0.01
    )


def test_a_slack_alert_is_retried_after_a_failure_and_delivered(tmp_path: Path) -> None:
    with webhook_receiver(503) as receiver:
        delivery = _alerts(receiver.url, tmp_path).deliver(ALERT)

    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    first, second = receiver.requests
    assert first.raw == second.raw, "the retry sends the same alert"
    assert second.headers["idempotency-key"] == ALERT.message_key
    body = second.body
    assert body["text"] == "[closure needs_attention] acct-1: needs_attention"
    section = body["blocks"][0]["text"]["text"]
    assert "R02 account closed" in section
    assert "• closure retry acct-1" in section
    assert not (tmp_path / "dead.jsonl").exists()


def test_a_json_alert_is_signed_so_the_receiver_can_check_it(tmp_path: Path) -> None:
    with webhook_receiver() as receiver:
        assert _alerts(receiver.url, tmp_path, "json", "hook-secret").deliver(ALERT).status == "delivered"

    [request] = receiver.requests
    stamp, signature = (part.split("=", 1)[1] for part in request.headers["x-closure-signature"].split(","))
    expected = hmac.new(b"hook-secret", f"{stamp}.".encode() + request.raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert request.body["type"] == "closure.ops_alert"
    assert request.body["alert"]["reason"] == ALERT.facts.reason


def test_an_alert_no_try_delivers_goes_to_the_dead_letter_log(tmp_path: Path) -> None:
    with webhook_receiver(500, 502, 503) as receiver:
        delivery = _alerts(receiver.url, tmp_path).deliver(ALERT)

    assert (delivery.status, delivery.attempts, delivery.detail) == ("dead_lettered", 3, "HTTP 503")
    assert len(receiver.requests) == 3
    [entry] = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert entry["message_key"] == ALERT.message_key
    assert entry["why"] == "HTTP 503"
    assert entry["endpoint"].startswith("127.0.0.1:")
    assert "/hooks/ops" not in json.dumps(entry), "a Slack hook's path is its secret"
    assert entry["body"]["text"].startswith("[closure needs_attention]")


def test_a_refusal_another_try_cannot_change_is_not_retried(tmp_path: Path) -> None:
    with webhook_receiver(404) as receiver:
        delivery = _alerts(receiver.url, tmp_path).deliver(ALERT)
    assert (delivery.status, delivery.attempts) == ("dead_lettered", 1)
    assert len(receiver.requests) == 1


def test_no_webhook_configured_sends_nothing(tmp_path: Path) -> None:
    assert _alerts("", tmp_path).deliver(ALERT).status == "disabled"

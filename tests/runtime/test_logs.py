"""Structured logs: one JSON object a line, the closure's context in it, personal data and secrets never."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment

from runtime.logs import REDACTOR, JsonFormatter, configure_logging
from runtime.settings import AlpacaSettings, ApiSettings, Settings
from simulator.server import SimulatorServer
from tests.support import closure_lab, ny

NAME, EMAIL, BANK, ROUTING = "Jordan Rivera", "jordan.rivera@example.com", "000123456789", "121000358"
SECRET, JWT = "sk-live-9f8e7d6c5b4a", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_planted_personal_data_and_secrets_never_reach_the_log() -> None:
    stream = io.StringIO()
    configure_logging(
        Settings(alpaca=AlpacaSettings(secret_key=SECRET), api=ApiSettings(admin_token="op-tok-123"))
    )
    logging.getLogger().handlers[0].stream = stream  # type: ignore[attr-defined]
    REDACTOR.remember(NAME, EMAIL)  # as the email activity does when it reads a user record
    log = logging.getLogger("account_closure.test")
    workflow = {"workflow_id": "account-closure-7224a492-b825-4000-acba-d3bd4783d03b", "run_id": "r1"}
    log.warning(
        "sending $50,000.00 of $123,456.78 for %s <%s> to account %s routing %s with key %s; Authorization: Bearer %s",
        NAME, EMAIL, BANK, ROUTING, SECRET, JWT,
        extra={"temporal_workflow": workflow, "phase": "withdrawal", "first_name": "Jordan",
               "bank_account_number": BANK, "amount": "50000.00", "note": f"reply to {EMAIL}"},
    )  # fmt: skip
    log.info("operator used Basic c2ltdWxhdG9yLWtleTpzaW11bGF0b3Itc2VjcmV0 and op-tok-123")

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    text = stream.getvalue()
    for planted in (NAME, "Jordan", EMAIL, BANK, ROUTING, SECRET, JWT, "op-tok-123", "c2ltdWxhdG9y"):
        assert planted not in text, f"{planted!r} leaked into the log"
    assert "$50,000.00" in first["message"]
    assert "$123,456.78" in first["message"]
    assert first["amount"] == "50000.00"
    assert first["closure_id"] == workflow["workflow_id"]
    assert first["account_id"] == "7224a492-b825-4000-acba-d3bd4783d03b"
    assert first["phase"] == "withdrawal"
    assert first["level"] == "WARNING"
    assert first["first_name"] == first["bank_account_number"] == "[redacted]"
    assert second["message"].count("[redacted]") == 2


def test_ids_stay_whole_when_their_groups_are_all_digits() -> None:
    """A UUID group of seven or more digits is no bank number: masking it made an account unsearchable."""
    stream = io.StringIO()
    configure_logging(Settings())
    logging.getLogger().handlers[0].stream = stream  # type: ignore[attr-defined]
    account = "12345678-1234-4234-8234-123456789012"
    workflow = {"workflow_id": f"account-closure-{account}", "run_id": "r1"}
    log = logging.getLogger("account_closure.test")
    log.warning(
        "ops alert for %s: bank %s, transfer %s", account, BANK, "0f3c2d1e-aaaa-4bbb-8ccc-000000000001",
        extra={"temporal_workflow": workflow, "transfer_id": "87654321-0000-4000-8000-999999999999"},
    )  # fmt: skip

    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == (
        f"ops alert for {account}: bank [redacted], transfer 0f3c2d1e-aaaa-4bbb-8ccc-000000000001"
    )
    assert line["account_id"] == account
    assert line["closure_id"] == f"account-closure-{account}"
    assert line["transfer_id"] == "87654321-0000-4000-8000-999999999999"


async def test_a_closures_workflow_lines_carry_its_phase_and_say_their_message_once(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    sdk = logging.getLogger("temporalio.workflow")
    sdk.addHandler(handler)
    before = (workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message)
    configure_logging(Settings())  # what the worker does with json_logs on
    try:
        async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
            account = lab.broker.funded_account(Decimal("1000.00"))
            lab.follow_temporal()
            started = await lab.start(account)
            await lab.finish(started)
    finally:
        sdk.removeHandler(handler)
        workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message = before

    entered = [json.loads(line) for line in out.getvalue().splitlines() if " entered " in line]
    assert entered, out.getvalue()[:2000]
    assert {line["phase"] for line in entered} >= {"withdrawal", "completed"}
    for line in entered:
        assert line["message"].startswith(f"closure {account.account_id} entered {line['phase']}: ")
        assert "{" not in line["message"], "the SDK's context is a field, not part of the text"
        assert line["account_id"] == account.account_id

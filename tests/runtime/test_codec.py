"""Payloads are sealed with AES-256-GCM under a named key: rotation, tampering, and the raw history's bytes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from google.protobuf.message import Message
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.history.v1 import MarkerRecordedEventAttributes
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from runtime.codec import ENCODING, KEY_ID, EncryptionCodec
from runtime.codec_keys import PayloadKeyError, parse_key
from runtime.settings import TemporalSettings
from simulator.server import SimulatorServer
from tests.conftest import CODEC_KEYS
from tests.support import closure_lab, ny

OLD, NEW = b"o" * 32, b"n" * 32
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"email": "zebulon@example.com"}')


async def test_a_sealed_payload_opens_and_shows_nothing() -> None:
    codec = EncryptionCodec({"k1": OLD}, "k1")
    [sealed] = await codec.encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"k1"
    assert b"zebulon" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [PLAIN]


async def test_after_rotation_old_payloads_open_and_new_ones_use_the_new_key() -> None:
    [old] = await EncryptionCodec({"k1": OLD}, "k1").encode([PLAIN])
    rotated = EncryptionCodec({"k1": OLD, "k2": NEW}, "k2")
    [new] = await rotated.encode([PLAIN])
    assert new.metadata[KEY_ID] == b"k2"
    assert await rotated.decode([old, new]) == [PLAIN, PLAIN]
    with pytest.raises(PayloadKeyError, match="'k2', which is not configured"):
        await EncryptionCodec({"k1": OLD}, "k1").decode([new])


async def test_a_tampered_or_relabelled_payload_does_not_open() -> None:
    codec = EncryptionCodec({"k1": OLD, "k2": OLD}, "k1")
    [sealed] = await codec.encode([PLAIN])
    flipped = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"k2"}, data=sealed.data)  # same key bytes
    for bad in (flipped, relabelled):
        with pytest.raises(PayloadKeyError, match="does not open"):
            await codec.decode([bad])


async def test_a_payload_written_before_encryption_passes_through() -> None:
    assert await EncryptionCodec({"k1": OLD}, "k1").decode([PLAIN]) == [PLAIN]


@pytest.mark.parametrize(
    ("key", "error"), [("not base64!", "not base64"), (base64.b64encode(b"short").decode(), "5 bytes")]
)
def test_a_malformed_key_is_refused_with_its_id(key: str, error: str) -> None:
    with pytest.raises(PayloadKeyError, match=error):
        parse_key("2026-12", key)


def test_settings_naming_a_current_key_that_is_not_there_do_not_load() -> None:
    with pytest.raises(ValidationError, match="'gone' is not among"):
        TemporalSettings.model_validate({"codec_keys": CODEC_KEYS, "codec_key_id": "gone"})


LOCAL_ACTIVITY_BOOKKEEPING = {
    "seq", "attempt", "activity_id", "activity_type", "complete_time", "backoff", "original_schedule_time",
    "activation_index",
}  # fmt: skip


def _payloads(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere in a history, maps and repeated fields included, but search attributes: those
    are indexed by the server, so codecs never touch them (and they hold no personal data), and the SDK's own
    patch markers, which name a `workflow.patched()` id and nothing else."""
    if isinstance(message, Payload):
        yield message
        return
    if isinstance(message, MarkerRecordedEventAttributes) and message.marker_name == "core_patch":
        return
    if isinstance(message, MarkerRecordedEventAttributes) and message.marker_name == "core_local_activity":
        # Core's own record of a local activity (its sequence, attempt, type and times) is not ours to
        # encode; the activity's result beside it is, and is checked like any payload.
        bookkeeping = json.loads(message.details["data"].payloads[0].data)
        assert set(bookkeeping) <= LOCAL_ACTIVITY_BOOKKEEPING, bookkeeping
        for key, payloads in message.details.items():
            if key != "data":
                for item in payloads.payloads:
                    yield item
        return
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE or field.name == "search_attributes":
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            yield from _payloads(item)


async def test_the_raw_history_holds_no_plaintext_of_the_customer(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 3, 4, 10, 0)) as lab:
        account = lab.broker.open_account("Zebulon", "Quartermaine")
        lab.broker.link_bank(account, account_number="000555017315")
        lab.broker.deposit(account, Decimal("1234.56"))
        lab.follow_temporal()
        started = await lab.start(account)
        assert (await lab.finish(started)).phase == ClosurePhase.COMPLETED
        raw = await env.client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=env.client.namespace,
                execution=WorkflowExecution(
                    workflow_id=started.handle.id, run_id=started.handle.run_id or ""
                ),
            )
        )
        user = lab.records.by_account(account.account_id)
    assert user is not None
    # Name and email never enter Temporal at all: the email activity reads them from the user records.
    kept_out = [b"Zebulon", b"Quartermaine", account.email.encode()]
    carried = [b"7315", user.user_id.encode(), b"1234.56"]  # the bank's last four, the user id, the money

    payloads = list(_payloads(raw.history))
    assert payloads
    unsealed = [p for p in payloads if p.metadata["encoding"] != ENCODING]
    assert unsealed == [], "every payload is sealed"
    sealed = raw.history.SerializeToString()
    assert [p for p in kept_out + carried if p in sealed] == []

    codec = EncryptionCodec.of(TemporalSettings.model_validate({"codec_keys": CODEC_KEYS}))
    assert codec is not None
    opened = b"".join(p.SerializeToString() for p in await codec.decode(payloads))
    # The check above could fail: opened, the same history holds what the closure carries.
    assert [p for p in carried if p not in opened] == []
    assert [p for p in kept_out if p in opened] == []

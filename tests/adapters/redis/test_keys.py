"""The Redis names and the legacy status words come from one module, and the two directions agree."""

from __future__ import annotations

from adapters.redis.keys import (
    BROKER_TRANSFER_STATUS,
    LEGACY_PREFIXES,
    LEGACY_TRANSFER_STATUS,
    closure_state_key,
    partial_withdrawal_key,
    withdrawal_state_key,
)
from closure.confirmation import chunk_key, workflow_id_for


def test_every_status_the_mirror_writes_reads_back_as_the_same_broker_status() -> None:
    for broker, legacy in LEGACY_TRANSFER_STATUS.items():
        assert BROKER_TRANSFER_STATUS[legacy] == broker
    assert BROKER_TRANSFER_STATUS["complete"] == "COMPLETE"  # the old scheduler's other spelling


def test_the_legacy_keys_start_with_the_prefixes_the_import_scans() -> None:
    keys = [closure_state_key("a"), withdrawal_state_key("a"), partial_withdrawal_key("a")]
    assert [key.removesuffix("a") for key in keys] == list(LEGACY_PREFIXES)


def test_a_chunk_key_is_the_workflow_id_and_the_chunk() -> None:
    assert chunk_key(workflow_id_for("acct-1"), 2) == "account-closure-acct-1:withdrawal:2"

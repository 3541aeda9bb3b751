"""The event listener against the simulator's streams: every change wakes its closure exactly once through
dropped and silent streams, duplicates, reordering, unknown kinds, slow-reader losses and a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.alpaca.event_stream import StreamSource
from ops.listener import EventListener, moves_a_closure
from ops.listener_process import temporal_wake
from runtime.settings import ListenerSettings
from simulator.scenarios import DEMO_KEY, DEMO_SECRET, ScenarioBuilder
from simulator.server import SimulatorServer


class Closures:
    """Stands in for Temporal: records every wake, as (account id, what changed)."""

    def __init__(self) -> None:
        self.woken: list[tuple[str, str]] = []
        self.woken_all: list[str] = []

    async def wake(self, account_id: str, reason: str) -> bool:
        self.woken.append((account_id, reason))
        return True

    async def wake_all(self, reason: str) -> int:
        self.woken_all.append(reason)
        return 1


@pytest.fixture
def broker(sim: SimulatorServer) -> ScenarioBuilder:
    builder = ScenarioBuilder(sim.url)
    builder.set_clock(datetime.now(UTC).replace(microsecond=0))
    builder.configure(event_heartbeat_seconds=0.2, event_poll_seconds=0.02)
    return builder


@pytest.fixture
def settings(tmp_path: Path) -> ListenerSettings:
    return ListenerSettings(
        streams=["transfers"],
        cursor_file=tmp_path / "cursor.json",
        heartbeat_timeout_seconds=1.0,
        reconnect_min_seconds=0.05,
        reconnect_max_seconds=0.2,
    )


Start = Callable[..., Awaitable[EventListener]]


@pytest.fixture
async def running() -> AsyncIterator[dict[int, asyncio.Task[None]]]:
    tasks: dict[int, asyncio.Task[None]] = {}
    yield tasks
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)


@pytest.fixture
def start(sim: SimulatorServer, settings: ListenerSettings, running: dict[int, asyncio.Task[None]]) -> Start:
    async def start_listener(closures: Closures, **changes: Any) -> EventListener:
        source = StreamSource(sim.url, (DEMO_KEY, DEMO_SECRET), heartbeat_timeout=1.0)
        listener = EventListener(
            settings.model_copy(update=changes), source, closures.wake, closures.wake_all
        )
        running[id(listener)] = asyncio.create_task(listener.run())
        await asyncio.sleep(0.3)  # connected
        return listener

    return start_listener


def _transfer_changes(broker: ScenarioBuilder) -> list[tuple[str, str]]:
    """What the listener should have woken, from the broker's own log."""
    return [
        (e["account_id"], f"transfer {e['transfer_id']} {e['status_from'] or '(new)'} -> {e['status_to']}")
        for e in broker.control("GET", "/events/transfers")
        if moves_a_closure("transfers", e)
    ]


async def _activity(broker: ScenarioBuilder, accounts: int = 2) -> None:
    """Accounts funded, a withdrawal each, walked to COMPLETE: a dozen transfer events or more."""
    for _ in range(accounts):
        seeded = await asyncio.to_thread(broker.funded_account, Decimal("500.00"))
        await asyncio.to_thread(broker.withdraw, seeded, "100.00")
    for _ in range(12):
        await asyncio.to_thread(broker.advance, 900)


async def _settled(closures: Closures, broker: ScenarioBuilder, within: float = 10) -> list[tuple[str, str]]:
    expected = _transfer_changes(broker)
    deadline = asyncio.get_running_loop().time() + within
    while sorted(closures.woken) != sorted(expected) and asyncio.get_running_loop().time() < deadline:
        if len(closures.woken) > len(expected):
            break
        await asyncio.sleep(0.05)
    return expected


def _faults(broker: ScenarioBuilder, *faults: dict[str, Any]) -> None:
    broker.control("POST", "/faults", {"stream_faults": list(faults)})


def _fired(broker: ScenarioBuilder) -> list[int]:
    return [f["fired"] for f in broker.control("GET", "/faults")["stream_faults"]]


def test_only_changes_that_move_a_closure_wake_it() -> None:
    def event(before: str, after: str) -> dict[str, Any]:
        return {"status_from": before, "status_to": after, "transfer_id": "t", "account_id": "a"}

    for before, after in [("", "QUEUED"), ("SENT_TO_CLEARING", "COMPLETE"), ("COMPLETE", "RETURNED")]:
        assert moves_a_closure("transfers", event(before, after)), (before, after)
    assert moves_a_closure("funding", {**event("SETTLED", "CANCELED"), "entity_type": "Transfer"})
    for before, after in [
        ("QUEUED", "SENT_TO_CLEARING"),
        ("QUEUED", "APPROVAL_PENDING"),
        ("pending", "settled"),
    ]:
        assert not moves_a_closure("transfers", event(before, after)), (before, after)
    assert moves_a_closure("accounts", event("ACTIVE", "APPROVAL_PENDING"))


async def test_every_transfer_change_wakes_its_closure_once(broker: ScenarioBuilder, start: Start) -> None:
    closures = Closures()
    listener = await start(closures)
    await _activity(broker)
    expected = await _settled(closures, broker)
    assert len(expected) >= 6  # each transfer appearing, and completing; its moves in flight wake nobody
    assert listener.counts["quiet"] >= 4
    assert sorted(closures.woken) == sorted(expected)
    assert listener.counts["duplicate"] == 0
    assert listener.counts["reconnect"] == 0


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop", "after_events": 3, "count": 2},
        {"kind": "slow_reader", "after_events": 4, "dropped": 3},
        {"kind": "silence", "after_events": 2, "seconds": 3},
    ],
    ids=["dropped", "slow_reader", "silent"],
)
async def test_a_stream_that_stops_is_read_again_from_the_cursor_missing_nothing(
    broker: ScenarioBuilder, start: Start, fault: dict[str, Any]
) -> None:
    _faults(broker, fault)
    closures = Closures()
    listener = await start(closures)
    await _activity(broker)
    expected = await _settled(closures, broker, within=15)
    assert _fired(broker) == [fault.get("count", 1)]
    assert sorted(closures.woken) == sorted(expected)  # none missed, none twice
    assert listener.counts["reconnect"] >= fault.get("count", 1)
    assert listener.counts["duplicate"] >= 1  # the overlap was read again and recognised


async def test_duplicates_reordering_and_unknown_kinds(broker: ScenarioBuilder, start: Start) -> None:
    _faults(
        broker,
        {"kind": "duplicate", "after_events": 1, "count": 3},
        {"kind": "reorder", "after_events": 5},
        {"kind": "unknown_event", "after_events": 2, "count": 2},
    )
    closures = Closures()
    listener = await start(closures)
    await _activity(broker)
    expected = await _settled(closures, broker)
    assert _fired(broker) == [3, 1, 2]
    assert sorted(closures.woken) == sorted(expected)
    assert listener.counts["duplicate"] == 3
    assert listener.counts["unknown"] == 2


async def test_a_restarted_listener_resumes_from_its_cursor(
    broker: ScenarioBuilder, start: Start, running: dict[int, asyncio.Task[None]]
) -> None:
    first = Closures()
    before = await start(first)
    await _activity(broker, accounts=1)
    await _settled(first, broker)
    assert len(first.woken) >= 3
    running.pop(id(before)).cancel()
    await asyncio.sleep(0.2)
    await _activity(broker, accounts=1)  # while no listener runs
    second = Closures()
    after = await start(second)
    expected = _transfer_changes(broker)
    for _ in range(100):
        if len(first.woken) + len(second.woken) >= len(expected):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert sorted(first.woken + second.woken) == sorted(expected)  # nothing missed, nothing twice
    assert second.woken
    assert after.counts["duplicate"] >= 1
    assert second.woken_all == []


async def test_a_cursor_older_than_the_broker_keeps_wakes_every_closure(
    broker: ScenarioBuilder, start: Start, settings: ListenerSettings
) -> None:
    old = (datetime.now(UTC) - timedelta(days=45)).isoformat()
    settings.cursor_file.write_text(json.dumps({"transfers": {"at": old, "recent": {}}}))
    closures = Closures()
    await start(closures)
    assert closures.woken_all == ["the transfers stream's cursor is older than the broker keeps events"]


async def test_journal_events_wake_both_accounts(broker: ScenarioBuilder, start: Start) -> None:
    from alpaca.broker.enums import JournalEntryType
    from alpaca.broker.requests import CreateJournalRequest

    closures = Closures()
    await start(closures, streams=["journals"])
    firm = await asyncio.to_thread(broker.funded_account, Decimal("500.00"))
    customer = await asyncio.to_thread(broker.funded_account, Decimal("5.00"))
    request = CreateJournalRequest(
        from_account=firm.account_id,
        to_account=customer.account_id,
        entry_type=JournalEntryType.CASH,
        amount=10,
    )
    await asyncio.to_thread(broker.broker.create_journal, request)
    for _ in range(40):
        if len(closures.woken) >= 4:
            break
        await asyncio.sleep(0.05)
    assert {account for account, _ in closures.woken} == {firm.account_id, customer.account_id}
    assert [reason.split()[-1] for _, reason in closures.woken] == ["queued"] * 2 + ["executed"] * 2


async def test_a_wake_for_an_account_without_a_closure_is_no_error(env: WorkflowEnvironment) -> None:
    assert await temporal_wake(env.client)("no-such-account", "transfer x (new) -> QUEUED") is False

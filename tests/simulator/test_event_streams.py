"""The broker's event streams: Alpaca's wire format, cursors and rules, read by alpaca-py and raw; and the
control plane's stream faults (a dropped or silent stream, duplicates, reordering, an unknown event kind,
a slow reader), each of which must be seen to fire."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from alpaca.broker.requests import GetEventsRequest

from simulator.events import ulid_time
from simulator.scenarios import DEMO_KEY, DEMO_SECRET, ScenarioBuilder, SeededAccount
from simulator.server import SimulatorServer
from tests.support import ny

AUTH = {"Authorization": "Basic " + base64.b64encode(f"{DEMO_KEY}:{DEMO_SECRET}".encode()).decode()}
TRANSFERS = "/v1/events/transfers/status"


@pytest.fixture
def broker(sim: SimulatorServer) -> ScenarioBuilder:
    builder = ScenarioBuilder(sim.url)
    builder.set_clock(ny(2025, 1, 6, 9, 45))  # a Monday, ACH open
    builder.configure(event_heartbeat_seconds=0.2, event_poll_seconds=0.02)
    return builder


class Listener:
    """A raw SSE client on its own thread: every line the stream sends, comments included."""

    def __init__(self, url: str, params: dict[str, Any] | None = None) -> None:
        self.lines: list[str] = []
        self.arrivals: list[float] = []
        self.ended = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, params or {}), daemon=True)
        self._thread.start()

    def _read(self, url: str, params: dict[str, Any]) -> None:
        try:
            with httpx.stream("GET", url, params=params, headers=AUTH, timeout=30) as response:
                for line in response.iter_lines():
                    self.lines.append(line)
                    self.arrivals.append(time.monotonic())
                    if self._stop.is_set():
                        return
        finally:
            self.ended.set()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line[len("data: ") :]) for line in self.lines if line.startswith("data: ")]

    def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count and time.monotonic() < deadline and not self.ended.is_set():
            time.sleep(0.02)
        return self.events()

    def close(self) -> None:
        self._stop.set()


@pytest.fixture
def listen(sim: SimulatorServer) -> Iterator[Any]:
    opened: list[Listener] = []

    def open_listener(path: str = TRANSFERS, **params: Any) -> Listener:
        opened.append(Listener(sim.url + path, params))
        time.sleep(0.2)  # connected before the test acts
        return opened[-1]

    yield open_listener
    for listener in opened:
        listener.close()


def _walked(broker: ScenarioBuilder, amount: str = "400.00") -> tuple[SeededAccount, str]:
    seeded = broker.funded_account(Decimal("1000.00"))
    transfer_id = str(broker.withdraw(seeded, amount).id)
    for _ in range(30):
        broker.advance(300)
    return seeded, transfer_id


def _stream_faults(broker: ScenarioBuilder, *faults: dict[str, Any]) -> None:
    broker.control("POST", "/faults", {"stream_faults": list(faults)})


def _fired(broker: ScenarioBuilder) -> list[int]:
    return [f["fired"] for f in broker.control("GET", "/faults")["stream_faults"]]


def test_alpaca_py_reads_a_transfers_history_in_the_wire_format(broker: ScenarioBuilder) -> None:
    seeded, transfer_id = _walked(broker)
    last = broker.control("GET", "/events/transfers")[-1]["event_id"]
    raw = list(broker.broker.get_transfer_events(GetEventsRequest(since_id=1, until_id=last)))
    events = [json.loads(item) for item in raw]
    walk = [e for e in events if e["transfer_id"] == transfer_id]
    assert [(e["status_from"], e["status_to"]) for e in walk] == [
        ("", "QUEUED"),
        ("QUEUED", "APPROVAL_PENDING"),
        ("APPROVAL_PENDING", "PENDING"),
        ("PENDING", "SENT_TO_CLEARING"),
        ("SENT_TO_CLEARING", "APPROVED"),
        ("APPROVED", "COMPLETE"),
    ]
    assert set(walk[0]) == {
        "account_id",
        "at",
        "event_id",
        "event_ulid",
        "status_from",
        "status_to",
        "transfer_id",
    }
    assert all(e["account_id"] == seeded.account_id for e in walk)
    ids = [e["event_id"] for e in events]
    assert ids == list(range(1, last + 1))  # history in order, ending at until_id
    for event in walk:  # a ULID names its event's millisecond
        at = datetime.fromisoformat(event["at"])
        assert abs(ulid_time(event["event_ulid"]) - at) < timedelta(milliseconds=1)


def test_without_a_cursor_there_is_no_history_only_what_happens_next(
    broker: ScenarioBuilder, listen: Any
) -> None:
    _walked(broker)
    listener = listen()
    seeded = broker.funded_account(Decimal("50.00"))
    transfer = broker.withdraw(seeded, "20.00")
    time.sleep(0.5)
    events = listener.events()
    assert events
    assert all(e["account_id"] == seeded.account_id for e in events)
    assert (str(transfer.id), "", "QUEUED") in [
        (e["transfer_id"], e["status_from"], e["status_to"]) for e in events
    ]
    assert ":heartbeat" in listener.lines


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"until": "2025-01-07"}, "since is required"),
        ({"until_id": "5"}, "since_id is required"),
        ({"until_ulid": "01JGZ0000000000000000000000"[:26]}, "since_ulid is required"),
        ({"since": "2025-01-06", "since_id": "1"}, "cannot be used at the same time"),
        ({"since_id": "five"}, "since_id must be an integer"),
        ({"since_ulid": "not-a-ulid"}, "since_ulid must be a ULID"),
        ({"since": "Monday"}, "since must be a date"),
    ],
)
def test_cursor_rules_are_refused_with_a_reason(
    sim: SimulatorServer, params: dict[str, str], reason: str
) -> None:
    answer = httpx.get(sim.url + TRANSFERS, params=params, headers=AUTH)
    assert answer.status_code == 400
    assert reason in answer.json()["message"]


def test_since_and_until_dates_bound_the_history_and_end_the_stream(broker: ScenarioBuilder) -> None:
    _walked(broker)
    broker.advance(2 * 86400)  # Wednesday: the Monday's stream is over
    raw = broker.broker.get_transfer_events(GetEventsRequest(since="2025-01-06", until="2025-01-06"))
    monday = [json.loads(item) for item in raw]
    assert monday
    assert all(e["at"].startswith("2025-01-06") for e in monday)
    raw = broker.broker.get_transfer_events(GetEventsRequest(since="2025-01-07", until="2025-01-07"))
    assert list(raw) == []


def test_a_ulid_cursor_serves_in_ulid_order_from_the_cursor(broker: ScenarioBuilder, listen: Any) -> None:
    _walked(broker)
    everything = broker.control("GET", "/events/transfers")
    cursor = sorted(e["event_ulid"] for e in everything)[3]
    last = max(e["event_ulid"] for e in everything)
    listener = listen(since_ulid=cursor, until_ulid=last)
    assert listener.ended.wait(10)
    served = [e["event_ulid"] for e in listener.events()]
    assert served == sorted(u for u in (e["event_ulid"] for e in everything) if u >= cursor)


def test_a_cursor_older_than_the_stream_keeps_finds_the_oldest_kept(broker: ScenarioBuilder) -> None:
    _walked(broker)  # Monday
    broker.advance(3 * 86400)
    seeded = broker.funded_account(Decimal("10.00"))  # Thursday
    broker.configure(event_history_days=1)
    kept = broker.control("GET", "/events/transfers")
    newest = kept[-1]["event_id"]
    raw = broker.broker.get_transfer_events(GetEventsRequest(since_id=1, until_id=newest))
    served = [json.loads(item) for item in raw]
    assert served
    assert served[0]["event_id"] > 1
    assert {e["account_id"] for e in served} == {seeded.account_id}


def test_account_trade_journal_and_funding_streams(broker: ScenarioBuilder, listen: Any) -> None:
    accounts = listen("/v1/events/accounts/status")
    trades = listen("/v1/events/trades")
    journals = listen("/v1/events/journals/status")
    funding = listen("/v2/events/funding/status")
    seeded = broker.funded_account(Decimal("1000.00"))
    broker.buy(seeded, "AAPL", Decimal("1"))
    firm = broker.funded_account(Decimal("500.00"))
    broker.broker.create_journal(_cash_journal(firm.account_id, seeded.account_id))
    broker.broker.close_account(seeded.account_id)

    opened, _, closed = accounts.wait_for(3)  # the firm's account opened between
    assert (opened["status_from"], opened["status_to"]) == ("", "ACTIVE")
    assert (closed["status_from"], closed["status_to"]) == ("ACTIVE", "ACCOUNT_CLOSED")
    assert closed["account_number"] == opened["account_number"]
    new, fill = trades.wait_for(2)
    assert (new["event"], fill["event"]) == ("new", "fill")
    assert fill["order"]["status"] == "filled"
    assert new["order"]["status"] == "accepted"
    assert fill["qty"] == "1"
    assert fill["position_qty"] == "1"
    assert Decimal(fill["price"]) > 0
    kinds = {(e["entity_type"], e["status_to"]) for e in funding.wait_for(3)}
    assert {("BankRelationship", "QUEUED"), ("Transfer", "QUEUED")} <= kinds
    assert all(isinstance(e["event_id"], str) for e in funding.events())  # v2: ULIDs only
    queued, executed = journals.wait_for(2)  # $10 is under the instant limit
    assert (queued["status_from"], queued["status_to"], executed["status_to"]) == ("", "queued", "executed")
    assert set(queued) == {
        "at",
        "entry_type",
        "event_id",
        "event_ulid",
        "journal_id",
        "status_from",
        "status_to",
    }


def _cash_journal(source: str, target: str) -> Any:
    from alpaca.broker.enums import JournalEntryType
    from alpaca.broker.requests import CreateJournalRequest

    return CreateJournalRequest(
        from_account=source, to_account=target, entry_type=JournalEntryType.CASH, amount=10
    )


def test_a_dropped_stream_ends_after_its_events(broker: ScenarioBuilder, listen: Any) -> None:
    _stream_faults(broker, {"kind": "drop", "stream": "transfers", "after_events": 2})
    listener = listen()
    broker.funded_account(Decimal("10.00"))
    broker.withdraw(broker.funded_account(Decimal("10.00")), "5.00")
    assert listener.ended.wait(10)
    assert len(listener.events()) == 2
    assert _fired(broker) == [1]


def test_a_silent_stream_sends_nothing_not_even_heartbeats(broker: ScenarioBuilder, listen: Any) -> None:
    _stream_faults(broker, {"kind": "silence", "seconds": 1.5})
    listener = listen()
    time.sleep(1.0)
    assert listener.lines == []  # heartbeats every 0.2 s otherwise
    assert _fired(broker) == [1]
    time.sleep(1.0)
    assert ":heartbeat" in listener.lines


def test_duplicates_reordering_and_an_unknown_kind(broker: ScenarioBuilder, listen: Any) -> None:
    _stream_faults(
        broker,
        {"kind": "duplicate", "after_events": 0},
        {"kind": "reorder", "after_events": 1},
        {"kind": "unknown_event", "after_events": 3},
    )
    listener = listen()
    for _ in range(4):
        broker.funded_account(Decimal("10.00"))
    events = listener.wait_for(6)
    ids = [e.get("event_id") for e in events]
    assert ids[:6] == [1, 1, 3, 2, None, 4]
    unknown = events[4]
    assert unknown["event_type"] == "simulated_unknown_kind"
    assert "transfer_id" not in unknown
    assert _fired(broker) == [1, 1, 1]


def test_a_slow_reader_is_told_how_many_it_lost(broker: ScenarioBuilder, listen: Any) -> None:
    _stream_faults(broker, {"kind": "slow_reader", "after_events": 1, "dropped": 2})
    listener = listen()
    for _ in range(4):
        broker.funded_account(Decimal("10.00"))
    events = listener.wait_for(2)
    assert [e["event_id"] for e in events][:2] == [1, 4]
    assert ": you are reading too slowly, dropped 2 messages" in listener.lines
    assert _fired(broker) == [1]


def test_an_unreadable_stream_fault_is_refused(broker: ScenarioBuilder) -> None:
    with pytest.raises(RuntimeError, match="422"):
        _stream_faults(broker, {"kind": "hiccup"})
    with pytest.raises(RuntimeError, match="422"):
        _stream_faults(broker, {"kind": "drop", "stream": "orders"})


def test_more_than_25_open_streams_are_too_many(broker: ScenarioBuilder, listen: Any) -> None:
    listeners = [listen() for _ in range(25)]
    refused = httpx.get(broker.base_url + TRANSFERS, headers=AUTH)
    assert refused.status_code == 429
    listeners[0].close()
    assert listeners[0].ended.wait(5)
    time.sleep(0.2)
    with httpx.stream("GET", broker.base_url + TRANSFERS, headers=AUTH) as again:
        assert again.status_code == 200

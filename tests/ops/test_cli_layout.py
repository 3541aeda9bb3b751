"""The CLI at 80 columns: ids whole (never cut to "…"), every time with its zone and whose clock it is."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rich.console import Console

import ops.cli
from closure.phases import ClosurePhase
from closure.progress import Attention, TransferRecord
from tests.support import progress_snapshot
from workflows.client import ClosureSummary

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WHEN = datetime(2026, 12, 1, 15, 4, tzinfo=UTC)


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(ops.cli, "console", Console(file=out, width=80, color_system=None))
    return out


def _ids_whole(text: str, ids: list[str]) -> None:
    assert "…" not in text
    for found in ids:
        assert any(found in line for line in text.splitlines()), (found, text)


def test_list_keeps_every_account_id_whole_at_80_columns(screen: io.StringIO) -> None:
    found = [
        ClosureSummary(
            workflow_id=f"account-closure-{a}",
            run_id=None,
            account_id=a,
            phase=ClosurePhase.WITHDRAWAL_24HR_WAIT,
            needs_attention=False,
            status="RUNNING",
            started_at=WHEN,
            closed_at=None,
        )
        for a in (str(uuid.uuid4()) for _ in range(3))
    ]
    Console(file=screen, width=80, color_system=None).print(ops.cli.closures_table(found))
    text = screen.getvalue()
    _ids_whole(text, [c.account_id or "" for c in found])
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "started (UTC," in text, text  # the heading says the zone...
    assert "Temporal)" in text, text  # ...and whose clock
    assert "15:04" in text, text


def test_status_keeps_transfer_ids_whole_and_labels_every_time(screen: io.StringIO) -> None:
    account = str(uuid.uuid4())
    progress = progress_snapshot(account, ClosurePhase.NEEDS_ATTENTION, sequence=3)
    transfers = [
        TransferRecord(
            chunk=n,
            chunk_key=f"k{n}",
            transfer_id=str(uuid.uuid4()),
            amount=Decimal("50000.00"),
            status="COMPLETE",
            initiated_at=WHEN,
        )
        for n in (1, 2, 3)
    ]
    attention = Attention(
        reason="the bank refused it",
        error_type="TransferFailed",
        resume_phase=ClosurePhase.WITHDRAWAL,
        since=WHEN,
    )
    progress = progress.model_copy(
        update={"transfers": transfers, "attention": attention, "next_action_at": WHEN}
    )
    ops.cli.show_status(progress, "http://localhost:8233/namespaces/default/workflows/x")
    text = screen.getvalue()
    _ids_whole(text, [account, *(t.transfer_id for t in transfers)])
    assert all(len(line) <= 80 for line in text.splitlines() if "Temporal UI" not in line), text
    times = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d( UTC \([a-z ]+\))?", text)
    assert times, text
    assert all(label for label in times), f"a time without its zone and clock: {text}"
    assert "UTC (broker clock)" in text
    assert "UTC (workflow clock)" in text

"""Recorded histories of the main scenarios replay against the current workflow code.

A change that fails here would break closures already running: put it behind `workflow.patched()`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import SEALED
from workflows.account_closure import AccountClosureWorkflow

HISTORIES = {p.stem: p.read_text() for p in sorted((Path(__file__).parent / "histories").glob("*.json"))}


def test_the_main_scenarios_are_recorded() -> None:
    assert set(HISTORIES) >= {
        "legacy_150k",
        "rejected_then_retried",
        "cancelled_while_market_closed",
        "returned_in_watch",
        "late_create_adopted",
    }


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", HISTORIES[name])
    replayer = Replayer(workflows=[AccountClosureWorkflow], data_converter=SEALED)
    await replayer.replay_workflow(history)

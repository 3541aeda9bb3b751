"""The closure-cost bench's goals, held in every test run: `make bench-cost` prints the same figures.

The legacy $150,000 closure and a $1,000,000 one on the time-skipping server with production durations,
counted from the simulator's request log and the closure's history across every run.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest

from bench.closure_cost import one_closure


@pytest.mark.parametrize(
    ("amount", "calls", "events"), [(Decimal("150000"), 50, 250), (Decimal("1000000"), 250, 1200)]
)
async def test_a_closure_stays_within_its_broker_call_and_history_budgets(
    amount: Decimal, calls: int, events: int, executor: ThreadPoolExecutor
) -> None:
    cost = await one_closure(amount, executor)

    assert cost.phase == "completed"
    assert sum(cost.calls.values()) <= calls, cost.calls
    assert cost.events <= events, (cost.events, cost.activities)
    assert cost.over is not None
    assert cost.legacy_over is not None
    # The close comes within a minute of the earliest the broker's timeline allows; the legacy design's later.
    assert cost.over <= timedelta(minutes=1), cost.over
    assert cost.legacy_over > timedelta(hours=5), cost.legacy_over

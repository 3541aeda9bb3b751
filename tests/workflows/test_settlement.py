"""Settlement slower than the alert threshold: ops hears about it, the closure keeps waiting, then completes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from simulator.server import SimulatorServer
from tests.support import NEW_YORK, closure_lab, ny


async def test_slow_settlement_alerts_after_three_business_days_and_completes(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 3, 10, 9, 45)) as lab:
        lab.broker.configure(settlement_days=5)
        lab.broker.set_prices({"VOO": Decimal("500.00")})
        account = lab.broker.funded_account(Decimal("30000.00"))
        lab.broker.buy(account, "VOO", Decimal("40"))  # all but $10,000 in shares
        lab.broker.advance((ny(2025, 3, 10, 13, 0) - lab.broker.now()).total_seconds())  # sold Monday 13:00
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))

        assert progress.phase == ClosurePhase.COMPLETED
        alerts = [a for a in progress.alerts if a.kind == "settlement_slow"]
        assert len(alerts) == 1, progress.alerts
        assert "$20,000.00 is still unsettled after 3 business days" in alerts[0].message
        settlement = [h for h in progress.history if h.phase == ClosurePhase.SETTLEMENT]
        withdrawal = [h for h in progress.history if h.phase == ClosurePhase.WITHDRAWAL]
        settled_from, withdrawn_from = settlement[0].broker_at, withdrawal[0].broker_at
        assert settled_from is not None
        assert withdrawn_from is not None
        waited = withdrawn_from - settled_from
        assert waited.days >= 6, f"settled T+5 (a Monday), the closure waited only {waited}"
        alert_at = alerts[0].at - progress.history[0].at
        assert 3 <= alert_at.days < 4  # Thursday: three business days after Monday
        last = datetime.fromisoformat(
            lab.outgoing(account.account_id)[-1]["created_at"].replace("Z", "+00:00")
        )
        assert last.astimezone(NEW_YORK) >= ny(2025, 3, 17, 8, 0)
        lab.assert_invariants(account.account_id, progress)

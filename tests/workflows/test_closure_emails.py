"""The emails a closure sends, through real boto3 HTTP calls to moto's SES server: the right ones, once each."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.progress import RetryRequest
from runtime.settings import AlertSettings
from simulator.scenarios import SeededAccount
from simulator.server import SimulatorServer
from tests.adapters.email.moto_ses import MotoSes, SentEmail
from tests.adapters.webhook.receiver import webhook_receiver
from tests.support import ClosureLab, closure_lab, ny
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import StartedClosure


class _Text(HTMLParser):
    """Parses the HTML (raising on nothing, like a mail client) and keeps its visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.tags: Counter[str] = Counter()
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.chunks.append(" ".join(data.split()))

    @classmethod
    def of(cls, html: str) -> _Text:
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser

    @property
    def text(self) -> str:
        return " ".join(self.chunks)


def _same_facts(sent: SentEmail, facts: list[str]) -> None:
    html, text = _Text.of(sent.part("html")), sent.part("plain")
    assert html.tags["table"] >= 2, "table layout"
    assert "<script" not in sent.part("html")
    for fact in facts:
        assert fact in html.text, (fact, sent.subject)
        assert fact in text, (fact, sent.subject)


async def _parked_by_a_rejected_transfer(
    lab: ClosureLab, cash: Decimal
) -> tuple[SeededAccount, StartedClosure]:
    """A closure whose first transfer the bank rejects (R02), waiting for an operator."""
    account = lab.broker.funded_account(cash)
    lab.broker.faults(
        [], [{"status": "REJECTED", "nth": 1, "account_id": account.account_id, "reason": "R02"}]
    )
    lab.follow_temporal()
    started = await lab.start(account)
    await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)
    return account, started


async def test_the_150k_closure_sends_each_customer_email_once(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, ses: MotoSes
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 1, 6, 7, 0), ses_endpoint=ses.url) as lab:
        account = lab.broker.funded_account(Decimal("150000.00"))
        lab.follow_temporal()
        started = await lab.start(account)
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        sent = ses.sent()
        keys = [s.key.rsplit(":email:", 1)[1] for s in sent]
        assert sorted(keys) == ["completion", "initiation", "transfer:1", "transfer:2", "transfer:3"]
        assert [s.to for s in sent] == [[account.email]] * 5
        by_key = dict(zip(keys, sent, strict=True))

        initiation = by_key["initiation"]
        assert initiation.subject == f"We're closing your account ({started.confirmation_number})"
        _same_facts(initiation, [started.confirmation_number, "$150,000.00", "••••6789", "3 transfer(s)"])
        _same_facts(by_key["transfer:2"], ["$50,000.00", "••••6789", "$100,000.00", "$50,000.00"])
        _same_facts(by_key["transfer:3"], ["This is the last transfer"])
        _same_facts(
            by_key["completion"], ["$150,000.00", "••••6789", started.confirmation_number, "Your transfers"]
        )
        for email in sent:  # masked everywhere: no account or bank number in full
            assert account.account_id not in email.part("html")
            assert "000123456789" not in email.part("html") + email.part("plain")
        lab.assert_invariants(account.account_id, progress)
        record = lab.records.by_account(account.account_id)
        assert record is not None
        assert record.status == "closed"
        assert record.account_closure_initiated_at is not None


async def test_needs_attention_alerts_ops_by_email(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, ses: MotoSes
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0), ses_endpoint=ses.url) as lab:
        account, started = await _parked_by_a_rejected_transfer(lab, Decimal("60000.00"))
        await lab.until(
            started.handle, lambda p: len(ses.sent()) >= 3, step=lab.policy.liquidation_poll_interval
        )

        record = lab.records.by_account(account.account_id)
        assert record is not None
        assert (record.status, record.account_closure_needs_attention) == ("pending_closure", True)
        [alert] = [s for s in ses.sent() if "ops_alert" in s.key]
        assert alert.to == ["ops@example.com"]
        assert alert.subject.startswith("[closure needs_attention]")
        _same_facts(alert, [account.account_id, "TransferFailed", "R02", "--name retry", started.workflow_id])

        await started.handle.execute_update(AccountClosureWorkflow.retry, RetryRequest(operator="ops"))
        progress = await lab.finish(started)
        assert progress.phase == ClosurePhase.COMPLETED
        keys = sorted(s.key.rsplit(":email:", 1)[1] for s in ses.sent())
        assert keys == ["completion", "initiation", "ops_alert:1", "transfer:1", "transfer:2", "transfer:3"]
        closed = lab.records.by_account(account.account_id)
        assert closed is not None
        assert (closed.status, closed.account_closure_needs_attention) == ("closed", False)


async def test_the_transfer_email_expects_the_money_after_the_holiday_and_the_weekend(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, ses: MotoSes
) -> None:
    # Sent on Wednesday 23 December 2026 after the 2 PM cut-off: the ACH starts on Thursday 24; Friday 25 is
    # Christmas, then the weekend; three bank days on is Wednesday 30 (weekends alone would say Tuesday 29,
    # and the UTC date of a late-evening send one day more).
    async with closure_lab(env, sim, executor, seed_at=ny(2026, 12, 23, 13, 0), ses_endpoint=ses.url) as lab:
        account = lab.broker.funded_account(Decimal("20000.00"))
        lab.follow_temporal()
        started = await lab.start(account)
        await lab.until(started.handle, lambda p: len(p.transfers) == 1)
        await lab.until(
            started.handle,
            lambda p: any("transfer:1" in s.key for s in ses.sent()),
            step=lab.policy.liquidation_poll_interval,
        )
        progress = await started.handle.query(AccountClosureWorkflow.progress)
        [sent] = [s for s in ses.sent() if s.key.endswith(":email:transfer:1")]

    created = progress.transfers[0].initiated_at.astimezone(ny(2026, 1, 1, 0).tzinfo)
    assert (created.date(), created.hour >= 14) == (date(2026, 12, 23), True), created
    _same_facts(sent, ["Expected in your bank by", "Wednesday, December 30, 2026"])


async def test_needs_attention_reaches_the_ops_webhook_too_after_a_failed_try(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    with webhook_receiver(503) as receiver:
        alerts = AlertSettings(webhook_url=receiver.url, dead_letter_path=tmp_path / "dead.jsonl")
        async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0), alerts=alerts) as lab:
            account, started = await _parked_by_a_rejected_transfer(lab, Decimal("20000.00"))
            await lab.until(
                started.handle,
                lambda p: len(receiver.requests) >= 2,
                step=lab.policy.liquidation_poll_interval,
            )

    first, delivered = receiver.requests[:2]
    assert first.raw == delivered.raw
    assert delivered.headers["idempotency-key"] == f"{started.workflow_id}:email:ops_alert:1"
    assert delivered.body["text"].startswith(f"[closure needs_attention] {account.account_id}: ")
    assert "R02" in delivered.body["blocks"][0]["text"]["text"]
    assert not (tmp_path / "dead.jsonl").exists()

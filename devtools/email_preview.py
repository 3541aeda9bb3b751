"""`python -m devtools.email_preview [--out DIR]`: every email, rendered with sample data, to look at.

Writes `<kind>.html`, `<kind>.txt` and `<kind>.eml` per email; open the .html files in a browser or the
.eml files in a mail client.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from adapters.email.render import Brand, Facts, render
from adapters.email.senders import OutboxBackend, OutgoingEmail
from closure.email_facts import (
    ClosureEstimate,
    CompletionFacts,
    InitiationFacts,
    OpsAlertFacts,
    TransferFacts,
    TransferLine,
)

CONFIRMATION = "CLA-7K2QX-M9PRT"
SENT = [datetime(2025, 1, 6, 15, 0, tzinfo=UTC), datetime(2025, 1, 7, 15, 0, tzinfo=UTC)]


def samples() -> list[Facts]:
    return [
        InitiationFacts(
            confirmation_number=CONFIRMATION,
            cash=Decimal("123456.78"),
            positions=3,
            open_orders=1,
            bank_last4="6789",
            daily_limit=Decimal("50000.00"),
            estimate=ClosureEstimate(
                transfers=3,
                earliest=date(2025, 1, 10),
                latest=date(2025, 1, 14),
                steps=[
                    "Cancel open orders and sell your 3 position(s) when the market opens on Monday, January 6.",
                    "Wait one business day for the sales to settle (T+1), until Tuesday, January 7.",
                    "Send about $123,456.78 in 3 transfer(s) of up to $50,000.00, one a day, from Tuesday, January 7.",
                    "Close the account once the last transfer has reached your bank (usually 1–3 business days).",
                ],
            ),
        ),
        TransferFacts(
            confirmation_number=CONFIRMATION,
            chunk=2,
            amount=Decimal("50000.00"),
            bank_last4="6789",
            initiated_at=SENT[1],
            expected_by=date(2025, 1, 10),
            sent_so_far=Decimal("100000.00"),
            remaining=Decimal("23456.78"),
        ),
        CompletionFacts(
            confirmation_number=CONFIRMATION,
            total_withdrawn=Decimal("123456.78"),
            transfers=[
                TransferLine(chunk=1, amount=Decimal("50000.00"), initiated_at=SENT[0], status="COMPLETE"),
                TransferLine(chunk=2, amount=Decimal("50000.00"), initiated_at=SENT[1], status="COMPLETE"),
                TransferLine(
                    chunk=3,
                    amount=Decimal("23456.78"),
                    initiated_at=datetime(2025, 1, 8, 15, 0, tzinfo=UTC),
                    status="COMPLETE",
                ),
            ],
            bank_last4="6789",
            closed_on=date(2025, 1, 10),
        ),
        OpsAlertFacts(
            account_id="7224a492-b825-4000-acba-d3bd4783d03b",
            workflow_id="account-closure-7224a492-b825-4000-acba-d3bd4783d03b",
            confirmation_number=CONFIRMATION,
            phase="withdrawal_24hr_wait",
            alert="needs_attention",
            reason="TransferFailed: transfer 2 (c6e83e2b-…, $50,000.00) ended REJECTED: R01 insufficient funds",
            since=datetime(2025, 1, 7, 15, 17, tzinfo=UTC),
            what_to_do=[
                "Read the reason above and fix its cause at the broker or with the customer.",
                "Then retry with the workflow's `retry` update.",
            ],
        ),
    ]


def write_previews(folder: Path, brand: Brand | None = None) -> list[Path]:
    outbox = OutboxBackend(folder)
    for facts in samples():
        rendered = render(facts, "Jordan", brand or Brand())
        outbox.deliver(
            OutgoingEmail(
                message_key=facts.kind,
                kind=facts.kind,
                sender="Northwind Brokerage <closures@example.com>",
                to=("jordan.rivera@example.com",),
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
            )
        )
    return sorted(folder.glob("*.html"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.email_preview", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(".data/email-preview"))
    args = parser.parse_args(argv)
    for path in write_previews(args.out):
        print(path)


if __name__ == "__main__":
    main()

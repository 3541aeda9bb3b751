"""Every email renders to HTML a mail client can lay out, with a text part that says the same."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from email import message_from_string
from html.parser import HTMLParser
from pathlib import Path

import pytest

from adapters.email.render import Brand, render
from closure.broker_types import AccountView, BrokerClock, PositionView
from closure.estimate import estimate
from closure.policy import ClosurePolicy
from devtools.email_preview import samples, write_previews
from tests.support import ny


class _Balance(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.opened: Counter[str] = Counter()
        self.closed: Counter[str] = Counter()
        self.styled_cells = 0
        self.cells = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.opened[tag] += 1
        if tag == "td":
            self.cells += 1
            self.styled_cells += any(name == "style" for name, _ in attrs)

    def handle_endtag(self, tag: str) -> None:
        self.closed[tag] += 1

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(" ".join(data.split()))


@pytest.mark.parametrize("facts", samples(), ids=lambda f: f.kind)
def test_each_email_renders_balanced_inline_styled_html_and_a_matching_text_part(facts: object) -> None:
    rendered = render(facts, "Jordan", Brand())  # type: ignore[arg-type]
    parser = _Balance()
    parser.feed(rendered.html)
    parser.close()
    assert parser.opened == parser.closed, "every element is closed"
    assert parser.opened["table"] >= 2
    assert parser.styled_cells == parser.cells, "inline CSS on every cell: many clients drop <style>"
    assert 'name="viewport"' in rendered.html
    html_text = " ".join(parser.text)
    for line in rendered.text.splitlines():
        for value in (part.strip() for part in line.split(":  ")[1:]):
            if value:
                assert value in html_text, f"{value!r} is in the text part but not the HTML"
    assert rendered.subject in rendered.html


def test_no_full_account_or_bank_number_appears() -> None:
    for facts in samples():
        rendered = render(facts, "Jordan", Brand())
        if facts.kind != "ops_alert":
            assert "••••6789" in rendered.html
            assert "••••6789" in rendered.text
        assert "000123456789" not in rendered.html + rendered.text


def test_the_preview_command_writes_every_email(tmp_path: Path) -> None:
    written = write_previews(tmp_path)
    assert [p.stem for p in written] == ["completion", "initiation", "ops_alert", "transfer_sent"]
    eml = message_from_string((tmp_path / "initiation.eml").read_text())
    assert [p.get_content_type() for p in eml.walk()] == ["multipart/alternative", "text/plain", "text/html"]


def _view(cash: str, positions: int, is_open: bool) -> AccountView:
    now = ny(2025, 1, 17, 18, 0) if not is_open else ny(2025, 1, 16, 11, 0)
    return AccountView(
        account_id="a",
        status="ACTIVE",
        cash=Decimal(cash),
        cash_withdrawable=Decimal(cash),
        long_market_value=Decimal("20000.00") if positions else Decimal("0"),
        positions=[PositionView(symbol=f"S{i}", qty=Decimal(1)) for i in range(positions)],
        clock=BrokerClock(
            now=now, is_open=is_open, next_open=ny(2025, 1, 21, 9, 30), next_close=ny(2025, 1, 21, 16)
        ),
    )


def test_the_estimate_follows_the_account() -> None:
    cash_only = estimate(_view("150000.00", 0, True), ClosurePolicy(), date(2025, 1, 16))
    assert cash_only.transfers == 3
    # Thursday, Friday, Saturday: the third starts Tuesday (Monday is Martin Luther King Day, banks shut).
    assert (cash_only.earliest, cash_only.latest) == (date(2025, 1, 22), date(2025, 1, 24))
    weekend = estimate(_view("40000.00", 2, False), ClosurePolicy(), date(2025, 1, 17))
    assert weekend.transfers == 2  # $40,000 cash + $20,000 of shares
    assert "when the market opens on Tuesday, January 21" in weekend.steps[0]
    empty = estimate(_view("0", 0, True), ClosurePolicy(), date(2025, 1, 16))
    assert (empty.transfers, empty.earliest, empty.latest) == (0, date(2025, 1, 16), date(2025, 1, 16))


def _flat_at(now: datetime, cash: str = "1000.00") -> AccountView:
    clock = BrokerClock(now=now, is_open=True, next_open=now, next_close=now)
    return AccountView(
        account_id="a", status="ACTIVE", cash=Decimal(cash), cash_withdrawable=Decimal(cash), clock=clock
    )


def test_the_estimate_follows_the_banking_calendar_and_the_ach_cut_off() -> None:
    # Friday before Columbus Day: the NYSE trades on Monday, the banks do not.
    morning = estimate(_flat_at(ny(2025, 10, 10, 10, 0)), ClosurePolicy(), date(2025, 10, 10))
    assert (morning.earliest, morning.latest) == (date(2025, 10, 14), date(2025, 10, 16))
    after_cut_off = estimate(_flat_at(ny(2025, 10, 10, 15, 0)), ClosurePolicy(), date(2025, 10, 10))
    assert "from Tuesday, October 14" in after_cut_off.steps[-2]
    assert (after_cut_off.earliest, after_cut_off.latest) == (date(2025, 10, 15), date(2025, 10, 17))

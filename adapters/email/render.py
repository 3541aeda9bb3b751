"""Render an email's subject, HTML and plain-text parts from its facts with Jinja2."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from closure.email_facts import CompletionFacts, InitiationFacts, OpsAlertFacts, TransferFacts
from closure.money import format_usd

Facts = InitiationFacts | TransferFacts | CompletionFacts | OpsAlertFacts


@dataclass(frozen=True)
class Brand:
    name: str = "Northwind Brokerage"
    support_email: str = "support@example.com"
    app_url: str = "https://app.example.com"


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


SUBJECTS = {
    "initiation": "We're closing your account ({confirmation_number})",
    "transfer_sent": "{amount} is on its way to your bank",
    "completion": "Your account is closed: {amount} sent to your bank",
    "ops_alert": "[closure {alert}] {account_id}: {phase}",
}


def _mask(value: str | None) -> str:
    return f"••••{value[-4:]}" if value else "your linked bank account"


def _day(value: date | datetime) -> str:
    return value.strftime("%A, %B %-d, %Y")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("adapters.email", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["usd"] = lambda v: format_usd(Decimal(v))
    env.filters["mask"] = _mask
    env.filters["day"] = _day
    return env


_ENV = _environment()


def _subject(facts: Facts) -> str:
    values: dict[str, Any] = facts.model_dump()
    if isinstance(facts, TransferFacts):
        values["amount"] = format_usd(facts.amount)
    if isinstance(facts, CompletionFacts):
        values["amount"] = format_usd(facts.total_withdrawn)
    return SUBJECTS[facts.kind].format(**values)


def render(facts: Facts, first_name: str | None, brand: Brand) -> Rendered:
    subject = _subject(facts)
    context = {"facts": facts, "first_name": first_name or "there", "brand": brand, "subject": subject}
    return Rendered(
        subject=subject,
        html=_ENV.get_template(f"{facts.kind}.html.j2").render(context),
        text=_ENV.get_template(f"{facts.kind}.txt.j2").render(context),
    )

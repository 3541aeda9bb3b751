"""Money is `Decimal`, in dollars with cents; the broker speaks it as strings."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Annotated

from pydantic import PlainSerializer

CENT = Decimal("0.01")
ZERO = Decimal("0")

# Serialised as a JSON string so no float ever touches an amount on the wire.
Money = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]


class InvalidAmount(ValueError):
    """An amount that is not a finite decimal number of dollars."""


def parse_money(raw: str | Decimal | int | None) -> Decimal:
    """Parse a broker amount ("123.45", None) into Decimal; None means zero."""
    if raw is None or raw == "":
        return ZERO
    if isinstance(raw, float):  # pragma: no cover - guarded by the type checker
        raise InvalidAmount(f"float amounts are refused: {raw!r}")
    try:
        value = Decimal(raw)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidAmount(f"not an amount: {raw!r}") from exc
    if not value.is_finite():
        raise InvalidAmount(f"not a finite amount: {raw!r}")
    return value


def cents(value: Decimal) -> Decimal:
    """Truncate to whole cents: never round a withdrawal up past what is there."""
    return value.quantize(CENT, rounding=ROUND_DOWN)


def format_usd(value: Decimal) -> str:
    """`$123,456.78` for people; the wire keeps plain strings."""
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value).quantize(CENT):,}"

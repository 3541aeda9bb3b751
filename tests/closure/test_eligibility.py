"""The one eligibility rule the API and the workflow share, and errors matched by class."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from closure.broker_types import AccountView, AchRelationshipView, BrokerClock, PositionView
from closure.eligibility import AccountStatus, ineligibility, is_closed
from closure.errors import (
    AccountAlreadyClosed,
    AccountBlocked,
    AccountIneligible,
    AccountNotActive,
    BrokerUnavailable,
    ClosureError,
    NoApprovedAchRelationship,
    UserRecordsUnavailable,
    error_class,
)

NOW = datetime(2025, 2, 3, 15, 0, tzinfo=UTC)
BANK = AchRelationshipView(id="rel-1", status="APPROVED", account_last4="6789")


def view(**changes: object) -> AccountView:
    base = AccountView(
        account_id="acct-1",
        status=AccountStatus.ACTIVE,
        cash=Decimal("1000.00"),
        approved_relationship=BANK,
        clock=BrokerClock(now=NOW, is_open=True, next_open=NOW, next_close=NOW),
    )
    return base.model_copy(update=changes)


def test_an_active_unblocked_account_with_a_bank_may_close() -> None:
    assert ineligibility(view()) is None
    assert not is_closed(view())


@pytest.mark.parametrize(
    ("changes", "kind", "says"),
    [
        ({"status": "ACCOUNT_CLOSED"}, AccountAlreadyClosed, "already closed"),
        ({"status": "DISABLED"}, AccountNotActive, "DISABLED, not ACTIVE"),
        ({"status": "SOMETHING_NEW"}, AccountNotActive, "SOMETHING_NEW"),
        ({"transfers_blocked": True}, AccountBlocked, "blocked"),
        ({"account_blocked": True}, AccountBlocked, "blocked"),
        ({"approved_relationship": None}, NoApprovedAchRelationship, "$1,000.00"),
        (
            {
                "approved_relationship": None,
                "cash": Decimal("0"),
                "positions": [PositionView(symbol="AAPL", qty=1)],
            },
            NoApprovedAchRelationship,
            "1 position(s)",
        ),
    ],
)
def test_each_refusal_has_its_own_typed_error_and_reason(
    changes: dict[str, object], kind: type[AccountIneligible], says: str
) -> None:
    refusal = ineligibility(view(**changes))
    assert type(refusal) is kind
    assert says in str(refusal)


def test_an_empty_account_needs_no_bank() -> None:
    assert ineligibility(view(cash=Decimal("0"), approved_relationship=None)) is None


def test_a_closed_account_reads_as_closed_from_the_enum_and_from_text() -> None:
    assert is_closed(view(status=AccountStatus.ACCOUNT_CLOSED))
    assert is_closed(view(status="ACCOUNT_CLOSED"))


def test_error_names_map_back_to_their_classes_wherever_defined() -> None:
    assert error_class("UserRecordsUnavailable") is UserRecordsUnavailable
    assert error_class("BrokerUnavailable") is BrokerUnavailable
    assert error_class("NoApprovedAchRelationship") is NoApprovedAchRelationship
    assert issubclass(error_class("AccountBlocked") or ClosureError, AccountIneligible)
    assert error_class("KeyError") is None


def test_every_error_class_has_a_unique_stable_name() -> None:
    names: list[str] = []
    pending: list[type[ClosureError]] = [ClosureError]
    while pending:
        kind = pending.pop()
        names.append(kind.__name__)
        pending.extend(kind.__subclasses__())
    assert len(names) == len(set(names))

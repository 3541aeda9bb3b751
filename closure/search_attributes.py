"""Custom search attributes, so the Temporal UI and `temporal workflow list --query` can find closures."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CLOSURE_PHASE = SearchAttributeKey.for_keyword("ClosurePhase")
ALPACA_ACCOUNT_ID = SearchAttributeKey.for_keyword("AlpacaAccountId")
CLOSURE_NEEDS_ATTENTION = SearchAttributeKey.for_bool("ClosureNeedsAttention")

ALL: list[SearchAttributeKey[str] | SearchAttributeKey[bool]] = [
    CLOSURE_PHASE,
    ALPACA_ACCOUNT_ID,
    CLOSURE_NEEDS_ATTENTION,
]

# For `temporal server start-dev --search-attribute NAME=TYPE` and `temporal operator search-attribute create`.
CLI_TYPES = {"ClosurePhase": "Keyword", "AlpacaAccountId": "Keyword", "ClosureNeedsAttention": "Bool"}

"""Fault injection for the Alpaca routes: error statuses, latency, hangs, and responses lost after the work.

A rule names a route as `"METHOD /v1/path/{param}"` exactly as the route table spells it (or `"*"`, or a
method with `*` such as `"GET *"`), and fires on a share of matching requests (`rate`, seeded so a run is
repeatable) and/or a number of them (`count`).

Kinds: `error` answers `status` at once, doing nothing; `latency` waits `latency_seconds` (real time), then
does the work and answers, even if the caller has hung up meanwhile; `timeout` waits, then answers `status`
without doing the work; `lost_response` does the work, waits, then answers `status`; `late` queues the
request and does the work `latency_seconds` later *on the broker's clock* (so it lines up with a clock that
follows Temporal's skipped time), answering the caller then if it is still there, or `status` after
`latency_seconds` of real time: a create the broker processes after the client's timeout; `malformed` does
the work and answers `status` with `body` instead, or with the real answer changed by `patch` (a missing
field, an unknown status, an absurd amount): the broker input a client must not trust; `held` does the work,
then holds the real answer for `latency_seconds`: a window in which a client killed has done the work
without recording it.

Stream faults (`stream_faults`) act on the SSE event streams, on a connection that has sent `after_events`
events: `drop` ends the connection; `silence` sends nothing, heartbeats included, for `seconds`; `duplicate`
sends the next event twice; `reorder` sends the next two events in swapped order; `unknown_event` sends an
event of a kind no client knows before the next one; `slow_reader` skips `dropped` events and says so in the
broker's comment (`: you are reading too slowly, dropped N messages`). Each fires `count` times in all.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
FaultKind = Literal["error", "latency", "timeout", "lost_response", "late", "malformed", "held"]


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not install a rule that never fires

    route: str = Field(default="*", description='"*", "GET *" or "POST /v1/accounts/{account_id}/transfers"')
    kind: FaultKind = "error"
    status: int = Field(
        default=503, ge=200, le=599, description="Status of an error (and of a late or a malformed answer)."
    )
    rate: float = Field(default=1.0, ge=0, le=1)
    count: int | None = Field(default=None, ge=1, description="Fire at most this many times.")
    skip: int = Field(default=0, ge=0, description="Let this many matching requests through first.")
    account_id: str | None = Field(default=None, description="Only requests for this account.")
    latency_seconds: float = Field(
        default=0.0, ge=0, description="Delay for latency, timeout, lost_response, late."
    )
    body: Any = Field(
        default=None, description="malformed: the answer instead of the real one (JSON, or a string sent raw)"
    )
    patch: dict[str, Any] | None = Field(
        default=None,
        description="malformed: merged into the real JSON answer (each item of a list); a null removes the key",
    )
    hits: int = 0
    seen: int = 0

    @model_validator(mode="before")
    @classmethod
    def _malformed_answers_200(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and raw.get("kind") == "malformed" and "status" not in raw:
            return {**raw, "status": 200}  # a bad body usually comes with a good status
        return raw

    @model_validator(mode="after")
    def _kind_fits(self) -> FaultRule:
        if self.kind == "malformed":
            if (self.body is None) == (self.patch is None):
                raise ValueError("a malformed fault needs exactly one of body or patch")
        elif self.kind == "held":
            if self.latency_seconds <= 0:
                raise ValueError("a held fault holds the answer for latency_seconds, more than 0")
        elif self.status < 400:
            raise ValueError(f"a {self.kind} fault answers an error status (400-599), not {self.status}")
        return self

    @field_validator("route")
    @classmethod
    def _route_shape(cls, route: str) -> str:
        if route == "*":
            return route
        method, _, path = route.partition(" ")
        if method.upper() not in _METHODS or not (path == "*" or path.startswith("/")):
            raise ValueError(f'route must be "*", "METHOD *" or "METHOD /v1/path", not {route!r}')
        return route

    def matches(self, method: str, route: str, account_id: str | None) -> bool:
        if self.account_id is not None and self.account_id != account_id:
            return False
        if self.route == "*":
            return True
        want_method, _, want_path = self.route.partition(" ")
        return want_method.upper() == method and want_path in ("*", route)


TransferStage = Literal["QUEUED", "APPROVAL_PENDING", "PENDING", "SENT_TO_CLEARING", "APPROVED", "SETTLED"]


class TransferOutcome(BaseModel):
    """Force the nth transfer of an account (or of any account) in one direction to fail.

    REJECTED, CANCELED and EXPIRED end it instead of leaving the status `when` (so a transfer the broker
    first accepted can be rejected late, e.g. by a risk check after APPROVED, or cancelled after SETTLED as
    the event stream has shown; EXPIRED is the funding stream's status for one that timed out before
    clearing, which alpaca-py's enum cannot parse); RETURNED comes after COMPLETE,
    `transfer_return_seconds` later, for an outgoing or an incoming transfer.
    """

    model_config = ConfigDict(extra="forbid")

    status: Literal["REJECTED", "CANCELED", "EXPIRED", "RETURNED"]
    nth: int = Field(ge=1)
    direction: Literal["OUTGOING", "INCOMING"] = "OUTGOING"
    when: TransferStage = Field(
        default="QUEUED", description="REJECTED, CANCELED or EXPIRED instead of leaving this"
    )
    account_id: str | None = None
    reason: str = "forced by the simulator"
    used: bool = False


StreamFaultKind = Literal["drop", "silence", "duplicate", "reorder", "unknown_event", "slow_reader"]
StreamName = Literal["*", "transfers", "accounts", "trades", "journals", "funding"]


class StreamFault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: StreamFaultKind
    stream: StreamName = "*"
    after_events: int = Field(default=0, ge=0, description="Events a connection sends before it fires")
    count: int = Field(default=1, ge=1, description="Fire at most this many times, over all connections")
    seconds: float = Field(default=30.0, gt=0, description="silence: how long nothing is sent")
    dropped: int = Field(default=1, ge=1, description="slow_reader: events skipped")
    fired: int = 0

    def ready(self, stream: str, sent: int) -> bool:
        return self.fired < self.count and self.stream in ("*", stream) and sent >= self.after_events


class FaultSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[FaultRule] = Field(default_factory=list)
    stream_faults: list[StreamFault] = Field(default_factory=list)
    transfer_outcomes: list[TransferOutcome] = Field(default_factory=list)
    seed: int = 0


class FaultBook:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.stream_faults: list[StreamFault] = []
        self._random = random.Random(0)

    def replace(self, faults: FaultSet) -> None:
        self.clear()
        self.add(faults)
        self._random = random.Random(faults.seed)

    def add(self, faults: FaultSet) -> None:
        self.rules.extend(rule.model_copy(update={"hits": 0, "seen": 0}) for rule in faults.rules)
        self.stream_faults.extend(fault.model_copy(update={"fired": 0}) for fault in faults.stream_faults)

    def clear(self) -> None:
        self.rules = []
        self.stream_faults = []

    def stream_fault(self, stream: str, sent: int, *kinds: str) -> StreamFault | None:
        """The first stream fault of one of `kinds` due on a connection that has sent `sent` events."""
        return next((f for f in self.stream_faults if f.kind in kinds and f.ready(stream, sent)), None)

    def pick(self, method: str, route: str, account_id: str | None) -> FaultRule | None:
        """The first rule that fires for this request, counting it."""
        for rule in self.rules:
            if not rule.matches(method, route, account_id):
                continue
            rule.seen += 1
            if rule.seen <= rule.skip:
                continue
            if rule.count is not None and rule.hits >= rule.count:
                continue
            if self._random.random() >= rule.rate:
                continue
            rule.hits += 1
            return rule
        return None

"""Email activities: render from facts, look up the recipient at send time, deliver once per key."""

from __future__ import annotations

from temporalio import activity

from adapters.email.render import Brand, render
from adapters.email.senders import EmailDispatcher, OutgoingEmail
from adapters.records import UserRecords
from closure.email_facts import CustomerEmail, OpsEmail, SendResult
from closure.errors import RecipientUnknown
from runtime.logs import REDACTOR


class EmailActivities:
    def __init__(
        self,
        dispatcher: EmailDispatcher,
        users: UserRecords,
        brand: Brand,
        sender: str,
        ops_recipients: list[str],
    ) -> None:
        self._dispatcher = dispatcher
        self._users = users
        self._brand = brand
        self._sender = sender
        self._ops = tuple(ops_recipients)

    @activity.defn(name="email.send_customer")
    def send_customer(self, request: CustomerEmail) -> SendResult:
        record = self._users.by_account(request.account_id)
        if record is None or not record.email:
            raise RecipientUnknown(f"no email address on file for account {request.account_id}")
        REDACTOR.remember(record.email, record.first_name, record.last_name)  # never in a log line
        rendered = render(request.facts, record.first_name, self._brand)
        return self._dispatcher.send(
            OutgoingEmail(
                message_key=request.message_key,
                kind=request.facts.kind,
                sender=self._sender,
                to=(record.email,),
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
            )
        )

    @activity.defn(name="email.send_ops_alert")
    def send_ops_alert(self, request: OpsEmail) -> SendResult:
        rendered = render(request.facts, None, self._brand)
        return self._dispatcher.send(
            OutgoingEmail(
                message_key=request.message_key,
                kind="ops_alert",
                sender=self._sender,
                to=self._ops,
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
            )
        )

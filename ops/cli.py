"""`closure`: the operator's command line. Rich tables for people, `--json` for scripts.

    closure status ACCOUNT            closure list [--phase P] [--needs-attention]
    closure find-stuck                closure resume ACCOUNT | --all [--dry-run]
    closure retry ACCOUNT [--dry-run] closure cancel ACCOUNT --reason R [--dry-run]
    closure import-legacy [--account A] [--dry-run]
    closure audit ACCOUNT             (every action takes --operator NAME, default $CLOSURE_OPERATOR or login)
    closure schedule create [--every-minutes N] | describe | pause --note N | unpause | trigger
    closure deployment describe       closure deployment promote BUILD_ID
    closure mirror rebuild            (the Redis progress mirror, rewritten from the workflows)
    closure doctor                    (every configured dependency, tried once, each answer in words)

Settings come from the environment, like the worker's (CLOSURE_TEMPORAL__ADDRESS, REDIS_URL, ...).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from closure.money import format_usd
from closure.operators import Actor, OperatorRole
from closure.phases import ClosurePhase
from closure.progress import ClosureProgress
from ops.actions import Action
from ops.cli_admin import deployment, doctor, mirror, schedule
from ops.cli_output import console, emit, fail, moment, run_operation, state, table_of
from ops.operations import Operations
from ops.stuck import find_stuck as find_stuck_closures
from workflows.client import ClosureSummary, closure_query, list_closures

app = typer.Typer(
    help="Operate account closures: status, list, find stuck ones, resume, retry, cancel, import legacy state.",
    no_args_is_help=True,
    add_completion=False,
)

Account = Annotated[str, typer.Argument(help="The Alpaca account id")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Say exactly what would be done; change nothing")]
OperatorName = Annotated[
    str,
    typer.Option(envvar="CLOSURE_OPERATOR", help="Who is acting, for the audit trail (default: login name)"),
]


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers: then it must be given
        return "unknown-cli-user"


def _actor(name: str) -> Actor:
    # Whoever runs the CLI holds this deployment's Temporal credentials: an operator, by that fact.
    return Actor(name=name or _whoami(), subject=f"cli:{_whoami()}", role=OperatorRole.OPERATOR, via="cli")


@app.callback()
def _options(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    state["json"] = as_json


def _actions(actions: list[Action]) -> None:
    table = table_of("account", "action", "detail")
    for action in actions:
        table.add_row(action.account_id, action.action, action.detail)
    emit(actions, table)


@app.command()
def status(account_id: Account) -> None:
    """Phase, amounts, transfers, next action and attention reason of one closure."""

    async def work(ops: Operations) -> tuple[ClosureProgress, str]:
        return await ops.progress(account_id), ops.ui_link(account_id)

    progress, link = run_operation(work)
    if state["json"]:
        print(json.dumps({**progress.model_dump(mode="json"), "temporal_ui": link}, indent=2))
        return
    show_status(progress, link)


def show_status(progress: ClosureProgress, link: str) -> None:
    """One closure at 80 columns: ids whole on their own lines, each time with its zone and its clock."""
    console.print(f"[bold]{progress.account_id}[/bold]", soft_wrap=True)
    console.print(f"  {progress.confirmation_number}: {progress.phase.value} ({progress.percent}%)")
    console.print(f"  {progress.step}")
    console.print(
        f"  withdrawn {format_usd(progress.amount_withdrawn)} (completed {format_usd(progress.amount_completed)}),"
        f" remaining {format_usd(progress.amount_remaining)}"
    )
    console.print(f"  next action {moment(progress.next_action_at, 'workflow clock')}")
    if progress.attention:
        console.print(
            f"  [red]needs attention[/red] since {moment(progress.attention.since, 'workflow clock')}"
            f" ({progress.attention.error_type}): {progress.attention.reason}"
        )
    for t in [*progress.transfers, *progress.unowned_transfers]:
        console.print(
            f"  #{t.chunk} {format_usd(t.amount)} {t.status}, created {moment(t.initiated_at, 'broker clock')}"
        )
        console.print(f"     transfer {t.transfer_id}", soft_wrap=True)
    console.print(f"  Temporal UI: {link}", soft_wrap=True)


def closures_table(found: list[ClosureSummary]) -> Table:
    """Three columns, so an account id and a start time fit whole in 80; a workflow that is not running says
    how it ended under its phase."""
    table = table_of("account", "phase", "started (UTC, Temporal)")
    for c in found:
        phase = c.phase.value if c.phase else "?"
        if c.status != "RUNNING":
            phase += f"\n{c.status.lower()}"
        table.add_row(c.account_id or "?", phase, moment(c.started_at))
    return table


@app.command("list")
def list_(
    phase: Annotated[ClosurePhase | None, typer.Option(help="Only this phase")] = None,
    needs_attention: Annotated[
        bool, typer.Option("--needs-attention", help="Only closures waiting for ops")
    ] = False,
) -> None:
    """Closures, found through Temporal's visibility (search attributes)."""
    query = closure_query(phase, True if needs_attention else None)
    found = run_operation(lambda ops: list_closures(ops.client, query))
    emit(found, closures_table(found))


@app.command("find-stuck")
def find_stuck() -> None:
    """pending_closure without a workflow, closures waiting for ops, legacy state without a workflow, and
    closures whose broker state disagrees with their own."""
    found = run_operation(find_stuck_closures)
    table = table_of("kind", "account", "detail")
    for s in found:
        table.add_row(s.kind, s.account_id, s.detail)
    emit(found, table)


@app.command()
def resume(
    account_id: Annotated[str | None, typer.Argument(help="The Alpaca account id")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every pending_closure record without a workflow")
    ] = False,
    dry_run: DryRun = False,
    operator: OperatorName = "",
) -> None:
    """Start a workflow that reconciles a stuck closure from broker truth."""
    if (account_id is None) == (not all_):
        fail("give an account id or --all")
    if all_:
        _actions(run_operation(lambda ops: ops.resume_all(dry_run, _actor(operator))))
    else:
        _actions([run_operation(lambda ops: ops.resume(str(account_id), dry_run, _actor(operator)))])


@app.command()
def retry(
    account_id: Account,
    note: Annotated[str, typer.Option(help="Why it can go on now (what was fixed)")] = "",
    operator: OperatorName = "",
    dry_run: DryRun = False,
) -> None:
    """Let a closure waiting in needs_attention try again."""
    _actions([run_operation(lambda ops: ops.retry(account_id, _actor(operator), dry_run, note))])


@app.command()
def cancel(
    account_id: Account,
    reason: Annotated[str, typer.Option(help="Why")] = "cancelled by an operator",
    operator: OperatorName = "",
    dry_run: DryRun = False,
) -> None:
    """Cancel a closure before any money has moved."""
    _actions([run_operation(lambda ops: ops.cancel(account_id, _actor(operator), reason, dry_run))])


@app.command("import-legacy")
def import_legacy(
    account: Annotated[str | None, typer.Option(help="Only this account")] = None,
    dry_run: DryRun = False,
    operator: OperatorName = "",
) -> None:
    """Turn legacy closure_state / withdrawal_state / partial_withdrawal keys into workflows, keeping
    transfers_completed so the 24 h window and the totals stay right."""
    _actions(run_operation(lambda ops: ops.import_legacy(account, dry_run, _actor(operator))))


@app.command()
def audit(account_id: Account) -> None:
    """Every operator action on the closure, oldest first: who, when, what, why, and how it ended."""
    entries = run_operation(lambda ops: asyncio.to_thread(ops.records.audit_of, account_id))
    table = table_of("at (UTC, wall clock)", "operator", "via", "action", "outcome", "reason", "detail")
    for e in entries:
        table.add_row(moment(e.at), e.actor, e.via, e.action, e.outcome.value, e.reason, e.detail)
    emit(entries, table)


app.add_typer(schedule, name="schedule")
app.add_typer(deployment, name="deployment")
app.add_typer(mirror, name="mirror")
app.command()(doctor)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--json" in args[1:]:  # an option of the whole CLI: accepted after the subcommand as well
        args = ["--json", *(a for a in args if a != "--json")]
    app(args=args, prog_name="closure")


if __name__ == "__main__":
    main()

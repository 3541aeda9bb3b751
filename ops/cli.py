"""`closure`: the operator's command line. Rich tables for people, `--json` for scripts.

    closure status ACCOUNT            closure list [--phase P] [--needs-attention]
    closure find-stuck                closure resume ACCOUNT | --all [--dry-run]
    closure retry ACCOUNT [--dry-run] closure cancel ACCOUNT --reason R [--dry-run]
    closure import-legacy [--account A] [--dry-run]
    closure audit ACCOUNT             (every action takes --operator NAME, default $CLOSURE_OPERATOR or login)
    closure schedule create [--every-minutes N] | describe | pause --note N | unpause | trigger
    closure deployment describe       closure deployment promote BUILD_ID

Settings come from the environment, like the worker's (CLOSURE_TEMPORAL__ADDRESS, REDIS_URL, ...).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from closure.money import format_usd
from closure.operators import Actor, OperatorRole
from closure.phases import ClosurePhase
from ops import deployment as worker_deployment
from ops import sweep_schedule
from ops.actions import Action, OperationRefused
from ops.operations import Operations
from ops.stuck import find_stuck as find_stuck_closures
from ops.sweep_schedule import SweepSchedule
from runtime.settings import Settings, settings_error
from runtime.temporal import TemporalUnreachable, connect
from workflows.client import closure_query, list_closures

T = TypeVar("T")
app = typer.Typer(
    help="Operate account closures: status, list, find stuck ones, resume, retry, cancel, import legacy state.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
state: dict[str, bool] = {"json": False}

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


async def _operations(settings: Settings) -> Operations:
    return Operations.from_settings(settings, await connect(settings.temporal))


def _run(work: Callable[[Operations], Awaitable[T]]) -> T:
    async def go() -> T:
        return await work(await _operations(Settings()))

    try:
        return asyncio.run(go())
    except OperationRefused as exc:
        _fail(str(exc))
    except ValidationError as exc:
        _fail(f"invalid settings: {settings_error(exc)}")
    except TemporalUnreachable as exc:
        _fail(str(exc))
    except RuntimeError as exc:
        _fail(f"cannot reach a service: {exc}")


def _fail(message: str) -> NoReturn:
    if state["json"]:
        print(json.dumps({"error": message}))
    else:
        console.print(f"[red]refused:[/red] {message}")
    raise typer.Exit(code=1)


def _emit(value: BaseModel | list[Any], table: Table | None = None) -> None:
    if state["json"]:
        data = (
            [v.model_dump(mode="json") for v in value]
            if isinstance(value, list)
            else value.model_dump(mode="json")
        )
        print(json.dumps(data, indent=2))
    elif table is not None:
        console.print(table)


def _table(*columns: str) -> Table:
    """Ids never wrap, so they can be copied from the terminal; free text does."""
    table = Table()
    for column in columns:
        table.add_column(column, no_wrap=column in ("account", "kind", "phase", "action", "status"))
    return table


def _actions(actions: list[Action]) -> None:
    table = _table("account", "action", "detail")
    for action in actions:
        table.add_row(action.account_id, action.action, action.detail)
    _emit(actions, table)


@app.command()
def status(account_id: Account) -> None:
    """Phase, amounts, transfers, next action and attention reason of one closure."""

    async def work(ops: Operations) -> tuple[Any, str]:
        return await ops.progress(account_id), ops.ui_link(account_id)

    progress, link = _run(work)
    if state["json"]:
        print(json.dumps({**progress.model_dump(mode="json"), "temporal_ui": link}, indent=2))
        return
    console.print(
        f"[bold]{progress.account_id}[/bold] {progress.confirmation_number}: {progress.phase.value} ({progress.percent}%)"
    )
    console.print(f"  {progress.step}")
    console.print(
        f"  withdrawn {format_usd(progress.amount_withdrawn)} (completed {format_usd(progress.amount_completed)}), "
        f"remaining {format_usd(progress.amount_remaining)}; next action {progress.next_action_at or '-'}"
    )
    if progress.attention:
        console.print(
            f"  [red]needs attention[/red] ({progress.attention.error_type}): {progress.attention.reason}"
        )
    table = Table("#", "transfer", "amount", "status", "initiated")
    for t in progress.transfers:
        table.add_row(str(t.chunk), t.transfer_id, format_usd(t.amount), t.status, t.initiated_at.isoformat())
    console.print(table)
    console.print(f"  Temporal UI: {link}")


@app.command("list")
def list_(
    phase: Annotated[ClosurePhase | None, typer.Option(help="Only this phase")] = None,
    needs_attention: Annotated[
        bool, typer.Option("--needs-attention", help="Only closures waiting for ops")
    ] = False,
) -> None:
    """Closures, found through Temporal's visibility (search attributes)."""
    query = closure_query(phase, True if needs_attention else None)
    found = _run(lambda ops: list_closures(ops.client, query))
    table = _table("account", "phase", "attention", "status", "started")
    for c in found:
        table.add_row(
            c.account_id or "?",
            c.phase.value if c.phase else "?",
            "yes" if c.needs_attention else "",
            c.status,
            str(c.started_at),
        )
    _emit(found, table)


@app.command("find-stuck")
def find_stuck() -> None:
    """pending_closure without a workflow, closures waiting for ops, legacy state without a workflow, and
    closures whose broker state disagrees with their own."""
    found = _run(find_stuck_closures)
    table = _table("kind", "account", "detail")
    for s in found:
        table.add_row(s.kind, s.account_id, s.detail)
    _emit(found, table)


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
        _fail("give an account id or --all")
    if all_:
        _actions(_run(lambda ops: ops.resume_all(dry_run, _actor(operator))))
    else:
        _actions([_run(lambda ops: ops.resume(str(account_id), dry_run, _actor(operator)))])


@app.command()
def retry(
    account_id: Account,
    note: Annotated[str, typer.Option(help="Why it can go on now (what was fixed)")] = "",
    operator: OperatorName = "",
    dry_run: DryRun = False,
) -> None:
    """Let a closure waiting in needs_attention try again."""
    _actions([_run(lambda ops: ops.retry(account_id, _actor(operator), dry_run, note))])


@app.command()
def cancel(
    account_id: Account,
    reason: Annotated[str, typer.Option(help="Why")] = "cancelled by an operator",
    operator: OperatorName = "",
    dry_run: DryRun = False,
) -> None:
    """Cancel a closure before any money has moved."""
    _actions([_run(lambda ops: ops.cancel(account_id, _actor(operator), reason, dry_run))])


@app.command("import-legacy")
def import_legacy(
    account: Annotated[str | None, typer.Option(help="Only this account")] = None,
    dry_run: DryRun = False,
    operator: OperatorName = "",
) -> None:
    """Turn legacy closure_state / withdrawal_state / partial_withdrawal keys into workflows, keeping
    transfers_completed so the 24 h window and the totals stay right."""
    _actions(_run(lambda ops: ops.import_legacy(account, dry_run, _actor(operator))))


@app.command()
def audit(account_id: Account) -> None:
    """Every operator action on the closure, oldest first: who, when, what, why, and how it ended."""
    entries = _run(lambda ops: asyncio.to_thread(ops.records.audit_of, account_id))
    table = _table("at", "operator", "via", "action", "outcome", "reason", "detail")
    for e in entries:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.via, e.action, e.outcome.value, e.reason, e.detail
        )
    _emit(entries, table)


schedule = typer.Typer(
    help="The reconciliation sweep's Temporal Schedule (it replaces the legacy hourly cron).",
    no_args_is_help=True,
)
app.add_typer(schedule, name="schedule")
Note = Annotated[str, typer.Option(help="Why, for the next operator")]


def _show(found: SweepSchedule) -> None:
    table = _table("schedule", "every", "paused", "note", "next runs", "recent runs")
    table.add_row(
        found.schedule_id,
        str(found.every),
        "yes" if found.paused else "no",
        found.note,
        "\n".join(found.next_runs),
        "\n".join(found.recent_runs),
    )
    _emit(found, table)


@schedule.command("create")
def schedule_create(
    every_minutes: Annotated[
        int | None, typer.Option(help="Minutes between sweeps (default: worker.sweep_every_minutes)")
    ] = None,
) -> None:
    """Create the sweep's schedule, once per deployment."""
    settings = Settings()
    every = timedelta(minutes=every_minutes or settings.worker.sweep_every_minutes)
    _show(_run(lambda ops: sweep_schedule.create(ops.client, settings.temporal.task_queue, every)))


@schedule.command("describe")
def schedule_describe() -> None:
    """The interval, whether it is paused and why, the next and the last runs."""
    _show(_run(lambda ops: sweep_schedule.describe(ops.client)))


@schedule.command("pause")
def schedule_pause(note: Note = "paused by an operator") -> None:
    """Stop sweeping (an incident, a migration); the note says why."""
    _show(_run(lambda ops: sweep_schedule.pause(ops.client, note)))


@schedule.command("unpause")
def schedule_unpause(note: Note = "unpaused by an operator") -> None:
    """Sweep again on the schedule."""
    _show(_run(lambda ops: sweep_schedule.unpause(ops.client, note)))


@schedule.command("trigger")
def schedule_trigger() -> None:
    """Sweep now, beside the schedule (after a fix, to see the findings clear)."""
    _show(_run(lambda ops: sweep_schedule.trigger(ops.client)))


deployment = typer.Typer(
    help="The worker's Temporal Worker Deployment: which build runs closures (docs/deployment.md).",
    no_args_is_help=True,
)
app.add_typer(deployment, name="deployment")


def _show_deployment(found: worker_deployment.WorkerDeployment) -> None:
    table = _table("build", "status", "current")
    for build in found.builds:
        table.add_row(build.build_id, build.status, "yes" if build.current else "")
    _emit(found, table)


@deployment.command("describe")
def deployment_describe() -> None:
    """The builds whose workers have polled, and the current one."""
    name = Settings().worker.deployment_name
    _show_deployment(_run(lambda ops: worker_deployment.describe(ops.client, name)))


@deployment.command("promote")
def deployment_promote(
    build_id: Annotated[str, typer.Argument(help="The build whose workers now take every closure")],
    operator: Annotated[str, typer.Option(help="Who promotes it, for the deployment's record")] = "ops-cli",
) -> None:
    """Make a build current once its workers run; running closures move to it at their next step."""
    name = Settings().worker.deployment_name
    _show_deployment(_run(lambda ops: worker_deployment.promote(ops.client, name, build_id, operator)))


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--json" in args[1:]:  # an option of the whole CLI: accepted after the subcommand as well
        args = ["--json", *(a for a in args if a != "--json")]
    app(args=args, prog_name="closure")


if __name__ == "__main__":
    main()

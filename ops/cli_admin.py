"""`closure schedule …`, `closure deployment …` and `closure mirror …`: the deployment's own moving parts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer
from pydantic import ValidationError

from adapters.redis.mirror import ProgressMirror
from closure.confirmation import workflow_id_for
from ops import deployment as worker_deployment
from ops import sweep_schedule
from ops.cli_output import emit, fail, run_operation, table_of
from ops.doctor import examine
from ops.mirror_rebuild import rebuild_mirror
from ops.sweep_schedule import SweepSchedule
from runtime.local_stack import tool_settings
from runtime.settings import settings_error
from workflows.client import ALL_CLOSURES

schedule = typer.Typer(
    help="The reconciliation sweep's Temporal Schedule (it replaces the legacy hourly cron).",
    no_args_is_help=True,
)
Note = Annotated[str, typer.Option(help="Why, for the next operator")]


def _show(found: SweepSchedule) -> None:
    table = table_of("schedule", "every", "paused", "note", "next runs", "recent runs")
    table.add_row(
        found.schedule_id,
        str(found.every),
        "yes" if found.paused else "no",
        found.note,
        "\n".join(found.next_runs),
        "\n".join(found.recent_runs),
    )
    emit(found, table)


@schedule.command("create")
def schedule_create(
    every_minutes: Annotated[
        int | None, typer.Option(help="Minutes between sweeps (default: worker.sweep_every_minutes)")
    ] = None,
) -> None:
    """Create the sweep's schedule, once per deployment."""
    settings = tool_settings()
    every = timedelta(minutes=every_minutes or settings.worker.sweep_every_minutes)
    _show(run_operation(lambda ops: sweep_schedule.create(ops.client, settings.temporal.task_queue, every)))


@schedule.command("describe")
def schedule_describe() -> None:
    """The interval, whether it is paused and why, the next and the last runs."""
    _show(run_operation(lambda ops: sweep_schedule.describe(ops.client)))


@schedule.command("pause")
def schedule_pause(note: Note = "paused by an operator") -> None:
    """Stop sweeping (an incident, a migration); the note says why."""
    _show(run_operation(lambda ops: sweep_schedule.pause(ops.client, note)))


@schedule.command("unpause")
def schedule_unpause(note: Note = "unpaused by an operator") -> None:
    """Sweep again on the schedule."""
    _show(run_operation(lambda ops: sweep_schedule.unpause(ops.client, note)))


@schedule.command("trigger")
def schedule_trigger() -> None:
    """Sweep now, beside the schedule (after a fix, to see the findings clear)."""
    _show(run_operation(lambda ops: sweep_schedule.trigger(ops.client)))


deployment = typer.Typer(
    help="The worker's Temporal Worker Deployment: which build runs closures (docs/deployment.md).",
    no_args_is_help=True,
)


def _show_deployment(found: worker_deployment.WorkerDeployment) -> None:
    table = table_of("build", "status", "current")
    for build in found.builds:
        table.add_row(build.build_id, build.status, "yes" if build.current else "")
    emit(found, table)


@deployment.command("describe")
def deployment_describe() -> None:
    """The builds whose workers have polled, and the current one."""
    name = tool_settings().worker.deployment_name
    _show_deployment(run_operation(lambda ops: worker_deployment.describe(ops.client, name)))


@deployment.command("promote")
def deployment_promote(
    build_id: Annotated[str, typer.Argument(help="The build whose workers now take every closure")],
    operator: Annotated[str, typer.Option(help="Who promotes it, for the deployment's record")] = "ops-cli",
) -> None:
    """Make a build current once its workers run; running closures move to it at their next step."""
    name = tool_settings().worker.deployment_name
    _show_deployment(
        run_operation(lambda ops: worker_deployment.promote(ops.client, name, build_id, operator))
    )


mirror = typer.Typer(help="The Redis progress mirror (the workflows are the truth; Redis only shows it).")


@mirror.command("rebuild")
def mirror_rebuild(
    account: Annotated[str | None, typer.Option(help="Only this account's closure")] = None,
) -> None:
    """Rewrite every closure's progress keys in Redis from its workflow (after a flush or a new Redis)."""
    settings = tool_settings()
    if not settings.redis_url:
        fail("no Redis is configured: set REDIS_URL (or CLOSURE_REDIS_URL)")
    target = ProgressMirror.from_url(settings.redis_url, settings.mirror_ttl)
    query = f'WorkflowId = "{workflow_id_for(account)}"' if account else ALL_CLOSURES
    report = run_operation(lambda ops: rebuild_mirror(ops.client, target, query))
    table = table_of("account", "outcome")
    for account in report.written:
        table.add_row(account, "written")
    for account in report.skipped:
        table.add_row(account, "kept (the mirror already held it or newer)")
    emit(report, table)


def doctor() -> None:
    """Try every dependency the settings name (Temporal, the broker, records, Redis, email, the webhook) and say
    what is wrong in words; exits 1 if anything failed."""
    try:
        findings = asyncio.run(examine(tool_settings()))
    except ValidationError as exc:
        fail(f"invalid settings: {settings_error(exc)}")
    table = table_of("check", "verdict", "detail")
    for finding in findings:
        table.add_row(finding.check, finding.verdict, finding.detail)
    emit(findings, table)
    if any(f.verdict == "failed" for f in findings):
        raise typer.Exit(code=1)

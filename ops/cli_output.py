"""What every `closure` command shares: running an operation, refusing in one line, tables or JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich import box
from rich.console import Console
from rich.table import Table

from ops.actions import OperationRefused
from ops.operations import Operations
from runtime.local_stack import stack_hint, tool_settings
from runtime.settings import Settings, settings_error
from runtime.temporal import TemporalUnreachable, connect

T = TypeVar("T")
console = Console()
state: dict[str, bool] = {"json": False}


async def _operations(settings: Settings) -> Operations:
    return Operations.from_settings(settings, await connect(settings.temporal))


def run_operation(work: Callable[[Operations], Awaitable[T]]) -> T:
    async def go() -> T:
        return await work(await _operations(tool_settings()))

    try:
        return asyncio.run(go())
    except OperationRefused as exc:
        fail(str(exc))
    except ValidationError as exc:
        fail(f"invalid settings: {settings_error(exc)}")
    except TemporalUnreachable as exc:
        fail(f"{exc}{stack_hint()}")
    except RuntimeError as exc:
        fail(f"cannot reach a service: {exc}")


def fail(message: str) -> NoReturn:
    if state["json"]:
        print(json.dumps({"error": message}))
    else:
        console.print(f"[red]refused:[/red] {message}")
    raise typer.Exit(code=1)


def emit(value: BaseModel | list[Any], table: Table | None = None) -> None:
    if state["json"]:
        data = (
            [v.model_dump(mode="json") for v in value]
            if isinstance(value, list)
            else value.model_dump(mode="json")
        )
        print(json.dumps(data, indent=2))
    elif table is not None:
        console.print(table)


ID_COLUMNS = frozenset({"account", "transfer", "schedule", "build"})
ID_WIDTH = 36  # an Alpaca account or transfer id, a UUID
NAME_COLUMNS = frozenset({"kind", "phase", "action", "status", "outcome"})  # one word each, never split


def table_of(*columns: str) -> Table:
    """Ids are never wrapped or cut, so they can be copied from an 80-column terminal; everything else
    wraps (a long word folds) to make room for them."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in columns:
        if column in ID_COLUMNS:
            table.add_column(column, no_wrap=True, min_width=ID_WIDTH if column != "schedule" else None)
        elif column in NAME_COLUMNS:
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, overflow="fold")
    return table


def moment(value: datetime | None, clock: str | None = None) -> str:
    """A time as the CLI shows every time: in UTC, saying so, and whose clock it is (in a table, the column's
    heading says both instead)."""
    if value is None:
        return "-"
    shown = f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"
    return f"{shown} UTC ({clock})" if clock else shown

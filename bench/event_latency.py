"""From the broker's event to the closure's action: with the event listener, without it, and across its restart.

Real local services: the Temporal dev server, the broker simulator with its clock `--time-scale` times faster
than real time, the worker and (in two of the three runs) the listener. Each run closes `--closures` accounts
of $150,000 ($100,000 of it in shares, so the settlement wait matters) in parallel, from a Monday morning.

Measured from the simulator's own records (its event log, its request log with the broker's clock, its ledger):
- settlement: the sale proceeds' settlement moment to the closure's first transfer create;
- each transfer's COMPLETE event to the closure's next read of that account's transfer list;
- broker calls per closure, and the broker time from the end of the returns watch (3 bank days after the last
  COMPLETE) to the close: the closure's time over the broker's own timeline.

Runs: `polling` (no listener, 2 h status polls), `listener` (listener running, status polls 12 h), `restart`
(as `listener`, with the listener killed after the first transfer create and started again after the second:
the closures must still complete, and every event must be handled exactly once across the restart).

    python -m bench.event_latency [--closures 4] [--time-scale 3600] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from bench.report import write_section
from closure.bank_calendar import bank_days_after
from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from devtools.localstack import LocalStack, StackError, free_port
from runtime.settings import Settings
from runtime.temporal import connect
from simulator.scenarios import ScenarioBuilder, SeededAccount
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import start_closure

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 12, 7, 9, 40, tzinfo=NEW_YORK)
DEPOSIT_TAKES = timedelta(hours=2, minutes=16)  # the simulator's seeding moves its clock on by this much
RUNS = ("polling", "listener", "restart")


@dataclass
class RunFigures:
    name: str
    settlement: list[float] = field(default_factory=list)  # broker seconds, settlement to first create
    completion: list[float] = field(default_factory=list)  # broker seconds, COMPLETE event to next list read
    calls: list[int] = field(default_factory=list)
    after_last: list[float] = field(
        default_factory=list
    )  # broker seconds, the returns watch's end to the close
    events: Counter[str] = field(default_factory=Counter)  # transfer event ulid -> times the listener woke
    completed: int = 0
    wall: float = 0.0


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _environment(address: str, sim_url: str, data: Path, scale: float, listener: bool) -> dict[str, str]:
    env = {
        "CLOSURE_TEMPORAL__ADDRESS": address,
        "CLOSURE_ALPACA__BASE_URL": sim_url,
        "CLOSURE_TIME_SCALE": str(scale),
        "CLOSURE_RECORDS__SQLITE_PATH": str(data / "closure.db"),
        "CLOSURE_EMAIL__BACKEND": "outbox",
        "CLOSURE_EMAIL__OUTBOX_DIR": str(data / "outbox"),
        "CLOSURE_LISTENER__CURSOR_FILE": str(data / "listener-cursor.json"),
        "CLOSURE_LISTENER__STREAMS": json.dumps(["transfers", "accounts", "trades"]),
    }
    if listener:
        env["CLOSURE_POLICY__EVENT_POLL_INTERVAL"] = "PT12H"
    return env


def _seed(broker: ScenarioBuilder, settings: Settings, count: int) -> list[SeededAccount]:
    broker.set_prices({"VOO": Decimal("500.00")})
    records = SqliteRecords(settings.records.sqlite_path)
    accounts = []
    for n in range(count):
        account = broker.funded_account(Decimal("150000.00"), given_name=f"Bench{n}")
        records.upsert(
            UserRecord(
                user_id=f"bench-{n}",
                alpaca_account_id=account.account_id,
                email=account.email,
                first_name=account.given_name,
                last_name=account.family_name,
            )
        )
        accounts.append(account)
    return accounts


def _creates(log: list[list[Any]]) -> list[datetime]:
    return [
        _at(at)
        for at, label, _, status in log
        if label == "POST /v1/accounts/{account_id}/transfers" and status < 300
    ]


def _since(log: list[list[Any]], began: datetime) -> list[list[Any]]:
    """The calls made since the closures started (the seeding's come before)."""
    return [entry for entry in log if _at(entry[0]) >= began]


def broker_now(sim_url: str) -> datetime:
    return _at(httpx.get(f"{sim_url}/_sim/clock", timeout=30).json()["now"])


def measure(figures: RunFigures, sim_url: str, accounts: list[SeededAccount], began: datetime) -> None:
    with httpx.Client(base_url=sim_url, timeout=30) as sim:
        events = sim.get("/_sim/events/transfers").json()
        for account in accounts:
            log = _since(
                sim.get("/_sim/requests/log", params={"account_id": account.account_id}).json(), began
            )
            ledger = sim.get(f"/_sim/ledger/{account.account_id}").json()
            figures.calls.append(len(log))
            reads = [_at(at) for at, label, _, _ in log if label == "GET /v1/accounts/{account_id}/transfers"]
            creates = _creates(log)
            settles = max(_at(p["settles_at"]) for p in ledger["proceeds"])
            if creates:
                figures.settlement.append((creates[0] - settles).total_seconds())
            completions = [
                _at(e["at"])
                for e in events
                if e["account_id"] == account.account_id
                and e["status_to"] == "COMPLETE"
                and _at(e["at"]) >= began  # not the seeding's deposit
            ]
            for done in completions:
                later = [r for r in reads if r >= done]
                if later:
                    figures.completion.append((later[0] - done).total_seconds())
            closes = [
                _at(at) for at, label, _, status in log if label.endswith("/actions/close") and status < 300
            ]
            if completions and closes:
                watch_ends = bank_days_after(max(completions), ClosurePolicy().returns_watch)
                figures.after_last.append((closes[-1] - watch_ends).total_seconds())


def listener_wakes(log_file: Path, transfer_keys: set[str]) -> Counter[str]:
    """How many times the listener handled each transfer event, from its log lines."""
    handled: Counter[str] = Counter()
    if not log_file.exists():
        return handled
    for line in log_file.read_text().splitlines():
        message = line
        if line.startswith("{"):
            message = json.loads(line).get("message", "")
        if message.startswith("transfers event "):
            handled[message.split()[2]] += 1
    return Counter({key: handled[key] for key in transfer_keys})


async def _drive(
    name: str,
    stack: LocalStack,
    settings: Settings,
    accounts: list[SeededAccount],
    sim_url: str,
    began: datetime,
    wall_limit: float,
) -> int:
    client = await connect(settings.temporal)
    started = [
        await start_closure(
            client,
            a.account_id,
            task_queue=settings.temporal.task_queue,
            policy=settings.closure_policy(),
            user_id=f"bench-{n}",
        )
        for n, a in enumerate(accounts)
    ]
    killed = restarted = False
    deadline = time.monotonic() + wall_limit
    done = 0
    async with httpx.AsyncClient(base_url=sim_url, timeout=30) as sim:
        while time.monotonic() < deadline:
            results = [await s.handle.describe() for s in started]
            done = sum(r.status is not None and r.status.name == "COMPLETED" for r in results)
            if done == len(started):
                break
            if name == "restart":
                creates = len(_creates(_since((await sim.get("/_sim/requests/log")).json(), began)))
                if not killed and creates >= len(accounts):
                    killed = stack.kill("listener")
                if killed and not restarted and creates >= 2 * len(accounts):
                    stack.restart("listener")
                    restarted = True
            await asyncio.sleep(1.0)
    for s in started:
        progress = await s.handle.query(AccountClosureWorkflow.progress)
        if progress.phase != ClosurePhase.COMPLETED:
            print(f"  {name}: {s.handle.id} is {progress.phase.value}: {progress.step}", file=sys.stderr)
    return done


def one_run(name: str, args: argparse.Namespace) -> RunFigures:
    figures = RunFigures(name)
    data = args.data_dir / name
    shutil.rmtree(data, ignore_errors=True)
    wall_start = time.monotonic()
    with LocalStack(data) as stack:
        address = stack.temporal(free_port(7233), free_port(8233), data / "temporal.db")
        start = MONDAY - DEPOSIT_TAKES * (args.closures + 1)  # the deposits land before Monday's open
        sim_url = stack.simulator(free_port(8765), ["--clock-rate", "1", "--start", start.isoformat()])
        env = _environment(address, sim_url, data, args.time_scale, listener=name != "polling")
        settings = Settings.model_validate(_settings_from(env))
        stack.worker(env)
        if name != "polling":
            stack.listener(env)
        broker = ScenarioBuilder(sim_url)
        accounts = _seed(broker, settings, args.closures)
        broker.set_clock(MONDAY)  # setting the clock stops it: buy, then let it run fast
        for account in accounts:
            broker.buy(account, "VOO", Decimal("200"))  # $100,000 of the $150,000, sold by the closure
        broker.advance(60)
        unfilled = [a.account_id for a in accounts if not broker.positions(a.account_id)]
        if unfilled:
            raise StackError(f"the seeding's buys did not fill for {unfilled}")
        broker.run_clock(args.time_scale)
        began = broker_now(sim_url)
        figures.completed = asyncio.run(_drive(name, stack, settings, accounts, sim_url, began, args.timeout))
        measure(figures, sim_url, accounts, began)
        if name != "polling":
            events = httpx.get(f"{sim_url}/_sim/events/transfers", timeout=30).json()
            ids = {a.account_id for a in accounts}
            keys = {
                str(e.get("event_ulid") or e.get("event_id"))
                for e in events
                if e["account_id"] in ids and _at(e["at"]) >= began
            }
            figures.events = listener_wakes(data / "listener.log", keys)
    figures.wall = time.monotonic() - wall_start
    return figures


def _settings_from(env: dict[str, str]) -> dict[str, Any]:
    return {
        "temporal": {"address": env["CLOSURE_TEMPORAL__ADDRESS"]},
        "alpaca": {"base_url": env["CLOSURE_ALPACA__BASE_URL"]},
        "time_scale": float(env["CLOSURE_TIME_SCALE"]),
        "records": {"sqlite_path": env["CLOSURE_RECORDS__SQLITE_PATH"]},
        "policy": {"event_poll_interval": env["CLOSURE_POLICY__EVENT_POLL_INTERVAL"]}
        if "CLOSURE_POLICY__EVENT_POLL_INTERVAL" in env
        else {},
    }


def _spread(values: list[float], scale: float) -> str:
    if not values:
        return "–"
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (
        f"p50 {p50 / scale:.2f} s / p90 {p90 / scale:.2f} s / max {ordered[-1] / scale:.2f} s "
        f"({_broker(p50)} / {_broker(p90)} / {_broker(ordered[-1])} broker)"
    )


def _broker(seconds: float) -> str:
    return f"{timedelta(seconds=round(seconds))}"


def report(runs: list[RunFigures], args: argparse.Namespace) -> str:
    scale = args.time_scale
    lines = [
        f"`python -m bench.event_latency --closures {args.closures} --time-scale {scale:g}`, "
        f"{datetime.now(NEW_YORK):%Y-%m-%d}, this machine (2 cores). Real seconds are broker seconds / {scale:g}.",
        "",
        "| run | completed | settlement → first create | COMPLETE event → next look | broker calls / closure "
        "| returns watch over → closed (broker) | events handled once |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        once = "–"
        if run.events:
            twice = sum(1 for n in run.events.values() if n > 1)
            missed = sum(1 for n in run.events.values() if n == 0)
            once = f"{sum(1 for n in run.events.values() if n == 1)}/{len(run.events)} (missed {missed}, twice {twice})"
        calls = f"{statistics.mean(run.calls):.0f}" if run.calls else "–"
        after = _broker(statistics.mean(run.after_last)) if run.after_last else "–"
        lines.append(
            f"| {run.name} | {run.completed}/{args.closures} | {_spread(run.settlement, scale)} "
            f"| {_spread(run.completion, scale)} | {calls} | {after} | {once} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.event_latency", description=__doc__)
    parser.add_argument("--closures", type=int, default=4)
    parser.add_argument("--time-scale", type=float, default=3600.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="wall seconds per run")
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--data-dir", type=Path, default=Path(".data/bench-events"))
    parser.add_argument("--write", type=Path, help="replace the section between the markers in this file")
    args = parser.parse_args(argv)
    try:
        runs = [one_run(name, args) for name in args.runs.split(",")]
    except StackError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    table = report(runs, args)
    print(table)
    if args.write:
        write_section(args.write, "bench.event_latency", table)
    ok = all(r.completed == args.closures for r in runs) and all(
        all(n == 1 for n in r.events.values()) for r in runs if r.events
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

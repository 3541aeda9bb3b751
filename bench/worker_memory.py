"""Closures waiting in their 24 h wait: the worker's memory and idle CPU, and what waking an evicted one costs.

Real local services: the Temporal dev server, the broker simulator on a clock that runs at real speed from a
Monday morning, and one worker per configuration on a task queue of its own. Each configuration starts
`--closures` closures of $150,000 in cash, which send their first $50,000 and wait 24 h for the next; once
every one is in that wait and the worker has gone quiet:

- *memory*: the worker's resident set (VmRSS) and its peak (VmHWM), from /proc;
- *idle CPU*: the worker's CPU seconds over `--idle-seconds` while every closure waits;
- *waking one*: a query of a closure the worker no longer holds (the first ones started) makes it replay
  the closure's history; the same query again finds it held. Both are timed, with the worker's CPU per
  query.

Configurations: `sdk-default` (the SDK's cache of 1,000 workflows, as the worker was before it had a
setting) and `configured` (the worker's default settings).

    python -m bench.worker_memory [--closures 2000] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.client import Client

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from bench.report import write_section
from closure.phases import ClosurePhase
from devtools.localstack import LocalStack, free_port
from runtime.settings import Settings, TemporalSettings
from runtime.temporal import connect
from simulator.scenarios import ScenarioBuilder
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import start_closure

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 12, 7, 10, 0, tzinfo=NEW_YORK)
CONFIGURATIONS = {"sdk-default": {"CLOSURE_WORKER__MAX_CACHED_WORKFLOWS": "1000"}, "configured": {}}
QUERIED = 20  # closures woken by a query, of each kind


@dataclass
class MemoryFigures:
    name: str
    closures: int
    cache: str
    base_mb: float
    rss_mb: float
    peak_mb: float
    idle_cpu_percent: float
    ramp_seconds: float
    ramp_cpu_ms: float
    evicted_query_ms: float
    evicted_cpu_ms: float
    cached_query_ms: float
    cached_cpu_ms: float


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _mb(pid: int, field: str) -> float:
    return int(_status(pid)[field].split()[0]) / 1024


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _seed(broker: ScenarioBuilder, records: SqliteRecords, count: int, prefix: str) -> list[str]:
    """Accounts with $150,000 settled: opened and linked through the Broker API, the cash posted at once
    (a seeding deposit moves the simulator's clock on by its transfer time)."""
    accounts = []
    for n in range(count):
        seeded = broker.open_account(given_name=f"{prefix}{n}")
        broker.link_bank(seeded)
        broker.control("POST", f"/accounts/{seeded.account_id}/credits", {"amount": "150000.00"})
        records.upsert(
            UserRecord(
                user_id=f"{prefix}-{n}",
                alpaca_account_id=seeded.account_id,
                email=seeded.email,
                first_name=seeded.given_name,
                last_name=seeded.family_name,
            )
        )
        accounts.append(seeded.account_id)
    return accounts


async def _start_all(client: Client, accounts: list[str], queue: str, settings: Settings) -> None:
    gate = asyncio.Semaphore(32)

    async def one(account: str) -> None:
        async with gate:
            await start_closure(client, account, task_queue=queue, policy=settings.closure_policy())

    await asyncio.gather(*(one(a) for a in accounts))


async def _until_waiting(client: Client, queue: str, count: int, pid: int, limit: float) -> None:
    query = f"TaskQueue = '{queue}' AND ClosurePhase = '{ClosurePhase.WITHDRAWAL_24HR_WAIT.value}'"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        waiting = (await client.count_workflows(query)).count
        if waiting >= count:
            break
        await asyncio.sleep(2)
    else:
        raise RuntimeError(f"only {waiting} of {count} closures reached the 24 h wait in {limit:.0f} s")
    await _quiet(pid, deadline - time.monotonic())  # the mirror writes and emails after the phase too


async def _quiet(pid: int, limit: float) -> None:
    """Until the worker spends under 2 % of a core over 3 s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = _cpu_seconds(pid)
        await asyncio.sleep(3)
        if _cpu_seconds(pid) - before < 0.06:
            return
    raise RuntimeError("the worker did not go quiet")


async def _query_cost(client: Client, accounts: list[str], pid: int) -> tuple[float, float]:
    """Median milliseconds per progress query, and the worker's CPU milliseconds per query."""
    took = []
    before = _cpu_seconds(pid)
    for account in accounts:
        handle = client.get_workflow_handle_for(AccountClosureWorkflow.run, f"account-closure-{account}")
        began = time.monotonic()
        progress = await handle.query(AccountClosureWorkflow.progress)
        took.append(1000 * (time.monotonic() - began))
        if progress.phase != ClosurePhase.WITHDRAWAL_24HR_WAIT:
            raise RuntimeError(f"{account} is in {progress.phase}, not the 24 h wait")
    return statistics.median(took), 1000 * (_cpu_seconds(pid) - before) / len(accounts)


async def _measure(
    name: str, stack: LocalStack, env: dict[str, str], accounts: list[str], args: argparse.Namespace
) -> MemoryFigures:
    queue = f"bench-memory-{name}"
    settings = Settings.model_validate({"temporal": {"address": env["CLOSURE_TEMPORAL__ADDRESS"]}})
    worker_env = {**env, "CLOSURE_TEMPORAL__TASK_QUEUE": queue, **CONFIGURATIONS[name]}
    stack.worker(worker_env, name=f"worker-{name}")
    pid = stack.processes[-1][1].pid
    client = await connect(TemporalSettings(address=env["CLOSURE_TEMPORAL__ADDRESS"]))
    await _quiet(pid, limit=120)
    base = _mb(pid, "VmRSS")
    began, cpu_before = time.monotonic(), _cpu_seconds(pid)
    await _start_all(client, accounts, queue, settings)
    await _until_waiting(client, queue, len(accounts), pid, limit=args.ramp_limit)
    ramp, ramp_cpu = time.monotonic() - began, _cpu_seconds(pid) - cpu_before
    rss = _mb(pid, "VmRSS")
    idle_before = _cpu_seconds(pid)
    await asyncio.sleep(args.idle_seconds)
    idle = 100 * (_cpu_seconds(pid) - idle_before) / args.idle_seconds
    # The first closures started have long been pushed out of the cache by the later ones: a query makes
    # the worker rebuild each from its history; the same query again finds it held.
    evicted = await _query_cost(client, accounts[:QUERIED], pid)
    cached = await _query_cost(client, accounts[:QUERIED], pid)
    figures = MemoryFigures(
        name=name,
        closures=len(accounts),
        cache=worker_env.get(
            "CLOSURE_WORKER__MAX_CACHED_WORKFLOWS", str(Settings().worker.max_cached_workflows)
        ),
        base_mb=base,
        rss_mb=rss,
        peak_mb=_mb(pid, "VmHWM"),
        idle_cpu_percent=idle,
        ramp_seconds=ramp,
        ramp_cpu_ms=1000 * ramp_cpu / len(accounts),
        evicted_query_ms=evicted[0],
        evicted_cpu_ms=evicted[1],
        cached_query_ms=cached[0],
        cached_cpu_ms=cached[1],
    )
    stack.kill(f"worker-{name}")
    return figures


def run(args: argparse.Namespace) -> list[MemoryFigures]:
    data = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        with LocalStack(data) as stack:
            port = free_port(7350)
            address = stack.temporal(port, free_port(8350), None)  # in memory: no disk writes to wait on
            sim_url = stack.simulator(free_port(5350), [])
            broker = ScenarioBuilder(sim_url)
            broker.set_clock(MONDAY)
            broker.run_clock(1.0)
            # Alpaca's 1,000 calls a minute would make the ramp, not the wait, the subject: 10,000 closures
            # need ~50,000 calls to reach their wait (bench.closure_cost counts calls per closure).
            broker.configure(rate_limit_per_minute=100_000_000)
            records = SqliteRecords(data / "closure.db")
            env = {
                "CLOSURE_TEMPORAL__ADDRESS": address,
                "CLOSURE_ALPACA__BASE_URL": sim_url,
                "CLOSURE_RECORDS__SQLITE_PATH": str(data / "closure.db"),
                "CLOSURE_EMAIL__BACKEND": "outbox",
                "CLOSURE_EMAIL__OUTBOX_DIR": str(data / "outbox"),
                "CLOSURE_WORKER__JSON_LOGS": "false",
            }
            figures = []
            for name in args.configurations.split(","):
                accounts = _seed(broker, records, args.closures, prefix=name)
                print(f"{name}: {len(accounts)} accounts seeded", flush=True)
                figures.append(asyncio.run(_measure(name, stack, env, accounts, args)))
                print(report(figures, args), flush=True)
            return figures
    finally:
        shutil.rmtree(data, ignore_errors=True)


def report(figures: list[MemoryFigures], args: argparse.Namespace) -> str:
    lines = [
        f"`python -m bench.worker_memory --closures {args.closures}`, {datetime.now(NEW_YORK):%Y-%m-%d}, this machine "
        "(2 cores; the dev server, the simulator and the worker share them).",
        "",
        "| configuration | worker cache | closures waiting | worker RSS: none yet → all waiting (peak) "
        "| idle CPU | start → all waiting (worker CPU per closure) | query, evicted closure (replay) "
        "| query, cached closure |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.name} | {f.cache} | {f.closures:,} | {f.base_mb:.0f} → {f.rss_mb:.0f} MB ({f.peak_mb:.0f} MB) "
            f"| {f.idle_cpu_percent:.2f} % | {f.ramp_seconds:.0f} s ({f.ramp_cpu_ms:.0f} ms) "
            f"| {f.evicted_query_ms:.1f} ms, {f.evicted_cpu_ms:.1f} ms CPU "
            f"| {f.cached_query_ms:.1f} ms, {f.cached_cpu_ms:.1f} ms CPU |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_memory", description=__doc__)
    parser.add_argument("--closures", type=int, default=2000)
    parser.add_argument("--configurations", default=",".join(CONFIGURATIONS))
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--ramp-limit", type=float, default=3600.0)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    figures = run(args)
    text = report(figures, args)
    print(text)
    if args.write:
        write_section(args.write, "bench.worker_memory", text)


if __name__ == "__main__":
    main()

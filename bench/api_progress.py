"""The progress endpoint under load, beside a no-op route of the same app in the same run.

One uvicorn process (the API as deployed, plus `GET /bench/noop`, which passes the same middleware and
answers `{}`), a real Redis holding one closure's mirrored progress, SQLite holding its owner, and a
Supabase-style HS256 token. `wrk` drives each route with `--connections` connections for `--seconds`; the
server's CPU seconds over a run divided by its requests is the CPU per request.

    python -m bench.api_progress [--connections 50] [--seconds 10] [--write docs/performance.md]

Needs `wrk` (`apt-get install wrk`) and Redis on `--redis-url`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import jwt
from fastapi import FastAPI

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from adapters.redis.mirror import MirrorWrite, ProgressMirror
from api.main import create_app
from bench.report import write_section
from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from closure.progress import ClosureProgress, ClosureState, TransferRecord
from devtools.localstack import free_port
from runtime.settings import Settings

ACCOUNT, USER = "0b7d2a1e-0000-4000-8000-00000000be7c", "user-bench"
SECRET = "bench-jwt-secret-with-enough-length-for-hs256"


def bench_app() -> FastAPI:
    """The API as `make dev` serves it, and a route that does nothing for the baseline."""
    app = create_app(Settings(), freeze_heap=True)

    @app.get("/bench/noop")
    async def noop() -> dict[str, str]:
        return {}

    return app


def _progress(now: datetime) -> ClosureProgress:
    """A closure in its 24 h wait with two transfers sent, as the mirror holds it."""
    transfers = [
        TransferRecord(
            chunk=n,
            chunk_key=f"{ACCOUNT}:chunk:{n}",
            transfer_id=f"7c1d0b5e-0000-4000-8000-00000000000{n}",
            amount=Decimal("50000.00"),
            status="COMPLETE" if n == 1 else "QUEUED",
            initiated_at=now - timedelta(hours=24 * (2 - n) + 1),
            requested_at=now - timedelta(hours=24 * (2 - n) + 1),
        )
        for n in (1, 2)
    ]
    state = ClosureState(
        phase=ClosurePhase.WITHDRAWAL_24HR_WAIT,
        confirmation_number="CLS-BENCH-0001",
        started_at=now - timedelta(days=2),
        step="$50,000.00 left; the next transfer of $50,000.00 goes when the daily limit allows",
        cash_at_start=Decimal("150000.00"),
        last_cash=Decimal("100000.00"),
        last_withdrawable=Decimal("50000.00"),
        transfers=transfers,
        next_action_at=now + timedelta(hours=23),
        mirror_sequence=7,
    )
    return ClosureProgress.of(ACCOUNT, USER, f"account-closure-{ACCOUNT}", state, ClosurePolicy())


def _seed(settings: Settings) -> str:
    SqliteRecords(settings.records.sqlite_path).upsert(
        UserRecord(user_id=USER, alpaca_account_id=ACCOUNT, email="bench@example.com")
    )
    assert settings.redis_url
    ProgressMirror.from_url(settings.redis_url, timedelta(days=1)).write(
        MirrorWrite(progress=_progress(datetime.now(UTC)))
    )
    now = int(time.time())
    claims = {"sub": USER, "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 3000}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@dataclass
class RouteFigures:
    route: str
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if found is None:
        raise RuntimeError(f"wrk printed a latency this cannot read: {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drive(url: str, route: str, token: str, pid: int, args: argparse.Namespace) -> RouteFigures:
    before = _cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
         "-H", f"Authorization: Bearer {token}", f"{url}{route}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    cpu = _cpu_seconds(pid) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{route}: {errors.group(1)} requests were refused:\n{out}")
    return RouteFigures(
        route=route,
        requests=requests,
        per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        cpu_ms_per_request=1000 * cpu / requests,
    )


def run(args: argparse.Namespace) -> list[RouteFigures]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    port = free_port(8600)
    env = {
        **os.environ,
        "CLOSURE_REDIS_URL": args.redis_url,
        "CLOSURE_RECORDS__SQLITE_PATH": str(workdir / "closure.db"),
        "CLOSURE_API__SUPABASE_JWT_SECRET": SECRET,
        # The rate limits stay on the path (they are part of every request), set out of reach.
        "CLOSURE_API__ADDRESS_REQUEST_LIMIT": "1000000000",
        "CLOSURE_API__USER_REQUEST_LIMIT": "1000000000",
    }
    settings = Settings.model_validate(
        {"redis_url": args.redis_url, "records": {"sqlite_path": workdir / "closure.db"}}
    )
    token = _seed(settings)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench.api_progress:bench_app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, token)
        routes = [f"/api/account-closure/progress/{ACCOUNT}", "/bench/noop"]
        for route in routes:  # warm both, then measure each
            _drive(url, route, token, server.pid, argparse.Namespace(connections=4, seconds=1))
        return [_drive(url, route, token, server.pid, args) for route in routes]
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_until_up(url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(100):
        try:
            answer = httpx.get(f"{url}/api/account-closure/progress/{ACCOUNT}", headers=headers, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if answer.status_code != 200 or answer.json()["source"] != "mirror":
            raise RuntimeError(f"the progress route answered {answer.status_code}: {answer.text[:300]}")
        return
    raise RuntimeError("the API did not start")


def report(figures: list[RouteFigures], args: argparse.Namespace) -> str:
    progress, noop = figures
    lines = [
        f"`python -m bench.api_progress --connections {args.connections} --seconds {args.seconds}`, "
        f"{datetime.now(UTC):%Y-%m-%d}, this machine (2 cores; wrk and the API share them), one uvicorn "
        "worker.",
        "",
        "| route | requests | req/s | p50 | p99 | server CPU per request |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            f"| `{f.route}` | {f.requests:,} | {f.per_second:,.0f} | {f.p50_ms:.1f} ms | {f.p99_ms:.1f} ms "
            f"| {f.cpu_ms_per_request:.2f} ms |"
        )
    lines += [
        "",
        f"Progress against the no-op: p99 {progress.p99_ms / noop.p99_ms:.2f}× (goal ≤ 2×), req/s "
        f"{progress.per_second / noop.per_second:.2f}× (goal ≥ 0.5×), CPU per request "
        f"{progress.cpu_ms_per_request:.2f} ms (goal ≤ 1 ms).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_progress", description=__doc__)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--redis-url", default="redis://localhost:6379/13")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench.api_progress needs wrk: apt-get install wrk", file=sys.stderr)
        return 1
    table = report(run(args), args)
    print(table)
    if args.write:
        write_section(args.write, "bench.api_progress", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

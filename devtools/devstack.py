"""`make dev`: the long-running local stack, each piece restarted if it exits, state kept in `.data/dev/`.

Temporal dev server (UI http://127.0.0.1:8233, SQLite file), the broker simulator (state file, a clock 600x
faster than real time), the worker (metrics :9464, /healthz :9465) and the API (:8000), with every policy wait
divided by the same 600, so a $150,000 closure takes about five minutes to watch. Kill any piece: it comes
back and the closures carry on. `python -m devtools.devstack seed` opens a funded account and prints the
commands to close it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from api.tokens import user_token
from closure.money import format_usd
from devtools.localstack import LocalStack, StackError
from runtime.codec_keys import new_key
from runtime.local_stack import PID_FILE, STACK_DIR, write_profile
from simulator.scenarios import ScenarioBuilder

DATA = STACK_DIR
SCALE = 600.0
DEFAULT_PORTS = {
    "temporal": 7233,
    "ui": 8233,
    "simulator": 8765,
    "api": 8000,
    "codec": 8081,
    "metrics": 9464,
    "health": 9465,
}


def _port_variable(name: str) -> str:
    return f"DEVSTACK_PORT_{name.upper()}"


# Each port can be moved, e.g. DEVSTACK_PORT_API=8010 make dev, when another program holds the default.
PORTS = {name: int(os.environ.get(_port_variable(name), port)) for name, port in DEFAULT_PORTS.items()}
CRASH_LOOP = 3  # exits within a minute after which a piece is reported, not started again
JWT_SECRET = "dev-only-jwt-secret-not-for-production-use"
ADMIN_TOKEN = "dev-admin-token"
API = f"http://127.0.0.1:{PORTS['api']}"


def _redis_url() -> str | None:
    with socket.socket() as sock:
        return "redis://127.0.0.1:6379/1" if sock.connect_ex(("127.0.0.1", 6379)) == 0 else None


def environment() -> dict[str, str]:
    settings = {
        "CLOSURE_TEMPORAL__ADDRESS": f"127.0.0.1:{PORTS['temporal']}",
        "CLOSURE_TEMPORAL__UI_URL": f"http://127.0.0.1:{PORTS['ui']}",
        "CLOSURE_ALPACA__BASE_URL": f"http://127.0.0.1:{PORTS['simulator']}",
        "CLOSURE_RECORDS__SQLITE_PATH": str(DATA / "closure.db"),
        "CLOSURE_EMAIL__OUTBOX_DIR": str(DATA / "outbox"),
        "CLOSURE_TIME_SCALE": str(SCALE),
        "CLOSURE_WORKER__METRICS_ADDRESS": f"127.0.0.1:{PORTS['metrics']}",
        "CLOSURE_WORKER__HEALTH_ADDRESS": f"127.0.0.1:{PORTS['health']}",
        "CLOSURE_API__SUPABASE_JWT_SECRET": JWT_SECRET,
        "CLOSURE_API__ADMIN_TOKEN": ADMIN_TOKEN,
        "CLOSURE_API__PORT": str(PORTS["api"]),
        "CLOSURE_TEMPORAL__CODEC_KEYS": json.dumps({"dev": _dev_key()}),
        "CLOSURE_TEMPORAL__CODEC_KEY_ID": "dev",
        "CLOSURE_LISTENER__CURSOR_FILE": str(DATA / "listener-cursor.json"),
        "CLOSURE_POLICY__EVENT_POLL_INTERVAL": "PT12H",  # the listener runs: transfer news comes by its wake
    }
    redis_url = _redis_url()
    return settings | ({"CLOSURE_REDIS_URL": redis_url} if redis_url else {})


def _dev_key() -> str:
    """This stack's payload key, kept beside its Temporal database: the histories there stay readable."""
    path = DATA / "codec.key"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        path.write_text(new_key())
        path.chmod(0o600)
    return path.read_text().strip()


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack the way Ctrl-C does: every piece, cleanly


def taken_ports() -> list[str]:
    """Every port the stack needs that something already listens on, each with the variable that moves it."""
    taken = []
    for name, port in PORTS.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                taken.append(
                    f"port {port} ({name}) is already in use: stop what holds it or set {_port_variable(name)}"
                )
    return taken


def _log_tail(log: Path | None, lines: int = 8) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join("    " + line for line in log.read_text(errors="replace").splitlines()[-lines:])


def run() -> None:
    taken = taken_ports()
    if taken:
        running = (
            f" (a stack already runs: pid {PID_FILE.read_text().strip()}, `make stop`)"
            if PID_FILE.exists()
            else ""
        )
        sys.exit("make dev cannot start" + running + ":\n  " + "\n  ".join(taken))
    signal.signal(signal.SIGTERM, _stop)
    env = environment()
    try:
        _serve(env)
    except StackError as exc:  # a piece that cannot run: why, from its own log, instead of a restart loop
        sys.exit(f"make dev stopped: {exc}\n{_log_tail(exc.log)}")
    finally:
        PID_FILE.unlink(missing_ok=True)


def _serve(env: dict[str, str]) -> None:
    write_profile(env)  # the closure CLI, run beside the stack, reads it: every tool talks to this stack
    with LocalStack(DATA) as stack:
        stack.temporal(PORTS["temporal"], PORTS["ui"], DATA / "temporal.db")
        stack.simulator(
            PORTS["simulator"], ["--clock-rate", str(SCALE), "--state-file", str(DATA / "broker.pickle")], env
        )
        stack.worker(env)
        stack.listener(env)
        stack.api(PORTS["api"], env)
        codec = stack.codec(PORTS["codec"], env)
        print(
            f"Temporal UI http://127.0.0.1:{PORTS['ui']}  API {API}/docs  simulator http://127.0.0.1:{PORTS['simulator']}"
        )
        print(
            f"metrics http://127.0.0.1:{PORTS['metrics']}/metrics  worker health http://127.0.0.1:{PORTS['health']}/healthz"
        )
        print(
            f"Redis mirror: {env.get('CLOSURE_REDIS_URL', 'off')}   logs: {DATA}/*.log   Ctrl-C stops everything"
        )
        print(
            f"payloads are sealed ({DATA}/codec.key); read them in the clear: temporal workflow show -w ID "
            f"--codec-endpoint {codec} --codec-auth 'Bearer {ADMIN_TOKEN}'"
        )
        print("Open an account to close:  .venv/bin/python -m devtools.devstack seed")
        print(f"Stop it with Ctrl-C or `make stop` (pid {os.getpid()}).")
        exits: dict[str, list[float]] = {}
        try:
            while True:
                time.sleep(1)
                for name in stack.restart_exited():
                    recent = [t for t in exits.get(name, []) if time.monotonic() - t < 60] + [
                        time.monotonic()
                    ]
                    exits[name] = recent
                    if len(recent) >= CRASH_LOOP:
                        log = DATA / f"{name}.log"
                        raise StackError(
                            f"the {name} exited {len(recent)} times within a minute; see {log}", log
                        )
                    print(f"{time.strftime('%H:%M:%S')} {name} had exited; started again")
        except KeyboardInterrupt:
            print("stopping")


def stop() -> None:
    """`make stop`: end the running `make dev` the way Ctrl-C does, and wait until it has."""
    if not PID_FILE.exists():
        print("no make dev is running here (no .data/dev/devstack.pid)")
        return
    pid = int(PID_FILE.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        PID_FILE.unlink(missing_ok=True)
        print(f"make dev (pid {pid}) had already exited")
        return
    deadline = time.monotonic() + 30
    while PID_FILE.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    print(f"stopped make dev (pid {pid})" if not PID_FILE.exists() else f"pid {pid} is still stopping")


def seed(amount: Decimal, start: bool) -> None:
    """On `make dev`, or (with DEVSTACK_SIMULATOR_URL, DEVSTACK_API_URL and the records path set) in compose."""
    broker = ScenarioBuilder(
        os.environ.get("DEVSTACK_SIMULATOR_URL", f"http://127.0.0.1:{PORTS['simulator']}")
    )
    api = os.environ.get("DEVSTACK_API_URL", API)
    shown = os.environ.get("DEVSTACK_PUBLIC_API_URL", api)  # the address a browser on the host uses
    account = broker.funded_account(amount)
    user = f"dev-user-{account.account_id[:8]}"
    SqliteRecords(Path(os.environ.get("CLOSURE_RECORDS__SQLITE_PATH", DATA / "closure.db"))).upsert(
        UserRecord(
            user_id=user,
            alpaca_account_id=account.account_id,
            email=account.email,
            first_name=account.given_name,
        )
    )
    token = user_token(JWT_SECRET, user, ttl_seconds=7 * 86400)
    print(f"account {account.account_id} with {format_usd(amount)}, user {user}")
    auth = f'-H "Authorization: Bearer {token}"'
    print(f"initiate:  curl -X POST {auth} {shown}/api/account-closure/initiate/{account.account_id}")
    print(f"follow:    curl -N {auth} {shown}/api/account-closure/progress/{account.account_id}/stream")
    print(f"operators: curl -H 'Authorization: Bearer {ADMIN_TOKEN}' {shown}/api/admin/closures")
    page = "" if start else "/close"
    print(f"web page:  {shown}/account-closure/{account.account_id}{page}#access_token={token}")
    print(f"ops page:  {shown}/ops  (credential {ADMIN_TOKEN})")
    if start:
        answer = httpx.post(
            f"{api}/api/account-closure/initiate/{account.account_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        print(f"initiated: {answer.status_code} {answer.text}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the stack and keep it running")
    commands.add_parser("stop", help="stop the stack `run` started")
    seeding = commands.add_parser("seed", help="open a funded account on the running stack")
    seeding.add_argument("--amount", type=Decimal, default=Decimal("150000.00"))
    seeding.add_argument("--start", action="store_true", help="also initiate its closure through the API")
    args = parser.parse_args(argv)
    if args.command == "run":
        run()
    elif args.command == "stop":
        stop()
    else:
        seed(args.amount, args.start)


if __name__ == "__main__":
    main()

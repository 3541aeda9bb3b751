"""The CLI run beside `make dev` talks to that stack; with no stack running it says so."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def _closed_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def _closure(cwd: Path, *args: str, address: str | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSURE_TEMPORAL__ADDRESS")}
    if address:
        env["CLOSURE_TEMPORAL__ADDRESS"] = address
    done = subprocess.run(
        [str(BIN / "closure"), "--json", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_the_cli_reads_the_running_stacks_profile(tmp_path: Path) -> None:
    stack = tmp_path / ".data" / "dev"
    stack.mkdir(parents=True)
    address = _closed_address()  # the stack's Temporal, down for this test: the error names where it looked
    records = stack / "closure.db"
    (stack / "profile.env").write_text(
        f"CLOSURE_TEMPORAL__ADDRESS={address}\nCLOSURE_RECORDS__SQLITE_PATH={records}\n"
    )
    (stack / "devstack.pid").write_text(str(os.getpid()))  # a live process stands in for make dev

    error = _closure(tmp_path, "list")["error"]
    assert error.startswith(f"cannot reach Temporal at {address} "), error
    assert "no `make dev`" not in error
    checked = {f["check"]: f["detail"] for f in _closure(tmp_path, "doctor")}
    assert checked["user records"] == f"SQLite {records}: readable", (
        "the stack's records, not .data/closure.db"
    )
    assert not (tmp_path / ".data" / "closure.db").exists()


def test_with_no_stack_running_the_cli_says_so(tmp_path: Path) -> None:
    stack = tmp_path / ".data" / "dev"
    stack.mkdir(parents=True)
    (stack / "profile.env").write_text(f"CLOSURE_TEMPORAL__ADDRESS={_closed_address()}\n")
    (stack / "devstack.pid").write_text("999999999")  # a stack that has gone: its profile is not read
    given = _closed_address()

    error = _closure(tmp_path, "list", address=given)["error"]
    assert error.startswith(f"cannot reach Temporal at {given} "), error
    assert "no `make dev` is running in this directory" in error

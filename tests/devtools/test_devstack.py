"""`make dev` on a machine where a port is taken says which and how to move it, and starts nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from devtools.devstack import DEFAULT_PORTS
from devtools.localstack import free_port

ROOT = Path(__file__).resolve().parents[2]


def _devstack(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devtools.devstack", *args],
        cwd=cwd,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_taken_port_is_named_with_the_variable_that_moves_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ports = {f"DEVSTACK_PORT_{name.upper()}": str(free_port(0)) for name in DEFAULT_PORTS}
        done = _devstack("run", cwd=tmp_path, env={**ports, "DEVSTACK_PORT_API": str(taken)})

    assert done.returncode == 1
    assert f"port {taken} (api) is already in use" in done.stderr, done.stderr
    assert "DEVSTACK_PORT_API" in done.stderr
    assert "Temporal UI" not in done.stdout
    assert not (tmp_path / ".data").exists(), "nothing was started"


def test_stop_without_a_running_stack_says_so(tmp_path: Path) -> None:
    done = _devstack("stop", cwd=tmp_path, env={})
    assert done.returncode == 0
    assert "no make dev is running here" in done.stdout

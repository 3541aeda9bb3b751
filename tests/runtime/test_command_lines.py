"""Every entry point answers --help with its usage and exits 0, starting nothing and writing nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCRIPTS = [
    "account-closure-worker",
    "account-closure-api",
    "account-closure-codec",
    "account-closure-listener",
    "closure",
    "broker-simulator",
]
MODULES = [  # the ones without a script of their own
    "devtools.demo",
    "devtools.devstack",
    "devtools.chaos",
    "devtools.email_preview",
    "devtools.config_reference",
    "tests.workflows.record_histories",
    "bench.api_progress",
    "bench.closure_cost",
    "bench.event_latency",
    "bench.seeded_simulation",
    "bench.worker_cpu",
    "bench.worker_memory",
]
HISTORIES = ROOT / "tests" / "workflows" / "histories"


def _help(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(BIN), "PYTHONPATH": str(ROOT), "HOME": str(cwd)}
    return subprocess.run(
        [*command, "--help"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _recorded() -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in HISTORIES.iterdir()}


@pytest.mark.parametrize(
    "command", [[str(BIN / s)] for s in SCRIPTS] + [[sys.executable, "-m", m] for m in MODULES]
)
def test_help_prints_the_usage_and_exits_without_side_effects(command: list[str], tmp_path: Path) -> None:
    before = _recorded()
    done = _help(command, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower(), done.stdout[:500]
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == [], "--help wrote files"
    assert _recorded() == before, "--help touched the recorded histories"

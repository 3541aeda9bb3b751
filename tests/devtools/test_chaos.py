"""A small real-process chaos run in every test run; `make bench-chaos` runs 200 closures."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.chaos import ChaosPlan, run_chaos, summary


@pytest.mark.timeout(900)
def test_closures_keep_every_promise_while_workers_and_the_server_are_killed(tmp_path: Path) -> None:
    plan = ChaosPlan(
        seed=3,
        closures=20,
        kill_every=8.0,
        kills_mid_create=3,
        server_restarts=1,
        restart_every=40.0,
        max_cash=120_000,
        time_scale=7200.0,
        data_dir=tmp_path / "chaos",
    )
    run = run_chaos(plan)
    shown = "\n".join(summary(run))
    assert run.report.clean, shown
    assert not run.problems, shown
    assert run.counts.worker_kills >= 15, shown
    assert run.report.completed + len(run.report.parked) == plan.closures, shown
    assert run.report.completed >= plan.closures * 3 // 4, shown
    assert run.faults_fired > 0, shown
